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

// Lowercase hex of n bytes into out[0, 2n).
void put_hex(char* out, const unsigned char* p, std::size_t n) noexcept {
  static constexpr char digits[] = "0123456789abcdef";
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 0xf];
  }
}

using digest_hex = std::array<char, 64>;

digest_hex hex_of(const digest& d) noexcept {
  digest_hex out;
  put_hex(out.data(), d.data(), d.size());
  return out;
}

std::string_view as_view(const digest_hex& h) noexcept {
  return {h.data(), h.size()};
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

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// The byte order of the lowercase forms, without making them.
int compare_lower(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(lower(a[i])), y = static_cast<unsigned char>(lower(b[i]));
    if (x != y) return x < y ? -1 : 1;
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

void append_lower(std::string& out, std::string_view s) {
  for (char c : s) out += lower(c);
}

bool is_blank(char c) noexcept {
  return c == ' ' || c == '\t';
}

// SigV4 "Trimall", appended: no leading/trailing blanks, inner runs become one space.
void append_trimmed(std::string& out, std::string_view v) {
  bool started = false, pending_space = false;
  for (char c : v) {
    if (is_blank(c)) {
      pending_space = started;
    } else {
      if (pending_space) out += ' ';
      pending_space = false;
      started = true;
      out += c;
    }
  }
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

// The request time in both forms, formatted once.
struct request_time {
  char date[16];  // YYYYMMDDTHHMMSSZ
  std::string_view date_view() const noexcept { return {date, sizeof date}; }
  std::string_view day() const noexcept { return {date, 8}; }
};
request_time time_of(std::chrono::system_clock::time_point t) noexcept;

void append_credential_scope(std::string& out, const request_time& t, const signing_scope& scope) {
  out += t.day();
  out += '/';
  out += scope.region;
  out += '/';
  out += scope.service;
  out += "/aws4_request";
}

std::string credential_scope(const signing_scope& scope) {
  std::string out;
  append_credential_scope(out, time_of(scope.time), scope);
  return out;
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

const digest& signing_key(const credentials& creds, const signing_scope& scope, std::string_view day) {
  thread_local signing_key_cache cache;
  if (cache.valid && cache.day == day && cache.region == scope.region && cache.service == scope.service &&
      cache.secret == creds.secret_access_key)
    return cache.key;
  if (!cache.secret.empty()) OPENSSL_cleanse(cache.secret.data(), cache.secret.size());
  std::string k_secret = "AWS4" + creds.secret_access_key;
  const digest k_date = hmac_sha256(k_secret, day);  // day: YYYYMMDD
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

// The canonical request and the signed-header list, from one pass over the
// headers, into the caller's strings (whose capacity a thread reuses: signing
// is on every request's path). Names are lowercased, values trimmed, headers
// sorted by lowercase name (repeats keep the order they are sent in) and the
// values of a repeated name joined with ','.
void canonicalize_into(const signing_request& req, std::string& out, std::string& names) {
  out.clear();
  names.clear();
  out += req.method;
  out += '\n';
  out += req.path.empty() ? std::string_view("/") : std::string_view(req.path);
  out += '\n';
  if (!req.query.empty()) out += canonical_query(req.query);
  out += '\n';
  thread_local std::vector<std::size_t> order;
  order.resize(req.headers.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const int c = compare_lower(req.headers[a].first, req.headers[b].first);
    return c != 0 ? c < 0 : a < b;
  });
  std::string_view previous;
  for (std::size_t i : order) {
    const auto& [name, value] = req.headers[i];
    if (!names.empty() && iequals(name, previous)) {
      out.back() = ',';  // a repeated name: its values joined on one line
    } else {
      if (!names.empty()) names += ';';
      append_lower(names, name);
      append_lower(out, name);
      out += ':';
    }
    append_trimmed(out, value);
    out += '\n';
    previous = name;
  }
  out += '\n';
  out += names;
  out += '\n';
  out += payload_of(req);
}

struct canonical_form {
  std::string request;
  std::string signed_names;
};

canonical_form canonicalize(const signing_request& req) {
  canonical_form f;
  canonicalize_into(req, f.request, f.signed_names);
  return f;
}

digest sha256(std::string_view bytes) {
  digest out;
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), out.data(), &len, sha256_md(), nullptr) != 1 ||
      len != out.size())
    openssl_failed("SHA-256");
  return out;
}

digest_hex signature_of(std::string_view canonical, const credentials& creds, const signing_scope& scope,
                        const request_time& t) {
  thread_local std::string string_to_sign;
  string_to_sign.clear();
  string_to_sign += algorithm;
  string_to_sign += '\n';
  string_to_sign += t.date_view();
  string_to_sign += '\n';
  append_credential_scope(string_to_sign, t, scope);
  string_to_sign += '\n';
  string_to_sign += as_view(hex_of(sha256(canonical)));
  return hex_of(hmac_sha256(as_view(signing_key(creds, scope, t.day())), string_to_sign));
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

request_time time_of(std::chrono::system_clock::time_point t) noexcept {
  const utc_fields f = to_utc(t);
  request_time out;  // every request formats it: no printf
  char* p = put_digits(out.date, f.year, 4);
  p = put_digits(p, f.month, 2);
  p = put_digits(p, f.day, 2);
  *p++ = 'T';
  p = put_digits(p, f.hours, 2);
  p = put_digits(p, f.minutes, 2);
  p = put_digits(p, f.seconds, 2);
  *p = 'Z';
  return out;
}

}  // namespace

std::string amz_date(std::chrono::system_clock::time_point t) {
  return std::string(time_of(t).date_view());
}

std::string amz_day(std::chrono::system_clock::time_point t) {
  return std::string(time_of(t).day());
}

std::string sha256_hex(std::string_view bytes) {
  return std::string(as_view(hex_of(sha256(bytes))));
}

std::string canonical_request(const signing_request& req) {
  return canonicalize(req).request;
}

std::string signed_header_names(const signing_request& req) {
  return canonicalize(req).signed_names;
}

std::string signature(const signing_request& req, const credentials& creds, const signing_scope& scope) {
  return std::string(as_view(signature_of(canonicalize(req).request, creds, scope, time_of(scope.time))));
}

void sign_request(signing_request& req, const credentials& creds, const signing_scope& scope) {
  // Re-signing (a retry) replaces what an earlier signature added.
  erase_headers(req, {"authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"});
  if (req.payload_hash.empty()) req.payload_hash = std::string(unsigned_payload);
  const request_time t = time_of(scope.time);
  req.headers.reserve(req.headers.size() + 4);
  req.headers.emplace_back("x-amz-date", t.date_view());
  req.headers.emplace_back("x-amz-content-sha256", req.payload_hash);
  if (!creds.session_token.empty()) req.headers.emplace_back("x-amz-security-token", creds.session_token);
  // Every request signs: the canonical text goes into this thread's scratch.
  thread_local std::string canonical, names;
  canonicalize_into(req, canonical, names);
  const digest_hex sig = signature_of(canonical, creds, scope, t);
  std::string auth;
  auth.reserve(algorithm.size() + creds.access_key_id.size() + scope.region.size() + scope.service.size() +
               names.size() + sig.size() + 80);
  auth += algorithm;
  auth += " Credential=";
  auth += creds.access_key_id;
  auth += '/';
  append_credential_scope(auth, t, scope);
  auth += ", SignedHeaders=";
  auth += names;
  auth += ", Signature=";
  auth += as_view(sig);
  req.headers.emplace_back("authorization", std::move(auth));
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
  const digest_hex sig = signature_of(canonicalize(req).request, creds, scope, time_of(scope.time));
  return canonical_query(req.query) + "&X-Amz-Signature=" + std::string(as_view(sig));
}

}  // namespace sluice::s3
