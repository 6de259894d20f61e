// `sluice sync` against trees Debian's aws CLI wrote to radosgw, which (unlike s3rver) gives
// multipart objects a multipart ETag ("...-2"): no XXH3 and no MD5 to compare, so times decide, as
// in aws s3 sync. Second runs transfer nothing both ways; --delete keeps to its prefix.
#include "cli_test_support.hpp"

#include <boost/json.hpp>

#include <filesystem>
#include <set>

using namespace sluice;
using namespace sluice::testing;
namespace fs = std::filesystem;

namespace {

uint64_t objects_copied(const command_result& r) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.out, ec);
  EXPECT_FALSE(ec) << describe(r);
  if (ec || !v.is_object() || !v.as_object().contains("objects")) return ~0ull;
  return v.as_object().at("objects").to_number<uint64_t>();
}

class CliSyncAws : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_debian_aws()) GTEST_SKIP() << debian_aws << " is not installed";
    ASSERT_TRUE(f_.start());
  }
  std::string url(const std::string& key) const { return f_.url(key); }
  command_result aws(std::vector<std::string> args) const {
    return run_debian_aws(f_.server, std::move(args));
  }
  std::map<std::string, std::string> etags(const std::string& prefix) {
    std::map<std::string, std::string> out;
    auto page = f_.client->run((*f_.client)->list_all(f_.bucket, prefix));
    EXPECT_TRUE(page);
    if (page)
      for (auto& o : page->objects) out[o.key] = o.etag;
    return out;
  }

  radosgw_cli_fixture f_{"awssync"};
  const fs::path dir_ = f_.dir.path;
};

TEST_F(CliSyncAws, a_second_sync_of_an_aws_tree_with_a_multipart_object_transfers_nothing) {
  const fs::path tree = dir_ / "tree";
  write_file(tree / "a.txt", "hello\n");
  write_file(tree / "sub/k.bin", std::string(1024, 'k'));
  std::string big(9u << 20, '\0');  // above aws's 8 MiB multipart threshold
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 11);
  write_file(tree / "big.bin", big);
  auto up = aws({"s3", "sync", "--only-show-errors", tree.string(), url("pfx")});
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  EXPECT_NE(etags("pfx/")["pfx/big.bin"].find('-'), std::string::npos) << "not a multipart ETag";

  const std::string down = (dir_ / "down").string();
  auto first = run_sluice({"sync", "--json", url("pfx"), down}, f_.env);
  ASSERT_EQ(first.exit_code, 0) << describe(first);
  EXPECT_EQ(objects_copied(first), 3u) << first.out;
  EXPECT_EQ(read_file(dir_ / "down/big.bin"), big);
  auto second = run_sluice({"sync", "--json", url("pfx"), down}, f_.env);
  ASSERT_EQ(second.exit_code, 0) << describe(second);
  EXPECT_EQ(objects_copied(second), 0u) << second.out;
  for (const std::string& from : {tree.string(), down}) {
    auto back = run_sluice({"sync", "--json", from, url("pfx")}, f_.env);
    ASSERT_EQ(back.exit_code, 0) << describe(back);
    EXPECT_EQ(objects_copied(back), 0u) << back.out;
  }
  // --checksum trusts no time: the multipart object (no MD5, no XXH3) is copied again, the rest not.
  auto checksum = run_sluice({"sync", "--json", "--checksum", url("pfx"), down}, f_.env);
  ASSERT_EQ(checksum.exit_code, 0) << describe(checksum);
  EXPECT_EQ(objects_copied(checksum), 1u) << checksum.out;
}

TEST_F(CliSyncAws, delete_never_touches_a_sibling_prefix) {
  for (const char* key : {"pfx/keep.txt", "pfx/extra.txt", "pfx2/sibling.txt", "pfx.txt"}) {
    std::vector<std::byte> b(4, std::byte{'x'});
    ASSERT_TRUE(f_.client->run((*f_.client)->put_object(f_.bucket, key, as_span(b))));
  }
  write_file(dir_ / "src/keep.txt", "xxxx");
  auto r = run_sluice({"sync", "--delete", (dir_ / "src").string(), url("pfx")}, f_.env);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  std::set<std::string> keys;
  for (auto& [k, e] : etags("")) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"pfx/keep.txt", "pfx2/sibling.txt", "pfx.txt"}));
}

}  // namespace
