// HTTP endpoints: parsing "scheme://host[:port]" and the Host header.
#include <sluice/engine/http/endpoint.hpp>

#include "text/ascii.hpp"

#include <arpa/inet.h>

#include <string>
#include <string_view>

namespace sluice::http {
namespace {

using namespace text;

error invalid(std::string msg) {
  return error(errc::invalid_argument, std::move(msg));
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

}  // namespace

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

namespace {

// The endpoint as an error may quote it: user information (credentials typed
// into the URL) and a query (a presigned signature) are replaced by "***".
std::string redacted(std::string_view url) {
  std::string out(url);
  const std::size_t sep = out.find("://");
  const std::size_t from = sep == std::string::npos ? 0 : sep + 3;
  const std::size_t end = std::min(out.find_first_of("/?#", from), out.size());
  const std::size_t at = out.rfind('@', end == 0 ? 0 : end - 1);
  if (at != std::string::npos && at >= from) out.replace(from, at - from, "***");
  if (const std::size_t q = out.find('?'); q != std::string::npos)
    out.replace(q + 1, std::string::npos, "***");
  return out;
}

}  // namespace

result<endpoint> parse_endpoint(std::string_view url) {
  const auto bad = [&](std::string_view why) {
    return invalid("invalid endpoint " + quoted(redacted(url)) + ": " + std::string(why));
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

}  // namespace sluice::http
