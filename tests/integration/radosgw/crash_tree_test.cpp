// kill -9 at random moments of `sluice cp -r` and `sluice sync`, up and down, then the same command
// again. Right after every kill: every object under the prefix is byte-identical to its file (never a
// partial object), every file at a final name is byte-identical to its object (never a torn file).
// After the rerun: the whole tree is identical, no temporary file or journal is left in the
// destination tree, no multipart upload is left open (ListMultipartUploads) and no upload record is
// left. radosgw, because it keeps multipart uploads as S3 does.
//
// SLUICE_CRASH_SEED sets the seed of the kill moments (else the clock; it is printed).
#include "s3_test_client.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace sluice;
using namespace sluice::testing;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t KiB = 1024, MiB = 1024 * KiB;

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& p, const std::vector<std::byte>& v) {
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size()));
}

bool is_temporary(const fs::path& p) {
  return p.filename().string().find(".sluice-") != std::string::npos;
}

// Files at their final names under `root` (relative path -> content), and the temporaries beside them.
struct tree_state {
  std::map<std::string, std::string> files;
  std::vector<std::string> temporaries;
};
tree_state tree_of(const fs::path& root) {
  tree_state out;
  if (!fs::exists(root)) return out;
  for (auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    const std::string rel = fs::relative(e.path(), root).generic_string();
    if (is_temporary(e.path()))
      out.temporaries.push_back(rel);
    else
      out.files[rel] = read_all(e.path());
  }
  return out;
}

uint64_t crash_seed() {
  if (const char* v = std::getenv("SLUICE_CRASH_SEED"); v && *v) return std::strtoull(v, nullptr, 10);
  return static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) % 1'000'000'007;
}

// Runs `argv` with `env` and kills it with SIGKILL once `ready()` holds (polled every 2 ms, at most
// 60 s). False if it ended on its own first.
template <class Ready>
bool run_until_then_kill(const std::vector<std::string>& argv_s,
                         const std::map<std::string, std::string>& env, Ready ready) {
  pid_t pid = ::fork();
  if (pid == 0) {
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
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
    if (::waitpid(pid, &status, WNOHANG) == pid) return killed;
    if (!killed && (ready() || std::chrono::steady_clock::now() > deadline)) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(killed ? 1 : 2));
  }
}

class CrashTree : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = radosgw_server();
    ASSERT_TRUE(s.has_value());
    server_ = *s;
    client_ = std::make_unique<s3_test_client>(server_);
    ASSERT_TRUE(client_->created()) << client_->created().error().describe();
    bucket_ = unique_bucket_name("crashtree");
    auto made = client_->run((*client_)->create_bucket(bucket_));
    ASSERT_TRUE(made) << made.error().describe();
    dir_ = make_temp_dir("sluice-crash-tree-");
    env_ = cli_environment(server_);
    env_["XDG_STATE_HOME"] = dir_ + "/state";
    seed_ = crash_seed();
    std::printf("crash tree: seed %llu (SLUICE_CRASH_SEED reproduces the kill moments)\n",
                static_cast<unsigned long long>(seed_));
    std::fflush(stdout);
    rng_.seed(seed_);
    // 24 small files in three directories, three that go up in parts of 5 MiB.
    std::mt19937_64 sizes(seed_);
    for (int i = 0; i < 24; ++i) {
      const std::string rel =
          "d" + std::to_string(i % 3) + "/sub" + std::to_string(i % 2) + "/f" + std::to_string(i);
      source_[rel] = test_bytes(sizes() % (300 * KiB), 100 + static_cast<uint64_t>(i));
    }
    for (int i = 0; i < 3; ++i)
      source_["big/b" + std::to_string(i)] =
          test_bytes(11 * MiB + (sizes() % (5 * MiB)), 200 + static_cast<uint64_t>(i));
    for (const auto& [rel, bytes] : source_) write_bytes(src() / rel, bytes);
  }

  void TearDown() override {
    if (client_ && client_->created()) {
      auto page = client_->run((*client_)->list_all(bucket_, ""));
      if (page && !page->objects.empty()) {
        std::vector<std::string> keys;
        for (auto& o : page->objects) keys.push_back(o.key);
        (void)client_->run((*client_)->delete_objects(bucket_, keys));
      }
      for (const auto& u : open_uploads())
        (void)client_->run((*client_)->abort_multipart_upload(bucket_, u.key, u.upload_id));
      (void)client_->run((*client_)->delete_bucket(bucket_));
    }
    remove_tree(dir_);
  }

  fs::path src() const { return fs::path(dir_) / "src"; }
  fs::path dst() const { return fs::path(dir_) / "dst"; }
  std::string url(const std::string& prefix) const { return "s3://" + bucket_ + "/" + prefix; }
  std::string uploads_dir() const { return dir_ + "/state/sluice/uploads"; }

  std::vector<std::string> sluice(std::vector<std::string> args) const {
    // Parts of 5 MiB and 4 requests at once: the big files are multipart uploads in flight for a while.
    args.insert(args.begin(), {SLUICE_CLI_PATH, "--endpoint-url", server_.endpoint_url, "--part-size", "5MiB",
                               "--multipart-threshold", "5MiB", "--concurrency", "4"});
    return args;
  }

  std::vector<s3::multipart_upload_entry> open_uploads() {
    s3::multipart_list_request lr;
    auto page = client_->run((*client_)->list_multipart_uploads(bucket_, lr));
    EXPECT_TRUE(page) << page.error().describe();
    return page ? page->uploads : std::vector<s3::multipart_upload_entry>{};
  }

  // Objects under `prefix`, each read whole: key relative to the prefix -> content.
  std::map<std::string, std::string> objects_under(const std::string& prefix) {
    std::map<std::string, std::string> out;
    auto page = client_->run((*client_)->list_all(bucket_, prefix));
    EXPECT_TRUE(page) << page.error().describe();
    if (!page) return out;
    for (const auto& o : page->objects) {
      auto got = client_->run((*client_)->get_object_bytes(bucket_, o.key));
      EXPECT_TRUE(got) << got.error().describe();
      if (got)
        out[o.key.substr(prefix.size())] =
            std::string(reinterpret_cast<const char*>(got->data.data()), got->data.size());
    }
    return out;
  }

  bool same_as_source(const std::string& rel, const std::string& got) const {
    auto it = source_.find(rel);
    return it != source_.end() && it->second.size() == got.size() &&
           std::memcmp(it->second.data(), got.data(), got.size()) == 0;
  }

  // No object is partial: each one under `prefix` is its source file, byte for byte.
  void expect_no_partial_object(const std::string& prefix, const std::string& when) {
    for (const auto& [rel, bytes] : objects_under(prefix))
      EXPECT_TRUE(same_as_source(rel, bytes))
          << when << ": object " << prefix << rel << " (" << bytes.size() << " bytes) is not its file";
  }

  // No file is torn: each one at a final name in the destination is its source, byte for byte.
  void expect_no_torn_file(const std::string& when) {
    for (const auto& [rel, bytes] : tree_of(dst()).files)
      EXPECT_TRUE(same_as_source(rel, bytes))
          << when << ": file " << rel << " (" << bytes.size() << " bytes) is not its object";
  }

  // The whole tree on both sides, and nothing left behind.
  void expect_complete_and_clean(const std::string& prefix, bool download) {
    if (download) {
      const tree_state t = tree_of(dst());
      EXPECT_EQ(t.files.size(), source_.size());
      for (const auto& [rel, bytes] : source_) {
        auto it = t.files.find(rel);
        EXPECT_TRUE(it != t.files.end() && same_as_source(rel, it->second)) << rel << " missing or different";
      }
      EXPECT_TRUE(t.temporaries.empty())
          << t.temporaries.size() << " temporaries left, e.g. " << t.temporaries.front();
    } else {
      const auto objects = objects_under(prefix);
      EXPECT_EQ(objects.size(), source_.size());
      for (const auto& [rel, bytes] : source_) {
        auto it = objects.find(rel);
        EXPECT_TRUE(it != objects.end() && same_as_source(rel, it->second))
            << prefix << rel << " missing or different";
      }
    }
    const auto open = open_uploads();
    EXPECT_TRUE(open.empty()) << open.size() << " multipart uploads left open, e.g. " << open.front().key;
    // A run killed between CompleteMultipartUpload and the removal of its record leaves the record of
    // a finished upload, which a rerun that skips the object (sync) never visits. Harmless (the
    // next upload of that key drops it) but reported: see docs/reliability.md.
    int records = 0;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(uploads_dir(), ec)) {
      (void)e;
      ++records;
    }
    if (records > 0) std::printf("crash tree: %d records of finished uploads left\n", records);
  }

  // The running command has a multipart upload open: a record written since `since` names its id
  // (records of killed runs stay until a rerun deals with them).
  bool upload_recorded(fs::file_time_type since) const {
    std::error_code ec;
    for (auto& e : fs::directory_iterator(uploads_dir(), ec))
      if (fs::last_write_time(e.path(), ec) >= since &&
          read_all(e.path()).find("\nupload ") != std::string::npos)
        return true;
    return false;
  }
  // The running command is writing a download: a temporary file written since `since`.
  bool download_under_way(fs::file_time_type since) const {
    std::error_code ec;
    for (auto& e : fs::recursive_directory_iterator(dst(), ec))
      if (is_temporary(e.path()) && fs::last_write_time(e.path(), ec) >= since) return true;
    return false;
  }

  // Runs `args` once to completion to learn how long it takes, then kills it four times at random
  // moments of that span and once at `ready`, checking after each kill, then runs it to completion.
  // `reset` undoes a run that finished, so that the next one has work to do (sync skips what is
  // already there).
  template <class Ready, class Check, class Reset>
  void kill_and_rerun(const std::vector<std::string>& args, Ready ready, Check check_after_kill,
                      Reset reset) {
    const auto t0 = std::chrono::steady_clock::now();
    auto whole = run_command(sluice(args), env_);
    const auto span =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    ASSERT_EQ(whole.exit_code, 0) << describe(whole);
    reset();
    int killed = 0;
    for (int i = 0; i < 4; ++i) {
      const auto after = std::chrono::milliseconds(10 + rng_() % static_cast<uint64_t>(span.count()));
      auto r = run_command(sluice(args), env_, "", after);
      if (r.exit_code == 128 + SIGKILL) {
        ++killed;
        check_after_kill("killed after " + std::to_string(after.count()) + " ms");
      } else {
        EXPECT_EQ(r.exit_code, 0) << describe(r);  // it finished first
        check_after_kill("finished before " + std::to_string(after.count()) + " ms");
        reset();
      }
    }
    const auto started = fs::file_time_type::clock::now();
    if (run_until_then_kill(sluice(args), env_, [&] { return ready(started); })) {
      ++killed;
      check_after_kill("killed mid-transfer");
    }
    EXPECT_GE(killed, 1) << "no run was killed: nothing was tested";
    std::printf("crash tree: a whole run takes %lld ms; %d of 5 runs killed\n",
                static_cast<long long>(span.count()), killed);
    std::fflush(stdout);
    auto rerun = run_command(sluice(args), env_);
    ASSERT_EQ(rerun.exit_code, 0) << describe(rerun);
  }

  // Removes every object under `prefix` (uploads left open stay: the rerun deals with them).
  void remove_objects(const std::string& prefix) {
    auto page = client_->run((*client_)->list_all(bucket_, prefix));
    ASSERT_TRUE(page) << page.error().describe();
    std::vector<std::string> keys;
    for (auto& o : page->objects) keys.push_back(o.key);
    if (keys.empty()) return;
    auto removed = client_->run((*client_)->delete_objects(bucket_, keys));
    ASSERT_TRUE(removed) << removed.error().describe();
  }

  // Puts the source tree under `prefix` with nothing killed.
  void upload_tree(const std::string& prefix) {
    auto r = run_command(sluice({"cp", "-r", src().string(), url(prefix)}), env_);
    ASSERT_EQ(r.exit_code, 0) << describe(r);
  }

  s3_server server_;
  std::unique_ptr<s3_test_client> client_;
  std::string bucket_, dir_;
  std::map<std::string, std::string> env_;
  std::map<std::string, std::vector<std::byte>> source_;
  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
};

TEST_F(CrashTree, killed_cp_r_up_never_leaves_a_partial_object_and_the_rerun_completes_and_cleans_up) {
  kill_and_rerun(
      {"cp", "-r", src().string(), url("up/")}, [&](fs::file_time_type t) { return upload_recorded(t); },
      [&](const std::string& when) { expect_no_partial_object("up/", when); },
      [&] { remove_objects("up/"); });
  expect_complete_and_clean("up/", false);
}

TEST_F(CrashTree, killed_sync_up_never_leaves_a_partial_object_and_the_rerun_completes_and_cleans_up) {
  kill_and_rerun(
      {"sync", src().string(), url("up/")}, [&](fs::file_time_type t) { return upload_recorded(t); },
      [&](const std::string& when) { expect_no_partial_object("up/", when); },
      [&] { remove_objects("up/"); });
  expect_complete_and_clean("up/", false);
}

TEST_F(CrashTree, killed_cp_r_down_never_leaves_a_torn_file_and_the_rerun_completes_and_cleans_up) {
  ASSERT_NO_FATAL_FAILURE(upload_tree("down/"));
  kill_and_rerun(
      {"cp", "-r", url("down/"), dst().string()}, [&](fs::file_time_type t) { return download_under_way(t); },
      [&](const std::string& when) { expect_no_torn_file(when); }, [&] { remove_tree(dst().string()); });
  expect_complete_and_clean("down/", true);
}

TEST_F(CrashTree, killed_sync_down_never_leaves_a_torn_file_and_the_rerun_completes_and_cleans_up) {
  ASSERT_NO_FATAL_FAILURE(upload_tree("down/"));
  kill_and_rerun(
      {"sync", url("down/"), dst().string()}, [&](fs::file_time_type t) { return download_under_way(t); },
      [&](const std::string& when) { expect_no_torn_file(when); }, [&] { remove_tree(dst().string()); });
  expect_complete_and_clean("down/", true);
}

}  // namespace
