// The local directory driver (see file.hpp for its guarantees).
#include <sluice/store/file.hpp>

#include <sluice/engine/cache/file_writer.hpp>

#include "store/local_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>

namespace sluice::store {

namespace {

namespace asio = boost::asio;
using asio::awaitable;
using detail::temp_file;

constexpr std::size_t page_entries = 1000;

struct fd_guard {
  int fd = -1;
  fd_guard() = default;
  explicit fd_guard(int f) : fd(f) {}
  fd_guard(fd_guard&& o) noexcept : fd(o.fd) { o.fd = -1; }
  fd_guard& operator=(fd_guard&&) = delete;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

generation generation_of(const struct stat& sb) {
  char buf[80];
  std::snprintf(buf, sizeof buf, "%llx-%llx-%llx.%09ld", static_cast<unsigned long long>(sb.st_ino),
                static_cast<unsigned long long>(sb.st_size),
                static_cast<unsigned long long>(sb.st_mtim.tv_sec), sb.st_mtim.tv_nsec);
  return {buf};
}

// A temporary file of this driver's (or the cache writer's): never a key.
bool is_temporary(std::string_view name) {
  return name.size() > 1 && name.front() == '.' && name.find(".sluice-") != std::string_view::npos;
}

struct child {
  std::string name;
  bool dir = false;
  // Sort key: directories sort as "name/" so that the walk yields keys in byte order.
  std::string order() const { return dir ? name + "/" : name; }
};

// The regular files and directories in `dir` (symbolic links and other file
// types are not keys), in key order. ENOENT: an empty list.
result<std::vector<child>> read_children(const std::string& dir) {
  std::vector<child> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT || errno == ENOTDIR) return out;
    return os_fail("cannot list", dir, errno);
  }
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == ".." || is_temporary(name)) continue;
    unsigned char type = e->d_type;
    if (type == DT_UNKNOWN) {
      struct stat sb {};
      if (::fstatat(::dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) continue;
      type = S_ISDIR(sb.st_mode) ? DT_DIR : S_ISREG(sb.st_mode) ? DT_REG : DT_UNKNOWN;
    }
    if (type == DT_DIR || type == DT_REG) out.push_back({std::string(name), type == DT_DIR});
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(), [](const child& a, const child& b) { return a.order() < b.order(); });
  return out;
}

// Whether `dir` holds a key somewhere below it.
bool holds_a_key(const std::string& dir) {
  auto kids = read_children(dir);
  if (!kids) return true;  // unreadable: let the caller's listing report it
  for (const auto& k : *kids)
    if (!k.dir || holds_a_key(dir + "/" + k.name)) return true;
  return false;
}

class file_store final : public store {
 public:
  file_store(std::string root, std::shared_ptr<buffer_pool> pool)
      : root_(std::move(root)), pool_(std::move(pool)) {}

  awaitable<result<read_result>> read(std::string_view key, const read_options& opts) override {
    SLUICE_CO_TRY(std::string path, path_of(key));
    read_result r;
    // O_NONBLOCK on every open of a key or a source: a FIFO among them is not a
    // regular file and is refused, instead of blocking this thread on open().
    fd_guard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    struct stat sb {};
    if (fd.fd < 0 && errno != ENOENT && errno != ENOTDIR) co_return os_fail("cannot open", path, errno);
    if (fd.fd >= 0 && ::fstat(fd.fd, &sb) != 0) co_return os_fail("cannot stat", path, errno);
    if (fd.fd < 0 || !S_ISREG(sb.st_mode)) {
      if (opts.if_equal)
        co_return fail(errc::precondition_failed, path + ": no value to match the generation given");
      co_return r;  // missing (a directory is a prefix, not a value)
    }
    r.gen = generation_of(sb);
    r.size = static_cast<uint64_t>(sb.st_size);
    if (opts.if_equal && r.gen != *opts.if_equal)
      co_return fail(errc::precondition_failed, path + ": its generation is not the one given");
    if (opts.if_not_equal && r.gen == *opts.if_not_equal) {
      r.state = read_state::unchanged;
      co_return r;
    }
    SLUICE_CO_TRY(resolved_range rr, resolve(opts.range, r.size));
    SLUICE_CO_TRY(pooled_buffer buf, co_await pool_->acquire(static_cast<std::size_t>(rr.count)));
    SLUICE_CO_TRY_VOID(detail::pread_all(fd.fd, buf.span(), rr.first, path));
    // Changed while we read it? Then the bytes may mix two versions.
    struct stat after {};
    if (::fstat(fd.fd, &after) == 0 && generation_of(after) != r.gen)
      co_return fail(errc::io_error, path + " changed while it was being read");
    r.state = read_state::value;
    if (rr.count > 0) r.bytes = buf.share(0, static_cast<std::size_t>(rr.count));
    co_return r;
  }

  awaitable<result<generation>> write(std::string_view key, std::span<const std::byte> bytes,
                                      const write_options& opts) override {
    SLUICE_CO_TRY(std::string path, path_of(key));
    SLUICE_CO_TRY_VOID(check_supported(path, opts));
    SLUICE_CO_TRY(temp_file tmp, temp_file::create(path, true));
    SLUICE_CO_TRY_VOID(tmp.write_all(bytes));
    co_return finish(tmp, opts);
  }

  awaitable<result<void>> remove(std::string_view key, const remove_options& opts) override {
    SLUICE_CO_TRY(std::string path, path_of(key));
    if (opts.if_equal) {
      SLUICE_CO_TRY(std::optional<locked_file> cur, lock_current(path));
      if (!cur) co_return fail(errc::precondition_failed, path + ": not removed: it does not exist");
      if (cur->gen != *opts.if_equal)
        co_return fail(errc::precondition_failed,
                       path + ": not removed: its generation is not the one given");
      if (::unlink(path.c_str()) != 0) co_return os_fail("cannot remove", path, errno);
    } else if (::unlink(path.c_str()) != 0) {
      if (errno == EISDIR)
        co_return fail(errc::invalid_argument, path + " is a directory of other keys, not a value");
      if (errno != ENOENT && errno != ENOTDIR) co_return os_fail("cannot remove", path, errno);
      co_return result<void>{};
    }
    prune(detail::parent_of(path));
    co_return result<void>{};
  }

  awaitable<result<remove_stats>> remove_prefix(std::string_view prefix) override {
    remove_stats st;
    std::vector<std::string> doomed;
    auto collected = walk(prefix, list_all, [&](list_page& page) -> result<bool> {
      for (auto& e : page.entries)
        if (covers(prefix, e.key)) doomed.push_back(std::move(e.key));
      return true;
    });
    SLUICE_CO_TRY_VOID(collected);
    for (const auto& key : doomed) {
      const std::string path = root_ + "/" + key;
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        st.failures.push_back({key, os_fail("cannot remove", path, errno)});
        continue;
      }
      ++st.removed;
      prune(detail::parent_of(path));
    }
    co_return st;
  }

  awaitable<result<void>> list(std::string_view prefix, const list_options& opts,
                               const list_callback& on_page) override {
    co_return walk(prefix, opts, on_page);
  }

  awaitable<result<generation>> copy(std::string_view from, std::string_view to) override {
    SLUICE_CO_TRY(std::string src, path_of(from));
    SLUICE_CO_TRY(std::string dst, path_of(to));
    co_return copy_in(src, dst, write_always, true);
  }

  awaitable<result<generation>> copy_from(store& src, std::string_view src_key, std::string_view key,
                                          const write_options& opts) override {
    auto from = src.local_path(src_key);
    if (!from) co_return co_await store::copy_from(src, src_key, key, opts);
    SLUICE_CO_TRY(std::string dst, path_of(key));
    SLUICE_CO_TRY_VOID(check_supported(dst, opts));
    co_return copy_in(*from, dst, opts, true);
  }

  awaitable<result<generation>> move(std::string_view from, std::string_view to) override {
    SLUICE_CO_TRY(std::string src, path_of(from));
    SLUICE_CO_TRY(std::string dst, path_of(to));
    struct stat sb {};
    if (::lstat(src.c_str(), &sb) != 0 || !S_ISREG(sb.st_mode))
      co_return fail(errc::not_found, src + ": no such key");
    std::error_code ec;
    std::filesystem::create_directories(detail::parent_of(dst), ec);
    if (ec)
      co_return errno_error(ec.value(), "cannot create the directory for '" + dst + "': " + ec.message());
    if (::rename(src.c_str(), dst.c_str()) != 0) co_return os_fail("cannot move to", dst, errno);
    detail::sync_dir(detail::parent_of(dst));
    if (detail::parent_of(src) != detail::parent_of(dst)) detail::sync_dir(detail::parent_of(src));
    prune(detail::parent_of(src));
    co_return generation_of(sb);  // rename keeps inode, size and mtime
  }

  awaitable<result<std::optional<read_result>>> stat(std::string_view key) override {
    SLUICE_CO_TRY(std::string path, path_of(key));
    struct stat sb {};
    if (::stat(path.c_str(), &sb) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) co_return std::optional<read_result>{};
      co_return os_fail("cannot stat", path, errno);
    }
    if (!S_ISREG(sb.st_mode)) co_return std::optional<read_result>{};
    read_result r;
    r.state = read_state::value;
    r.gen = generation_of(sb);
    r.size = static_cast<uint64_t>(sb.st_size);
    co_return std::optional<read_result>(std::move(r));
  }

  awaitable<result<generation>> write_file(std::string_view key, std::string_view path,
                                           const write_options& opts) override {
    SLUICE_CO_TRY(std::string dst, path_of(key));
    SLUICE_CO_TRY_VOID(check_supported(dst, opts));
    co_return copy_in(std::string(path), dst, opts, false);
  }

  awaitable<result<read_result>> read_to_file(std::string_view key, std::string_view path_in) override {
    SLUICE_CO_TRY(std::string src, path_of(key));
    const std::string path(path_in);
    read_result r;
    fd_guard in(::open(src.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    struct stat sb {};
    if (in.fd < 0 && (errno == ENOENT || errno == ENOTDIR)) co_return r;
    if (in.fd < 0) co_return os_fail("cannot open", src, errno);
    if (::fstat(in.fd, &sb) != 0) co_return os_fail("cannot stat", src, errno);
    if (!S_ISREG(sb.st_mode)) co_return r;
    SLUICE_CO_TRY_VOID(cache::check_destination(path));
    SLUICE_CO_TRY(temp_file tmp, temp_file::create(path, false));
    SLUICE_CO_TRY_VOID(tmp.copy_from(in.fd, src));
    SLUICE_CO_TRY_VOID(tmp.sync());
    if (::rename(tmp.path().c_str(), path.c_str()) != 0) co_return os_fail("cannot rename into", path, errno);
    tmp.released();
    detail::sync_dir(detail::parent_of(path));
    r.state = read_state::value;
    r.gen = generation_of(sb);
    r.size = static_cast<uint64_t>(sb.st_size);
    co_return r;
  }

  feature_set features() const override {
    feature_set f;
    f.conditional_create = f.conditional_replace = f.conditional_remove = true;
    f.atomic_move = true;
    f.server_side_copy = true;
    f.user_metadata = false;
    return f;
  }

  std::string describe(std::string_view key) const override { return root_ + "/" + std::string(key); }
  std::optional<std::string> local_path(std::string_view key) const override {
    auto p = path_of(key);
    if (!p) return std::nullopt;
    return *p;
  }

 private:
  // Keys are plain relative paths: nothing can name a file outside the root.
  result<std::string> path_of(std::string_view key) const {
    SLUICE_TRY_VOID(validate_key(key));
    std::size_t start = 0;
    for (;;) {
      auto slash = key.find('/', start);
      std::string_view seg =
          key.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
      if (seg.empty() || seg == "." || seg == "..")
        return fail(errc::invalid_argument,
                    "the key '" + std::string(key) +
                        "' is not a plain relative path (empty, '.' or '..' segment, or a "
                        "leading or trailing '/'): it cannot name a file under " +
                        root_);
      if (is_temporary(seg))
        return fail(errc::invalid_argument,
                    "the key '" + std::string(key) + "' has the form of sluice's temporary files");
      if (slash == std::string_view::npos) break;
      start = slash + 1;
    }
    return root_ + "/" + std::string(key);
  }

  result<void> check_supported(const std::string& path, const write_options& opts) const {
    if (!opts.metadata.empty() || !opts.content_type.empty())
      return fail(errc::unsupported, path +
                                         ": a local directory keeps no user metadata or content type; "
                                         "not written rather than dropping them");
    return {};
  }

  struct locked_file {
    fd_guard fd;
    generation gen;
  };
  // The file now at `path`, locked (flock LOCK_EX) and confirmed still to be
  // the one at the path; nullopt when there is none.
  result<std::optional<locked_file>> lock_current(const std::string& path) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      fd_guard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
      if (fd.fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) return std::optional<locked_file>{};
        return os_fail("cannot open", path, errno);
      }
      while (::flock(fd.fd, LOCK_EX) != 0)
        if (errno != EINTR) return os_fail("cannot lock", path, errno);
      struct stat held {
      }, now{};
      if (::fstat(fd.fd, &held) != 0) return os_fail("cannot stat", path, errno);
      if (S_ISDIR(held.st_mode))
        return fail(errc::invalid_argument, path + " is a directory of other keys, not a value");
      if (::stat(path.c_str(), &now) != 0) {
        if (errno == ENOENT) return std::optional<locked_file>{};
        return os_fail("cannot stat", path, errno);
      }
      if (now.st_ino == held.st_ino && now.st_dev == held.st_dev)
        return std::optional<locked_file>(locked_file{std::move(fd), generation_of(held)});
      // Replaced between open and lock: look again.
    }
    return fail(errc::io_error, path + " keeps being replaced; gave up locking it");
  }

  // Makes a written temporary file the value at its final path, honouring the conditions.
  result<generation> finish(temp_file& tmp, const write_options& opts) {
    const std::string& path = tmp.final_path();
    SLUICE_TRY_VOID(tmp.sync());
    struct stat sb {};
    if (::fstat(tmp.fd(), &sb) != 0) return os_fail("cannot stat", tmp.path(), errno);
    if (opts.must_not_exist) {
      if (::renameat2(AT_FDCWD, tmp.path().c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) != 0) {
        if (errno == EEXIST) return fail(errc::precondition_failed, path + ": not written: the key exists");
        if (errno != EINVAL && errno != ENOSYS) return os_fail("cannot rename into", path, errno);
        // No RENAME_NOREPLACE on this file system: link() refuses to replace too.
        if (::link(tmp.path().c_str(), path.c_str()) != 0) {
          if (errno == EEXIST) return fail(errc::precondition_failed, path + ": not written: the key exists");
          return os_fail("cannot link into", path, errno);
        }
        ::unlink(tmp.path().c_str());
      }
    } else {
      SLUICE_TRY(std::optional<locked_file> cur, lock_current(path));
      if (opts.if_equal) {
        if (!cur) return fail(errc::precondition_failed, path + ": not written: it does not exist");
        if (cur->gen != *opts.if_equal)
          return fail(errc::precondition_failed, path + ": not written: its generation is not the one given");
      }
      if (::rename(tmp.path().c_str(), path.c_str()) != 0) return os_fail("cannot rename into", path, errno);
    }
    tmp.released();
    detail::sync_dir(detail::parent_of(path));
    return generation_of(sb);
  }

  result<generation> copy_in(const std::string& src, const std::string& dst, const write_options& opts,
                             bool src_is_key) {
    fd_guard in(::open(src.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (in.fd < 0 && src_is_key && (errno == ENOENT || errno == ENOTDIR))
      return fail(errc::not_found, src + ": no such key");
    if (in.fd < 0) return os_fail("cannot open", src, errno);
    struct stat sb {};
    if (::fstat(in.fd, &sb) != 0) return os_fail("cannot stat", src, errno);
    if (!S_ISREG(sb.st_mode)) return fail(errc::invalid_argument, "'" + src + "' is not a regular file");
    SLUICE_TRY(temp_file tmp, temp_file::create(dst, true));
    SLUICE_TRY_VOID(tmp.copy_from(in.fd, src));
    return finish(tmp, opts);
  }

  // Removes `dir` and its parents while they are empty, up to the root.
  void prune(std::string dir) {
    while (dir.size() > root_.size() && dir.starts_with(root_) && ::rmdir(dir.c_str()) == 0)
      dir = detail::parent_of(dir);
  }

  // The listing: a depth-first walk of the directories the prefix can reach,
  // children in key order, pages of page_entries.
  result<void> walk(std::string_view prefix, const list_options& opts, const list_callback& on_page) {
    list_page page;
    bool stopped = false;
    auto flush = [&]() -> result<void> {
      if (page.entries.empty() && page.prefixes.empty()) return {};
      SLUICE_TRY(bool more, on_page(page));
      page = {};
      if (!more) stopped = true;
      return {};
    };
    const bool one_level = !opts.delimiter.empty();
    if (one_level && opts.delimiter != "/")
      return fail(errc::unsupported, root_ + ": a local directory lists with the delimiter '/' only");
    std::function<result<void>(const std::string&)> visit = [&](const std::string& rel) -> result<void> {
      SLUICE_TRY(std::vector<child> kids, read_children(rel.empty() ? root_ : root_ + "/" + rel));
      for (const auto& k : kids) {
        if (stopped) return {};
        std::string key = rel + k.name;
        if (!k.dir) {
          if (!key.starts_with(prefix) || (!opts.start_after.empty() && key <= opts.start_after)) continue;
          struct stat sb {};
          const std::string path = root_ + "/" + key;
          if (::stat(path.c_str(), &sb) != 0) continue;  // removed meanwhile
          page.entries.push_back({std::move(key), static_cast<uint64_t>(sb.st_size), generation_of(sb), {}});
        } else {
          std::string dir = key + "/";
          const bool inside = dir.starts_with(prefix);
          if (!inside && !prefix.starts_with(dir)) continue;
          if (!opts.start_after.empty() && dir <= opts.start_after && !opts.start_after.starts_with(dir))
            continue;
          if (inside && one_level && dir.size() > prefix.size()) {
            if ((opts.start_after.empty() || dir > opts.start_after) && holds_a_key(root_ + "/" + key))
              page.prefixes.push_back(std::move(dir));
          } else {
            SLUICE_TRY_VOID(visit(dir));
          }
        }
        if (page.entries.size() + page.prefixes.size() >= page_entries) SLUICE_TRY_VOID(flush());
      }
      return {};
    };
    SLUICE_TRY_VOID(visit(""));
    if (!stopped) SLUICE_TRY_VOID(flush());
    return {};
  }

  std::string root_;
  std::shared_ptr<buffer_pool> pool_;
};

}  // namespace

result<std::shared_ptr<store>> open_file_store(std::string_view root_in, const file_options& opts) {
  if (root_in.empty()) return fail(errc::invalid_argument, "an empty path names no directory");
  std::error_code ec;
  std::filesystem::path root = std::filesystem::absolute(std::string(root_in), ec);
  if (ec) return errno_error(ec.value(), "cannot resolve '" + std::string(root_in) + "': " + ec.message());
  root = root.lexically_normal();
  std::string r = root.string();
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  struct stat sb {};
  if (::stat(r.c_str(), &sb) != 0) {
    if (errno != ENOENT || !opts.create_root) return os_fail("cannot open the store directory", r, errno);
    std::filesystem::create_directories(r, ec);
    if (ec) return errno_error(ec.value(), "cannot create the store directory '" + r + "': " + ec.message());
  } else if (!S_ISDIR(sb.st_mode)) {
    return fail(errc::invalid_argument, "'" + r + "' is not a directory");
  }
  auto pool = opts.pool ? opts.pool : buffer_pool::create({opts.read_budget});
  return std::shared_ptr<store>(std::make_shared<file_store>(std::move(r), std::move(pool)));
}

}  // namespace sluice::store
