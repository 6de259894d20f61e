// Raw arrays as objects (sluice/object_array/raw.hpp) on the memory store: every core dtype and
// compression round trips with cottoncandy's metadata; objects laid out as cottoncandy may have
// written them (Fortran order, big-endian, the older gzip flag, gzip and zstd streams) read back in
// C order and native byte order; metadata that does not describe the bytes is a clear error.
#include <sluice/engine/codec/gzip.hpp>
#include <sluice/engine/runtime/engine.hpp>
#include <sluice/object_array/raw.hpp>
#include <sluice/store/file.hpp>
#include <sluice/store/memory.hpp>

#include <gtest/gtest.h>
#include <zstd.h>

#include <cstring>
#include <filesystem>
#include <numeric>

#include <unistd.h>

namespace {

using namespace sluice;
using object_array::compression;
namespace st = sluice::store;

// Elements 0, 1, 2, ... of `dtype` (bytes of the element index, little-endian, truncated or
// padded: distinct for every element of small arrays, whatever the type).
npy::array counting(zarr::data_type dtype, std::vector<std::uint64_t> shape) {
  npy::array a;
  a.dtype = dtype;
  a.shape = std::move(shape);
  std::uint64_t n = 1;
  for (auto d : a.shape) n *= d;
  const std::size_t size = zarr::element_size(dtype);
  a.data.resize(n * size);
  for (std::uint64_t k = 0; k < n; ++k) {
    const std::uint64_t v = dtype == zarr::data_type::bool_ ? k % 2 : k + 1;
    std::memcpy(a.data.data() + k * size, &v, std::min<std::size_t>(size, sizeof v));
  }
  return a;
}

class ObjectArrayRaw : public ::testing::Test {
 protected:
  engine eng_{engine::options{1}};
  std::shared_ptr<st::store> mem_ = st::make_memory_store();

  std::map<std::string, std::string> metadata_of(const std::string& key) {
    auto got = eng_.run(mem_->stat(key));
    EXPECT_TRUE(got && *got);
    return got && *got ? (*got)->metadata : std::map<std::string, std::string>{};
  }
  // Stores `bytes` under `key` with this metadata, as another tool would.
  void put_as_other_tool(const std::string& key, std::span<const std::byte> bytes,
                         std::map<std::string, std::string> metadata) {
    st::write_options w;
    w.metadata = std::move(metadata);
    ASSERT_TRUE(eng_.run(mem_->write(key, bytes, w)));
  }
};

TEST_F(ObjectArrayRaw, every_dtype_and_compression_round_trips_with_cottoncandys_metadata) {
  using zarr::data_type;
  const std::vector<std::pair<data_type, const char*>> types = {
      {data_type::bool_, "|b1"},     {data_type::int8, "|i1"},       {data_type::int16, "<i2"},
      {data_type::int32, "<i4"},     {data_type::int64, "<i8"},      {data_type::uint8, "|u1"},
      {data_type::uint16, "<u2"},    {data_type::uint32, "<u4"},     {data_type::uint64, "<u8"},
      {data_type::float16, "<f2"},   {data_type::float32, "<f4"},    {data_type::float64, "<f8"},
      {data_type::complex64, "<c8"}, {data_type::complex128, "<c16"}};
  for (const auto& [dtype, descr] : types) {
    for (compression c : {compression::none, compression::gzip, compression::zstd}) {
      const std::string key =
          std::string("a/") + descr + "/" + std::string(object_array::compression_name(c));
      SCOPED_TRACE(key);
      const npy::array a = counting(dtype, {3, 5, 7});
      object_array::raw_put_options o;
      o.codec = c;
      o.metadata["units"] = "K";
      ASSERT_TRUE(eng_.run(object_array::put_raw(*mem_, key, a, o)));
      auto md = metadata_of(key);
      EXPECT_EQ(md["dtype"], descr);
      EXPECT_EQ(md["shape"], "3,5,7");
      EXPECT_EQ(md["order"], "C");
      EXPECT_EQ(md["compression"], c == compression::none   ? "False"
                                   : c == compression::gzip ? "gzip"
                                                            : "Zstd");
      EXPECT_EQ(md["units"], "K") << "the caller's metadata is kept";
      auto stored = eng_.run(mem_->read(key));
      ASSERT_TRUE(stored);
      if (c == compression::none) {
        EXPECT_EQ(stored->bytes.size(), a.data.size()) << "the elements, nothing else";
      }
      auto back = eng_.run(object_array::get_raw(*mem_, key));
      ASSERT_TRUE(back) << back.error().describe();
      EXPECT_EQ(back->dtype, dtype);
      EXPECT_EQ(back->shape, a.shape);
      EXPECT_EQ(back->data, a.data);
    }
  }
  // 0-d and empty arrays.
  for (std::vector<std::uint64_t> shape : {std::vector<std::uint64_t>{}, std::vector<std::uint64_t>{0, 4}}) {
    const npy::array a = counting(data_type::float64, shape);
    object_array::raw_put_options o;
    o.codec = compression::zstd;
    ASSERT_TRUE(eng_.run(object_array::put_raw(*mem_, "edge", a, o)));
    EXPECT_EQ(metadata_of("edge")["shape"], shape.empty() ? "" : "0,4");
    auto back = eng_.run(object_array::get_raw(*mem_, "edge"));
    ASSERT_TRUE(back) << back.error().describe();
    EXPECT_EQ(back->shape, shape);
    EXPECT_EQ(back->data, a.data);
  }
}

TEST_F(ObjectArrayRaw, objects_in_fortran_order_big_endian_or_with_the_old_gzip_flag_read_in_c_order) {
  // A 2 x 3 int32 array [[1, 2, 3], [4, 5, 6]] stored big-endian in Fortran order: 1 4 2 5 3 6.
  std::vector<std::byte> fortran_big;
  for (std::uint32_t v : {1u, 4u, 2u, 5u, 3u, 6u})
    for (int b = 3; b >= 0; --b) fortran_big.push_back(std::byte(v >> (8 * b)));
  put_as_other_tool("f", fortran_big,
                    {{"dtype", ">i4"}, {"shape", "2,3"}, {"compression", "False"}, {"order", "F"}});
  auto a = eng_.run(object_array::get_raw(*mem_, "f"));
  ASSERT_TRUE(a) << a.error().describe();
  EXPECT_EQ(a->dtype, zarr::data_type::int32);
  ASSERT_EQ(a->shape, (std::vector<std::uint64_t>{2, 3}));
  std::vector<std::int32_t> values(6);
  std::memcpy(values.data(), a->data.data(), 24);
  EXPECT_EQ(values, (std::vector<std::int32_t>{1, 2, 3, 4, 5, 6}));

  // The same elements gzip-compressed, described by the older `gzip` flag and no order (C).
  const npy::array c_order = counting(zarr::data_type::int32, {2, 3});
  auto gz = codec::make_gzip_codec({6});
  ASSERT_TRUE(gz);
  std::vector<std::byte> packed((*gz)->max_encoded_size(c_order.data.size()));
  auto n = (*gz)->encode(c_order.data, packed, "test");
  ASSERT_TRUE(n);
  packed.resize(*n);
  put_as_other_tool("g", packed, {{"dtype", "<i4"}, {"shape", "2, 3"}, {"gzip", "True"}});
  a = eng_.run(object_array::get_raw(*mem_, "g"));
  ASSERT_TRUE(a) << a.error().describe();
  EXPECT_EQ(a->data, c_order.data);
  EXPECT_EQ(a->shape, (std::vector<std::uint64_t>{2, 3}));

  // Zstd written in any case, in a frame that does not record its content size (as a streaming
  // compressor may write it): read by the size dtype and shape give.
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), &ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_contentSizeFlag, 0);
  std::vector<std::byte> frame(ZSTD_compressBound(c_order.data.size()));
  const std::size_t fn =
      ZSTD_compress2(cctx.get(), frame.data(), frame.size(), c_order.data.data(), c_order.data.size());
  ASSERT_FALSE(ZSTD_isError(fn));
  frame.resize(fn);
  ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  put_as_other_tool("z", frame, {{"dtype", "<i4"}, {"shape", "6"}, {"compression", "zstd"}, {"order", "C"}});
  a = eng_.run(object_array::get_raw(*mem_, "z"));
  ASSERT_TRUE(a) << a.error().describe();
  EXPECT_EQ(a->data, c_order.data);
  EXPECT_EQ(a->shape, (std::vector<std::uint64_t>{6}));
}

TEST_F(ObjectArrayRaw, metadata_that_does_not_describe_the_bytes_is_a_clear_error_naming_the_object) {
  const std::vector<std::byte> twelve(12, std::byte{1});
  struct bad_case {
    const char* key;
    std::map<std::string, std::string> metadata;
    errc code;
    const char* says;
  };
  const std::vector<bad_case> cases = {
      {"no-meta", {}, errc::invalid_argument, "not a raw array"},
      {"no-shape", {{"dtype", "<f4"}}, errc::invalid_argument, "no 'shape'"},
      {"size", {{"dtype", "<f4"}, {"shape", "2,2"}}, errc::corrupt_data, "12 bytes stored"},
      {"shape-text",
       {{"dtype", "<f4"}, {"shape", "3;1"}},
       errc::invalid_argument,
       "not a list of dimensions"},
      {"overflow",
       {{"dtype", "<f8"}, {"shape", "4294967296,4294967296"}},
       errc::invalid_argument,
       "overflows"},
      {"dtype", {{"dtype", "<U3"}, {"shape", "1"}}, errc::unsupported, "'<U3'"},
      {"not-dtype", {{"dtype", "float"}, {"shape", "3"}}, errc::invalid_argument, "'float'"},
      {"lz4", {{"dtype", "<f4"}, {"shape", "3"}, {"compression", "LZ4"}}, errc::unsupported, "'LZ4'"},
      {"compression",
       {{"dtype", "<f4"}, {"shape", "3"}, {"compression", "yes"}},
       errc::invalid_argument,
       "'yes'"},
      {"order", {{"dtype", "<f4"}, {"shape", "3"}, {"order", "K"}}, errc::invalid_argument, "'K'"},
      {"huge",
       {{"dtype", "<f8"}, {"shape", "1000000,1000000"}, {"compression", "Zstd"}},
       errc::corrupt_data,
       "cannot decode to the 8000000000000 bytes"},
      {"gzip-bytes", {{"dtype", "<f4"}, {"shape", "3"}, {"compression", "gzip"}}, errc::corrupt_data, "gzip"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.key);
    put_as_other_tool(c.key, twelve, c.metadata);
    auto a = eng_.run(object_array::get_raw(*mem_, c.key));
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().code, c.code) << a.error().describe();
    EXPECT_NE(a.error().describe().find(c.says), std::string::npos) << a.error().describe();
    EXPECT_NE(a.error().describe().find(c.key), std::string::npos)
        << "names the object: " << a.error().describe();
  }
  // Metadata that the stored bytes could decode to, but larger than this machine's memory: too_large
  // before anything is allocated.
  const std::uint64_t memory =
      std::uint64_t(::sysconf(_SC_PHYS_PAGES)) * std::uint64_t(::sysconf(_SC_PAGE_SIZE));
  const std::vector<std::byte> enough(memory / 43690 + (std::size_t(1) << 20));
  put_as_other_tool("beyond-memory", enough,
                    {{"dtype", "|u1"}, {"shape", std::to_string(memory + 1)}, {"compression", "Zstd"}});
  auto beyond = eng_.run(object_array::get_raw(*mem_, "beyond-memory"));
  ASSERT_FALSE(beyond);
  EXPECT_EQ(beyond.error().code, errc::too_large) << beyond.error().describe();
  EXPECT_NE(beyond.error().describe().find("more than this machine's memory"), std::string::npos)
      << beyond.error().describe();

  auto missing = eng_.run(object_array::get_raw(*mem_, "nothing"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, condition::not_found);

  // Elements that do not match the shape are refused before anything is written.
  npy::array lying = counting(zarr::data_type::int16, {4});
  lying.data.pop_back();
  auto w = eng_.run(object_array::put_raw(*mem_, "lying", lying, {}));
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, errc::invalid_argument);
  EXPECT_FALSE(eng_.run(mem_->stat("lying")).value());
}

TEST_F(ObjectArrayRaw, a_store_without_user_metadata_is_refused_by_name) {
  const auto dir = std::filesystem::temp_directory_path() / ("sluice-raw-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto files = st::open_file_store(dir.string());
  ASSERT_TRUE(files) << files.error().describe();
  auto w = eng_.run(object_array::put_raw(**files, "a", counting(zarr::data_type::uint8, {4}), {}));
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, errc::unsupported);
  EXPECT_NE(w.error().describe().find("user metadata"), std::string::npos) << w.error().describe();
}

}  // namespace
