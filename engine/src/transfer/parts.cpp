// Part planning and the ranged-part workers that fetch an object's parts for downloads and streams.
#include "transfer/pipeline.hpp"

#include <sluice/engine/integrity/xxh3.hpp>
#include <sluice/engine/runtime/concurrently.hpp>
#include <sluice/engine/s3/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sluice::transfer {

namespace detail {

constexpr auto tok = asio::as_tuple(asio::use_awaitable);

}  // namespace detail

// Fetches bytes [offset, offset+len) into a new pool buffer.
awaitable<result<pooled_buffer>> pipeline::fetch_range(s3::client& cl, std::string_view bucket,
                                                       std::string_view key, uint64_t offset, std::size_t len,
                                                       const s3::conditions& when) {
  SLUICE_CO_TRY(pooled_buffer buf, co_await pool_->acquire(len));
  SLUICE_CO_TRY(admission_limit::ticket slot, co_await admission_.enter());
  http::span_sink sink(buf.span());
  auto range = s3::byte_range::between(offset, offset + len - 1);
  SLUICE_CO_TRY(s3::get_result got, co_await cl.get_object(bucket, key, range, sink, when));
  if (got.bytes != len || got.first != offset)
    co_return fail(errc::truncated_response, object_url(bucket, key) + ": asked for " + std::to_string(len) +
                                                 " bytes at " + std::to_string(offset) + ", got " +
                                                 std::to_string(got.bytes) + " at " +
                                                 std::to_string(got.first));
  co_return buf;
}

// The first ranged GET: learns size, ETag and recorded hash. Returns the
// plan and (when the part size stays) the first part's bytes.
awaitable<result<std::pair<object_plan, pooled_buffer>>> pipeline::first_part(s3::client& cl,
                                                                              std::string_view bucket,
                                                                              std::string_view key) {
  object_plan plan;
  plan.part_size = opts_.part_size;
  SLUICE_CO_TRY_VOID(check_cancelled(bucket, key));
  SLUICE_CO_TRY(pooled_buffer buf, co_await pool_->acquire(opts_.part_size));
  SLUICE_CO_TRY(admission_limit::ticket slot, co_await admission_.enter());
  http::span_sink sink(buf.span());
  auto range = s3::byte_range::between(0, opts_.part_size - 1);
  auto got = co_await cl.get_object(bucket, key, range, sink, s3::no_conditions);
  s3::object_info info;
  if (!got && got.error().code == errc::too_large)
    co_return fail(
        errc::malformed_response,
        object_url(bucket, key) + ": the server ignored the Range header and sent the whole object");
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
      co_return fail(errc::integrity_mismatch, object_url(bucket, key) + ": the recorded hash '" +
                                                   it->second + "' is not one sluice can read");
  }
  // Parts follow the recorded part size so each part's hash feeds the
  // composite; the first part is refetched only if the size changes.
  if (plan.recorded && plan.recorded->part_size && plan.recorded->part_size != plan.part_size &&
      plan.size > plan.part_size) {
    if (plan.recorded->part_size > pool_->budget())
      co_return fail(errc::too_large, object_url(bucket, key) + ": its parts (" +
                                          std::to_string(plan.recorded->part_size) +
                                          " bytes) do not fit the memory budget");
    plan.part_size = plan.recorded->part_size;
    buf.reset();
  }
  plan.parts = plan.size == 0 ? 0 : (plan.size + plan.part_size - 1) / plan.part_size;
  co_return std::make_pair(std::move(plan), std::move(buf));
}

// On the home context: the next part to fetch, or none when all are claimed,
// the transfer failed or was cancelled. With a window, waits until delivery
// is close enough.
awaitable<std::optional<uint64_t>> pipeline::claim(part_queue& q) {
  for (;;) {
    while (q.skip && q.next < q.plan.parts && (*q.skip)[q.next]) ++q.next;
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
awaitable<std::optional<uint64_t>> pipeline::settle(part_queue& q, uint64_t i, result<pooled_buffer>& got,
                                                    uint64_t hash) {
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
awaitable<void> pipeline::part_worker(part_queue& q, unsigned k, bool hash_parts) {
  auto& cl = *clients_[k];
  s3::conditions when;
  if (!q.plan.etag.empty()) when.if_match = q.plan.etag;
  std::optional<uint64_t> idx = co_await run_on(q.home, claim(q));
  while (idx) {
    const uint64_t i = *idx;
    result<pooled_buffer> got =
        co_await fetch_range(cl, q.bucket, q.key, q.plan.part_offset(i), q.plan.part_length(i), when);
    const uint64_t hash = got && hash_parts ? integrity::xxh3(got->span()) : 0;
    idx = co_await run_on(q.home, settle(q, i, got, hash));
  }
}

// Fetches parts [first, plan.parts) with up to `workers` requests in flight
// and hands each to `handle(i, buf, hash)` on the calling (home) context;
// `hash` is the part's XXH3 when `hash_parts`, else 0. `spread`: the workers
// are spread over every engine context (one object uses every core: the
// kernel's receive copy, TLS and hashing then run on all threads); otherwise
// they stay on the home context (a batch spreads objects instead). With a
// window, part i is not requested before `delivered()` reaches i - window.
awaitable<result<void>> pipeline::run_parts(unsigned home, std::string_view bucket, std::string_view key,
                                            const object_plan& plan, uint64_t first, unsigned workers,
                                            const part_handler& handle,
                                            const std::function<uint64_t()>& delivered, unsigned window,
                                            bool spread, bool hash_parts, const std::vector<bool>* skip) {
  if (first >= plan.parts) co_return result<void>{};
  auto ex = co_await asio::this_coro::executor;
  part_queue q(ex, plan, first, bucket, key, handle, delivered, window, skip);
  workers = static_cast<unsigned>(std::min<uint64_t>(std::max(1u, workers), plan.parts - first));
  const unsigned n = spread ? std::min(contexts(), workers) : 1;
  co_await run_on_contexts(eng_, home, n, [&](unsigned slot) -> awaitable<void> {
    const unsigned k = (home + slot) % contexts();
    const unsigned mine = workers / n + (slot < workers % n ? 1 : 0);
    co_await run_concurrently(
        mine, [&, k](unsigned) -> awaitable<void> { co_await part_worker(q, k, hash_parts); });
  });
  if (q.failed) co_return *q.failed;
  co_return result<void>{};
}

}  // namespace sluice::transfer
