// The local directory driver: key "a/b/c" is the file ROOT/a/b/c.
//
// - Writes go to a temporary file beside the destination (".<name>.sluice-XXXXXX"),
//   are fsynced, then renamed into place and the directory fsynced: a reader
//   sees the old value or the new one, never part of one; a crash leaves at
//   most a temporary file, which listings skip.
// - Generations are derived from the inode, size and modification time, so a
//   file changed by another program gets a new generation too.
// - Conditions: must_not_exist is an atomic rename that refuses to replace
//   (renameat2 RENAME_NOREPLACE); if_equal (write and remove) holds an
//   exclusive flock on the current file while it compares and renames. Writers
//   through this driver exclude each other; a program writing the file in
//   place without the lock is not excluded.
// - Keys must be plain relative paths: no empty, "." or ".." segment, no
//   leading or trailing '/'. Anything else is invalid_argument, so no key ever
//   names a file outside ROOT. Directories are implicit, as prefixes are on S3:
//   they are created on write and removed when a remove empties them.
// - User metadata and content types are not kept: a write that carries them
//   fails with errc::unsupported instead of dropping them.
// - Reads go into the store's buffer pool (the budget bounds them).
//
// File system calls are synchronous, on the calling thread.
#pragma once

#include <sluice/store/store.hpp>

#include <memory>
#include <string>

namespace sluice::store {

struct file_options {
  bool create_root = true;  // create ROOT if missing (else not_found)
  // Pool for reads; nullptr: a pool of its own with read_budget bytes.
  std::shared_ptr<buffer_pool> pool;
  std::size_t read_budget = std::size_t(256) << 20;
};

result<std::shared_ptr<store>> open_file_store(std::string_view root, const file_options& opts = {});

}  // namespace sluice::store
