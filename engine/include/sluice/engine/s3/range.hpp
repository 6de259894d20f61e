// Byte ranges on the wire: the Range request header and the Content-Range
// answer (RFC 9110 section 14).
#pragma once

#include <sluice/engine/runtime/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::s3 {

// A requested range: [first, last] inclusive, or a suffix of `suffix` bytes,
// or from `first` to the end.
struct byte_range {
  uint64_t first = 0;
  std::optional<uint64_t> last;    // nullopt: to the end of the object
  std::optional<uint64_t> suffix;  // set: the last `suffix` bytes (first/last unused)

  static byte_range between(uint64_t first, uint64_t last) { return {first, last, std::nullopt}; }
  static byte_range from(uint64_t first) { return {first, std::nullopt, std::nullopt}; }
  static byte_range last_bytes(uint64_t n) { return {0, std::nullopt, n}; }
};
// "bytes=0-9", "bytes=100-", "bytes=-500". Fails (invalid_argument) when last < first
// or suffix == 0.
result<std::string> format_range(const byte_range& r);

// "bytes 0-9/1234" -> {0, 9, 1234}; "bytes */1234" (the answer to an
// unsatisfiable range) -> {nullopt range, 1234}; total may be unknown ("/*").
struct content_range {
  std::optional<uint64_t> first;
  std::optional<uint64_t> last;
  std::optional<uint64_t> total;
};
// Strict: malformed_response on anything else (missing unit, last < first,
// last >= total, non-digits, overflow).
result<content_range> parse_content_range(std::string_view value);

}  // namespace sluice::s3
