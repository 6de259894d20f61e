// zstd one-shot compression and decompression of 1 MiB of semi-compressible
// scientific data: float32 sine waves with noise (what a chunk of a gridded
// variable looks like to a compressor).
#include <zstd.h>

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

namespace {

const std::vector<char>& sample() {
  static const std::vector<char> data = [] {
    constexpr std::size_t n = (1u << 20) / sizeof(float);
    std::vector<float> f(n);
    std::mt19937 rng(7);
    std::normal_distribution<float> noise(0.0f, 0.01f);
    for (std::size_t i = 0; i < n; ++i) {
      const double t = static_cast<double>(i);
      f[i] = static_cast<float>(280.0 + 15.0 * std::sin(t * 0.001) + 2.0 * std::sin(t * 0.05)) + noise(rng);
      f[i] = std::round(f[i] * 100.0f) / 100.0f;  // quantised like a stored measurement
    }
    std::vector<char> bytes(n * sizeof(float));
    std::memcpy(bytes.data(), f.data(), bytes.size());
    return bytes;
  }();
  return data;
}

std::vector<char> compressed(int level) {
  const auto& src = sample();
  std::vector<char> dst(ZSTD_compressBound(src.size()));
  const std::size_t n = ZSTD_compress(dst.data(), dst.size(), src.data(), src.size(), level);
  if (ZSTD_isError(n)) throw std::runtime_error(ZSTD_getErrorName(n));
  dst.resize(n);
  return dst;
}

void BM_zstd_compress_1MiB(benchmark::State& state) {
  const int level = static_cast<int>(state.range(0));
  const auto& src = sample();
  std::vector<char> dst(ZSTD_compressBound(src.size()));
  std::size_t n = 0;
  for (auto _ : state) {
    n = ZSTD_compress(dst.data(), dst.size(), src.data(), src.size(), level);
    if (ZSTD_isError(n)) {
      state.SkipWithError(ZSTD_getErrorName(n));
      break;
    }
    benchmark::DoNotOptimize(dst.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(src.size()));
  state.counters["ratio"] = n ? static_cast<double>(src.size()) / static_cast<double>(n) : 0.0;
}
BENCHMARK(BM_zstd_compress_1MiB)->Arg(1)->Arg(3)->ArgName("level");

void BM_zstd_decompress_1MiB(benchmark::State& state) {
  const int level = static_cast<int>(state.range(0));
  const auto& src = sample();
  const auto packed = compressed(level);
  std::vector<char> out(src.size());
  for (auto _ : state) {
    const std::size_t n = ZSTD_decompress(out.data(), out.size(), packed.data(), packed.size());
    if (ZSTD_isError(n) || n != src.size()) {
      state.SkipWithError("zstd decompression failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  // Bytes of decompressed output per second.
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(src.size()));
  state.counters["ratio"] = static_cast<double>(src.size()) / static_cast<double>(packed.size());
}
BENCHMARK(BM_zstd_decompress_1MiB)->Arg(1)->Arg(3)->ArgName("level");

// With a reused context (what a codec pipeline keeps per thread).
void BM_zstd_compress_cctx_1MiB(benchmark::State& state) {
  const int level = static_cast<int>(state.range(0));
  const auto& src = sample();
  std::vector<char> dst(ZSTD_compressBound(src.size()));
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  for (auto _ : state) {
    const std::size_t n = ZSTD_compressCCtx(cctx, dst.data(), dst.size(), src.data(), src.size(), level);
    if (ZSTD_isError(n)) {
      state.SkipWithError(ZSTD_getErrorName(n));
      break;
    }
    benchmark::DoNotOptimize(dst.data());
  }
  ZSTD_freeCCtx(cctx);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(src.size()));
}
BENCHMARK(BM_zstd_compress_cctx_1MiB)->Arg(1)->Arg(3)->ArgName("level");

}  // namespace
