// `sluice files` end to end against radosgw: register -> push -> ls --remote -> pull of one
// partition (files identical) in another registry; immutability and --force; an object another
// client overwrote caught on pull; a directory that is not a dataset refused; the remote from
// SLUICE_FILES_REMOTE and from the config file.
#include "cli_test_support.hpp"

#include <boost/json.hpp>

#include <filesystem>

using namespace sluice;
using namespace sluice::testing;
namespace fs = std::filesystem;

namespace {

struct files_fixture : radosgw_cli_fixture {
  files_fixture() : radosgw_cli_fixture("files") {}
  temp_dir home_a{"sluice-files-a-"};
  temp_dir home_b{"sluice-files-b-"};

  command_result in(const temp_dir& home, std::vector<std::string> args) {
    auto e = env;
    e["SLUICE_HOME"] = home.path;
    return run_sluice(args, e);
  }
  std::string remote() const { return url("datasets"); }
  // A dataset directory: two partitions, meta.json, README.md.
  std::string make_dataset() {
    const std::string d = dir / "flowers";
    write_file(d + "/data/train/a.bin", as_span(test_bytes(300000, 1)));
    write_file(d + "/data/train/b.bin", as_span(test_bytes(70000, 2)));
    write_file(d + "/data/test/c.bin", as_span(test_bytes(1000, 3)));
    write_file(d + "/meta.json", std::string_view(R"({"species": 3})"));
    write_file(d + "/README.md", std::string_view("# Flowers\n"));
    return d;
  }
};

TEST(CliFiles, register_push_list_and_pull_one_partition_elsewhere) {
  files_fixture f;
  ASSERT_TRUE(f.start());
  const std::string d = f.make_dataset();
  auto reg = f.in(f.home_a, {"files", "register", d, "flowers", "--json"});
  ASSERT_EQ(reg.exit_code, 0) << describe(reg);
  EXPECT_EQ(parse_document(reg).at("files"), 5);

  auto push = f.in(f.home_a, {"files", "push", "flowers", "--remote", f.remote(), "--json"});
  ASSERT_EQ(push.exit_code, 0) << describe(push);
  const auto pushed = parse_document(push);
  EXPECT_EQ(pushed.at("uploaded_files"), 5);
  const std::string version(pushed.at("id").as_string());
  // Every file its own object under the version, and the manifest.
  auto keys = f.keys();
  EXPECT_EQ(keys.size(), 6u);
  EXPECT_TRUE(keys.contains("datasets/flowers/manifest.json"));
  EXPECT_TRUE(keys.contains("datasets/flowers/" + version + "/data/train/a.bin"));

  auto ls = f.in(f.home_b, {"files", "ls", "--remote", f.remote(), "--json"});
  ASSERT_EQ(ls.exit_code, 0) << describe(ls);
  const auto listed = parse_document(ls).at("datasets").as_array();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].at("name"), "flowers");
  EXPECT_EQ(listed[0].at("partitions").at("train").at("files"), 2);

  auto pull =
      f.in(f.home_b, {"files", "pull", "flowers", "--partition", "train", "--remote", f.remote(), "--json"});
  ASSERT_EQ(pull.exit_code, 0) << describe(pull);
  EXPECT_EQ(parse_document(pull).at("fetched_files"), 4);  // two in train, meta.json, README.md
  const std::string got = f.home_b.path + "/datasets/flowers";
  EXPECT_EQ(read_file(got + "/data/train/a.bin"), read_file(d + "/data/train/a.bin"));
  EXPECT_EQ(read_file(got + "/data/train/b.bin"), read_file(d + "/data/train/b.bin"));
  EXPECT_EQ(read_file(got + "/meta.json"), read_file(d + "/meta.json"));
  EXPECT_FALSE(fs::exists(got + "/data/test"));

  auto again = f.in(f.home_b, {"files", "pull", "flowers", "--remote", f.remote(), "--json"});
  ASSERT_EQ(again.exit_code, 0) << describe(again);
  EXPECT_EQ(parse_document(again).at("fetched_files"), 1);
  EXPECT_EQ(parse_document(again).at("present_files"), 4);

  auto local_info = f.in(f.home_b, {"files", "info", "flowers", "--json"});
  ASSERT_EQ(local_info.exit_code, 0) << describe(local_info);
  EXPECT_EQ(parse_document(local_info).at("id").as_string(), version);
  EXPECT_EQ(parse_document(local_info).at("partitions").at("test").at("files"), 1);
  auto info = f.in(f.home_b, {"files", "info", "flowers", "--remote", f.remote()});
  ASSERT_EQ(info.exit_code, 0) << describe(info);
  EXPECT_NE(info.out.find("data/train"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("\"species\":3"), std::string::npos) << info.out;
}

TEST(CliFiles, a_pushed_dataset_is_immutable_until_force_replaces_it) {
  files_fixture f;
  ASSERT_TRUE(f.start());
  ASSERT_EQ(f.in(f.home_a, {"files", "register", f.make_dataset(), "flowers"}).exit_code, 0);
  auto env = f.env;
  env["SLUICE_HOME"] = f.home_a.path;
  env["SLUICE_FILES_REMOTE"] = f.remote();  // the remote from the environment
  ASSERT_EQ(run_sluice({"files", "push", "flowers"}, env).exit_code, 0);
  auto refused = run_sluice({"files", "push", "flowers"}, env);
  EXPECT_EQ(refused.exit_code, 1);
  expect_one_line_failure(refused);
  EXPECT_NE(refused.err.find("--force"), std::string::npos) << refused.err;

  write_file(f.home_a.path + "/datasets/flowers/data/test/c.bin", std::string_view("replaced"));
  auto forced = run_sluice({"files", "push", "flowers", "--force", "--json"}, env);
  ASSERT_EQ(forced.exit_code, 0) << describe(forced);
  const auto doc = parse_document(forced);
  EXPECT_EQ(doc.at("replaced_objects"), 5);
  EXPECT_EQ(f.keys().size(), 6u);  // the old version's objects are gone

  // The remote from the config file, in a second registry.
  write_file(f.home_b.path + "/config", "[files]\nremote = " + f.remote() + "\n");
  auto pull = f.in(f.home_b, {"files", "pull", "flowers", "--partition", "test"});
  ASSERT_EQ(pull.exit_code, 0) << describe(pull);
  EXPECT_EQ(read_file(f.home_b.path + "/datasets/flowers/data/test/c.bin"), "replaced");
}

TEST(CliFiles, an_object_another_client_overwrote_is_caught_on_pull) {
  files_fixture f;
  ASSERT_TRUE(f.start());
  ASSERT_TRUE(have_debian_aws());
  ASSERT_EQ(f.in(f.home_a, {"files", "register", f.make_dataset(), "flowers"}).exit_code, 0);
  auto push = f.in(f.home_a, {"files", "push", "flowers", "--remote", f.remote(), "--json"});
  ASSERT_EQ(push.exit_code, 0) << describe(push);
  const std::string version(parse_document(push).at("id").as_string());
  const std::string bad = f.dir / "bad.bin";
  write_file(bad, as_span(test_bytes(70000, 99)));  // same size, other bytes, no recorded XXH3
  auto put =
      run_debian_aws(f.server, {"s3", "cp", bad, f.url("datasets/flowers/" + version + "/data/train/b.bin")});
  ASSERT_EQ(put.exit_code, 0) << describe(put);

  auto pull = f.in(f.home_b, {"files", "pull", "flowers", "--remote", f.remote()});
  EXPECT_EQ(pull.exit_code, 1) << describe(pull);
  expect_one_line_failure(pull);
  EXPECT_NE(pull.err.find("does not match the manifest"), std::string::npos) << pull.err;
  EXPECT_FALSE(fs::exists(f.home_b.path + "/datasets/flowers/data/train/b.bin"));
  EXPECT_TRUE(fs::exists(f.home_b.path + "/datasets/flowers/data/train/a.bin"));
}

TEST(CliFiles, a_directory_that_is_not_a_dataset_is_refused_naming_the_path) {
  files_fixture f;
  ASSERT_TRUE(f.start());
  const std::string d = f.make_dataset();
  write_file(d + "/data/stray.csv", std::string_view("x"));
  auto reg = f.in(f.home_a, {"files", "register", d, "flowers"});
  EXPECT_EQ(reg.exit_code, 1);
  expect_one_line_failure(reg);
  EXPECT_NE(reg.err.find("data/stray.csv"), std::string::npos) << reg.err;
  EXPECT_FALSE(fs::exists(f.home_a.path + "/datasets/flowers"));
  auto no_remote = f.in(f.home_a, {"files", "push", "flowers"});
  EXPECT_EQ(no_remote.exit_code, 2);
  EXPECT_NE(no_remote.err.find("no remote"), std::string::npos) << no_remote.err;
  auto bad_name = f.in(f.home_a, {"files", "register", d, "../up"});
  EXPECT_EQ(bad_name.exit_code, 2);
}

}  // namespace
