// File datasets (sluice/files/dataset.hpp) without a server: the layout's rules (each refusal names
// the path), the registry, the manifest, where the remote comes from, and push / pull / lazy fetch
// against the memory store (immutability, --force replacing a version whole, partial pulls,
// corruption caught, present files kept).
#include <sluice/engine/runtime/engine.hpp>
#include <sluice/files/dataset.hpp>
#include <sluice/store/memory.hpp>

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

using namespace sluice;
namespace fs = std::filesystem;

struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/sluice-dataset-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~temp_dir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

void spit(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A dataset: two partitions (one nested), meta.json, README.md and assets/.
std::string make_dataset(const temp_dir& t, const std::string& name = "flowers") {
  const std::string d = t / name;
  spit(d + "/data/train/a.bin", std::string(5000, 'a'));
  spit(d + "/data/train/b.bin", std::string(3000, 'b'));
  spit(d + "/data/test/deep/c.txt", "c");
  spit(d + "/meta.json", R"({"species": 3, "source": "kew"})");
  spit(d + "/README.md", "# Flowers\n");
  spit(d + "/assets/logo.txt", "logo");
  spit(d + "/data/train/.a.bin.sluice.json",
       R"({"id":"a-id","labels":["first"],"tags":{},"timestamp":null})");
  return d;
}

struct env_guard {
  std::string name;
  std::optional<std::string> old;
  env_guard(std::string n, const char* value) : name(std::move(n)) {
    if (const char* o = std::getenv(name.c_str())) old = o;
    if (value)
      ::setenv(name.c_str(), value, 1);
    else
      ::unsetenv(name.c_str());
  }
  ~env_guard() {
    if (old)
      ::setenv(name.c_str(), old->c_str(), 1);
    else
      ::unsetenv(name.c_str());
  }
};

TEST(DatasetLayout, a_valid_dataset_lists_its_files_partitions_meta_and_sidecar_metadata) {
  temp_dir t;
  const std::string d = make_dataset(t);
  spit(d + "/data/train/.a.bin.sluice.json",
       R"({"id":"x-1","labels":["good"],"tags":{"n":1},"timestamp":null})");
  auto m = files::inspect_dataset(d, "flowers", true);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->partitions(), (std::vector<std::string>{"test", "train"}));
  std::vector<std::string> paths;
  for (const auto& f : m->files) paths.push_back(f.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"README.md", "assets/logo.txt", "data/test/deep/c.txt",
                                             "data/train/a.bin", "data/train/b.bin", "meta.json"}));
  EXPECT_EQ(m->bytes(), 10u + 4 + 1 + 5000 + 3000 + std::string(R"({"species": 3, "source": "kew"})").size());
  ASSERT_TRUE(m->meta);
  EXPECT_EQ(m->meta->at("species"), 3);
  EXPECT_EQ(m->files[3].meta.id, "x-1");
  EXPECT_EQ(m->files[3].meta.labels, (std::set<std::string>{"good"}));
  EXPECT_EQ(m->files[3].xxh3.size(), 16u);
  EXPECT_EQ(files::partition_of("data/test/deep/c.txt"), "test");
  EXPECT_EQ(files::partition_of("assets/logo.txt"), "");
}

TEST(DatasetLayout, every_departure_from_the_layout_is_refused_naming_the_path) {
  struct bad_case {
    const char* what;
    std::function<void(const std::string&)> spoil;
    const char* path;
  };
  const std::vector<bad_case> cases = {
      {"file in data/", [](const std::string& d) { spit(d + "/data/stray.csv", "x"); }, "data/stray.csv"},
      {"file at the top", [](const std::string& d) { spit(d + "/notes.txt", "x"); }, "notes.txt"},
      {"no data/", [](const std::string& d) { fs::remove_all(d + "/data"); }, "data"},
      {"empty data/",
       [](const std::string& d) {
         fs::remove_all(d + "/data");
         fs::create_directories(d + "/data");
       },
       "data"},
      {"empty partition", [](const std::string& d) { fs::create_directories(d + "/data/valid"); },
       "data/valid"},
      {"symlink", [](const std::string& d) { fs::create_symlink(d + "/README.md", d + "/data/train/link"); },
       "data/train/link"},
      {"meta.json not an object", [](const std::string& d) { spit(d + "/meta.json", "[1,2]"); }, "meta.json"},
  };
  for (const auto& c : cases) {
    temp_dir t;
    const std::string d = make_dataset(t);
    c.spoil(d);
    auto m = files::inspect_dataset(d, "flowers", false);
    ASSERT_FALSE(m) << c.what;
    EXPECT_EQ(m.error().code, condition::invalid_argument) << c.what << ": " << m.error().message;
    EXPECT_NE(m.error().message.find(d + "/" + c.path), std::string::npos)
        << c.what << ": " << m.error().message;
  }
  auto missing = files::inspect_dataset("/nonexistent/dataset", "x", false);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, condition::not_found);
  for (const char* bad : {"", ".hidden", "a/b", "sp ace", "caf\xc3\xa9"})
    EXPECT_FALSE(files::validate_dataset_name(bad)) << bad;
  EXPECT_TRUE(files::validate_dataset_name("ERA5_2020-v1.2"));
}

TEST(DatasetRegistry, register_installs_a_copy_and_replaces_one_only_with_force) {
  temp_dir t;
  const std::string d = make_dataset(t);
  files::registry r{t / "home"};
  auto m = files::register_dataset(r, d, "flowers", false);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(slurp(r.dataset_dir("flowers") + "/data/train/a.bin"), std::string(5000, 'a'));
  spit(d + "/data/train/a.bin", "changed");
  auto again = files::register_dataset(r, d, "flowers", false);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, condition::precondition_failed);
  EXPECT_NE(again.error().message.find("--force"), std::string::npos);
  EXPECT_EQ(slurp(r.dataset_dir("flowers") + "/data/train/a.bin"), std::string(5000, 'a'));  // untouched
  ASSERT_TRUE(files::register_dataset(r, d, "flowers", true));
  EXPECT_EQ(slurp(r.dataset_dir("flowers") + "/data/train/a.bin"), "changed");
  // No leftovers beside it.
  std::vector<std::string> names;
  for (auto& e : fs::directory_iterator(r.home + "/datasets")) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"flowers"}));
  spit(d + "/bad.txt", "x");
  EXPECT_FALSE(files::register_dataset(r, d, "other", false));
  EXPECT_FALSE(fs::exists(r.dataset_dir("other")));
  auto all = files::installed_datasets(r);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].name, "flowers");
}

TEST(DatasetRegistry, the_remote_comes_from_the_option_then_the_environment_then_the_config_file) {
  temp_dir t;
  files::registry r{t.path};
  env_guard g("SLUICE_FILES_REMOTE", nullptr);
  auto none = files::find_remote(r, "");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  spit(t / "config",
       "# mine\n[other]\nremote = s3://no/\n[files]\nremote = s3://cfg/root\nprofile = lab\n"
       "endpoint_url = http://127.0.0.1:9000\n");
  auto cfg = files::find_remote(r, "");
  ASSERT_TRUE(cfg && cfg->has_value());
  EXPECT_EQ((*cfg)->url, "s3://cfg/root");
  EXPECT_EQ((*cfg)->profile, "lab");
  EXPECT_EQ((*cfg)->endpoint_url, "http://127.0.0.1:9000");
  {
    env_guard e("SLUICE_FILES_REMOTE", "s3://env/x");
    EXPECT_EQ((*files::find_remote(r, ""))->url, "s3://env/x");
    EXPECT_EQ((*files::find_remote(r, "s3://given/y"))->url, "s3://given/y");
  }
  spit(t / "config", "[files]\nremote s3://oops\n");
  auto bad = files::find_remote(r, "");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("config:2"), std::string::npos) << bad.error().message;
  spit(t / "config", "[files]\nremot = s3://typo\n");
  EXPECT_FALSE(files::find_remote(r, ""));
}

TEST(DatasetManifest, reads_back_what_it_writes_and_refuses_what_is_not_one) {
  temp_dir t;
  auto m = files::inspect_dataset(make_dataset(t), "flowers", true);
  ASSERT_TRUE(m);
  m->id = "0f8fad5b-d9cb-469f-a165-70867728950e";
  m->created = "2026-12-02T00:00:00+00:00";
  m->files[0].meta.labels = {"readme"};
  auto back = files::parse_manifest(files::manifest_json(*m), "m");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(files::manifest_json(*back), files::manifest_json(*m));
  EXPECT_EQ(back->files[0].meta.labels, (std::set<std::string>{"readme"}));
  for (
      const char* bad :
      {"[]", R"({"format":"other"})",
       R"({"format":"sluice-files-dataset","version":1,"name":"n","id":"","created":"c","files":[]})",
       R"({"format":"sluice-files-dataset","version":1,"name":"../n","id":"0f8fad5b-d9cb-469f-a165-70867728950e","created":"c","files":[]})",
       R"({"format":"sluice-files-dataset","version":1,"name":"n","id":"0f8fad5b-d9cb-469f-a165-70867728950e","created":"c",)"
       R"("files":[{"path":"../x","size":1,"xxh3":"0123456789abcdef"}]})",
       R"({"format":"sluice-files-dataset","version":1,"name":"n","id":"0f8fad5b-d9cb-469f-a165-70867728950e","created":"c",)"
       R"("files":[{"path":"a","size":-1,"xxh3":"0123456789abcdef"}]})",
       R"({"format":"sluice-files-dataset","version":1,"name":"n","id":"0f8fad5b-d9cb-469f-a165-70867728950e","created":"c",)"
       R"("files":[{"path":"a","size":1,"xxh3":"nothex"}]})"})
    EXPECT_FALSE(files::parse_manifest(bad, "m")) << bad;
  auto newer = files::parse_manifest(R"({"format":"sluice-files-dataset","version":2})", "m");
  ASSERT_FALSE(newer);
  EXPECT_EQ(newer.error().code, condition::unsupported);
}

// ---- push and pull through the memory store ---------------------------------------------------------

struct memory_remote : ::testing::Test {
  engine eng;
  std::shared_ptr<store::store> remote = store::make_memory_store();
  temp_dir t;
  files::registry here{t / "here"};
  files::registry there{t / "there"};

  void register_and_push() {
    ASSERT_TRUE(files::register_dataset(here, make_dataset(t), "flowers", false));
    auto p = eng.run(files::push(here, "flowers", *remote, false, 8));
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->files, 6u);
  }
  std::vector<std::string> keys() {
    std::vector<std::string> out;
    auto cb = [&](store::list_page& page) -> result<bool> {
      for (auto& e : page.entries) out.push_back(e.key);
      return true;
    };
    EXPECT_TRUE(eng.run(remote->list("", store::list_all, cb)));
    return out;
  }
};

TEST_F(memory_remote, a_pushed_dataset_is_every_file_an_object_and_a_manifest_naming_them) {
  register_and_push();
  auto m = eng.run(files::remote_manifest(*remote, "flowers"));
  ASSERT_TRUE(m && m->has_value());
  const std::string v = (*m)->id;
  auto k = keys();
  EXPECT_EQ(k.size(), 7u);
  EXPECT_NE(std::find(k.begin(), k.end(), "flowers/manifest.json"), k.end());
  EXPECT_NE(std::find(k.begin(), k.end(), "flowers/" + v + "/data/train/a.bin"), k.end());
  // A file with datafile metadata carries it on its object too; the others only in the manifest.
  auto st = eng.run(remote->stat("flowers/" + v + "/data/train/a.bin"));
  ASSERT_TRUE(st && *st);
  EXPECT_EQ((*st)->metadata.at("octue__id"), "\"a-id\"");
  EXPECT_EQ((*st)->metadata.at("octue__labels"), "[\"first\"]");
  auto other = eng.run(remote->stat("flowers/" + v + "/data/train/b.bin"));
  ASSERT_TRUE(other && *other);
  EXPECT_FALSE((*other)->metadata.contains("octue__id"));
  const auto& entries = (*m)->files;
  auto a = std::find_if(entries.begin(), entries.end(),
                        [](const auto& f) { return f.path == "data/train/a.bin"; });
  ASSERT_NE(a, entries.end());
  EXPECT_EQ(a->meta.id, "a-id");
  EXPECT_FALSE(a->etag.empty());
  auto listed = eng.run(files::remote_datasets(*remote));
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].meta->at("source"), "kew");
}

TEST_F(memory_remote, a_dataset_is_immutable_and_force_replaces_it_whole) {
  register_and_push();
  auto first = eng.run(files::remote_manifest(*remote, "flowers"));
  auto again = eng.run(files::push(here, "flowers", *remote, false, 8));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, condition::precondition_failed);
  EXPECT_NE(again.error().message.find("immutable"), std::string::npos);
  EXPECT_EQ(keys().size(), 7u);  // nothing sent

  spit(here.dataset_dir("flowers") + "/data/train/a.bin", "new a");
  auto forced = eng.run(files::push(here, "flowers", *remote, true, 8));
  ASSERT_TRUE(forced) << forced.error().message;
  EXPECT_EQ(forced->replaced_objects, 6u);
  EXPECT_NE(forced->pushed.id, (*first)->id);
  for (const auto& k : keys()) EXPECT_EQ(k.find((*first)->id), std::string::npos) << "stale " << k;
  auto pulled = eng.run(files::pull(there, "flowers", *remote, files::pull_options{}));
  ASSERT_TRUE(pulled) << pulled.error().message;
  EXPECT_EQ(slurp(there.dataset_dir("flowers") + "/data/train/a.bin"), "new a");
}

TEST_F(memory_remote, a_partial_pull_fetches_one_partition_and_the_top_files_and_later_keeps_them) {
  register_and_push();
  files::pull_options po;
  po.partitions = {"test"};
  auto p = eng.run(files::pull(there, "flowers", *remote, po));
  ASSERT_TRUE(p) << p.error().message;
  const std::string d = there.dataset_dir("flowers");
  EXPECT_EQ(p->fetched, 3u);  // c.txt, meta.json, README.md
  EXPECT_EQ(slurp(d + "/data/test/deep/c.txt"), "c");
  EXPECT_TRUE(fs::exists(d + "/meta.json"));
  EXPECT_FALSE(fs::exists(d + "/data/train"));
  EXPECT_FALSE(fs::exists(d + "/assets"));

  files::pull_options glob;
  glob.include = {"data/train/a.*"};
  auto g = eng.run(files::pull(there, "flowers", *remote, glob));
  ASSERT_TRUE(g);
  EXPECT_EQ(g->fetched, 1u);
  EXPECT_EQ(g->present, 2u);
  EXPECT_TRUE(fs::exists(d + "/data/train/a.bin"));
  EXPECT_FALSE(fs::exists(d + "/data/train/b.bin"));

  auto all = eng.run(files::pull(there, "flowers", *remote, files::pull_options{}));
  ASSERT_TRUE(all);
  EXPECT_EQ(all->fetched, 2u);  // b.bin and assets/logo.txt
  EXPECT_EQ(all->present, 4u);
  // A file changed here is fetched again; the others are kept.
  spit(d + "/data/train/b.bin", std::string(3000, 'X'));
  auto fix = eng.run(files::pull(there, "flowers", *remote, files::pull_options{}));
  ASSERT_TRUE(fix);
  EXPECT_EQ(fix->fetched, 1u);
  EXPECT_EQ(slurp(d + "/data/train/b.bin"), std::string(3000, 'b'));

  files::pull_options nope;
  nope.partitions = {"validation"};
  auto n = eng.run(files::pull(there, "flowers", *remote, nope));
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().message.find("test, train"), std::string::npos) << n.error().message;
}

TEST_F(memory_remote, a_corrupted_object_is_caught_and_not_kept) {
  register_and_push();
  auto m = eng.run(files::remote_manifest(*remote, "flowers"));
  const std::string key = "flowers/" + (*m)->id + "/data/train/b.bin";
  const std::string other(3000, 'z');  // same size, other bytes
  ASSERT_TRUE(eng.run(remote->write(key, std::as_bytes(std::span(other.data(), other.size())))));
  auto p = eng.run(files::pull(there, "flowers", *remote, files::pull_options{}));
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, condition::integrity);
  EXPECT_NE(p.error().message.find("data/train/b.bin"), std::string::npos) << p.error().message;
  EXPECT_FALSE(fs::exists(there.dataset_dir("flowers") + "/data/train/b.bin"));
  EXPECT_TRUE(fs::exists(there.dataset_dir("flowers") + "/data/train/a.bin"));
}

TEST_F(memory_remote, a_dataset_opened_with_auto_install_fetches_each_file_on_first_access) {
  register_and_push();
  files::dataset_options o;
  o.auto_install = true;
  o.remote = remote;
  auto d = eng.run(files::dataset::open(there, "flowers", o));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->keys(), (std::vector<std::string>{"test", "train"}));
  EXPECT_EQ(d->meta().at("species"), 3);
  auto train = d->files("train");
  ASSERT_EQ(train.size(), 2u);
  EXPECT_FALSE(train[0].present);
  auto path = eng.run(d->fetch("data/train/a.bin"));
  ASSERT_TRUE(path) << path.error().message;
  EXPECT_EQ(slurp(*path), std::string(5000, 'a'));
  EXPECT_TRUE(d->files("train")[0].present);
  EXPECT_FALSE(d->files("train")[1].present);
  EXPECT_FALSE(eng.run(d->fetch("data/train/none.bin")));

  // Without auto_install a missing dataset is a clear error.
  auto missing = eng.run(files::dataset::open(there, "absent", files::dataset_options{}));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, condition::not_found);
  // A registered dataset opens from its directory.
  auto local = eng.run(files::dataset::open(here, "flowers", files::dataset_options{}));
  ASSERT_TRUE(local) << local.error().message;
  EXPECT_EQ(local->files("train").size(), 2u);
}

TEST_F(memory_remote, a_pull_does_not_overwrite_a_dataset_registered_here_without_force) {
  register_and_push();
  ASSERT_TRUE(files::register_dataset(there, make_dataset(t, "mine"), "flowers", false));
  spit(there.dataset_dir("flowers") + "/data/train/a.bin", "my own");
  auto p = eng.run(files::pull(there, "flowers", *remote, files::pull_options{}));
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, condition::precondition_failed);
  EXPECT_EQ(slurp(there.dataset_dir("flowers") + "/data/train/a.bin"), "my own");
  files::pull_options force;
  force.force = true;
  ASSERT_TRUE(eng.run(files::pull(there, "flowers", *remote, force)));
  EXPECT_EQ(slurp(there.dataset_dir("flowers") + "/data/train/a.bin"), std::string(5000, 'a'));
}

}  // namespace
