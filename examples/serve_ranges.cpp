// serve_ranges: serve byte ranges of the objects under an S3 prefix over HTTP.
//
//   serve_ranges s3://bucket/prefix PORT
//   curl -r 0-1023 http://127.0.0.1:PORT/some/key      # bytes 0..1023 of s3://bucket/prefix/some/key
//
// A server that embeds sluice: its HTTP/1.1 side (Boost.Beast) runs on an io_context of its own, run by
// the main thread, and its handler coroutines co_await the S3 store (store::open_s3_store over a
// transfer::scheduler) as they would any other asynchronous operation. The store does its network work on
// the engine's threads and completes each read back on the server's executor, so the server thread never
// blocks and needs no locking. `GET /<key>` answers 200 with the whole value, `Range: bytes=a-b`,
// `bytes=a-` or `bytes=-n` 206 with that range, 404 for a missing key, 416 for a range past the end. Keys
// are percent-decoded. A whole value is verified against the XXH3 sluice records when it writes; a range
// is not (it has no hash of its own).
//
// Each read runs against a 60 s deadline with awaitable_operators `||`: when the timer wins, the read is
// cancelled through its cancellation slot (only that read; its pool memory goes back) and the client gets
// 504. Every read's bytes come from the scheduler's buffer pool (256 MiB by default) and are sent from
// there without a copy; a range larger than the pool is refused with 413.
//
// It listens on 127.0.0.1 only (PORT 0 picks a free port, printed on stderr); put a real front end before
// it to serve other machines. SIGINT or SIGTERM stops it: no new connections, and the ones open end after
// their current request.
//
// Credentials, region and endpoint come from the AWS environment and profile files (AWS_ENDPOINT_URL for a
// non-AWS server), as in download_file.
//
// Exit status: 0 after a signal, 1 when set-up fails (one line on stderr), 2 for a bad command line.
#include <sluice/engine/runtime/engine.hpp>
#include <sluice/engine/s3/config.hpp>
#include <sluice/engine/s3/uri.hpp>
#include <sluice/engine/transfer/scheduler.hpp>
#include <sluice/store/s3.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// A named completion token: no temporaries inside co_await expressions (GCC 12, docs/architecture.md).
constexpr auto tok = asio::as_tuple(asio::use_awaitable);

int usage() {
  std::fprintf(stderr, "usage: serve_ranges s3://bucket/prefix PORT\n");
  return 2;
}

int report(const std::string& context, const sluice::error& e) {
  std::fprintf(stderr, "serve_ranges: %s: %s\n", context.c_str(), e.describe().c_str());
  return 1;
}

std::optional<uint64_t> parse_u64(std::string_view text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

// One range of "bytes=a-b", "bytes=a-" or "bytes=-n"; nullopt for anything else (several ranges too).
std::optional<sluice::store::byte_range> parse_range(std::string_view v) {
  using sluice::store::byte_range;
  if (!v.starts_with("bytes=")) return std::nullopt;
  v.remove_prefix(6);
  const auto dash = v.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::string_view a = v.substr(0, dash), b = v.substr(dash + 1);
  if (a.empty()) {
    auto n = parse_u64(b);
    if (!n || *n == 0) return std::nullopt;
    return byte_range::last(*n);
  }
  auto first = parse_u64(a);
  if (!first) return std::nullopt;
  if (b.empty()) return byte_range::from(*first);
  auto last = parse_u64(b);
  if (!last || *last < *first) return std::nullopt;
  return byte_range::at(*first, *last - *first + 1);
}

// The HTTP side: one io_context, run by the thread that calls run(). Every member belongs to that thread.
class range_server {
 public:
  range_server(std::shared_ptr<sluice::store::store> s, std::string name, uint16_t port)
      : store_(std::move(s)),
        name_(std::move(name)),
        acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), port}),
        signals_(ioc_, SIGINT, SIGTERM) {}

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  // Serves until SIGINT or SIGTERM, then until the open connections have finished their request.
  void run() {
    auto accept = [this]() -> asio::awaitable<void> { co_await accept_loop(); };
    asio::co_spawn(ioc_, std::move(accept), asio::detached);
    signals_.async_wait([this](boost::system::error_code ec, int) {
      if (ec) return;
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      for (auto* s : idle_)
        s->socket().close(ignored);  // those waiting for a request; busy ones finish theirs
      stopping_ = true;
    });
    ioc_.run();
  }

 private:
  // What goes back: the status, headers, and the body as pool memory (no copy) or text.
  struct reply {
    http::status status = http::status::ok;
    std::vector<std::pair<http::field, std::string>> headers;
    sluice::buffer_slice bytes;
    std::string text;
  };

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, sock] = co_await acceptor_.async_accept(tok);
      if (ec) co_return;
      auto session = [this, s = std::move(sock)]() mutable -> asio::awaitable<void> {
        beast::tcp_stream stream(std::move(s));
        co_await serve(stream);
      };
      asio::co_spawn(ioc_, std::move(session), asio::detached);
    }
  }

  asio::awaitable<void> serve(beast::tcp_stream& stream) {
    beast::flat_buffer buf;
    while (!stopping_) {
      http::request<http::empty_body> req;
      stream.expires_after(60s);  // an idle client is dropped after a minute
      idle_.insert(&stream);
      auto [ec, n] = co_await http::async_read(stream, buf, req, tok);
      idle_.erase(&stream);
      if (ec) break;
      reply out = co_await answer(req);
      http::response<http::buffer_body> res{out.status, req.version()};
      res.set(http::field::server, "serve_ranges (sluice example)");
      res.set(http::field::accept_ranges, "bytes");
      for (const auto& [name, value] : out.headers) res.set(name, value);
      // Beast's buffer_body wants a mutable pointer; the bytes are only read.
      const bool text = out.bytes.empty();
      res.body().data = text ? static_cast<void*>(out.text.data())
                             : static_cast<void*>(const_cast<std::byte*>(out.bytes.data()));
      res.body().size = text ? out.text.size() : out.bytes.size();
      res.body().more = false;
      res.content_length(res.body().size);
      res.keep_alive(req.keep_alive() && !stopping_);
      stream.expires_after(60s);
      auto [wec, wn] = co_await http::async_write(stream, res, tok);
      if (wec || !res.keep_alive()) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  static reply text_reply(http::status st, std::string text) {
    reply r;
    r.status = st;
    r.text = std::move(text) + "\n";
    r.headers.emplace_back(http::field::content_type, "text/plain");
    return r;
  }

  asio::awaitable<reply> answer(const http::request<http::empty_body>& req) {
    using namespace sluice;
    if (req.method() != http::verb::get) {
      reply r = text_reply(http::status::method_not_allowed, "GET only");
      r.headers.emplace_back(http::field::allow, "GET");
      co_return r;
    }
    std::string_view target = req.target();
    target = target.substr(0, target.find('?'));
    if (!target.starts_with('/'))
      co_return text_reply(http::status::bad_request, "the target must start with '/'");
    auto decoded = s3::uri_decode(target.substr(1));
    if (!decoded) co_return text_reply(http::status::bad_request, decoded.error().message);
    // Locals, not temporaries: the store borrows key and options until the read completes.
    const std::string key = std::move(*decoded);
    store::read_options opts;
    bool ranged = false;  // "bytes=0-" is answered 206, although the store reads (and verifies) it whole
    if (auto h = req.find(http::field::range); h != req.end()) {
      auto r = parse_range(h->value());
      if (!r)
        co_return text_reply(http::status::range_not_satisfiable, "one range of bytes=a-b, a- or -n, please");
      opts.range = *r;
      ranged = true;
    }

    // The read races a deadline: whichever finishes first cancels the other through its cancellation slot.
    using namespace asio::experimental::awaitable_operators;
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer deadline(ex);
    deadline.expires_after(60s);
    auto read_op = store_->read(key, opts);
    auto wait_op = deadline.async_wait(asio::use_awaitable);
    auto either = co_await (std::move(read_op) || std::move(wait_op));
    // Here the coroutine is back on the server's thread, whichever engine thread did the work.
    if (either.index() == 1)
      co_return text_reply(http::status::gateway_timeout, describe(key) + ": the read took over 60 s");
    result<store::read_result>& got = std::get<0>(either);

    if (!got) {
      const error& e = got.error();
      std::fprintf(stderr, "serve_ranges: %s\n", e.describe().c_str());
      if (e.code == condition::invalid_argument)
        co_return text_reply(http::status::range_not_satisfiable, e.message);
      if (e.code == errc::too_large) co_return text_reply(http::status::payload_too_large, e.message);
      if (e.code == condition::not_found) co_return text_reply(http::status::not_found, e.message);
      if (e.code == condition::permission_denied) co_return text_reply(http::status::forbidden, e.message);
      co_return text_reply(http::status::bad_gateway, e.message);
    }
    store::read_result& value = *got;
    if (value.state == store::read_state::missing)
      co_return text_reply(http::status::not_found, describe(key) + ": no such key");

    reply r;
    r.headers.emplace_back(http::field::etag, "\"" + value.gen.tag + "\"");
    r.headers.emplace_back(http::field::content_type,
                           value.content_type.empty() ? "application/octet-stream" : value.content_type);
    if (ranged) {
      // The first byte delivered: a suffix ends at the end of the value.
      const uint64_t first = opts.range.suffix ? value.size - value.bytes.size() : opts.range.offset;
      r.status = http::status::partial_content;
      const std::string last = value.bytes.empty() ? "*" : std::to_string(first + value.bytes.size() - 1);
      r.headers.emplace_back(http::field::content_range, "bytes " + std::to_string(first) + "-" + last + "/" +
                                                             std::to_string(value.size));
    }
    r.bytes = std::move(value.bytes);
    co_return r;
  }

  std::string describe(const std::string& key) const { return name_ + key; }

  std::shared_ptr<sluice::store::store> store_;
  std::string name_;  // "s3://bucket/prefix/", for messages
  asio::io_context ioc_{1};
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  std::set<beast::tcp_stream*> idle_;  // connections waiting for their next request
  bool stopping_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace sluice;
  if (argc != 3) return usage();
  const std::string url = argv[1];
  auto loc = s3::parse_s3_url(url);
  if (!loc) {
    std::fprintf(stderr, "serve_ranges: %s\n", loc.error().describe().c_str());
    return usage();
  }
  const auto port = parse_u64(argv[2]);
  if (!port || *port > 65535) {
    std::fprintf(stderr, "serve_ranges: PORT must be a number from 0 to 65535\n");
    return usage();
  }

  const s3::config_overrides overrides;
  auto config = s3::resolve_config(overrides, s3::process_env());
  if (!config) return report("configuration", config.error());
  s3::client_options client_opts;
  client_opts.config = std::move(*config);

  // The engine's threads (one per core) do the S3 work; the scheduler owns one client per engine thread
  // and the buffer pool the reads are served from. The store must not outlive the scheduler, nor the
  // scheduler the engine: they are declared in that order.
  engine eng;
  transfer::options topts;
  auto sched = transfer::scheduler::create(eng, client_opts, topts);
  if (!sched) return report("setup", sched.error());
  store::s3_options sopts;
  sopts.bucket = loc->bucket;
  sopts.prefix = loc->key;
  sopts.conditions = store::conditional_writes::assume_unsupported;  // reads only: never probe
  auto st = store::open_s3_store(*sched, sopts);
  if (!st) return report(url, st.error());

  std::string name = s3::object_url(loc->bucket, loc->key);
  if (name.back() != '/') name += '/';
  std::optional<range_server> server;
  try {
    server.emplace(*st, name, static_cast<uint16_t>(*port));
  } catch (const boost::system::system_error& e) {
    return report("listening on 127.0.0.1:" + std::to_string(*port), fail(errc::io_error, e.what()));
  }
  std::fprintf(stderr, "serve_ranges: serving %s on http://127.0.0.1:%u/ (SIGINT or SIGTERM stops)\n",
               name.c_str(), static_cast<unsigned>(server->port()));
  server->run();  // this thread is the server's; it returns once every connection has closed
  return 0;
}
