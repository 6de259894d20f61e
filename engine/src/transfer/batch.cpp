// Batches: many objects downloaded or uploaded, spread over every context.
#include "transfer/pipeline.hpp"

#include <sluice/engine/runtime/concurrently.hpp>

#include <filesystem>
#include <set>

namespace sluice::transfer {

// One context's share of a batch: `workers` coroutines pull the next item.
awaitable<void> pipeline::batch_worker(std::shared_ptr<batch_state> shared, std::span<const batch_item> items,
                                       std::string_view bucket, bool download, const s3::put_options* put,
                                       unsigned c, unsigned workers) {
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
        shared->out.totals.reread_parts += r->reread_parts;
      } else {
        shared->out.failures.push_back({item.key, r.error()});
      }
    }
  });
}

// Spreads items over every context; each context runs its share of the
// in-flight limit as workers pulling the next item.
awaitable<result<batch_result>> pipeline::batch(std::string_view bucket, std::span<const batch_item> items,
                                                bool download, const s3::put_options& put) {
  auto shared = std::make_shared<batch_state>();
  const unsigned n_ctx = contexts();
  // As many as the operation gate allows single calls: every request slot
  // stays busy while other items write their files.
  const unsigned total_workers = operations_.limit();
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

}  // namespace sluice::transfer
