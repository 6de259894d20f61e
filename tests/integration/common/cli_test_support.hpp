// What the tests of the `sluice` command line share (s3rver/cli_*_test.cpp, radosgw/cli_*_test.cpp):
// the built binary run to completion with a clean environment (run_sluice, s3_test_client.hpp) or
// kept running to signal it and hold its pipes (running_sluice); its output as lines or as one JSON
// document; scratch directories and files; and fixtures holding a server, a client for set-up and
// checks, a fresh bucket, a scratch directory and the CLI's environment.
#pragma once

#include "s3_test_client.hpp"

#include <boost/json/object.hpp>

#include <sys/types.h>

#include <cstddef>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::testing {

std::vector<std::string> lines_of(const std::string& text);
std::string read_file(const std::string& path);
// Writes `data` to `path`, creating missing parent directories; a test failure when it cannot.
void write_file(const std::string& path, std::string_view data);
void write_file(const std::string& path, std::span<const std::byte> data);
std::string as_string(const std::vector<std::byte>& v);

// A scratch directory, removed with everything in it when the test ends.
struct temp_dir {
  explicit temp_dir(const std::string& prefix = "sluice-cli-");
  ~temp_dir();
  temp_dir(temp_dir&& other) noexcept : path(std::exchange(other.path, {})) {}
  temp_dir& operator=(temp_dir&&) = delete;
  std::string operator/(const std::string& name) const { return path + "/" + name; }
  std::string path;
};

// Standard output parsed as exactly one JSON object (Boost.JSON rejects invalid UTF-8); a test
// failure, and an empty object, when it is not.
boost::json::object parse_document(const command_result& r);

// A failure as the CLI promises it: a non-zero status, one line on stderr starting "sluice:", and
// none of `secrets` in either stream.
void expect_one_line_failure(const command_result& r, const std::vector<std::string>& secrets = {});

// A running `sluice` with pipes on its standard streams, for what run_sluice cannot do: write its
// input bit by bit, close its output early, or signal it part-way. Killed (SIGKILL) when destroyed
// before wait().
class running_sluice {
 public:
  running_sluice(const std::vector<std::string>& args, const std::map<std::string, std::string>& env);
  ~running_sluice();
  running_sluice(const running_sluice&) = delete;
  running_sluice& operator=(const running_sluice&) = delete;
  void write_in(const std::string& data);
  // Up to `n` bytes of standard output (fewer when it closes first).
  std::string read_out(std::size_t n);
  void close_out();
  void signal(int sig);
  // The raw wait status once the process ends.
  int wait();
  // Standard error, up to its end (call after wait()).
  std::string read_err();

 private:
  pid_t pid_ = -1;
  bool waited_ = false;
  int stdin_ = -1, stdout_ = -1, stderr_ = -1;
};

// The aws CLI Debian installs, which the tests compare sluice with (a newer one may come first on
// PATH: always this one).
inline constexpr const char* debian_aws = "/usr/bin/aws";
bool have_debian_aws();
// `aws ARGS...` against `server` (--endpoint-url first, aws_cli_environment).
command_result run_debian_aws(const s3_server& server, std::vector<std::string> args);

// The objects of a bucket, through a test client (set-up and checks without the CLI).
void put_text_object(s3_test_client& client, const std::string& bucket, const std::string& key,
                     std::string_view body);
std::string get_text_object(s3_test_client& client, const std::string& bucket, const std::string& key);
std::set<std::string> keys_in(s3_test_client& client, const std::string& bucket,
                              const std::string& prefix = "");

// One s3rver for the test, a client, a bucket name (made by make_bucket()), a scratch directory and
// the environment the CLI runs in (cli_environment: the server's keys, nothing inherited).
struct s3rver_cli_fixture {
  explicit s3rver_cli_fixture(const std::string& name = "cli");
  s3rver_process server;
  s3_test_client client{server.server()};
  std::map<std::string, std::string> env = cli_environment(server.server());
  std::string bucket;
  temp_dir dir;

  void make_bucket();
  void put(const std::string& key, std::string_view body) { put_text_object(client, bucket, key, body); }
  std::string get(const std::string& key) { return get_text_object(client, bucket, key); }
  std::set<std::string> keys() { return keys_in(client, bucket); }
  // s3://bucket, or s3://bucket/key.
  std::string url(const std::string& key = "") const;
  // `sluice args...` in `env`, `input` on its standard input.
  command_result sluice(const std::vector<std::string>& args, const std::string& input = "") const {
    return run_sluice(args, env, input);
  }
};

// The radosgw of the ctest run (it checks SigV4 signatures), a client, a fresh bucket made by start()
// and removed with its objects at the end, a scratch directory and the CLI's environment.
struct radosgw_cli_fixture {
  explicit radosgw_cli_fixture(const std::string& name = "cli-rgw");
  ~radosgw_cli_fixture();
  radosgw_cli_fixture(const radosgw_cli_fixture&) = delete;
  radosgw_cli_fixture& operator=(const radosgw_cli_fixture&) = delete;
  // False (with a test failure recorded) when there is no server or no bucket.
  bool start();
  s3_server server;
  std::unique_ptr<s3_test_client> client;
  std::map<std::string, std::string> env;
  std::string bucket;
  temp_dir dir;

  void put(const std::string& key, std::string_view body) { put_text_object(*client, bucket, key, body); }
  std::string get(const std::string& key) { return get_text_object(*client, bucket, key); }
  std::set<std::string> keys() { return keys_in(*client, bucket); }
  std::string url(const std::string& key = "") const;
  command_result sluice(const std::vector<std::string>& args, const std::string& input = "") const {
    return run_sluice(args, env, input);
  }
};

}  // namespace sluice::testing
