// Where an HTTP client connects: scheme, host and port. The http layer owns
// this type; the s3 layer names it s3::endpoint too.
#pragma once

#include <sluice/engine/runtime/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::http {

// An HTTP(S) endpoint: scheme://host[:port], no path.
struct endpoint {
  bool tls = true;
  std::string host;   // DNS name, IPv4, or IPv6 without brackets
  uint16_t port = 0;  // explicit or the scheme's default
  // "host" or "host:port" (brackets for IPv6) as sent in the Host header; the
  // port is omitted when it is the scheme's default.
  std::string host_header() const;
  std::string to_string() const;  // "https://host:port"
};
// Parses "http://127.0.0.1:9000", "https://s3.us-east-1.amazonaws.com", ...
// Rejects missing scheme, unknown scheme, empty host, bad port, a path, a
// query, userinfo.
result<endpoint> parse_endpoint(std::string_view url);

}  // namespace sluice::http
