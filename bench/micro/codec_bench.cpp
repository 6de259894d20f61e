// The Zarr v3 codecs (engine/codec) on 1 MiB of float32-like data, through the public API: encode and
// decode throughput of each bytes codec in a few configurations, the CRC-32C, the byte swap of the
// bytes codec and the transpose codec. Throughput counts decoded bytes (the chunk) per second.
#include <sluice/engine/codec/blosc.hpp>
#include <sluice/engine/codec/crc32c.hpp>
#include <sluice/engine/codec/endian.hpp>
#include <sluice/engine/codec/gzip.hpp>
#include <sluice/engine/codec/transpose.hpp>
#include <sluice/engine/codec/zstd.hpp>

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <vector>

namespace {

namespace codec = sluice::codec;

// float32 sine waves with noise, quantised like a stored measurement (as in zstd_bench.cpp).
const std::vector<std::byte>& sample() {
  static const std::vector<std::byte> data = [] {
    constexpr std::size_t n = (1u << 20) / sizeof(float);
    std::vector<float> f(n);
    std::mt19937 rng(7);
    std::normal_distribution<float> noise(0.0f, 0.01f);
    for (std::size_t i = 0; i < n; ++i) {
      const double t = static_cast<double>(i);
      f[i] = static_cast<float>(280.0 + 15.0 * std::sin(t * 0.001) + 2.0 * std::sin(t * 0.05)) + noise(rng);
      f[i] = std::round(f[i] * 100.0f) / 100.0f;
    }
    std::vector<std::byte> bytes(n * sizeof(float));
    std::memcpy(bytes.data(), f.data(), bytes.size());
    return bytes;
  }();
  return data;
}

std::unique_ptr<codec::bytes_codec> make(int which) {
  using codec::blosc_shuffle;
  auto check = [](auto r) {
    if (!r) throw std::runtime_error(r.error().describe());
    return std::move(*r);
  };
  switch (which) {
    case 0:
      return check(codec::make_zstd_codec({1, false}));
    case 1:
      return check(codec::make_zstd_codec({3, false}));
    case 2:
      return check(codec::make_zstd_codec({3, true}));
    case 3:
      return check(codec::make_gzip_codec({1}));
    case 4:
      return check(codec::make_gzip_codec({5}));
    case 5:
      return check(codec::make_blosc_codec({"lz4", 5, blosc_shuffle::shuffle, 4, 0}));
    case 6:
      return check(codec::make_blosc_codec({"zstd", 5, blosc_shuffle::shuffle, 4, 0}));
    case 7:
      return check(codec::make_blosc_codec({"blosclz", 5, blosc_shuffle::bitshuffle, 4, 0}));
    case 8:
      return check(codec::make_blosc_codec({"lz4", 5, blosc_shuffle::noshuffle, 4, 0}));
    default:
      return codec::make_crc32c_codec();
  }
}

const char* const labels[] = {"zstd/1",
                              "zstd/3",
                              "zstd/3+checksum",
                              "gzip/1",
                              "gzip/5",
                              "blosc/lz4/5/shuffle4",
                              "blosc/zstd/5/shuffle4",
                              "blosc/blosclz/5/bitshuffle4",
                              "blosc/lz4/5/noshuffle",
                              "crc32c"};
constexpr int codec_count = 10;

void BM_codec_encode_1MiB(benchmark::State& state) {
  const auto c = make(static_cast<int>(state.range(0)));
  state.SetLabel(labels[state.range(0)]);
  const auto& src = sample();
  std::vector<std::byte> dst(c->max_encoded_size(src.size()));
  std::size_t n = 0;
  for (auto _ : state) {
    auto r = c->encode(src, dst, "bench");
    if (!r) {
      state.SkipWithError(r.error().message.c_str());
      break;
    }
    n = *r;
    benchmark::DoNotOptimize(dst.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(src.size()));
  state.counters["ratio"] = n ? static_cast<double>(src.size()) / static_cast<double>(n) : 0.0;
}
BENCHMARK(BM_codec_encode_1MiB)->DenseRange(0, codec_count - 1)->ArgName("codec");

void BM_codec_decode_1MiB(benchmark::State& state) {
  const auto c = make(static_cast<int>(state.range(0)));
  state.SetLabel(labels[state.range(0)]);
  const auto& src = sample();
  std::vector<std::byte> packed(c->max_encoded_size(src.size()));
  auto n = c->encode(src, packed, "bench");
  if (!n) {
    state.SkipWithError(n.error().message.c_str());
    return;
  }
  packed.resize(*n);
  std::vector<std::byte> out(src.size());
  for (auto _ : state) {
    auto r = c->decode(packed, out, "bench");
    if (!r) {
      state.SkipWithError(r.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(src.size()));
  state.counters["ratio"] = static_cast<double>(src.size()) / static_cast<double>(packed.size());
}
BENCHMARK(BM_codec_decode_1MiB)->DenseRange(0, codec_count - 1)->ArgName("codec");

void BM_crc32c_1MiB(benchmark::State& state) {
  const auto& src = sample();
  for (auto _ : state) benchmark::DoNotOptimize(codec::crc32c(src));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(src.size()));
}
BENCHMARK(BM_crc32c_1MiB);

// The bytes codec between endiannesses: 4-byte elements swapped in place.
void BM_swap_bytes_float32_1MiB(benchmark::State& state) {
  std::vector<std::byte> data = sample();
  for (auto _ : state) {
    codec::swap_bytes(data, 4);
    benchmark::DoNotOptimize(data.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(data.size()));
}
BENCHMARK(BM_swap_bytes_float32_1MiB);

// transpose of a 512x512 float32 chunk (order [1, 0]) and of a 64x64x64 one (order [2, 1, 0]).
void BM_transpose_float32_1MiB(benchmark::State& state) {
  const auto& src = sample();
  std::vector<std::byte> dst(src.size());
  const bool three = state.range(0) == 3;
  const std::vector<std::uint64_t> shape =
      three ? std::vector<std::uint64_t>{64, 64, 64} : std::vector<std::uint64_t>{512, 512};
  const std::vector<unsigned> order = three ? std::vector<unsigned>{2, 1, 0} : std::vector<unsigned>{1, 0};
  state.SetLabel(three ? "64x64x64 [2,1,0]" : "512x512 [1,0]");
  for (auto _ : state) {
    auto r = codec::transpose(src, dst, shape, order, 4, "bench");
    if (!r) {
      state.SkipWithError(r.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(dst.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(src.size()));
}
BENCHMARK(BM_transpose_float32_1MiB)->Arg(2)->Arg(3)->ArgName("dims");

}  // namespace
