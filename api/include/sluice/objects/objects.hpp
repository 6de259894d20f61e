// File-system verbs over stores: locations, prefix-safe listing and removal.
// Tree copies and sync are in tree.hpp, glob and du in glob.hpp. The CLI is a
// thin layer over these.
//
// All functions are awaitables on the caller's executor and return result<T>.
#pragma once

#include <sluice/store/store.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
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

// Keys a recursive operation on `prefix` covers (store::covers): the key
// equal to `prefix` and keys under `prefix` + "/" — never siblings that merely
// share the leading characters ("data/exp" does not cover "data/experiment2/x").
// An empty prefix, or one ending in '/', covers everything under it.
bool covers(std::string_view prefix, std::string_view key) noexcept;

// Lists `prefix` page by page: with recursive=false one level (sub-prefixes
// come back as page.prefixes), else every key.
boost::asio::awaitable<result<void>> list(store::store& s, std::string_view prefix, bool recursive,
                                          const store::list_callback& on_page);

struct remove_stats {
  uint64_t deleted = 0;
  std::vector<store::remove_failure> failures;
};
// Removes one value, or with recursive=true everything `covers` selects. A
// single remove of a missing key is a not_found error (a user removing one
// object wants to know it was not there).
boost::asio::awaitable<result<remove_stats>> remove(store::store& s, std::string_view key, bool recursive);

}  // namespace sluice::objects
