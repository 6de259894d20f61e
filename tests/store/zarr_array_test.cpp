// Zarr v3 arrays (sluice/zarr/array.hpp): zarr-python's arrays in
// tests/data/zarr-v3-fixtures read bit-exactly through the directory store
// (gzip, blosc, transpose, big-endian, ragged edges, sharding, fill values),
// round trips with selections on the memory store, and clear errors.
#include <sluice/engine/runtime/engine.hpp>
#include <sluice/store/file.hpp>
#include <sluice/store/memory.hpp>
#include <sluice/zarr/array.hpp>
#include <sluice/zarr/error.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

namespace {

using namespace sluice;
using namespace sluice::zarr;
namespace fs = std::filesystem;

const fs::path fixtures = fs::path(SLUICE_TESTDATA_DIR) / "zarr-v3-fixtures" / "data.zarr";

class ZarrArray : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::open_file_store(fixtures.string());
    ASSERT_TRUE(s) << s.error().describe();
    fixture_store_ = *s;
    mem_ = store::make_memory_store();
  }

  template <class T>
  std::vector<T> read_all(const std::shared_ptr<store::store>& st, const std::string& path) {
    auto a = eng_.run(array::open(st, path));
    EXPECT_TRUE(a) << path << ": " << a.error().describe();
    if (!a) return {};
    EXPECT_EQ(element_size(a->metadata().dtype), sizeof(T)) << path;
    auto shape = a->shape_of({});
    std::size_t n = 1;
    for (auto d : *shape) n *= static_cast<std::size_t>(d);
    std::vector<T> out(n);
    auto r = eng_.run(a->read({}, std::as_writable_bytes(std::span(out)), 4));
    EXPECT_TRUE(r) << path << ": " << r.error().describe();
    return out;
  }

  engine eng_{engine::options{1}};
  std::shared_ptr<store::store> fixture_store_;
  std::shared_ptr<store::store> mem_;
};

std::vector<std::int16_t> iota16(std::int16_t first, std::size_t n) {
  std::vector<std::int16_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

TEST_F(ZarrArray, every_numeric_array_zarr_python_wrote_reads_bit_exactly) {
  using i16 = std::vector<std::int16_t>;
  for (const char* name :
       {"1d.contiguous.gzip.i2", "1d.contiguous.blosc.i2", "1d.contiguous.raw.i2", "1d.chunked.i2",
        "1d.contiguous.compressed.sharded.i2", "1d.chunked.compressed.sharded.i2"})
    EXPECT_EQ(read_all<std::int16_t>(fixture_store_, name), (i16{1, 2, 3, 4})) << name;
  EXPECT_EQ(read_all<std::int16_t>(fixture_store_, "1d.chunked.ragged.i2"), (i16{1, 2, 3, 4, 5}));
  EXPECT_EQ(read_all<std::int16_t>(fixture_store_, "1d.chunked.filled.compressed.sharded.i2"),
            (i16{1, 2, 0, 0}));
  for (const char* name : {"2d.contiguous.i2", "2d.chunked.i2", "2d.contiguous.compressed.sharded.i2"})
    EXPECT_EQ(read_all<std::int16_t>(fixture_store_, name), (i16{1, 2, 3, 4})) << name;
  for (const char* name : {"2d.chunked.ragged.i2", "2d.chunked.ragged.compressed.sharded.i2"})
    EXPECT_EQ(read_all<std::int16_t>(fixture_store_, name), iota16(1, 9)) << name;
  EXPECT_EQ(read_all<std::int16_t>(fixture_store_, "2d.chunked.compressed.sharded.filled.i2"), iota16(0, 16));
  EXPECT_EQ(read_all<std::int16_t>(fixture_store_, "2d.chunked.compressed.sharded.i2"), iota16(1, 16));
  for (const char* name :
       {"3d.contiguous.i2", "3d.chunked.i2", "3d.chunked.mixed.i2.C", "3d.chunked.mixed.i2.F",
        "3d.contiguous.compressed.sharded.i2", "3d.chunked.mixed.compressed.sharded.i2"})
    EXPECT_EQ(read_all<std::int16_t>(fixture_store_, name), iota16(0, 27)) << name;
  EXPECT_EQ(read_all<std::int16_t>(fixture_store_, "3d.chunked.compressed.sharded.i2"), iota16(0, 64));
  for (const char* name : {"1d.contiguous.i4", "1d.contiguous.compressed.sharded.i4"})
    EXPECT_EQ(read_all<std::int32_t>(fixture_store_, name), (std::vector<std::int32_t>{1, 2, 3, 4})) << name;
  for (const char* name : {"1d.contiguous.u1", "1d.contiguous.compressed.sharded.u1"})
    EXPECT_EQ(read_all<std::uint8_t>(fixture_store_, name), (std::vector<std::uint8_t>{255, 0, 255, 0}))
        << name;
  for (const char* name :
       {"1d.contiguous.f4.le", "1d.contiguous.f4.be", "1d.contiguous.compressed.sharded.f4"})
    EXPECT_EQ(read_all<float>(fixture_store_, name), (std::vector<float>{-1000.5f, 0, 1000.5f, 0})) << name;
  for (const char* name : {"1d.contiguous.f8", "1d.contiguous.compressed.sharded.f8"})
    EXPECT_EQ(read_all<double>(fixture_store_, name), (std::vector<double>{1.5, 2.5, 3.5, 4.5})) << name;
  for (const char* name : {"1d.contiguous.b1", "1d.contiguous.compressed.sharded.b1"})
    EXPECT_EQ(read_all<std::uint8_t>(fixture_store_, name), (std::vector<std::uint8_t>{1, 0, 1, 0})) << name;
  // float16 bit patterns of -1000.5, 0, 1000.5, 0.
  EXPECT_EQ(read_all<std::uint16_t>(fixture_store_, "1d.contiguous.f2.le"),
            (std::vector<std::uint16_t>{0xE3D1, 0, 0x63D1, 0}));
  EXPECT_EQ(read_all<std::int16_t>(fixture_store_, "consolidated/nested/1d.i2"), (i16{10, 20, 30, 40}));
}

TEST_F(ZarrArray, arrays_sluice_cannot_read_are_refused_naming_why) {
  auto delta = eng_.run(array::open(fixture_store_, "1d.contiguous.delta.i4"));
  ASSERT_FALSE(delta);
  EXPECT_NE(delta.error().describe().find("numcodecs.delta"), std::string::npos) << delta.error().describe();
  auto text = eng_.run(array::open(fixture_store_, "1d.contiguous.string.vlen"));
  ASSERT_FALSE(text);
  EXPECT_NE(text.error().describe().find("string"), std::string::npos) << text.error().describe();
  auto none = eng_.run(array::open(fixture_store_, "no-such-array"));
  ASSERT_FALSE(none);
  EXPECT_TRUE(none.error().code == condition::not_found) << none.error().describe();
}

TEST_F(ZarrArray, selections_read_only_what_they_ask_for) {
  auto a = eng_.run(array::open(fixture_store_, "3d.chunked.mixed.i2.F"));
  ASSERT_TRUE(a) << a.error().describe();
  // [1, 0:3:2, 2] of arange(27).reshape(3,3,3): 9 + 0*3 + 2, 9 + 2*3 + 2.
  selection sel{slice::at(1), slice::range(0, 3, 2), slice::at(2)};
  EXPECT_EQ(*a->shape_of(sel), (std::vector<std::uint64_t>{2}));
  std::vector<std::int16_t> out(2);
  ASSERT_TRUE(eng_.run(a->read(sel, std::as_writable_bytes(std::span(out)), 2)));
  EXPECT_EQ(out, (std::vector<std::int16_t>{11, 17}));
  // Out of bounds, a zero step, a rank mismatch: clear errors naming the dimension.
  for (const selection& bad :
       {selection{slice::at(3), slice::all(), slice::all()},
        selection{slice::all(), slice::range(0, 4), slice::all()},
        selection{slice::all(), slice{0, 3, 0, false}, slice::all()}, selection{slice::all()}}) {
    auto r = eng_.run(a->read(bad, std::as_writable_bytes(std::span(out)), 1));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, sluice::errc::invalid_argument) << r.error().describe();
  }
}

array_metadata int32_array(std::vector<std::uint64_t> shape, std::vector<std::uint64_t> chunks,
                           std::vector<codec_spec> codecs) {
  array_metadata m;
  m.shape = std::move(shape);
  m.dtype = data_type::int32;
  m.chunk_grid.chunk_shape = std::move(chunks);
  m.fill = fill_value::zero(data_type::int32);
  m.codecs = std::move(codecs);
  return m;
}

codec_spec spec(std::string name, boost::json::object cfg = {}) {
  return {std::move(name), std::move(cfg), true};
}

TEST_F(ZarrArray, round_trips_with_every_codec_chain_and_strided_writes) {
  const std::vector<std::vector<codec_spec>> chains = {
      {spec("bytes", {{"endian", "little"}})},
      {spec("transpose", {{"order", boost::json::array{1, 0}}}), spec("bytes", {{"endian", "big"}}),
       spec("zstd", {{"level", 3}, {"checksum", true}}), spec("crc32c")},
      {spec("bytes", {{"endian", "little"}}), spec("gzip", {{"level", 1}})},
      {spec("bytes", {{"endian", "little"}}),
       spec("blosc", {{"cname", "zstd"}, {"clevel", 5}, {"shuffle", "shuffle"}, {"typesize", 4}})},
      {spec(
          "sharding_indexed",
          {{"chunk_shape", boost::json::array{2, 2}},
           {"codecs", boost::json::array{boost::json::object{{"name", "bytes"},
                                                             {"configuration", {{"endian", "little"}}}},
                                         boost::json::object{{"name", "zstd"}}}},
           {"index_codecs", boost::json::array{boost::json::object{{"name", "bytes"},
                                                                   {"configuration", {{"endian", "little"}}}},
                                               boost::json::object{{"name", "crc32c"}}}}})}};
  int n = 0;
  for (const auto& codecs : chains) {
    SCOPED_TRACE("chain " + std::to_string(n));
    const std::string path = "arr" + std::to_string(n++);
    auto a = eng_.run(array::create(mem_, path, int32_array({7, 5}, {4, 4}, codecs)));
    ASSERT_TRUE(a) << a.error().describe();
    std::vector<std::int32_t> all(35);
    std::iota(all.begin(), all.end(), 100);
    ASSERT_TRUE(eng_.run(a->write({}, std::as_bytes(std::span(all)), 3)));
    auto reopened = eng_.run(array::open(mem_, path));
    ASSERT_TRUE(reopened) << reopened.error().describe();
    std::vector<std::int32_t> back(35);
    ASSERT_TRUE(eng_.run(reopened->read({}, std::as_writable_bytes(std::span(back)), 3)));
    EXPECT_EQ(back, all);
    // A strided partial write (read-modify-write of the chunks it touches).
    selection sel{slice::range(1, 7, 3), slice::range(0, 5, 2)};  // rows 1, 4; columns 0, 2, 4
    std::vector<std::int32_t> patch{-1, -2, -3, -4, -5, -6};
    ASSERT_TRUE(eng_.run(a->write(sel, std::as_bytes(std::span(patch)), 2)));
    for (std::size_t i = 0; i < 6; ++i) all[(1 + 3 * (i / 3)) * 5 + 2 * (i % 3)] = patch[i];
    ASSERT_TRUE(eng_.run(reopened->read({}, std::as_writable_bytes(std::span(back)), 3)));
    EXPECT_EQ(back, all);
  }
}

TEST_F(ZarrArray, chunks_equal_to_the_fill_value_are_not_stored) {
  auto a =
      eng_.run(array::create(mem_, "sparse", int32_array({8}, {4}, {spec("bytes", {{"endian", "little"}})})));
  ASSERT_TRUE(a) << a.error().describe();
  std::vector<std::int32_t> v{0, 0, 0, 0, 1, 2, 3, 4};
  ASSERT_TRUE(eng_.run(a->write({}, std::as_bytes(std::span(v)), 2)));
  auto c0 = eng_.run(mem_->stat(a->chunk_key(std::vector<std::uint64_t>{0})));
  auto c1 = eng_.run(mem_->stat(a->chunk_key(std::vector<std::uint64_t>{1})));
  ASSERT_TRUE(c0 && c1);
  EXPECT_FALSE(c0->has_value()) << "an all-fill chunk was stored";
  EXPECT_TRUE(c1->has_value());
  EXPECT_EQ(a->chunk_key(std::vector<std::uint64_t>{1}), "sparse/c/1");
  // Writing the fill over a stored chunk removes it.
  std::vector<std::int32_t> zeros(4, 0);
  ASSERT_TRUE(eng_.run(a->write({slice::range(4, 8)}, std::as_bytes(std::span(zeros)), 1)));
  c1 = eng_.run(mem_->stat(a->chunk_key(std::vector<std::uint64_t>{1})));
  ASSERT_TRUE(c1);
  EXPECT_FALSE(c1->has_value());
}

TEST_F(ZarrArray, a_zero_dimensional_array_holds_one_value) {
  auto a =
      eng_.run(array::create(mem_, "scalar", int32_array({}, {}, {spec("bytes", {{"endian", "little"}})})));
  ASSERT_TRUE(a) << a.error().describe();
  std::int32_t v = 42, back = 0;
  ASSERT_TRUE(eng_.run(a->write({}, std::as_bytes(std::span(&v, 1)), 1)));
  ASSERT_TRUE(eng_.run(a->read({}, std::as_writable_bytes(std::span(&back, 1)), 1)));
  EXPECT_EQ(back, 42);
  EXPECT_EQ(a->chunk_key(std::vector<std::uint64_t>{}), "scalar/c");
}

// Found by fuzz_zarr_metadata: the codec factory's invalid_argument came back
// as it was, without the document and codec the message promises.
TEST_F(ZarrArray, a_codec_configuration_its_library_refuses_is_invalid_metadata_naming_the_codec) {
  auto a = eng_.run(array::create(
      mem_, "badcodec",
      int32_array({4}, {4}, {spec("bytes", {{"endian", "little"}}), spec("blosc", {{"cname", "zs{d"}})})));
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, zarr::errc::invalid_metadata) << a.error().describe();
  EXPECT_NE(a.error().message.find("badcodec/zarr.json: codecs[1] (blosc)"), std::string::npos)
      << a.error().describe();
  EXPECT_NE(a.error().message.find("zs{d"), std::string::npos) << a.error().describe();
}

TEST_F(ZarrArray, a_corrupt_chunk_is_a_clear_error_naming_it) {
  auto a = eng_.run(array::create(
      mem_, "broken", int32_array({4}, {4}, {spec("bytes", {{"endian", "little"}}), spec("zstd")})));
  ASSERT_TRUE(a) << a.error().describe();
  std::vector<std::int32_t> v{1, 2, 3, 4};
  ASSERT_TRUE(eng_.run(a->write({}, std::as_bytes(std::span(v)), 1)));
  const std::string key = a->chunk_key(std::vector<std::uint64_t>{0});
  std::vector<std::byte> junk(20, std::byte{0x5a});
  ASSERT_TRUE(eng_.run(mem_->write(key, junk)));
  auto r = eng_.run(a->read({}, std::as_writable_bytes(std::span(v)), 1));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().describe().find("broken/c/0"), std::string::npos) << r.error().describe();
}

}  // namespace

namespace {

// An outer bytes codec (after crc32c) must say how large its output is: gzip
// by its trailer's ISIZE, zstd by the frame's content size. A size read from
// stored bytes is never trusted past what the chunk could have been encoded to.
TEST_F(ZarrArray, outer_codecs_decode_by_their_recorded_size_and_a_lying_size_is_refused) {
  for (const char* outer : {"gzip", "zstd"}) {
    SCOPED_TRACE(outer);
    const std::string path = std::string("outer-") + outer;
    auto a = eng_.run(array::create(
        mem_, path,
        int32_array({10}, {10}, {spec("bytes", {{"endian", "little"}}), spec("crc32c"), spec(outer)})));
    ASSERT_TRUE(a) << a.error().describe();
    std::vector<std::int32_t> v(10);
    std::iota(v.begin(), v.end(), -3);
    ASSERT_TRUE(eng_.run(a->write({}, std::as_bytes(std::span(v)), 1)));
    std::vector<std::int32_t> back(10);
    auto r = eng_.run(a->read({}, std::as_writable_bytes(std::span(back)), 1));
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ(back, v);
  }
  const std::string gz_key = "outer-gzip/c/0";
  auto gz = eng_.run(mem_->read(gz_key));
  ASSERT_TRUE(gz && gz->state == store::read_state::value);
  std::vector<std::byte> lying(gz->bytes.span().begin(), gz->bytes.span().end());
  for (std::size_t i = lying.size() - 4; i < lying.size(); ++i)
    lying[i] = std::byte{0xff};  // ISIZE 4 GiB - 1
  ASSERT_TRUE(eng_.run(mem_->write(gz_key, lying)));
  auto a = eng_.run(array::open(mem_, "outer-gzip"));
  ASSERT_TRUE(a) << a.error().describe();
  std::vector<std::int32_t> back(10);
  auto r = eng_.run(a->read({}, std::as_writable_bytes(std::span(back)), 1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, sluice::errc::corrupt_data) << r.error().describe();
  // A zstd frame header declaring 2^40 bytes (single segment, 8-byte size, one empty raw block).
  std::vector<std::byte> huge;
  for (int b : {0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 0x01, 0x00, 0x00})
    huge.push_back(static_cast<std::byte>(b));
  ASSERT_TRUE(eng_.run(mem_->write("outer-zstd/c/0", huge)));
  auto z = eng_.run(array::open(mem_, "outer-zstd"));
  ASSERT_TRUE(z) << z.error().describe();
  r = eng_.run(z->read({}, std::as_writable_bytes(std::span(back)), 1));
  ASSERT_FALSE(r) << "a frame declaring a terabyte";
  EXPECT_EQ(r.error().code, sluice::errc::corrupt_data) << r.error().describe();
  EXPECT_NE(r.error().describe().find("declares 1099511627776 decoded bytes"), std::string::npos)
      << r.error().describe();
}

}  // namespace
