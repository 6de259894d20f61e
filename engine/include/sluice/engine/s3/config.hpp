// Where credentials, region and endpoint come from, following the AWS
// conventions: explicit values win, then the environment (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION / AWS_DEFAULT_REGION,
// AWS_ENDPOINT_URL, AWS_PROFILE, AWS_CA_BUNDLE, AWS_CONFIG_FILE,
// AWS_SHARED_CREDENTIALS_FILE), then ~/.aws/credentials and ~/.aws/config.
#pragma once

#include <sluice/engine/runtime/result.hpp>
#include <sluice/engine/s3/sigv4.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::s3 {

// What a caller states explicitly (CLI flags, API options). Empty = not given.
struct config_overrides {
  std::optional<std::string> profile;
  std::optional<std::string> region;
  std::optional<std::string> endpoint_url;
  std::optional<std::string> ca_bundle;
  std::optional<credentials> creds;
  std::optional<bool> path_style;  // default: true for custom endpoints, false for AWS
};

struct resolved_config {
  credentials creds;           // may be empty: anonymous requests are then unsigned
  std::string region;          // defaults to "us-east-1"
  std::string endpoint_url;    // empty: AWS (https://s3.<region>.amazonaws.com)
  std::string ca_bundle;       // empty: system trust store
  std::string profile;         // the profile used ("default" when none named)
  bool path_style = true;
};

// Reads an INI file as the AWS CLI does: [section] headers, key = value,
// '#' and ';' comments, whitespace trimmed. In ~/.aws/config sections are
// "[profile NAME]" except "[default]"; in credentials they are "[NAME]".
using ini_sections = std::map<std::string, std::map<std::string, std::string>>;
result<ini_sections> parse_ini(std::string_view text);

// The environment as a lookup function, so tests need not touch the process
// environment. Returns nullopt for unset variables.
using env_lookup = std::function<std::optional<std::string>(std::string_view name)>;
env_lookup process_env();

// Resolves the configuration. A named profile that exists in neither file is
// an invalid_config error; a profile file that cannot be parsed is too.
// HOME locates ~/.aws unless AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE say.
result<resolved_config> resolve_config(const config_overrides& given, const env_lookup& env);

}  // namespace sluice::s3
