// Kept-alive connections the server closed while they sat idle (s3rver, like
// Node's HTTP server, closes them after 5 s; AWS after about 20 s): the next
// requests must not fail. Each stale connection costs at most one resend on a
// fresh connection, and the other idle ones are dropped instead of tried.
#include "s3_test_client.hpp"

#include <sluice/engine/runtime/concurrently.hpp>

#include <thread>

using namespace sluice;
using namespace sluice::testing;

namespace {

TEST(KeepAlive, requests_after_the_server_closed_every_idle_connection_succeed_without_s3_retries) {
  s3rver_process server;
  engine eng(engine::options{1});
  s3::client_options o;
  o.config.endpoint_url = server.server().endpoint_url;
  o.config.region = "us-east-1";
  o.config.creds = {server.server().access_key, server.server().secret_key, ""};
  o.retry.max_attempts = 1;  // no S3-level retry may hide a stale connection
  o.http.max_connections = 8;
  auto made = s3::client::create(eng.executor(), o);
  ASSERT_TRUE(made) << made.error().describe();
  auto& c = **made;
  const std::string bucket = unique_bucket_name("keepalive");
  ASSERT_TRUE(eng.run(c.create_bucket(bucket)));
  auto body = test_bytes(1000, 1);
  ASSERT_TRUE(eng.run(c.put_object(bucket, "k", as_span(body))));

  // Fill the pool: 8 requests at once leave 8 idle connections.
  auto burst = [&]() -> asio::awaitable<unsigned> {
    unsigned failed = 0;
    co_await run_concurrently(8, [&](unsigned) -> asio::awaitable<void> {
      auto r = co_await c.get_object_bytes(bucket, "k");
      if (!r) {
        ++failed;
        ADD_FAILURE() << r.error().describe();
      }
    });
    co_return failed;
  };
  ASSERT_EQ(eng.run(burst()), 0u);
  const auto opened = c.http_stats().connections_opened;
  EXPECT_GE(opened, 2u);

  std::this_thread::sleep_for(std::chrono::milliseconds(6500));  // past s3rver's 5 s keep-alive
  // One request at a time: a resend that took another idle connection would
  // meet a second stale one and fail.
  for (int i = 0; i < 4; ++i) {
    auto r = eng.run(c.get_object_bytes(bucket, "k"));
    EXPECT_TRUE(r) << "request " << i << " after the idle pause: " << r.error().describe();
  }
  EXPECT_EQ(eng.run(burst()), 0u) << "and so do concurrent ones";
  EXPECT_GT(c.http_stats().connections_opened, opened) << "fresh connections replaced the stale ones";
}

}  // namespace
