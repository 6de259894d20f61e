// XXH3-64 through libxxhash.
#include <sluice/engine/integrity/xxh3.hpp>

#include <xxhash.h>
#if defined(__x86_64__)
// Debian's libxxhash carries the x86 dispatcher: the widest vector unit the
// CPU has (AVX-512 or AVX2 instead of the SSE2 baseline), chosen once at run time.
#define XXH_DISPATCH_DISABLE_REPLACE 1
#include <xxh_x86dispatch.h>
#define SLUICE_XXH3_ONESHOT XXH3_64bits_dispatch
#define SLUICE_XXH3_UPDATE XXH3_64bits_update_dispatch
#else
#define SLUICE_XXH3_ONESHOT XXH3_64bits
#define SLUICE_XXH3_UPDATE XXH3_64bits_update
#endif

#include <charconv>
#include <new>

namespace sluice::integrity {

struct xxh3_stream::state {
  XXH3_state_t* xxh;
};

uint64_t xxh3(std::span<const std::byte> data) noexcept {
  return SLUICE_XXH3_ONESHOT(data.data(), data.size());
}

std::string to_hex(uint64_t h) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<size_t>(i)] = digits[h & 0xf];
    h >>= 4;
  }
  return out;
}

std::optional<uint64_t> from_hex(std::string_view s) {
  if (s.size() != 16) return std::nullopt;
  for (char c : s) {
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return std::nullopt;
  }
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value, 16);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

// The deleter is a captureless lambda so it may name the private state type.
xxh3_stream::xxh3_stream()
    : state_(nullptr, [](state* s) {
        if (s == nullptr) return;
        XXH3_freeState(s->xxh);
        delete s;
      }) {
  auto s = std::make_unique<state>();
  s->xxh = XXH3_createState();
  if (s->xxh == nullptr) throw std::bad_alloc();
  XXH3_64bits_reset(s->xxh);
  state_.reset(s.release());
}

xxh3_stream::~xxh3_stream() = default;
xxh3_stream::xxh3_stream(xxh3_stream&&) noexcept = default;
xxh3_stream& xxh3_stream::operator=(xxh3_stream&&) noexcept = default;

// A moved-from stream has no state: it hashes nothing and digests as empty input.
void xxh3_stream::reset() noexcept {
  if (state_) XXH3_64bits_reset(state_->xxh);
}

void xxh3_stream::update(std::span<const std::byte> data) noexcept {
  if (state_ && !data.empty()) SLUICE_XXH3_UPDATE(state_->xxh, data.data(), data.size());
}

uint64_t xxh3_stream::digest() const noexcept {
  if (!state_) return XXH3_64bits(nullptr, 0);
  return XXH3_64bits_digest(state_->xxh);
}

}  // namespace sluice::integrity
