#include <sluice/engine/cache/file_writer.hpp>

#include "cache/backend.hpp"
#include "cache/uring_service.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <limits>

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

result<std::unique_ptr<file_writer>> file_writer::create(asio::any_io_executor ex, std::string final_path,
                                                         uint64_t size, writer_options opts) {
  if (final_path.empty()) return fail(errc::invalid_argument, "file_writer: empty destination path");
  if (!ex) return fail(errc::invalid_argument, "file_writer: no executor for " + final_path);
  if (size > static_cast<uint64_t>(std::numeric_limits<off_t>::max()) - direct_align)
    return fail(errc::invalid_argument, "file_writer: size too large for " + final_path);
  const auto slash = final_path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : final_path.substr(0, slash);
  std::string name = slash == std::string::npos ? final_path : final_path.substr(slash + 1);
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
  if (name.size() > max_name_in_temp) name.resize(max_name_in_temp);

  // The buffered descriptor creates the file; O_DIRECT is a second open of the same file, so a
  // file system that refuses O_DIRECT (EINVAL at open) never leaves a half-created file behind.
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    std::string temp = dir + "/." + name + ".sluice-" + random_suffix();
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      w->temp_path_ = std::move(temp);
      break;
    }
    if (errno != EEXIST && errno != EINTR) {
      int e = errno;
      return errno_error(
          e, "cannot create a temporary file in " + dir + " for " + w->final_path_ + ": " + errno_text(e));
    }
  }
  if (fd < 0)
    return fail(errc::io_error, "cannot create a temporary file in " + dir + " for " + w->final_path_ +
                                    ": every name tried exists");
  w->buffered_fd_ = fd;  // from here on, w's destructor removes the temporary file

  if (opts.direct) {
    int dfd;
    do {
      dfd = ::open(w->temp_path_.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
    } while (dfd < 0 && errno == EINTR);
    if (dfd >= 0) {
      // Same file? (someone could have renamed ours in between; then stay buffered)
      struct stat created = {};
      struct stat reopened = {};
      if (::fstat(fd, &created) == 0 && ::fstat(dfd, &reopened) == 0 && created.st_dev == reopened.st_dev &&
          created.st_ino == reopened.st_ino) {
        w->direct_fd_ = dfd;
        w->direct_ = true;
      } else {
        ::close(dfd);
      }
    }
    // EINVAL (no O_DIRECT on this file system) or anything else: buffered writes only.
  }

  // Preallocate. fallocate(2) rather than posix_fallocate: where the file system has no
  // fallocate, glibc's posix_fallocate emulates it by writing every block, doubling the I/O.
  if (size > 0) {
    int r;
    do {
      r = ::fallocate(fd, 0, 0, static_cast<off_t>(size));
    } while (r != 0 && errno == EINTR);
    if (r != 0 && errno != EOPNOTSUPP && errno != ENOSYS) {
      int e = errno;
      return errno_error(e, "cannot preallocate " + std::to_string(size) + " bytes for " + w->temp_path_ +
                                ": " + errno_text(e));
    }
  }
  return w;
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

void sync_directory(const std::string& dir) noexcept {
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return;
  while (::fsync(dfd) != 0 && errno == EINTR) {
  }
  ::close(dfd);
}

}  // namespace sluice::cache
