// Pieces the sluice CLI's verbs share.
#pragma once

#include <sluice/engine/runtime/engine.hpp>
#include <sluice/engine/s3/client.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sluice::cli {

struct global_options {
  std::string endpoint_url;
  std::string region;
  std::string profile;
  std::string ca_bundle;
  bool no_verify_ssl = false;
  bool quiet = false;
};

// An engine with one I/O thread and an S3 client on it, built from the
// global options and the AWS environment / profile files.
struct session {
  std::unique_ptr<engine> eng;
  std::shared_ptr<s3::client> client;
};
result<session> open_session(const global_options& g);

// "256MiB", "4k", "1.5GiB", "1000" -> bytes.
result<uint64_t> parse_size(std::string_view text);
std::string format_bytes(double bytes);
std::string format_rate(double bytes, double seconds);

// Prints "sluice: <context>: <error>" on stderr; returns the exit status (1).
int report(std::string_view context, const error& e);

// The `demo` verb: the README's main job against an endpoint.
struct demo_options {
  std::string bucket = "sluice-demo";
  uint64_t large_size = 256ull << 20;
  unsigned small_count = 1000;
  uint64_t small_size = 16 << 10;
  unsigned concurrency = 64;
  bool keep = false;
};
int run_demo(session& s, const demo_options& d);

}  // namespace sluice::cli
