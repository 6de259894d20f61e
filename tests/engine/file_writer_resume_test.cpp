// What a crashed download leaves beside its destination: stale temporary files removed by the next
// writer in the directory, live ones left alone, and resumable writers adopting the parts a dead
// writer's journal names (the same object only).
#include <sluice/engine/cache/file_writer.hpp>
#include <sluice/engine/integrity/xxh3.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using sluice::cache::file_writer;
using sluice::cache::io_backend;
using sluice::cache::remove_stale_temp_files;
using sluice::cache::resume_key;
using sluice::cache::writer_options;

constexpr uint64_t part = 4096;

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string t = (fs::temp_directory_path() / "sluice-resume-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

template <class T>
T run(asio::io_context& ioc, asio::awaitable<T> work) {
  auto f = asio::co_spawn(ioc, std::move(work), asio::use_future);
  ioc.restart();
  ioc.run();
  return f.get();
}

writer_options buffered() {
  writer_options o;
  o.backend = io_backend::pwrite;
  o.direct = false;
  return o;
}

// Part i of a 3-part file: 4 KiB of the letter 'a' + i.
std::string part_bytes(uint64_t i) {
  return std::string(part, static_cast<char>('a' + i));
}

asio::awaitable<sluice::result<void>> write_and_record(file_writer* w, uint64_t i) {
  const std::string bytes = part_bytes(i);
  auto r = co_await w->write_at(i * part, std::as_bytes(std::span(bytes)));
  if (!r) co_return r;
  w->record_part(i, sluice::integrity::xxh3(bytes));
  co_return co_await w->checkpoint(true);
}

// A dead writer's files: written by a writer, copied aside, the writer dropped (it removes them),
// and the copies put back, as kill -9 would have left them.
struct dead_writer {
  std::string temp, journal;
};
dead_writer leave_behind(asio::io_context& ioc, const fs::path& dest, const resume_key& key,
                         std::vector<uint64_t> parts) {
  auto w = file_writer::create_resumable(ioc.get_executor(), dest.string(), 3 * part, key, buffered());
  EXPECT_TRUE(w) << w.error().describe();
  if (!w) return {};
  for (uint64_t i : parts) {
    auto r = run(ioc, write_and_record(w->get(), i));
    EXPECT_TRUE(r) << r.error().describe();
  }
  dead_writer d{(*w)->temp_path(), (*w)->temp_path() + ".journal"};
  const std::string t = read_text(d.temp), j = read_text(d.journal);
  w->reset();
  EXPECT_FALSE(fs::exists(d.temp));
  write_text(d.temp, t);
  write_text(d.journal, j);
  return d;
}

TEST(FileWriterResume, a_dead_runs_temporary_file_is_removed_and_live_or_foreign_files_stay) {
  temp_dir dir;
  write_text(dir.path / ".a.nc.sluice-Ab12Cd", "dead");              // nobody holds it
  write_text(dir.path / ".b.nc.sluice-Zz99Yy.journal", "orphan");    // its file is gone
  write_text(dir.path / ".c.nc.sluice-Qq11Rr", "live");              // held below
  write_text(dir.path / ".d.nc.sluice-Ab12", "too short a suffix");  // not a sluice name
  write_text(dir.path / "e.nc.sluice-Ab12Cd", "no leading dot");
  write_text(dir.path / "target", "kept");
  fs::create_symlink("target", dir.path / ".f.nc.sluice-Ab12Cd");  // a link is never followed
  int held = ::open((dir.path / ".c.nc.sluice-Qq11Rr").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(held, 0);
  ASSERT_EQ(::flock(held, LOCK_EX), 0);

  EXPECT_EQ(remove_stale_temp_files(dir.path.string()), 1u);
  EXPECT_EQ(names_in(dir.path),
            (std::vector<std::string>{".c.nc.sluice-Qq11Rr", ".d.nc.sluice-Ab12", ".f.nc.sluice-Ab12Cd",
                                      "e.nc.sluice-Ab12Cd", "target"}));
  EXPECT_EQ(read_text(dir.path / "target"), "kept");
  ::close(held);
}

TEST(FileWriterResume, a_temporary_file_with_a_recent_journal_is_kept_for_the_resume) {
  temp_dir dir;
  write_text(dir.path / ".a.nc.sluice-Ab12Cd", "resumable");
  write_text(dir.path / ".a.nc.sluice-Ab12Cd.journal", "sluice-journal 1 ...");
  EXPECT_EQ(remove_stale_temp_files(dir.path.string()), 0u);
  EXPECT_EQ(names_in(dir.path).size(), 2u);
  // Past the time a resume is waited for: removed with its journal.
  EXPECT_EQ(remove_stale_temp_files(dir.path.string(), std::chrono::seconds(0)), 1u);
  EXPECT_TRUE(names_in(dir.path).empty());
}

TEST(FileWriterResume, a_live_writers_temporary_file_survives_a_sweep) {
  temp_dir dir;
  asio::io_context ioc;
  auto w = file_writer::create(ioc.get_executor(), (dir.path / "x.bin").string(), 3 * part, buffered());
  ASSERT_TRUE(w) << w.error().describe();
  EXPECT_EQ(remove_stale_temp_files(dir.path.string(), std::chrono::seconds(0)), 0u);
  EXPECT_TRUE(fs::exists((*w)->temp_path()));
}

TEST(FileWriterResume, a_resumable_writer_adopts_the_parts_a_dead_writer_journaled) {
  temp_dir dir;
  asio::io_context ioc;
  const fs::path dest = dir.path / "x.bin";
  const resume_key key{"s3://b/x.bin", "etag-1", part};
  dead_writer dead = leave_behind(ioc, dest, key, {0, 2});
  // A torn record at the end (the crash came while it was written) ends the list, nothing more.
  {
    std::ofstream j(dead.journal, std::ios::binary | std::ios::app);
    j << "1 00000000";
  }

  auto w = file_writer::create_resumable(ioc.get_executor(), dest.string(), 3 * part, key, buffered());
  ASSERT_TRUE(w) << w.error().describe();
  EXPECT_EQ((*w)->temp_path(), dead.temp);
  ASSERT_EQ((*w)->resumed_parts().size(), 2u);
  EXPECT_EQ((*w)->resumed_parts().at(0), sluice::integrity::xxh3(part_bytes(0)));
  EXPECT_EQ((*w)->resumed_parts().at(2), sluice::integrity::xxh3(part_bytes(2)));
  // Another run cannot take the adopted file while this writer lives.
  EXPECT_EQ(remove_stale_temp_files(dir.path.string(), std::chrono::seconds(0)), 0u);

  auto r = run(ioc, write_and_record(w->get(), 1));
  ASSERT_TRUE(r) << r.error().describe();
  auto c = run(ioc, (*w)->commit());
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_EQ(read_text(dest), part_bytes(0) + part_bytes(1) + part_bytes(2));
  EXPECT_EQ(names_in(dir.path), std::vector<std::string>{"x.bin"});  // no temporary file, no journal
}

TEST(FileWriterResume, a_changed_object_restarts_with_a_fresh_file) {
  temp_dir dir;
  asio::io_context ioc;
  const fs::path dest = dir.path / "x.bin";
  dead_writer dead = leave_behind(ioc, dest, resume_key{"s3://b/x.bin", "etag-1", part}, {0, 1});

  const resume_key changed{"s3://b/x.bin", "etag-2", part};
  auto w = file_writer::create_resumable(ioc.get_executor(), dest.string(), 3 * part, changed, buffered());
  ASSERT_TRUE(w) << w.error().describe();
  EXPECT_TRUE((*w)->resumed_parts().empty());
  EXPECT_NE((*w)->temp_path(), dead.temp);
  EXPECT_FALSE(fs::exists(dead.temp));
  EXPECT_FALSE(fs::exists(dead.journal));
  w->reset();
  EXPECT_TRUE(names_in(dir.path).empty());
}

TEST(FileWriterResume, another_size_or_part_size_is_not_adopted) {
  temp_dir dir;
  asio::io_context ioc;
  const fs::path dest = dir.path / "x.bin";
  leave_behind(ioc, dest, resume_key{"s3://b/x.bin", "etag-1", part}, {0});
  auto w = file_writer::create_resumable(ioc.get_executor(), dest.string(), 3 * part,
                                         resume_key{"s3://b/x.bin", "etag-1", 2 * part}, buffered());
  ASSERT_TRUE(w) << w.error().describe();
  EXPECT_TRUE((*w)->resumed_parts().empty());
  w->reset();
  leave_behind(ioc, dest, resume_key{"s3://b/x.bin", "etag-1", part}, {0});
  auto v = file_writer::create_resumable(ioc.get_executor(), dest.string(), 2 * part,
                                         resume_key{"s3://b/x.bin", "etag-1", part}, buffered());
  ASSERT_TRUE(v) << v.error().describe();
  EXPECT_TRUE((*v)->resumed_parts().empty());
}

}  // namespace
