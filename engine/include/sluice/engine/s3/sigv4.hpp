// AWS Signature Version 4 for S3: header signing and presigned URLs.
//
// Pure functions, no I/O, thread-safe. Inputs are what goes on the wire: the
// path already URI-encoded as S3 expects (see uri.hpp: encode_path), the query
// as decoded name/value pairs (the signer encodes and sorts them), the headers
// as sent. Secrets are only read, never copied into returned strings other
// than the signature itself.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::s3 {

struct credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty when not using temporary credentials
  bool empty() const noexcept { return access_key_id.empty() && secret_access_key.empty(); }
};

inline constexpr std::string_view unsigned_payload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view empty_payload_sha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct query_param {
  std::string name;   // decoded
  std::string value;  // decoded; empty for "?lifecycle"
  bool has_value = true;  // false for "?lifecycle": sent without '=' (signed as "lifecycle=")
};

struct signing_request {
  std::string method;                                        // "GET", "PUT", ...
  std::string path;                                          // encoded, starts with '/'
  std::vector<query_param> query;                            // any order, repeats allowed
  std::vector<std::pair<std::string, std::string>> headers;  // must include "host"
  std::string payload_hash;  // lowercase hex SHA-256 of the body, or unsigned_payload
};

struct signing_scope {
  std::string region;
  std::string service = "s3";
  std::chrono::system_clock::time_point time;  // the request time (x-amz-date)
};

// "20130524T000000Z" and "20130524" for a time point (UTC).
std::string amz_date(std::chrono::system_clock::time_point t);
std::string amz_day(std::chrono::system_clock::time_point t);

// Lowercase hex SHA-256 of bytes.
std::string sha256_hex(std::string_view bytes);

// The canonical request text (exposed for tests and diagnostics).
std::string canonical_request(const signing_request& req);
// The signed-headers list, e.g. "host;range;x-amz-content-sha256;x-amz-date".
std::string signed_header_names(const signing_request& req);

// Adds x-amz-date, x-amz-content-sha256 (and x-amz-security-token when the
// credentials carry a session token) to req.headers, then appends the
// Authorization header. Every header in req.headers is signed.
void sign_request(signing_request& req, const credentials& creds, const signing_scope& scope);

// Returns the signature hex of an already-complete request (headers including
// x-amz-date etc. as they will be sent). Used by sign_request and tests.
std::string signature(const signing_request& req, const credentials& creds, const signing_scope& scope);

// Presigned URL query: adds X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date,
// X-Amz-Expires, X-Amz-SignedHeaders (and X-Amz-Security-Token) to req.query,
// signs with payload UNSIGNED-PAYLOAD, and returns the complete encoded query
// string including X-Amz-Signature (without a leading '?').
std::string presign(signing_request& req, const credentials& creds, const signing_scope& scope,
                    std::chrono::seconds expires);

}  // namespace sluice::s3
