// The store conformance suite on the S3 driver against Ceph radosgw (started
// once per ctest run). radosgw honours If-None-Match: * and If-Match on PUT
// (unquoted only); the probe must find both.
#include <s3_store_fixture.hpp>

#include <sluice/objects/objects.hpp>
#include <sluice/store/caching.hpp>
#include <sluice/zarr/array.hpp>

#include <numeric>

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

// A sharded, compressed Zarr array on S3: written through the store (shards
// as whole objects), reopened, read whole and as a strided selection; the
// keys are the shards', the array's zarr.json and its parent group's.
TEST_F(RadosgwStore, a_sharded_zarr_array_round_trips_through_s3) {
  auto& f = fixture();
  zarr::array_metadata m;
  m.shape = {64, 48};
  m.dtype = zarr::data_type::float32;
  m.chunk_grid.chunk_shape = {32, 16};
  m.fill = zarr::fill_value::zero(m.dtype);
  boost::json::object little{{"endian", "little"}};
  m.codecs = {
      {"sharding_indexed",
       {{"chunk_shape", boost::json::array{8, 8}},
        {"codecs", boost::json::array{boost::json::object{{"name", "bytes"}, {"configuration", little}},
                                      boost::json::object{{"name", "zstd"}}}},
        {"index_codecs", boost::json::array{boost::json::object{{"name", "bytes"}, {"configuration", little}},
                                            boost::json::object{{"name", "crc32c"}}}}},
       true}};
  auto a = f.run(zarr::array::create(f.s, "arrays/t2m", m));
  ASSERT_TRUE(a) << a.error().describe();
  std::vector<float> all(64 * 48);
  std::iota(all.begin(), all.end(), 0.5f);
  ASSERT_TRUE(f.run(a->write({}, std::as_bytes(std::span(all)), 8)));
  auto again = f.run(zarr::array::open(f.s, "arrays/t2m"));
  ASSERT_TRUE(again) << again.error().describe();
  std::vector<float> back(all.size());
  ASSERT_TRUE(f.run(again->read({}, std::as_writable_bytes(std::span(back)), 8)));
  EXPECT_EQ(back, all);
  zarr::selection sel{zarr::slice::range(3, 64, 20), zarr::slice::at(47)};  // rows 3, 23, 43, 63
  std::vector<float> some(4);
  ASSERT_TRUE(f.run(again->read(sel, std::as_writable_bytes(std::span(some)), 4)));
  EXPECT_EQ(some,
            (std::vector<float>{all[3 * 48 + 47], all[23 * 48 + 47], all[43 * 48 + 47], all[63 * 48 + 47]}));
  std::vector<std::string> keys;
  store::list_callback cb = [&](store::list_page& p) -> result<bool> {
    for (auto& e : p.entries) keys.push_back(e.key);
    return true;
  };
  ASSERT_TRUE(f.run(f.s->list("arrays/", store::list_all, cb)));
  EXPECT_EQ(keys, (std::vector<std::string>{"arrays/t2m/c/0/0", "arrays/t2m/c/0/1", "arrays/t2m/c/0/2",
                                            "arrays/t2m/c/1/0", "arrays/t2m/c/1/1", "arrays/t2m/c/1/2",
                                            "arrays/t2m/zarr.json", "arrays/zarr.json"}));
}

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
