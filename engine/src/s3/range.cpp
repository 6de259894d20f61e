// Range and Content-Range headers (RFC 9110 sections 14.1.2 and 14.4).
#include <sluice/engine/s3/range.hpp>

#include <charconv>

namespace sluice::s3 {
namespace {

error malformed(std::string_view value, std::string_view why) {
  return error(sluice::errc::malformed_response,
               "malformed Content-Range '" + std::string(value.substr(0, 100)) + "': " + std::string(why));
}

// Digits only (no sign, no spaces), fitting in 64 bits.
std::optional<uint64_t> parse_u64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value, 10);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

result<std::string> format_range(const byte_range& r) {
  if (r.suffix) {
    if (*r.suffix == 0) return error(sluice::errc::invalid_argument, "range suffix of 0 bytes");
    return "bytes=-" + std::to_string(*r.suffix);
  }
  if (r.last) {
    if (*r.last < r.first) {
      return error(sluice::errc::invalid_argument,
                   "range end " + std::to_string(*r.last) + " before its start " + std::to_string(r.first));
    }
    return "bytes=" + std::to_string(r.first) + "-" + std::to_string(*r.last);
  }
  return "bytes=" + std::to_string(r.first) + "-";
}

result<content_range> parse_content_range(std::string_view value) {
  // Header values arrive with optional whitespace around them; inside, the
  // grammar has exactly one space: "bytes" SP ( first "-" last / "*" ) "/" ( total / "*" ).
  std::string_view v = trim_ows(value);
  auto space = v.find(' ');
  if (space == std::string_view::npos || !iequals(v.substr(0, space), "bytes")) {
    return malformed(value, "expected the unit 'bytes'");
  }
  v.remove_prefix(space + 1);
  auto slash = v.find('/');
  if (slash == std::string_view::npos) return malformed(value, "missing '/'");
  std::string_view range = v.substr(0, slash);
  std::string_view total = v.substr(slash + 1);

  content_range out;
  if (total != "*") {
    out.total = parse_u64(total);
    if (!out.total) return malformed(value, "complete length is not a 64-bit number");
  }
  if (range == "*") {
    if (!out.total) return malformed(value, "neither a range nor a complete length");
    return out;
  }
  auto dash = range.find('-');
  if (dash == std::string_view::npos) return malformed(value, "range without '-'");
  out.first = parse_u64(range.substr(0, dash));
  out.last = parse_u64(range.substr(dash + 1));
  if (!out.first || !out.last) return malformed(value, "range bounds are not 64-bit numbers");
  if (*out.last < *out.first) return malformed(value, "range end before its start");
  if (out.total && *out.last >= *out.total) return malformed(value, "range end past the complete length");
  return out;
}

}  // namespace sluice::s3
