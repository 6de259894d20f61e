// Buffer pool fast path: try_acquire + release of one buffer on one thread, in
// the steady state where the block comes back from the cache. The aligned_alloc
// baseline shows what the cache saves.
#include <sluice/engine/buffer/pool.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>

namespace {

void BM_pool_try_acquire_release(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  auto pool = sluice::buffer_pool::create({.budget_bytes = std::size_t(64) << 20});
  for (auto _ : state) {
    auto buf = pool->try_acquire(size);
    benchmark::DoNotOptimize(buf->data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["system_allocations"] = static_cast<double>(pool->system_allocations());
}
BENCHMARK(BM_pool_try_acquire_release)->Arg(64 << 10)->Arg(8 << 20);

// Sharing a slice and dropping it: two atomic refcount updates.
void BM_pool_share_slice(benchmark::State& state) {
  auto pool = sluice::buffer_pool::create({.budget_bytes = std::size_t(64) << 20});
  auto buf = pool->try_acquire(std::size_t(8) << 20);
  for (auto _ : state) {
    auto slice = buf->share(4096, 65536);
    benchmark::DoNotOptimize(slice.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_pool_share_slice);

// Baseline: the system allocator for the same sizes (first touch excluded).
void BM_aligned_alloc_free(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    void* p = std::aligned_alloc(sluice::page_size, size);
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_aligned_alloc_free)->Arg(64 << 10)->Arg(8 << 20);

}  // namespace
