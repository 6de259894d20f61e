#include "cli_test_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace sluice::testing {

namespace fs = std::filesystem;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, std::span<const std::byte> data) {
  std::error_code ec;
  if (const auto parent = fs::path(path).parent_path(); !parent.empty()) fs::create_directories(parent, ec);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(f.good()) << "cannot write " << path;
}

void write_file(const std::string& path, std::string_view data) {
  write_file(path, std::as_bytes(std::span(data.data(), data.size())));
}

std::string as_string(const std::vector<std::byte>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

temp_dir::temp_dir(const std::string& prefix) : path(make_temp_dir(prefix)) {}

temp_dir::~temp_dir() {
  if (!path.empty()) remove_tree(path);
}

boost::json::object parse_document(const command_result& r) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.out, ec);
  EXPECT_FALSE(ec) << "not one JSON document (" << ec.message() << "): " << describe(r);
  if (ec || !v.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << describe(r);
    return {};
  }
  return v.as_object();
}

void expect_one_line_failure(const command_result& r, const std::vector<std::string>& secrets) {
  EXPECT_NE(r.exit_code, 0) << describe(r);
  EXPECT_EQ(lines_of(r.err).size(), 1u) << describe(r);
  EXPECT_TRUE(r.err.starts_with("sluice:")) << describe(r);
  for (const auto& s : secrets) {
    EXPECT_EQ(r.out.find(s), std::string::npos) << "secret printed: " << describe(r);
    EXPECT_EQ(r.err.find(s), std::string::npos) << "secret printed: " << describe(r);
  }
}

running_sluice::running_sluice(const std::vector<std::string>& args,
                               const std::map<std::string, std::string>& env) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<std::string> argv_s{SLUICE_CLI_PATH};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  // Only `env` and PATH: nothing of the caller's AWS_* variables.
  std::vector<std::string> env_s;
  for (auto& [k, v] : env) env_s.push_back(k + "=" + v);
  if (const char* path = std::getenv("PATH")) env_s.push_back(std::string("PATH=") + path);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  const int spawned = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  stdin_ = in[1];
  stdout_ = out[0];
  stderr_ = err[0];
  if (spawned != 0) {
    pid_ = -1;
    throw std::runtime_error("spawn");
  }
}

running_sluice::~running_sluice() {
  if (pid_ > 0 && !waited_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  for (int fd : {stdin_, stdout_, stderr_})
    if (fd >= 0) ::close(fd);
}

void running_sluice::write_in(const std::string& data) {
  std::size_t at = 0;
  while (at < data.size()) {
    auto n = ::write(stdin_, data.data() + at, data.size() - at);
    if (n <= 0) return;
    at += static_cast<std::size_t>(n);
  }
}

std::string running_sluice::read_out(std::size_t n) {
  std::string got(n, '\0');
  std::size_t at = 0;
  while (at < n) {
    auto r = ::read(stdout_, got.data() + at, n - at);
    if (r <= 0) break;
    at += static_cast<std::size_t>(r);
  }
  got.resize(at);
  return got;
}

void running_sluice::close_out() {
  ::close(stdout_);
  stdout_ = -1;
}

void running_sluice::signal(int sig) {
  ::kill(pid_, sig);
}

int running_sluice::wait() {
  int status = 0;
  ::waitpid(pid_, &status, 0);
  waited_ = true;
  return status;
}

std::string running_sluice::read_err() {
  std::string all;
  char buf[4096];
  for (ssize_t n; (n = ::read(stderr_, buf, sizeof buf)) > 0;) all.append(buf, static_cast<std::size_t>(n));
  return all;
}

bool have_debian_aws() {
  return ::access(debian_aws, X_OK) == 0;
}

command_result run_debian_aws(const s3_server& server, std::vector<std::string> args) {
  args.insert(args.begin(), {debian_aws, "--endpoint-url", server.endpoint_url});
  return run_command(args, aws_cli_environment(server));
}

void put_text_object(s3_test_client& client, const std::string& bucket, const std::string& key,
                     std::string_view body) {
  auto p = client.run(client->put_object(bucket, key, std::as_bytes(std::span(body.data(), body.size()))));
  ASSERT_TRUE(p) << key << ": " << p.error().describe();
}

std::string get_text_object(s3_test_client& client, const std::string& bucket, const std::string& key) {
  auto got = client.run(client->get_object_bytes(bucket, key));
  EXPECT_TRUE(got) << key << ": " << got.error().describe();
  if (!got) return {};
  auto s = got->data.span();
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

std::set<std::string> keys_in(s3_test_client& client, const std::string& bucket, const std::string& prefix) {
  auto page = client.run(client->list_all(bucket, prefix));
  EXPECT_TRUE(page) << page.error().describe();
  std::set<std::string> k;
  if (page)
    for (auto& o : page->objects) k.insert(o.key);
  return k;
}

namespace {
std::string url_in(const std::string& bucket, const std::string& key) {
  return "s3://" + bucket + (key.empty() ? "" : "/" + key);
}
}  // namespace

s3rver_cli_fixture::s3rver_cli_fixture(const std::string& name)
    : bucket(unique_bucket_name(name)), dir("sluice-" + name + "-") {}

void s3rver_cli_fixture::make_bucket() {
  auto made = client.run(client->create_bucket(bucket));
  ASSERT_TRUE(made) << made.error().describe();
}

std::string s3rver_cli_fixture::url(const std::string& key) const {
  return url_in(bucket, key);
}

radosgw_cli_fixture::radosgw_cli_fixture(const std::string& name)
    : bucket(unique_bucket_name(name)), dir("sluice-" + name + "-") {}

bool radosgw_cli_fixture::start() {
  auto s = radosgw_server();
  if (!s) return false;
  server = *s;
  client = std::make_unique<s3_test_client>(server);
  if (!client->created()) {
    ADD_FAILURE() << client->created().error().describe();
    client.reset();
    return false;
  }
  env = cli_environment(server);
  auto made = client->run((*client)->create_bucket(bucket));
  if (!made) {
    ADD_FAILURE() << made.error().describe();
    client.reset();
  }
  return bool(made);
}

radosgw_cli_fixture::~radosgw_cli_fixture() {
  // The server lives for the whole ctest run: leave it as it was.
  if (!client) return;
  auto page = client->run((*client)->list_all(bucket, ""));
  if (page && !page->objects.empty()) {
    std::vector<std::string> keys;
    for (auto& o : page->objects) keys.push_back(o.key);
    (void)client->run((*client)->delete_objects(bucket, keys));
  }
  (void)client->run((*client)->delete_bucket(bucket));
}

std::string radosgw_cli_fixture::url(const std::string& key) const {
  return url_in(bucket, key);
}

}  // namespace sluice::testing
