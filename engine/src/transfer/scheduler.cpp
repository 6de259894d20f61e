// The transfer scheduler (see scheduler.hpp for the model).
#include <sluice/engine/integrity/recorded_hash.hpp>
#include <sluice/engine/integrity/xxh3.hpp>
#include <sluice/engine/runtime/concurrently.hpp>
#include <sluice/engine/s3/error.hpp>
#include <sluice/engine/transfer/scheduler.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <mutex>

namespace sluice::transfer {

namespace asio = boost::asio;
using asio::awaitable;

namespace detail {

constexpr auto tok = asio::as_tuple(asio::use_awaitable);

using s3::object_url;

error io_fail(std::string_view what, const std::string& path, int err) { return os_fail(what, path, err); }

result<void> pread_exact(int fd, std::span<std::byte> dst, uint64_t offset, const std::string& path) {
  while (!dst.empty()) {
    ssize_t n = ::pread(fd, dst.data(), dst.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_fail("cannot read", path, errno);
    if (n == 0) return fail(errc::io_error, "'" + path + "' became shorter while it was being read");
    dst = dst.subspan(static_cast<std::size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return {};
}

struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

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

// The first error of workers running on several threads.
class shared_failure {
 public:
  void set(const error& e) {
    std::lock_guard lk(mu_);
    if (!first_) first_ = e;
    happened_.store(true, std::memory_order_relaxed);
  }
  bool happened() const noexcept { return happened_.load(std::memory_order_relaxed); }
  std::optional<error> take() {
    std::lock_guard lk(mu_);
    return std::move(first_);
  }

 private:
  std::mutex mu_;
  std::atomic<bool> happened_{false};
  std::optional<error> first_;
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

// See options::connections_per_context.
unsigned connection_cap(const options& o, unsigned contexts) {
  uint64_t n = o.connections_per_context;
  if (n == 0 && o.target_bytes_per_s > 0)
    n = std::max<uint64_t>(4, (o.target_bytes_per_s + 100'000'000 - 1) / 100'000'000 / std::max(1u, contexts));
  if (n == 0) n = (o.max_in_flight + contexts - 1) / std::max(1u, contexts);
  return static_cast<unsigned>(std::clamp<uint64_t>(n, 1, 256));
}

// Handles one fetched part (index, bytes, XXH3 of the bytes when asked for)
// on the transfer's context. It takes the buffer by reference and moves it out
// (no by-value class arguments to coroutines: GCC 12).
using part_handler = std::function<awaitable<result<void>>(uint64_t, pooled_buffer&, uint64_t)>;
const std::function<uint64_t()> no_window;

class pipeline final : public scheduler {
 public:
  pipeline(engine& eng, options opts) : eng_(eng), opts_(opts) {}

  result<void> init(const s3::client_options& client_opts) {
    if (opts_.part_size < 1 || opts_.part_size > opts_.memory_budget)
      return fail(errc::invalid_argument, "the part size must be between 1 byte and the memory budget (" +
                                              std::to_string(opts_.memory_budget) + " bytes)");
    if (opts_.max_in_flight < 1) return fail(errc::invalid_argument, "at least one request must be allowed in flight");
    pool_ = buffer_pool::create({opts_.memory_budget});
    s3::client_options per_context = client_opts;
    per_context.http.max_connections = connection_cap(opts_, eng_.thread_count());
    for (unsigned i = 0; i < eng_.thread_count(); ++i) {
      SLUICE_TRY(auto c, s3::client::create(eng_.context(i).get_executor(), per_context));
      clients_.push_back(std::move(c));
    }
    return {};
  }

  // ---- public entry points: hop onto a context ------------------------------------

  awaitable<result<stats>> download(std::string_view bucket, std::string_view key, std::string_view path,
                                    std::optional<uint64_t> known_size) override {
    unsigned c = pick();
    const std::string dest(path);
    const bool small = known_size && *known_size <= opts_.part_size;
    auto work = [&] {
      return small ? download_small(c, bucket, key, dest, *known_size) : download_on(c, bucket, key, path);
    };
    co_return co_await asio::co_spawn(eng_.context(c), work(), asio::use_awaitable);
  }

  awaitable<result<stats>> stream(std::string_view bucket, std::string_view key, const consumer& sink,
                                  std::optional<uint64_t> known_size) override {
    unsigned c = pick();
    const bool small = known_size && *known_size <= opts_.part_size;
    auto work = [&] { return small ? stream_small(c, bucket, key, sink, *known_size) : stream_on(c, bucket, key, sink); };
    co_return co_await asio::co_spawn(eng_.context(c), work(), asio::use_awaitable);
  }

  awaitable<result<stats>> upload(std::string_view path, std::string_view bucket, std::string_view key,
                                  const s3::put_options& put) override {
    unsigned c = pick();
    auto work = [&] { return upload_on(c, path, bucket, key, put, opts_.max_in_flight, true); };
    co_return co_await asio::co_spawn(eng_.context(c), work(), asio::use_awaitable);
  }

  awaitable<result<batch_result>> download_many(std::string_view bucket, std::span<const batch_item> items) override {
    co_return co_await batch(bucket, items, true, s3::default_put_options);
  }

  awaitable<result<batch_result>> upload_many(std::string_view bucket, std::span<const batch_item> items,
                                              const s3::put_options& put) override {
    co_return co_await batch(bucket, items, false, put);
  }

  awaitable<result<object_bytes>> read(std::string_view bucket, std::string_view key,
                                       const std::optional<s3::byte_range>& range, const s3::conditions& when) override {
    unsigned c = pick();
    auto work = [&] { return read_on(c, bucket, key, range, when); };
    co_return co_await asio::co_spawn(eng_.context(c), work(), asio::use_awaitable);
  }

  awaitable<result<s3::put_result>> put(std::string_view bucket, std::string_view key, std::span<const std::byte> body,
                                        const s3::put_options& put) override {
    unsigned c = pick();
    auto work = [&] { return put_on(c, bucket, key, body, put); };
    co_return co_await asio::co_spawn(eng_.context(c), work(), asio::use_awaitable);
  }

  void cancel() noexcept override { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const noexcept override { return cancelled_.load(std::memory_order_relaxed); }
  result<void> check_cancelled(std::string_view bucket, std::string_view key) const {
    if (cancelled()) return fail(errc::cancelled, object_url(bucket, key) + ": the transfer was cancelled");
    return {};
  }

  buffer_pool& pool() noexcept override { return *pool_; }
  engine& owner() noexcept override { return eng_; }
  s3::client& client(unsigned context) noexcept override { return *clients_[context % clients_.size()]; }
  unsigned contexts() const noexcept override { return static_cast<unsigned>(clients_.size()); }
  const options& opts() const noexcept override { return opts_; }
  progress& counters() noexcept override { return progress_; }
  http::client_stats http_stats() const override {
    http::client_stats sum;
    for (const auto& c : clients_) sum += c->http_stats();
    return sum;
  }

 private:
  unsigned pick() noexcept { return next_context_.fetch_add(1, std::memory_order_relaxed) % contexts(); }

  // ---- fetching parts ---------------------------------------------------------------

  // Fetches bytes [offset, offset+len) into a new pool buffer.
  awaitable<result<pooled_buffer>> fetch_range(s3::client& cl, std::string_view bucket, std::string_view key,
                                               uint64_t offset, std::size_t len, const s3::conditions& when) {
    SLUICE_CO_TRY(pooled_buffer buf, co_await pool_->acquire(len));
    http::span_sink sink(buf.span());
    auto range = s3::byte_range::between(offset, offset + len - 1);
    SLUICE_CO_TRY(s3::get_result got, co_await cl.get_object(bucket, key, range, sink, when));
    if (got.bytes != len || got.first != offset)
      co_return fail(errc::truncated_response, object_url(bucket, key) + ": asked for " + std::to_string(len) +
                                                   " bytes at " + std::to_string(offset) + ", got " +
                                                   std::to_string(got.bytes) + " at " + std::to_string(got.first));
    co_return buf;
  }

  // The first ranged GET: learns size, ETag and recorded hash. Returns the
  // plan and (when the part size stays) the first part's bytes.
  awaitable<result<std::pair<object_plan, pooled_buffer>>> first_part(s3::client& cl, std::string_view bucket,
                                                                      std::string_view key) {
    object_plan plan;
    plan.part_size = opts_.part_size;
    SLUICE_CO_TRY_VOID(check_cancelled(bucket, key));
    SLUICE_CO_TRY(pooled_buffer buf, co_await pool_->acquire(opts_.part_size));
    http::span_sink sink(buf.span());
    auto range = s3::byte_range::between(0, opts_.part_size - 1);
    auto got = co_await cl.get_object(bucket, key, range, sink, s3::no_conditions);
    s3::object_info info;
    if (!got && got.error().code == errc::too_large)
      co_return fail(errc::malformed_response, object_url(bucket, key) +
                                                   ": the server ignored the Range header and sent the whole object");
    if (!got) {
      if (got.error().code != s3::errc::invalid_range) co_return got.error();
      // A range of an empty object does not exist: confirm it is empty.
      SLUICE_CO_TRY(info, co_await cl.head_object(bucket, key, s3::no_conditions));
      if (info.size != 0) co_return got.error();
      buf.resize(0);
    } else {
      info = std::move(got->info);
      buf.resize(static_cast<std::size_t>(got->bytes));
      if (got->bytes != std::min<uint64_t>(info.size, opts_.part_size))
        co_return fail(errc::truncated_response, object_url(bucket, key) + ": the first part came back short");
    }
    plan.size = info.size;
    plan.etag = info.etag;
    auto it = info.metadata.find(std::string(integrity::metadata_key));
    if (cl.options().verify_integrity && it != info.metadata.end()) {
      plan.recorded = integrity::parse_recorded(it->second);
      if (!plan.recorded)
        co_return fail(errc::integrity_mismatch,
                       object_url(bucket, key) + ": the recorded hash '" + it->second + "' is not one sluice can read");
    }
    // Parts follow the recorded part size so each part's hash feeds the
    // composite; the first part is refetched only if the size changes.
    if (plan.recorded && plan.recorded->part_size && plan.recorded->part_size != plan.part_size &&
        plan.size > plan.part_size) {
      if (plan.recorded->part_size > pool_->budget())
        co_return fail(errc::too_large, object_url(bucket, key) + ": its parts (" + std::to_string(plan.recorded->part_size) +
                                            " bytes) do not fit the memory budget");
      plan.part_size = plan.recorded->part_size;
      buf.reset();
    }
    plan.parts = plan.size == 0 ? 0 : (plan.size + plan.part_size - 1) / plan.part_size;
    co_return std::make_pair(std::move(plan), std::move(buf));
  }

  // The parts of one transfer still to claim, and its first failure. Lives in
  // run_parts' frame and is touched only on the transfer's own (home) context.
  struct part_queue {
    part_queue(asio::any_io_executor home, const object_plan& p, uint64_t first, std::string_view b,
               std::string_view k, const part_handler& h, const std::function<uint64_t()>& d, unsigned w)
        : home(home), plan(p), next(first), bucket(b), key(k), handle(h), delivered(d), window(w),
          moved(home, asio::steady_timer::time_point::max()) {}
    asio::any_io_executor home;
    const object_plan& plan;
    uint64_t next;
    std::string_view bucket, key;
    const part_handler& handle;
    const std::function<uint64_t()>& delivered;
    unsigned window;
    std::optional<error> failed;
    asio::steady_timer moved;  // cancelled whenever a part is handed over or the transfer fails
  };

  // On the home context: the next part to fetch, or none when all are claimed,
  // the transfer failed or was cancelled. With a window, waits until delivery
  // is close enough.
  awaitable<std::optional<uint64_t>> claim(part_queue& q) {
    for (;;) {
      if (q.failed || q.next >= q.plan.parts) co_return std::nullopt;
      if (q.window && q.delivered && q.next >= q.delivered() + q.window) {
        co_await q.moved.async_wait(tok);
        continue;
      }
      if (auto c = check_cancelled(q.bucket, q.key); !c) {
        q.failed = c.error();
        q.moved.cancel();
        co_return std::nullopt;
      }
      co_return q.next++;
    }
  }

  // On the home context: hands a fetched part (or its error) over, then claims the next.
  awaitable<std::optional<uint64_t>> settle(part_queue& q, uint64_t i, result<pooled_buffer>& got, uint64_t hash) {
    if (!got) {
      if (!q.failed) q.failed = got.error();
    } else if (!q.failed) {
      auto r = co_await q.handle(i, *got, hash);
      if (!r && !q.failed) q.failed = r.error();
    }
    q.moved.cancel();
    co_return co_await claim(q);
  }

  // One part worker on context `k`: fetches with that context's connections
  // and hashes there; claiming and handling hop to the home context.
  awaitable<void> part_worker(part_queue& q, unsigned k, bool hash_parts) {
    auto& cl = *clients_[k];
    s3::conditions when;
    if (!q.plan.etag.empty()) when.if_match = q.plan.etag;
    std::optional<uint64_t> idx = co_await asio::co_spawn(q.home, claim(q), asio::use_awaitable);
    while (idx) {
      const uint64_t i = *idx;
      result<pooled_buffer> got =
          co_await fetch_range(cl, q.bucket, q.key, q.plan.part_offset(i), q.plan.part_length(i), when);
      const uint64_t hash = got && hash_parts ? integrity::xxh3(got->span()) : 0;
      idx = co_await asio::co_spawn(q.home, settle(q, i, got, hash), asio::use_awaitable);
    }
  }

  // Fetches parts [first, plan.parts) with up to `workers` requests in flight
  // and hands each to `handle(i, buf, hash)` on the calling (home) context;
  // `hash` is the part's XXH3 when `hash_parts`, else 0. `spread`: the workers
  // are spread over every engine context (one object uses every core: the
  // kernel's receive copy, TLS and hashing then run on all threads); otherwise
  // they stay on the home context (a batch spreads objects instead). With a
  // window, part i is not requested before `delivered()` reaches i - window.
  awaitable<result<void>> run_parts(unsigned home, std::string_view bucket, std::string_view key,
                                    const object_plan& plan, uint64_t first, unsigned workers,
                                    const part_handler& handle, const std::function<uint64_t()>& delivered,
                                    unsigned window, bool spread, bool hash_parts) {
    if (first >= plan.parts) co_return result<void>{};
    auto ex = co_await asio::this_coro::executor;
    part_queue q(ex, plan, first, bucket, key, handle, delivered, window);
    workers = static_cast<unsigned>(std::min<uint64_t>(std::max(1u, workers), plan.parts - first));
    const unsigned n = spread ? std::min(contexts(), workers) : 1;
    co_await run_on_contexts(eng_, home, n, [&](unsigned slot) -> awaitable<void> {
      const unsigned k = (home + slot) % contexts();
      const unsigned mine = workers / n + (slot < workers % n ? 1 : 0);
      co_await run_concurrently(mine, [&, k](unsigned) -> awaitable<void> { co_await part_worker(q, k, hash_parts); });
    });
    if (q.failed) co_return *q.failed;
    co_return result<void>{};
  }

  // ---- download to a file -------------------------------------------------------------

  // `workers`: requests in flight (0: max_in_flight); `spread`: over every
  // context (single transfers) or only this one (objects of a batch).
  awaitable<result<stats>> download_on(unsigned c, std::string_view bucket, std::string_view key, std::string_view path,
                                       unsigned workers = 0, bool spread = true) {
    auto& cl = *clients_[c];
    stats st;
    SLUICE_CO_TRY(auto head, co_await first_part(cl, bucket, key));
    object_plan plan = std::move(head.first);
    pooled_buffer first = std::move(head.second);
    auto ex = co_await asio::this_coro::executor;
    SLUICE_CO_TRY(std::unique_ptr<cache::file_writer> writer,
                  cache::file_writer::create(ex, std::string(path), plan.size, opts_.file));

    const bool composite = plan.recorded && plan.recorded->part_size == plan.part_size;
    const bool whole = plan.recorded && plan.recorded->part_size == 0;
    // Recorded with another part size: the object fits in our first part
    // (first_part re-plans otherwise), so hash that part the recorded way.
    const bool single_other = plan.recorded && !composite && !whole;
    uint64_t single_hash = 0;
    std::vector<uint64_t> hashes(plan.parts);
    integrity::xxh3_stream whole_hash;
    ordered_stage<buffer_slice> in_order([&](uint64_t, buffer_slice& b) -> result<void> {
      whole_hash.update(b.span());
      return {};
    });

    // A part's write runs behind: the worker that fetched it goes on to the
    // next part while the kernel writes this one (the pool's budget bounds
    // how many wait).
    write_group writes(ex);
    part_handler handle = [&](uint64_t i, pooled_buffer& held, uint64_t hash) -> awaitable<result<void>> {
      if (writes.failed) co_return *writes.failed;
      const std::size_t n = held.size();
      if (composite) hashes[i] = hash;
      if (single_other) single_hash = integrity::hash_content(held.span(), plan.recorded->part_size);
      if (whole) SLUICE_CO_TRY_VOID(in_order.push(i, held.share(0, n)));
      ++writes.in_flight;
      asio::co_spawn(ex, write_part(*writer, plan.part_offset(i), new pooled_buffer(std::move(held)), writes),
                     [&writes](std::exception_ptr e) {
                       if (e && !writes.failed) writes.failed = fail(errc::io_error, "a part's write failed unexpectedly");
                       if (--writes.in_flight == 0) writes.idle.cancel();
                     });
      progress_.bytes.fetch_add(n, std::memory_order_relaxed);
      st.bytes += n;
      ++st.requests;
      co_return result<void>{};
    };
    result<void> fetched;
    uint64_t start = 0;
    if (first && plan.parts > 0) {
      const uint64_t first_hash = composite ? integrity::xxh3(first.span()) : 0;
      fetched = co_await handle(0, first, first_hash);
      start = 1;
    }
    if (fetched)
      fetched = co_await run_parts(c, bucket, key, plan, start, workers ? workers : opts_.max_in_flight, handle,
                                   no_window, 0, spread, composite);
    co_await writes.drain();  // before any return: the writer must outlive its writes
    SLUICE_CO_TRY_VOID(fetched);
    if (writes.failed) co_return *writes.failed;

    if (plan.recorded) {
      uint64_t got = composite ? integrity::composite_of(hashes, plan.part_size) : whole_hash.digest();
      if (single_other) got = plan.parts == 0 ? integrity::hash_content({}, plan.recorded->part_size) : single_hash;
      if (got != plan.recorded->value) {
        // Fetch every part again; parts that differ were damaged in one of the
        // two reads: keep the second read and check again.
        SLUICE_CO_TRY(uint64_t again, co_await refetch_and_compare(cl, bucket, key, plan, hashes, *writer, st));
        if (again != plan.recorded->value)
          co_return fail(errc::integrity_mismatch, object_url(bucket, key) + ": data integrity error: content hash " +
                                                       integrity::to_hex(again) + " does not match the recorded XXH3 " +
                                                       integrity::to_hex(plan.recorded->value) +
                                                       " (also after fetching it again)");
      }
      st.verified = true;
    }
    SLUICE_CO_TRY_VOID(co_await writer->commit());
    st.objects = 1;
    st.etag = plan.etag;
    progress_.objects.fetch_add(1, std::memory_order_relaxed);
    co_return st;
  }

  // One write-behind part: owns `owned` (a raw pointer, not a by-value
  // buffer: GCC 12 coroutines) until the write completes.
  static awaitable<void> write_part(cache::file_writer& writer, uint64_t offset, pooled_buffer* owned,
                                    write_group& group) {
    std::unique_ptr<pooled_buffer> hold(owned);
    auto r = co_await writer.write_at(offset, hold->span());
    if (!r && !group.failed) group.failed = r.error();
  }

  // The second look after a mismatch: refetch each part, hash it, rewrite
  // the ones whose hash changed, and return the content hash of the result.
  awaitable<result<uint64_t>> refetch_and_compare(s3::client& cl, std::string_view bucket, std::string_view key,
                                                  const object_plan& plan, std::vector<uint64_t>& hashes,
                                                  cache::file_writer& writer, stats& st) {
    const bool composite = plan.recorded->part_size == plan.part_size && plan.part_size > 0;
    integrity::content_hasher whole(plan.recorded->part_size);
    s3::conditions when;
    if (!plan.etag.empty()) when.if_match = plan.etag;
    for (uint64_t i = 0; i < plan.parts; ++i) {
      SLUICE_CO_TRY(pooled_buffer buf, co_await fetch_range(cl, bucket, key, plan.part_offset(i), plan.part_length(i), when));
      uint64_t h = integrity::xxh3(buf.span());
      if (!composite || h != hashes[i]) {
        SLUICE_CO_TRY_VOID(co_await writer.write_at(plan.part_offset(i), buf.span()));
        if (composite) {
          hashes[i] = h;
          ++st.refetched_parts;
        }
      }
      if (!composite) whole.update(buf.span());
    }
    if (!composite) {
      st.refetched_parts = plan.parts;
      co_return whole.digest();
    }
    co_return integrity::composite_of(hashes, plan.part_size);
  }

  // ---- ordered delivery to a consumer -------------------------------------------------

  awaitable<result<stats>> stream_on(unsigned c, std::string_view bucket, std::string_view key, const consumer& sink) {
    auto& cl = *clients_[c];
    stats st;
    SLUICE_CO_TRY(auto head, co_await first_part(cl, bucket, key));
    object_plan plan = std::move(head.first);
    pooled_buffer first = std::move(head.second);
    // Recorded in our parts: each part's hash comes from the worker that
    // fetched it (hashing spreads over the contexts); otherwise the content
    // is hashed here in order.
    const bool composite = plan.recorded && plan.recorded->part_size == plan.part_size;
    std::vector<uint64_t> hashes(composite ? plan.parts : 0);
    integrity::content_hasher hasher(plan.recorded ? plan.recorded->part_size : 0);
    ordered_stage<pooled_buffer> in_order([&](uint64_t i, pooled_buffer& b) -> result<void> {
      if (plan.recorded && !composite) hasher.update(b.span());
      return sink(b.span(), plan.part_offset(i));
    });
    part_handler handle = [&](uint64_t i, pooled_buffer& held, uint64_t hash) -> awaitable<result<void>> {
      pooled_buffer buf = std::move(held);
      if (composite) hashes[i] = hash;
      progress_.bytes.fetch_add(buf.size(), std::memory_order_relaxed);
      st.bytes += buf.size();
      ++st.requests;
      co_return in_order.push(i, std::move(buf));
    };
    uint64_t start = 0;
    if (first && plan.parts > 0) {
      const uint64_t first_hash = composite ? integrity::xxh3(first.span()) : 0;
      SLUICE_CO_TRY_VOID(co_await handle(0, first, first_hash));
      start = 1;
    }
    in_order.start_at(start);
    std::function<uint64_t()> delivered = [&] { return in_order.next(); };
    SLUICE_CO_TRY_VOID(co_await run_parts(c, bucket, key, plan, start, opts_.max_in_flight, handle, delivered,
                                          std::max(1u, opts_.reorder_window), true, composite));
    if (plan.recorded) {
      const uint64_t got = composite ? integrity::composite_of(hashes, plan.part_size) : hasher.digest();
      if (got != plan.recorded->value)
        co_return fail(errc::integrity_mismatch, object_url(bucket, key) + ": data integrity error: content hash " +
                                                     integrity::to_hex(got) + " does not match the recorded XXH3 " +
                                                     integrity::to_hex(plan.recorded->value) +
                                                     " (the bytes were already delivered)");
      st.verified = true;
    }
    st.objects = 1;
    progress_.objects.fetch_add(1, std::memory_order_relaxed);
    co_return st;
  }

  // ---- uploads ------------------------------------------------------------------------------

  // `spread`: the parts of a multipart upload are sent from every context
  // (single uploads), or from this one only (objects of a batch).
  awaitable<result<stats>> upload_on(unsigned c, std::string_view path_in, std::string_view bucket,
                                     std::string_view key, const s3::put_options& put_in, unsigned workers,
                                     bool spread) {
    auto& cl = *clients_[c];
    const std::string path(path_in);
    stats st;
    fd_guard fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (fd.fd < 0) co_return io_fail("cannot open", path, errno);
    struct stat sb {};
    if (::fstat(fd.fd, &sb) != 0) co_return io_fail("cannot stat", path, errno);
    if (!S_ISREG(sb.st_mode)) co_return fail(errc::invalid_argument, "'" + path + "' is not a regular file");
    const uint64_t size = static_cast<uint64_t>(sb.st_size);

    SLUICE_CO_TRY_VOID(check_cancelled(bucket, key));
    if (size <= opts_.multipart_threshold && size <= pool_->budget()) {
      SLUICE_CO_TRY(pooled_buffer buf, co_await pool_->acquire(static_cast<std::size_t>(size)));
      SLUICE_CO_TRY_VOID(pread_exact(fd.fd, buf.span(), 0, path));
      SLUICE_CO_TRY_VOID(co_await cl.put_object(bucket, key, buf.span(), put_in));
      st.bytes = size;
      st.objects = 1;
      st.requests = 1;
      progress_.bytes.fetch_add(size, std::memory_order_relaxed);
      progress_.objects.fetch_add(1, std::memory_order_relaxed);
      co_return st;
    }

    const uint64_t part = multipart_part_size(size);
    if (part > pool_->budget())
      co_return fail(errc::too_large, "'" + path + "' needs parts of " + std::to_string(part) +
                                          " bytes, more than the memory budget");
    const uint64_t parts = (size + part - 1) / part;
    auto length = [&](uint64_t i) { return static_cast<std::size_t>(std::min(part, size - i * part)); };

    // Hash first: the composite goes into the object's metadata at creation.
    std::vector<uint64_t> hashes(parts);
    {
      SLUICE_CO_TRY(pooled_buffer buf, co_await pool_->acquire(static_cast<std::size_t>(part)));
      for (uint64_t i = 0; i < parts; ++i) {
        auto view = buf.span().first(length(i));
        SLUICE_CO_TRY_VOID(pread_exact(fd.fd, view, i * part, path));
        hashes[i] = integrity::xxh3(view);
      }
    }
    s3::put_options put = put_in;
    put.metadata[std::string(integrity::metadata_key)] =
        integrity::format_recorded({integrity::composite_of(hashes, part), part});
    part_reader from_file = [&](uint64_t i, pooled_buffer& holder) -> awaitable<result<std::span<const std::byte>>> {
      SLUICE_CO_TRY(holder, co_await pool_->acquire(length(i)));
      SLUICE_CO_TRY_VOID(pread_exact(fd.fd, holder.span(), i * part, path));
      if (integrity::xxh3(holder.span()) != hashes[i])
        co_return fail(errc::io_error, "'" + path + "' changed while it was being uploaded");
      co_return std::span<const std::byte>(holder.span());
    };
    SLUICE_CO_TRY_VOID(co_await send_multipart(c, bucket, key, put, parts, workers, spread, from_file));
    st.bytes = size;
    st.objects = 1;
    st.requests = parts + 2;
    progress_.objects.fetch_add(1, std::memory_order_relaxed);
    co_return st;
  }

  // Parts of at least part_size (and S3's 5 MiB), doubled until at most 10,000.
  uint64_t multipart_part_size(uint64_t size) const {
    uint64_t part = std::max<uint64_t>(opts_.part_size, 5ull << 20);
    while ((size + part - 1) / part > 10000) part *= 2;
    return part;
  }

  // Gives part i's bytes; `holder` keeps pool memory alive while the part is sent.
  using part_reader = std::function<awaitable<result<std::span<const std::byte>>>(uint64_t, pooled_buffer&)>;

  // A multipart upload of `parts` parts read by `read`: created, sent by
  // `workers` workers (over every context when `spread`, else this one),
  // completed, or aborted on any failure. Returns the object's ETag.
  awaitable<result<std::string>> send_multipart(unsigned c, std::string_view bucket, std::string_view key,
                                                const s3::put_options& put, uint64_t parts, unsigned workers,
                                                bool spread, const part_reader& read) {
    auto& cl = *clients_[c];
    SLUICE_CO_TRY(std::string upload_id, co_await cl.create_multipart_upload(bucket, key, put));
    // Workers on every context (each with its own context's client) pull
    // part numbers; the state they share is atomic or under a mutex, and
    // done[i] is written by one worker each and read after all have finished.
    std::vector<s3::completed_part> done(parts);
    std::atomic<uint64_t> next{0};
    shared_failure failure;
    workers = static_cast<unsigned>(std::min<uint64_t>(std::max(1u, workers), parts));
    const unsigned n = spread ? std::min(contexts(), workers) : 1;
    co_await run_on_contexts(eng_, c, n, [&](unsigned slot) -> awaitable<void> {
      s3::client& mine = *clients_[(c + slot) % contexts()];
      const unsigned count = workers / n + (slot < workers % n ? 1 : 0);
      co_await run_concurrently(count, [&](unsigned) -> awaitable<void> {
        for (;;) {
          if (failure.happened()) co_return;
          if (auto cc = check_cancelled(bucket, key); !cc) {
            failure.set(cc.error());
            co_return;
          }
          const uint64_t i = next.fetch_add(1, std::memory_order_relaxed);
          if (i >= parts) co_return;
          pooled_buffer holder;
          auto bytes = co_await read(i, holder);
          if (!bytes) {
            failure.set(bytes.error());
            co_return;
          }
          auto etag = co_await mine.upload_part(bucket, key, upload_id, static_cast<int>(i + 1), *bytes);
          if (!etag) {
            failure.set(etag.error());
            co_return;
          }
          done[i] = {static_cast<int>(i + 1), std::move(*etag)};
          progress_.bytes.fetch_add(bytes->size(), std::memory_order_relaxed);
        }
      });
    });
    std::optional<error> failed = failure.take();
    std::string etag;
    if (!failed) {
      auto completed = co_await cl.complete_multipart_upload(bucket, key, upload_id, done);
      if (!completed) failed = completed.error();
      else etag = std::move(*completed);
    }
    if (failed) {
      (void)co_await cl.abort_multipart_upload(bucket, key, upload_id);
      co_return *failed;
    }
    co_return etag;
  }

  // ---- reads into memory ---------------------------------------------------------------------

  // A requested range against an object of `total` bytes: [first, end), end
  // clamped to the object (first may lie past it: the caller checks).
  static std::pair<uint64_t, uint64_t> resolve_range(const std::optional<s3::byte_range>& range, uint64_t total) {
    if (range && range->suffix) return {total - std::min(*range->suffix, total), total};
    if (range) return {range->first, range->last ? std::min(total, *range->last + 1) : total};
    return {0, total};
  }

  // The first request of a read asks for at most this much: a small object
  // costs one request and reserves little of the budget.
  static constexpr uint64_t first_read_window = uint64_t(1) << 20;

  // Fetches [offset, offset + dst.size()) into `dst` (memory already reserved).
  awaitable<result<void>> fetch_into(s3::client& cl, std::string_view bucket, std::string_view key, uint64_t offset,
                                     std::span<std::byte> dst, const s3::conditions& when) {
    SLUICE_CO_TRY_VOID(check_cancelled(bucket, key));
    http::span_sink sink(dst);
    auto range = s3::byte_range::between(offset, offset + dst.size() - 1);
    SLUICE_CO_TRY(s3::get_result got, co_await cl.get_object(bucket, key, range, sink, when));
    if (got.bytes != dst.size() || got.first != offset)
      co_return fail(errc::truncated_response, object_url(bucket, key) + ": asked for " + std::to_string(dst.size()) +
                                                   " bytes at " + std::to_string(offset) + ", got " +
                                                   std::to_string(got.bytes) + " at " + std::to_string(got.first));
    co_return result<void>{};
  }

  awaitable<result<object_bytes>> read_on(unsigned c, std::string_view bucket, std::string_view key,
                                          const std::optional<s3::byte_range>& range, const s3::conditions& when) {
    for (int attempt = 1;; ++attempt) {
      SLUICE_CO_TRY(object_bytes got, co_await read_once(c, bucket, key, range, when));
      const bool whole = got.first == 0 && got.data.size() == got.info.size;
      auto it = got.info.metadata.find(std::string(integrity::metadata_key));
      if (!whole || !clients_[c]->options().verify_integrity || it == got.info.metadata.end()) co_return got;
      auto rec = integrity::parse_recorded(it->second);
      if (rec && integrity::hash_content(got.data.span(), rec->part_size) == rec->value) {
        got.verified = true;
        co_return got;
      }
      if (attempt >= 2)
        co_return fail(errc::integrity_mismatch, object_url(bucket, key) +
                                                     ": data integrity error: the content does not match the recorded "
                                                     "XXH3 '" + it->second + "' (also after reading it again)");
    }
  }

  awaitable<result<object_bytes>> read_once(unsigned c, std::string_view bucket, std::string_view key,
                                            const std::optional<s3::byte_range>& range, const s3::conditions& when) {
    auto& cl = *clients_[c];
    SLUICE_CO_TRY_VOID(check_cancelled(bucket, key));
    // The first request: at most first_read_window bytes of what is asked for.
    const uint64_t window = std::min<uint64_t>(first_read_window, opts_.part_size);
    s3::byte_range first_range = s3::byte_range::between(0, window - 1);
    if (range && range->suffix) {
      if (*range->suffix == 0) co_return fail(errc::invalid_argument, object_url(bucket, key) + ": an empty suffix range");
      first_range = s3::byte_range::last_bytes(std::min(*range->suffix, window));
    } else if (range) {
      uint64_t len = window;
      if (range->last) {
        if (*range->last < range->first)
          co_return fail(errc::invalid_argument, object_url(bucket, key) + ": a range that ends before it starts");
        len = std::min(len, *range->last - range->first + 1);
      }
      first_range = s3::byte_range::between(range->first, range->first + len - 1);
    }
    const uint64_t first_len = first_range.suffix ? *first_range.suffix : *first_range.last - first_range.first + 1;
    SLUICE_CO_TRY(pooled_buffer head, co_await pool_->acquire(static_cast<std::size_t>(first_len)));
    http::span_sink sink(head.span());
    object_bytes out;
    out.requests = 1;
    auto got = co_await cl.get_object(bucket, key, first_range, sink, when);
    if (!got && got.error().code == errc::too_large) {
      head.reset();
      co_return co_await read_ignoring_range(cl, bucket, key, range, when);
    }
    if (!got && got.error().code == s3::errc::invalid_range && (!range || (!range->suffix && range->first == 0))) {
      // A range of an empty object does not exist: confirm it is empty.
      SLUICE_CO_TRY(out.info, co_await cl.head_object(bucket, key, when));
      if (out.info.size != 0) co_return got.error();
      ++out.requests;
      co_return out;
    }
    if (!got) co_return got.error();
    out.info = std::move(got->info);
    const uint64_t total = out.info.size;
    // What was asked for, resolved against the size.
    const auto [w0, w1] = resolve_range(range, total);
    // What arrived: [got->first, got->first + got->bytes).
    const uint64_t h0 = got->first, h1 = got->first + got->bytes;
    if (h0 < w0 || h1 > w1 || (h0 != w0 && h1 != w1))
      co_return fail(errc::malformed_response, object_url(bucket, key) + ": the answer's range does not match the request");
    head.resize(static_cast<std::size_t>(got->bytes));
    out.first = w0;
    if (h0 == w0 && h1 == w1) {
      out.data = std::move(head);
      co_return out;
    }
    // The rest, in parts, into one buffer for the whole range.
    if (w1 - w0 > pool_->budget())
      co_return fail(errc::too_large, object_url(bucket, key) + ": " + std::to_string(w1 - w0) +
                                          " bytes do not fit the memory budget (" + std::to_string(pool_->budget()) +
                                          " bytes)");
    // Give the first piece's reservation back before taking the whole.
    std::vector<std::byte> first_piece(head.span().begin(), head.span().end());
    head.reset();
    SLUICE_CO_TRY(pooled_buffer all, co_await pool_->acquire(static_cast<std::size_t>(w1 - w0)));
    std::memcpy(all.data() + (h0 - w0), first_piece.data(), first_piece.size());
    first_piece = {};
    const uint64_t gap0 = h0 == w0 ? h1 : w0, gap1 = h0 == w0 ? w1 : h0;
    const uint64_t part = opts_.part_size;
    const uint64_t parts = (gap1 - gap0 + part - 1) / part;
    s3::conditions same_object;
    if (!out.info.etag.empty()) same_object.if_match = out.info.etag;
    std::optional<error> failed;
    uint64_t next = 0;
    const unsigned workers = static_cast<unsigned>(std::min<uint64_t>(std::max(1u, opts_.max_in_flight), parts));
    co_await run_concurrently(workers, [&](unsigned) -> awaitable<void> {
      while (!failed && next < parts) {
        const uint64_t i = next++;
        const uint64_t off = gap0 + i * part;
        const uint64_t len = std::min(part, gap1 - off);
        auto r = co_await fetch_into(cl, bucket, key, off, all.span().subspan(off - w0, len), same_object);
        if (!r && !failed) failed = r.error();
      }
    });
    if (failed) co_return *failed;
    out.requests += parts;
    out.data = std::move(all);
    co_return out;
  }

  // A server that answers a ranged GET with the whole object (s3rver does
  // for "bytes=0-0" and for suffix ranges): read the whole object, when it
  // fits the budget, and keep the range asked for.
  awaitable<result<object_bytes>> read_ignoring_range(s3::client& cl, std::string_view bucket, std::string_view key,
                                                      const std::optional<s3::byte_range>& range,
                                                      const s3::conditions& when) {
    object_bytes out;
    SLUICE_CO_TRY(out.info, co_await cl.head_object(bucket, key, when));
    const uint64_t total = out.info.size;
    if (total > pool_->budget())
      co_return fail(errc::malformed_response, object_url(bucket, key) +
                                                   ": the server ignored the Range header, and the whole object does "
                                                   "not fit the memory budget");
    const auto [w0, w1] = resolve_range(range, total);
    if (w0 > total || (w0 == total && total > 0))
      co_return fail(s3::errc::invalid_range, object_url(bucket, key) + ": the range starts past the end");
    SLUICE_CO_TRY(pooled_buffer all, co_await pool_->acquire(static_cast<std::size_t>(total)));
    http::span_sink sink(all.span());
    s3::conditions same_object;
    if (!out.info.etag.empty()) same_object.if_match = out.info.etag;
    SLUICE_CO_TRY(s3::get_result got, co_await cl.get_object(bucket, key, std::nullopt, sink, same_object));
    if (got.bytes != total)
      co_return fail(errc::truncated_response, object_url(bucket, key) + ": the object came back short");
    out.info = std::move(got.info);
    if (w0 > 0) std::memmove(all.data(), all.data() + w0, static_cast<std::size_t>(w1 - w0));
    all.resize(static_cast<std::size_t>(w1 - w0));
    out.first = w0;
    out.data = std::move(all);
    out.requests = 3;
    co_return out;
  }

  // ---- uploads from memory ---------------------------------------------------------------------

  awaitable<result<s3::put_result>> put_on(unsigned c, std::string_view bucket, std::string_view key,
                                           std::span<const std::byte> body, const s3::put_options& put_in) {
    auto& cl = *clients_[c];
    SLUICE_CO_TRY_VOID(check_cancelled(bucket, key));
    const bool conditional = put_in.when.if_match || put_in.when.if_none_match;
    if (body.size() <= opts_.multipart_threshold || conditional) {
      if (body.size() > (uint64_t(5) << 30))
        co_return fail(errc::unsupported, object_url(bucket, key) +
                                              ": a conditional write goes in one PUT, and one PUT carries at most 5 GiB");
      SLUICE_CO_TRY(s3::put_result r, co_await cl.put_object(bucket, key, body, put_in));
      progress_.bytes.fetch_add(body.size(), std::memory_order_relaxed);
      progress_.objects.fetch_add(1, std::memory_order_relaxed);
      co_return r;
    }
    const uint64_t size = body.size();
    const uint64_t part = multipart_part_size(size);
    const uint64_t parts = (size + part - 1) / part;
    auto view = [&](uint64_t i) { return body.subspan(i * part, std::min(part, size - i * part)); };
    std::vector<uint64_t> hashes(parts);
    for (uint64_t i = 0; i < parts; ++i) hashes[i] = integrity::xxh3(view(i));
    s3::put_options put = put_in;
    const uint64_t composite = integrity::composite_of(hashes, part);
    put.metadata[std::string(integrity::metadata_key)] = integrity::format_recorded({composite, part});
    part_reader from_memory = [&](uint64_t i, pooled_buffer&) -> awaitable<result<std::span<const std::byte>>> {
      co_return view(i);
    };
    SLUICE_CO_TRY(std::string etag, co_await send_multipart(c, bucket, key, put, parts, opts_.max_in_flight, true,
                                                            from_memory));
    s3::put_result r;
    r.etag = std::move(etag);
    r.xxh3 = composite;
    progress_.objects.fetch_add(1, std::memory_order_relaxed);
    co_return r;
  }

  // ---- batches ------------------------------------------------------------------------------

  // One small object whose size is known: reserve exactly its size, one GET,
  // verify the recorded hash (refetch once). Empty optional buffer: the
  // object's size differs from `size` (it changed since it was listed).
  awaitable<result<std::optional<pooled_buffer>>> fetch_small(unsigned c, std::string_view bucket,
                                                              std::string_view key, uint64_t size, stats& st) {
    auto& cl = *clients_[c];
    for (int attempt = 1;; ++attempt) {
      SLUICE_CO_TRY_VOID(check_cancelled(bucket, key));
      SLUICE_CO_TRY(pooled_buffer buf, co_await pool_->acquire(static_cast<std::size_t>(size)));
      http::span_sink sink(buf.span());
      auto got = co_await cl.get_object(bucket, key, std::nullopt, sink, s3::no_conditions);
      if (!got && got.error().code == errc::too_large) co_return std::optional<pooled_buffer>{};
      if (!got) co_return got.error();
      if (got->bytes != size) co_return std::optional<pooled_buffer>{};
      ++st.requests;
      if (auto it = got->info.metadata.find(std::string(integrity::metadata_key));
          cl.options().verify_integrity && it != got->info.metadata.end()) {
        auto rec = integrity::parse_recorded(it->second);
        if (!rec || integrity::hash_content(buf.span(), rec->part_size) != rec->value) {
          if (attempt < 2) {
            ++st.refetched_parts;
            continue;
          }
          co_return fail(errc::integrity_mismatch,
                         object_url(bucket, key) + ": data integrity error: the content does not match the recorded XXH3 '" +
                             it->second + "' (also after fetching it again)");
        }
        st.verified = true;
      }
      st.bytes = size;
      st.objects = 1;
      progress_.bytes.fetch_add(size, std::memory_order_relaxed);
      progress_.objects.fetch_add(1, std::memory_order_relaxed);
      co_return std::optional<pooled_buffer>(std::move(buf));
    }
  }

  // `in_batch`: the batch syncs each directory once at the end instead of
  // after every rename.
  awaitable<result<stats>> download_small(unsigned c, std::string_view bucket, std::string_view key,
                                          const std::string& path, uint64_t size, bool in_batch = false) {
    stats st;
    SLUICE_CO_TRY(std::optional<pooled_buffer> buf, co_await fetch_small(c, bucket, key, size, st));
    if (!buf) co_return co_await download_on(c, bucket, key, path, in_batch ? 4 : 0, !in_batch);  // changed size
    auto ex = co_await asio::this_coro::executor;
    cache::writer_options wo = opts_.file;
    wo.sync_directory = !in_batch;
    if (size < (std::size_t(1) << 20)) wo.direct = false;  // one small write: O_DIRECT buys nothing
    SLUICE_CO_TRY(std::unique_ptr<cache::file_writer> writer, cache::file_writer::create(ex, path, size, wo));
    if (size) SLUICE_CO_TRY_VOID(co_await writer->write_at(0, buf->span()));
    SLUICE_CO_TRY_VOID(co_await writer->commit());
    co_return st;
  }

  awaitable<result<stats>> stream_small(unsigned c, std::string_view bucket, std::string_view key,
                                        const consumer& sink, uint64_t size) {
    stats st;
    SLUICE_CO_TRY(std::optional<pooled_buffer> buf, co_await fetch_small(c, bucket, key, size, st));
    if (!buf) co_return co_await stream_on(c, bucket, key, sink);
    SLUICE_CO_TRY_VOID(sink(buf->span(), 0));
    co_return st;
  }

  struct batch_state {
    std::atomic<std::size_t> next{0};
    std::mutex mu;  // guards out
    batch_result out;
  };

  // One context's share of a batch: `workers` coroutines pull the next item.
  awaitable<void> batch_worker(std::shared_ptr<batch_state> shared, std::span<const batch_item> items,
                               std::string_view bucket, bool download, const s3::put_options* put, unsigned c,
                               unsigned workers) {
    co_await run_concurrently(workers, [&](unsigned) -> awaitable<void> {
      for (;;) {
        std::size_t i = shared->next.fetch_add(1, std::memory_order_relaxed);
        if (i >= items.size()) co_return;
        const batch_item& item = items[i];
        if (auto cc = check_cancelled(bucket, item.key); !cc) {
          std::lock_guard lk(shared->mu);
          shared->out.failures.push_back({item.key, cc.error()});
          continue;
        }
        result<stats> r = stats{};
        if (download) {
          if (item.size && *item.size <= opts_.part_size)
            r = co_await download_small(c, bucket, item.key, item.path, *item.size, true);
          else
            r = co_await download_on(c, bucket, item.key, item.path, 4, false);
        } else {
          r = co_await upload_on(c, item.path, bucket, item.key, *put, 4, false);
        }
        std::lock_guard lk(shared->mu);
        if (r) {
          shared->out.totals.bytes += r->bytes;
          shared->out.totals.objects += r->objects;
          shared->out.totals.requests += r->requests;
          shared->out.totals.refetched_parts += r->refetched_parts;
        } else {
          shared->out.failures.push_back({item.key, r.error()});
        }
      }
    });
  }

  // Spreads items over every context; each context runs its share of the
  // in-flight limit as workers pulling the next item.
  awaitable<result<batch_result>> batch(std::string_view bucket, std::span<const batch_item> items, bool download,
                                        const s3::put_options& put) {
    auto shared = std::make_shared<batch_state>();
    const unsigned n_ctx = contexts();
    const unsigned total_workers = std::max(1u, opts_.max_in_flight);
    co_await run_on_contexts(eng_, 0, n_ctx, [&](unsigned c) -> awaitable<void> {
      const unsigned workers = total_workers / n_ctx + (c < total_workers % n_ctx ? 1 : 0);
      co_await batch_worker(shared, items, bucket, download, &put, c, std::max(1u, workers));
    });
    if (download) {
      // Make the new names durable: one fsync per directory written to.
      std::set<std::string> dirs;
      for (const auto& item : items) dirs.insert(std::filesystem::path(item.path).parent_path().string());
      for (const auto& d : dirs) cache::sync_directory(d.empty() ? "." : d);
    }
    std::lock_guard lk(shared->mu);
    co_return std::move(shared->out);
  }

  engine& eng_;
  options opts_;
  std::shared_ptr<buffer_pool> pool_;
  std::vector<std::shared_ptr<s3::client>> clients_;  // one per engine context
  std::atomic<unsigned> next_context_{0};
  std::atomic<bool> cancelled_{false};  // lock-free: set from signal handlers
  progress progress_;
};

result<std::shared_ptr<scheduler>> scheduler::create(engine& eng, s3::client_options client_opts, options opts) {
  auto p = std::make_shared<pipeline>(eng, opts);
  SLUICE_TRY_VOID(p->init(client_opts));
  return std::shared_ptr<scheduler>(std::move(p));
}

}  // namespace sluice::transfer
