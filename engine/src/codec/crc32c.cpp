// CRC-32C through ISA-L and the crc32c codec.
#include <sluice/engine/codec/crc32c.hpp>

#include "codec/error.hpp"

#include <isa-l/crc.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

namespace sluice::codec {

// ISA-L's crc32_iscsi(buf, len, state) runs the reflected Castagnoli CRC on a raw state without the
// initial and final inversions: CRC-32C = ~crc32_iscsi(data, len, ~0). It takes an int length, so
// larger spans go in pieces, the state carried from one to the next.
std::uint32_t crc32c(std::span<const std::byte> data) noexcept {
  return crc32c_extend(0, data);
}

std::uint32_t crc32c_extend(std::uint32_t crc, std::span<const std::byte> data) noexcept {
  constexpr std::size_t max_piece = std::size_t{1} << 30;
  unsigned int state = ~crc;
  auto* p = const_cast<unsigned char*>(reinterpret_cast<const unsigned char*>(data.data()));  // only read
  for (std::size_t left = data.size(); left > 0;) {
    const std::size_t n = std::min(left, max_piece);
    state = crc32_iscsi(p, static_cast<int>(n), state);
    p += n;
    left -= n;
  }
  return ~state;
}

namespace {

constexpr std::string_view codec_name = "crc32c";
constexpr std::size_t checksum_size = 4;

std::string hex(std::uint32_t v) {
  char buf[11];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

class crc32c_codec final : public bytes_codec {
 public:
  std::string_view name() const noexcept override { return codec_name; }

  std::size_t max_encoded_size(std::size_t decoded) const noexcept override {
    return decoded + checksum_size;
  }

  result<std::size_t> encode(std::span<const std::byte> in, std::span<std::byte> out,
                             std::string_view what) const override {
    if (out.size() < in.size() + checksum_size)
      return detail::output_too_small(codec_name, what, out.size(), max_encoded_size(in.size()));
    const std::uint32_t crc = crc32c(in);
    if (!in.empty()) std::memcpy(out.data(), in.data(), in.size());
    for (std::size_t i = 0; i < checksum_size; ++i)
      out[in.size() + i] = static_cast<std::byte>(crc >> (8 * i));
    return in.size() + checksum_size;
  }

  std::optional<std::size_t> decoded_size(std::span<const std::byte> in, std::string_view) const override {
    if (in.size() < checksum_size) return std::nullopt;
    return in.size() - checksum_size;
  }

  result<std::size_t> decode(std::span<const std::byte> in, std::span<std::byte> out,
                             std::string_view what) const override {
    if (in.size() < checksum_size)
      return detail::codec_error(
          errc::corrupt_data, codec_name, what,
          "truncated: " + std::to_string(in.size()) + " bytes, shorter than the 4-byte checksum");
    const auto payload = in.first(in.size() - checksum_size);
    if (payload.size() != out.size())
      return detail::codec_error(errc::corrupt_data, codec_name, what,
                                 "holds " + std::to_string(payload.size()) +
                                     " bytes before its checksum, expected " + std::to_string(out.size()));
    std::uint32_t stored = 0;
    for (std::size_t i = 0; i < checksum_size; ++i)
      stored |= static_cast<std::uint32_t>(in[payload.size() + i]) << (8 * i);
    const std::uint32_t computed = crc32c(payload);
    if (stored != computed)
      return detail::codec_error(
          errc::integrity_mismatch, codec_name, what,
          "checksum mismatch: stored CRC-32C " + hex(stored) + ", computed " + hex(computed));
    if (!payload.empty() && out.data() != payload.data())
      std::memmove(out.data(), payload.data(), payload.size());
    return payload.size();
  }
};

}  // namespace

std::unique_ptr<bytes_codec> make_crc32c_codec() {
  return std::make_unique<crc32c_codec>();
}

}  // namespace sluice::codec
