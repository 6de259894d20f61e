// What the `sluice` command line prints (issue 8): --json on every verb (one document, parsed here by
// Boost.JSON, valid UTF-8 even for a key that is not), errors as JSON, `ls` line for line as Debian's
// aws CLI prints it, and sync against trees written by the aws CLI (second runs transfer nothing,
// --delete keeps to its prefix, --dryrun changes nothing, filters in order). s3rver, one per test.
#include "cli_test_support.hpp"

#include <sluice/objects/objects.hpp>

#include <boost/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

using namespace sluice;
using namespace sluice::testing;
namespace fs = std::filesystem;

namespace {

// Whether any object in `v` has a member named `name` holding `value`.
bool has_member(const boost::json::value& v, std::string_view name, std::string_view value) {
  if (v.is_object()) {
    for (const auto& [k, m] : v.as_object()) {
      if (k == name && m.is_string() && m.as_string() == value) return true;
      if (has_member(m, name, value)) return true;
    }
  } else if (v.is_array()) {
    for (const auto& m : v.as_array())
      if (has_member(m, name, value)) return true;
  }
  return false;
}

struct output_fixture : s3rver_cli_fixture {
  output_fixture() : s3rver_cli_fixture("out") {}
  command_result aws(std::vector<std::string> args) const {
    return run_debian_aws(server.server(), std::move(args));
  }
};

// A tree with files below and above the aws CLI's multipart threshold (8 MiB), one byte and empty.
void write_tree(const std::string& root) {
  write_file(root + "/a.txt", "hello\n");
  write_file(root + "/one", "1");
  write_file(root + "/empty", "");
  write_file(root + "/sub/k.bin", std::string(1024, 'k'));
  write_file(root + "/sub/deep/m.nc", std::string(1500000, 'm'));
  std::string big(9u << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  write_file(root + "/big.bin", big);
}

uint64_t number(const boost::json::object& o, std::string_view name) {
  auto it = o.find(name);
  if (it == o.end() || !it->value().is_number()) {
    ADD_FAILURE() << "no number '" << name << "' in " << boost::json::serialize(o);
    return ~0ull;
  }
  return it->value().to_number<uint64_t>();
}

TEST(CliJson, every_verb_writes_one_json_document) {
  output_fixture f;
  f.make_bucket();
  f.put("data/a.txt", "alpha");
  f.put("data/sub/b.txt", "bravo!");
  write_file(f.dir / "up/local.txt", "local file");

  struct verb_case {
    std::vector<std::string> args;
    std::string verb;
    std::string stdin_data;
  };
  const std::string other = f.bucket + "-2";
  const std::vector<verb_case> cases = {
      {{"mb", "s3://" + other}, "mb"},
      {{"ls"}, "ls"},
      {{"ls", f.url("data/")}, "ls"},
      {{"ls", "-r", f.url()}, "ls"},
      {{"ls", f.url("data/*.txt")}, "ls"},
      {{"stat", f.url("data/a.txt")}, "stat"},
      {{"du", f.url()}, "du"},
      {{"du", "-s", f.url("data")}, "du"},
      {{"cp", f.dir / "up/local.txt", f.url("single/local.txt")}, "cp"},
      {{"cp", f.url("data/sub/b.txt"), f.dir / "down/"}, "cp"},
      {{"cp", f.url("data/a.txt"), f.url("copy/a.txt")}, "cp"},
      {{"cp", "-", f.url("stdin.txt")}, "cp", "from standard input"},
      {{"cp", "-r", f.url("data"), f.dir / "tree"}, "cp"},
      {{"cp", "-r", f.dir / "up", f.url("uptree")}, "cp"},
      {{"cp", "-r", f.url("data"), f.url("data2")}, "cp"},
      {{"mv", f.url("copy/a.txt"), f.url("moved/a.txt")}, "mv"},
      {{"mv", "-r", f.url("data2"), f.url("data3")}, "mv"},
      {{"sync", f.dir / "up", f.url("synced")}, "sync"},
      {{"sync", f.url("data"), f.dir / "synced"}, "sync"},
      {{"sync", "--dryrun", "--delete", f.dir / "up", f.url("data")}, "sync"},
      {{"presign", f.url("data/a.txt")}, "presign"},
      {{"bench", "put", f.url("bench"), "--size", "4KiB", "--count", "2"}, "bench"},
      {{"rm", f.url("moved/a.txt")}, "rm"},
      {{"rm", "-r", f.url("data3")}, "rm"},
      {{"rm", f.url("uptree/*.txt")}, "rm"},
      {{"rb", "s3://" + other}, "rb"},
      {{"demo", "--bucket", f.bucket + "-demo", "--large-size", "1MiB", "--small-count", "3", "--small-size",
        "1KiB"},
       "demo"},
  };
  for (const auto& c : cases) {
    for (bool json_first : {false, true}) {
      if (json_first && c.verb != "ls") continue;  // before the verb works too (once is enough)
      std::vector<std::string> args = c.args;
      if (json_first)
        args.insert(args.begin(), "--json");
      else
        args.push_back("--json");
      std::string what = "sluice";
      for (auto& a : args) what += " " + a;
      SCOPED_TRACE(what);
      auto r = f.sluice(args, c.stdin_data);
      EXPECT_EQ(r.exit_code, 0) << describe(r);
      auto doc = parse_document(r);
      EXPECT_EQ(doc["verb"], boost::json::value(c.verb)) << r.out;
      EXPECT_EQ(lines_of(r.out).size(), 1u) << r.out;
    }
  }
  auto st = parse_document(f.sluice({"stat", "--json", f.url("data/a.txt")}));
  EXPECT_EQ(number(st, "size"), 5u);
  EXPECT_FALSE(st.contains("key_hex"));  // a valid key has no _hex twin
}

// S3 keys are UTF-8 (sluice refuses others before sending), but local names are any bytes and URLs
// on the command line too: the document stays valid UTF-8, the exact bytes in NAME_hex.
TEST(CliJson, names_that_are_not_utf8_are_escaped_with_their_bytes_in_hex) {
  output_fixture f;
  f.make_bucket();
  write_file(f.dir / "odd/fine.txt", "fine");
  write_file(f.dir / "odd/x\xff.txt", "a name with 0xff");  // 0xff is never valid UTF-8
  auto up = f.sluice({"cp", "-r", "--json", f.dir / "odd", f.url("odd")});
  EXPECT_EQ(up.exit_code, 1) << describe(up);
  auto doc = parse_document(up);
  ASSERT_TRUE(doc.contains("failures")) << up.out;
  ASSERT_EQ(doc["failures"].as_array().size(), 1u) << up.out;
  const auto& failure = doc["failures"].as_array()[0].as_object();
  EXPECT_EQ(failure.at("key"), boost::json::value("x\xef\xbf\xbd.txt")) << up.out;  // U+FFFD
  EXPECT_EQ(failure.at("key_hex"), boost::json::value("78ff2e747874")) << up.out;
  EXPECT_EQ(number(doc, "objects"), 1u) << up.out;
  EXPECT_EQ(f.keys(), (std::set<std::string>{"odd/fine.txt"}));

  // An error about such a URL: the error document parses (valid UTF-8) too.
  auto st = f.sluice({"stat", "--json", f.url("bad\xff.bin")});
  EXPECT_EQ(st.exit_code, 1) << describe(st);
  auto err = parse_document(st);
  ASSERT_TRUE(err.contains("error")) << st.out;
  // (The URL parser's message already names the byte: "\xFF".)
  const std::string message(err["error"].as_object().at("message").as_string());
  EXPECT_NE(message.find("\\xFF"), std::string::npos) << st.out;
  auto ls = f.sluice({"ls", "--json", f.url("bad\xff")});
  EXPECT_TRUE(parse_document(ls).contains("error")) << ls.out;
}

TEST(CliJson, errors_are_a_json_object_on_stdout_and_a_line_on_stderr) {
  output_fixture f;
  f.make_bucket();
  // A missing key (status 1).
  auto missing = f.sluice({"stat", "--json", f.url("nothing")});
  EXPECT_EQ(missing.exit_code, 1) << describe(missing);
  EXPECT_EQ(lines_of(missing.err).size(), 1u) << describe(missing);
  auto doc = parse_document(missing);
  ASSERT_TRUE(doc.contains("error")) << missing.out;
  const auto& e = doc["error"].as_object();
  EXPECT_EQ(e.at("code"), boost::json::value("not_found")) << missing.out;
  EXPECT_EQ(e.at("exit_status"), boost::json::value(1)) << missing.out;
  EXPECT_TRUE(e.contains("message")) << missing.out;

  // A command line that does not parse (status 2), --json before or after the verb.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"ls", "--bogus", "--json"}, std::vector<std::string>{"--json", "lss"},
        std::vector<std::string>{"cat", f.url("k"), "--json"},
        std::vector<std::string>{"cp", f.url("k"), "-", "--json"}}) {
    auto r = f.sluice(args);
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    auto d = parse_document(r);
    ASSERT_TRUE(d.contains("error")) << r.out;
    EXPECT_EQ(d["error"].as_object().at("code"), boost::json::value("invalid_argument")) << r.out;
    EXPECT_EQ(lines_of(r.err).size(), 1u) << describe(r);
  }
  // cat writes the object's bytes: --json refused, as documented.
  auto cat = f.sluice({"cat", "--json", f.url("k")});
  EXPECT_NE(cat.err.find("--json is not available"), std::string::npos) << describe(cat);
}

TEST(CliLs, ls_prints_line_for_line_what_debian_aws_s3_ls_prints) {
  if (!have_debian_aws()) GTEST_SKIP() << debian_aws << " is not installed";
  output_fixture f;
  f.make_bucket();
  write_tree(f.dir / "tree");
  auto up = f.aws({"s3", "sync", "--only-show-errors", f.dir / "tree", f.url("pfx")});
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  auto up2 = f.aws({"s3", "cp", "--only-show-errors", f.dir / "tree/a.txt", f.url("pfx2/a.txt")});
  ASSERT_EQ(up2.exit_code, 0) << describe(up2);
  f.put("top.txt", std::string(2048, 't'));

  const std::vector<std::vector<std::string>> listings = {
      {},
      {f.url()},
      {f.url("pfx")},
      {f.url("pfx/")},
      {f.url("pfx/sub/")},
      {f.url("pfx/s")},
      {f.url(), "--recursive"},
      {f.url("pfx/"), "--recursive", "--human-readable", "--summarize"},
      {f.url("pfx/sub/"), "--summarize"},
      {f.url(), "--human-readable"},
  };
  // A key or prefix with nothing under it: no output and status 1 from both (an empty bucket is 0).
  const std::vector<std::vector<std::string>> empty_listings = {
      {f.url("nothing")},
      {f.url("nothing/"), "--recursive"},
      {f.url("pfx/nothing"), "--summarize"},
  };
  for (const auto& [args, status] : [&] {
         std::vector<std::pair<std::vector<std::string>, int>> all;
         for (const auto& a : listings) all.emplace_back(a, 0);
         for (const auto& a : empty_listings) all.emplace_back(a, 1);
         return all;
       }()) {
    std::vector<std::string> cmd{"s3", "ls"};
    cmd.insert(cmd.end(), args.begin(), args.end());
    std::string what = "ls";
    for (auto& a : args) what += " " + a;
    SCOPED_TRACE(what);
    auto aws = f.aws(cmd);
    ASSERT_EQ(aws.exit_code, status) << describe(aws);
    std::vector<std::string> ours{"ls"};
    ours.insert(ours.end(), args.begin(), args.end());
    auto sluice = f.sluice(ours);
    ASSERT_EQ(sluice.exit_code, status) << describe(sluice);
    EXPECT_EQ(sluice.err, "");
    const auto expected = lines_of(aws.out), got = lines_of(sluice.out);
    EXPECT_EQ(got.size(), expected.size()) << "aws:\n" << aws.out << "sluice:\n" << sluice.out;
    for (std::size_t i = 0; i < std::min(got.size(), expected.size()); ++i)
      EXPECT_EQ(got[i], expected[i]) << "line " << i;
  }
}

// The files of a local tree and their modification times.
std::map<std::string, int64_t> local_tree(const std::string& root) {
  std::map<std::string, int64_t> out;
  for (auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) {
      struct stat sb {};
      ::stat(e.path().c_str(), &sb);
      out[fs::relative(e.path(), root).string()] = sb.st_mtim.tv_sec;
    }
  return out;
}

TEST(CliSync, a_tree_written_by_aws_s3_sync_syncs_down_once_and_then_transfers_nothing) {
  if (!have_debian_aws()) GTEST_SKIP() << debian_aws << " is not installed";
  output_fixture f;
  f.make_bucket();
  write_tree(f.dir / "tree");
  auto up = f.aws({"s3", "sync", "--only-show-errors", f.dir / "tree", f.url("pfx")});
  ASSERT_EQ(up.exit_code, 0) << describe(up);

  auto first = f.sluice({"sync", "--json", f.url("pfx"), f.dir / "down"});
  ASSERT_EQ(first.exit_code, 0) << describe(first);
  auto d1 = parse_document(first);
  EXPECT_EQ(number(d1, "objects"), 6u) << first.out;
  for (const char* name : {"a.txt", "one", "empty", "sub/k.bin", "sub/deep/m.nc", "big.bin"})
    EXPECT_EQ(read_file(f.dir / "down/" + name), read_file(f.dir / "tree/" + name)) << name;
  // Downloads carry the objects' times, as aws sets them.
  auto listed = f.client.run(f.client->list_all(f.bucket, "pfx/"));
  ASSERT_TRUE(listed) << listed.error().describe();
  const auto times = local_tree(f.dir / "down");
  for (const auto& o : listed->objects) {
    auto t = objects::parse_timestamp(o.last_modified);
    ASSERT_TRUE(t) << o.last_modified;
    EXPECT_EQ(times.at(o.key.substr(4)), *t) << o.key;
  }

  auto second = f.sluice({"sync", "--json", f.url("pfx"), f.dir / "down"});
  ASSERT_EQ(second.exit_code, 0) << describe(second);
  auto d2 = parse_document(second);
  EXPECT_EQ(number(d2, "objects"), 0u) << second.out;
  EXPECT_EQ(number(d2, "skipped"), 6u) << second.out;
  EXPECT_EQ(local_tree(f.dir / "down"), times);

  // Uploads of the unchanged trees: nothing either (the ETags are the files' MD5s).
  for (const std::string& from : {f.dir / "tree", f.dir / "down"}) {
    auto back = f.sluice({"sync", "--json", from, f.url("pfx")});
    ASSERT_EQ(back.exit_code, 0) << describe(back);
    EXPECT_EQ(number(parse_document(back), "objects"), 0u) << back.out;
  }
  auto checksum = f.sluice({"sync", "--json", "--checksum", f.url("pfx"), f.dir / "down"});
  ASSERT_EQ(checksum.exit_code, 0) << describe(checksum);
  EXPECT_EQ(number(parse_document(checksum), "objects"), 0u) << checksum.out;

  // A file changed in place (same size): its MD5 differs, it goes up; --size-only would not see it.
  write_file(f.dir / "down/a.txt", "HELLO\n");
  auto size_only = f.sluice({"sync", "--json", "--size-only", f.dir / "down", f.url("pfx")});
  EXPECT_EQ(number(parse_document(size_only), "objects"), 0u) << size_only.out;
  auto changed = f.sluice({"sync", "--json", f.dir / "down", f.url("pfx")});
  ASSERT_EQ(changed.exit_code, 0) << describe(changed);
  EXPECT_EQ(number(parse_document(changed), "objects"), 1u) << changed.out;
}

TEST(CliSync, delete_removes_only_under_the_destination_prefix_never_a_sibling) {
  output_fixture f;
  f.make_bucket();
  f.put("pfx/keep.txt", "keep");
  f.put("pfx/extra.txt", "extra");
  f.put("pfx/deep/extra.txt", "extra");
  f.put("pfx2/sibling.txt", "sibling");
  f.put("pfx.txt", "next to it");
  write_file(f.dir / "src/keep.txt", "keep");
  auto r = f.sluice({"sync", "--delete", "--json", f.dir / "src", f.url("pfx")});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(number(parse_document(r), "removed"), 2u) << r.out;
  EXPECT_EQ(f.keys(), (std::set<std::string>{"pfx/keep.txt", "pfx2/sibling.txt", "pfx.txt"}));
  // And downward: files under the directory the source lacks go, nothing beside it.
  write_file(f.dir / "down/stale.txt", "stale");
  write_file(f.dir / "down2/other.txt", "other");
  auto down = f.sluice({"sync", "--delete", f.url("pfx"), f.dir / "down"});
  ASSERT_EQ(down.exit_code, 0) << describe(down);
  EXPECT_FALSE(fs::exists(f.dir / "down/stale.txt"));
  EXPECT_TRUE(fs::exists(f.dir / "down/keep.txt"));
  EXPECT_TRUE(fs::exists(f.dir / "down2/other.txt"));
}

TEST(CliSync, dryrun_prints_what_it_would_do_and_changes_nothing) {
  output_fixture f;
  f.make_bucket();
  f.put("pfx/old.txt", "old");
  f.put("pfx/same.txt", "same");
  write_file(f.dir / "src/new.txt", "new");
  write_file(f.dir / "src/same.txt", "same");
  write_file(f.dir / "local/stale.txt", "stale");
  const auto before = f.keys();
  auto up = f.sluice({"sync", "--dryrun", "--delete", f.dir / "src", f.url("pfx")});
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  EXPECT_NE(up.out.find("(dryrun) copy new.txt"), std::string::npos) << up.out;
  EXPECT_NE(up.out.find("(dryrun) delete old.txt"), std::string::npos) << up.out;
  EXPECT_EQ(f.keys(), before);
  auto down = f.sluice({"sync", "--dryrun", "--delete", "--json", f.url("pfx"), f.dir / "local"});
  ASSERT_EQ(down.exit_code, 0) << describe(down);
  auto doc = parse_document(down);
  EXPECT_TRUE(has_member(doc, "action", "delete")) << down.out;
  EXPECT_EQ(local_tree(f.dir / "local").size(), 1u);
  EXPECT_TRUE(fs::exists(f.dir / "local/stale.txt"));
  EXPECT_FALSE(fs::exists(f.dir / "local/old.txt"));
}

TEST(CliSync, include_and_exclude_apply_in_order_and_the_last_match_wins) {
  output_fixture f;
  f.make_bucket();
  for (const char* name : {"a.nc", "b.txt", "sub/c.nc", "sub/d.txt"}) write_file(f.dir / "src/" + name, name);
  // As aws: everything starts included; --exclude '*' then --include '*.nc' leaves the .nc files.
  auto nc = f.sluice({"sync", "--exclude", "*", "--include", "*.nc", f.dir / "src", f.url("one")});
  ASSERT_EQ(nc.exit_code, 0) << describe(nc);
  // The other order: the exclude, last, wins for everything.
  auto none = f.sluice({"sync", "--include", "*.nc", "--exclude", "*", f.dir / "src", f.url("two")});
  ASSERT_EQ(none.exit_code, 0) << describe(none);
  // An include alone changes nothing (everything is included already).
  auto all = f.sluice({"sync", "--include", "*.nc", f.dir / "src", f.url("three")});
  ASSERT_EQ(all.exit_code, 0) << describe(all);
  EXPECT_EQ(f.keys(), (std::set<std::string>{"one/a.nc", "one/sub/c.nc", "three/a.nc", "three/b.txt",
                                             "three/sub/c.nc", "three/sub/d.txt"}));
}

}  // namespace
