// cottoncandy's chunked, sparse and dictionary layouts (object_array/chunked.hpp, sparse.hpp) and .npz
// archives (npy/npz.hpp) on the memory store: round trips, boxes that read only the parts they touch,
// every kind of metadata that does not add up refused, and zip archives damaged on purpose.
#include <sluice/engine/runtime/engine.hpp>
#include <sluice/npy/npz.hpp>
#include <sluice/object_array/chunked.hpp>
#include <sluice/object_array/sparse.hpp>
#include <sluice/store/memory.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <numeric>

namespace {

using namespace sluice;
namespace oa = sluice::object_array;

npy::array counting(std::vector<std::uint64_t> shape) {
  npy::array a;
  a.dtype = zarr::data_type::int32;
  a.shape = std::move(shape);
  std::uint64_t n = 1;
  for (auto d : a.shape) n *= d;
  std::vector<std::int32_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  a.data.resize(n * 4);
  std::memcpy(a.data.data(), v.data(), a.data.size());
  return a;
}

std::int32_t at(const npy::array& a, std::uint64_t k) {
  std::int32_t v;
  std::memcpy(&v, a.data.data() + k * 4, 4);
  return v;
}

struct layouts : ::testing::Test {
  engine eng;
  std::shared_ptr<store::store> st = store::make_memory_store();
};

TEST_F(layouts, a_chunked_array_round_trips_along_every_axis_and_a_box_reads_only_its_parts) {
  const npy::array a = counting({4, 6, 10});
  for (int axis : {0, 1, 2, -1}) {
    SCOPED_TRACE(axis);
    oa::chunked_put_options o;
    o.split_axis = axis;
    o.part_bytes = 100;  // small parts: several per axis
    o.codec = oa::compression::zstd;
    const std::string name = "c" + std::to_string(axis + 1);
    auto l = eng.run(oa::put_chunked(*st, name, a, o));
    ASSERT_TRUE(l) << l.error().message;
    EXPECT_GT(l->parts.size(), 1u);
    auto read = eng.run(oa::read_chunked_layout(*st, name));
    ASSERT_TRUE(read && *read);
    EXPECT_EQ(oa::chunked_metadata_json(**read), oa::chunked_metadata_json(*l));
    std::uint64_t parts = 0;
    auto back = eng.run(oa::get_chunked(*st, **read, {}, 4, &parts));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(parts, l->parts.size());
    EXPECT_EQ(back->shape, a.shape);
    EXPECT_TRUE(back->data == a.data);
  }
  // Split along the last axis in parts of 2 (4 x 6 x 4 bytes = 96 per step... 100 bytes: 1 step): a box
  // of the last axis 3..5 touches parts 3 and 4 only.
  oa::chunked_put_options o;
  o.part_bytes = 200;  // two steps of 96 bytes
  auto l = eng.run(oa::put_chunked(*st, "last", a, o));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->parts.size(), 5u);
  const std::pair<std::uint64_t, std::uint64_t> box[] = {{1, 3}, {0, 6}, {3, 5}};
  std::uint64_t parts = 0;
  auto b = eng.run(oa::get_chunked(*st, *l, box, 4, &parts));
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(parts, 2u);
  ASSERT_EQ(b->shape, (std::vector<std::uint64_t>{2, 6, 2}));
  for (std::uint64_t i = 0; i < 2; ++i)
    for (std::uint64_t j = 0; j < 6; ++j)
      for (std::uint64_t k = 0; k < 2; ++k)
        EXPECT_EQ(at(*b, (i * 6 + j) * 2 + k), static_cast<std::int32_t>(((i + 1) * 6 + j) * 10 + k + 3));
  const std::pair<std::uint64_t, std::uint64_t> outside[] = {{0, 5}, {0, 6}, {0, 10}};
  auto bad = eng.run(oa::get_chunked(*st, *l, outside, 4, nullptr));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, condition::invalid_argument);
}

TEST_F(layouts, chunked_metadata_that_does_not_add_up_is_refused_naming_the_problem) {
  const std::string good =
      R"({"shape":[2,5],"dtype":"<i4","chunks":[[2],[3,2,0]],"dask":[[[0,0],"n/pt0000"],[[0,1],"n/pt0001"],[[0,2],"n/pt0002"]]})";
  ASSERT_TRUE(oa::parse_chunked_metadata(good, "m")) << oa::parse_chunked_metadata(good, "m").error().message;
  struct bad_case {
    const char* json;
    const char* says;
  };
  for (const auto& c : std::vector<bad_case>{
           {R"({"shape":[2,5],"dtype":"<i4","chunks":[[2],[3,1]],"dask":[]})", "add up to 4"},
           {R"({"shape":[2,5],"dtype":"<i4","chunks":[[2],[3,2]],"dask":[[[0,0],"a"]]})", "1 parts listed"},
           {R"({"shape":[2,5],"dtype":"<i4","chunks":[[2],[3,2]],"dask":[[[0,0],"a"],[[0,0],"b"]]})",
            "two parts"},
           {R"({"shape":[2,5],"dtype":"<i4","chunks":[[2],[3,2]],"dask":[[[0,0],"a"],[[0,7],"b"]]})",
            "outside"},
           {R"({"shape":[2,5],"dtype":"<x9","chunks":[[2],[5]],"dask":[[[0,0],"a"]]})", "x9"},
           {R"({"shape":[2,5],"dtype":"<i4","chunks":[[2]],"dask":[]})", "one list per dimension"},
           {R"({"type":"csr"})", "a sparse matrix's metadata"},
           {R"({"shape":[2,5]})", "not cottoncandy's chunked"},
           {R"({"shape":[2,1],"dtype":"<i4","chunks":[[2],[18446744073709551615,2]],"dask":[]})", "overflow"},
       }) {
    auto r = oa::parse_chunked_metadata(c.json, "m");
    ASSERT_FALSE(r) << c.json;
    EXPECT_NE(r.error().message.find(c.says), std::string::npos) << r.error().message;
  }
}

oa::sparse_matrix csr_3x4() {
  oa::sparse_matrix m;
  m.format = "csr";
  m.rows = 3;
  m.cols = 4;
  auto vec = [](zarr::data_type t, std::vector<std::int32_t> v) {
    npy::array a;
    a.dtype = t;
    a.shape = {v.size()};
    a.data.resize(v.size() * 4);
    std::memcpy(a.data.data(), v.data(), a.data.size());
    return a;
  };
  m.arrays["data"] = vec(zarr::data_type::float32, {0, 0, 0});
  const float vals[] = {1.5f, -2.f, 8.f};
  std::memcpy(m.arrays["data"].data.data(), vals, 12);
  m.arrays["indices"] = vec(zarr::data_type::int32, {0, 3, 1});
  m.arrays["indptr"] = vec(zarr::data_type::int32, {0, 2, 2, 3});
  return m;
}

TEST_F(layouts, a_chunked_array_larger_than_memory_is_refused_before_any_allocation) {
  // Valid metadata for 2^40 x 2^30 doubles: the read is too_large, nothing is fetched or allocated.
  auto l = oa::parse_chunked_metadata(
      R"({"shape":[1099511627776,1073741824],"dtype":"<f8","chunks":[[1099511627776],[1073741824]],)"
      R"("dask":[[[0,0],"huge/pt0000"]]})",
      "m");
  ASSERT_TRUE(l) << l.error().message;
  std::uint64_t parts = 7;
  auto r = eng.run(oa::get_chunked(*st, *l, {}, 4, &parts));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::too_large);
  EXPECT_NE(r.error().message.find("huge"), std::string::npos) << r.error().message;
}

TEST_F(layouts, a_sparse_matrix_round_trips_through_the_store_and_through_an_npz) {
  const auto m = csr_3x4();
  ASSERT_TRUE(eng.run(oa::put_sparse(*st, "sp", m, oa::raw_put_options{})));
  auto back = eng.run(oa::get_sparse(*st, "sp"));
  ASSERT_TRUE(back && *back) << (back ? "none" : back.error().message);
  EXPECT_EQ((*back)->format, "csr");
  EXPECT_EQ((*back)->rows, 3u);
  EXPECT_TRUE((*back)->arrays.at("indptr").data == m.arrays.at("indptr").data);

  auto members = oa::to_npz(m);
  ASSERT_TRUE(members);
  const std::string path = "/tmp/sluice-layouts-" + std::to_string(::getpid()) + ".npz";
  ASSERT_TRUE(npy::write_npz(path, *members));
  auto read = npy::read_npz(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(read) << read.error().message;
  auto again = oa::from_npz(*read, "x");
  ASSERT_TRUE(again && *again);
  EXPECT_TRUE((*again)->arrays.at("data").data == m.arrays.at("data").data);
  EXPECT_EQ((*again)->cols, 4u);
  // Not a sparse matrix: nullopt.
  EXPECT_FALSE(*oa::from_npz({}, "x"));
}

TEST_F(layouts, sparse_arrays_that_contradict_each_other_are_refused) {
  auto m = csr_3x4();
  std::int32_t bad_ptr[] = {0, 2, 1, 3};
  std::memcpy(m.arrays["indptr"].data.data(), bad_ptr, 16);
  EXPECT_NE(oa::validate(m, "m").error().message.find("decreases"), std::string::npos);
  m = csr_3x4();
  std::int32_t bad_idx[] = {0, 4, 1};
  std::memcpy(m.arrays["indices"].data.data(), bad_idx, 12);
  EXPECT_NE(oa::validate(m, "m").error().message.find("outside"), std::string::npos);
  m = csr_3x4();
  m.rows = 4;
  EXPECT_NE(oa::validate(m, "m").error().message.find("indptr has 4 entries"), std::string::npos);
  m = csr_3x4();
  m.format = "bsr";
  EXPECT_EQ(oa::validate(m, "m").error().code, condition::unsupported);
  m = csr_3x4();
  m.arrays.erase("indices");
  auto r = eng.run(oa::put_sparse(*st, "nothing", m, oa::raw_put_options{}));
  ASSERT_FALSE(r);
  bool any = false;
  auto cb = [&](store::list_page& page) -> result<bool> {
    any = any || !page.entries.empty();
    return true;
  };
  ASSERT_TRUE(eng.run(st->list("nothing", store::list_all, cb)));
  EXPECT_FALSE(any);  // refused before anything was written
}

TEST_F(layouts, a_dictionary_round_trips_with_nested_keys_and_bad_names_are_refused) {
  std::map<std::string, npy::array> d = {{"a", counting({3})}, {"sub/b", counting({2, 2})}};
  ASSERT_TRUE(eng.run(oa::put_dict(*st, "d", d, oa::raw_put_options{}, 4)));
  auto back = eng.run(oa::get_dict(*st, "d", 4));
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_EQ(back->size(), 2u);
  EXPECT_TRUE(back->at("sub/b").data == d.at("sub/b").data);
  for (const char* bad : {"../x", "a//b", "/abs", "tail/"}) {
    std::map<std::string, npy::array> e = {{bad, counting({1})}};
    EXPECT_FALSE(eng.run(oa::put_dict(*st, "e", e, oa::raw_put_options{}, 1))) << bad;
  }
  auto none = eng.run(oa::get_dict(*st, "absent", 4));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, condition::not_found);
}

TEST(Npz, damaged_archives_are_clear_errors) {
  npy::npz_member m{"a", npy::bytes_scalar_npy("csr")};
  const std::string path = "/tmp/sluice-npz-" + std::to_string(::getpid()) + ".npz";
  ASSERT_TRUE(npy::write_npz(path, {m}));
  auto bytes = npy::read_bytes(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(bytes);
  auto ok = npy::parse_npz(*bytes, "x");
  ASSERT_TRUE(ok) << ok.error().message;
  ASSERT_EQ(ok->size(), 1u);
  EXPECT_EQ(*npy::read_bytes_scalar((*ok)[0].file, "x"), "csr");
  auto flipped = *bytes;
  flipped[40] ^= std::byte{1};  // inside the member's data: its CRC-32 no longer matches
  auto crc = npy::parse_npz(flipped, "x");
  ASSERT_FALSE(crc);
  EXPECT_EQ(crc.error().code, condition::integrity);
  auto cut = std::vector<std::byte>(bytes->begin(), bytes->begin() + 30);
  auto short_one = npy::parse_npz(cut, "x");
  ASSERT_FALSE(short_one);
  EXPECT_EQ(short_one.error().code, errc::corrupt_data);
  const std::string text = "not a zip at all, but long enough to look for an end record";
  EXPECT_FALSE(npy::parse_npz(std::as_bytes(std::span(text.data(), text.size())), "x"));
}

TEST(NpyFiles, a_reused_buffer_takes_each_whole_file_and_only_grows) {
  const std::string dir = "/tmp/sluice-read-into-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  auto file_of = [&](const std::string& name, std::size_t n) {
    std::vector<std::byte> bytes(n);
    for (std::size_t i = 0; i < n; ++i) bytes[i] = std::byte(static_cast<unsigned char>(i * 7 + n));
    EXPECT_TRUE(npy::write_bytes(dir + "/" + name, bytes));
    return bytes;
  };
  const auto big = file_of("big", 200000), small = file_of("small", 1000), none = file_of("empty", 0);
  std::vector<std::byte> held;
  auto n = npy::read_bytes_into(dir + "/big", held);
  ASSERT_TRUE(n) << n.error().message;
  ASSERT_EQ(*n, big.size());
  EXPECT_TRUE(std::equal(big.begin(), big.end(), held.begin()));
  const std::size_t grown = held.size();
  n = npy::read_bytes_into(dir + "/small", held);
  ASSERT_TRUE(n);
  ASSERT_EQ(*n, small.size());
  EXPECT_TRUE(std::equal(small.begin(), small.end(), held.begin()));
  EXPECT_EQ(held.size(), grown) << "the buffer shrank: the next large file would be zeroed again";
  n = npy::read_bytes_into(dir + "/empty", held);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
  auto whole = npy::read_bytes(dir + "/small");
  ASSERT_TRUE(whole);
  EXPECT_EQ(*whole, small);
  auto capped = npy::read_bytes_into(dir + "/small", held, small.size() - 1);
  ASSERT_FALSE(capped);
  EXPECT_EQ(capped.error().code, errc::too_large);
  n = npy::read_bytes_into(dir + "/small", held, small.size());
  ASSERT_TRUE(n) << "a file of exactly the limit is read";
  EXPECT_EQ(*n, small.size());
  auto missing = npy::read_bytes_into(dir + "/nothing", held);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, condition::not_found);
  auto directory = npy::read_bytes_into(dir, held);
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error().code, condition::invalid_argument);
  std::filesystem::remove_all(dir);
}

}  // namespace
