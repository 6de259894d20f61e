// The `sluice` command line end to end: the built binary run against s3rver (one per test), checked
// by what it prints, its exit status, the files it leaves and the objects it leaves in the store.
#include "cli_test_support.hpp"

#include <sluice/engine/integrity/xxh3.hpp>

#include <boost/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <sstream>

using namespace sluice;
using namespace sluice::testing;
namespace fs = std::filesystem;

namespace {

// s3rver checks only the access key, so the CLI can sign with a secret that appears nowhere else:
// finding it in any output means the CLI printed it.
constexpr const char* test_secret = "cliTestSecret-7Qz9vXk2Lm4Pw8Rt";

std::map<std::string, std::string> env_for(const s3_server& server) {
  auto env = cli_environment(server);
  env["AWS_SECRET_ACCESS_KEY"] = test_secret;
  return env;
}

std::string lowercase(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool mentions_no_such_key(const std::string& err) {
  auto e = lowercase(err);
  return e.find("nosuchkey") != std::string::npos || e.find("no such key") != std::string::npos;
}

std::set<std::string> entries_of(const std::string& dir) {
  std::set<std::string> names;
  for (auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

// A 127.0.0.1 port that is bound but not listening: connecting to it is refused, so a CLI that sent
// a request would fail with a connection error instead of its usage message.
class closed_port {
 public:
  closed_port() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot bind a loopback port");
    url_ = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  }
  ~closed_port() { ::close(fd_); }
  closed_port(const closed_port&) = delete;
  closed_port& operator=(const closed_port&) = delete;
  const std::string& url() const { return url_; }

 private:
  int fd_ = -1;
  std::string url_;
};

// `ls` output as a set: "PRE <prefix>" for common prefixes, "<key> <size>" for objects.
std::set<std::string> parse_listing(const std::string& out) {
  std::set<std::string> entries;
  for (auto& line : lines_of(out)) {
    std::istringstream in(line);
    std::vector<std::string> words{std::istream_iterator<std::string>(in),
                                   std::istream_iterator<std::string>()};
    if (words.size() == 2 && words[0] == "PRE")
      entries.insert("PRE " + words[1]);
    else if (words.size() >= 3)
      entries.insert(words.back() + " " + words[words.size() - 2]);
    else
      entries.insert("unparsed: " + line);
  }
  return entries;
}

// The value of `meta sluice-xxh3` in `sluice stat` output, or "".
std::string recorded_hash_in(const std::string& stat_out) {
  std::smatch m;
  static const std::regex re(R"(meta sluice-xxh3\s+(\S+))");
  return std::regex_search(stat_out, m, re) ? m[1].str() : "";
}

std::string stat_field(const std::string& stat_out, const std::string& name) {
  for (auto& line : lines_of(stat_out)) {
    if (line.starts_with(name + " ")) {
      auto v = line.substr(name.size());
      return v.substr(v.find_first_not_of(' '));
    }
  }
  return "";
}

// The composite hash recorded_hash.hpp documents, computed here from its definition.
std::string expected_composite(std::span<const std::byte> data, uint64_t part_size) {
  std::vector<std::byte> concat;
  auto append_le = [&](uint64_t v) {
    for (int i = 0; i < 8; ++i) concat.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
  };
  for (uint64_t off = 0; off < data.size(); off += part_size)
    append_le(integrity::xxh3(data.subspan(off, std::min<uint64_t>(part_size, data.size() - off))));
  append_le(part_size);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(integrity::xxh3(concat)));
  return std::string(hex) + "/" + std::to_string(part_size);
}

// One s3rver, a client for set-up and checks, a bucket, and a scratch directory; the CLI signs with
// test_secret.
struct cli_fixture : s3rver_cli_fixture {
  cli_fixture() : s3rver_cli_fixture("cli") { env = env_for(server.server()); }
};

// ---- verbs --------------------------------------------------------------------------------------

TEST(CliVerbs, mb_creates_a_bucket_that_ls_lists) {
  cli_fixture f;
  auto r = run_sluice({"mb", f.url()}, f.env);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "made bucket " + f.url() + "\n");
  EXPECT_EQ(r.err, "");
  auto head = f.client.run(f.client->head_bucket(f.bucket));
  EXPECT_TRUE(head) << head.error().describe();

  auto ls = run_sluice({"ls"}, f.env);
  ASSERT_EQ(ls.exit_code, 0) << describe(ls);
  auto lines = lines_of(ls.out);
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(), [&](auto& l) { return l.ends_with(" " + f.bucket); }),
            1)
      << ls.out;
}

TEST(CliVerbs, quiet_success_prints_nothing) {
  cli_fixture f;
  auto r = run_sluice({"-q", "mb", f.url()}, f.env);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
}

TEST(CliVerbs, cp_small_file_up_then_stat_and_cat_return_it_exactly) {
  cli_fixture f;
  f.make_bucket();
  // Random bytes: NULs, newlines, CRs and invalid UTF-8 all occur.
  auto data = test_bytes(300 * 1024 + 7, 11);
  write_file(f.dir / "small.bin", as_span(data));

  auto up = run_sluice({"cp", f.dir / "small.bin", f.url("in/small.bin")}, f.env);
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  EXPECT_EQ(up.err, "");
  EXPECT_NE(up.out.find("copied"), std::string::npos) << up.out;

  auto stored = f.client.run(f.client->get_object_bytes(f.bucket, "in/small.bin"));
  ASSERT_TRUE(stored) << stored.error().describe();
  EXPECT_TRUE(std::equal(stored->data.span().begin(), stored->data.span().end(), data.begin(), data.end()));

  auto st = run_sluice({"stat", f.url("in/small.bin")}, f.env);
  ASSERT_EQ(st.exit_code, 0) << describe(st);
  EXPECT_EQ(stat_field(st.out, "size"), std::to_string(data.size())) << st.out;
  EXPECT_EQ(stat_field(st.out, "url"), f.url("in/small.bin")) << st.out;
  char whole[17];
  std::snprintf(whole, sizeof whole, "%016llx",
                static_cast<unsigned long long>(integrity::xxh3(as_span(data))));
  EXPECT_EQ(recorded_hash_in(st.out), whole) << st.out;

  auto cat = run_sluice({"cat", f.url("in/small.bin")}, f.env);
  ASSERT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_EQ(cat.err, "");
  EXPECT_EQ(cat.out.size(), data.size());
  EXPECT_TRUE(cat.out == as_string(data)) << "cat output differs from the uploaded bytes";
}

TEST(CliVerbs, cp_to_a_key_ending_in_slash_uses_the_file_name) {
  cli_fixture f;
  f.make_bucket();
  write_file(f.dir / "named.txt", as_span(test_bytes(100, 3)));
  auto up = run_sluice({"cp", f.dir / "named.txt", f.url("dir/")}, f.env);
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  EXPECT_EQ(f.keys(), std::set<std::string>{"dir/named.txt"});
}

TEST(CliVerbs, cp_multipart_upload_records_the_composite_hash) {
  cli_fixture f;
  f.make_bucket();
  auto data = test_bytes(12 * 1024 * 1024 + 12345, 21);
  write_file(f.dir / "big.bin", as_span(data));

  auto up = run_sluice(
      {"cp", "--multipart-threshold", "6MiB", "--part-size", "5MiB", f.dir / "big.bin", f.url("big.bin")},
      f.env);
  ASSERT_EQ(up.exit_code, 0) << describe(up);

  auto st = run_sluice({"stat", f.url("big.bin")}, f.env);
  ASSERT_EQ(st.exit_code, 0) << describe(st);
  EXPECT_EQ(stat_field(st.out, "size"), std::to_string(data.size())) << st.out;
  EXPECT_EQ(recorded_hash_in(st.out), expected_composite(as_span(data), 5 * 1024 * 1024)) << st.out;
  // Three parts went up (5 + 5 + 2 MiB).
  auto log = read_file(f.server.directory() + "/s3rver.log");
  EXPECT_NE(log.find("partNumber=3"), std::string::npos) << f.server.log_tail();
  EXPECT_EQ(log.find("partNumber=4"), std::string::npos) << f.server.log_tail();

  // Both read paths verify the composite and return the bytes.
  auto cat = run_sluice({"cat", f.url("big.bin")}, f.env);
  ASSERT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_TRUE(cat.out == as_string(data)) << "cat output differs from the uploaded bytes";
  auto down = run_sluice({"cp", f.url("big.bin"), f.dir / "big.out"}, f.env);
  ASSERT_EQ(down.exit_code, 0) << describe(down);
  EXPECT_TRUE(read_file(f.dir / "big.out") == as_string(data));
}

TEST(CliVerbs, ls_shows_sub_prefixes_as_pre_and_recursive_lists_every_key) {
  cli_fixture f;
  f.make_bucket();
  f.put("top.txt", "12345");
  f.put("a/1", "1");
  f.put("a/2", "22");
  f.put("a/b/3", "333");
  f.put("c/4", "4444");

  auto top = run_sluice({"ls", f.url()}, f.env);
  ASSERT_EQ(top.exit_code, 0) << describe(top);
  EXPECT_EQ(parse_listing(top.out), (std::set<std::string>{"PRE a/", "PRE c/", "top.txt 5"})) << top.out;

  auto sub = run_sluice({"ls", f.url("a/")}, f.env);
  ASSERT_EQ(sub.exit_code, 0) << describe(sub);
  // As aws s3 ls: names relative to the listed prefix.
  EXPECT_EQ(parse_listing(sub.out), (std::set<std::string>{"PRE b/", "1 1", "2 2"})) << sub.out;

  auto all = run_sluice({"ls", "-r", f.url()}, f.env);
  ASSERT_EQ(all.exit_code, 0) << describe(all);
  EXPECT_EQ(parse_listing(all.out),
            (std::set<std::string>{"top.txt 5", "a/1 1", "a/2 2", "a/b/3 3", "c/4 4"}))
      << all.out;
}

TEST(CliVerbs, keys_with_terminal_escapes_are_printed_escaped) {
  cli_fixture f;
  f.make_bucket();
  // OSC "set the window title", then "clear the screen", inside a key.
  const std::string key = "evil\x1b]0;pwned\x07\x1b[2Jname";
  f.put(key, "x");
  auto ls = run_sluice({"ls", f.url()}, f.env);
  ASSERT_EQ(ls.exit_code, 0) << describe(ls);
  EXPECT_EQ(ls.out.find('\x1b'), std::string::npos) << ls.out;
  EXPECT_EQ(ls.out.find('\x07'), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("evil\\x1b]0;pwned\\x07\\x1b[2Jname"), std::string::npos) << ls.out;
  // An error quoting the key is escaped too.
  auto cat = run_sluice({"cat", f.url(key + "-missing")}, f.env);
  EXPECT_NE(cat.exit_code, 0);
  EXPECT_EQ(cat.err.find('\x1b'), std::string::npos) << cat.err;
}

// Error lines on stderr escape what ls escapes: control characters (C0, DEL, and C1 such as U+009B,
// a CSI to some terminals) and bytes that are not UTF-8 (local names may hold any), each as \xHH.
TEST(CliVerbs, error_lines_escape_control_characters_and_invalid_utf8_as_ls_does) {
  cli_fixture f;
  f.make_bucket();
  const std::string c1_key =
      "c1\xc2\x9b"
      "31mname";
  f.put(c1_key, "x");
  auto ls = run_sluice({"ls", f.url()}, f.env);
  ASSERT_EQ(ls.exit_code, 0) << describe(ls);
  EXPECT_NE(ls.out.find("c1\\xc2\\x9b31mname"), std::string::npos) << ls.out;
  EXPECT_EQ(ls.out.find("\xc2\x9b"), std::string::npos) << ls.out;
  auto missing = run_sluice({"stat", f.url(c1_key + "\x1b[2J-missing")}, f.env);
  expect_one_line_failure(missing, {test_secret});
  EXPECT_NE(missing.err.find("c1\\xc2\\x9b31mname\\x1b[2J-missing"), std::string::npos) << missing.err;
  EXPECT_EQ(missing.err.find('\x1b'), std::string::npos) << missing.err;

  // A local name that is not UTF-8 cannot be a key: its failure line names it escaped.
  write_file(f.dir / "odd/fine.txt", "fine");
  write_file(f.dir / "odd/x\xff.txt", "0xff is never UTF-8");
  auto up = run_sluice({"cp", "-r", f.dir / "odd", f.url("odd")}, f.env);
  EXPECT_EQ(up.exit_code, 1) << describe(up);
  EXPECT_NE(up.err.find("x\\xff.txt"), std::string::npos) << up.err;
  EXPECT_EQ(up.err.find('\xff'), std::string::npos) << "a raw 0xff byte on stderr";
  EXPECT_TRUE(f.keys().contains("odd/fine.txt"));
}

TEST(CliVerbs, cp_down_writes_the_exact_bytes_to_a_file_or_into_a_directory) {
  cli_fixture f;
  f.make_bucket();
  auto data = test_bytes(1024 * 1024 + 3, 31);
  auto p = f.client.run(f.client->put_object(f.bucket, "deep/path/obj.bin", as_span(data)));
  ASSERT_TRUE(p) << p.error().describe();

  auto to_file = run_sluice({"cp", f.url("deep/path/obj.bin"), f.dir / "copy.bin"}, f.env);
  ASSERT_EQ(to_file.exit_code, 0) << describe(to_file);
  EXPECT_TRUE(read_file(f.dir / "copy.bin") == as_string(data));

  fs::create_directory(f.dir / "into");
  auto to_dir = run_sluice({"cp", f.url("deep/path/obj.bin"), f.dir / "into"}, f.env);
  ASSERT_EQ(to_dir.exit_code, 0) << describe(to_dir);
  EXPECT_EQ(entries_of(f.dir / "into"), std::set<std::string>{"obj.bin"});
  EXPECT_TRUE(read_file(f.dir / "into/obj.bin") == as_string(data));
  EXPECT_EQ(entries_of(f.dir.path), (std::set<std::string>{"copy.bin", "into"}))
      << "temporary files left behind";
}

TEST(CliVerbs, cp_down_replaces_an_existing_file) {
  cli_fixture f;
  f.make_bucket();
  f.put("k", "new contents");
  write_file(f.dir / "k", as_span(test_bytes(5000, 1)));
  auto r = run_sluice({"cp", f.url("k"), f.dir / "k"}, f.env);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(read_file(f.dir / "k"), "new contents");
}

TEST(CliVerbs, cp_s3_to_s3_copies_server_side_with_metadata) {
  cli_fixture f;
  f.make_bucket();
  std::string other = unique_bucket_name("cli-dst");
  ASSERT_TRUE(f.client.run(f.client->create_bucket(other)));
  auto data = test_bytes(256 * 1024, 41);
  s3::put_options put;
  put.metadata["owner"] = "tests";
  auto p = f.client.run(f.client->put_object(f.bucket, "src/obj.bin", as_span(data), put));
  ASSERT_TRUE(p) << p.error().describe();

  auto r = run_sluice({"cp", f.url("src/obj.bin"), "s3://" + other + "/dst/copy.bin"}, f.env);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  auto got = f.client.run(f.client->get_object_bytes(other, "dst/copy.bin"));  // verifies the copied hash
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_TRUE(std::equal(got->data.span().begin(), got->data.span().end(), data.begin(), data.end()));
  EXPECT_EQ(got->info.metadata["owner"], "tests");
  EXPECT_EQ(got->info.metadata["sluice-xxh3"], integrity::to_hex(p->xxh3));

  // Server-side: s3rver copied the object, and the CLI never fetched the source's bytes (s3rver logs
  // one line per request with the bytes it sent: 256kb for a GET of the source).
  auto log = read_file(f.server.directory() + "/s3rver.log");
  EXPECT_NE(log.find("Copied object \"src/obj.bin\" from bucket \"" + f.bucket + "\" into bucket \"" + other +
                     "\" with key of \"dst/copy.bin\""),
            std::string::npos)
      << log;
  for (auto& line : lines_of(log))
    EXPECT_FALSE(line.find("/src/obj.bin ") != std::string::npos && line.ends_with("256kb")) << line;

  // A destination ending in '/' takes the source's last name.
  auto into = run_sluice({"cp", f.url("src/obj.bin"), f.url("backup/")}, f.env);
  ASSERT_EQ(into.exit_code, 0) << describe(into);
  EXPECT_EQ(f.keys(), (std::set<std::string>{"backup/obj.bin", "src/obj.bin"}));
}

TEST(CliVerbs, rm_removes_one_object) {
  cli_fixture f;
  f.make_bucket();
  f.put("keep", "k");
  f.put("gone", "g");
  auto r = run_sluice({"rm", f.url("gone")}, f.env);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "removed 1 object\n");
  EXPECT_EQ(f.keys(), std::set<std::string>{"keep"});
}

TEST(CliVerbs, rm_r_removes_everything_under_a_prefix) {
  cli_fixture f;
  f.make_bucket();
  f.put("logs/a", "1");
  f.put("logs/b/c", "2");
  f.put("logs/b/d", "3");
  f.put("other", "4");
  auto r = run_sluice({"rm", "-r", f.url("logs/")}, f.env);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "removed 3 objects\n");
  EXPECT_EQ(f.keys(), std::set<std::string>{"other"});
}

TEST(CliVerbs, rb_removes_an_empty_bucket) {
  cli_fixture f;
  f.make_bucket();
  auto r = run_sluice({"rb", f.url()}, f.env);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "removed bucket " + f.url() + "\n");
  auto head = f.client.run(f.client->head_bucket(f.bucket));
  EXPECT_FALSE(head) << "the bucket still exists";
}

TEST(CliVerbs, cp_sets_content_type_and_metadata_that_stat_shows) {
  cli_fixture f;
  f.make_bucket();
  write_file(f.dir / "page.html", as_span(test_bytes(10, 9)));
  auto up = run_sluice({"cp", "--content-type", "text/html", "--metadata", "color=blue", "--metadata",
                        "Team=a=b", f.dir / "page.html", f.url("page.html")},
                       f.env);
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  auto st = run_sluice({"stat", f.url("page.html")}, f.env);
  ASSERT_EQ(st.exit_code, 0) << describe(st);
  EXPECT_EQ(stat_field(st.out, "content-type"), "text/html") << st.out;
  EXPECT_EQ(stat_field(st.out, "meta color"), "blue") << st.out;
  EXPECT_EQ(stat_field(st.out, "meta team"), "a=b") << st.out;
  EXPECT_FALSE(recorded_hash_in(st.out).empty()) << st.out;
}

// A server-side copy that replaces the metadata (--metadata or --content-type) must keep the
// sluice-xxh3 its source carried, or every later download of the copy would go unverified.
TEST(CliVerbs, cp_s3_to_s3_with_new_metadata_keeps_the_recorded_hash) {
  cli_fixture f;
  f.make_bucket();
  auto data = test_bytes(70 * 1024, 43);
  auto p = f.client.run(f.client->put_object(f.bucket, "src", as_span(data)));
  ASSERT_TRUE(p) << p.error().describe();
  auto r = run_sluice({"cp", "--metadata", "stage=copied", f.url("src"), f.url("dst")}, f.env);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  auto head = f.client.run(f.client->head_object(f.bucket, "dst"));
  ASSERT_TRUE(head) << head.error().describe();
  EXPECT_EQ(head->metadata["stage"], "copied");
  EXPECT_EQ(head->metadata["sluice-xxh3"], integrity::to_hex(p->xxh3)) << "the copy lost its recorded hash";
}

TEST(CliVerbs, empty_file_round_trips) {
  cli_fixture f;
  f.make_bucket();
  write_file(f.dir / "empty", std::string_view());
  auto up = run_sluice({"cp", f.dir / "empty", f.url("empty")}, f.env);
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  auto st = run_sluice({"stat", f.url("empty")}, f.env);
  ASSERT_EQ(st.exit_code, 0) << describe(st);
  EXPECT_EQ(stat_field(st.out, "size"), "0") << st.out;
  auto cat = run_sluice({"cat", f.url("empty")}, f.env);
  ASSERT_EQ(cat.exit_code, 0) << describe(cat);
  EXPECT_EQ(cat.out, "");
  auto down = run_sluice({"cp", f.url("empty"), f.dir / "empty.out"}, f.env);
  ASSERT_EQ(down.exit_code, 0) << describe(down);
  ASSERT_TRUE(fs::exists(f.dir / "empty.out"));
  EXPECT_EQ(fs::file_size(f.dir / "empty.out"), 0u);
}

TEST(CliVerbs, keys_with_spaces_and_unicode_round_trip) {
  cli_fixture f;
  f.make_bucket();
  const std::string key = "dir with space/\xC3\xA9t\xC3\xA9 50% +&? #\xE2\x9C\x93.bin";
  auto data = test_bytes(5000, 17);
  write_file(f.dir / "in", as_span(data));
  auto up = run_sluice({"cp", f.dir / "in", f.url(key)}, f.env);
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  EXPECT_EQ(f.keys(), std::set<std::string>{key});
  auto ls = run_sluice({"ls", "-r", f.url()}, f.env);
  ASSERT_EQ(ls.exit_code, 0) << describe(ls);
  EXPECT_TRUE(ls.out.ends_with(" " + key + "\n")) << ls.out;
  auto cat = run_sluice({"cat", f.url(key)}, f.env);
  ASSERT_EQ(cat.exit_code, 0) << describe(cat);
  EXPECT_TRUE(cat.out == as_string(data));
  auto rm = run_sluice({"rm", f.url(key)}, f.env);
  ASSERT_EQ(rm.exit_code, 0) << describe(rm);
  EXPECT_TRUE(f.keys().empty());
}

// More keys than one ListObjectsV2 page or one DeleteObjects request holds.
TEST(CliVerbs, ls_and_rm_r_cover_more_than_one_page) {
  cli_fixture f;
  f.make_bucket();
  constexpr int count = 1003;
  for (int i = 0; i < count; ++i) {
    char key[32];
    std::snprintf(key, sizeof key, "many/%04d", i);
    ASSERT_NO_FATAL_FAILURE(f.put(key, "x"));
  }
  f.put("other", "y");
  auto ls = run_sluice({"ls", "-r", f.url("many/")}, f.env);
  ASSERT_EQ(ls.exit_code, 0) << describe(ls);
  auto listed = parse_listing(ls.out);
  EXPECT_EQ(listed.size(), std::size_t(count));
  EXPECT_TRUE(listed.contains("many/0000 1"));
  EXPECT_TRUE(listed.contains("many/1002 1"));

  auto rm = run_sluice({"rm", "-r", f.url("many")}, f.env);
  ASSERT_EQ(rm.exit_code, 0) << describe(rm);
  EXPECT_EQ(rm.out, "removed 1003 objects\n");
  EXPECT_EQ(f.keys(), std::set<std::string>{"other"});
}

// `mb`, `rb` and the bucket listing go through the store layer's bucket functions.
TEST(CliVerbs, mb_then_rb_round_trips_and_the_bucket_listing_follows) {
  cli_fixture f;
  auto listed = [&] {
    auto ls = run_sluice({"ls"}, f.env);
    EXPECT_EQ(ls.exit_code, 0) << describe(ls);
    auto lines = lines_of(ls.out);
    return std::count_if(lines.begin(), lines.end(), [&](auto& l) { return l.ends_with(" " + f.bucket); });
  };
  EXPECT_EQ(listed(), 0);
  auto mb = run_sluice({"mb", f.url()}, f.env);
  ASSERT_EQ(mb.exit_code, 0) << describe(mb);
  EXPECT_EQ(mb.out, "made bucket " + f.url() + "\n");
  EXPECT_EQ(listed(), 1);

  auto again = run_sluice({"mb", f.url()}, f.env);
  expect_one_line_failure(again, {test_secret});
  EXPECT_EQ(again.exit_code, 1) << describe(again);
  EXPECT_NE(again.err.find("mb " + f.url()), std::string::npos) << again.err;

  auto rb = run_sluice({"rb", f.url()}, f.env);
  ASSERT_EQ(rb.exit_code, 0) << describe(rb);
  EXPECT_EQ(rb.out, "removed bucket " + f.url() + "\n");
  EXPECT_EQ(listed(), 0);
  EXPECT_FALSE(f.client.run(f.client->head_bucket(f.bucket))) << "the bucket still exists";

  auto gone = run_sluice({"rb", f.url()}, f.env);
  expect_one_line_failure(gone, {test_secret});
  EXPECT_EQ(gone.exit_code, 1) << describe(gone);
  EXPECT_NE(gone.err.find("NoSuchBucket"), std::string::npos) << gone.err;
}

// `stat` reads through store::stat and prints what HEAD says, in the documented format: the
// recorded hash (kept apart from user metadata by the store) among the metadata, names in order.
TEST(CliVerbs, stat_prints_every_field_of_the_object_in_the_documented_format) {
  cli_fixture f;
  f.make_bucket();
  s3::put_options put;
  put.content_type = "text/csv";
  put.metadata["zeta"] = "last";
  put.metadata["alpha"] = "first";
  auto p = f.client.run(f.client->put_object(f.bucket, "dir/table.csv", as_span(test_bytes(4000, 8)), put));
  ASSERT_TRUE(p) << p.error().describe();
  auto head = f.client.run(f.client->head_object(f.bucket, "dir/table.csv"));
  ASSERT_TRUE(head) << head.error().describe();
  ASSERT_FALSE(head->last_modified.empty());

  auto st = run_sluice({"stat", f.url("dir/table.csv")}, f.env);
  ASSERT_EQ(st.exit_code, 0) << describe(st);
  EXPECT_EQ(st.err, "");
  std::string expected = "url            " + f.url("dir/table.csv") +
                         "\nsize           4000\netag           " + head->etag + "\nlast-modified  " +
                         head->last_modified + "\ncontent-type   text/csv\n";
  for (auto& [k, v] : head->metadata) {
    char line[256];
    std::snprintf(line, sizeof line, "meta %-9s %s\n", k.c_str(), v.c_str());
    expected += line;
  }
  EXPECT_EQ(st.out, expected);
  EXPECT_EQ(recorded_hash_in(st.out), integrity::to_hex(p->xxh3)) << st.out;
}

// Above min(64 MiB, --memory-budget) cat streams ranged reads of at most half the budget, each pinned
// to the first one's ETag; the composite hash of a multipart object is still checked over the stream.
TEST(CliVerbs, cat_streams_an_object_larger_than_its_memory_budget_byte_exact) {
  cli_fixture f;
  f.make_bucket();
  auto data = test_bytes(12 * 1024 * 1024 + 777, 73);
  write_file(f.dir / "big.bin", as_span(data));
  auto up = run_sluice(
      {"cp", "--multipart-threshold", "6MiB", "--part-size", "5MiB", f.dir / "big.bin", f.url("big.bin")},
      f.env);
  ASSERT_EQ(up.exit_code, 0) << describe(up);

  auto cat = run_sluice({"cat", "--part-size", "1MiB", "--memory-budget", "4MiB", f.url("big.bin")}, f.env);
  ASSERT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_EQ(cat.err, "");
  ASSERT_EQ(cat.out.size(), data.size());
  EXPECT_TRUE(cat.out == as_string(data)) << "cat output differs from the uploaded bytes";

  // A single-PUT object (whole-content hash), with a last range shorter than the others.
  auto small_parts = test_bytes(3 * 1024 * 1024 + 4321, 74);
  auto p = f.client.run(f.client->put_object(f.bucket, "whole.bin", as_span(small_parts)));
  ASSERT_TRUE(p) << p.error().describe();
  auto cat2 =
      run_sluice({"cat", "--part-size", "256KiB", "--memory-budget", "1MiB", f.url("whole.bin")}, f.env);
  ASSERT_EQ(cat2.exit_code, 0) << cat2.err;
  EXPECT_TRUE(cat2.out == as_string(small_parts)) << "cat output differs from the stored bytes";
}

// The streamed path cannot check the hash before writing; it still fails the command at the end.
TEST(CliErrors, cat_of_a_streamed_object_with_a_wrong_recorded_hash_fails_at_the_end) {
  cli_fixture f;
  f.make_bucket();
  s3::put_options put;
  put.metadata["sluice-xxh3"] = "0123456789abcdef";
  auto body = test_bytes(3 * 1024 * 1024, 75);
  auto p = f.client.run(f.client->put_object(f.bucket, "bad.bin", as_span(body), put));
  ASSERT_TRUE(p) << p.error().describe();
  auto cat = run_sluice({"cat", "--part-size", "256KiB", "--memory-budget", "1MiB", f.url("bad.bin")}, f.env);
  expect_one_line_failure(cat, {test_secret});
  EXPECT_EQ(cat.exit_code, 1) << describe(cat);
  EXPECT_NE(lowercase(cat.err).find("integrity"), std::string::npos) << cat.err;
}

// A failed write to standard output (here a full device) is an error, on both cat paths.
TEST(CliErrors, cat_into_a_full_stdout_fails) {
  cli_fixture f;
  f.make_bucket();
  auto p = f.client.run(f.client->put_object(f.bucket, "obj", as_span(test_bytes(3 * 1024 * 1024, 76))));
  ASSERT_TRUE(p) << p.error().describe();
  for (std::vector<std::string> flags :
       {std::vector<std::string>{},
        std::vector<std::string>{"--part-size", "256KiB", "--memory-budget", "1MiB"}}) {
    std::vector<std::string> argv{"/bin/sh", "-c", "exec \"$0\" \"$@\" > /dev/full", SLUICE_CLI_PATH, "cat"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back(f.url("obj"));
    auto r = run_command(argv, f.env, "", std::chrono::seconds(120));
    SCOPED_TRACE(flags.empty() ? "read whole" : "streamed");
    expect_one_line_failure(r, {test_secret});
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_NE(r.err.find("standard output"), std::string::npos) << r.err;
  }
}

// A server-side copy with a new content type replaces it, and keeps the recorded hash.
TEST(CliVerbs, cp_s3_to_s3_with_a_content_type_replaces_it) {
  cli_fixture f;
  f.make_bucket();
  auto p = f.client.run(f.client->put_object(f.bucket, "src.txt", as_span(test_bytes(1000, 77))));
  ASSERT_TRUE(p) << p.error().describe();
  auto r = run_sluice({"cp", "--content-type", "text/plain", f.url("src.txt"), f.url("dst.txt")}, f.env);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "copied " + f.url("src.txt") + " -> " + f.url("dst.txt") + " (server-side)\n");
  auto head = f.client.run(f.client->head_object(f.bucket, "dst.txt"));
  ASSERT_TRUE(head) << head.error().describe();
  EXPECT_EQ(head->content_type, "text/plain");
  EXPECT_EQ(head->metadata["sluice-xxh3"], integrity::to_hex(p->xxh3));
}

// --json for one object: one object, its bytes, no failures, both ways.
TEST(CliVerbs, cp_json_of_one_object_reports_it) {
  cli_fixture f;
  f.make_bucket();
  auto data = test_bytes(123456, 78);
  write_file(f.dir / "one.bin", as_span(data));
  auto expect_one = [](const command_result& r) {
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    const auto doc = boost::json::parse(r.out).as_object();
    EXPECT_EQ(doc.at("verb"), boost::json::value("cp")) << r.out;
    EXPECT_EQ(doc.at("objects").to_number<uint64_t>(), 1u) << r.out;
    EXPECT_EQ(doc.at("bytes").to_number<uint64_t>(), 123456u) << r.out;
    EXPECT_TRUE(doc.at("failures").as_array().empty()) << r.out;
  };
  expect_one(run_sluice({"cp", "--json", f.dir / "one.bin", f.url("one.bin")}, f.env));
  expect_one(run_sluice({"cp", "--json", f.url("one.bin"), f.dir / "back.bin"}, f.env));
  EXPECT_TRUE(read_file(f.dir / "back.bin") == as_string(data));
}

// ---- prefix safety ------------------------------------------------------------------------------

TEST(CliPrefixSafety, rm_r_removes_the_key_and_keys_under_it_but_not_siblings_sharing_its_start) {
  cli_fixture f;
  f.make_bucket();
  for (const char* k : {"data/exp", "data/exp/a", "data/exp/b/c", "data/experiment2/x", "data/exp-old"})
    f.put(k, k);
  ASSERT_EQ(f.keys().size(), 5u);

  auto r = run_sluice({"rm", "-r", f.url("data/exp")}, f.env);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "removed 3 objects\n");
  EXPECT_EQ(f.keys(), (std::set<std::string>{"data/experiment2/x", "data/exp-old"}));
}

// ---- failures -----------------------------------------------------------------------------------

TEST(CliErrors, cat_of_a_missing_key_fails_with_one_line_and_no_output) {
  cli_fixture f;
  f.make_bucket();
  auto r = run_sluice({"cat", f.url("no/such/key")}, f.env);
  expect_one_line_failure(r, {test_secret});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(mentions_no_such_key(r.err)) << r.err;
  EXPECT_NE(r.err.find(f.url("no/such/key")), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(CliErrors, stat_of_a_missing_key_fails_with_one_line) {
  cli_fixture f;
  f.make_bucket();
  auto r = run_sluice({"stat", f.url("absent")}, f.env);
  expect_one_line_failure(r, {test_secret});
  EXPECT_TRUE(mentions_no_such_key(r.err)) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(CliErrors, rm_of_a_missing_key_fails) {
  cli_fixture f;
  f.make_bucket();
  f.put("present", "p");
  auto r = run_sluice({"rm", f.url("absent")}, f.env);
  expect_one_line_failure(r, {test_secret});
  EXPECT_TRUE(mentions_no_such_key(r.err)) << r.err;
  EXPECT_EQ(f.keys(), std::set<std::string>{"present"});
}

TEST(CliErrors, failed_download_leaves_no_file_and_no_temporary_files) {
  cli_fixture f;
  f.make_bucket();
  auto to_file = run_sluice({"cp", f.url("absent.bin"), f.dir / "absent.bin"}, f.env);
  expect_one_line_failure(to_file, {test_secret});
  EXPECT_TRUE(mentions_no_such_key(to_file.err)) << to_file.err;

  fs::create_directory(f.dir / "into");
  auto to_dir = run_sluice({"cp", f.url("absent.bin"), f.dir / "into"}, f.env);
  expect_one_line_failure(to_dir, {test_secret});
  EXPECT_TRUE(mentions_no_such_key(to_dir.err)) << to_dir.err;

  EXPECT_EQ(entries_of(f.dir.path), std::set<std::string>{"into"});
  EXPECT_TRUE(entries_of(f.dir / "into").empty());
}

TEST(CliErrors, corrupted_object_fails_download_and_cat_without_leaving_a_file) {
  cli_fixture f;
  f.make_bucket();
  // Content whose recorded hash belongs to other content: what a corrupting store would serve.
  s3::put_options put;
  put.metadata["sluice-xxh3"] = "0123456789abcdef";
  auto body = test_bytes(64 * 1024, 5);
  auto p = f.client.run(f.client->put_object(f.bucket, "bad.bin", as_span(body), put));
  ASSERT_TRUE(p) << p.error().describe();

  auto down = run_sluice({"cp", f.url("bad.bin"), f.dir / "bad.bin"}, f.env);
  expect_one_line_failure(down, {test_secret});
  EXPECT_NE(lowercase(down.err).find("integrity"), std::string::npos) << down.err;
  EXPECT_TRUE(entries_of(f.dir.path).empty()) << "a corrupt download left files behind";

  auto cat = run_sluice({"cat", f.url("bad.bin")}, f.env);
  EXPECT_NE(cat.exit_code, 0) << describe(cat);
  EXPECT_NE(lowercase(cat.err).find("integrity"), std::string::npos) << cat.err;
}

TEST(CliErrors, cp_from_a_missing_s3_key_to_s3_fails) {
  cli_fixture f;
  f.make_bucket();
  auto r = run_sluice({"cp", f.url("absent"), f.url("copy")}, f.env);
  expect_one_line_failure(r, {test_secret});
  EXPECT_TRUE(mentions_no_such_key(r.err)) << r.err;
  EXPECT_TRUE(f.keys().empty());
}

TEST(CliErrors, missing_bucket_fails_ls_and_upload) {
  cli_fixture f;  // no bucket made
  auto ls = run_sluice({"ls", f.url()}, f.env);
  expect_one_line_failure(ls, {test_secret});
  EXPECT_NE(ls.err.find("NoSuchBucket"), std::string::npos) << ls.err;

  write_file(f.dir / "f.txt", as_span(test_bytes(10, 1)));
  auto up = run_sluice({"cp", f.dir / "f.txt", f.url("f.txt")}, f.env);
  expect_one_line_failure(up, {test_secret});
  EXPECT_NE(up.err.find("NoSuchBucket"), std::string::npos) << up.err;

  auto rb = run_sluice({"rb", f.url()}, f.env);
  expect_one_line_failure(rb, {test_secret});
  EXPECT_NE(rb.err.find("NoSuchBucket"), std::string::npos) << rb.err;
}

TEST(CliErrors, rb_of_a_non_empty_bucket_fails_and_keeps_it) {
  cli_fixture f;
  f.make_bucket();
  f.put("still-here", "x");
  auto r = run_sluice({"rb", f.url()}, f.env);
  expect_one_line_failure(r, {test_secret});
  EXPECT_NE(r.err.find("BucketNotEmpty"), std::string::npos) << r.err;
  EXPECT_EQ(f.keys(), std::set<std::string>{"still-here"});
}

TEST(CliErrors, upload_of_a_directory_fails) {
  cli_fixture f;
  f.make_bucket();
  fs::create_directory(f.dir / "sub");
  auto r = run_sluice({"cp", f.dir / "sub", f.url("k")}, f.env);
  expect_one_line_failure(r, {test_secret});
  EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r.err;
  EXPECT_TRUE(f.keys().empty());
}

TEST(CliErrors, upload_of_a_missing_local_file_fails) {
  cli_fixture f;
  f.make_bucket();
  auto r = run_sluice({"cp", f.dir / "nothing-here", f.url("k")}, f.env);
  expect_one_line_failure(r, {test_secret});
  EXPECT_NE(r.err.find(f.dir / "nothing-here"), std::string::npos) << r.err;
  EXPECT_TRUE(f.keys().empty());
}

TEST(CliErrors, wrong_access_key_fails_with_one_line_without_the_secret) {
  cli_fixture f;
  f.make_bucket();
  auto env = f.env;
  env["AWS_ACCESS_KEY_ID"] = "NOT-S3RVER";
  auto r = run_sluice({"ls", f.url()}, env);
  expect_one_line_failure(r, {test_secret});
  EXPECT_NE(r.err.find("InvalidAccessKeyId"), std::string::npos) << r.err;
}

// ---- TLS ------------------------------------------------------------------------------------------

TEST(CliTls, https_endpoint_is_trusted_through_ca_bundle_only) {
  s3rver_options o;
  o.tls = true;
  s3rver_process server(o);
  ASSERT_FALSE(server.server().ca_file.empty());
  s3_test_client client(server.server());
  std::string bucket = unique_bucket_name("cli-tls");
  ASSERT_TRUE(client.run(client->create_bucket(bucket)));
  auto env = env_for(server.server());
  env.erase("AWS_CA_BUNDLE");

  // The throwaway CA is in no system store: without it the certificate is refused.
  auto untrusted = run_sluice({"ls", "s3://" + bucket}, env);
  expect_one_line_failure(untrusted, {test_secret});
  EXPECT_NE(lowercase(untrusted.err).find("certificate"), std::string::npos) << untrusted.err;

  auto with_flag = run_sluice({"--ca-bundle", server.server().ca_file, "ls", "s3://" + bucket}, env);
  EXPECT_EQ(with_flag.exit_code, 0) << describe(with_flag);

  auto with_env = env;
  with_env["AWS_CA_BUNDLE"] = server.server().ca_file;
  auto by_env = run_sluice({"ls", "s3://" + bucket}, with_env);
  EXPECT_EQ(by_env.exit_code, 0) << describe(by_env);

  auto unverified = run_sluice({"--no-verify-ssl", "ls", "s3://" + bucket}, env);
  EXPECT_EQ(unverified.exit_code, 0) << describe(unverified);
}

TEST(CliTls, transfers_over_https_are_byte_exact) {
  s3rver_options o;
  o.tls = true;
  s3rver_process server(o);
  auto env = env_for(server.server());
  std::string bucket = unique_bucket_name("cli-tls");
  temp_dir dir;
  auto data = test_bytes(12 * 1024 * 1024 + 1, 61);
  write_file(dir / "big", as_span(data));
  auto mb = run_sluice({"mb", "s3://" + bucket}, env);
  ASSERT_EQ(mb.exit_code, 0) << describe(mb);
  auto up = run_sluice(
      {"cp", "--multipart-threshold", "6MiB", "--part-size", "5MiB", dir / "big", "s3://" + bucket + "/big"},
      env);
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  auto down = run_sluice({"cp", "s3://" + bucket + "/big", dir / "big.out"}, env);
  ASSERT_EQ(down.exit_code, 0) << describe(down);
  EXPECT_TRUE(read_file(dir / "big.out") == as_string(data));
}

// ---- usage errors: no request is sent ------------------------------------------------------------

struct usage_case {
  std::vector<std::string> args;
  std::string message;  // what stderr must say
};

// Every verb parses and checks its arguments before connecting: with the endpoint on a refused port
// a request would end in a connection error, not in the usage message.
TEST(CliUsage, bad_arguments_fail_with_a_message_before_any_request) {
  closed_port port;
  temp_dir dir;
  auto data = test_bytes(100, 1);
  write_file(dir / "f", as_span(data));
  s3_server nowhere{port.url(), "S3RVER", test_secret, "us-east-1", ""};
  auto env = env_for(nowhere);

  const std::vector<usage_case> cases = {
      {{"ls", "s3://Bad_Bucket/x"}, "Bad_Bucket"},
      {{"cat", "s3://Bad_Bucket/x"}, "Bad_Bucket"},
      {{"cp", dir / "f", "s3://ab/x"}, "s3://ab/x"},  // too short for a bucket name
      {{"ls", "http://127.0.0.1/bucket/x"}, "http://127.0.0.1/bucket/x"},
      {{"cp", dir / "f"}, "dst"},
      {{"stat"}, "url"},
      {{}, "no verb"},
      {{"cp", "--part-size", "1MiB", dir / "f", "s3://bucket/k"}, "--part-size"},
      {{"cp", "--part-size", "lots", dir / "f", "s3://bucket/k"}, "lots"},
      {{"cp", "--multipart-threshold", "-5", dir / "f", "s3://bucket/k"}, "-5"},
      {{"cp", "--metadata", "novalue", dir / "f", "s3://bucket/k"}, "novalue"},
      {{"cp", dir / "f", dir / "g"}, "s3://"},
      {{"cp", "s3://bucket", dir / "g"}, "s3://bucket"},
      {{"stat", "s3://bucket"}, "s3://bucket"},
      {{"rm", "s3://bucket"}, "-r"},
      {{"rm", dir / "f"}, dir / "f"},
      {{"mb", "s3://bucket/key"}, "s3://bucket/key"},
      {{"rb", "s3://Bad_Bucket"}, "Bad_Bucket"},
      {{"cat", "--memory-budget", "4KiB", "--part-size", "1KiB", "s3://bucket/k"}, "at least 8KiB"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args{"--endpoint-url", port.url()};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto r = run_sluice(args, env);
    std::string what = "sluice";
    for (auto& a : c.args) what += " " + a;
    SCOPED_TRACE(what);
    EXPECT_NE(r.exit_code, 0) << describe(r);
    EXPECT_TRUE(r.err.starts_with("sluice")) << describe(r);
    EXPECT_NE(r.err.find(c.message), std::string::npos) << describe(r);
    EXPECT_EQ(lowercase(r.err).find("connect"), std::string::npos) << describe(r);
    EXPECT_EQ(lowercase(r.err).find("refused"), std::string::npos) << describe(r);
    EXPECT_EQ(r.out, "") << describe(r);
    EXPECT_EQ(r.err.find(test_secret), std::string::npos) << describe(r);
  }
  EXPECT_TRUE(read_file(dir / "f") == as_string(data));
  EXPECT_EQ(entries_of(dir.path), std::set<std::string>{"f"});
}

TEST(CliUsage, bad_endpoint_or_ca_bundle_fails_before_any_request) {
  closed_port port;
  std::string https = "https" + port.url().substr(4);
  s3_server nowhere{port.url(), "S3RVER", test_secret, "us-east-1", ""};
  const std::vector<usage_case> cases = {
      {{"--endpoint-url", "notaurl", "ls", "s3://bucket"}, "notaurl"},
      {{"--endpoint-url", "ftp://127.0.0.1:21", "ls", "s3://bucket"}, "ftp"},
      {{"--endpoint-url", https, "--ca-bundle", "/nonexistent/ca.pem", "ls", "s3://bucket"},
       "/nonexistent/ca.pem"},
      {{"--endpoint-url", https, "--ca-bundle", "/etc/hostname", "ls", "s3://bucket"}, "/etc/hostname"},
  };
  for (const auto& c : cases) {
    auto r = run_sluice(c.args, env_for(nowhere));
    std::string what = "sluice";
    for (auto& a : c.args) what += " " + a;
    SCOPED_TRACE(what);
    expect_one_line_failure(r, {test_secret});
    EXPECT_NE(r.err.find(c.message), std::string::npos) << describe(r);
    EXPECT_EQ(lowercase(r.err).find("refused"), std::string::npos) << describe(r);
    EXPECT_EQ(r.out, "") << describe(r);
  }
}

// A mistyped verb is named in the error (CLI11 alone would say "a subcommand is required").
TEST(CliUsage, unknown_verb_is_named_in_the_error_before_any_request) {
  closed_port port;
  s3_server nowhere{port.url(), "S3RVER", test_secret, "us-east-1", ""};
  auto r = run_sluice({"--endpoint-url", port.url(), "frobnicate", "s3://bucket"}, env_for(nowhere));
  EXPECT_NE(r.exit_code, 0) << describe(r);
  EXPECT_EQ(lines_of(r.err).size(), 1u) << describe(r);
  EXPECT_TRUE(r.err.starts_with("sluice:")) << describe(r);
  EXPECT_NE(r.err.find("frobnicate"), std::string::npos) << describe(r);
  EXPECT_EQ(lowercase(r.err).find("connect"), std::string::npos) << describe(r);
  EXPECT_EQ(r.out, "") << describe(r);
}

// The control for the tests above: a valid command against the same port does try to connect, and
// says so.
TEST(CliUsage, a_valid_command_against_a_closed_port_reports_the_connection_failure) {
  closed_port port;
  s3_server nowhere{port.url(), "S3RVER", test_secret, "us-east-1", ""};
  auto r = run_sluice({"--endpoint-url", port.url(), "ls", "s3://bucket/x"}, env_for(nowhere));
  expect_one_line_failure(r, {test_secret});
  auto err = lowercase(r.err);
  EXPECT_TRUE(err.find("connect") != std::string::npos || err.find("refused") != std::string::npos) << r.err;
}

TEST(CliUsage, help_lists_every_verb) {
  auto r = run_sluice({"--help"}, {});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  for (const char* verb : {"ls", "cp", "rm", "stat", "cat", "mb", "rb", "demo"})
    EXPECT_TRUE(std::regex_search(r.out, std::regex(std::string("\\n\\s+") + verb + "\\s"))) << verb << "\n"
                                                                                             << r.out;
}

}  // namespace
