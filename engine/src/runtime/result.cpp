// sluice::errc's category, one-line error reports, and the throw hook that
// boost::system::result uses when value() is called on an error.
#include <sluice/engine/runtime/result.hpp>

#include <boost/system/system_error.hpp>

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
        return "integrity check failed: data does not match its XXH3";
      case errc::io_error:
        return "local I/O error";
      case errc::cancelled:
        return "cancelled";
      case errc::too_large:
        return "too large";
      case errc::not_found:
        return "not found";
    }
    return "unknown sluice error " + std::to_string(value);
  }
};

// A report is one line: control characters (a server's multi-line message,
// say) become spaces.
void append_one_line(std::string& out, std::string_view text) {
  for (char c : text) out.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
}

}  // namespace

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
