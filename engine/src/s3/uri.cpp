// Encoding and validation of request-line parts: percent-encoding, endpoints,
// bucket names, object keys and s3:// URLs. Pure functions, no allocation
// beyond the returned strings.
#include <sluice/engine/s3/uri.hpp>

#include <arpa/inet.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::s3 {
namespace {

constexpr char hex_upper[] = "0123456789ABCDEF";
// Longest input quoted verbatim in an error message; longer ones are cut so a
// pasted megabyte does not end up in a one-line report.
constexpr std::size_t max_quoted = 200;

bool is_unreserved(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
bool is_lower_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || is_digit(c);
}
bool is_alnum(char c) noexcept {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}
char to_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool iequals_prefix(std::string_view s, std::string_view lower_prefix) noexcept {
  if (s.size() < lower_prefix.size()) return false;
  for (std::size_t i = 0; i < lower_prefix.size(); ++i) {
    if (to_lower(s[i]) != lower_prefix[i]) return false;
  }
  return true;
}

// "input" in double quotes, with control and non-ASCII bytes shown as \xNN and
// quotes/backslashes escaped, so any input yields a readable one-line message.
std::string quoted(std::string_view s) {
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

bool parse_ip(int family, std::string_view s) {
  unsigned char buf[16];
  const std::string z(s);  // inet_pton needs a terminated string
  return inet_pton(family, z.c_str(), buf) == 1;
}

// A DNS name (labels of letters, digits, '-' and '_', 1-63 chars, not starting
// or ending with '-') or a dotted IPv4 address. Returns an empty string when
// valid, else the reason.
std::string host_problem(std::string_view host) {
  if (host.size() > 253) return "is longer than 253 characters";
  bool all_digits_and_dots = true;
  for (char c : host) {
    if (!is_alnum(c) && c != '-' && c != '.' && c != '_') {
      return "contains the character " + quoted(std::string_view(&c, 1)) + " which is not allowed in a host";
    }
    if (!is_digit(c) && c != '.') all_digits_and_dots = false;
  }
  if (all_digits_and_dots) {
    if (!parse_ip(AF_INET, host)) return "looks like an IPv4 address but is not a valid one";
    return {};
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = host.find('.', start);
    const std::string_view label =
        host.substr(start, dot == std::string_view::npos ? host.npos : dot - start);
    if (label.empty()) return "has an empty label (a leading, trailing or doubled '.')";
    if (label.size() > 63) return "has a label longer than 63 characters";
    if (label.front() == '-' || label.back() == '-') return "has a label that starts or ends with '-'";
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return {};
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

std::string endpoint::host_header() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  std::string out = ipv6 ? "[" + host + "]" : host;
  const uint16_t default_port = tls ? 443 : 80;
  if (port != 0 && port != default_port) out += ":" + std::to_string(port);
  return out;
}

std::string endpoint::to_string() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  std::string out = tls ? "https://" : "http://";
  out += ipv6 ? "[" + host + "]" : host;
  const uint16_t p = port != 0 ? port : (tls ? 443 : 80);
  out += ":" + std::to_string(p);
  return out;
}

result<endpoint> parse_endpoint(std::string_view url) {
  const auto bad = [&](std::string_view why) {
    return invalid("invalid endpoint " + quoted(url) + ": " + std::string(why));
  };
  if (url.empty())
    return invalid("invalid endpoint \"\": it is empty; expected e.g. https://s3.amazonaws.com");
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u == ' ') return bad("it contains a space");
    if (u < 0x20 || u == 0x7f) return bad("it contains a control character");
  }

  const std::size_t sep = url.find("://");
  if (sep == std::string_view::npos)
    return bad("no scheme; expected http:// or https:// in front of the host");
  const std::string_view scheme = url.substr(0, sep);
  endpoint ep;
  if (scheme.size() == 5 && iequals_prefix(scheme, "https")) {
    ep.tls = true;
  } else if (scheme.size() == 4 && iequals_prefix(scheme, "http")) {
    ep.tls = false;
  } else {
    return bad("unknown scheme " + quoted(scheme) + "; expected http or https");
  }

  std::string_view rest = url.substr(sep + 3);
  if (rest.find('#') != std::string_view::npos) return bad("an endpoint cannot have a fragment ('#')");
  if (rest.find('?') != std::string_view::npos) return bad("an endpoint cannot have a query ('?')");
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    const std::string_view path = rest.substr(slash);
    if (path != "/") {
      return bad("an endpoint cannot have a path (" + quoted(path) +
                 "); give the bucket separately, not in the endpoint");
    }
  }
  if (authority.find('@') != std::string_view::npos) {
    return bad("an endpoint cannot contain user information ('user@'); give credentials separately");
  }
  if (authority.empty()) return bad("the host is empty");

  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  if (authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return bad("'[' opens an IPv6 address that is never closed with ']'");
    host = authority.substr(1, close - 1);
    if (host.empty()) return bad("the host is empty");
    if (!parse_ip(AF_INET6, host)) return bad(quoted(host) + " is not a valid IPv6 address");
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected " + quoted(after) + " after the IPv6 address");
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.find(':') != std::string_view::npos) {
        return bad("more than one ':'; an IPv6 address must be written in brackets, e.g. http://[::1]:9000");
      }
      has_port = true;
    }
    if (host.empty()) return bad("the host is empty");
    if (const std::string why = host_problem(host); !why.empty()) {
      return bad("the host " + quoted(host) + " " + why);
    }
  }

  if (has_port) {
    if (port_text.empty()) return bad("the port after ':' is empty");
    if (port_text.size() > 5) return bad("the port " + quoted(port_text) + " is out of range 1-65535");
    unsigned long port = 0;
    for (char c : port_text) {
      if (!is_digit(c)) return bad("the port " + quoted(port_text) + " is not a number");
      port = port * 10 + static_cast<unsigned long>(c - '0');
    }
    if (port < 1 || port > 65535) return bad("the port " + quoted(port_text) + " is out of range 1-65535");
    ep.port = static_cast<uint16_t>(port);
  } else {
    ep.port = ep.tls ? 443 : 80;
  }

  ep.host.reserve(host.size());
  for (char c : host) ep.host += to_lower(c);  // DNS names and IPv6 hex digits are case-insensitive
  return ep;
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
