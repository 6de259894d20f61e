// S3 <Code> strings and HTTP statuses mapped onto s3::errc, once.
#include <sluice/engine/s3/error.hpp>

#include <array>
#include <string>
#include <utility>

namespace sluice::s3 {
namespace {

class s3_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "s3"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::ok:
        return "success";
      case errc::no_such_key:
        return "no such key";
      case errc::no_such_bucket:
        return "no such bucket";
      case errc::no_such_upload:
        return "no such multipart upload";
      case errc::access_denied:
        return "access denied";
      case errc::signature_does_not_match:
        return "request signature does not match";
      case errc::invalid_range:
        return "requested range not satisfiable";
      case errc::precondition_failed:
        return "precondition failed";
      case errc::not_modified:
        return "not modified";
      case errc::slow_down:
        return "slow down: request rate too high";
      case errc::internal_error:
        return "internal server error";
      case errc::bucket_not_empty:
        return "bucket not empty";
      case errc::bucket_already_exists:
        return "bucket already exists";
      case errc::invalid_bucket_name:
        return "invalid bucket name";
      case errc::entity_too_small:
        return "multipart part too small";
      case errc::invalid_part:
        return "invalid multipart part or part order";
      case errc::request_timeout:
        return "request timeout: the server did not receive the body in time";
      case errc::invalid_argument:
        return "invalid request argument";
      case errc::request_time_skewed:
        return "request time too skewed from the server's clock";
      case errc::other:
        return "S3 error";
    }
    return "unknown s3 error " + std::to_string(value);
  }

  // Server answers seen as the conditions programs branch on.
  bool equivalent(int value, const std::error_condition& cond) const noexcept override {
    if (cond.category() != condition_category()) return std::error_category::equivalent(value, cond);
    auto c = static_cast<condition>(cond.value());
    switch (static_cast<errc>(value)) {
      case errc::no_such_key:
      case errc::no_such_bucket:
      case errc::no_such_upload:
        return c == condition::not_found;
      case errc::precondition_failed:
        return c == condition::precondition_failed;
      case errc::access_denied:
      case errc::signature_does_not_match:
        return c == condition::permission_denied;
      case errc::request_timeout:
        return c == condition::timeout;
      case errc::invalid_argument:
      case errc::invalid_bucket_name:
      case errc::invalid_range:
        return c == condition::invalid_argument;
      default:
        return false;
    }
  }
};

// Codes S3 (and compatible servers) send, with the errc each stands for.
constexpr std::array<std::pair<std::string_view, errc>, 36> code_table{{
    {"NoSuchKey", errc::no_such_key},
    {"NoSuchBucket", errc::no_such_bucket},
    {"NoSuchUpload", errc::no_such_upload},
    {"AccessDenied", errc::access_denied},
    {"InvalidAccessKeyId", errc::access_denied},
    {"AllAccessDisabled", errc::access_denied},
    {"AccountProblem", errc::access_denied},
    {"ExpiredToken", errc::access_denied},
    {"InvalidToken", errc::access_denied},
    {"SignatureDoesNotMatch", errc::signature_does_not_match},
    {"InvalidRange", errc::invalid_range},
    {"PreconditionFailed", errc::precondition_failed},
    {"NotModified", errc::not_modified},
    {"SlowDown", errc::slow_down},
    {"ServiceUnavailable", errc::slow_down},
    {"Throttling", errc::slow_down},
    {"ThrottlingException", errc::slow_down},
    {"RequestLimitExceeded", errc::slow_down},
    {"TooManyRequests", errc::slow_down},
    {"InternalError", errc::internal_error},
    {"BucketNotEmpty", errc::bucket_not_empty},
    {"BucketAlreadyExists", errc::bucket_already_exists},
    {"BucketAlreadyOwnedByYou", errc::bucket_already_exists},
    {"InvalidBucketName", errc::invalid_bucket_name},
    {"EntityTooSmall", errc::entity_too_small},
    {"InvalidPart", errc::invalid_part},
    {"InvalidPartOrder", errc::invalid_part},
    {"RequestTimeout", errc::request_timeout},
    {"InvalidArgument", errc::invalid_argument},
    {"InvalidRequest", errc::invalid_argument},
    {"MalformedXML", errc::invalid_argument},
    {"InvalidDigest", errc::invalid_argument},
    {"BadDigest", errc::invalid_argument},
    {"KeyTooLongError", errc::invalid_argument},
    {"MissingContentLength", errc::invalid_argument},
    {"RequestTimeTooSkewed", errc::request_time_skewed},
}};

errc errc_from_status(int http_status) noexcept {
  switch (http_status) {
    case 304:
      return errc::not_modified;
    case 403:
      return errc::access_denied;
    case 404:
      return errc::no_such_key;
    case 412:
      return errc::precondition_failed;
    case 416:
      return errc::invalid_range;
    case 503:
      return errc::slow_down;
    default:
      break;
  }
  if (http_status >= 500 && http_status <= 599) return errc::internal_error;
  return errc::other;
}

}  // namespace

const std::error_category& s3_category() noexcept {
  static const s3_category_impl category;
  return category;
}

errc errc_from_code(std::string_view code, int http_status) noexcept {
  for (const auto& [name, value] : code_table) {
    if (name == code) return value;
  }
  return errc_from_status(http_status);
}

bool is_retryable(const error& e) noexcept {
  if (e.code.category() == s3_category()) {
    switch (static_cast<errc>(e.code.value())) {
      case errc::slow_down:
      case errc::internal_error:
      case errc::request_timeout:
        return true;
      default:
        break;
    }
  } else if (e.code.category() == sluice_category()) {
    switch (static_cast<sluice::errc>(e.code.value())) {
      case sluice::errc::timeout:
      case sluice::errc::connection_failed:
      case sluice::errc::truncated_response:
      case sluice::errc::malformed_response:  // a garbled answer (bad status line, framing) may be one-off
        return true;
      case sluice::errc::tls_verification:  // a bad certificate stays bad
      case sluice::errc::cancelled:         // the owner no longer wants the result
        return false;
      default:
        break;
    }
  }
  return e.http_status >= 500 && e.http_status <= 599;
}

}  // namespace sluice::s3
