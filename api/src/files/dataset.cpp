#include <sluice/files/dataset.hpp>

#include <sluice/engine/integrity/xxh3.hpp>
#include <sluice/engine/runtime/concurrently.hpp>
#include <sluice/npy/npy.hpp>
#include <sluice/objects/glob.hpp>

#include "store/local_files.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/string.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

namespace sluice::files {

using boost::asio::awaitable;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view manifest_name = "manifest.json";
constexpr std::string_view manifest_format = "sluice-files-dataset";

// std::filesystem without exceptions: a path that cannot be looked at does not exist here (the
// operation that needs it then fails with its own error).
bool path_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

bool is_sidecar(std::string_view name) {
  return name.size() > 13 && name.front() == '.' && name.ends_with(".sluice.json");
}
// A file a sluice write leaves while it works (".NAME.sluice-XXXXXX"), or a sidecar: not data.
bool is_sluice_file(std::string_view name) {
  return is_sidecar(name) || (name.front() == '.' && name.find(".sluice-") != std::string_view::npos);
}

std::string now_iso() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
  return buf;
}

result<std::string> read_text(const std::string& path, std::size_t limit) {
  std::vector<std::byte> bytes;
  auto n = npy::read_bytes_into(path, bytes, limit);
  if (!n && n.error().code == errc::too_large)
    return fail(errc::too_large, path + ": more than " + std::to_string(limit >> 20) + " MiB");
  if (!n) return n.error();
  return std::string(reinterpret_cast<const char*>(bytes.data()), *n);
}

result<void> write_text_atomically(const std::string& path, std::string_view text) {
  return store::detail::replace_file(path, std::as_bytes(std::span(text.data(), text.size())), true);
}

json::value metadata_json(const datafile_metadata& m) {
  json::object o;
  o["id"] = m.id;
  if (m.timestamp.empty())
    o["timestamp"] = nullptr;
  else
    o["timestamp"] = m.timestamp;
  json::array labels;
  for (const auto& l : m.labels) labels.emplace_back(l);
  o["labels"] = std::move(labels);
  o["tags"] = m.tags;
  return o;
}

// The datafile metadata of one manifest entry, read back through the object-metadata reader (the
// same rules and forms).
result<datafile_metadata> entry_metadata(const json::object& o, std::string_view what) {
  std::map<std::string, std::string> meta;
  for (std::string_view k : {"id", "timestamp", "labels", "tags"})
    if (auto it = o.find(k); it != o.end()) meta["octue__" + std::string(k)] = canonical_json(it->value());
  SLUICE_TRY(std::optional<datafile_metadata> m, from_user_metadata(meta, what));
  return m ? std::move(*m) : datafile_metadata{};
}

result<std::uint64_t> number_field(const json::object& o, std::string_view name, std::string_view what) {
  auto it = o.find(name);
  if (it == o.end() || !(it->value().is_uint64() || it->value().is_int64()) ||
      (it->value().is_int64() && it->value().get_int64() < 0))
    return fail(errc::invalid_argument, std::string(what) + ": '" + std::string(name) + "' is not a size");
  return it->value().to_number<std::uint64_t>();
}

result<std::string> string_field(const json::object& o, std::string_view name, std::string_view what) {
  auto it = o.find(name);
  if (it == o.end() || !it->value().is_string())
    return fail(errc::invalid_argument, std::string(what) + ": '" + std::string(name) + "' is missing");
  return std::string(it->value().get_string());
}

// A relative path that is a safe store key: no empty, "." or ".." segment.
result<void> check_relative(std::string_view path, std::string_view what) {
  SLUICE_TRY_VOID(store::validate_key(path));
  std::size_t at = 0;
  for (;;) {
    const std::size_t end = std::min(path.find('/', at), path.size());
    const auto seg = path.substr(at, end - at);
    if (seg.empty() || seg == "." || seg == "..")
      return fail(errc::invalid_argument,
                  std::string(what) + ": path '" + std::string(path) + "' is not plain");
    if (end == path.size()) break;
    at = end + 1;
  }
  return {};
}

}  // namespace

result<void> validate_dataset_name(std::string_view name) {
  const bool ok = !name.empty() && name.size() <= 200 && name.front() != '.' &&
                  std::all_of(name.begin(), name.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                           c == '.' || c == '_' || c == '-';
                  });
  if (!ok)
    return fail(errc::invalid_argument, "dataset name '" + std::string(name) +
                                            "' is not valid: letters, digits, '.', '_' and '-', not "
                                            "starting with '.'");
  return {};
}

result<registry> registry::from_environment() {
  if (const char* h = std::getenv("SLUICE_HOME"); h && *h) return registry{h};
  if (const char* h = std::getenv("HOME"); h && *h) return registry{std::string(h) + "/.sluice"};
  return fail(errc::invalid_config, "neither SLUICE_HOME nor HOME is set: no place for the dataset registry");
}

result<std::optional<remote_config>> find_remote(const registry& r, std::string_view given) {
  if (!given.empty())
    return std::optional<remote_config>(remote_config{std::string(given), "", "", "--remote"});
  if (const char* e = std::getenv("SLUICE_FILES_REMOTE"); e && *e)
    return std::optional<remote_config>(remote_config{e, "", "", "SLUICE_FILES_REMOTE"});
  const std::string path = r.home + "/config";
  std::ifstream in(path);
  if (!in) return std::optional<remote_config>{};
  remote_config c;
  c.source = path;
  std::string line, section;
  int number = 0;
  auto trim = [](std::string s) {
    const auto b = s.find_first_not_of(" \t\r");
    const auto e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  };
  while (std::getline(in, line)) {
    ++number;
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']')
        return fail(errc::invalid_config,
                    path + ":" + std::to_string(number) + ": a section header without ']'");
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos)
      return fail(errc::invalid_config, path + ":" + std::to_string(number) + ": not NAME = VALUE");
    if (section != "files") continue;
    const std::string k = trim(line.substr(0, eq)), v = trim(line.substr(eq + 1));
    if (k == "remote")
      c.url = v;
    else if (k == "profile")
      c.profile = v;
    else if (k == "endpoint_url")
      c.endpoint_url = v;
    else
      return fail(errc::invalid_config, path + ":" + std::to_string(number) + ": unknown setting '" + k +
                                            "' in [files] (remote, profile, endpoint_url)");
  }
  if (c.url.empty()) return std::optional<remote_config>{};
  return std::optional<remote_config>(std::move(c));
}

std::string partition_of(std::string_view path) {
  if (!path.starts_with("data/")) return "";
  const auto rest = path.substr(5);
  const auto slash = rest.find('/');
  return slash == std::string_view::npos ? "" : std::string(rest.substr(0, slash));
}

std::vector<std::string> manifest::partitions() const {
  std::set<std::string> out;
  for (const auto& f : files)
    if (auto p = partition_of(f.path); !p.empty()) out.insert(p);
  return {out.begin(), out.end()};
}

std::uint64_t manifest::bytes() const {
  std::uint64_t n = 0;
  for (const auto& f : files) n += f.size;
  return n;
}

std::string manifest_json(const manifest& m) {
  json::object o;
  o["format"] = manifest_format;
  o["version"] = 1;
  o["name"] = m.name;
  o["id"] = m.id;
  o["created"] = m.created;
  if (m.meta)
    o["meta"] = *m.meta;
  else
    o["meta"] = nullptr;
  json::array files;
  for (const auto& f : m.files) {
    json::object e = metadata_json(f.meta).as_object();
    e["path"] = f.path;
    e["size"] = f.size;
    e["xxh3"] = f.xxh3;
    if (!f.etag.empty()) e["etag"] = f.etag;
    files.push_back(std::move(e));
  }
  o["files"] = std::move(files);
  return canonical_json(o) + "\n";
}

result<manifest> parse_manifest(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return fail(errc::invalid_argument, std::string(what) + ": not a JSON object");
  const auto& o = v.get_object();
  if (auto f = o.find("format");
      f == o.end() || !f->value().is_string() || f->value().get_string() != manifest_format)
    return fail(errc::invalid_argument, std::string(what) + ": not a sluice dataset manifest");
  if (auto ver = o.find("version");
      ver == o.end() || !ver->value().is_int64() || ver->value().get_int64() != 1)
    return fail(errc::unsupported, std::string(what) + ": a manifest version this sluice does not read");
  manifest m;
  SLUICE_TRY(m.name, string_field(o, "name", what));
  SLUICE_TRY(m.id, string_field(o, "id", what));
  // The id names the version's prefix, which a --force push later removes whole: a UUID, nothing else.
  const bool uuid =
      m.id.size() == 36 &&
      std::all_of(m.id.begin(), m.id.end(),
                  [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-'; }) &&
      m.id[8] == '-' && m.id[13] == '-' && m.id[18] == '-' && m.id[23] == '-';
  if (!uuid)
    return fail(errc::invalid_argument, std::string(what) + ": the version id '" + m.id + "' is not a UUID");
  if (auto ok = validate_dataset_name(m.name); !ok)
    return fail(errc::invalid_argument, std::string(what) + ": " + ok.error().message);
  SLUICE_TRY(m.created, string_field(o, "created", what));
  if (auto it = o.find("meta"); it != o.end() && it->value().is_object()) m.meta = it->value().get_object();
  auto files = o.find("files");
  if (files == o.end() || !files->value().is_array())
    return fail(errc::invalid_argument, std::string(what) + ": no list of files");
  std::set<std::string> seen;
  for (const auto& fv : files->value().get_array()) {
    if (!fv.is_object())
      return fail(errc::invalid_argument, std::string(what) + ": a file entry is not an object");
    const auto& fo = fv.get_object();
    file_entry e;
    SLUICE_TRY(e.path, string_field(fo, "path", what));
    const std::string where = std::string(what) + ": " + e.path;
    SLUICE_TRY_VOID(check_relative(e.path, what));
    SLUICE_TRY(e.size, number_field(fo, "size", where));
    SLUICE_TRY(e.xxh3, string_field(fo, "xxh3", where));
    if (!integrity::from_hex(e.xxh3))
      return fail(errc::invalid_argument, where + ": 'xxh3' is not 16 hex digits");
    SLUICE_TRY(e.meta, entry_metadata(fo, where));
    if (auto et = fo.find("etag"); et != fo.end() && et->value().is_string())
      e.etag = std::string(et->value().get_string());
    if (!seen.insert(e.path).second) return fail(errc::invalid_argument, where + ": listed twice");
    m.files.push_back(std::move(e));
  }
  std::sort(m.files.begin(), m.files.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return m;
}

namespace {
result<manifest> inspect_dataset_unguarded(const std::string& dir_in, std::string_view name, bool hash) {
  const fs::path dir(dir_in);
  std::error_code ec;
  const auto root_status = fs::symlink_status(dir, ec);
  if (ec || !fs::exists(root_status)) return fail(errc::not_found, dir_in + ": no such directory");
  if (!fs::is_directory(root_status)) return fail(errc::invalid_argument, dir_in + ": not a directory");
  manifest m;
  m.name = std::string(name);
  bool have_data = false;
  auto bad = [&](const fs::path& p, std::string why) {
    return fail(errc::invalid_argument, p.string() + ": " + std::move(why));
  };
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    const auto st = e.symlink_status();
    if (fs::is_symlink(st))
      return bad(e.path(), "a symbolic link (a dataset holds files and directories only)");
    if (fs::is_directory(st)) {
      if (n == "data") have_data = true;
      continue;
    }
    if (!fs::is_regular_file(st)) return bad(e.path(), "not a file or a directory");
    if (is_sluice_file(n)) continue;
    if (n != "meta.json" && n != "README.md")
      return bad(e.path(),
                 "a file at the top of a dataset (only meta.json and README.md go there; data goes in "
                 "data/<partition>/)");
  }
  if (ec) return os_fail("cannot list", dir_in, ec.value());
  if (!have_data) return bad(dir / "data", "missing (a dataset keeps its files in data/<partition>/)");
  bool any_partition = false;
  for (const auto& e : fs::directory_iterator(dir / "data", ec)) {
    const std::string n = e.path().filename().string();
    const auto st = e.symlink_status();
    if (fs::is_symlink(st))
      return bad(e.path(), "a symbolic link (a dataset holds files and directories only)");
    if (fs::is_directory(st)) {
      any_partition = true;
      continue;
    }
    if (fs::is_regular_file(st) && is_sluice_file(n)) continue;
    return bad(e.path(), "a file directly in data/ (files go in data/<partition>/)");
  }
  if (ec) return os_fail("cannot list", (dir / "data").string(), ec.value());
  if (!any_partition)
    return bad(dir / "data", "empty (a dataset has at least one partition, data/<partition>/)");

  // One walk: the files, and the sidecars seen beside them (read only for files that have one).
  // Paths below the directory as the walk gives them ("d/data/p/f" from "d", "d/" or "d//").
  std::string root = dir.lexically_normal().string();
  if (root.empty() || root.back() != '/') root += '/';
  std::set<std::string> sidecars;
  for (auto it = fs::recursive_directory_iterator(dir.lexically_normal(), ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const auto st = it->symlink_status();
    const std::string n = it->path().filename().string();
    if (fs::is_symlink(st))
      return bad(it->path(), "a symbolic link (a dataset holds files and directories only)");
    if (fs::is_directory(st)) continue;
    if (!fs::is_regular_file(st)) return bad(it->path(), "not a file or a directory");
    const std::string full = it->path().string();
    if (is_sidecar(n)) sidecars.insert(full);
    if (is_sluice_file(n)) continue;
    file_entry f;
    f.path = full.substr(root.size());  // below `dir`, '/'-separated
    if (auto ok = check_relative(f.path, dir_in); !ok) return bad(it->path(), ok.error().message);
    f.size = static_cast<std::uint64_t>(it->file_size(ec));
    if (ec) return os_fail("cannot stat", full, ec.value());
    m.files.push_back(std::move(f));
  }
  if (ec) return os_fail("cannot list", dir_in, ec.value());
  for (auto& f : m.files) {
    const std::string full = root + f.path;
    if (sidecars.contains(sidecar_path(full))) {
      SLUICE_TRY(datafile d, datafile::local(full));
      f.meta = d.metadata();
      f.sidecar = true;
    } else {
      f.meta.id = new_id();
    }
    if (hash) {
      SLUICE_TRY(content_hashes h, hash_file(full));
      f.xxh3 = h.xxh3;
    }
  }
  std::sort(m.files.begin(), m.files.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  // Every partition holds a file (an empty one would not exist on the remote).
  const auto parts = m.partitions();
  for (const auto& e : fs::directory_iterator(dir / "data"))
    if (fs::is_directory(e.symlink_status()) &&
        !std::binary_search(parts.begin(), parts.end(), e.path().filename().string()))
      return bad(e.path(), "an empty partition (no files)");
  if (path_exists(dir / "meta.json")) {
    SLUICE_TRY(std::string text, read_text((dir / "meta.json").string(), std::size_t{16} << 20));
    boost::system::error_code jec;
    json::value v = json::parse(text, jec);
    if (jec || !v.is_object()) return bad(dir / "meta.json", "not a JSON object");
    m.meta = v.get_object();
  }
  return m;
}

result<manifest> register_dataset_unguarded(const registry& r, const std::string& dir, std::string_view name,
                                            bool force) {
  SLUICE_TRY_VOID(validate_dataset_name(name));
  SLUICE_TRY(manifest m, inspect_dataset(dir, name, false));
  const std::string final_dir = r.dataset_dir(name);
  std::error_code ec;
  if (path_exists(final_dir) && !force)
    return fail(errc::precondition_failed, "dataset '" + std::string(name) + "' is already installed (" +
                                               final_dir + "): --force replaces it");
  if (path_exists(final_dir) && fs::equivalent(dir, final_dir, ec))
    return fail(errc::invalid_argument, dir + " is the installed dataset itself");
  fs::create_directories(r.home + "/datasets", ec);
  if (ec) return os_fail("cannot create", r.home + "/datasets", ec.value());
  // A complete copy beside the final name first; then the switch.
  const std::string incoming = r.home + "/datasets/." + std::string(name) + ".sluice-incoming-" + new_id();
  fs::copy(dir, incoming, fs::copy_options::recursive, ec);
  if (ec) {
    const int err = ec.value();
    fs::remove_all(incoming, ec);
    return os_fail("cannot copy into", incoming, err);
  }
  std::string old;
  if (path_exists(final_dir)) {
    old = r.home + "/datasets/." + std::string(name) + ".sluice-old-" + new_id();
    fs::rename(final_dir, old, ec);
    if (ec) {
      const int err = ec.value();
      fs::remove_all(incoming, ec);
      return os_fail("cannot move aside", final_dir, err);
    }
  }
  fs::rename(incoming, final_dir, ec);
  if (ec) {
    const int err = ec.value();
    if (!old.empty()) fs::rename(old, final_dir, ec);
    fs::remove_all(incoming, ec);
    return os_fail("cannot install into", final_dir, err);
  }
  if (!old.empty()) fs::remove_all(old, ec);
  fs::remove(r.manifest_path(name), ec);  // no longer a copy of a remote version
  return m;
}

result<std::vector<manifest>> installed_datasets_unguarded(const registry& r) {
  std::vector<manifest> out;
  std::error_code ec;
  const std::string dir = r.home + "/datasets";
  if (!path_exists(dir)) return out;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory() && n.front() != '.') names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    const std::string mpath = r.manifest_path(n);
    if (path_exists(mpath)) {
      SLUICE_TRY(std::string text, read_text(mpath, std::size_t{1} << 30));
      SLUICE_TRY(manifest m, parse_manifest(text, mpath));
      out.push_back(std::move(m));
    } else {
      SLUICE_TRY(manifest m, inspect_dataset(r.dataset_dir(n), n, false));
      out.push_back(std::move(m));
    }
  }
  return out;
}

// std::filesystem reports some failures only by throwing (a directory entry that vanished or cannot
// be read while it is walked): they become errors here, at the module's edge.
template <class F>
auto guarded(std::string_view what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const fs::filesystem_error& e) {
    return errno_error(e.code().value(),
                       std::string(what) + ": " + e.code().message() + " (" + e.path1().string() + ")");
  }
}

}  // namespace

result<manifest> inspect_dataset(const std::string& dir, std::string_view name, bool hash) {
  return guarded(dir, [&] { return inspect_dataset_unguarded(dir, name, hash); });
}

result<manifest> register_dataset(const registry& r, const std::string& dir, std::string_view name,
                                  bool force) {
  return guarded(dir, [&] { return register_dataset_unguarded(r, dir, name, force); });
}

result<std::vector<manifest>> installed_datasets(const registry& r) {
  return guarded(r.home, [&] { return installed_datasets_unguarded(r); });
}

awaitable<result<std::optional<manifest>>> remote_manifest(store::store& remote, std::string_view name) {
  SLUICE_CO_TRY_VOID(validate_dataset_name(name));
  const std::string key = std::string(name) + "/" + std::string(manifest_name);
  SLUICE_CO_TRY(store::read_result r, co_await remote.read(key, store::read_all));
  if (r.state != store::read_state::value) co_return std::optional<manifest>{};
  const std::string text(reinterpret_cast<const char*>(r.bytes.data()), r.bytes.size());
  SLUICE_CO_TRY(manifest m, parse_manifest(text, remote.describe(key)));
  if (m.name != name)
    co_return fail(errc::invalid_argument, remote.describe(key) + ": the manifest names dataset '" + m.name +
                                               "', not '" + std::string(name) + "'");
  co_return std::optional<manifest>(std::move(m));
}

awaitable<result<std::vector<manifest>>> remote_datasets(store::store& remote) {
  std::vector<std::string> names;
  store::list_options lo;
  lo.delimiter = "/";
  const store::list_callback on_page = [&](store::list_page& page) -> result<bool> {
    for (const auto& p : page.prefixes) {
      const std::string n = p.substr(0, p.size() - 1);
      if (validate_dataset_name(n)) names.push_back(n);
    }
    return true;
  };
  SLUICE_CO_TRY_VOID(co_await remote.list("", lo, on_page));
  std::vector<manifest> out;
  for (const auto& n : names) {
    SLUICE_CO_TRY(std::optional<manifest> m, co_await remote_manifest(remote, n));
    if (m) out.push_back(std::move(*m));  // no manifest: a first push still under way
  }
  co_return out;
}

namespace {

// Whether the file at `path` is the entry's content (size, then XXH3).
bool present_and_matching(const std::string& path, const file_entry& f) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<std::uint64_t>(st.st_size) != f.size)
    return false;
  auto h = hash_file(path);
  return h && h->xxh3 == f.xxh3;
}

// Downloads one file of version `m` into `path` and checks it against the manifest; a file that
// does not match is removed.
awaitable<result<void>> fetch_file(store::store& remote, const manifest& m, const file_entry& f,
                                   const std::string& path) {
  const std::string key = m.name + "/" + m.id + "/" + f.path;
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) co_return os_fail("cannot create directory", fs::path(path).parent_path().string(), ec.value());
  SLUICE_CO_TRY(store::read_result r, co_await remote.read_to_file(key, path));
  if (r.state != store::read_state::value)
    co_return fail(errc::not_found, remote.describe(key) +
                                        ": missing: the dataset was replaced on the remote while it was "
                                        "read (pull again)");
  // The object is the one pushed (its ETag, which any overwrite changes) and its bytes matched the
  // XXH3 sluice recorded when it uploaded them: the file is the manifest's without reading it again.
  if (r.verified && !f.etag.empty() && r.gen.tag == f.etag && r.size == f.size) co_return result<void>{};
  auto h = hash_file(path);
  if (!h || h->xxh3 != f.xxh3) {
    ::unlink(path.c_str());
    if (!h) co_return h.error();
    co_return fail(errc::integrity_mismatch, remote.describe(key) +
                                                 ": the content does not match the manifest (XXH3 " +
                                                 h->xxh3 + ", manifest " + f.xxh3 + "); not kept");
  }
  co_return result<void>{};
}

// Runs body(0) .. body(workers-1): spread over the remote's engine threads when
// it runs on an engine (each worker then calls the store from its own thread,
// where the scheduler keeps the call: no hop to another thread and back per
// file), else on the caller's executor. What the workers share must be
// synchronised.
template <class Body>
awaitable<void> run_file_workers(store::store& remote, unsigned workers, Body body) {
  engine* eng = remote.compute_engine();
  if (eng != nullptr && eng->thread_count() > 1)
    co_await run_on_contexts(*eng, 0, workers, std::move(body));
  else
    co_await run_concurrently(workers, std::move(body));
}

// The first failures of workers on several threads, and whether there was one.
class failure_list {
 public:
  void add(error e) {
    std::lock_guard lk(mu_);
    list_.push_back(std::move(e));
    any_.store(true, std::memory_order_relaxed);
  }
  bool any() const noexcept { return any_.load(std::memory_order_relaxed); }
  // After the workers have finished.
  std::vector<error>& all() noexcept { return list_; }

 private:
  std::mutex mu_;
  std::vector<error> list_;
  std::atomic<bool> any_{false};
};

}  // namespace

awaitable<result<push_result>> push(const registry& r, std::string_view name, store::store& remote,
                                    bool force, unsigned concurrency) {
  SLUICE_CO_TRY_VOID(validate_dataset_name(name));
  const std::string dir = r.dataset_dir(name);
  if (!path_exists(dir))
    co_return fail(errc::not_found, "dataset '" + std::string(name) +
                                        "' is not installed: sluice files register DIR " + std::string(name) +
                                        " first");
  // Hashed by the workers, each file just before it goes up: overlapped with the other transfers.
  SLUICE_CO_TRY(manifest m, inspect_dataset(dir, name, false));
  SLUICE_CO_TRY(std::optional<manifest> old, co_await remote_manifest(remote, name));
  if (old && !force)
    co_return fail(errc::precondition_failed,
                   remote.describe(std::string(name) + "/") + ": dataset exists (version " + old->id +
                       ", created " + old->created + "); datasets are immutable: --force replaces it");
  m.id = new_id();
  m.created = now_iso();
  // Every file's metadata fits on its object before anything is sent.
  for (const auto& f : m.files) {
    const auto meta = to_user_metadata(f.meta);
    if (user_metadata_bytes(meta) + 64 > user_metadata_limit)
      co_return fail(errc::too_large,
                     dir + "/" + f.path + ": its metadata is over S3's 2 KB of user metadata");
  }
  push_result out;
  // Files up to this size are read into memory once (64 workers: at most 64 MiB), larger ones stream
  // from the file.
  constexpr std::uint64_t small_file = std::uint64_t{1} << 20;
  failure_list failures;
  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t> files_up{0}, bytes_up{0};
  auto worker = [&](unsigned) -> awaitable<void> {
    std::vector<std::byte> held;  // this worker's small files, one after another
    for (std::size_t i = 0; !failures.any() && (i = next.fetch_add(1)) < m.files.size();) {
      file_entry& f = m.files[i];  // this worker's alone
      const std::string key = m.name + "/" + m.id + "/" + f.path;
      const std::string path = dir + "/" + f.path;
      store::write_options wo;
      if (f.sidecar) wo.metadata = to_user_metadata(f.meta);  // labelled files carry it on the object too
      result<store::generation> g = fail(errc::io_error, "");
      if (f.size <= small_file) {
        // Read once: hashed and sent from the same bytes (a file whose size changed since the walk is
        // sent as it is now, and the manifest says so).
        auto n = npy::read_bytes_into(path, held);
        if (!n) {
          failures.add(n.error());
          continue;
        }
        const std::span<const std::byte> bytes(held.data(), *n);
        f.size = *n;
        f.xxh3 = integrity::to_hex(integrity::xxh3(bytes));
        g = co_await remote.write(key, bytes, wo);
      } else {
        auto h = hash_file(path);
        if (!h) {
          failures.add(h.error());
          continue;
        }
        f.xxh3 = h->xxh3;
        g = co_await remote.write_file(key, path, wo);
      }
      if (!g) {
        failures.add(g.error());
        continue;
      }
      f.etag = g->tag;
      files_up.fetch_add(1, std::memory_order_relaxed);
      bytes_up.fetch_add(f.size, std::memory_order_relaxed);
    }
  };
  co_await run_file_workers(remote, std::max(1u, concurrency), worker);
  out.files = files_up.load();
  out.bytes = bytes_up.load();
  const std::string version_prefix = m.name + "/" + m.id;
  if (failures.any()) {
    (void)co_await remote.remove_prefix(version_prefix);  // what went up of this version
    co_return failures.all().front();
  }
  // The switch: readers see the old manifest or this one.
  const std::string text = manifest_json(m);
  const std::string key = m.name + "/" + std::string(manifest_name);
  store::write_options wo;
  wo.content_type = "application/json";
  auto features = co_await remote.probe_features();
  if (!old && features && features->conditional_create) wo.must_not_exist = true;
  auto written = co_await remote.write(key, std::as_bytes(std::span(text.data(), text.size())), wo);
  if (!written) {
    (void)co_await remote.remove_prefix(version_prefix);
    if (written.error().code == condition::precondition_failed)
      co_return fail(errc::precondition_failed,
                     remote.describe(key) + ": another push made the dataset first");
    co_return written.error();
  }
  if (old) {
    const std::string old_prefix = m.name + "/" + old->id;
    SLUICE_CO_TRY(store::remove_stats removed, co_await remote.remove_prefix(old_prefix));
    out.replaced_objects = removed.removed;
  }
  SLUICE_CO_TRY_VOID(write_text_atomically(r.manifest_path(name), text));
  out.pushed = std::move(m);
  co_return out;
}

awaitable<result<pull_result>> pull(const registry& r, std::string_view name, store::store& remote,
                                    const pull_options& opts) {
  SLUICE_CO_TRY(std::optional<manifest> found, co_await remote_manifest(remote, name));
  if (!found)
    co_return fail(errc::not_found, remote.describe(std::string(name) + "/") + ": no dataset '" +
                                        std::string(name) + "' there");
  pull_result out;
  out.pulled = std::move(*found);
  const manifest& m = out.pulled;
  const auto parts = m.partitions();
  for (const auto& p : opts.partitions)
    if (!std::binary_search(parts.begin(), parts.end(), p)) {
      std::string list;
      for (const auto& q : parts) list += (list.empty() ? "" : ", ") + q;
      co_return fail(errc::not_found, "dataset '" + std::string(name) + "' has no partition '" + p +
                                          "' (it has " + list + ")");
    }
  const std::string dir = r.dataset_dir(name);
  const std::string mpath = r.manifest_path(name);
  if (path_exists(dir) && !path_exists(mpath) && !opts.force)
    co_return fail(errc::precondition_failed, "dataset '" + std::string(name) + "' is installed here (" +
                                                  dir +
                                                  ") from a local directory, not from the remote: --force "
                                                  "replaces its files with the remote's");
  std::vector<const file_entry*> chosen;
  for (const auto& f : m.files) {
    const bool top = f.path.find('/') == std::string::npos;
    const std::string p = partition_of(f.path);
    bool take = top;
    if (!take) {
      const bool part_ok = opts.partitions.empty() ? true
                                                   : std::find(opts.partitions.begin(), opts.partitions.end(),
                                                               p) != opts.partitions.end();
      bool glob_ok = opts.include.empty();
      for (const auto& g : opts.include) glob_ok = glob_ok || objects::glob_match(g, f.path);
      take = part_ok && glob_ok && (!p.empty() || opts.partitions.empty());
    }
    if (take) chosen.push_back(&f);
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) co_return os_fail("cannot create", dir, ec.value());
  // The manifest first: the dataset opens (and fetches lazily) even if this pull stops part-way.
  SLUICE_CO_TRY_VOID(write_text_atomically(mpath, manifest_json(m)));
  failure_list failures;
  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t> present{0}, fetched{0}, fetched_bytes{0};
  auto worker = [&](unsigned) -> awaitable<void> {
    for (std::size_t i = 0; (i = next.fetch_add(1)) < chosen.size();) {
      const file_entry& f = *chosen[i];
      const std::string path = dir + "/" + f.path;
      if (!opts.force && present_and_matching(path, f)) {
        present.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      auto ok = co_await fetch_file(remote, m, f, path);
      if (!ok) {
        failures.add(ok.error());
        continue;
      }
      fetched.fetch_add(1, std::memory_order_relaxed);
      fetched_bytes.fetch_add(f.size, std::memory_order_relaxed);
    }
  };
  co_await run_file_workers(remote, std::max(1u, opts.concurrency), worker);
  out.present += present.load();
  out.fetched += fetched.load();
  out.fetched_bytes += fetched_bytes.load();
  if (failures.any()) {
    const auto& all = failures.all();
    error e = all.front();
    if (all.size() > 1) e.message = std::to_string(all.size()) + " files failed; the first: " + e.message;
    co_return e;
  }
  co_return out;
}

// ---- dataset ----------------------------------------------------------------------------------------

awaitable<result<dataset>> dataset::open(const registry& r, std::string_view name,
                                         const dataset_options& opts) {
  SLUICE_CO_TRY_VOID(validate_dataset_name(name));
  dataset d;
  d.root_ = r.dataset_dir(name);
  d.remote_ = opts.remote;
  const std::string mpath = r.manifest_path(name);
  if (path_exists(mpath)) {
    SLUICE_CO_TRY(std::string text, read_text(mpath, std::size_t{1} << 30));
    SLUICE_CO_TRY(d.m_, parse_manifest(text, mpath));
    d.from_remote_ = true;
  } else if (path_exists(d.root_)) {
    SLUICE_CO_TRY(d.m_, inspect_dataset(d.root_, name, false));
  } else if (opts.auto_install && opts.remote) {
    SLUICE_CO_TRY(std::optional<manifest> found, co_await remote_manifest(*opts.remote, name));
    if (!found)
      co_return fail(errc::not_found, "dataset '" + std::string(name) + "' is neither installed nor on " +
                                          opts.remote->describe(std::string(name) + "/"));
    d.m_ = std::move(*found);
    std::error_code ec;
    fs::create_directories(d.root_, ec);
    if (ec) co_return os_fail("cannot create", d.root_, ec.value());
    SLUICE_CO_TRY_VOID(write_text_atomically(mpath, manifest_json(d.m_)));
    d.from_remote_ = true;
  } else {
    co_return fail(errc::not_found, "dataset '" + std::string(name) +
                                        "' is not installed (sluice files pull " + std::string(name) +
                                        ", or open it with auto_install and a remote)");
  }
  if (d.m_.meta) d.meta_ = *d.m_.meta;
  co_return d;
}

std::vector<dataset_file> dataset::files(std::string_view partition) const {
  std::vector<dataset_file> out;
  for (const auto& f : m_.files) {
    if (partition_of(f.path) != partition) continue;
    dataset_file df;
    df.path = f.path;
    df.local_path = root_ + "/" + f.path;
    df.size = f.size;
    struct stat st {};
    df.present = ::stat(df.local_path.c_str(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) == f.size;
    df.meta = &f.meta;
    out.push_back(std::move(df));
  }
  return out;
}

awaitable<result<std::string>> dataset::fetch(std::string_view path) {
  auto it =
      std::find_if(m_.files.begin(), m_.files.end(), [&](const file_entry& f) { return f.path == path; });
  if (it == m_.files.end())
    co_return fail(errc::not_found, "dataset '" + m_.name + "' has no file '" + std::string(path) + "'");
  const std::string local = root_ + "/" + it->path;
  if (!from_remote_) {
    if (!path_exists(local)) co_return fail(errc::not_found, local + ": no such file");
    co_return local;
  }
  if (present_and_matching(local, *it)) co_return local;
  if (!remote_)
    co_return fail(errc::not_found,
                   local + ": not here, and the dataset was opened without a remote to fetch from");
  SLUICE_CO_TRY_VOID(co_await fetch_file(*remote_, m_, *it, local));
  co_return local;
}

}  // namespace sluice::files
