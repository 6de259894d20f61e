// The `sluice` command line against radosgw, which checks SigV4 signatures: wrong secrets, profiles
// from configuration files, and the transfers whose server-side rules s3rver does not enforce.
#include "cli_test_support.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

using namespace sluice;
using namespace sluice::testing;

namespace {

constexpr const char* wrong_secret = "wrongSecretKey-cliRadosgw-0000000000000042";

TEST(CliRadosgw, wrong_secret_fails_with_signature_does_not_match_without_printing_secrets) {
  radosgw_cli_fixture f;
  ASSERT_TRUE(f.start());
  f.put("object", "contents");
  auto env = cli_environment(f.server);
  env["AWS_SECRET_ACCESS_KEY"] = wrong_secret;

  auto ls = run_sluice({"ls", f.url()}, env);
  expect_one_line_failure(ls, {wrong_secret, f.server.secret_key});
  EXPECT_NE(ls.err.find("SignatureDoesNotMatch"), std::string::npos) << ls.err;
  EXPECT_EQ(ls.out, "");

  // A signed body (PUT) is refused the same way and nothing is stored.
  temp_dir dir;
  write_file(dir / "f.txt", "new object");
  auto up = run_sluice({"cp", dir / "f.txt", f.url("new")}, env);
  expect_one_line_failure(up, {wrong_secret, f.server.secret_key});
  EXPECT_NE(up.err.find("SignatureDoesNotMatch"), std::string::npos) << up.err;
  EXPECT_EQ(f.keys(), std::set<std::string>{"object"});

  // The right secret through the same path works: the failure above was the signature.
  auto ok = run_sluice({"ls", f.url()}, cli_environment(f.server));
  ASSERT_EQ(ok.exit_code, 0) << describe(ok);
  EXPECT_NE(ok.out.find("object"), std::string::npos) << ok.out;
}

// Configuration files in a temporary directory, and a HOME without ~/.aws, so nothing of the user's
// is read and the profile alone supplies keys, region and endpoint.
struct profile_files {
  temp_dir dir;
  std::string config = dir / "config";
  std::string credentials = dir / "credentials";

  std::map<std::string, std::string> env() const {
    return {{"AWS_CONFIG_FILE", config}, {"AWS_SHARED_CREDENTIALS_FILE", credentials}, {"HOME", dir.path}};
  }
};

profile_files write_profile(const s3_server& server, const std::string& secret) {
  profile_files p;
  write_file(p.config, "[default]\nregion = eu-west-3\n\n[profile p1]\nregion = " + server.region +
                           "\nendpoint_url = " + server.endpoint_url + "\n");
  write_file(p.credentials, "# test keys\n[p1]\naws_access_key_id = " + server.access_key +
                                "\naws_secret_access_key = " + secret + "\n");
  return p;
}

TEST(CliRadosgw, profile_from_config_files_supplies_keys_and_endpoint) {
  radosgw_cli_fixture f;
  ASSERT_TRUE(f.start());
  f.put("listed-through-profile", "x");
  auto files = write_profile(f.server, f.server.secret_key);

  auto r = run_sluice({"--profile", "p1", "ls", f.url()}, files.env());
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("listed-through-profile"), std::string::npos) << r.out;

  // AWS_PROFILE names it as well as --profile does.
  auto env = files.env();
  env["AWS_PROFILE"] = "p1";
  auto by_env = run_sluice({"cat", f.url("listed-through-profile")}, env);
  ASSERT_EQ(by_env.exit_code, 0) << describe(by_env);
  EXPECT_EQ(by_env.out, "x");
}

TEST(CliRadosgw, unknown_profile_fails_naming_it) {
  radosgw_cli_fixture f;
  ASSERT_TRUE(f.start());
  auto files = write_profile(f.server, f.server.secret_key);
  auto r = run_sluice({"--profile", "nope", "ls", f.url()}, files.env());
  expect_one_line_failure(r, {f.server.secret_key});
  EXPECT_NE(r.err.find("'nope'"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(CliRadosgw, profile_with_a_wrong_secret_fails_without_printing_it) {
  radosgw_cli_fixture f;
  ASSERT_TRUE(f.start());
  auto files = write_profile(f.server, wrong_secret);
  auto r = run_sluice({"--profile", "p1", "ls", f.url()}, files.env());
  expect_one_line_failure(r, {wrong_secret, f.server.secret_key});
  EXPECT_NE(r.err.find("SignatureDoesNotMatch"), std::string::npos) << r.err;
}

TEST(CliRadosgw, rm_r_removes_the_prefix_but_not_siblings_sharing_its_start) {
  radosgw_cli_fixture f;
  ASSERT_TRUE(f.start());
  for (const char* k : {"data/exp", "data/exp/a", "data/exp/b/c", "data/experiment2/x", "data/exp-old"})
    f.put(k, k);
  ASSERT_EQ(f.keys().size(), 5u);
  auto r = run_sluice({"rm", "-r", f.url("data/exp")}, cli_environment(f.server));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "removed 3 objects\n");
  EXPECT_EQ(f.keys(), (std::set<std::string>{"data/experiment2/x", "data/exp-old"}));
}

// radosgw enforces the 5 MiB minimum part size and answers CompleteMultipartUpload with an empty
// ETag; a multipart upload through the CLI still has to succeed and read back verified.
TEST(CliRadosgw, multipart_upload_round_trips_through_cp_and_cat) {
  radosgw_cli_fixture f;
  ASSERT_TRUE(f.start());
  temp_dir dir;
  auto data = test_bytes(12 * 1024 * 1024 + 99, 77);
  write_file(dir / "big.bin", as_string(data));
  auto env = cli_environment(f.server);

  auto up = run_sluice(
      {"cp", "--multipart-threshold", "6MiB", "--part-size", "5MiB", dir / "big.bin", f.url("big")}, env);
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  auto head = f.client->run((*f.client)->head_object(f.bucket, "big"));
  ASSERT_TRUE(head) << head.error().describe();
  EXPECT_TRUE(head->etag.ends_with("-3")) << "not a 3-part upload: ETag " << head->etag;
  EXPECT_TRUE(head->metadata["sluice-xxh3"].ends_with("/5242880")) << head->metadata["sluice-xxh3"];

  auto st = run_sluice({"stat", f.url("big")}, env);
  ASSERT_EQ(st.exit_code, 0) << describe(st);
  EXPECT_NE(st.out.find("meta sluice-xxh3 " + head->metadata["sluice-xxh3"]), std::string::npos) << st.out;

  auto down = run_sluice({"cp", f.url("big"), dir / "big.out"}, env);
  ASSERT_EQ(down.exit_code, 0) << describe(down);
  EXPECT_TRUE(read_file(dir / "big.out") == as_string(data));
  auto cat = run_sluice({"cat", f.url("big")}, env);
  ASSERT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_TRUE(cat.out == as_string(data));
  // Above the budget: ranged reads pinned to the multipart ETag ("...-3") with If-Match, which
  // radosgw checks, and the composite hash checked over the stream.
  auto streamed = run_sluice({"cat", "--part-size", "1MiB", "--memory-budget", "4MiB", f.url("big")}, env);
  ASSERT_EQ(streamed.exit_code, 0) << streamed.err;
  EXPECT_EQ(streamed.err, "");
  EXPECT_TRUE(streamed.out == as_string(data));
}

TEST(CliRadosgw, part_size_below_the_s3_minimum_is_refused) {
  radosgw_cli_fixture f;
  ASSERT_TRUE(f.start());
  temp_dir dir;
  write_file(dir / "f.bin", as_string(test_bytes(7 * 1024 * 1024, 1)));
  auto r =
      run_sluice({"cp", "--multipart-threshold", "6MiB", "--part-size", "4MiB", dir / "f.bin", f.url("f")},
                 cli_environment(f.server));
  EXPECT_NE(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.err.find("--part-size"), std::string::npos) << r.err;
  EXPECT_TRUE(f.keys().empty());
}

// `sluice presign` prints a URL that plain curl can GET from radosgw, which checks the query
// signature: the same URL with one signature digit changed is refused.
TEST(CliRadosgw, presigned_url_is_served_to_curl_and_a_tampered_one_is_refused) {
  radosgw_cli_fixture f;
  ASSERT_TRUE(f.start());
  if (run_command({"curl", "--version"}).exit_code != 0) GTEST_SKIP() << "curl is not installed";
  const std::string data = as_string(test_bytes(70000, 12));
  f.put("dir/with space+plus.bin", data);
  auto env = cli_environment(f.server);
  auto r = run_sluice({"presign", f.url("dir/with space+plus.bin"), "--expires-in", "300"}, env);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  ASSERT_TRUE(r.out.ends_with("\n")) << r.out;
  const std::string url = r.out.substr(0, r.out.size() - 1);
  EXPECT_EQ(url.find(f.server.secret_key), std::string::npos);
  auto got = run_command({"curl", "-sS", "--fail", url}, {}, "", std::chrono::seconds(60));
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_TRUE(got.out == data) << "curl got " << got.out.size() << " bytes";

  std::string tampered = url;
  char& last = tampered.back();
  last = last == '0' ? '1' : '0';
  auto refused = run_command({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", tampered}, {}, "",
                             std::chrono::seconds(60));
  EXPECT_EQ(refused.out, "403") << refused.err;
}

// --no-sign-request sends anonymous requests: radosgw refuses them for a private bucket.
TEST(CliRadosgw, no_sign_request_sends_anonymous_requests) {
  radosgw_cli_fixture f;
  ASSERT_TRUE(f.start());
  f.put("k", "v");
  auto env = cli_environment(f.server);
  auto signed_ls = run_sluice({"ls", f.url()}, env);
  ASSERT_EQ(signed_ls.exit_code, 0) << describe(signed_ls);
  auto anonymous = run_sluice({"ls", f.url(), "--no-sign-request"}, env);
  expect_one_line_failure(anonymous, {f.server.secret_key});
  EXPECT_NE(anonymous.err.find("AccessDenied"), std::string::npos) << describe(anonymous);
}

// Standard input of unknown length goes up in parts (radosgw enforces the 5 MiB minimum on all
// but the last) and its composite XXH3 is recorded afterwards; it reads back verified.
TEST(CliRadosgw, stdin_upload_goes_in_parts_and_reads_back_verified) {
  radosgw_cli_fixture f;
  ASSERT_TRUE(f.start());
  const std::string data = as_string(test_bytes(11 * 1024 * 1024 + 5, 31));
  auto env = cli_environment(f.server);
  auto up = run_sluice({"cp", "--part-size", "5MiB", "-", f.url("piped")}, env, data);
  ASSERT_EQ(up.exit_code, 0) << describe(up);
  auto head = f.client->run((*f.client)->head_object(f.bucket, "piped"));
  ASSERT_TRUE(head) << head.error().describe();
  EXPECT_TRUE(head->metadata["sluice-xxh3"].ends_with("/5242880")) << head->metadata["sluice-xxh3"];
  auto down = run_sluice({"cp", f.url("piped"), "-"}, env);
  ASSERT_EQ(down.exit_code, 0) << describe(down);
  EXPECT_TRUE(down.out == data);
}

}  // namespace
