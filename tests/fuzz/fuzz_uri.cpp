// Percent-encoding, bucket names, object keys, s3:// URLs, local-or-S3
// locations and endpoints (engine/s3/uri.hpp, engine/http/endpoint.hpp,
// sluice/objects/objects.hpp).
// Properties:
// - uri_decode(uri_encode(x)) == x, and the encoding holds only unreserved
//   characters, '%XX' and (for paths) '/'; what uri_decode accepts re-encodes
//   to a string that decodes to it again;
// - validate_key agrees with an independent UTF-8 check (1..1024 bytes, no NUL,
//   no overlong form, surrogate or code point above U+10FFFF), and
//   validate_bucket_name never accepts what S3's rules forbid;
// - an s3:// URL that parses has a valid bucket and an empty or valid key, and
//   object_url() of it parses to the same bucket and key; parse_location agrees;
// - an endpoint that parses has a lowercase host and a port, and to_string()
//   of it parses to the same endpoint; an error about an endpoint never quotes
//   its user information or its query (a presigned signature).
#include "fuzz_check.hpp"

#include <sluice/engine/http/endpoint.hpp>
#include <sluice/engine/s3/uri.hpp>
#include <sluice/objects/objects.hpp>

#include <string>

namespace {

namespace s3 = sluice::s3;

bool unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}
bool upper_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

void check_encoding(std::string_view s) {
  for (bool keep_slash : {false, true}) {
    const std::string enc = s3::uri_encode(s, keep_slash);
    for (std::size_t i = 0; i < enc.size(); ++i) {
      if (enc[i] == '%') {
        SLUICE_FUZZ_CHECK(i + 2 < enc.size() && upper_hex(enc[i + 1]) && upper_hex(enc[i + 2]));
        i += 2;
      } else {
        SLUICE_FUZZ_CHECK(unreserved(enc[i]) || (keep_slash && enc[i] == '/'));
      }
    }
    auto dec = s3::uri_decode(enc);
    SLUICE_FUZZ_CHECK(dec && *dec == s);
  }
  auto dec = s3::uri_decode(s);
  if (!dec) {
    SLUICE_FUZZ_CHECK(s.find('%') != std::string_view::npos);
    return;
  }
  if (s.find('%') == std::string_view::npos) SLUICE_FUZZ_CHECK(*dec == s);
  auto again = s3::uri_decode(s3::encode_path(*dec));
  SLUICE_FUZZ_CHECK(again && *again == *dec);
}

// An independent reading of "valid UTF-8" (RFC 3629), by code points.
bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xe ? 3 : (b >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    std::uint32_t cp = n == 1 ? b : n == 2 ? (b & 0x1f) : n == 3 ? (b & 0x0f) : (b & 0x07);
    for (std::size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c >> 6) != 0x2) return false;
      cp = cp << 6 | (c & 0x3f);
    }
    const std::uint32_t min = n == 1 ? 0 : n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n;
  }
  return true;
}

void check_key_and_bucket(std::string_view s) {
  const bool key_ok =
      !s.empty() && s.size() <= 1024 && s.find('\0') == std::string_view::npos && valid_utf8(s);
  auto key = s3::validate_key(s);
  SLUICE_FUZZ_CHECK(key.has_value() == key_ok);
  if (!key) SLUICE_FUZZ_CHECK(key.error().code == sluice::errc::invalid_argument);

  if (s3::validate_bucket_name(s)) {
    SLUICE_FUZZ_CHECK(s.size() >= 3 && s.size() <= 63);
    for (char c : s)
      SLUICE_FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-');
    SLUICE_FUZZ_CHECK(s.front() != '.' && s.front() != '-' && s.back() != '.' && s.back() != '-');
    SLUICE_FUZZ_CHECK(s.find("..") == std::string_view::npos);
    SLUICE_FUZZ_CHECK(!s.starts_with("xn--") && !s.ends_with("-s3alias"));
  }
}

void check_s3_url(std::string_view s) {
  auto url = s3::parse_s3_url(s);
  auto loc = sluice::objects::parse_location(s);
  if (!url) {
    SLUICE_FUZZ_CHECK(url.error().code == sluice::errc::invalid_argument);
    if (loc) SLUICE_FUZZ_CHECK(!loc->remote && loc->path == s && !s3::is_s3_url(s));
    return;
  }
  SLUICE_FUZZ_CHECK(s3::is_s3_url(s));
  SLUICE_FUZZ_CHECK(s3::validate_bucket_name(url->bucket));
  SLUICE_FUZZ_CHECK(url->key.empty() || s3::validate_key(url->key));
  auto again = s3::parse_s3_url(s3::object_url(url->bucket, url->key));
  SLUICE_FUZZ_CHECK(again && again->bucket == url->bucket && again->key == url->key);
  SLUICE_FUZZ_CHECK(loc && loc->remote && loc->bucket == url->bucket && loc->key == url->key);
}

void check_endpoint(std::string_view s) {
  auto ep = sluice::http::parse_endpoint(s);
  if (!ep) {
    SLUICE_FUZZ_CHECK(ep.error().code == sluice::errc::invalid_argument);
    return;
  }
  SLUICE_FUZZ_CHECK(!ep->host.empty() && ep->port != 0);
  for (char c : ep->host) SLUICE_FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
  const std::string host_header = ep->host_header();
  SLUICE_FUZZ_CHECK(host_header.find_first_of("/?#@ ") == std::string::npos);
  auto again = sluice::http::parse_endpoint(ep->to_string());
  SLUICE_FUZZ_CHECK(again && again->tls == ep->tls && again->host == ep->host && again->port == ep->port);
}

// Secrets typed into an endpoint never reach an error message.
void check_endpoint_redaction(std::string_view rest) {
  constexpr std::string_view user = "Us3rFuzzName", password = "Pa55FuzzWord", signature = "S1gFuzzValue";
  for (std::string_view marker : {user, password, signature}) {
    if (rest.find(marker) != std::string_view::npos) return;
  }
  const std::string with_userinfo =
      "http://" + std::string(user) + ":" + std::string(password) + "@" + std::string(rest);
  auto a = sluice::http::parse_endpoint(with_userinfo);
  SLUICE_FUZZ_CHECK(!a);  // user information is always refused
  SLUICE_FUZZ_CHECK(a.error().message.find(user) == std::string::npos);
  SLUICE_FUZZ_CHECK(a.error().message.find(password) == std::string::npos);
  const std::string with_query = std::string(rest) + "?X-Amz-Signature=" + std::string(signature);
  auto b = sluice::http::parse_endpoint(with_query);
  SLUICE_FUZZ_CHECK(!b);  // so is a query
  SLUICE_FUZZ_CHECK(b.error().message.find(signature) == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view s = sluice::fuzz::as_text(data, size);
  check_encoding(s);
  check_key_and_bucket(s);
  check_s3_url(s);
  check_endpoint(s);
  check_endpoint_redaction(s);
  return 0;
}
