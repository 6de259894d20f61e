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

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

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
  // Commit together with the other files committed at about the same time
  // (non-resumable writers only): one background thread takes every commit
  // queued while it was busy as a group and makes it durable with one syncfs
  // per file system (an fsync for a lone file), then renames each file, then
  // fsyncs each directory once. commit() still returns only when its file is
  // durable at its final name. For many small files (a batch, a bench to
  // files): one journal commit per group instead of two per file.
  bool group_commit = false;
  // Resumable writers (create_resumable): checkpoint() makes the parts recorded since the last one
  // durable in the journal once this many are pending or this long has passed, not more often.
  unsigned journal_every_parts = 16;
  std::chrono::milliseconds journal_every{250};
};

// What a resumable download's temporary file is being filled from; its journal records it, and
// a later run adopts the file only when all of it matches.
struct resume_key {
  std::string source;      // e.g. "s3://bucket/key": compared, never parsed
  std::string etag;        // the object's version: another ETag restarts the download
  uint64_t part_size = 0;  // part i covers [i * part_size, (i + 1) * part_size)
};

// Removes what crashed runs left in `dir`: temporary files ".<name>.sluice-XXXXXX" that no live
// process holds (every writer holds an flock(2) on its file while it lives), and journals without
// their file. A file with a journal younger than `keep_resumable` is kept: the next run of the
// same download resumes it. Returns how many temporary files were removed. Never follows a link,
// never touches another kind of file, and ignores errors (a file that cannot be removed stays).
// file_writer runs it once per directory and process, with a keep_resumable of 24 hours.
std::size_t remove_stale_temp_files(const std::string& dir,
                                    std::chrono::seconds keep_resumable = std::chrono::hours(24));

// What may stand at a download's destination: nothing, or a regular file
// (replaced at commit). A symbolic link, FIFO, device, socket or directory is
// refused with invalid_argument naming what it is: renaming over it would
// replace /dev/null (as root), or a link instead of writing where it points.
// file_writer checks at create() and again at commit().
result<void> check_destination(const std::string& path);

// fsync a directory (best effort: some file systems refuse it).
void sync_directory(const std::string& dir) noexcept;

// What the group committer (writer_options::group_commit) has done in this
// process: groups made durable and the files in them.
struct group_commit_totals {
  uint64_t groups = 0;
  uint64_t files = 0;
};
group_commit_totals group_commits() noexcept;

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
  // Like create(), but resumable after a crash. The writer keeps a journal beside its temporary
  // file (".<name>.sluice-XXXXXX.journal": the key, the size and the parts written, each with its
  // XXH3). If a temporary file of `final_path` from a dead process is found whose journal matches
  // `key` and `size`, it is adopted: resumed_parts() lists the parts it already holds (the caller
  // should check them, e.g. by reading them back). Stale temporary files of `final_path` that do
  // not match (another ETag: the object changed) are removed. commit() and abandon() remove the
  // journal too.
  static result<std::unique_ptr<file_writer>> create_resumable(boost::asio::any_io_executor ex,
                                                               std::string final_path, uint64_t size,
                                                               const resume_key& key,
                                                               writer_options opts = {});
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

  // Resumable writers only. The parts an adopted file already held (index -> XXH3), as its
  // journal recorded them; empty for a fresh file.
  const std::map<uint64_t, uint64_t>& resumed_parts() const noexcept { return resumed_; }
  bool resumable() const noexcept { return journal_fd_ >= 0; }
  // Notes that part `index` (whose XXH3 is `hash`) was written: call once its write_at completed.
  // It becomes durable at the next checkpoint (a no-op for a writer that is not resumable).
  void record_part(uint64_t index, uint64_t hash);
  // When due (see writer_options::journal_every_parts, journal_every) or `force`d: fsyncs the
  // temporary file, then appends the parts recorded before that fsync to the journal and fsyncs
  // it, so the journal never names a part that is not on disk. One checkpoint at a time (a call
  // while one runs returns at once). A failure only costs refetching those parts after a crash.
  boost::asio::awaitable<result<void>> checkpoint(bool force);

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

  static result<std::unique_ptr<file_writer>> prepare(boost::asio::any_io_executor ex, std::string final_path,
                                                      uint64_t size, const writer_options& opts,
                                                      std::string& name);
  result<void> create_temp(std::string name);
  result<void> open_direct_and_preallocate(const writer_options& opts);
  result<void> start_journal(const resume_key& key);

  // One write or fsync through the chosen backend; returns the syscall result (-errno on error).
  boost::asio::awaitable<long> write_some(int fd, const std::byte* p, std::size_t n, uint64_t offset);
  boost::asio::awaitable<long> fsync_fd(int fd);
  // commit()'s fsync, rename and directory sync, done by the group committer.
  boost::asio::awaitable<result<void>> commit_in_group();

  // All members are touched only from the writer's executor.
  std::string final_path_;
  std::string temp_path_;
  std::string dir_path_;
  bool sync_dir_ = true;  // fsync dir_path_ after the rename
  bool group_commit_ = false;
  uint64_t size_ = 0;
  io_backend backend_ = io_backend::pwrite;
  uring_service* ring_ = nullptr;  // the io_context's ring when backend_ == io_uring
  int buffered_fd_ = -1;           // open until commit/abandon
  int direct_fd_ = -1;             // O_DIRECT descriptor of the same file, or -1
  bool direct_ = false;            // the file was opened with O_DIRECT
  bool committed_ = false;
  bool closed_ = false;
  unsigned in_flight_ = 0;
  // Resumable writers: the journal and the parts recorded since the last checkpoint.
  int journal_fd_ = -1;
  uint64_t journal_size_ = 0;
  std::map<uint64_t, uint64_t> resumed_;
  std::vector<std::pair<uint64_t, uint64_t>> pending_;
  unsigned journal_every_parts_ = 16;
  std::chrono::milliseconds journal_every_{250};
  std::chrono::steady_clock::time_point last_checkpoint_{};
  bool checkpointing_ = false;
};

// Whether io_uring works here (probed once: io_uring_queue_init may fail with ENOSYS/EPERM in
// containers, and IORING_OP_WRITE needs Linux 5.6).
bool io_uring_available() noexcept;

}  // namespace sluice::cache
