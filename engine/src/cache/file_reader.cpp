#include <sluice/engine/cache/file_reader.hpp>

#include "cache/backend.hpp"
#include "cache/uring_service.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace sluice::cache {

namespace asio = boost::asio;

namespace {

// io_uring lengths are 32-bit; one read asks for at most this much.
constexpr std::size_t max_chunk = std::size_t{1} << 30;
// Consecutive -EAGAIN/-EINTR on one read before giving up.
constexpr unsigned max_again = 1000;

}  // namespace

result<std::unique_ptr<file_reader>> file_reader::open(const std::string& path,
                                                       std::optional<io_backend> backend) {
  if (path.empty()) return fail(errc::invalid_argument, "file_reader: empty path");
  std::optional<io_backend> wanted = backend;
  if (!wanted) {
    SLUICE_TRY(wanted, detail::backend_from_environment());
  }
  io_backend chosen = wanted.value_or(io_backend::io_uring);
  if (chosen == io_backend::io_uring && !io_uring_available()) {
    if (wanted)
      return fail(errc::io_error, "io_uring was requested for " + path + " but is not available here");
    chosen = io_backend::pwrite;
  }
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused
  // below); on a regular file it changes nothing.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return os_fail("cannot open", path, errno);
  struct stat sb {};
  if (::fstat(fd, &sb) != 0) {
    const int e = errno;
    ::close(fd);
    return os_fail("cannot stat", path, e);
  }
  if (!S_ISREG(sb.st_mode)) {
    ::close(fd);
    return fail(errc::invalid_argument, "'" + path + "' is not a regular file");
  }
  return std::unique_ptr<file_reader>(new file_reader(path, fd, static_cast<uint64_t>(sb.st_size), chosen));
}

file_reader::~file_reader() {
  if (fd_ >= 0) ::close(fd_);
}

asio::awaitable<result<void>> file_reader::read_at(uint64_t offset, std::span<std::byte> dst) {
  uring_service* ring = nullptr;
  if (backend_ == io_backend::io_uring) {
    asio::io_context* ioc = io_context_of(co_await asio::this_coro::executor);
    if (ioc) {
      auto& svc = asio::use_service<uring_service>(*ioc);
      if (svc.ok()) ring = &svc;
    }
  }
  unsigned again = 0;
  while (!dst.empty()) {
    const std::size_t n = std::min(dst.size(), max_chunk);
    long r;
    if (ring) {
      r = co_await ring->async_read(fd_, dst.data(), static_cast<unsigned>(n), offset, asio::use_awaitable);
    } else {
      const ssize_t got = ::pread(fd_, dst.data(), n, static_cast<off_t>(offset));
      r = got < 0 ? -errno : static_cast<long>(got);
    }
    if ((r == -EAGAIN || r == -EINTR) && ++again < max_again) continue;
    if (r < 0) co_return os_fail("cannot read", path_, static_cast<int>(-r));
    if (r == 0) co_return fail(errc::io_error, "'" + path_ + "' became shorter while it was being read");
    again = 0;
    dst = dst.subspan(static_cast<std::size_t>(r));
    offset += static_cast<uint64_t>(r);
  }
  co_return result<void>{};
}

}  // namespace sluice::cache
