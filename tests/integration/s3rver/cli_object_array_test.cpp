// `sluice object put-array | get-array` end to end against s3rver, with an independent client on
// the other side (tests/interop/cottoncandy_raw.py: botocore and numpy from Debian, laying objects
// out as cottoncandy's upload_raw_array does): objects it writes (C and Fortran order, big-endian,
// gzip) read back by sluice identically to numpy's own .npy of them; objects sluice writes read by
// it with numpy; bad metadata a one-line error.
#include "cli_test_support.hpp"

#include <sluice/npy/npy.hpp>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <numeric>

using namespace sluice;
using namespace sluice::testing;

namespace {

const std::string script = std::string(SLUICE_SOURCE_DIR) + "/tests/interop/cottoncandy_raw.py";

struct object_array_fixture : s3rver_cli_fixture {
  object_array_fixture() : s3rver_cli_fixture("cli-objarr") { make_bucket(); }

  // The interop script with the server's endpoint and keys.
  command_result python(std::vector<std::string> args) const {
    args.insert(args.begin(), {"/usr/bin/python3", script});
    const s3_server& s = server.server();
    return run_command(args, {{"SLUICE_TEST_ENDPOINT", s.endpoint_url},
                              {"AWS_ACCESS_KEY_ID", s.access_key},
                              {"AWS_SECRET_ACCESS_KEY", s.secret_key}});
  }
};

void expect_same_array(const std::string& got_path, const std::string& want_path) {
  auto got = npy::read_file(got_path);
  auto want = npy::read_file(want_path);
  ASSERT_TRUE(got) << got.error().describe();
  ASSERT_TRUE(want) << want.error().describe();
  EXPECT_EQ(got->dtype, want->dtype);
  EXPECT_EQ(got->shape, want->shape);
  EXPECT_TRUE(got->data == want->data) << "elements differ";
}

TEST(CliObjectArray, objects_another_client_wrote_as_cottoncandy_read_back_as_numpy_saved_them) {
  object_array_fixture f;
  struct layout {
    const char* dtype;
    const char* shape;
    const char* order;
    const char* compression;
  };
  const std::vector<layout> layouts = {
      {"<f8", "4,5,6", "C", "False"}, {"<f4", "4,5,6", "F", "gzip"}, {">i4", "7,3", "F", "False"},
      {">u2", "10", "C", "gzip"},     {"|b1", "3,3", "C", "False"},  {"<c16", "2,3", "F", "False"},
      {"|i1", "", "C", "False"},      {"<i8", "0,4", "C", "gzip"},
  };
  int n = 0;
  for (const auto& l : layouts) {
    const std::string name = "x" + std::to_string(n++);
    SCOPED_TRACE(std::string(l.dtype) + " [" + l.shape + "] " + l.order + " " + l.compression);
    const std::string want = f.dir / (name + "-numpy.npy"), got = f.dir / (name + "-sluice.npy");
    auto w = f.python({"write", f.bucket, "cc/" + name, l.dtype, l.shape, l.order, l.compression, want});
    ASSERT_EQ(w.exit_code, 0) << describe(w);
    auto r = f.sluice({"object", "get-array", f.url("cc/" + name), "-o", got});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    expect_same_array(got, want);
  }
}

TEST(CliObjectArray, arrays_sluice_stores_are_read_by_numpy_through_their_metadata) {
  object_array_fixture f;
  std::vector<double> values(60);
  std::iota(values.begin(), values.end(), 0.0);
  for (double& v : values) v = v * 0.25 - 3;  // the script's test array for float64
  const std::string src = f.dir / "a.npy";
  ASSERT_TRUE(npy::write_file(src, zarr::data_type::float64, std::vector<std::uint64_t>{3, 4, 5},
                              std::as_bytes(std::span(values))));
  for (const char* c : {"none", "gzip", "zstd"}) {
    SCOPED_TRACE(c);
    const std::string key = std::string("mine/") + c;
    auto put = f.sluice({"object", "put-array", src, f.url(key), "--compression", c});
    ASSERT_EQ(put.exit_code, 0) << describe(put);
    EXPECT_NE(put.out.find("<f8 (3, 4, 5)"), std::string::npos) << put.out;
    if (std::string(c) != "zstd") {  // Debian's python has no zstd module: sluice reads its own below
      auto check = f.python({"check", f.bucket, key, "<f8", "3,4,5"});
      EXPECT_EQ(check.exit_code, 0) << describe(check);
      EXPECT_EQ(check.out, "ok\n");
    }
    const std::string back = f.dir / (std::string(c) + "-back.npy");
    auto get = f.sluice({"object", "get-array", f.url(key), "-o", back, "--json"});
    ASSERT_EQ(get.exit_code, 0) << describe(get);
    auto doc = parse_document(get);
    EXPECT_EQ(doc["dtype"], "<f8");
    EXPECT_EQ(doc["shape"], (boost::json::array{3, 4, 5}));
    expect_same_array(back, src);
  }
  // What the metadata says, seen by the aws CLI too.
  ASSERT_TRUE(have_debian_aws()) << "tools/install-deps.sh installs Debian's awscli";
  {
    auto head = run_debian_aws(f.server.server(),
                               {"s3api", "head-object", "--bucket", f.bucket, "--key", "mine/zstd"});
    ASSERT_EQ(head.exit_code, 0) << describe(head);
    boost::json::object md = boost::json::parse(head.out).as_object()["Metadata"].as_object();
    EXPECT_EQ(md["dtype"], "<f8");
    EXPECT_EQ(md["shape"], "3,4,5");
    EXPECT_EQ(md["compression"], "Zstd");
    EXPECT_EQ(md["order"], "C");
  }
}

TEST(CliObjectArray, bad_objects_and_command_lines_are_one_line_errors) {
  object_array_fixture f;
  f.put("plain", "twelve bytes");
  auto r = f.sluice({"object", "get-array", f.url("plain"), "-o", f.dir / "p.npy"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  expect_one_line_failure(r);
  EXPECT_NE(r.err.find("not a raw array"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("plain"), std::string::npos) << r.err;

  r = f.sluice({"object", "get-array", f.url("absent"), "-o", f.dir / "p.npy"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  expect_one_line_failure(r);

  r = f.sluice({"object", "put-array", f.dir / "missing.npy", f.url("k")});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  expect_one_line_failure(r);

  write_file(f.dir / "a.npy", std::string_view("\x93NUMPY\x01\x00"));
  r = f.sluice({"object", "put-array", f.dir / "a.npy", f.url("k"), "--compression", "lz4"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  expect_one_line_failure(r);
  r = f.sluice(
      {"object", "put-array", f.dir / "a.npy", f.url("k"), "--compression", "gzip", "--level", "12"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  expect_one_line_failure(r);
  EXPECT_NE(r.err.find("not a gzip level"), std::string::npos) << r.err;
  r = f.sluice({"object", "put-array", f.dir / "a.npy", f.url("dir/")});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  expect_one_line_failure(r);
  EXPECT_FALSE(f.keys().contains("k"));
}

}  // namespace
