// The transfer scheduler: plans parts and pulls work, enforcing the in-flight
// limit and the memory budget (aws-c-s3's meta-request model).
//
// - A large GET is split into ranged parts; the first ranged GET learns the
//   object's size, ETag and recorded hash (no extra HEAD). Later parts carry
//   If-Match so an object replaced mid-transfer fails cleanly.
// - Parts go to a local file through the cache writer (io_uring, O_DIRECT,
//   temp name + rename), or to a consumer in object order through a bounded
//   reorder window.
// - Every part buffer comes from one buffer_pool: memory is reserved before a
//   request is sent, and work waits when the budget is spent.
// - Integrity: part hashes are computed while the bytes are hot; objects
//   written in parts are checked against their composite XXH3, whole-content
//   hashes in object order. On a mismatch the parts are fetched again and
//   compared, the differing ones replaced; a second mismatch is reported.
// - Failed requests are retried per part (the S3 client's retry policy); a
//   failed part never restarts the object.
// - A single object's parts are fetched on every engine context (each with
//   that context's connections, so the kernel's receive copy, TLS and part
//   hashing use every core) and handed to the object's home context, which
//   owns its file writer, its ordered stage and its bookkeeping. Batches keep
//   each object on one context and spread the objects instead.
//
// Thread safety: the scheduler's methods may be called from any coroutine;
// each transfer hops onto an engine context. Lifetime: hold it by shared_ptr
// and keep it alive until the transfers finish; the engine must outlive the
// last reference to the scheduler (and to every store made over it: its
// clients close their connections on the engine's contexts when destroyed,
// and destroying them after the engine is undefined behaviour). Arguments are
// borrowed until the awaitable completes. Cancellation: cancel() (callable
// from any thread, and from a signal handler) stops every running transfer at
// its next part: no new request is sent, the parts in flight finish or fail,
// their memory returns to the pool, partial files are removed and multipart
// uploads aborted; the transfers end with errc::cancelled.
#pragma once

#include <sluice/engine/buffer/pool.hpp>
#include <sluice/engine/cache/file_writer.hpp>
#include <sluice/engine/runtime/engine.hpp>
#include <sluice/engine/s3/client.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::transfer {

struct options {
  std::size_t part_size = std::size_t(8) << 20;
  std::size_t memory_budget = std::size_t(256) << 20;
  // Data requests (GETs and PUTs of parts and objects) in flight over all the
  // transfers of this scheduler: one admission limit, not per call. One call
  // also runs at most this many workers; a batch at most this many objects
  // at once (a large one runs 4 parts).
  unsigned max_in_flight = 64;
  std::size_t multipart_threshold = std::size_t(64) << 20;  // uploads above go in parts
  unsigned reorder_window = 16;                             // parts buffered ahead of an ordered consumer
  // read_ranges: ranges closer than this are fetched by one request (the
  // bytes between them are read and dropped) instead of two.
  std::size_t coalesce_gap = std::size_t(256) << 10;
  // Connections per endpoint and context. 0: derived: from target_bytes_per_s
  // when set (one connection per ~100 MB/s, the rate one loopback or LAN TCP
  // stream sustains here, at least 4), else enough for max_in_flight; capped
  // at 256 either way. Requests beyond the cap wait for a free connection.
  unsigned connections_per_context = 0;
  uint64_t target_bytes_per_s = 0;
  cache::writer_options file;
  // Crash resume (docs/reliability.md#crash-consistency-and-resume). Downloads in parts keep a
  // journal beside their temporary file, and the next download of the same object (same ETag)
  // to the same path fetches only the parts it does not already hold.
  bool resume_downloads = true;
  // Where multipart uploads are recorded while they run ("<dir>/uploads/", created as needed); a
  // later upload to the same key aborts the uploads that a dead process left open. Empty: no record
  // (a library user may clean up with store::cleanup_uploads instead).
  std::string upload_journal_dir;
};

struct stats {
  uint64_t bytes = 0;
  uint64_t objects = 0;
  uint64_t requests = 0;
  uint64_t refetched_parts = 0;  // parts fetched again after an integrity mismatch
  uint64_t reread_parts = 0;     // uploads: parts read from the file a second time (no memory to keep them)
  bool verified = false;         // a recorded hash was checked (single objects)
  uint64_t resumed_parts = 0;  // parts a dead run had written (downloads) or sent (uploads): not moved again
  uint64_t resumed_bytes = 0;  // downloads: their bytes (counted in `bytes` too)
  std::string etag;            // single downloads and uploads: the object's ETag, when the server sent one
};

// Fills `into` with the next bytes of a stream and returns how many; fewer
// than into.size() only at the stream's end (0: nothing more). Called one call
// at a time, always on the same engine context.
using stream_source = std::function<boost::asio::awaitable<result<std::size_t>>(std::span<std::byte> into)>;

// Called in object order with consecutive stretches of the object.
using consumer = std::function<result<void>(std::span<const std::byte> bytes, uint64_t offset)>;

struct batch_item {
  std::string key;
  std::string path;              // local file (download destination / upload source)
  std::optional<uint64_t> size;  // when known (from a listing): small objects reserve just this
};
struct batch_failure {
  std::string key;
  error err;
};
struct batch_result {
  stats totals;
  std::vector<batch_failure> failures;
};

// One object's bytes (or a range of them) in pool memory: scheduler::read.
struct object_bytes {
  s3::object_info info;   // from the answer; size is the whole object's
  uint64_t first = 0;     // offset of data[0] within the object
  pooled_buffer data;     // exactly the bytes asked for (clamped to the object's end)
  bool verified = false;  // a whole object's recorded XXH3 was checked
  uint64_t requests = 0;
};

// Several ranges of one object in pool memory: scheduler::read_ranges.
struct ranges_bytes {
  s3::object_info info;              // from the first answer; size is the whole object's
  std::vector<uint64_t> firsts;      // offset of each range's first byte, in the order asked
  std::vector<buffer_slice> ranges;  // each range's bytes (clamped to the object's end), in the order asked
  uint64_t requests = 0;
  bool verified = false;  // the ranges covered the whole object and its recorded XXH3 was checked
};

// Progress counters, readable from any thread while transfers run.
struct progress {
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> objects{0};
};

class scheduler : public std::enable_shared_from_this<scheduler> {
 public:
  // One S3 client (one connection pool) per engine context, one buffer pool.
  static result<std::shared_ptr<scheduler>> create(engine& eng, s3::client_options client_opts, options opts);
  virtual ~scheduler() = default;

  // `known_size` (from a listing or a benchmark plan): an object no larger
  // than a part is read with one GET into a buffer of exactly its size.
  virtual boost::asio::awaitable<result<stats>> download(
      std::string_view bucket, std::string_view key, std::string_view path,
      std::optional<uint64_t> known_size = std::nullopt) = 0;
  virtual boost::asio::awaitable<result<stats>> stream(std::string_view bucket, std::string_view key,
                                                       const consumer& sink,
                                                       std::optional<uint64_t> known_size = std::nullopt) = 0;
  virtual boost::asio::awaitable<result<stats>> upload(
      std::string_view path, std::string_view bucket, std::string_view key,
      const s3::put_options& put = s3::default_put_options) = 0;
  // Reads an object, or a range of it (nullopt: the whole object), into one
  // pool buffer: the first GET asks for at most 1 MiB (small objects cost
  // one request and reserve only what they need); the rest comes in parts
  // fetched concurrently, each carrying If-Match on the first answer's ETag.
  // A whole object's recorded XXH3 is verified (a mismatch is read once more,
  // then reported); a range has no hash of its own and is not verified.
  // `when` applies to the first request: s3::errc::not_modified (If-None-Match
  // held) and precondition_failed come back as errors. Errors: too_large when
  // the bytes asked for exceed the memory budget; s3::errc::invalid_range for
  // a range past the end.
  virtual boost::asio::awaitable<result<object_bytes>> read(
      std::string_view bucket, std::string_view key, const std::optional<s3::byte_range>& range,
      const s3::conditions& when = s3::no_conditions) = 0;
  // Uploads bytes from memory: one PUT up to the multipart threshold (or
  // whenever `put.when` carries a condition: servers ignore conditions on
  // multipart completion), else a multipart upload whose parts are sent
  // concurrently from every context, straight from `body` (no copy, no pool
  // memory). The XXH3 (a composite for parts) is recorded as for files.
  virtual boost::asio::awaitable<result<s3::put_result>> put(
      std::string_view bucket, std::string_view key, std::span<const std::byte> body,
      const s3::put_options& put = s3::default_put_options) = 0;

  // Uploads a stream of unknown length (standard input): one PUT when it ends
  // within the first part, else a multipart upload that grows part by part
  // while earlier parts are sent (up to max_in_flight at once, from every
  // context). Memory stays within the budget: a part is read only once its
  // buffer is reserved. Parts are options::part_size (at least 5 MiB), so a
  // stream may have at most 10,000 of them (too_large past that; the upload
  // is aborted). The composite XXH3 is known only at the end: it is recorded
  // by a server-side copy of the object onto itself (metadata replaced) when
  // the object is at most 5 GiB; a larger one is left without it. A failed
  // source or request aborts the multipart upload.
  virtual boost::asio::awaitable<result<s3::put_result>> upload_stream(
      std::string_view bucket, std::string_view key, const stream_source& source,
      const s3::put_options& put = s3::default_put_options) = 0;

  // Reads several ranges of one object in one call: ranges that overlap or
  // lie within options::coalesce_gap of each other are fetched as one span
  // (split into parts like read()), the spans concurrently, every request
  // after the first carrying If-Match on the first answer's ETag (a replaced
  // object fails with precondition_failed, never mixes versions). Each
  // returned slice shares its span's pool buffer (no copy); the buffer
  // returns to the pool when its last slice is gone. A span that is the
  // whole object is verified against its recorded XXH3. `when` applies to
  // the first request. Errors: invalid_argument for no ranges or an empty or
  // inverted one; s3::errc::invalid_range for a range that starts past the
  // end; too_large when the spans together exceed the memory budget.
  virtual boost::asio::awaitable<result<ranges_bytes>> read_ranges(
      std::string_view bucket, std::string_view key, std::span<const s3::byte_range> ranges,
      const s3::conditions& when = s3::no_conditions) = 0;
  // Uploads an object made of several pieces (a chain of buffers, e.g.
  // buffer_slices of pool memory) as put() does. A multipart part that lies
  // within one piece is sent straight from it; one that straddles pieces is
  // assembled in pool memory. A single PUT of several pieces is assembled in
  // pool memory too (errc::too_large past the memory budget). The pieces are
  // borrowed until the awaitable completes.
  virtual boost::asio::awaitable<result<s3::put_result>> put_chain(
      std::string_view bucket, std::string_view key, std::span<const std::span<const std::byte>> pieces,
      const s3::put_options& put = s3::default_put_options) = 0;

  // Many objects with up to max_in_flight requests in flight over all
  // contexts. Per-object failures are collected, not fatal.
  virtual boost::asio::awaitable<result<batch_result>> download_many(std::string_view bucket,
                                                                     std::span<const batch_item> items) = 0;
  virtual boost::asio::awaitable<result<batch_result>> upload_many(
      std::string_view bucket, std::span<const batch_item> items,
      const s3::put_options& put = s3::default_put_options) = 0;

  // Stops every running and future transfer (see above); async-signal-safe.
  virtual void cancel() noexcept = 0;
  virtual bool cancelled() const noexcept = 0;

  virtual buffer_pool& pool() noexcept = 0;
  // The engine whose contexts run the transfers (client(i) belongs to context(i)).
  virtual engine& owner() noexcept = 0;
  virtual s3::client& client(unsigned context = 0) noexcept = 0;
  virtual unsigned contexts() const noexcept = 0;
  virtual const options& opts() const noexcept = 0;
  virtual progress& counters() noexcept = 0;
  // Statistics over every context's connection pool.
  virtual http::client_stats http_stats() const = 0;
  // Data requests admitted now, and the most ever at once (<= request_limit()).
  virtual unsigned requests_in_flight() const = 0;
  virtual unsigned peak_requests_in_flight() const = 0;
  // Data requests that can be in flight at once: options::max_in_flight, at
  // most the connections the HTTP pools may open (options::connections_per_context
  // times the contexts).
  virtual unsigned request_limit() const noexcept = 0;
  // Calls of the entry points above that can be started at once (twice
  // request_limit()); more wait before they start, as one small frame each.
  virtual unsigned operation_limit() const noexcept = 0;
};

}  // namespace sluice::transfer
