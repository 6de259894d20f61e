// Errors as values: every fallible sluice operation returns result<T>.
//
// An error carries an error_code (so callers can branch on errc values of the
// subsystem that produced it) and a human message meant for a one-line report.
// Messages never contain secrets (credentials, signatures, presigned queries).
#pragma once

#include <boost/system/result.hpp>

#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace sluice {

// Client-side failures that are not S3 server answers (those are s3::errc).
enum class errc {
  ok = 0,
  invalid_argument = 1,      // a caller passed something malformed (URL, bucket, key, size)
  invalid_config = 2,        // credentials / profile / endpoint configuration unusable
  malformed_response = 3,    // the server sent something that is not valid HTTP/XML/S3
  truncated_response = 4,    // the connection ended before the announced body did
  timeout = 5,               // connect, first-byte, idle or overall deadline passed
  connection_failed = 6,     // resolve/connect/TLS handshake/reset
  tls_verification = 7,      // the server's certificate did not verify
  integrity_mismatch = 8,    // the bytes read do not match their recorded hash (XXH3, CRC-32C)
  io_error = 9,              // local file system failure
  cancelled = 10,            // the operation was cancelled by its owner
  too_large = 11,            // a response or object exceeds what the caller allows
  not_found = 12,            // a local path or remote object is not there
  precondition_failed = 13,  // a conditional write/remove found another generation
  unsupported = 14,          // the store or server cannot honour what was asked (a condition, say)
  permission_denied = 15,    // the file system refused access (EACCES, EPERM, EROFS)
  no_space = 16,             // the file system is full (ENOSPC, EDQUOT)
  corrupt_data = 17,         // stored bytes do not decode: a truncated or damaged compressed frame
};

// What a program branches on, whichever layer failed: every sluice::errc, every
// s3::errc and local errno values (system or generic category) are equivalent
// to one of these (`if (e.code == sluice::condition::not_found)`). The
// original code stays in error::code, the errno in error::sys_errno.
enum class condition {
  not_found = 1,            // no such key, object, bucket or local path
  precondition_failed = 2,  // If-Match / If-None-Match / generation did not hold
  unsupported = 3,          // the driver or server cannot honour the request
  cancelled = 4,
  timeout = 5,
  integrity = 6,          // the bytes do not match their recorded hash, or do not decode
  permission_denied = 7,  // credentials refused, or the file system refused access
  no_space = 8,           // the local file system is full
  invalid_argument = 9,   // a malformed key, range, URL or option
};

const std::error_category& condition_category() noexcept;
inline std::error_condition make_error_condition(condition c) noexcept {
  return {static_cast<int>(c), condition_category()};
}

const std::error_category& sluice_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), sluice_category()};
}

struct error {
  std::error_code code;
  std::string message;     // what failed and why, one line
  std::string request_id;  // S3 x-amz-request-id when the server answered
  int http_status = 0;     // 0 when no HTTP answer was received
  int sys_errno = 0;       // the errno of a failed local system call, else 0

  error() = default;
  error(std::error_code c, std::string msg) : code(c), message(std::move(msg)) {}
  template <class E>
  requires std::is_error_code_enum_v<E> error(E e, std::string msg)
      : code(make_error_code(e)), message(std::move(msg)) {}

  // The message plus the code's category/value and request id, for a one-line report.
  std::string describe() const;
};

// Used by boost::system::result<T, error>::value() on an error: bugs only.
[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

template <class T>
using result = boost::system::result<T, error>;

// Build an error result: `return fail(errc::invalid_argument, "bad key");`
template <class E>
requires std::is_error_code_enum_v<E>
inline error fail(E e, std::string msg) {
  return error(e, std::move(msg));
}

// A failed local system call: "<what> '<path>': <strerror>", with the errno
// kept and the code chosen from it (no_space, permission_denied, not_found,
// else io_error).
error os_fail(std::string_view what, std::string_view path, int err);
// The same with a message of the caller's.
error errno_error(int err, std::string message);

}  // namespace sluice

template <>
struct std::is_error_code_enum<sluice::errc> : std::true_type {};
template <>
struct std::is_error_condition_enum<sluice::condition> : std::true_type {};

// Propagate an error from an expression of type result<T> inside a function
// returning result<U> (or inside a coroutine: use SLUICE_CO_TRY).
#define SLUICE_CONCAT_INNER(a, b) a##b
#define SLUICE_CONCAT(a, b) SLUICE_CONCAT_INNER(a, b)
#define SLUICE_TRY_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                     \
  if (!tmp) return tmp.error();          \
  decl = std::move(*tmp)
#define SLUICE_TRY(decl, expr) SLUICE_TRY_IMPL(SLUICE_CONCAT(sluice_try_, __LINE__), decl, expr)
#define SLUICE_CO_TRY_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                        \
  if (!tmp) co_return tmp.error();          \
  decl = std::move(*tmp)
#define SLUICE_CO_TRY(decl, expr) SLUICE_CO_TRY_IMPL(SLUICE_CONCAT(sluice_try_, __LINE__), decl, expr)
#define SLUICE_TRY_VOID(expr)                                          \
  do {                                                                 \
    if (auto sluice_r_ = (expr); !sluice_r_) return sluice_r_.error(); \
  } while (0)
#define SLUICE_CO_TRY_VOID(expr)                                          \
  do {                                                                    \
    if (auto sluice_r_ = (expr); !sluice_r_) co_return sluice_r_.error(); \
  } while (0)
