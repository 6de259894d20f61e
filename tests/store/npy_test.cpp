// NumPy .npy files (sluice/npy/npy.hpp): round trips of every core dtype,
// Fortran-order and big-endian files built here by hand, formats 2.0 and 3.0,
// and each kind of bad input refused with a clear error.
#include <sluice/npy/npy.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <complex>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

namespace {

using namespace sluice;
using zarr::data_type;

std::vector<std::byte> bytes_of(std::string_view s) {
  std::vector<std::byte> out(s.size());
  if (!out.empty()) std::memcpy(out.data(), s.data(), s.size());  // an empty vector's data() may be null
  return out;
}

template <class T>
std::vector<std::byte> bytes_of(const std::vector<T>& v) {
  std::vector<std::byte> out(v.size() * sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), v.data(), out.size());  // an empty vector's data() may be null
  return out;
}

// A .npy file as a writer other than sluice might make it: `dict` as the
// header (padded to 64 bytes with a final '\n'), `data` verbatim after it.
std::vector<std::byte> npy_file(std::string dict, std::span<const std::byte> data, int major = 1,
                                int minor = 0) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  const std::size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += static_cast<char>(minor);
  for (std::size_t i = 0; i < (major == 1 ? 2u : 4u); ++i)
    out += static_cast<char>((dict.size() >> (8 * i)) & 0xff);
  out += dict;
  auto file = bytes_of(out);
  file.insert(file.end(), data.begin(), data.end());
  return file;
}

std::vector<std::byte> npy_file(const std::string& dict, const std::string& data = "") {
  return npy_file(dict, bytes_of(data));
}

// Bytes of each element of `v` reversed (big-endian on this little-endian machine).
template <class T>
std::vector<std::byte> big_endian(const std::vector<T>& v, std::size_t scalar = sizeof(T)) {
  auto b = bytes_of(v);
  for (std::size_t i = 0; i < b.size(); i += scalar) std::reverse(b.begin() + i, b.begin() + i + scalar);
  return b;
}

TEST(Npy, every_core_dtype_round_trips_through_format_and_parse) {
  static_assert(std::endian::native == std::endian::little,
                "the hand-built files assume a little-endian host");
  const std::vector<std::uint64_t> shape{3, 5};
  for (data_type t : zarr::all_data_types) {
    SCOPED_TRACE(std::string(zarr::name_of(t)));
    std::vector<std::byte> data(15 * zarr::element_size(t));
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 7 + 1);
    if (t == data_type::bool_)
      for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i % 3 == 0);
    auto file = npy::format(t, shape, data);
    ASSERT_TRUE(file) << file.error().describe();
    auto h = npy::parse_header(*file, "t.npy");
    ASSERT_TRUE(h) << h.error().describe();
    EXPECT_EQ(h->major, 1);
    EXPECT_EQ(h->data_offset % 64, 0u);
    EXPECT_FALSE(h->fortran_order);
    EXPECT_FALSE(h->big_endian);
    const std::string text(reinterpret_cast<const char*>(file->data()), h->data_offset);
    EXPECT_NE(text.find("'descr': '" + npy::descr_of(t) + "'"), std::string::npos) << text;
    EXPECT_NE(text.find("'shape': (3, 5)"), std::string::npos) << text;
    EXPECT_TRUE(text.ends_with("\n"));
    auto back = npy::parse(*file, "t.npy");
    ASSERT_TRUE(back) << back.error().describe();
    EXPECT_EQ(back->dtype, t);
    EXPECT_EQ(back->shape, shape);
    EXPECT_EQ(back->data, data);
  }
  EXPECT_EQ(npy::descr_of(data_type::bool_), "|b1");
  EXPECT_EQ(npy::descr_of(data_type::uint8), "|u1");
  EXPECT_EQ(npy::descr_of(data_type::int64), "<i8");
  EXPECT_EQ(npy::descr_of(data_type::complex128), "<c16");
}

TEST(Npy, zero_d_one_d_and_empty_arrays_round_trip) {
  for (const std::vector<std::uint64_t>& shape :
       {std::vector<std::uint64_t>{}, std::vector<std::uint64_t>{4}, std::vector<std::uint64_t>{0, 3}}) {
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<std::int32_t> v(n);
    std::iota(v.begin(), v.end(), -2);
    auto file = npy::format(data_type::int32, shape, bytes_of(v));
    ASSERT_TRUE(file) << file.error().describe();
    auto back = npy::parse(*file, "t.npy");
    ASSERT_TRUE(back) << back.error().describe();
    EXPECT_EQ(back->shape, shape);
    EXPECT_EQ(back->data, bytes_of(v));
  }
  auto one_d = npy::format(data_type::int8, std::vector<std::uint64_t>{4}, bytes_of(std::string("abcd")));
  ASSERT_TRUE(one_d);
  EXPECT_NE(std::string(reinterpret_cast<const char*>(one_d->data()), 64).find("'shape': (4,)"),
            std::string::npos);
}

TEST(Npy, a_header_too_long_for_format_1_is_written_as_2_0) {
  const std::vector<std::uint64_t> shape(25000, 1);  // "1, " each: beyond 65535 bytes
  auto file = npy::format(data_type::uint8, shape, bytes_of(std::string("x")));
  ASSERT_TRUE(file) << file.error().describe();
  auto h = npy::parse_header(*file, "t.npy");
  ASSERT_TRUE(h) << h.error().describe();
  EXPECT_EQ(h->major, 2);
  EXPECT_EQ(h->data_offset % 64, 0u);
  auto back = npy::parse(*file, "t.npy");
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(back->shape, shape);
}

TEST(Npy, files_round_trip_through_the_file_system) {
  const auto dir = std::filesystem::temp_directory_path() / ("sluice-npy-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "a.npy").string();
  std::vector<double> v{1.5, -2.25, 3e300, 0};
  const std::vector<std::uint64_t> shape{2, 2};
  ASSERT_TRUE(npy::write_file(path, data_type::float64, shape, bytes_of(v)));
  auto back = npy::read_file(path);
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(back->shape, shape);
  EXPECT_EQ(back->data, bytes_of(v));
  auto missing = npy::read_file((dir / "none.npy").string());
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().code == condition::not_found) << missing.error().describe();
  std::filesystem::remove_all(dir);
}

TEST(Npy, fortran_order_files_are_transposed_to_c_order) {
  // a[i][j] = 10 * i + j, shape (2, 3), stored column by column.
  const std::vector<std::int16_t> fortran{0, 10, 1, 11, 2, 12};
  auto a = npy::parse(
      npy_file("{'descr': '<i2', 'fortran_order': True, 'shape': (2, 3), }", bytes_of(fortran)), "f.npy");
  ASSERT_TRUE(a) << a.error().describe();
  EXPECT_EQ(a->shape, (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(a->data, bytes_of(std::vector<std::int16_t>{0, 1, 2, 10, 11, 12}));

  // Three dimensions: b[i][j][k] = 100 i + 10 j + k, shape (2, 3, 4); Fortran order runs i fastest.
  std::vector<std::int32_t> f3, c3;
  for (int k = 0; k < 4; ++k)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 2; ++i) f3.push_back(100 * i + 10 * j + k);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) c3.push_back(100 * i + 10 * j + k);
  auto b = npy::parse(npy_file("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 4), }", bytes_of(f3)),
                      "f3.npy");
  ASSERT_TRUE(b) << b.error().describe();
  EXPECT_EQ(b->data, bytes_of(c3));
}

TEST(Npy, big_endian_files_are_swapped_to_native_order) {
  const std::vector<std::int32_t> i4{1, -2, 0x01020304};
  auto a = npy::parse(npy_file("{'descr': '>i4', 'fortran_order': False, 'shape': (3,), }", big_endian(i4)),
                      "be.npy");
  ASSERT_TRUE(a) << a.error().describe();
  EXPECT_EQ(a->dtype, data_type::int32);
  EXPECT_EQ(a->data, bytes_of(i4));

  const std::vector<double> f8{1.5, -0.0, 6.02e23};
  auto b = npy::parse(npy_file("{'descr': '>f8', 'fortran_order': False, 'shape': (3,), }", big_endian(f8)),
                      "be.npy");
  ASSERT_TRUE(b) << b.error().describe();
  EXPECT_EQ(b->data, bytes_of(f8));

  // complex64: each float32 part swapped on its own.
  const std::vector<std::complex<float>> c8{{1.5f, -2.5f}, {3.0f, 4.0f}};
  auto c = npy::parse(
      npy_file("{'descr': '>c8', 'fortran_order': False, 'shape': (2,), }", big_endian(c8, 4)), "be.npy");
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_EQ(c->dtype, data_type::complex64);
  EXPECT_EQ(c->data, bytes_of(c8));

  // Big-endian and Fortran order at once: (2, 2) uint16 [[1, 2], [3, 4]].
  auto d = npy::parse(npy_file("{'descr': '>u2', 'fortran_order': True, 'shape': (2, 2), }",
                               big_endian(std::vector<std::uint16_t>{1, 3, 2, 4})),
                      "be.npy");
  ASSERT_TRUE(d) << d.error().describe();
  EXPECT_EQ(d->data, bytes_of(std::vector<std::uint16_t>{1, 2, 3, 4}));
}

TEST(Npy, formats_2_and_3_and_other_header_spellings_are_read) {
  const std::vector<std::uint8_t> v{7, 8, 9};
  for (int major : {2, 3}) {
    auto a = npy::parse(
        npy_file("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", bytes_of(v), major), "v.npy");
    ASSERT_TRUE(a) << major << ": " << a.error().describe();
    EXPECT_EQ(a->data, bytes_of(v));
  }
  // Keys in another order, double quotes, no trailing comma, Python 2 longs, '=' byte order.
  auto b = npy::parse(npy_file(R"({"shape": (3L,), "fortran_order": False, "descr": "=u1"})", bytes_of(v)),
                      "v.npy");
  ASSERT_TRUE(b) << b.error().describe();
  EXPECT_EQ(b->shape, (std::vector<std::uint64_t>{3}));
  auto bools =
      npy::parse(npy_file("{'descr': '|b1', 'fortran_order': False, 'shape': (), }", "\x01"), "b.npy");
  ASSERT_TRUE(bools) << bools.error().describe();
  EXPECT_EQ(bools->dtype, data_type::bool_);
  EXPECT_TRUE(bools->shape.empty());
}

void expect_refused(const std::vector<std::byte>& file, errc code, std::string_view words) {
  auto r = npy::parse(file, "bad.npy");
  ASSERT_FALSE(r) << "accepted: " << words;
  EXPECT_EQ(r.error().code, code) << r.error().describe();
  const std::string msg = r.error().describe();
  EXPECT_TRUE(msg.starts_with("bad.npy: ")) << msg;
  EXPECT_NE(msg.find(words), std::string::npos) << msg << " (expected '" << words << "')";
}

TEST(Npy, wrong_magic_and_unknown_versions_are_refused) {
  auto good = npy_file("{'descr': '<i2', 'fortran_order': False, 'shape': (1,), }", "ab");
  auto wrong = good;
  wrong[1] = std::byte{'n'};
  expect_refused(wrong, errc::invalid_argument, "not a .npy file");
  expect_refused(bytes_of(std::string("PK\x03\x04")), errc::invalid_argument, "not a .npy file");
  expect_refused({}, errc::invalid_argument, "not a .npy file");
  auto v4 = good;
  v4[6] = std::byte{4};
  expect_refused(v4, errc::unsupported, "version 4.0");
  auto v11 = good;
  v11[7] = std::byte{1};
  expect_refused(v11, errc::unsupported, "version 1.1");
}

TEST(Npy, malformed_header_dicts_are_refused) {
  const char* cases[][2] = {
      {"'descr': '<i2', 'fortran_order': False, 'shape': (1,)}", "expected '{'"},
      {"{'descr': '<i2', 'fortran_order': False, 'shape': (1,)", "expected"},
      {"{'descr': '<i2', 'fortran_order': False}", "no 'shape'"},
      {"{'fortran_order': False, 'shape': (1,)}", "no 'descr'"},
      {"{'descr': '<i2', 'shape': (1,)}", "no 'fortran_order'"},
      {"{'descr': '<i2', 'fortran_order': False, 'shape': (1,), 'extra': 1}", "unknown key 'extra'"},
      {"{'descr': '<i2', 'descr': '<i2', 'fortran_order': False, 'shape': (1,)}", "given twice"},
      {"{'descr': '<i2', 'fortran_order': 0, 'shape': (1,)}", "True or False"},
      {"{'descr': '<i2', 'fortran_order': False, 'shape': [1]}", "a shape tuple"},
      {"{'descr': '<i2', 'fortran_order': False, 'shape': (1)}", "one-dimensional"},
      {"{'descr': '<i2', 'fortran_order': False, 'shape': (-1,)}", "non-negative integer"},
      {"{'descr': '<i2', 'fortran_order': False, 'shape': (1,)} junk", "the end of the header"},
      {"{descr: '<i2', 'fortran_order': False, 'shape': (1,)}", "a quoted string"},
      {"{'descr': '<i2, 'fortran_order': False, 'shape': (1,)}", "expected"},
      {"{'descr': '<', 'fortran_order': False, 'shape': (1,)}", "descr '<'"},
      {"{'descr': '<i', 'fortran_order': False, 'shape': (1,)}", "descr '<i'"},
      {"{'descr': '|i2', 'fortran_order': False, 'shape': (1,)}", "needs a byte order"},
      {"{'descr': '<i2', 'fortran_order': False, 'shape': (99999999999999999999,)}", "beyond 2^64"},
  };
  for (auto& [dict, words] : cases) {
    SCOPED_TRACE(dict);
    expect_refused(npy_file(dict, "ab"), errc::invalid_argument, words);
  }
  // The header length points past the end of the file.
  auto file = npy_file("{'descr': '<i2', 'fortran_order': False, 'shape': (1,), }", "ab");
  file.resize(40);
  expect_refused(file, errc::invalid_argument, "ends inside its header");
}

TEST(Npy, descrs_without_a_zarr_core_type_are_unsupported) {
  for (const char* descr : {"|O", "<U5", "|S3", "|V8", "<M8[ns]", "<f16", "<c32", "<i16"}) {
    SCOPED_TRACE(descr);
    expect_refused(
        npy_file(std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (1,), }", "ab"),
        errc::unsupported, std::string("descr '") + descr + "'");
  }
  expect_refused(
      npy_file("{'descr': [('a', '<i4'), ('b', '<f8')], 'fortran_order': False, 'shape': (1,), }", "ab"),
      errc::unsupported, "structured");
}

TEST(Npy, shapes_whose_byte_size_overflows_are_refused) {
  expect_refused(npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"),
                 errc::invalid_argument, "overflows");
  expect_refused(npy_file("{'descr': '|u1', 'fortran_order': False, 'shape': (18446744073709551615, 2), }"),
                 errc::invalid_argument, "overflows");
  // A zero dimension makes any other dimension harmless.
  auto empty = npy::parse(
      npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 18446744073709551615), }"), "e.npy");
  EXPECT_TRUE(empty) << empty.error().describe();
}

TEST(Npy, lying_headers_are_refused) {
  const std::string dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }";
  expect_refused(npy_file(dict, std::string(15, 'x')), errc::invalid_argument,
                 "shorter than its header says");
  expect_refused(npy_file(dict, std::string(17, 'x')), errc::invalid_argument, "longer than its header says");
  expect_refused(npy_file(dict), errc::invalid_argument, "shorter than its header says");
  EXPECT_TRUE(npy::parse(npy_file(dict, std::string(16, 'x')), "ok.npy"));
}

TEST(Npy, format_refuses_data_of_the_wrong_size) {
  auto r = npy::format(data_type::int16, std::vector<std::uint64_t>{3}, bytes_of(std::string("abcd")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::invalid_argument);
}

}  // namespace
