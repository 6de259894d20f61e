// AWS shared configuration: INI files, environment, explicit values.
//
// Error messages name files, profiles, keys and line numbers, never values:
// a value may be a secret.
#include <sluice/engine/s3/config.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

namespace sluice::s3 {
namespace {

constexpr std::string_view blanks = " \t\r\f\v";

std::string_view trim(std::string_view s) {
  auto begin = s.find_first_not_of(blanks);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(blanks) - begin + 1);
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// A '#' or ';' preceded by whitespace starts a comment at the end of a line.
// (Secrets never contain whitespace, so this cannot cut one.)
std::string_view strip_trailing_comment(std::string_view s) {
  for (size_t i = 1; i < s.size(); ++i) {
    if ((s[i] == '#' || s[i] == ';') && (s[i - 1] == ' ' || s[i - 1] == '\t')) return trim(s.substr(0, i));
  }
  return s;
}

size_t indent_of(std::string_view line) {
  auto first = line.find_first_not_of(blanks);
  return first == std::string_view::npos ? line.size() : first;
}

error ini_error(size_t line_number, std::string_view what) {
  return error(sluice::errc::invalid_config,
               "line " + std::to_string(line_number) + ": " + std::string(what));
}

// What one configuration source holds for the chosen profile.
struct source_values {
  std::optional<std::string> access_key_id;
  std::optional<std::string> secret_access_key;
  std::optional<std::string> session_token;
};

// Reads one credentials set from a source; a lone key id or a lone secret is
// an error (it is almost always a typo, and guessing the other half is worse).
result<std::optional<credentials>> credentials_from(const source_values& v, std::string_view where) {
  if (!v.access_key_id && !v.secret_access_key) return std::optional<credentials>{};
  if (!v.access_key_id || !v.secret_access_key) {
    return error(sluice::errc::invalid_config,
                 std::string(where) + " has " +
                     (v.access_key_id ? "an access key id without a secret access key"
                                      : "a secret access key without an access key id"));
  }
  credentials c{*v.access_key_id, *v.secret_access_key, v.session_token.value_or("")};
  return std::optional<credentials>(std::move(c));
}

using ini_section = std::map<std::string, std::string>;

std::optional<std::string> value_of(const ini_section* section, std::string_view key) {
  if (section == nullptr) return std::nullopt;
  auto it = section->find(std::string(key));
  if (it == section->end() || it->second.empty()) return std::nullopt;
  return it->second;
}

source_values credentials_in(const ini_section* section) {
  source_values v;
  v.access_key_id = value_of(section, "aws_access_key_id");
  v.secret_access_key = value_of(section, "aws_secret_access_key");
  v.session_token = value_of(section, "aws_session_token");
  if (!v.session_token) v.session_token = value_of(section, "aws_security_token");  // the older name
  return v;
}

struct loaded_file {
  std::string path;  // empty: no file to read
  ini_sections sections;
};

// A missing file is no error: most machines have neither file.
result<loaded_file> load_file(std::string path) {
  loaded_file out{std::move(path), {}};
  if (out.path.empty()) return out;
  std::error_code ec;
  auto status = std::filesystem::status(out.path, ec);
  if (status.type() == std::filesystem::file_type::not_found) return out;
  if (ec) return error(sluice::errc::invalid_config, "cannot read " + out.path + ": " + ec.message());
  if (status.type() == std::filesystem::file_type::directory) {
    return error(sluice::errc::invalid_config, "cannot read " + out.path + ": it is a directory");
  }
  std::ifstream in(out.path, std::ios::binary);
  if (!in) return error(sluice::errc::invalid_config, "cannot read " + out.path);
  std::ostringstream text;
  text << in.rdbuf();
  auto parsed = parse_ini(text.str());
  if (!parsed) return error(sluice::errc::invalid_config, out.path + ": " + parsed.error().message);
  out.sections = std::move(*parsed);
  return out;
}

std::optional<std::string> non_empty(std::optional<std::string> v) {
  if (v && v->empty()) return std::nullopt;
  return v;
}

// "~/x" -> "$HOME/x", as the AWS CLI expands these paths.
std::string expand_home(std::string path, const std::optional<std::string>& home) {
  if (home && (path == "~" || path.starts_with("~/"))) return *home + path.substr(1);
  return path;
}

}  // namespace

result<ini_sections> parse_ini(std::string_view text) {
  ini_sections sections;
  ini_section* section = nullptr;
  std::string current_key;  // the last key, for continuation lines
  size_t key_indent = 0;    // indentation of the line that set current_key
  size_t line_number = 0;

  while (!text.empty()) {
    auto end = text.find('\n');
    std::string_view raw = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++line_number;
    if (line_number == 1 && raw.starts_with("\xEF\xBB\xBF")) raw.remove_prefix(3);  // UTF-8 BOM

    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;

    // An indented line under a key continues it: "s3 =\n  addressing_style = path".
    size_t indent = indent_of(raw);
    if (section != nullptr && !current_key.empty() && indent > key_indent) {
      std::string& parent = (*section)[current_key];
      if (parent.empty() || parent.front() == '\n') {
        // A nested sub-section: stored as "parent.sub" keys.
        auto eq = line.find('=');
        if (eq == std::string_view::npos) {
          return ini_error(line_number, "expected 'key = value' in a sub-section");
        }
        std::string sub = lowercase(trim(line.substr(0, eq)));
        if (sub.empty()) return ini_error(line_number, "empty key in a sub-section");
        (*section)[current_key + "." + sub] = std::string(strip_trailing_comment(trim(line.substr(eq + 1))));
        parent = "\n";  // marks the key as a sub-section
      } else {
        parent += '\n';
        parent += strip_trailing_comment(line);
      }
      continue;
    }

    if (line.front() == '[') {
      auto close = line.find(']');
      if (close == std::string_view::npos) return ini_error(line_number, "section header without ']'");
      std::string_view rest = trim(line.substr(close + 1));
      if (!rest.empty() && rest.front() != '#' && rest.front() != ';') {
        return ini_error(line_number, "text after a section header");
      }
      std::string name(trim(line.substr(1, close - 1)));
      if (name.empty()) return ini_error(line_number, "empty section name");
      section = &sections[name];  // a repeated section adds to the first
      current_key.clear();
      continue;
    }

    auto eq = line.find_first_of("=:");
    if (eq == std::string_view::npos) return ini_error(line_number, "expected '[section]' or 'key = value'");
    if (section == nullptr) return ini_error(line_number, "'key = value' before any [section]");
    std::string key = lowercase(trim(line.substr(0, eq)));
    if (key.empty()) return ini_error(line_number, "empty key");
    (*section)[key] = std::string(strip_trailing_comment(trim(line.substr(eq + 1))));
    // Drop sub-section keys of an earlier definition of the same key.
    for (auto it = section->lower_bound(key + ".");
         it != section->end() && it->first.starts_with(key + ".");) {
      it = section->erase(it);
    }
    current_key = key;
    key_indent = indent;
  }
  // Sub-section parents keep an empty value, like "s3 =" in the file.
  for (auto& [name, keys] : sections) {
    for (auto& [key, value] : keys) {
      if (value == "\n") value.clear();
    }
  }
  return sections;
}

env_lookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    std::string n(name);
    const char* value = std::getenv(n.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

result<resolved_config> resolve_config(const config_overrides& given, const env_lookup& env) {
  auto get = [&](std::string_view name) { return non_empty(env ? env(name) : std::nullopt); };
  const std::optional<std::string> home = get("HOME");

  resolved_config out;

  // Which profile: explicit, then AWS_PROFILE (AWS_DEFAULT_PROFILE is the older name), then "default".
  std::optional<std::string> named_profile = given.profile ? non_empty(given.profile) : std::nullopt;
  if (!named_profile) named_profile = get("AWS_PROFILE");
  if (!named_profile) named_profile = get("AWS_DEFAULT_PROFILE");
  out.profile = named_profile.value_or("default");

  std::string config_path;
  if (auto p = get("AWS_CONFIG_FILE")) {
    config_path = expand_home(*p, home);
  } else if (home) {
    config_path = *home + "/.aws/config";
  }
  std::string credentials_path;
  if (auto p = get("AWS_SHARED_CREDENTIALS_FILE")) {
    credentials_path = expand_home(*p, home);
  } else if (home) {
    credentials_path = *home + "/.aws/credentials";
  }
  SLUICE_TRY(loaded_file config_file, load_file(config_path));
  SLUICE_TRY(loaded_file credentials_file, load_file(credentials_path));

  // In the config file a profile is "[profile NAME]", except "[default]"
  // (for which "[profile default]" is accepted too and wins).
  const ini_section* config_section = nullptr;
  for (const auto& [name, keys] : config_file.sections) {
    std::string_view n = name;
    if (n.starts_with("profile") && n.size() > 7 && (n[7] == ' ' || n[7] == '\t')) {
      if (trim(n.substr(7)) == out.profile) config_section = &keys;
    } else if (n == "default" && out.profile == "default" && config_section == nullptr) {
      config_section = &keys;  // sorts before "profile default", which then replaces it
    }
  }
  const ini_section* credentials_section = nullptr;
  if (auto it = credentials_file.sections.find(out.profile); it != credentials_file.sections.end()) {
    credentials_section = &it->second;
  }

  if (named_profile && config_section == nullptr && credentials_section == nullptr) {
    std::string where;
    for (const std::string& p : {config_file.path, credentials_file.path}) {
      if (p.empty()) continue;
      where += where.empty() ? " in " : " or ";
      where += p;
    }
    return error(sluice::errc::invalid_config, "profile '" + out.profile + "' not found" + where);
  }

  // A setting of the profile: the credentials file wins over the config file,
  // as the AWS CLI merges them.
  auto profile_value = [&](std::string_view key) {
    if (auto v = value_of(credentials_section, key)) return v;
    return value_of(config_section, key);
  };

  // Credentials: each source gives a complete set or nothing.
  if (given.creds) {
    const credentials& c = *given.creds;
    if (c.access_key_id.empty() != c.secret_access_key.empty()) {
      return error(sluice::errc::invalid_config,
                   std::string("explicit credentials have ") +
                       (c.access_key_id.empty() ? "a secret access key without an access key id"
                                                : "an access key id without a secret access key"));
    }
    out.creds = c;  // both empty: explicitly anonymous
  } else {
    source_values from_env{get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY"), get("AWS_SESSION_TOKEN")};
    SLUICE_TRY(auto env_creds, credentials_from(from_env, "the environment"));
    SLUICE_TRY(auto file_creds,
               credentials_from(credentials_in(credentials_section),
                                "profile '" + out.profile + "' in " + credentials_file.path));
    SLUICE_TRY(auto config_creds, credentials_from(credentials_in(config_section),
                                                   "profile '" + out.profile + "' in " + config_file.path));
    if (env_creds) {
      out.creds = std::move(*env_creds);
    } else if (file_creds) {
      out.creds = std::move(*file_creds);
    } else if (config_creds) {
      out.creds = std::move(*config_creds);
    }
  }

  if (auto v = given.region ? non_empty(given.region) : std::nullopt) {
    out.region = *v;
  } else if (auto r = get("AWS_REGION")) {
    out.region = *r;
  } else if (auto d = get("AWS_DEFAULT_REGION")) {
    out.region = *d;
  } else {
    out.region = profile_value("region").value_or("us-east-1");
  }

  if (given.endpoint_url) {
    out.endpoint_url = *given.endpoint_url;
  } else if (auto s3_endpoint = get("AWS_ENDPOINT_URL_S3")) {
    out.endpoint_url = *s3_endpoint;
  } else if (auto e = get("AWS_ENDPOINT_URL")) {
    out.endpoint_url = *e;
  } else {
    out.endpoint_url = profile_value("endpoint_url").value_or("");
  }

  if (given.ca_bundle) {
    out.ca_bundle = *given.ca_bundle;
  } else if (auto c = get("AWS_CA_BUNDLE")) {
    out.ca_bundle = *c;
  } else {
    out.ca_bundle = profile_value("ca_bundle").value_or("");
  }
  out.ca_bundle = expand_home(out.ca_bundle, home);

  if (given.path_style) {
    out.path_style = *given.path_style;
  } else {
    out.path_style = !out.endpoint_url.empty();
    if (auto style = profile_value("s3.addressing_style")) {
      if (*style == "path") {
        out.path_style = true;
      } else if (*style == "virtual") {
        out.path_style = false;
      } else if (*style != "auto") {
        return error(sluice::errc::invalid_config,
                     "profile '" + out.profile + "': s3 addressing_style must be path, virtual or auto");
      }
    }
  }
  return out;
}

}  // namespace sluice::s3
