// Encoding and validation of request-line parts: percent-encoding,
// bucket names, object keys and s3:// URLs. Pure functions, no allocation
// beyond the returned strings.
#include <sluice/engine/s3/uri.hpp>

#include "text/ascii.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::s3 {
namespace {

using namespace text;

bool is_unreserved(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

error invalid(std::string msg) {
  return error(errc::invalid_argument, std::move(msg));
}

// Four dot-separated groups of digits: what S3 calls "formatted as an IP address".
bool looks_like_ipv4(std::string_view s) noexcept {
  int groups = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = s.find('.', start);
    const std::string_view group = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (group.empty()) return false;
    for (char c : group) {
      if (!is_digit(c)) return false;
    }
    ++groups;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return groups == 4;
}

// Length in bytes of the valid UTF-8 sequence at s[i], or 0 when the bytes
// there are not one (overlong forms, surrogates and code points above
// U+10FFFF are invalid).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    if (b0 == 0xe0) lo = 0xa0;  // overlong
    if (b0 == 0xed) hi = 0x9f;  // U+D800..U+DFFF surrogates
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    if (b0 == 0xf0) lo = 0x90;  // overlong
    if (b0 == 0xf4) hi = 0x8f;  // above U+10FFFF
  } else {
    return 0;  // continuation byte, 0xc0/0xc1 (overlong) or 0xf5..0xff
  }
  if (i + len > s.size()) return 0;
  const auto b1 = static_cast<unsigned char>(s[i + 1]);
  if (b1 < lo || b1 > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < 0x80 || b > 0xbf) return 0;
  }
  return len;
}

}  // namespace

std::string uri_encode(std::string_view s, bool keep_slash) {
  std::string out;
  out.reserve(s.size() + s.size() / 2);
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += hex_upper[c >> 4];
      out += hex_upper[c & 0xf];
    }
  }
  return out;
}

result<std::string> uri_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    const int hi = i + 1 < s.size() ? hex_value(s[i + 1]) : -1;
    const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return invalid("malformed percent-encoding at byte " + std::to_string(i) + " of " + quoted(s) +
                     ": '%' must be followed by two hex digits");
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

result<void> validate_bucket_name(std::string_view bucket) {
  const auto bad = [&](std::string_view why) {
    return invalid("invalid bucket name " + quoted(bucket) + ": " + std::string(why));
  };
  if (bucket.size() < 3 || bucket.size() > 63) {
    return bad("it must be 3 to 63 characters long, not " + std::to_string(bucket.size()));
  }
  for (char c : bucket) {
    if (!is_lower_alnum(c) && c != '.' && c != '-') {
      return bad("it may contain only lowercase letters, digits, '.' and '-', not " +
                 quoted(std::string_view(&c, 1)));
    }
  }
  if (!is_lower_alnum(bucket.front())) return bad("it must start with a lowercase letter or a digit");
  if (!is_lower_alnum(bucket.back())) return bad("it must end with a lowercase letter or a digit");
  if (bucket.find("..") != std::string_view::npos) return bad("it must not contain \"..\"");
  if (looks_like_ipv4(bucket)) return bad("it must not be formatted as an IPv4 address");
  if (bucket.starts_with("xn--")) return bad("it must not start with \"xn--\"");
  if (bucket.ends_with("-s3alias")) return bad("it must not end with \"-s3alias\"");
  return {};
}

result<void> validate_key(std::string_view key) {
  if (key.empty()) return invalid("invalid object key \"\": a key must not be empty");
  if (key.size() > 1024) {
    return invalid("invalid object key " + quoted(key) + ": it is " + std::to_string(key.size()) +
                   " bytes long, the limit is 1024");
  }
  for (std::size_t i = 0; i < key.size();) {
    if (key[i] == '\0') {
      return invalid("invalid object key " + quoted(key) + ": it contains a NUL byte at byte " +
                     std::to_string(i));
    }
    const std::size_t len = utf8_sequence_length(key, i);
    if (len == 0) {
      return invalid("invalid object key " + quoted(key) + ": it is not valid UTF-8 at byte " +
                     std::to_string(i));
    }
    i += len;
  }
  return {};
}

bool is_s3_url(std::string_view s) noexcept {
  return iequals_prefix(s, "s3://");
}

result<s3_url> parse_s3_url(std::string_view url) {
  if (!is_s3_url(url)) return invalid("invalid S3 URL " + quoted(url) + ": it must start with s3://");
  const std::string_view rest = url.substr(5);
  const std::size_t slash = rest.find('/');
  const std::string_view bucket = rest.substr(0, slash);
  if (bucket.empty()) return invalid("invalid S3 URL " + quoted(url) + ": the bucket name is empty");
  if (auto ok = validate_bucket_name(bucket); !ok) {
    return invalid("invalid S3 URL " + quoted(url) + ": " + ok.error().message);
  }
  s3_url out;
  out.bucket = std::string(bucket);
  if (slash != std::string_view::npos) {
    out.key = std::string(rest.substr(slash + 1));
    if (!out.key.empty()) {
      if (auto ok = validate_key(out.key); !ok) {
        return invalid("invalid S3 URL " + quoted(url) + ": " + ok.error().message);
      }
    }
  }
  return out;
}

std::string object_url(std::string_view bucket, std::string_view key) {
  std::string s = "s3://" + std::string(bucket);
  if (!key.empty()) s += "/" + std::string(key);
  return s;
}

}  // namespace sluice::s3
