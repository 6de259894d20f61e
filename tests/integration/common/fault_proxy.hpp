// A misbehaving HTTP peer on 127.0.0.1, for fault-injection tests of the HTTP and S3 layers.
//
// Three modes:
// - scripted: accepts connections, reads one HTTP request at a time (header plus Content-Length
//   body) and answers the n-th request it sees (counted over all connections, from 0) with
//   script[min(n, size - 1)]: raw bytes, then keep the connection, close it, reset it or stall.
// - proxy: forwards each request to a real S3 server on a fresh upstream connection (asking for
//   "Connection: close", so every exchange is one connection) and relays the answer, flipping one
//   bit of the body of the first `flip_get_bodies` successful GET answers.
// - planned: forwards as the proxy does, but keeps the client's connection alive between requests
//   and asks a fault_picker, per request, what to do to the exchange (fault_kind): the soak tests'
//   mode. It counts each fault it applied.
//
// Plain POSIX sockets; one thread accepts and one thread serves each connection (at most
// max_connections at a time; more are closed at once; finished threads are joined as new ones
// start). Every wait also watches a stop pipe, so the destructor returns promptly whatever the
// client does, and joins every thread it started. The counters and request_heads() may be read from
// any thread.
#pragma once

#include <test_servers.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
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

// What a planned fault_proxy does to one exchange. Every kind that needs the answer forwards the
// request first (the server acts on it), then alters what the client gets.
enum class fault_kind {
  none,                  // relay the answer untouched, keep the connection
  reset_before_forward,  // RST once the request is read; the server never sees it
  reset_after_forward,   // RST before any answer byte
  reset_mid_answer,      // part of the answer (header or body), then RST
  truncate,              // part of the answer, then FIN
  length_longer,         // a Content-Length beyond the body, then FIN (not on HEAD)
  length_shorter,        // a Content-Length short of the body, every byte sent, connection kept (not HEAD)
  bit_flip,              // one bit of a 2xx GET body flipped
  slow_down,             // a 503 SlowDown instead of forwarding
  stall_request,         // stop reading the request after its header: a large PUT's send stalls
  stall_header,          // part of the answer's header (maybe none), then nothing
  stall_body,            // the header and part of the body, then nothing
  huge_header,           // a header field of 16-100 KiB added (beyond 64 KiB a client must refuse it)
  malformed_status,      // a garbled status line, then FIN
  duplicate_content_length,  // a second Content-Length that disagrees, then FIN
  continue_out_of_place,     // "100 Continue" (never asked for) before the answer
  redirect,                  // a 307 to another host instead of forwarding
};
inline constexpr std::size_t fault_kinds = static_cast<std::size_t>(fault_kind::redirect) + 1;
std::string_view name_of(fault_kind k);

// One request, as a fault_picker sees it (its header is read, its body not yet).
struct fault_request {
  std::string_view method;  // "GET", "PUT", ...
  std::string_view target;  // "/bucket/key?query"
  std::string_view head;    // request line and headers
  uint64_t index;           // requests read before this one, over all connections
};
// Chooses what happens to one exchange. Called on the proxy's connection threads, several at once.
// A kind that does not fit the answer (a bit flip of an empty body, a length on HEAD) is not
// applied: the answer is relayed and nothing counted.
using fault_picker = std::function<fault_kind(const fault_request&)>;

class fault_proxy {
 public:
  // Scripted mode. `script` must not be empty. Throws std::runtime_error if the socket cannot be set up.
  explicit fault_proxy(std::vector<scripted_reply> script);
  // Proxy mode in front of `upstream` (an http:// endpoint on an IPv4 literal).
  fault_proxy(const s3_server& upstream, proxy_faults faults);
  // Planned mode in front of `upstream`; `seed` drives where answers are cut and bits flipped.
  fault_proxy(const s3_server& upstream, fault_picker pick, uint64_t seed);
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
  int injected(fault_kind k) const { return injected_[static_cast<std::size_t>(k)].load(); }  // planned mode
  int refused() const { return refused_.load(); }  // connections closed at once (too many)
  int upstream_failures() const { return upstream_failures_.load(); }  // planned mode: upstream unreachable
  // The request line and headers of every request read so far, in order.
  std::vector<std::string> request_heads() const;

  static constexpr int max_connections = 64;

 private:
  void start();
  void accept_loop();
  void serve_scripted(int fd);
  void serve_proxied(int fd);
  void serve_planned(int fd);
  // Connects to the upstream (-1 on failure).
  int connect_upstream();
  // Sends `head` (as "Connection: close") and `body` upstream and reads the whole answer into
  // `answer`; false when the upstream cannot be reached or the server is stopping.
  bool exchange_upstream(const std::string& head, const std::string& body, std::string& answer);
  // Reads a request's header into `head`, leaving what follows it in `pending`.
  bool read_head(int fd, std::string& pending, std::string& head);
  // Reads `length` body bytes (from `pending` first) into `body`.
  bool read_body(int fd, std::string& pending, uint64_t length, std::string& body);
  // Waits, reading nothing, until the client leaves or the server stops.
  void hold_unread(int fd);
  // Reads and drops whatever the client sends until it leaves or the server stops.
  void drain(int fd);
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

  enum class mode { scripted, proxy, planned };
  // Set before the threads start, read-only afterwards.
  const mode mode_;
  std::vector<scripted_reply> script_;
  s3_server upstream_;
  proxy_faults faults_;
  fault_picker pick_;
  uint64_t seed_ = 0;

  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};  // the read end becomes readable when the server stops
  uint16_t port_ = 0;
  std::thread acceptor_;

  // A connection thread and the flag it sets when it is done (the acceptor joins those).
  struct worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  // Shared between the acceptor and connection threads, under mu_.
  mutable std::mutex mu_;
  std::vector<worker> workers_;
  std::vector<std::string> heads_;

  // Flags and counters, any thread.
  std::atomic<bool> stopping_{false};
  std::atomic<int> active_{0};
  std::atomic<int> accepted_{0};
  std::atomic<int> requests_{0};
  std::atomic<int> gets_{0};
  std::atomic<int> flipped_{0};
  std::array<std::atomic<int>, fault_kinds> injected_{};
  std::atomic<int> refused_{0};
  std::atomic<int> upstream_failures_{0};
};

}  // namespace sluice::testing
