// Records of running multipart uploads, so that the next upload to the same key can abort the
// ones a dead process left open (private to the scheduler; docs/reliability.md).
//
// One file per upload: <dir>/uploads/<h>-<XXXXXX>.upload, where <h> is the XXH3 of the endpoint,
// bucket and key. Its process holds an flock(2) on it while it lives, so a record nobody holds
// belongs to a run that died. The record is made (and fsynced) before CreateMultipartUpload is
// sent and gets the upload id once it is known: a crash between the two still leaves a record,
// with the time the upload began. Used from one thread at a time per record.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::transfer::detail {

class upload_record {
 public:
  // Creates a record (and the directories); null when it cannot be written (the upload then runs
  // unrecorded: it is only aborted by its own failure path or by `sluice cleanup`).
  // `source`: what is uploaded (a file: its path, size, part size and composite XXH3, and the
  // metadata), so a later run of the same upload can take it over; empty when it cannot.
  static std::unique_ptr<upload_record> begin(const std::string& dir, std::string_view endpoint,
                                              std::string_view bucket, std::string_view key,
                                              std::string_view source);
  ~upload_record();  // closes (releases the lock); the file stays unless finished()
  upload_record(const upload_record&) = delete;
  upload_record& operator=(const upload_record&) = delete;

  void set_upload_id(std::string_view id);
  // Part `number` was stored with `etag` (as UploadPart returned it). Any thread; not fsynced (a
  // lost line only means sending that part again).
  void add_part(int number, std::string_view etag);
  // The upload was completed or aborted: the record goes.
  void finished() noexcept;

 private:
  upload_record(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::mutex mu_;  // guards size_ and the appends
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// A record of the same endpoint, bucket and key whose process is gone, locked by the caller while
// this object lives; remove() deletes it once its upload is dealt with.
class stale_record {
 public:
  stale_record(std::string path, int fd, std::string upload_id, int64_t began, std::string source,
               std::map<int, std::string> parts)
      : path_(std::move(path)),
        fd_(fd),
        upload_id_(std::move(upload_id)),
        began_(began),
        source_(std::move(source)),
        parts_(std::move(parts)) {}
  ~stale_record();
  stale_record(stale_record&& o) noexcept;
  stale_record& operator=(stale_record&&) = delete;
  stale_record(const stale_record&) = delete;

  const std::string& upload_id() const noexcept { return upload_id_; }  // empty: died before it was known
  int64_t began() const noexcept { return began_; }                     // Unix seconds
  const std::string& source() const noexcept { return source_; }
  const std::map<int, std::string>& parts() const noexcept { return parts_; }  // number -> ETag
  void remove() noexcept;

 private:
  std::string path_;
  int fd_ = -1;
  std::string upload_id_;
  int64_t began_ = 0;
  std::string source_;
  std::map<int, std::string> parts_;
};

struct upload_records {
  std::vector<stale_record> stale;
  std::vector<std::string> live_ids;  // upload ids in records a live process holds
};
upload_records find_upload_records(const std::string& dir, std::string_view endpoint, std::string_view bucket,
                                   std::string_view key);

}  // namespace sluice::transfer::detail
