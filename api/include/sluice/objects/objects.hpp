// File-system verbs over an S3 store: list, remove (prefix-safe), upload and
// download of files, server-side copy. The CLI is a thin layer over these.
//
// All functions are awaitables on the caller's executor (single-threaded, as
// an engine context is), return result<T>, and leave nothing half-done that
// a user could mistake for data: downloads land under a temporary name and
// are renamed into place only once complete and verified; failed multipart
// uploads are aborted.
#pragma once

#include <sluice/engine/s3/client.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace sluice::objects {

// A command-line location: "s3://bucket/key" or a local path.
struct location {
  bool remote = false;
  std::string bucket;  // remote only
  std::string key;     // remote only (may be empty)
  std::string path;    // local only
};
result<location> parse_location(std::string_view text);

struct transfer_options {
  uint64_t multipart_threshold = 64ull << 20;  // files above go up in parts
  uint64_t part_size = 8ull << 20;             // grown if a file would need more than 10,000 parts
  unsigned concurrency = 8;                    // parts in flight per file
};

struct transfer_stats {
  uint64_t bytes = 0;
  uint64_t objects = 0;
  uint64_t parts = 0;
};

// Uploads a local file. Above the threshold: multipart, parts hashed first so
// the composite XXH3 goes into the object's metadata, then uploaded
// concurrently; any failure aborts the upload.
boost::asio::awaitable<result<transfer_stats>> upload_file(s3::client& c, std::string_view local_path,
                                                           std::string_view bucket, std::string_view key,
                                                           const transfer_options& opts,
                                                           const s3::put_options& put = s3::default_put_options);

// Downloads an object to a local file: written under a temporary name in the
// destination's directory, verified against the recorded XXH3 (one refetch on
// a mismatch), fsynced, then renamed into place. Nothing is left at the final
// name on failure.
boost::asio::awaitable<result<transfer_stats>> download_file(s3::client& c, std::string_view bucket, std::string_view key,
                                                             std::string_view local_path);

// Streams an object to a callback in order (for `cat`), verifying the
// recorded hash at the end (an error after the bytes were delivered says so).
boost::asio::awaitable<result<transfer_stats>> stream_object(
    s3::client& c, std::string_view bucket, std::string_view key,
    const std::function<result<void>(std::span<const std::byte>)>& consumer);

// Keys a recursive operation on `prefix` covers: the key equal to `prefix`
// and keys under `prefix` + "/" — never siblings that merely share the
// leading characters ("data/exp" does not cover "data/experiment2/x").
// An empty prefix, or one ending in '/', covers everything under it.
bool covers(std::string_view prefix, std::string_view key) noexcept;

// Lists `prefix`: with recursive=false one level ('/' delimiter), else every key.
boost::asio::awaitable<result<s3::list_page>> list(s3::client& c, std::string_view bucket, std::string_view prefix,
                                                   bool recursive);

struct remove_stats {
  uint64_t deleted = 0;
  std::vector<s3::delete_failure> failures;
};
// Removes one object, or with recursive=true everything `covers` selects.
// A single-object remove of a missing key is a no_such_key error.
boost::asio::awaitable<result<remove_stats>> remove(s3::client& c, std::string_view bucket, std::string_view key,
                                                    bool recursive);

}  // namespace sluice::objects
