// The local directory driver: the conformance suite, and what only a directory can show.
#include "conformance.hpp"

#include <sluice/store/file.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace {

using namespace sluice;
namespace fs = std::filesystem;

class FileStore : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-file-store-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = store::open_file_store((dir_ / "root").string());
    ASSERT_TRUE(s) << s.error().describe();
    f_.s = *s;
    f_.eng = &eng_;
    f_.keeps_empty_segments = false;
    f_.value_may_share_a_prefix_name = false;
  }
  void TearDown() override { fs::remove_all(dir_); }
  store_tests::store_fixture& fixture() { return f_; }
  std::vector<std::byte> bytes(std::string_view s) {
    std::vector<std::byte> v(s.size());
    std::memcpy(v.data(), s.data(), s.size());
    return v;
  }

  engine eng_{engine::options{1}};
  store_tests::store_fixture f_;
  fs::path dir_;
};

SLUICE_STORE_CONFORMANCE_TESTS(FileStore)

TEST_F(FileStore, keys_that_could_leave_the_root_are_refused_and_nothing_is_written_outside) {
  auto body = bytes("escape");
  for (const char* bad :
       {"../outside", "a/../../outside", "/etc/absolute", "a//b", "./here", "dir/", "a/./b"}) {
    auto w = eng_.run(f_.s->write(bad, body));
    ASSERT_FALSE(w) << bad;
    EXPECT_TRUE(w.error().code == condition::invalid_argument) << bad << ": " << w.error().describe();
    auto r = eng_.run(f_.s->read(bad));
    EXPECT_FALSE(r) << bad;
  }
  EXPECT_FALSE(fs::exists(dir_ / "outside"));
  EXPECT_FALSE(fs::exists(dir_ / "root" / "here"));
}

TEST_F(FileStore, values_are_files_under_the_root_and_removes_prune_empty_directories) {
  ASSERT_TRUE(eng_.run(f_.s->write("a/b/c.txt", bytes("hello"))));
  std::ifstream in(dir_ / "root" / "a" / "b" / "c.txt");
  std::string got;
  std::getline(in, got);
  EXPECT_EQ(got, "hello");
  EXPECT_EQ(f_.s->local_path("a/b/c.txt"), (dir_ / "root" / "a" / "b" / "c.txt").string());
  ASSERT_TRUE(eng_.run(f_.s->remove("a/b/c.txt")));
  EXPECT_FALSE(fs::exists(dir_ / "root" / "a")) << "directories are implicit, as prefixes are on S3";
  EXPECT_TRUE(fs::exists(dir_ / "root")) << "the root stays";
}

TEST_F(FileStore, a_file_changed_by_another_program_gets_a_new_generation) {
  auto g = eng_.run(f_.s->write("v", bytes("one")));
  ASSERT_TRUE(g);
  {
    std::ofstream out(dir_ / "root" / "v", std::ios::trunc);
    out << "changed by someone else";
  }
  auto r = eng_.run(f_.s->read("v"));
  ASSERT_TRUE(r);
  EXPECT_NE(r->gen, *g);
  store::write_options stale;
  stale.if_equal = *g;
  auto w = eng_.run(f_.s->write("v", bytes("mine"), stale));
  ASSERT_FALSE(w);
  EXPECT_TRUE(w.error().code == condition::precondition_failed) << w.error().describe();
}

TEST_F(FileStore, temporary_files_and_symlinks_are_not_listed) {
  ASSERT_TRUE(eng_.run(f_.s->write("real", bytes("x"))));
  std::ofstream(dir_ / "root" / ".real.sluice-AbC123") << "half written";
  fs::create_symlink("/etc/hostname", dir_ / "root" / "link");
  std::vector<std::string> keys;
  store::list_callback cb = [&](store::list_page& p) -> result<bool> {
    for (auto& e : p.entries) keys.push_back(e.key);
    return true;
  };
  ASSERT_TRUE(eng_.run(f_.s->list("", store::list_all, cb)));
  EXPECT_EQ(keys, std::vector<std::string>{"real"});
}

// Exits 0 when a write into `ro` fails with permission_denied and EACCES (not
// no_space, not a bare io_error): a program can tell a read-only directory
// from a full disk.
[[noreturn]] void expect_write_refused(const fs::path& root, bool drop_root) {
  if (drop_root && (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0))
    std::_Exit(2);
  engine eng(engine::options{1});
  auto s = store::open_file_store(root.string());
  if (!s) std::_Exit(3);
  std::vector<std::byte> body(4);
  auto w = eng.run((*s)->write("ro/x", body));
  if (w) std::_Exit(4);
  std::fprintf(stderr, "%s\n", w.error().describe().c_str());
  const bool ok = w.error().code == condition::permission_denied && w.error().sys_errno == EACCES &&
                  !(w.error().code == condition::no_space);
  std::_Exit(ok ? 0 : 5);
}

TEST_F(FileStore, a_read_only_directory_is_permission_denied_with_its_errno) {
  const fs::path root = dir_ / "root";
  fs::create_directories(root / "ro");
  fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  fs::permissions(root, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  fs::permissions(root / "ro", fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                   fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  // Root (CAP_DAC_OVERRIDE) writes anywhere: check from a child that dropped to nobody.
  const bool drop_root = ::access((root / "ro").c_str(), W_OK) == 0;
  if (drop_root && ::geteuid() != 0)
    GTEST_SKIP() << "the directory stays writable and we cannot drop privileges";
  EXPECT_EXIT(expect_write_refused(root, drop_root), ::testing::ExitedWithCode(0), "Permission denied");
  fs::permissions(root / "ro", fs::perms::owner_all);
  EXPECT_TRUE(fs::is_empty(root / "ro")) << "no temporary file left behind";
}

TEST_F(FileStore, opening_a_file_as_a_root_is_invalid_argument) {
  std::ofstream(dir_ / "plain") << "x";
  auto s = store::open_file_store((dir_ / "plain").string());
  ASSERT_FALSE(s);
  EXPECT_TRUE(s.error().code == condition::invalid_argument) << s.error().describe();
}

}  // namespace

namespace {

TEST_F(FileStore, a_fifo_as_a_key_or_a_source_is_refused_without_blocking) {
  // Opening a FIFO for reading waits for a writer; the store must not.
  ASSERT_EQ(::mkfifo((dir_ / "root" / "pipe").c_str(), 0600), 0);
  auto r = eng_.run(f_.s->read("pipe"));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->state, store::read_state::missing);
  ASSERT_EQ(::mkfifo((dir_ / "source-pipe").c_str(), 0600), 0);
  auto w = eng_.run(f_.s->write_file("from-pipe", (dir_ / "source-pipe").string()));
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, errc::invalid_argument) << w.error().describe();
  auto down = eng_.run(f_.s->read_to_file("pipe", (dir_ / "out").string()));
  ASSERT_TRUE(down) << down.error().describe();
  EXPECT_EQ(down->state, store::read_state::missing);
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

}  // namespace
