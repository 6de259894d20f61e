// Copying trees of values between any two stores (local directory <-> S3,
// S3 -> S3 server-side, local -> local, memory ...): copy_tree, sync, and
// moving single values. The CLI's cp -r and sync are thin layers over these.
//
// A tree is every key under a prefix: with prefix "data/run1", the keys
// "data/run1/..."; each is copied to destination prefix + its relative key.
// Path safety: a relative key with an empty, "." or ".." segment, or that
// is empty, or that ends in '/' (a folder marker made by consoles and Hadoop
// tools) is never written anywhere: folder markers are skipped silently and
// counted, anything else is refused and reported in `refused`. The local
// directory driver refuses such keys a second time.
//
// Streaming: the source is listed page by page and each page's values are
// copied with up to `concurrency` operations in flight, so memory holds one
// page of keys, not the whole listing. sync also reads the destination's
// listing of the prefix into memory (about 100 bytes per key) to compare
// sizes and, with `delete_extra`, to find what the source no longer has.
//
// Bytes move the fastest way the pair allows: a server-side or in-kernel copy
// (store::copy_from), else a local file streamed up or down by the S3
// driver's transfer paths (write_file / read_to_file), else through memory.
//
// All functions are awaitables on the caller's executor (which must be
// single-threaded, e.g. an engine context: the bookkeeping is not
// synchronised); stores hop to their own threads as they need. Arguments are
// borrowed until completion.
#pragma once

#include <sluice/store/store.hpp>

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sluice::objects {

enum class action_kind { copy, skip, remove };

// One decision of a copy or sync: reported to on_action as it is made (in a
// dry run, instead of being carried out).
struct tree_action {
  action_kind kind = action_kind::copy;
  std::string key;    // relative to the prefixes
  uint64_t size = 0;  // the source's size (copy, skip) or the destination's (remove)
  std::string
      reason;  // why: "new", "size differs", "content differs", "same size and XXH3", "not in source", ...
};

struct tree_progress {
  std::atomic<uint64_t> bytes{0};    // bytes of values completed
  std::atomic<uint64_t> objects{0};  // values completed (copied or removed)
  // Values found unchanged (sync) or filtered out: done without a transfer.
  std::atomic<uint64_t> skipped_bytes{0};
  std::atomic<uint64_t> skipped_objects{0};
};

// One --include or --exclude of aws s3: a glob (glob.hpp) on the relative key.
struct filter_rule {
  bool include = false;
  std::string pattern;
};

struct tree_options {
  // Glob patterns (glob.hpp) on the relative key; a pattern without '/'
  // matches the last segment at any depth ("*.nc" also covers "a/b/c.nc").
  std::vector<std::string> include;  // empty: everything
  std::vector<std::string> exclude;  // wins over include
  // aws's filters, after include/exclude above: every key starts included, each rule that matches
  // it decides anew, so the last matching rule wins ("--exclude '*' --include '*.nc'": only .nc).
  std::vector<filter_rule> filters;
  bool dry_run = false;       // decide and report, change nothing
  bool delete_extra = false;  // sync: remove destination keys the source does not have
  bool size_only = false;     // sync: equal sizes count as equal content
  bool checksum = false;      // sync: equal only when a hash proves it (never by time)
  bool move = false;          // copy_tree: remove each source value once its copy succeeded (mv -r)
  // copy_tree: a glob (glob.hpp) on the whole source key; only matching values
  // are copied (`cp 's3://b/runs/*.nc' DIR/`: the source prefix is the
  // pattern's literal directory). Empty: every value.
  std::string match;
  unsigned concurrency = 64;                          // values in flight
  std::function<void(const tree_action&)> on_action;  // every decision, as made
  store::write_options write;  // content type and metadata for the values written (no conditions)
  tree_progress* progress = nullptr;
  // A local destination whose file system takes names differing only in ASCII case for one file
  // (vfat, a casefold directory): such keys are compared folded, the first is copied and the
  // others refused. Unset: found out with names_fold_case() on the destination directory.
  std::optional<bool> fold_case;
};
inline const tree_options default_tree_options{};

// Whether `dir` (or, when it does not exist yet, its nearest existing ancestor)
// treats names that differ only in ASCII case as one. A name already there is
// looked up by its case-swapped spelling; in a directory with no such name, a
// probe file is made (locked while it lives), looked up the same way and
// removed, and probes abandoned by killed runs are removed. False when nothing
// can tell (no name to look up and no probe can be made).
bool names_fold_case(const std::filesystem::path& dir);

struct tree_failure {
  std::string key;  // relative key
  error err;
};

struct tree_result {
  uint64_t copied = 0;
  uint64_t bytes = 0;                  // bytes copied
  uint64_t skipped = 0;                // unchanged (sync) or filtered out
  uint64_t filtered = 0;               // of those, filtered out (filters, match)
  uint64_t removed = 0;                // sync with delete_extra
  uint64_t markers = 0;                // folder markers ("prefix/") skipped
  std::vector<tree_failure> refused;   // keys that would leave the destination
  std::vector<tree_failure> failures;  // values that failed to copy or remove
};

// Copies every value under `src_prefix` of `src` to `dst_prefix` of `dst`.
// Per-value failures are collected, not fatal; an error is returned only when
// the listing itself fails.
boost::asio::awaitable<result<tree_result>> copy_tree(store::store& src, std::string_view src_prefix,
                                                      store::store& dst, std::string_view dst_prefix,
                                                      const tree_options& opts = default_tree_options);

// copy_tree that skips values whose destination already has the same content.
// Values of different sizes always differ; of equal size they are equal when
//  1. both carry sluice's XXH3 and it matches (a local file is hashed the way
//     the other side recorded it; two S3 values compare their recorded hashes),
//  2. else one is an object with a single-part ETag (an MD5: 32 hex digits, no
//     '-', as aws s3 and most tools write objects below their multipart
//     threshold) and the MD5 of the local file (or the other ETag) matches,
//  3. else (no hash on either side; not with `checksum`) their times match as
//     aws s3 sync has it: a download is equal when the local file's
//     modification time is the object's Last-Modified to the second (downloads
//     set it so: tree copies into a local directory stamp every file), an
//     upload or S3 copy when the destination is not older than the source.
// size_only: equal sizes suffice. A value nothing proves equal is copied.
// Downloads set each file's modification time to its object's Last-Modified.
// With delete_extra, destination keys under the prefix that the source does
// not have are removed: after the copies, only when every copy succeeded
// (rclone's rule: a failed run never deletes), never keys outside the prefix
// or keys the filters leave out. A cancelled copy stops the run.
boost::asio::awaitable<result<tree_result>> sync(store::store& src, std::string_view src_prefix,
                                                 store::store& dst, std::string_view dst_prefix,
                                                 const tree_options& opts = default_tree_options);

// Copies one value between any two stores (the fastest way the pair allows).
// Returns the bytes copied. Errors: not_found when the source is missing.
boost::asio::awaitable<result<uint64_t>> copy_value(store::store& src, std::string_view src_key,
                                                    store::store& dst, std::string_view dst_key);

// Moves one value: an atomic rename within a store that has one, a
// server-side copy then delete on S3, else copy then remove.
boost::asio::awaitable<result<uint64_t>> move_value(store::store& src, std::string_view src_key,
                                                    store::store& dst, std::string_view dst_key);

// The key below `prefix` as a safe relative key: errors (invalid_argument)
// for keys outside the prefix, folder markers and anything with an empty,
// "." or ".." segment. `prefix` is "" or ends in '/'.
result<std::string> relative_key(std::string_view prefix, std::string_view key);

// Sets the modification time of the file at `path` to `last_modified` (as
// S3 writes times: objects::parse_timestamp), as aws s3 does on download;
// nothing when it is no time.
result<void> stamp_modification_time(const std::string& path, std::string_view last_modified);

// The prefix of a tree: "" stays "", anything else gets a trailing '/'.
std::string tree_prefix(std::string_view prefix);

}  // namespace sluice::objects
