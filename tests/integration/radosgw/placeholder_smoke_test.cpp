#include "s3_test_client.hpp"

#include <sluice/engine/s3/error.hpp>

using namespace sluice;
using namespace sluice::testing;

TEST(RadosgwSmoke, create_bucket_then_missing_key_is_no_such_key) {
  auto server = radosgw_server();
  ASSERT_TRUE(server.has_value());
  s3_test_client c(*server);
  ASSERT_TRUE(c.created()) << c.created().error().describe();
  std::string bucket = unique_bucket_name("smoke");
  auto made = c.run(c->create_bucket(bucket));
  ASSERT_TRUE(made) << made.error().describe();
  auto got = c.run(c->head_object(bucket, "missing"));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, s3::errc::no_such_key) << got.error().describe();
}
