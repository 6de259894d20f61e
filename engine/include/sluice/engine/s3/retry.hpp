// When to try again and how long to wait: exponential backoff with full
// jitter (sleep = uniform(0, min(cap, base * 2^attempt))), a bounded attempt
// count and an overall deadline. Backoff lives here and nowhere else.
#pragma once

#include <sluice/engine/runtime/result.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>

namespace sluice::s3 {

struct retry_policy {
  int max_attempts = 5;                                 // total tries, >= 1
  std::chrono::milliseconds base_delay{50};             // first backoff ceiling
  std::chrono::milliseconds max_delay{5000};            // cap on one backoff
  std::chrono::milliseconds overall_deadline{120'000};  // from the first try
};

// Decides, after a failed attempt, whether and when to retry. One instance per
// logical request; not thread-safe.
class retry_state {
 public:
  // The seed defaults to fresh_seed(): cheap, different per request. (A
  // std::random_device per request cost a fifth of the CPU of small GETs.)
  explicit retry_state(const retry_policy& policy, uint64_t seed = fresh_seed());

  // A new seed from a per-thread generator, itself seeded once per thread.
  static uint64_t fresh_seed() noexcept;

  // `attempt` counts finished tries (1 after the first failure). Returns the
  // delay before the next try, or nullopt when the error is not retryable, the
  // attempts are spent, or the delay would pass the overall deadline.
  // `elapsed` is the time since the first try started.
  std::optional<std::chrono::milliseconds> next_delay(const error& e, int attempt,
                                                      std::chrono::milliseconds elapsed);

  // The backoff ceiling for a given attempt: min(max_delay, base_delay * 2^(attempt-1)).
  std::chrono::milliseconds ceiling(int attempt) const;

 private:
  retry_policy policy_;
  uint64_t seed_;
  // Made on the first retry: most requests never need it. Held by pointer:
  // the engine is 2.5 KB and a retry_state lives in the coroutine frame of
  // every request in flight.
  std::unique_ptr<std::mt19937_64> rng_;
};

}  // namespace sluice::s3
