// Exponential backoff with full jitter (the "Full Jitter" scheme): the delay
// before try n+1 is uniform in [0, min(max_delay, base_delay * 2^(n-1))].
#include <sluice/engine/s3/retry.hpp>

#include <sluice/engine/s3/error.hpp>

#include <algorithm>

namespace sluice::s3 {

retry_state::retry_state(const retry_policy& policy, uint64_t seed) : policy_(policy), seed_(seed) {}

uint64_t retry_state::fresh_seed() noexcept {
  // splitmix64 over a per-thread state seeded once from the OS.
  thread_local uint64_t state = [] {
    std::random_device rd;
    return (uint64_t(rd()) << 32) ^ rd();
  }();
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::chrono::milliseconds retry_state::ceiling(int attempt) const {
  const int64_t base = std::max<int64_t>(0, policy_.base_delay.count());
  const int64_t cap = std::max<int64_t>(0, policy_.max_delay.count());
  int64_t value = std::min(base, cap);
  // Double until the cap; the loop stops long before int64 could overflow.
  for (int i = 1; i < attempt && value > 0 && value < cap; ++i) value = std::min(cap, value * 2);
  return std::chrono::milliseconds(value);
}

std::optional<std::chrono::milliseconds> retry_state::next_delay(const error& e, int attempt,
                                                                 std::chrono::milliseconds elapsed) {
  if (!is_retryable(e)) return std::nullopt;
  if (attempt >= std::max(1, policy_.max_attempts)) return std::nullopt;
  const int64_t top = ceiling(std::max(1, attempt)).count();
  std::uniform_int_distribution<int64_t> jitter(0, top);
  if (!rng_) rng_ = std::make_unique<std::mt19937_64>(seed_);
  const std::chrono::milliseconds delay(jitter(*rng_));
  if (elapsed + delay >= policy_.overall_deadline) return std::nullopt;
  return delay;
}

}  // namespace sluice::s3
