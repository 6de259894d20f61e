// The scheduler for library callers, against radosgw (exact ranges, strict
// conditions): one admission limit over concurrent transfers, uploads that
// read their file once, several ranges in one call, uploads from a chain.
#include "s3_store_fixture.hpp"

#include <sluice/engine/s3/error.hpp>
#include <sluice/engine/transfer/scheduler.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace sluice;
using namespace sluice::testing;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t MiB = std::size_t(1) << 20;

class RadosgwScheduler : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = radosgw_server();
    ASSERT_TRUE(s.has_value());
    server_ = *s;
    bucket_ = unique_bucket_name("sched");
    dir_ = make_temp_dir("sluice-sched");
    make({});
    auto mb = eng_.run(sched_->client().create_bucket(bucket_));
    ASSERT_TRUE(mb) << mb.error().describe();
  }
  void TearDown() override {
    if (sched_) empty_and_remove_bucket(eng_, *sched_, bucket_);
    remove_tree(dir_);
  }
  void make(transfer::options t) {
    s3::client_options o;
    o.config.endpoint_url = server_.endpoint_url;
    o.config.region = server_.region.empty() ? "us-east-1" : server_.region;
    o.config.creds = {server_.access_key, server_.secret_key, ""};
    o.retry.max_attempts = 3;
    o.retry.base_delay = std::chrono::milliseconds(10);
    if (t.part_size == transfer::options{}.part_size) {
      t.part_size = 5 * MiB;
      t.multipart_threshold = 5 * MiB;
    }
    auto made = transfer::scheduler::create(eng_, std::move(o), t);
    ASSERT_TRUE(made) << made.error().describe();
    sched_ = *made;
  }
  std::string write_local(const std::string& name, const std::vector<std::byte>& data) {
    std::string p = dir_ + "/" + name;
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    return p;
  }
  std::vector<std::byte> read_back(const std::string& key, bool* verified = nullptr) {
    auto got = eng_.run(sched_->read(bucket_, key, std::nullopt));
    EXPECT_TRUE(got) << got.error().describe();
    if (!got) return {};
    if (verified) *verified = got->verified;
    return {got->data.span().begin(), got->data.span().end()};
  }

  s3_server server_;
  engine eng_{engine::options{2}};
  std::shared_ptr<transfer::scheduler> sched_;
  std::string bucket_;
  std::string dir_;
};

std::vector<std::byte> bytes_of(const buffer_slice& s) {
  return {s.span().begin(), s.span().end()};
}
std::vector<std::byte> slice(const std::vector<std::byte>& v, std::size_t first, std::size_t n) {
  return {v.begin() + static_cast<std::ptrdiff_t>(first), v.begin() + static_cast<std::ptrdiff_t>(first + n)};
}

TEST_F(RadosgwScheduler, one_admission_limit_holds_over_concurrent_transfers) {
  transfer::options t;
  t.part_size = 5 * MiB;
  t.multipart_threshold = 5 * MiB;
  t.max_in_flight = 4;  // each call below alone would run 4 requests at once
  make(t);
  const auto data = test_bytes(41 * MiB, 3);
  ASSERT_TRUE(eng_.run(sched_->put(bucket_, "big", as_span(data))));
  std::vector<std::byte> streamed;
  const transfer::consumer collect = [&](std::span<const std::byte> b, uint64_t) -> result<void> {
    streamed.insert(streamed.end(), b.begin(), b.end());
    return {};
  };
  result<transfer::object_bytes> read = fail(errc::io_error, "not run");
  result<transfer::stats> down = fail(errc::io_error, "not run"), stream = fail(errc::io_error, "not run");
  {
    std::jthread a([&] { read = eng_.run(sched_->read(bucket_, "big", std::nullopt)); });
    std::jthread b([&] { down = eng_.run(sched_->download(bucket_, "big", dir_ + "/big")); });
    std::jthread c([&] { stream = eng_.run(sched_->stream(bucket_, "big", collect)); });
  }
  ASSERT_TRUE(read) << read.error().describe();
  ASSERT_TRUE(down) << down.error().describe();
  ASSERT_TRUE(stream) << stream.error().describe();
  EXPECT_TRUE(read->verified);
  EXPECT_TRUE(down->verified);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), read->data.span().begin(), read->data.span().end()));
  EXPECT_EQ(streamed, data);
  // Three transfers of 9 parts each ran at once, and never more than 4 requests.
  EXPECT_LE(sched_->peak_requests_in_flight(), 4u);
  EXPECT_GE(sched_->peak_requests_in_flight(), 2u);
  EXPECT_EQ(sched_->requests_in_flight(), 0u);
}

TEST_F(RadosgwScheduler, an_upload_reads_its_file_once_when_memory_allows) {
  const auto data = test_bytes(23 * MiB + 7, 5);  // 5 parts of 5 MiB
  const std::string src = write_local("src", data);
  auto up = eng_.run(sched_->upload(src, bucket_, "once"));
  ASSERT_TRUE(up) << up.error().describe();
  EXPECT_EQ(up->reread_parts, 0u);
  bool verified = false;
  EXPECT_EQ(read_back("once", &verified), data);
  EXPECT_TRUE(verified);

  // 16 MiB of budget: one 5 MiB part for hashing, at most half the budget
  // kept: one part is sent from memory, the other four are read again.
  transfer::options t;
  t.part_size = 5 * MiB;
  t.multipart_threshold = 5 * MiB;
  t.memory_budget = 16 * MiB;
  make(t);
  auto small = eng_.run(sched_->upload(src, bucket_, "twice"));
  ASSERT_TRUE(small) << small.error().describe();
  EXPECT_EQ(small->reread_parts, 4u);
  EXPECT_LE(sched_->pool().peak_reserved(), 16 * MiB);
  // Read back to a file: the object does not fit this budget in memory.
  auto down = eng_.run(sched_->download(bucket_, "twice", dir_ + "/back"));
  ASSERT_TRUE(down) << down.error().describe();
  EXPECT_TRUE(down->verified);
  std::ifstream in(dir_ + "/back", std::ios::binary);
  std::vector<char> back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(back.size(), data.size());
  EXPECT_EQ(0, std::memcmp(back.data(), data.data(), data.size()));
}

TEST_F(RadosgwScheduler, several_ranges_in_one_call_are_coalesced_and_sliced) {
  const auto data = test_bytes(3 * MiB + 11, 7);
  const std::size_t n = data.size();
  ASSERT_TRUE(eng_.run(sched_->put(bucket_, "ranges", as_span(data))));

  // Bounded ranges: no HEAD; the first two are 100 bytes apart (one request).
  const s3::byte_range bounded[] = {s3::byte_range::between(2 * MiB, 2 * MiB + 999),
                                    s3::byte_range::between(0, 99), s3::byte_range::between(200, 299)};
  auto got = eng_.run(sched_->read_ranges(bucket_, "ranges", bounded));
  ASSERT_TRUE(got) << got.error().describe();
  ASSERT_EQ(got->ranges.size(), 3u);
  EXPECT_EQ(got->requests, 2u);
  EXPECT_EQ(got->info.size, n);
  EXPECT_EQ(got->firsts, (std::vector<uint64_t>{2 * MiB, 0, 200}));
  EXPECT_EQ(bytes_of(got->ranges[0]), slice(data, 2 * MiB, 1000));
  EXPECT_EQ(bytes_of(got->ranges[1]), slice(data, 0, 100));
  EXPECT_EQ(bytes_of(got->ranges[2]), slice(data, 200, 100));
  EXPECT_FALSE(got->verified);

  // A suffix and an open-ended range need the size: one HEAD, then the two
  // overlapping tail ranges in one request, past-the-end clamped.
  const s3::byte_range tails[] = {s3::byte_range::last_bytes(10), s3::byte_range::from(n - 5),
                                  s3::byte_range::between(n - 3, n + 100)};
  auto tail = eng_.run(sched_->read_ranges(bucket_, "ranges", tails));
  ASSERT_TRUE(tail) << tail.error().describe();
  EXPECT_EQ(tail->requests, 2u);
  EXPECT_EQ(bytes_of(tail->ranges[0]), slice(data, n - 10, 10));
  EXPECT_EQ(bytes_of(tail->ranges[1]), slice(data, n - 5, 5));
  EXPECT_EQ(bytes_of(tail->ranges[2]), slice(data, n - 3, 3));

  // Ranges that cover the whole object: verified against the recorded XXH3.
  const s3::byte_range halves[] = {s3::byte_range::between(0, n / 2 - 1), s3::byte_range::from(n / 2)};
  auto whole = eng_.run(sched_->read_ranges(bucket_, "ranges", halves));
  ASSERT_TRUE(whole) << whole.error().describe();
  EXPECT_TRUE(whole->verified);
  EXPECT_EQ(bytes_of(whole->ranges[0]), slice(data, 0, n / 2));
  EXPECT_EQ(bytes_of(whole->ranges[1]), slice(data, n / 2, n - n / 2));

  // Errors: a range past the end, none at all, an inverted one, a condition.
  const s3::byte_range past[] = {s3::byte_range::between(0, 9), s3::byte_range::between(n + 10, n + 20)};
  auto bad = eng_.run(sched_->read_ranges(bucket_, "ranges", past));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, s3::errc::invalid_range) << bad.error().describe();
  auto none = eng_.run(sched_->read_ranges(bucket_, "ranges", std::span<const s3::byte_range>{}));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, errc::invalid_argument);
  const s3::byte_range inverted[] = {s3::byte_range::between(0, 9), s3::byte_range::between(20, 10)};
  auto inv = eng_.run(sched_->read_ranges(bucket_, "ranges", inverted));
  ASSERT_FALSE(inv);
  EXPECT_EQ(inv.error().code, errc::invalid_argument);
  s3::conditions unchanged;
  unchanged.if_none_match = got->info.etag;
  auto same = eng_.run(sched_->read_ranges(bucket_, "ranges", bounded, unchanged));
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error().code, s3::errc::not_modified) << same.error().describe();
  // Every slice above has been dropped or is still held here; none leaks.
  got = fail(errc::io_error, "dropped");
  tail = fail(errc::io_error, "dropped");
  whole = fail(errc::io_error, "dropped");
  EXPECT_EQ(sched_->pool().reserved(), 0u);
}

TEST_F(RadosgwScheduler, an_upload_from_a_chain_of_pieces_straddling_parts_round_trips) {
  const auto data = test_bytes(16 * MiB + 6, 9);
  // Pieces of 1 B, 7 MiB, 3 MiB + 5, 0 B and the rest, against 5 MiB parts.
  const std::size_t cuts[] = {0, 1, 1 + 7 * MiB, 1 + 10 * MiB + 5, 1 + 10 * MiB + 5, data.size()};
  std::vector<std::span<const std::byte>> pieces;
  for (std::size_t i = 0; i + 1 < std::size(cuts); ++i)
    pieces.push_back(as_span(data).subspan(cuts[i], cuts[i + 1] - cuts[i]));
  auto put = eng_.run(sched_->put_chain(bucket_, "chain", pieces));
  ASSERT_TRUE(put) << put.error().describe();
  EXPECT_NE(put->xxh3, 0u);
  bool verified = false;
  EXPECT_EQ(read_back("chain", &verified), data);
  EXPECT_TRUE(verified);

  // Below the multipart threshold several pieces go in one PUT.
  const auto small = test_bytes(3000, 10);
  const std::span<const std::byte> three[] = {as_span(small).first(1000), as_span(small).subspan(1000, 1),
                                              as_span(small).subspan(1001)};
  ASSERT_TRUE(eng_.run(sched_->put_chain(bucket_, "small", three)));
  EXPECT_EQ(read_back("small", &verified), small);
  EXPECT_TRUE(verified);
  EXPECT_EQ(sched_->pool().reserved(), 0u);
}

}  // namespace
