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
  auto server = radosgw_server();
  ASSERT_TRUE(server.has_value());
  check_stream_stops_when_replaced(*s3_, *server);
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
