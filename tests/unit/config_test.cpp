// INI parsing and configuration resolution. The environment is injected and
// HOME points at a fresh temporary directory: the real process environment
// and the real ~/.aws are never read.
#include <sluice/engine/s3/config.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace {

namespace s3 = sluice::s3;
namespace fs = std::filesystem;

TEST(Config, ini_sections_keys_comments_and_whitespace) {
  auto ini = s3::parse_ini(
      "# leading comment\n"
      "; another\n"
      "[default]\n"
      "  region = eu-west-1  \n"
      "output=json\n"
      "AWS_Access_Key_ID = AKIA\n"
      "\n"
      "[profile  dev ]\n"
      "endpoint_url = http://127.0.0.1:9000 # where minio runs\n"
      "colon: value with: colon\n"
      "empty =\n"
      "secret = abc/def+ghi=\n");
  ASSERT_TRUE(ini) << ini.error().message;
  ASSERT_EQ(ini->size(), 2u);
  const auto& d = ini->at("default");
  EXPECT_EQ(d.at("region"), "eu-west-1");
  EXPECT_EQ(d.at("output"), "json");
  EXPECT_EQ(d.at("aws_access_key_id"), "AKIA");  // keys are case-insensitive, stored lowercase
  const auto& dev = ini->at("profile  dev");
  EXPECT_EQ(dev.at("endpoint_url"), "http://127.0.0.1:9000");
  EXPECT_EQ(dev.at("colon"), "value with: colon");
  EXPECT_EQ(dev.at("empty"), "");
  EXPECT_EQ(dev.at("secret"), "abc/def+ghi=");
}

TEST(Config, ini_hash_without_space_is_part_of_the_value) {
  auto ini = s3::parse_ini("[a]\nk = pass#word;x\n");
  ASSERT_TRUE(ini);
  EXPECT_EQ(ini->at("a").at("k"), "pass#word;x");
}

TEST(Config, ini_crlf_bom_and_repeated_sections) {
  auto ini = s3::parse_ini("\xEF\xBB\xBF[a]\r\nk = 1\r\n[b]\r\nk = 2\r\n[a]\r\nj = 3\r\nk = 4\r\n");
  ASSERT_TRUE(ini) << ini.error().message;
  EXPECT_EQ(ini->at("a").at("k"), "4");
  EXPECT_EQ(ini->at("a").at("j"), "3");
  EXPECT_EQ(ini->at("b").at("k"), "2");
}

TEST(Config, ini_nested_sub_section) {
  auto ini = s3::parse_ini(
      "[profile x]\n"
      "s3 =\n"
      "  addressing_style = path\n"
      "  max_concurrent_requests = 20\n"
      "region = us-west-2\n");
  ASSERT_TRUE(ini) << ini.error().message;
  const auto& x = ini->at("profile x");
  EXPECT_EQ(x.at("s3"), "");
  EXPECT_EQ(x.at("s3.addressing_style"), "path");
  EXPECT_EQ(x.at("s3.max_concurrent_requests"), "20");
  EXPECT_EQ(x.at("region"), "us-west-2");
  EXPECT_EQ(x.count("addressing_style"), 0u);
}

TEST(Config, ini_errors_name_the_line_but_not_its_text) {
  struct bad_case {
    const char* text;
    const char* line;
  };
  for (const bad_case& c :
       {bad_case{"key = SECRETVALUE\n", "line 1"}, bad_case{"[a]\nSECRETVALUE\n", "line 2"},
        bad_case{"[a]\nk = v\n[SECRETVALUE\n", "line 3"}, bad_case{"[a]\n= SECRETVALUE\n", "line 2"},
        bad_case{"[]\n", "line 1"}, bad_case{"[a] SECRETVALUE\n", "line 1"}}) {
    auto ini = s3::parse_ini(c.text);
    ASSERT_FALSE(ini) << c.text;
    EXPECT_EQ(ini.error().code, sluice::errc::invalid_config);
    EXPECT_NE(ini.error().message.find(c.line), std::string::npos) << ini.error().message;
    EXPECT_EQ(ini.error().message.find("SECRETVALUE"), std::string::npos) << ini.error().message;
  }
}

TEST(Config, ini_empty_text_has_no_sections) {
  auto ini = s3::parse_ini("");
  ASSERT_TRUE(ini);
  EXPECT_TRUE(ini->empty());
  auto comments = s3::parse_ini("# nothing\n\n;here\n");
  ASSERT_TRUE(comments);
  EXPECT_TRUE(comments->empty());
}

// A temporary HOME with optional ~/.aws files and an injected environment.
class ConfigResolve : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "sluice-config-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    home_ = pattern;
    env_["HOME"] = home_.string();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(home_, ec);
  }

  void write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
  }
  void write_config(const std::string& text) { write(home_ / ".aws" / "config", text); }
  void write_credentials(const std::string& text) { write(home_ / ".aws" / "credentials", text); }

  s3::env_lookup env() const {
    return [vars = env_](std::string_view name) -> std::optional<std::string> {
      auto it = vars.find(std::string(name));
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  }
  sluice::result<s3::resolved_config> resolve(const s3::config_overrides& given = {}) {
    return s3::resolve_config(given, env());
  }

  fs::path home_;
  std::map<std::string, std::string> env_;
};

TEST_F(ConfigResolve, nothing_configured_gives_anonymous_aws_defaults) {
  auto c = resolve();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->creds.empty());
  EXPECT_EQ(c->region, "us-east-1");
  EXPECT_EQ(c->endpoint_url, "");
  EXPECT_EQ(c->ca_bundle, "");
  EXPECT_EQ(c->profile, "default");
  EXPECT_FALSE(c->path_style);
}

TEST_F(ConfigResolve, no_home_and_no_files_is_fine) {
  env_.erase("HOME");
  auto c = resolve();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->region, "us-east-1");
}

TEST_F(ConfigResolve, default_profile_from_both_files) {
  write_config(
      "[default]\nregion = eu-central-1\nendpoint_url = http://localhost:9000\nca_bundle = /etc/ca.pem\n");
  write_credentials("[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = SECRETFILE\n");
  auto c = resolve();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->creds.access_key_id, "AKIDFILE");
  EXPECT_EQ(c->creds.secret_access_key, "SECRETFILE");
  EXPECT_EQ(c->creds.session_token, "");
  EXPECT_EQ(c->region, "eu-central-1");
  EXPECT_EQ(c->endpoint_url, "http://localhost:9000");
  EXPECT_EQ(c->ca_bundle, "/etc/ca.pem");
  EXPECT_TRUE(c->path_style);  // custom endpoint
}

TEST_F(ConfigResolve, named_profile_uses_profile_prefix_in_config_only) {
  write_config(
      "[default]\nregion = us-west-1\n"
      "[profile dev]\nregion = ap-south-1\n"
      "[dev]\nregion = WRONG-config-section-without-prefix\n");
  write_credentials(
      "[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = SECRETDEV\n"
      "aws_session_token = TOKENDEV\n");
  s3::config_overrides given;
  given.profile = "dev";
  auto c = resolve(given);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->profile, "dev");
  EXPECT_EQ(c->region, "ap-south-1");
  EXPECT_EQ(c->creds.access_key_id, "AKIDDEV");
  EXPECT_EQ(c->creds.session_token, "TOKENDEV");
}

TEST_F(ConfigResolve, aws_profile_env_selects_the_profile) {
  write_config("[profile ci]\nregion = sa-east-1\n");
  env_["AWS_PROFILE"] = "ci";
  auto c = resolve();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->profile, "ci");
  EXPECT_EQ(c->region, "sa-east-1");

  s3::config_overrides given;  // an explicit profile beats AWS_PROFILE
  given.profile = "other";
  write_config("[profile ci]\nregion = sa-east-1\n[profile other]\nregion = af-south-1\n");
  auto o = resolve(given);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->region, "af-south-1");
}

TEST_F(ConfigResolve, unknown_named_profile_is_invalid_config_naming_it) {
  write_config("[default]\nregion = us-west-1\n");
  s3::config_overrides given;
  given.profile = "ghost";
  auto c = resolve(given);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, sluice::errc::invalid_config);
  EXPECT_NE(c.error().message.find("ghost"), std::string::npos);

  env_["AWS_PROFILE"] = "phantom";
  auto e = resolve();
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, sluice::errc::invalid_config);
  EXPECT_NE(e.error().message.find("phantom"), std::string::npos);
}

TEST_F(ConfigResolve, profile_only_in_credentials_file_counts_as_existing) {
  write_credentials("[creds-only]\naws_access_key_id = A\naws_secret_access_key = S\n");
  s3::config_overrides given;
  given.profile = "creds-only";
  auto c = resolve(given);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->creds.access_key_id, "A");
}

TEST_F(ConfigResolve, environment_credentials_beat_files_as_a_set) {
  write_credentials(
      "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = SECRETFILE\n"
      "aws_session_token = TOKENFILE\n");
  env_["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  env_["AWS_SECRET_ACCESS_KEY"] = "SECRETENV";
  auto c = resolve();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->creds.access_key_id, "AKIDENV");
  EXPECT_EQ(c->creds.secret_access_key, "SECRETENV");
  EXPECT_EQ(c->creds.session_token, "");  // the file's token does not leak into the env set

  env_["AWS_SESSION_TOKEN"] = "TOKENENV";
  auto t = resolve();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->creds.session_token, "TOKENENV");
}

TEST_F(ConfigResolve, explicit_credentials_beat_everything) {
  env_["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  env_["AWS_SECRET_ACCESS_KEY"] = "SECRETENV";
  s3::config_overrides given;
  given.creds = s3::credentials{"AKIDGIVEN", "SECRETGIVEN", ""};
  auto c = resolve(given);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->creds.access_key_id, "AKIDGIVEN");
  EXPECT_EQ(c->creds.secret_access_key, "SECRETGIVEN");

  given.creds = s3::credentials{};  // explicitly anonymous
  auto anon = resolve(given);
  ASSERT_TRUE(anon);
  EXPECT_TRUE(anon->creds.empty());
}

TEST_F(ConfigResolve, credentials_file_beats_config_file) {
  write_config("[default]\naws_access_key_id = AKIDCONFIG\naws_secret_access_key = SECRETCONFIG\n");
  write_credentials("[default]\naws_access_key_id = AKIDCREDS\naws_secret_access_key = SECRETCREDS\n");
  auto c = resolve();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->creds.access_key_id, "AKIDCREDS");

  write_credentials("[other]\nregion = x\n");
  auto from_config = resolve();
  ASSERT_TRUE(from_config) << from_config.error().message;
  EXPECT_EQ(from_config->creds.access_key_id, "AKIDCONFIG");
  EXPECT_EQ(from_config->creds.secret_access_key, "SECRETCONFIG");
}

TEST_F(ConfigResolve, half_credentials_are_invalid_config_without_the_secret_in_the_message) {
  env_["AWS_SECRET_ACCESS_KEY"] = "TOPSECRETENV";
  auto only_secret = resolve();
  ASSERT_FALSE(only_secret);
  EXPECT_EQ(only_secret.error().code, sluice::errc::invalid_config);
  EXPECT_EQ(only_secret.error().message.find("TOPSECRETENV"), std::string::npos);

  env_.erase("AWS_SECRET_ACCESS_KEY");
  env_["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  auto only_key = resolve();
  ASSERT_FALSE(only_key);
  EXPECT_EQ(only_key.error().code, sluice::errc::invalid_config);

  env_.erase("AWS_ACCESS_KEY_ID");
  write_credentials("[default]\naws_secret_access_key = TOPSECRETFILE\n");
  auto in_file = resolve();
  ASSERT_FALSE(in_file);
  EXPECT_EQ(in_file.error().code, sluice::errc::invalid_config);
  EXPECT_EQ(in_file.error().message.find("TOPSECRETFILE"), std::string::npos);
  EXPECT_NE(in_file.error().message.find("credentials"), std::string::npos);  // names the file

  s3::config_overrides given;
  given.creds = s3::credentials{"AKID", "", ""};
  auto explicit_half = resolve(given);
  ASSERT_FALSE(explicit_half);
  EXPECT_EQ(explicit_half.error().code, sluice::errc::invalid_config);
}

TEST_F(ConfigResolve, region_precedence) {
  write_config("[default]\nregion = from-config\n");
  auto file = resolve();
  ASSERT_TRUE(file);
  EXPECT_EQ(file->region, "from-config");

  env_["AWS_DEFAULT_REGION"] = "from-default-region";
  EXPECT_EQ(resolve()->region, "from-default-region");

  env_["AWS_REGION"] = "from-region";
  EXPECT_EQ(resolve()->region, "from-region");

  s3::config_overrides given;
  given.region = "from-override";
  EXPECT_EQ(resolve(given)->region, "from-override");
}

TEST_F(ConfigResolve, empty_environment_values_count_as_unset) {
  write_config("[default]\nregion = from-config\n");
  env_["AWS_REGION"] = "";
  env_["AWS_ACCESS_KEY_ID"] = "";
  env_["AWS_PROFILE"] = "";
  auto c = resolve();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->region, "from-config");
  EXPECT_EQ(c->profile, "default");
}

TEST_F(ConfigResolve, endpoint_and_ca_bundle_precedence) {
  write_config("[default]\nendpoint_url = http://config:1\nca_bundle = /config/ca.pem\n");
  auto file = resolve();
  ASSERT_TRUE(file);
  EXPECT_EQ(file->endpoint_url, "http://config:1");
  EXPECT_EQ(file->ca_bundle, "/config/ca.pem");

  env_["AWS_ENDPOINT_URL"] = "http://env:2";
  env_["AWS_CA_BUNDLE"] = "/env/ca.pem";
  auto env = resolve();
  ASSERT_TRUE(env);
  EXPECT_EQ(env->endpoint_url, "http://env:2");
  EXPECT_EQ(env->ca_bundle, "/env/ca.pem");

  s3::config_overrides given;
  given.endpoint_url = "http://given:3";
  given.ca_bundle = "/given/ca.pem";
  auto over = resolve(given);
  ASSERT_TRUE(over);
  EXPECT_EQ(over->endpoint_url, "http://given:3");
  EXPECT_EQ(over->ca_bundle, "/given/ca.pem");
}

TEST_F(ConfigResolve, path_style_rules) {
  auto aws = resolve();
  ASSERT_TRUE(aws);
  EXPECT_FALSE(aws->path_style);

  env_["AWS_ENDPOINT_URL"] = "http://127.0.0.1:4568";
  auto custom = resolve();
  ASSERT_TRUE(custom);
  EXPECT_TRUE(custom->path_style);

  s3::config_overrides given;
  given.path_style = false;
  auto forced = resolve(given);
  ASSERT_TRUE(forced);
  EXPECT_FALSE(forced->path_style);

  env_.erase("AWS_ENDPOINT_URL");
  given.path_style = true;
  auto forced_on = resolve(given);
  ASSERT_TRUE(forced_on);
  EXPECT_TRUE(forced_on->path_style);
}

TEST_F(ConfigResolve, addressing_style_from_the_s3_sub_section) {
  write_config("[default]\ns3 =\n  addressing_style = path\n");
  auto path = resolve();
  ASSERT_TRUE(path) << path.error().message;
  EXPECT_TRUE(path->path_style);

  write_config("[default]\nendpoint_url = http://e:1\ns3 =\n  addressing_style = virtual\n");
  auto virt = resolve();
  ASSERT_TRUE(virt) << virt.error().message;
  EXPECT_FALSE(virt->path_style);

  s3::config_overrides given;
  given.path_style = true;
  EXPECT_TRUE(resolve(given)->path_style);

  write_config("[default]\ns3 =\n  addressing_style = sideways\n");
  auto bad = resolve();
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, sluice::errc::invalid_config);
}

TEST_F(ConfigResolve, file_locations_from_the_environment) {
  write(home_ / "elsewhere" / "cfg", "[profile p]\nregion = from-custom-config\n");
  write(home_ / "elsewhere" / "creds", "[p]\naws_access_key_id = AKIDCUSTOM\naws_secret_access_key = S\n");
  write_config("[profile p]\nregion = from-default-location\n");
  env_["AWS_CONFIG_FILE"] = (home_ / "elsewhere" / "cfg").string();
  env_["AWS_SHARED_CREDENTIALS_FILE"] = "~/elsewhere/creds";  // '~' is HOME
  env_["AWS_PROFILE"] = "p";
  auto c = resolve();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->region, "from-custom-config");
  EXPECT_EQ(c->creds.access_key_id, "AKIDCUSTOM");
}

TEST_F(ConfigResolve, missing_files_named_by_the_environment_are_fine) {
  env_["AWS_CONFIG_FILE"] = (home_ / "nope" / "config").string();
  env_["AWS_SHARED_CREDENTIALS_FILE"] = (home_ / "nope" / "credentials").string();
  auto c = resolve();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->region, "us-east-1");
}

TEST_F(ConfigResolve, unparsable_file_is_invalid_config_without_its_content) {
  write_credentials("aws_secret_access_key = LEAKME\n");  // no section header
  auto c = resolve();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, sluice::errc::invalid_config);
  EXPECT_NE(c.error().message.find("credentials"), std::string::npos);
  EXPECT_EQ(c.error().message.find("LEAKME"), std::string::npos);

  fs::remove(home_ / ".aws" / "credentials");
  fs::create_directories(home_ / ".aws" / "config");  // a directory where a file should be
  auto dir = resolve();
  ASSERT_FALSE(dir);
  EXPECT_EQ(dir.error().code, sluice::errc::invalid_config);
}

TEST_F(ConfigResolve, profile_default_section_in_config_is_accepted) {
  write_config("[profile default]\nregion = via-profile-default\n");
  auto c = resolve();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->region, "via-profile-default");
}

TEST(Config, process_env_reads_nothing_for_an_unset_variable) {
  // Only a name that cannot be set is looked up: the process environment is left alone.
  auto env = s3::process_env();
  EXPECT_FALSE(env("SLUICE_TEST_SURELY_UNSET_VARIABLE_7f3a9c").has_value());
}

}  // namespace
