// The store interface: one asynchronous key-value view over memory, a local
// directory and S3 (TensorStore's kvstore is the model). Everything above this
// layer (object verbs, arrays, datasets, file datasets) reads and writes
// through it; nothing above it talks to s3::client.
//
// Keys are '/'-separated UTF-8 strings relative to the store's root. Values are
// bytes; reads hand them out in pool memory as refcounted slices (no copy),
// writes borrow the caller's bytes until they complete.
//
// Generations: every value has a generation that changes whenever the value
// does (S3: the ETag; local directory: inode, size and mtime; memory: a
// counter). Reads return it; conditional writes and removes compare against it.
// A driver that cannot honour a condition fails with errc::unsupported, never
// writes anyway: features() says what it guarantees.
//
// Errors are values; a missing key is a read state (read_state::missing), not
// an error. Every failure maps onto sluice::condition (not_found,
// precondition_failed, unsupported, cancelled, timeout, integrity,
// permission_denied, no_space, invalid_argument), so a program branches on the
// condition whatever the driver.
//
// Asynchrony: every operation is an awaitable that may be co_awaited from any
// executor; drivers that do network work run it on sluice's engine threads and
// complete on the caller's executor. The blocking facade is engine::run(op).
// Arguments are borrowed (string_view, const&, span) until the operation
// completes, as they are when the awaitable is co_awaited in the expression
// that creates it (GCC 12 coroutine rule, docs/architecture.md). Cancellation:
// the awaiting coroutine's cancellation slot cancels that operation only.
//
// Thread safety: a store may be used from many coroutines and threads at
// once. Lifetime: hold it by shared_ptr; it must outlive its operations.
#pragma once

#include <sluice/engine/buffer/pool.hpp>
#include <sluice/engine/runtime/result.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {
class engine;  // engine/runtime/engine.hpp
}

namespace sluice::store {

// One version of a value. Opaque: compare, store, send back; never parse.
struct generation {
  std::string tag;  // empty: no value, or not known
  bool empty() const noexcept { return tag.empty(); }
  friend bool operator==(const generation&, const generation&) = default;
};

// Bytes of a value: [offset, offset + length), [offset, end), or the last
// `length` bytes (suffix).
struct byte_range {
  uint64_t offset = 0;
  std::optional<uint64_t> length;  // nullopt: to the end
  bool suffix = false;             // the last *length bytes

  static byte_range all() { return {}; }
  static byte_range at(uint64_t offset, uint64_t length) { return {offset, length, false}; }
  static byte_range from(uint64_t offset) { return {offset, std::nullopt, false}; }
  static byte_range last(uint64_t n) { return {0, n, true}; }
  bool whole() const noexcept { return offset == 0 && !length && !suffix; }
};

// Resolves a range against a value of `size` bytes: [first, first + count).
// Errors: invalid_argument when the range starts past the end (an empty range
// at exactly the end is allowed) or is a zero-length suffix.
struct resolved_range {
  uint64_t first = 0;
  uint64_t count = 0;
};
result<resolved_range> resolve(const byte_range& r, uint64_t size);

struct read_options {
  byte_range range;
  std::optional<generation> if_equal;      // otherwise precondition_failed
  std::optional<generation> if_not_equal;  // equal: read_state::unchanged, no bytes sent
};

enum class read_state {
  value,      // bytes holds the (range of the) value
  missing,    // no such key
  unchanged,  // if_not_equal held the current generation
};

struct read_result {
  read_state state = read_state::missing;
  buffer_slice bytes;  // pool memory, shared; empty unless state == value
  generation gen;      // of the value read (value, unchanged)
  uint64_t size = 0;   // the whole value's size (value, unchanged)
  std::string content_type;
  std::map<std::string, std::string> metadata;  // user metadata, names lowercased
  std::string last_modified;                    // as the driver reports it (S3: the HTTP date); may be empty
  bool verified = false;                        // a recorded hash covering the bytes was checked
  // The XXH3 sluice recorded when it wrote the value ("<hex>" or
  // "<hex>/<part size>", see integrity/recorded_hash.hpp), where the driver
  // keeps one (S3); empty otherwise.
  std::string recorded_xxh3;
};

// Several ranges of one value, all of one generation: store::read_ranges.
struct ranges_result {
  read_state state = read_state::missing;  // value or missing
  std::vector<buffer_slice> ranges;        // each range's bytes, in the order asked (clamped to the end)
  generation gen;                          // of the value read
  uint64_t size = 0;                       // the whole value's size
  uint64_t requests = 0;                   // driver requests made (S3: GETs, and a HEAD for open ranges)
};

struct write_options {
  std::optional<generation> if_equal;  // replace only this generation
  bool must_not_exist = false;         // create only
  std::string content_type;
  std::map<std::string, std::string> metadata;  // user metadata
};

struct remove_options {
  std::optional<generation> if_equal;
};

// Named defaults (a `{}` temporary inside co_await is destroyed twice by GCC 12).
inline const read_options read_all{};
inline const write_options write_always{};
inline const remove_options remove_always{};

// A listed value.
struct entry {
  std::string key;
  uint64_t size = 0;
  generation gen;
  std::string last_modified;  // ISO 8601 where the driver knows it
};

struct list_options {
  std::string delimiter;    // "/" lists one level: keys below it come back as prefixes
  std::string start_after;  // keys after this one (in byte order)
};
inline const list_options list_all{};

// One page of a listing, in key order within the page.
struct list_page {
  std::vector<entry> entries;
  std::vector<std::string> prefixes;  // with the delimiter at the end
};
// Called once per page as the listing streams; return false to stop early.
// A returned error stops the listing and becomes its result.
using list_callback = std::function<result<bool>(list_page& page)>;

struct remove_failure {
  std::string key;
  error err;
};
struct remove_stats {
  uint64_t removed = 0;
  std::vector<remove_failure> failures;
};

// Fills `into` with the next bytes of a stream and returns how many; fewer
// than into.size() only at the stream's end (0: nothing more). The same type
// as transfer::stream_source; objects::descriptor_source reads a file descriptor.
using stream_source = std::function<boost::asio::awaitable<result<std::size_t>>(std::span<std::byte> into)>;

// What a driver guarantees.
struct feature_set {
  bool conditional_create = false;    // write(must_not_exist) is atomic
  bool conditional_replace = false;   // write(if_equal) is atomic
  bool conditional_remove = false;    // remove(if_equal) is atomic
  bool atomic_move = false;           // move(): one atomic rename, not copy + remove
  bool server_side_copy = false;      // copy() moves no bytes through this process
  bool user_metadata = false;         // write_options::metadata is kept
  bool listing_is_consistent = true;  // a completed write shows in the next listing
};

class store {
 public:
  virtual ~store() = default;

  // Reads a value or a range of it. A whole value is checked against its
  // recorded XXH3 where the driver keeps one. Errors: invalid_argument (bad
  // key or range past the end), precondition_failed (if_equal), too_large
  // (beyond the memory budget), integrity, and the driver's own.
  virtual boost::asio::awaitable<result<read_result>> read(std::string_view key,
                                                           const read_options& opts = read_all) = 0;

  // Reads several ranges of one value as one version of it (every range of
  // the same generation: if_equal, or the generation the first answer has).
  // Drivers that pay per request merge nearby ranges (S3: the scheduler's
  // coalesce_gap) and fetch them concurrently. opts.range and
  // opts.if_not_equal must be left unset (invalid_argument). A missing value
  // is read_state::missing; a range past the end is invalid_argument; the value
  // changing between requests is precondition_failed (the caller reads again).
  virtual boost::asio::awaitable<result<ranges_result>> read_ranges(std::string_view key,
                                                                    std::span<const byte_range> ranges,
                                                                    const read_options& opts = read_all);

  // Writes a whole value; returns its new generation. Large values go through
  // the transfer scheduler where there is one (multipart, concurrent parts).
  // Errors: precondition_failed when a condition does not hold, unsupported
  // when the driver cannot honour it.
  virtual boost::asio::awaitable<result<generation>> write(std::string_view key,
                                                           std::span<const std::byte> value,
                                                           const write_options& opts = write_always) = 0;

  // Removes one value. Removing a missing key succeeds (unless if_equal is
  // given: then precondition_failed).
  virtual boost::asio::awaitable<result<void>> remove(std::string_view key,
                                                      const remove_options& opts = remove_always) = 0;

  // Removes `prefix` itself and every key under `prefix` + "/" — never a
  // sibling that merely starts with the same characters ("data/exp" spares
  // "data/experiment2/x"). An empty prefix, or one ending in '/', covers
  // everything below it. Per-key failures are collected, not fatal.
  virtual boost::asio::awaitable<result<remove_stats>> remove_prefix(std::string_view prefix) = 0;

  // Streams the keys starting with `prefix` (a plain string prefix) page by
  // page to `on_page`, in byte order; the listing is never held whole.
  virtual boost::asio::awaitable<result<void>> list(std::string_view prefix, const list_options& opts,
                                                    const list_callback& on_page) = 0;

  // Copies a value within this store (server-side on S3); returns the copy's generation.
  virtual boost::asio::awaitable<result<generation>> copy(std::string_view from, std::string_view to) = 0;

  // Copies `src_key` of another store into `key` of this one without moving
  // the bytes through this process where the two allow it (S3 stores on one
  // scheduler: a server-side copy, also across buckets; local directories:
  // an in-kernel copy). A content type or metadata in `opts` replaces the
  // source's (S3: the REPLACE directive, sluice's recorded XXH3 kept); empty,
  // the copy keeps the source's. Errors: unsupported when the pair cannot copy
  // directly or honour `opts` (the caller then reads and writes), not_found
  // when the source is missing.
  virtual boost::asio::awaitable<result<generation>> copy_from(store& src, std::string_view src_key,
                                                               std::string_view key,
                                                               const write_options& opts = write_always);

  // Size, generation and metadata of a value without its bytes; nullopt when missing.
  virtual boost::asio::awaitable<result<std::optional<read_result>>> stat(std::string_view key) = 0;

  // Moves a value: an atomic rename where features().atomic_move, else copy then remove.
  virtual boost::asio::awaitable<result<generation>> move(std::string_view from, std::string_view to);

  // Writes a value from a local file, and reads a value into a local file
  // (temporary name, fsync, rename). Drivers stream these (the S3 driver
  // through the scheduler's io_uring paths); the defaults go through memory.
  virtual boost::asio::awaitable<result<generation>> write_file(std::string_view key, std::string_view path,
                                                                const write_options& opts = write_always);
  virtual boost::asio::awaitable<result<read_result>> read_to_file(std::string_view key,
                                                                   std::string_view path);

  // Writes a value from a stream of unknown length (standard input). The S3
  // driver sends it in parts as it arrives, within the scheduler's memory
  // budget (transfer::scheduler::upload_stream); the default collects the
  // stream in memory, then writes. `source` is called one call at a time on
  // one executor. Conditions are not supported by the S3 driver's streaming
  // path (unsupported).
  virtual boost::asio::awaitable<result<generation>> write_stream(std::string_view key,
                                                                  const stream_source& source,
                                                                  const write_options& opts = write_always);

  virtual feature_set features() const = 0;
  // features(), for certain: a driver that learns what its server honours
  // (the S3 driver's conditional-write probe) finds out first. Wrappers forward it.
  virtual boost::asio::awaitable<result<feature_set>> probe_features();

  // How messages name a key of this store: "s3://bucket/prefix/key", "/dir/key", "memory:key".
  virtual std::string describe(std::string_view key) const = 0;

  // The local file holding `key`, for drivers backed by a directory.
  virtual std::optional<std::string> local_path(std::string_view /*key*/) const { return std::nullopt; }

  // The engine whose threads this store's operations run on, where it has one
  // (S3: its scheduler's): layers above may run CPU work there (the Zarr
  // layer decodes chunks on it) instead of on the caller's one thread.
  virtual engine* compute_engine() const noexcept { return nullptr; }

  // read_ranges fetches ranges that lie closer than this many bytes apart in
  // one request (S3: its scheduler's coalesce_gap); 0 when it merges nothing.
  // Ranges farther apart cost a request each however they are asked for, so
  // layers above may split such ranges over several calls at no cost.
  virtual std::uint64_t read_ranges_gap() const noexcept { return 0; }
};

// Whether a recursive operation on `prefix` covers `key` (see remove_prefix).
bool covers(std::string_view prefix, std::string_view key) noexcept;

// Keys a store accepts: non-empty, valid UTF-8 without NUL, at most 1024
// bytes. Drivers add their own rules (the local directory refuses keys that
// are not plain relative paths).
result<void> validate_key(std::string_view key);

}  // namespace sluice::store
