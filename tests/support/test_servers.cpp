#include "test_servers.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

#ifndef SLUICE_SOURCE_DIR
#error "SLUICE_SOURCE_DIR (the repository root, a string literal) must be defined"
#endif
#ifndef SLUICE_BINARY_DIR
#error "SLUICE_BINARY_DIR (the build directory, a string literal) must be defined"
#endif

namespace sluice::testing {
namespace {

using clock = std::chrono::steady_clock;

std::string errno_text(int err) {
  return std::strerror(err);
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string tail(const std::string& text, std::size_t max_bytes) {
  return text.size() <= max_bytes ? text : "..." + text.substr(text.size() - max_bytes);
}

const char* env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// The program `name` as execve wants it: a path. Names with '/' are taken as they are; others are
// searched in `path_var` like execvp does (resolved before fork, where searching is not safe).
std::string find_program(const std::string& name, const std::string& path_var) {
  if (name.find('/') != std::string::npos) return name;
  std::size_t begin = 0;
  while (begin <= path_var.size()) {
    std::size_t end = path_var.find(':', begin);
    if (end == std::string::npos) end = path_var.size();
    std::string dir = path_var.substr(begin, end - begin);
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    begin = end + 1;
  }
  return name;  // execve fails with ENOENT, reported as exit code 127
}

// argv / envp arrays that stay valid while this object lives (built before fork).
class c_strings {
 public:
  explicit c_strings(std::vector<std::string> strings) : strings_(std::move(strings)) {
    for (auto& s : strings_) pointers_.push_back(s.data());
    pointers_.push_back(nullptr);
  }
  char* const* get() { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
};

// The current environment without AWS_* (and without keys in `overrides`), plus `overrides`.
std::vector<std::string> child_environment(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string entry = *e;
    std::string key = entry.substr(0, entry.find('='));
    if (key.rfind("AWS_", 0) == 0 || overrides.count(key)) continue;
    env.push_back(std::move(entry));
  }
  for (const auto& [key, value] : overrides) env.push_back(key + "=" + value);
  return env;
}

std::string environment_value(const std::vector<std::string>& env, const std::string& key) {
  for (const auto& e : env) {
    if (e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=') {
      return e.substr(key.size() + 1);
    }
  }
  return {};
}

// What a forked child does before execve: only async-signal-safe calls from here on.
struct child_setup {
  int stdin_fd = -1;  // dup2'ed onto 0, 1, 2
  int stdout_fd = -1;
  int stderr_fd = -1;
  int exec_error_fd = -1;  // close-on-exec pipe: receives errno if execve fails
  pid_t parent = -1;
};

[[noreturn]] void exec_child(const child_setup& setup, const char* program, char* const* argv,
                             char* const* envp) {
  // Die with the thread that started us, so a crashed or killed test leaves nothing behind.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != setup.parent) ::_exit(127);
  // Undo what the test process may have changed (SIGPIPE ignored, signals blocked).
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  if (::dup2(setup.stdin_fd, 0) < 0 || ::dup2(setup.stdout_fd, 1) < 0 || ::dup2(setup.stderr_fd, 2) < 0) {
    int err = errno;
    (void)!::write(setup.exec_error_fd, &err, sizeof err);
    ::_exit(127);
  }
  // Keep the test's sockets and files out of the child (marked close-on-exec; Linux >= 5.11).
#ifdef SYS_close_range
  ::syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
#endif
  ::execve(program, argv, envp);
  int err = errno;
  (void)!::write(setup.exec_error_fd, &err, sizeof err);
  ::_exit(127);
}

// Reads the errno a child wrote before failing to exec; 0 once the exec succeeded (the pipe closed).
int read_exec_error(int fd) {
  int err = 0;
  ssize_t n;
  do {
    n = ::read(fd, &err, sizeof err);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof err) ? err : 0;
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Waits up to `grace` for `pid` to exit, then kills it with SIGKILL; always reaps it.
void reap(pid_t pid, std::chrono::milliseconds grace) {
  auto deadline = clock::now() + grace;
  int status = 0;
  while (true) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) return;
    if (clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

// Blocks SIGPIPE on this thread while it writes to a child's stdin, so a child that exits without
// reading gives EPIPE instead of killing the test; a SIGPIPE raised meanwhile is consumed.
class sigpipe_blocker {
 public:
  sigpipe_blocker() {
    sigset_t pipe_set;
    ::sigemptyset(&pipe_set);
    ::sigaddset(&pipe_set, SIGPIPE);
    sigset_t pending;
    ::sigpending(&pending);
    was_pending_ = ::sigismember(&pending, SIGPIPE) == 1;
    ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old_);
  }
  ~sigpipe_blocker() {
    if (!was_pending_) {
      sigset_t pipe_set;
      ::sigemptyset(&pipe_set);
      ::sigaddset(&pipe_set, SIGPIPE);
      timespec zero{};
      while (::sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  sigpipe_blocker(const sigpipe_blocker&) = delete;
  sigpipe_blocker& operator=(const sigpipe_blocker&) = delete;

 private:
  sigset_t old_{};
  bool was_pending_ = false;
};

class fd_closer {
 public:
  explicit fd_closer(std::initializer_list<int*> fds) : fds_(fds) {}
  ~fd_closer() {
    for (int* fd : fds_) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }
  fd_closer(const fd_closer&) = delete;
  fd_closer& operator=(const fd_closer&) = delete;

 private:
  std::vector<int*> fds_;
};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

bool port_accepts(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(s, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(s);
  return ok;
}

// The port in s3rver's start-up line "S3rver listening on 127.0.0.1:PORT", or 0 if not printed yet.
int listening_port(const std::string& log) {
  static const std::string marker = "S3rver listening on ";
  auto at = log.find(marker);
  if (at == std::string::npos) return 0;
  auto line_end = log.find('\n', at);
  if (line_end == std::string::npos) return 0;  // line not complete yet
  auto colon = log.rfind(':', line_end);
  if (colon == std::string::npos || colon < at) return 0;
  return std::atoi(log.substr(colon + 1, line_end - colon - 1).c_str());
}

}  // namespace

std::optional<s3_server> read_endpoint_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::map<std::string, std::string> values;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    values[line.substr(0, eq)] = value;
  }
  s3_server server{values["SLUICE_TEST_ENDPOINT"], values["SLUICE_TEST_ACCESS_KEY"],
                   values["SLUICE_TEST_SECRET_KEY"], values["SLUICE_TEST_REGION"],
                   values["SLUICE_TEST_CA_FILE"]};
  if (server.endpoint_url.empty() || server.access_key.empty() || server.secret_key.empty()) {
    return std::nullopt;
  }
  if (server.region.empty()) server.region = "us-east-1";
  return server;
}

int time_scale() {
  const char* text = std::getenv("SLUICE_TEST_TIME_SCALE");
  if (text == nullptr) return 1;
  char* end = nullptr;
  const long n = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || n < 1 || n > 100) return 1;
  return static_cast<int>(n);
}

std::optional<s3_server> radosgw_server() {
  const char* from_env = std::getenv("SLUICE_RADOSGW_ENV");
  std::string path = from_env && *from_env
                         ? std::string(from_env)
                         : std::string(SLUICE_BINARY_DIR) + "/test-servers/radosgw/endpoint.env";
  auto server = read_endpoint_file(path);
  if (!server) {
    ADD_FAILURE() << "no radosgw endpoint in " << path
                  << " (missing or incomplete). radosgw runs as the ctest fixture 'radosgw' "
                     "(test radosgw_start: see its output); to run this test binary by hand, "
                     "start one with `bash tests/servers/radosgw.sh start "
                  << SLUICE_BINARY_DIR << "/test-servers/radosgw` or point SLUICE_RADOSGW_ENV "
                  << "at an endpoint.env.";
  }
  return server;
}

std::string make_temp_dir(const std::string& prefix) {
  std::string tmpl = std::string(env_or("TMPDIR", "/tmp")) + "/" + prefix + "XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) {
    fail("make_temp_dir: mkdtemp(" + tmpl + "): " + errno_text(errno));
  }
  return buf.data();
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

std::string unique_bucket_name(const std::string& prefix) {
  static std::atomic<unsigned> counter{0};
  static const unsigned long long salt = [] {
    std::random_device rd;
    return (static_cast<unsigned long long>(rd()) << 32) ^ rd() ^
           static_cast<unsigned long long>(clock::now().time_since_epoch().count());
  }();
  std::string clean;
  for (char c : prefix) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    clean += ok ? c : '-';
  }
  while (!clean.empty() && clean.front() == '-') clean.erase(clean.begin());
  if (clean.empty()) clean = "sluice";
  unsigned n = counter.fetch_add(1);
  char suffix[64];
  std::snprintf(suffix, sizeof suffix, "-%ld-%u-%06llx", static_cast<long>(::getpid()), n,
                (salt + n * 0x9E3779B97F4A7C15ULL) & 0xFFFFFFULL);
  // Keep the whole suffix; shorten the prefix so that the name fits in 63 characters.
  std::size_t room = 63 - std::strlen(suffix);
  if (clean.size() > room) clean.resize(room);
  while (!clean.empty() && clean.back() == '-') clean.pop_back();
  if (clean.empty()) clean = "b";
  return clean + suffix;
}

test_cert make_test_certificates(const std::string& dir, const std::string& ip) {
  std::filesystem::create_directories(dir);
  test_cert cert{dir, dir + "/ca.pem", dir + "/server.pem", dir + "/server.key"};
  std::string ca_key = dir + "/ca.key";
  std::string csr = dir + "/server.csr";
  std::string ext = dir + "/server.ext";
  {
    std::ofstream out(ext);
    out << "basicConstraints = critical, CA:FALSE\n"
           "keyUsage = critical, digitalSignature, keyEncipherment\n"
           "extendedKeyUsage = serverAuth\n"
           "subjectAltName = IP:"
        << ip << ", DNS:localhost\n";
    if (!out) fail("make_test_certificates: cannot write " + ext);
  }
  auto run = [](const std::vector<std::string>& argv) {
    auto r = run_command(argv, {}, "", std::chrono::seconds(60));
    if (r.exit_code != 0) {
      std::string cmd;
      for (const auto& a : argv) cmd += a + " ";
      fail("make_test_certificates: `" + cmd + "` exited with " + std::to_string(r.exit_code) + ":\n" +
           r.out + r.err);
    }
  };
  std::random_device rd;
  char serial[40];
  std::snprintf(serial, sizeof serial, "0x%08x%08x", rd() & 0x7fffffffU, rd());
  run({"openssl",
       "req",
       "-x509",
       "-newkey",
       "ec",
       "-pkeyopt",
       "ec_paramgen_curve:prime256v1",
       "-nodes",
       "-keyout",
       ca_key,
       "-out",
       cert.ca_cert,
       "-days",
       "2",
       "-subj",
       "/CN=sluice test CA",
       "-addext",
       "basicConstraints=critical,CA:TRUE",
       "-addext",
       "keyUsage=critical,keyCertSign,cRLSign"});
  run({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", cert.server_key, "-out", csr, "-subj", "/CN=" + ip});
  run({"openssl", "x509", "-req", "-in", csr, "-CA", cert.ca_cert, "-CAkey", ca_key, "-set_serial", serial,
       "-days", "2", "-sha256", "-extfile", ext, "-out", cert.server_cert});
  return cert;
}

s3rver_process::s3rver_process(s3rver_options options) {
  std::string script =
      env_or("SLUICE_S3RVER_JS", SLUICE_SOURCE_DIR "/tests/servers/node_modules/s3rver/bin/s3rver.js");
  if (::access(script.c_str(), R_OK) != 0) {
    fail("s3rver_process: " + script +
         " not found; install it with `npm ci` in tests/servers (tools/install-deps.sh does)");
  }
  dir_ = make_temp_dir("sluice-s3rver-");
  log_file_ = dir_ + "/s3rver.log";
  try {
    std::string data_dir = dir_ + "/data";
    std::filesystem::create_directories(data_dir);

    std::string scheme = "http";
    std::vector<std::string> args = {"node",      "--openssl-legacy-provider",
                                     script,      "--directory",
                                     data_dir,    "--address",
                                     "127.0.0.1", "--port",
                                     "0"};
    if (options.tls) {
      if (options.cert.server_cert.empty()) options.cert = make_test_certificates(dir_ + "/tls");
      args.insert(args.end(), {"--cert", options.cert.server_cert, "--key", options.cert.server_key});
      scheme = "https";
      server_.ca_file = options.cert.ca_cert;
    }

    std::vector<std::string> env = child_environment({});
    std::string node = find_program("node", environment_value(env, "PATH"));
    c_strings argv(args);
    c_strings envp(env);

    int log_fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int error_pipe[2] = {-1, -1};
    fd_closer closer{&log_fd, &null_fd, &error_pipe[0], &error_pipe[1]};
    if (log_fd < 0 || null_fd < 0 || ::pipe2(error_pipe, O_CLOEXEC) != 0) {
      fail("s3rver_process: cannot open " + log_file_ + " or a pipe: " + errno_text(errno));
    }
    child_setup setup{null_fd, log_fd, log_fd, error_pipe[1], ::getpid()};
    pid_t pid = ::fork();
    if (pid < 0) fail("s3rver_process: fork: " + errno_text(errno));
    if (pid == 0) exec_child(setup, node.c_str(), argv.get(), envp.get());
    pid_ = pid;
    close_fd(error_pipe[1]);
    if (int err = read_exec_error(error_pipe[0])) {
      fail("s3rver_process: cannot run " + node + ": " + errno_text(err));
    }

    auto deadline = clock::now() + options.start_timeout;
    int port = 0;
    while (true) {
      if (port == 0) port = listening_port(read_file(log_file_));
      if (port > 0 && port_accepts(port)) break;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        fail("s3rver_process: s3rver exited with status " + std::to_string(exit_code_of(status)) +
             " before listening; its output (" + log_file_ + "):\n" + log_tail());
      }
      if (clock::now() >= deadline) {
        fail("s3rver_process: s3rver did not accept connections within " +
             std::to_string(options.start_timeout.count()) + " ms; its output (" + log_file_ + "):\n" +
             log_tail());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    server_.endpoint_url = scheme + "://127.0.0.1:" + std::to_string(port);
    server_.access_key = "S3RVER";
    server_.secret_key = "S3RVER";
    server_.region = "us-east-1";
  } catch (...) {
    stop();
    throw;
  }
}

s3rver_process::~s3rver_process() {
  stop();
}

void s3rver_process::stop() noexcept {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    reap(pid_, std::chrono::seconds(5));
    pid_ = -1;
  }
  if (!dir_.empty() && !std::getenv("SLUICE_KEEP_TEST_DIRS")) remove_tree(dir_);
}

std::string s3rver_process::log_tail(std::size_t max_bytes) const {
  return tail(read_file(log_file_), max_bytes);
}

command_result run_command(const std::vector<std::string>& argv,
                           const std::map<std::string, std::string>& env_overrides,
                           const std::string& stdin_data, std::chrono::milliseconds timeout) {
  if (argv.empty()) fail("run_command: empty argv");
  std::vector<std::string> env = child_environment(env_overrides);
  std::string program = find_program(argv[0], environment_value(env, "PATH"));
  c_strings child_argv(argv);
  c_strings envp(env);

  int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  int error_pipe[2] = {-1, -1};
  fd_closer closer{&in_pipe[0],  &in_pipe[1],  &out_pipe[0],   &out_pipe[1],
                   &err_pipe[0], &err_pipe[1], &error_pipe[0], &error_pipe[1]};
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(err_pipe, O_CLOEXEC) != 0 || ::pipe2(error_pipe, O_CLOEXEC) != 0) {
    fail("run_command: pipe: " + errno_text(errno));
  }
  child_setup setup{in_pipe[0], out_pipe[1], err_pipe[1], error_pipe[1], ::getpid()};
  pid_t pid = ::fork();
  if (pid < 0) fail("run_command: fork: " + errno_text(errno));
  if (pid == 0) exec_child(setup, program.c_str(), child_argv.get(), envp.get());

  close_fd(in_pipe[0]);
  close_fd(out_pipe[1]);
  close_fd(err_pipe[1]);
  close_fd(error_pipe[1]);
  command_result result{0, {}, {}};
  if (int err = read_exec_error(error_pipe[0])) {
    reap(pid, std::chrono::seconds(5));
    result.exit_code = 127;
    result.err = "run_command: cannot execute " + program + ": " + errno_text(err) + "\n";
    return result;
  }

  sigpipe_blocker no_sigpipe;
  for (int fd : {in_pipe[1], out_pipe[0], err_pipe[0]}) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  std::size_t written = 0;
  if (stdin_data.empty()) close_fd(in_pipe[1]);
  auto deadline = clock::now() + timeout;
  bool timed_out = false;
  char buf[65536];
  while (out_pipe[0] >= 0 || err_pipe[0] >= 0) {
    pollfd fds[3];
    int n = 0;
    int in_slot = -1, out_slot = -1, err_slot = -1;
    if (in_pipe[1] >= 0) fds[in_slot = n++] = {in_pipe[1], POLLOUT, 0};
    if (out_pipe[0] >= 0) fds[out_slot = n++] = {out_pipe[0], POLLIN, 0};
    if (err_pipe[0] >= 0) fds[err_slot = n++] = {err_pipe[0], POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) {
      if (timed_out) break;  // killed, but something else still holds the pipes open
      ::kill(pid, SIGKILL);
      timed_out = true;
      deadline = clock::now() + std::chrono::seconds(2);
      continue;
    }
    int ready = ::poll(fds, static_cast<nfds_t>(n), static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    if (in_slot >= 0 && fds[in_slot].revents) {
      ssize_t w = ::write(in_pipe[1], stdin_data.data() + written, stdin_data.size() - written);
      if (w > 0) written += static_cast<std::size_t>(w);
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == stdin_data.size()) {
        close_fd(in_pipe[1]);  // done, or the child stopped reading (EPIPE)
      }
    }
    for (auto [slot, fd, sink] :
         {std::tuple{out_slot, &out_pipe[0], &result.out}, std::tuple{err_slot, &err_pipe[0], &result.err}}) {
      if (slot < 0 || !fds[slot].revents) continue;
      ssize_t r = ::read(*fd, buf, sizeof buf);
      if (r > 0) {
        sink->append(buf, static_cast<std::size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        close_fd(*fd);
      }
    }
  }
  close_fd(in_pipe[1]);
  if (timed_out) {
    reap(pid, std::chrono::milliseconds(0));
    result.exit_code = 128 + SIGKILL;
    result.err += "\nrun_command: " + argv[0] + " killed after " + std::to_string(timeout.count()) + " ms\n";
    return result;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = exit_code_of(status);
  return result;
}

std::map<std::string, std::string> aws_cli_environment(const s3_server& server) {
  std::map<std::string, std::string> env = {
      {"AWS_ACCESS_KEY_ID", server.access_key},
      {"AWS_SECRET_ACCESS_KEY", server.secret_key},
      {"AWS_DEFAULT_REGION", server.region},
      {"AWS_CONFIG_FILE", "/dev/null"},
      {"AWS_SHARED_CREDENTIALS_FILE", "/dev/null"},
      {"AWS_EC2_METADATA_DISABLED", "true"},
      {"AWS_PAGER", ""},
      // Checksums only where S3 demands them: newer CLIs otherwise send uploads as aws-chunked
      // with a checksum trailer over https, which s3rver stores verbatim as the object's content.
      {"AWS_REQUEST_CHECKSUM_CALCULATION", "when_required"},
      {"AWS_RESPONSE_CHECKSUM_VALIDATION", "when_required"},
  };
  if (!server.ca_file.empty()) env["AWS_CA_BUNDLE"] = server.ca_file;
  return env;
}

}  // namespace sluice::testing
