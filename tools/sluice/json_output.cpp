#include "json_output.hpp"

#include <boost/json/serialize.hpp>

#include <array>
#include <cstdint>
#include <iostream>
#include <utility>

namespace sluice::cli {

namespace {
bool printed = false;
}  // namespace

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const auto cont = [&](std::size_t k) { return i + k < s.size() && (b(k) & 0xc0) == 0x80; };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xe0 && b(1) < 0xa0) return 0;  // overlong
    if (c == 0xed && b(1) > 0x9f) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xf0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xf4 && b(1) > 0x8f) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

std::string valid_utf8(std::string_view text, bool* replaced) {
  std::string out;
  out.reserve(text.size());
  bool any = false;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_sequence_length(text, i);
    if (n == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD
      any = true;
      ++i;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  if (replaced) *replaced = any;
  return out;
}

void put_text(boost::json::object& o, std::string_view name, std::string_view text) {
  bool replaced = false;
  o[name] = valid_utf8(text, &replaced);
  if (!replaced) return;
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(text.size() * 2);
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    hex += digits[c >> 4];
    hex += digits[c & 15];
  }
  o[std::string(name) + "_hex"] = hex;
}

void print_json(const boost::json::value& v) {
  std::cout << boost::json::serialize(v) << "\n" << std::flush;
  printed = true;
}

bool json_printed() noexcept {
  return printed;
}

boost::json::object error_json(const error& e, std::string_view context, int exit_status) {
  static constexpr std::array<std::pair<condition, const char*>, 9> names{{
      {condition::not_found, "not_found"},
      {condition::precondition_failed, "precondition_failed"},
      {condition::unsupported, "unsupported"},
      {condition::cancelled, "cancelled"},
      {condition::timeout, "timeout"},
      {condition::integrity, "integrity"},
      {condition::permission_denied, "permission_denied"},
      {condition::no_space, "no_space"},
      {condition::invalid_argument, "invalid_argument"},
  }};
  const char* code = exit_status == 2 ? "usage" : "error";
  for (const auto& [c, name] : names)
    if (e.code == c) {
      code = name;
      break;
    }
  boost::json::object inner;
  put_text(inner, "message", e.message.empty() ? e.describe() : e.message);
  inner["code"] = code;
  inner["category"] = e.code.category().name();
  inner["value"] = e.code.value();
  put_text(inner, "context", context);
  inner["exit_status"] = exit_status;
  if (e.http_status != 0) inner["http_status"] = e.http_status;
  if (!e.request_id.empty()) put_text(inner, "request_id", e.request_id);
  return boost::json::object{{"error", std::move(inner)}};
}

}  // namespace sluice::cli
