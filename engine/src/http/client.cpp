// The Beast-heavy half of the HTTP layer: connection set-up, the request /
// response exchange and the pool. Only this file includes Beast and asio::ssl.
#include <sluice/engine/http/client.hpp>

#include "text/ascii.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <strings.h>
#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cstring>
#include <mutex>
#include <type_traits>

namespace sluice::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using boost::system::error_code;

namespace {

constexpr auto tok = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t io_slice = 1 << 20;  // bytes per deadline refresh
// S3 error documents are tiny: past this, an error answer's body is not read
// on (the connection is dropped), so an endless one cannot hold a request.
constexpr std::size_t error_body_cap = 1 << 20;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool is_tls_verify_failure(const error_code& ec) {
  if (ec.category() != asio::error::get_ssl_category()) return false;
  return ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED;
}

// One place maps transport error codes onto sluice errors.
error transport_error(const error_code& ec, std::string_view stage, const http::endpoint& ep) {
  std::string where = std::string(stage) + " " + ep.to_string();
  if (ec == beast::error::timeout) return fail(errc::timeout, "timed out while " + where);
  if (ec == asio::error::operation_aborted) return fail(errc::cancelled, "cancelled while " + where);
  if (is_tls_verify_failure(ec))
    return fail(errc::tls_verification,
                "TLS certificate verification failed for " + ep.to_string() +
                    " (set a CA bundle with AWS_CA_BUNDLE/--ca-bundle, or --no-verify-ssl for test servers)");
  if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message)
    return fail(errc::malformed_response, "malformed HTTP answer while " + where + ": " + ec.message());
  return fail(errc::connection_failed, where + ": " + ec.message());
}

// The whole-request deadline of one exchange (see `timeouts`): a budget of
// time that grows with the bytes moved, and the step deadlines capped by it.
class request_clock {
 public:
  using clock = std::chrono::steady_clock;
  explicit request_clock(const timeouts& t)
      : t_(t), start_(clock::now()), limit_(start_ + t.first_byte + t.idle) {}

  // Allows `bytes` more to move (a body, or the next slice of one).
  void credit(uint64_t bytes) {
    if (t_.min_rate == 0) return;
    limit_ += std::chrono::milliseconds(bytes * 1000 / t_.min_rate);
  }
  // The step deadline `step` from now, capped by the whole-request one.
  template <class Stream>
  void arm(Stream& s, std::chrono::milliseconds step) const {
    const auto at = clock::now() + step;
    s.expires_at(t_.min_rate ? std::min(at, limit_) : at);
  }
  // Whether a timeout that just fired was the whole-request deadline.
  bool whole_deadline_passed() const { return t_.min_rate && clock::now() >= limit_; }
  double seconds() const { return std::chrono::duration<double>(clock::now() - start_).count(); }

 private:
  const timeouts& t_;
  clock::time_point start_, limit_;
};

struct connection {
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  std::string head;  // the request head being sent; its capacity is reused request after request
  std::atomic<uint64_t>* open_count = nullptr;  // the client's count, once connected

  connection() = default;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection() {
    if (open_count) open_count->fetch_sub(1, std::memory_order_relaxed);
  }
  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
};

// A character that would end a header line, or the head, early.
bool breaks_a_line(char c) noexcept {
  return c == '\r' || c == '\n' || c == '\0';
}

// The request head, formatted into `out` (no Beast fields: a node allocation
// per field on every request). A target, name or value that would split the
// message (CR, LF, NUL; a name with a colon or blank) is refused, never sent.
result<void> format_head(std::string& out, const request& req, std::string_view host, bool send_length) {
  if (std::any_of(req.target.begin(), req.target.end(), [](char c) { return breaks_a_line(c) || c == ' '; }))
    return fail(errc::invalid_argument, "the request target holds a blank or a line break");
  out.clear();
  out += req.method;
  out += ' ';
  out += req.target;
  out += " HTTP/1.1\r\nHost: ";
  out += host;
  out += "\r\n";
  for (const auto& h : req.headers) {
    if (h.name.empty() || std::any_of(h.name.begin(), h.name.end(), [](char c) {
          return breaks_a_line(c) || c == ':' || c == ' ' || c == '\t';
        }))
      return fail(errc::invalid_argument, "invalid HTTP header name " + text::quoted(h.name));
    if (std::any_of(h.value.begin(), h.value.end(), breaks_a_line))
      return fail(errc::invalid_argument,
                  "the value of HTTP header " + text::quoted(h.name) + " holds a line break");
    out += h.name;
    out += ": ";
    out += h.value;
    out += "\r\n";
  }
  if (send_length) {
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, req.body.size()).ptr;
    out += "Content-Length: ";
    out.append(digits, end);
    out += "\r\n";
  }
  out += "\r\n";
  return {};
}

// An answer's head parsed straight into a `response` (no Beast fields), and
// the body bytes the parser frames (chunked or close-delimited answers, and
// bytes that came with the head) copied into the span given before each read.
class answer_parser final : public bhttp::basic_parser<false> {
 public:
  explicit answer_parser(response& r) : resp_(r) {}
  void set_body_target(std::span<std::byte> dst) noexcept {
    dst_ = dst;
    filled_ = 0;
  }
  std::size_t body_filled() const noexcept { return filled_; }

 private:
  void on_request_impl(bhttp::verb, beast::string_view, beast::string_view, int, error_code& ec) override {
    ec = bhttp::error::bad_version;  // never called for a response parser
  }
  void on_response_impl(int code, beast::string_view, int, error_code&) override { resp_.status = code; }
  void on_field_impl(bhttp::field, beast::string_view name, beast::string_view value, error_code&) override {
    resp_.headers.push_back({std::string(name), std::string(value)});
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(beast::string_view body, error_code& ec) override {
    const std::size_t n = std::min(body.size(), dst_.size() - filled_);
    if (n > 0) std::memcpy(dst_.data() + filled_, body.data(), n);
    filled_ += n;
    if (n < body.size()) ec = bhttp::error::need_buffer;  // the rest waits for the next target
    return n;
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, error_code& ec) override {
    return on_body_impl(body, ec);
  }
  void on_finish_impl(error_code&) override {}

  response& resp_;
  std::span<std::byte> dst_;
  std::size_t filled_ = 0;
};

struct exchange_state {
  bool got_response_bytes = false;  // false: safe to resend on a fresh connection
  bool reusable = false;            // the connection is at a message boundary and keep-alive
};

// Sends `req` and reads the answer on an open connection. Templated on the
// stream so plain and TLS share one code path.
template <class Stream>
awaitable<result<response>> exchange(Stream& stream, connection& conn, const request& req,
                                     const std::string& host, body_sink& sink, const client_options& opts,
                                     const http::endpoint& ep, exchange_state& st, client_stats& stats) {
  auto& lowest = conn.lowest();
  bhttp::verb verb = bhttp::string_to_verb(req.method);
  if (verb == bhttp::verb::unknown)
    co_return fail(errc::invalid_argument, "unknown HTTP method " + req.method);
  const bool is_head = verb == bhttp::verb::head;
  // HTTP/1.1 keeps the connection alive unless a side says otherwise.
  if (auto r = format_head(conn.head, req, host,
                           !req.body.empty() || verb == bhttp::verb::put || verb == bhttp::verb::post);
      !r)
    co_return r.error();

  request_clock pace(opts.deadlines);
  pace.credit(req.body.size());
  // A timeout that the whole-request deadline caused says so.
  auto timed_out = [&](const error_code& ec, std::string_view stage) {
    if (ec == beast::error::timeout && pace.whole_deadline_passed()) {
      char rate[64];
      std::snprintf(rate, sizeof rate, "%.1f", double(opts.deadlines.min_rate) / 1024);
      return fail(errc::timeout, "timed out while " + std::string(stage) + " " + ep.to_string() + " after " +
                                     std::to_string(int(pace.seconds())) +
                                     " s: the exchange moved slower than the minimum rate of " + rate +
                                     " KiB/s");
    }
    return transport_error(ec, stage, ep);
  };

  // Send the head, then the body straight from the caller's bytes. On a
  // plain connection a body of one slice or less goes with the head in one
  // gathered write (one writev). Not through TLS: Beast's ssl_stream
  // flattens small buffer sequences into a copy, and a gathered head + body
  // stalled there (Tls.the_servers_ca_as_bundle_makes_it_trusted).
  pace.arm(lowest, opts.deadlines.idle);
  std::size_t sent_with_head = 0;
  constexpr bool gather = std::is_same_v<Stream, beast::tcp_stream>;
  if (gather && !req.body.empty() && req.body.size() <= io_slice) {
    const std::array<asio::const_buffer, 2> both{asio::buffer(conn.head),
                                                 asio::buffer(req.body.data(), req.body.size())};
    if (auto [ec, n] = co_await asio::async_write(stream, both, tok); ec)
      co_return timed_out(ec, "sending a request to");
    sent_with_head = req.body.size();
  } else if (auto [ec, n] = co_await asio::async_write(stream, asio::buffer(conn.head), tok); ec) {
    co_return timed_out(ec, "sending a request to");
  }
  for (std::size_t off = sent_with_head; off < req.body.size();) {
    std::size_t len = std::min(io_slice, req.body.size() - off);
    pace.arm(lowest, opts.deadlines.idle);
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(req.body.data() + off, len), tok);
    if (ec) co_return timed_out(ec, "sending a request body to");
    off += n;
  }

  // Read the header.
  response resp;
  resp.headers.reserve(16);
  answer_parser parser(resp);
  parser.body_limit(boost::none);
  parser.header_limit(64 * 1024);
  if (is_head) parser.skip(true);
  pace.arm(lowest, opts.deadlines.first_byte);
  if (auto [ec, n] = co_await bhttp::async_read_header(stream, conn.buffer, parser, tok); ec) {
    st.got_response_bytes = conn.buffer.size() > 0 || ec == beast::error::timeout;
    co_return timed_out(ec, "waiting for the answer from");
  }
  st.got_response_bytes = true;

  if (auto cl = parser.content_length()) resp.content_length = *cl;
  if (resp.status == 100)
    co_return fail(errc::malformed_response, "unexpected 100 Continue from " + ep.to_string());

  const bool no_body = is_head || resp.status == 204 || resp.status == 304 || parser.is_done();
  const bool success = resp.status >= 200 && resp.status < 300;

  std::string& err = resp.error_body;
  std::vector<std::byte> err_scratch;
  if (!success) err_scratch.resize(16 * 1024);

  if (success && !is_head) {
    if (auto r = sink.begin(resp); !r) co_return r.error();
  }

  auto deliver = [&](std::span<const std::byte> bytes) -> result<void> {
    // Only used for bytes that arrived with the header (parser's buffer).
    while (!bytes.empty()) {
      if (success) {
        auto dst = sink.prepare();
        if (dst.empty())
          return fail(errc::too_large,
                      "the answer from " + ep.to_string() + " is larger than its destination");
        std::size_t n = std::min(dst.size(), bytes.size());
        std::memcpy(dst.data(), bytes.data(), n);
        if (auto r = sink.commit(n); !r) return r.error();
        stats.body_bytes_copied += n;
        bytes = bytes.subspan(n);
        resp.body_bytes += n;
      } else {
        std::size_t n = std::min(bytes.size(), error_body_cap - std::min(err.size(), error_body_cap));
        err.append(reinterpret_cast<const char*>(bytes.data()), n);
        resp.body_bytes += bytes.size();
        bytes = {};
      }
    }
    return {};
  };

  if (!no_body && resp.content_length && !parser.chunked()) {
    // Fast path: a length-delimited body. Bytes that came with the header are
    // handed over from the parser's buffer; the rest is read from the socket
    // straight into the sink's memory.
    uint64_t remaining = *resp.content_length;
    // An error body is read up to its cap at most.
    pace.credit(success ? remaining : std::min<uint64_t>(remaining, error_body_cap));
    auto pre = conn.buffer.data();
    std::size_t take = static_cast<std::size_t>(std::min<uint64_t>(remaining, pre.size()));
    if (auto r = deliver({static_cast<const std::byte*>(pre.data()), take}); !r) co_return r.error();
    conn.buffer.consume(take);
    remaining -= take;
    while (remaining > 0) {
      std::span<std::byte> dst;
      if (success) {
        dst = sink.prepare();
        if (dst.empty())
          co_return fail(errc::too_large,
                         "the answer from " + ep.to_string() + " is larger than its destination");
      } else {
        dst = err_scratch;
      }
      std::size_t want = static_cast<std::size_t>(std::min<uint64_t>({remaining, dst.size(), io_slice}));
      pace.arm(lowest, opts.deadlines.idle);
      auto [ec, n] = co_await asio::async_read(stream, asio::buffer(dst.data(), want), tok);
      if (ec) {
        if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
            ec == asio::error::connection_reset)
          co_return fail(errc::truncated_response, "the answer from " + ep.to_string() + " ended after " +
                                                       std::to_string(resp.body_bytes + n) + " of " +
                                                       std::to_string(*resp.content_length) +
                                                       " announced bytes");
        co_return timed_out(ec, "reading the answer from");
      }
      if (success) {
        if (auto r = sink.commit(n); !r) co_return r.error();
        stats.body_bytes_direct += n;
      } else if (err.size() < error_body_cap) {
        err.append(reinterpret_cast<const char*>(dst.data()), std::min(n, error_body_cap - err.size()));
      }
      resp.body_bytes += n;
      remaining -= n;
      if (!success && remaining > 0 && err.size() >= error_body_cap) {
        // An error document past the cap: keep what was read, drop the connection.
        st.reusable = false;
        co_return resp;
      }
    }
    st.reusable = parser.keep_alive();
  } else if (!no_body) {
    // Chunked or close-delimited: let the parser frame it, into sink memory.
    while (!parser.is_done()) {
      std::span<std::byte> dst = success ? sink.prepare() : std::span<std::byte>(err_scratch);
      if (dst.empty())
        co_return fail(errc::too_large,
                       "the answer from " + ep.to_string() + " is larger than its destination");
      // At most a slice per read, as for a length-delimited body; with the
      // length unknown, each slice is credited to the deadline as it is asked for.
      dst = dst.first(std::min(dst.size(), io_slice));
      parser.set_body_target(dst);
      pace.credit(dst.size());
      pace.arm(lowest, opts.deadlines.idle);
      auto [ec, n] = co_await bhttp::async_read(stream, conn.buffer, parser, tok);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) {
        if (ec == bhttp::error::partial_message || ec == asio::error::eof ||
            ec == asio::ssl::error::stream_truncated)
          co_return fail(errc::truncated_response, "the answer from " + ep.to_string() + " ended early");
        co_return timed_out(ec, "reading the answer from");
      }
      const std::size_t filled = parser.body_filled();
      if (success) {
        if (auto r = sink.commit(filled); !r) co_return r.error();
        stats.body_bytes_copied += filled;
      } else if (err.size() < error_body_cap) {
        err.append(reinterpret_cast<const char*>(dst.data()), std::min(filled, error_body_cap - err.size()));
      }
      resp.body_bytes += filled;
      if (!success && !parser.is_done() && err.size() >= error_body_cap) {
        st.reusable = false;  // as above
        co_return resp;
      }
    }
    st.reusable = parser.keep_alive();
  } else {
    st.reusable = parser.keep_alive();
  }

  // Bytes past the announced body mean the framing is off: never reuse.
  if (conn.buffer.size() != 0) st.reusable = false;
  if (success && !is_head) {
    if (auto r = sink.finish(); !r) co_return r.error();
  }
  co_return resp;
}

class pooled_client final : public client, public std::enable_shared_from_this<pooled_client> {
 public:
  pooled_client(asio::any_io_executor ex, http::endpoint ep, client_options opts)
      : ex_(std::move(ex)),
        ep_(std::move(ep)),
        opts_(std::move(opts)),
        slots_(ex_, std::max<std::size_t>(1, opts_.max_connections)) {}

  result<void> init_tls() {
    if (!ep_.tls) return {};
    ssl_.emplace(asio::ssl::context::tls_client);
    error_code ec;
    ssl_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                          asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                          asio::ssl::context::no_tlsv1_1,
                      ec);
    if (opts_.tls.verify) {
      if (!opts_.tls.ca_file.empty()) {
        ssl_->load_verify_file(opts_.tls.ca_file, ec);
        if (ec)
          return fail(errc::invalid_config,
                      "cannot load the CA bundle '" + opts_.tls.ca_file + "': " + ec.message());
      } else {
        ssl_->set_default_verify_paths(ec);
        if (ec) return fail(errc::invalid_config, "cannot load the system CA certificates: " + ec.message());
      }
      ssl_->set_verify_mode(asio::ssl::verify_peer);
    } else {
      ssl_->set_verify_mode(asio::ssl::verify_none);
    }
    return {};
  }

  awaitable<result<response>> send(const request& req, body_sink& sink) override {
    // A slot is an active request; open connections never exceed the cap
    // because a new one is made only when no idle one is left.
    if (auto [ec] = co_await slots_.async_send(error_code{}, tok); ec)
      co_return fail(errc::cancelled, "cancelled while waiting for a connection to " + ep_.to_string());
    struct slot_release {
      pooled_client* self;
      ~slot_release() {
        self->slots_.try_receive([](error_code) {});
      }
    } release{this};

    requests_.fetch_add(1, std::memory_order_relaxed);
    const std::string host = ep_.host_header();  // a local: exchange borrows it across its co_awaits
    for (int round = 0;; ++round) {
      // The resend after a stale connection always opens a fresh one.
      std::unique_ptr<connection> conn = round == 0 ? take_idle() : nullptr;
      // An idle connection with unread bytes (or an error) is out of step
      // with the server: drop it rather than misread its leftovers.
      for (error_code aec; conn && (conn->lowest().socket().available(aec) != 0 || aec);) conn = take_idle();
      const bool reused = conn != nullptr;
      if (!conn) {
        auto made = co_await connect();
        if (!made) co_return made.error();
        conn = std::move(*made);
      } else {
        reused_.fetch_add(1, std::memory_order_relaxed);
      }
      exchange_state st;
      client_stats local;
      // (No co_await inside ?: — GCC 12 miscompiles it.)
      result<response> r = fail(errc::cancelled, "not sent");
      if (conn->secure)
        r = co_await exchange(*conn->secure, *conn, req, host, sink, opts_, ep_, st, local);
      else
        r = co_await exchange(*conn->plain, *conn, req, host, sink, opts_, ep_, st, local);
      direct_.fetch_add(local.body_bytes_direct, std::memory_order_relaxed);
      copied_.fetch_add(local.body_bytes_copied, std::memory_order_relaxed);
      // A kept-alive connection the server closed meanwhile fails before any
      // answer byte: resend once on a fresh connection. The other idle
      // connections sat idle as long or longer (the server's keep-alive
      // timeout closed them too): drop them all rather than try each.
      if (!r && reused && !st.got_response_bytes && round == 0 && r.error().code == errc::connection_failed) {
        drop_idle();
        continue;
      }
      if (r && st.reusable) put_idle(std::move(conn));
      co_return r;
    }
  }

  client_stats stats() const override {
    client_stats s;
    s.connections_opened = opened_.load(std::memory_order_relaxed);
    s.peak_open_connections = peak_open_.load(std::memory_order_relaxed);
    s.requests = requests_.load(std::memory_order_relaxed);
    s.reused = reused_.load(std::memory_order_relaxed);
    s.body_bytes_direct = direct_.load(std::memory_order_relaxed);
    s.body_bytes_copied = copied_.load(std::memory_order_relaxed);
    return s;
  }
  const http::endpoint& endpoint() const noexcept override { return ep_; }

 private:
  std::unique_ptr<connection> take_idle() {
    std::lock_guard lk(mu_);
    if (idle_.empty()) return nullptr;
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }
  void drop_idle() {
    std::vector<std::unique_ptr<connection>> stale;
    {
      std::lock_guard lk(mu_);
      stale.swap(idle_);
    }
  }
  void put_idle(std::unique_ptr<connection> c) {
    std::lock_guard lk(mu_);
    idle_.push_back(std::move(c));
  }

  awaitable<result<std::unique_ptr<connection>>> connect() {
    auto ex = co_await asio::this_coro::executor;
    auto conn = std::make_unique<connection>();
    tcp::resolver resolver(ex);
    auto [rec, endpoints] = co_await resolver.async_resolve(ep_.host, std::to_string(ep_.port), tok);
    if (rec) co_return fail(errc::connection_failed, "cannot resolve " + ep_.host + ": " + rec.message());

    if (ssl_) {
      conn->secure = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ex, *ssl_);
    } else {
      conn->plain = std::make_unique<beast::tcp_stream>(ex);
    }
    auto& lowest = conn->lowest();
    lowest.expires_after(opts_.deadlines.connect);
    if (auto [ec, e] = co_await lowest.async_connect(endpoints, tok); ec)
      co_return transport_error(ec, "connecting to", ep_);
    error_code ec;
    lowest.socket().set_option(tcp::no_delay(true), ec);

    if (conn->secure) {
      SSL* native = conn->secure->native_handle();
      error_code addr_ec;
      asio::ip::make_address(ep_.host, addr_ec);
      if (addr_ec) {  // SNI only for names, never for IP literals
        if (!SSL_set_tlsext_host_name(native, ep_.host.c_str()))
          co_return fail(errc::connection_failed, "cannot set TLS SNI for " + ep_.host);
      }
      if (opts_.tls.verify) conn->secure->set_verify_callback(asio::ssl::host_name_verification(ep_.host));
      lowest.expires_after(opts_.deadlines.connect);
      if (auto [hec] = co_await conn->secure->async_handshake(asio::ssl::stream_base::client, tok); hec)
        co_return transport_error(hec, "TLS handshake with", ep_);
    }
    opened_.fetch_add(1, std::memory_order_relaxed);
    conn->open_count = &open_;
    const uint64_t now_open = open_.fetch_add(1, std::memory_order_relaxed) + 1;
    for (uint64_t peak = peak_open_.load(std::memory_order_relaxed);
         now_open > peak && !peak_open_.compare_exchange_weak(peak, now_open, std::memory_order_relaxed);) {
    }
    co_return conn;
  }

  asio::any_io_executor ex_;
  http::endpoint ep_;
  client_options opts_;
  std::optional<asio::ssl::context> ssl_;

  // Connections open now (a connection counts itself down when destroyed, so
  // these outlive idle_) and the most at once. Relaxed atomics.
  std::atomic<uint64_t> open_{0}, peak_open_{0};

  // Guarded by mu_: connections ready for reuse.
  std::mutex mu_;
  std::vector<std::unique_ptr<connection>> idle_;

  // Thread-safe by itself: one buffered message per active request.
  asio::experimental::concurrent_channel<void(error_code)> slots_;

  // Statistics, relaxed atomics.
  std::atomic<uint64_t> opened_{0}, requests_{0}, reused_{0}, direct_{0}, copied_{0};
};

}  // namespace

std::string_view response::header(std::string_view name) const noexcept {
  for (const auto& h : headers)
    if (iequals(h.name, name)) return h.value;
  return {};
}
bool response::has_header(std::string_view name) const noexcept {
  for (const auto& h : headers)
    if (iequals(h.name, name)) return true;
  return false;
}

result<void> string_sink::begin(const response& head) {
  text_.clear();
  used_ = 0;
  if (head.content_length) {
    if (*head.content_length > cap_)
      return fail(errc::too_large, "the answer is larger than " + std::to_string(cap_) + " bytes");
    text_.resize(static_cast<std::size_t>(*head.content_length));
  }
  return {};
}
std::span<std::byte> string_sink::prepare() {
  if (used_ == text_.size()) {
    if (text_.size() >= cap_) return {};
    text_.resize(std::min(cap_, std::max<std::size_t>(text_.size() * 2, 16 * 1024)));
  }
  return {reinterpret_cast<std::byte*>(text_.data()) + used_, text_.size() - used_};
}
result<void> string_sink::commit(std::size_t n) {
  used_ += n;
  return {};
}
result<void> string_sink::finish() {
  text_.resize(used_);
  return {};
}

result<void> span_sink::begin(const response& head) {
  used_ = 0;
  if (head.content_length && *head.content_length > dest_.size())
    return fail(errc::too_large, "the answer (" + std::to_string(*head.content_length) +
                                     " bytes) is larger than its destination (" +
                                     std::to_string(dest_.size()) + " bytes)");
  return {};
}
result<void> span_sink::commit(std::size_t n) {
  used_ += n;
  return {};
}

result<std::shared_ptr<client>> client::create(asio::any_io_executor ex, http::endpoint ep,
                                               client_options opts) {
  auto c = std::make_shared<pooled_client>(std::move(ex), std::move(ep), std::move(opts));
  if (auto r = c->init_tls(); !r) return r.error();
  return std::shared_ptr<client>(std::move(c));
}

}  // namespace sluice::http
