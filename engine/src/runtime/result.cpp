// sluice::errc's category, one-line error reports, and the throw hook that
// boost::system::result uses when value() is called on an error.
#include <sluice/engine/runtime/result.hpp>

#include <boost/system/system_error.hpp>

#include <cerrno>
#include <cstring>

namespace sluice {
namespace {

class sluice_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sluice"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::ok:
        return "success";
      case errc::invalid_argument:
        return "invalid argument";
      case errc::invalid_config:
        return "invalid configuration";
      case errc::malformed_response:
        return "malformed response";
      case errc::truncated_response:
        return "truncated response";
      case errc::timeout:
        return "timed out";
      case errc::connection_failed:
        return "connection failed";
      case errc::tls_verification:
        return "TLS certificate verification failed";
      case errc::integrity_mismatch:
        return "integrity check failed: data does not match its recorded hash";
      case errc::io_error:
        return "local I/O error";
      case errc::cancelled:
        return "cancelled";
      case errc::too_large:
        return "too large";
      case errc::not_found:
        return "not found";
      case errc::precondition_failed:
        return "precondition failed";
      case errc::unsupported:
        return "not supported";
      case errc::permission_denied:
        return "permission denied";
      case errc::no_space:
        return "no space left";
      case errc::corrupt_data:
        return "corrupt data: the bytes do not decode";
    }
    return "unknown sluice error " + std::to_string(value);
  }

  bool equivalent(int value, const std::error_condition& cond) const noexcept override {
    if (cond.category() != condition_category()) return std::error_category::equivalent(value, cond);
    auto c = static_cast<condition>(cond.value());
    switch (static_cast<errc>(value)) {
      case errc::not_found:
        return c == condition::not_found;
      case errc::precondition_failed:
        return c == condition::precondition_failed;
      case errc::unsupported:
        return c == condition::unsupported;
      case errc::cancelled:
        return c == condition::cancelled;
      case errc::timeout:
        return c == condition::timeout;
      case errc::integrity_mismatch:
      case errc::corrupt_data:  // damaged bytes, found by their decoder rather than by a hash
        return c == condition::integrity;
      case errc::permission_denied:
        return c == condition::permission_denied;
      case errc::no_space:
        return c == condition::no_space;
      case errc::invalid_argument:
        return c == condition::invalid_argument;
      default:
        return false;
    }
  }
};

// errno values (generic or system category) seen as conditions.
bool errno_is(int e, condition c) noexcept {
  switch (c) {
    case condition::not_found:
      return e == ENOENT;
    case condition::permission_denied:
      return e == EACCES || e == EPERM || e == EROFS;
    case condition::no_space:
      return e == ENOSPC || e == EDQUOT;
    case condition::timeout:
      return e == ETIMEDOUT;
    case condition::cancelled:
      return e == ECANCELED;
    case condition::invalid_argument:
      return e == EINVAL || e == ENAMETOOLONG;
    default:
      return false;
  }
}

class condition_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sluice-condition"; }
  std::string message(int value) const override {
    switch (static_cast<condition>(value)) {
      case condition::not_found:
        return "not found";
      case condition::precondition_failed:
        return "precondition failed";
      case condition::unsupported:
        return "not supported";
      case condition::cancelled:
        return "cancelled";
      case condition::timeout:
        return "timed out";
      case condition::integrity:
        return "integrity check failed";
      case condition::permission_denied:
        return "permission denied";
      case condition::no_space:
        return "no space left";
      case condition::invalid_argument:
        return "invalid argument";
    }
    return "unknown condition " + std::to_string(value);
  }
  // Codes of other categories that do not know this one: errno values.
  bool equivalent(const std::error_code& code, int value) const noexcept override {
    if (code.category() == std::generic_category() || code.category() == std::system_category())
      return errno_is(code.value(), static_cast<condition>(value));
    return false;
  }
};

// A report is one line: control characters (a server's multi-line message,
// say) become spaces.
void append_one_line(std::string& out, std::string_view text) {
  for (char c : text) out.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
}

}  // namespace

const std::error_category& condition_category() noexcept {
  static const condition_category_impl category;
  return category;
}

error errno_error(int err, std::string message) {
  errc code = errc::io_error;
  if (errno_is(err, condition::no_space))
    code = errc::no_space;
  else if (errno_is(err, condition::permission_denied))
    code = errc::permission_denied;
  else if (errno_is(err, condition::not_found))
    code = errc::not_found;
  error e(code, std::move(message));
  e.sys_errno = err;
  return e;
}

error os_fail(std::string_view what, std::string_view path, int err) {
  return errno_error(err, std::string(what) + " '" + std::string(path) + "': " + std::strerror(err));
}

const std::error_category& sluice_category() noexcept {
  static const sluice_category_impl category;
  return category;
}

std::string error::describe() const {
  std::string out;
  append_one_line(out, message.empty() ? code.message() : message);
  std::string details;
  if (http_status != 0) details += "HTTP " + std::to_string(http_status);
  if (!request_id.empty()) {
    if (!details.empty()) details += ", ";
    details += "request id ";
    append_one_line(details, request_id);
  }
  if (!details.empty()) out += " (" + details + ")";
  return out;
}

void throw_exception_from_error(const error& e, const boost::source_location& /*loc*/) {
  // what() reads "<describe()>: <code message>"; code() keeps the original std::error_code.
  throw boost::system::system_error(boost::system::error_code(e.code), e.describe());
}

}  // namespace sluice
