// Group commit for many small files: durable together, then renamed (see commit_group.hpp).
#include "cache/commit_group.hpp"

#include <sluice/engine/cache/file_writer.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace sluice::cache::detail {

namespace {

int retry_eintr(int (*call)(int), int fd) {
  int r;
  while ((r = call(fd)) != 0 && errno == EINTR) {
  }
  return r == 0 ? 0 : errno;
}

std::atomic<uint64_t> groups_done{0}, files_done{0};

// One group, in order: data durable, names, directories. Runs on the committer thread.
void commit_group(std::vector<commit_request>& group) {
  std::vector<int> err(group.size(), 0);
  std::vector<std::string> what(group.size());
  // 1. The bytes: one syncfs per file system covers every file of the group on
  //    it (one journal commit instead of one per file); a group of one file
  //    on a file system gets a plain fsync, which does not wait for unrelated
  //    dirty data.
  std::map<dev_t, std::vector<std::size_t>> by_device;
  for (std::size_t i = 0; i < group.size(); ++i) {
    struct stat st {};
    if (::fstat(group[i].fd, &st) != 0) {
      err[i] = errno;
      what[i] = "stat " + group[i].temp_path;
      continue;
    }
    by_device[st.st_dev].push_back(i);
  }
  for (const auto& [dev, members] : by_device) {
    const int fd = group[members.front()].fd;
    const int e = members.size() == 1 ? retry_eintr(::fsync, fd) : retry_eintr(::syncfs, fd);
    if (e == 0) continue;
    // syncfs may not say which file failed: each file's own fsync tells.
    for (std::size_t i : members) {
      if (const int fe = retry_eintr(::fsync, group[i].fd); fe != 0) {
        err[i] = fe;
        what[i] = "fsync " + group[i].temp_path;
      }
    }
  }
  // 2. The names, once the bytes are durable.
  std::set<std::string> dirs;
  for (std::size_t i = 0; i < group.size(); ++i) {
    if (err[i]) continue;
    if (::rename(group[i].temp_path.c_str(), group[i].final_path.c_str()) != 0) {
      err[i] = errno;
      what[i] = "rename " + group[i].temp_path + " to " + group[i].final_path;
      continue;
    }
    if (group[i].sync_dir) dirs.insert(group[i].dir_path);
  }
  // 3. The directories, once each (best effort: some file systems refuse fsync on directories).
  for (const auto& d : dirs) sync_directory(d);
  groups_done.fetch_add(1, std::memory_order_relaxed);
  files_done.fetch_add(group.size(), std::memory_order_relaxed);
  for (std::size_t i = 0; i < group.size(); ++i) {
    ::close(group[i].fd);
    group[i].fd = -1;
    group[i].done(err[i], what[i]);
  }
}

// The one committer of the process: a thread started on first use, waiting on
// a queue. Never destroyed (a committer idle at exit holds nothing).
class committer {
 public:
  committer() : thread_([this] { run(); }) { thread_.detach(); }

  void submit(commit_request r) {
    {
      std::lock_guard lk(mu_);
      queue_.push_back(std::move(r));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    for (;;) {
      std::vector<commit_request> group;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [this] { return !queue_.empty(); });
        group.swap(queue_);
      }
      commit_group(group);
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<commit_request> queue_;
  std::thread thread_;
};

}  // namespace

}  // namespace sluice::cache::detail

namespace sluice::cache {

group_commit_totals group_commits() noexcept {
  using namespace detail;
  return {groups_done.load(std::memory_order_relaxed), files_done.load(std::memory_order_relaxed)};
}

}  // namespace sluice::cache

namespace sluice::cache::detail {

void submit_commit(commit_request r) {
  static committer* const one = new committer;
  one->submit(std::move(r));
}

}  // namespace sluice::cache::detail
