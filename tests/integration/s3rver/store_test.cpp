// The store conformance suite on the S3 driver against s3rver (one server per
// test). s3rver honours no condition on PUT: conditional writes must fail
// with unsupported, never go through.
#include <s3_store_fixture.hpp>

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

}  // namespace
