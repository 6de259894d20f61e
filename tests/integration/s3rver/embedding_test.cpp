// The S3 client on a caller's own io_context (servers that embed sluice),
// and the blocking facade from threads that are not the engine's.
#include "s3_test_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <cstring>
#include <atomic>
#include <thread>

using namespace sluice;
using namespace sluice::testing;
namespace asio = boost::asio;

namespace {

TEST(Embedding, client_runs_on_the_callers_io_context) {
  s3rver_process server;
  asio::io_context ioc;
  s3::client_options o;
  o.config.endpoint_url = server.server().endpoint_url;
  o.config.creds = {server.server().access_key, server.server().secret_key, ""};
  o.config.region = "us-east-1";
  auto made = s3::client::create(ioc.get_executor(), o);
  ASSERT_TRUE(made) << made.error().describe();
  auto client = *made;

  auto data = test_bytes(200000, 3);
  std::optional<result<s3::owned_object>> got;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        auto b = co_await client->create_bucket("embedded");
        if (!b) {
          got = b.error();
          co_return;
        }
        auto p = co_await client->put_object("embedded", "k", as_span(data));
        if (!p) {
          got = p.error();
          co_return;
        }
        got = co_await client->get_object_bytes("embedded", "k");
      },
      asio::detached);
  ioc.run();  // the caller's thread does all the I/O
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(*got) << got->error().describe();
  ASSERT_EQ((*got)->data.size(), data.size());
  EXPECT_EQ(std::memcmp((*got)->data.data(), data.data(), data.size()), 0);
}

TEST(Embedding, blocking_facade_serves_several_caller_threads_at_once) {
  s3rver_process server;
  s3_test_client c(server.server());
  ASSERT_TRUE(c.run(c->create_bucket("facade")));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto data = test_bytes(1000 + t, t);
      std::string key = "t" + std::to_string(t);
      if (!c.run(c->put_object("facade", key, as_span(data)))) return;
      auto got = c.run(c->get_object_bytes("facade", key));
      if (got && got->data.size() == data.size() && std::memcmp(got->data.data(), data.data(), data.size()) == 0)
        ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
}

}  // namespace
