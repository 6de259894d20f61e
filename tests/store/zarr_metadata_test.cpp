// Zarr v3 metadata (sluice/zarr/metadata.hpp): zarr-python's documents in
// tests/data/zarr-v3-fixtures, write -> parse round trips of every data type
// and fill value form, chunk keys, must_understand, and one clear error per
// kind of broken document.
#include <sluice/zarr/metadata.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace sluice;
using namespace sluice::zarr;
using sluice::zarr::errc;  // not sluice::errc
namespace fs = std::filesystem;

const fs::path fixtures = fs::path(SLUICE_TESTDATA_DIR) / "zarr-v3-fixtures" / "data.zarr";

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The fixture's zarr.json of `node` ("" for the root), parsed.
template <class T>
T fixture(const std::string& node) {
  const fs::path p = node.empty() ? fixtures / "zarr.json" : fixtures / node / "zarr.json";
  auto r = parse_metadata(read_text(p), p.string());
  EXPECT_TRUE(r) << r.error().describe();
  if (!r) return T{};
  EXPECT_TRUE(std::holds_alternative<T>(*r)) << node;
  return std::holds_alternative<T>(*r) ? std::get<T>(*r) : T{};
}

std::vector<std::string> codec_names(const std::vector<codec_spec>& codecs) {
  std::vector<std::string> out;
  for (const auto& c : codecs) out.push_back(c.name);
  return out;
}

std::vector<std::byte> le_bytes(std::uint64_t v, std::size_t n) {
  std::vector<std::byte> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
  return out;
}

std::vector<std::byte> bytes_of(const fill_value& v) {
  return {v.bytes().begin(), v.bytes().end()};
}

// An array document with every required field; `set` replaces or adds fields
// (raw JSON values), `drop` removes them.
std::string array_doc(const std::vector<std::pair<std::string, std::string>>& set = {},
                      std::initializer_list<std::string> drop = {}) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"zarr_format", "3"},
      {"node_type", "\"array\""},
      {"shape", "[10, 20]"},
      {"data_type", "\"int16\""},
      {"chunk_grid", R"({"name": "regular", "configuration": {"chunk_shape": [5, 5]}})"},
      {"chunk_key_encoding", R"({"name": "default", "configuration": {"separator": "/"}})"},
      {"fill_value", "0"},
      {"codecs", R"([{"name": "bytes", "configuration": {"endian": "little"}}])"},
      {"attributes", "{}"},
  };
  for (const auto& [k, v] : set) {
    auto it = std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == k; });
    if (it != fields.end())
      it->second = v;
    else
      fields.emplace_back(k, v);
  }
  std::string out = "{";
  for (const auto& [k, v] : fields) {
    if (std::find(drop.begin(), drop.end(), k) != drop.end()) continue;
    if (out.size() > 1) out += ", ";
    out += "\"" + k + "\": " + v;
  }
  return out + "}";
}

// The error of `r` is `code` and its message names every one of `parts`.
template <class T>
void expect_error(const result<T>& r, errc code, std::initializer_list<std::string_view> parts) {
  ASSERT_FALSE(r) << "expected an error naming " << *parts.begin();
  EXPECT_EQ(r.error().code, make_error_code(code)) << r.error().describe();
  for (auto part : parts)
    EXPECT_NE(r.error().message.find(part), std::string::npos)
        << "'" << part << "' missing from: " << r.error().message;
}

array_metadata parse_array_ok(const std::string& doc) {
  auto r = parse_array_metadata(doc, "t/zarr.json");
  EXPECT_TRUE(r) << r.error().describe() << "\n" << doc;
  return r ? *r : array_metadata{};
}

// write -> parse gives the model back, and writing that again gives the same text.
template <class M>
void expect_round_trip(const M& m) {
  auto text = write_metadata(m, "rt/zarr.json");
  ASSERT_TRUE(text) << text.error().describe();
  auto back = parse_metadata(*text, "rt/zarr.json");
  ASSERT_TRUE(back) << back.error().describe() << "\n" << *text;
  ASSERT_TRUE(std::holds_alternative<M>(*back));
  EXPECT_TRUE(std::get<M>(*back) == m) << *text;
  auto again = write_metadata(std::get<M>(*back), "rt/zarr.json");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *text);
}

// --- the fixture store (zarr-python 3.1) ---------------------------------------------------------------

TEST(ZarrMetadata, every_fixture_document_parses_or_is_refused_naming_why) {
  ASSERT_TRUE(fs::is_directory(fixtures)) << fixtures;
  int arrays = 0, groups = 0, strings = 0, deltas = 0;
  for (const auto& entry : fs::recursive_directory_iterator(fixtures)) {
    if (entry.path().filename() != "zarr.json") continue;
    const std::string path = fs::relative(entry.path(), fixtures).string();
    auto r = parse_metadata(read_text(entry.path()), path);
    if (path.find("string") != std::string::npos) {
      expect_error(r, errc::unsupported, {path, "data_type", "'string'"});
      ++strings;
    } else if (path.find("delta") != std::string::npos) {
      expect_error(r, errc::unsupported, {path, "codecs[", "'numcodecs.delta'"});
      ++deltas;
    } else {
      ASSERT_TRUE(r) << r.error().describe();
      if (std::holds_alternative<array_metadata>(*r)) {
        ++arrays;
        expect_round_trip(std::get<array_metadata>(*r));
      } else {
        ++groups;
        expect_round_trip(std::get<group_metadata>(*r));
      }
    }
  }
  EXPECT_EQ(arrays, 37);
  EXPECT_EQ(groups, 4);  // the root, consolidated, consolidated/nested, "my group with spaces"
  EXPECT_EQ(strings, 6);
  EXPECT_EQ(deltas, 2);
}

TEST(ZarrMetadata, fixture_arrays_match_expected_md) {
  struct row {
    std::string name;
    data_type dtype;
    std::vector<std::uint64_t> shape, chunks;
    std::vector<std::string> codecs;
  };
  const std::vector<row> rows = {
      {"1d.contiguous.gzip.i2", data_type::int16, {4}, {4}, {"bytes", "gzip"}},
      {"1d.contiguous.blosc.i2", data_type::int16, {4}, {4}, {"bytes", "blosc"}},
      {"1d.contiguous.raw.i2", data_type::int16, {4}, {4}, {"bytes"}},
      {"1d.contiguous.i4", data_type::int32, {4}, {4}, {"bytes", "blosc"}},
      {"1d.contiguous.u1", data_type::uint8, {4}, {4}, {"bytes", "blosc"}},
      {"1d.contiguous.f2.le", data_type::float16, {4}, {4}, {"bytes", "blosc"}},
      {"1d.contiguous.f4.be", data_type::float32, {4}, {4}, {"bytes", "blosc"}},
      {"1d.contiguous.f8", data_type::float64, {4}, {4}, {"bytes", "blosc"}},
      {"1d.contiguous.b1", data_type::bool_, {4}, {4}, {"bytes", "blosc"}},
      {"1d.chunked.ragged.i2", data_type::int16, {5}, {2}, {"bytes", "blosc"}},
      {"2d.chunked.ragged.i2", data_type::int16, {3, 3}, {2, 2}, {"bytes", "blosc"}},
      {"3d.chunked.mixed.i2.F", data_type::int16, {3, 3, 3}, {3, 3, 1}, {"transpose", "bytes", "blosc"}},
      {"1d.chunked.compressed.sharded.i2", data_type::int16, {4}, {2}, {"sharding_indexed"}},
      {"3d.chunked.compressed.sharded.i2", data_type::int16, {4, 4, 4}, {2, 2, 2}, {"sharding_indexed"}},
      {"consolidated/nested/1d.i2", data_type::int16, {4}, {4}, {"bytes"}},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    const auto m = fixture<array_metadata>(r.name);
    EXPECT_EQ(m.dtype, r.dtype);
    EXPECT_EQ(m.shape, r.shape);
    EXPECT_EQ(m.chunk_grid.chunk_shape, r.chunks);
    EXPECT_EQ(codec_names(m.codecs), r.codecs);
    EXPECT_EQ(m.fill, fill_value::zero(r.dtype)) << "every fixture fills with 0 / 0.0 / false";
    EXPECT_EQ(m.chunk_key, (chunk_key_encoding{chunk_key_kind::default_, '/'}));
    EXPECT_TRUE(m.attributes.empty());
    EXPECT_FALSE(m.dimension_names);
  }

  const auto be = fixture<array_metadata>("1d.contiguous.f4.be");
  EXPECT_EQ(be.codecs[0].configuration.at("endian"), "big");
  EXPECT_EQ(be.codecs[1].configuration.at("cname"), "zstd");
  const auto b1 = fixture<array_metadata>("1d.contiguous.b1");
  EXPECT_TRUE(b1.codecs[0].configuration.empty()) << "bytes without endian is fine for one-byte bool";
  const auto f = fixture<array_metadata>("3d.chunked.mixed.i2.F");
  EXPECT_EQ(f.codecs[0].configuration.at("order"), (boost::json::array{2, 1, 0}));
  const auto shard = fixture<array_metadata>("2d.chunked.compressed.sharded.filled.i2");
  EXPECT_EQ(shard.chunk_grid.chunk_shape, (std::vector<std::uint64_t>{2, 2}));
  EXPECT_EQ(shard.codecs[0].configuration.at("chunk_shape"), (boost::json::array{1, 1}));
  EXPECT_EQ(shard.codecs[0].configuration.at("index_location"), "end");
  const auto ragged = fixture<array_metadata>("1d.chunked.ragged.i2");
  EXPECT_EQ(ragged.chunk_grid.grid_shape(ragged.shape), (std::vector<std::uint64_t>{3}));
  EXPECT_EQ(ragged.element_count(), 5u);
  EXPECT_EQ(ragged.chunk_element_count(), 2u);
}

TEST(ZarrMetadata, chunk_keys_name_the_fixture_chunk_files) {
  // Every chunk of these arrays is stored under the key the encoding gives,
  // except where zarr-python skipped a chunk that holds only the fill value:
  // 3d.chunked.i2's first chunk is arange(27)'s 0 alone.
  const std::map<std::string, std::string> skipped = {{"3d.chunked.i2", "c/0/0/0"}};
  for (const char* name :
       {"2d.chunked.i2", "3d.chunked.i2", "1d.chunked.ragged.i2", "3d.chunked.mixed.i2.C"}) {
    SCOPED_TRACE(name);
    const auto m = fixture<array_metadata>(name);
    const auto grid = m.chunk_grid.grid_shape(m.shape);
    std::vector<std::uint64_t> index(grid.size(), 0);
    int chunks = 0;
    while (true) {
      const std::string key = m.chunk_key.key(index);
      const bool stored = !(skipped.count(name) && skipped.at(name) == key);
      EXPECT_EQ(fs::is_regular_file(fixtures / name / key), stored) << key;
      ++chunks;
      std::size_t d = grid.size();
      while (d > 0 && ++index[d - 1] == grid[d - 1]) index[--d] = 0;
      if (d == 0) break;
    }
    EXPECT_GT(chunks, 1);
  }
  const auto filled = fixture<array_metadata>("1d.chunked.filled.compressed.sharded.i2");
  EXPECT_TRUE(fs::is_regular_file(fixtures / "1d.chunked.filled.compressed.sharded.i2" /
                                  filled.chunk_key.key(std::vector<std::uint64_t>{0})));
  EXPECT_FALSE(fs::exists(fixtures / "1d.chunked.filled.compressed.sharded.i2" /
                          filled.chunk_key.key(std::vector<std::uint64_t>{1})));
}

TEST(ZarrMetadata, fixture_groups_and_their_consolidated_metadata) {
  const auto root = fixture<group_metadata>("");
  EXPECT_TRUE(root.attributes.empty());
  EXPECT_FALSE(root.consolidated) << "\"consolidated_metadata\": null";
  EXPECT_EQ(fixture<group_metadata>("my group with spaces").attributes.at("description"),
            "A group with spaces in the name");

  const auto g = fixture<group_metadata>("consolidated");
  EXPECT_EQ(g.attributes.at("answer"), 42);
  ASSERT_TRUE(g.consolidated);
  std::vector<std::string> paths;
  for (const auto& n : g.consolidated->nodes) paths.push_back(n.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"1d.chunked.i2", "2d.contiguous.i2", "nested", "nested/1d.i2"}));

  // Each consolidated array is the array's own zarr.json.
  for (const char* p : {"1d.chunked.i2", "2d.contiguous.i2", "nested/1d.i2"}) {
    const auto* entry = g.consolidated->find(p);
    ASSERT_NE(entry, nullptr) << p;
    ASSERT_TRUE(std::holds_alternative<array_metadata>(entry->node)) << p;
    EXPECT_TRUE(std::get<array_metadata>(entry->node) ==
                fixture<array_metadata>(std::string("consolidated/") + p))
        << p;
  }
  const auto* nested = g.consolidated->find("nested");
  ASSERT_NE(nested, nullptr);
  const auto& nested_group = std::get<group_metadata>(nested->node);
  EXPECT_EQ(nested_group.attributes.at("description"), "A nested group");
  ASSERT_TRUE(nested_group.consolidated) << "zarr-python's marker";
  EXPECT_TRUE(nested_group.consolidated->nodes.empty());
  EXPECT_EQ(nested_group.attributes, fixture<group_metadata>("consolidated/nested").attributes);
  EXPECT_EQ(g.consolidated->find("missing"), nullptr);
}

// --- consolidated metadata written and read -------------------------------------------------------------

TEST(ZarrMetadata, consolidated_metadata_is_written_into_the_root_and_read_back) {
  group_metadata root;
  root.attributes["title"] = "survey";
  group_metadata sub;
  sub.attributes["level"] = 1;
  auto temperature = parse_array_ok(array_doc({{"dimension_names", R"(["y", "x"])"}}));
  auto depth =
      parse_array_ok(array_doc({{"data_type", "\"float32\""},
                                {"fill_value", "\"NaN\""},
                                {"codecs", R"([{"name": "bytes", "configuration": {"endian": "little"}},
                                                        {"name": "zstd", "configuration": {"level": 3}}])"}}));
  const auto consolidated =
      consolidate(root, {{"sub/depth", depth}, {"temperature", temperature}, {"sub", sub}});
  ASSERT_TRUE(consolidated.consolidated);
  const auto& nodes = consolidated.consolidated->nodes;
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[0].path, "sub");
  EXPECT_TRUE(std::get<group_metadata>(nodes[0].node).consolidated)
      << "a nested group gets zarr-python's marker";

  auto text = write_metadata(consolidated, "zarr.json");
  ASSERT_TRUE(text) << text.error().describe();
  EXPECT_NE(
      text->find(R"("consolidated_metadata":{"kind":"inline","must_understand":false,"metadata":{"sub":)"),
      std::string::npos)
      << *text;
  expect_round_trip(consolidated);

  auto back = parse_group_metadata(*text, "zarr.json");
  ASSERT_TRUE(back);
  const auto* d = back->consolidated->find("sub/depth");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(std::get<array_metadata>(d->node) == depth);
}

TEST(ZarrMetadata, an_unsupported_node_in_consolidated_metadata_does_not_close_the_group) {
  const fs::path string_array = fixtures / "1d.contiguous.string.vlen" / "zarr.json";
  const std::string doc =
      R"({"zarr_format": 3, "node_type": "group", "consolidated_metadata": {"kind": "inline",
      "must_understand": false, "metadata": {"words": )" +
      read_text(string_array) + R"(, "numbers": )" + array_doc() + "}}}";
  auto g = parse_group_metadata(doc, "root/zarr.json");
  ASSERT_TRUE(g) << g.error().describe();
  const auto* words = g->consolidated->find("words");
  ASSERT_NE(words, nullptr);
  const auto* u = std::get_if<unsupported_node>(&words->node);
  ASSERT_NE(u, nullptr);
  EXPECT_NE(u->reason.find("'string'"), std::string::npos) << u->reason;
  EXPECT_NE(u->reason.find("root/zarr.json: consolidated_metadata.metadata['words']"), std::string::npos)
      << u->reason;
  EXPECT_TRUE(std::holds_alternative<array_metadata>(g->consolidated->find("numbers")->node));
  expect_round_trip(*g);

  // Found by fuzz_zarr_metadata: a node that is unsupported (an unknown kind of
  // consolidated metadata) and also has an unknown member, written back with
  // its members sorted, became invalid and refused the whole group on re-read.
  const std::string unsupported_first =
      R"({"zarr_format": 3, "node_type": "group", "consolidated_metadata": {"kind": "inline",
      "must_understand": false, "metadata": {"nested": {"zarr_format": 3, "node_type": "group",
      "consolidated_metadata": {"kind": "other", "bad member": false, "metadata": {}}}}}})";
  auto kept = parse_group_metadata(unsupported_first, "root/zarr.json");
  ASSERT_TRUE(kept) << kept.error().describe();
  ASSERT_TRUE(std::holds_alternative<unsupported_node>(kept->consolidated->find("nested")->node));
  expect_round_trip(*kept);

  // An invalid node (not merely unsupported) refuses the whole document.
  const std::string broken =
      R"({"zarr_format": 3, "node_type": "group", "consolidated_metadata": {"kind": "inline",
      "must_understand": false, "metadata": {"bad": )" +
      array_doc({{"shape", "[-1]"}}) + "}}}";
  expect_error(parse_group_metadata(broken, "root/zarr.json"), errc::invalid_metadata,
               {"root/zarr.json: consolidated_metadata.metadata['bad']: shape[0]"});
}

TEST(ZarrMetadata, consolidated_paths_must_stay_below_the_group) {
  for (const char* p : {"../up", "a//b", "/abs", "a/./b", "trailing/", ""}) {
    const std::string doc = std::string(R"({"zarr_format": 3, "node_type": "group", "consolidated_metadata":
        {"kind": "inline", "must_understand": false, "metadata": {")") +
                            p + R"(": {"zarr_format": 3, "node_type": "group"}}}})";
    expect_error(parse_group_metadata(doc, "g/zarr.json"), errc::invalid_metadata,
                 {"g/zarr.json", "node path"});
  }
  group_metadata root = consolidate({}, {{"../x", group_metadata{}}});
  expect_error(write_metadata(root, "g/zarr.json"), errc::invalid_metadata, {"'../x'"});
  const std::string other_kind = R"({"zarr_format": 3, "node_type": "group", "consolidated_metadata":
      {"kind": "file", "must_understand": false, "metadata": {}}})";
  expect_error(parse_group_metadata(other_kind, "g/zarr.json"), errc::unsupported,
               {"consolidated_metadata.kind", "'file'"});
}

// --- data types and fill values -------------------------------------------------------------------------

TEST(ZarrMetadata, data_type_names_and_sizes_are_the_specs) {
  const std::map<std::string, std::size_t> expected = {
      {"bool", 1},    {"int8", 1},    {"int16", 2},     {"int32", 4},      {"int64", 8},
      {"uint8", 1},   {"uint16", 2},  {"uint32", 4},    {"uint64", 8},     {"float16", 2},
      {"float32", 4}, {"float64", 8}, {"complex64", 8}, {"complex128", 16}};
  ASSERT_EQ(all_data_types.size(), expected.size());
  for (auto t : all_data_types) {
    const std::string name(name_of(t));
    ASSERT_TRUE(expected.count(name)) << name;
    EXPECT_EQ(element_size(t), expected.at(name));
    EXPECT_EQ(data_type_named(name), t);
  }
  EXPECT_FALSE(data_type_named("string"));
  EXPECT_FALSE(data_type_named("r16"));
}

TEST(ZarrMetadata, every_data_type_round_trips_with_its_zero_and_a_value) {
  const std::vector<std::pair<data_type, std::string>> values = {
      {data_type::bool_, "true"},
      {data_type::int8, "-128"},
      {data_type::int16, "-32768"},
      {data_type::int32, "2147483647"},
      {data_type::int64, "-5"},
      {data_type::uint8, "255"},
      {data_type::uint16, "65535"},
      {data_type::uint32, "4294967295"},
      {data_type::uint64, "7"},
      {data_type::float16, "1000.5"},
      {data_type::float32, "-1000.5"},
      {data_type::float64, "1.5"},
      {data_type::complex64, "[1.5, -2]"},
      {data_type::complex128, "[0.25, 1e300]"},
  };
  for (const auto& [t, value] : values) {
    SCOPED_TRACE(name_of(t));
    const std::string endian = element_size(t) > 1 ? R"({"endian": "little"})" : "{}";
    for (const std::string& fill : {std::string(t == data_type::bool_ ? "false"
                                                : is_complex(t)       ? "[0, 0]"
                                                                      : "0"),
                                    value}) {
      auto m =
          parse_array_ok(array_doc({{"data_type", "\"" + std::string(name_of(t)) + "\""},
                                    {"fill_value", fill},
                                    {"codecs", R"([{"name": "bytes", "configuration": )" + endian + "}]"}}));
      EXPECT_EQ(m.dtype, t);
      EXPECT_EQ(m.fill.size(), element_size(t));
      expect_round_trip(m);
    }
  }
}

TEST(ZarrMetadata, fill_values_keep_their_exact_bits) {
  struct fill_case {
    data_type t;
    std::string json;
    std::vector<std::byte> bytes;
    std::string written;  // the canonical form
  };
  auto cat = [](std::vector<std::byte> a, const std::vector<std::byte>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  const std::vector<fill_case> cases = {
      {data_type::float32, R"("NaN")", le_bytes(0x7fc00000, 4), R"("NaN")"},
      {data_type::float16, R"("NaN")", le_bytes(0x7e00, 2), R"("NaN")"},
      {data_type::float64, R"("NaN")", le_bytes(0x7ff8000000000000, 8), R"("NaN")"},
      {data_type::float64, R"("Infinity")", le_bytes(0x7ff0000000000000, 8), R"("Infinity")"},
      {data_type::float32, R"("-Infinity")", le_bytes(0xff800000, 4), R"("-Infinity")"},
      {data_type::float16, R"("-Infinity")", le_bytes(0xfc00, 2), R"("-Infinity")"},
      {data_type::float32, R"("0x7fc00000")", le_bytes(0x7fc00000, 4), R"("NaN")"},
      {data_type::float32, R"("0x7fc00001")", le_bytes(0x7fc00001, 4), R"("0x7fc00001")"},
      {data_type::float32, R"("0xFFC00000")", le_bytes(0xffc00000, 4), R"("0xffc00000")"},
      {data_type::float64, R"("0x7ff0000000000001")", le_bytes(0x7ff0000000000001, 8),
       R"("0x7ff0000000000001")"},
      {data_type::float16, R"("0x7c01")", le_bytes(0x7c01, 2), R"("0x7c01")"},
      {data_type::float32, R"("0x3f800000")", le_bytes(0x3f800000, 4), "1"},  // a hex pattern of a number
      {data_type::float64, "-0.0", le_bytes(0x8000000000000000, 8), "-0E0"},
      {data_type::float32, "0.1", le_bytes(std::bit_cast<std::uint32_t>(0.1f), 4), "1.0000000149011612E-1"},
      {data_type::float16, "1000.5", le_bytes(0x63d1, 2), "1.0005E3"},
      {data_type::float16, "65504", le_bytes(0x7bff, 2), "65504"},
      {data_type::float16, "1e-8", le_bytes(0x0000, 2), "0"},  // below half the smallest subnormal
      {data_type::float16, "6e-8", le_bytes(0x0001, 2), "5.960464477539063E-8"},
      {data_type::float64, "1e300", le_bytes(std::bit_cast<std::uint64_t>(1e300), 8), "1E300"},
      {data_type::int64, "-9223372036854775808", le_bytes(0x8000000000000000, 8), "-9223372036854775808"},
      {data_type::int64, "9223372036854775807", le_bytes(0x7fffffffffffffff, 8), "9223372036854775807"},
      {data_type::uint64, "18446744073709551615", le_bytes(0xffffffffffffffff, 8), "18446744073709551615"},
      {data_type::uint64, "9007199254740993", le_bytes(9007199254740993ull, 8), "9007199254740993"},
      {data_type::int8, "-1", le_bytes(0xff, 1), "-1"},
      {data_type::int16, "-2", le_bytes(0xfffe, 2), "-2"},
      {data_type::bool_, "true", le_bytes(1, 1), "true"},
      {data_type::complex64, R"([1, "NaN"])", cat(le_bytes(0x3f800000, 4), le_bytes(0x7fc00000, 4)),
       R"([1,"NaN"])"},
      {data_type::complex128, R"(["-Infinity", "0x7ff8000000000001"])",
       cat(le_bytes(0xfff0000000000000, 8), le_bytes(0x7ff8000000000001, 8)),
       R"(["-Infinity","0x7ff8000000000001"])"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(name_of(c.t)) + " " + c.json);
    auto v = parse_fill_value(c.t, c.json);
    ASSERT_TRUE(v) << v.error().describe();
    EXPECT_EQ(bytes_of(*v), c.bytes);
    auto text = format_fill_value(c.t, *v);
    ASSERT_TRUE(text);
    EXPECT_EQ(*text, c.written);
    auto again = parse_fill_value(c.t, *text);
    ASSERT_TRUE(again) << again.error().describe();
    EXPECT_EQ(*again, *v) << "the written form reads back to the same bits";

    // And through a whole document.
    const std::string endian = element_size(c.t) > 1 ? R"({"endian": "big"})" : "{}";
    auto m =
        parse_array_ok(array_doc({{"data_type", "\"" + std::string(name_of(c.t)) + "\""},
                                  {"fill_value", c.json},
                                  {"codecs", R"([{"name": "bytes", "configuration": )" + endian + "}]"}}));
    EXPECT_EQ(bytes_of(m.fill), c.bytes);
    expect_round_trip(m);
  }
}

TEST(ZarrMetadata, fill_values_outside_the_rules_are_refused_naming_the_rule) {
  struct bad {
    data_type t;
    std::string json;
    std::string says;
  };
  const std::vector<bad> cases = {
      {data_type::int16, "32768", "out of int16's range"},
      {data_type::int8, "-129", "out of int8's range"},
      {data_type::uint8, "-1", "out of uint8's range"},
      {data_type::int64, "9223372036854775808", "out of int64's range"},
      {data_type::int32, "1.0", "without fraction or exponent"},
      {data_type::int32, "1e3", "without fraction or exponent"},
      {data_type::int32, R"("7")", "got a string"},
      {data_type::bool_, "0", "true or false"},
      {data_type::float32, "1e39", "out of float32's range"},
      {data_type::float16, "65520", "out of float16's range"},
      {data_type::float32, R"("nan")", "\"NaN\""},
      {data_type::float32, R"("0x7fc000001")", "not a bit pattern"},
      {data_type::float32, R"("0x")", "not a bit pattern"},
      {data_type::float32, R"("0xzz")", "not a bit pattern"},
      {data_type::float64, "null", "got null"},
      {data_type::complex64, "1.5", "two-element array"},
      {data_type::complex64, "[1, 2, 3]", "two-element array"},
      {data_type::complex128, R"([1, "x"])", "fill_value[1]"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(name_of(c.t)) + " " + c.json);
    expect_error(parse_fill_value(c.t, c.json), errc::invalid_metadata, {"fill_value", c.says});
    expect_error(parse_array_metadata(
                     array_doc({{"data_type", "\"" + std::string(name_of(c.t)) + "\""},
                                {"fill_value", c.json},
                                {"codecs", R"([{"name": "bytes", "configuration": {"endian": "little"}}])"}}),
                     "t/zarr.json"),
                 errc::invalid_metadata, {"t/zarr.json: fill_value", c.says});
  }
  // Beyond what JSON numbers simdjson reads (uint64, double): not valid JSON.
  expect_error(parse_fill_value(data_type::uint64, "18446744073709551616"), errc::invalid_metadata,
               {"not valid JSON"});
}

TEST(ZarrMetadata, a_fill_value_model_must_fit_its_data_type) {
  auto m = parse_array_ok(array_doc());
  m.fill = fill_value::zero(data_type::int32);
  expect_error(write_metadata(m, "w/zarr.json"), errc::invalid_metadata,
               {"w/zarr.json: fill_value", "int16"});
  EXPECT_FALSE(fill_value::from_bytes(data_type::int16, le_bytes(1, 4)));
  EXPECT_FALSE(fill_value::from_bytes(data_type::bool_, le_bytes(2, 1)));
  auto one = fill_value::from_bytes(data_type::int16, le_bytes(1, 2));
  ASSERT_TRUE(one);
  EXPECT_EQ(format_fill_value(data_type::int16, *one).value(), "1");
  EXPECT_FALSE(format_fill_value(data_type::int32, *one));
}

// --- chunk grid and keys --------------------------------------------------------------------------------

TEST(ZarrMetadata, chunk_keys_for_each_encoding) {
  const std::vector<std::uint64_t> index = {1, 23, 45}, none = {};
  EXPECT_EQ((chunk_key_encoding{chunk_key_kind::default_, '/'}).key(index), "c/1/23/45");
  EXPECT_EQ((chunk_key_encoding{chunk_key_kind::default_, '.'}).key(index), "c.1.23.45");
  EXPECT_EQ((chunk_key_encoding{chunk_key_kind::default_, '/'}).key(none), "c");
  EXPECT_EQ((chunk_key_encoding{chunk_key_kind::default_, '.'}).key(none), "c");
  EXPECT_EQ((chunk_key_encoding{chunk_key_kind::v2, '.'}).key(index), "1.23.45");
  EXPECT_EQ((chunk_key_encoding{chunk_key_kind::v2, '/'}).key(index), "1/23/45");
  EXPECT_EQ((chunk_key_encoding{chunk_key_kind::v2, '.'}).key(none), "0");
  EXPECT_EQ((chunk_key_encoding{chunk_key_kind::v2, '.'}).key(std::vector<std::uint64_t>{7}), "7");
}

TEST(ZarrMetadata, chunk_key_encodings_are_read_with_the_spec_defaults) {
  const std::vector<std::pair<std::string, chunk_key_encoding>> cases = {
      {R"({"name": "default"})", {chunk_key_kind::default_, '/'}},
      {R"("default")", {chunk_key_kind::default_, '/'}},
      {R"({"name": "default", "configuration": {"separator": "."}})", {chunk_key_kind::default_, '.'}},
      {R"({"name": "v2"})", {chunk_key_kind::v2, '.'}},
      {R"({"name": "v2", "configuration": {"separator": "/"}})", {chunk_key_kind::v2, '/'}},
  };
  for (const auto& [json, expected] : cases) {
    SCOPED_TRACE(json);
    auto m = parse_array_ok(array_doc({{"chunk_key_encoding", json}}));
    EXPECT_EQ(m.chunk_key, expected);
    expect_round_trip(m);
  }
  expect_error(
      parse_array_metadata(
          array_doc({{"chunk_key_encoding", R"({"name": "v2", "configuration": {"separator": "-"}})"}}),
          "t/zarr.json"),
      errc::invalid_metadata, {"chunk_key_encoding.configuration.separator"});
  expect_error(parse_array_metadata(
                   array_doc({{"chunk_key_encoding", R"({"name": "morton", "must_understand": false})"}}),
                   "t/zarr.json"),
               errc::unsupported, {"chunk_key_encoding", "'morton'"});
}

TEST(ZarrMetadata, zero_dimensional_arrays_have_one_chunk) {
  auto m = parse_array_ok(
      array_doc({{"shape", "[]"},
                 {"chunk_grid", R"({"name": "regular", "configuration": {"chunk_shape": []}})"},
                 {"data_type", "\"float64\""},
                 {"fill_value", "\"NaN\""},
                 {"dimension_names", "[]"}}));
  EXPECT_TRUE(m.shape.empty());
  EXPECT_EQ(m.element_count(), 1u);
  EXPECT_TRUE(m.chunk_grid.grid_shape(m.shape).empty());
  EXPECT_EQ(m.chunk_key.key({}), "c");
  expect_round_trip(m);
}

TEST(ZarrMetadata, a_zero_length_dimension_is_an_empty_array_not_an_error) {
  auto m = parse_array_ok(array_doc({{"shape", "[0, 4294967296]"}}));
  EXPECT_EQ(m.element_count(), 0u);
  EXPECT_EQ(m.chunk_grid.grid_shape(m.shape), (std::vector<std::uint64_t>{0, 858993460}));
}

// --- must_understand ------------------------------------------------------------------------------------

TEST(ZarrMetadata, an_unknown_field_refuses_the_document_unless_it_need_not_be_understood) {
  expect_error(parse_array_metadata(array_doc({{"spatial_index", R"({"levels": 3})"}}), "t/zarr.json"),
               errc::unsupported, {"t/zarr.json", "'spatial_index'", "must_understand"});
  expect_error(
      parse_array_metadata(array_doc({{"spatial_index", R"({"must_understand": true})"}}), "t/zarr.json"),
      errc::unsupported, {"'spatial_index'"});
  expect_error(parse_array_metadata(array_doc({{"comment", R"("hello")"}}), "t/zarr.json"), errc::unsupported,
               {"'comment'"});
  expect_error(
      parse_group_metadata(R"({"zarr_format": 3, "node_type": "group", "links": [1]})", "g/zarr.json"),
      errc::unsupported, {"g/zarr.json", "'links'"});

  auto m = parse_array_ok(array_doc({{"spatial_index", R"({"must_understand": false, "levels": 3})"}}));
  ASSERT_TRUE(m.extensions.contains("spatial_index"));
  EXPECT_EQ(m.extensions.at("spatial_index").as_object().at("levels"), 3);
  auto text = write_metadata(m, "t/zarr.json");
  ASSERT_TRUE(text);
  EXPECT_NE(text->find(R"("spatial_index":{"levels":3,"must_understand":false})"), std::string::npos)
      << *text;
  expect_round_trip(m);

  auto g = parse_group_metadata(
      R"({"zarr_format": 3, "node_type": "group", "x": {"must_understand": false}})", "g/zarr.json");
  ASSERT_TRUE(g) << g.error().describe();
  expect_round_trip(*g);

  // A model cannot smuggle a refused field out.
  m.extensions["plain"] = 1;
  expect_error(write_metadata(m, "t/zarr.json"), errc::unsupported, {"'plain'"});
}

TEST(ZarrMetadata, an_unknown_codec_refuses_the_array_unless_it_need_not_be_understood) {
  expect_error(
      parse_array_metadata(array_doc({{"codecs", R"([{"name": "bytes", "configuration": {"endian": "little"}},
                                                               {"name": "lz4hc", "configuration": {"level": 9}}])"}}),
                           "t/zarr.json"),
      errc::unsupported, {"t/zarr.json: codecs[1]", "'lz4hc'"});
  auto m = parse_array_ok(array_doc({{"codecs", R"([{"name": "bytes", "configuration": {"endian": "little"}},
                                                    {"name": "lz4hc", "must_understand": false}])"}}));
  ASSERT_EQ(m.codecs.size(), 2u);
  EXPECT_FALSE(m.codecs[1].must_understand);
  expect_round_trip(m);
}

TEST(ZarrMetadata, storage_transformers_are_refused_unless_they_need_not_be_understood) {
  auto empty = parse_array_ok(array_doc({{"storage_transformers", "[]"}}));
  EXPECT_TRUE(empty.storage_transformers.empty());
  expect_error(parse_array_metadata(array_doc({{"storage_transformers", R"([{"name": "chunk-manifest"}])"}}),
                                    "t/zarr.json"),
               errc::unsupported, {"storage_transformers[0]", "'chunk-manifest'"});
  auto m = parse_array_ok(
      array_doc({{"storage_transformers", R"([{"name": "cache-hint", "must_understand": false}])"}}));
  ASSERT_EQ(m.storage_transformers.size(), 1u);
  expect_round_trip(m);
}

// --- the codec chain ------------------------------------------------------------------------------------

TEST(ZarrMetadata, the_codec_chain_is_checked) {
  const auto bad = [](const std::string& codecs, errc code, std::initializer_list<std::string_view> says) {
    SCOPED_TRACE(codecs);
    expect_error(parse_array_metadata(array_doc({{"codecs", codecs}}), "t/zarr.json"), code, says);
  };
  bad(R"([{"name": "bytes"}])", errc::invalid_metadata, {"codecs[0]", "'bytes'", "endian", "int16"});
  bad(R"([{"name": "bytes", "configuration": {"endian": "middle"}}])", errc::invalid_metadata,
      {"codecs[0].configuration.endian"});
  bad("[]", errc::invalid_metadata, {"t/zarr.json: codecs", "no array -> bytes codec"});
  bad(R"([{"name": "gzip", "configuration": {"level": 1}}])", errc::invalid_metadata, {"'gzip'", "before"});
  bad(R"([{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "bytes", "configuration": {"endian": "big"}}])",
      errc::invalid_metadata, {"codecs[1]", "second array -> bytes"});
  bad(R"([{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "transpose", "configuration": {"order": [1, 0]}}])",
      errc::invalid_metadata, {"codecs[1]", "'transpose'", "after"});
  bad(R"([{"name": "transpose", "configuration": {"order": [0, 0]}}, {"name": "bytes", "configuration": {"endian": "little"}}])",
      errc::invalid_metadata, {"codecs[0].configuration.order", "permutation"});
  bad(R"("bytes")", errc::invalid_metadata, {"codecs", "array of codecs"});
  bad(R"([{"configuration": {}}])", errc::invalid_metadata, {"codecs[0]", "no name"});
  bad(R"([{"name": "bytes", "configuration": {"endian": "little"}, "id": 1}])", errc::invalid_metadata,
      {"codecs[0]", "'id'"});

  // Short-hand names are extension objects with just a name.
  auto bytes_only =
      parse_array_ok(array_doc({{"data_type", "\"uint8\""}, {"codecs", R"(["bytes", "crc32c"])"}}));
  EXPECT_EQ(codec_names(bytes_only.codecs), (std::vector<std::string>{"bytes", "crc32c"}));
  expect_round_trip(bytes_only);
}

TEST(ZarrMetadata, sharding_configurations_are_checked_like_the_outer_chain) {
  const auto sharded = [](const std::string& configuration) {
    return array_doc(
        {{"codecs", R"([{"name": "sharding_indexed", "configuration": )" + configuration + "}]"}});
  };
  const std::string inner =
      R"("codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd"}])";
  const std::string index =
      R"("index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, "crc32c"])";
  auto ok = parse_array_ok(
      sharded(R"({"chunk_shape": [1, 5], )" + inner + ", " + index + R"(, "index_location": "start"})"));
  expect_round_trip(ok);

  expect_error(parse_array_metadata(sharded(R"({"chunk_shape": [2, 5], )" + inner + ", " + index + "}"),
                                    "t/zarr.json"),
               errc::invalid_metadata, {"codecs[0].configuration.chunk_shape[0]", "do not divide"});
  expect_error(
      parse_array_metadata(sharded(R"({"chunk_shape": [5], )" + inner + ", " + index + "}"), "t/zarr.json"),
      errc::invalid_metadata, {"codecs[0].configuration.chunk_shape", "rank"});
  expect_error(
      parse_array_metadata(
          sharded(R"({"chunk_shape": [1, 5], "codecs": [{"name": "bytes"}], )" + index + "}"), "t/zarr.json"),
      errc::invalid_metadata, {"codecs[0].configuration.codecs[0]", "endian"});
  expect_error(
      parse_array_metadata(
          sharded(
              R"({"chunk_shape": [1, 5], )" + inner +
              R"(, "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd"}]})"),
          "t/zarr.json"),
      errc::invalid_metadata, {"codecs[0].configuration.index_codecs[1]", "'zstd'", "fixed-size"});
  expect_error(parse_array_metadata(
                   sharded(R"({"chunk_shape": [1, 5], "codecs": [{"name": "numcodecs.delta"}, "bytes"], )" +
                           index + "}"),
                   "t/zarr.json"),
               errc::unsupported, {"codecs[0].configuration.codecs[0]", "'numcodecs.delta'"});
  expect_error(parse_array_metadata(sharded(R"({"chunk_shape": [1, 5], )" + inner + "}"), "t/zarr.json"),
               errc::invalid_metadata, {"index_codecs"});
  // A transpose before the sharding codec permutes the shard shape it divides.
  auto transposed = parse_array_ok(
      array_doc({{"chunk_grid", R"({"name": "regular", "configuration": {"chunk_shape": [2, 5]}})"},
                 {"codecs", R"([{"name": "transpose", "configuration": {"order": [1, 0]}},
                      {"name": "sharding_indexed", "configuration": {"chunk_shape": [5, 1], )" +
                                inner + ", " + index + "}}]"}}));
  expect_round_trip(transposed);
}

// --- broken documents -----------------------------------------------------------------------------------

TEST(ZarrMetadata, broken_documents_are_refused_naming_the_problem) {
  struct bad {
    std::string doc;
    errc code;
    std::vector<std::string> says;
  };
  const std::vector<bad> cases = {
      {R"({"zarr_format": 3, "node_type": "array",)",
       errc::invalid_metadata,
       {"t/zarr.json: not valid JSON"}},
      {"\xff\xfe", errc::invalid_metadata, {"not valid JSON"}},
      {"[]", errc::invalid_metadata, {"must be a JSON object"}},
      {array_doc() + " 1", errc::invalid_metadata, {"not valid JSON"}},
      {array_doc({{"zarr_format", "2"}}), errc::unsupported, {"zarr_format", "is 2", "Zarr v3"}},
      {array_doc({{"zarr_format", "\"3\""}}), errc::invalid_metadata, {"zarr_format", "integer"}},
      {array_doc({}, {"zarr_format"}), errc::invalid_metadata, {"zarr_format", "missing"}},
      {array_doc({{"node_type", "\"dataset\""}}), errc::invalid_metadata, {"node_type", "'dataset'"}},
      {array_doc({}, {"node_type"}), errc::invalid_metadata, {"node_type", "missing"}},
      {array_doc({}, {"shape"}), errc::invalid_metadata, {"shape", "missing"}},
      {array_doc({}, {"fill_value"}), errc::invalid_metadata, {"fill_value", "missing"}},
      {array_doc({}, {"codecs"}), errc::invalid_metadata, {"codecs", "missing"}},
      {array_doc({{"shape", "\"10\""}}), errc::invalid_metadata, {"shape", "array of integers"}},
      {array_doc({{"shape", "[10, -20]"}}), errc::invalid_metadata, {"shape[1]", "non-negative"}},
      {array_doc({{"shape", "[10, 2.5]"}}), errc::invalid_metadata, {"shape[1]"}},
      {array_doc({{"attributes", "[]"}}), errc::invalid_metadata, {"attributes", "must be an object"}},
      {array_doc({{"attributes", R"({"a": 1, "a": 2})"}}),
       errc::invalid_metadata,
       {"attributes", "'a' appears twice"}},
      {R"({"zarr_format": 3, "zarr_format": 3, "node_type": "group"})",
       errc::invalid_metadata,
       {"'zarr_format'", "twice"}},
      {array_doc({{"data_type", "5"}}), errc::invalid_metadata, {"data_type"}},
      {array_doc({{"data_type", "\"string\""}}), errc::unsupported, {"data_type", "'string'", "bool, int8"}},
      {array_doc({{"data_type", "\"r16\""}}), errc::unsupported, {"data_type", "'r16'"}},
      {array_doc({{"data_type", R"({"name": "int16"})"}}), errc::ok, {}},
      {array_doc({{"chunk_grid", R"({"name": "rectilinear", "configuration": {}})"}}),
       errc::unsupported,
       {"chunk_grid", "'rectilinear'"}},
      {array_doc({{"chunk_grid", R"({"name": "regular", "configuration": {"chunk_shape": [5, 0]}})"}}),
       errc::invalid_metadata,
       {"chunk_grid.configuration.chunk_shape[1]", "is 0"}},
      {array_doc({{"chunk_grid", R"({"name": "regular", "configuration": {"chunk_shape": [5]}})"}}),
       errc::invalid_metadata,
       {"chunk_grid.configuration.chunk_shape", "rank 2"}},
      {array_doc({{"chunk_grid", R"({"name": "regular"})"}}),
       errc::invalid_metadata,
       {"chunk_grid", "chunk_shape"}},
      {array_doc(
           {{"shape", "[4294967296, 4294967296]"}, {"data_type", "\"uint8\""}, {"codecs", R"(["bytes"])"}}),
       errc::invalid_metadata,
       {"shape", "overflows"}},
      {array_doc({{"shape", "[4611686018427387904, 2]"}}),
       errc::invalid_metadata,
       {"shape", "overflows", "int16"}},
      {array_doc({{"chunk_grid",
                   R"({"name": "regular", "configuration": {"chunk_shape": [4294967296, 4294967296]}})"}}),
       errc::invalid_metadata,
       {"chunk_shape", "overflows"}},
      {array_doc({{"dimension_names", R"(["x"])"}}), errc::invalid_metadata, {"dimension_names", "rank 2"}},
      {array_doc({{"dimension_names", R"(["x", 1])"}}), errc::invalid_metadata, {"dimension_names[1]"}},
      {array_doc({{"storage_transformers", "{}"}}),
       errc::invalid_metadata,
       {"storage_transformers", "array"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.doc);
    auto r = parse_metadata(c.doc, "t/zarr.json");
    if (c.code == errc::ok) {
      EXPECT_TRUE(r) << r.error().describe();
      continue;
    }
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, make_error_code(c.code)) << r.error().describe();
    EXPECT_EQ(r.error().message.rfind("t/zarr.json: ", 0), 0u) << r.error().message;
    for (const auto& part : c.says)
      EXPECT_NE(r.error().message.find(part), std::string::npos)
          << "'" << part << "' missing from: " << r.error().message;
  }
}

TEST(ZarrMetadata, errors_match_the_generic_conditions) {
  auto invalid = parse_metadata("{", "x");
  ASSERT_FALSE(invalid);
  EXPECT_TRUE(invalid.error().code == condition::invalid_argument);
  auto unsupported = parse_metadata(array_doc({{"data_type", "\"string\""}}), "x");
  ASSERT_FALSE(unsupported);
  EXPECT_TRUE(unsupported.error().code == condition::unsupported);
}

TEST(ZarrMetadata, the_node_type_must_be_the_one_asked_for) {
  expect_error(parse_group_metadata(array_doc(), "a/zarr.json"), errc::invalid_metadata,
               {"a/zarr.json: node_type", "group was expected"});
  expect_error(parse_array_metadata(R"({"zarr_format": 3, "node_type": "group"})", "g/zarr.json"),
               errc::invalid_metadata, {"g/zarr.json: node_type", "array was expected"});
}

TEST(ZarrMetadata, a_model_is_checked_before_it_is_written) {
  array_metadata m;
  m.shape = {10, 10};
  m.dtype = data_type::int32;
  m.fill = fill_value::zero(data_type::int32);
  m.chunk_grid.chunk_shape = {5};
  m.codecs = {{"bytes", {{"endian", "little"}}}};
  expect_error(write_metadata(m, "new/zarr.json"), errc::invalid_metadata,
               {"new/zarr.json: chunk_grid.configuration.chunk_shape", "rank 2"});
  m.chunk_grid.chunk_shape = {5, 0};
  expect_error(write_metadata(m), errc::invalid_metadata,
               {"zarr.json: chunk_grid.configuration.chunk_shape[1]"});
  m.chunk_grid.chunk_shape = {5, 5};
  m.codecs = {{"bytes", {}}};
  expect_error(validate(m, "new/zarr.json"), errc::invalid_metadata, {"codecs[0]", "endian", "int32"});
  m.codecs = {{"bytes", {{"endian", "little"}}}, {"gzip", {{"level", 5}}}};
  m.dimension_names = std::vector<std::optional<std::string>>{"y", std::nullopt};
  EXPECT_TRUE(validate(m, "new/zarr.json"));
  expect_round_trip(m);
}

TEST(ZarrMetadata, written_documents_are_canonical) {
  auto a = parse_array_ok(array_doc({{"attributes", R"({"z": {"b": 1, "a": [true, null]}, "a": "x"})"},
                                     {"codecs", R"([{"name": "bytes", "configuration": {"endian": "little"}},
                                                    {"name": "blosc", "configuration": {"typesize": 2, "cname": "lz4"}}])"}}));
  auto b = parse_array_ok(array_doc({{"attributes", R"({"a": "x", "z": {"a": [true, null], "b": 1}})"},
                                     {"codecs", R"([{"configuration": {"endian": "little"}, "name": "bytes"},
                                                    {"configuration": {"cname": "lz4", "typesize": 2}, "name": "blosc"}])"}}));
  ASSERT_TRUE(a == b) << "member order is no part of the model";
  auto ta = write_metadata(a), tb = write_metadata(b);
  ASSERT_TRUE(ta && tb);
  EXPECT_EQ(*ta, *tb);
  EXPECT_EQ(*ta,
            R"({"zarr_format":3,"node_type":"array","shape":[10,20],"data_type":"int16",)"
            R"("chunk_grid":{"name":"regular","configuration":{"chunk_shape":[5,5]}},)"
            R"("chunk_key_encoding":{"name":"default","configuration":{"separator":"/"}},"fill_value":0,)"
            R"("codecs":[{"name":"bytes","configuration":{"endian":"little"}},)"
            R"({"name":"blosc","configuration":{"cname":"lz4","typesize":2}}],)"
            R"("attributes":{"a":"x","z":{"a":[true,null],"b":1}},"storage_transformers":[]})");
}

}  // namespace
