// Local file reads for uploads: io_uring on engine contexts and the pread fallback.
#include <sluice/engine/cache/file_reader.hpp>
#include <sluice/engine/runtime/engine.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using sluice::cache::file_reader;
using sluice::cache::io_backend;

std::vector<std::byte> numbered(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131) ^ (i >> 9));
  return v;
}

class FileReader : public ::testing::TestWithParam<io_backend> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sluice-reader-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    data_ = numbered(3 * 1024 * 1024 + 17);
    std::ofstream(path(), std::ios::binary)
        .write(reinterpret_cast<const char*>(data_.data()), static_cast<std::streamsize>(data_.size()));
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path() const { return (dir_ / "src").string(); }

  fs::path dir_;
  std::vector<std::byte> data_;
  sluice::engine eng_{sluice::engine::options{2}};
};

TEST_P(FileReader, reads_the_bytes_at_any_offset_from_every_context) {
  auto opened = file_reader::open(path(), GetParam());
  ASSERT_TRUE(opened) << opened.error().describe();
  auto& r = **opened;
  EXPECT_EQ(r.size(), data_.size());
  EXPECT_EQ(r.backend(), GetParam());
  const std::pair<uint64_t, std::size_t> pieces[] = {
      {0, 1}, {0, 4096}, {4095, 3}, {1 << 20, 1 << 20}, {data_.size() - 17, 17}, {0, data_.size()}};
  for (unsigned c = 0; c < eng_.thread_count(); ++c) {
    for (auto [off, len] : pieces) {
      std::vector<std::byte> got(len);
      auto done = asio::co_spawn(eng_.context(c), r.read_at(off, got), asio::use_future).get();
      ASSERT_TRUE(done) << done.error().describe();
      EXPECT_EQ(0, std::memcmp(got.data(), data_.data() + off, len)) << "offset " << off << " length " << len;
    }
  }
}

TEST_P(FileReader, a_read_past_the_end_says_the_file_became_shorter) {
  auto opened = file_reader::open(path(), GetParam());
  ASSERT_TRUE(opened) << opened.error().describe();
  std::vector<std::byte> got(100);
  auto done = eng_.run((*opened)->read_at(data_.size() - 50, got));
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, sluice::errc::io_error);
  EXPECT_NE(done.error().describe().find("became shorter"), std::string::npos) << done.error().describe();
  EXPECT_NE(done.error().describe().find(path()), std::string::npos) << done.error().describe();
}

INSTANTIATE_TEST_SUITE_P(Backends, FileReader, ::testing::Values(io_backend::io_uring, io_backend::pwrite),
                         [](const auto& info) { return std::string(sluice::cache::to_string(info.param)); });

TEST(FileReaderOpen, refuses_directories_and_names_missing_files) {
  auto dir = file_reader::open(fs::temp_directory_path().string());
  ASSERT_FALSE(dir);
  EXPECT_EQ(dir.error().code, sluice::errc::invalid_argument);
  EXPECT_NE(dir.error().describe().find("not a regular file"), std::string::npos) << dir.error().describe();

  // A FIFO is refused at once, not waited on for a writer.
  const std::string fifo =
      (fs::temp_directory_path() / ("sluice-fifo-" + std::to_string(::getpid()))).string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto pipe = file_reader::open(fifo);
  ::unlink(fifo.c_str());
  ASSERT_FALSE(pipe);
  EXPECT_EQ(pipe.error().code, sluice::errc::invalid_argument);

  const std::string missing = (fs::temp_directory_path() / "sluice-no-such-file-here").string();
  auto gone = file_reader::open(missing);
  ASSERT_FALSE(gone);
  EXPECT_TRUE(gone.error().code == sluice::condition::not_found) << gone.error().describe();
  EXPECT_NE(gone.error().describe().find(missing), std::string::npos) << gone.error().describe();
}

}  // namespace
