// XXH3-64 over object data, and how sluice records it on objects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sluice::integrity {

// The user-metadata key (sent as x-amz-meta-sluice-xxh3) that holds an
// object's hash as 16 lowercase hex digits.
inline constexpr std::string_view metadata_key = "sluice-xxh3";

uint64_t xxh3(std::span<const std::byte> data) noexcept;
inline uint64_t xxh3(std::string_view s) noexcept {
  return xxh3(std::span<const std::byte>(reinterpret_cast<const std::byte*>(s.data()), s.size()));
}
std::string to_hex(uint64_t h);
std::optional<uint64_t> from_hex(std::string_view s);

// Streaming XXH3-64 for data that arrives in pieces. Move-only.
class xxh3_stream {
 public:
  xxh3_stream();
  ~xxh3_stream();
  xxh3_stream(xxh3_stream&&) noexcept;
  xxh3_stream& operator=(xxh3_stream&&) noexcept;
  void reset() noexcept;
  void update(std::span<const std::byte> data) noexcept;
  uint64_t digest() const noexcept;

 private:
  struct state;
  std::unique_ptr<state, void (*)(state*)> state_;
};

}  // namespace sluice::integrity
