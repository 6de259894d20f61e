// objects::stream_value without a server: a value read in bounded ranged
// reads, every one after the first pinned to the first one's generation, so a
// value replaced or removed part-way stops the read instead of mixing versions.
#include <sluice/engine/runtime/engine.hpp>
#include <sluice/objects/objects.hpp>
#include <sluice/store/file.hpp>
#include <sluice/store/memory.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

using namespace sluice;
namespace fs = std::filesystem;

std::vector<std::byte> bytes_of(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131 + seed * 7 + (i >> 8)) & 0xff);
  return v;
}

// What a stream delivered: the bytes and the offsets of its chunks.
struct collected {
  std::vector<std::byte> bytes;
  std::vector<uint64_t> offsets;
  std::vector<std::size_t> sizes;
};

class StreamValue : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-stream-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Collects what arrives; `after_first` runs once, after the first chunk was taken.
  objects::chunk_callback collect(collected& c, std::function<void()> after_first = {}) {
    return [&c, after_first](std::span<const std::byte> b, uint64_t offset) -> result<void> {
      c.offsets.push_back(offset);
      c.sizes.push_back(b.size());
      c.bytes.insert(c.bytes.end(), b.begin(), b.end());
      if (c.offsets.size() == 1 && after_first) after_first();
      return {};
    };
  }

  // A file written by "another program": a new file renamed over the old one.
  void replace_file(const fs::path& p, const std::vector<std::byte>& v) {
    const fs::path tmp = p.string() + ".new";
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size()));
    }
    fs::rename(tmp, p);
  }

  engine eng_{engine::options{1}};
  fs::path dir_;
};

TEST_F(StreamValue, delivers_every_byte_in_order_in_chunks_of_at_most_the_chunk_size) {
  auto s = store::make_memory_store();
  auto value = bytes_of(10'000, 1);
  ASSERT_TRUE(eng_.run(s->write("k", value)));
  collected c;
  auto cb = collect(c);
  auto r = eng_.run(objects::stream_value(*s, "k", 4096, cb));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->bytes, value.size());
  EXPECT_TRUE(c.bytes == value);
  EXPECT_EQ(c.offsets, (std::vector<uint64_t>{0, 4096, 8192}));
  EXPECT_EQ(c.sizes, (std::vector<std::size_t>{4096, 4096, 10'000 - 8192}));
  EXPECT_FALSE(r->verified) << "the memory store records no hash";
}

TEST_F(StreamValue, a_value_that_fits_one_chunk_and_an_empty_value_take_one_read) {
  auto s = store::make_memory_store();
  auto value = bytes_of(100, 2);
  ASSERT_TRUE(eng_.run(s->write("small", value)));
  ASSERT_TRUE(eng_.run(s->write("empty", std::span<const std::byte>{})));
  collected small, empty;
  auto to_small = collect(small), to_empty = collect(empty);
  auto r = eng_.run(objects::stream_value(*s, "small", 4096, to_small));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_TRUE(small.bytes == value);
  EXPECT_EQ(small.offsets.size(), 1u);
  auto e = eng_.run(objects::stream_value(*s, "empty", 4096, to_empty));
  ASSERT_TRUE(e) << e.error().describe();
  EXPECT_EQ(e->bytes, 0u);
  EXPECT_TRUE(empty.offsets.empty()) << "no empty chunk is delivered";
}

TEST_F(StreamValue, a_missing_key_is_not_found_and_delivers_nothing) {
  auto s = store::make_memory_store();
  collected c;
  auto cb = collect(c);
  auto r = eng_.run(objects::stream_value(*s, "absent", 4096, cb));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().code == condition::not_found) << r.error().describe();
  EXPECT_NE(r.error().message.find("no such key"), std::string::npos) << r.error().describe();
  EXPECT_TRUE(c.offsets.empty());
}

TEST_F(StreamValue, a_zero_chunk_is_refused) {
  auto s = store::make_memory_store();
  collected c;
  auto cb = collect(c);
  auto r = eng_.run(objects::stream_value(*s, "k", 0, cb));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().code == condition::invalid_argument) << r.error().describe();
}

TEST_F(StreamValue, a_value_replaced_part_way_fails_without_delivering_the_new_version) {
  auto s = store::open_file_store(dir_.string());
  ASSERT_TRUE(s) << s.error().describe();
  auto old_value = bytes_of(20'000, 3), new_value = bytes_of(20'000, 4);
  ASSERT_TRUE(eng_.run((*s)->write("v", old_value)));
  collected c;
  auto cb = collect(c, [&] { replace_file(dir_ / "v", new_value); });
  auto r = eng_.run(objects::stream_value(**s, "v", 8192, cb));
  ASSERT_FALSE(r) << "a read across two versions succeeded";
  EXPECT_TRUE(r.error().code == condition::precondition_failed) << r.error().describe();
  EXPECT_NE(r.error().message.find("changed"), std::string::npos) << r.error().describe();
  // Only the first chunk, all of it from the old version.
  ASSERT_EQ(c.offsets, std::vector<uint64_t>{0});
  EXPECT_TRUE(std::equal(c.bytes.begin(), c.bytes.end(), old_value.begin()));
}

TEST_F(StreamValue, a_value_removed_part_way_fails) {
  auto s = store::open_file_store(dir_.string());
  ASSERT_TRUE(s) << s.error().describe();
  ASSERT_TRUE(eng_.run((*s)->write("v", bytes_of(20'000, 5))));
  collected c;
  auto cb = collect(c, [&] { fs::remove(dir_ / "v"); });
  auto r = eng_.run(objects::stream_value(**s, "v", 8192, cb));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().code == condition::precondition_failed) << r.error().describe();
  EXPECT_EQ(c.offsets.size(), 1u);
}

TEST_F(StreamValue, an_error_from_the_callback_stops_the_read_and_is_returned) {
  auto s = store::make_memory_store();
  ASSERT_TRUE(eng_.run(s->write("k", bytes_of(10'000, 6))));
  unsigned calls = 0;
  objects::chunk_callback refuse = [&](std::span<const std::byte>, uint64_t) -> result<void> {
    ++calls;
    return fail(errc::io_error, "cannot write to standard output");
  };
  auto r = eng_.run(objects::stream_value(*s, "k", 4096, refuse));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(errc::io_error)) << r.error().describe();
  EXPECT_EQ(calls, 1u);
}

}  // namespace
