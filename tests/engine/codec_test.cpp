// The Zarr v3 codecs (engine/codec): round trips of every bytes codec over several sizes and
// options, truncated and bit-flipped input (an error, never a crash or wrong bytes), the CRC-32C test
// vectors, transpose and byte swaps against hand-computed arrays, and chunks written by zarr-python.
#include <sluice/engine/codec/blosc.hpp>
#include <sluice/engine/codec/crc32c.hpp>
#include <sluice/engine/codec/endian.hpp>
#include <sluice/engine/codec/gzip.hpp>
#include <sluice/engine/codec/transpose.hpp>
#include <sluice/engine/codec/zstd.hpp>

#include <gtest/gtest.h>

#include <zstd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace codec = sluice::codec;
using bytes = std::vector<std::byte>;
using sluice::errc;

constexpr std::string_view key = "data/c/0/1";

bytes random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  bytes out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng());
  return out;
}

// Quantised float32 waves with noise: what a chunk of a gridded variable looks like to a compressor.
bytes float_like(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.01f);
  bytes out(n);
  for (std::size_t i = 0; i < n; i += sizeof(float)) {
    const double t = static_cast<double>(i / sizeof(float));
    float f = static_cast<float>(280.0 + 15.0 * std::sin(t * 0.001) + 2.0 * std::sin(t * 0.05)) + noise(rng);
    f = std::round(f * 100.0f) / 100.0f;
    std::memcpy(out.data() + i, &f, std::min(sizeof f, n - i));
  }
  return out;
}

bytes from(std::initializer_list<int> values) {
  bytes out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

bytes text(std::string_view s) {
  bytes out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

template <class T>
std::vector<T> as(const bytes& b) {
  std::vector<T> out(b.size() / sizeof(T));
  std::memcpy(out.data(), b.data(), out.size() * sizeof(T));
  return out;
}

template <class T>
bytes to_bytes(const std::vector<T>& v) {
  bytes out(v.size() * sizeof(T));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

bytes encode(const codec::bytes_codec& c, const bytes& in) {
  bytes out(c.max_encoded_size(in.size()));
  auto n = c.encode(in, out, key);
  EXPECT_TRUE(n) << c.name() << ": " << (n ? "" : n.error().describe());
  out.resize(n ? *n : 0);
  return out;
}

bytes read_fixture(const std::string& path) {
  std::ifstream f(std::string(SLUICE_TESTDATA_DIR) + "/zarr-codec-chunks/" + path, std::ios::binary);
  EXPECT_TRUE(f) << path;
  std::vector<char> raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  bytes out(raw.size());
  std::memcpy(out.data(), raw.data(), raw.size());
  return out;
}

// "<codec>: data/c/0/1: ..."
void expect_names_codec_and_key(const sluice::error& e, std::string_view codec_name) {
  const std::string prefix = std::string(codec_name) + ": " + std::string(key) + ": ";
  EXPECT_EQ(e.message.rfind(prefix, 0), 0u) << e.message;
}

template <class Options>
std::unique_ptr<codec::bytes_codec> must(
    sluice::result<std::unique_ptr<codec::bytes_codec>> (*factory)(const Options&), const Options& options) {
  auto r = factory(options);
  if (!r) throw std::runtime_error(r.error().describe());
  return std::move(*r);
}

// ------------------------------------------------------------------------------------ round trips

struct codec_case {
  std::string label;
  std::function<std::unique_ptr<codec::bytes_codec>()> make;
  bool compresses_floats = true;  // float-like data encodes to less than 3/4 of its size
};

std::vector<codec_case> codec_cases() {
  using codec::blosc_options;
  using codec::blosc_shuffle;
  auto blosc = [](std::string cname, int clevel, blosc_shuffle s, std::size_t typesize,
                  std::size_t blocksize) {
    return [=] {
      return must(&codec::make_blosc_codec, blosc_options{cname, clevel, s, typesize, blocksize});
    };
  };
  return {
      {"zstd_default", [] { return must(&codec::make_zstd_codec, codec::zstd_options{}); }},
      {"zstd_level1_checksum",
       [] {
         return must(&codec::make_zstd_codec, codec::zstd_options{1, true});
       }},
      {"zstd_level9",
       [] {
         return must(&codec::make_zstd_codec, codec::zstd_options{9, false});
       }},
      {"zstd_level_minus5",
       [] {
         return must(&codec::make_zstd_codec, codec::zstd_options{-5, true});
       },
       false},
      {"gzip_level0", [] { return must(&codec::make_gzip_codec, codec::gzip_options{0}); }, false},
      {"gzip_level1", [] { return must(&codec::make_gzip_codec, codec::gzip_options{1}); }},
      {"gzip_default", [] { return must(&codec::make_gzip_codec, codec::gzip_options{}); }},
      {"gzip_level9", [] { return must(&codec::make_gzip_codec, codec::gzip_options{9}); }},
      {"blosc_default", [] { return must(&codec::make_blosc_codec, blosc_options{}); }, false},
      {"blosc_lz4_shuffle4", blosc("lz4", 5, blosc_shuffle::shuffle, 4, 0)},
      {"blosc_zstd_bitshuffle4", blosc("zstd", 5, blosc_shuffle::bitshuffle, 4, 0)},
      {"blosc_blosclz_noshuffle", blosc("blosclz", 9, blosc_shuffle::noshuffle, 1, 0), false},
      {"blosc_lz4hc_shuffle8_block64k", blosc("lz4hc", 9, blosc_shuffle::shuffle, 8, 65536)},
      {"blosc_zlib_level1_shuffle2", blosc("zlib", 1, blosc_shuffle::shuffle, 2, 0)},
      {"blosc_clevel0", blosc("lz4", 0, blosc_shuffle::shuffle, 4, 0), false},
      {"blosc_typesize3_odd", blosc("lz4", 5, blosc_shuffle::shuffle, 3, 0), false},
      {"crc32c", [] { return codec::make_crc32c_codec(); }, false},
  };
}

void PrintTo(const codec_case& c, std::ostream* os) {
  *os << c.label;
}

class CodecRoundTrip : public ::testing::TestWithParam<codec_case> {};

TEST_P(CodecRoundTrip, every_size_decodes_to_the_same_bytes) {
  const auto c = GetParam().make();
  const std::size_t sizes[] = {0, 1, 7, 4099, (3u << 20) + 5};
  for (std::size_t size : sizes) {
    for (int kind = 0; kind < 2; ++kind) {
      SCOPED_TRACE(std::to_string(size) + (kind ? " random bytes" : " float-like bytes"));
      const bytes in = kind ? random_bytes(size, 11) : float_like(size, 12);
      const bytes enc = encode(*c, in);
      ASSERT_LE(enc.size(), c->max_encoded_size(size));
      // Every codec records the decoded size (gzip: its trailer's ISIZE, exact under 4 GiB).
      const auto recorded = c->decoded_size(enc, key);
      EXPECT_EQ(recorded, size);
      bytes out(size, std::byte{0xAA});
      auto n = c->decode(enc, out, key);
      ASSERT_TRUE(n) << n.error().describe();
      EXPECT_EQ(*n, size);
      EXPECT_TRUE(out == in);
    }
  }
}

TEST_P(CodecRoundTrip, encoding_into_too_small_an_output_is_too_large) {
  const auto c = GetParam().make();
  const bytes in = random_bytes(1000, 5);
  const bytes enc = encode(*c, in);
  bytes out(enc.size() - 1);
  auto r = c->encode(in, out, key);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::too_large);
  expect_names_codec_and_key(r.error(), c->name());
}

TEST_P(CodecRoundTrip, decoding_into_a_wrong_size_is_corrupt_data) {
  const auto c = GetParam().make();
  const bytes in = float_like(5000, 6);
  const bytes enc = encode(*c, in);
  for (std::size_t size : {in.size() - 1, in.size() + 1, std::size_t{0}}) {
    bytes out(size);
    auto r = c->decode(enc, out, key);
    ASSERT_FALSE(r) << size;
    EXPECT_EQ(r.error().code, errc::corrupt_data) << r.error().describe();
    EXPECT_TRUE(r.error().code == sluice::condition::integrity);
    expect_names_codec_and_key(r.error(), c->name());
  }
}

TEST_P(CodecRoundTrip, every_truncation_is_an_error) {
  const auto c = GetParam().make();
  const bytes in = float_like(20000, 8);
  const bytes enc = encode(*c, in);
  bytes out(in.size());
  for (std::size_t len = 0; len < enc.size(); ++len) {
    auto r = c->decode(std::span(enc).first(len), out, key);
    ASSERT_FALSE(r) << "truncated to " << len << " of " << enc.size() << " bytes";
    EXPECT_TRUE(r.error().code == sluice::condition::integrity) << r.error().describe();
    expect_names_codec_and_key(r.error(), c->name());
  }
}

TEST_P(CodecRoundTrip, trailing_garbage_is_an_error) {
  const auto c = GetParam().make();
  const bytes in = float_like(3000, 9);
  bytes enc = encode(*c, in);
  enc.push_back(std::byte{0x5A});
  bytes out(in.size() + (c->name() == "crc32c" ? 1 : 0));
  EXPECT_FALSE(c->decode(enc, out, key));
}

TEST_P(CodecRoundTrip, a_codec_is_usable_from_several_threads_at_once) {
  const auto c = GetParam().make();
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (unsigned t = 0; t < ok.size(); ++t) {
    threads.emplace_back([&, t] {
      int good = 0;
      for (unsigned i = 0; i < 20; ++i) {
        const bytes in = float_like(10000 + 997 * i, t * 100 + i);
        bytes enc(c->max_encoded_size(in.size()));
        auto n = c->encode(in, enc, key);
        if (!n) continue;
        enc.resize(*n);
        bytes out(in.size());
        if (c->decode(enc, out, key) && out == in) ++good;
      }
      ok[t] = good;
    });
  }
  for (auto& th : threads) th.join();
  for (int good : ok) EXPECT_EQ(good, 20);
}

TEST(CodecCompression, float_like_data_compresses_where_the_codec_compresses) {
  const bytes in = float_like(1u << 20, 3);
  for (const auto& c : codec_cases()) {
    if (!c.compresses_floats) continue;  // stores, checksums, weak levels, or float32 lanes not shuffled
    EXPECT_LT(encode(*c.make(), in).size(), in.size() * 3 / 4) << c.label;
  }
}

INSTANTIATE_TEST_SUITE_P(Codecs, CodecRoundTrip, ::testing::ValuesIn(codec_cases()),
                         [](const auto& info) { return info.param.label; });

// ------------------------------------------------------------------------------- bit flips

// Flips every bit of `enc` in turn and decodes: each result is an error or the original bytes, never
// other bytes. Returns how many flips were errors.
std::size_t flip_every_bit(const codec::bytes_codec& c, const bytes& in, const bytes& enc, std::size_t from,
                           std::size_t to) {
  std::size_t errors = 0;
  bytes damaged = enc;
  bytes out(in.size());
  for (std::size_t i = from; i < to; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      damaged[i] ^= static_cast<std::byte>(1 << bit);
      auto r = c.decode(damaged, out, key);
      if (r) {
        EXPECT_TRUE(out == in) << c.name() << ": flipping bit " << bit << " of byte " << i
                               << " decoded to other bytes without an error";
      } else {
        ++errors;
        EXPECT_TRUE(r.error().code == sluice::condition::integrity) << r.error().describe();
      }
      damaged[i] = enc[i];
    }
  }
  return errors;
}

TEST(CodecCorruption, zstd_with_checksum_never_decodes_a_flipped_frame_to_other_bytes) {
  const auto c = must(&codec::make_zstd_codec, codec::zstd_options{3, true});
  const bytes in = float_like(4000, 21);
  const bytes enc = encode(*c, in);
  const std::size_t errors = flip_every_bit(*c, in, enc, 0, enc.size());
  EXPECT_GT(errors, enc.size() * 8 * 9 / 10) << "most flips must be detected";
  // A flip in the checksum itself is a checksum mismatch.
  bytes damaged = enc;
  damaged.back() ^= std::byte{0x01};
  bytes out(in.size());
  auto r = c->decode(damaged, out, key);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::integrity_mismatch);
  expect_names_codec_and_key(r.error(), "zstd");
}

TEST(CodecCorruption, gzip_crc_catches_every_flip_in_the_deflate_stream) {
  const auto c = must(&codec::make_gzip_codec, codec::gzip_options{});
  const bytes in = float_like(4000, 22);
  const bytes enc = encode(*c, in);
  // Header (10 bytes: mtime, flags, OS), deflate stream, CRC-32 and ISIZE (8 bytes).
  const std::size_t errors = flip_every_bit(*c, in, enc, 0, enc.size());
  EXPECT_GT(errors, (enc.size() - 18) * 8 * 9 / 10);
  bytes out(in.size());
  for (std::size_t i = enc.size() - 8; i < enc.size(); ++i) {
    bytes damaged = enc;
    damaged[i] ^= std::byte{0x10};
    auto r = c->decode(damaged, out, key);
    ASSERT_FALSE(r) << i;
    EXPECT_EQ(r.error().code, errc::integrity_mismatch) << r.error().describe();
    expect_names_codec_and_key(r.error(), "gzip");
  }
}

TEST(CodecCorruption, blosc_header_flips_are_errors_or_harmless) {
  using codec::blosc_shuffle;
  for (auto shuffle : {blosc_shuffle::noshuffle, blosc_shuffle::shuffle, blosc_shuffle::bitshuffle}) {
    const auto c = must(&codec::make_blosc_codec, codec::blosc_options{"lz4", 5, shuffle, 4, 0});
    const bytes in = float_like(64000, 23);
    const bytes enc = encode(*c, in);
    ASSERT_LT(enc.size(), in.size());
    ASSERT_EQ(static_cast<unsigned>(enc[2]) & 0x02u, 0u) << "a compressed frame, not a plain copy";
    const std::size_t errors = flip_every_bit(*c, in, enc, 0, 16);
    // Version, flags, type size and sizes are checked; the compressor's format version is not used.
    EXPECT_GT(errors, 16u * 8 * 3 / 4);
  }
}

TEST(CodecCorruption, blosc_frame_with_another_shuffle_than_configured_is_refused) {
  using codec::blosc_shuffle;
  const bytes in = float_like(64000, 26);
  const auto shuffled =
      must(&codec::make_blosc_codec, codec::blosc_options{"lz4", 5, blosc_shuffle::shuffle, 4, 0});
  const auto plain =
      must(&codec::make_blosc_codec, codec::blosc_options{"lz4", 5, blosc_shuffle::noshuffle, 4, 0});
  bytes out(in.size());
  auto r = plain->decode(encode(*shuffled, in), out, key);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::corrupt_data);
  EXPECT_NE(r.error().message.find("shuffle"), std::string::npos) << r.error().message;
  // A plain copy (clevel 0) ignores its shuffle flags: any configuration reads it.
  const auto stored =
      must(&codec::make_blosc_codec, codec::blosc_options{"lz4", 0, blosc_shuffle::bitshuffle, 4, 0});
  ASSERT_TRUE(plain->decode(encode(*stored, in), out, key));
  EXPECT_TRUE(out == in);
}

TEST(CodecCorruption, blosc_payload_flips_never_crash) {
  // blosc has no checksum: a flipped payload bit may decode to other bytes, but must not crash.
  const auto c =
      must(&codec::make_blosc_codec, codec::blosc_options{"blosclz", 5, codec::blosc_shuffle::shuffle, 4, 0});
  const bytes in = float_like(40000, 24);
  const bytes enc = encode(*c, in);
  bytes damaged = enc;
  bytes out(in.size());
  for (std::size_t i = 16; i < enc.size(); ++i) {
    damaged[i] ^= std::byte{0x04};
    (void)c->decode(damaged, out, key);
    damaged[i] = enc[i];
  }
}

TEST(CodecCorruption, crc32c_detects_every_single_bit_flip) {
  const auto c = codec::make_crc32c_codec();
  const bytes in = random_bytes(64, 25);
  const bytes enc = encode(*c, in);
  ASSERT_EQ(enc.size(), 68u);
  bytes out(in.size());
  for (std::size_t i = 0; i < enc.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      bytes damaged = enc;
      damaged[i] ^= static_cast<std::byte>(1 << bit);
      auto r = c->decode(damaged, out, key);
      ASSERT_FALSE(r) << "byte " << i << " bit " << bit;
      EXPECT_EQ(r.error().code, errc::integrity_mismatch);
    }
  }
}

TEST(CodecCorruption, garbage_is_not_a_frame) {
  const bytes junk = text("this is not a compressed frame at all");
  bytes out(100);
  for (auto& c : {must(&codec::make_zstd_codec, codec::zstd_options{}),
                  must(&codec::make_gzip_codec, codec::gzip_options{}),
                  must(&codec::make_blosc_codec, codec::blosc_options{})}) {
    auto r = c->decode(junk, out, key);
    ASSERT_FALSE(r) << c->name();
    EXPECT_EQ(r.error().code, errc::corrupt_data) << r.error().describe();
    expect_names_codec_and_key(r.error(), c->name());
    EXPECT_FALSE(c->decode({}, out, key)) << c->name();
  }
}

// ------------------------------------------------------------------------------- zstd specifics

TEST(ZstdCodec, frames_record_their_content_size_and_honour_the_checksum_option) {
  const bytes in = float_like(10000, 31);
  const auto plain = encode(*must(&codec::make_zstd_codec, codec::zstd_options{1, false}), in);
  const auto summed = encode(*must(&codec::make_zstd_codec, codec::zstd_options{1, true}), in);
  EXPECT_EQ(ZSTD_getFrameContentSize(plain.data(), plain.size()), in.size());
  EXPECT_EQ(summed.size(), plain.size() + 4);  // the frame's 4-byte content checksum
  // Frame header descriptor: bit 2 is the checksum flag.
  EXPECT_EQ(static_cast<unsigned>(plain[4]) & 0x04u, 0u);
  EXPECT_EQ(static_cast<unsigned>(summed[4]) & 0x04u, 0x04u);
}

TEST(ZstdCodec, level_changes_the_output) {
  const bytes in = float_like(1u << 18, 32);
  const auto fast = encode(*must(&codec::make_zstd_codec, codec::zstd_options{-10, false}), in);
  const auto small = encode(*must(&codec::make_zstd_codec, codec::zstd_options{12, false}), in);
  EXPECT_LT(small.size(), fast.size());
}

TEST(ZstdCodec, decodes_frames_without_a_content_size_and_concatenated_frames) {
  const bytes in = float_like(50000, 33);
  // A frame as a streaming writer makes it: no content size.
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
  bytes frame(ZSTD_compressBound(in.size()));
  const std::size_t n = ZSTD_compress2(cctx, frame.data(), frame.size(), in.data(), in.size());
  ZSTD_freeCCtx(cctx);
  ASSERT_FALSE(ZSTD_isError(n));
  frame.resize(n);
  const auto c = must(&codec::make_zstd_codec, codec::zstd_options{});
  EXPECT_FALSE(c->decoded_size(frame, key).has_value());
  bytes out(in.size());
  ASSERT_TRUE(c->decode(frame, out, key));
  EXPECT_TRUE(out == in);
  bytes too_big(in.size() + 1);
  EXPECT_EQ(c->decode(frame, too_big, key).error().code, errc::corrupt_data);
  bytes too_small(in.size() - 1);
  EXPECT_EQ(c->decode(frame, too_small, key).error().code, errc::corrupt_data);

  // Two frames back to back decode to both contents.
  const bytes a = float_like(3000, 34), b = random_bytes(500, 35);
  bytes two = encode(*c, a);
  const bytes second = encode(*c, b);
  two.insert(two.end(), second.begin(), second.end());
  EXPECT_EQ(c->decoded_size(two, key), a.size() + b.size());
  bytes both(a.size() + b.size());
  ASSERT_TRUE(c->decode(two, both, key));
  EXPECT_TRUE(std::equal(a.begin(), a.end(), both.begin()));
  EXPECT_TRUE(std::equal(b.begin(), b.end(), both.begin() + static_cast<std::ptrdiff_t>(a.size())));
}

// ------------------------------------------------------------------------------- gzip specifics

TEST(GzipCodec, writes_the_gzip_format_and_reads_several_members_and_zero_padding) {
  const auto c = must(&codec::make_gzip_codec, codec::gzip_options{6});
  const bytes a = text("hello, "), b = text("zarr");
  bytes enc = encode(*c, a);
  ASSERT_GE(enc.size(), 18u);
  EXPECT_EQ(enc[0], std::byte{0x1f});
  EXPECT_EQ(enc[1], std::byte{0x8b});
  EXPECT_EQ(enc[2], std::byte{8});  // deflate
  // ISIZE: the decoded length, little-endian, in the last four bytes.
  EXPECT_EQ(as<std::uint32_t>(bytes(enc.end() - 4, enc.end()))[0], a.size());
  const bytes second = encode(*c, b);
  enc.insert(enc.end(), second.begin(), second.end());
  enc.insert(enc.end(), 5, std::byte{0});
  bytes out(a.size() + b.size());
  auto r = c->decode(enc, out, key);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_TRUE(out == text("hello, zarr"));
}

// ------------------------------------------------------------------------------- crc32c

TEST(Crc32c, check_value_of_123456789_is_E3069283) {
  EXPECT_EQ(codec::crc32c(text("123456789")), 0xE3069283u);
}

TEST(Crc32c, rfc3720_test_vectors) {
  // RFC 3720 appendix B.4.
  EXPECT_EQ(codec::crc32c(bytes(32, std::byte{0x00})), 0x8A9136AAu);
  EXPECT_EQ(codec::crc32c(bytes(32, std::byte{0xFF})), 0x62A8AB43u);
  bytes up(32), down(32);
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<std::byte>(i);
    down[i] = static_cast<std::byte>(31 - i);
  }
  EXPECT_EQ(codec::crc32c(up), 0x46DD794Eu);
  EXPECT_EQ(codec::crc32c(down), 0x113FDB5Cu);
  EXPECT_EQ(codec::crc32c({}), 0u);
}

TEST(Crc32c, codec_appends_the_checksum_little_endian_and_decodes_in_place) {
  const auto c = codec::make_crc32c_codec();
  EXPECT_EQ(c->name(), "crc32c");
  bytes enc = encode(*c, text("123456789"));
  EXPECT_TRUE(enc == from({'1', '2', '3', '4', '5', '6', '7', '8', '9', 0x83, 0x92, 0x06, 0xE3}));
  // Decoding into the front of its own input copies nothing.
  auto r = c->decode(enc, std::span(enc).first(9), key);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 9u);
  EXPECT_TRUE(bytes(enc.begin(), enc.begin() + 9) == text("123456789"));
  bytes empty_out;
  auto e = c->decode(from({0x00, 0x00, 0x00}), empty_out, key);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, errc::corrupt_data);
  expect_names_codec_and_key(e.error(), "crc32c");
}

// ------------------------------------------------------------------------------- options

TEST(CodecOptions, out_of_range_options_are_invalid_arguments_naming_the_codec) {
  auto bad = [](const auto& r, std::string_view name) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::invalid_argument);
    EXPECT_EQ(r.error().message.rfind(std::string(name) + ": ", 0), 0u) << r.error().message;
  };
  bad(codec::make_zstd_codec({23, false}), "zstd");
  bad(codec::make_zstd_codec({-131073, false}), "zstd");
  EXPECT_TRUE(codec::make_zstd_codec({22, false}));
  EXPECT_TRUE(codec::make_zstd_codec({-131072, false}));
  bad(codec::make_gzip_codec({10}), "gzip");
  bad(codec::make_gzip_codec({-1}), "gzip");
  using codec::blosc_shuffle;
  bad(codec::make_blosc_codec({"lz5", 5, blosc_shuffle::shuffle, 4, 0}), "blosc");
  bad(codec::make_blosc_codec({"LZ4", 5, blosc_shuffle::shuffle, 4, 0}), "blosc");
  bad(codec::make_blosc_codec({"lz4", 10, blosc_shuffle::shuffle, 4, 0}), "blosc");
  bad(codec::make_blosc_codec({"lz4", -1, blosc_shuffle::shuffle, 4, 0}), "blosc");
  bad(codec::make_blosc_codec({"lz4", 5, blosc_shuffle::shuffle, 0, 0}), "blosc");
  bad(codec::make_blosc_codec({"lz4", 5, blosc_shuffle::shuffle, 256, 0}), "blosc");
  for (const char* cname : {"lz4", "lz4hc", "blosclz", "zstd", "snappy", "zlib"}) {
    auto r = codec::make_blosc_codec({cname, 5, blosc_shuffle::shuffle, 4, 0});
    // Debian's libblosc has all six; a build without one says so rather than calling it unknown.
    EXPECT_TRUE(r || r.error().code == errc::unsupported) << cname;
  }
}

// ------------------------------------------------------------------------------- transpose

std::vector<std::uint32_t> iota32(std::size_t n) {
  std::vector<std::uint32_t> v(n);
  std::iota(v.begin(), v.end(), 0u);
  return v;
}

TEST(Transpose, order_2_0_1_of_a_2x3x4_chunk_by_hand) {
  // A[i][j][k] = 12i + 4j + k, shape 2x3x4. order [2, 0, 1]: B has shape 4x2x3 and B[k][i][j] = A[i][j][k].
  const std::vector<std::uint64_t> shape{2, 3, 4};
  const std::vector<unsigned> order{2, 0, 1};
  const bytes a = to_bytes(iota32(24));
  bytes b(a.size());
  ASSERT_TRUE(codec::transpose(a, b, shape, order, 4, key));
  const std::vector<std::uint32_t> expected{0, 4, 8,  12, 16, 20, 1, 5, 9,  13, 17, 21,
                                            2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23};
  EXPECT_EQ(as<std::uint32_t>(b), expected);
  bytes back(a.size());
  ASSERT_TRUE(codec::inverse_transpose(b, back, shape, order, 4, key));
  EXPECT_TRUE(back == a);
}

TEST(Transpose, order_2_1_0_is_fortran_order) {
  // B has shape 4x3x2 and B[k][j][i] = A[i][j][k]: A's elements with the first index fastest.
  const std::vector<std::uint64_t> shape{2, 3, 4};
  const std::vector<unsigned> order{2, 1, 0};
  const bytes a = to_bytes(iota32(24));
  bytes b(a.size());
  ASSERT_TRUE(codec::transpose(a, b, shape, order, 4, key));
  const std::vector<std::uint32_t> expected{0, 12, 4, 16, 8,  20, 1, 13, 5, 17, 9,  21,
                                            2, 14, 6, 18, 10, 22, 3, 15, 7, 19, 11, 23};
  EXPECT_EQ(as<std::uint32_t>(b), expected);
  bytes back(a.size());
  ASSERT_TRUE(codec::inverse_transpose(b, back, shape, order, 4, key));
  EXPECT_TRUE(back == a);
}

TEST(Transpose, identity_order_copies_and_empty_shapes_are_fine) {
  const bytes a = random_bytes(2 * 3 * 5 * 8, 41);
  bytes b(a.size());
  const std::vector<std::uint64_t> shape{2, 3, 5};
  const std::vector<unsigned> identity{0, 1, 2};
  ASSERT_TRUE(codec::transpose(a, b, shape, identity, 8));
  EXPECT_TRUE(a == b);
  // A zero extent: no elements, nothing to do.
  const std::vector<std::uint64_t> empty_shape{4, 0, 2};
  EXPECT_TRUE(codec::transpose({}, {}, empty_shape, std::vector<unsigned>{1, 2, 0}, 2));
  // Zero dimensions: one element.
  bytes one(2);
  EXPECT_TRUE(codec::transpose(from({7, 9}), one, {}, {}, 2));
  EXPECT_TRUE(one == from({7, 9}));
}

TEST(Transpose, random_shapes_orders_and_element_sizes_round_trip) {
  std::mt19937 rng(42);
  for (int round = 0; round < 200; ++round) {
    const std::size_t nd = 1 + rng() % 5;
    std::vector<std::uint64_t> shape(nd);
    std::uint64_t count = 1;
    for (auto& s : shape) {
      s = 1 + rng() % 6;
      count *= s;
    }
    std::vector<unsigned> order(nd);
    std::iota(order.begin(), order.end(), 0u);
    std::shuffle(order.begin(), order.end(), rng);
    const std::size_t sizes[] = {1, 2, 3, 4, 8, 16};
    const std::size_t es = sizes[rng() % 6];
    const bytes a = random_bytes(count * es, static_cast<unsigned>(round));
    bytes b(a.size()), back(a.size());
    ASSERT_TRUE(codec::transpose(a, b, shape, order, es));
    // Spot-check the definition: B[B_pos] = A[A_pos] with B_pos[i] = A_pos[order[i]].
    std::vector<std::uint64_t> a_pos(nd), b_shape(nd), b_pos(nd);
    for (std::size_t i = 0; i < nd; ++i) b_shape[i] = shape[order[i]];
    for (std::size_t k = 0; k < nd; ++k) a_pos[k] = rng() % shape[k];
    for (std::size_t i = 0; i < nd; ++i) b_pos[i] = a_pos[order[i]];
    std::uint64_t a_off = 0, b_off = 0;
    for (std::size_t k = 0; k < nd; ++k) {
      a_off = a_off * shape[k] + a_pos[k];
      b_off = b_off * b_shape[k] + b_pos[k];
    }
    EXPECT_EQ(std::memcmp(a.data() + a_off * es, b.data() + b_off * es, es), 0);
    ASSERT_TRUE(codec::inverse_transpose(b, back, shape, order, es));
    ASSERT_TRUE(back == a) << "round " << round;
  }
}

TEST(Transpose, bad_arguments_are_invalid_arguments_naming_transpose) {
  const bytes a(24 * 2);
  bytes b(a.size());
  const std::vector<std::uint64_t> shape{2, 3, 4};
  auto bad = [&](const sluice::result<void>& r) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::invalid_argument);
    expect_names_codec_and_key(r.error(), "transpose");
  };
  bad(codec::transpose(a, b, shape, std::vector<unsigned>{0, 0, 1}, 2, key));
  bad(codec::transpose(a, b, shape, std::vector<unsigned>{0, 1, 3}, 2, key));
  bad(codec::transpose(a, b, shape, std::vector<unsigned>{1, 0}, 2, key));
  bad(codec::inverse_transpose(a, b, shape, std::vector<unsigned>{2, 2, 2}, 2, key));
  bad(codec::transpose(a, b, shape, std::vector<unsigned>{2, 1, 0}, 0, key));
  bad(codec::transpose(a, b, shape, std::vector<unsigned>{2, 1, 0}, 4, key));  // spans of the wrong size
  bytes short_out(a.size() - 2);
  bad(codec::transpose(a, short_out, shape, std::vector<unsigned>{2, 1, 0}, 2, key));
  const std::vector<std::uint64_t> huge{1ull << 40, 1ull << 40};
  bad(codec::transpose(a, b, huge, std::vector<unsigned>{1, 0}, 2, key));
}

// ------------------------------------------------------------------------------- bytes (endian)

TEST(SwapBytes, reverses_each_element_of_2_4_and_8_bytes) {
  static_assert(codec::native_is_little == (std::endian::native == std::endian::little));
  bytes two = from({0x01, 0x02, 0x03, 0x04, 0x05, 0x06});
  codec::swap_bytes(two, 2);
  EXPECT_TRUE(two == from({0x02, 0x01, 0x04, 0x03, 0x06, 0x05}));
  bytes four = from({0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08});
  codec::swap_bytes(four, 4);
  EXPECT_TRUE(four == from({0x04, 0x03, 0x02, 0x01, 0x08, 0x07, 0x06, 0x05}));
  bytes eight = from({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
  codec::swap_bytes(eight, 8);
  EXPECT_TRUE(eight == from({8, 7, 6, 5, 4, 3, 2, 1, 16, 15, 14, 13, 12, 11, 10, 9}));
  // The same over many elements, against std::reverse, at an odd address.
  bytes big = random_bytes(8 * 1001 + 1, 51);
  std::span<std::byte> odd = std::span(big).subspan(1);
  for (std::size_t es : {2u, 4u, 8u, 3u, 16u}) {
    bytes expected(odd.begin(), odd.begin() + static_cast<std::ptrdiff_t>(odd.size() / es * es));
    for (std::size_t i = 0; i < expected.size(); i += es)
      std::reverse(expected.begin() + static_cast<std::ptrdiff_t>(i),
                   expected.begin() + static_cast<std::ptrdiff_t>(i + es));
    std::span<std::byte> whole = odd.first(expected.size());
    codec::swap_bytes(whole, es);
    EXPECT_TRUE(bytes(whole.begin(), whole.end()) == expected) << es;
    codec::swap_bytes(whole, es);  // and back
  }
}

TEST(SwapBytes, single_bytes_are_untouched_and_partial_elements_are_a_bug) {
  bytes one = from({1, 2, 3});
  codec::swap_bytes(one, 1);
  EXPECT_TRUE(one == from({1, 2, 3}));
  EXPECT_THROW(codec::swap_bytes(one, 2), std::invalid_argument);
  EXPECT_THROW(codec::swap_bytes(one, 0), std::invalid_argument);
}

// ------------------------------------------------------------------------------- zarr-python chunks

TEST(ZarrPythonChunks, gzip_int16_decodes_to_1_2_3_4) {
  const bytes enc = read_fixture("1d.contiguous.gzip.i2/c/0");
  const auto c = must(&codec::make_gzip_codec, codec::gzip_options{5});
  bytes out(8);
  auto r = c->decode(enc, out, "1d.contiguous.gzip.i2/c/0");
  ASSERT_TRUE(r) << r.error().describe();
  if (!codec::native_is_little) codec::swap_bytes(out, 2);  // "endian": "little"
  EXPECT_EQ(as<std::int16_t>(out), (std::vector<std::int16_t>{1, 2, 3, 4}));
}

TEST(ZarrPythonChunks, blosc_int16_decodes_to_1_2_3_4) {
  const bytes enc = read_fixture("1d.contiguous.blosc.i2/c/0");
  const auto c =
      must(&codec::make_blosc_codec, codec::blosc_options{"zstd", 5, codec::blosc_shuffle::noshuffle, 4, 0});
  EXPECT_EQ(c->decoded_size(enc, key), 8u);
  bytes out(8);
  auto r = c->decode(enc, out, key);
  ASSERT_TRUE(r) << r.error().describe();
  if (!codec::native_is_little) codec::swap_bytes(out, 2);
  EXPECT_EQ(as<std::int16_t>(out), (std::vector<std::int16_t>{1, 2, 3, 4}));
}

TEST(ZarrPythonChunks, big_endian_float32_through_blosc_and_a_byte_swap) {
  const bytes enc = read_fixture("1d.contiguous.f4.be/c/0");
  const auto c =
      must(&codec::make_blosc_codec, codec::blosc_options{"zstd", 5, codec::blosc_shuffle::noshuffle, 4, 0});
  bytes out(16);
  ASSERT_TRUE(c->decode(enc, out, key));
  if (codec::native_is_little) codec::swap_bytes(out, 4);  // "endian": "big"
  EXPECT_EQ(as<float>(out), (std::vector<float>{-1000.5f, 0.0f, 1000.5f, 0.0f}));
}

TEST(ZarrPythonChunks, transposed_int16_chunk_decodes_through_the_inverse_transpose) {
  // Array arange(27).reshape(3,3,3), chunks 3x3x1, codecs transpose [2,1,0], bytes, blosc. Chunk
  // (0,0,1) holds A[i][j][0] = 9i + 3j + 1, stored as B (1x3x3) with B[0][j][i] = A[i][j][0].
  const bytes enc = read_fixture("3d.chunked.mixed.i2.F/c/0/0/1");
  const auto c =
      must(&codec::make_blosc_codec, codec::blosc_options{"zstd", 5, codec::blosc_shuffle::noshuffle, 4, 0});
  bytes b(18);
  ASSERT_TRUE(c->decode(enc, b, key));
  if (!codec::native_is_little) codec::swap_bytes(b, 2);
  EXPECT_EQ(as<std::int16_t>(b), (std::vector<std::int16_t>{1, 10, 19, 4, 13, 22, 7, 16, 25}));
  bytes a(18);
  const std::vector<std::uint64_t> chunk_shape{3, 3, 1};
  ASSERT_TRUE(codec::inverse_transpose(b, a, chunk_shape, std::vector<unsigned>{2, 1, 0}, 2, key));
  EXPECT_EQ(as<std::int16_t>(a), (std::vector<std::int16_t>{1, 4, 7, 10, 13, 16, 19, 22, 25}));
  // Encoding gives back the stored order.
  bytes again(18);
  ASSERT_TRUE(codec::transpose(a, again, chunk_shape, std::vector<unsigned>{2, 1, 0}, 2, key));
  EXPECT_TRUE(again == b);
}

TEST(ZarrPythonChunks, shard_index_crc32c_verifies_and_locates_the_gzip_chunk) {
  const bytes shard = read_fixture("1d.contiguous.compressed.sharded.i2/c/0");
  ASSERT_EQ(shard.size(), 48u);
  // The index (one inner chunk: offset, length as little-endian uint64) and its CRC-32C, at the end.
  const auto crc = codec::make_crc32c_codec();
  const auto index_bytes = std::span(shard).last(16 + 4);
  EXPECT_EQ(crc->decoded_size(index_bytes, key), 16u);
  bytes index(16);
  auto r = crc->decode(index_bytes, index, key);
  ASSERT_TRUE(r) << r.error().describe();
  if (!codec::native_is_little) codec::swap_bytes(index, 8);
  const auto entry = as<std::uint64_t>(index);
  EXPECT_EQ(entry, (std::vector<std::uint64_t>{0, 28}));
  const auto gz = must(&codec::make_gzip_codec, codec::gzip_options{5});
  bytes out(8);
  ASSERT_TRUE(gz->decode(std::span(shard).subspan(entry[0], entry[1]), out, key));
  if (!codec::native_is_little) codec::swap_bytes(out, 2);
  EXPECT_EQ(as<std::int16_t>(out), (std::vector<std::int16_t>{1, 2, 3, 4}));
  // Re-encoding the index reproduces zarr-python's checksum bytes.
  const bytes again = encode(*crc, bytes(index_bytes.begin(), index_bytes.begin() + 16));
  EXPECT_TRUE(std::equal(again.begin(), again.end(), index_bytes.begin()));
}

}  // namespace
