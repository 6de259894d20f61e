// XXH3-64 hashing, hex form, and streaming. Expected values were computed with
// `xxhsum -H3` (xxHash 0.8.1), independently of this code.
#include <sluice/engine/integrity/xxh3.hpp>

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace {

namespace integrity = sluice::integrity;

// bytes (i * 31 + 7) mod 256 for i in [0, n): the input of the long vectors.
std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 31 + 7) % 256);
  return s;
}

std::span<const std::byte> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

TEST(Xxh3, known_vectors_for_short_inputs) {
  EXPECT_EQ(integrity::xxh3(""), 0x2d06800538d394c2ull);
  EXPECT_EQ(integrity::xxh3("a"), 0xe6c632b61e964e1full);
  EXPECT_EQ(integrity::xxh3("abc"), 0x78af5f94892f3950ull);
  EXPECT_EQ(integrity::xxh3("The quick brown fox jumps over the lazy dog"), 0xce7d19a5418fb365ull);
}

TEST(Xxh3, known_vectors_across_the_algorithm_size_classes) {
  // XXH3 switches code paths at 16, 128, 240 bytes and at its stripe/block sizes.
  const std::vector<std::pair<size_t, uint64_t>> cases = {
      {17, 0x208bde5ee2bed407ull},  {129, 0xf8f76713f2bb60faull},  {200, 0x12fdb864685f344dull},
      {241, 0x0b3b630948ce4a00ull}, {1024, 0x23bc880ebf0d29c6ull}, {5000, 0x559fff92c2b7f8eeull},
  };
  for (const auto& [n, expected] : cases) {
    EXPECT_EQ(integrity::xxh3(pattern(n)), expected) << n << " bytes";
  }
}

TEST(Xxh3, span_and_string_view_overloads_agree) {
  std::string data = pattern(300);
  EXPECT_EQ(integrity::xxh3(bytes_of(data)), integrity::xxh3(std::string_view(data)));
}

TEST(Xxh3, hex_is_sixteen_lowercase_zero_padded_digits) {
  EXPECT_EQ(integrity::to_hex(0), "0000000000000000");
  EXPECT_EQ(integrity::to_hex(0x2d06800538d394c2ull), "2d06800538d394c2");
  EXPECT_EQ(integrity::to_hex(0xabcull), "0000000000000abc");
  EXPECT_EQ(integrity::to_hex(UINT64_MAX), "ffffffffffffffff");
}

TEST(Xxh3, from_hex_round_trips) {
  for (uint64_t v : {0ull, 1ull, 0xabcull, 0x2d06800538d394c2ull, 0x8000000000000000ull, ~0ull}) {
    EXPECT_EQ(integrity::from_hex(integrity::to_hex(v)), v);
  }
  EXPECT_EQ(integrity::from_hex("2D06800538D394C2"), 0x2d06800538d394c2ull);
}

TEST(Xxh3, from_hex_is_strict) {
  for (const char* bad :
       {"", "0", "2d06800538d394c", "2d06800538d394c2f", "0x06800538d394c2", "+d06800538d394c2",
        "-d06800538d394c2", " d06800538d394c2", "2d06800538d394c ", "2d06800538d394cg", "zzzzzzzzzzzzzzzz"}) {
    EXPECT_FALSE(integrity::from_hex(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(Xxh3, metadata_key_is_stable) {
  EXPECT_EQ(integrity::metadata_key, "sluice-xxh3");
}

TEST(Xxh3, streaming_equals_one_shot_at_every_split_point) {
  const std::string data = pattern(600);
  const uint64_t expected = integrity::xxh3(data);
  for (size_t split = 0; split <= data.size(); ++split) {
    integrity::xxh3_stream s;
    s.update(bytes_of(std::string_view(data).substr(0, split)));
    s.update(bytes_of(std::string_view(data).substr(split)));
    ASSERT_EQ(s.digest(), expected) << "split at " << split;
  }
}

TEST(Xxh3, streaming_in_small_and_odd_pieces_matches_long_vector) {
  const std::string data = pattern(5000);
  for (size_t piece : {1u, 3u, 63u, 64u, 65u, 255u, 256u, 1023u, 4096u}) {
    integrity::xxh3_stream s;
    for (size_t off = 0; off < data.size(); off += piece) {
      s.update(bytes_of(std::string_view(data).substr(off, piece)));
    }
    EXPECT_EQ(s.digest(), 0x559fff92c2b7f8eeull) << "pieces of " << piece;
  }
}

TEST(Xxh3, digest_does_not_finish_the_stream_and_reset_starts_over) {
  integrity::xxh3_stream s;
  EXPECT_EQ(s.digest(), 0x2d06800538d394c2ull);
  s.update(bytes_of("ab"));
  (void)s.digest();
  s.update(bytes_of("c"));
  EXPECT_EQ(s.digest(), 0x78af5f94892f3950ull);
  s.reset();
  EXPECT_EQ(s.digest(), 0x2d06800538d394c2ull);
  s.update(bytes_of("a"));
  EXPECT_EQ(s.digest(), 0xe6c632b61e964e1full);
}

TEST(Xxh3, streams_move_with_their_state) {
  integrity::xxh3_stream a;
  a.update(bytes_of("ab"));
  integrity::xxh3_stream b(std::move(a));
  b.update(bytes_of("c"));
  EXPECT_EQ(b.digest(), 0x78af5f94892f3950ull);

  integrity::xxh3_stream c;
  c.update(bytes_of("zzz"));
  c = std::move(b);
  EXPECT_EQ(c.digest(), 0x78af5f94892f3950ull);
}

}  // namespace
