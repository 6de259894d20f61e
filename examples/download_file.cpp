// download_file: download one S3 object into a local file with the transfer scheduler.
//
//   download_file s3://bucket/key LOCAL_PATH
//
// The object is fetched as ranged parts in parallel (8 MiB parts by default, every core), written into a
// temporary file next to LOCAL_PATH and renamed into place once complete. If the object carries the XXH3
// sluice records when it writes (x-amz-meta-sluice-xxh3), the content is verified against it; objects
// written by other tools have none and are read unchecked. If LOCAL_PATH is a directory, the file is
// named after the key's last segment.
//
// Credentials, region and endpoint follow the AWS conventions: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
// AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL (e.g. http://127.0.0.1:9000 for a local server),
// AWS_PROFILE, AWS_CA_BUNDLE, ~/.aws/credentials and ~/.aws/config.
//
// Exit status: 0 on success, 1 when the download fails (one line on stderr), 2 for a bad command line.
#include <sluice/engine/runtime/engine.hpp>
#include <sluice/engine/s3/config.hpp>
#include <sluice/engine/s3/uri.hpp>
#include <sluice/engine/transfer/scheduler.hpp>

#include <cstdio>
#include <filesystem>
#include <string>

namespace {

int usage() {
  std::fprintf(stderr, "usage: download_file s3://bucket/key LOCAL_PATH\n");
  return 2;
}

// Every failure is reported the same way: what we were doing, then error::describe(), which is one line
// (message, HTTP status and S3 request id when there was an answer) and never contains secrets.
int report(const std::string& context, const sluice::error& e) {
  std::fprintf(stderr, "download_file: %s: %s\n", context.c_str(), e.describe().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sluice;
  if (argc != 3) return usage();
  const std::string url = argv[1];

  // "s3://bucket/key" -> bucket and key (the bucket name is validated here, before any request).
  auto loc = s3::parse_s3_url(url);
  if (!loc) {
    std::fprintf(stderr, "download_file: %s\n", loc.error().describe().c_str());
    return usage();
  }
  if (loc->key.empty()) {
    std::fprintf(stderr, "download_file: '%s' names a bucket, not an object\n", url.c_str());
    return usage();
  }
  std::string path = argv[2];
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    path = (std::filesystem::path(path) / std::filesystem::path(loc->key).filename()).string();
  }

  // Credentials, region, endpoint and CA bundle from the environment and the AWS profile files; nothing
  // is overridden here (a program with flags would fill config_overrides from them).
  const s3::config_overrides overrides;
  auto config = s3::resolve_config(overrides, s3::process_env());
  if (!config) return report("configuration", config.error());
  s3::client_options client_opts;
  client_opts.config = std::move(*config);

  // The engine owns the I/O threads (one io_context per core). The scheduler creates one S3 client per
  // context and a buffer pool bounded by transfer::options::memory_budget. Declared after the engine,
  // the scheduler is destroyed first, as it must be.
  engine eng;
  transfer::options topts;  // defaults: 8 MiB parts, 256 MiB of buffers, 64 requests in flight
  auto sched = transfer::scheduler::create(eng, client_opts, topts);
  if (!sched) return report("setup", sched.error());

  // engine::run() is the blocking facade: it runs the coroutine on an engine thread and waits. The
  // awaitable borrows bucket, key and path (string_views): they live in `loc` and `path` until run()
  // returns, which is why the awaitable is created and awaited in this one expression.
  auto done = eng.run((*sched)->download(loc->bucket, loc->key, path));
  if (!done) return report(url, done.error());

  std::printf("%s -> %s: %llu bytes, %s\n", url.c_str(), path.c_str(),
              static_cast<unsigned long long>(done->bytes),
              done->verified ? "verified (XXH3 recorded by sluice)" : "not verified (no recorded XXH3)");
  if (done->refetched_parts > 0) {
    std::printf("%llu part(s) were fetched again after an integrity mismatch\n",
                static_cast<unsigned long long>(done->refetched_parts));
  }
  return 0;
}
