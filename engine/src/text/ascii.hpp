// ASCII helpers for the parsers of request-line parts (s3/uri.cpp,
// http/endpoint.cpp). Private to sluice_engine_core.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::text {

constexpr char hex_upper[] = "0123456789ABCDEF";
// Longest input quoted verbatim in an error message; longer ones are cut so a
// pasted megabyte does not end up in a one-line report.
constexpr std::size_t max_quoted = 200;

inline bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
inline bool is_lower_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || is_digit(c);
}
inline bool is_alnum(char c) noexcept {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}
inline char to_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

inline bool iequals_prefix(std::string_view s, std::string_view lower_prefix) noexcept {
  if (s.size() < lower_prefix.size()) return false;
  for (std::size_t i = 0; i < lower_prefix.size(); ++i) {
    if (to_lower(s[i]) != lower_prefix[i]) return false;
  }
  return true;
}

// "input" in double quotes, with control and non-ASCII bytes shown as \xNN and
// quotes/backslashes escaped, so any input yields a readable one-line message.
inline std::string quoted(std::string_view s) {
  std::string out = "\"";
  const std::size_t n = s.size() < max_quoted ? s.size() : max_quoted;
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += hex_upper[c >> 4];
      out += hex_upper[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (n < s.size()) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

}  // namespace sluice::text
