// Encoding and validation of everything that ends up in a request line.
#pragma once

#include <sluice/engine/runtime/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::s3 {

// RFC 3986 percent-encoding as SigV4/S3 require: unreserved characters
// (A-Z a-z 0-9 - _ . ~) stay, every other byte becomes %XX (uppercase hex).
// encode_path keeps '/' as is (object keys inside a path); encode_query_component
// encodes '/' too.
std::string uri_encode(std::string_view s, bool keep_slash);
inline std::string encode_path(std::string_view s) { return uri_encode(s, true); }
inline std::string encode_query_component(std::string_view s) { return uri_encode(s, false); }
// Inverse of uri_encode; '+' stays '+'. Fails on malformed %XX.
result<std::string> uri_decode(std::string_view s);

// An S3 endpoint: scheme://host[:port], no path.
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

// S3 bucket naming rules (3-63 chars, lowercase letters, digits, '.', '-',
// starts and ends with a letter or digit, not an IPv4 address, no "..").
result<void> validate_bucket_name(std::string_view bucket);
// Object keys: 1..1024 bytes of valid UTF-8, no NUL.
result<void> validate_key(std::string_view key);

// "s3://bucket/key/with/slashes" -> {bucket, key}; key may be empty
// ("s3://bucket" or "s3://bucket/"). Validates the bucket name.
struct s3_url {
  std::string bucket;
  std::string key;
};
result<s3_url> parse_s3_url(std::string_view url);
// "s3://bucket/key", or "s3://bucket" for an empty key: how messages name objects.
std::string object_url(std::string_view bucket, std::string_view key);
bool is_s3_url(std::string_view s) noexcept;

}  // namespace sluice::s3
