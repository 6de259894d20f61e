// Local file writes for downloads: parts land at their offsets in a temporary
// file next to the destination, which is renamed into place only at commit().
//
// Writes go through io_uring (one ring per io_context, see src/cache/uring_service.hpp)
// or, when io_uring is not available at run time, through a synchronous pwrite
// loop. With O_DIRECT (the default, where the file system allows it) page-aligned
// buffers go straight from the network buffer to the disk without a page-cache copy.
#pragma once

#include <sluice/engine/runtime/result.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace sluice::cache {

class uring_service;  // private: src/cache/uring_service.hpp

enum class io_backend { io_uring, pwrite };

const char* to_string(io_backend b) noexcept;

struct writer_options {
  // Try O_DIRECT; silently fall back to buffered I/O if the file system refuses (EINVAL).
  bool direct = true;
  // nullopt: io_uring if available at run time, unless the environment variable
  // SLUICE_IO_BACKEND=pwrite forces the fallback (=io_uring forces io_uring, an error if
  // unavailable; any other non-empty value is an invalid_argument error).
  std::optional<io_backend> backend;
  // fsync the directory after the rename so the new name is durable. A batch
  // writing many files into one directory turns this off and syncs the
  // directory once at the end (sync_directory()).
  bool sync_directory = true;
};

// What may stand at a download's destination: nothing, or a regular file
// (replaced at commit). A symbolic link, FIFO, device, socket or directory is
// refused with invalid_argument naming what it is: renaming over it would
// replace /dev/null (as root), or a link instead of writing where it points.
// file_writer checks at create() and again at commit().
result<void> check_destination(const std::string& path);

// fsync a directory (best effort: some file systems refuse it).
void sync_directory(const std::string& dir) noexcept;

// Writes one file part by part at offsets, under a temporary name in the destination's
// directory (".<name>.sluice-XXXXXX", <name> cut to 240 bytes; O_EXCL, mode 0644 minus umask),
// preallocated to its final size with fallocate(2) (skipped where unsupported). commit()
// truncates to the exact size (dropping a padded O_DIRECT tail), fsyncs, renames into place and
// fsyncs the directory; destruction or abandon() without commit unlinks the temporary file, so
// nothing is ever left at the final name on failure, and an existing file there is replaced
// only at commit.
//
// Backend: io_uring needs the executor to be an io_context's (plain, work-tracking or a strand
// of one); with any other executor the automatic choice is pwrite and a forced io_uring fails.
//
// Threading: create it, write to it and commit it from coroutines on ONE executor whose
// io_context is run by one thread (an engine context). Several writes may be in flight at
// once; that is the point.
// Lifetime: destroy or abandon() the writer only when none of its writes is in flight (the
// kernel may still be writing from the caller's buffers and into the writer's descriptors).
// If the io_context is destroyed with writes in flight, its ring waits for them and then
// drops their coroutines without resuming them.
// Cancellation: a write or commit in flight is not cancellable; it completes when the
// kernel does.
// pwrite backend: each write runs inline on the calling thread (a blocking pwrite loop), so
// "in flight at once" degrades to one after the other; it is the fallback, not the fast path.
class file_writer {
 public:
  // Creates the temporary file. Errors: errc::io_error (naming the path) when the directory
  // is not writable, space cannot be preallocated, or io_uring was forced but is unavailable;
  // errc::invalid_argument for an empty path or a bad SLUICE_IO_BACKEND.
  static result<std::unique_ptr<file_writer>> create(boost::asio::any_io_executor ex, std::string final_path,
                                                     uint64_t size, writer_options opts = {});
  ~file_writer();  // unlinks the temp file unless committed
  file_writer(const file_writer&) = delete;
  file_writer& operator=(const file_writer&) = delete;

  // Writes `data` at `offset`. The bytes must stay valid until the awaitable completes.
  // With O_DIRECT: data.data() must be 4096-aligned and offset a multiple of 4096; data.size()
  // a multiple of 4096 unless offset + data.size() == size() (the tail), whose buffer must have
  // capacity rounded up to 4096 (aligned_buffer and pooled buffers do): the writer then writes
  // the padded length and truncates at commit. A misaligned write on an O_DIRECT file goes
  // through a second, buffered descriptor instead of failing. Short writes and -EAGAIN are
  // re-queued. Errors: errc::invalid_argument past size() or after commit/abandon,
  // errc::io_error from the file system.
  boost::asio::awaitable<result<void>> write_at(uint64_t offset, std::span<const std::byte> data);

  // Makes the file durable and visible at the final path. All writes must have completed
  // (errc::invalid_argument otherwise). After an error the writer is still uncommitted: the
  // caller may retry commit() or drop the writer (which removes the temporary file).
  boost::asio::awaitable<result<void>> commit();

  // Closes the descriptors and unlinks the temporary file unless committed. Idempotent.
  void abandon() noexcept;

  io_backend backend() const noexcept { return backend_; }
  // True when the file system accepted O_DIRECT: aligned writes then bypass the page cache.
  bool direct() const noexcept { return direct_; }
  const std::string& temp_path() const noexcept { return temp_path_; }
  const std::string& final_path() const noexcept { return final_path_; }
  uint64_t size() const noexcept { return size_; }
  bool committed() const noexcept { return committed_; }
  // Writes started and not yet completed.
  unsigned writes_in_flight() const noexcept { return in_flight_; }

 private:
  file_writer(std::string final_path, uint64_t size);

  // One write or fsync through the chosen backend; returns the syscall result (-errno on error).
  boost::asio::awaitable<long> write_some(int fd, const std::byte* p, std::size_t n, uint64_t offset);
  boost::asio::awaitable<long> fsync_fd(int fd);

  // All members are touched only from the writer's executor.
  std::string final_path_;
  std::string temp_path_;
  std::string dir_path_;
  bool sync_dir_ = true;  // fsync dir_path_ after the rename
  uint64_t size_ = 0;
  io_backend backend_ = io_backend::pwrite;
  uring_service* ring_ = nullptr;  // the io_context's ring when backend_ == io_uring
  int buffered_fd_ = -1;           // open until commit/abandon
  int direct_fd_ = -1;             // O_DIRECT descriptor of the same file, or -1
  bool direct_ = false;            // the file was opened with O_DIRECT
  bool committed_ = false;
  bool closed_ = false;
  unsigned in_flight_ = 0;
};

// Whether io_uring works here (probed once: io_uring_queue_init may fail with ENOSYS/EPERM in
// containers, and IORING_OP_WRITE needs Linux 5.6).
bool io_uring_available() noexcept;

}  // namespace sluice::cache
