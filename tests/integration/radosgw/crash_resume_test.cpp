// kill -9 at random moments of `sluice cp` up and down, then the same command again: the rerun
// completes, the result is byte-identical, nothing is left behind (no temporary file, no journal,
// no open multipart upload), and a resumed download fetches fewer bytes than the whole object.
// Also `sluice cleanup`. radosgw, because it keeps multipart uploads as S3 does.
#include "cli_test_support.hpp"

#include <sluice/engine/integrity/xxh3.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace sluice;
using namespace sluice::testing;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t MiB = 1024 * 1024;

bool same(const std::string& got, const std::vector<std::byte>& want) {
  return got.size() == want.size() && std::memcmp(got.data(), want.data(), want.size()) == 0;
}

// Names in `dir` a sluice run leaves while it works (".NAME.sluice-XXXXXX" and its journal).
std::vector<std::string> leftovers(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.find(".sluice-") != std::string::npos) out.push_back(n);
  }
  return out;
}

// Parts other than the first that the journals in `dir` name (the first is fetched again anyway).
std::size_t journal_records(const std::string& dir) {
  std::set<uint64_t> parts;
  for (const auto& n : leftovers(dir)) {
    if (!n.ends_with(".journal")) continue;
    std::istringstream text(read_file(dir + "/" + n));
    std::string line;
    std::getline(text, line);  // the header
    while (std::getline(text, line) && !text.eof()) {
      const uint64_t index = std::strtoull(line.c_str(), nullptr, 10);
      if (index > 0) parts.insert(index);
    }
  }
  return parts.size();
}

uint64_t json_number(const std::string& out, const std::string& field) {
  const auto at = out.find("\"" + field + "\":");
  if (at == std::string::npos) return UINT64_MAX;
  return std::strtoull(out.c_str() + at + field.size() + 3, nullptr, 10);
}

struct crash_fixture : radosgw_cli_fixture {
  crash_fixture() : radosgw_cli_fixture("crash") {}
  temp_dir state{"sluice-crash-state-"};  // XDG_STATE_HOME: the upload records

  bool start() {
    if (!radosgw_cli_fixture::start()) return false;
    env["XDG_STATE_HOME"] = state.path;
    return true;
  }
  std::vector<s3::multipart_upload_entry> open_uploads(const std::string& prefix = "") {
    s3::multipart_list_request lr;
    lr.prefix = prefix;
    auto page = client->run((*client)->list_multipart_uploads(bucket, lr));
    EXPECT_TRUE(page) << page.error().describe();
    return page ? page->uploads : std::vector<s3::multipart_upload_entry>{};
  }
  std::string begin_upload(const std::string& key) {
    auto id = client->run((*client)->create_multipart_upload(bucket, key));
    EXPECT_TRUE(id) << id.error().describe();
    return id ? *id : "";
  }
};

// The object `key` holds exactly `data`, read back through the client.
void expect_object_holds(crash_fixture& f, const std::string& key, const std::vector<std::byte>& data) {
  auto got = f.client->run((*f.client)->get_object_bytes(f.bucket, key));
  ASSERT_TRUE(got) << got.error().describe();
  ASSERT_EQ(got->data.size(), data.size());
  EXPECT_EQ(std::memcmp(got->data.data(), data.data(), data.size()), 0);
}

// `sluice cp` of `src` to `url` in 8 MiB parts, one at a time, with a JSON summary.
std::vector<std::string> multipart_cp(const fs::path& src, const std::string& url) {
  return {"cp",   "--json",        "--part-size", "8MiB", "--multipart-threshold",
          "8MiB", "--concurrency", "1",           src,    url};
}

std::vector<std::string> with_endpoint(const crash_fixture& f, std::vector<std::string> args) {
  args.insert(args.begin(), {SLUICE_CLI_PATH, "--endpoint-url", f.server.endpoint_url});
  return args;
}

// Runs sluice and kills it with SIGKILL after `after`, unless it ended first.
command_result run_killed_after(const crash_fixture& f, const std::vector<std::string>& args,
                                std::chrono::milliseconds after) {
  return run_command(with_endpoint(f, args), f.env, "", after);
}

// Runs sluice and kills it with SIGKILL once `ready()` holds (polled every millisecond, at most 60 s);
// true when the kill ended it (not a run that exited just before the signal landed).
// Returns false if it ended on its own first.
template <class Ready>
bool run_until_then_kill(const crash_fixture& f, const std::vector<std::string>& args, Ready ready) {
  const auto argv_s = with_endpoint(f, args);
  pid_t pid = ::fork();
  if (pid == 0) {
    for (const auto& [k, v] : f.env) ::setenv(k.c_str(), v.c_str(), 1);
    ::unsetenv("AWS_PROFILE");
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool killed = false;
  for (;;) {
    int status = 0;
    // Killed only if the signal ended it: a run that exited just before the kill lands was not.
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    if (!killed && (ready() || std::chrono::steady_clock::now() > deadline)) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// run_until_then_kill until a run is killed (true), at most `attempts` times: a run that finishes
// before `ready` is seen (a fast machine moves 64 MiB in tens of milliseconds) has its result at
// `final_path` removed and is run again.
template <class Ready>
bool kill_once_ready(const crash_fixture& f, const std::vector<std::string>& args, Ready ready,
                     const std::string& final_path, int attempts = 20) {
  for (int i = 0; i < attempts; ++i) {
    if (run_until_then_kill(f, args, ready)) return true;
    fs::remove(final_path);
  }
  return false;
}

TEST(CrashResume, cleanup_lists_and_aborts_open_uploads_by_prefix_age_and_dryrun) {
  crash_fixture f;
  ASSERT_TRUE(f.start());
  const std::string a = f.begin_upload("runs/a.nc");
  const std::string b = f.begin_upload("other/b.nc");
  ASSERT_EQ(f.open_uploads().size(), 2u);

  auto dry = run_command(with_endpoint(f, {"cleanup", f.url(), "--dryrun", "--json"}), f.env);
  ASSERT_EQ(dry.exit_code, 0) << describe(dry);
  EXPECT_EQ(json_number(dry.out, "found"), 2u) << dry.out;
  EXPECT_EQ(json_number(dry.out, "aborted"), 0u) << dry.out;
  EXPECT_NE(dry.out.find(a), std::string::npos) << dry.out;
  EXPECT_EQ(f.open_uploads().size(), 2u);  // a dry run changes nothing

  auto young = run_command(with_endpoint(f, {"cleanup", f.url(), "--older-than", "1h"}), f.env);
  ASSERT_EQ(young.exit_code, 0) << describe(young);
  EXPECT_NE(young.out.find("0 open uploads found"), std::string::npos) << young.out;
  EXPECT_EQ(f.open_uploads().size(), 2u);

  auto runs = run_command(with_endpoint(f, {"cleanup", f.url("runs/")}), f.env);
  ASSERT_EQ(runs.exit_code, 0) << describe(runs);
  EXPECT_NE(runs.out.find("aborted " + f.url("runs/a.nc")), std::string::npos) << runs.out;
  auto left = f.open_uploads();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].upload_id, b);

  auto all = run_command(with_endpoint(f, {"cleanup", f.url(), "--older-than", "0s", "--json"}), f.env);
  ASSERT_EQ(all.exit_code, 0) << describe(all);
  EXPECT_EQ(json_number(all.out, "aborted"), 1u) << all.out;
  EXPECT_TRUE(f.open_uploads().empty());

  auto bad = run_command(with_endpoint(f, {"cleanup", f.url(), "--older-than", "5x"}), f.env);
  EXPECT_EQ(bad.exit_code, 2) << describe(bad);
}

// Each rerun finds the records of the killed runs (XDG_STATE_HOME): the last upload of the same file
// is taken over (the parts the server holds are not sent again), the others aborted.
TEST(CrashResume, killed_uploads_are_taken_over_or_aborted_by_the_rerun_and_never_left_open) {
  crash_fixture f;
  ASSERT_TRUE(f.start());
  temp_dir dir;
  const auto data = test_bytes(64 * MiB + 12345, 7);
  write_file(dir / "big.bin", as_span(data));
  const std::vector<std::string> cp = {
      "cp", "--part-size",   "8MiB",          "--multipart-threshold", "8MiB", "--concurrency",
      "2",  dir / "big.bin", f.url("big.bin")};
  std::mt19937 rng(12345);
  int killed = 0;
  for (int i = 0; i < 4; ++i) {
    auto r = run_killed_after(f, cp, std::chrono::milliseconds(100 + rng() % 900));
    if (r.exit_code == 128 + SIGKILL) ++killed;
  }
  // One killed for sure, mid-upload: once a record names an upload CreateMultipartUpload began and
  // this run wrote it (a new record, or a taken-over one it added to). A record the random kills
  // left behind does not count: one whose upload was completed just before its run was killed
  // would otherwise make every attempt kill its run before the run did anything.
  const std::string uploads = f.state.path + "/sluice/uploads";
  auto records = [&] {
    std::map<std::string, std::string> out;
    if (fs::exists(uploads))
      for (auto& e : fs::directory_iterator(uploads)) out[e.path().string()] = read_file(e.path().string());
    return out;
  };
  std::map<std::string, std::string> before;
  auto recorded = [&] {
    for (const auto& [path, text] : records()) {
      if (text.find("\nupload ") == std::string::npos) continue;
      auto old = before.find(path);
      if (old == before.end() || old->second != text) return true;
    }
    return false;
  };
  // On a loaded machine the kill can land after the upload completed (the run taking over an
  // upload a random kill left needs few parts): then again, until one is left open. An upload has
  // no local result to remove between attempts.
  bool left_open = false;
  for (int attempt = 0; attempt < 10 && !left_open; ++attempt) {
    before = records();
    if (kill_once_ready(f, cp, recorded, dir / "not-a-download")) ++killed;
    left_open = !f.open_uploads().empty();
  }
  EXPECT_GE(killed, 1);
  EXPECT_TRUE(left_open) << "no kill left an upload open: nothing to clean up";
  // A kill between a record's creation and its first line leaves it empty; a run removes such a
  // record once it is a minute old (younger, it may be a live run's about to be written:
  // upload_journal_test). Age them as that minute would, so the rerun below owes nothing to timing.
  if (fs::exists(uploads))
    for (auto& e : fs::directory_iterator(uploads))
      if (fs::is_empty(e.path())) {
        const auto then = fs::last_write_time(e.path()) - std::chrono::minutes(2);
        fs::last_write_time(e.path(), then);
      }

  auto rerun = run_command(with_endpoint(f, cp), f.env);
  ASSERT_EQ(rerun.exit_code, 0) << describe(rerun);
  EXPECT_TRUE(f.open_uploads().empty()) << f.open_uploads().size() << " multipart uploads left open";
  {
    std::string left;  // what each record left says, for the diagnosis
    for (auto& e : fs::directory_iterator(uploads))
      left += "\n--- " + e.path().filename().string() + ":\n" + read_file(e.path().string());
    EXPECT_TRUE(fs::is_empty(uploads))
        << "upload records left in " << uploads << left << "\nrerun: " << describe(rerun);
  }
  expect_object_holds(f, "big.bin", data);
}

TEST(CrashResume, killed_downloads_resume_and_fetch_fewer_bytes_than_the_whole) {
  crash_fixture f;
  ASSERT_TRUE(f.start());
  temp_dir dir;
  // 33 parts: the journal is checkpointed every 16 parts or 250 ms, so on a fast machine too a
  // kill can come after parts beyond the first are journaled and before the last arrives.
  const auto data = test_bytes(256 * MiB + 777, 11);
  write_file(dir / "src.bin", as_span(data));
  auto up =
      run_command(with_endpoint(f, {"cp", "--part-size", "8MiB", dir / "src.bin", f.url("big.bin")}), f.env);
  ASSERT_EQ(up.exit_code, 0) << describe(up);

  const std::string out_dir = dir / "out";
  fs::create_directories(out_dir);
  const std::vector<std::string> cp = {"cp", "--part-size", "8MiB",           "--concurrency",
                                       "2",  "--json",      f.url("big.bin"), out_dir + "/big.bin"};
  std::mt19937 rng(54321);
  for (int i = 0; i < 4; ++i) {
    auto r = run_killed_after(f, cp, std::chrono::milliseconds(100 + rng() % 900));
    // Whole or nothing at the final name: a run that finished, or was killed after its rename and
    // before it exited (a loaded machine has done that), leaves the whole object; start over then.
    if (fs::exists(out_dir + "/big.bin")) {
      EXPECT_TRUE(same(read_file(out_dir + "/big.bin"), data))
          << "a torn file at the final name (the run's exit status: " << r.exit_code << ")";
      fs::remove(out_dir + "/big.bin");
    }
  }
  // Killed for sure once at least 4 parts after the first are journaled (and so on disk).
  ASSERT_TRUE(kill_once_ready(
      f, cp, [&] { return journal_records(out_dir) >= 4; }, out_dir + "/big.bin"));
  EXPECT_FALSE(fs::exists(out_dir + "/big.bin"));
  EXPECT_GE(journal_records(out_dir), 4u);

  auto rerun = run_command(with_endpoint(f, cp), f.env);
  ASSERT_EQ(rerun.exit_code, 0) << describe(rerun);
  EXPECT_TRUE(same(read_file(out_dir + "/big.bin"), data));
  EXPECT_TRUE(leftovers(out_dir).empty()) << leftovers(out_dir).front();
  const uint64_t received = json_number(rerun.out, "received_bytes");
  EXPECT_LE(received, data.size() - 4 * 8 * MiB) << rerun.out;  // the journaled parts were not fetched
}

TEST(CrashResume, a_download_of_a_changed_object_starts_over) {
  crash_fixture f;
  ASSERT_TRUE(f.start());
  temp_dir dir;
  // 32 parts: the journal is checkpointed every 16 parts or 250 ms (writer_options), so parts
  // after the first are journaled mid-download however fast the machine moves them.
  const auto first = test_bytes(256 * MiB, 1);
  const auto second = test_bytes(256 * MiB, 2);
  write_file(dir / "one.bin", as_span(first));
  write_file(dir / "two.bin", as_span(second));
  // In parts: a composite hash, which a resumed download can check part by part.
  const std::vector<std::string> parts = {"--part-size", "8MiB", "--multipart-threshold", "8MiB"};
  auto up_args = [&](const std::string& file) {
    std::vector<std::string> a = {"cp", file, f.url("x.bin")};
    a.insert(a.begin() + 1, parts.begin(), parts.end());
    return a;
  };
  auto up = run_command(with_endpoint(f, up_args(dir / "one.bin")), f.env);
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  const std::vector<std::string> cp = {"cp", "--part-size", "8MiB",         "--concurrency",
                                       "1",  "--json",      f.url("x.bin"), dir / "x.bin"};
  ASSERT_TRUE(kill_once_ready(
      f, cp, [&] { return journal_records(dir.path) >= 2; }, dir / "x.bin"));

  up = run_command(with_endpoint(f, up_args(dir / "two.bin")), f.env);  // a new ETag
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  auto rerun = run_command(with_endpoint(f, cp), f.env);
  ASSERT_EQ(rerun.exit_code, 0) << describe(rerun);
  EXPECT_TRUE(same(read_file(dir / "x.bin"), second));
  EXPECT_GE(json_number(rerun.out, "received_bytes"), second.size()) << rerun.out;
  EXPECT_TRUE(leftovers(dir.path).empty()) << leftovers(dir.path).front();
}

}  // namespace

namespace {

std::size_t recorded_parts(const std::string& uploads) {
  std::size_t n = 0;
  if (!fs::exists(uploads)) return 0;
  for (auto& e : fs::directory_iterator(uploads)) {
    const std::string text = read_file(e.path().string());
    for (auto at = text.find("\npart "); at != std::string::npos; at = text.find("\npart ", at + 1)) ++n;
  }
  return n;
}

// The rerun of a killed upload of the same file takes its multipart upload over: the parts the
// server already holds are not sent again, so it sends fewer requests than an upload from scratch.
TEST(CrashResume, a_killed_upload_of_the_same_file_is_taken_over_and_sends_fewer_requests) {
  crash_fixture f;
  ASSERT_TRUE(f.start());
  temp_dir dir;
  const auto data = test_bytes(96 * MiB + 5, 21);
  write_file(dir / "big.bin", as_span(data));
  auto cp = [&](const std::string& key) { return multipart_cp(dir / "big.bin", f.url(key)); };
  auto fresh = run_command(with_endpoint(f, cp("fresh.bin")), f.env);
  ASSERT_EQ(fresh.exit_code, 0) << describe(fresh);
  const uint64_t fresh_requests = json_number(fresh.out, "requests");

  const std::string uploads = f.state.path + "/sluice/uploads";
  ASSERT_TRUE(kill_once_ready(
      f, cp("taken.bin"), [&] { return recorded_parts(uploads) >= 4; }, dir / "not-a-download"));
  ASSERT_EQ(f.open_uploads().size(), 1u);

  auto rerun = run_command(with_endpoint(f, cp("taken.bin")), f.env);
  ASSERT_EQ(rerun.exit_code, 0) << describe(rerun);
  EXPECT_LE(json_number(rerun.out, "requests") + 3, fresh_requests) << rerun.out << "\nfresh: " << fresh.out;
  EXPECT_TRUE(f.open_uploads().empty());
  EXPECT_TRUE(fs::is_empty(uploads));
  expect_object_holds(f, "taken.bin", data);
}

// A run that takes over an upload and is killed before it removes the record it took over leaves
// two records of one upload (the old one, and its own naming the same upload). The next run takes
// the upload over with the parts either records, and removes both (before, the one it did not pick
// stayed for ever: the final check of the test above failed so under a loaded TSan run). The second
// record is written here as that kill leaves it, so the case does not hang on a kill's timing.
TEST(CrashResume, two_records_of_one_upload_are_both_taken_over_and_both_removed) {
  crash_fixture f;
  ASSERT_TRUE(f.start());
  temp_dir dir;
  const auto data = test_bytes(64 * MiB + 4321, 9);
  write_file(dir / "big.bin", as_span(data));
  auto cp_to = [&](const std::string& key) { return multipart_cp(dir / "big.bin", f.url(key)); };
  // What a whole upload costs in requests, for comparison.
  auto whole = run_command(with_endpoint(f, cp_to("whole.bin")), f.env);
  ASSERT_EQ(whole.exit_code, 0) << describe(whole);
  const uint64_t whole_requests = json_number(whole.out, "requests");
  ASSERT_NE(whole_requests, UINT64_MAX) << whole.out;

  const std::string uploads = f.state.path + "/sluice/uploads";
  auto record_texts = [&] {
    std::map<std::string, std::string> out;
    if (fs::exists(uploads))
      for (auto& e : fs::directory_iterator(uploads)) out[e.path().string()] = read_file(e.path().string());
    return out;
  };
  // Killed once its record names at least 3 sent parts.
  ASSERT_TRUE(kill_once_ready(
      f, cp_to("big.bin"), [&] { return recorded_parts(uploads) >= 3; }, dir / "not-a-download"));
  auto left = record_texts();
  ASSERT_EQ(left.size(), 1u);
  const auto& [first_path, first_text] = *left.begin();
  ASSERT_EQ(f.open_uploads("big.bin").size(), 1u);
  // The second record: the same header and upload, no parts (written by a run killed just after it
  // named the upload it took over), beside the first under the same key's prefix.
  const auto upload_line = first_text.find("\nupload ");
  ASSERT_NE(upload_line, std::string::npos) << first_text;
  const std::string second_text = first_text.substr(0, first_text.find('\n', upload_line + 1) + 1);
  const std::string name = fs::path(first_path).filename().string();
  const std::string second_path = uploads + "/" + name.substr(0, name.find('-') + 1) + "second.upload";
  write_file(second_path, std::as_bytes(std::span(second_text.data(), second_text.size())));

  auto rerun = run_command(with_endpoint(f, cp_to("big.bin")), f.env);
  ASSERT_EQ(rerun.exit_code, 0) << describe(rerun);
  EXPECT_TRUE(f.open_uploads().empty()) << f.open_uploads().size() << " multipart uploads left open";
  std::string texts;
  for (const auto& [path, text] : record_texts()) texts += "\n--- " + path + ":\n" + text;
  EXPECT_TRUE(texts.empty()) << "upload records left:" << texts;
  // The parts the first record names were not sent again, whichever record the rerun picked.
  const uint64_t requests = json_number(rerun.out, "requests");
  EXPECT_LE(requests + 3, whole_requests) << rerun.out << "\nwhole: " << whole.out;
  expect_object_holds(f, "big.bin", data);
}

}  // namespace
