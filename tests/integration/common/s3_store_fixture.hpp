// The S3 driver against a test server, for the store conformance suite:
// an engine with two contexts, a scheduler with 5 MiB parts (so values of
// part size +- 1 cross the multipart threshold), a fresh bucket, and the store
// under a prefix of it.
#pragma once

#include "conformance.hpp"
#include "s3_test_client.hpp"

#include <sluice/objects/objects.hpp>
#include <sluice/store/s3.hpp>

#include <algorithm>

namespace sluice::testing {

// Removes every object of a test bucket, then the bucket (best effort: a
// shared server must not fill up).
inline void empty_and_remove_bucket(engine& eng, transfer::scheduler& sched, const std::string& bucket) {
  auto page = eng.run(sched.client().list_all(bucket, ""));
  if (page && !page->objects.empty()) {
    std::vector<std::string> keys;
    for (auto& o : page->objects) keys.push_back(o.key);
    (void)eng.run(sched.client().delete_objects(bucket, keys));
  }
  (void)eng.run(sched.client().delete_bucket(bucket));
}

class s3_store_fixture {
 public:
  explicit s3_store_fixture(const s3_server& server) {
    s3::client_options o;
    o.config.endpoint_url = server.endpoint_url;
    o.config.region = server.region.empty() ? "us-east-1" : server.region;
    o.config.creds = {server.access_key, server.secret_key, ""};
    o.config.ca_bundle = server.ca_file;
    o.retry.max_attempts = 3;
    o.retry.base_delay = std::chrono::milliseconds(10);
    transfer::options t;
    t.part_size = std::size_t(5) << 20;
    t.multipart_threshold = std::size_t(5) << 20;
    t.memory_budget = std::size_t(128) << 20;
    auto made = transfer::scheduler::create(eng_, std::move(o), t);
    if (!made) throw std::runtime_error(made.error().describe());
    sched_ = *made;
    bucket_ = unique_bucket_name("store");
    auto mb = eng_.run(sched_->client().create_bucket(bucket_));
    if (!mb) throw std::runtime_error(mb.error().describe());
    auto s = store::open_s3_store(sched_, {bucket_, "tree/of values", store::conditional_writes::probe});
    if (!s) throw std::runtime_error(s.error().describe());
    f_.s = *s;
    f_.eng = &eng_;
    f_.part_size = t.part_size;
  }
  ~s3_store_fixture() { empty_and_remove_bucket(eng_, *sched_, bucket_); }
  store_tests::store_fixture& fixture() { return f_; }
  transfer::scheduler& scheduler() { return *sched_; }
  const std::string& bucket() const { return bucket_; }

 private:
  engine eng_{engine::options{2}};
  std::shared_ptr<transfer::scheduler> sched_;
  std::string bucket_;
  store_tests::store_fixture f_;
};

// objects::stream_value over the fixture's store: another writer (through
// `server`) replaces a 3 MiB value after the first 1 MiB ranged read; the
// stream must stop with precondition_failed after that one chunk, whether the
// server refuses If-Match or the driver's own ETag check catches it.
inline void check_stream_stops_when_replaced(s3_store_fixture& s3, const s3_server& server) {
  auto& f = s3.fixture();
  auto old_value = test_bytes(3 << 20, 1), new_value = test_bytes(3 << 20, 2);
  ASSERT_TRUE(f.run(f.s->write("streamed", old_value)));
  s3_test_client other(server);
  std::vector<std::byte> got;
  unsigned chunks = 0;
  objects::chunk_callback replace_after_first = [&](std::span<const std::byte> b, uint64_t) -> result<void> {
    got.insert(got.end(), b.begin(), b.end());
    if (++chunks == 1) {
      // Another writer, on its own engine (this callback runs on the store's caller's thread).
      auto p = other.run(other->put_object(s3.bucket(), "tree/of values/streamed", as_span(new_value)));
      if (!p) return p.error();
    }
    return {};
  };
  auto r = f.run(objects::stream_value(*f.s, "streamed", 1 << 20, replace_after_first));
  ASSERT_FALSE(r) << "a stream across two versions succeeded";
  EXPECT_TRUE(r.error().code == condition::precondition_failed) << r.error().describe();
  EXPECT_EQ(chunks, 1u);
  ASSERT_EQ(got.size(), std::size_t(1) << 20);
  EXPECT_TRUE(std::equal(got.begin(), got.end(), old_value.begin()));
}

}  // namespace sluice::testing
