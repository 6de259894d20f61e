// Datafiles (sluice/files/datafile.hpp) without a server: octue's metadata rules and encoding (both
// name spellings, the older and newer value forms), the sidecar, the hashes, and a datafile's life
// on local files and on the memory store (locality, lazy download, open/close in each mode).
#include <sluice/engine/codec/crc32c.hpp>
#include <sluice/engine/integrity/recorded_hash.hpp>
#include <sluice/engine/integrity/xxh3.hpp>
#include <sluice/engine/runtime/engine.hpp>
#include <sluice/files/datafile.hpp>
#include <sluice/store/memory.hpp>

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

using namespace sluice;
using files::datafile;
namespace fs = std::filesystem;

struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/sluice-datafile-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~temp_dir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void spit(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

TEST(DatafileMetadata, labels_and_tag_names_follow_octues_rules_and_errors_name_the_text) {
  EXPECT_TRUE(files::validate_label("processed"));
  EXPECT_TRUE(files::validate_label("wind-turbine-2"));
  for (const char* bad : {"", "Upper", "-lead", "trail-", "with space", "under_score", "é"}) {
    auto r = files::validate_label(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, condition::invalid_argument);
    EXPECT_NE(r.error().message.find("'" + std::string(bad) + "'"), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(files::validate_tag_name("rated_power"));
  EXPECT_TRUE(files::validate_tag_name("n2"));
  for (const char* bad : {"", "_x", "x_", "has-dash", "Caps", "a b"})
    EXPECT_FALSE(files::validate_tag_name(bad)) << bad;
}

TEST(DatafileMetadata, timestamps_are_iso_8601_and_impossible_dates_are_refused) {
  EXPECT_EQ(*files::normalize_timestamp("2024-05-01T12:00:00Z"), "2024-05-01T12:00:00+00:00");
  EXPECT_EQ(*files::normalize_timestamp("2024-05-01T12:00"), "2024-05-01T12:00");
  EXPECT_EQ(*files::normalize_timestamp("2024-05-01"), "2024-05-01");
  EXPECT_EQ(*files::normalize_timestamp("2024-02-29T23:59:59.123456-05:30"),
            "2024-02-29T23:59:59.123456-05:30");
  for (const char* bad : {"2023-02-29", "2024-13-01", "2024-05-01T24:00:00", "yesterday",
                          "2024-05-01T12:00:00+5", "2024-05-01T12:00:00.", "2024-05-01X12:00", "2024-5-1"}) {
    auto r = files::normalize_timestamp(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find(bad), std::string::npos) << r.error().message;
  }
  EXPECT_EQ(files::timestamp_from_posix(0), "1970-01-01T00:00:00+00:00");
  EXPECT_EQ(files::timestamp_from_posix(1714564800.5), "2024-05-01T12:00:00.500000+00:00");
}

TEST(DatafileMetadata, ids_are_random_version_4_uuids) {
  const std::string a = files::new_id(), b = files::new_id();
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[8], '-');
  EXPECT_EQ(a[13], '-');
  EXPECT_EQ(a[14], '4');
  EXPECT_NE(std::string("89ab").find(a[19]), std::string::npos) << a;
  for (char c : a) EXPECT_TRUE(c == '-' || std::isxdigit(static_cast<unsigned char>(c))) << a;
}

files::datafile_metadata sample() {
  files::datafile_metadata m;
  m.id = "0f8fad5b-d9cb-469f-a165-70867728950e";
  m.timestamp = "2024-05-01T12:00:00+00:00";
  m.labels = {"raw", "cleaned"};
  m.tags =
      boost::json::parse(R"({"manufacturer":"Vestas","rated_mw":1.5,"ok":true,"unit":"µ𝄞"})").as_object();
  return m;
}

TEST(DatafileMetadata, octue_names_hold_json_values_that_read_back_the_same) {
  const auto m = sample();
  auto meta = files::to_user_metadata(m);
  EXPECT_EQ(meta.at("octue__id"), "\"0f8fad5b-d9cb-469f-a165-70867728950e\"");
  EXPECT_EQ(meta.at("octue__timestamp"), "\"2024-05-01T12:00:00+00:00\"");
  EXPECT_EQ(meta.at("octue__labels"), R"(["cleaned","raw"])");
  // Keys sorted, floats short, ASCII only (a header value): as Python's json.dumps escapes.
  EXPECT_EQ(meta.at("octue__tags"),
            R"({"manufacturer":"Vestas","ok":true,"rated_mw":1.5,"unit":"\u00b5\ud834\udd1e"})");
  auto back = files::from_user_metadata(meta, "obj");
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ((*back)->id, m.id);
  EXPECT_EQ((*back)->timestamp, m.timestamp);
  EXPECT_EQ((*back)->labels, m.labels);
  EXPECT_EQ((*back)->tags, m.tags);
  EXPECT_EQ(files::metadata_hash(**back), files::metadata_hash(m));

  // radosgw hands names back with '-' for '_'; other keys are not octue's.
  std::map<std::string, std::string> rgw;
  for (auto& [k, v] : meta) rgw["octue--" + k.substr(7)] = v;
  rgw["sluice-xxh3"] = "0123456789abcdef";
  auto from_rgw = files::from_user_metadata(rgw, "obj");
  ASSERT_TRUE(from_rgw && from_rgw->has_value());
  EXPECT_EQ((*from_rgw)->labels, m.labels);

  auto none = files::from_user_metadata({{"project", "x"}}, "obj");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
}

TEST(DatafileMetadata, the_forms_other_octue_versions_write_are_read) {
  // Newer octue: sets and datetimes as typed objects; older: a posix timestamp, labels as one string.
  auto newer = files::from_user_metadata(
      {{"octue__id", "\"abc\""},
       {"octue__timestamp", R"({"_type": "datetime", "value": "2021-03-04T05:06:07.500000"})"},
       {"octue__labels", R"({"_type": "set", "items": ["b", "a"]})"},
       {"octue__tags", R"({"x": {"_type": "set", "items": [1]}})"}},
      "obj");
  ASSERT_TRUE(newer) << newer.error().message;
  EXPECT_EQ((*newer)->timestamp, "2021-03-04T05:06:07.500000");
  EXPECT_EQ((*newer)->labels, (std::set<std::string>{"a", "b"}));
  auto older =
      files::from_user_metadata({{"octue__timestamp", "1614834367"}, {"octue__labels", "\"a b  c\""}}, "obj");
  ASSERT_TRUE(older) << older.error().message;
  EXPECT_EQ((*older)->timestamp, "2021-03-04T05:06:07+00:00");
  EXPECT_EQ((*older)->labels, (std::set<std::string>{"a", "b", "c"}));
  EXPECT_EQ((*older)->id, "");  // none stored: the datafile gives it one
}

TEST(DatafileMetadata, floats_are_written_as_python_writes_them_and_bad_text_is_refused) {
  files::datafile_metadata m;
  m.id = "x";
  m.tags = boost::json::parse(R"({"a":100000.0,"b":0.0001,"c":1e16,"d":1.5e-5,"e":-0.0,"f":123.456,"g":2.0})")
               .as_object();
  EXPECT_EQ(files::to_user_metadata(m).at("octue__tags"),
            R"({"a":100000.0,"b":0.0001,"c":1e+16,"d":1.5e-05,"e":-0.0,"f":123.456,"g":2.0})");
  m.tags = {};
  m.tags["bad"] = std::string(
      "\xff"
      "Abc");
  auto r = files::validate(m);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("UTF-8"), std::string::npos);
  // Posix timestamps outside years 1..9999 are refused, not turned into nonsense dates.
  for (const char* t : {"1e300", "1e17", "-1e12"}) {
    auto far = files::from_user_metadata({{"octue__timestamp", t}}, "obj");
    ASSERT_FALSE(far) << t;
    EXPECT_NE(far.error().message.find("years 1 and 9999"), std::string::npos) << far.error().message;
  }
}

TEST(DatafileMetadata, malformed_values_are_errors_naming_the_object_and_the_key) {
  for (auto [k, v] : std::vector<std::pair<std::string, std::string>>{{"octue__labels", "[\"Bad Label\"]"},
                                                                      {"octue__tags", "{\"Bad-Name\": 1}"},
                                                                      {"octue__tags", "[1]"},
                                                                      {"octue__timestamp", "\"someday\""},
                                                                      {"octue__id", "{not json"}}) {
    auto r = files::from_user_metadata({{k, v}}, "s3://b/k");
    ASSERT_FALSE(r) << k << "=" << v;
    EXPECT_EQ(r.error().code, condition::invalid_argument);
    EXPECT_NE(r.error().message.find("s3://b/k"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(k.substr(7)), std::string::npos) << r.error().message;
  }
}

TEST(DatafileMetadata, the_metadata_hash_leaves_out_the_id_and_follows_every_other_field) {
  auto a = sample();
  auto b = sample();
  b.id = files::new_id();
  // The same tags inserted in another order.
  b.tags =
      boost::json::parse(R"({"unit":"µ𝄞","ok":true,"rated_mw":1.5,"manufacturer":"Vestas"})").as_object();
  EXPECT_EQ(files::metadata_hash(a), files::metadata_hash(b));
  b.labels.insert("new");
  EXPECT_NE(files::metadata_hash(a), files::metadata_hash(b));
  b = sample();
  b.timestamp.clear();
  EXPECT_NE(files::metadata_hash(a), files::metadata_hash(b));
  b = sample();
  b.tags["rated_mw"] = 2.0;
  EXPECT_NE(files::metadata_hash(a), files::metadata_hash(b));
  EXPECT_EQ(files::metadata_hash(a).size(), 16u);
}

TEST(DatafileMetadata, content_hashes_are_sluices_xxh3_and_the_base64_crc32c_gcs_shows) {
  temp_dir dir;
  spit(dir / "check", "123456789");
  auto h = files::hash_file(dir / "check");
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->crc32c, "4waSgw==");  // CRC-32C("123456789") = 0xE3069283, big-endian, base64
  EXPECT_EQ(h->xxh3, integrity::to_hex(integrity::xxh3(std::string_view("123456789"))));
  // Larger than one read, in parts: the composite a multipart upload records.
  std::string big(9 << 20, 'x');
  for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>(i / 4096);
  spit(dir / "big", big);
  auto whole = files::hash_file(dir / "big");
  auto parts = files::hash_file(dir / "big", 5 << 20);
  ASSERT_TRUE(whole && parts);
  EXPECT_EQ(whole->xxh3, integrity::to_hex(integrity::xxh3(bytes_of(big))));
  EXPECT_EQ(parts->xxh3, integrity::to_hex(integrity::hash_content(bytes_of(big), 5 << 20)) + "/5242880");
  EXPECT_EQ(parts->crc32c, whole->crc32c);
  auto missing = files::hash_file(dir / "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, condition::not_found);
}

TEST(DatafileMetadata, the_crc32c_of_pieces_is_the_crc32c_of_the_whole) {
  const std::string a = "hello, ", b = "world";
  EXPECT_EQ(codec::crc32c_extend(codec::crc32c(bytes_of(a)), bytes_of(b)), codec::crc32c(bytes_of(a + b)));
  EXPECT_EQ(codec::crc32c_extend(0, bytes_of(a)), codec::crc32c(bytes_of(a)));
}

TEST(DatafileMetadata, user_metadata_is_counted_as_s3_counts_it) {
  EXPECT_EQ(files::user_metadata_bytes({{"ab", "cde"}, {"f", ""}}), 6u);
  EXPECT_EQ(files::sidecar_path("dir/sub/a.csv"), "dir/sub/.a.csv.sluice.json");
  EXPECT_EQ(files::sidecar_path("a.csv"), ".a.csv.sluice.json");
}

// ---- datafiles on local files -------------------------------------------------------------------

TEST(LocalDatafile, a_new_file_gets_an_id_kept_in_its_sidecar_from_the_first_write) {
  temp_dir dir;
  engine eng;
  auto d = datafile::local(dir / "out.csv");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_FALSE(d->exists_locally());
  EXPECT_FALSE(d->metadata_stored());
  EXPECT_FALSE(d->exists_in_cloud());
  const std::string id = d->metadata().id;
  {
    auto h = eng.run(d->open("w"));
    ASSERT_TRUE(h) << h.error().message;
    std::fputs("a,b\n1,2\n", h->stream());
    d->metadata().labels.insert("processed");
    auto closed = eng.run(h->close());
    ASSERT_TRUE(closed) << closed.error().message;
  }
  EXPECT_TRUE(d->exists_locally());
  EXPECT_EQ(slurp(dir / "out.csv"), "a,b\n1,2\n");
  ASSERT_TRUE(fs::exists(dir / ".out.csv.sluice.json"));

  auto again = datafile::local(dir / "out.csv");
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->metadata_stored());
  EXPECT_EQ(again->metadata().id, id);
  EXPECT_EQ(again->metadata().labels, (std::set<std::string>{"processed"}));

  // Append, and a tag set while open: both kept.
  {
    auto h = eng.run(again->open("a"));
    ASSERT_TRUE(h);
    std::fputs("3,4\n", h->stream());
    again->metadata().tags["rows"] = 2;
    ASSERT_TRUE(eng.run(h->close()));
  }
  EXPECT_EQ(slurp(dir / "out.csv"), "a,b\n1,2\n3,4\n");
  auto third = datafile::local(dir / "out.csv");
  ASSERT_TRUE(third);
  EXPECT_EQ(third->metadata().tags.at("rows"), 2);
  EXPECT_EQ(third->metadata().id, id);
  auto hv = third->hash_value();
  ASSERT_TRUE(hv);
  EXPECT_EQ(*hv, integrity::to_hex(integrity::xxh3(std::string_view("a,b\n1,2\n3,4\n"))));
}

TEST(LocalDatafile, bad_modes_missing_files_and_bad_metadata_are_clear_errors) {
  temp_dir dir;
  engine eng;
  auto d = datafile::local(dir / "none.bin");
  ASSERT_TRUE(d);
  auto r = eng.run(d->open("r"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, condition::not_found);
  for (const char* mode : {"x", "rw", "", "r++"}) {
    auto m = eng.run(d->open(mode));
    ASSERT_FALSE(m) << mode;
    EXPECT_EQ(m.error().code, condition::invalid_argument) << mode;
  }
  spit(dir / "none.bin", "x");
  d->metadata().labels.insert("Not Valid");
  auto u = eng.run(d->update_metadata());
  ASSERT_FALSE(u);
  EXPECT_NE(u.error().message.find("Not Valid"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / ".none.bin.sluice.json"));  // nothing written

  spit(dir / ".bad.bin.sluice.json", "{\"labels\": 3}");
  auto bad = datafile::local(dir / "bad.bin");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find(".bad.bin.sluice.json"), std::string::npos) << bad.error().message;
}

// ---- datafiles on a store -------------------------------------------------------------------------

struct memory_cloud : ::testing::Test {
  engine eng;
  std::shared_ptr<store::store> st = store::make_memory_store();
  temp_dir dir;

  datafile cloud(const std::string& key, const std::string& local) {
    auto d = eng.run(datafile::cloud(st, key, local));
    EXPECT_TRUE(d) << d.error().message;
    return std::move(*d);
  }
  std::map<std::string, std::string> object_metadata(const std::string& key) {
    auto s = eng.run(st->stat(key));
    EXPECT_TRUE(s && s->has_value());
    return (s && *s) ? (*s)->metadata : std::map<std::string, std::string>{};
  }
};

TEST_F(memory_cloud, locality_moves_from_local_to_both_and_a_cloud_copy_downloads_lazily) {
  spit(dir / "in.dat", "payload");
  auto d = datafile::local(dir / "in.dat");
  ASSERT_TRUE(d);
  d->metadata().labels = {"input"};
  d->metadata().tags["site"] = "north";
  const std::string id = d->metadata().id;
  auto up = eng.run(d->upload(st, "runs/in.dat"));
  ASSERT_TRUE(up) << up.error().message;
  EXPECT_TRUE(d->exists_locally());
  EXPECT_TRUE(d->exists_in_cloud());
  auto meta = object_metadata("runs/in.dat");
  EXPECT_EQ(meta.at("octue__id"), "\"" + id + "\"");
  EXPECT_EQ(meta.at("octue__labels"), "[\"input\"]");

  // Another process: the object only; nothing is fetched until the content is wanted.
  auto c = cloud("runs/in.dat", dir / "copy/in.dat");
  EXPECT_TRUE(c.exists_in_cloud());
  EXPECT_FALSE(c.exists_locally());
  EXPECT_EQ(c.metadata().id, id);
  EXPECT_EQ(c.metadata().tags.at("site"), "north");
  EXPECT_EQ(c.size(), 7u);
  {
    auto h = eng.run(c.open("r"));
    ASSERT_TRUE(h) << h.error().message;
    char buf[16] = {};
    EXPECT_EQ(std::fread(buf, 1, sizeof buf, h->stream()), 7u);
    EXPECT_STREQ(buf, "payload");
    ASSERT_TRUE(eng.run(h->close()));
  }
  EXPECT_TRUE(c.exists_locally());
  EXPECT_TRUE(c.exists_in_cloud());
  auto local_copy = datafile::local(dir / "copy/in.dat");  // the sidecar came with it
  ASSERT_TRUE(local_copy);
  EXPECT_EQ(local_copy->metadata().id, id);
}

TEST_F(memory_cloud, closing_a_handle_sends_changed_content_or_only_changed_metadata) {
  spit(dir / "src", "v1");
  auto d = datafile::local(dir / "src");
  ASSERT_TRUE(d);
  ASSERT_TRUE(eng.run(d->upload(st, "k")));
  auto c = cloud("k", dir / "local/k");
  auto gen0 = eng.run(st->stat("k"));
  ASSERT_TRUE(gen0 && *gen0);

  // Read only, nothing changed: nothing written.
  {
    auto h = eng.run(c.open("rb"));
    ASSERT_TRUE(h);
    ASSERT_TRUE(eng.run(h->close()));
  }
  auto gen1 = eng.run(st->stat("k"));
  EXPECT_EQ((*gen1)->gen, (*gen0)->gen);

  // Append: the content goes up with the metadata.
  {
    auto h = eng.run(c.open("a"));
    ASSERT_TRUE(h);
    std::fputs("+v2", h->stream());
    c.metadata().labels.insert("appended");
    ASSERT_TRUE(eng.run(h->close()));
  }
  auto got = eng.run(st->read("k"));
  ASSERT_TRUE(got);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(got->bytes.data()), got->bytes.size()), "v1+v2");
  EXPECT_EQ(got->metadata.at("octue__labels"), "[\"appended\"]");

  // Write: replaced.
  {
    auto h = eng.run(c.open("w"));
    ASSERT_TRUE(h);
    std::fputs("fresh", h->stream());
    ASSERT_TRUE(eng.run(h->close()));
  }
  got = eng.run(st->read("k"));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(got->bytes.data()), got->bytes.size()), "fresh");

  // Metadata only, through a read handle: the content stays.
  {
    auto h = eng.run(c.open("r"));
    ASSERT_TRUE(h);
    c.metadata().timestamp = "2020-01-01T00:00:00+00:00";
    ASSERT_TRUE(eng.run(h->close()));
  }
  got = eng.run(st->read("k"));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(got->bytes.data()), got->bytes.size()), "fresh");
  EXPECT_EQ(got->metadata.at("octue__timestamp"), "\"2020-01-01T00:00:00+00:00\"");
  EXPECT_EQ(got->metadata.at("octue__labels"), "[\"appended\"]");
}

TEST_F(memory_cloud, metadata_changes_keep_other_user_metadata_and_over_2_kb_is_refused) {
  store::write_options wo;
  wo.metadata = {{"project", "turbines"}, {"dtype", "<f8"}};
  const std::string body = "abc";
  ASSERT_TRUE(eng.run(st->write("obj", bytes_of(body), wo)));
  auto c = cloud("obj", "");
  EXPECT_FALSE(c.metadata_stored());  // no octue metadata yet: a new id
  c.metadata().labels.insert("tagged");
  auto ok = eng.run(c.update_metadata());
  ASSERT_TRUE(ok) << ok.error().message;
  auto meta = object_metadata("obj");
  EXPECT_EQ(meta.at("project"), "turbines");
  EXPECT_EQ(meta.at("dtype"), "<f8");
  EXPECT_EQ(meta.at("octue__labels"), "[\"tagged\"]");
  EXPECT_EQ(meta.at("octue__id"), "\"" + c.metadata().id + "\"");

  c.metadata().tags["notes"] = std::string(2100, 'n');
  auto big = eng.run(c.update_metadata());
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, errc::too_large);
  EXPECT_NE(big.error().message.find("2 KB"), std::string::npos) << big.error().message;
  EXPECT_FALSE(object_metadata("obj").contains("octue__tags") &&
               object_metadata("obj").at("octue__tags").find("nnnn") != std::string::npos);
}

TEST_F(memory_cloud, a_current_local_copy_is_not_fetched_again_and_a_changed_object_is) {
  const std::string v1 = "first";
  ASSERT_TRUE(eng.run(st->write("k", bytes_of(v1))));
  auto c = cloud("k", dir / "k");
  ASSERT_TRUE(eng.run(c.download()));
  struct stat before {};
  ASSERT_EQ(::stat((dir / "k").c_str(), &before), 0);
  auto again = cloud("k", dir / "k");  // a later run: the sidecar names the generation
  ASSERT_TRUE(eng.run(again.download()));
  struct stat after {};
  ASSERT_EQ(::stat((dir / "k").c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);  // not replaced

  const std::string v2 = "second";
  ASSERT_TRUE(eng.run(st->write("k", bytes_of(v2))));
  auto third = cloud("k", dir / "k");
  ASSERT_TRUE(eng.run(third.download()));
  EXPECT_EQ(slurp(dir / "k"), "second");

  auto gone = cloud("missing", dir / "m");
  EXPECT_FALSE(gone.exists_in_cloud());
  auto r = eng.run(gone.download());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, condition::not_found);
}

}  // namespace
