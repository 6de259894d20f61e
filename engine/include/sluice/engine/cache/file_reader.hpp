// Local file reads for uploads: bytes of a file at offsets, through io_uring
// on the calling engine context's ring (src/cache/uring_service.hpp), or a
// pread loop where io_uring is not available or SLUICE_IO_BACKEND=pwrite
// (the same switch as for writes). Reads go through the page cache: an
// upload's source is often just written, or read again soon.
//
// Threading: read_at may be awaited from coroutines on any engine context,
// several at once and from several contexts (each uses its own context's
// ring); from an executor that is not an io_context's it reads with pread on
// the calling thread. Lifetime: destroy the reader only when no read is in
// flight.
#pragma once

#include <sluice/engine/cache/file_writer.hpp>
#include <sluice/engine/runtime/result.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace sluice::cache {

class file_reader {
 public:
  // Opens a regular file read-only and records its size. Errors name the
  // path: not_found, permission_denied (condition) with the errno kept;
  // errc::invalid_argument for a directory or other non-regular file, or a
  // bad SLUICE_IO_BACKEND.
  static result<std::unique_ptr<file_reader>> open(const std::string& path,
                                                   std::optional<io_backend> backend = std::nullopt);
  ~file_reader();
  file_reader(const file_reader&) = delete;
  file_reader& operator=(const file_reader&) = delete;

  // Fills `dst` with the bytes at `offset` (short reads are continued).
  // Errors: errc::io_error when the file ends first ("became shorter while
  // it was being read"), or the file system's error with its errno.
  boost::asio::awaitable<result<void>> read_at(uint64_t offset, std::span<std::byte> dst);

  uint64_t size() const noexcept { return size_; }
  const std::string& path() const noexcept { return path_; }
  io_backend backend() const noexcept { return backend_; }

 private:
  file_reader(std::string path, int fd, uint64_t size, io_backend backend)
      : path_(std::move(path)), fd_(fd), size_(size), backend_(backend) {}

  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  io_backend backend_ = io_backend::pwrite;
};

}  // namespace sluice::cache
