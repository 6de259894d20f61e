// Glob patterns over keys (cottoncandy's glob, `aws s3 ls` users' '*'):
//   *      any characters except '/'
//   **     any characters, '/' included (a whole segment "**/" also matches no segment)
//   ?      one character except '/'
//   [abc] [a-z] [!a-z]   one character of (or not of) the set, never '/'
//   \x     the character x itself
// Matching is on bytes (UTF-8 multi-byte characters match '?' byte by byte).
#pragma once

#include <sluice/store/store.hpp>

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::objects {

// Whether `key` matches `pattern` as a whole.
bool glob_match(std::string_view pattern, std::string_view key) noexcept;

// Whether the pattern has any wildcard.
bool has_wildcards(std::string_view pattern) noexcept;

// The part of the pattern before its first wildcard: every match starts with it.
std::string literal_prefix(std::string_view pattern);

// The literal prefix up to and including its last '/' ("" when it has none): the directory every
// match lies under ("runs/20*/x.nc" -> "runs/"). cp and du of a glob name their results from it.
std::string literal_directory(std::string_view pattern);

// Streams the keys of `s` matching `pattern` to `on_match`, page by page of
// the listing of the pattern's literal prefix (never the whole listing at
// once). `on_match` returns false to stop. Errors: invalid_argument for an
// unterminated '[' set; the store's own.
using match_callback = std::function<result<bool>(const store::entry& e)>;
boost::asio::awaitable<result<void>> glob(store::store& s, std::string_view pattern,
                                          const match_callback& on_match);

// Bytes and values under a prefix (store::covers semantics: "data/exp"
// counts "data/exp" and "data/exp/...", never "data/experiment2").
struct usage {
  uint64_t bytes = 0;
  uint64_t objects = 0;
};
boost::asio::awaitable<result<usage>> du(store::store& s, std::string_view prefix);

// du split at the first level below `prefix` (`sluice du` without -s): one
// entry per sub-prefix ("name/", in key order), from one streamed listing;
// values directly under the prefix count in `total` only.
struct usage_by_prefix {
  usage total;
  std::vector<std::pair<std::string, usage>> prefixes;  // relative to the prefix, ending in '/'
};
boost::asio::awaitable<result<usage_by_prefix>> du_by_prefix(store::store& s, std::string_view prefix);

// du of the keys matching a glob pattern (`sluice du 's3://b/runs/**.nc'`), split at the first level
// below the pattern's literal directory, from one streamed listing of its literal prefix; no match
// is zero. `pattern` must stay alive until the coroutine completes. Errors: as glob().
boost::asio::awaitable<result<usage_by_prefix>> du_matching(store::store& s, std::string_view pattern);

}  // namespace sluice::objects
