// read_range: read a byte range of an S3 object into memory and write it to standard output.
//
//   read_range s3://bucket/key OFFSET LENGTH > part.bin
//
// One ranged GET (Range: bytes=OFFSET-(OFFSET+LENGTH-1)) with s3::client::get_object_range, retried with
// backoff on retryable failures. A range has no recorded hash, so nothing is verified. As S3 does, a range
// that runs past the end of the object returns what there is; a range that starts past the end fails
// (InvalidRange). A note on stderr says how many bytes came back and how large the object is.
//
// This shows the lower-level API: an engine with one thread, one s3::client, one awaitable.
// Credentials, region and endpoint come from the AWS environment and profile files (AWS_ENDPOINT_URL for
// a non-AWS server), as in download_file.
//
// Exit status: 0 on success, 1 when the read fails (one line on stderr), 2 for a bad command line.
#include <sluice/engine/runtime/engine.hpp>
#include <sluice/engine/s3/client.hpp>
#include <sluice/engine/s3/config.hpp>
#include <sluice/engine/s3/range.hpp>
#include <sluice/engine/s3/uri.hpp>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace {

int usage() {
  std::fprintf(stderr, "usage: read_range s3://bucket/key OFFSET LENGTH\n");
  return 2;
}

int report(const std::string& context, const sluice::error& e) {
  std::fprintf(stderr, "read_range: %s: %s\n", context.c_str(), e.describe().c_str());
  return 1;
}

// A decimal number of bytes, the whole argument.
std::optional<uint64_t> parse_u64(std::string_view text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sluice;
  if (argc != 4) return usage();
  const std::string url = argv[1];
  auto loc = s3::parse_s3_url(url);
  if (!loc) {
    std::fprintf(stderr, "read_range: %s\n", loc.error().describe().c_str());
    return usage();
  }
  if (loc->key.empty()) {
    std::fprintf(stderr, "read_range: '%s' names a bucket, not an object\n", url.c_str());
    return usage();
  }
  const auto offset = parse_u64(argv[2]);
  const auto length = parse_u64(argv[3]);
  if (!offset || !length || *length == 0 || *length - 1 > UINT64_MAX - *offset) {
    std::fprintf(stderr, "read_range: OFFSET and LENGTH must be byte counts, LENGTH at least 1\n");
    return usage();
  }
  // [first, last], inclusive, as the HTTP Range header counts. A named local: arguments of the client's
  // coroutines are never built as temporaries inside the co_await/run expression (GCC 12, see
  // docs/architecture.md).
  const s3::byte_range range = s3::byte_range::between(*offset, *offset + *length - 1);

  const s3::config_overrides overrides;
  auto config = s3::resolve_config(overrides, s3::process_env());
  if (!config) return report("configuration", config.error());
  s3::client_options client_opts;
  client_opts.config = std::move(*config);

  // One I/O thread is plenty for one request. The client checks the endpoint URL and the CA bundle
  // here, before any request; it must outlive its operations, so it is declared after the engine.
  engine eng(engine::options{1});
  auto client = s3::client::create(eng.executor(), client_opts);
  if (!client) return report("setup", client.error());

  // The object comes back in a page-aligned buffer of exactly the bytes delivered.
  auto obj = eng.run((*client)->get_object_range(loc->bucket, loc->key, range));
  if (!obj) return report(url, obj.error());

  if (std::fwrite(obj->data.data(), 1, obj->data.size(), stdout) != obj->data.size() ||
      std::fflush(stdout) != 0) {
    return report(url, fail(errc::io_error, "cannot write to standard output"));
  }
  std::fprintf(stderr, "read_range: %zu bytes at offset %llu of %s (%llu bytes)\n", obj->data.size(),
               static_cast<unsigned long long>(*offset), url.c_str(),
               static_cast<unsigned long long>(obj->info.size));
  return 0;
}
