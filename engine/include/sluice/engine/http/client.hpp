// HTTP/1.1 over Boost.Beast: a keep-alive connection pool to one endpoint.
//
// Bodies never pass through a std::string: request bodies are sent straight
// from the caller's bytes, response bodies are read into memory the caller's
// body_sink provides (a pooled buffer, a span, a file staging area). Only
// error answers (status >= 300) are collected into a small string for the
// S3 error parser.
//
// Thread safety: a client may be used from several coroutines and threads at
// once; its pool is guarded by a mutex and bounded by max_connections (extra
// requests wait for a connection). Lifetime: the client must outlive its
// requests; hold it by shared_ptr.
#pragma once

#include <sluice/engine/http/endpoint.hpp>
#include <sluice/engine/runtime/result.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::http {

using namespace std::chrono_literals;

struct tls_options {
  bool verify = true;   // verify the certificate chain and the host name
  std::string ca_file;  // PEM bundle; empty: the system's trust store
};

// Deadlines of one attempt. Besides the per-step ones, every exchange has a
// whole-request deadline that grows with the bytes it moves, so an answer that
// trickles in (a byte every few seconds keeps an idle deadline from firing)
// still ends: the exchange must finish by
//   start + first_byte + idle + (request body + response body) / min_rate,
// where a response body of unknown length (chunked) is credited as it arrives.
struct timeouts {
  std::chrono::milliseconds connect{10s};     // resolve + TCP + TLS handshake
  std::chrono::milliseconds first_byte{60s};  // request sent -> response header complete
  std::chrono::milliseconds idle{30s};        // one slice (<= 1 MiB) of a body sent or received
  uint64_t min_rate = 32 * 1024;              // bytes/s averaged over the exchange; 0: no such deadline
};

struct client_options {
  std::size_t max_connections = 64;
  timeouts deadlines;
  tls_options tls;
};

struct header_field {
  std::string name;
  std::string value;
};

struct request {
  std::string method;                 // "GET", "PUT", "HEAD", ...
  std::string target;                 // encoded path + query, e.g. "/bucket/key?uploads="
  std::vector<header_field> headers;  // Host is added by the client
  std::span<const std::byte> body;    // must stay valid until send() completes
};

struct response {
  int status = 0;
  std::vector<header_field> headers;
  std::optional<uint64_t> content_length;
  uint64_t body_bytes = 0;  // bytes delivered to the sink (2xx) or to error_body
  std::string error_body;   // the body of a >= 300 answer, capped at 1 MiB

  // First value of a header, case-insensitive; empty when absent.
  std::string_view header(std::string_view name) const noexcept;
  bool has_header(std::string_view name) const noexcept;
};

// Where the body of a successful (2xx) answer goes.
class body_sink {
 public:
  virtual ~body_sink() = default;
  // Called once the header is parsed, before any body byte; may be called
  // again if the request is retried (the sink must then start over).
  virtual result<void> begin(const response& head) = 0;
  // Room for the next bytes. An empty span means the sink is full: the
  // request then fails with too_large.
  virtual std::span<std::byte> prepare() = 0;
  // `n` bytes of the last prepared span were filled.
  virtual result<void> commit(std::size_t n) = 0;
  // The body is complete.
  virtual result<void> finish() { return {}; }
};

// Discards the body (HEAD, DELETE, answers that carry nothing of use).
class discard_sink final : public body_sink {
 public:
  result<void> begin(const response&) override { return {}; }
  // One scratch area per thread, shared by every discarding request on it:
  // what lands there is never read, and a sink stays small (it lives in the
  // frame of every HEAD, DELETE, ... in flight).
  std::span<std::byte> prepare() override {
    thread_local std::byte scratch[16 * 1024];
    return scratch;
  }
  result<void> commit(std::size_t) override { return {}; }
};

// Small bodies (XML answers) into a string, with a cap.
class string_sink final : public body_sink {
 public:
  explicit string_sink(std::size_t cap = 64 * 1024 * 1024) : cap_(cap) {}
  result<void> begin(const response& head) override;
  std::span<std::byte> prepare() override;
  result<void> commit(std::size_t n) override;
  result<void> finish() override;
  std::string& text() noexcept { return text_; }

 private:
  std::string text_;
  std::size_t used_ = 0;
  std::size_t cap_;
};

// The body into a fixed, caller-owned span (e.g. a ranged read into a buffer).
class span_sink final : public body_sink {
 public:
  explicit span_sink(std::span<std::byte> dest) : dest_(dest) {}
  result<void> begin(const response& head) override;
  std::span<std::byte> prepare() override { return dest_.subspan(used_); }
  result<void> commit(std::size_t n) override;
  std::size_t size() const noexcept { return used_; }

 private:
  std::span<std::byte> dest_;
  std::size_t used_ = 0;
};

// Counters for tests and benchmarks (monotonic, relaxed).
struct client_stats {
  uint64_t connections_opened = 0;
  // The most connections open at one moment (at most max_connections per
  // client; summed over clients when stats are added up).
  uint64_t peak_open_connections = 0;
  uint64_t requests = 0;
  uint64_t reused = 0;
  uint64_t body_bytes_direct = 0;  // read from the socket straight into sink memory
  uint64_t body_bytes_copied = 0;  // copied from the parser's buffer into sink memory

  client_stats& operator+=(const client_stats& o) noexcept {
    connections_opened += o.connections_opened;
    peak_open_connections += o.peak_open_connections;
    requests += o.requests;
    reused += o.reused;
    body_bytes_direct += o.body_bytes_direct;
    body_bytes_copied += o.body_bytes_copied;
    return *this;
  }
};

class client {
 public:
  // `ep` is where to connect; `host_header` what to send as Host (differs
  // from ep's for virtual-hosted S3 addressing). Fails on a bad TLS setup
  // (unreadable CA bundle).
  static result<std::shared_ptr<client>> create(boost::asio::any_io_executor ex, http::endpoint ep,
                                                client_options opts);
  virtual ~client() = default;

  // Sends one request and reads the whole answer. Transport failures come
  // back as errors (timeout, connection_failed, truncated_response,
  // tls_verification); HTTP error statuses are a successful response with
  // error_body set. Cancellation: closing the awaiting coroutine's
  // cancellation slot (e.g. `op || timer`) aborts the connection.
  virtual boost::asio::awaitable<result<response>> send(const request& req, body_sink& sink) = 0;

  virtual client_stats stats() const = 0;
  virtual const http::endpoint& endpoint() const noexcept = 0;
};

}  // namespace sluice::http
