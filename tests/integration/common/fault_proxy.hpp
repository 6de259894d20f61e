// A misbehaving HTTP peer on 127.0.0.1, for fault-injection tests of the HTTP and S3 layers.
//
// Two modes:
// - scripted: accepts connections, reads one HTTP request at a time (header plus Content-Length
//   body) and answers the n-th request it sees (counted over all connections, from 0) with
//   script[min(n, size - 1)]: raw bytes, then keep the connection, close it, reset it or stall.
// - proxy: forwards each request to a real S3 server on a fresh upstream connection (asking for
//   "Connection: close", so every exchange is one connection) and relays the answer, flipping one
//   bit of the body of the first `flip_get_bodies` successful GET answers.
//
// Plain POSIX sockets; one thread accepts and one thread serves each connection (at most
// max_connections at a time; more are closed at once). Every wait also watches a stop pipe, so the
// destructor returns promptly whatever the client does, and joins every thread it started.
// The counters and request_heads() may be read from any thread.
#pragma once

#include <test_servers.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace sluice::testing {

// What the scripted server does with one request.
struct scripted_reply {
  enum class then {
    keep_open,  // read the next request on this connection
    close,      // half-close (FIN) after the bytes, then wait for the client to leave
    reset,      // abort with RST (SO_LINGER 0) after the bytes; with no bytes, before any answer byte
    stall,      // send nothing more; hold the connection until the client leaves or the server stops
  };
  std::string bytes;
  then after = then::keep_open;
  // Sent `late_delay` after `bytes` (before `after` applies): bytes the client has no reason to wait
  // for, which arrive while its connection sits idle in the pool.
  std::string late_bytes;
  std::chrono::milliseconds late_delay{100};
};

// Raw HTTP/1.1 answers for scripts. Content-Length is the body's size unless `content_length` says.
std::string http_answer(int status, std::string_view reason, std::string_view body,
                        std::optional<uint64_t> content_length = std::nullopt,
                        const std::vector<std::pair<std::string, std::string>>& extra_headers = {});
// An S3 <Error> document answer with `code` and `message`.
std::string s3_error_answer(int status, std::string_view reason, std::string_view code,
                            std::string_view message);

struct proxy_faults {
  // Flip one bit in the first body byte of this many successful GET answers (the first ones).
  int flip_get_bodies = 0;
  static constexpr int always = std::numeric_limits<int>::max();
};

class fault_proxy {
 public:
  // Scripted mode. `script` must not be empty. Throws std::runtime_error if the socket cannot be set up.
  explicit fault_proxy(std::vector<scripted_reply> script);
  // Proxy mode in front of `upstream` (an http:// endpoint on an IPv4 literal).
  fault_proxy(const s3_server& upstream, proxy_faults faults);
  ~fault_proxy();
  fault_proxy(const fault_proxy&) = delete;
  fault_proxy& operator=(const fault_proxy&) = delete;

  // "http://127.0.0.1:PORT"
  std::string endpoint_url() const;
  // The upstream server's description with the endpoint replaced by this proxy's (proxy mode).
  s3_server as_server() const;
  uint16_t port() const { return port_; }

  int requests() const { return requests_.load(); }     // complete requests read
  int get_requests() const { return gets_.load(); }     // of which GETs
  int flipped() const { return flipped_.load(); }       // bodies altered (proxy mode)
  int connections() const { return accepted_.load(); }  // connections accepted
  // The request line and headers of every request read so far, in order.
  std::vector<std::string> request_heads() const;

  static constexpr int max_connections = 32;

 private:
  void start();
  void accept_loop();
  void serve_scripted(int fd);
  void serve_proxied(int fd);
  // Reads one request (header and Content-Length body) from `fd` into `head` and `body`, keeping
  // any bytes beyond it in `pending`. False when the client left, the request is unreadable or the
  // server is stopping.
  bool read_request(int fd, std::string& pending, std::string& head, std::string& body);
  // Sends all of `data`; false if the peer left or the server is stopping.
  bool send_all(int fd, std::string_view data);
  // Waits until `fd` is readable (true) or the server stops (false).
  bool wait_readable(int fd);
  // Sleeps for `d`; false if the server stops meanwhile.
  bool pause(std::chrono::milliseconds d);
  void record(const std::string& head);

  // Set before the threads start, read-only afterwards.
  const bool proxy_mode_;
  std::vector<scripted_reply> script_;
  s3_server upstream_;
  proxy_faults faults_;

  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};  // the read end becomes readable when the server stops
  uint16_t port_ = 0;
  std::thread acceptor_;

  // Shared between the acceptor and connection threads, under mu_.
  mutable std::mutex mu_;
  std::vector<std::thread> workers_;
  std::vector<std::string> heads_;

  // Flags and counters, any thread.
  std::atomic<bool> stopping_{false};
  std::atomic<int> active_{0};
  std::atomic<int> accepted_{0};
  std::atomic<int> requests_{0};
  std::atomic<int> gets_{0};
  std::atomic<int> flipped_{0};
};

}  // namespace sluice::testing
