// `sluice datafile` against radosgw (it checks signatures and keeps an object's ETag through a
// copy onto itself), read back by Debian's aws CLI: octue's metadata on objects (radosgw hands the
// names back as octue--id: '_' rewritten to '-'), metadata changes that send no content, downloads
// with their sidecar, objects another client labelled, S3's 2 KB limit, and bad input.
#include "cli_test_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <filesystem>
#include <string>
#include <vector>

using namespace sluice;
using namespace sluice::testing;
namespace fs = std::filesystem;

namespace {

struct datafile_fixture : radosgw_cli_fixture {
  datafile_fixture() : radosgw_cli_fixture("datafile") {}

  // head-object through Debian's aws CLI: {"ETag", "Metadata": {...}, ...}.
  boost::json::object head(const std::string& key) {
    auto r = run_debian_aws(server, {"s3api", "head-object", "--bucket", bucket, "--key", key});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    boost::system::error_code ec;
    auto v = boost::json::parse(r.out, ec);
    EXPECT_FALSE(ec) << r.out;
    return (!ec && v.is_object()) ? v.get_object() : boost::json::object{};
  }
  static std::string meta(const boost::json::object& head, const std::string& name) {
    auto m = head.find("Metadata");
    if (m == head.end() || !m->value().is_object()) return "";
    auto it = m->value().get_object().find(name);
    return it == m->value().get_object().end() ? "" : std::string(it->value().get_string());
  }
  static boost::json::value json_of(const std::string& text) {
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec);
    EXPECT_FALSE(ec) << text;
    return v;
  }
};

TEST(CliDatafile, metadata_travels_with_the_file_and_changes_without_sending_the_content_again) {
  datafile_fixture f;
  ASSERT_TRUE(f.start());
  ASSERT_TRUE(have_debian_aws()) << debian_aws << " is needed to read the metadata independently";
  const std::string file = f.dir / "power.csv";
  write_file(file, std::string_view("t,p\n0,1.5\n1,1.7\n"));

  auto tag = f.sluice({"datafile", "tag", file, "--label", "raw", "--tag", "manufacturer=Vestas", "--tag",
                       "rated_mw=1.5", "--timestamp", "2024-05-01T12:00:00Z", "--json"});
  ASSERT_EQ(tag.exit_code, 0) << describe(tag);
  const auto tagged = parse_document(tag);
  const std::string id(tagged.at("id").as_string());
  EXPECT_TRUE(fs::exists(f.dir / ".power.csv.sluice.json"));

  auto up = f.sluice({"datafile", "upload", file, f.url("runs/power.csv"), "--json"});
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  EXPECT_EQ(parse_document(up).at("id").as_string(), id);

  // What another client sees: octue's names (radosgw's spelling), JSON values.
  auto h0 = f.head("runs/power.csv");
  EXPECT_EQ(f.meta(h0, "octue--id"), "\"" + id + "\"");
  EXPECT_EQ(f.meta(h0, "octue--labels"), "[\"raw\"]");
  EXPECT_EQ(f.json_of(f.meta(h0, "octue--tags")), f.json_of(R"({"manufacturer":"Vestas","rated_mw":1.5})"));
  EXPECT_EQ(f.meta(h0, "octue--timestamp"), "\"2024-05-01T12:00:00+00:00\"");
  const std::string xxh3 = f.meta(h0, "sluice-xxh3");
  EXPECT_EQ(xxh3.size(), 16u);

  auto retag = f.sluice({"datafile", "tag", f.url("runs/power.csv"), "--label", "cleaned", "--remove-label",
                         "raw", "--tag", "rated_mw=2", "--remove-tag", "manufacturer"});
  ASSERT_EQ(retag.exit_code, 0) << describe(retag);
  auto h1 = f.head("runs/power.csv");
  EXPECT_EQ(h1.at("ETag"), h0.at("ETag"));  // a copy onto itself: the content was not sent again
  EXPECT_EQ(f.meta(h1, "sluice-xxh3"), xxh3);
  EXPECT_EQ(f.meta(h1, "octue--id"), "\"" + id + "\"");
  EXPECT_EQ(f.meta(h1, "octue--labels"), "[\"cleaned\"]");
  EXPECT_EQ(f.json_of(f.meta(h1, "octue--tags")), f.json_of(R"({"rated_mw":2})"));

  // Download into a directory: the content verified, the metadata in the sidecar.
  const std::string out = f.dir / "out";
  fs::create_directories(out);
  auto down = f.sluice({"datafile", "download", f.url("runs/power.csv"), out + "/", "--json"});
  ASSERT_EQ(down.exit_code, 0) << describe(down);
  EXPECT_EQ(read_file(out + "/power.csv"), read_file(file));
  auto info = f.sluice({"datafile", "info", out + "/power.csv", "--json"});
  ASSERT_EQ(info.exit_code, 0) << describe(info);
  const auto local = parse_document(info);
  EXPECT_EQ(local.at("id").as_string(), id);
  EXPECT_EQ(local.at("labels"), f.json_of(R"(["cleaned"])"));
  EXPECT_EQ(local.at("hash_value").as_string(), xxh3);
  EXPECT_EQ(local.at("timestamp").as_string(), "2024-05-01T12:00:00+00:00");

  auto remote = f.sluice({"datafile", "info", f.url("runs/power.csv"), "--json"});
  ASSERT_EQ(remote.exit_code, 0) << describe(remote);
  const auto r = parse_document(remote);
  EXPECT_EQ(r.at("exists_in_cloud"), true);
  EXPECT_EQ(r.at("hash_value").as_string(), xxh3);
  EXPECT_EQ(r.at("metadata_hash_value"), local.at("metadata_hash_value"));
  EXPECT_EQ(r.at("size").to_number<std::uint64_t>(), read_file(file).size());
}

TEST(CliDatafile, an_object_another_client_labelled_is_read_and_its_other_metadata_kept) {
  datafile_fixture f;
  ASSERT_TRUE(f.start());
  ASSERT_TRUE(have_debian_aws());
  const std::string body = f.dir / "body.bin";
  write_file(body, std::string_view("0123456789"));
  // As octue writes it (Python's json.dumps: spaces after separators; a newer octue's typed set),
  // plus metadata of someone else's.
  const std::string metadata =
      R"({"octue__id": "\"7d5e0d36-1f2b-4a55-9a42-2f6bde6d3c11\"", )"
      R"("octue__labels": "{\"_type\": \"set\", \"items\": [\"turbine\", \"wind\"]}", )"
      R"("octue__tags": "{\"height\": 80, \"site\": \"north\"}", )"
      R"("octue__timestamp": "\"2021-03-04T05:06:07\"", "project": "blades"})";
  auto put = run_debian_aws(f.server, {"s3api", "put-object", "--bucket", f.bucket, "--key", "theirs.bin",
                                       "--body", body, "--metadata", metadata});
  ASSERT_EQ(put.exit_code, 0) << describe(put);

  auto info = f.sluice({"datafile", "info", f.url("theirs.bin"), "--json"});
  ASSERT_EQ(info.exit_code, 0) << describe(info);
  const auto d = parse_document(info);
  EXPECT_EQ(d.at("id").as_string(), "7d5e0d36-1f2b-4a55-9a42-2f6bde6d3c11");
  EXPECT_EQ(d.at("labels"), f.json_of(R"(["turbine","wind"])"));
  EXPECT_EQ(d.at("tags"), f.json_of(R"({"height":80,"site":"north"})"));
  EXPECT_EQ(d.at("timestamp").as_string(), "2021-03-04T05:06:07");
  EXPECT_EQ(d.at("metadata_stored"), true);
  EXPECT_EQ(d.at("hash_value"), nullptr);  // another client records no XXH3

  auto tag = f.sluice({"datafile", "tag", f.url("theirs.bin"), "--label", "checked"});
  ASSERT_EQ(tag.exit_code, 0) << describe(tag);
  auto h = f.head("theirs.bin");
  EXPECT_EQ(f.meta(h, "project"), "blades");
  EXPECT_EQ(f.meta(h, "octue--labels"), R"(["checked","turbine","wind"])");
  EXPECT_EQ(f.meta(h, "octue--id"), "\"7d5e0d36-1f2b-4a55-9a42-2f6bde6d3c11\"");
  EXPECT_EQ(f.get("theirs.bin"), "0123456789");
}

TEST(CliDatafile, metadata_over_s3s_2_kb_is_refused_before_anything_changes) {
  datafile_fixture f;
  ASSERT_TRUE(f.start());
  ASSERT_TRUE(have_debian_aws());
  f.put("k.txt", "content");
  auto before = f.head("k.txt");
  auto big = f.sluice({"datafile", "tag", f.url("k.txt"), "--tag", "notes=" + std::string(2100, 'n')});
  EXPECT_EQ(big.exit_code, 1) << describe(big);
  expect_one_line_failure(big);
  EXPECT_NE(big.err.find("2 KB"), std::string::npos) << big.err;
  auto after = f.head("k.txt");
  EXPECT_EQ(after.at("ETag"), before.at("ETag"));
  EXPECT_EQ(f.meta(after, "octue--tags"), "");
}

TEST(CliDatafile, an_object_in_parts_keeps_its_composite_hash_through_a_metadata_change) {
  datafile_fixture f;
  ASSERT_TRUE(f.start());
  const std::string file = f.dir / "big.bin";
  const auto data = test_bytes(20 * 1024 * 1024 + 3, 5);
  write_file(file, std::span<const std::byte>(data));
  auto up = f.sluice({"--part-size", "8MiB", "--multipart-threshold", "8MiB", "datafile", "upload", file,
                      f.url("big.bin"), "--json"});
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  const std::string recorded(parse_document(up).at("hash_value").as_string());
  EXPECT_NE(recorded.find('/'), std::string::npos) << recorded;  // "<hex>/<part size>"

  auto tag = f.sluice({"datafile", "tag", f.url("big.bin"), "--label", "big", "--json"});
  ASSERT_EQ(tag.exit_code, 0) << describe(tag);
  const auto tagged = parse_document(tag);
  EXPECT_EQ(tagged.at("hash_value").as_string(), recorded);
  // The content neither came down (no local copy to send it from) nor went up: a server-side copy.
  EXPECT_LT(tagged.at("received_bytes").to_number<std::uint64_t>(), 64u * 1024) << tag.out;
  EXPECT_LE(tagged.at("requests").to_number<std::uint64_t>(), 6u) << tag.out;
  // A download checks the recorded hash: it still describes the content.
  auto cp = f.sluice({"cp", f.url("big.bin"), f.dir / "back.bin"});
  ASSERT_EQ(cp.exit_code, 0) << describe(cp);
  EXPECT_EQ(read_file(f.dir / "back.bin"), read_file(file));
}

TEST(CliDatafile, bad_input_is_a_clear_error_and_changes_nothing) {
  datafile_fixture f;
  ASSERT_TRUE(f.start());
  const std::string file = f.dir / "a.txt";
  write_file(file, std::string_view("a"));
  auto bad_label = f.sluice({"datafile", "tag", file, "--label", "Not Lower"});
  EXPECT_EQ(bad_label.exit_code, 2);
  EXPECT_NE(bad_label.err.find("'Not Lower'"), std::string::npos) << bad_label.err;
  auto bad_tag = f.sluice({"datafile", "tag", file, "--tag", "Bad-Name=1"});
  EXPECT_EQ(bad_tag.exit_code, 2);
  EXPECT_NE(bad_tag.err.find("Bad-Name"), std::string::npos) << bad_tag.err;
  auto bad_time = f.sluice({"datafile", "tag", file, "--timestamp", "2023-02-29"});
  EXPECT_EQ(bad_time.exit_code, 2);
  auto nothing = f.sluice({"datafile", "tag", file});
  EXPECT_EQ(nothing.exit_code, 2);
  EXPECT_FALSE(fs::exists(f.dir / ".a.txt.sluice.json"));

  auto missing = f.sluice({"datafile", "info", f.url("nope.bin")});
  EXPECT_EQ(missing.exit_code, 1);
  expect_one_line_failure(missing);
  EXPECT_NE(missing.err.find("no such object"), std::string::npos) << missing.err;
  auto no_file = f.sluice({"datafile", "upload", f.dir / "none.txt", f.url("x")});
  EXPECT_EQ(no_file.exit_code, 1);
  EXPECT_TRUE(f.keys().empty());
  auto prefix = f.sluice({"datafile", "download", f.url("dir/")});
  EXPECT_EQ(prefix.exit_code, 2);
  auto local_down = f.sluice({"datafile", "download", file});
  EXPECT_EQ(local_down.exit_code, 2);
}

}  // namespace
