// Local file plumbing the store drivers share: temporary files next to their
// destination, whole writes, durable renames. Private to sluice_api.
#pragma once

#include <sluice/engine/runtime/result.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace sluice::store::detail {

// A temporary file ".<name>.sluice-XXXXXX" in the destination's directory,
// unlinked on destruction unless released by a rename.
class temp_file {
 public:
  // Creates the directory (and parents) when `make_dirs`.
  static result<temp_file> create(const std::string& final_path, bool make_dirs);
  temp_file(temp_file&& o) noexcept;
  temp_file& operator=(temp_file&&) = delete;
  temp_file(const temp_file&) = delete;
  ~temp_file();

  int fd() const noexcept { return fd_; }
  const std::string& path() const noexcept { return path_; }
  const std::string& final_path() const noexcept { return final_; }
  result<void> write_all(std::span<const std::byte> data);
  // Copies the whole of `src_fd` (from offset 0) into the file.
  result<void> copy_from(int src_fd, const std::string& src_path);
  // fsync: the bytes are durable before any rename makes them visible.
  result<void> sync();
  // The temporary name is gone (renamed or linked away): do not unlink it.
  void released() noexcept { released_ = true; }

 private:
  temp_file() = default;
  std::string path_;
  std::string final_;
  int fd_ = -1;
  bool released_ = false;
};

// Replaces (or creates) the file at `path` with `bytes` durably: a temporary file beside it, written,
// fsynced, renamed over it, the directory fsynced. A reader sees the old content or the new, whole.
result<void> replace_file(const std::string& path, std::span<const std::byte> bytes, bool make_dirs);

// The directory part of a path ("." for a bare name).
std::string parent_of(const std::string& path);
// fsync a directory (best effort).
void sync_dir(const std::string& dir) noexcept;
// Reads exactly dst.size() bytes at `offset`.
result<void> pread_all(int fd, std::span<std::byte> dst, uint64_t offset, const std::string& path);

}  // namespace sluice::store::detail
