// Arrays sluice writes are read back identically by zarrita (zarrita.js, an independent Zarr v3
// reader pinned in tests/servers/package-lock.json): written with zarr::array on a local directory
// and on s3rver, then read whole by tests/interop/zarrita_read.mjs (from the directory with
// FileSystemStore, from s3rver over anonymous HTTP with FetchStore), and compared element by element
// with what went in. Covers bool, int8-64, uint8-64, float32/64; zstd and gzip; with and without
// sharding (index at the end with a CRC-32C, which zarrita skips); ragged edges; NaN and infinite
// fill values with chunks, inner chunks and shards never written; dimension names and attributes.
#include "s3_store_fixture.hpp"

#include <sluice/store/file.hpp>
#include <sluice/zarr/array.hpp>
#include <sluice/zarr/error.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

using namespace sluice;
using namespace sluice::testing;
namespace json = boost::json;

namespace {

enum class family { bool_, signed_, unsigned_, float_ };
enum class compressor { zstd, gzip };
enum class where { directory, s3rver };

const char* name_of(family f) {
  switch (f) {
    case family::bool_:
      return "bool";
    case family::signed_:
      return "signed";
    case family::unsigned_:
      return "unsigned";
    case family::float_:
      return "float";
  }
  return "?";
}

std::vector<zarr::data_type> types_of(family f) {
  using zarr::data_type;
  switch (f) {
    case family::bool_:
      return {data_type::bool_};
    case family::signed_:
      return {data_type::int8, data_type::int16, data_type::int32, data_type::int64};
    case family::unsigned_:
      return {data_type::uint8, data_type::uint16, data_type::uint32, data_type::uint64};
    case family::float_:
      return {data_type::float32, data_type::float64};
  }
  return {};
}

// ---- What sluice writes ------------------------------------------------------------------------

// The array -> bytes -> bytes chain: little-endian bytes, then zstd (level 3, with its checksum
// unless sharded, so both frame kinds are read) or gzip followed by crc32c.
std::vector<zarr::codec_spec> chunk_chain(compressor c, bool sharded) {
  std::vector<zarr::codec_spec> chain{{"bytes", {{"endian", "little"}}, true}};
  if (c == compressor::zstd) {
    chain.push_back({"zstd", {{"level", 3}, {"checksum", !sharded}}, true});
  } else {
    chain.push_back({"gzip", {{"level", 5}}, true});
    chain.push_back({"crc32c", {}, true});
  }
  return chain;
}

json::array as_json(const std::vector<zarr::codec_spec>& chain) {
  json::array out;
  for (auto& c : chain) {
    json::object e{{"name", c.name}};
    if (!c.configuration.empty()) e["configuration"] = c.configuration;
    out.push_back(std::move(e));
  }
  return out;
}

// An array of `shape` in chunks of `chunks`; with `shards`, the chunk grid is the shard shape and
// `chunks` are the inner chunks of sharding_indexed (index: bytes + crc32c, at the end).
zarr::array_metadata make_metadata(zarr::data_type t, std::vector<std::uint64_t> shape,
                                   std::vector<std::uint64_t> chunks,
                                   std::optional<std::vector<std::uint64_t>> shards, compressor c) {
  zarr::array_metadata m;
  m.shape = std::move(shape);
  m.dtype = t;
  m.fill = zarr::fill_value::zero(t);
  if (shards) {
    json::array inner;
    for (auto n : chunks) inner.push_back(static_cast<std::int64_t>(n));
    const std::vector<zarr::codec_spec> index{{"bytes", {{"endian", "little"}}, true}, {"crc32c", {}, true}};
    json::object cfg{{"chunk_shape", std::move(inner)},
                     {"codecs", as_json(chunk_chain(c, true))},
                     {"index_codecs", as_json(index)},
                     {"index_location", "end"}};
    m.codecs = {{"sharding_indexed", std::move(cfg), true}};
    m.chunk_grid.chunk_shape = *shards;
  } else {
    m.codecs = chunk_chain(c, false);
    m.chunk_grid.chunk_shape = std::move(chunks);
  }
  return m;
}

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

template <class T>
void put(std::vector<std::byte>& out, std::size_t i, T v) {
  std::memcpy(out.data() + i * sizeof(T), &v, sizeof(T));
}

template <class T>
T get(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// `n` elements of type `t` (native bytes): pseudo-random bit patterns (for floats: any value,
// subnormals and NaNs included), with the type's extremes and special values first.
std::vector<std::byte> test_values(zarr::data_type t, std::size_t n, std::uint64_t seed) {
  using zarr::data_type;
  const std::size_t size = zarr::element_size(t);
  std::vector<std::byte> out(n * size);
  std::uint64_t state = seed;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t bits = splitmix64(state);
    if (t == data_type::bool_) bits &= 1;
    std::memcpy(out.data() + i * size, &bits, size);  // little-endian host: the low bytes
  }
  auto specials = [&](auto... v) {
    std::size_t i = 0;
    ((i < n ? put(out, i++, v) : void()), ...);
  };
  switch (t) {
    case data_type::int8:
      specials(std::int8_t(-128), std::int8_t(127), std::int8_t(0), std::int8_t(-1));
      break;
    case data_type::int16:
      specials(std::int16_t(-32768), std::int16_t(32767), std::int16_t(0));
      break;
    case data_type::int32:
      specials(std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max(), 0);
      break;
    case data_type::int64:
      // Past 2^53: a reader that went through double would round these.
      specials(std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max(),
               std::int64_t(0), std::int64_t((1LL << 53) + 1), std::int64_t(-(1LL << 53) - 1));
      break;
    case data_type::uint8:
      specials(std::uint8_t(255), std::uint8_t(0));
      break;
    case data_type::uint16:
      specials(std::uint16_t(65535), std::uint16_t(0));
      break;
    case data_type::uint32:
      specials(std::numeric_limits<std::uint32_t>::max(), 0u);
      break;
    case data_type::uint64:
      specials(std::numeric_limits<std::uint64_t>::max(), std::uint64_t(0), (std::uint64_t(1) << 63) + 1);
      break;
    case data_type::float32: {
      using L = std::numeric_limits<float>;
      specials(-0.0f, L::infinity(), -L::infinity(), L::quiet_NaN(), L::denorm_min(), L::max(), L::lowest(),
               1.0f / 3.0f, -1000.5f);
      break;
    }
    case data_type::float64: {
      using L = std::numeric_limits<double>;
      specials(-0.0, L::infinity(), -L::infinity(), L::quiet_NaN(), L::denorm_min(), L::max(), L::lowest(),
               1.0 / 3.0, 0.1);
      break;
    }
    default:
      break;
  }
  return out;
}

// ---- What zarrita printed ----------------------------------------------------------------------

template <class T>
std::optional<T> number_from(std::string_view s) {
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

template <class F>
std::string float_mismatch(F want, const json::value& got) {
  if (!got.is_string()) return "not a string";
  const std::string_view s = got.as_string();
  if (std::isnan(want)) return s == "NaN" ? "" : "expected NaN";
  if (std::isinf(want)) return s == (want > 0 ? "Infinity" : "-Infinity") ? "" : "expected an infinity";
  if (want == 0 && std::signbit(want)) return s == "-0" ? "" : "expected -0";
  auto d = number_from<double>(s);
  if (!d) return "not a number";
  // JavaScript numbers are doubles; a float32 element is its exact double.
  return *d == static_cast<double>(want) && !std::signbit(*d) == !std::signbit(want) ? ""
                                                                                     : "a different value";
}

template <class I>
std::string integer_mismatch(I want, const json::value& got) {
  if (!got.is_string()) return "not a string";
  auto v = number_from<I>(got.as_string());
  if (!v) return "not an integer of this type";
  return *v == want ? "" : "a different value";
}

// Empty when `got` (zarrita's encoding of one element) is the element at `p` of type `t`; else why not.
std::string element_mismatch(zarr::data_type t, const std::byte* p, const json::value& got) {
  using zarr::data_type;
  switch (t) {
    case data_type::bool_:
      if (!got.is_bool()) return "not a bool";
      return got.as_bool() == (get<std::uint8_t>(p) != 0) ? "" : "a different value";
    case data_type::int8:
      return integer_mismatch(get<std::int8_t>(p), got);
    case data_type::int16:
      return integer_mismatch(get<std::int16_t>(p), got);
    case data_type::int32:
      return integer_mismatch(get<std::int32_t>(p), got);
    case data_type::int64:
      return integer_mismatch(get<std::int64_t>(p), got);
    case data_type::uint8:
      return integer_mismatch(get<std::uint8_t>(p), got);
    case data_type::uint16:
      return integer_mismatch(get<std::uint16_t>(p), got);
    case data_type::uint32:
      return integer_mismatch(get<std::uint32_t>(p), got);
    case data_type::uint64:
      return integer_mismatch(get<std::uint64_t>(p), got);
    case data_type::float32:
      return float_mismatch(get<float>(p), got);
    case data_type::float64:
      return float_mismatch(get<double>(p), got);
    default:
      return "a data type this test does not compare";
  }
}

// The element at `p` as text, for failure messages.
std::string element_text(zarr::data_type t, const std::byte* p) {
  auto v = zarr::fill_value::from_bytes(t, std::span(p, zarr::element_size(t)));
  if (!v) return "?";
  auto s = zarr::format_fill_value(t, *v);
  return s ? *s : "?";
}

json::array json_shape(const std::vector<std::uint64_t>& shape) {
  json::array a;
  for (auto n : shape) a.push_back(static_cast<std::int64_t>(n));  // as JSON.parse's integers read back
  return a;
}

// One array written by sluice and what zarrita must read from it.
struct written_array {
  std::string path;
  zarr::array_metadata meta;
  std::vector<std::byte> expected;  // every element, C order, native bytes
  // zarrita's read chunk shape: the inner chunks when sharded.
  std::vector<std::uint64_t> read_chunks;
};

// Checks zarrita's description of one array (an entry of zarrita_read.mjs's "arrays") against what
// sluice wrote: metadata as zarrita understood it, then every element.
void expect_same(const written_array& w, const json::value& got) {
  SCOPED_TRACE(w.path + " (" + std::string(zarr::name_of(w.meta.dtype)) + ")");
  ASSERT_TRUE(got.is_object()) << json::serialize(got);
  const auto& d = got.as_object();
  EXPECT_EQ(d.at("dtype"), json::value(zarr::name_of(w.meta.dtype)));
  EXPECT_EQ(d.at("shape"), json::value(json_shape(w.meta.shape)));
  EXPECT_EQ(d.at("result_shape"), json::value(json_shape(w.meta.shape)));
  EXPECT_EQ(d.at("chunks"), json::value(json_shape(w.read_chunks)));
  json::value dims = nullptr;
  if (w.meta.dimension_names) {
    json::array names;
    for (auto& n : *w.meta.dimension_names) names.push_back(n ? json::value(*n) : json::value(nullptr));
    dims = std::move(names);
  }
  EXPECT_EQ(d.at("dimension_names"), dims);
  EXPECT_EQ(d.at("attributes"), json::value(w.meta.attributes)) << json::serialize(d.at("attributes"));
  const std::string fill_mismatch =
      element_mismatch(w.meta.dtype, w.meta.fill.bytes().data(), d.at("fill_value"));
  EXPECT_EQ(fill_mismatch, "") << "fill value: zarrita " << json::serialize(d.at("fill_value")) << ", sluice "
                               << element_text(w.meta.dtype, w.meta.fill.bytes().data());

  const std::size_t size = zarr::element_size(w.meta.dtype);
  const std::size_t n = w.expected.size() / size;
  ASSERT_TRUE(d.at("values").is_array());
  const auto& values = d.at("values").as_array();
  ASSERT_EQ(values.size(), n);
  std::size_t wrong = 0;
  std::ostringstream first;
  for (std::size_t i = 0; i < n; ++i) {
    const std::byte* p = w.expected.data() + i * size;
    const std::string why = element_mismatch(w.meta.dtype, p, values[i]);
    if (why.empty()) continue;
    if (++wrong <= 8)
      first << "\n  [" << i << "] zarrita " << json::serialize(values[i]) << ", sluice wrote "
            << element_text(w.meta.dtype, p) << ": " << why;
  }
  EXPECT_EQ(wrong, 0u) << wrong << " of " << n << " elements differ; the first:" << first.str();
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// The node that runs zarrita: $SLUICE_NODE, else the one CMake found, else `node` on PATH.
std::string node_program() {
  if (const char* e = std::getenv("SLUICE_NODE"); e && *e) return e;
  const std::string configured = SLUICE_NODE;
  if (!configured.empty() && !configured.ends_with("-NOTFOUND")) return configured;
  return "node";
}

const std::string zarrita_script = std::string(SLUICE_SOURCE_DIR) + "/tests/interop/zarrita_read.mjs";

// Runs zarrita_read.mjs on `store` (a directory or an http URL) for `paths`; returns its "arrays"
// object, or records a failure (with what node printed) and returns nullopt.
std::optional<json::object> read_with_zarrita(const std::string& store,
                                              const std::vector<std::string>& paths) {
  std::vector<std::string> argv{node_program(), zarrita_script, store};
  argv.insert(argv.end(), paths.begin(), paths.end());
  auto r = run_command(argv, {}, "", std::chrono::minutes(2));
  if (r.exit_code != 0) {
    ADD_FAILURE() << "zarrita_read.mjs failed (exit " << r.exit_code << "; node and zarrita come from "
                  << "tools/install-deps.sh: `npm ci` in tests/servers):\n"
                  << r.err << r.out;
    return std::nullopt;
  }
  boost::system::error_code ec;
  auto doc = json::parse(r.out, ec);
  if (ec || !doc.is_object() || !doc.as_object().contains("arrays")) {
    ADD_FAILURE() << "zarrita_read.mjs printed no description: " << r.out << r.err;
    return std::nullopt;
  }
  return doc.as_object().at("arrays").as_object();
}

// ---- Where sluice writes -----------------------------------------------------------------------

// A store sluice writes to and the same place as zarrita opens it: a fresh local directory, or a
// fresh bucket on a fresh s3rver (the store under the prefix "tree/of values", so zarrita's URL
// carries a percent-encoded space).
class interop_store {
 public:
  explicit interop_store(where w) {
    if (w == where::directory) {
      dir_ = make_temp_dir("sluice-zarrita-");
      zarrita_store_ = dir_ + "/data.zarr";
      auto s = store::open_file_store(zarrita_store_);
      if (!s) throw std::runtime_error(s.error().describe());
      st_ = *s;
      eng_ = &own_engine_.emplace(engine::options{1});
    } else {
      server_.emplace();
      s3_.emplace(server_->server());
      st_ = s3_->fixture().s;
      eng_ = s3_->fixture().eng;
      // s3rver serves GET and HEAD without a signature at /BUCKET/KEY.
      zarrita_store_ = server_->server().endpoint_url + "/" + s3_->bucket() + "/tree/of%20values";
    }
  }
  // The stores go before the engines they run on, the bucket before its server.
  ~interop_store() {
    st_.reset();
    s3_.reset();
    server_.reset();
    own_engine_.reset();
    if (!dir_.empty()) remove_tree(dir_);
  }
  interop_store(const interop_store&) = delete;
  interop_store& operator=(const interop_store&) = delete;

  const std::shared_ptr<store::store>& st() const { return st_; }
  engine& eng() { return *eng_; }
  const std::string& zarrita_store() const { return zarrita_store_; }
  std::string log_tail() const { return server_ ? server_->log_tail() : std::string(); }

  // Creates the array and writes `in` over `box` (one [start, stop) per dimension; empty: the whole
  // array) with sluice.
  result<zarr::array> create(const std::string& path, const zarr::array_metadata& meta) {
    auto made = eng_->run(zarr::array::create(st_, path, meta));
    return made;
  }
  result<void> write(zarr::array& a, const zarr::selection& sel, const std::vector<std::byte>& in) {
    const std::span<const std::byte> bytes(in);
    return eng_->run(a.write(sel, bytes, 4));
  }
  // Whether `key` (relative to the store) holds a value.
  bool exists(const std::string& key) {
    auto s = eng_->run(st_->stat(key));
    EXPECT_TRUE(s) << key << ": " << s.error().describe();
    return s && s->has_value();
  }

 private:
  std::optional<s3rver_process> server_;
  std::optional<s3_store_fixture> s3_;
  std::optional<engine> own_engine_;
  std::string dir_;
  std::shared_ptr<store::store> st_;
  engine* eng_ = nullptr;
  std::string zarrita_store_;
};

// Writes `w.expected` as the whole array w.meta at w.path.
void write_whole(interop_store& s, const written_array& w) {
  auto a = s.create(w.path, w.meta);
  ASSERT_TRUE(a) << w.path << ": " << a.error().describe();
  const zarr::selection everything;
  auto r = s.write(*a, everything, w.expected);
  ASSERT_TRUE(r) << w.path << ": " << r.error().describe() << "\n" << s.log_tail();
}

// zarrita reads every array of `arrays` from `s`, each identical to what sluice wrote.
void expect_zarrita_reads(interop_store& s, const std::vector<written_array>& arrays) {
  std::vector<std::string> paths;
  for (auto& w : arrays) paths.push_back(w.path);
  auto got = read_with_zarrita(s.zarrita_store(), paths);
  ASSERT_TRUE(got.has_value()) << s.log_tail();
  for (auto& w : arrays) {
    ASSERT_TRUE(got->contains(w.path)) << w.path;
    expect_same(w, got->at(w.path));
  }
}

std::size_t element_count(const std::vector<std::uint64_t>& shape) {
  std::size_t n = 1;
  for (auto d : shape) n *= static_cast<std::size_t>(d);
  return n;
}

const char* name_of(where w) {
  return w == where::directory ? "directory" : "s3rver";
}
void PrintTo(where w, std::ostream* os) {
  *os << name_of(w);
}

// ---- Data types x codecs x sharding --------------------------------------------------------------

struct layout_case {
  family types;
  compressor codec;
  bool sharded;
  where at;
};

std::string layout_name(const layout_case& c) {
  return std::string(name_of(c.types)) + (c.codec == compressor::zstd ? "_zstd" : "_gzip_crc32c") +
         (c.sharded ? "_sharded_" : "_chunked_") + name_of(c.at);
}
std::string case_name(const ::testing::TestParamInfo<layout_case>& info) {
  return layout_name(info.param);
}
void PrintTo(const layout_case& c, std::ostream* os) {
  *os << layout_name(c);
}

class ZarritaInterop : public ::testing::TestWithParam<layout_case> {};

// 11 x 10 in chunks of 4 x 3 (ragged in both dimensions); sharded: shards of 8 x 6 holding 2 x 2
// inner chunks, the last shard in each dimension ragged too (shard (1, *) has an inner chunk wholly
// past the edge, which is not stored). Every element is written; one array per data type of the
// family.
TEST_P(ZarritaInterop, reads_every_element_sluice_wrote) {
  const auto& c = GetParam();
  interop_store s(c.at);
  const std::vector<std::uint64_t> shape{11, 10}, chunks{4, 3}, shards{8, 6};
  std::vector<written_array> arrays;
  std::uint64_t seed = 1;
  for (auto t : types_of(c.types)) {
    written_array w;
    w.path = std::string("g/") + std::string(zarr::name_of(t));
    w.meta = make_metadata(t, shape, chunks, c.sharded ? std::optional(shards) : std::nullopt, c.codec);
    w.expected = test_values(t, element_count(shape), seed++);
    w.read_chunks = chunks;
    write_whole(s, w);
    arrays.push_back(std::move(w));
  }
  if (::testing::Test::HasFatalFailure()) return;
  // The grid's last chunk (or shard) was stored: the ragged edge is really read from data.
  std::vector<std::uint64_t> last =
      c.sharded ? std::vector<std::uint64_t>{1, 1} : std::vector<std::uint64_t>{2, 3};
  EXPECT_TRUE(s.exists(arrays[0].path + "/" + arrays[0].meta.chunk_key.key(last)));
  expect_zarrita_reads(s, arrays);
}

std::vector<layout_case> layout_cases() {
  std::vector<layout_case> out;
  for (auto at : {where::directory, where::s3rver})
    for (auto f : {family::bool_, family::signed_, family::unsigned_, family::float_})
      for (auto codec : {compressor::zstd, compressor::gzip})
        for (bool sharded : {false, true}) out.push_back({f, codec, sharded, at});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Layouts, ZarritaInterop, ::testing::ValuesIn(layout_cases()), case_name);

// ---- Fill values, attributes, the installed reader -----------------------------------------------

class ZarritaInteropStore : public ::testing::TestWithParam<where> {};

std::string store_name(const ::testing::TestParamInfo<where>& info) {
  return name_of(info.param);
}

// A box of an array: [start, stop) per dimension.
struct box {
  std::vector<std::uint64_t> start, stop;
};

// Copies `in` (the box's elements, C order) into `whole` (the array's, C order).
void overlay(std::vector<std::byte>& whole, const std::vector<std::uint64_t>& shape, const box& b,
             const std::vector<std::byte>& in, std::size_t size) {
  const std::size_t rank = shape.size();
  std::vector<std::uint64_t> at = b.start;
  std::size_t k = 0;
  while (true) {
    std::size_t linear = 0;
    for (std::size_t d = 0; d < rank; ++d) linear = linear * shape[d] + at[d];
    std::memcpy(whole.data() + linear * size, in.data() + k * size, size);
    ++k;
    std::size_t d = rank;
    while (d > 0) {
      --d;
      if (++at[d] < b.stop[d]) break;
      at[d] = b.start[d];
      if (d == 0) return;
    }
    if (rank == 0) return;
  }
}

struct fill_case {
  std::string path;
  zarr::data_type type;
  const char* fill;  // zarr.json's form
  bool sharded;
  compressor codec;
};

// Arrays with chunks (plain) or inner chunks and whole shards (sharded) never written: zarrita must
// produce the fill value there, which for floats is given as "NaN", "Infinity" or "-Infinity". The
// array is 10 x 9 in chunks of 3 x 4 (shards of 6 x 8); sluice writes two boxes (one inside the
// first chunk, one at the ragged far corner), and one box of elements equal to the fill value
// covering a whole chunk, which sluice does not store either.
TEST_P(ZarritaInteropStore, fill_values_fill_what_was_never_written) {
  interop_store s(GetParam());
  using zarr::data_type;
  const std::vector<fill_case> cases{
      {"nan32", data_type::float32, "\"NaN\"", false, compressor::zstd},
      {"inf32", data_type::float32, "\"Infinity\"", true, compressor::gzip},
      {"neginf32", data_type::float32, "\"-Infinity\"", false, compressor::gzip},
      {"nan64", data_type::float64, "\"NaN\"", true, compressor::zstd},
      {"inf64", data_type::float64, "\"Infinity\"", false, compressor::zstd},
      {"neginf64", data_type::float64, "\"-Infinity\"", true, compressor::gzip},
      {"half64", data_type::float64, "-2.5", true, compressor::zstd},
      {"neg16", data_type::int16, "-7", false, compressor::gzip},
      {"big_u64", data_type::uint64, "1099511627776", true, compressor::zstd},
      {"neg_i64", data_type::int64, "-5", false, compressor::zstd},
      {"true_bool", data_type::bool_, "true", true, compressor::gzip},
  };
  const std::vector<std::uint64_t> shape{10, 9}, chunks{3, 4}, shards{6, 8};
  const std::vector<box> boxes{{{0, 1}, {2, 3}}, {{9, 8}, {10, 9}}};
  const box fill_box{{3, 4}, {6, 8}};  // chunk (1, 1) whole: inner chunk (1, 1) of shard (0, 0)
  std::vector<written_array> arrays;
  std::uint64_t seed = 100;
  for (const auto& fc : cases) {
    SCOPED_TRACE(fc.path);
    written_array w;
    w.path = fc.path;
    w.meta =
        make_metadata(fc.type, shape, chunks, fc.sharded ? std::optional(shards) : std::nullopt, fc.codec);
    auto fill = zarr::parse_fill_value(fc.type, fc.fill);
    ASSERT_TRUE(fill) << fill.error().describe();
    w.meta.fill = *fill;
    w.read_chunks = chunks;
    const std::size_t size = zarr::element_size(fc.type);
    for (std::size_t i = 0; i < element_count(shape); ++i)
      w.expected.insert(w.expected.end(), fill->bytes().begin(), fill->bytes().end());
    auto a = s.create(w.path, w.meta);
    ASSERT_TRUE(a) << a.error().describe();
    for (const auto& b : boxes) {
      const std::size_t n = static_cast<std::size_t>((b.stop[0] - b.start[0]) * (b.stop[1] - b.start[1]));
      auto values = test_values(fc.type, n, seed++);
      // Bools: false against the fill true, so the chunks these boxes touch are stored.
      if (fc.type == data_type::bool_)
        for (std::size_t i = 0; i < n; ++i) put(values, i, std::uint8_t(0));
      zarr::selection sel{zarr::slice::range(b.start[0], b.stop[0]),
                          zarr::slice::range(b.start[1], b.stop[1])};
      ASSERT_TRUE(s.write(*a, sel, values));
      overlay(w.expected, shape, b, values, size);
    }
    std::vector<std::byte> fills;
    for (int i = 0; i < 12; ++i) fills.insert(fills.end(), fill->bytes().begin(), fill->bytes().end());
    zarr::selection fill_sel{zarr::slice::range(fill_box.start[0], fill_box.stop[0]),
                             zarr::slice::range(fill_box.start[1], fill_box.stop[1])};
    ASSERT_TRUE(s.write(*a, fill_sel, fills));
    // Not stored: chunk (1, 1) (all fill) and chunk (1, 0) (never written); sharded, shard (1, 0)
    // (never written); shard (0, 0) holds inner chunk (0, 0) only, the others marked empty.
    const std::vector<std::uint64_t> c00{0, 0}, c11{1, 1}, c10{1, 0};
    EXPECT_TRUE(s.exists(w.path + "/" + w.meta.chunk_key.key(c00)));
    EXPECT_FALSE(s.exists(w.path + "/" + w.meta.chunk_key.key(c10)));
    if (!fc.sharded) {
      EXPECT_FALSE(s.exists(w.path + "/" + w.meta.chunk_key.key(c11)));
    }
    arrays.push_back(std::move(w));
  }
  expect_zarrita_reads(s, arrays);
}

// Dimension names (one of them null) and attributes of every JSON kind reach zarrita as written;
// a 3-d int32 array, and a 1-d one without names or attributes.
TEST_P(ZarritaInteropStore, dimension_names_and_attributes_are_read_as_written) {
  interop_store s(GetParam());
  written_array named;
  named.path = "era5.zarr/t2m";
  named.meta = make_metadata(zarr::data_type::int32, {5, 4, 3}, {2, 4, 2},
                             std::vector<std::uint64_t>{4, 4, 2}, compressor::zstd);
  named.meta.dimension_names = std::vector<std::optional<std::string>>{"time", "lat", std::nullopt};
  named.meta.attributes = json::object{
      {"units", "K"},
      {"scale_factor", 0.5},
      {"valid_range", json::array{-1, 40}},
      {"long_name", "température à 2 m ☃ \"quoted\"\n"},
      {"flags",
       json::object{{"ok", true}, {"missing", nullptr}, {"nested", json::array{json::array{}, 1.25}}}},
      {"empty", json::object{}},
  };
  named.expected = test_values(zarr::data_type::int32, 60, 7);
  named.read_chunks = {2, 4, 2};
  write_whole(s, named);
  written_array plain;
  plain.path = "era5.zarr/time";
  plain.meta = make_metadata(zarr::data_type::float64, {5}, {5}, std::nullopt, compressor::gzip);
  plain.expected = test_values(zarr::data_type::float64, 5, 8);
  plain.read_chunks = {5};
  write_whole(s, plain);
  if (HasFatalFailure()) return;
  expect_zarrita_reads(s, {named, plain});
}

INSTANTIATE_TEST_SUITE_P(Stores, ZarritaInteropStore, ::testing::Values(where::directory, where::s3rver),
                         store_name);

// The zarrita that node loads is the one tests/servers/package.json pins (a stale node_modules
// fails here, not as a puzzling difference elsewhere).
TEST(ZarritaInteropSetup, the_pinned_zarrita_runs) {
  boost::system::error_code ec;
  auto manifest = json::parse(read_text(std::string(SLUICE_SOURCE_DIR) + "/tests/servers/package.json"), ec);
  ASSERT_FALSE(ec) << "tests/servers/package.json";
  const json::value* pinned = nullptr;
  if (const auto* deps = manifest.is_object() ? manifest.as_object().if_contains("dependencies") : nullptr;
      deps && deps->is_object())
    pinned = deps->as_object().if_contains("zarrita");
  ASSERT_TRUE(pinned && pinned->is_string()) << "tests/servers/package.json pins no zarrita";
  const std::string dir = make_temp_dir("sluice-zarrita-setup-");
  auto st = store::open_file_store(dir);
  ASSERT_TRUE(st) << st.error().describe();
  engine eng{engine::options{1}};
  auto m = make_metadata(zarr::data_type::uint8, {3}, {2}, std::nullopt, compressor::zstd);
  const std::string root_path;
  auto a = eng.run(zarr::array::create(*st, root_path, m));
  ASSERT_TRUE(a) << a.error().describe();
  const std::vector<std::byte> values{std::byte{1}, std::byte{2}, std::byte{3}};
  const zarr::selection everything;
  const std::span<const std::byte> in(values);
  ASSERT_TRUE(eng.run(a->write(everything, in, 1)));
  auto r = run_command({node_program(), zarrita_script, dir, "/"}, {}, "", std::chrono::minutes(1));
  remove_tree(dir);
  ASSERT_EQ(r.exit_code, 0) << node_program() << " " << zarrita_script << ":\n" << r.err << r.out;
  auto doc = json::parse(r.out, ec);
  ASSERT_FALSE(ec || !doc.is_object()) << r.out;
  const auto& o = doc.as_object();
  EXPECT_EQ(o.at("zarrita"), *pinned) << "node_modules is stale: run tools/install-deps.sh";
  EXPECT_EQ(o.at("arrays").as_object().at("/").as_object().at("values"),
            json::value(json::array{"1", "2", "3"}));
}

// zarrita checks neither the shard index's CRC-32C nor much else: sluice must refuse damaged data
// that zarrita would return as numbers. A flipped index byte, a shard shorter than its index, a
// truncated chunk and an unparsable zarr.json are errors naming the object.
TEST(ZarritaInteropDamage, sluice_refuses_damaged_shards_chunks_and_metadata) {
  interop_store s(where::directory);
  const std::string root = s.zarrita_store();
  written_array sharded;
  sharded.path = "sharded";
  sharded.meta =
      make_metadata(zarr::data_type::int16, {8}, {2}, std::vector<std::uint64_t>{8}, compressor::zstd);
  sharded.expected = test_values(zarr::data_type::int16, 8, 3);
  write_whole(s, sharded);
  written_array plain;
  plain.path = "plain";
  plain.meta = make_metadata(zarr::data_type::float64, {8}, {8}, std::nullopt, compressor::zstd);
  plain.expected = test_values(zarr::data_type::float64, 8, 4);
  write_whole(s, plain);
  if (HasFatalFailure()) return;

  auto damage = [&](const std::string& key, auto change) {
    const std::string file = root + "/" + key;
    std::string bytes = read_text(file);
    ASSERT_FALSE(bytes.empty()) << file;
    change(bytes);
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  };
  // The error reading `path` whole, or nullopt (recorded as a failure) when the read succeeds.
  auto read_error = [&](const std::string& path) -> std::optional<error> {
    auto a = s.eng().run(zarr::array::open(s.st(), path));
    if (!a) return a.error();
    std::vector<std::byte> out(a->metadata().element_count() * zarr::element_size(a->metadata().dtype));
    const zarr::selection everything;
    const std::span<std::byte> into(out);
    auto r = s.eng().run(a->read(everything, into, 1));
    if (r) {
      ADD_FAILURE() << path << ": damaged, yet read";
      return std::nullopt;
    }
    return r.error();
  };
  const std::vector<std::uint64_t> first{0};
  const std::string shard_key = "sharded/" + sharded.meta.chunk_key.key(first);
  const std::string chunk_key = "plain/" + plain.meta.chunk_key.key(first);

  // An offset byte of the index (16 bytes per inner chunk and 4 of CRC-32C at the end).
  damage(shard_key, [](std::string& b) { b[b.size() - 4 - 16 * 4] ^= 0x01; });
  auto flipped = read_error("sharded");
  ASSERT_TRUE(flipped);
  EXPECT_EQ(flipped->code, sluice::errc::integrity_mismatch) << flipped->describe();
  EXPECT_NE(flipped->describe().find(shard_key), std::string::npos) << flipped->describe();

  damage(shard_key, [](std::string& b) { b.resize(10); });
  auto short_shard = read_error("sharded");
  ASSERT_TRUE(short_shard);
  EXPECT_EQ(short_shard->code, sluice::errc::corrupt_data) << short_shard->describe();
  EXPECT_NE(short_shard->describe().find("shorter than its index"), std::string::npos)
      << short_shard->describe();

  damage(chunk_key, [](std::string& b) { b.resize(b.size() / 2); });
  auto cut = read_error("plain");
  ASSERT_TRUE(cut);
  EXPECT_NE(cut->describe().find(chunk_key), std::string::npos) << cut->describe();

  damage("plain/zarr.json", [](std::string& b) { b.resize(b.size() - 1); });
  auto doc = read_error("plain");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->code, zarr::errc::invalid_metadata) << doc->describe();
  EXPECT_NE(doc->describe().find("plain/zarr.json"), std::string::npos) << doc->describe();
}

}  // namespace
