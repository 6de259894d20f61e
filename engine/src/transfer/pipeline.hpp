// The transfer scheduler's implementation class and the helpers its parts share (private header).
#pragma once

#include <sluice/engine/integrity/recorded_hash.hpp>
#include <sluice/engine/runtime/admission.hpp>
#include <sluice/engine/runtime/run_on.hpp>
#include <sluice/engine/transfer/scheduler.hpp>

#include "transfer/upload_journal.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::transfer {

namespace asio = boost::asio;
using asio::awaitable;

namespace detail {

using s3::object_url;

// What the first ranged GET told us about an object.
struct object_plan {
  uint64_t size = 0;
  std::string etag;
  std::optional<integrity::recorded_hash> recorded;
  uint64_t part_size = 0;
  uint64_t parts = 0;
  uint64_t part_offset(uint64_t i) const { return i * part_size; }
  std::size_t part_length(uint64_t i) const {
    return static_cast<std::size_t>(std::min<uint64_t>(part_size, size - i * part_size));
  }
};

// Delivers parts (pooled_buffer or buffer_slice) in index order; holds the
// ones that arrive early. Used from one context only.
template <class Buffer>
class ordered_stage {
 public:
  using deliver_fn = std::function<result<void>(uint64_t index, Buffer& buf)>;
  explicit ordered_stage(deliver_fn fn) : deliver_(std::move(fn)) {}
  void start_at(uint64_t next) { next_ = next; }
  result<void> push(uint64_t index, Buffer buf) {
    waiting_.emplace(index, std::move(buf));
    for (auto it = waiting_.find(next_); it != waiting_.end(); it = waiting_.find(next_)) {
      auto r = deliver_(next_, it->second);
      waiting_.erase(it);
      ++next_;
      if (!r) return r;
    }
    return {};
  }
  uint64_t next() const noexcept { return next_; }

 private:
  deliver_fn deliver_;
  uint64_t next_ = 0;
  std::map<uint64_t, Buffer> waiting_;
};

// Writes handed off to run behind the fetches (write-behind): each holds its
// part's buffer until the kernel is done with it. Home context only.
struct write_group {
  explicit write_group(asio::any_io_executor ex) : idle(ex, asio::steady_timer::time_point::max()) {}
  unsigned in_flight = 0;
  std::optional<error> failed;
  asio::steady_timer idle;

  // Waits until no write is in flight (the writer may then be destroyed).
  awaitable<void> drain() {
    while (in_flight > 0) co_await idle.async_wait(asio::as_tuple(asio::use_awaitable));
  }
};

}  // namespace detail

using namespace detail;

// See options::connections_per_context (scheduler.cpp).
unsigned connection_cap(const options& o, unsigned contexts);

// Handles one fetched part (index, bytes, XXH3 of the bytes when asked for)
// on the transfer's context. It takes the buffer by reference and moves it out
// (no by-value class arguments to coroutines: GCC 12).
using part_handler = std::function<awaitable<result<void>>(uint64_t, pooled_buffer&, uint64_t)>;

// The one scheduler implementation. Its member functions are defined by job:
// scheduler.cpp (set-up and entry points), parts.cpp, download.cpp,
// stream.cpp, upload.cpp, read.cpp and batch.cpp.
class pipeline final : public scheduler {
 public:
  pipeline(engine& eng, options opts);

  result<void> init(const s3::client_options& client_opts);

  // ---- public entry points: hop onto a context (scheduler.cpp) ------------------------

  awaitable<result<stats>> download(std::string_view bucket, std::string_view key, std::string_view path,
                                    std::optional<uint64_t> known_size) override;
  awaitable<result<stats>> stream(std::string_view bucket, std::string_view key, const consumer& sink,
                                  std::optional<uint64_t> known_size) override;
  awaitable<result<stats>> upload(std::string_view path, std::string_view bucket, std::string_view key,
                                  const s3::put_options& put) override;
  awaitable<result<batch_result>> download_many(std::string_view bucket,
                                                std::span<const batch_item> items) override;
  awaitable<result<batch_result>> upload_many(std::string_view bucket, std::span<const batch_item> items,
                                              const s3::put_options& put) override;
  awaitable<result<object_bytes>> read(std::string_view bucket, std::string_view key,
                                       const std::optional<s3::byte_range>& range,
                                       const s3::conditions& when) override;
  awaitable<result<s3::put_result>> put(std::string_view bucket, std::string_view key,
                                        std::span<const std::byte> body, const s3::put_options& put) override;
  awaitable<result<ranges_bytes>> read_ranges(std::string_view bucket, std::string_view key,
                                              std::span<const s3::byte_range> ranges,
                                              const s3::conditions& when) override;
  awaitable<result<s3::put_result>> put_chain(std::string_view bucket, std::string_view key,
                                              std::span<const std::span<const std::byte>> pieces,
                                              const s3::put_options& put) override;
  awaitable<result<s3::put_result>> upload_stream(std::string_view bucket, std::string_view key,
                                                  const stream_source& source,
                                                  const s3::put_options& put) override;

  void cancel() noexcept override;
  bool cancelled() const noexcept override;
  result<void> check_cancelled(std::string_view bucket, std::string_view key) const;

  buffer_pool& pool() noexcept override;
  engine& owner() noexcept override;
  s3::client& client(unsigned context) noexcept override;
  unsigned contexts() const noexcept override;
  const options& opts() const noexcept override;
  progress& counters() noexcept override;
  http::client_stats http_stats() const override;
  unsigned requests_in_flight() const override;
  unsigned peak_requests_in_flight() const override;
  unsigned request_limit() const noexcept override;
  unsigned operation_limit() const noexcept override;

 private:
  // The context a call runs on, counted in load_ until its on_context()
  // ends. A caller on one of the engine's threads keeps its own context (no
  // hop there and back: a spawned coroutine, two posts and two thread
  // wake-ups per call) unless that context holds more calls than the least
  // busy one by a margin (8, or a quarter of the least busy one's calls);
  // then the least busy one takes it. Callers on other threads go round-robin.
  unsigned pick() noexcept;

  // Runs work() (a transfer's coroutine) on context c and completes on the
  // caller's executor. A cancelled caller makes Asio throw operation_aborted
  // from the next co_await: that becomes errc::cancelled here, once.
  // `gated`: the call first takes an operation ticket, so that a call that
  // cannot start yet waits here, before work() builds its coroutine chain
  // (see operations_). upload_stream is not gated: its source may itself
  // call the scheduler.
  template <class Work>
  auto on_context(unsigned c, Work& work, std::string_view bucket, std::string_view key, bool gated = true)
      -> decltype(work()) {
    struct placed {
      std::atomic<unsigned>& calls;
      ~placed() { calls.fetch_sub(1, std::memory_order_relaxed); }
    } counted{load_[c]};  // pick() counted the call in
    admission_limit::ticket op;
    if (gated) {
      auto t = co_await operations_.enter();
      if (!t)
        co_return fail(errc::cancelled, s3::object_url(bucket, key) + ": cancelled while waiting to start");
      op = std::move(*t);
    }
    try {
      co_return co_await run_on(eng_.context(c).get_executor(), work());
    } catch (const boost::system::system_error& e) {
      if (e.code() != asio::error::operation_aborted) throw;
    }
    co_return fail(errc::cancelled, s3::object_url(bucket, key) + ": cancelled");
  }

  // ---- fetching parts (parts.cpp) -----------------------------------------------------

  awaitable<result<pooled_buffer>> fetch_range(s3::client& cl, std::string_view bucket, std::string_view key,
                                               uint64_t offset, std::size_t len, const s3::conditions& when);
  awaitable<result<std::pair<object_plan, pooled_buffer>>> first_part(s3::client& cl, std::string_view bucket,
                                                                      std::string_view key);

  // The parts of one transfer still to claim, and its first failure. Lives in
  // run_parts' frame and is touched only on the transfer's own (home) context.
  struct part_queue {
    part_queue(asio::any_io_executor home, const object_plan& p, uint64_t first, std::string_view b,
               std::string_view k, const part_handler& h, const std::function<uint64_t()>& d, unsigned w,
               const std::vector<bool>* s)
        : home(home),
          plan(p),
          next(first),
          bucket(b),
          key(k),
          handle(h),
          delivered(d),
          window(w),
          skip(s),
          moved(home, asio::steady_timer::time_point::max()) {}
    asio::any_io_executor home;
    const object_plan& plan;
    uint64_t next;
    std::string_view bucket, key;
    const part_handler& handle;
    const std::function<uint64_t()>& delivered;
    unsigned window;
    const std::vector<bool>* skip;  // parts not to fetch (a resumed download holds them), or null
    std::optional<error> failed;
    asio::steady_timer moved;  // cancelled whenever a part is handed over or the transfer fails
  };

  awaitable<std::optional<uint64_t>> claim(part_queue& q);
  awaitable<std::optional<uint64_t>> settle(part_queue& q, uint64_t i, result<pooled_buffer>& got,
                                            uint64_t hash);
  awaitable<void> part_worker(part_queue& q, unsigned k, bool hash_parts);
  awaitable<result<void>> run_parts(unsigned home, std::string_view bucket, std::string_view key,
                                    const object_plan& plan, uint64_t first, unsigned workers,
                                    const part_handler& handle, const std::function<uint64_t()>& delivered,
                                    unsigned window, bool spread, bool hash_parts,
                                    const std::vector<bool>* skip = nullptr);

  // ---- download to a file (download.cpp) ----------------------------------------------

  awaitable<result<stats>> download_on(unsigned c, std::string_view bucket, std::string_view key,
                                       std::string_view path, unsigned workers = 0, bool spread = true);
  static awaitable<void> write_part(cache::file_writer& writer, uint64_t index, uint64_t offset,
                                    pooled_buffer* owned, uint64_t hash, write_group& group);
  awaitable<void> verify_resumed(cache::file_writer& writer, const object_plan& plan, std::vector<bool>& have,
                                 std::vector<uint64_t>& hashes, stats& st);
  awaitable<result<uint64_t>> refetch_and_compare(s3::client& cl, std::string_view bucket,
                                                  std::string_view key, const object_plan& plan,
                                                  std::vector<uint64_t>& hashes, cache::file_writer& writer,
                                                  stats& st);
  awaitable<result<std::optional<pooled_buffer>>> fetch_small(unsigned c, std::string_view bucket,
                                                              std::string_view key, uint64_t size, stats& st);
  awaitable<result<stats>> download_small(unsigned c, std::string_view bucket, std::string_view key,
                                          const std::string& path, uint64_t size, bool in_batch = false);

  // ---- ordered delivery to a consumer (stream.cpp) ------------------------------------

  awaitable<result<stats>> stream_on(unsigned c, std::string_view bucket, std::string_view key,
                                     const consumer& sink);
  awaitable<result<stats>> stream_small(unsigned c, std::string_view bucket, std::string_view key,
                                        const consumer& sink, uint64_t size);

  // ---- uploads (upload.cpp) -----------------------------------------------------------

  awaitable<result<stats>> upload_on(unsigned c, std::string_view path_in, std::string_view bucket,
                                     std::string_view key, const s3::put_options& put_in, unsigned workers,
                                     bool spread);
  uint64_t multipart_part_size(uint64_t size) const;

  // What a file upload sends, so that the next run of the same upload can take over the multipart
  // upload a dead run left open: its parts whose ETags match the dead run's record are not sent again.
  struct upload_source {
    std::string identity;  // path, size, part size and put options (with the composite XXH3)
    uint64_t size = 0;
    uint64_t part_size = 0;
    uint64_t resumed_parts = 0;  // out: parts taken over
  };

  // CreateMultipartUpload, recorded under options::upload_journal_dir while it runs (so a crash
  // leaves a trace the next run finds); first takes over (with `source`: a dead run's upload of the
  // same source, filling `done` with the parts it holds) or aborts the uploads of the same key that
  // dead runs left open. `record` is null when nothing is recorded.
  awaitable<result<std::string>> begin_multipart(s3::client& cl, std::string_view bucket,
                                                 std::string_view key, const s3::put_options& put,
                                                 std::unique_ptr<detail::upload_record>& record,
                                                 upload_source* source,
                                                 std::vector<s3::completed_part>& done);
  awaitable<void> abort_stale_uploads(s3::client& cl, std::string_view bucket, std::string_view key,
                                      detail::upload_records& found, std::string_view keep_id);
  // Aborts an upload that failed; its record goes only when the abort went through.
  static awaitable<void> abandon_multipart(s3::client& cl, std::string_view bucket, std::string_view key,
                                           std::string_view upload_id, detail::upload_record* record);

  // Gives part i's bytes; `holder` keeps pool memory alive while the part is sent.
  using part_reader = std::function<awaitable<result<std::span<const std::byte>>>(uint64_t, pooled_buffer&)>;

  // `order` (may be null: by index) is the order parts are claimed in.
  awaitable<result<std::string>> send_multipart(unsigned c, std::string_view bucket, std::string_view key,
                                                const s3::put_options& put, uint64_t parts, unsigned workers,
                                                bool spread, const part_reader& read,
                                                const std::vector<uint64_t>* order,
                                                upload_source* source = nullptr);
  awaitable<result<s3::put_result>> upload_stream_on(unsigned c, std::string_view bucket,
                                                     std::string_view key, const stream_source& source,
                                                     const s3::put_options& put_in);
  awaitable<result<s3::put_result>> put_on(unsigned c, std::string_view bucket, std::string_view key,
                                           std::span<const std::span<const std::byte>> pieces,
                                           const s3::put_options& put_in);

  // ---- reads into memory (read.cpp) ---------------------------------------------------

  static std::pair<uint64_t, uint64_t> resolve_range(const std::optional<s3::byte_range>& range,
                                                     uint64_t total);

  // The first request of a read asks for at most this much: a small object
  // costs one request and reserves little of the budget.
  static constexpr uint64_t first_read_window = uint64_t(1) << 20;

  awaitable<result<void>> fetch_into(s3::client& cl, std::string_view bucket, std::string_view key,
                                     uint64_t offset, std::span<std::byte> dst, const s3::conditions& when);
  awaitable<result<object_bytes>> read_on(unsigned c, std::string_view bucket, std::string_view key,
                                          const std::optional<s3::byte_range>& range,
                                          const s3::conditions& when);
  awaitable<result<object_bytes>> read_once(unsigned c, std::string_view bucket, std::string_view key,
                                            const std::optional<s3::byte_range>& range,
                                            const s3::conditions& when);
  awaitable<result<ranges_bytes>> read_ranges_on(unsigned c, std::string_view bucket, std::string_view key,
                                                 std::span<const s3::byte_range> ranges,
                                                 const s3::conditions& when);
  awaitable<result<object_bytes>> read_ignoring_range(s3::client& cl, std::string_view bucket,
                                                      std::string_view key,
                                                      const std::optional<s3::byte_range>& range,
                                                      const s3::conditions& when);

  // ---- batches (batch.cpp) ------------------------------------------------------------

  struct batch_state {
    std::atomic<std::size_t> next{0};
    std::mutex mu;  // guards out
    batch_result out;
  };

  awaitable<void> batch_worker(std::shared_ptr<batch_state> shared, std::span<const batch_item> items,
                               std::string_view bucket, bool download, const s3::put_options* put, unsigned c,
                               unsigned workers);
  awaitable<result<batch_result>> batch(std::string_view bucket, std::span<const batch_item> items,
                                        bool download, const s3::put_options& put);

  engine& eng_;
  options opts_;
  std::shared_ptr<buffer_pool> pool_;
  std::vector<std::shared_ptr<s3::client>> clients_;  // one per engine context
  // Requests that can be in flight at once: options::max_in_flight, but no
  // more than the connections the HTTP pools may open (a request past them
  // would only wait for a connection, holding its whole coroutine chain).
  unsigned request_limit_;
  // One ticket per data request (a GET or PUT of a part or an object), taken
  // once its memory is reserved (a holder never waits on the pool):
  // request_limit_ over all transfers.
  admission_limit admission_;
  // One ticket per call of a public entry point, taken before the call's
  // coroutines exist: calls beyond 2 x request_limit_ (enough to keep every
  // request slot busy while others write files or hash) wait as one small
  // frame each instead of a chain of frames, a parser and a pool wait.
  admission_limit operations_;
  std::atomic<unsigned> next_context_{0};
  std::vector<std::atomic<unsigned>> load_;  // calls placed on each context by pick(), until they end
  std::atomic<bool> cancelled_{false};       // lock-free: set from signal handlers
  progress progress_;
};

}  // namespace sluice::transfer
