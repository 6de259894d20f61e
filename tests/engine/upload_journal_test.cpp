// Upload records (engine/src/transfer/upload_journal.*): which records a later run of the same
// upload finds, and which ones it removes without asking: those left empty by a run killed between
// creating the file and writing its first line.
#include "transfer/upload_journal.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using sluice::transfer::detail::find_upload_records;
using sluice::transfer::detail::upload_record;

constexpr std::string_view endpoint = "http://127.0.0.1:9000", bucket = "b", key = "dir/object.bin";

class UploadRecords : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sluice-upload-records-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << std::strerror(errno);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::vector<fs::path> records() const {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fs::path(dir_) / "uploads", ec)) out.push_back(e.path());
    return out;
  }

  // A record as a run killed right after creating its file leaves it: there, empty, unlocked.
  fs::path empty_record(std::chrono::seconds age) {
    const auto before = records();
    auto rec = upload_record::begin(dir_, endpoint, bucket, key, "");
    EXPECT_TRUE(rec);
    rec.reset();  // (closed: its lock is gone, as with a killed process)
    fs::path made;
    for (const auto& p : records())
      if (std::find(before.begin(), before.end(), p) == before.end()) made = p;
    EXPECT_FALSE(made.empty());
    fs::resize_file(made, 0);
    fs::last_write_time(made, fs::file_time_type::clock::now() - age);
    return made;
  }

  std::string dir_;
};

TEST_F(UploadRecords, an_empty_record_left_by_a_killed_run_is_removed_once_it_is_a_minute_old) {
  const fs::path old = empty_record(std::chrono::minutes(2));
  const fs::path fresh = empty_record(std::chrono::seconds(0));
  auto found = find_upload_records(dir_, endpoint, bucket, key);
  EXPECT_TRUE(found.stale.empty()) << "an empty record names no upload to take over";
  EXPECT_FALSE(fs::exists(old)) << "empty, unlocked and two minutes old: its run died creating it";
  EXPECT_TRUE(fs::exists(fresh)) << "a new empty record may be one a live run is about to write";
}

TEST_F(UploadRecords, an_empty_record_a_live_run_holds_is_kept_however_old) {
  const fs::path held = empty_record(std::chrono::minutes(10));
  const int fd = ::open(held.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const int locked = ::flock(fd, LOCK_EX | LOCK_NB);
  ASSERT_EQ(locked, 0);
  auto found = find_upload_records(dir_, endpoint, bucket, key);
  EXPECT_TRUE(found.stale.empty());
  EXPECT_TRUE(fs::exists(held)) << "locked: a live run's";
  ::close(fd);
  (void)find_upload_records(dir_, endpoint, bucket, key);
  EXPECT_FALSE(fs::exists(held)) << "unlocked now, and old: removed";
}

TEST_F(UploadRecords, a_written_record_whose_run_is_gone_is_found_stale_not_removed) {
  {
    auto rec = upload_record::begin(dir_, endpoint, bucket, key, "");
    ASSERT_TRUE(rec);
    rec->set_upload_id("upload-7");
    rec->add_part(1, "\"0cc175b9c0f1b6a831c399e269772661\"");
  }  // the run is gone; its record stays
  auto found = find_upload_records(dir_, endpoint, bucket, key);
  ASSERT_EQ(found.stale.size(), 1u);
  EXPECT_EQ(found.stale[0].upload_id(), "upload-7");
  EXPECT_EQ(found.stale[0].parts().size(), 1u);
  EXPECT_EQ(records().size(), 1u) << "left for the caller to take over or abort";
}

}  // namespace
