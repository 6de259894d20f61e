// Datafiles: one file, local or in a store (S3), with octue's metadata — an
// immutable id, a timestamp, labels and tags — kept with it.
//
// Where the metadata lives:
//   on an object  user metadata under octue's names, each value JSON
//                 (ASCII-escaped, as Python's json.dumps writes it):
//                   octue__id         "3f0c…"              a UUID, created once
//                   octue__timestamp  "2024-05-01T12:00:00+00:00" or null
//                   octue__labels     ["a","b"]            sorted
//                   octue__tags       {"k":1}
//                 so octue's Datafile reads what sluice writes and the reverse.
//                 Some servers rewrite '_' in metadata names to '-' (Ceph radosgw
//                 keeps `octue--id`): both spellings are read. Other user
//                 metadata on the object (sluice's recorded XXH3, cottoncandy's
//                 keys, anyone's) is kept when the metadata changes. S3 allows
//                 2 KB of user metadata per object: more is refused (too_large)
//                 before anything is sent, naming the sizes.
//   beside a file in a sidecar `.NAME.sluice.json` in the file's directory:
//                 {"id":…,"timestamp":…,"labels":[…],"tags":{…}} plus, for a
//                 downloaded copy, the generation (ETag) it was downloaded at.
//
// A datafile is local (a path), in the cloud (a store and a key), or both (a
// cloud datafile's local copy, downloaded lazily: on download(), or on open()
// for reading or appending). Content changes go up with upload() or when a
// handle opened for writing is closed; metadata changes with update_metadata()
// (on an object: a server-side copy onto itself with the metadata replaced —
// the content is not sent again and sluice's recorded XXH3 is kept).
//
// Errors are values: invalid_argument for a bad label, tag name, timestamp or
// mode (the message names it); not_found for a missing file or object;
// integrity when a download does not match its recorded hash; too_large for
// metadata over S3's limit.
#pragma once

#include <sluice/store/store.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace sluice::files {

struct datafile_metadata {
  std::string id;                // a UUID (lowercase, 8-4-4-4-12)
  std::string timestamp;         // ISO 8601 ("" when none)
  std::set<std::string> labels;  // each valid_label
  boost::json::object tags;      // names valid_tag_name, values any JSON
};

// octue's rules: a label is lowercase letters, digits and '-', neither first
// nor last; a tag name lowercase letters, digits and '_', neither first nor
// last. The error names the offending text and the rule.
result<void> validate_label(std::string_view label);
result<void> validate_tag_name(std::string_view name);
// Accepts YYYY-MM-DD, or that with THH:MM[:SS[.fraction]] and an optional Z or
// ±HH:MM; returns it in the form written ("Z" spelled "+00:00", as Python's
// isoformat writes it).
result<std::string> normalize_timestamp(std::string_view text);
// A timestamp from seconds since the epoch (octue's posix timestamps), UTC.
std::string timestamp_from_posix(double seconds);
result<void> validate(const datafile_metadata& m);

// A random (version 4) UUID.
std::string new_id();

// The user metadata (names without x-amz-meta-) holding `m` under octue's names.
std::map<std::string, std::string> to_user_metadata(const datafile_metadata& m);
// The metadata in an object's user metadata (octue__ or octue-- names);
// nullopt when it has none of them. `what` names the object in messages.
result<std::optional<datafile_metadata>> from_user_metadata(const std::map<std::string, std::string>& meta,
                                                            std::string_view what);
// The bytes S3 counts against its 2 KB limit: every name and value.
std::size_t user_metadata_bytes(const std::map<std::string, std::string>& meta);
inline constexpr std::size_t user_metadata_limit = 2048;

// JSON as sluice writes it into metadata: object keys sorted, ASCII only
// (\uXXXX escapes), floats in their shortest form ("1.5", not "1.5E0").
std::string canonical_json(const boost::json::value& v);

// The sidecar of a local file: DIR/.NAME.sluice.json.
std::string sidecar_path(std::string_view file);

// A stable hash of what describes the content, not the identity: timestamp,
// labels and tags (the id is left out), as 16 hex digits of XXH3 over a
// canonical JSON (object keys sorted).
std::string metadata_hash(const datafile_metadata& m);

// Hashes of content: the XXH3 sluice records ("<hex>" or "<hex>/<part size>",
// integrity/recorded_hash.hpp) and the base64 of the big-endian CRC-32C (what
// octue and GCS show).
struct content_hashes {
  std::string xxh3;
  std::string crc32c;
};
// Of a local file; `part_size` as a recorded composite hash has it (0: whole).
result<content_hashes> hash_file(const std::string& path, std::uint64_t part_size = 0);

namespace detail {
// Where a cloud datafile is and what its object was when last seen (datafile's own state; at
// namespace scope so that std::optional of it is complete for every compiler).
struct datafile_cloud_state {
  std::shared_ptr<store::store> st;
  std::string key;
  bool exists = false;
  std::uint64_t size = 0;
  std::string generation;
  std::string recorded_xxh3;
  std::string last_modified;
  std::string content_type;
  std::map<std::string, std::string> octue_metadata;  // the user metadata under octue's names
  std::map<std::string, std::string> other_metadata;  // the rest (kept when the metadata changes)
};
}  // namespace detail

class datafile {
 public:
  class handle;

  // A local file (which may not exist yet). Metadata from its sidecar, else new
  // (a new id, kept once written).
  static result<datafile> local(std::string path);
  // An object of `st` (which may not exist yet), whose local copy goes to
  // `local_path`. Reads the object's metadata (one HEAD), not its content.
  static boost::asio::awaitable<result<datafile>> cloud(const std::shared_ptr<store::store>& st,
                                                        std::string_view key, std::string_view local_path);

  bool exists_locally() const;
  bool exists_in_cloud() const noexcept { return cloud_ && cloud_->exists; }
  bool is_cloud() const noexcept { return cloud_.has_value(); }
  const std::string& local_path() const noexcept { return path_; }
  std::string cloud_url() const;  // "" for a local datafile
  std::uint64_t size() const;     // of the object, or of the local file
  std::string last_modified() const;

  // Whether the metadata (and so the id) is stored anywhere yet: in a sidecar or
  // on the object. A new datafile's id is kept from its first write on.
  bool metadata_stored() const noexcept { return stored_; }
  datafile_metadata& metadata() noexcept { return meta_; }
  const datafile_metadata& metadata() const noexcept { return meta_; }

  // The recorded XXH3 of the object, or that of the local file (computed).
  result<std::string> hash_value() const;
  // XXH3 and CRC-32C of the content (a cloud-only datafile is downloaded first).
  boost::asio::awaitable<result<content_hashes>> content_hash();
  std::string metadata_hash_value() const { return metadata_hash(meta_); }

  // The object's content into local_path() (temporary name, verified, renamed)
  // and the metadata into its sidecar. Skipped when the local copy is of the
  // object's current generation. A local datafile: nothing to do.
  boost::asio::awaitable<result<void>> download();

  // The local content and the metadata to the object (a local datafile gets
  // `st` and `key` as its cloud location first, and so becomes both).
  boost::asio::awaitable<result<void>> upload();
  boost::asio::awaitable<result<void>> upload(const std::shared_ptr<store::store>& st, std::string_view key);

  // Writes the metadata where the datafile is: the object's (server-side, no
  // content sent) and the local sidecar.
  boost::asio::awaitable<result<void>> update_metadata();

  // Opens the local copy like fopen: r, w, a, r+, w+, a+, each with an
  // optional b. A cloud datafile is downloaded first for r and a (w starts
  // empty). The handle's close() uploads when the content or the metadata
  // changed. The datafile must outlive the handle.
  boost::asio::awaitable<result<handle>> open(std::string_view mode);

 private:
  using cloud_state = detail::datafile_cloud_state;

  boost::asio::awaitable<result<void>> refresh_cloud();
  result<void> write_sidecar(const std::string& downloaded_generation) const;

  std::string path_;
  datafile_metadata meta_;
  std::optional<cloud_state> cloud_;
  std::string local_generation_;  // the generation the local copy was downloaded at ("" if none)
  mutable bool stored_ = false;
};

// An open local copy (a stdio stream). close() is where changes go up: a
// handle destroyed without close() closes the stream and sends nothing.
class datafile::handle {
 public:
  handle() noexcept = default;  // closed
  handle(handle&& o) noexcept;
  handle& operator=(handle&&) = delete;
  ~handle();
  std::FILE* stream() const noexcept { return file_; }
  boost::asio::awaitable<result<void>> close();

 private:
  friend class datafile;
  handle(datafile* owner, std::FILE* f, bool writable, std::string content_before,
         std::string metadata_before);
  datafile* owner_ = nullptr;
  std::FILE* file_ = nullptr;
  bool writable_ = false;
  std::string content_before_;   // XXH3 of the content at open ("" when there was none)
  std::string metadata_before_;  // canonical metadata at open
};

}  // namespace sluice::files
