// Object verbs over stores without a server: glob, du, copy_tree and sync
// between memory and local directories, and the path-safety guard.
#include <sluice/engine/runtime/engine.hpp>
#include <sluice/objects/glob.hpp>
#include <sluice/objects/objects.hpp>
#include <sluice/objects/tree.hpp>
#include <sluice/store/file.hpp>
#include <sluice/store/memory.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

namespace {

using namespace sluice;
namespace fs = std::filesystem;
using objects::glob_match;

TEST(Glob, stars_stop_at_slashes_and_double_stars_cross_them) {
  EXPECT_TRUE(glob_match("a/*.nc", "a/x.nc"));
  EXPECT_FALSE(glob_match("a/*.nc", "a/b/x.nc"));
  EXPECT_TRUE(glob_match("a/**.nc", "a/b/x.nc"));
  EXPECT_TRUE(glob_match("a/**/x.nc", "a/x.nc")) << "'**/' also matches no segment";
  EXPECT_TRUE(glob_match("a/**/x.nc", "a/b/c/x.nc"));
  EXPECT_FALSE(glob_match("a/**/x.nc", "a/b/c/y.nc"));
  EXPECT_TRUE(glob_match("run?/out", "run1/out"));
  EXPECT_FALSE(glob_match("run?/out", "run/out"));
  EXPECT_FALSE(glob_match("a?b", "a/b")) << "'?' never matches '/'";
  EXPECT_TRUE(glob_match("f[0-9][!a-c].txt", "f1d.txt"));
  EXPECT_FALSE(glob_match("f[0-9][!a-c].txt", "f1b.txt"));
  EXPECT_TRUE(glob_match("lit\\*eral", "lit*eral"));
  EXPECT_FALSE(glob_match("lit\\*eral", "litXeral"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_FALSE(glob_match("abc", "abcd"));
  EXPECT_EQ(objects::literal_prefix("data/2024-*/x?.nc"), "data/2024-");
  EXPECT_EQ(objects::literal_prefix("a\\*b*"), "a*b");
}

class Objects : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-objects-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    mem_ = store::make_memory_store();
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::shared_ptr<store::store> files(const std::string& name) {
    auto s = store::open_file_store((dir_ / name).string());
    EXPECT_TRUE(s) << s.error().describe();
    return s ? *s : nullptr;
  }
  void put(store::store& s, const std::string& key, std::string_view v) {
    std::vector<std::byte> b(v.size());
    std::memcpy(b.data(), v.data(), v.size());
    auto g = eng_.run(s.write(key, b));
    ASSERT_TRUE(g) << key << ": " << g.error().describe();
  }
  std::string get(store::store& s, const std::string& key) {
    auto r = eng_.run(s.read(key));
    EXPECT_TRUE(r) << r.error().describe();
    if (!r || r->state != store::read_state::value) return "<missing>";
    return std::string(reinterpret_cast<const char*>(r->bytes.data()), r->bytes.size());
  }
  std::set<std::string> keys(store::store& s, const std::string& prefix = "") {
    std::set<std::string> out;
    store::list_callback cb = [&](store::list_page& p) -> result<bool> {
      for (auto& e : p.entries) out.insert(e.key);
      return true;
    };
    EXPECT_TRUE(eng_.run(s.list(prefix, store::list_all, cb)));
    return out;
  }

  engine eng_{engine::options{1}};
  fs::path dir_;
  std::shared_ptr<store::store> mem_;
};

TEST_F(Objects, glob_streams_matches_and_du_counts_only_what_the_prefix_covers) {
  for (const char* k : {"data/2024/a.nc", "data/2024/b.txt", "data/2024/sub/c.nc", "data/exp", "data/exp/1",
                        "data/experiment2/x"})
    put(*mem_, k, "12345");
  std::vector<std::string> hits;
  objects::match_callback take = [&](const store::entry& e) -> result<bool> {
    hits.push_back(e.key);
    return true;
  };
  ASSERT_TRUE(eng_.run(objects::glob(*mem_, "data/2024/*.nc", take)));
  EXPECT_EQ(hits, std::vector<std::string>{"data/2024/a.nc"});
  hits.clear();
  ASSERT_TRUE(eng_.run(objects::glob(*mem_, "data/**.nc", take)));
  EXPECT_EQ(hits, (std::vector<std::string>{"data/2024/a.nc", "data/2024/sub/c.nc"}));
  auto bad = eng_.run(objects::glob(*mem_, "data/[abc", take));
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().code == condition::invalid_argument);
  auto u = eng_.run(objects::du(*mem_, "data/exp"));
  ASSERT_TRUE(u) << u.error().describe();
  EXPECT_EQ(u->objects, 2u) << "data/exp and data/exp/1, never data/experiment2";
  EXPECT_EQ(u->bytes, 10u);
}

TEST_F(Objects, du_matching_counts_only_matches_per_first_level_below_the_patterns_directory) {
  for (const char* k : {"runs/a.nc", "runs/b.txt", "runs/2024/c.nc", "runs/2024/d.nc", "runs/2025/deep/e.nc",
                        "runs/2025/f.txt", "runsX/g.nc"})
    put(*mem_, k, "12345");
  auto deep = eng_.run(objects::du_matching(*mem_, "runs/**.nc"));
  ASSERT_TRUE(deep) << deep.error().describe();
  EXPECT_EQ(deep->total.objects, 4u) << "a.nc, c.nc, d.nc, e.nc; never runsX/";
  EXPECT_EQ(deep->total.bytes, 20u);
  ASSERT_EQ(deep->prefixes.size(), 2u);
  EXPECT_EQ(deep->prefixes[0].first, "2024/");
  EXPECT_EQ(deep->prefixes[0].second.objects, 2u);
  EXPECT_EQ(deep->prefixes[1].first, "2025/");
  EXPECT_EQ(deep->prefixes[1].second.objects, 1u);
  auto one_level = eng_.run(objects::du_matching(*mem_, "runs/*.nc"));
  ASSERT_TRUE(one_level) << one_level.error().describe();
  EXPECT_EQ(one_level->total.objects, 1u);
  EXPECT_TRUE(one_level->prefixes.empty());
  auto none = eng_.run(objects::du_matching(*mem_, "runs/*.zarr"));
  ASSERT_TRUE(none) << none.error().describe();
  EXPECT_EQ(none->total.objects, 0u);
  EXPECT_EQ(objects::literal_directory("runs/20*/x.nc"), "runs/");
  EXPECT_EQ(objects::literal_directory("*.nc"), "");
}

TEST_F(Objects, copy_tree_between_memory_and_a_directory_keeps_every_byte_and_layout) {
  put(*mem_, "in/a.txt", "alpha");
  put(*mem_, "in/sub/b.txt", "beta");
  put(*mem_, "in-sibling/c.txt", "not copied");
  auto disk = files("out");
  auto r = eng_.run(objects::copy_tree(*mem_, "in", *disk, "copy"));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->copied, 2u);
  EXPECT_EQ(r->bytes, 9u);
  EXPECT_TRUE(r->failures.empty());
  std::ifstream f(dir_ / "out" / "copy" / "sub" / "b.txt");
  std::string line;
  std::getline(f, line);
  EXPECT_EQ(line, "beta");
  // And back, into another prefix of memory.
  auto back = eng_.run(objects::copy_tree(*disk, "copy", *mem_, "back"));
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(keys(*mem_, "back/"), (std::set<std::string>{"back/a.txt", "back/sub/b.txt"}));
  EXPECT_EQ(get(*mem_, "back/a.txt"), "alpha");
}

TEST_F(Objects, keys_that_would_leave_the_destination_are_refused_and_folder_markers_skipped) {
  for (const char* k : {"p/ok.txt", "p/../../escape.txt", "p/a//b.txt", "p/./dot.txt", "p/marker/"})
    put(*mem_, k, "x");
  auto disk = files("dest");
  auto r = eng_.run(objects::copy_tree(*mem_, "p", *disk, ""));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->copied, 1u);
  EXPECT_EQ(r->markers, 1u);
  ASSERT_EQ(r->refused.size(), 3u);
  std::set<std::string> refused;
  for (auto& f : r->refused) refused.insert(f.key);
  EXPECT_EQ(refused, (std::set<std::string>{"p/../../escape.txt", "p/a//b.txt", "p/./dot.txt"}));
  EXPECT_FALSE(fs::exists(dir_ / "escape.txt"));
  EXPECT_FALSE(fs::exists(dir_.parent_path() / "escape.txt"));
  EXPECT_EQ(keys(*disk), std::set<std::string>{"ok.txt"});
}

TEST_F(Objects, the_case_probe_finds_this_file_system_case_sensitive_and_leaves_nothing) {
  // Linux file systems here are case-sensitive (a case-insensitive one, vfat or a casefold
  // directory, cannot be mounted on the test machines: the fold itself is forced below).
  fs::create_directories(dir_ / "probe");
  EXPECT_FALSE(objects::names_fold_case(dir_ / "probe"));
  EXPECT_FALSE(objects::names_fold_case(dir_ / "probe" / "not" / "made" / "yet"));
  EXPECT_TRUE(fs::is_empty(dir_ / "probe")) << "the probe file is removed";
}

TEST_F(Objects, the_case_probe_reads_names_already_there_without_writing_to_the_directory) {
  fs::create_directories(dir_ / "named");
  std::ofstream(dir_ / "named" / "Data.bin") << "x";
  // Changing the directory (making and removing a probe) would move its modification time.
  const auto before = fs::last_write_time(dir_ / "named") - std::chrono::hours(1);
  fs::last_write_time(dir_ / "named", before);
  EXPECT_FALSE(objects::names_fold_case(dir_ / "named"));
  EXPECT_EQ(fs::last_write_time(dir_ / "named"), before) << "nothing was made in the directory";
  // Both spellings held as two files: a case-sensitive directory, even looked up by one of them.
  std::ofstream(dir_ / "named" / "dATA.BIN") << "y";
  EXPECT_FALSE(objects::names_fold_case(dir_ / "named"));
}

TEST_F(Objects, a_case_probe_left_by_a_killed_run_is_removed_and_a_live_one_is_kept) {
  fs::create_directories(dir_ / "left");
  const fs::path abandoned = dir_ / "left" / ".sluice-case-probe-99999-0-a";
  const fs::path live = dir_ / "left" / ".sluice-case-probe-99998-0-a";
  std::ofstream(abandoned).put('\0');
  std::ofstream(live).put('\0');
  const int fd = ::open(live.c_str(), O_RDONLY | O_CLOEXEC);  // a run still probing holds its lock
  ASSERT_GE(fd, 0);
  const int locked = ::flock(fd, LOCK_EX | LOCK_NB);
  ASSERT_EQ(locked, 0);
  EXPECT_FALSE(objects::names_fold_case(dir_ / "left"));
  EXPECT_FALSE(fs::exists(abandoned)) << "an unlocked probe is a killed run's";
  EXPECT_TRUE(fs::exists(live)) << "a locked probe belongs to a run still probing";
  ::close(fd);
  EXPECT_FALSE(objects::names_fold_case(dir_ / "left"));
  EXPECT_TRUE(fs::is_empty(dir_ / "left"));
}

TEST_F(Objects, keys_one_case_insensitive_file_system_would_merge_are_refused_not_overwritten) {
  put(*mem_, "p/Data/README.txt", "first");
  put(*mem_, "p/data/readme.txt", "second");
  put(*mem_, "p/other.txt", "fine");
  auto disk = files("ci");
  objects::tree_options o;
  o.fold_case = true;  // as on vfat, or a casefold directory
  auto r = eng_.run(objects::copy_tree(*mem_, "p", *disk, "", o));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->copied, 2u);
  ASSERT_EQ(r->refused.size(), 1u);
  EXPECT_EQ(r->refused[0].key, "p/data/readme.txt");
  EXPECT_NE(r->refused[0].err.message.find("p/Data/README.txt"), std::string::npos)
      << r->refused[0].err.message;
  EXPECT_NE(r->refused[0].err.message.find("ignores case"), std::string::npos) << r->refused[0].err.message;
  EXPECT_EQ(get(*disk, "Data/README.txt"), "first");

  // On a case-sensitive file system both are files of their own.
  auto cs = files("cs");
  auto plain = eng_.run(objects::copy_tree(*mem_, "p", *cs, ""));
  ASSERT_TRUE(plain) << plain.error().describe();
  EXPECT_EQ(plain->copied, 3u);
  EXPECT_TRUE(plain->refused.empty());
}

TEST_F(Objects, sync_delete_on_a_case_insensitive_destination_keeps_the_file_the_source_names_in_other_case) {
  // The destination holds "Notes.txt"; the source has "notes.txt". Folded they are one file: the
  // sync compares them, and --delete must not remove "Notes.txt" as extra (it is the copy).
  auto dst = files("dst");
  put(*dst, "Notes.txt", "same");
  put(*dst, "gone.txt", "extra");
  put(*mem_, "s/notes.txt", "same");
  objects::tree_options o;
  o.fold_case = true;
  o.delete_extra = true;
  auto r = eng_.run(objects::sync(*mem_, "s", *dst, "", o));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->removed, 1u) << "only gone.txt";
  const auto left = keys(*dst);
  EXPECT_TRUE(left.contains("Notes.txt"));
  EXPECT_FALSE(left.contains("gone.txt"));
}

TEST_F(Objects, a_second_sync_copies_nothing_and_delete_extra_removes_only_what_the_source_lacks) {
  auto src = files("src");
  auto dst = files("dst");
  put(*src, "a.txt", "one");
  put(*src, "d/b.txt", "two");
  put(*dst, "stale.txt", "old");
  put(*dst, "keep.log", "excluded from the sync");
  auto first = eng_.run(objects::sync(*src, "", *dst, ""));
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_EQ(first->copied, 2u);
  auto second = eng_.run(objects::sync(*src, "", *dst, ""));
  ASSERT_TRUE(second) << second.error().describe();
  EXPECT_EQ(second->copied, 0u) << "same size and same content: nothing to do";
  EXPECT_EQ(second->skipped, 2u);
  // Same size, other content: copied.
  put(*src, "a.txt", "ONE");
  objects::tree_options del;
  del.delete_extra = true;
  del.exclude = {"*.log"};
  std::vector<objects::tree_action> seen;
  del.on_action = [&](const objects::tree_action& a) { seen.push_back(a); };
  del.dry_run = true;
  auto plan = eng_.run(objects::sync(*src, "", *dst, "", del));
  ASSERT_TRUE(plan) << plan.error().describe();
  EXPECT_EQ(plan->copied, 1u);
  EXPECT_EQ(plan->removed, 1u);
  EXPECT_EQ(get(*dst, "a.txt"), "one") << "a dry run changes nothing";
  EXPECT_EQ(get(*dst, "stale.txt"), "old");
  bool planned_removal = false;
  for (auto& a : seen)
    if (a.kind == objects::action_kind::remove && a.key == "stale.txt") planned_removal = true;
  EXPECT_TRUE(planned_removal);
  del.dry_run = false;
  auto done = eng_.run(objects::sync(*src, "", *dst, "", del));
  ASSERT_TRUE(done) << done.error().describe();
  EXPECT_EQ(get(*dst, "a.txt"), "ONE");
  EXPECT_EQ(keys(*dst), (std::set<std::string>{"a.txt", "d/b.txt", "keep.log"}))
      << "excluded keys are never deleted";
}

TEST_F(Objects, include_and_exclude_filter_relative_keys) {
  for (const char* k : {"t/a.nc", "t/b.nc", "t/c.txt", "t/sub/d.nc"}) put(*mem_, k, "x");
  objects::tree_options o;
  o.include = {"*.nc"};  // no '/': the last segment, at any depth
  o.exclude = {"b.*"};
  auto dst = store::make_memory_store();
  auto r = eng_.run(objects::copy_tree(*mem_, "t", *dst, "u", o));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(keys(*dst), (std::set<std::string>{"u/a.nc", "u/sub/d.nc"}));
  EXPECT_EQ(r->skipped, 2u);
}

TEST_F(Objects, filters_apply_in_order_and_the_last_match_wins_as_in_aws) {
  for (const char* k : {"t/a.nc", "t/b.nc", "t/c.txt", "t/sub/d.nc"}) put(*mem_, k, "x");
  objects::tree_options o;
  o.filters = {{false, "*"}, {true, "*.nc"}, {false, "b.*"}};
  auto dst = store::make_memory_store();
  auto r = eng_.run(objects::copy_tree(*mem_, "t", *dst, "u", o));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(keys(*dst), (std::set<std::string>{"u/a.nc", "u/sub/d.nc"}));
  EXPECT_EQ(r->filtered, 2u);
  // An include alone changes nothing: every key starts included.
  objects::tree_options only_include;
  only_include.filters = {{true, "*.nc"}};
  auto all = store::make_memory_store();
  auto r2 = eng_.run(objects::copy_tree(*mem_, "t", *all, "", only_include));
  ASSERT_TRUE(r2) << r2.error().describe();
  EXPECT_EQ(keys(*all).size(), 4u);
}

TEST(ObjectsTime, parse_timestamp_reads_listing_and_http_dates) {
  EXPECT_EQ(objects::parse_timestamp("2024-05-01T12:00:00.000Z"), 1714564800);
  EXPECT_EQ(objects::parse_timestamp("2024-05-01T12:00:00Z"), 1714564800);
  EXPECT_EQ(objects::parse_timestamp("2024-05-01T12:00:00+00:00"), 1714564800);
  EXPECT_EQ(objects::parse_timestamp("Wed, 01 May 2024 12:00:00 GMT"), 1714564800);
  EXPECT_FALSE(objects::parse_timestamp(""));
  EXPECT_FALSE(objects::parse_timestamp("yesterday"));
  EXPECT_FALSE(objects::parse_timestamp("2024-13-01T12:00:00Z"));
  EXPECT_FALSE(objects::parse_timestamp("Wed, 01 Foo 2024 12:00:00 GMT"));
}

TEST_F(Objects, move_value_renames_within_a_store_and_copies_then_removes_across_stores) {
  auto disk = files("m");
  put(*disk, "x/one", "1");
  auto within = eng_.run(objects::move_value(*disk, "x/one", *disk, "y/two"));
  ASSERT_TRUE(within) << within.error().describe();
  EXPECT_EQ(get(*disk, "y/two"), "1");
  EXPECT_EQ(get(*disk, "x/one"), "<missing>");
  auto across = eng_.run(objects::move_value(*disk, "y/two", *mem_, "z"));
  ASSERT_TRUE(across) << across.error().describe();
  EXPECT_EQ(get(*mem_, "z"), "1");
  EXPECT_EQ(get(*disk, "y/two"), "<missing>");
  auto none = eng_.run(objects::move_value(*disk, "nothing", *mem_, "z2"));
  ASSERT_FALSE(none);
  EXPECT_TRUE(none.error().code == condition::not_found);
}

}  // namespace
