// An engine plus an S3 client pointed at a test server, for integration tests.
#pragma once

#include <sluice/engine/runtime/engine.hpp>
#include <sluice/engine/s3/client.hpp>

#include <test_servers.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace sluice::testing {

struct client_tweaks {
  std::string secret_override;  // a wrong secret for signature tests
  bool verify_tls = true;
  std::string ca_file;  // overrides the server's CA
  bool use_server_ca = true;
  bool path_style = true;
};

class s3_test_client {
 public:
  explicit s3_test_client(const s3_server& server, const client_tweaks& tweaks = {});
  s3::client& operator*() { return *client_; }
  s3::client* operator->() { return client_.get(); }
  engine& eng() { return *engine_; }
  // Blocking facade for tests.
  template <class T>
  T run(boost::asio::awaitable<T> work) {
    return engine_->run(std::move(work));
  }
  const result<std::shared_ptr<s3::client>>& created() const { return created_; }

 private:
  std::unique_ptr<engine> engine_;
  result<std::shared_ptr<s3::client>> created_;
  std::shared_ptr<s3::client> client_;
};

// Bytes for tests: deterministic pseudo-random content.
std::vector<std::byte> test_bytes(std::size_t n, uint64_t seed);
std::span<const std::byte> as_span(const std::vector<std::byte>& v);

// The environment the sluice CLI (or another client) needs for `server`: the
// keys, the region, and nothing inherited from AWS_* variables.
std::map<std::string, std::string> cli_environment(const s3_server& server);

// Runs the built `sluice` CLI with `args` in the environment `env` (and
// `stdin_data` on its standard input), for at most 120 s.
command_result run_sluice(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                          const std::string& stdin_data = "");
// "exit N" and both output streams, for assertion messages.
std::string describe(const command_result& r);

}  // namespace sluice::testing
