// The store conformance suite on the S3 driver against s3rver (one server per
// test). s3rver honours no condition on PUT: conditional writes must fail
// with unsupported, never go through.
#include <s3_store_fixture.hpp>

#include <sluice/objects/objects.hpp>

#include <algorithm>

namespace {

using namespace sluice;
using namespace sluice::testing;

class S3rverStore : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<s3rver_process>();
    s3_ = std::make_unique<s3_store_fixture>(server_->server());
    s3_->fixture().keeps_empty_segments = false;  // s3rver collapses "//" in paths
    s3_->fixture().faithful_delimiter_listing = false;
  }
  void TearDown() override {
    s3_.reset();
    server_.reset();
  }
  store_tests::store_fixture& fixture() { return s3_->fixture(); }

  std::unique_ptr<s3rver_process> server_;
  std::unique_ptr<s3_store_fixture> s3_;
};

SLUICE_STORE_CONFORMANCE_TESTS(S3rverStore)

TEST_F(S3rverStore, the_probe_finds_no_conditional_writes) {
  auto& f = fixture();
  auto feat = f.run(store::probe(*f.s));
  ASSERT_TRUE(feat) << feat.error().describe();
  EXPECT_FALSE(feat->conditional_create);
  EXPECT_FALSE(feat->conditional_replace);
  EXPECT_FALSE(feat->conditional_remove);
  // The probe leaves nothing behind.
  unsigned keys = 0;
  store::list_callback count = [&](store::list_page& p) -> result<bool> {
    keys += static_cast<unsigned>(p.entries.size());
    return true;
  };
  ASSERT_TRUE(f.run(f.s->list("", store::list_all, count)));
  EXPECT_EQ(keys, 0u);
}

// objects::stream_value over S3: ranged reads pinned to the first one's ETag. s3rver ignores
// If-Match on GET, so the driver's own ETag check must catch a replacement between two reads.
TEST_F(S3rverStore, stream_value_stops_when_the_value_is_replaced_between_ranged_reads) {
  check_stream_stops_when_replaced(*s3_, server_->server());
}

// The recorded XXH3 (whole, and composite for a multipart value) is checked over the stream.
TEST_F(S3rverStore, stream_value_verifies_whole_and_composite_hashes) {
  auto& f = fixture();
  for (std::size_t size : {f.part_size - 1, f.part_size + 12345}) {
    SCOPED_TRACE(size);
    auto value = test_bytes(size, 3);
    const std::string key = "hashed-" + std::to_string(size);
    ASSERT_TRUE(f.run(f.s->write(key, value)));
    std::vector<std::byte> got;
    objects::chunk_callback keep = [&](std::span<const std::byte> b, uint64_t offset) -> result<void> {
      EXPECT_EQ(offset, got.size());
      got.insert(got.end(), b.begin(), b.end());
      return {};
    };
    auto r = f.run(objects::stream_value(*f.s, key, 1 << 20, keep));
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_TRUE(r->verified);
    EXPECT_EQ(r->bytes, size);
    EXPECT_TRUE(got == value);
  }
}

// The bucket functions of store/s3.hpp against a server: create, look up, list, remove.
TEST_F(S3rverStore, bucket_functions_create_list_and_remove_a_bucket) {
  auto& f = fixture();
  auto& sched = s3_->scheduler();
  const std::string name = unique_bucket_name("fns");
  auto listed = [&] {
    auto all = f.run(store::list_buckets(sched));
    EXPECT_TRUE(all) << all.error().describe();
    return all && std::any_of(all->begin(), all->end(), [&](auto& b) { return b.name == name; });
  };
  auto before = f.run(store::bucket_exists(sched, name));
  ASSERT_TRUE(before) << before.error().describe();
  EXPECT_FALSE(*before);
  EXPECT_FALSE(listed());

  ASSERT_TRUE(f.run(store::create_bucket(sched, name)));
  auto after = f.run(store::bucket_exists(sched, name));
  ASSERT_TRUE(after) << after.error().describe();
  EXPECT_TRUE(*after);
  EXPECT_TRUE(listed());
  auto twice = f.run(store::create_bucket(sched, name));
  EXPECT_FALSE(twice) << "creating an existing bucket succeeded";

  ASSERT_TRUE(f.run(store::remove_bucket(sched, name)));
  auto gone = f.run(store::bucket_exists(sched, name));
  ASSERT_TRUE(gone) << gone.error().describe();
  EXPECT_FALSE(*gone);
  EXPECT_FALSE(listed());
  auto again = f.run(store::remove_bucket(sched, name));
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error().code == condition::not_found) << again.error().describe();
}

}  // namespace
