// The S3 driver's bucket functions without a server: a name that breaks S3's
// bucket naming rules is refused with invalid_argument, naming the rule,
// before any request is sent (the endpoint is a port nothing listens on).
#include <sluice/engine/runtime/engine.hpp>
#include <sluice/store/s3.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace sluice;

class S3Buckets : public ::testing::Test {
 protected:
  void SetUp() override {
    s3::client_options o;
    o.config.endpoint_url = "http://127.0.0.1:9";  // discard: a request would fail to connect
    o.config.region = "us-east-1";
    o.config.creds = {"AKIDEXAMPLE", "secret", ""};
    o.retry.max_attempts = 1;
    auto made = transfer::scheduler::create(eng_, std::move(o), transfer::options{});
    ASSERT_TRUE(made) << made.error().describe();
    sched_ = *made;
  }

  // The error of `op` on `name`, which must be invalid_argument and mention the name and `why`.
  void expect_refused(const result<void>& r, const std::string& name, const std::string& why) {
    ASSERT_FALSE(r) << name << " was accepted";
    EXPECT_TRUE(r.error().code == condition::invalid_argument) << r.error().describe();
    EXPECT_NE(r.error().message.find(name), std::string::npos) << r.error().describe();
    EXPECT_NE(r.error().message.find(why), std::string::npos) << r.error().describe();
  }

  engine eng_{engine::options{1}};
  std::shared_ptr<transfer::scheduler> sched_;
};

TEST_F(S3Buckets, invalid_names_are_refused_before_any_request) {
  struct bad {
    std::string name, why;
  };
  const std::vector<bad> cases = {
      {"Bad_Bucket", "lowercase letters"},
      {"ab", "3 to 63 characters"},
      {std::string(64, 'a'), "3 to 63 characters"},
      {"-leading-dash", "start with"},
      {"a..b", "\"..\""},
      {"192.168.1.1", "IPv4"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto made = eng_.run(store::create_bucket(*sched_, c.name));
    expect_refused(made, c.name, c.why);
    EXPECT_NE(made.error().message.find("cannot create the bucket"), std::string::npos)
        << made.error().describe();
    auto removed = eng_.run(store::remove_bucket(*sched_, c.name));
    expect_refused(removed, c.name, c.why);
    EXPECT_NE(removed.error().message.find("cannot remove the bucket"), std::string::npos)
        << removed.error().describe();
    auto exists = eng_.run(store::bucket_exists(*sched_, c.name));
    ASSERT_FALSE(exists);
    EXPECT_TRUE(exists.error().code == condition::invalid_argument) << exists.error().describe();
  }
  EXPECT_EQ(sched_->http_stats().requests, 0u) << "a request was sent for an invalid name";
  EXPECT_EQ(sched_->http_stats().connections_opened, 0u);
}

TEST_F(S3Buckets, a_valid_name_is_sent_and_a_refused_connection_is_an_error_value) {
  auto made = eng_.run(store::create_bucket(*sched_, "valid-bucket-name"));
  ASSERT_FALSE(made) << "nothing listens on the discard port";
  EXPECT_FALSE(made.error().code == condition::invalid_argument) << made.error().describe();
}

}  // namespace
