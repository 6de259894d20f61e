// `sluice datafile` against s3rver, which keeps user-metadata names exactly as sent (unlike radosgw,
// see radosgw/cli_datafile_test.cpp): Debian's aws CLI sees octue's own names, octue__id and the rest.
#include "cli_test_support.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

using namespace sluice;
using namespace sluice::testing;

namespace {

TEST(CliDatafileS3rver, another_client_sees_octues_exact_names) {
  s3rver_cli_fixture f("cli-datafile");
  f.make_bucket();
  ASSERT_TRUE(have_debian_aws()) << debian_aws << " is needed to read the metadata independently";
  const std::string file = f.dir / "wind.csv";
  write_file(file, std::string_view("speed\n7.5\n"));
  auto tag = f.sluice({"datafile", "tag", file, "--label", "wind", "--tag", "site=north"});
  ASSERT_EQ(tag.exit_code, 0) << describe(tag);
  auto up = f.sluice({"datafile", "upload", file, f.url("wind.csv"), "--json"});
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  const std::string id(parse_document(up).at("id").as_string());

  auto head =
      run_debian_aws(f.server.server(), {"s3api", "head-object", "--bucket", f.bucket, "--key", "wind.csv"});
  ASSERT_EQ(head.exit_code, 0) << describe(head);
  const auto meta = boost::json::parse(head.out).at("Metadata").as_object();
  EXPECT_EQ(meta.at("octue__id").as_string(), "\"" + id + "\"");
  EXPECT_EQ(meta.at("octue__labels").as_string(), "[\"wind\"]");
  EXPECT_EQ(meta.at("octue__tags").as_string(), "{\"site\":\"north\"}");
  EXPECT_EQ(meta.at("octue__timestamp").as_string(), "null");

  auto info = f.sluice({"datafile", "info", f.url("wind.csv"), "--json"});
  ASSERT_EQ(info.exit_code, 0) << describe(info);
  EXPECT_EQ(parse_document(info).at("id").as_string(), id);
}

}  // namespace
