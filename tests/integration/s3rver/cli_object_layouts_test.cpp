// `sluice object put-array | get-array` with cottoncandy's other layouts against s3rver, an independent
// client on the other side (tests/interop/cottoncandy_layouts.py: Debian's botocore and numpy, laying
// the objects out as cottoncandy does): chunked (dask) arrays, including the zero-length last part
// cottoncandy may write, read whole and by a box that fetches only the parts it touches; sparse
// matrices (csr, csc, coo) to and from SciPy's .npz layout (deflated, as save_npz writes it);
// dictionaries of arrays with a nested entry; each also the other way round; bad layouts refused.
#include "cli_test_support.hpp"

#include <sluice/npy/npy.hpp>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <cstring>

using namespace sluice;
using namespace sluice::testing;

namespace {

const std::string script = std::string(SLUICE_SOURCE_DIR) + "/tests/interop/cottoncandy_layouts.py";

struct layouts_fixture : s3rver_cli_fixture {
  layouts_fixture() : s3rver_cli_fixture("cli-layouts") { make_bucket(); }
  command_result python(std::vector<std::string> args, const std::string& expected_npy = "") const {
    args.insert(args.begin(), {"/usr/bin/python3", script});
    const s3_server& s = server.server();
    std::map<std::string, std::string> e = {{"SLUICE_TEST_ENDPOINT", s.endpoint_url},
                                            {"AWS_ACCESS_KEY_ID", s.access_key},
                                            {"AWS_SECRET_ACCESS_KEY", s.secret_key}};
    if (!expected_npy.empty()) e["SLUICE_EXPECTED_NPY"] = expected_npy;
    return run_command(args, e);
  }
};

npy::array load(const std::string& path) {
  auto a = npy::read_file(path);
  EXPECT_TRUE(a) << a.error().describe();
  return a ? std::move(*a) : npy::array{};
}

TEST(CliObjectLayouts, a_chunked_array_cottoncandy_wrote_is_read_whole_and_by_a_box_of_its_parts) {
  layouts_fixture f;
  const std::string want = f.dir / "want.npy";
  auto w = f.python({"write-chunked", f.bucket, "cc/chunked", want});
  ASSERT_EQ(w.exit_code, 0) << describe(w);
  auto whole = f.sluice({"object", "get-array", f.url("cc/chunked"), "-o", f.dir / "whole.npy", "--json"});
  ASSERT_EQ(whole.exit_code, 0) << describe(whole);
  EXPECT_EQ(parse_document(whole).at("parts_read"), 3);  // the zero-length fourth part holds nothing
  const npy::array a = load(want), b = load(f.dir / "whole.npy");
  EXPECT_EQ(b.shape, a.shape);
  EXPECT_TRUE(b.data == a.data);

  // [0:6, 1:3, 16:29] lies within the second part (15..30 along the last axis).
  auto box = f.sluice({"object", "get-array", f.url("cc/chunked"), "-o", f.dir / "box.npy", "--select",
                       "0:6,1:3,16:29", "--json"});
  ASSERT_EQ(box.exit_code, 0) << describe(box);
  EXPECT_EQ(parse_document(box).at("parts_read"), 1);
  const npy::array s = load(f.dir / "box.npy");
  ASSERT_EQ(s.shape, (std::vector<std::uint64_t>{6, 2, 13}));
  for (std::uint64_t i = 0; i < 6; ++i)
    for (std::uint64_t j = 0; j < 2; ++j)
      for (std::uint64_t k = 0; k < 13; ++k) {
        const std::size_t from = ((i * 5 + (j + 1)) * 40 + (k + 16)) * 4, to = ((i * 2 + j) * 13 + k) * 4;
        ASSERT_EQ(std::memcmp(a.data.data() + from, s.data.data() + to, 4), 0) << i << "," << j << "," << k;
      }
}

TEST(CliObjectLayouts, a_chunked_array_sluice_writes_is_assembled_by_the_other_client) {
  layouts_fixture f;
  const std::string want = f.dir / "want.npy";
  ASSERT_EQ(f.python({"write-chunked", f.bucket, "cc/src", want}).exit_code, 0);
  // 6 x 5 x 40 float32: a step along the last axis is 6 x 5 x 4 = 120 bytes; 600-byte parts hold 5: 8 parts.
  auto put = f.sluice({"object", "put-array", want, f.url("mine/chunked"), "--split-axis", "-1",
                       "--part-size", "600", "--compression", "gzip", "--json"});
  ASSERT_EQ(put.exit_code, 0) << describe(put);
  EXPECT_EQ(parse_document(put).at("parts"), 8);
  auto check = f.python({"check-chunked", f.bucket, "mine/chunked"}, want);
  EXPECT_EQ(check.exit_code, 0) << describe(check);
  EXPECT_EQ(check.out, "ok\n");
  // Along the first axis too: a step is 5 x 40 x 4 = 800 bytes, so 1 KiB parts hold one: 6 parts.
  put = f.sluice({"object", "put-array", want, f.url("mine/axis0"), "--split-axis", "0", "--part-size",
                  "1KiB", "--json"});
  ASSERT_EQ(put.exit_code, 0) << describe(put);
  EXPECT_EQ(parse_document(put).at("parts"), 6);
  check = f.python({"check-chunked", f.bucket, "mine/axis0"}, want);
  EXPECT_EQ(check.out, "ok\n") << describe(check);
}

TEST(CliObjectLayouts, sparse_matrices_go_both_ways_between_cottoncandys_layout_and_scipys_npz) {
  layouts_fixture f;
  for (const char* fmt : {"csr", "csc", "coo"}) {
    SCOPED_TRACE(fmt);
    const std::string want = f.dir / (std::string(fmt) + "-want.npz");
    const std::string theirs = std::string("cc/sparse-") + fmt, mine = std::string("mine/sparse-") + fmt;
    auto w = f.python({"write-sparse", f.bucket, theirs, fmt, want});
    ASSERT_EQ(w.exit_code, 0) << describe(w);
    const std::string got = f.dir / (std::string(fmt) + "-got.npz");
    auto get = f.sluice({"object", "get-array", f.url(theirs), "-o", got, "--json"});
    ASSERT_EQ(get.exit_code, 0) << describe(get);
    EXPECT_EQ(parse_document(get).at("layout"), "sparse");
    auto same = f.python({"compare-npz", got, want});
    EXPECT_EQ(same.out, "ok\n") << describe(same);
    // The deflated .npz numpy wrote, up as cottoncandy's layout.
    auto put = f.sluice({"object", "put-array", want, f.url(mine)});
    ASSERT_EQ(put.exit_code, 0) << describe(put);
    auto check = f.python({"check-sparse", f.bucket, mine, fmt});
    EXPECT_EQ(check.out, "ok\n") << describe(check);
  }
}

TEST(CliObjectLayouts, dictionaries_of_arrays_go_both_ways_with_nested_entries) {
  layouts_fixture f;
  const std::string want = f.dir / "dict-want.npz";
  auto w = f.python({"write-dict", f.bucket, "cc/dict", want});
  ASSERT_EQ(w.exit_code, 0) << describe(w);
  auto get = f.sluice({"object", "get-array", f.url("cc/dict"), "-o", f.dir / "dict-got.npz", "--json"});
  ASSERT_EQ(get.exit_code, 0) << describe(get);
  EXPECT_EQ(parse_document(get).at("arrays"), 3);
  auto same = f.python({"compare-npz", f.dir / "dict-got.npz", want});
  EXPECT_EQ(same.out, "ok\n") << describe(same);
  auto put = f.sluice({"object", "put-array", want, f.url("mine/dict")});
  ASSERT_EQ(put.exit_code, 0) << describe(put);
  auto check = f.python({"check-dict", f.bucket, "mine/dict"});
  EXPECT_EQ(check.out, "ok\n") << describe(check);
}

TEST(CliObjectLayouts, layouts_that_do_not_add_up_are_one_line_errors) {
  layouts_fixture f;
  ASSERT_EQ(f.python({"write-chunked", f.bucket, "cc/bad", f.dir / "w.npy"}).exit_code, 0);
  // metadata.json whose chunks do not add up to the shape.
  f.put(
      "cc/bad/metadata.json",
      R"({"shape":[6,5,40],"dtype":"<f4","chunks":[[6],[5],[15,15,9,0]],"chunk_sizes":[],)"
      R"("dask":[[[0,0,0],"cc/bad/pt0000"],[[0,0,1],"cc/bad/pt0001"],[[0,0,2],"cc/bad/pt0002"],[[0,0,3],"cc/bad/pt0003"]]})");
  auto r = f.sluice({"object", "get-array", f.url("cc/bad"), "-o", f.dir / "x.npy"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  expect_one_line_failure(r);
  EXPECT_NE(r.err.find("add up to 39"), std::string::npos) << r.err;

  // A part whose shape is not the one the metadata gives.
  f.put(
      "cc/bad/metadata.json",
      R"({"shape":[6,5,40],"dtype":"<f4","chunks":[[6],[5],[10,20,10,0]],"chunk_sizes":[],)"
      R"("dask":[[[0,0,0],"cc/bad/pt0000"],[[0,0,1],"cc/bad/pt0001"],[[0,0,2],"cc/bad/pt0002"],[[0,0,3],"cc/bad/pt0003"]]})");
  r = f.sluice({"object", "get-array", f.url("cc/bad"), "-o", f.dir / "x.npy"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.err.find("shape"), std::string::npos) << r.err;

  // A sparse matrix whose indptr runs past its data: refused before anything is stored.
  ASSERT_EQ(f.python({"write-sparse", f.bucket, "cc/sp", "csr", f.dir / "sp.npz"}).exit_code, 0);
  f.put("cc/sp/metadata.json", R"({"type":"csr","attrs":["data","indices","indptr"],"shape":[3,9]})");
  r = f.sluice({"object", "get-array", f.url("cc/sp"), "-o", f.dir / "sp-got.npz"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.err.find("indptr"), std::string::npos) << r.err;
  f.put("cc/bsr/metadata.json", R"({"type":"bsr","attrs":["data","indices","indptr"],"shape":[3,9]})");
  r = f.sluice({"object", "get-array", f.url("cc/bsr"), "-o", f.dir / "bsr.npz"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.err.find("bsr"), std::string::npos) << r.err;

  r = f.sluice({"object", "put-array", f.dir / "sp.npz", f.url("x"), "--split-axis", "0"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  r = f.sluice({"object", "get-array", f.url("cc/dict-none"), "-o", f.dir / "n.npy"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
}

}  // namespace
