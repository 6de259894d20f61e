// File datasets: directories of files shipped as individual objects, in the
// spirit of etcetera, with every file verified.
//
// A dataset is a directory holding
//   data/<partition>/...   the files, in partitions (sub-directories of data/);
//                          data/ holds no files of its own and is not empty,
//                          and no partition is empty
//   meta.json              optional: any JSON object describing the dataset
//   README.md              optional
//   other directories      optional (assets/, docs/ ...): shipped as files too
// Nothing else (another file at the top, a symbolic link anywhere) is
// accepted: inspect_dataset names the offending path. A file's datafile
// sidecar (.NAME.sluice.json, datafile.hpp) is not a file of the dataset: its
// id, timestamp, labels and tags go into the manifest for that file.
//
// The local registry lives under $SLUICE_HOME (default ~/.sluice):
//   datasets/NAME/      each installed dataset (registered here or pulled)
//   manifests/NAME.json the manifest of the remote version it was pushed as or
//                       pulled from
//   config              optional: a [files] section with remote = s3://b/prefix
//                       and optionally profile = and endpoint_url =
//
// The remote layout, under the remote root (an s3://bucket/prefix):
//   NAME/manifest.json  written last: the dataset's id (one per push), its
//                       creation time, meta.json's content, and per file its
//                       path, size, XXH3, id, timestamp, labels and tags
//   NAME/<id>/<path>    each file its own object (no archive); a file with a
//                       datafile sidecar carries its metadata on the object too,
//                       under octue's names
// Datasets are immutable: a push over an existing one needs `force`, which
// uploads the new version beside the old, switches the manifest (readers see
// the old dataset or the new, whole), then removes the old version's objects.
//
// Pulls are partial: some partitions, globs on the paths, or single files on
// first access (dataset::fetch). Every file is checked against the manifest's
// size and XXH3 (and the object's recorded XXH3 as it downloads), written
// under a temporary name and renamed; a file already present and matching is
// not fetched again.
#pragma once

#include <sluice/files/datafile.hpp>
#include <sluice/store/store.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::files {

// Letters, digits, '.', '_' and '-', not starting with '.', at most 200 bytes.
result<void> validate_dataset_name(std::string_view name);

struct registry {
  std::string home;  // $SLUICE_HOME, else $HOME/.sluice
  // invalid_config when neither variable is set.
  static result<registry> from_environment();
  std::string dataset_dir(std::string_view name) const { return home + "/datasets/" + std::string(name); }
  std::string manifest_path(std::string_view name) const {
    return home + "/manifests/" + std::string(name) + ".json";
  }
};

struct remote_config {
  std::string url;  // s3://bucket[/prefix]
  std::string profile;
  std::string endpoint_url;
  std::string source;  // where it came from: "--remote", "SLUICE_FILES_REMOTE", the config file
};
// `given` (--remote) when not empty, else SLUICE_FILES_REMOTE, else the
// registry's config file ([files] remote = ...); nullopt when none says.
// A malformed config file is invalid_config naming its line.
result<std::optional<remote_config>> find_remote(const registry& r, std::string_view given);

struct file_entry {
  std::string path;  // relative to the dataset's root: "data/train/0001.png"
  std::uint64_t size = 0;
  std::string xxh3;  // 16 hex digits, of the whole content
  std::string etag;  // the object's generation (ETag) as pushed; "" when not known
  datafile_metadata meta;
  bool sidecar = false;  // inspect_dataset: the metadata came from a sidecar (not in the manifest)
};

struct manifest {
  std::string name;
  std::string id;                           // of this version (a UUID)
  std::string created;                      // ISO 8601, UTC
  std::optional<boost::json::object> meta;  // meta.json's content
  std::vector<file_entry> files;            // sorted by path
  // Partition names, sorted; and the files and bytes of each.
  std::vector<std::string> partitions() const;
  std::uint64_t bytes() const;
};
std::string manifest_json(const manifest& m);
// `what` names the manifest in messages.
result<manifest> parse_manifest(std::string_view text, std::string_view what);
// The partition a path is in ("data/P/..." -> "P"), "" for files outside data/.
std::string partition_of(std::string_view path);

// Checks a dataset directory and lists its files (sorted by path) with their
// sizes, sidecar metadata, and (hash) their XXH3. `name` goes into the result.
result<manifest> inspect_dataset(const std::string& dir, std::string_view name, bool hash);

// Validates `dir` and installs a copy as NAME. An installed NAME is
// replaced only with `force` (the new copy is complete before the old goes).
result<manifest> register_dataset(const registry& r, const std::string& dir, std::string_view name,
                                  bool force);

// The installed datasets, sorted, each inspected (no hashes).
result<std::vector<manifest>> installed_datasets(const registry& r);

// The remote's datasets (every NAME/manifest.json under `remote`), sorted.
boost::asio::awaitable<result<std::vector<manifest>>> remote_datasets(store::store& remote);
// NAME's manifest on the remote; nullopt when there is none.
boost::asio::awaitable<result<std::optional<manifest>>> remote_manifest(store::store& remote,
                                                                        std::string_view name);

struct push_result {
  manifest pushed;
  std::uint64_t files = 0, bytes = 0;
  std::uint64_t replaced_objects = 0;  // the previous version's objects removed (force)
};
// Uploads the installed NAME to `remote` (a store rooted at the remote root).
boost::asio::awaitable<result<push_result>> push(const registry& r, std::string_view name,
                                                 store::store& remote, bool force, unsigned concurrency);

struct pull_options {
  std::vector<std::string> partitions;  // empty: every partition
  std::vector<std::string> include;     // globs (objects/glob.hpp) on the file paths; empty: all
  bool force = false;                   // fetch even what is present and matching
  unsigned concurrency = 32;
};
struct pull_result {
  manifest pulled;
  std::uint64_t fetched = 0, fetched_bytes = 0;
  std::uint64_t present = 0;  // already there and matching
};
// Fetches the chosen files of NAME into the registry. Top-level files
// (meta.json, README.md) always come; files of other directories when no
// partition is chosen or a glob matches them. A dataset installed here that
// was never pushed or pulled is not overwritten without `force`.
boost::asio::awaitable<result<pull_result>> pull(const registry& r, std::string_view name,
                                                 store::store& remote, const pull_options& opts);

// An installed dataset, etcetera's way: partitions, their files with local
// paths, the meta, and files fetched from the remote on first access.
struct dataset_options {
  bool auto_install = false;             // pull the manifest (not the files) when not installed
  std::shared_ptr<store::store> remote;  // for auto_install and fetch
};
struct dataset_file {
  std::string path;        // relative to root()
  std::string local_path;  // root() + "/" + path
  std::uint64_t size = 0;
  bool present = false;  // on disk (not checked against the manifest: fetch() does)
  const datafile_metadata* meta = nullptr;
};

class dataset {
 public:
  static boost::asio::awaitable<result<dataset>> open(const registry& r, std::string_view name,
                                                      const dataset_options& opts);
  const std::string& root() const noexcept { return root_; }
  const std::string& name() const noexcept { return m_.name; }
  const manifest& contents() const noexcept { return m_; }
  std::vector<std::string> keys() const { return m_.partitions(); }
  std::vector<dataset_file> files(std::string_view partition) const;
  // meta.json's content (an empty object when there is none).
  const boost::json::object& meta() const noexcept { return meta_; }
  // The file's local path, fetched and verified first if it is not present.
  boost::asio::awaitable<result<std::string>> fetch(std::string_view path);

 private:
  std::string root_;
  manifest m_;
  boost::json::object meta_;
  std::shared_ptr<store::store> remote_;
  bool from_remote_ = false;  // m_ is a remote version (files may be fetched)
};

}  // namespace sluice::files
