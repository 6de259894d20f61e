// Pure path logic of the objects API (no server needed).
#include <sluice/objects/objects.hpp>

#include <gtest/gtest.h>

using sluice::objects::covers;
using sluice::objects::parse_location;

TEST(ObjectsPaths, a_prefix_covers_itself_and_keys_below_it_but_not_siblings) {
  EXPECT_TRUE(covers("data/exp", "data/exp"));
  EXPECT_TRUE(covers("data/exp", "data/exp/a"));
  EXPECT_TRUE(covers("data/exp", "data/exp/b/c"));
  EXPECT_FALSE(covers("data/exp", "data/experiment2/x"));
  EXPECT_FALSE(covers("data/exp", "data/exp-old"));
  EXPECT_FALSE(covers("data/exp", "data/ex"));
  EXPECT_TRUE(covers("data/exp/", "data/exp/a"));
  EXPECT_FALSE(covers("data/exp/", "data/exp"));
  EXPECT_TRUE(covers("", "anything/at/all"));
}

TEST(ObjectsPaths, locations_are_s3_urls_or_local_paths_and_bad_ones_are_refused) {
  auto remote = parse_location("s3://bucket/dir/key.bin");
  ASSERT_TRUE(remote);
  EXPECT_TRUE(remote->remote);
  EXPECT_EQ(remote->bucket, "bucket");
  EXPECT_EQ(remote->key, "dir/key.bin");
  auto local = parse_location("./data/file.nc");
  ASSERT_TRUE(local);
  EXPECT_FALSE(local->remote);
  EXPECT_EQ(local->path, "./data/file.nc");
  for (const char* bad : {"", "http://host/x", "s3://Bad_Bucket/x", "s3://ab/x"}) {
    auto r = parse_location(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, sluice::errc::invalid_argument) << bad;
    }
  }
}
