#include "cli.hpp"

#include "json_output.hpp"

#include <sluice/store/s3.hpp>

#include <sluice/engine/s3/config.hpp>

#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

namespace sluice::cli {

result<s3::client_options> resolve_client_options(const global_options& g) {
  s3::config_overrides o;
  if (!g.endpoint_url.empty()) o.endpoint_url = g.endpoint_url;
  if (!g.region.empty()) o.region = g.region;
  if (!g.profile.empty()) o.profile = g.profile;
  if (!g.ca_bundle.empty()) o.ca_bundle = g.ca_bundle;
  if (g.no_sign_request) o.creds = s3::credentials{};  // stated: nothing from the environment or profiles
  const s3::env_lookup env = s3::process_env();
  SLUICE_TRY(s3::resolved_config cfg, s3::resolve_config(o, env));
  if (cfg.creds.empty() && !g.no_sign_request) {
    auto file = [&](const char* variable, const char* name) {
      if (auto v = env(variable); v && !v->empty()) return *v;
      auto home = env("HOME");
      return (home ? *home : std::string("~")) + "/.aws/" + name;
    };
    return fail(
        errc::invalid_config,
        "no credentials found: looked in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then profile '" +
            cfg.profile + "' in " + file("AWS_SHARED_CREDENTIALS_FILE", "credentials") + " and " +
            file("AWS_CONFIG_FILE", "config") + " (--no-sign-request sends anonymous requests)");
  }
  s3::client_options opts;
  opts.config = std::move(cfg);
  opts.http.tls.verify = !g.no_verify_ssl;
  opts.never_sign_payload = g.unsigned_payload;
  return opts;
}

result<session> open_session(const global_options& g, const transfer::options& t, unsigned threads) {
  session s;
  SLUICE_TRY(s.client_options, resolve_client_options(g));
  s.eng = std::make_unique<engine>(engine::options{threads});
  SLUICE_TRY(s.sched, transfer::scheduler::create(*s.eng, s.client_options, t));
  return s;
}

result<std::shared_ptr<store::store>> bucket_store(session& s, const std::string& bucket,
                                                   const std::string& prefix) {
  return store::open_s3_store(s.sched, {bucket, prefix, store::conditional_writes::assume_unsupported});
}

result<std::chrono::seconds> parse_duration(std::string_view text) {
  auto bad = [&] {
    return fail(errc::invalid_argument,
                "'" + std::string(text) + "' is not a duration (examples: 90s, 30m, 1h, 2d, 1w)");
  };
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p == text.data()) return bad();
  const std::string_view unit(p, static_cast<std::size_t>(text.data() + text.size() - p));
  uint64_t mult = 0;
  if (unit == "s")
    mult = 1;
  else if (unit == "m")
    mult = 60;
  else if (unit == "h")
    mult = 3600;
  else if (unit == "d")
    mult = 86400;
  else if (unit == "w")
    mult = 7 * 86400;
  else if (unit.empty() && n == 0)
    mult = 1;
  else
    return bad();
  if (n > (uint64_t(1) << 40) / mult) return bad();  // beyond any upload's age
  return std::chrono::seconds(static_cast<int64_t>(n * mult));
}

result<uint64_t> parse_size(std::string_view text) {
  auto bad = [&] {
    return fail(errc::invalid_argument,
                "'" + std::string(text) + "' is not a size (examples: 4096, 64KiB, 8MiB, 1GiB, 1.5GB)");
  };
  if (text.empty()) return bad();
  double number = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || number < 0 || !std::isfinite(number)) return bad();
  std::string unit(p, text.data() + text.size());
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double mult = 1;
  if (unit.empty() || unit == "b")
    mult = 1;
  else if (unit == "k" || unit == "kib")
    mult = 1024.0;
  else if (unit == "m" || unit == "mib")
    mult = 1024.0 * 1024;
  else if (unit == "g" || unit == "gib")
    mult = 1024.0 * 1024 * 1024;
  else if (unit == "t" || unit == "tib")
    mult = 1024.0 * 1024 * 1024 * 1024;
  else if (unit == "kb")
    mult = 1e3;
  else if (unit == "mb")
    mult = 1e6;
  else if (unit == "gb")
    mult = 1e9;
  else if (unit == "tb")
    mult = 1e12;
  else
    return bad();
  double bytes = number * mult;
  if (bytes > 1.8e19 || bytes != std::floor(bytes)) return bad();
  return static_cast<uint64_t>(bytes);
}

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

std::string format_rate(double bytes, double seconds) {
  return format_bytes(seconds > 0 ? bytes / seconds : 0.0) + "/s";
}

std::string format_size_like_aws(uint64_t bytes) {
  // awscli's human_readable_size: whole bytes below 1 KiB, else one decimal in the largest unit
  // that keeps the value below 1024 once rounded.
  if (bytes == 1) return "1 Byte";
  if (bytes < 1024) return std::to_string(bytes) + " Bytes";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  const double value = double(bytes);
  double unit = 1024.0 * 1024.0;
  for (const char* suffix : units) {
    if (std::round(value / unit * 1024.0) < 1024.0 || suffix == units[5]) {
      char buf[48];
      std::snprintf(buf, sizeof buf, "%.1f %s", 1024.0 * value / unit, suffix);
      return buf;
    }
    unit *= 1024.0;
  }
  return std::to_string(bytes);
}

void fill_random(std::span<std::byte> out, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::size_t i = 0;
  for (; i + 8 <= out.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(out.data() + i, &v, 8);
  }
  for (; i < out.size(); ++i) out[i] = static_cast<std::byte>(rng());
}

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto escape = [&](std::string_view bytes) {
    for (char ch : bytes) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(ch));
      out += buf;
    }
  };
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence_length(s, i);
    const auto c = static_cast<unsigned char>(s[i]);
    if (n == 0) {  // a byte of no well-formed UTF-8 sequence (a local name may hold any bytes)
      escape(s.substr(i, 1));
      ++i;
      continue;
    }
    const bool c0 = n == 1 && (c < 0x20 || c == 0x7f);
    // U+0080..U+009F: C1 controls, which some terminals obey (U+009B is CSI).
    const bool c1 = n == 2 && c == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0;
    if (c0 || c1)
      escape(s.substr(i, n));
    else
      out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

namespace {
std::atomic<int> stopping_signal{0};
bool json_errors = false;

int report_as(std::string_view context, const error& e, int status) {
  warn(context, e);
  if (json_errors && !json_printed()) print_json(error_json(e, context, status));
  return status;
}
}  // namespace

void set_json_errors(bool on) noexcept {
  json_errors = on;
}

void warn(std::string_view context, const error& e) {
  std::fprintf(stderr, "sluice: %s: %s\n", printable(context).c_str(), printable(e.describe()).c_str());
}

void note_signal(int sig) noexcept {
  stopping_signal.store(sig);
}

int exit_status(int status) {
  const int sig = stopping_signal.load();
  return sig != 0 ? 128 + sig : status;
}

int report(std::string_view context, const error& e) {
  return report_as(context, e, 1);
}

int usage_error(std::string_view context, const error& e) {
  return report_as(context, e, 2);
}

}  // namespace sluice::cli
