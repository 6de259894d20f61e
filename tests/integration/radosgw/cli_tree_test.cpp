// `sluice cp -r` and `sync` (objects::copy_tree / sync over the directory and
// S3 stores) against radosgw, which keeps keys exactly as sent ("../x" too):
// byte-exact trees both ways, unchanged files skipped, symlinks and folder
// markers, keys that would escape the destination, --delete and --dryrun.
#include "s3_test_client.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

using namespace sluice;
using namespace sluice::testing;
namespace fs = std::filesystem;

namespace {

void write_bytes(const fs::path& p, const std::vector<std::byte>& v) {
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size()));
}

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Every regular file under `root` (relative path -> content).
std::map<std::string, std::string> tree_of(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && !e.is_symlink())
      out[fs::relative(e.path(), root).generic_string()] = read_all(e.path());
  return out;
}

class CliTree : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = radosgw_server();
    ASSERT_TRUE(s.has_value());
    server_ = *s;
    client_ = std::make_unique<s3_test_client>(server_);
    env_ = cli_environment(server_);
    bucket_ = unique_bucket_name("tree");
    ASSERT_TRUE(client_->run((*client_)->create_bucket(bucket_)));
    dir_ = make_temp_dir("sluice-cli-tree-");
  }
  void TearDown() override {
    auto page = client_->run((*client_)->list_all(bucket_, ""));
    if (page && !page->objects.empty()) {
      std::vector<std::string> keys;
      for (auto& o : page->objects) keys.push_back(o.key);
      (void)client_->run((*client_)->delete_objects(bucket_, keys));
    }
    (void)client_->run((*client_)->delete_bucket(bucket_));
    remove_tree(dir_);
  }
  std::string url(const std::string& key) const { return "s3://" + bucket_ + "/" + key; }
  void put(const std::string& key, std::string_view body) {
    std::vector<std::byte> b(body.size());
    std::memcpy(b.data(), body.data(), body.size());
    auto r = client_->run((*client_)->put_object(bucket_, key, as_span(b)));
    ASSERT_TRUE(r) << r.error().describe();
  }
  std::set<std::string> keys() {
    std::set<std::string> out;
    auto page = client_->run((*client_)->list_all(bucket_, ""));
    EXPECT_TRUE(page);
    if (page)
      for (auto& o : page->objects) out.insert(o.key);
    return out;
  }

  s3_server server_;
  std::unique_ptr<s3_test_client> client_;
  std::map<std::string, std::string> env_;
  std::string bucket_;
  fs::path dir_;
};

TEST_F(CliTree, cp_r_up_and_down_reproduces_the_tree_byte_for_byte) {
  const fs::path src = dir_ / "src";
  write_bytes(src / "a.txt", test_bytes(10, 1));
  write_bytes(src / "deep/er/b.bin", test_bytes((9 << 20) + 7, 2));  // more than one part
  write_bytes(src / "with space/c", test_bytes(0, 3));
  auto up = run_sluice({"cp", "-r", src.string(), url("up")}, env_);
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  EXPECT_EQ(keys(), (std::set<std::string>{"up/a.txt", "up/deep/er/b.bin", "up/with space/c"}));
  auto down = run_sluice({"cp", "-r", url("up"), (dir_ / "down").string()}, env_);
  ASSERT_EQ(down.exit_code, 0) << describe(down);
  EXPECT_EQ(tree_of(dir_ / "down"), tree_of(src));
}

TEST_F(CliTree, symlinks_in_the_source_are_not_followed_out_of_it) {
  const fs::path src = dir_ / "src";
  write_bytes(src / "real.txt", test_bytes(5, 1));
  write_bytes(dir_ / "secret.txt", test_bytes(5, 9));
  fs::create_symlink(dir_ / "secret.txt", src / "link.txt");
  auto up = run_sluice({"cp", "-r", src.string(), url("pfx")}, env_);
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  EXPECT_EQ(keys(), std::set<std::string>{"pfx/real.txt"}) << "no key named after the link or its target";
}

TEST_F(CliTree, a_second_sync_copies_nothing_and_a_changed_file_goes_again) {
  const fs::path src = dir_ / "src";
  write_bytes(src / "x", test_bytes(1000, 1));
  write_bytes(src / "y/z", test_bytes(2000, 2));
  auto first = run_sluice({"sync", src.string(), url("s"), "--json"}, env_);
  ASSERT_EQ(first.exit_code, 0) << describe(first);
  EXPECT_NE(first.out.find("\"objects\":2"), std::string::npos) << first.out;
  auto second = run_sluice({"sync", src.string(), url("s"), "--json"}, env_);
  ASSERT_EQ(second.exit_code, 0) << describe(second);
  EXPECT_NE(second.out.find("\"objects\":0"), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("\"skipped\":2"), std::string::npos) << second.out;
  write_bytes(src / "x", test_bytes(1000, 7));  // same size, other bytes
  auto third = run_sluice({"sync", src.string(), url("s"), "--json"}, env_);
  ASSERT_EQ(third.exit_code, 0) << describe(third);
  EXPECT_NE(third.out.find("\"objects\":1"), std::string::npos) << third.out;
  // And back down: a second download sync also skips what is already there.
  ASSERT_EQ(run_sluice({"sync", url("s"), (dir_ / "back").string()}, env_).exit_code, 0);
  auto again = run_sluice({"sync", url("s"), (dir_ / "back").string(), "--json"}, env_);
  EXPECT_NE(again.out.find("\"objects\":0"), std::string::npos) << again.out;
  EXPECT_EQ(tree_of(dir_ / "back"), tree_of(src));
}

TEST_F(CliTree, folder_markers_are_skipped_and_escaping_keys_refused_without_writing_outside) {
  put("pfx/", "");
  put("pfx/sub/", "");
  put("pfx/sub/ok.txt", "fine");
  put("pfx/../escape.txt", "must never land outside");
  put("pfx/a//b.txt", "empty segment");
  const fs::path down = dir_ / "nested" / "down";
  auto r = run_sluice({"cp", "-r", url("pfx"), down.string()}, env_);
  EXPECT_EQ(r.exit_code, 1) << "refused keys are failures: " << describe(r);
  EXPECT_NE(r.err.find("escape.txt"), std::string::npos) << describe(r);
  EXPECT_EQ(r.err.find("sub/"), std::string::npos) << "folder markers are not failures: " << describe(r);
  EXPECT_EQ(tree_of(down), (std::map<std::string, std::string>{{"sub/ok.txt", "fine"}}));
  EXPECT_FALSE(fs::exists(dir_ / "nested" / "escape.txt"));
  EXPECT_FALSE(fs::exists(dir_ / "escape.txt"));
}

TEST_F(CliTree, sync_delete_removes_only_what_the_source_lacks_and_dryrun_changes_nothing) {
  const fs::path src = dir_ / "src";
  write_bytes(src / "keep.txt", test_bytes(10, 1));
  put("d/keep.txt", "old");
  put("d/gone.txt", "not in the source");
  put("d-sibling/x", "outside the prefix");
  auto plan = run_sluice({"sync", "--delete", "--dryrun", src.string(), url("d")}, env_);
  ASSERT_EQ(plan.exit_code, 0) << describe(plan);
  EXPECT_NE(plan.out.find("delete gone.txt"), std::string::npos) << describe(plan);
  EXPECT_EQ(keys(), (std::set<std::string>{"d/keep.txt", "d/gone.txt", "d-sibling/x"}))
      << "a dry run changes nothing";
  auto done = run_sluice({"sync", "--delete", src.string(), url("d")}, env_);
  ASSERT_EQ(done.exit_code, 0) << describe(done);
  EXPECT_EQ(keys(), (std::set<std::string>{"d/keep.txt", "d-sibling/x"}));
}

}  // namespace
