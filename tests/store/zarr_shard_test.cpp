// Reads of sharded Zarr arrays (sluice/zarr/array.hpp): each shard's index
// fetched once and cached per (key, generation), even for readers asking at
// the same moment; only the inner chunks a selection needs fetched, in one
// read_ranges call per shard; a shard rewritten by another writer read fresh;
// corrupt and truncated indexes refused naming the shard. A store wrapper
// counts what reaches the memory store underneath.
#include <sluice/engine/runtime/concurrently.hpp>
#include <sluice/engine/runtime/engine.hpp>
#include <sluice/store/memory.hpp>
#include <sluice/zarr/array.hpp>

#include "counting_store.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

namespace {

using namespace sluice;
using namespace sluice::zarr;
namespace asio = boost::asio;
namespace st = sluice::store;

codec_spec spec(std::string name, boost::json::object cfg = {}) {
  return {std::move(name), std::move(cfg), true};
}

// int32 {64, 64}: shards {32, 32} of inner chunks {8, 8} (4 shards of 16).
array_metadata sharded(bool index_at_start, bool crc = true) {
  array_metadata m;
  m.shape = {64, 64};
  m.dtype = data_type::int32;
  m.chunk_grid.chunk_shape = {32, 32};
  m.fill = fill_value::zero(data_type::int32);
  boost::json::object little{{"endian", "little"}};
  boost::json::array index_codecs{boost::json::object{{"name", "bytes"}, {"configuration", little}}};
  if (crc) index_codecs.push_back(boost::json::object{{"name", "crc32c"}});
  m.codecs = {
      spec("sharding_indexed",
           {{"chunk_shape", boost::json::array{8, 8}},
            {"codecs", boost::json::array{boost::json::object{{"name", "bytes"}, {"configuration", little}},
                                          boost::json::object{{"name", "zstd"}}}},
            {"index_codecs", index_codecs},
            {"index_location", index_at_start ? "start" : "end"}})};
  return m;
}

class ZarrShards : public ::testing::Test {
 protected:
  void SetUp() override {
    mem_ = st::make_memory_store();
    counted_ = std::make_shared<store_tests::counting_store>(mem_);
    all_.resize(64 * 64);
    std::iota(all_.begin(), all_.end(), 1);
  }

  array make(bool index_at_start = false) {
    counted_->index_at_start = index_at_start;
    auto a = eng_.run(array::create(counted_, "t", sharded(index_at_start)));
    EXPECT_TRUE(a) << a.error().describe();
    EXPECT_TRUE(eng_.run(a->write({}, std::as_bytes(std::span(all_)), 4)));
    counted_->reset();
    return *a;
  }

  // Rows [r0, r1) and columns [c0, c1), read through `a` and checked.
  void expect_block(array& a, std::uint64_t r0, std::uint64_t r1, std::uint64_t c0, std::uint64_t c1) {
    selection sel{slice::range(r0, r1), slice::range(c0, c1)};
    std::vector<std::int32_t> out((r1 - r0) * (c1 - c0));
    auto r = eng_.run(a.read(sel, std::as_writable_bytes(std::span(out)), 4));
    ASSERT_TRUE(r) << r.error().describe();
    for (std::uint64_t i = r0; i < r1; ++i)
      for (std::uint64_t j = c0; j < c1; ++j)
        ASSERT_EQ(out[(i - r0) * (c1 - c0) + (j - c0)], all_[i * 64 + j]) << "at " << i << "," << j;
  }

  engine eng_{engine::options{1}};
  std::shared_ptr<st::store> mem_;
  std::shared_ptr<store_tests::counting_store> counted_;
  std::vector<std::int32_t> all_;
};

TEST_F(ZarrShards, a_selection_fetches_the_index_once_and_only_the_inner_chunks_it_needs) {
  array a = make();
  expect_block(a, 0, 8, 0, 8);  // one inner chunk of shard (0, 0)
  EXPECT_EQ(counted_->index_reads, 1u);
  EXPECT_EQ(counted_->range_calls, 1u);
  EXPECT_EQ(counted_->ranges, 1u);
  EXPECT_EQ(counted_->whole_reads, 0u) << "no shard read whole";

  counted_->reset();
  expect_block(a, 0, 8, 0, 8);
  EXPECT_EQ(counted_->index_reads, 0u) << "the index is cached";
  EXPECT_EQ(counted_->range_calls, 1u);

  // Rows 4..12, columns 28..36: inner chunks (0..1, 3) of shard (0, 0) and
  // (0..1, 0) of shard (0, 1). Only the second shard's index is new.
  counted_->reset();
  expect_block(a, 4, 12, 28, 36);
  EXPECT_EQ(counted_->index_reads, 1u);
  EXPECT_EQ(counted_->range_calls, 2u) << "one read_ranges per shard";
  EXPECT_EQ(counted_->ranges, 4u);

  // A copy of the array shares the cache; the whole array reads right.
  array copy = a;
  counted_->reset();
  expect_block(copy, 0, 64, 0, 64);
  EXPECT_EQ(counted_->index_reads, 2u) << "only shards (1, 0) and (1, 1) were not cached";
  EXPECT_EQ(counted_->ranges, 64u);
}

TEST_F(ZarrShards, readers_asking_at_the_same_moment_share_one_index_fetch) {
  array a = make();
  counted_->index_delay = std::chrono::milliseconds(50);
  std::vector<std::vector<std::int32_t>> outs(8, std::vector<std::int32_t>(64));
  std::vector<result<void>> got(8);
  eng_.run([&]() -> asio::awaitable<void> {
    co_await run_concurrently(8, [&](unsigned i) -> asio::awaitable<void> {
      // Inner chunk row i/4 * 8, column (i % 4) * 8 of shard (0, 0).
      const std::uint64_t r0 = (i / 4) * 8, c0 = (i % 4) * 8;
      selection sel{slice::range(r0, r0 + 8), slice::range(c0, c0 + 8)};
      got[i] = co_await a.read(sel, std::as_writable_bytes(std::span(outs[i])), 1);
    });
  }());
  EXPECT_EQ(counted_->index_reads, 1u) << "eight readers of one shard, one index fetch";
  for (unsigned i = 0; i < 8; ++i) {
    ASSERT_TRUE(got[i]) << got[i].error().describe();
    const std::uint64_t r0 = (i / 4) * 8, c0 = (i % 4) * 8;
    EXPECT_EQ(outs[i][0], all_[r0 * 64 + c0]) << "reader " << i;
    EXPECT_EQ(outs[i][63], all_[(r0 + 7) * 64 + c0 + 7]) << "reader " << i;
  }
}

TEST_F(ZarrShards, a_shard_rewritten_by_another_writer_is_read_fresh) {
  array a = make();
  expect_block(a, 0, 32, 0, 32);  // caches shard (0, 0)'s index
  auto other = eng_.run(array::open(counted_, "t"));
  ASSERT_TRUE(other) << other.error().describe();
  // The other writer changes the shard's values (its inner chunks move: the
  // first one compresses differently).
  std::vector<std::int32_t> patch(8 * 8, 7);
  ASSERT_TRUE(
      eng_.run(other->write({slice::range(0, 8), slice::range(0, 8)}, std::as_bytes(std::span(patch)), 1)));
  for (std::uint64_t i = 0; i < 8; ++i)
    for (std::uint64_t j = 0; j < 8; ++j) all_[i * 64 + j] = 7;
  counted_->reset();
  expect_block(a, 0, 32, 0, 32);
  EXPECT_EQ(counted_->index_reads, 1u) << "the stale index was dropped and fetched again";
  EXPECT_EQ(counted_->range_calls, 2u) << "the first read_ranges was refused (a new generation)";

  // A shard removed behind the reader's back reads as the fill value.
  ASSERT_TRUE(eng_.run(mem_->remove(a.chunk_key(std::vector<std::uint64_t>{0, 0}))));
  for (std::uint64_t i = 0; i < 32; ++i)
    for (std::uint64_t j = 0; j < 32; ++j) all_[i * 64 + j] = 0;
  expect_block(a, 0, 32, 0, 32);
}

TEST_F(ZarrShards, inner_chunks_not_stored_are_the_fill_value_and_never_fetched) {
  auto a = eng_.run(array::create(counted_, "sparse", sharded(false)));
  ASSERT_TRUE(a) << a.error().describe();
  std::vector<std::int32_t> block(8 * 8, 5);
  ASSERT_TRUE(
      eng_.run(a->write({slice::range(8, 16), slice::range(8, 16)}, std::as_bytes(std::span(block)), 1)));
  counted_->reset();
  std::vector<std::int32_t> out(32 * 32, -1);
  ASSERT_TRUE(eng_.run(
      a->read({slice::range(0, 32), slice::range(0, 32)}, std::as_writable_bytes(std::span(out)), 2)));
  EXPECT_EQ(counted_->ranges, 1u) << "only the one stored inner chunk is fetched";
  for (std::uint64_t i = 0; i < 32; ++i)
    for (std::uint64_t j = 0; j < 32; ++j)
      ASSERT_EQ(out[i * 32 + j], (i >= 8 && i < 16 && j >= 8 && j < 16) ? 5 : 0) << i << "," << j;
  // A shard never written: its index read finds nothing, no ranges follow.
  counted_->reset();
  ASSERT_TRUE(eng_.run(
      a->read({slice::range(32, 64), slice::range(32, 64)}, std::as_writable_bytes(std::span(out)), 2)));
  EXPECT_EQ(counted_->index_reads, 1u);
  EXPECT_EQ(counted_->range_calls, 0u);
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](std::int32_t v) { return v == 0; }));
}

TEST_F(ZarrShards, an_index_at_the_start_reads_the_same) {
  array a = make(true);
  expect_block(a, 3, 61, 5, 59);
  EXPECT_EQ(counted_->index_reads, 4u);
  EXPECT_EQ(counted_->range_calls, 4u);
  EXPECT_EQ(counted_->whole_reads, 0u);
}

TEST_F(ZarrShards, corrupt_and_truncated_indexes_are_refused_naming_the_shard) {
  array a = make();
  const std::string key = a.chunk_key(std::vector<std::uint64_t>{1, 1});
  auto got = eng_.run(mem_->read(key));
  ASSERT_TRUE(got && got->state == st::read_state::value);
  std::vector<std::byte> shard(got->bytes.span().begin(), got->bytes.span().end());
  const std::size_t index_bytes = 16 * 16 + 4;
  std::vector<std::int32_t> out(32 * 32);
  selection sel{slice::range(32, 64), slice::range(32, 64)};

  // One flipped bit in the index: its CRC-32C fails.
  std::vector<std::byte> flipped = shard;
  flipped[flipped.size() - index_bytes + 3] ^= std::byte{0x10};
  ASSERT_TRUE(eng_.run(mem_->write(key, flipped)));
  auto r = eng_.run(a.read(sel, std::as_writable_bytes(std::span(out)), 2));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, sluice::errc::integrity_mismatch) << r.error().describe();
  EXPECT_NE(r.error().describe().find("t/c/1/1"), std::string::npos) << r.error().describe();

  // Shorter than its index.
  std::vector<std::byte> stub(shard.begin(), shard.begin() + 100);
  ASSERT_TRUE(eng_.run(mem_->write(key, stub)));
  r = eng_.run(a.read(sel, std::as_writable_bytes(std::span(out)), 2));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, sluice::errc::corrupt_data) << r.error().describe();
  EXPECT_NE(r.error().describe().find("t/c/1/1"), std::string::npos) << r.error().describe();

  // Cut in the middle of the chunks, index kept whole: a chunk lies outside.
  std::vector<std::byte> cut(shard.begin(), shard.begin() + 40);
  cut.insert(cut.end(), shard.end() - index_bytes, shard.end());
  ASSERT_TRUE(eng_.run(mem_->write(key, cut)));
  r = eng_.run(a.read(sel, std::as_writable_bytes(std::span(out)), 2));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, sluice::errc::corrupt_data) << r.error().describe();
  EXPECT_NE(r.error().describe().find("outside the shard"), std::string::npos) << r.error().describe();
}

// With an engine to decode on (as the S3 store offers), a shard's inner
// chunks decode on every engine thread at once and shards are fetched while
// others decode: the same elements come back for every concurrency, at shard
// and inner-chunk edges, and a damaged inner chunk is an error naming its
// shard, whichever thread decoded it.
TEST_F(ZarrShards, decoding_on_every_engine_thread_reads_the_same_elements_and_errors) {
  engine decoders{engine::options{2}};
  counted_->compute = &decoders;
  array a = make();
  for (unsigned concurrency : {1u, 2u, 3u, 8u}) {
    SCOPED_TRACE("concurrency " + std::to_string(concurrency));
    std::vector<std::int32_t> out(64 * 64, -1);
    auto r = eng_.run(a.read({}, std::as_writable_bytes(std::span(out)), concurrency));
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ(out, all_);
  }
  std::vector<std::int32_t> none;
  auto empty =
      eng_.run(a.read({slice::range(5, 5), slice::all()}, std::as_writable_bytes(std::span(none)), 4));
  EXPECT_TRUE(empty) << "an empty selection reads nothing: " << empty.error().describe();
  expect_block(a, 7, 41, 31, 57);  // across shard and inner-chunk edges
  expect_block(a, 8, 9, 0, 64);    // one row through two shards

  // Damage the inner chunk at the start of shard (1, 0): its zstd frame's
  // magic number (its bytes, not the index).
  const std::string key = a.chunk_key(std::vector<std::uint64_t>{1, 0});
  auto got = eng_.run(mem_->read(key));
  ASSERT_TRUE(got && got->state == st::read_state::value);
  std::vector<std::byte> shard(got->bytes.span().begin(), got->bytes.span().end());
  for (std::size_t i = 0; i < 4; ++i) shard[i] = std::byte{0xA5};
  ASSERT_TRUE(eng_.run(mem_->write(key, shard)));
  std::vector<std::int32_t> out(64 * 64);
  auto r = eng_.run(a.read({}, std::as_writable_bytes(std::span(out)), 4));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, sluice::errc::corrupt_data) << r.error().describe();
  EXPECT_NE(r.error().describe().find("t/c/1/0"), std::string::npos) << r.error().describe();
  expect_block(a, 0, 32, 0, 64);  // the shards above it still read
}

// A store that fetches ranges far apart by separate requests anyway (S3:
// read_ranges_gap) gets each run of nearby inner chunks as its own
// read_ranges call, decoded as soon as it arrives; a store that merges
// nothing gets one call per shard. The index is fetched once either way.
TEST_F(ZarrShards,
       runs_of_inner_chunks_far_apart_are_fetched_by_separate_calls_where_the_store_splits_anyway) {
  engine decoders{engine::options{2}};
  counted_->compute = &decoders;
  array a = make();
  // Rows 0..16, columns 24..32: inner chunks (0, 3) and (1, 3) of shard
  // (0, 0), stored 4 chunks apart (C order, 4 per row of the shard).
  counted_->gap = 0;
  expect_block(a, 0, 16, 24, 32);
  EXPECT_EQ(counted_->index_reads, 1u);
  EXPECT_EQ(counted_->range_calls, 1u) << "no merging: one call for the shard";
  EXPECT_EQ(counted_->ranges, 2u);

  // Each inner chunk is 8x8 int32 under zstd: 256 bytes at most, so 4 chunks
  // apart is more than 1 byte and less than 64 KiB.
  counted_->reset();
  counted_->gap = 1;
  expect_block(a, 0, 16, 24, 32);
  EXPECT_EQ(counted_->index_reads, 0u) << "cached";
  EXPECT_EQ(counted_->range_calls, 2u) << "two runs, a call each";
  EXPECT_EQ(counted_->ranges, 2u);

  counted_->reset();
  counted_->gap = 64 << 10;
  expect_block(a, 0, 16, 24, 32);
  EXPECT_EQ(counted_->range_calls, 1u) << "the store would merge them: one call";

  // The whole array with a small gap: every inner chunk of a shard is
  // adjacent to the next, so still one call per shard, and every element right.
  counted_->reset();
  counted_->gap = 1;
  expect_block(a, 0, 64, 0, 64);
  EXPECT_EQ(counted_->range_calls, 4u);
  EXPECT_EQ(counted_->ranges, 64u);
}

}  // namespace
