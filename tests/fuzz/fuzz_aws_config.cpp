// The AWS shared configuration files (engine/s3/config.hpp): parse_ini on
// arbitrary text, and resolve_config reading it as ~/.aws/config and
// ~/.aws/credentials.
// Properties:
// - parse_ini returns sections or an invalid_config error whose message is
//   "line N: <reason>" and quotes nothing from the file (values may be secrets);
// - what parse_ini returns, written back as an INI file, parses to the same
//   sections (keys lowercase, values trimmed, continuation lines and
//   sub-sections kept);
// - resolve_config fails exactly when a file does not parse; when it succeeds
//   the credentials are complete or absent and come from the files; its error
//   messages never contain a secret from the files.
#include "fuzz_check.hpp"

#include <sluice/engine/s3/config.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <string>

namespace {

namespace s3 = sluice::s3;

std::string write_ini(const s3::ini_sections& sections) {
  std::string out;
  for (const auto& [name, keys] : sections) {
    out += "[" + name + "]\n";
    for (const auto& [key, value] : keys) {
      // "key=value" without a space: a value may start with '#' or ';'.
      out += key + "=";
      std::string_view v = value;
      for (auto nl = v.find('\n'); nl != std::string_view::npos; nl = v.find('\n')) {
        out += std::string(v.substr(0, nl)) + "\n  ";  // a continuation line
        v.remove_prefix(nl + 1);
      }
      out += std::string(v) + "\n";
    }
  }
  return out;
}

// A sub-section key may hold ':' ("s3 =\n  a:b = 1" gives "s3.a:b", as botocore
// reads it), which a top-level "key = value" line cannot: write_ini would need
// to rebuild the nesting. Those documents are left out of the round trip.
bool has_colon_in_key(const s3::ini_sections& sections) {
  for (const auto& [name, keys] : sections) {
    for (const auto& [key, value] : keys) {
      if (key.find(':') != std::string::npos) return true;
    }
  }
  return false;
}

bool says_only_where(std::string_view message) {
  // "line N: <fixed reason>", nothing from the file.
  if (!message.starts_with("line ")) return false;
  std::size_t i = 5;
  while (i < message.size() && message[i] >= '0' && message[i] <= '9') ++i;
  if (i == 5 || message.substr(i, 2) != ": ") return false;
  const std::string_view reason = message.substr(i + 2);
  for (std::string_view fixed :
       {"expected 'key = value' in a sub-section", "empty key in a sub-section", "section header without ']'",
        "text after a section header", "empty section name", "expected '[section]' or 'key = value'",
        "'key = value' before any [section]", "empty key"}) {
    if (reason == fixed) return true;
  }
  return false;
}

// The file's text as a path resolve_config can open.
class memory_file {
 public:
  explicit memory_file(std::string_view text) : fd_(::memfd_create("fuzz-aws-config", MFD_CLOEXEC)) {
    SLUICE_FUZZ_CHECK(fd_ >= 0);
    for (std::size_t done = 0; done < text.size();) {
      const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
      SLUICE_FUZZ_CHECK(n > 0);
      done += static_cast<std::size_t>(n);
    }
  }
  ~memory_file() { ::close(fd_); }
  memory_file(const memory_file&) = delete;
  memory_file& operator=(const memory_file&) = delete;
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

// Long enough, and plain enough, that no fixed message text contains it.
bool secret_like(std::string_view v) {
  if (v.size() < 16) return false;
  for (char c : v) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

void check_resolve(std::string_view text, const sluice::result<s3::ini_sections>& parsed, bool as_config,
                   bool named_profile) {
  memory_file file(text);
  const std::string path = file.path();
  const s3::env_lookup env = [&](std::string_view name) -> std::optional<std::string> {
    if (name == (as_config ? "AWS_CONFIG_FILE" : "AWS_SHARED_CREDENTIALS_FILE")) return path;
    if (name == (as_config ? "AWS_SHARED_CREDENTIALS_FILE" : "AWS_CONFIG_FILE")) return "/nonexistent/fuzz";
    if (name == "AWS_PROFILE" && named_profile) return "fuzz";
    return std::nullopt;
  };
  auto cfg = s3::resolve_config({}, env);
  if (!parsed) {
    SLUICE_FUZZ_CHECK(!cfg && cfg.error().code == sluice::errc::invalid_config);
    return;
  }
  if (!cfg) {
    SLUICE_FUZZ_CHECK(cfg.error().code == sluice::errc::invalid_config);
    for (const auto& [name, keys] : *parsed) {
      for (const auto& [key, value] : keys) {
        if (key != "aws_secret_access_key" && key != "aws_session_token" && key != "aws_security_token")
          continue;
        if (!secret_like(value) || name.find(value) != std::string::npos) continue;
        SLUICE_FUZZ_CHECK(cfg.error().message.find(value) == std::string::npos);
      }
    }
    return;
  }
  SLUICE_FUZZ_CHECK(cfg->creds.access_key_id.empty() == cfg->creds.secret_access_key.empty());
  SLUICE_FUZZ_CHECK(!cfg->region.empty());
  SLUICE_FUZZ_CHECK(cfg->profile == (named_profile ? "fuzz" : "default"));
  if (!cfg->creds.secret_access_key.empty()) {
    bool found = false;
    for (const auto& [name, keys] : *parsed) {
      auto it = keys.find("aws_secret_access_key");
      found = found || (it != keys.end() && it->second == cfg->creds.secret_access_key);
    }
    SLUICE_FUZZ_CHECK(found);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = sluice::fuzz::as_text(data, size);
  auto parsed = s3::parse_ini(text);
  if (!parsed) {
    SLUICE_FUZZ_CHECK(parsed.error().code == sluice::errc::invalid_config);
    SLUICE_FUZZ_CHECK(says_only_where(parsed.error().message));
  } else if (!has_colon_in_key(*parsed)) {
    const std::string written = write_ini(*parsed);
    auto again = s3::parse_ini(written);
    SLUICE_FUZZ_CHECK(again && *again == *parsed);
  }
  const bool as_config = size % 2 == 0, named_profile = size % 3 == 0;
  check_resolve(text, parsed, as_config, named_profile);
  return 0;
}
