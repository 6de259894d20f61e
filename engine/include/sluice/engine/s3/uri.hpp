// Encoding and validation of everything that ends up in a request line.
#pragma once

#include <sluice/engine/http/endpoint.hpp>
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
inline std::string encode_path(std::string_view s) {
  return uri_encode(s, true);
}
inline std::string encode_query_component(std::string_view s) {
  return uri_encode(s, false);
}
// Inverse of uri_encode; '+' stays '+'. Fails on malformed %XX.
result<std::string> uri_decode(std::string_view s);

// Endpoints are the http layer's (http/endpoint.hpp); the s3 names stay.
using http::endpoint;
using http::parse_endpoint;

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
