// The `sluice` command line as users of aws s3, s5cmd and rclone use it (issue 8): options after the
// verb, standard input and output, mv, du, presign, ranged cat, rb --force, --version, local
// destinations, credentials and exit statuses, against s3rver (one per test).
#include "cli_test_support.hpp"

#include <sluice/engine/integrity/xxh3.hpp>

#include <boost/json.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>

using namespace sluice;
using namespace sluice::testing;
namespace fs = std::filesystem;

namespace {

struct shell_fixture : s3rver_cli_fixture {
  // s3rver checks only the access key: a secret that appears nowhere else, so finding it in output
  // means the CLI printed it.
  shell_fixture() : s3rver_cli_fixture("shell") {
    env["AWS_SECRET_ACCESS_KEY"] = "shellTestSecret-4Hq8Zr1Vn6Kc";
  }
  // The environment without the endpoint: it must come from --endpoint-url.
  std::map<std::string, std::string> env_without_endpoint() const {
    auto e = env;
    e.erase("AWS_ENDPOINT_URL");
    return e;
  }
};

// ---- options anywhere ---------------------------------------------------------------------------

// Every verb with the endpoint, -q and the region after it (the aws s3 habit), none in the environment.
TEST(CliOptionsAnywhere, global_options_after_the_verb_work_for_every_verb) {
  shell_fixture f;
  const auto env = f.env_without_endpoint();
  const std::string ep = f.server.server().endpoint_url;
  const std::vector<std::string> after{"--endpoint-url", ep, "--region", "us-east-1"};
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.end(), after.begin(), after.end());
    auto r = run_sluice(args, env);
    std::string what = "sluice";
    for (auto& a : args) what += " " + a;
    EXPECT_EQ(r.exit_code, 0) << what << "\n" << describe(r);
    return r;
  };
  write_file(f.dir / "a.txt", "alpha");
  fs::create_directory(f.dir / "tree");
  write_file(f.dir / "tree/t.txt", "tree");

  run({"mb", f.url(), "-q"});
  EXPECT_EQ(run({"cp", f.dir / "a.txt", f.url("a.txt"), "-q"}).out, "");
  EXPECT_EQ(f.get("a.txt"), "alpha");
  EXPECT_NE(run({"ls", f.url()}).out.find("a.txt"), std::string::npos);
  EXPECT_NE(run({"stat", f.url("a.txt")}).out.find("size           5"), std::string::npos);
  EXPECT_EQ(run({"cat", f.url("a.txt")}).out, "alpha");
  run({"cp", f.url("a.txt"), f.dir / "a.down"});
  EXPECT_EQ(read_file(f.dir / "a.down"), "alpha");
  run({"sync", f.dir / "tree", f.url("tree"), "--concurrency", "4"});
  EXPECT_EQ(f.get("tree/t.txt"), "tree");
  run({"mv", f.url("a.txt"), f.url("b.txt")});
  auto du = run({"du", "-s", f.url(), "--json"});
  auto parsed = boost::json::parse(du.out);
  EXPECT_EQ(parsed.at("objects").to_number<std::uint64_t>(), 2u) << du.out;
  EXPECT_TRUE(run({"presign", f.url("b.txt")}).out.starts_with(ep + "/")) << "presign";
  run({"rm", f.url("b.txt"), "-q"});
  run({"bench", "put", f.url("bench"), "--count", "2", "--size", "4KiB", "--json"});
  run({"rb", f.url(), "--force", "-q"});
  auto head = f.client.run(f.client->head_bucket(f.bucket));
  EXPECT_FALSE(head) << "rb --force left the bucket";
}

TEST(CliOptionsAnywhere, transfer_options_before_the_verb_apply_to_it) {
  shell_fixture f;
  f.make_bucket();
  auto r = run_sluice({"--part-size", "1MiB", "cp", "-", f.url("k")}, f.env, "x");
  EXPECT_EQ(r.exit_code, 2) << describe(r);  // a part size below S3's 5 MiB is refused, whatever its place
  EXPECT_NE(r.err.find("--part-size"), std::string::npos) << describe(r);
  r = run_sluice({"--json", "cp", "-", f.url("k")}, f.env, "x");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(boost::json::parse(r.out).at("bytes").to_number<std::uint64_t>(), 1u) << r.out;
}

TEST(CliOptionsAnywhere, unknown_options_and_arguments_are_named_in_one_line_with_status_2) {
  shell_fixture f;
  struct usage_case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<usage_case> cases = {
      {{"ls", f.url(), "--bogus"}, "ls: unknown option '--bogus'"},
      {{"--bogus", "ls", f.url()}, "unknown option '--bogus'"},
      {{"cp", "a", "s3://bucket/b", "c"}, "cp: unexpected argument 'c'"},
      {{"lss", f.url()}, "unknown verb 'lss'"},
      {{}, "no verb given"},
      {{"cat", "--range", "5-2", f.url("k")}, "--range '5-2'"},
      {{"presign", f.url("k"), "--expires-in", "0"}, "--expires-in 0"},
  };
  for (const auto& c : cases) {
    auto r = run_sluice(c.args, f.env);
    std::string what = "sluice";
    for (auto& a : c.args) what += " " + a;
    SCOPED_TRACE(what);
    EXPECT_NE(r.exit_code, 0) << describe(r);
    EXPECT_EQ(lines_of(r.err).size(), 1u) << describe(r);
    EXPECT_TRUE(r.err.starts_with("sluice: ")) << describe(r);
    EXPECT_NE(r.err.find(c.message), std::string::npos) << describe(r);
    EXPECT_EQ(r.out, "") << describe(r);
  }
  // What does not parse is status 2; a bad value found after parsing is an argument error (1 or 2).
  EXPECT_EQ(run_sluice({"ls", "--bogus"}, f.env).exit_code, 2);
  EXPECT_EQ(run_sluice({"lss"}, f.env).exit_code, 2);
  EXPECT_EQ(run_sluice({}, f.env).exit_code, 2);
}

TEST(CliOptionsAnywhere, help_documents_exit_status_and_each_verb_shows_an_example) {
  auto r = run_sluice({"--help"}, {});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  for (const char* text : {"Exit status", "130", "141", "a command line that does not parse"})
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
  for (const char* verb : {"ls", "cp", "mv", "sync", "rm", "stat", "cat", "du", "presign", "mb", "rb", "demo",
                           "array", "bench"}) {
    auto h = run_sluice({verb, "--help"}, {});
    EXPECT_EQ(h.exit_code, 0) << verb << describe(h);
    EXPECT_NE(h.out.find(std::string("Example:\n  ") + (std::string(verb) == "presign" ? "curl" : "sluice")),
              std::string::npos)
        << verb << "\n"
        << h.out;
  }
}

TEST(CliOptionsAnywhere, version_names_the_commit_and_the_linked_libraries) {
  auto r = run_sluice({"--version"}, {});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(r.out.starts_with("sluice 0.")) << r.out;
  for (const char* lib : {"commit ", "Boost", "OpenSSL", "zstd", "liburing", "CLI11"})
    EXPECT_NE(r.out.find(lib), std::string::npos) << lib << "\n" << r.out;
}

// ---- standard streams ---------------------------------------------------------------------------

// stdin up, stdout down, byte for byte: 0 B, 1 B, and 100 MiB (a multipart upload of 13 parts that
// grew as standard input arrived, its composite XXH3 recorded at the end).
TEST(CliStreams, stdin_and_stdout_round_trip_0_1_and_100_mib) {
  shell_fixture f;
  f.make_bucket();
  for (std::size_t size : {std::size_t(0), std::size_t(1), std::size_t(100) << 20}) {
    SCOPED_TRACE("size " + std::to_string(size));
    const std::string data = as_string(test_bytes(size, 8 + size));
    const std::string key = "stream/" + std::to_string(size);
    auto up = run_sluice({"cp", "-", f.url(key), "-q"}, f.env, data);
    ASSERT_EQ(up.exit_code, 0) << describe(up);
    EXPECT_EQ(up.out, "");
    EXPECT_EQ(f.get(key).size(), size);
    auto down = run_sluice({"cp", f.url(key), "-"}, f.env);
    ASSERT_EQ(down.exit_code, 0) << describe(down);
    EXPECT_EQ(down.err, "");
    EXPECT_EQ(down.out.size(), size);
    EXPECT_TRUE(down.out == data) << "standard output differs from standard input";
    auto head = f.client.run(f.client->head_object(f.bucket, key));
    ASSERT_TRUE(head) << head.error().describe();
    if (size > (8u << 20))
      EXPECT_TRUE(head->metadata["sluice-xxh3"].ends_with("/8388608")) << head->metadata["sluice-xxh3"];
    else
      EXPECT_FALSE(head->metadata["sluice-xxh3"].empty());
  }
}

// A file named '-' is never written, and '-' is no file to upload.
TEST(CliStreams, dash_is_never_a_file_name) {
  shell_fixture f;
  f.make_bucket();
  f.put("k", "kept");
  const auto cwd = fs::current_path();
  fs::current_path(f.dir.path);
  auto r = run_sluice({"cp", f.url("k"), "-"}, f.env);
  fs::current_path(cwd);
  EXPECT_EQ(r.out, "kept");
  EXPECT_FALSE(fs::exists(f.dir / "-"));
}

// A reader that stops early (`| head -c 1000`) ends sluice by SIGPIPE, silently, as it does cat.
TEST(CliStreams, a_closed_stdout_pipe_ends_sluice_quietly_by_sigpipe) {
  shell_fixture f;
  f.make_bucket();
  const std::string data = as_string(test_bytes(24 << 20, 5));
  ASSERT_EQ(run_sluice({"cp", "-", f.url("big"), "-q"}, f.env, data).exit_code, 0);
  running_sluice p({"cp", f.url("big"), "-"}, f.env);
  EXPECT_EQ(p.read_out(1000), data.substr(0, 1000));
  p.close_out();
  const int status = p.wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE) << "wait status " << status;
  EXPECT_EQ(p.read_err(), "");
}

// Ctrl-C (or a closed terminal: SIGHUP) while standard input is idle: status 128 + the signal, no
// object, the multipart upload aborted.
TEST(CliStreams, sigint_or_sighup_during_a_stdin_upload_exits_130_or_129_and_leaves_nothing) {
  shell_fixture f;
  f.make_bucket();
  for (const int sig : {SIGINT, SIGHUP}) {
    SCOPED_TRACE(sig == SIGINT ? "SIGINT" : "SIGHUP");
    running_sluice p({"cp", "-", f.url("partial"), "--part-size", "5MiB"}, f.env);
    p.write_in(as_string(test_bytes(12 << 20, 3)));  // two parts sent; the third waits for input
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    p.signal(sig);
    const int status = p.wait();
    ASSERT_TRUE(WIFEXITED(status)) << "wait status " << status;
    EXPECT_EQ(WEXITSTATUS(status), 128 + sig);
    EXPECT_TRUE(f.keys().empty());
  }
}

// A closed terminal (SIGHUP) or `kill` (SIGTERM) part-way through a download in parts: the transfer
// stops cleanly with status 129 or 143, and the destination directory holds neither the file nor
// its temporary (.NAME.sluice-XXXXXX) or journal.
TEST(CliSignals, sighup_and_sigterm_during_a_download_exit_129_and_143_and_leave_no_temporary_file) {
  shell_fixture f;
  f.make_bucket();
  f.put("big", as_string(test_bytes(128 << 20, 6)));
  for (const int sig : {SIGHUP, SIGTERM}) {
    SCOPED_TRACE(sig == SIGHUP ? "SIGHUP" : "SIGTERM");
    const std::string out = f.dir / ("down-" + std::to_string(sig));
    fs::create_directory(out);
    running_sluice p({"cp", "--part-size", "5MiB", "--memory-budget", "10MiB", "--concurrency", "2",
                      f.url("big"), out + "/big"},
                     f.env);
    // Signalled once the download has begun: its temporary file is there.
    bool started = false;
    for (int i = 0; i < 4000 && !started; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      started = !fs::is_empty(out);
    }
    ASSERT_TRUE(started) << "the download never started";
    p.signal(sig);
    const int status = p.wait();
    ASSERT_TRUE(WIFEXITED(status)) << "wait status " << status << "\n" << p.read_err();
    EXPECT_EQ(WEXITSTATUS(status), 128 + sig) << p.read_err();
    std::vector<std::string> left;
    for (const auto& e : fs::directory_iterator(out)) left.push_back(e.path().filename().string());
    EXPECT_TRUE(left.empty()) << "left " << left.size() << " file(s), the first " << left.front();
  }
}

// ---- cat --range --------------------------------------------------------------------------------

TEST(CliRange, cat_range_follows_http_byte_range_semantics) {
  shell_fixture f;
  f.make_bucket();
  const std::string data = as_string(test_bytes(100000, 4));
  f.put("k", data);
  auto cat = [&](const std::string& range) {
    return run_sluice({"cat", f.url("k"), "--range", range}, f.env);
  };
  EXPECT_TRUE(cat("0-0").out == data.substr(0, 1));
  EXPECT_TRUE(cat("10-19").out == data.substr(10, 10));
  EXPECT_TRUE(cat("99990-").out == data.substr(99990));
  EXPECT_TRUE(cat("-5").out == data.substr(99995));
  EXPECT_TRUE(cat("-200000").out == data);                     // a suffix longer than the object: all of it
  EXPECT_TRUE(cat("99000-200000").out == data.substr(99000));  // clamped to the end
  // A range read in several chunks (a small budget) is still in order.
  auto chunked = run_sluice(
      {"cat", "--range", "1000-90000", "--part-size", "4KiB", "--memory-budget", "16KiB", f.url("k")}, f.env);
  ASSERT_EQ(chunked.exit_code, 0) << describe(chunked);
  EXPECT_TRUE(chunked.out == data.substr(1000, 89001));
  auto past = cat("100000-");
  EXPECT_EQ(past.exit_code, 1) << describe(past);
  EXPECT_NE(past.err.find("past the end"), std::string::npos) << past.err;
  EXPECT_EQ(past.out, "");
}

// ---- mv -----------------------------------------------------------------------------------------

TEST(CliMove, mv_moves_one_object_server_side_and_a_prefix_with_r) {
  shell_fixture f;
  f.make_bucket();
  f.put("in/a.nc", "A");
  f.put("in/sub/b.nc", "BB");
  f.put("in-sibling/c.nc", "C");
  auto one = run_sluice({"mv", f.url("in/a.nc"), f.url("out/")}, f.env);
  ASSERT_EQ(one.exit_code, 0) << describe(one);
  EXPECT_NE(one.out.find("moved"), std::string::npos) << one.out;
  EXPECT_EQ(f.keys(), (std::set<std::string>{"out/a.nc", "in/sub/b.nc", "in-sibling/c.nc"}));
  auto tree = run_sluice({"mv", "-r", f.url("in"), f.url("archive")}, f.env);
  ASSERT_EQ(tree.exit_code, 0) << describe(tree);
  EXPECT_EQ(f.keys(), (std::set<std::string>{"out/a.nc", "archive/sub/b.nc", "in-sibling/c.nc"}));
  EXPECT_EQ(f.get("archive/sub/b.nc"), "BB");
  auto missing = run_sluice({"mv", f.url("nothing"), f.url("x")}, f.env);
  EXPECT_EQ(missing.exit_code, 1) << describe(missing);
  EXPECT_EQ(lines_of(missing.err).size(), 1u) << describe(missing);
}

TEST(CliMove, mv_between_local_files_and_s3_removes_the_source) {
  shell_fixture f;
  f.make_bucket();
  write_file(f.dir / "up.txt", "up");
  auto up = run_sluice({"mv", f.dir / "up.txt", f.url("up.txt")}, f.env);
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  EXPECT_FALSE(fs::exists(f.dir / "up.txt"));
  EXPECT_EQ(f.get("up.txt"), "up");
  auto down = run_sluice({"mv", f.url("up.txt"), f.dir / "back/"}, f.env);
  ASSERT_EQ(down.exit_code, 0) << describe(down);
  EXPECT_EQ(read_file(f.dir / "back/up.txt"), "up");
  EXPECT_TRUE(f.keys().empty());
}

// ---- du -----------------------------------------------------------------------------------------

TEST(CliDu, du_counts_bytes_and_objects_per_first_level_prefix_and_in_total) {
  shell_fixture f;
  f.make_bucket();
  f.put("data/a/1", std::string(10, 'x'));
  f.put("data/a/2/deep", std::string(20, 'x'));
  f.put("data/b/1", std::string(5, 'x'));
  f.put("data/top", std::string(1, 'x'));
  f.put("data-sibling/x", std::string(100, 'x'));
  auto r = run_sluice({"du", f.url("data")}, f.env);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(lines_of(r.out),
            (std::vector<std::string>{"30\t2\t" + f.url("data/a/"), "5\t1\t" + f.url("data/b/"),
                                      "36\t4\t" + f.url("data")}))
      << r.out;
  auto s = run_sluice({"du", "-s", f.url("data")}, f.env);
  EXPECT_EQ(s.out, "36\t4\t" + f.url("data") + "\n");
  auto j = run_sluice({"du", "--json", f.url("data")}, f.env);
  ASSERT_EQ(j.exit_code, 0) << describe(j);
  auto v = boost::json::parse(j.out);
  EXPECT_EQ(v.at("bytes").to_number<std::uint64_t>(), 36u);
  EXPECT_EQ(v.at("objects").to_number<std::uint64_t>(), 4u);
  ASSERT_EQ(v.at("prefixes").as_array().size(), 2u) << j.out;
  EXPECT_EQ(v.at("prefixes").as_array()[0].at("prefix").as_string(), f.url("data/a/"));
  EXPECT_EQ(v.at("prefixes").as_array()[0].at("bytes").to_number<std::uint64_t>(), 30u);
}

// ---- presign (its signature is checked against radosgw in cli_radosgw_test.cpp) -----------------

TEST(CliPresign, presign_prints_one_url_with_the_requested_lifetime) {
  shell_fixture f;
  f.make_bucket();
  f.put("k", "v");
  auto r = run_sluice({"presign", f.url("k")}, f.env);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  ASSERT_EQ(lines_of(r.out).size(), 1u) << r.out;
  EXPECT_NE(r.out.find("X-Amz-Expires=3600"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("X-Amz-Signature="), std::string::npos) << r.out;
  auto j = run_sluice({"presign", "--expires-in", "60", "--json", f.url("k")}, f.env);
  ASSERT_EQ(j.exit_code, 0) << describe(j);
  auto v = boost::json::parse(j.out);
  EXPECT_EQ(v.at("expires_in").to_number<std::int64_t>(), 60);
  EXPECT_NE(std::string(v.at("url").as_string()).find("X-Amz-Expires=60"), std::string::npos);
  EXPECT_EQ(j.out.find(f.env.at("AWS_SECRET_ACCESS_KEY")), std::string::npos);
}

// ---- rb --force ---------------------------------------------------------------------------------

TEST(CliBuckets, rb_force_empties_then_removes_and_plain_rb_refuses_a_full_bucket) {
  shell_fixture f;
  f.make_bucket();
  for (int i = 0; i < 30; ++i) f.put("k/" + std::to_string(i), "v");
  auto plain = run_sluice({"rb", f.url()}, f.env);
  EXPECT_EQ(plain.exit_code, 1) << describe(plain);
  EXPECT_EQ(f.keys().size(), 30u);
  auto forced = run_sluice({"rb", "--force", f.url()}, f.env);
  ASSERT_EQ(forced.exit_code, 0) << describe(forced);
  EXPECT_NE(forced.out.find("removed 30 objects"), std::string::npos) << forced.out;
  EXPECT_FALSE(f.client.run(f.client->head_bucket(f.bucket)));
}

// ---- local destinations -------------------------------------------------------------------------

TEST(CliLocal, missing_directories_are_created_and_a_trailing_slash_means_a_directory) {
  shell_fixture f;
  f.make_bucket();
  f.put("runs/r1.nc", "R1");
  auto into = run_sluice({"cp", f.url("runs/r1.nc"), f.dir / "new/dir/"}, f.env);
  ASSERT_EQ(into.exit_code, 0) << describe(into);
  EXPECT_EQ(read_file(f.dir / "new/dir/r1.nc"), "R1");
  auto named = run_sluice({"cp", f.url("runs/r1.nc"), f.dir / "a/b/c.nc"}, f.env);
  ASSERT_EQ(named.exit_code, 0) << describe(named);
  EXPECT_EQ(read_file(f.dir / "a/b/c.nc"), "R1");
  // A parent that is a file: the message names the user's path.
  write_file(f.dir / "file", "x");
  auto blocked = run_sluice({"cp", f.url("runs/r1.nc"), f.dir / "file/sub/c.nc"}, f.env);
  EXPECT_EQ(blocked.exit_code, 1) << describe(blocked);
  EXPECT_EQ(lines_of(blocked.err).size(), 1u) << describe(blocked);
  EXPECT_NE(blocked.err.find(f.dir / "file/sub"), std::string::npos) << blocked.err;
  EXPECT_EQ(blocked.err.find("::"), std::string::npos) << blocked.err;
}

// ---- credentials --------------------------------------------------------------------------------

TEST(CliCredentials, no_credentials_fails_naming_where_it_looked) {
  shell_fixture f;
  f.make_bucket();
  auto env = f.env;
  env.erase("AWS_ACCESS_KEY_ID");
  env.erase("AWS_SECRET_ACCESS_KEY");
  env["AWS_SHARED_CREDENTIALS_FILE"] = f.dir / "no-credentials";
  auto r = run_sluice({"ls", f.url()}, env);
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(lines_of(r.err).size(), 1u) << describe(r);
  for (const std::string& where : {std::string("AWS_ACCESS_KEY_ID"), f.dir / "no-credentials",
                                   std::string("'default'"), std::string("--no-sign-request")})
    EXPECT_NE(r.err.find(where), std::string::npos) << where << "\n" << r.err;
}

// ---- folder markers ------------------------------------------------------------------------------

// Keys ending in '/' (consoles, Hadoop tools) become directories on download and never fail a run.
TEST(CliFolderMarkers, folder_markers_become_directories_and_are_no_failures) {
  shell_fixture f;
  f.make_bucket();
  f.put("m/", "");
  f.put("m/empty/", "");
  f.put("m/d/", "");
  f.put("m/d/f.txt", "F");
  auto cp = run_sluice({"cp", "-r", f.url("m"), f.dir / "down"}, f.env);
  ASSERT_EQ(cp.exit_code, 0) << describe(cp);
  EXPECT_EQ(cp.err, "");
  EXPECT_TRUE(fs::is_directory(f.dir / "down/empty"));
  EXPECT_EQ(read_file(f.dir / "down/d/f.txt"), "F");
  auto sync = run_sluice({"sync", f.url("m"), f.dir / "synced"}, f.env);
  ASSERT_EQ(sync.exit_code, 0) << describe(sync);
  EXPECT_TRUE(fs::is_directory(f.dir / "synced/empty"));
}

// ---- globs -------------------------------------------------------------------------------------

TEST(CliGlobs, ls_and_rm_take_globs_in_the_key) {
  shell_fixture f;
  f.make_bucket();
  for (const char* k : {"a/x.nc", "a/y.nc", "a/y.txt", "a/sub/z.nc", "b/w.nc"}) f.put(k, "v");
  auto one_level = run_sluice({"ls", f.url("a/*.nc")}, f.env);
  ASSERT_EQ(one_level.exit_code, 0) << describe(one_level);
  EXPECT_EQ(lines_of(one_level.out).size(), 2u) << one_level.out;
  auto deep = run_sluice({"ls", f.url("**/*.nc")}, f.env);
  EXPECT_EQ(lines_of(deep.out).size(), 4u) << deep.out;
  // No match: an empty listing, status 1 without a message, as aws s3 ls of a prefix with nothing.
  auto none = run_sluice({"ls", f.url("a/*.zarr")}, f.env);
  EXPECT_EQ(none.exit_code, 1) << describe(none);
  EXPECT_EQ(none.out, "");
  EXPECT_EQ(none.err, "");

  auto rm = run_sluice({"rm", f.url("a/?.nc")}, f.env);
  ASSERT_EQ(rm.exit_code, 0) << describe(rm);
  EXPECT_EQ(f.keys(), (std::set<std::string>{"a/y.txt", "a/sub/z.nc", "b/w.nc"}));
  auto nothing = run_sluice({"rm", f.url("a/*.zarr")}, f.env);
  EXPECT_EQ(nothing.exit_code, 1) << describe(nothing);
  EXPECT_NE(nothing.err.find("matches no key"), std::string::npos) << nothing.err;
}

TEST(CliGlobs, du_counts_only_the_matches_per_first_level_below_the_patterns_directory) {
  shell_fixture f;
  f.make_bucket();
  f.put("runs/a.nc", std::string(10, 'x'));
  f.put("runs/b.txt", std::string(100, 'x'));
  f.put("runs/2024/c.nc", std::string(20, 'x'));
  f.put("runs/2024/d.txt", std::string(1000, 'x'));
  f.put("runs/2025/deep/e.nc", std::string(5, 'x'));
  f.put("runsX/f.nc", std::string(7, 'x'));
  const std::string pattern = f.url("runs/**.nc");
  auto r = run_sluice({"du", pattern}, f.env);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(lines_of(r.out), (std::vector<std::string>{"20\t1\t" + f.url("runs/2024/"),
                                                       "5\t1\t" + f.url("runs/2025/"), "35\t3\t" + pattern}))
      << r.out;
  auto s = run_sluice({"du", "-s", f.url("runs/*.nc")}, f.env);
  EXPECT_EQ(s.out, "10\t1\t" + f.url("runs/*.nc") + "\n") << describe(s);
  auto j = run_sluice({"du", "--json", pattern}, f.env);
  ASSERT_EQ(j.exit_code, 0) << describe(j);
  auto doc = parse_document(j);
  EXPECT_EQ(doc["bytes"].to_number<std::uint64_t>(), 35u) << j.out;
  EXPECT_EQ(doc["objects"].to_number<std::uint64_t>(), 3u) << j.out;
  EXPECT_EQ(doc["prefixes"].as_array().size(), 2u) << j.out;
  // No match counts nothing, as a prefix with nothing under it does.
  auto none = run_sluice({"du", f.url("runs/*.zarr")}, f.env);
  EXPECT_EQ(none.exit_code, 0) << describe(none);
  EXPECT_EQ(none.out, "0\t0\t" + f.url("runs/*.zarr") + "\n");
}

// aws s3 sync takes no globs, and neither does sluice's: refused before any request, naming the URL.
TEST(CliGlobs, sync_refuses_a_glob_on_either_side_naming_it) {
  shell_fixture f;
  f.make_bucket();
  f.put("runs/a.nc", "A");
  fs::create_directory(f.dir / "up");
  write_file(f.dir / "up/x.nc", "X");
  const std::string down = f.dir / "down";
  for (const auto& [args, named] :
       {std::pair{std::vector<std::string>{"sync", f.url("runs/*.nc"), down}, f.url("runs/*.nc")},
        std::pair{std::vector<std::string>{"sync", f.dir / "up", f.url("run?")}, f.url("run?")}}) {
    auto r = run_sluice(args, f.env);
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    expect_one_line_failure(r);
    EXPECT_NE(r.err.find("'" + named + "'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--exclude"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(down));
  EXPECT_EQ(f.keys(), std::set<std::string>{"runs/a.nc"});
}

TEST(CliGlobs, cp_and_mv_copy_every_match_under_the_patterns_directory) {
  shell_fixture f;
  f.make_bucket();
  for (const char* k : {"runs/a.nc", "runs/b.nc", "runs/c.txt", "runs/2024/d.nc", "other/e.nc"}) f.put(k, k);
  auto down = run_sluice({"cp", f.url("runs/*.nc"), f.dir / "flat"}, f.env);
  ASSERT_EQ(down.exit_code, 0) << describe(down);
  EXPECT_EQ(read_file(f.dir / "flat/a.nc"), "runs/a.nc");
  EXPECT_EQ(read_file(f.dir / "flat/b.nc"), "runs/b.nc");
  EXPECT_FALSE(fs::exists(f.dir / "flat/c.txt"));
  EXPECT_FALSE(fs::exists(f.dir / "flat/2024"));
  auto deep = run_sluice({"cp", f.url("runs/**.nc"), f.dir / "deep"}, f.env);
  ASSERT_EQ(deep.exit_code, 0) << describe(deep);
  EXPECT_EQ(read_file(f.dir / "deep/2024/d.nc"), "runs/2024/d.nc");
  auto none = run_sluice({"cp", f.url("runs/*.zarr"), f.dir / "none"}, f.env);
  EXPECT_EQ(none.exit_code, 1) << describe(none);
  EXPECT_NE(none.err.find("matches no key"), std::string::npos) << none.err;

  auto mv = run_sluice({"mv", f.url("runs/?.nc"), f.url("moved/")}, f.env);
  ASSERT_EQ(mv.exit_code, 0) << describe(mv);
  EXPECT_EQ(f.keys(), (std::set<std::string>{"moved/a.nc", "moved/b.nc", "runs/c.txt", "runs/2024/d.nc",
                                             "other/e.nc"}));
}

}  // namespace
