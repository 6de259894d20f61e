#include "store/local_files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>

namespace sluice::store::detail {

namespace {

std::string random_suffix() {
  static constexpr char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  static std::atomic<uint64_t> counter{0};
  uint64_t x = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
               (counter.fetch_add(1) * 0x9E3779B97F4A7C15ull) ^ (static_cast<uint64_t>(::getpid()) << 32);
  std::string s;
  for (int i = 0; i < 6; ++i) {
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    s += alphabet[x % 62];
  }
  return s;
}

}  // namespace

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

result<void> replace_file(const std::string& path, std::span<const std::byte> bytes, bool make_dirs) {
  SLUICE_TRY(temp_file tmp, temp_file::create(path, make_dirs));
  SLUICE_TRY_VOID(tmp.write_all(bytes));
  SLUICE_TRY_VOID(tmp.sync());
  if (::rename(tmp.path().c_str(), path.c_str()) != 0) return os_fail("cannot rename into", path, errno);
  tmp.released();
  sync_dir(parent_of(path));
  return {};
}

void sync_dir(const std::string& dir) noexcept {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

result<temp_file> temp_file::create(const std::string& final_path, bool make_dirs) {
  const std::string dir = parent_of(final_path);
  if (make_dirs) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return errno_error(ec.value(), "cannot create the directory '" + dir + "': " + ec.message());
  }
  std::string name = final_path.substr(final_path.rfind('/') + 1);
  if (name.size() > 240) name.resize(240);
  temp_file t;
  t.final_ = final_path;
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string candidate = dir + "/." + name + ".sluice-" + random_suffix();
    int fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      // Held while the file lives, as cache::file_writer does: another run's sweep of stale
      // temporary files (cache::remove_stale_temp_files) leaves a locked one alone. If a sweep
      // locked it first, between the open and here, it is gone: try another name.
      struct stat a {
      }, b{};
      if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || ::fstat(fd, &a) != 0 ||
          ::lstat(candidate.c_str(), &b) != 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
        ::close(fd);
        continue;
      }
      t.fd_ = fd;
      t.path_ = std::move(candidate);
      return t;
    }
    if (errno != EEXIST && errno != EINTR)
      return os_fail("cannot create a temporary file for", final_path, errno);
  }
  return fail(errc::io_error,
              "cannot create a temporary file for '" + final_path + "': every name tried exists");
}

temp_file::temp_file(temp_file&& o) noexcept
    : path_(std::move(o.path_)), final_(std::move(o.final_)), fd_(o.fd_), released_(o.released_) {
  o.fd_ = -1;
  o.released_ = true;
}

temp_file::~temp_file() {
  if (fd_ >= 0) ::close(fd_);
  if (!released_ && !path_.empty()) ::unlink(path_.c_str());
}

result<void> temp_file::write_all(std::span<const std::byte> data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_fail("cannot write", final_, errno);
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return {};
}

result<void> temp_file::copy_from(int src_fd, const std::string& src_path) {
  loff_t in = 0;
  for (;;) {
    ssize_t n = ::copy_file_range(src_fd, &in, fd_, nullptr, std::size_t(1) << 30, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) break;
    if (n < 0) return os_fail("cannot copy", src_path, errno);
    if (n == 0) return {};
  }
  // No copy_file_range between these files: plain reads and writes.
  std::vector<std::byte> buf(std::size_t(1) << 20);
  for (;;) {
    ssize_t n = ::pread(src_fd, buf.data(), buf.size(), in);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_fail("cannot read", src_path, errno);
    if (n == 0) return {};
    SLUICE_TRY_VOID(write_all({buf.data(), static_cast<std::size_t>(n)}));
    in += n;
  }
}

result<void> temp_file::sync() {
  if (::fsync(fd_) != 0) return os_fail("cannot sync", final_, errno);
  return {};
}

result<void> pread_all(int fd, std::span<std::byte> dst, uint64_t offset, const std::string& path) {
  while (!dst.empty()) {
    ssize_t n = ::pread(fd, dst.data(), dst.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_fail("cannot read", path, errno);
    if (n == 0) return fail(errc::io_error, "'" + path + "' became shorter while it was being read");
    dst = dst.subspan(static_cast<std::size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return {};
}

}  // namespace sluice::store::detail
