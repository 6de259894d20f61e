// The store conformance suite on the S3 driver against Ceph radosgw (started
// once per ctest run). radosgw honours If-None-Match: * and If-Match on PUT
// (unquoted only); the probe must find both.
#include <s3_store_fixture.hpp>

#include <sluice/objects/objects.hpp>
#include <sluice/store/caching.hpp>

#include <algorithm>

namespace {

using namespace sluice;
using namespace sluice::testing;

class RadosgwStore : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = radosgw_server();
    ASSERT_TRUE(server.has_value());
    s3_ = std::make_unique<s3_store_fixture>(*server);
  }
  void TearDown() override { s3_.reset(); }
  store_tests::store_fixture& fixture() { return s3_->fixture(); }

  std::unique_ptr<s3_store_fixture> s3_;
};

SLUICE_STORE_CONFORMANCE_TESTS(RadosgwStore)

TEST_F(RadosgwStore, the_probe_finds_conditional_create_and_replace) {
  auto& f = fixture();
  auto feat = f.run(store::probe(*f.s));
  ASSERT_TRUE(feat) << feat.error().describe();
  EXPECT_TRUE(feat->conditional_create);
  EXPECT_TRUE(feat->conditional_replace);
  EXPECT_FALSE(feat->conditional_remove) << "radosgw deletes whatever If-Match says";
}

// objects::stream_value over S3: radosgw honours If-Match on GET, so a value replaced between two
// ranged reads is refused by the server (412), and the stream stops with precondition_failed.
TEST_F(RadosgwStore, stream_value_stops_when_the_value_is_replaced_between_ranged_reads) {
  auto& f = fixture();
  auto old_value = test_bytes(3 << 20, 1), new_value = test_bytes(3 << 20, 2);
  ASSERT_TRUE(f.run(f.s->write("streamed", old_value)));
  auto server = radosgw_server();
  ASSERT_TRUE(server.has_value());
  s3_test_client other(*server);
  std::vector<std::byte> got;
  unsigned chunks = 0;
  objects::chunk_callback replace_after_first = [&](std::span<const std::byte> b, uint64_t) -> result<void> {
    got.insert(got.end(), b.begin(), b.end());
    if (++chunks == 1) {
      // Another writer, on its own engine (this callback runs on the store's caller's thread).
      auto p = other.run(other->put_object(s3_->bucket(), "tree/of values/streamed", as_span(new_value)));
      if (!p) return p.error();
    }
    return {};
  };
  auto r = f.run(objects::stream_value(*f.s, "streamed", 1 << 20, replace_after_first));
  ASSERT_FALSE(r) << "a stream across two versions succeeded";
  EXPECT_TRUE(r.error().code == condition::precondition_failed) << r.error().describe();
  EXPECT_EQ(chunks, 1u);
  ASSERT_EQ(got.size(), std::size_t(1) << 20);
  EXPECT_TRUE(std::equal(got.begin(), got.end(), old_value.begin()));
}

}  // namespace

namespace {

// The same suite through the caching adapter over the S3 driver: the probe,
// conditions, listings and copies all pass through it.
class RadosgwCachingStore : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = radosgw_server();
    ASSERT_TRUE(server.has_value());
    s3_ = std::make_unique<s3_store_fixture>(*server);
    store::caching_options o;
    o.value_cache_bytes = std::size_t(8) << 20;
    s3_->fixture().s = store::make_caching_store(s3_->fixture().s, o);
  }
  void TearDown() override { s3_.reset(); }
  store_tests::store_fixture& fixture() { return s3_->fixture(); }

  std::unique_ptr<s3_store_fixture> s3_;
};

SLUICE_STORE_CONFORMANCE_TESTS(RadosgwCachingStore)

}  // namespace
