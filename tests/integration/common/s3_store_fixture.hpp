// The S3 driver against a test server, for the store conformance suite:
// an engine with two contexts, a scheduler with 5 MiB parts (so values of
// part size +- 1 cross the multipart threshold), a fresh bucket, and the store
// under a prefix of it.
#pragma once

#include "conformance.hpp"
#include "s3_test_client.hpp"

#include <sluice/store/s3.hpp>

namespace sluice::testing {

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
  ~s3_store_fixture() {
    // Empty and remove the bucket so a shared server does not fill up.
    auto page = eng_.run(sched_->client().list_all(bucket_, ""));
    if (page && !page->objects.empty()) {
      std::vector<std::string> keys;
      for (auto& o : page->objects) keys.push_back(o.key);
      (void)eng_.run(sched_->client().delete_objects(bucket_, keys));
    }
    (void)eng_.run(sched_->client().delete_bucket(bucket_));
  }
  store_tests::store_fixture& fixture() { return f_; }
  transfer::scheduler& scheduler() { return *sched_; }
  const std::string& bucket() const { return bucket_; }

 private:
  engine eng_{engine::options{2}};
  std::shared_ptr<transfer::scheduler> sched_;
  std::string bucket_;
  store_tests::store_fixture f_;
};

}  // namespace sluice::testing
