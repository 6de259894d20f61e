// `sluice cp -r` and `sync` (objects::copy_tree / sync over the directory and
// S3 stores) against radosgw, which keeps keys exactly as sent ("../x" too):
// byte-exact trees both ways, unchanged files skipped, symlinks and folder
// markers, keys that would escape the destination, --delete and --dryrun.
#include "cli_test_support.hpp"

#include <filesystem>

using namespace sluice;
using namespace sluice::testing;
namespace fs = std::filesystem;

namespace {

// Every regular file under `root` (relative path -> content).
std::map<std::string, std::string> tree_of(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && !e.is_symlink())
      out[fs::relative(e.path(), root).generic_string()] = read_file(e.path().string());
  return out;
}

class CliTree : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(f_.start()); }

  radosgw_cli_fixture f_{"tree"};
  const fs::path dir_ = f_.dir.path;
};

TEST_F(CliTree, cp_r_up_and_down_reproduces_the_tree_byte_for_byte) {
  const fs::path src = dir_ / "src";
  write_file(src / "a.txt", as_span(test_bytes(10, 1)));
  write_file(src / "deep/er/b.bin", as_span(test_bytes((9 << 20) + 7, 2)));  // more than one part
  write_file(src / "with space/c", as_span(test_bytes(0, 3)));
  auto up = run_sluice({"cp", "-r", src.string(), f_.url("up")}, f_.env);
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  EXPECT_EQ(f_.keys(), (std::set<std::string>{"up/a.txt", "up/deep/er/b.bin", "up/with space/c"}));
  auto down = run_sluice({"cp", "-r", f_.url("up"), (dir_ / "down").string()}, f_.env);
  ASSERT_EQ(down.exit_code, 0) << describe(down);
  EXPECT_EQ(tree_of(dir_ / "down"), tree_of(src));
}

TEST_F(CliTree, symlinks_in_the_source_are_not_followed_out_of_it) {
  const fs::path src = dir_ / "src";
  write_file(src / "real.txt", as_span(test_bytes(5, 1)));
  write_file(dir_ / "secret.txt", as_span(test_bytes(5, 9)));
  fs::create_symlink(dir_ / "secret.txt", src / "link.txt");
  auto up = run_sluice({"cp", "-r", src.string(), f_.url("pfx")}, f_.env);
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  EXPECT_EQ(f_.keys(), std::set<std::string>{"pfx/real.txt"}) << "no key named after the link or its target";
}

TEST_F(CliTree, a_second_sync_copies_nothing_and_a_changed_file_goes_again) {
  const fs::path src = dir_ / "src";
  write_file(src / "x", as_span(test_bytes(1000, 1)));
  write_file(src / "y/z", as_span(test_bytes(2000, 2)));
  auto first = run_sluice({"sync", src.string(), f_.url("s"), "--json"}, f_.env);
  ASSERT_EQ(first.exit_code, 0) << describe(first);
  EXPECT_NE(first.out.find("\"objects\":2"), std::string::npos) << first.out;
  auto second = run_sluice({"sync", src.string(), f_.url("s"), "--json"}, f_.env);
  ASSERT_EQ(second.exit_code, 0) << describe(second);
  EXPECT_NE(second.out.find("\"objects\":0"), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("\"skipped\":2"), std::string::npos) << second.out;
  write_file(src / "x", as_span(test_bytes(1000, 7)));  // same size, other bytes
  auto third = run_sluice({"sync", src.string(), f_.url("s"), "--json"}, f_.env);
  ASSERT_EQ(third.exit_code, 0) << describe(third);
  EXPECT_NE(third.out.find("\"objects\":1"), std::string::npos) << third.out;
  // And back down: a second download sync also skips what is already there.
  ASSERT_EQ(run_sluice({"sync", f_.url("s"), (dir_ / "back").string()}, f_.env).exit_code, 0);
  auto again = run_sluice({"sync", f_.url("s"), (dir_ / "back").string(), "--json"}, f_.env);
  EXPECT_NE(again.out.find("\"objects\":0"), std::string::npos) << again.out;
  EXPECT_EQ(tree_of(dir_ / "back"), tree_of(src));
}

TEST_F(CliTree, folder_markers_are_skipped_and_escaping_keys_refused_without_writing_outside) {
  f_.put("pfx/", "");
  f_.put("pfx/sub/", "");
  f_.put("pfx/sub/ok.txt", "fine");
  f_.put("pfx/../escape.txt", "must never land outside");
  f_.put("pfx/a//b.txt", "empty segment");
  const fs::path down = dir_ / "nested" / "down";
  auto r = run_sluice({"cp", "-r", f_.url("pfx"), down.string()}, f_.env);
  EXPECT_EQ(r.exit_code, 1) << "refused keys are failures: " << describe(r);
  EXPECT_NE(r.err.find("escape.txt"), std::string::npos) << describe(r);
  EXPECT_EQ(r.err.find("sub/"), std::string::npos) << "folder markers are not failures: " << describe(r);
  EXPECT_EQ(tree_of(down), (std::map<std::string, std::string>{{"sub/ok.txt", "fine"}}));
  EXPECT_FALSE(fs::exists(dir_ / "nested" / "escape.txt"));
  EXPECT_FALSE(fs::exists(dir_ / "escape.txt"));
}

TEST_F(CliTree, sync_delete_removes_only_what_the_source_lacks_and_dryrun_changes_nothing) {
  const fs::path src = dir_ / "src";
  write_file(src / "keep.txt", as_span(test_bytes(10, 1)));
  f_.put("d/keep.txt", "old");
  f_.put("d/gone.txt", "not in the source");
  f_.put("d-sibling/x", "outside the prefix");
  auto plan = run_sluice({"sync", "--delete", "--dryrun", src.string(), f_.url("d")}, f_.env);
  ASSERT_EQ(plan.exit_code, 0) << describe(plan);
  EXPECT_NE(plan.out.find("delete gone.txt"), std::string::npos) << describe(plan);
  EXPECT_EQ(f_.keys(), (std::set<std::string>{"d/keep.txt", "d/gone.txt", "d-sibling/x"}))
      << "a dry run changes nothing";
  auto done = run_sluice({"sync", "--delete", src.string(), f_.url("d")}, f_.env);
  ASSERT_EQ(done.exit_code, 0) << describe(done);
  EXPECT_EQ(f_.keys(), (std::set<std::string>{"d/keep.txt", "d-sibling/x"}));
}

}  // namespace
