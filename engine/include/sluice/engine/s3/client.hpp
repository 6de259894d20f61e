// The S3 client: every operation sluice needs, as awaitables returning result<T>.
//
// Requests are signed with SigV4 (UNSIGNED-PAYLOAD over TLS, a signed payload
// hash over plain HTTP), re-signed on every retry, and retried with backoff
// for retryable failures (retry.hpp). S3 error bodies become typed s3::errc
// errors carrying the request id. Objects written through put_object carry
// their XXH3 in user metadata (x-amz-meta-sluice-xxh3); whole-object reads
// verify it, retry once on a mismatch, then report errc::integrity_mismatch.
//
// Thread safety: one client may serve many coroutines on many threads; it
// owns one HTTP connection pool per host it talks to. Lifetime: hold it by
// shared_ptr; it must outlive its operations. Arguments are borrowed
// (string_view, const&, span): they must stay valid until the operation
// completes, as they do when the awaitable is co_awaited in the expression
// that creates it. (Borrowing also sidesteps GCC 12's double destruction of
// temporaries passed by value to coroutines.) Cancellation: operations honour
// the awaiting coroutine's cancellation slot.
#pragma once

#include <sluice/engine/buffer/buffer.hpp>
#include <sluice/engine/http/client.hpp>
#include <sluice/engine/runtime/result.hpp>
#include <sluice/engine/s3/config.hpp>
#include <sluice/engine/s3/range.hpp>
#include <sluice/engine/s3/retry.hpp>
#include <sluice/engine/s3/sigv4.hpp>
#include <sluice/engine/s3/uri.hpp>
#include <sluice/engine/s3/xml.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sluice::s3 {

namespace asio = boost::asio;

struct client_options {
  resolved_config config;     // credentials, region, endpoint, CA bundle, addressing
  http::client_options http;  // pool size, deadlines, TLS verification
  retry_policy retry;
  bool verify_integrity = true;  // check x-amz-meta-sluice-xxh3 on whole-object reads
  // Plain-HTTP endpoints get a signed payload hash (the server rejects a body
  // altered in flight); TLS endpoints use UNSIGNED-PAYLOAD unless
  // always_sign_payload is set. never_sign_payload sends UNSIGNED-PAYLOAD over
  // plain HTTP too: SHA-256 of every body is what limits PUT throughput on a
  // fast link; content integrity then rests on the signed x-amz-meta-sluice-xxh3
  // header, checked on every read.
  bool always_sign_payload = false;
  bool never_sign_payload = false;
};

struct object_info {
  uint64_t size = 0;
  std::string etag;  // without quotes
  std::string last_modified;
  std::string content_type;
  std::map<std::string, std::string> metadata;  // x-amz-meta-* without the prefix, names lowercased
  std::string request_id;
  // The XXH3 sluice recorded when it wrote the object, if any.
  std::optional<uint64_t> recorded_xxh3() const;
};

struct conditions {
  std::optional<std::string> if_match;       // ETag (quotes optional)
  std::optional<std::string> if_none_match;  // ETag or "*"
  // Send ETags quoted, as RFC 9110 and AWS have them. Ceph radosgw 16.2
  // compares the conditions of a PUT with its unquoted stored ETag: there
  // they must go unquoted (docs/store.md).
  bool quote_etags = true;
};

// The defaults below are named objects, not `{}`: a temporary in a co_await
// expression is destroyed twice by GCC 12's coroutine lowering.
inline const conditions no_conditions{};

struct put_options {
  std::string content_type;                     // empty: application/octet-stream
  std::map<std::string, std::string> metadata;  // x-amz-meta-*
  conditions when;
  bool record_xxh3 = true;  // add x-amz-meta-sluice-xxh3 unless metadata already has it
};

inline const put_options default_put_options{};

struct put_result {
  std::string etag;
  std::string request_id;
  uint64_t xxh3 = 0;
};

struct get_result {
  object_info info;    // from the answer's headers; size = the whole object's size
  uint64_t first = 0;  // offset of the first byte delivered
  uint64_t bytes = 0;  // bytes delivered
};

struct owned_object {
  object_info info;
  aligned_buffer data;
};

struct list_request {
  std::string prefix;
  std::string delimiter;           // "" for a flat listing, "/" for one level
  std::string continuation_token;  // from the previous page
  std::string start_after;
  int max_keys = 1000;
};

struct multipart_list_request {
  std::string prefix;            // uploads of keys starting with this
  std::string key_marker;        // from the previous page (next_key_marker)
  std::string upload_id_marker;  // from the previous page (next_upload_id_marker)
  int max_uploads = 1000;
};

enum class metadata_directive { copy, replace };

class client {
 public:
  // Validates the configuration (endpoint URL, CA bundle) before any request.
  static result<std::shared_ptr<client>> create(asio::any_io_executor ex, client_options opts);
  virtual ~client() = default;

  virtual const client_options& options() const noexcept = 0;

  // --- objects --------------------------------------------------------------
  virtual asio::awaitable<result<object_info>> head_object(std::string_view bucket, std::string_view key,
                                                           const conditions& when = no_conditions) = 0;
  // Reads an object (or a range of it) into `sink`. The total size comes
  // from Content-Range (ranged) or Content-Length. No integrity check: this
  // is the building block; see get_object_bytes / get_object_to.
  virtual asio::awaitable<result<get_result>> get_object(std::string_view bucket, std::string_view key,
                                                         std::optional<byte_range> range,
                                                         http::body_sink& sink,
                                                         const conditions& when = no_conditions) = 0;
  // Reads a whole object into a new buffer, verifying its recorded XXH3.
  // `max_bytes` bounds the allocation (too_large beyond it).
  virtual asio::awaitable<result<owned_object>> get_object_bytes(std::string_view bucket,
                                                                 std::string_view key,
                                                                 uint64_t max_bytes = uint64_t(1) << 32) = 0;
  // Reads a range into a new buffer (no integrity check: a range has no recorded hash).
  virtual asio::awaitable<result<owned_object>> get_object_range(std::string_view bucket,
                                                                 std::string_view key, byte_range range) = 0;
  virtual asio::awaitable<result<put_result>> put_object(std::string_view bucket, std::string_view key,
                                                         std::span<const std::byte> body,
                                                         const put_options& opts = default_put_options) = 0;
  virtual asio::awaitable<result<void>> delete_object(std::string_view bucket, std::string_view key) = 0;
  // Deletes any number of keys, in batches of up to 1,000 per request.
  // Per-key failures are returned in the result, not as an error.
  virtual asio::awaitable<result<delete_result>> delete_objects(std::string_view bucket,
                                                                std::span<const std::string> keys) = 0;
  virtual asio::awaitable<result<list_page>> list_objects_v2(std::string_view bucket,
                                                             const list_request& req) = 0;
  // Follows continuation tokens to the end.
  virtual asio::awaitable<result<list_page>> list_all(std::string_view bucket, std::string_view prefix,
                                                      std::string_view delimiter = {}) = 0;
  // Server-side copy (objects up to 5 GiB).
  virtual asio::awaitable<result<std::string>> copy_object(
      std::string_view src_bucket, std::string_view src_key, std::string_view dst_bucket,
      std::string_view dst_key, metadata_directive directive = metadata_directive::copy,
      const put_options& replacement = default_put_options) = 0;

  // --- multipart upload ------------------------------------------------------
  virtual asio::awaitable<result<std::string>> create_multipart_upload(
      std::string_view bucket, std::string_view key, const put_options& opts = default_put_options) = 0;
  // Returns the part's ETag (quoted, as CompleteMultipartUpload wants it).
  virtual asio::awaitable<result<std::string>> upload_part(std::string_view bucket, std::string_view key,
                                                           std::string_view upload_id, int part_number,
                                                           std::span<const std::byte> body) = 0;
  virtual asio::awaitable<result<std::string>> complete_multipart_upload(
      std::string_view bucket, std::string_view key, std::string_view upload_id,
      std::span<const completed_part> parts) = 0;
  virtual asio::awaitable<result<void>> abort_multipart_upload(std::string_view bucket, std::string_view key,
                                                               std::string_view upload_id) = 0;
  // One page of the multipart uploads in progress (begun, neither completed nor aborted) whose
  // keys start with req.prefix, in key order (ListMultipartUploads, keys URL-encoded on the wire).
  virtual asio::awaitable<result<multipart_uploads_page>> list_multipart_uploads(
      std::string_view bucket, const multipart_list_request& req) = 0;
  // Every part an upload holds so far, in part order (ListParts, pages followed; a marker that does
  // not advance is malformed_response). NoSuchUpload (s3::errc) when the upload is gone.
  virtual asio::awaitable<result<std::vector<uploaded_part>>> list_parts(std::string_view bucket,
                                                                         std::string_view key,
                                                                         std::string_view upload_id) = 0;

  // --- buckets ----------------------------------------------------------------
  virtual asio::awaitable<result<void>> create_bucket(std::string_view bucket) = 0;
  virtual asio::awaitable<result<void>> head_bucket(std::string_view bucket) = 0;
  virtual asio::awaitable<result<void>> delete_bucket(std::string_view bucket) = 0;
  virtual asio::awaitable<result<std::vector<bucket_entry>>> list_buckets() = 0;

  // A presigned GET URL valid for `expires` (no request is sent).
  virtual result<std::string> presign_get(std::string_view bucket, std::string_view key,
                                          std::chrono::seconds expires) = 0;

  // Statistics summed over the client's connection pools.
  virtual http::client_stats http_stats() const = 0;
};

}  // namespace sluice::s3
