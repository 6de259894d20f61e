// Behaviour only a strict S3 implementation shows: signature checks, exact
// ranges at the edges, multipart ETags, presigned URLs.
#include "fault_proxy.hpp"
#include "s3_test_client.hpp"

#include <sluice/engine/s3/error.hpp>

#include <atomic>
#include <cstring>

using namespace sluice;
using namespace sluice::testing;

namespace {

class RadosgwStrict : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = radosgw_server();
    ASSERT_TRUE(s.has_value());
    info_ = *s;
    client_ = std::make_unique<s3_test_client>(info_);
    bucket_ = unique_bucket_name("strict");
    auto made = c().run(c()->create_bucket(bucket_));
    ASSERT_TRUE(made) << made.error().describe();
  }
  void TearDown() override {
    if (!client_) return;
    auto page = c().run(c()->list_all(bucket_, ""));
    if (page) {
      std::vector<std::string> keys;
      for (auto& o : page->objects) keys.push_back(o.key);
      if (!keys.empty()) (void)c().run(c()->delete_objects(bucket_, keys));
    }
    (void)c().run(c()->delete_bucket(bucket_));
  }
  s3_test_client& c() { return *client_; }

  s3_server info_;
  std::unique_ptr<s3_test_client> client_;
  std::string bucket_;
};

TEST_F(RadosgwStrict, a_wrong_secret_is_a_clear_signature_error_without_the_secret) {
  const std::string wrong = "ThisIsNotTheSecretKey00000000000000000000";
  s3_test_client bad(info_, client_tweaks{.secret_override = wrong});
  auto r = bad.run(bad->list_objects_v2(bucket_, {}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, s3::errc::signature_does_not_match) << r.error().describe();
  EXPECT_EQ(r.error().http_status, 403);
  EXPECT_NE(r.error().describe().find("SignatureDoesNotMatch"), std::string::npos) << r.error().describe();
  EXPECT_EQ(r.error().describe().find(wrong), std::string::npos);
  EXPECT_EQ(r.error().describe().find(info_.secret_key), std::string::npos);
}

TEST_F(RadosgwStrict, signed_payload_mode_is_accepted_and_checked_by_the_server) {
  // Over plain HTTP sluice signs the payload hash; radosgw recomputes it.
  auto data = test_bytes(3 << 20, 8);
  auto put = c().run(c()->put_object(bucket_, "signed", as_span(data)));
  ASSERT_TRUE(put) << put.error().describe();
  auto got = c().run(c()->get_object_bytes(bucket_, "signed"));
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_EQ(got->data.size(), data.size());
}

TEST_F(RadosgwStrict, ranged_reads_return_exactly_the_first_and_the_last_byte) {
  auto data = test_bytes(12345, 17);
  ASSERT_TRUE(c().run(c()->put_object(bucket_, "edges", as_span(data))));
  auto first = c().run(c()->get_object_range(bucket_, "edges", s3::byte_range::between(0, 0)));
  ASSERT_TRUE(first) << first.error().describe();
  ASSERT_EQ(first->data.size(), 1u);
  EXPECT_EQ(first->data.data()[0], data[0]);
  EXPECT_EQ(first->info.size, 12345u);

  auto last = c().run(c()->get_object_range(bucket_, "edges", s3::byte_range::between(12344, 12344)));
  ASSERT_TRUE(last) << last.error().describe();
  ASSERT_EQ(last->data.size(), 1u);
  EXPECT_EQ(last->data.data()[0], data[12344]);

  auto suffix = c().run(c()->get_object_range(bucket_, "edges", s3::byte_range::last_bytes(10)));
  ASSERT_TRUE(suffix) << suffix.error().describe();
  ASSERT_EQ(suffix->data.size(), 10u);
  EXPECT_EQ(std::memcmp(suffix->data.data(), data.data() + 12335, 10), 0);

  auto beyond = c().run(c()->get_object_range(bucket_, "edges", s3::byte_range::between(12345, 20000)));
  ASSERT_FALSE(beyond);
  EXPECT_EQ(beyond.error().code, s3::errc::invalid_range) << beyond.error().describe();
}

TEST_F(RadosgwStrict, multipart_etag_counts_the_parts) {
  auto id = c().run(c()->create_multipart_upload(bucket_, "mp3"));
  ASSERT_TRUE(id) << id.error().describe();
  std::vector<s3::completed_part> parts;
  for (int n = 1; n <= 3; ++n) {
    auto body = test_bytes(n < 3 ? (5 << 20) : 1000, n);
    auto etag = c().run(c()->upload_part(bucket_, "mp3", *id, n, as_span(body)));
    ASSERT_TRUE(etag) << etag.error().describe();
    parts.push_back({n, *etag});
  }
  auto done = c().run(c()->complete_multipart_upload(bucket_, "mp3", *id, parts));
  ASSERT_TRUE(done) << done.error().describe();
  EXPECT_TRUE(done->ends_with("-3")) << *done;
}

TEST_F(RadosgwStrict, a_too_small_part_is_entity_too_small) {
  auto id = c().run(c()->create_multipart_upload(bucket_, "small-parts"));
  ASSERT_TRUE(id);
  auto body = test_bytes(1000, 1);
  auto e1 = c().run(c()->upload_part(bucket_, "small-parts", *id, 1, as_span(body)));
  auto e2 = c().run(c()->upload_part(bucket_, "small-parts", *id, 2, as_span(body)));
  ASSERT_TRUE(e1 && e2);
  std::vector<s3::completed_part> parts{{1, *e1}, {2, *e2}};
  auto done = c().run(c()->complete_multipart_upload(bucket_, "small-parts", *id, parts));
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, s3::errc::entity_too_small) << done.error().describe();
  (void)c().run(c()->abort_multipart_upload(bucket_, "small-parts", *id));
}

TEST_F(RadosgwStrict, conditional_get_with_a_stale_etag_is_precondition_failed) {
  auto data = test_bytes(100, 2);
  ASSERT_TRUE(c().run(c()->put_object(bucket_, "cond", as_span(data))));
  s3::conditions stale;
  stale.if_match = "0123456789abcdef0123456789abcdef";
  auto r = c().run(c()->head_object(bucket_, "cond", stale));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, s3::errc::precondition_failed) << r.error().describe();
  auto head = c().run(c()->head_object(bucket_, "cond"));
  ASSERT_TRUE(head);
  s3::conditions fresh;
  fresh.if_match = head->etag;
  EXPECT_TRUE(c().run(c()->head_object(bucket_, "cond", fresh)));
}

TEST_F(RadosgwStrict, a_presigned_url_serves_the_object_to_plain_http) {
  auto data = test_bytes(5000, 23);
  std::string key = "pre signed/\xc3\xa9+x";
  ASSERT_TRUE(c().run(c()->put_object(bucket_, key, as_span(data))));
  auto url = c()->presign_get(bucket_, key, std::chrono::seconds(300));
  ASSERT_TRUE(url) << url.error().describe();
  auto dir = make_temp_dir("sluice-presign");
  auto got = run_command({"curl", "-sS", "--fail", "-o", dir + "/out", *url});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  auto back = run_command({"cmp", "-", dir + "/out"}, {},
                          std::string(reinterpret_cast<const char*>(data.data()), data.size()));
  EXPECT_EQ(back.exit_code, 0) << back.out << back.err;

  // The signature covers the key: another key with the same query fails.
  auto other = *url;
  other.replace(other.find("pre%20signed"), 3, "PRE");
  auto denied = run_command({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", other});
  EXPECT_EQ(denied.out, "403");
  remove_tree(dir);
}

}  // namespace

TEST_F(RadosgwStrict, a_complete_whose_answer_is_lost_is_sent_again_and_succeeds) {
  // The proxy forwards the first CompleteMultipartUpload and resets the connection before its
  // answer: the object is complete on the server and the client sends the Complete again. radosgw
  // answers that with success (S3 answers NoSuchUpload, after which the client recognises its
  // object by the ETag its parts make: FaultsMultipart.*); either way the upload succeeded.
  std::atomic<int> completes{0};
  fault_proxy proxy(
      info_,
      [&](const fault_request& r) {
        const bool complete = r.method == "POST" && r.target.find("uploadId=") != std::string_view::npos;
        return complete && completes++ == 0 ? fault_kind::reset_after_forward : fault_kind::none;
      },
      1);
  s3_test_client through(proxy.as_server());
  const std::string key = "lost-answer.bin";
  const auto first = test_bytes(5 * 1024 * 1024, 1), second = test_bytes(1000, 2);
  auto id = through.run(through->create_multipart_upload(bucket_, key, {}));
  ASSERT_TRUE(id) << id.error().describe();
  std::vector<s3::completed_part> parts;
  for (const auto* body : {&first, &second}) {
    const int n = static_cast<int>(parts.size()) + 1;
    auto etag = through.run(through->upload_part(bucket_, key, *id, n, as_span(*body)));
    ASSERT_TRUE(etag) << etag.error().describe();
    parts.push_back({n, *etag});
  }
  auto done = through.run(through->complete_multipart_upload(bucket_, key, *id, parts));
  EXPECT_GE(completes.load(), 2) << "the first Complete's answer was lost and it was sent again";
  ASSERT_TRUE(done) << done.error().describe();
  auto head = c().run(c()->head_object(bucket_, key, {}));
  ASSERT_TRUE(head) << head.error().describe();
  EXPECT_EQ(*done, head->etag);
  EXPECT_TRUE(head->etag.ends_with("-2")) << head->etag;
  EXPECT_EQ(head->size, first.size() + second.size());
}
