// Zarr v3 hierarchies (sluice/zarr/group.hpp) and the array calls beyond
// read and write: parent groups made on create, walking and consolidating a
// hierarchy, opening it with one read when consolidated, attributes, resize,
// iterating chunks, and chunk keys parsed back.
#include <sluice/engine/runtime/engine.hpp>
#include <sluice/store/memory.hpp>
#include <sluice/zarr/array.hpp>
#include <sluice/zarr/group.hpp>

#include "counting_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace sluice;
using namespace sluice::zarr;

codec_spec spec(std::string name, boost::json::object cfg = {}) {
  return {std::move(name), std::move(cfg), true};
}

array_metadata float_array(std::vector<std::uint64_t> shape, std::vector<std::uint64_t> chunks) {
  array_metadata m;
  m.shape = std::move(shape);
  m.dtype = data_type::float32;
  m.chunk_grid.chunk_shape = std::move(chunks);
  m.fill = *parse_fill_value(data_type::float32, "\"NaN\"");
  m.codecs = {spec("bytes", {{"endian", "little"}}), spec("zstd")};
  return m;
}

class ZarrGroup : public ::testing::Test {
 protected:
  void SetUp() override {
    mem_ = store::make_memory_store();
    counted_ = std::make_shared<store_tests::counting_store>(mem_);
  }

  bool exists(const std::string& key) {
    auto s = eng_.run(mem_->stat(key));
    EXPECT_TRUE(s) << s.error().describe();
    return s && s->has_value();
  }

  // era5.zarr/ holding t2m (array), surface/ (group) holding sp (array).
  void make_hierarchy() {
    auto a = eng_.run(array::create(counted_, "era5.zarr/t2m", float_array({6, 4}, {3, 2})));
    ASSERT_TRUE(a) << a.error().describe();
    std::vector<float> v(24);
    std::iota(v.begin(), v.end(), 0.0f);
    ASSERT_TRUE(eng_.run(a->write({}, std::as_bytes(std::span(v)), 2)));
    boost::json::object attrs{{"title", "surface fields"}};
    group_metadata gm;
    gm.attributes = attrs;
    ASSERT_TRUE(eng_.run(group::create(counted_, "era5.zarr/surface", gm)));
    ASSERT_TRUE(eng_.run(array::create(counted_, "era5.zarr/surface/sp", float_array({5}, {5}))));
  }

  engine eng_{engine::options{1}};
  std::shared_ptr<store::store> mem_;
  std::shared_ptr<store_tests::counting_store> counted_;
};

TEST_F(ZarrGroup, creating_a_node_writes_every_parent_group_and_refuses_an_array_parent) {
  ASSERT_TRUE(eng_.run(array::create(mem_, "a/b/c", float_array({4}, {2}))));
  for (const char* key : {"zarr.json", "a/zarr.json", "a/b/zarr.json", "a/b/c/zarr.json"})
    EXPECT_TRUE(exists(key)) << key;
  auto parent = eng_.run(group::open(mem_, "a/b"));
  ASSERT_TRUE(parent) << parent.error().describe();
  EXPECT_FALSE(parent->consolidated());
  auto inside = eng_.run(array::create(mem_, "a/b/c/d", float_array({4}, {2})));
  ASSERT_FALSE(inside) << "an array inside an array";
  EXPECT_EQ(inside.error().code, sluice::errc::invalid_argument) << inside.error().describe();
  EXPECT_NE(inside.error().describe().find("a/b/c/zarr.json"), std::string::npos)
      << inside.error().describe();
  auto not_group = eng_.run(group::open(mem_, "a/b/c"));
  ASSERT_FALSE(not_group) << "an array opened as a group";
}

TEST_F(ZarrGroup, a_walk_finds_every_node_and_consolidation_makes_opening_one_read) {
  make_hierarchy();
  auto root = eng_.run(group::open(counted_, "era5.zarr"));
  ASSERT_TRUE(root) << root.error().describe();
  auto walked = eng_.run(root->nodes());
  ASSERT_TRUE(walked) << walked.error().describe();
  std::vector<std::string> paths;
  for (const auto& n : *walked) paths.push_back(n.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"surface", "surface/sp", "t2m"}));
  EXPECT_TRUE(std::holds_alternative<group_metadata>((*walked)[0].metadata));
  EXPECT_TRUE(std::holds_alternative<array_metadata>((*walked)[2].metadata));

  ASSERT_TRUE(eng_.run(root->consolidate()));
  EXPECT_TRUE(root->consolidated());

  // A reader: one read of the root's zarr.json, then nothing but chunks.
  counted_->reset();
  auto reader = eng_.run(group::open(counted_, "era5.zarr"));
  ASSERT_TRUE(reader) << reader.error().describe();
  ASSERT_TRUE(reader->consolidated());
  auto listed = eng_.run(reader->nodes());
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->size(), 3u);
  auto t2m = eng_.run(reader->open_array("t2m"));
  ASSERT_TRUE(t2m) << t2m.error().describe();
  auto surface = eng_.run(reader->open_group("surface"));
  ASSERT_TRUE(surface) << surface.error().describe();
  EXPECT_EQ(surface->metadata().attributes.at("title").as_string(), "surface fields");
  auto sp = eng_.run(surface->open_array("sp"));
  ASSERT_TRUE(sp) << sp.error().describe();
  EXPECT_EQ(sp->metadata().shape, (std::vector<std::uint64_t>{5}));
  EXPECT_EQ(counted_->documents, 1u) << "one zarr.json read for the whole hierarchy";
  EXPECT_EQ(counted_->lists, 0u);
  std::vector<float> back(24);
  ASSERT_TRUE(eng_.run(t2m->read({}, std::as_writable_bytes(std::span(back)), 2)));
  EXPECT_EQ(back[23], 23.0f);
  auto wrong = eng_.run(reader->open_array("surface"));
  ASSERT_FALSE(wrong) << "a group opened as an array";
}

TEST_F(ZarrGroup, attributes_are_replaced_and_read_back) {
  make_hierarchy();
  auto a = eng_.run(array::open(mem_, "era5.zarr/t2m"));
  ASSERT_TRUE(a) << a.error().describe();
  ASSERT_TRUE(eng_.run(a->set_attributes(boost::json::object{{"units", "K"}, {"scale", 0.5}})));
  EXPECT_EQ(a->metadata().attributes.at("units").as_string(), "K");
  auto again = eng_.run(array::open(mem_, "era5.zarr/t2m"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->metadata().attributes.at("scale").as_double(), 0.5);
  std::vector<float> back(24);
  ASSERT_TRUE(eng_.run(again->read({}, std::as_writable_bytes(std::span(back)), 2)));
  EXPECT_EQ(back[5], 5.0f) << "the data is untouched";

  auto g = eng_.run(group::open(mem_, "era5.zarr/surface"));
  ASSERT_TRUE(g);
  ASSERT_TRUE(eng_.run(g->set_attributes(boost::json::object{{"title", "renamed"}})));
  auto g2 = eng_.run(group::open(mem_, "era5.zarr/surface"));
  ASSERT_TRUE(g2);
  EXPECT_EQ(g2->metadata().attributes.at("title").as_string(), "renamed");
}

TEST_F(ZarrGroup, shrinking_then_growing_shows_the_fill_value_never_old_data) {
  auto a = eng_.run(array::create(mem_, "r", float_array({6, 4}, {4, 3})));
  ASSERT_TRUE(a) << a.error().describe();
  std::vector<float> v(24);
  std::iota(v.begin(), v.end(), 1.0f);
  ASSERT_TRUE(eng_.run(a->write({}, std::as_bytes(std::span(v)), 2)));
  EXPECT_TRUE(exists("r/c/1/1"));
  ASSERT_TRUE(eng_.run(a->resize({3, 2}, 2)));
  EXPECT_FALSE(exists("r/c/1/1")) << "a chunk wholly outside the new shape is removed";
  EXPECT_FALSE(exists("r/c/1/0"));
  EXPECT_FALSE(exists("r/c/0/1"));
  EXPECT_TRUE(exists("r/c/0/0"));
  std::vector<float> small(6);
  ASSERT_TRUE(eng_.run(a->read({}, std::as_writable_bytes(std::span(small)), 1)));
  EXPECT_EQ(small, (std::vector<float>{1, 2, 5, 6, 9, 10}));

  auto reopened = eng_.run(array::open(mem_, "r"));
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->metadata().shape, (std::vector<std::uint64_t>{3, 2}));
  ASSERT_TRUE(eng_.run(reopened->resize({6, 4}, 2)));
  std::vector<float> big(24);
  ASSERT_TRUE(eng_.run(reopened->read({}, std::as_writable_bytes(std::span(big)), 2)));
  for (std::size_t i = 0; i < 6; ++i)
    for (std::size_t j = 0; j < 4; ++j) {
      if (i < 3 && j < 2)
        EXPECT_EQ(big[i * 4 + j], v[i * 4 + j]) << i << "," << j;
      else
        EXPECT_TRUE(std::isnan(big[i * 4 + j])) << i << "," << j << " holds " << big[i * 4 + j];
    }
  auto bad = eng_.run(reopened->resize({6}, 1));
  ASSERT_FALSE(bad) << "a rank change";
  EXPECT_EQ(bad.error().code, sluice::errc::invalid_argument);
}

TEST_F(ZarrGroup, iterating_chunks_visits_each_part_of_the_selection_once) {
  auto a = eng_.run(array::create(mem_, "it", float_array({7, 5}, {3, 2})));
  ASSERT_TRUE(a) << a.error().describe();
  std::vector<float> v(35);
  std::iota(v.begin(), v.end(), 0.0f);
  ASSERT_TRUE(eng_.run(a->write({}, std::as_bytes(std::span(v)), 2)));
  // Rows 1..6, every other column: chunks of 3 rows x 2 columns.
  selection sel{slice::range(1, 7), slice::range(0, 5, 2)};
  std::multiset<float> seen;
  unsigned visits = 0;
  const array::chunk_visitor visit = [&](const selection& part,
                                         std::span<const std::byte> data) -> result<bool> {
    ++visits;
    const auto& r = part[0];
    const auto& c = part[1];
    std::vector<float> values(data.size() / sizeof(float));
    std::memcpy(values.data(), data.data(), data.size());
    std::size_t k = 0;
    for (std::uint64_t i = r.start; i < *r.stop; i += r.step)
      for (std::uint64_t j = c.start; j < *c.stop; j += c.step) {
        EXPECT_EQ(values.at(k++), v[i * 5 + j]) << "at " << i << "," << j;
        seen.insert(v[i * 5 + j]);
      }
    EXPECT_EQ(k, values.size());
    return true;
  };
  ASSERT_TRUE(eng_.run(a->for_each_chunk(sel, visit, 3)));
  // Row chunks touched: 0 (rows 1-2), 1 (3-5), 2 (6); column chunks: 0, 1, 2.
  EXPECT_EQ(visits, 9u);
  EXPECT_EQ(seen.size(), 18u) << "6 rows x 3 columns, each once";
  unsigned stopped = 0;
  const array::chunk_visitor stop = [&](const selection&, std::span<const std::byte>) -> result<bool> {
    ++stopped;
    return false;
  };
  ASSERT_TRUE(eng_.run(a->for_each_chunk({}, stop, 1)));
  EXPECT_EQ(stopped, 1u) << "returning false stops the iteration";
  const array::chunk_visitor failing = [&](const selection&, std::span<const std::byte>) -> result<bool> {
    return fail(sluice::errc::invalid_argument, "the visitor's own error");
  };
  auto r = eng_.run(a->for_each_chunk({}, failing, 2));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().describe().find("the visitor's own error"), std::string::npos);
}

TEST(ZarrChunkKeys, keys_parse_back_to_their_index_and_nothing_else_does) {
  const chunk_key_encoding slash{chunk_key_kind::default_, '/'};
  const chunk_key_encoding dot{chunk_key_kind::default_, '.'};
  const chunk_key_encoding v2{chunk_key_kind::v2, '.'};
  for (const auto& enc : {slash, dot, v2}) {
    for (const std::vector<std::uint64_t>& index :
         {std::vector<std::uint64_t>{}, {0}, {12, 0, 7}, {18446744073709551615ull, 1}}) {
      auto back = enc.parse(enc.key(index), index.size());
      ASSERT_TRUE(back) << enc.key(index);
      EXPECT_EQ(*back, index);
    }
  }
  for (const char* bad :
       {"c/1", "c/1/2/3", "c/01/2", "c/1/x", "c/1/", "zarr.json", "c.1.2", "c/-1/2", "d/1/2"})
    EXPECT_FALSE(slash.parse(bad, 2)) << bad;
  EXPECT_FALSE(v2.parse("1/2", 2));
  EXPECT_FALSE(v2.parse("c.1.2", 2));
}

}  // namespace
