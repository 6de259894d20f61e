// The array codecs of Zarr v3 (engine/codec): transpose and the bytes codec's byte swap, against
// hand-computed arrays.
#include <sluice/engine/codec/endian.hpp>
#include <sluice/engine/codec/transpose.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
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

bytes from(std::initializer_list<int> values) {
  bytes out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
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

// "<codec>: data/c/0/1: ..."
void expect_names_codec_and_key(const sluice::error& e, std::string_view codec_name) {
  const std::string prefix = std::string(codec_name) + ": " + std::string(key) + ": ";
  EXPECT_EQ(e.message.rfind(prefix, 0), 0u) << e.message;
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

}  // namespace
