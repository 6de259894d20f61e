// Servers that embed sluice: an HTTP/1.1 range server (Boost.Beast) runs on
// its own io_context and thread, and its handler coroutines co_await the S3
// store's read() directly. The store's network work must run on the engine's
// threads, every read must complete back on the server's thread and executor,
// and the handler's cancellation slot must cancel just that read.
//
// The server maps GET /<mount>/<key> (optional `Range: bytes=a-b`, `a-` or
// `-n`) onto store(mount)->read(key, {range}): 200 or 206 with the bytes, 404
// for a missing key, 416 for a range the value cannot satisfy. A request may
// ask for its read to be cancelled after N ms (`x-cancel-after-ms`), either
// through a cancellation_signal bound to the read (`x-cancel-style: signal`,
// the default: the read's own outcome comes back in `x-read-outcome`) or by
// racing the read against a timer with awaitable_operators `||`
// (`x-cancel-style: race`: 504 when the timer wins).
//
// Mounts: `data` is the S3 store on s3rver; `stalled` (some tests) is an S3
// store whose server (a scripted fault_proxy) never answers, or answers the
// first request and then stalls, so a read stays in flight until cancelled.
#include "fault_proxy.hpp"
#include "s3_test_client.hpp"

#include <sluice/store/s3.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>

using namespace sluice;
using namespace sluice::testing;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto tok = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t MiB = std::size_t(1) << 20;

// ---- range parsing ----------------------------------------------------------------------------------

std::optional<uint64_t> parse_u64(std::string_view text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

// "bytes=a-b", "bytes=a-" or "bytes=-n" (one range); nullopt for anything else.
std::optional<store::byte_range> parse_range(std::string_view v) {
  if (!v.starts_with("bytes=")) return std::nullopt;
  v.remove_prefix(6);
  const auto dash = v.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::string_view a = v.substr(0, dash), b = v.substr(dash + 1);
  if (a.empty()) {
    auto n = parse_u64(b);
    if (!n) return std::nullopt;
    return store::byte_range::last(*n);
  }
  auto first = parse_u64(a);
  if (!first) return std::nullopt;
  if (b.empty()) return store::byte_range::from(*first);
  auto last = parse_u64(b);
  if (!last || *last < *first) return std::nullopt;
  return store::byte_range::at(*first, *last - *first + 1);
}

// ---- the embedding server ---------------------------------------------------------------------------

// One HTTP/1.1 server on its own io_context, run by one thread of its own.
// The mounts are fixed at construction; the counters may be read from any
// thread; everything else belongs to the server thread.
class range_server {
 public:
  using mounts = std::map<std::string, std::shared_ptr<store::store>, std::less<>>;

  explicit range_server(mounts m)
      : mounts_(std::move(m)), acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    auto loop = [this]() -> asio::awaitable<void> { co_await accept_loop(); };
    asio::co_spawn(ioc_, std::move(loop), asio::detached);
    std::promise<std::thread::id> started;
    auto id = started.get_future();
    thread_ = std::thread([this, &started] {
      started.set_value(std::this_thread::get_id());
      ioc_.run();
      finished_.set_value();
    });
    thread_id_ = id.get();
  }

  ~range_server() { stop(); }

  // Closes the listener and every idle connection, then waits for the
  // server thread; requests still waiting for a store must end by themselves.
  void stop() {
    if (!thread_.joinable()) return;
    asio::post(ioc_, [this] {
      error_code ec;
      acceptor_.close(ec);
      for (auto* s : sessions_) s->socket().close(ec);
    });
    if (finished_.get_future().wait_for(60s) != std::future_status::ready) {
      ADD_FAILURE() << "the server's requests did not finish within 60 s of stop()";
      ioc_.stop();
    }
    thread_.join();
  }

  uint16_t port() const { return port_; }
  std::thread::id thread_id() const { return thread_id_; }
  asio::io_context::executor_type executor() { return ioc_.get_executor(); }

  // What the handlers saw (any thread).
  std::atomic<int> reads_started{0};      // store reads begun, all mounts
  std::atomic<int> reads_completed{0};    // store reads that came back (value or error)
  std::atomic<int> off_server_thread{0};  // reads that resumed on another thread
  std::atomic<int> off_executor{0};       // reads that resumed on another executor
  std::atomic<int> read_exceptions{0};    // reads that threw instead of returning an error
  std::atomic<int> cancelled_reads{0};    // reads that ended with condition::cancelled
  std::atomic<int> timer_won{0};          // `race`: the timer finished first
  std::mutex mu;                          // guards exception_messages
  std::vector<std::string> exception_messages;

 private:
  using error_code = boost::system::error_code;

  // What goes back for one request: the status, headers, and the body as
  // pool memory (a slice of the read) or as text.
  struct reply {
    bhttp::status status = bhttp::status::ok;
    std::vector<std::pair<std::string, std::string>> headers;
    buffer_slice bytes;
    std::string text;
  };

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, sock] = co_await acceptor_.async_accept(tok);
      if (ec) co_return;
      auto session = [this, s = std::move(sock)]() mutable -> asio::awaitable<void> {
        beast::tcp_stream stream(std::move(s));
        sessions_.insert(&stream);
        co_await serve(stream);
        sessions_.erase(&stream);
      };
      asio::co_spawn(ioc_, std::move(session), asio::detached);
    }
  }

  asio::awaitable<void> serve(beast::tcp_stream& stream) {
    beast::flat_buffer buf;
    for (;;) {
      bhttp::request<bhttp::empty_body> req;
      stream.expires_after(60s);
      auto [ec, n] = co_await bhttp::async_read(stream, buf, req, tok);
      if (ec) break;
      reply out = co_await answer(req);
      bhttp::response<bhttp::buffer_body> res{out.status, req.version()};
      res.set(bhttp::field::server, "sluice-store-server-test");
      for (const auto& [name, value] : out.headers) res.set(name, value);
      const bool text = out.bytes.empty();
      res.body().data = text ? static_cast<void*>(out.text.data())
                             : static_cast<void*>(const_cast<std::byte*>(out.bytes.data()));
      res.body().size = text ? out.text.size() : out.bytes.size();
      res.body().more = false;
      res.content_length(res.body().size);
      res.keep_alive(req.keep_alive());
      stream.expires_after(60s);
      auto [wec, wn] = co_await bhttp::async_write(stream, res, tok);
      if (wec || !req.keep_alive()) break;
    }
    error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  }

  static reply text_reply(bhttp::status st, std::string text) {
    reply r;
    r.status = st;
    r.text = std::move(text);
    r.headers.emplace_back("content-type", "text/plain");
    return r;
  }

  // Resumed after a store operation: on the server's thread and executor?
  asio::awaitable<void> check_where_we_are() {
    if (std::this_thread::get_id() != thread_id_) ++off_server_thread;
    const asio::any_io_executor mine = co_await asio::this_coro::executor;
    if (mine != asio::any_io_executor(ioc_.get_executor())) ++off_executor;
  }

  asio::awaitable<reply> answer(const bhttp::request<bhttp::empty_body>& req) {
    if (req.method() != bhttp::verb::get)
      co_return text_reply(bhttp::status::method_not_allowed, "GET only\n");
    std::string_view target = req.target();
    target = target.substr(0, target.find('?'));
    if (!target.starts_with('/')) co_return text_reply(bhttp::status::bad_request, "bad target\n");
    target.remove_prefix(1);
    const auto slash = target.find('/');
    auto mount = mounts_.find(target.substr(0, slash));
    if (slash == std::string_view::npos || mount == mounts_.end())
      co_return text_reply(bhttp::status::not_found, "no such mount\n");
    const std::string key(target.substr(slash + 1));
    store::store& st = *mount->second;

    store::read_options opts;
    bool ranged = false;  // "bytes=0-" is a range (206) although the store reads it whole
    if (auto h = req.find(bhttp::field::range); h != req.end()) {
      auto r = parse_range(h->value());
      if (!r) co_return text_reply(bhttp::status::range_not_satisfiable, "unsupported Range\n");
      opts.range = *r;
      ranged = true;
    }
    std::optional<uint64_t> cancel_after;
    if (auto h = req.find("x-cancel-after-ms"); h != req.end()) cancel_after = parse_u64(h->value());
    const bool race = req["x-cancel-style"] == "race";

    ++reads_started;
    std::optional<result<store::read_result>> got;
    bool timer_first = false;
    try {
      if (!cancel_after) {
        got = co_await st.read(key, opts);
      } else if (race) {
        // The read against a timer: the loser is cancelled through the
        // cancellation slot awaitable_operators bind to each side.
        using namespace asio::experimental::awaitable_operators;
        auto ex = co_await asio::this_coro::executor;
        asio::steady_timer deadline(ex);
        deadline.expires_after(std::chrono::milliseconds(*cancel_after));
        auto read_op = st.read(key, opts);
        auto wait_op = deadline.async_wait(asio::use_awaitable);
        auto either = co_await (std::move(read_op) || std::move(wait_op));
        if (either.index() == 0) {
          got = std::move(std::get<0>(either));
        } else {
          timer_first = true;
          ++timer_won;
        }
      } else {
        // The read under a cancellation slot of the handler's own, which a
        // timer signals: only this read is cancelled, the handler is not.
        // The timer's handler shares the signal: when the timer fires just as
        // the read completes, it runs after this frame has gone (cancel()
        // cannot recall a handler already queued).
        auto ex = co_await asio::this_coro::executor;
        auto cancel = std::make_shared<asio::cancellation_signal>();
        asio::steady_timer deadline(ex);
        deadline.expires_after(std::chrono::milliseconds(*cancel_after));
        deadline.async_wait([cancel](error_code ec) {
          if (!ec) cancel->emit(asio::cancellation_type::terminal);
        });
        auto read_op = st.read(key, opts);
        auto bound = asio::bind_cancellation_slot(cancel->slot(), asio::use_awaitable);
        got = co_await asio::co_spawn(ex, std::move(read_op), bound);
        deadline.cancel();
      }
    } catch (const std::exception& e) {
      ++read_exceptions;
      std::lock_guard lk(mu);
      exception_messages.emplace_back(e.what());
    }
    ++reads_completed;
    co_await check_where_we_are();

    if (!got) {
      if (timer_first) {
        reply r = text_reply(bhttp::status::gateway_timeout, "the read took too long\n");
        r.headers.emplace_back("x-read-outcome", "timer");
        co_return r;
      }
      reply r = text_reply(bhttp::status::internal_server_error, "the read threw\n");
      r.headers.emplace_back("x-read-outcome", "exception");
      co_return r;
    }
    if (!*got) {
      const error& e = got->error();
      if (e.code == condition::cancelled) {
        ++cancelled_reads;
        reply r = text_reply(bhttp::status::service_unavailable, e.describe() + "\n");
        r.headers.emplace_back("x-read-outcome", "cancelled");
        co_return r;
      }
      if (e.code == condition::invalid_argument)
        co_return text_reply(bhttp::status::range_not_satisfiable, e.describe() + "\n");
      reply r = text_reply(bhttp::status::bad_gateway, e.describe() + "\n");
      r.headers.emplace_back("x-read-outcome", "error");
      co_return r;
    }
    store::read_result& rr = **got;
    if (rr.state == store::read_state::missing)
      co_return text_reply(bhttp::status::not_found, "no such key\n");
    reply r;
    r.headers.emplace_back("x-read-outcome", "value");
    r.headers.emplace_back("content-type", "application/octet-stream");
    r.headers.emplace_back("etag", "\"" + rr.gen.tag + "\"");
    if (ranged) {
      const uint64_t first = opts.range.suffix ? rr.size - rr.bytes.size() : opts.range.offset;
      r.status = bhttp::status::partial_content;
      r.headers.emplace_back("content-range", "bytes " + std::to_string(first) + "-" +
                                                  std::to_string(first + rr.bytes.size() - 1) + "/" +
                                                  std::to_string(rr.size));
    }
    r.bytes = std::move(rr.bytes);
    co_return r;
  }

  const mounts mounts_;
  std::set<beast::tcp_stream*> sessions_;  // server thread only
  asio::io_context ioc_{1};
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::thread::id thread_id_;
  std::promise<void> finished_;
};

// ---- a blocking HTTP client (one per client thread) --------------------------------------------------

struct http_reply {
  int status = 0;
  std::string body;
  std::string content_range;
  std::string outcome;  // x-read-outcome
};

class blocking_client {
 public:
  explicit blocking_client(uint16_t port) : stream_(ioc_) {
    stream_.expires_after(10s);
    stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }

  // Throws boost::system::system_error when the exchange fails.
  http_reply get(const std::string& target,
                 const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) req.set(name, value);
    stream_.expires_after(120s);
    bhttp::write(stream_, req);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 * MiB);
    bhttp::read(stream_, buf_, parser);
    auto& res = parser.get();
    http_reply out;
    out.status = res.result_int();
    out.body = std::move(res.body());
    out.content_range = std::string(res[bhttp::field::content_range]);
    out.outcome = std::string(res["x-read-outcome"]);
    return out;
  }

 private:
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
};

// ---- the stores ---------------------------------------------------------------------------------------

s3::client_options client_options_for(const s3_server& server) {
  s3::client_options o;
  o.config.endpoint_url = server.endpoint_url;
  o.config.region = server.region.empty() ? "us-east-1" : server.region;
  o.config.creds = {server.access_key, server.secret_key, ""};
  o.retry.max_attempts = 3;
  o.retry.base_delay = 10ms;
  return o;
}

// The engine's thread ids: a task posted to each context reports its thread.
std::set<std::thread::id> engine_threads(engine& eng) {
  std::set<std::thread::id> ids;
  for (unsigned i = 0; i < eng.thread_count(); ++i) {
    std::promise<std::thread::id> p;
    asio::post(eng.context(i), [&p] { p.set_value(std::this_thread::get_id()); });
    ids.insert(p.get_future().get());
  }
  return ids;
}

// Waits up to `limit` for `done()`; true when it held.
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

class StoreServer : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<s3rver_process>();
    transfer::options t;
    t.part_size = 2 * MiB;
    t.memory_budget = 64 * MiB;
    t.max_in_flight = 8;
    auto made = transfer::scheduler::create(eng_, client_options_for(server_->server()), t);
    ASSERT_TRUE(made) << made.error().describe();
    sched_ = *made;
    bucket_ = unique_bucket_name("served");
    auto mb = eng_.run(sched_->client().create_bucket(bucket_));
    ASSERT_TRUE(mb) << mb.error().describe();
    auto s = store::open_s3_store(sched_, {bucket_, "served", store::conditional_writes::assume_unsupported});
    ASSERT_TRUE(s) << s.error().describe();
    store_ = *s;
    for (std::size_t size : {std::size_t(1), std::size_t(1000), MiB + 1, 5 * MiB + 3, 12 * MiB}) {
      const std::string key = "obj-" + std::to_string(size);
      objects_[key] = test_bytes(size, size);
      const std::span<const std::byte> value = as_span(objects_[key]);
      auto w = eng_.run(store_->write(key, value, store::write_always));
      ASSERT_TRUE(w) << w.error().describe();
    }
  }

  void TearDown() override {
    http_.reset();  // before the stores and schedulers it calls
    stalled_store_.reset();
    stalled_sched_.reset();
    stalled_eng_.reset();  // stops its thread before the proxy lets go of the stalled requests
    stalled_proxy_.reset();
  }

  // After a read has thrown while its part requests were still stalled on
  // the proxy (the cancellation bug this file shows), those requests still
  // point into the freed frame and buffer of that read: resuming them would
  // write freed memory. Never resume them: keep the stalled proxy, engine,
  // scheduler and store alive, untouched, until the process exits.
  void quarantine_stalled_store() {
    struct kept {
      std::unique_ptr<fault_proxy> proxy;
      std::unique_ptr<engine> eng;
      std::shared_ptr<transfer::scheduler> sched;
      std::shared_ptr<store::store> s;
    };
    new kept{std::move(stalled_proxy_), std::move(stalled_eng_), std::move(stalled_sched_),
             std::move(stalled_store_)};
  }

  // A second S3 store, over an engine and scheduler of its own, whose server
  // is a scripted fault_proxy: its reads stay in flight until cancelled (the
  // deadlines are far beyond any test run).
  void add_stalled_store(std::vector<scripted_reply> script) {
    stalled_eng_ = std::make_unique<engine>(engine::options{1});
    stalled_proxy_ = std::make_unique<fault_proxy>(std::move(script));
    s3_server fake = server_->server();
    fake.endpoint_url = stalled_proxy_->endpoint_url();
    s3::client_options o = client_options_for(fake);
    o.retry.max_attempts = 1;
    o.http.deadlines.first_byte = 1h;
    o.http.deadlines.idle = 1h;
    transfer::options t;
    t.part_size = 2 * MiB;
    t.memory_budget = 32 * MiB;
    t.max_in_flight = 4;
    auto made = transfer::scheduler::create(*stalled_eng_, std::move(o), t);
    ASSERT_TRUE(made) << made.error().describe();
    stalled_sched_ = *made;
    auto s =
        store::open_s3_store(stalled_sched_, {"stalled", "", store::conditional_writes::assume_unsupported});
    ASSERT_TRUE(s) << s.error().describe();
    stalled_store_ = *s;
  }

  void start_server() {
    range_server::mounts m{{"data", store_}};
    if (stalled_store_) m.emplace("stalled", stalled_store_);
    http_ = std::make_unique<range_server>(std::move(m));
  }

  // The bytes a request for `key` with Range `range` (empty: none) must return.
  struct expectation {
    int status = 200;
    std::string body;
    std::string content_range;
  };
  expectation expect(const std::string& key, std::optional<store::byte_range> range) {
    expectation e;
    auto it = objects_.find(key);
    if (it == objects_.end()) {
      e.status = 404;
      return e;
    }
    const auto& v = it->second;
    const uint64_t size = v.size();
    if (!range) {
      e.body.assign(reinterpret_cast<const char*>(v.data()), v.size());
      return e;
    }
    uint64_t first = range->offset, end = size;
    if (range->suffix) {
      first = size - std::min<uint64_t>(*range->length, size);
    } else if (range->length) {
      end = std::min<uint64_t>(size, range->offset + *range->length);
    }
    if (first >= size) {
      e.status = 416;
      return e;
    }
    e.status = 206;
    e.body.assign(reinterpret_cast<const char*>(v.data()) + first, end - first);
    e.content_range =
        "bytes " + std::to_string(first) + "-" + std::to_string(end - 1) + "/" + std::to_string(size);
    return e;
  }

  // A random request: a key (sometimes a missing one) and a Range header
  // (whole, a-b, a-b past the end, a-, -n, or starting past the end).
  struct planned {
    std::string key;
    std::string range_header;
    std::optional<store::byte_range> range;
  };
  planned plan(std::mt19937_64& rng) {
    planned p;
    std::vector<std::string> keys;
    for (const auto& [k, v] : objects_) keys.push_back(k);
    const auto pick = rng() % (keys.size() * 8 + 1);
    if (pick == keys.size() * 8) {
      p.key = "no-such-object";
      return p;
    }
    p.key = keys[pick % keys.size()];
    const uint64_t size = objects_[p.key].size();
    const uint64_t a = rng() % size;
    const uint64_t len = 1 + rng() % std::min<uint64_t>(size, 3 * MiB);
    switch (rng() % 7) {
      case 0:
        break;  // whole
      case 1:
      case 2:
        p.range = store::byte_range::at(a, std::min(len, size - a));
        break;
      case 3:
        p.range = store::byte_range::at(a, size - a + 1 + rng() % 100);
        break;  // past the end
      case 4:
        p.range = store::byte_range::from(a);
        break;
      case 5:
        p.range = store::byte_range::last(len + (rng() % 4 == 0 ? size : 0));
        break;
      case 6:
        p.range = store::byte_range::at(size + rng() % 3, 1 + rng() % 10);
        break;  // 416
    }
    if (p.range) {
      if (p.range->suffix)
        p.range_header = "bytes=-" + std::to_string(*p.range->length);
      else if (!p.range->length)
        p.range_header = "bytes=" + std::to_string(p.range->offset) + "-";
      else
        p.range_header = "bytes=" + std::to_string(p.range->offset) + "-" +
                         std::to_string(p.range->offset + *p.range->length - 1);
    }
    return p;
  }

  // Runs `requests` random requests from `clients` threads, each with its
  // own connection; returns the number of wrong answers (details as failures).
  int run_clients(int clients, int requests, uint64_t seed) {
    std::atomic<int> wrong{0}, done{0};
    std::vector<std::thread> threads;
    std::vector<std::vector<planned>> plans(clients);
    std::mt19937_64 rng(seed);
    for (int i = 0; i < requests; ++i) plans[i % clients].push_back(plan(rng));
    std::mutex mu;
    std::vector<std::string> problems;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        try {
          blocking_client client(http_->port());
          for (const auto& p : plans[c]) {
            std::vector<std::pair<std::string, std::string>> headers;
            if (!p.range_header.empty()) headers.emplace_back("range", p.range_header);
            auto got = client.get("/data/" + p.key, headers);
            auto want = expect(p.key, p.range);
            const bool body_ok = want.status >= 300 || got.body == want.body;
            if (got.status != want.status || !body_ok || got.content_range != want.content_range) {
              ++wrong;
              std::lock_guard lk(mu);
              problems.push_back("GET /data/" + p.key + " range '" + p.range_header + "': status " +
                                 std::to_string(got.status) + " (want " + std::to_string(want.status) +
                                 "), body " + std::to_string(got.body.size()) + " bytes" +
                                 (body_ok ? "" : " WRONG") + ", content-range '" + got.content_range +
                                 "' (want '" + want.content_range + "')" +
                                 (got.status >= 300 ? ": " + got.body.substr(0, 300) : ""));
            }
            ++done;
          }
        } catch (const std::exception& e) {
          ++wrong;
          std::lock_guard lk(mu);
          problems.push_back(std::string("client failed: ") + e.what());
        }
      });
    }
    for (auto& t : threads) t.join();
    for (std::size_t i = 0; i < problems.size() && i < 20; ++i) ADD_FAILURE() << problems[i];
    EXPECT_EQ(done.load(), requests);
    return wrong.load();
  }

  std::string exceptions_seen() {
    std::lock_guard lk(http_->mu);
    std::string all;
    for (const auto& m : http_->exception_messages) all += m + "; ";
    return all;
  }

  std::unique_ptr<s3rver_process> server_;
  engine eng_{engine::options{2}};
  std::shared_ptr<transfer::scheduler> sched_;
  std::string bucket_;
  std::shared_ptr<store::store> store_;
  std::map<std::string, std::vector<std::byte>> objects_;

  std::unique_ptr<fault_proxy> stalled_proxy_;
  std::unique_ptr<engine> stalled_eng_;
  std::shared_ptr<transfer::scheduler> stalled_sched_;
  std::shared_ptr<store::store> stalled_store_;

  std::unique_ptr<range_server> http_;
};

// ---- a. bytes ---------------------------------------------------------------------------------------

TEST_F(StoreServer, concurrent_clients_get_the_right_bytes_whole_and_ranged) {
  start_server();
  EXPECT_EQ(run_clients(32, 500, 20240601), 0);
  EXPECT_EQ(http_->reads_started.load(), 500);
  EXPECT_EQ(http_->reads_completed.load(), 500);
  EXPECT_EQ(http_->read_exceptions.load(), 0) << exceptions_seen();
  // b. every read resumed on the server's own thread and executor.
  EXPECT_EQ(http_->off_server_thread.load(), 0);
  EXPECT_EQ(http_->off_executor.load(), 0);
  // Every slice was written out and dropped: the budget is whole again.
  EXPECT_TRUE(eventually([&] { return sched_->pool().reserved() == 0; })) << sched_->pool().reserved();
}

// ---- b. where the work runs ---------------------------------------------------------------------------

TEST_F(StoreServer, store_work_runs_on_engine_threads_and_resumes_on_the_callers) {
  start_server();
  const auto engine_ids = engine_threads(eng_);
  ASSERT_EQ(engine_ids.size(), 2u);
  ASSERT_FALSE(engine_ids.count(http_->thread_id()));

  // A listing from a coroutine of the server's: the page callback runs where
  // the store's work does (an engine thread); the coroutine resumes on the
  // server's thread and executor.
  std::vector<std::thread::id> page_threads;
  std::size_t listed = 0;
  std::thread::id resumed_on;
  bool same_executor = false;
  store::list_callback on_page = [&](store::list_page& p) -> result<bool> {
    page_threads.push_back(std::this_thread::get_id());
    listed += p.entries.size();
    return true;
  };
  auto lister = [&]() -> asio::awaitable<result<void>> {
    auto r = co_await store_->list("", store::list_all, on_page);
    resumed_on = std::this_thread::get_id();
    const asio::any_io_executor ex = co_await asio::this_coro::executor;
    same_executor = ex == asio::any_io_executor(http_->executor());
    co_return r;
  };
  auto listed_ok = asio::co_spawn(http_->executor(), lister, asio::use_future).get();
  ASSERT_TRUE(listed_ok) << listed_ok.error().describe();
  EXPECT_EQ(listed, objects_.size());
  ASSERT_FALSE(page_threads.empty());
  for (auto id : page_threads)
    EXPECT_TRUE(engine_ids.count(id)) << "a listing page was delivered off the engine";
  EXPECT_EQ(resumed_on, http_->thread_id());
  EXPECT_TRUE(same_executor);

  // A 12 MiB read while the server's only thread is blocked: its bytes must
  // still arrive (the I/O is the engine's), and the answer is right once the
  // server thread is free again.
  const auto before = sched_->http_stats();
  std::promise<http_reply> large;
  std::thread client([&] {
    blocking_client c(http_->port());
    large.set_value(c.get("/data/obj-" + std::to_string(12 * MiB)));
  });
  if (!eventually([&] { return http_->reads_started.load() == 1; })) {
    client.join();
    FAIL() << "the server never started the read";
  }
  std::promise<bool> progressed;
  asio::post(http_->executor(), [&] {
    // The server thread, blocked here until the read's bytes have arrived.
    const bool ok = eventually(
        [&] {
          const auto now = sched_->http_stats();
          return now.body_bytes_direct + now.body_bytes_copied >=
                 before.body_bytes_direct + before.body_bytes_copied + 12 * MiB;
        },
        30s);
    progressed.set_value(ok && std::this_thread::get_id() == http_->thread_id());
  });
  EXPECT_TRUE(progressed.get_future().get())
      << "the read made no progress while the server thread was blocked";
  auto got = large.get_future().get();
  client.join();
  EXPECT_EQ(got.status, 200);
  EXPECT_TRUE(
      got.body.size() == 12 * MiB &&
      std::memcmp(got.body.data(), objects_["obj-" + std::to_string(12 * MiB)].data(), got.body.size()) == 0);
  EXPECT_EQ(http_->off_server_thread.load(), 0);
  EXPECT_EQ(http_->off_executor.load(), 0);
}

// ---- c. cancellation ----------------------------------------------------------------------------------

// Sends GET target with the cancellation headers on a connection of its own.
std::thread request_in_background(uint16_t port, std::string target, std::string cancel_after_ms,
                                  std::string style, std::promise<http_reply>& out) {
  return std::thread([=, &out] {
    try {
      blocking_client c(port);
      out.set_value(c.get(target, {{"x-cancel-after-ms", cancel_after_ms}, {"x-cancel-style", style}}));
    } catch (...) {
      out.set_exception(std::current_exception());
    }
  });
}

TEST_F(StoreServer, a_stalled_read_does_not_hold_up_the_server_and_cancelling_it_ends_just_that_read) {
  // Every request to the stalled store's server waits forever for an answer.
  add_stalled_store({{"", scripted_reply::then::stall}});
  start_server();

  // Two stalled reads, one cancelled through a bound signal, one raced
  // against a timer, both after 8 s (longer under sanitizers: time_scale()).
  const std::chrono::milliseconds stall = 8000ms * time_scale();
  const std::string stall_ms = std::to_string(stall.count());
  std::promise<http_reply> by_signal, by_race;
  auto signalled_f = by_signal.get_future();
  auto raced_f = by_race.get_future();
  auto t1 = request_in_background(http_->port(), "/stalled/key", stall_ms, "signal", by_signal);
  auto t2 = request_in_background(http_->port(), "/stalled/key", stall_ms, "race", by_race);
  ASSERT_TRUE(eventually([&] { return http_->reads_started.load() == 2; }));
  const auto deadline = std::chrono::steady_clock::now() + stall;

  // Meanwhile the same server thread answers others.
  EXPECT_EQ(run_clients(4, 24, 7), 0);
  EXPECT_EQ(signalled_f.wait_for(0s), std::future_status::timeout)
      << "the other requests took longer than the stalled reads' " << stall_ms
      << " ms: the overlap this test is about did not happen";

  auto signalled = signalled_f.get();
  auto raced = raced_f.get();
  t1.join();
  t2.join();
  const auto took = std::chrono::steady_clock::now() - deadline;
  EXPECT_LT(took, 10s) << "the cancelled reads ended long after their deadline";
  EXPECT_EQ(signalled.status, 503) << signalled.body;
  EXPECT_EQ(signalled.outcome, "cancelled") << signalled.body;
  EXPECT_EQ(raced.status, 504) << raced.body;
  EXPECT_EQ(raced.outcome, "timer") << raced.body;
  EXPECT_EQ(http_->cancelled_reads.load(), 1);
  EXPECT_EQ(http_->timer_won.load(), 1);
  EXPECT_EQ(http_->read_exceptions.load(), 0) << exceptions_seen();
  EXPECT_EQ(http_->off_server_thread.load(), 0);
  EXPECT_EQ(http_->off_executor.load(), 0);

  // The reads' memory went back, and the server keeps serving.
  EXPECT_TRUE(eventually([&] { return stalled_sched_->pool().reserved() == 0; }))
      << stalled_sched_->pool().reserved();
  EXPECT_EQ(run_clients(4, 20, 8), 0);
  EXPECT_TRUE(eventually([&] { return sched_->pool().reserved() == 0; })) << sched_->pool().reserved();
}

TEST_F(StoreServer, cancelling_a_read_whose_parts_are_in_flight_ends_it_cancelled) {
  // The first GET (1 MiB of a 12 MiB object) is answered; every part GET
  // after it stalls, so the read sits in its parts stage when cancelled.
  const std::size_t size = 12 * MiB;
  const std::string first(MiB, 'x');
  add_stalled_store(
      {{http_answer(206, "Partial Content", first, std::nullopt,
                    {{"Content-Range", "bytes 0-" + std::to_string(MiB - 1) + "/" + std::to_string(size)},
                     {"ETag", "\"0123456789abcdef0123456789abcdef\""}}),
        scripted_reply::then::keep_open},
       {"", scripted_reply::then::stall}});
  start_server();

  std::promise<http_reply> by_signal;
  auto t = request_in_background(http_->port(), "/stalled/big", "500", "signal", by_signal);
  // The parts are requested (the proxy saw the first GET and at least one part).
  ASSERT_TRUE(eventually([&] { return stalled_proxy_->get_requests() >= 2; }));
  auto got = by_signal.get_future().get();
  t.join();
  EXPECT_EQ(got.status, 503) << got.body;
  EXPECT_EQ(got.outcome, "cancelled") << "the read did not end with condition::cancelled: " << got.body;
  const bool threw = http_->read_exceptions.load() > 0;
  EXPECT_FALSE(threw) << "the cancelled read threw instead of returning errc::cancelled: "
                      << exceptions_seen();
  if (threw) {
    // What the exception left behind: the part requests (none answered) are
    // still in flight on the engine, reading into the read's buffer, whose
    // reservation the unwinding has already handed back to the pool.
    ADD_FAILURE()
        << stalled_proxy_->get_requests() - 1
        << " part GETs are still in flight after the read has ended, into a buffer already "
           "returned to the pool (reserved() = "
        << stalled_sched_->pool().reserved()
        << ") and into the read's freed frame: engine/include/sluice/engine/runtime/concurrently.hpp "
           "spawn_and_join neither cancels its workers nor waits for them once it is cancelled";
    quarantine_stalled_store();
  } else {
    // The 12 MiB buffer goes back once the cancelled parts have stopped.
    EXPECT_TRUE(eventually([&] { return stalled_sched_->pool().reserved() == 0; }))
        << stalled_sched_->pool().reserved();
  }
  // The server keeps serving.
  EXPECT_EQ(run_clients(4, 20, 9), 0);
}

TEST_F(StoreServer, cancelling_large_reads_at_random_moments_spares_the_others) {
  start_server();
  // 24 reads of the 12 MiB object cancelled after 0..240 ms (half by
  // signal, half raced against a timer) while 200 other requests run: some
  // before their first request, some during it or during the parts, some
  // too late to stop them.
  const std::string large = "/data/obj-" + std::to_string(12 * MiB);
  std::vector<std::promise<http_reply>> outs(24);
  std::vector<std::thread> cancelled;
  for (int i = 0; i < 24; ++i)
    cancelled.push_back(request_in_background(http_->port(), large, std::to_string((i * 47) % 241),
                                              i % 2 ? "race" : "signal", outs[i]));
  EXPECT_EQ(run_clients(16, 200, 11), 0);
  int values = 0, cancels = 0, timers = 0;
  for (int i = 0; i < 24; ++i) {
    auto got = outs[i].get_future().get();
    if (got.outcome == "value") {
      ++values;
      EXPECT_EQ(got.body.size(), 12 * MiB);
    } else if (got.outcome == "cancelled") {
      ++cancels;
      EXPECT_EQ(got.status, 503);
    } else if (got.outcome == "timer") {
      ++timers;
      EXPECT_EQ(got.status, 504);
    } else {
      ADD_FAILURE() << "request " << i << ": status " << got.status << ", outcome '" << got.outcome
                    << "': " << got.body;
    }
  }
  for (auto& t : cancelled) t.join();
  EXPECT_EQ(http_->read_exceptions.load(), 0) << exceptions_seen();
  EXPECT_GT(cancels + timers, 0) << "no read was cancelled at all";
  EXPECT_TRUE(eventually([&] { return sched_->pool().reserved() == 0; })) << sched_->pool().reserved();
  EXPECT_EQ(run_clients(4, 20, 12), 0);
  RecordProperty("read_won", values);
  RecordProperty("cancelled", cancels);
  RecordProperty("timer_won", timers);
}

}  // namespace
