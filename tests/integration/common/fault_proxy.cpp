#include "fault_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <random>
#include <stdexcept>

namespace sluice::testing {

namespace {

constexpr std::size_t max_head_bytes = 64 * 1024;
constexpr uint64_t max_body_bytes = uint64_t(256) << 20;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::runtime_error("fault_proxy: " + what + ": " + std::strerror(errno));
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && strncasecmp(s.data(), prefix.data(), prefix.size()) == 0;
}

// The value of header `name` in a request or response head, or nullopt.
std::optional<std::string_view> header_value(std::string_view head, std::string_view name) {
  std::size_t line = head.find("\r\n");
  while (line != std::string_view::npos && line + 2 < head.size()) {
    std::size_t start = line + 2;
    std::size_t end = head.find("\r\n", start);
    if (end == std::string_view::npos || end == start) break;
    std::string_view field = head.substr(start, end - start);
    if (field.size() > name.size() && field[name.size()] == ':' && starts_with_nocase(field, name)) {
      std::string_view value = field.substr(name.size() + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
      return value;
    }
    line = end;
  }
  return std::nullopt;
}

// Replaces any Connection header of a request head by "Connection: close".
std::string with_connection_close(std::string_view head) {
  std::string out;
  std::size_t pos = 0;
  bool first = true;
  while (pos < head.size()) {
    std::size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(pos, end - pos);
    pos = end + 2;
    if (line.empty()) break;
    if (!first && starts_with_nocase(line, "connection:")) continue;
    out.append(line);
    out += "\r\n";
    first = false;
  }
  out += "Connection: close\r\n\r\n";
  return out;
}

int status_of(std::string_view head) {
  // "HTTP/1.1 200 OK"
  auto space = head.find(' ');
  if (space == std::string_view::npos) return 0;
  int status = 0;
  std::from_chars(head.data() + space + 1, head.data() + head.size(), status);
  return status;
}

void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// Closes with RST instead of FIN.
void abort_connection(int fd) {
  linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  ::close(fd);
}

}  // namespace

std::string http_answer(int status, std::string_view reason, std::string_view body,
                        std::optional<uint64_t> content_length,
                        const std::vector<std::pair<std::string, std::string>>& extra_headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  out += "Server: sluice-fault-proxy\r\n";
  out += "x-amz-request-id: fault-proxy-request\r\n";
  out += "Content-Length: " + std::to_string(content_length.value_or(body.size())) + "\r\n";
  for (const auto& [name, value] : extra_headers) out += name + ": " + value + "\r\n";
  out += "\r\n";
  out.append(body);
  return out;
}

std::string s3_error_answer(int status, std::string_view reason, std::string_view code,
                            std::string_view message) {
  std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + std::string(code) +
                     "</Code><Message>" + std::string(message) +
                     "</Message><RequestId>fault-proxy-request</RequestId></Error>";
  return http_answer(status, reason, body, std::nullopt, {{"Content-Type", "application/xml"}});
}

std::string_view name_of(fault_kind k) {
  switch (k) {
    case fault_kind::none:
      return "none";
    case fault_kind::reset_before_forward:
      return "reset_before_forward";
    case fault_kind::reset_after_forward:
      return "reset_after_forward";
    case fault_kind::reset_mid_answer:
      return "reset_mid_answer";
    case fault_kind::truncate:
      return "truncate";
    case fault_kind::length_longer:
      return "length_longer";
    case fault_kind::length_shorter:
      return "length_shorter";
    case fault_kind::bit_flip:
      return "bit_flip";
    case fault_kind::slow_down:
      return "slow_down";
    case fault_kind::stall_request:
      return "stall_request";
    case fault_kind::stall_header:
      return "stall_header";
    case fault_kind::stall_body:
      return "stall_body";
    case fault_kind::huge_header:
      return "huge_header";
    case fault_kind::malformed_status:
      return "malformed_status";
    case fault_kind::duplicate_content_length:
      return "duplicate_content_length";
    case fault_kind::continue_out_of_place:
      return "continue_out_of_place";
    case fault_kind::redirect:
      return "redirect";
  }
  return "?";
}

fault_proxy::fault_proxy(std::vector<scripted_reply> script)
    : mode_(mode::scripted), script_(std::move(script)) {
  if (script_.empty()) throw std::runtime_error("fault_proxy: an empty script");
  start();
}

fault_proxy::fault_proxy(const s3_server& upstream, proxy_faults faults)
    : mode_(mode::proxy), upstream_(upstream), faults_(faults) {
  if (!upstream_.endpoint_url.starts_with("http://"))
    throw std::runtime_error("fault_proxy: only http:// upstreams, not " + upstream_.endpoint_url);
  start();
}

fault_proxy::fault_proxy(const s3_server& upstream, fault_picker pick, uint64_t seed)
    : mode_(mode::planned), upstream_(upstream), pick_(std::move(pick)), seed_(seed) {
  if (!upstream_.endpoint_url.starts_with("http://"))
    throw std::runtime_error("fault_proxy: only http:// upstreams, not " + upstream_.endpoint_url);
  if (!pick_) throw std::runtime_error("fault_proxy: no fault picker");
  start();
}

void fault_proxy::start() {
  auto cleanup = [&] {
    for (int fd : {listen_fd_, stop_pipe_[0], stop_pipe_[1]})
      if (fd >= 0) ::close(fd);
  };
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) throw_errno("pipe");
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) {
    cleanup();
    throw_errno("socket");
  }
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int saved = errno;
    cleanup();
    errno = saved;
    throw_errno("listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

fault_proxy::~fault_proxy() {
  stopping_ = true;
  char wake = 'x';
  [[maybe_unused]] auto ignored = ::write(stop_pipe_[1], &wake, 1);
  if (acceptor_.joinable()) acceptor_.join();
  // The acceptor is gone: nobody adds workers any more.
  std::vector<worker> workers;
  {
    std::lock_guard lk(mu_);
    workers.swap(workers_);
  }
  for (auto& w : workers) w.thread.join();
  ::close(listen_fd_);
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
}

std::string fault_proxy::endpoint_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

s3_server fault_proxy::as_server() const {
  s3_server s = upstream_;
  s.endpoint_url = endpoint_url();
  return s;
}

std::vector<std::string> fault_proxy::request_heads() const {
  std::lock_guard lk(mu_);
  return heads_;
}

void fault_proxy::record(const std::string& head) {
  std::lock_guard lk(mu_);
  heads_.push_back(head);
  if (head.starts_with("GET ")) ++gets_;
}

void fault_proxy::accept_loop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    int rc = ::poll(fds, 2, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;
    if (active_.load() >= max_connections) {
      ++refused_;
      ::close(fd);
      continue;
    }
    ++accepted_;
    ++active_;
    std::lock_guard lk(mu_);
    // Join the threads that are done, so a long campaign does not pile them up.
    std::erase_if(workers_, [](worker& w) {
      if (!w.done->load()) return false;
      w.thread.join();
      return true;
    });
    auto done = std::make_shared<std::atomic<bool>>(false);
    workers_.push_back({std::thread([this, fd, done] {
                          if (mode_ == mode::proxy)
                            serve_proxied(fd);
                          else if (mode_ == mode::planned)
                            serve_planned(fd);
                          else
                            serve_scripted(fd);
                          --active_;
                          *done = true;
                        }),
                        done});
  }
}

bool fault_proxy::wait_readable(int fd) {
  for (;;) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    int rc = ::poll(fds, 2, -1);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0 || fds[1].revents != 0) return false;
    if (fds[0].revents != 0) return true;
  }
}

bool fault_proxy::pause(std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  for (;;) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return !stopping_;
    pollfd stop{stop_pipe_[0], POLLIN, 0};
    int rc = ::poll(&stop, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno != EINTR) return false;
    if (rc > 0) return false;
  }
}

bool fault_proxy::send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd fds[2] = {{fd, POLLOUT, 0}, {stop_pipe_[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0 && errno != EINTR) return false;
      if (fds[1].revents != 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool fault_proxy::read_head(int fd, std::string& pending, std::string& head) {
  char buf[16 * 1024];
  for (;;) {
    std::size_t end = pending.find("\r\n\r\n");
    if (end != std::string::npos) {
      head = pending.substr(0, end + 4);
      pending.erase(0, end + 4);
      return true;
    }
    if (pending.size() > max_head_bytes) return false;
    if (!wait_readable(fd)) return false;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      pending.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      return false;
    }
  }
}

bool fault_proxy::read_body(int fd, std::string& pending, uint64_t length, std::string& body) {
  char buf[64 * 1024];
  while (pending.size() < length) {
    if (!wait_readable(fd)) return false;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      pending.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      return false;
    }
  }
  body = pending.substr(0, static_cast<std::size_t>(length));
  pending.erase(0, static_cast<std::size_t>(length));
  return true;
}

namespace {

// The Content-Length of a request or answer head: 0 when absent, nullopt when unreadable or too large.
std::optional<uint64_t> content_length_of(std::string_view head) {
  uint64_t len = 0;
  if (auto cl = header_value(head, "content-length")) {
    auto [ptr, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), len);
    if (ec != std::errc() || ptr != cl->data() + cl->size() || len > max_body_bytes) return std::nullopt;
  }
  return len;
}

}  // namespace

bool fault_proxy::read_request(int fd, std::string& pending, std::string& head, std::string& body) {
  if (!read_head(fd, pending, head)) return false;
  auto len = content_length_of(head);
  return len && read_body(fd, pending, *len, body);
}

void fault_proxy::drain(int fd) {
  char buf[4096];
  while (wait_readable(fd)) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return;
  }
}

void fault_proxy::hold_unread(int fd) {
  for (;;) {
    // POLLRDHUP reports the client's FIN even with its unread bytes still queued.
    pollfd fds[2] = {{fd, POLLRDHUP, 0}, {stop_pipe_[0], POLLIN, 0}};
    int rc = ::poll(fds, 2, -1);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0 || fds[1].revents != 0 || fds[0].revents != 0) return;
  }
}

void fault_proxy::serve_scripted(int fd) {
  std::string pending, head, body;
  while (read_request(fd, pending, head, body)) {
    // The counter hands each request its own script entry, whichever connection it came on.
    const auto index = static_cast<std::size_t>(requests_++);
    record(head);
    const scripted_reply& reply = script_[std::min(index, script_.size() - 1)];
    if (!send_all(fd, reply.bytes)) break;
    if (!reply.late_bytes.empty() && (!pause(reply.late_delay) || !send_all(fd, reply.late_bytes))) break;
    switch (reply.after) {
      case scripted_reply::then::keep_open:
        continue;
      case scripted_reply::then::close:
        ::shutdown(fd, SHUT_WR);
        drain(fd);
        break;
      case scripted_reply::then::reset:
        abort_connection(fd);
        return;
      case scripted_reply::then::stall:
        drain(fd);
        break;
    }
    break;
  }
  ::close(fd);
}

int fault_proxy::connect_upstream() {
  // host:port of "http://127.0.0.1:PORT"
  std::string_view hostport = std::string_view(upstream_.endpoint_url).substr(7);
  if (auto slash = hostport.find('/'); slash != std::string_view::npos) hostport = hostport.substr(0, slash);
  auto colon = hostport.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(colon == std::string_view::npos
                            ? 80
                            : static_cast<uint16_t>(std::stoi(std::string(hostport.substr(colon + 1)))));
  if (::inet_pton(AF_INET, std::string(hostport.substr(0, colon)).c_str(), &addr.sin_addr) != 1) return -1;
  int up = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (up < 0) return -1;
  if (::connect(up, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(up);
    return -1;
  }
  return up;
}

void fault_proxy::serve_proxied(int fd) {
  std::string pending, head, body;
  int up = -1;
  auto finish = [&] {
    if (up >= 0) ::close(up);
    ::close(fd);
  };
  if (!read_request(fd, pending, head, body)) return finish();
  ++requests_;
  record(head);
  const bool is_get = head.starts_with("GET ");

  up = connect_upstream();
  if (up < 0) return finish();
  set_nonblocking(up);
  if (!send_all(up, with_connection_close(head)) || !send_all(up, body)) return finish();

  // Relay the answer until the upstream closes, altering the first body byte when asked to.
  std::string answer_head;
  bool head_done = false;
  bool flip_pending = false;
  char buf[64 * 1024];
  while (wait_readable(up)) {
    ssize_t got = ::recv(up, buf, sizeof buf, 0);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
    if (got <= 0) break;
    std::size_t n = static_cast<std::size_t>(got);
    std::size_t body_from = n;
    if (!head_done) {
      std::size_t before = answer_head.size();
      answer_head.append(buf, n);
      if (auto end = answer_head.find("\r\n\r\n"); end != std::string::npos) {
        head_done = true;
        body_from = end + 4 - before;
        int status = status_of(answer_head);
        if (is_get && status >= 200 && status < 300) {
          int done = flipped_.load();
          while (done < faults_.flip_get_bodies && !flipped_.compare_exchange_weak(done, done + 1)) {
          }
          flip_pending = done < faults_.flip_get_bodies;
        }
      }
    } else {
      body_from = 0;
    }
    if (flip_pending && body_from < n) {
      buf[body_from] = static_cast<char>(buf[body_from] ^ 0x01);
      flip_pending = false;
    }
    if (!send_all(fd, std::string_view(buf, n))) break;
  }
  ::shutdown(fd, SHUT_WR);
  finish();
}

bool fault_proxy::exchange_upstream(const std::string& head, const std::string& body, std::string& answer) {
  answer.clear();
  int up = connect_upstream();
  if (up < 0) return false;
  set_nonblocking(up);
  bool ok = send_all(up, with_connection_close(head)) && send_all(up, body);
  char buf[64 * 1024];
  while (ok && wait_readable(up)) {
    ssize_t got = ::recv(up, buf, sizeof buf, 0);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
    if (got <= 0) break;
    answer.append(buf, static_cast<std::size_t>(got));
  }
  ::close(up);
  return ok && !stopping_ && answer.find("\r\n\r\n") != std::string::npos;
}

namespace {

// Replaces the value of the first `name` header in `head` (which must have it).
std::string with_header_value(std::string_view head, std::string_view name, std::string_view value) {
  auto old = header_value(head, name);
  const auto at = static_cast<std::size_t>(old->data() - head.data());
  return std::string(head.substr(0, at)) + std::string(value) + std::string(head.substr(at + old->size()));
}

// `field` ("Name: value\r\n") inserted after the status line of `head`.
std::string with_field(std::string_view head, std::string_view field) {
  const std::size_t eol = head.find("\r\n") + 2;
  return std::string(head.substr(0, eol)) + std::string(field) + std::string(head.substr(eol));
}

}  // namespace

void fault_proxy::serve_planned(int fd) {
  std::string pending, head, body, answer;
  auto count = [&](fault_kind k) { ++injected_[static_cast<std::size_t>(k)]; };
  while (read_head(fd, pending, head)) {
    const auto index = static_cast<uint64_t>(requests_++);
    record(head);
    const std::string_view method = std::string_view(head).substr(0, head.find(' '));
    const std::size_t target_at = method.size() + 1;
    const std::string_view target =
        std::string_view(head).substr(target_at, head.find(' ', target_at) - target_at);
    fault_kind k = pick_(fault_request{method, target, head, index});
    std::mt19937_64 rng(seed_ ^ (0x9e3779b97f4a7c15ull * (index + 1)));
    auto below = [&](std::size_t n) { return n == 0 ? std::size_t(0) : static_cast<std::size_t>(rng() % n); };

    if (k == fault_kind::stall_request) {
      count(k);
      hold_unread(fd);
      break;
    }
    auto len = content_length_of(head);
    if (!len || !read_body(fd, pending, *len, body)) break;
    if (k == fault_kind::reset_before_forward) {
      count(k);
      abort_connection(fd);
      return;
    }
    if (k == fault_kind::slow_down) {
      count(k);
      if (!send_all(fd, s3_error_answer(503, "Slow Down", "SlowDown", "Please reduce your request rate.")))
        break;
      continue;
    }
    if (k == fault_kind::redirect) {
      count(k);
      std::string location = "http://elsewhere.invalid:9000" + std::string(target);
      if (!send_all(fd, http_answer(307, "Temporary Redirect", "", std::nullopt, {{"Location", location}})))
        break;
      continue;
    }
    if (!exchange_upstream(head, body, answer)) {
      ++upstream_failures_;
      abort_connection(fd);  // the client sees a reset it may retry
      return;
    }
    const std::size_t head_len = answer.find("\r\n\r\n") + 4;
    std::string ahead = answer.substr(0, head_len);
    std::string abody = answer.substr(head_len);
    const int status = status_of(ahead);
    const auto answer_length = header_value(ahead, "content-length");
    const bool has_length = answer_length && !header_value(ahead, "transfer-encoding");
    // Kinds that do not fit this answer are not applied.
    if (((k == fault_kind::length_longer || k == fault_kind::length_shorter) &&
         (method == "HEAD" || !has_length)) ||
        (k == fault_kind::length_shorter && abody.empty()) ||
        (k == fault_kind::bit_flip && (method != "GET" || status < 200 || status >= 300 || abody.empty())))
      k = fault_kind::none;
    if (k == fault_kind::stall_body && abody.empty()) k = fault_kind::stall_header;
    if (k != fault_kind::none) count(k);

    bool keep = true;  // read the next request on this connection afterwards
    std::string out;
    switch (k) {
      case fault_kind::none:
      case fault_kind::reset_before_forward:
      case fault_kind::slow_down:
      case fault_kind::stall_request:
      case fault_kind::redirect:
        out = answer;
        break;
      case fault_kind::reset_after_forward:
        abort_connection(fd);
        return;
      case fault_kind::reset_mid_answer:
        (void)send_all(fd, std::string_view(answer).substr(0, 1 + below(answer.size() - 1)));
        abort_connection(fd);
        return;
      case fault_kind::truncate:
        out = answer.substr(0, 1 + below(answer.size() - 1));
        keep = false;
        break;
      case fault_kind::length_longer:
        out = with_header_value(ahead, "content-length", std::to_string(abody.size() + 1 + below(1000))) +
              abody;
        keep = false;
        break;
      case fault_kind::length_shorter:
        out = with_header_value(ahead, "content-length", std::to_string(below(abody.size()))) + abody;
        break;
      case fault_kind::bit_flip:
        abody[below(abody.size())] ^= static_cast<char>(1u << below(8));
        out = ahead + abody;
        break;
      case fault_kind::stall_header:
        (void)send_all(fd, std::string_view(ahead).substr(0, below(ahead.size() - 2)));
        drain(fd);
        ::close(fd);
        return;
      case fault_kind::stall_body:
        (void)send_all(fd, ahead + abody.substr(0, below(abody.size())));
        drain(fd);
        ::close(fd);
        return;
      case fault_kind::huge_header:
        out =
            with_field(ahead, "x-fault-padding: " + std::string(16 * 1024 + below(84 * 1024), 'p') + "\r\n") +
            abody;
        break;
      case fault_kind::malformed_status: {
        static constexpr std::string_view garbled[] = {"HTTP/1.1 2OO OK", "HTTP/1.1 20 OK",
                                                       "HTTX/1.1 200 OK", "HTTP/1.1 -200 OK",
                                                       "HTTP/1.1200 OK",  "\x16\x03\x01 200"};
        out = std::string(garbled[below(std::size(garbled))]) + answer.substr(answer.find("\r\n"));
        keep = false;
        break;
      }
      case fault_kind::duplicate_content_length:
        out = with_field(ahead, "Content-Length: " + std::to_string(abody.size() + 1 + below(100)) + "\r\n") +
              abody;
        keep = false;
        break;
      case fault_kind::continue_out_of_place:
        out = "HTTP/1.1 100 Continue\r\n\r\n" + answer;
        break;
    }
    if (!send_all(fd, out)) break;
    if (!keep) {
      ::shutdown(fd, SHUT_WR);
      drain(fd);
      break;
    }
  }
  ::close(fd);
}

}  // namespace sluice::testing
