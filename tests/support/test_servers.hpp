// Test S3 servers and process helpers for sluice's integration and CLI tests.
//
// Two servers, both on 127.0.0.1 only (tests/servers/README.md lists what each one supports):
// - radosgw: one Ceph cluster per ctest run, started by the `radosgw_start` fixture
//   (tests/servers/radosgw.sh) and described by an endpoint file; real SigV4 checking.
// - s3rver: a small Node.js S3 imitation started per test by `s3rver_process`, optionally with TLS;
//   it does not check SigV4 signatures, only the access key.
//
// This file depends on the C++ standard library, POSIX (Linux) and GoogleTest only, never on sluice,
// so a broken library cannot break the harness that tests it. Nothing here is thread-safe: use it
// from the test's own thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::testing {

// Where an S3 server is and how to sign requests for it.
struct s3_server {
  std::string endpoint_url;  // "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT"
  std::string access_key;
  std::string secret_key;
  std::string region;   // "us-east-1"
  std::string ca_file;  // PEM file of the CA that signed the server's certificate; empty unless TLS
};

// The radosgw started by the ctest fixture `radosgw_start`. Reads the endpoint file named by the
// environment variable SLUICE_RADOSGW_ENV (ctest sets it for tests carrying
// SLUICE_RADOSGW_TEST_PROPERTIES), else ${SLUICE_BINARY_DIR}/test-servers/radosgw/endpoint.env.
// When the file is missing or incomplete, records a GoogleTest failure that says how to start the
// server and returns std::nullopt, so a test reads:
//   auto rgw = sluice::testing::radosgw_server();
//   ASSERT_TRUE(rgw.has_value());
std::optional<s3_server> radosgw_server();

// How many times slower than a plain build the code under test runs: SLUICE_TEST_TIME_SCALE, a whole
// number from 1 (the default, also for anything unparsable) to 100; tools/sanitize.sh sets it. A test
// that needs one thing to outlast other work (a stall that must still be in flight when a batch of
// requests is done) lengthens that duration by it. It never loosens what a test asserts.
int time_scale();

// Parses an endpoint file of KEY=VALUE lines (SLUICE_TEST_ENDPOINT, SLUICE_TEST_ACCESS_KEY,
// SLUICE_TEST_SECRET_KEY, SLUICE_TEST_REGION and optionally SLUICE_TEST_CA_FILE). std::nullopt if the
// file cannot be read or lacks the endpoint or a key.
std::optional<s3_server> read_endpoint_file(const std::string& path);

// A throwaway certificate authority and a server certificate it signed, all PEM files in `dir`.
struct test_cert {
  std::string dir;
  std::string ca_cert;      // dir/ca.pem: give it to the client as its only trusted CA
  std::string server_cert;  // dir/server.pem: subjectAltName IP:<ip>, DNS:localhost
  std::string server_key;   // dir/server.key: unencrypted
};

// Generates fresh certificates (EC P-256, valid from now for 2 days) with the `openssl` command,
// creating `dir` if needed. Throws std::runtime_error with openssl's output if a step fails.
test_cert make_test_certificates(const std::string& dir, const std::string& ip = "127.0.0.1");

struct s3rver_options {
  // Serve https with `cert` (generated into the server's directory when cert.server_cert is empty).
  bool tls = false;
  test_cert cert;
  // How long start-up may take before the constructor gives up.
  std::chrono::milliseconds start_timeout = std::chrono::seconds(15);
};

// One s3rver process on 127.0.0.1 and an ephemeral port, storing its data in a fresh temporary
// directory. The constructor returns once the port accepts connections, or throws
// std::runtime_error with the end of s3rver's output (GoogleTest reports the message as the
// test's failure). The destructor stops the process (SIGTERM, after 5 s SIGKILL), reaps it and
// removes the directory unless SLUICE_KEEP_TEST_DIRS is set in the environment. The child also gets
// SIGKILL if the thread that created it exits, so a crashed test leaves no server behind: create it
// on the thread that runs the test.
//
// Runs `node --openssl-legacy-provider ${SLUICE_SOURCE_DIR}/tests/servers/node_modules/s3rver/
// bin/s3rver.js` (override the script with SLUICE_S3RVER_JS); `npm ci` in tests/servers (or
// tools/install-deps.sh) installs it. Keys: S3RVER / S3RVER, region us-east-1.
class s3rver_process {
 public:
  explicit s3rver_process(s3rver_options options = {});
  ~s3rver_process();
  s3rver_process(const s3rver_process&) = delete;
  s3rver_process& operator=(const s3rver_process&) = delete;

  const s3_server& server() const { return server_; }
  // The temporary directory: data/ holds the buckets, s3rver.log the server's output.
  const std::string& directory() const { return dir_; }
  // The last `max_bytes` of s3rver's output (one log line per request), for failure messages.
  std::string log_tail(std::size_t max_bytes = 4000) const;
  pid_t pid() const { return pid_; }

 private:
  void stop() noexcept;

  std::string dir_;
  std::string log_file_;
  pid_t pid_ = -1;
  s3_server server_;
};

// Creates a fresh directory ${TMPDIR:-/tmp}/<prefix>XXXXXX and returns its path. Throws
// std::runtime_error on failure.
std::string make_temp_dir(const std::string& prefix);

// Removes a file or directory tree; errors (e.g. already gone) are ignored.
void remove_tree(const std::string& path);

// A valid S3 bucket name (lowercase letters, digits and '-', at most 63 characters) starting with
// the sanitized `prefix` and unique across processes and time: <prefix>-<pid>-<counter>-<random>.
std::string unique_bucket_name(const std::string& prefix);

struct command_result {
  int exit_code;  // the exit status; 128 + signal if killed; 127 if the program could not be run
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] searched in PATH unless it contains '/'; no shell) with stdin_data on its
// standard input, and returns its exit status and everything it wrote to stdout and stderr. The
// environment is the current one without any AWS_* variable, plus env_overrides (which may set
// AWS_* again). After `timeout` the program is killed with SIGKILL; err then ends with a note.
command_result run_command(const std::vector<std::string>& argv,
                           const std::map<std::string, std::string>& env_overrides = {},
                           const std::string& stdin_data = "",
                           std::chrono::milliseconds timeout = std::chrono::minutes(5));

// Environment for running the `aws` CLI against `server` with run_command: its keys and region, its
// CA (AWS_CA_BUNDLE) if any, no config or credentials files, no instance metadata look-ups. Pass
// "--endpoint-url", server.endpoint_url on the command line.
std::map<std::string, std::string> aws_cli_environment(const s3_server& server);

}  // namespace sluice::testing
