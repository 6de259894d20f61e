// The scheduler's set-up and public entry points: each transfer hops onto an engine context.
#include "transfer/pipeline.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace sluice::transfer {

// See options::connections_per_context.
unsigned connection_cap(const options& o, unsigned contexts) {
  uint64_t n = o.connections_per_context;
  if (n == 0 && o.target_bytes_per_s > 0)
    n = std::max<uint64_t>(4,
                           (o.target_bytes_per_s + 100'000'000 - 1) / 100'000'000 / std::max(1u, contexts));
  if (n == 0) n = (o.max_in_flight + contexts - 1) / std::max(1u, contexts);
  return static_cast<unsigned>(std::clamp<uint64_t>(n, 1, 256));
}

namespace {
unsigned request_limit_for(const options& o, unsigned contexts) {
  const uint64_t connections = uint64_t(connection_cap(o, contexts)) * std::max(1u, contexts);
  return static_cast<unsigned>(std::max<uint64_t>(1, std::min<uint64_t>(o.max_in_flight, connections)));
}
}  // namespace

pipeline::pipeline(engine& eng, options opts)
    : eng_(eng),
      opts_(opts),
      request_limit_(request_limit_for(opts, eng.thread_count())),
      admission_(request_limit_),
      operations_(2 * request_limit_) {}

result<void> pipeline::init(const s3::client_options& client_opts) {
  if (opts_.part_size < 1 || opts_.part_size > opts_.memory_budget)
    return fail(errc::invalid_argument, "the part size must be between 1 byte and the memory budget (" +
                                            std::to_string(opts_.memory_budget) + " bytes)");
  if (opts_.max_in_flight < 1)
    return fail(errc::invalid_argument, "at least one request must be allowed in flight");
  pool_ = buffer_pool::create({opts_.memory_budget});
  s3::client_options per_context = client_opts;
  per_context.http.max_connections = connection_cap(opts_, eng_.thread_count());
  for (unsigned i = 0; i < eng_.thread_count(); ++i) {
    SLUICE_TRY(auto c, s3::client::create(eng_.context(i).get_executor(), per_context));
    clients_.push_back(std::move(c));
  }
  load_ = std::vector<std::atomic<unsigned>>(clients_.size());
  return {};
}

awaitable<result<stats>> pipeline::download(std::string_view bucket, std::string_view key,
                                            std::string_view path, std::optional<uint64_t> known_size) {
  unsigned c = pick();
  const std::string dest(path);
  const bool small = known_size && *known_size <= opts_.part_size;
  auto work = [&] {
    return small ? download_small(c, bucket, key, dest, *known_size) : download_on(c, bucket, key, path);
  };
  co_return co_await on_context(c, work, bucket, key);
}

awaitable<result<stats>> pipeline::stream(std::string_view bucket, std::string_view key, const consumer& sink,
                                          std::optional<uint64_t> known_size) {
  unsigned c = pick();
  const bool small = known_size && *known_size <= opts_.part_size;
  auto work = [&] {
    return small ? stream_small(c, bucket, key, sink, *known_size) : stream_on(c, bucket, key, sink);
  };
  co_return co_await on_context(c, work, bucket, key);
}

awaitable<result<stats>> pipeline::upload(std::string_view path, std::string_view bucket,
                                          std::string_view key, const s3::put_options& put) {
  unsigned c = pick();
  auto work = [&] { return upload_on(c, path, bucket, key, put, request_limit_, true); };
  co_return co_await on_context(c, work, bucket, key);
}

awaitable<result<batch_result>> pipeline::download_many(std::string_view bucket,
                                                        std::span<const batch_item> items) {
  co_return co_await batch(bucket, items, true, s3::default_put_options);
}

awaitable<result<batch_result>> pipeline::upload_many(std::string_view bucket,
                                                      std::span<const batch_item> items,
                                                      const s3::put_options& put) {
  co_return co_await batch(bucket, items, false, put);
}

awaitable<result<object_bytes>> pipeline::read(std::string_view bucket, std::string_view key,
                                               const std::optional<s3::byte_range>& range,
                                               const s3::conditions& when) {
  unsigned c = pick();
  auto work = [&] { return read_on(c, bucket, key, range, when); };
  co_return co_await on_context(c, work, bucket, key);
}

awaitable<result<s3::put_result>> pipeline::put(std::string_view bucket, std::string_view key,
                                                std::span<const std::byte> body, const s3::put_options& put) {
  const std::span<const std::byte> one[] = {body};
  co_return co_await put_chain(bucket, key, one, put);
}

awaitable<result<s3::put_result>> pipeline::put_chain(std::string_view bucket, std::string_view key,
                                                      std::span<const std::span<const std::byte>> pieces,
                                                      const s3::put_options& put) {
  unsigned c = pick();
  auto work = [&] { return put_on(c, bucket, key, pieces, put); };
  co_return co_await on_context(c, work, bucket, key);
}

awaitable<result<s3::put_result>> pipeline::upload_stream(std::string_view bucket, std::string_view key,
                                                          const stream_source& source,
                                                          const s3::put_options& put) {
  unsigned c = pick();
  auto work = [&] { return upload_stream_on(c, bucket, key, source, put); };
  co_return co_await on_context(c, work, bucket, key, false);
}

awaitable<result<ranges_bytes>> pipeline::read_ranges(std::string_view bucket, std::string_view key,
                                                      std::span<const s3::byte_range> ranges,
                                                      const s3::conditions& when) {
  unsigned c = pick();
  auto work = [&] { return read_ranges_on(c, bucket, key, ranges, when); };
  co_return co_await on_context(c, work, bucket, key);
}

void pipeline::cancel() noexcept {
  cancelled_.store(true, std::memory_order_relaxed);
}
bool pipeline::cancelled() const noexcept {
  return cancelled_.load(std::memory_order_relaxed);
}

result<void> pipeline::check_cancelled(std::string_view bucket, std::string_view key) const {
  if (cancelled()) return fail(errc::cancelled, object_url(bucket, key) + ": the transfer was cancelled");
  return {};
}

buffer_pool& pipeline::pool() noexcept {
  return *pool_;
}
engine& pipeline::owner() noexcept {
  return eng_;
}
s3::client& pipeline::client(unsigned context) noexcept {
  return *clients_[context % clients_.size()];
}
unsigned pipeline::contexts() const noexcept {
  return static_cast<unsigned>(clients_.size());
}
const options& pipeline::opts() const noexcept {
  return opts_;
}
progress& pipeline::counters() noexcept {
  return progress_;
}

http::client_stats pipeline::http_stats() const {
  http::client_stats sum;
  for (const auto& c : clients_) sum += c->http_stats();
  return sum;
}

unsigned pipeline::requests_in_flight() const {
  return admission_.in_use();
}
unsigned pipeline::peak_requests_in_flight() const {
  return admission_.peak();
}
unsigned pipeline::request_limit() const noexcept {
  return request_limit_;
}
unsigned pipeline::operation_limit() const noexcept {
  return operations_.limit();
}

unsigned pipeline::pick() noexcept {
  const unsigned n = contexts();
  const std::optional<unsigned> here = eng_.current_context();
  unsigned c = 0;
  if (n > 1 && (!here || *here >= n)) {
    c = next_context_.fetch_add(1, std::memory_order_relaxed) % n;
  } else if (n > 1) {
    c = *here;
    const unsigned mine = load_[c].load(std::memory_order_relaxed);
    unsigned least = c, least_calls = mine;
    for (unsigned i = 0; i < n; ++i) {
      const unsigned calls = load_[i].load(std::memory_order_relaxed);
      if (calls < least_calls) {
        least = i;
        least_calls = calls;
      }
    }
    if (mine > least_calls + std::max(8u, least_calls / 4)) c = least;
  }
  load_[c].fetch_add(1, std::memory_order_relaxed);
  return c;
}

result<std::shared_ptr<scheduler>> scheduler::create(engine& eng, s3::client_options client_opts,
                                                     options opts) {
  auto p = std::make_shared<pipeline>(eng, opts);
  SLUICE_TRY_VOID(p->init(client_opts));
  return std::shared_ptr<scheduler>(std::move(p));
}

}  // namespace sluice::transfer
