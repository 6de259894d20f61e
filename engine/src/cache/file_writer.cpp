#include <sluice/engine/cache/file_writer.hpp>

#include "cache/backend.hpp"
#include "cache/commit_group.hpp"
#include "cache/uring_service.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sluice/engine/integrity/xxh3.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <string_view>

namespace sluice::cache {

namespace asio = boost::asio;

namespace {

constexpr uint64_t direct_align = 4096;
// One submission at most: io_uring lengths are 32-bit; pwrite stops below 2 GiB anyway.
constexpr uint64_t max_chunk = uint64_t{1} << 30;
// Consecutive -EAGAIN/-EINTR on one write before giving up (each one is a full re-queue).
constexpr unsigned max_again = 1000;
// Room for ".", ".sluice-XXXXXX" within NAME_MAX (255).
constexpr std::size_t max_name_in_temp = 240;

std::string errno_text(int e) {
  return std::strerror(e);
}

bool aligned(uint64_t v) noexcept {
  return v % direct_align == 0;
}

// Six characters from [0-9A-Za-z] for the temporary name.
std::string random_suffix() {
  static constexpr char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  static std::atomic<uint64_t> counter{0};
  unsigned char bytes[6];
  if (::getrandom(bytes, sizeof bytes, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof bytes)) {
    // No entropy yet (early boot): pid, clock and a counter still make collisions unlikely, and
    // O_EXCL makes them harmless.
    uint64_t x = static_cast<uint64_t>(::getpid()) * 0x9E3779B97F4A7C15ull ^
                 static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                 (counter.fetch_add(1) << 40);
    for (auto& b : bytes) {
      b = static_cast<unsigned char>(x);
      x = (x >> 8) | (x << 56);
      x *= 0xBF58476D1CE4E5B9ull;
    }
  }
  std::string s(sizeof bytes, '0');
  for (std::size_t i = 0; i < sizeof bytes; ++i) s[i] = alphabet[bytes[i] % (sizeof alphabet - 1)];
  return s;
}

// Decrements the writer's in-flight count however the write coroutine ends.
struct in_flight_scope {
  explicit in_flight_scope(unsigned& n) : n_(n) { ++n_; }
  ~in_flight_scope() { --n_; }
  in_flight_scope(const in_flight_scope&) = delete;
  in_flight_scope& operator=(const in_flight_scope&) = delete;
  unsigned& n_;
};

}  // namespace

result<std::optional<io_backend>> detail::backend_from_environment() {
  const char* v = std::getenv("SLUICE_IO_BACKEND");
  if (!v || !*v) return std::optional<io_backend>{};
  std::string_view s(v);
  if (s == "pwrite") return std::optional<io_backend>{io_backend::pwrite};
  if (s == "io_uring") return std::optional<io_backend>{io_backend::io_uring};
  return fail(errc::invalid_argument,
              "SLUICE_IO_BACKEND=" + std::string(s) + " is not one of: io_uring, pwrite (or unset)");
}

result<void> check_destination(const std::string& path) {
  struct stat sb {};
  if (::lstat(path.c_str(), &sb) != 0) {
    if (errno == ENOENT) return {};
    return os_fail("cannot inspect the destination", path, errno);
  }
  if (S_ISREG(sb.st_mode)) return {};
  const char* what = S_ISLNK(sb.st_mode)    ? "a symbolic link"
                     : S_ISDIR(sb.st_mode)  ? "a directory"
                     : S_ISFIFO(sb.st_mode) ? "a FIFO"
                     : S_ISCHR(sb.st_mode)  ? "a character device"
                     : S_ISBLK(sb.st_mode)  ? "a block device"
                     : S_ISSOCK(sb.st_mode) ? "a socket"
                                            : "not a regular file";
  return fail(errc::invalid_argument,
              "'" + path + "' is " + what + "; sluice writes only regular files and does not replace it");
}

const char* to_string(io_backend b) noexcept {
  return b == io_backend::io_uring ? "io_uring" : "pwrite";
}

file_writer::file_writer(std::string final_path, uint64_t size)
    : final_path_(std::move(final_path)), size_(size) {}

namespace {

constexpr std::string_view temp_marker = ".sluice-";
constexpr std::string_view journal_suffix = ".journal";
constexpr std::size_t suffix_chars = 6;

bool is_suffix_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// ".<name>.sluice-XXXXXX" (a temporary file) -> true; `journal` set for one with ".journal" after it.
bool is_temp_name(std::string_view n, bool& journal) {
  journal = n.ends_with(journal_suffix);
  if (journal) n.remove_suffix(journal_suffix.size());
  if (n.size() < 2 + temp_marker.size() + suffix_chars || n.front() != '.') return false;
  const std::string_view tail = n.substr(n.size() - suffix_chars);
  if (!std::all_of(tail.begin(), tail.end(), is_suffix_char)) return false;
  return n.substr(n.size() - suffix_chars - temp_marker.size(), temp_marker.size()) == temp_marker;
}

// Takes the writer's lock on a temporary file: held while the descriptor is open, by a live process.
bool try_lock(int fd) {
  int r;
  do {
    r = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (r != 0 && errno == EINTR);
  return r == 0;
}

// Whether `path` still names the file open as `fd` (a sweeper may have removed it meanwhile).
bool same_file(int fd, const std::string& path) {
  struct stat a {
  }, b{};
  return ::fstat(fd, &a) == 0 && ::lstat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
}

// ---- the journal: one header line, then one line per part written ---------------------------
//   sluice-journal 1 <size> <part size> <hex etag> <hex source> <check>
//   <index> <xxh3 of the part, 16 hex> <check>
// <check> is 8 hex digits of the XXH3 of the line before it: a torn or zeroed tail ends the list.

std::string hex_of(std::string_view s) {
  static constexpr char digits[] = "0123456789abcdef";
  if (s.empty()) return "-";
  std::string out;
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string check_of(std::string_view line) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(integrity::xxh3(line)));
  return buf;
}

std::string journal_header(uint64_t size, const resume_key& key) {
  std::string line = "sluice-journal 1 " + std::to_string(size) + " " + std::to_string(key.part_size) + " " +
                     hex_of(key.etag) + " " + hex_of(key.source);
  return line + " " + check_of(line) + "\n";
}

std::string journal_record(uint64_t index, uint64_t hash) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%llu %016llx", static_cast<unsigned long long>(index),
                static_cast<unsigned long long>(hash));
  std::string line = buf;
  return line + " " + check_of(line) + "\n";
}

// One checked line: its content without the check, or nullopt.
std::optional<std::string_view> checked(std::string_view line) {
  const auto sp = line.rfind(' ');
  if (sp == std::string_view::npos) return std::nullopt;
  if (check_of(line.substr(0, sp)) != line.substr(sp + 1)) return std::nullopt;
  return line.substr(0, sp);
}

struct journal_contents {
  std::map<uint64_t, uint64_t> parts;
  uint64_t valid_bytes = 0;  // the header and the whole, checked records
};

// Reads `path` and returns its parts if its header matches `size` and `key`.
std::optional<journal_contents> read_journal(const std::string& path, uint64_t size, const resume_key& key) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > (std::size_t(64) << 20)) break;  // far more than 10,000 parts take
  }
  ::close(fd);
  const std::string header = journal_header(size, key);
  if (!text.starts_with(header)) return std::nullopt;
  journal_contents out;
  std::size_t at = header.size();
  out.valid_bytes = at;
  while (at < text.size()) {
    const auto nl = text.find('\n', at);
    if (nl == std::string::npos) break;
    auto body = checked(std::string_view(text).substr(at, nl - at));
    if (!body) break;
    unsigned long long index = 0, hash = 0;
    const std::string b(*body);
    if (std::sscanf(b.c_str(), "%llu %llx", &index, &hash) != 2) break;
    out.parts[index] = hash;
    at = nl + 1;
    out.valid_bytes = at;
  }
  return out;
}

// Writes all of `text` at `offset`.
bool write_all(int fd, std::string_view text, uint64_t offset) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::pwrite(fd, text.data() + done, text.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Directories already swept by this process.
std::mutex swept_mu;
std::set<std::string> swept;

void sweep_once(const std::string& dir) {
  {
    std::lock_guard lk(swept_mu);
    if (!swept.insert(dir).second) return;
  }
  remove_stale_temp_files(dir);
}

}  // namespace

std::size_t remove_stale_temp_files(const std::string& dir, std::chrono::seconds keep_resumable) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  std::vector<std::pair<std::string, bool>> found;
  while (dirent* e = ::readdir(d)) {
    bool journal = false;
    if (is_temp_name(e->d_name, journal)) found.emplace_back(e->d_name, journal);
  }
  ::closedir(d);
  std::size_t removed = 0;
  const auto now = std::chrono::system_clock::now();
  for (const auto& [name, journal] : found) {
    const std::string path = dir + "/" + name;
    if (journal) {
      // A journal whose file is gone (a crash between the two removals).
      struct stat sb {};
      const std::string temp = path.substr(0, path.size() - journal_suffix.size());
      if (::lstat(temp.c_str(), &sb) != 0 && errno == ENOENT) ::unlink(path.c_str());
      continue;
    }
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat sb {};
    if (::fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || !try_lock(fd)) {
      ::close(fd);  // not ours to touch, or a live writer holds it
      continue;
    }
    const std::string journal_path = path + std::string(journal_suffix);
    struct stat jb {};
    if (::lstat(journal_path.c_str(), &jb) == 0 && S_ISREG(jb.st_mode) &&
        now - std::chrono::system_clock::from_time_t(jb.st_mtime) < keep_resumable) {
      ::close(fd);  // resumable by the next run of the same download
      continue;
    }
    if (same_file(fd, path) && ::unlink(path.c_str()) == 0) {
      ++removed;
      ::unlink(journal_path.c_str());
    }
    ::close(fd);
  }
  return removed;
}

// Validates the destination, picks the backend and makes the (not yet opened) writer; `name` gets
// the file name the temporary name is made from.
result<std::unique_ptr<file_writer>> file_writer::prepare(asio::any_io_executor ex, std::string final_path,
                                                          uint64_t size, const writer_options& opts,
                                                          std::string& name) {
  if (final_path.empty()) return fail(errc::invalid_argument, "file_writer: empty destination path");
  if (!ex) return fail(errc::invalid_argument, "file_writer: no executor for " + final_path);
  if (size > static_cast<uint64_t>(std::numeric_limits<off_t>::max()) - direct_align)
    return fail(errc::invalid_argument, "file_writer: size too large for " + final_path);
  const auto slash = final_path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : final_path.substr(0, slash);
  name = slash == std::string::npos ? final_path : final_path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..")
    return fail(errc::invalid_argument, "file_writer: " + final_path + " names a directory, not a file");

  // Backend: the caller's choice, else the environment's, else io_uring when it works here.
  std::optional<io_backend> wanted = opts.backend;
  if (!wanted) {
    SLUICE_TRY(wanted, detail::backend_from_environment());
  }
  const bool forced = wanted.has_value();
  io_backend backend = wanted.value_or(io_backend::io_uring);
  uring_service* ring = nullptr;
  if (backend == io_backend::io_uring) {
    if (!io_uring_available()) {
      if (forced)
        return fail(errc::io_error,
                    "io_uring was requested for " + final_path + " but is not available here");
      backend = io_backend::pwrite;
    } else {
      asio::io_context* ioc = io_context_of(ex);
      uring_service* svc = ioc ? &asio::use_service<uring_service>(*ioc) : nullptr;
      if (svc && svc->ok()) {
        ring = svc;
      } else if (forced) {
        const std::string why = svc ? svc->init_error() : "the executor does not belong to an io_context";
        return fail(errc::io_error, "io_uring was requested for " + final_path + ": " + why);
      } else {
        backend = io_backend::pwrite;
      }
    }
  }

  SLUICE_TRY_VOID(check_destination(final_path));
  std::unique_ptr<file_writer> w(new file_writer(std::move(final_path), size));
  w->backend_ = backend;
  w->ring_ = ring;
  w->dir_path_ = dir;
  w->sync_dir_ = opts.sync_directory;
  w->group_commit_ = opts.group_commit;
  w->journal_every_parts_ = std::max(1u, opts.journal_every_parts);
  w->journal_every_ = opts.journal_every;
  if (name.size() > max_name_in_temp) name.resize(max_name_in_temp);
  return w;
}

// Creates a fresh temporary file and takes its lock.
result<void> file_writer::create_temp(std::string name) {
  const std::string& dir = dir_path_;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    std::string temp = dir + "/." + name + std::string(temp_marker) + random_suffix();
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      // The lock tells other runs this file is alive. A sweeper that locked it first, between the
      // open and here, removes it: then try another name.
      if (!try_lock(fd) || !same_file(fd, temp)) {
        ::close(fd);
        fd = -1;
        continue;
      }
      temp_path_ = std::move(temp);
      break;
    }
    if (errno != EEXIST && errno != EINTR) {
      int e = errno;
      return errno_error(
          e, "cannot create a temporary file in " + dir + " for " + final_path_ + ": " + errno_text(e));
    }
  }
  if (fd < 0)
    return fail(errc::io_error, "cannot create a temporary file in " + dir + " for " + final_path_ +
                                    ": every name tried exists");
  buffered_fd_ = fd;  // from here on, the destructor removes the temporary file
  return {};
}

result<void> file_writer::open_direct_and_preallocate(const writer_options& opts) {
  const int fd = buffered_fd_;
  if (opts.direct) {
    int dfd;
    do {
      dfd = ::open(temp_path_.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
    } while (dfd < 0 && errno == EINTR);
    if (dfd >= 0) {
      // Same file? (someone could have renamed ours in between; then stay buffered)
      struct stat created = {};
      struct stat reopened = {};
      if (::fstat(fd, &created) == 0 && ::fstat(dfd, &reopened) == 0 && created.st_dev == reopened.st_dev &&
          created.st_ino == reopened.st_ino) {
        direct_fd_ = dfd;
        direct_ = true;
      } else {
        ::close(dfd);
      }
    }
    // EINVAL (no O_DIRECT on this file system) or anything else: buffered writes only.
  }

  // Preallocate. fallocate(2) rather than posix_fallocate: where the file system has no
  // fallocate, glibc's posix_fallocate emulates it by writing every block, doubling the I/O.
  // (Mode 0 keeps the bytes an adopted file already holds.) Not for a small buffered file: it is
  // written at once, and preallocating makes ext4 allocate unwritten extents that its writeback
  // then converts, two metadata updates instead of one delayed allocation.
  const bool small_buffered = !opts.direct && size_ < (uint64_t(1) << 20);
  if (size_ > 0 && !small_buffered) {
    int r;
    do {
      r = ::fallocate(fd, 0, 0, static_cast<off_t>(size_));
    } while (r != 0 && errno == EINTR);
    if (r != 0 && errno != EOPNOTSUPP && errno != ENOSYS) {
      int e = errno;
      return errno_error(e, "cannot preallocate " + std::to_string(size_) + " bytes for " + temp_path_ +
                                ": " + errno_text(e));
    }
  }
  return {};
}

result<std::unique_ptr<file_writer>> file_writer::create(asio::any_io_executor ex, std::string final_path,
                                                         uint64_t size, writer_options opts) {
  std::string name;
  SLUICE_TRY(std::unique_ptr<file_writer> w, prepare(std::move(ex), std::move(final_path), size, opts, name));
  SLUICE_TRY_VOID(w->create_temp(name));
  SLUICE_TRY_VOID(w->open_direct_and_preallocate(opts));
  sweep_once(w->dir_path_);
  return w;
}

// A fresh journal: the header, made durable before any part is recorded.
result<void> file_writer::start_journal(const resume_key& key) {
  const std::string path = temp_path_ + std::string(journal_suffix);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return {};  // no journal: the download still works, it just cannot resume
  const std::string header = journal_header(size_, key);
  if (!write_all(fd, header, 0) || ::fdatasync(fd) != 0) {
    ::close(fd);
    ::unlink(path.c_str());
    return {};
  }
  journal_fd_ = fd;
  journal_size_ = header.size();
  return {};
}

result<std::unique_ptr<file_writer>> file_writer::create_resumable(asio::any_io_executor ex,
                                                                   std::string final_path, uint64_t size,
                                                                   const resume_key& key,
                                                                   writer_options opts) {
  std::string name;
  SLUICE_TRY(std::unique_ptr<file_writer> w, prepare(std::move(ex), std::move(final_path), size, opts, name));
  // Temporary files of this destination that no live process holds: adopt the first whose journal
  // matches, remove the others (the object changed, or they cannot be resumed).
  const std::string prefix = "." + name + std::string(temp_marker);
  std::vector<std::string> candidates;
  if (DIR* d = ::opendir(w->dir_path_.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      bool journal = false;
      if (n.starts_with(prefix) && n.size() == prefix.size() + suffix_chars && is_temp_name(n, journal) &&
          !journal)
        candidates.emplace_back(n);
    }
    ::closedir(d);
  }
  for (const auto& n : candidates) {
    const std::string path = w->dir_path_ + "/" + n;
    const std::string journal_path = path + std::string(journal_suffix);
    int fd = ::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat sb {};
    if (::fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || !try_lock(fd) || !same_file(fd, path)) {
      ::close(fd);
      continue;
    }
    std::optional<journal_contents> j;
    if (w->buffered_fd_ < 0) j = read_journal(journal_path, size, key);
    if (!j) {
      ::unlink(path.c_str());
      ::unlink(journal_path.c_str());
      ::close(fd);
      continue;
    }
    int jfd = ::open(journal_path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (jfd < 0 || ::ftruncate(jfd, static_cast<off_t>(j->valid_bytes)) != 0) {
      if (jfd >= 0) ::close(jfd);
      ::unlink(path.c_str());
      ::unlink(journal_path.c_str());
      ::close(fd);
      continue;
    }
    w->buffered_fd_ = fd;
    w->temp_path_ = path;
    w->journal_fd_ = jfd;
    w->journal_size_ = j->valid_bytes;
    w->resumed_ = std::move(j->parts);
  }
  if (w->buffered_fd_ < 0) {
    SLUICE_TRY_VOID(w->create_temp(name));
    SLUICE_TRY_VOID(w->start_journal(key));
  }
  SLUICE_TRY_VOID(w->open_direct_and_preallocate(opts));
  sweep_once(w->dir_path_);
  return w;
}

void file_writer::record_part(uint64_t index, uint64_t hash) {
  if (journal_fd_ >= 0) pending_.emplace_back(index, hash);
}

asio::awaitable<result<void>> file_writer::checkpoint(bool force) {
  if (journal_fd_ < 0 || pending_.empty() || checkpointing_ || closed_ || committed_)
    co_return result<void>{};
  const auto now = std::chrono::steady_clock::now();
  if (!force && pending_.size() < journal_every_parts_ && now - last_checkpoint_ < journal_every_)
    co_return result<void>{};
  checkpointing_ = true;
  last_checkpoint_ = now;
  in_flight_scope scope(in_flight_);
  // Only the parts recorded before the data fsync may be named by the journal.
  std::vector<std::pair<uint64_t, uint64_t>> batch;
  batch.swap(pending_);
  long r;
  do {
    r = co_await fsync_fd(buffered_fd_);
  } while (r == -EINTR || r == -EAGAIN);
  if (r < 0 || closed_ || committed_ || journal_fd_ < 0) {
    checkpointing_ = false;
    co_return r < 0
        ? errno_error(static_cast<int>(-r), "fsync " + temp_path_ + ": " + errno_text(static_cast<int>(-r)))
        : result<void>{};
  }
  std::string lines;
  for (const auto& [i, h] : batch) lines += journal_record(i, h);
  const int jfd = journal_fd_;
  if (write_all(jfd, lines, journal_size_)) {
    journal_size_ += lines.size();
    do {
      r = co_await fsync_fd(jfd);
    } while (r == -EINTR || r == -EAGAIN);
  }
  checkpointing_ = false;
  co_return result<void>{};
}

file_writer::~file_writer() {
  abandon();
}

void file_writer::abandon() noexcept {
  if (closed_) return;
  closed_ = true;
  if (direct_fd_ >= 0) ::close(direct_fd_);
  if (buffered_fd_ >= 0) ::close(buffered_fd_);
  direct_fd_ = buffered_fd_ = -1;
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
  if (journal_fd_ >= 0) {
    ::close(journal_fd_);
    journal_fd_ = -1;
    ::unlink((temp_path_ + std::string(journal_suffix)).c_str());
  }
}

asio::awaitable<long> file_writer::write_some(int fd, const std::byte* p, std::size_t n, uint64_t offset) {
  if (backend_ == io_backend::io_uring) {
    int r = co_await ring_->async_write(fd, p, static_cast<unsigned>(n), offset, asio::use_awaitable);
    co_return r;
  }
  // pwrite backend: inline on the calling thread (see the header).
  ssize_t r = ::pwrite(fd, p, n, static_cast<off_t>(offset));
  co_return r < 0 ? -errno : static_cast<long>(r);
}

asio::awaitable<long> file_writer::fsync_fd(int fd) {
  if (backend_ == io_backend::io_uring) {
    int r = co_await ring_->async_fsync(fd, asio::use_awaitable);
    co_return r;
  }
  co_return ::fsync(fd) == 0 ? 0 : -errno;
}

asio::awaitable<result<void>> file_writer::write_at(uint64_t offset, std::span<const std::byte> data) {
  if (closed_ || committed_)
    co_return fail(errc::invalid_argument, "write to " + temp_path_ + " after commit or abandon");
  const uint64_t len = data.size();
  if (offset > size_ || len > size_ - offset)
    co_return fail(errc::invalid_argument, "write of " + std::to_string(len) + " bytes at offset " +
                                               std::to_string(offset) + " past the size " +
                                               std::to_string(size_) + " of " + final_path_);
  if (len == 0) co_return result<void>{};
  in_flight_scope scope(in_flight_);

  const std::byte* const p = data.data();
  // An O_DIRECT tail is written with its padding (the buffer's capacity covers it) and the
  // file is truncated back at commit.
  const uint64_t io_len =
      (direct_ && offset + len == size_) ? (len + direct_align - 1) / direct_align * direct_align : len;
  bool try_direct = direct_;
  uint64_t done = 0;
  unsigned again = 0;
  while (done < len) {
    if (closed_)
      co_return fail(errc::invalid_argument, "write to " + temp_path_ + " abandoned while in flight");
    const std::byte* at = p + done;
    const uint64_t pos = offset + done;
    // O_DIRECT for what is aligned (also the rest of a short direct write); the buffered
    // descriptor for anything else.
    const bool use_direct =
        try_direct && aligned(reinterpret_cast<uintptr_t>(at)) && aligned(pos) && aligned(io_len - done);
    const int fd = use_direct ? direct_fd_ : buffered_fd_;
    uint64_t n = use_direct ? io_len - done : len - done;
    if (n > max_chunk) n = max_chunk;
    long r = co_await write_some(fd, at, static_cast<std::size_t>(n), pos);
    if (r == -EAGAIN || r == -EINTR) {
      if (++again > max_again)
        co_return fail(errc::io_error,
                       "write to " + temp_path_ + " keeps returning EAGAIN at offset " + std::to_string(pos));
      continue;
    }
    if (r == -EINVAL && use_direct) {
      // The file system accepted O_DIRECT at open but not this write: go buffered.
      try_direct = false;
      continue;
    }
    if (r < 0)
      co_return errno_error(static_cast<int>(-r), "write of " + std::to_string(n) + " bytes at offset " +
                                                      std::to_string(pos) + " to " + temp_path_ + ": " +
                                                      errno_text(static_cast<int>(-r)));
    if (r == 0)
      co_return fail(errc::io_error,
                     "write at offset " + std::to_string(pos) + " to " + temp_path_ + " made no progress");
    again = 0;
    done += static_cast<uint64_t>(r);
  }
  co_return result<void>{};
}

asio::awaitable<result<void>> file_writer::commit() {
  if (committed_) co_return fail(errc::invalid_argument, "commit of " + final_path_ + " twice");
  if (closed_) co_return fail(errc::invalid_argument, "commit of " + final_path_ + " after abandon");
  if (in_flight_ > 0)
    co_return fail(errc::invalid_argument,
                   "commit of " + final_path_ + " with " + std::to_string(in_flight_) + " writes in flight");
  // Exact size: drops a padded O_DIRECT tail and covers parts never written when the file
  // system could not preallocate.
  if (::ftruncate(buffered_fd_, static_cast<off_t>(size_)) != 0) {
    int e = errno;
    co_return errno_error(e, "truncate " + temp_path_ + ": " + errno_text(e));
  }
  if (group_commit_ && journal_fd_ < 0) co_return co_await commit_in_group();
  long r;
  do {
    r = co_await fsync_fd(buffered_fd_);  // one fsync covers both descriptors: same inode
  } while (r == -EINTR || r == -EAGAIN);
  if (r < 0)
    co_return errno_error(static_cast<int>(-r),
                          "fsync " + temp_path_ + ": " + errno_text(static_cast<int>(-r)));
  if (closed_) co_return fail(errc::invalid_argument, "commit of " + final_path_ + " abandoned during fsync");
  // Checked again: something may have appeared there while the parts came.
  SLUICE_CO_TRY_VOID(check_destination(final_path_));
  // The journal goes before the rename: a crash between the two then leaves a
  // temporary file without a journal (swept by the next run), never a journal
  // without its file next to a finished download.
  if (journal_fd_ >= 0) {
    ::close(journal_fd_);
    journal_fd_ = -1;
    ::unlink((temp_path_ + std::string(journal_suffix)).c_str());
  }
  if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
    int e = errno;
    co_return errno_error(e, "rename " + temp_path_ + " to " + final_path_ + ": " + errno_text(e));
  }
  committed_ = true;
  abandon();  // closes the descriptors; nothing to unlink any more
  // Make the rename durable too (best effort: some file systems refuse fsync on directories).
  if (!sync_dir_) co_return result<void>{};
  int dfd = ::open(dir_path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    long dr;
    do {
      dr = co_await fsync_fd(dfd);
    } while (dr == -EINTR || dr == -EAGAIN);
    ::close(dfd);
  }
  co_return result<void>{};
}

namespace {

// The group commits pending on one execution context. The committer resumes a
// commit by posting to the writer's executor, so a context must not be
// destroyed while one is pending: this service's shutdown(), which runs
// before the context's scheduler shuts down and drops its queued work, waits
// for them. A pending commit is one syncfs and a few renames away.
class pending_commits final : public asio::execution_context::service {
 public:
  struct count {
    std::mutex mu;
    std::condition_variable cv;
    std::size_t pending = 0;
  };
  static inline asio::execution_context::id id;

  explicit pending_commits(asio::execution_context& ctx)
      : asio::execution_context::service(ctx), count_(std::make_shared<count>()) {}

  // Counts one commit in; the returned state counts it out (leave()) after its last post.
  std::shared_ptr<count> enter() {
    std::lock_guard lk(count_->mu);
    ++count_->pending;
    return count_;
  }
  static void leave(count& c) {
    std::lock_guard lk(c.mu);
    if (--c.pending == 0) c.cv.notify_all();
  }

 private:
  void shutdown() override {
    std::unique_lock lk(count_->mu);
    count_->cv.wait(lk, [this] { return count_->pending == 0; });
  }
  std::shared_ptr<count> count_;
};

}  // namespace

asio::awaitable<result<void>> file_writer::commit_in_group() {
  SLUICE_CO_TRY_VOID(check_destination(final_path_));
  // The committer closes its own descriptor: this writer may be gone by then
  // only if its coroutine is destroyed mid-wait (its executor shut down).
  const int fd = ::fcntl(buffered_fd_, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    co_return errno_error(e, "dup " + temp_path_ + ": " + errno_text(e));
  }
  auto initiate = [&](auto handler) {
    auto h = std::make_shared<decltype(handler)>(std::move(handler));
    detail::commit_request req;
    req.fd = fd;
    req.temp_path = temp_path_;
    req.final_path = final_path_;
    req.dir_path = dir_path_;
    req.sync_dir = sync_dir_;
    auto ex = asio::get_associated_executor(*h);
    auto pending = asio::use_service<pending_commits>(asio::query(ex, asio::execution::context)).enter();
    // Called once, on the committer's thread. It keeps nothing of the context
    // past leave(): the handler and the executor move into the post, so a
    // handler the context drops at shutdown is destroyed there, not here later.
    req.done = [h, ex, pending](int err, const std::string& what) mutable {
      {
        auto target = std::move(ex);
        asio::post(target, [h = std::move(h), err, what]() mutable { std::move (*h)(err, what); });
      }
      pending_commits::leave(*pending);
    };
    detail::submit_commit(std::move(req));
  };
  auto [err, what] = co_await asio::async_initiate<const asio::use_awaitable_t<>, void(int, std::string)>(
      initiate, asio::use_awaitable);
  if (err != 0) co_return errno_error(err, what + ": " + errno_text(err));
  committed_ = true;
  abandon();  // closes the descriptors; nothing to unlink any more
  co_return result<void>{};
}

void sync_directory(const std::string& dir) noexcept {
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return;
  while (::fsync(dfd) != 0 && errno == EINTR) {
  }
  ::close(dfd);
}

}  // namespace sluice::cache
