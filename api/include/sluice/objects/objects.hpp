// File-system verbs over stores: locations, prefix-safe listing and removal.
// Tree copies and sync are in tree.hpp, glob and du in glob.hpp. The CLI is a
// thin layer over these.
//
// All functions are awaitables on the caller's executor and return result<T>.
#pragma once

#include <sluice/store/store.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
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

// Seconds since the epoch (UTC) of a time as S3 writes it: ISO 8601 in
// listings ("2024-05-01T12:00:00.000Z", "...+00:00") or an HTTP date in
// HEAD answers ("Wed, 01 May 2024 12:00:00 GMT"). nullopt for anything else.
std::optional<int64_t> parse_timestamp(std::string_view text);

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

// Reads one value in successive ranged reads of at most `chunk` bytes, so a
// value of any size passes through bounded memory (`cat` of a large object).
// Every read after the first carries if_equal = the first read's generation:
// a value replaced or removed part-way fails with precondition_failed rather
// than delivering a mix of two versions (what was delivered stays delivered).
// `on_chunk` gets the bytes in order, on the caller's executor; an error it
// returns stops the read and becomes the result. A value carrying a recorded
// XXH3 (read_result::recorded_xxh3) is hashed as it passes and checked at the
// end: a mismatch is `integrity`, after the bytes were delivered. Errors:
// not_found when the key is missing, invalid_argument for chunk 0, and the
// store's own (a chunk must fit the store's read budget).
using chunk_callback = std::function<result<void>(std::span<const std::byte> bytes, uint64_t offset)>;
struct streamed_value {
  uint64_t bytes = 0;
  store::generation gen;
  bool verified = false;  // a recorded XXH3 was checked over every byte
};
boost::asio::awaitable<result<streamed_value>> stream_value(store::store& s, std::string_view key,
                                                            uint64_t chunk, const chunk_callback& on_chunk);

// The same for a range of the value (HTTP byte-range semantics: `cat
// --range`): the value's size and generation come from a stat, then the
// range is read in chunks pinned to that generation. A range has no hash of
// its own, so it is verified only when it is the whole value (then this is
// stream_value). Errors: not_found, invalid_argument for a range that starts
// at or past the end or a zero-length suffix, precondition_failed when the
// value changes part-way.
boost::asio::awaitable<result<streamed_value>> stream_range(store::store& s, std::string_view key,
                                                            const store::byte_range& range, uint64_t chunk,
                                                            const chunk_callback& on_chunk);

// A stream_source over a file descriptor (standard input: `cp - s3://b/k`),
// for store::write_stream. Pipes, terminals and sockets are read
// asynchronously on the executor of the first call; regular files directly.
// The descriptor is borrowed, never closed; its file status flags (Asio sets
// O_NONBLOCK) are restored when the last copy of the source is destroyed.
// `name` is how errors name it ("standard input"). `stop` (may be empty) is
// asked every 100 ms while a read waits for input: true ends the read with
// errc::cancelled (Ctrl-C during an upload of a quiet pipe).
store::stream_source descriptor_source(int fd, std::string name, std::function<bool()> stop = {});

}  // namespace sluice::objects
