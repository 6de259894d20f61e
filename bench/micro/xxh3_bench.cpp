// XXH3-64 throughput: one-shot, streaming, and the composite content hash
// sluice records on objects written in parts.
#include <sluice/engine/integrity/recorded_hash.hpp>
#include <sluice/engine/integrity/xxh3.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace {

// Random bytes (XXH3 speed does not depend on content, but avoid all-zero pages).
const std::vector<std::byte>& random_bytes(std::size_t n) {
  static std::vector<std::byte> data = [] {
    std::vector<std::byte> v(64u << 20);
    std::mt19937_64 rng(42);
    for (std::size_t i = 0; i + 8 <= v.size(); i += 8) {
      uint64_t x = rng();
      std::copy_n(reinterpret_cast<const std::byte*>(&x), 8, v.data() + i);
    }
    return v;
  }();
  if (n > data.size()) data.resize(n);
  return data;
}

void BM_xxh3_oneshot(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::span<const std::byte> data(random_bytes(n).data(), n);
  for (auto _ : state) {
    benchmark::DoNotOptimize(sluice::integrity::xxh3(data));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}
BENCHMARK(BM_xxh3_oneshot)->Arg(4 << 10)->Arg(64 << 10)->Arg(8 << 20);

// Streaming over an 8 MiB part that arrives in pieces (as a socket read delivers it).
void BM_xxh3_stream_8MiB(benchmark::State& state) {
  const std::size_t n = 8u << 20;
  const auto piece = static_cast<std::size_t>(state.range(0));
  std::span<const std::byte> data(random_bytes(n).data(), n);
  sluice::integrity::xxh3_stream h;
  for (auto _ : state) {
    h.reset();
    for (std::size_t off = 0; off < n; off += piece) h.update(data.subspan(off, std::min(piece, n - off)));
    benchmark::DoNotOptimize(h.digest());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}
BENCHMARK(BM_xxh3_stream_8MiB)->Arg(16 << 10)->Arg(64 << 10)->Arg(1 << 20);

// The composite hash of a 64 MiB object written in 8 MiB parts, fed in 256 KiB pieces.
void BM_content_hasher_composite(benchmark::State& state) {
  const std::size_t n = 64u << 20;
  const auto part_size = static_cast<uint64_t>(state.range(0));
  const std::size_t piece = 256u << 10;
  std::span<const std::byte> data(random_bytes(n).data(), n);
  for (auto _ : state) {
    sluice::integrity::content_hasher h(part_size);
    for (std::size_t off = 0; off < n; off += piece) h.update(data.subspan(off, std::min(piece, n - off)));
    benchmark::DoNotOptimize(h.digest());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}
BENCHMARK(BM_content_hasher_composite)->Arg(0)->Arg(8 << 20)->Arg(64 << 10);

// hash_content() over a whole buffer (what a single-PUT writer does).
void BM_hash_content_composite_64MiB(benchmark::State& state) {
  const std::size_t n = 64u << 20;
  std::span<const std::byte> data(random_bytes(n).data(), n);
  for (auto _ : state) {
    benchmark::DoNotOptimize(sluice::integrity::hash_content(data, 8u << 20));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}
BENCHMARK(BM_hash_content_composite_64MiB);

// Recording and reading the metadata value.
void BM_recorded_hash_format_parse(benchmark::State& state) {
  sluice::integrity::recorded_hash h{0x0123456789abcdefull, 8u << 20};
  for (auto _ : state) {
    auto text = sluice::integrity::format_recorded(h);
    auto back = sluice::integrity::parse_recorded(text);
    benchmark::DoNotOptimize(back);
  }
}
BENCHMARK(BM_recorded_hash_format_parse);

}  // namespace
