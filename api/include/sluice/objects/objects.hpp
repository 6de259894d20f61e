// File-system verbs over an S3 store: locations, prefix-safe listing and
// removal. The CLI is a thin layer over these and the transfer scheduler.
//
// All functions are awaitables on the caller's executor and return result<T>.
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

// Transfers of files and streams live in the engine's transfer scheduler
// (sluice/engine/transfer/scheduler.hpp).

// Keys a recursive operation on `prefix` covers: the key equal to `prefix`
// and keys under `prefix` + "/" — never siblings that merely share the
// leading characters ("data/exp" does not cover "data/experiment2/x").
// An empty prefix, or one ending in '/', covers everything under it.
bool covers(std::string_view prefix, std::string_view key) noexcept;

// Lists `prefix`: with recursive=false one level ('/' delimiter), else every key.
boost::asio::awaitable<result<s3::list_page>> list(s3::client& c, std::string_view bucket,
                                                   std::string_view prefix, bool recursive);

struct remove_stats {
  uint64_t deleted = 0;
  std::vector<s3::delete_failure> failures;
};
// Removes one object, or with recursive=true everything `covers` selects.
// A single-object remove of a missing key is a no_such_key error.
boost::asio::awaitable<result<remove_stats>> remove(s3::client& c, std::string_view bucket,
                                                    std::string_view key, bool recursive);

}  // namespace sluice::objects
