// Interoperability with the AWS CLI (Debian's `aws`) through radosgw: what sluice writes, `aws`
// reads intact, and what `aws` writes (also in parts), sluice reads intact.
#include "s3_test_client.hpp"

#include <fstream>
#include <iterator>

using namespace sluice;
using namespace sluice::testing;

namespace {

command_result aws(const s3_server& server, std::vector<std::string> args) {
  std::vector<std::string> argv{"aws"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--endpoint-url");
  argv.push_back(server.endpoint_url);
  return run_command(argv, aws_cli_environment(server), "", std::chrono::seconds(180));
}

// The interop tests are the point of this file: a missing `aws` is a failure, not a skip.
bool aws_cli_present() {
  auto r = run_command({"aws", "--version"}, {}, "", std::chrono::seconds(60));
  if (r.exit_code == 0) return true;
  ADD_FAILURE() << "the AWS CLI (`aws`) is required for the interop tests: run tools/install-deps.sh\n"
                << describe(r);
  return false;
}

void write_bytes(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(f.good()) << "cannot write " << path;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::string random_bytes(std::size_t n, uint64_t seed) {
  auto v = test_bytes(n, seed);
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

struct temp_dir {
  std::string path = make_temp_dir("sluice-interop-");
  ~temp_dir() { remove_tree(path); }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

struct object_case {
  std::string key;
  std::string data;
};

// Keys and contents both tools must agree on.
const std::string unicode_key =
    "dir with spaces/\xC3\xBCn\xC3\xAF c\xC3\xB8"
    "d\xC3\xA9 \xE2\x9C\x93 a+b=c&d.bin";

TEST(Interop, aws_cli_reads_objects_written_by_sluice) {
  ASSERT_TRUE(aws_cli_present());
  auto server = radosgw_server();
  ASSERT_TRUE(server);
  s3_test_client c(*server);
  ASSERT_TRUE(c.created()) << c.created().error().describe();
  std::string bucket = unique_bucket_name("interop-sl");
  ASSERT_TRUE(c.run(c->create_bucket(bucket)));
  auto env = cli_environment(*server);
  temp_dir dir;

  // Through the CLI: one PUT, a multipart upload and an empty file.
  const std::vector<object_case> by_cli = {
      {"random.bin", random_bytes(3 * 1024 * 1024 + 17, 101)},
      {"parts/multipart.bin", random_bytes(11 * 1024 * 1024 + 5, 102)},
      {"empty", ""},
  };
  for (std::size_t i = 0; i < by_cli.size(); ++i) {
    std::string local = dir / ("up" + std::to_string(i));
    write_bytes(local, by_cli[i].data);
    auto r = run_sluice({"cp", "--multipart-threshold", "6MiB", "--part-size", "5MiB", local,
                         "s3://" + bucket + "/" + by_cli[i].key},
                        env);
    ASSERT_EQ(r.exit_code, 0) << by_cli[i].key << "\n" << describe(r);
  }
  // Through the library API: a key with spaces, non-ASCII characters and reserved characters.
  object_case api{unicode_key, random_bytes(4099, 103)};
  auto put = c.run(
      c->put_object(bucket, api.key, {reinterpret_cast<const std::byte*>(api.data.data()), api.data.size()}));
  ASSERT_TRUE(put) << put.error().describe();

  auto all = by_cli;
  all.push_back(api);
  for (std::size_t i = 0; i < all.size(); ++i) {
    SCOPED_TRACE(all[i].key);
    std::string local = dir / ("aws-down" + std::to_string(i));
    auto r = aws(*server, {"s3", "cp", "s3://" + bucket + "/" + all[i].key, local});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    auto got = read_file(local);
    EXPECT_EQ(got.size(), all[i].data.size());
    EXPECT_TRUE(got == all[i].data) << "aws read different bytes";
  }

  // aws sees sluice's recorded hash as ordinary user metadata.
  auto head = aws(*server, {"s3api", "head-object", "--bucket", bucket, "--key", "parts/multipart.bin"});
  ASSERT_EQ(head.exit_code, 0) << describe(head);
  EXPECT_NE(head.out.find("\"sluice-xxh3\": \""), std::string::npos) << head.out;
  EXPECT_NE(head.out.find("/5242880\""), std::string::npos) << head.out;
  EXPECT_NE(head.out.find("-3\\\""), std::string::npos) << "not a 3-part upload: " << head.out;
}

TEST(Interop, sluice_reads_objects_written_by_aws_cli) {
  ASSERT_TRUE(aws_cli_present());
  auto server = radosgw_server();
  ASSERT_TRUE(server);
  s3_test_client c(*server);
  ASSERT_TRUE(c.created()) << c.created().error().describe();
  std::string bucket = unique_bucket_name("interop-aws");
  ASSERT_TRUE(c.run(c->create_bucket(bucket)));
  auto env = cli_environment(*server);
  temp_dir dir;

  // 20 MiB is above aws's 8 MiB multipart threshold: it goes up in three 8 MiB-or-less parts.
  const std::vector<object_case> objects = {
      {"aws/large.bin", random_bytes(20 * 1024 * 1024 + 3, 201)},
      {"aws/small.bin", random_bytes(1000, 202)},
      {"aws/empty", ""},
      {unicode_key, random_bytes(7777, 203)},
  };
  for (std::size_t i = 0; i < objects.size(); ++i) {
    std::string local = dir / ("aws-up" + std::to_string(i));
    write_bytes(local, objects[i].data);
    auto r = aws(*server, {"s3", "cp", local, "s3://" + bucket + "/" + objects[i].key});
    ASSERT_EQ(r.exit_code, 0) << objects[i].key << "\n" << describe(r);
  }
  auto large = c.run(c->head_object(bucket, "aws/large.bin"));
  ASSERT_TRUE(large) << large.error().describe();
  EXPECT_TRUE(large->etag.ends_with("-3")) << "aws did not upload in 3 parts: ETag " << large->etag;
  EXPECT_FALSE(large->recorded_xxh3()) << "aws objects carry no sluice hash";

  for (std::size_t i = 0; i < objects.size(); ++i) {
    SCOPED_TRACE(objects[i].key);
    std::string url = "s3://" + bucket + "/" + objects[i].key;
    std::string local = dir / ("sluice-down" + std::to_string(i));
    auto down = run_sluice({"cp", url, local}, env);
    ASSERT_EQ(down.exit_code, 0) << describe(down);
    auto got = read_file(local);
    EXPECT_EQ(got.size(), objects[i].data.size());
    EXPECT_TRUE(got == objects[i].data) << "sluice cp read different bytes";

    auto cat = run_sluice({"cat", url}, env);
    ASSERT_EQ(cat.exit_code, 0) << cat.err;
    EXPECT_EQ(cat.out.size(), objects[i].data.size());
    EXPECT_TRUE(cat.out == objects[i].data) << "sluice cat read different bytes";
  }

  // Listing agrees on the keys aws wrote, the non-ASCII one included.
  auto ls = run_sluice({"ls", "-r", "s3://" + bucket}, env);
  ASSERT_EQ(ls.exit_code, 0) << describe(ls);
  for (auto& o : objects) EXPECT_NE(ls.out.find(o.key), std::string::npos) << o.key << "\n" << ls.out;
}

}  // namespace
