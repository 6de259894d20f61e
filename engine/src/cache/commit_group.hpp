// Group commit: small files written to temporary names are made durable
// together, renamed to their final names, and their directories synced once
// per group, on one background thread (private header of the cache module).
#pragma once

#include <functional>
#include <string>

namespace sluice::cache::detail {

struct commit_request {
  int fd = -1;  // a descriptor of the temporary file, owned by the request (closed when done)
  std::string temp_path;
  std::string final_path;
  std::string dir_path;
  bool sync_dir = true;
  // Called once, on the committing thread: 0 when the file is durable at its
  // final name, otherwise an errno value and what failed ("fsync ...", "rename ...").
  std::function<void(int err, const std::string& what)> done;
};

// Queues a request. The committing thread takes every request queued while
// it was busy as one group: one syncfs per file system (an fsync when the
// group holds one file), then the renames, then one fsync per directory.
// A file therefore appears at its final name only once its bytes are durable.
void submit_commit(commit_request r);

}  // namespace sluice::cache::detail
