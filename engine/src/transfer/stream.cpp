// Streams: an object's parts delivered to a consumer in object order.
#include "transfer/pipeline.hpp"

#include <sluice/engine/integrity/xxh3.hpp>

namespace sluice::transfer {

awaitable<result<stats>> pipeline::stream_on(unsigned c, std::string_view bucket, std::string_view key,
                                             const consumer& sink) {
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
  SLUICE_CO_TRY_VOID(co_await run_parts(c, bucket, key, plan, start, request_limit_, handle, delivered,
                                        std::max(1u, opts_.reorder_window), true, composite));
  if (plan.recorded) {
    const uint64_t got = composite ? integrity::composite_of(hashes, plan.part_size) : hasher.digest();
    if (got != plan.recorded->value)
      co_return fail(errc::integrity_mismatch,
                     object_url(bucket, key) + ": data integrity error: content hash " +
                         integrity::to_hex(got) + " does not match the recorded XXH3 " +
                         integrity::to_hex(plan.recorded->value) + " (the bytes were already delivered)");
    st.verified = true;
  }
  st.objects = 1;
  progress_.objects.fetch_add(1, std::memory_order_relaxed);
  co_return st;
}

awaitable<result<stats>> pipeline::stream_small(unsigned c, std::string_view bucket, std::string_view key,
                                                const consumer& sink, uint64_t size) {
  stats st;
  SLUICE_CO_TRY(std::optional<pooled_buffer> buf, co_await fetch_small(c, bucket, key, size, st));
  if (!buf) co_return co_await stream_on(c, bucket, key, sink);
  SLUICE_CO_TRY_VOID(sink(buf->span(), 0));
  co_return st;
}

}  // namespace sluice::transfer
