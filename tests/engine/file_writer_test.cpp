// Local file writes: io_uring and pwrite backends, O_DIRECT and buffered, temp name + rename.
#include <sluice/engine/buffer/buffer.hpp>
#include <sluice/engine/cache/file_writer.hpp>
#include <sluice/engine/runtime/concurrently.hpp>
#include <sluice/engine/runtime/engine.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using sluice::aligned_buffer;
using sluice::result;
using sluice::cache::file_writer;
using sluice::cache::io_backend;
using sluice::cache::writer_options;

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;

// Deterministic, position-dependent bytes: a part written at the wrong offset shows.
aligned_buffer pattern(uint64_t size, uint64_t seed) {
  aligned_buffer b(size);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (uint64_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b.data()[i] = static_cast<std::byte>(x >> 24);
  }
  return b;
}

std::vector<std::byte> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> v((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(v.size());
  if (!v.empty()) std::memcpy(out.data(), v.data(), v.size());
  return out;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool same_bytes(const std::vector<std::byte>& got, std::span<const std::byte> want) {
  return got.size() == want.size() &&
         (want.empty() || std::memcmp(got.data(), want.data(), want.size()) == 0);
}

template <class T>
T run(asio::io_context& ioc, asio::awaitable<T> work) {
  auto f = asio::co_spawn(ioc, std::move(work), asio::use_future);
  ioc.restart();
  ioc.run();
  return f.get();
}

struct part_outcome {
  unsigned peak_in_flight = 0;  // writes in flight on the writer when the last part started
  std::vector<std::string> errors;
};

asio::awaitable<void> write_part(file_writer* w, std::span<const std::byte> bytes, uint64_t offset,
                                 part_outcome* out) {
  out->peak_in_flight = std::max(out->peak_in_flight, w->writes_in_flight() + 1);
  auto r = co_await w->write_at(offset, bytes);
  if (!r) out->errors.push_back(r.error().message);
}

// Starts every part of `src` at once (last part first) on `ioc` and runs until all are done.
part_outcome write_parts_concurrently(asio::io_context& ioc, file_writer& w, const aligned_buffer& src,
                                      uint64_t part) {
  part_outcome out;
  std::vector<uint64_t> offsets;
  for (uint64_t off = 0; off < src.size(); off += part) offsets.push_back(off);
  std::reverse(offsets.begin(), offsets.end());
  if (offsets.size() > 2) std::swap(offsets[1], offsets.back());  // not merely reversed either
  for (uint64_t off : offsets) {
    std::span<const std::byte> bytes(src.data() + off, std::min(part, src.size() - off));
    asio::co_spawn(ioc, write_part(&w, bytes, off, &out), asio::detached);
  }
  ioc.restart();
  ioc.run();
  return out;
}

class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~scoped_env() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// Whether some descriptor of this process opened `path` with O_DIRECT (-1: none open).
int open_with_direct(const fs::path& path) {
  int found = -1;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    auto target = fs::read_symlink(e.path(), ec);
    if (ec || target != path) continue;
    int fd = std::stoi(e.path().filename().string());
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0) continue;
    if (flags & O_DIRECT) return 1;
    found = 0;
  }
  return found;
}

class FileWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sluice-file-writer-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << std::strerror(errno);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_, fs::perms::owner_all, ec);
    fs::remove_all(dir_, ec);
  }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    return names;
  }

  fs::path dir_;
  asio::io_context ioc_{1};
};

writer_options options(io_backend b, bool direct) {
  writer_options o;
  o.backend = b;
  o.direct = direct;
  return o;
}

// --- every backend x O_DIRECT x size writes exactly the expected bytes --------------------

struct size_case {
  io_backend backend;
  bool direct;
  uint64_t size;
};

std::string case_name(const ::testing::TestParamInfo<size_case>& info) {
  return std::string(info.param.backend == io_backend::io_uring ? "io_uring" : "pwrite") +
         (info.param.direct ? "_direct_" : "_buffered_") + std::to_string(info.param.size);
}

std::vector<size_case> all_size_cases() {
  const uint64_t sizes[] = {0, 1, 4095, 4096, 4097, 8 * MiB, 8 * MiB + 1, 8 * MiB - 1, 20 * MiB + 123};
  std::vector<size_case> cases;
  for (io_backend b : {io_backend::io_uring, io_backend::pwrite})
    for (bool direct : {true, false})
      for (uint64_t s : sizes) cases.push_back({b, direct, s});
  return cases;
}

class FileWriterSizes : public FileWriterTest, public ::testing::WithParamInterface<size_case> {};

TEST_P(FileWriterSizes, out_of_order_concurrent_8mib_parts_write_the_exact_bytes) {
  const auto& c = GetParam();
  if (c.backend == io_backend::io_uring && !sluice::cache::io_uring_available())
    GTEST_SKIP() << "io_uring is not available on this kernel/container";
  const fs::path final_path = dir_ / "object.bin";
  auto src = pattern(c.size, c.size + 7);
  auto w =
      file_writer::create(ioc_.get_executor(), final_path.string(), c.size, options(c.backend, c.direct));
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_EQ((*w)->backend(), c.backend);
  if (!c.direct) {
    EXPECT_FALSE((*w)->direct());
  }

  auto out = write_parts_concurrently(ioc_, **w, src, 8 * MiB);
  EXPECT_TRUE(out.errors.empty()) << out.errors.front();
  if (c.backend == io_backend::io_uring && c.size > 8 * MiB) {
    EXPECT_GT(out.peak_in_flight, 1u) << "io_uring writes should overlap";
  }
  EXPECT_FALSE(fs::exists(final_path));

  auto committed = run(ioc_, (*w)->commit());
  ASSERT_TRUE(committed) << committed.error().message;
  EXPECT_EQ(fs::file_size(final_path), c.size);
  EXPECT_TRUE(same_bytes(read_all(final_path), src.span()));
  EXPECT_EQ(entries(), std::vector<std::string>{"object.bin"});
}

INSTANTIATE_TEST_SUITE_P(FileWriter, FileWriterSizes, ::testing::ValuesIn(all_size_cases()), case_name);

// --- backend selection ----------------------------------------------------------------------

TEST_F(FileWriterTest, io_uring_and_pwrite_files_are_byte_identical) {
  if (!sluice::cache::io_uring_available()) GTEST_SKIP() << "io_uring is not available";
  const uint64_t size = 20 * MiB + 123;
  auto src = pattern(size, 99);
  std::vector<std::vector<std::byte>> files;
  for (io_backend b : {io_backend::io_uring, io_backend::pwrite}) {
    const fs::path p = dir_ / (std::string("out-") + sluice::cache::to_string(b));
    auto w = file_writer::create(ioc_.get_executor(), p.string(), size, options(b, true));
    ASSERT_TRUE(w) << w.error().message;
    auto out = write_parts_concurrently(ioc_, **w, src, 8 * MiB);
    ASSERT_TRUE(out.errors.empty()) << out.errors.front();
    ASSERT_TRUE(run(ioc_, (*w)->commit()));
    files.push_back(read_all(p));
  }
  EXPECT_EQ(files[0], files[1]);
}

TEST_F(FileWriterTest, environment_pwrite_forces_the_fallback) {
  scoped_env env("SLUICE_IO_BACKEND", "pwrite");
  auto w = file_writer::create(ioc_.get_executor(), (dir_ / "f").string(), 4096);
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_EQ((*w)->backend(), io_backend::pwrite);
}

TEST_F(FileWriterTest, environment_io_uring_forces_io_uring) {
  if (!sluice::cache::io_uring_available()) GTEST_SKIP() << "io_uring is not available";
  scoped_env env("SLUICE_IO_BACKEND", "io_uring");
  auto w = file_writer::create(ioc_.get_executor(), (dir_ / "f").string(), 4096);
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_EQ((*w)->backend(), io_backend::io_uring);
}

TEST_F(FileWriterTest, explicit_backend_option_wins_over_the_environment) {
  scoped_env env("SLUICE_IO_BACKEND", "io_uring");
  auto w = file_writer::create(ioc_.get_executor(), (dir_ / "f").string(), 4096,
                               options(io_backend::pwrite, true));
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_EQ((*w)->backend(), io_backend::pwrite);
}

TEST_F(FileWriterTest, unknown_environment_backend_is_invalid_argument) {
  scoped_env env("SLUICE_IO_BACKEND", "aio");
  auto w = file_writer::create(ioc_.get_executor(), (dir_ / "f").string(), 4096);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, sluice::errc::invalid_argument);
  EXPECT_NE(w.error().message.find("aio"), std::string::npos);
  EXPECT_TRUE(entries().empty());
}

TEST_F(FileWriterTest, automatic_backend_is_io_uring_when_available) {
  scoped_env env("SLUICE_IO_BACKEND", nullptr);
  auto w = file_writer::create(ioc_.get_executor(), (dir_ / "f").string(), 4096);
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_EQ((*w)->backend(), sluice::cache::io_uring_available() ? io_backend::io_uring : io_backend::pwrite);
}

TEST_F(FileWriterTest, strand_of_an_io_context_uses_io_uring) {
  if (!sluice::cache::io_uring_available()) GTEST_SKIP() << "io_uring is not available";
  scoped_env env("SLUICE_IO_BACKEND", nullptr);
  auto strand = asio::make_strand(ioc_.get_executor());
  auto src = pattern(3 * 4096, 12);
  auto w = file_writer::create(strand, (dir_ / "f").string(), src.size());
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_EQ((*w)->backend(), io_backend::io_uring);
  auto out = write_parts_concurrently(ioc_, **w, src, 4096);
  ASSERT_TRUE(out.errors.empty()) << out.errors.front();
  ASSERT_TRUE(run(ioc_, (*w)->commit()));
  EXPECT_TRUE(same_bytes(read_all(dir_ / "f"), src.span()));
}

TEST_F(FileWriterTest, forced_io_uring_without_an_io_context_is_an_io_error) {
  if (!sluice::cache::io_uring_available()) GTEST_SKIP() << "io_uring is not available";
  scoped_env env("SLUICE_IO_BACKEND", nullptr);
  asio::thread_pool pool(1);
  auto w = file_writer::create(pool.get_executor(), (dir_ / "f").string(), 4096,
                               options(io_backend::io_uring, true));
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, sluice::errc::io_error);
  auto fallback = file_writer::create(pool.get_executor(), (dir_ / "f").string(), 4096, writer_options{});
  ASSERT_TRUE(fallback) << fallback.error().message;
  EXPECT_EQ((*fallback)->backend(), io_backend::pwrite);
}

// --- temp name, commit, abandon ------------------------------------------------------------

TEST_F(FileWriterTest, nothing_at_the_final_name_before_commit_and_no_temp_after) {
  const fs::path final_path = dir_ / "data.bin";
  auto src = pattern(3 * 4096 + 5, 1);
  auto w = file_writer::create(ioc_.get_executor(), final_path.string(), src.size());
  ASSERT_TRUE(w) << w.error().message;
  const fs::path temp = (*w)->temp_path();
  EXPECT_EQ(temp.parent_path(), dir_);
  EXPECT_EQ(temp.filename().string().rfind(".data.bin.sluice-", 0), 0u) << temp;
  EXPECT_EQ(temp.filename().string().size(), std::string(".data.bin.sluice-XXXXXX").size());
  EXPECT_TRUE(fs::exists(temp));
  EXPECT_EQ(fs::file_size(temp), src.size()) << "preallocated to the final size";
  EXPECT_EQ(fs::status(temp).permissions() & fs::perms::owner_write, fs::perms::owner_write);

  auto out = write_parts_concurrently(ioc_, **w, src, 4096);
  ASSERT_TRUE(out.errors.empty()) << out.errors.front();
  EXPECT_FALSE(fs::exists(final_path));

  auto r = run(ioc_, (*w)->commit());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE((*w)->committed());
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_EQ(fs::file_size(final_path), src.size());
  EXPECT_TRUE(same_bytes(read_all(final_path), src.span()));
  EXPECT_EQ(entries(), std::vector<std::string>{"data.bin"});

  w->reset();  // destroying a committed writer keeps the file
  EXPECT_TRUE(fs::exists(final_path));
}

TEST_F(FileWriterTest, destroying_an_uncommitted_writer_leaves_neither_final_nor_temp_file) {
  const fs::path final_path = dir_ / "interrupted.bin";
  auto src = pattern(16 * MiB, 2);
  {
    auto w = file_writer::create(ioc_.get_executor(), final_path.string(), src.size());
    ASSERT_TRUE(w) << w.error().message;
    // Only the first half arrives before the download is interrupted.
    std::span<const std::byte> half(src.data(), 8 * MiB);
    auto r = run(ioc_, (*w)->write_at(0, half));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(fs::exists((*w)->temp_path()));
  }
  EXPECT_FALSE(fs::exists(final_path));
  EXPECT_TRUE(entries().empty());
}

TEST_F(FileWriterTest, abandon_removes_the_temp_file_and_refuses_further_use) {
  auto w = file_writer::create(ioc_.get_executor(), (dir_ / "x").string(), 4096);
  ASSERT_TRUE(w) << w.error().message;
  (*w)->abandon();
  (*w)->abandon();  // idempotent
  EXPECT_TRUE(entries().empty());
  auto buf = pattern(4096, 3);
  auto r = run(ioc_, (*w)->write_at(0, buf.span()));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, sluice::errc::invalid_argument);
  auto c = run(ioc_, (*w)->commit());
  ASSERT_FALSE(c);
  EXPECT_TRUE(entries().empty());
}

TEST_F(FileWriterTest, existing_file_at_the_final_name_is_replaced_only_at_commit) {
  const fs::path final_path = dir_ / "existing.txt";
  std::ofstream(final_path) << "old contents";
  auto src = pattern(10000, 4);
  auto w = file_writer::create(ioc_.get_executor(), final_path.string(), src.size());
  ASSERT_TRUE(w) << w.error().message;
  auto out = write_parts_concurrently(ioc_, **w, src, 4096);
  ASSERT_TRUE(out.errors.empty()) << out.errors.front();
  EXPECT_EQ(read_text(final_path), "old contents");
  ASSERT_TRUE(run(ioc_, (*w)->commit()));
  EXPECT_TRUE(same_bytes(read_all(final_path), src.span()));
}

TEST_F(FileWriterTest, uncommitted_writer_leaves_an_existing_file_untouched) {
  const fs::path final_path = dir_ / "keep.txt";
  std::ofstream(final_path) << "keep me";
  {
    auto w = file_writer::create(ioc_.get_executor(), final_path.string(), 5);
    ASSERT_TRUE(w) << w.error().message;
  }
  EXPECT_EQ(read_text(final_path), "keep me");
  EXPECT_EQ(entries(), std::vector<std::string>{"keep.txt"});
}

// --- errors ---------------------------------------------------------------------------------

TEST_F(FileWriterTest, missing_directory_is_not_found_with_its_errno_naming_the_path) {
  const std::string target = (dir_ / "no" / "such" / "dir" / "file.bin").string();
  auto w = file_writer::create(ioc_.get_executor(), target, 100);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, sluice::errc::not_found);
  EXPECT_TRUE(w.error().code == sluice::condition::not_found);
  EXPECT_EQ(w.error().sys_errno, ENOENT);
  EXPECT_NE(w.error().message.find(target), std::string::npos) << w.error().message;
}

TEST_F(FileWriterTest, parent_that_is_a_file_is_an_io_error_naming_the_path) {
  std::ofstream(dir_ / "plain") << "x";
  const std::string target = (dir_ / "plain" / "file.bin").string();
  auto w = file_writer::create(ioc_.get_executor(), target, 100);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, sluice::errc::io_error);
  EXPECT_EQ(w.error().sys_errno, ENOTDIR);
  EXPECT_NE(w.error().message.find(target), std::string::npos) << w.error().message;
}

// Exits 0 when creating a writer in `dir` fails with permission_denied (EACCES)
// naming the target (printed): a program can tell it from a full disk.
[[noreturn]] void expect_create_refused(const fs::path& dir, bool drop_root) {
  if (drop_root && (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)) {
    std::fprintf(stderr, "cannot drop root: %s\n", std::strerror(errno));
    std::_Exit(2);
  }
  const std::string target = (dir / "file.bin").string();
  asio::io_context ioc(1);
  auto w = file_writer::create(ioc.get_executor(), target, 100);
  if (w) {
    std::fprintf(stderr, "created %s\n", (*w)->temp_path().c_str());
    std::_Exit(3);
  }
  std::fprintf(stderr, "%s\n", w.error().message.c_str());
  const bool ok = w.error().code == sluice::condition::permission_denied && w.error().sys_errno == EACCES &&
                  !(w.error().code == sluice::condition::no_space) &&
                  w.error().message.find(target) != std::string::npos;
  std::_Exit(ok ? 0 : 4);
}

TEST_F(FileWriterTest, unwritable_directory_is_permission_denied_naming_the_path) {
  const fs::path ro = dir_ / "read-only";
  fs::create_directory(ro);
  fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                          fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  // Root (CAP_DAC_OVERRIDE) writes anywhere: check from a child that dropped to nobody.
  const bool drop_root = ::access(ro.c_str(), W_OK) == 0;
  if (drop_root && ::geteuid() != 0)
    GTEST_SKIP() << "the directory stays writable and we cannot drop privileges";
  EXPECT_EXIT(expect_create_refused(ro, drop_root), ::testing::ExitedWithCode(0), "Permission denied");
  EXPECT_TRUE(fs::is_empty(ro));
}

TEST_F(FileWriterTest, write_past_the_size_is_invalid_argument) {
  auto w = file_writer::create(ioc_.get_executor(), (dir_ / "f").string(), 4096);
  ASSERT_TRUE(w) << w.error().message;
  auto buf = pattern(8192, 5);
  auto r = run(ioc_, (*w)->write_at(0, buf.span()));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, sluice::errc::invalid_argument);
  auto r2 = run(ioc_, (*w)->write_at(4097, std::span<const std::byte>(buf.data(), 1)));
  EXPECT_FALSE(r2);
}

asio::awaitable<void> commit_into(file_writer* w, std::optional<result<void>>* out) {
  *out = co_await w->commit();
}

TEST_F(FileWriterTest, commit_with_a_write_in_flight_is_refused) {
  if (!sluice::cache::io_uring_available()) GTEST_SKIP() << "io_uring is not available";
  auto src = pattern(8 * MiB, 6);
  auto w = file_writer::create(ioc_.get_executor(), (dir_ / "f").string(), src.size(),
                               options(io_backend::io_uring, true));
  ASSERT_TRUE(w) << w.error().message;
  part_outcome out;
  std::optional<result<void>> early;
  asio::co_spawn(ioc_, write_part(w->get(), src.span(), 0, &out), asio::detached);
  asio::co_spawn(ioc_, commit_into(w->get(), &early), asio::detached);
  ioc_.run();
  ASSERT_TRUE(early.has_value());
  ASSERT_FALSE(*early);
  EXPECT_EQ(early->error().code, sluice::errc::invalid_argument);
  EXPECT_TRUE(out.errors.empty());
  ASSERT_TRUE(run(ioc_, (*w)->commit()));
  EXPECT_TRUE(same_bytes(read_all(dir_ / "f"), src.span()));
}

// --- O_DIRECT -------------------------------------------------------------------------------

TEST_F(FileWriterTest, o_direct_is_really_used_when_the_file_system_allows_it) {
  const fs::path build_dir = SLUICE_BINARY_DIR;
  for (const fs::path& base : {dir_, build_dir}) {
    const fs::path target = base / "sluice-direct-probe.bin";
    auto w = file_writer::create(ioc_.get_executor(), target.string(), 4096);
    ASSERT_TRUE(w) << w.error().message;
    if (!(*w)->direct()) {
      // Confirm that the file system, not the writer, refuses O_DIRECT.
      int fd = ::open((*w)->temp_path().c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
      int e = errno;
      if (fd >= 0) ::close(fd);
      ASSERT_LT(fd, 0) << "O_DIRECT works on " << base << " but the writer did not use it";
      GTEST_SKIP() << "the file system under " << base << " refuses O_DIRECT (" << std::strerror(e) << ")";
    }
    EXPECT_EQ(open_with_direct((*w)->temp_path()), 1) << "no O_DIRECT descriptor on " << (*w)->temp_path();
    auto buffered = file_writer::create(ioc_.get_executor(), (base / "sluice-buffered-probe.bin").string(),
                                        4096, writer_options{.direct = false, .backend = std::nullopt});
    ASSERT_TRUE(buffered) << buffered.error().message;
    EXPECT_FALSE((*buffered)->direct());
    EXPECT_EQ(open_with_direct((*buffered)->temp_path()), 0);
  }
}

TEST_F(FileWriterTest, misaligned_writes_on_a_direct_file_land_through_the_buffered_descriptor) {
  for (io_backend b : {io_backend::io_uring, io_backend::pwrite}) {
    if (b == io_backend::io_uring && !sluice::cache::io_uring_available()) continue;
    const uint64_t size = 100'003;
    auto src = pattern(size + 1, 7);  // +1: a deliberately misaligned view starting at byte 1
    std::span<const std::byte> shifted(src.data() + 1, size);
    const fs::path target = dir_ / (std::string("misaligned-") + sluice::cache::to_string(b));
    auto w = file_writer::create(ioc_.get_executor(), target.string(), size, options(b, true));
    ASSERT_TRUE(w) << w.error().message;
    part_outcome out;
    // 1000-byte parts: odd offsets, odd lengths, misaligned pointers.
    for (uint64_t off = 0; off < size; off += 1000) {
      asio::co_spawn(
          ioc_, write_part(w->get(), shifted.subspan(off, std::min<uint64_t>(1000, size - off)), off, &out),
          asio::detached);
    }
    ioc_.restart();
    ioc_.run();
    ASSERT_TRUE(out.errors.empty()) << out.errors.front();
    ASSERT_TRUE(run(ioc_, (*w)->commit()));
    EXPECT_TRUE(same_bytes(read_all(target), shifted)) << sluice::cache::to_string(b);
  }
}

TEST_F(FileWriterTest, aligned_parts_with_a_padded_tail_are_truncated_at_commit) {
  const uint64_t size = 3 * 4096 + 10;
  auto src = pattern(size, 8);  // aligned_buffer: capacity rounded up, so the tail may be padded
  ASSERT_GE(src.capacity(), 4 * 4096u);
  auto w = file_writer::create(ioc_.get_executor(), (dir_ / "tail").string(), size);
  ASSERT_TRUE(w) << w.error().message;
  auto r = run(ioc_, (*w)->write_at(0, src.span()));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(run(ioc_, (*w)->commit()));
  EXPECT_EQ(fs::file_size(dir_ / "tail"), size);
  EXPECT_TRUE(same_bytes(read_all(dir_ / "tail"), src.span()));
}

// --- the ring -------------------------------------------------------------------------------

TEST_F(FileWriterTest, more_writes_in_flight_than_ring_entries_all_land) {
  if (!sluice::cache::io_uring_available()) GTEST_SKIP() << "io_uring is not available";
  const uint64_t size = 1000 * 4096 + 1;  // 1001 writes against a 256-entry ring
  auto src = pattern(size, 9);
  auto w = file_writer::create(ioc_.get_executor(), (dir_ / "many").string(), size,
                               options(io_backend::io_uring, true));
  ASSERT_TRUE(w) << w.error().message;
  auto out = write_parts_concurrently(ioc_, **w, src, 4096);
  ASSERT_TRUE(out.errors.empty()) << out.errors.front();
  EXPECT_EQ(out.peak_in_flight, 1001u);
  ASSERT_TRUE(run(ioc_, (*w)->commit()));
  EXPECT_TRUE(same_bytes(read_all(dir_ / "many"), src.span()));
}

TEST_F(FileWriterTest, destroying_the_io_context_with_writes_in_flight_is_safe) {
  if (!sluice::cache::io_uring_available()) GTEST_SKIP() << "io_uring is not available";
  auto src = pattern(32 * MiB, 10);
  std::unique_ptr<file_writer> writer;
  part_outcome out;
  {
    asio::io_context ioc(1);
    auto w = file_writer::create(ioc.get_executor(), (dir_ / "dropped").string(), src.size(),
                                 options(io_backend::io_uring, false));
    ASSERT_TRUE(w) << w.error().message;
    writer = std::move(*w);
    for (uint64_t off = 0; off < src.size(); off += 4 * MiB) {
      asio::co_spawn(
          ioc, write_part(writer.get(), std::span<const std::byte>(src.data() + off, 4 * MiB), off, &out),
          asio::detached);
    }
    ioc.poll();  // start them: the kernel now holds the writes
  }              // the ring waits for the kernel, then drops the coroutines unresumed
  writer.reset();
  EXPECT_FALSE(fs::exists(dir_ / "dropped"));
  EXPECT_TRUE(entries().empty());
}

asio::awaitable<result<void>> download_on_engine(std::string path, const aligned_buffer* src) {
  auto ex = co_await asio::this_coro::executor;
  auto created = file_writer::create(ex, path, src->size());
  if (!created) co_return created.error();
  file_writer& w = **created;
  const io_backend expected = sluice::cache::io_uring_available() ? io_backend::io_uring : io_backend::pwrite;
  if (w.backend() != expected) co_return sluice::fail(sluice::errc::io_error, "unexpected backend");
  const uint64_t part = 1 * MiB;
  const unsigned parts = static_cast<unsigned>((src->size() + part - 1) / part);
  std::vector<std::string> errors;
  co_await sluice::run_concurrently(parts, [&](unsigned i) -> asio::awaitable<void> {
    const uint64_t off = uint64_t{i} * part;
    std::span<const std::byte> bytes(src->data() + off, std::min(part, src->size() - off));
    auto r = co_await w.write_at(off, bytes);
    if (!r) errors.push_back(r.error().message);
  });
  if (!errors.empty()) co_return sluice::fail(sluice::errc::io_error, errors.front());
  co_return co_await w.commit();
}

TEST_F(FileWriterTest, works_from_coroutines_on_engine_contexts) {
  sluice::engine eng(sluice::engine::options{.threads = 2});
  auto src = pattern(5 * MiB + 17, 11);
  std::string target = (dir_ / "engine.bin").string();
  auto r = eng.run(download_on_engine(target, &src));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(same_bytes(read_all(target), src.span()));
}

}  // namespace

namespace {

TEST_F(FileWriterTest, a_symlink_fifo_device_or_directory_at_the_destination_is_refused_not_replaced) {
  // A link to a file, a FIFO, a directory, and (as root: the case that would
  // replace /dev/null) a character device.
  std::ofstream(dir_ / "target") << "keep me";
  fs::create_symlink(dir_ / "target", dir_ / "link");
  ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0600), 0);
  fs::create_directory(dir_ / "dir");
  std::vector<std::pair<std::string, std::string>> cases = {
      {"link", "symbolic link"}, {"fifo", "FIFO"}, {"dir", "directory"}};
  if (::geteuid() == 0 && ::mknod((dir_ / "null").c_str(), S_IFCHR | 0666, ::makedev(1, 3)) == 0)
    cases.emplace_back("null", "character device");
  for (const auto& [name, what] : cases) {
    auto w = file_writer::create(ioc_.get_executor(), (dir_ / name).string(), 4);
    ASSERT_FALSE(w) << name;
    EXPECT_EQ(w.error().code, sluice::errc::invalid_argument) << w.error().describe();
    EXPECT_NE(w.error().describe().find(what), std::string::npos) << w.error().describe();
    EXPECT_FALSE(fs::is_regular_file(fs::symlink_status(dir_ / name))) << name << " was replaced";
  }
  EXPECT_EQ(read_all(dir_ / "target").size(), 7u);

  // Something that appears while the parts come is caught at commit.
  auto w = file_writer::create(ioc_.get_executor(), (dir_ / "late").string(), 4);
  ASSERT_TRUE(w) << w.error().describe();
  fs::create_symlink(dir_ / "target", dir_ / "late");
  std::optional<result<void>> committed;
  asio::co_spawn(ioc_, commit_into(w->get(), &committed), asio::detached);
  ioc_.run();
  ASSERT_TRUE(committed.has_value());
  ASSERT_FALSE(*committed);
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir_ / "late")));
}

}  // namespace

namespace {

// Hundreds of small files committed at once: each lands whole at its final
// name, no temporary file stays, and the committer made them durable in far
// fewer groups (one syncfs and one directory fsync each) than files.
TEST_F(FileWriterTest, group_commit_of_many_small_files_at_once_lands_them_whole_in_few_groups) {
  constexpr int files = 300;
  asio::io_context ioc;
  writer_options o;
  o.group_commit = true;
  o.direct = false;
  std::vector<std::unique_ptr<file_writer>> writers;
  std::vector<aligned_buffer> data;
  for (int i = 0; i < files; ++i) {
    data.push_back(pattern(10 * KiB + static_cast<uint64_t>(i), static_cast<uint64_t>(i) + 100));
    auto w = file_writer::create(ioc.get_executor(), (dir_ / ("f" + std::to_string(i))).string(),
                                 data.back().size(), o);
    ASSERT_TRUE(w) << w.error().message;
    writers.push_back(std::move(*w));
    auto wr = run(ioc, writers.back()->write_at(0, data.back().span()));
    ASSERT_TRUE(wr) << wr.error().message;
  }
  const auto before = sluice::cache::group_commits();
  int ok = 0;
  std::vector<std::string> errors;
  for (auto& w : writers)
    asio::co_spawn(
        ioc,
        [&, wp = w.get()]() -> asio::awaitable<void> {
          auto r = co_await wp->commit();
          if (r)
            ++ok;
          else
            errors.push_back(r.error().message);
        },
        asio::detached);
  ioc.restart();
  ioc.run();
  const auto after = sluice::cache::group_commits();
  ASSERT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(ok, files);
  for (int i = 0; i < files; ++i) {
    EXPECT_TRUE(writers[i]->committed());
    EXPECT_TRUE(same_bytes(read_all(dir_ / ("f" + std::to_string(i))), data[i].span())) << i;
  }
  EXPECT_EQ(entries().size(), std::size_t(files)) << "a temporary file stayed";
  EXPECT_EQ(after.files - before.files, uint64_t(files));
  EXPECT_GE(after.groups - before.groups, 1u);
  EXPECT_LT(after.groups - before.groups, uint64_t(files) / 4) << "the commits were not grouped";
}

// What cannot be committed fails alone and says why; the rest of its group lands.
TEST_F(FileWriterTest, group_commit_fails_a_file_that_cannot_be_committed_alone_with_its_reason) {
  asio::io_context ioc;
  writer_options o;
  o.group_commit = true;
  auto src = pattern(4 * KiB, 7);
  auto good = file_writer::create(ioc.get_executor(), (dir_ / "good").string(), src.size(), o);
  auto bad = file_writer::create(ioc.get_executor(), (dir_ / "bad").string(), src.size(), o);
  ASSERT_TRUE(good && bad);
  ASSERT_TRUE(run(ioc, (*good)->write_at(0, src.span())));
  ASSERT_TRUE(run(ioc, (*bad)->write_at(0, src.span())));
  fs::create_directory(dir_ / "bad");  // something appeared at the final name meanwhile
  std::optional<result<void>> rg, rb;
  asio::co_spawn(
      ioc, [&]() -> asio::awaitable<void> { rg = co_await (*good)->commit(); }, asio::detached);
  asio::co_spawn(
      ioc, [&]() -> asio::awaitable<void> { rb = co_await (*bad)->commit(); }, asio::detached);
  ioc.restart();
  ioc.run();
  ASSERT_TRUE(rg && rb);
  EXPECT_TRUE(*rg) << rg->error().message;
  ASSERT_FALSE(*rb);
  EXPECT_NE(rb->error().message.find("bad"), std::string::npos) << rb->error().message;
  EXPECT_TRUE(same_bytes(read_all(dir_ / "good"), src.span()));
  EXPECT_TRUE(fs::is_directory(dir_ / "bad")) << "the directory was replaced";
  bad->reset();  // the uncommitted writer removes its temporary file
  auto names = entries();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"bad", "good"}));
}

// The committer resumes a commit by posting to the writer's context. Destroying
// that context while commits are pending waits for them (nothing is posted to
// freed memory; ASan and TSan runs check that), and the files of the group are
// whole at their final names although no coroutine awaits them any more.
TEST_F(FileWriterTest, destroying_the_io_context_in_the_middle_of_a_group_commit_waits_for_it) {
  constexpr int files = 200;
  writer_options o;
  o.group_commit = true;
  o.direct = false;
  std::vector<std::unique_ptr<file_writer>> writers;
  std::vector<aligned_buffer> data;
  uint64_t before = 0;
  {
    asio::io_context ioc;
    for (int i = 0; i < files; ++i) {
      data.push_back(pattern(8 * KiB + static_cast<uint64_t>(i), static_cast<uint64_t>(i) + 300));
      auto w = file_writer::create(ioc.get_executor(), (dir_ / ("d" + std::to_string(i))).string(),
                                   data.back().size(), o);
      ASSERT_TRUE(w) << w.error().message;
      writers.push_back(std::move(*w));
      ASSERT_TRUE(run(ioc, writers.back()->write_at(0, data.back().span())));
    }
    before = sluice::cache::group_commits().files;
    for (auto& w : writers)
      asio::co_spawn(
          ioc, [wp = w.get()]() -> asio::awaitable<void> { (void)co_await wp->commit(); }, asio::detached);
    ioc.restart();
    ioc.poll_one();  // the first commit is queued at the committer; the rest wait in the context
    ioc.poll();      // now all are queued
  }                  // destroyed with the commits pending: waits for their groups, then drops the coroutines
  EXPECT_EQ(sluice::cache::group_commits().files - before, uint64_t(files))
      << "the context was destroyed before its pending commits were done";
  for (int i = 0; i < files; ++i)
    EXPECT_TRUE(same_bytes(read_all(dir_ / ("d" + std::to_string(i))), data[i].span())) << i;
  writers.clear();  // never told of their commits: they remove only what is still temporary
  EXPECT_EQ(entries().size(), std::size_t(files)) << "a temporary file stayed or a final one went";
}

}  // namespace
