// Backoff with full jitter: bounds, growth, attempts, deadline, determinism.
#include <sluice/engine/s3/error.hpp>
#include <sluice/engine/s3/retry.hpp>

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace {

namespace s3 = sluice::s3;
using std::chrono::milliseconds;

const sluice::error throttled(s3::errc::slow_down, "slow down");

s3::retry_policy policy(int attempts, int base_ms, int cap_ms, int deadline_ms) {
  s3::retry_policy p;
  p.max_attempts = attempts;
  p.base_delay = milliseconds(base_ms);
  p.max_delay = milliseconds(cap_ms);
  p.overall_deadline = milliseconds(deadline_ms);
  return p;
}

TEST(Retry, ceiling_doubles_from_base_and_stops_at_the_cap) {
  s3::retry_state r(policy(100, 50, 5000, 1'000'000));
  EXPECT_EQ(r.ceiling(1), milliseconds(50));
  EXPECT_EQ(r.ceiling(2), milliseconds(100));
  EXPECT_EQ(r.ceiling(3), milliseconds(200));
  EXPECT_EQ(r.ceiling(7), milliseconds(3200));
  EXPECT_EQ(r.ceiling(8), milliseconds(5000));
  EXPECT_EQ(r.ceiling(64), milliseconds(5000));
  EXPECT_EQ(r.ceiling(1'000'000), milliseconds(5000));  // no overflow for huge attempts
}

TEST(Retry, ceiling_never_exceeds_a_cap_below_base) {
  s3::retry_state r(policy(5, 500, 100, 1'000'000));
  EXPECT_EQ(r.ceiling(1), milliseconds(100));
  EXPECT_EQ(r.ceiling(4), milliseconds(100));
}

TEST(Retry, delays_are_within_zero_and_the_ceiling_and_spread_out) {
  s3::retry_state r(policy(1000, 50, 400, 100'000'000), 42);
  for (int attempt = 1; attempt < 6; ++attempt) {
    std::set<int64_t> seen;
    for (int i = 0; i < 400; ++i) {
      auto d = r.next_delay(throttled, attempt, milliseconds(0));
      ASSERT_TRUE(d.has_value());
      ASSERT_GE(d->count(), 0);
      ASSERT_LE(*d, r.ceiling(attempt)) << "attempt " << attempt;
      seen.insert(d->count());
    }
    // Full jitter: values across the whole interval, not a fixed backoff.
    EXPECT_GT(seen.size(), 20u) << "attempt " << attempt;
    EXPECT_LT(*seen.begin(), r.ceiling(attempt).count() / 4);
    EXPECT_GT(*seen.rbegin(), r.ceiling(attempt).count() * 3 / 4);
  }
}

TEST(Retry, same_seed_same_delays_other_seed_other_delays) {
  auto run = [](uint64_t seed) {
    s3::retry_state r(policy(100, 1000, 60'000, 100'000'000), seed);
    std::vector<int64_t> out;
    for (int attempt = 1; attempt < 20; ++attempt)
      out.push_back(r.next_delay(throttled, attempt, milliseconds(0))->count());
    return out;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

TEST(Retry, attempts_are_bounded) {
  s3::retry_state r(policy(3, 10, 100, 1'000'000));
  EXPECT_TRUE(r.next_delay(throttled, 1, milliseconds(0)).has_value());
  EXPECT_TRUE(r.next_delay(throttled, 2, milliseconds(0)).has_value());
  EXPECT_FALSE(r.next_delay(throttled, 3, milliseconds(0)).has_value());
  EXPECT_FALSE(r.next_delay(throttled, 4, milliseconds(0)).has_value());

  s3::retry_state once(policy(1, 10, 100, 1'000'000));
  EXPECT_FALSE(once.next_delay(throttled, 1, milliseconds(0)).has_value());
}

TEST(Retry, a_delay_that_would_reach_the_deadline_is_refused) {
  s3::retry_state r(policy(100, 1000, 1000, 10'000), 1);
  EXPECT_FALSE(r.next_delay(throttled, 1, milliseconds(10'000)).has_value());
  EXPECT_FALSE(r.next_delay(throttled, 1, milliseconds(20'000)).has_value());
  // With 8.5 s elapsed and a 1 s ceiling every delay fits; with 9.999 s only a delay of 0 does.
  int refused = 0;
  for (int i = 0; i < 200; ++i) {
    auto d = r.next_delay(throttled, 1, milliseconds(8'500));
    ASSERT_TRUE(d.has_value());
    EXPECT_LT(milliseconds(8'500) + *d, milliseconds(10'000));
    auto late = r.next_delay(throttled, 1, milliseconds(9'999));
    if (late) {
      EXPECT_EQ(*late, milliseconds(0));
    } else {
      ++refused;
    }
  }
  EXPECT_GT(refused, 150);
}

TEST(Retry, non_retryable_errors_stop_at_once) {
  s3::retry_state r(policy(10, 10, 100, 1'000'000));
  EXPECT_FALSE(r.next_delay(sluice::error(s3::errc::no_such_key, "x"), 1, milliseconds(0)).has_value());
  EXPECT_FALSE(r.next_delay(sluice::error(s3::errc::access_denied, "x"), 1, milliseconds(0)).has_value());
  EXPECT_FALSE(
      r.next_delay(sluice::error(sluice::errc::tls_verification, "x"), 1, milliseconds(0)).has_value());
  EXPECT_FALSE(r.next_delay(sluice::error(sluice::errc::cancelled, "x"), 1, milliseconds(0)).has_value());
}

TEST(Retry, transport_and_server_errors_are_retried) {
  s3::retry_state r(policy(10, 10, 100, 1'000'000));
  EXPECT_TRUE(r.next_delay(sluice::error(sluice::errc::timeout, "x"), 1, milliseconds(0)).has_value());
  EXPECT_TRUE(
      r.next_delay(sluice::error(sluice::errc::connection_failed, "x"), 1, milliseconds(0)).has_value());
  EXPECT_TRUE(r.next_delay(sluice::error(s3::errc::internal_error, "x"), 1, milliseconds(0)).has_value());
  sluice::error gateway(s3::errc::other, "bad gateway");
  gateway.http_status = 502;
  EXPECT_TRUE(r.next_delay(gateway, 1, milliseconds(0)).has_value());
}

TEST(Retry, zero_base_delay_retries_immediately) {
  s3::retry_state r(policy(5, 0, 1000, 1'000'000));
  EXPECT_EQ(r.ceiling(4), milliseconds(0));
  EXPECT_EQ(r.next_delay(throttled, 4, milliseconds(0)), milliseconds(0));
}

}  // namespace
