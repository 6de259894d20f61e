// TLS: verification on by default, a CA bundle makes a private CA trusted,
// and only an explicit opt-out accepts an unverified certificate.
#include "s3_test_client.hpp"

#include <sluice/engine/s3/error.hpp>

#include <cstring>

using namespace sluice;
using namespace sluice::testing;

namespace {

class Tls : public ::testing::Test {
 protected:
  s3rver_process server_{s3rver_options{.tls = true}};
};

TEST_F(Tls, certificate_from_an_unknown_ca_fails_verification) {
  ASSERT_EQ(server_.server().endpoint_url.rfind("https://", 0), 0u);
  s3_test_client c(server_.server(), client_tweaks{.use_server_ca = false});
  ASSERT_TRUE(c.created()) << c.created().error().describe();
  auto r = c.run(c->list_buckets());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::tls_verification) << r.error().describe();
  EXPECT_NE(r.error().message.find("certificate"), std::string::npos) << r.error().message;
}

TEST_F(Tls, the_servers_ca_as_bundle_makes_it_trusted) {
  s3_test_client c(server_.server());  // ca_bundle = the test CA
  auto r = c.run(c->create_bucket("tls-ok"));
  ASSERT_TRUE(r) << r.error().describe();
  auto data = test_bytes(100000, 5);
  ASSERT_TRUE(c.run(c->put_object("tls-ok", "k", as_span(data))));
  auto got = c.run(c->get_object_bytes("tls-ok", "k"));
  ASSERT_TRUE(got) << got.error().describe();
  ASSERT_EQ(got->data.size(), data.size());
  EXPECT_EQ(std::memcmp(got->data.data(), data.data(), data.size()), 0);
}

TEST_F(Tls, a_ca_bundle_that_does_not_exist_is_a_configuration_error) {
  s3_test_client c(server_.server(), client_tweaks{.ca_file = "/nonexistent/ca.pem"});
  ASSERT_FALSE(c.created());
  EXPECT_EQ(c.created().error().code, errc::invalid_config);
  EXPECT_NE(c.created().error().message.find("/nonexistent/ca.pem"), std::string::npos);
}

TEST_F(Tls, the_explicit_opt_out_accepts_an_unverified_certificate) {
  s3_test_client c(server_.server(), client_tweaks{.verify_tls = false, .use_server_ca = false});
  auto r = c.run(c->list_buckets());
  ASSERT_TRUE(r) << r.error().describe();
}

TEST_F(Tls, the_cli_fails_without_the_ca_and_succeeds_with_it_or_with_no_verify_ssl) {
  auto env = cli_environment(server_.server());
  env.erase("AWS_CA_BUNDLE");
  auto fails = run_command({SLUICE_CLI_PATH, "ls"}, env);
  EXPECT_NE(fails.exit_code, 0);
  EXPECT_NE(fails.err.find("TLS certificate verification failed"), std::string::npos) << fails.err;

  auto insecure = run_command({SLUICE_CLI_PATH, "--no-verify-ssl", "ls"}, env);
  EXPECT_EQ(insecure.exit_code, 0) << insecure.err;

  auto with_flag = run_command({SLUICE_CLI_PATH, "--ca-bundle", server_.server().ca_file, "mb", "s3://tls-cli"}, env);
  EXPECT_EQ(with_flag.exit_code, 0) << with_flag.err;
  env["AWS_CA_BUNDLE"] = server_.server().ca_file;
  auto with_env = run_command({SLUICE_CLI_PATH, "ls"}, env);
  EXPECT_EQ(with_env.exit_code, 0) << with_env.err;
  EXPECT_NE(with_env.out.find("tls-cli"), std::string::npos) << with_env.out;
}

}  // namespace
