// The S3 driver: keys live under s3://bucket/prefix/, moved by the transfer
// scheduler (ranged parts, multipart uploads, the memory budget), generations
// are ETags, and every value sluice writes carries its XXH3, which whole reads
// verify.
//
// Conditional writes: what a server honours is probed once per store, on the
// first conditional operation (a few requests on a hidden probe key under the
// prefix) or by probe(): If-None-Match: * on PUT (conditional create), If-Match
// on PUT quoted as RFC 9110 has it or unquoted as Ceph radosgw 16.2 needs it
// (conditional replace). A condition the server ignores makes the write fail
// with errc::unsupported; it never goes through unconditionally. Conditional
// removes are not offered (no tested server honours If-Match on DELETE).
// Conditional writes always go in one PUT (servers ignore conditions on
// multipart completion), so they are limited to 5 GiB. docs/store.md has the
// findings per server.
#pragma once

#include <sluice/engine/transfer/scheduler.hpp>
#include <sluice/store/store.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::store {

enum class conditional_writes {
  probe,               // find out on first use (default)
  assume_supported,    // AWS S3 and servers known to honour If-None-Match / If-Match (quoted)
  assume_unsupported,  // never send conditions; conditional writes fail with unsupported
};

struct s3_options {
  std::string bucket;
  std::string prefix;  // "" or "a/b" ("a/b/" the same): keys are prefix + "/" + key
  conditional_writes conditions = conditional_writes::probe;
};

// The S3 store over a scheduler (which owns the engine contexts, the clients
// and the buffer pool). The store keeps the scheduler alive; the scheduler's
// engine must outlive the store (drop every store before the engine). Validates the
// bucket name and the prefix; sends no request.
result<std::shared_ptr<store>> open_s3_store(std::shared_ptr<transfer::scheduler> sched,
                                             const s3_options& opts);

// Runs the conditional-write probe of an S3 store now (a no-op for other
// drivers and for a store already probed) and returns its features.
boost::asio::awaitable<result<feature_set>> probe(store& s);

// Buckets, over the scheduler's clients (on its engine; they complete on the
// caller's executor and honour its cancellation slot: errc::cancelled). A name
// that breaks S3's bucket naming rules is invalid_argument, naming the rule,
// before any request is sent. The server's errors pass through (NoSuchBucket
// -> not_found, BucketNotEmpty, BucketAlreadyOwnedByYou ...). The scheduler
// and `name` are borrowed until completion.
struct bucket_info {
  std::string name;
  std::string creation_date;  // as the server sends it (ISO 8601)
};
boost::asio::awaitable<result<std::vector<bucket_info>>> list_buckets(transfer::scheduler& sched);
// Whether the bucket exists (and is reachable with these credentials): false on NoSuchBucket.
boost::asio::awaitable<result<bool>> bucket_exists(transfer::scheduler& sched, std::string_view name);
boost::asio::awaitable<result<void>> create_bucket(transfer::scheduler& sched, std::string_view name);
// Removes an empty bucket (a bucket with objects is the server's BucketNotEmpty).
boost::asio::awaitable<result<void>> remove_bucket(transfer::scheduler& sched, std::string_view name);

// Multipart uploads begun and never completed nor aborted (a crashed or killed writer leaves them,
// and the server keeps their parts, billed, until they are aborted): `sluice cleanup`.
struct cleanup_options {
  std::string prefix;                  // uploads of keys starting with this ("" for the bucket)
  std::chrono::seconds older_than{0};  // only uploads initiated at least this long ago (0: all)
  bool dry_run = false;                // list them, abort nothing
};
struct stale_upload {
  std::string key;
  std::string upload_id;
  std::string initiated;  // as the server sent it (ISO 8601)
  bool aborted = false;   // false under dry_run, or when the abort failed (`err`)
  std::optional<error> err;
};
// Lists the bucket's uploads under `prefix` (ListMultipartUploads, every page; a marker that does
// not advance is malformed_response) and aborts each one old enough, one at a time. A failed
// abort is recorded in its entry and the others go on; a failed listing is the call's error.
// An upload whose <Initiated> cannot be read counts as old enough only when older_than is 0. The
// scheduler, bucket and options are borrowed until completion.
boost::asio::awaitable<result<std::vector<stale_upload>>> cleanup_uploads(transfer::scheduler& sched,
                                                                          std::string_view bucket,
                                                                          const cleanup_options& opts);

// A presigned GET URL for s3://bucket/key, valid for `expires` (1 s to 7
// days), that plain HTTP clients can fetch (SigV4 query signing; no request is
// sent). Errors: invalid_config without credentials, invalid_argument for a
// bad name or duration.
result<std::string> presign_get(transfer::scheduler& sched, std::string_view bucket, std::string_view key,
                                std::chrono::seconds expires);

}  // namespace sluice::store
