// `sluice array put | get | info` end to end: the built binary against s3rver (one per test) and a
// local directory, checked by the .npy files it writes back, what it prints, its exit status and the
// keys it leaves in the bucket.
#include "cli_test_support.hpp"

#include <sluice/npy/npy.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <set>
#include <sstream>

using namespace sluice;
using namespace sluice::testing;
namespace fs = std::filesystem;

namespace {

// A failure as the CLI promises it: this exit status and one line on stderr starting "sluice:".
void expect_failure(const command_result& r, int exit_code) {
  EXPECT_EQ(r.exit_code, exit_code) << describe(r);
  expect_one_line_failure(r);
}

template <class T>
std::span<const std::byte> bytes_of(const std::vector<T>& v) {
  return std::as_bytes(std::span(v));
}

// The .npy bytes sluice writes for these elements (C order, little-endian, format 1.0).
template <class T>
std::string npy_of(zarr::data_type t, std::vector<std::uint64_t> shape, const std::vector<T>& v) {
  auto f = npy::format(t, shape, bytes_of(v));
  EXPECT_TRUE(f) << f.error().describe();
  return f ? as_string(*f) : "";
}

// One s3rver, a client for checks, a bucket, a scratch directory, and a 6 x 10 float32 array
// a[i][j] = 10 i + j written as a.npy.
struct array_fixture : s3rver_cli_fixture {
  std::vector<float> values = [] {
    std::vector<float> v(60);
    std::iota(v.begin(), v.end(), 0.0f);
    return v;
  }();
  std::string npy_path = dir / "a.npy";

  array_fixture() : s3rver_cli_fixture("cli-array") {
    make_bucket();
    auto w = npy::write_file(npy_path, zarr::data_type::float32, std::vector<std::uint64_t>{6, 10},
                             bytes_of(values));
    EXPECT_TRUE(w) << w.error().describe();
  }
};

TEST(CliArray, put_sharded_then_info_and_get_whole_and_selections) {
  array_fixture f;
  const std::string url = f.url("data/era5.zarr/surface/t2m");
  auto put =
      run_sluice({"array", "put", f.npy_path, url, "--chunks", "2,5", "--shards", "4,10", "--codec", "zstd:5",
                  "--crc32c", "--dims", "y,x", "--attr", "units=\"K\"", "--attr", "scale=2", "--fill", "-1"},
                 f.env);
  ASSERT_EQ(put.exit_code, 0) << describe(put);
  EXPECT_EQ(put.err, "");
  // Parent groups got their zarr.json; two shards of 4 x 10 (the second one ragged).
  auto keys = f.keys();
  for (const char* k : {"data/era5.zarr/zarr.json", "data/era5.zarr/surface/zarr.json",
                        "data/era5.zarr/surface/t2m/zarr.json", "data/era5.zarr/surface/t2m/c/0/0",
                        "data/era5.zarr/surface/t2m/c/1/0"})
    EXPECT_TRUE(keys.contains(k)) << k;
  EXPECT_EQ(keys.size(), 5u);

  auto info = run_sluice({"array", "info", url}, f.env);
  ASSERT_EQ(info.exit_code, 0) << describe(info);
  for (const char* text :
       {"array ", "[6, 10]", "float32", "chunk shape  [2, 5]", "shard shape  [4, 10]", "sharding_indexed",
        "zstd(", "level=5", "crc32c", "\"y\"", "-1", "\"units\":\"K\""})
    EXPECT_NE(info.out.find(text), std::string::npos) << text << "\n" << info.out;

  auto js = run_sluice({"array", "info", url, "--json"}, f.env);
  ASSERT_EQ(js.exit_code, 0) << describe(js);
  boost::system::error_code ec;
  auto doc = boost::json::parse(js.out, ec);
  ASSERT_FALSE(ec) << js.out;
  const auto& o = doc.as_object();
  EXPECT_EQ(o.at("node_type"), "array");
  EXPECT_EQ(o.at("data_type"), "float32");
  EXPECT_EQ(o.at("shape"), (boost::json::array{6, 10}));
  EXPECT_EQ(o.at("chunk_shape"), (boost::json::array{2, 5}));
  EXPECT_EQ(o.at("shard_shape"), (boost::json::array{4, 10}));
  EXPECT_EQ(o.at("dimension_names"), (boost::json::array{"y", "x"}));
  EXPECT_EQ(o.at("fill_value"), -1);
  EXPECT_EQ(o.at("attributes").at("scale"), 2);

  // The whole array comes back byte for byte as the .npy that went up.
  auto whole = run_sluice({"array", "get", url, "-o", f.dir / "whole.npy"}, f.env);
  ASSERT_EQ(whole.exit_code, 0) << describe(whole);
  EXPECT_EQ(read_file(f.dir / "whole.npy"), read_file(f.npy_path));

  // Rows 1 and 3 of column 3; the last row, every third column; rows 4: (the ragged shard).
  auto sel = run_sluice({"array", "get", url, "--select", "1:5:2,3", "-o", f.dir / "s1.npy"}, f.env);
  ASSERT_EQ(sel.exit_code, 0) << describe(sel);
  EXPECT_EQ(read_file(f.dir / "s1.npy"), npy_of(zarr::data_type::float32, {2}, std::vector<float>{13, 33}));
  auto sel2 = run_sluice({"array", "get", url, "--select", "-1, ::3", "-o", f.dir / "s2.npy"}, f.env);
  ASSERT_EQ(sel2.exit_code, 0) << describe(sel2);
  EXPECT_EQ(read_file(f.dir / "s2.npy"),
            npy_of(zarr::data_type::float32, {4}, std::vector<float>{50, 53, 56, 59}));
  auto sel3 = run_sluice({"array", "get", url, "--select", "4:", "-o", f.dir / "s3.npy"}, f.env);
  ASSERT_EQ(sel3.exit_code, 0) << describe(sel3);
  EXPECT_EQ(read_file(f.dir / "s3.npy"), npy_of(zarr::data_type::float32, {2, 10},
                                                std::vector<float>(f.values.begin() + 40, f.values.end())));
}

TEST(CliArray, info_on_the_root_group_lists_the_groups_and_arrays_below_it) {
  array_fixture f;
  for (const char* name : {"era5.zarr/a", "era5.zarr/g/b"}) {
    auto put =
        run_sluice({"array", "put", f.npy_path, f.url(name), "--chunks", "3,5", "--codec", "gzip:1"}, f.env);
    ASSERT_EQ(put.exit_code, 0) << describe(put);
  }
  auto info = run_sluice({"array", "info", f.url("era5.zarr")}, f.env);
  ASSERT_EQ(info.exit_code, 0) << describe(info);
  for (const std::string& text :
       {"group " + f.url("era5.zarr") + "\n", "array " + f.url("era5.zarr/a") + "\n",
        "group " + f.url("era5.zarr/g") + "\n", "array " + f.url("era5.zarr/g/b") + "\n",
        std::string("gzip(level=1)")})
    EXPECT_NE(info.out.find(text), std::string::npos) << text << "\n" << info.out;
}

TEST(CliArray, bad_select_chunks_and_codec_are_usage_errors) {
  array_fixture f;
  const std::string url = f.url("x.zarr/a");
  for (const char* chunks : {"0,5", "2,x", "2", "2,5,5", "2,,5"}) {
    SCOPED_TRACE(chunks);
    expect_failure(run_sluice({"array", "put", f.npy_path, url, "--chunks", chunks}, f.env), 2);
  }
  expect_failure(run_sluice({"array", "put", f.npy_path, url, "--chunks", "2,5", "--shards", "3,10"}, f.env),
                 2);
  expect_failure(run_sluice({"array", "put", f.npy_path, url, "--codec", "lzma"}, f.env), 2);
  expect_failure(run_sluice({"array", "put", f.npy_path, url, "--codec", "zstd:99"}, f.env), 2);
  expect_failure(run_sluice({"array", "put", f.npy_path, url, "--attr", "units=K"}, f.env), 2);
  expect_failure(run_sluice({"array", "put", f.npy_path, url, "--dims", "y"}, f.env), 2);
  expect_failure(run_sluice({"array", "put", f.npy_path, url, "--fill", "abc"}, f.env), 2);
  EXPECT_TRUE(f.keys().empty()) << "a usage error wrote something";

  ASSERT_EQ(run_sluice({"array", "put", f.npy_path, url, "--chunks", "2,5"}, f.env).exit_code, 0);
  for (const char* select : {"1:2:3:4", "a", "0:5:0", "0:5:-1", "1,,2", "1,2,3", "6,0", "0,-11"}) {
    SCOPED_TRACE(select);
    expect_failure(run_sluice({"array", "get", url, "--select", select, "-o", f.dir / "o.npy"}, f.env), 2);
  }
  EXPECT_FALSE(fs::exists(f.dir / "o.npy"));
  // Runtime errors: no array there, a file that is not .npy.
  expect_failure(run_sluice({"array", "get", f.url("x.zarr/none"), "-o", f.dir / "o.npy"}, f.env), 1);
  std::ofstream(f.dir / "not.npy") << "hello";
  expect_failure(run_sluice({"array", "put", f.dir / "not.npy", f.url("x.zarr/b")}, f.env), 1);
}

TEST(CliArray, local_directory_urls_round_trip_every_dtype) {
  temp_dir dir;
  const std::map<std::string, std::string> env;
  struct dtype_case {
    zarr::data_type t;
    const char* codec;
  };
  int n = 0;
  for (auto [t, codec] :
       {dtype_case{zarr::data_type::bool_, "none"}, dtype_case{zarr::data_type::int8, "gzip"},
        dtype_case{zarr::data_type::uint16, "blosc:zstd:3"}, dtype_case{zarr::data_type::int64, "zstd"},
        dtype_case{zarr::data_type::float64, "blosc"}, dtype_case{zarr::data_type::complex128, "zstd:1"}}) {
    SCOPED_TRACE(std::string(zarr::name_of(t)));
    std::vector<std::byte> data(4 * 3 * zarr::element_size(t));
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 13 % 251);
    if (t == zarr::data_type::bool_)
      for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i % 2);
    const std::string in = dir / ("in" + std::to_string(n) + ".npy");
    ASSERT_TRUE(npy::write_file(in, t, std::vector<std::uint64_t>{4, 3}, data));
    // Inside a .zarr hierarchy, and as an array of its own (no .zarr segment).
    for (const std::string& target :
         {dir / ("local.zarr/arr" + std::to_string(n)), dir / ("plain" + std::to_string(n))}) {
      auto put = run_sluice({"array", "put", in, target, "--chunks", "3,2", "--codec", codec}, env);
      ASSERT_EQ(put.exit_code, 0) << describe(put);
      EXPECT_TRUE(fs::exists(target + "/zarr.json"));
      const std::string out = dir / "out.npy";
      auto get = run_sluice({"array", "get", target + "/", "-o", out}, env);
      ASSERT_EQ(get.exit_code, 0) << describe(get);
      EXPECT_EQ(read_file(out), read_file(in));
    }
    ++n;
  }
  EXPECT_TRUE(fs::exists(dir / "local.zarr/zarr.json")) << "the root group has no zarr.json";
  auto info = run_sluice({"array", "info", dir / "local.zarr", "--json"}, env);
  ASSERT_EQ(info.exit_code, 0) << describe(info);
  boost::system::error_code ec;
  auto doc = boost::json::parse(info.out, ec);
  ASSERT_FALSE(ec) << info.out;
  EXPECT_EQ(doc.as_object().at("node_type"), "group");
  EXPECT_EQ(doc.as_object().at("members").as_array().size(), 6u) << info.out;
}

}  // namespace

namespace {

// A big-endian, Fortran-order .npy (as another writer may make it) goes up as an ordinary array and
// comes back in C order, little-endian; --fill NaN needs no JSON quotes.
TEST(CliArray, big_endian_fortran_npy_comes_back_in_c_order) {
  temp_dir dir;
  const std::map<std::string, std::string> env;
  // a[i][j] = 10 i + j as int16, shape (2, 3), stored column by column, each element big-endian.
  std::string dict = "{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3), }";
  dict.append((10 + dict.size() + 1 + 63) / 64 * 64 - 10 - dict.size() - 1, ' ');
  dict += '\n';
  std::string file = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(dict.size()) + '\0' + dict;
  for (std::int16_t v : {0, 10, 1, 11, 2, 12}) {
    file += static_cast<char>(v >> 8);
    file += static_cast<char>(v & 0xff);
  }
  std::ofstream(dir / "f.npy", std::ios::binary) << file;
  auto put =
      run_sluice({"array", "put", dir / "f.npy", dir / "a.zarr/x", "--chunks", "1,2", "--fill", "-5"}, env);
  ASSERT_EQ(put.exit_code, 0) << describe(put);
  auto get = run_sluice({"array", "get", dir / "a.zarr/x", "-o", dir / "c.npy"}, env);
  ASSERT_EQ(get.exit_code, 0) << describe(get);
  EXPECT_EQ(read_file(dir / "c.npy"),
            npy_of(zarr::data_type::int16, {2, 3}, std::vector<std::int16_t>{0, 1, 2, 10, 11, 12}));

  const std::vector<float> f{1, 2};
  ASSERT_TRUE(
      npy::write_file(dir / "g.npy", zarr::data_type::float32, std::vector<std::uint64_t>{2}, bytes_of(f)));
  auto nan = run_sluice({"array", "put", dir / "g.npy", dir / "a.zarr/nan", "--fill", "NaN"}, env);
  ASSERT_EQ(nan.exit_code, 0) << describe(nan);
  auto info = run_sluice({"array", "info", dir / "a.zarr/nan"}, env);
  EXPECT_NE(info.out.find("fill value   \"NaN\""), std::string::npos) << info.out;
}

}  // namespace
