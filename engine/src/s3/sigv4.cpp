// AWS Signature Version 4 for S3 (header and query-string signing).
//
// The canonical request, string to sign and signing-key derivation follow the
// S3 API reference ("Signature Calculations for the Authorization Header" and
// "Authenticating Requests: Using Query Parameters"). S3 differs from the
// generic SigV4 in one place: the path is signed as sent, never normalized or
// encoded a second time.
#include <sluice/engine/s3/sigv4.hpp>
#include <sluice/engine/s3/uri.hpp>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::s3 {
namespace {

constexpr std::string_view algorithm = "AWS4-HMAC-SHA256";

using digest = std::array<unsigned char, 32>;

std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(n * 2, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 0xf];
  }
  return out;
}

// OpenSSL fails here only on allocation failure or a broken installation:
// both are bugs or resource exhaustion, hence an exception rather than a value.
[[noreturn]] void openssl_failed(const char* what) {
  throw std::runtime_error(std::string("sigv4: ") + what + " failed in OpenSSL");
}

// The algorithms are fetched once per process: OpenSSL 3's one-shot calls
// (HMAC(), EVP_sha256() lookups) fetch them on every call, under a lock, and
// that cost 40% of the instructions of a small GET.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) openssl_failed("fetching SHA-256");
  return md;
}

EVP_MAC* hmac_algorithm() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) openssl_failed("fetching HMAC");
  return mac;
}

// One HMAC-SHA256 context per thread, reused for every signature.
class hmac_context {
 public:
  hmac_context() : ctx_(EVP_MAC_CTX_new(hmac_algorithm())) {
    if (ctx_ == nullptr) openssl_failed("creating an HMAC context");
    char name[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, name, 0),
                           OSSL_PARAM_construct_end()};
    if (EVP_MAC_CTX_set_params(ctx_, params) != 1) openssl_failed("configuring HMAC-SHA256");
  }
  ~hmac_context() { EVP_MAC_CTX_free(ctx_); }
  hmac_context(const hmac_context&) = delete;
  hmac_context& operator=(const hmac_context&) = delete;

  digest compute(std::string_view key, std::string_view data) {
    digest out;
    std::size_t len = 0;
    if (EVP_MAC_init(ctx_, reinterpret_cast<const unsigned char*>(key.data()), key.size(), nullptr) != 1 ||
        EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
        EVP_MAC_final(ctx_, out.data(), &len, out.size()) != 1 || len != out.size())
      openssl_failed("HMAC-SHA256");
    return out;
  }

 private:
  EVP_MAC_CTX* ctx_;
};

digest hmac_sha256(std::string_view key, std::string_view data) {
  thread_local hmac_context ctx;
  return ctx.compute(key, data);
}

std::string_view as_view(const digest& d) noexcept {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool is_blank(char c) noexcept {
  return c == ' ' || c == '\t';
}

// SigV4 "Trimall": no leading/trailing blanks, inner runs become one space.
std::string trim_all(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  bool pending_space = false;
  for (char c : v) {
    if (is_blank(c)) {
      pending_space = !out.empty();
    } else {
      if (pending_space) out += ' ';
      pending_space = false;
      out += c;
    }
  }
  return out;
}

// Header names lowercased, values trimmed, sorted by name (stable, so repeated
// headers keep the order they are sent in) and repeats joined with ','.
std::vector<std::pair<std::string, std::string>> canonical_headers(const signing_request& req) {
  std::vector<std::pair<std::string, std::string>> hs;
  hs.reserve(req.headers.size());
  for (const auto& [name, value] : req.headers) hs.emplace_back(to_lower(name), trim_all(value));
  std::stable_sort(hs.begin(), hs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<std::string, std::string>> merged;
  merged.reserve(hs.size());
  for (auto& h : hs) {
    if (!merged.empty() && merged.back().first == h.first) {
      merged.back().second += ',';
      merged.back().second += h.second;
    } else {
      merged.push_back(std::move(h));
    }
  }
  return merged;
}

// Encoded "name=value" pairs sorted by encoded name, then encoded value.
std::string canonical_query(const std::vector<query_param>& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(query.size());
  for (const auto& p : query) {
    enc.emplace_back(encode_query_component(p.name), encode_query_component(p.has_value ? p.value : ""));
  }
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [n, v] : enc) {
    if (!out.empty()) out += '&';
    out += n;
    out += '=';
    out += v;
  }
  return out;
}

std::string_view payload_of(const signing_request& req) noexcept {
  return req.payload_hash.empty() ? unsigned_payload : std::string_view(req.payload_hash);
}

std::string credential_scope(const signing_scope& scope) {
  return amz_day(scope.time) + "/" + scope.region + "/" + scope.service + "/aws4_request";
}

void erase_headers(signing_request& req, std::initializer_list<std::string_view> names) {
  std::erase_if(req.headers, [&](const auto& h) {
    return std::any_of(names.begin(), names.end(), [&](std::string_view n) { return iequals(h.first, n); });
  });
}

// The signing key depends only on the secret, the day, the region and the
// service: each thread keeps the last one it derived (four HMACs saved per
// request). The copy of the secret is wiped when the thread ends.
struct signing_key_cache {
  std::string secret, day, region, service;
  digest key{};
  bool valid = false;
  ~signing_key_cache() {
    if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
    OPENSSL_cleanse(key.data(), key.size());
  }
};

const digest& signing_key(const credentials& creds, const signing_scope& scope, const std::string& day) {
  thread_local signing_key_cache cache;
  if (cache.valid && cache.day == day && cache.region == scope.region && cache.service == scope.service &&
      cache.secret == creds.secret_access_key)
    return cache.key;
  if (!cache.secret.empty()) OPENSSL_cleanse(cache.secret.data(), cache.secret.size());
  std::string k_secret = "AWS4" + creds.secret_access_key;
  const digest k_date = hmac_sha256(k_secret, day);
  OPENSSL_cleanse(k_secret.data(), k_secret.size());
  const digest k_region = hmac_sha256(as_view(k_date), scope.region);
  const digest k_service = hmac_sha256(as_view(k_region), scope.service);
  cache.key = hmac_sha256(as_view(k_service), "aws4_request");
  cache.secret = creds.secret_access_key;
  cache.day = day;
  cache.region = scope.region;
  cache.service = scope.service;
  cache.valid = true;
  return cache.key;
}

// The canonical request and the signed-header list, from one pass over the headers.
struct canonical_form {
  std::string request;
  std::string signed_names;
};

canonical_form canonicalize(const signing_request& req) {
  canonical_form f;
  std::string& out = f.request;
  out.reserve(256);
  out += req.method;
  out += '\n';
  out += req.path.empty() ? std::string_view("/") : std::string_view(req.path);
  out += '\n';
  out += canonical_query(req.query);
  out += '\n';
  for (const auto& [name, value] : canonical_headers(req)) {
    out += name;
    out += ':';
    out += value;
    out += '\n';
    if (!f.signed_names.empty()) f.signed_names += ';';
    f.signed_names += name;
  }
  out += '\n';
  out += f.signed_names;
  out += '\n';
  out += payload_of(req);
  return f;
}

std::string signature_of(std::string_view canonical, const credentials& creds, const signing_scope& scope) {
  const std::string day = amz_day(scope.time);
  const std::string string_to_sign = std::string(algorithm) + "\n" + amz_date(scope.time) + "\n" +
                                     credential_scope(scope) + "\n" + sha256_hex(canonical);
  const digest sig = hmac_sha256(as_view(signing_key(creds, scope, day)), string_to_sign);
  return to_hex(sig.data(), sig.size());
}

struct utc_fields {
  int year;
  unsigned month, day;
  long hours, minutes, seconds;
};

// Calendar arithmetic on sys_days: UTC by definition, no TZ lookup.
utc_fields to_utc(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto secs = floor<seconds>(t);
  const auto days = floor<std::chrono::days>(secs);
  const year_month_day ymd{days};
  const hh_mm_ss<seconds> hms{secs - days};
  return {static_cast<int>(ymd.year()),
          static_cast<unsigned>(ymd.month()),
          static_cast<unsigned>(ymd.day()),
          static_cast<long>(hms.hours().count()),
          static_cast<long>(hms.minutes().count()),
          static_cast<long>(hms.seconds().count())};
}

// Writes n (0 <= n < 10^width) as exactly `width` decimal digits; returns the end.
char* put_digits(char* p, long n, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + n % 10);
    n /= 10;
  }
  return p + width;
}

}  // namespace

std::string amz_date(std::chrono::system_clock::time_point t) {
  const utc_fields f = to_utc(t);
  char buf[16];  // YYYYMMDDTHHMMSSZ (every request formats it: no printf)
  char* p = put_digits(buf, f.year, 4);
  p = put_digits(p, f.month, 2);
  p = put_digits(p, f.day, 2);
  *p++ = 'T';
  p = put_digits(p, f.hours, 2);
  p = put_digits(p, f.minutes, 2);
  p = put_digits(p, f.seconds, 2);
  *p++ = 'Z';
  return std::string(buf, p);
}

std::string amz_day(std::chrono::system_clock::time_point t) {
  const utc_fields f = to_utc(t);
  char buf[8];  // YYYYMMDD
  char* p = put_digits(buf, f.year, 4);
  p = put_digits(p, f.month, 2);
  p = put_digits(p, f.day, 2);
  return std::string(buf, p);
}

std::string sha256_hex(std::string_view bytes) {
  digest out;
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), out.data(), &len, sha256_md(), nullptr) != 1 ||
      len != out.size()) {
    throw std::runtime_error("sigv4: SHA-256 failed in OpenSSL");
  }
  return to_hex(out.data(), out.size());
}

std::string canonical_request(const signing_request& req) {
  return canonicalize(req).request;
}

std::string signed_header_names(const signing_request& req) {
  return canonicalize(req).signed_names;
}

std::string signature(const signing_request& req, const credentials& creds, const signing_scope& scope) {
  return signature_of(canonicalize(req).request, creds, scope);
}

void sign_request(signing_request& req, const credentials& creds, const signing_scope& scope) {
  // Re-signing (a retry) replaces what an earlier signature added.
  erase_headers(req, {"authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"});
  if (req.payload_hash.empty()) req.payload_hash = std::string(unsigned_payload);
  req.headers.emplace_back("x-amz-date", amz_date(scope.time));
  req.headers.emplace_back("x-amz-content-sha256", req.payload_hash);
  if (!creds.session_token.empty()) req.headers.emplace_back("x-amz-security-token", creds.session_token);
  const canonical_form form = canonicalize(req);
  const std::string sig = signature_of(form.request, creds, scope);
  req.headers.emplace_back("authorization", std::string(algorithm) + " Credential=" + creds.access_key_id +
                                                "/" + credential_scope(scope) + ", SignedHeaders=" +
                                                form.signed_names + ", Signature=" + sig);
}

std::string presign(signing_request& req, const credentials& creds, const signing_scope& scope,
                    std::chrono::seconds expires) {
  std::erase_if(req.query, [](const query_param& p) {
    return p.name == "X-Amz-Algorithm" || p.name == "X-Amz-Credential" || p.name == "X-Amz-Date" ||
           p.name == "X-Amz-Expires" || p.name == "X-Amz-SignedHeaders" || p.name == "X-Amz-Security-Token" ||
           p.name == "X-Amz-Signature";
  });
  req.payload_hash = std::string(unsigned_payload);
  req.query.push_back({"X-Amz-Algorithm", std::string(algorithm)});
  req.query.push_back({"X-Amz-Credential", creds.access_key_id + "/" + credential_scope(scope)});
  req.query.push_back({"X-Amz-Date", amz_date(scope.time)});
  req.query.push_back({"X-Amz-Expires", std::to_string(expires.count())});
  req.query.push_back({"X-Amz-SignedHeaders", signed_header_names(req)});
  if (!creds.session_token.empty()) req.query.push_back({"X-Amz-Security-Token", creds.session_token});
  const std::string sig = signature_of(canonicalize(req).request, creds, scope);
  return canonical_query(req.query) + "&X-Amz-Signature=" + sig;
}

}  // namespace sluice::s3
