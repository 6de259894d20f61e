// sluice::errc, error::describe, the result<T> throw hook, and S3 error mapping.
#include <sluice/engine/runtime/result.hpp>
#include <sluice/engine/s3/error.hpp>

#include <gtest/gtest.h>
#include <boost/system/system_error.hpp>

#include <cerrno>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

using sluice::error;
namespace s3 = sluice::s3;

TEST(ResultError, sluice_category_has_its_name_and_a_message_per_value) {
  EXPECT_STREQ(sluice::sluice_category().name(), "sluice");
  std::set<std::string> messages;
  for (int v = 0; v <= static_cast<int>(sluice::errc::corrupt_data); ++v) {
    std::string m = sluice::sluice_category().message(v);
    EXPECT_FALSE(m.empty()) << v;
    EXPECT_EQ(m.find("unknown"), std::string::npos) << v;
    messages.insert(m);
  }
  EXPECT_EQ(messages.size(), static_cast<size_t>(sluice::errc::corrupt_data) + 1) << "messages must differ";
  EXPECT_NE(sluice::sluice_category().message(999).find("999"), std::string::npos);
}

TEST(ResultError, errc_converts_to_error_code_of_sluice_category) {
  std::error_code ec = sluice::errc::timeout;
  EXPECT_EQ(&ec.category(), &sluice::sluice_category());
  EXPECT_EQ(ec.value(), 5);
  EXPECT_EQ(ec, sluice::errc::timeout);
  EXPECT_NE(ec, s3::errc::slow_down);
  EXPECT_EQ(ec.message(), "timed out");
}

TEST(ResultError, describe_is_the_message_when_nothing_else_is_known) {
  error e(sluice::errc::invalid_argument, "bad key 'x'");
  EXPECT_EQ(e.describe(), "bad key 'x'");
}

TEST(ResultError, describe_adds_http_status_and_request_id) {
  error e(s3::errc::no_such_key, "GET s3://b/k: no such key");
  e.http_status = 404;
  e.request_id = "XYZ";
  EXPECT_EQ(e.describe(), "GET s3://b/k: no such key (HTTP 404, request id XYZ)");
  e.http_status = 0;
  EXPECT_EQ(e.describe(), "GET s3://b/k: no such key (request id XYZ)");
  e.http_status = 503;
  e.request_id.clear();
  EXPECT_EQ(e.describe(), "GET s3://b/k: no such key (HTTP 503)");
}

TEST(ResultError, describe_is_one_line_and_falls_back_on_the_code_message) {
  error multi(sluice::errc::malformed_response, "first\nsecond\r\nthird");
  std::string d = multi.describe();
  EXPECT_EQ(d.find('\n'), std::string::npos);
  EXPECT_EQ(d.find('\r'), std::string::npos);
  EXPECT_NE(d.find("first"), std::string::npos);
  EXPECT_NE(d.find("third"), std::string::npos);

  error bare(sluice::errc::cancelled, "");
  EXPECT_EQ(bare.describe(), "cancelled");
}

TEST(ResultError, value_on_an_error_throws_system_error_with_the_message) {
  sluice::result<int> r = sluice::fail(sluice::errc::io_error, "disk on fire");
  ASSERT_FALSE(r);
  try {
    (void)r.value();
    FAIL() << "value() did not throw";
  } catch (const boost::system::system_error& ex) {
    EXPECT_NE(std::string(ex.what()).find("disk on fire"), std::string::npos);
    EXPECT_EQ(ex.code(), std::error_code(sluice::errc::io_error));
  }
  sluice::result<int> ok = 7;
  EXPECT_EQ(ok.value(), 7);
}

sluice::result<int> half(int v) {
  if (v % 2 != 0) return sluice::fail(sluice::errc::invalid_argument, "odd");
  return v / 2;
}
sluice::result<int> quarter(int v) {
  SLUICE_TRY(int h, half(v));
  SLUICE_TRY(int q, half(h));
  return q;
}
sluice::result<void> check_even(int v) {
  SLUICE_TRY_VOID(half(v));
  return {};
}

TEST(ResultError, try_macros_propagate_the_first_error) {
  ASSERT_TRUE(quarter(8));
  EXPECT_EQ(*quarter(8), 2);
  auto r = quarter(6);  // 6 -> 3 -> odd
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, sluice::errc::invalid_argument);
  EXPECT_EQ(r.error().message, "odd");
  EXPECT_TRUE(check_even(4));
  EXPECT_FALSE(check_even(5));
}

TEST(S3Errors, s3_category_has_its_name_and_a_message_per_value) {
  EXPECT_STREQ(s3::s3_category().name(), "s3");
  std::set<std::string> messages;
  for (int v = 0; v <= static_cast<int>(s3::errc::other); ++v) {
    std::string m = s3::s3_category().message(v);
    EXPECT_FALSE(m.empty()) << v;
    messages.insert(m);
  }
  EXPECT_EQ(messages.size(), static_cast<size_t>(s3::errc::other) + 1);
  std::error_code ec = s3::errc::no_such_bucket;
  EXPECT_EQ(&ec.category(), &s3::s3_category());
  EXPECT_NE(ec, sluice::errc::not_found);  // same number space, different category
}

TEST(S3Errors, known_codes_map_whatever_the_status) {
  const std::vector<std::pair<std::string, s3::errc>> cases = {
      {"NoSuchKey", s3::errc::no_such_key},
      {"NoSuchBucket", s3::errc::no_such_bucket},
      {"NoSuchUpload", s3::errc::no_such_upload},
      {"AccessDenied", s3::errc::access_denied},
      {"InvalidAccessKeyId", s3::errc::access_denied},
      {"SignatureDoesNotMatch", s3::errc::signature_does_not_match},
      {"InvalidRange", s3::errc::invalid_range},
      {"PreconditionFailed", s3::errc::precondition_failed},
      {"SlowDown", s3::errc::slow_down},
      {"ServiceUnavailable", s3::errc::slow_down},
      {"InternalError", s3::errc::internal_error},
      {"BucketNotEmpty", s3::errc::bucket_not_empty},
      {"BucketAlreadyExists", s3::errc::bucket_already_exists},
      {"BucketAlreadyOwnedByYou", s3::errc::bucket_already_exists},
      {"InvalidBucketName", s3::errc::invalid_bucket_name},
      {"EntityTooSmall", s3::errc::entity_too_small},
      {"InvalidPart", s3::errc::invalid_part},
      {"InvalidPartOrder", s3::errc::invalid_part},
      {"RequestTimeout", s3::errc::request_timeout},
      {"InvalidArgument", s3::errc::invalid_argument},
      {"InvalidRequest", s3::errc::invalid_argument},
      {"MalformedXML", s3::errc::invalid_argument},
      {"RequestTimeTooSkewed", s3::errc::request_time_skewed},
  };
  for (const auto& [code, expected] : cases) {
    for (int status : {200, 400, 403, 404, 500}) {
      EXPECT_EQ(s3::errc_from_code(code, status), expected) << code << " " << status;
    }
  }
}

TEST(S3Errors, codes_are_case_sensitive_and_exact) {
  EXPECT_EQ(s3::errc_from_code("nosuchkey", 400), s3::errc::other);
  EXPECT_EQ(s3::errc_from_code("NoSuchKey ", 400), s3::errc::other);
  EXPECT_EQ(s3::errc_from_code("NoSuch", 400), s3::errc::other);
}

TEST(S3Errors, unknown_or_absent_code_falls_back_on_status) {
  EXPECT_EQ(s3::errc_from_code("", 404), s3::errc::no_such_key);
  EXPECT_EQ(s3::errc_from_code("", 403), s3::errc::access_denied);
  EXPECT_EQ(s3::errc_from_code("", 412), s3::errc::precondition_failed);
  EXPECT_EQ(s3::errc_from_code("", 416), s3::errc::invalid_range);
  EXPECT_EQ(s3::errc_from_code("", 304), s3::errc::not_modified);
  EXPECT_EQ(s3::errc_from_code("", 503), s3::errc::slow_down);
  EXPECT_EQ(s3::errc_from_code("", 500), s3::errc::internal_error);
  EXPECT_EQ(s3::errc_from_code("", 502), s3::errc::internal_error);
  EXPECT_EQ(s3::errc_from_code("", 504), s3::errc::internal_error);
  EXPECT_EQ(s3::errc_from_code("", 400), s3::errc::other);
  EXPECT_EQ(s3::errc_from_code("", 409), s3::errc::other);
  EXPECT_EQ(s3::errc_from_code("", 200), s3::errc::other);
  EXPECT_EQ(s3::errc_from_code("", 0), s3::errc::other);
  EXPECT_EQ(s3::errc_from_code("SomethingNew", 404), s3::errc::no_such_key);
  EXPECT_EQ(s3::errc_from_code("SomethingNew", 400), s3::errc::other);
}

error with_status(std::error_code ec, int status) {
  error e(ec, "x");
  e.http_status = status;
  return e;
}

TEST(S3Errors, retryable_s3_codes) {
  EXPECT_TRUE(s3::is_retryable(error(s3::errc::slow_down, "x")));
  EXPECT_TRUE(s3::is_retryable(error(s3::errc::internal_error, "x")));
  // RequestTimeout comes with 400 but is worth another try.
  EXPECT_TRUE(s3::is_retryable(with_status(s3::errc::request_timeout, 400)));
}

TEST(S3Errors, retryable_transport_failures) {
  EXPECT_TRUE(s3::is_retryable(error(sluice::errc::timeout, "x")));
  EXPECT_TRUE(s3::is_retryable(error(sluice::errc::connection_failed, "x")));
  EXPECT_TRUE(s3::is_retryable(error(sluice::errc::truncated_response, "x")));
  // A garbled answer (bad status line, duplicate Content-Length) may be a one-off.
  EXPECT_TRUE(s3::is_retryable(error(sluice::errc::malformed_response, "x")));
}

TEST(S3Errors, any_5xx_is_retryable) {
  EXPECT_TRUE(s3::is_retryable(with_status(s3::errc::other, 500)));
  EXPECT_TRUE(s3::is_retryable(with_status(s3::errc::other, 599)));
  EXPECT_TRUE(s3::is_retryable(with_status(sluice::errc::malformed_response, 502)));
}

TEST(S3Errors, client_errors_and_local_failures_are_not_retryable) {
  EXPECT_FALSE(s3::is_retryable(error(sluice::errc::tls_verification, "x")));
  EXPECT_FALSE(s3::is_retryable(error(sluice::errc::cancelled, "x")));
  EXPECT_FALSE(s3::is_retryable(error(sluice::errc::invalid_argument, "x")));
  EXPECT_FALSE(s3::is_retryable(error(sluice::errc::integrity_mismatch, "x")));
  EXPECT_FALSE(s3::is_retryable(with_status(s3::errc::no_such_key, 404)));
  EXPECT_FALSE(s3::is_retryable(with_status(s3::errc::access_denied, 403)));
  EXPECT_FALSE(s3::is_retryable(with_status(s3::errc::precondition_failed, 412)));
  EXPECT_FALSE(s3::is_retryable(with_status(s3::errc::other, 400)));
  EXPECT_FALSE(s3::is_retryable(with_status(s3::errc::other, 600)));  // not 5xx
  EXPECT_FALSE(s3::is_retryable(error(std::make_error_code(std::errc::permission_denied), "x")));
}

TEST(S3Errors, cancellation_is_never_retried_even_with_a_5xx_status) {
  EXPECT_FALSE(s3::is_retryable(with_status(sluice::errc::cancelled, 503)));
  EXPECT_FALSE(s3::is_retryable(with_status(sluice::errc::tls_verification, 500)));
}

// One set of conditions, whichever layer failed: a program branches on these.
TEST(ErrorConditions, server_answers_map_onto_the_conditions_programs_branch_on) {
  using sluice::condition;
  EXPECT_TRUE(std::error_code(s3::errc::no_such_key) == condition::not_found);
  EXPECT_TRUE(std::error_code(s3::errc::no_such_bucket) == condition::not_found);
  EXPECT_TRUE(std::error_code(s3::errc::precondition_failed) == condition::precondition_failed);
  EXPECT_TRUE(std::error_code(s3::errc::access_denied) == condition::permission_denied);
  EXPECT_TRUE(std::error_code(s3::errc::invalid_range) == condition::invalid_argument);
  EXPECT_FALSE(std::error_code(s3::errc::no_such_key) == condition::precondition_failed);
  EXPECT_FALSE(std::error_code(s3::errc::internal_error) == condition::not_found);
}

TEST(ErrorConditions, client_codes_map_one_to_one) {
  using sluice::condition;
  namespace e = sluice;
  EXPECT_TRUE(std::error_code(e::errc::not_found) == condition::not_found);
  EXPECT_TRUE(std::error_code(e::errc::precondition_failed) == condition::precondition_failed);
  EXPECT_TRUE(std::error_code(e::errc::unsupported) == condition::unsupported);
  EXPECT_TRUE(std::error_code(e::errc::cancelled) == condition::cancelled);
  EXPECT_TRUE(std::error_code(e::errc::timeout) == condition::timeout);
  EXPECT_TRUE(std::error_code(e::errc::integrity_mismatch) == condition::integrity);
  EXPECT_TRUE(std::error_code(e::errc::corrupt_data) == condition::integrity);
  EXPECT_TRUE(std::error_code(e::errc::no_space) == condition::no_space);
  EXPECT_TRUE(std::error_code(e::errc::permission_denied) == condition::permission_denied);
  EXPECT_TRUE(std::error_code(e::errc::invalid_argument) == condition::invalid_argument);
  EXPECT_FALSE(std::error_code(e::errc::io_error) == condition::no_space);
  EXPECT_FALSE(std::error_code(e::errc::unsupported) == condition::precondition_failed);
  EXPECT_FALSE(std::error_code(e::errc::corrupt_data) == condition::invalid_argument);
}

TEST(ErrorConditions, errno_values_keep_their_number_and_map_onto_conditions) {
  using sluice::condition;
  auto full = sluice::os_fail("cannot write", "/data/x", ENOSPC);
  EXPECT_EQ(full.code, sluice::errc::no_space);
  EXPECT_EQ(full.sys_errno, ENOSPC);
  EXPECT_NE(full.message.find("/data/x"), std::string::npos);
  auto ro = sluice::os_fail("cannot write", "/data/x", EROFS);
  EXPECT_EQ(ro.code, sluice::errc::permission_denied);
  EXPECT_EQ(ro.sys_errno, EROFS);
  EXPECT_FALSE(ro.code == condition::no_space);
  auto other = sluice::os_fail("cannot read", "/data/x", EIO);
  EXPECT_EQ(other.code, sluice::errc::io_error);
  EXPECT_EQ(other.sys_errno, EIO);
  EXPECT_TRUE(std::make_error_code(std::errc::no_such_file_or_directory) == condition::not_found);
  EXPECT_TRUE(std::error_code(EDQUOT, std::system_category()) == condition::no_space);
}

}  // namespace
