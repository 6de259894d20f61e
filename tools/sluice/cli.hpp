// Pieces the sluice CLI's verbs share.
#pragma once

#include <sluice/engine/runtime/engine.hpp>
#include <sluice/engine/s3/client.hpp>
#include <sluice/engine/transfer/scheduler.hpp>
#include <sluice/store/store.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace sluice::cli {

struct global_options {
  std::string endpoint_url;
  std::string region;
  std::string profile;
  std::string ca_bundle;
  bool no_verify_ssl = false;
  bool unsigned_payload = false;
  bool no_sign_request = false;  // anonymous requests, on purpose
  bool quiet = false;
  bool json = false;  // one JSON document on standard output (json_output.hpp)
};

// An engine and a transfer scheduler on it, built from the global options and
// the AWS environment / profile files. Verbs reach S3 only through stores over
// `sched` (bucket_store) and the bucket functions of store/s3.hpp.
struct session {
  std::unique_ptr<engine> eng;
  s3::client_options client_options;  // as resolved (the demo's second scheduler, its endpoint line)
  std::shared_ptr<transfer::scheduler> sched;
};
// The bucket as a store (keys under `prefix`, "" for the whole bucket;
// conditional writes never used by the CLI).
result<std::shared_ptr<store::store>> bucket_store(session& s, const std::string& bucket,
                                                   const std::string& prefix = "");
// `threads`: the engine's I/O threads (0: one per core, for transfers); `t`:
// the scheduler's part size, memory budget and concurrency.
result<session> open_session(const global_options& g, const transfer::options& t = transfer::options{},
                             unsigned threads = 1);
// The S3 client options the global options and the AWS environment give.
// Without credentials (and without --no-sign-request) an invalid_config error
// naming where they were looked for, as aws has it.
result<s3::client_options> resolve_client_options(const global_options& g);

// The exit status of a run that ended with `status`: 128 + the signal when
// SIGINT or SIGTERM stopped a transfer (130 after Ctrl-C), else `status`.
int exit_status(int status);
// Records that `sig` stopped a transfer (async-signal-safe).
void note_signal(int sig) noexcept;

// "256MiB", "4k", "1.5GiB", "1000" -> bytes.
result<uint64_t> parse_size(std::string_view text);
// 1536 -> "1.5 KiB"; rates in the same units ("12.0 MiB/s").
std::string format_bytes(double bytes);
// "90s", "30m", "1h", "2d", "1w" (a whole number and one unit; "0" alone is zero) -> seconds.
result<std::chrono::seconds> parse_duration(std::string_view text);
std::string format_rate(double bytes, double seconds);
// As `aws s3 ls --human-readable` writes sizes: "1 Byte", "3 Bytes", "1.0 KiB", "9.1 MiB".
std::string format_size_like_aws(uint64_t bytes);

// Deterministic pseudo-random bytes (demo and bench data).
void fill_random(std::span<std::byte> out, uint64_t seed);

// Prints "sluice: <context>: <error>" on stderr; returns the exit status (1).
// printable(): `s` as every line sluice writes for people shows names (ls, du,
// error lines): control characters (bytes below 0x20, 0x7f, and the C1 controls
// U+0080..U+009F) and bytes that belong to no well-formed UTF-8 sequence shown
// as \xHH. A key or an error quoting one can carry terminal escape sequences,
// and a terminal must never run them; a local name may be any bytes.
// Under --json (set_json_errors) the first report of a run that has printed no
// document yet is also written on standard output as {"error": {...}}
// (json_output.hpp), so a script reading standard output always gets one
// document.
std::string printable(std::string_view s);
int report(std::string_view context, const error& e);
// The same for a value on the command line that is not usable (a size, a
// range, a duration): returns 2, the status of a command line that does not parse.
int usage_error(std::string_view context, const error& e);
// The stderr line alone: one failure among many that the verb's own document lists.
void warn(std::string_view context, const error& e);
void set_json_errors(bool on) noexcept;

// The `demo` verb: the README's main job against an endpoint.
struct demo_options {
  std::string bucket = "sluice-demo";
  uint64_t large_size = 256ull << 20;
  unsigned small_count = 1000;
  uint64_t small_size = 16 << 10;
  unsigned concurrency = 64;
  bool keep = false;
  bool json = false;  // one document instead of the report
};
int run_demo(session& s, const demo_options& d);

// Flags every transfer verb accepts.
struct transfer_flags {
  bool recursive = false;
  bool json = false;
  uint64_t part_size = 8ull << 20;
  uint64_t memory_budget = 256ull << 20;
  uint64_t multipart_threshold = 64ull << 20;
  unsigned concurrency = 64;
  // cp -r and sync (objects::tree_options)
  std::vector<std::string> include, exclude;          // as given, per option
  std::vector<std::pair<bool, std::string>> filters;  // (include?, glob) in command-line order
  bool dry_run = false;
  bool delete_extra = false;  // sync
  bool size_only = false;     // sync
  bool checksum = false;      // sync: content compared, never times
  bool move = false;          // mv: each source removed once its copy succeeded
};
// cp and mv (one object, or -r) and sync between a local side and an S3
// side, or (-r) between two S3 prefixes (server-side copies); `cp - s3://b/k`
// uploads standard input. `verb`: "cp", "mv" or "sync". `w`: content type and
// metadata of the objects written (no conditions).
int cmd_copy_or_sync(const global_options& g, const transfer_flags& f, const std::string& src,
                     const std::string& dst, std::string_view verb, const store::write_options& w);

// The object verbs of object_verbs.cpp.
struct du_options {
  std::string url;
  bool summary = false;  // -s: one line for the prefix
};
int cmd_du(const global_options& g, const du_options& o);
int cmd_presign(const global_options& g, const std::string& url, long expires_in);
// mv of one object between two S3 locations: server-side copy, then the source removed.
int cmd_move_remote(const global_options& g, const std::string& src, const std::string& dst);
// cleanup: the multipart uploads left open under s3://bucket[/prefix], aborted (or, dry run, listed).
struct cleanup_cli_options {
  std::string url;
  std::chrono::seconds older_than{0};
  bool dry_run = false;
};
int cmd_cleanup(const global_options& g, const cleanup_cli_options& o);
// rb --force: every object removed, then the bucket.
int cmd_remove_bucket_force(const global_options& g, const std::string& url);

// The `bench` verb.
struct bench_options {
  std::string mode;  // "get" or "put"
  std::string bucket;
  std::string prefix;
  uint64_t size = 1 << 20;
  unsigned count = 16;
  unsigned concurrency = 16;
  uint64_t part_size = 8 << 20;
  uint64_t memory_budget = 256ull << 20;
  double duration_s = 0;   // > 0: repeat until this many seconds have passed
  std::string output_dir;  // get: write files here instead of reading to memory
  bool json = false;
};
int run_bench(const global_options& g, const bench_options& b);

// The `array` verbs (array_verbs.cpp): Zarr v3 arrays from and to .npy files.
struct array_options {
  std::string verb;    // "put", "get", "info" or "consolidate"
  std::string file;    // put: the .npy to write
  std::string url;     // s3://bucket/path or a local directory
  std::string output;  // get: the .npy to write
  std::string select;  // get: "0:10,:,5"; empty: everything
  std::string chunks, shards, codec = "zstd:3", dims, fill;
  bool fill_given = false;
  bool crc32c = false;
  bool json = false;               // info
  std::vector<std::string> attrs;  // KEY=JSON
};
// Usage errors (bad --select, --chunks, ...) exit 2 before any request is sent.
int cmd_array(const global_options& g, const array_options& o);

struct object_options {
  std::string verb;    // "put-array" or "get-array"
  std::string file;    // put-array: the .npy to store
  std::string url;     // s3://bucket/key
  std::string output;  // get-array: the .npy to write
  std::string compression = "none";
  int level = 0;                  // 0: the codec's default
  std::optional<int> split_axis;  // put-array: the chunked layout, split along this axis
  std::string part_size;          // put-array: the chunked layout's part size ("" = 100MiB)
  std::string select;             // get-array: a box of a chunked array
};
// NumPy arrays as single objects in cottoncandy's raw layout.
int cmd_object(const global_options& g, const object_options& o);

// A session for transfers as the flags ask (part size, threshold, budget, concurrency), recording
// multipart uploads for a later run to take over; one engine thread per core.
result<session> open_transfer_session(const global_options& g, const transfer_flags& f);

struct datafile_options {
  std::string verb;    // "info", "tag", "upload", "download"
  std::string target;  // PATH or s3:// URL (download: the URL)
  std::string second;  // upload: the URL; download: the local path ("" = the key's name here)
  std::vector<std::string> labels, remove_labels, tags, remove_tags;
  std::string timestamp;
  bool clear_timestamp = false;
};
struct files_options {
  std::string verb;  // "register", "ls", "push", "pull", "info"
  std::string dir;   // register: the dataset directory
  std::string name;
  std::string remote;           // --remote s3://bucket/prefix
  bool remote_listing = false;  // ls / info --remote
  bool force = false;
  std::vector<std::string> partitions, include;  // pull
  transfer_flags transfer;
};
// File datasets: the local registry and a remote root.
int cmd_files(const global_options& g, const files_options& o);

// Files with octue's metadata, local or on S3.
int cmd_datafile(const global_options& g, const transfer_flags& tf, const datafile_options& o);

}  // namespace sluice::cli
