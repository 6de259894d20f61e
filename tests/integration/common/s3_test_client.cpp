#include "s3_test_client.hpp"

#include <cstring>
#include <random>

namespace sluice::testing {

s3_test_client::s3_test_client(const s3_server& server, const client_tweaks& tweaks)
    : engine_(std::make_unique<engine>(engine::options{1})), created_(error{}) {
  s3::client_options o;
  o.config.endpoint_url = server.endpoint_url;
  o.config.region = server.region.empty() ? "us-east-1" : server.region;
  o.config.creds = {server.access_key,
                    tweaks.secret_override.empty() ? server.secret_key : tweaks.secret_override, ""};
  o.config.path_style = tweaks.path_style;
  if (!tweaks.ca_file.empty())
    o.config.ca_bundle = tweaks.ca_file;
  else if (tweaks.use_server_ca)
    o.config.ca_bundle = server.ca_file;
  o.http.tls.verify = tweaks.verify_tls;
  // Tests want failures fast, not after two minutes of retries.
  o.retry.max_attempts = 3;
  o.retry.overall_deadline = std::chrono::seconds(20);
  created_ = s3::client::create(engine_->executor(), std::move(o));
  if (created_) client_ = *created_;
}

std::vector<std::byte> test_bytes(std::size_t n, uint64_t seed) {
  std::vector<std::byte> v(n);
  std::mt19937_64 rng(seed);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x = rng();
    std::memcpy(v.data() + i, &x, 8);
  }
  for (; i < n; ++i) v[i] = static_cast<std::byte>(rng() & 0xff);
  return v;
}

std::span<const std::byte> as_span(const std::vector<std::byte>& v) {
  return {v.data(), v.size()};
}

std::map<std::string, std::string> cli_environment(const s3_server& server) {
  std::map<std::string, std::string> env{{"AWS_ACCESS_KEY_ID", server.access_key},
                                         {"AWS_SECRET_ACCESS_KEY", server.secret_key},
                                         {"AWS_REGION", server.region.empty() ? "us-east-1" : server.region},
                                         {"AWS_ENDPOINT_URL", server.endpoint_url}};
  if (!server.ca_file.empty()) env["AWS_CA_BUNDLE"] = server.ca_file;
  // Keep the user's ~/.aws out of tests.
  env["AWS_CONFIG_FILE"] = "/dev/null";
  env["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null";
  return env;
}

command_result run_sluice(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                          const std::string& stdin_data) {
  std::vector<std::string> argv{SLUICE_CLI_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, env, stdin_data, std::chrono::seconds(120));
}

std::string describe(const command_result& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out + "\n--- stderr:\n" + r.err;
}

}  // namespace sluice::testing
