// S3 server answers as typed errors. An S3 XML error body (<Error><Code>..) is
// mapped once, here, onto s3::errc; unknown codes keep their text in the message.
#pragma once

#include <sluice/engine/runtime/result.hpp>

#include <string_view>

namespace sluice::s3 {

enum class errc {
  ok = 0,
  no_such_key = 1,               // NoSuchKey, or 404 on HEAD of an object
  no_such_bucket = 2,            // NoSuchBucket
  no_such_upload = 3,            // NoSuchUpload (multipart id unknown or aborted)
  access_denied = 4,             // AccessDenied, InvalidAccessKeyId, 403 without a body
  signature_does_not_match = 5,  // SignatureDoesNotMatch
  invalid_range = 6,             // InvalidRange (416)
  precondition_failed = 7,       // PreconditionFailed (412)
  not_modified = 8,              // 304 on a conditional GET/HEAD
  slow_down = 9,                 // SlowDown / 503 throttling (retryable)
  internal_error = 10,           // InternalError / other 5xx (retryable)
  bucket_not_empty = 11,         // BucketNotEmpty
  bucket_already_exists = 12,    // BucketAlreadyExists / BucketAlreadyOwnedByYou
  invalid_bucket_name = 13,      // InvalidBucketName
  entity_too_small = 14,         // EntityTooSmall (multipart part below 5 MiB)
  invalid_part = 15,             // InvalidPart / InvalidPartOrder
  request_timeout = 16,          // RequestTimeout (retryable)
  invalid_argument = 17,         // InvalidArgument / InvalidRequest / MalformedXML
  request_time_skewed = 18,      // RequestTimeTooSkewed
  other = 19,                    // any other server code; the message names it
};

const std::error_category& s3_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), s3_category()}; }

// Maps an S3 <Code> string (and the HTTP status when the code is unknown or
// absent) onto errc.
errc errc_from_code(std::string_view code, int http_status) noexcept;

// True for failures worth another try: 5xx, SlowDown, RequestTimeout, and the
// transport failures (timeout, connection_failed, truncated_response).
bool is_retryable(const error& e) noexcept;

}  // namespace sluice::s3

template <>
struct std::is_error_code_enum<sluice::s3::errc> : std::true_type {};
