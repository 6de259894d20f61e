// The S3 driver: keys live under s3://bucket/prefix/, moved by the transfer
// scheduler (ranged parts, multipart uploads, the memory budget), generations
// are ETags, and every value sluice writes carries its XXH3, which whole reads
// verify.
//
// Conditional writes: what a server honours is probed once per store, on the
// first conditional operation (a few requests on a hidden probe key under the
// prefix) or by probe(): If-None-Match: * on PUT (conditional create), If-Match
// on PUT quoted as RFC 9110 has it or unquoted as Ceph radosgw 16.2 needs it
// (conditional replace). A condition the server ignores makes the write fail
// with errc::unsupported; it never goes through unconditionally. Conditional
// removes are not offered (no tested server honours If-Match on DELETE).
// Conditional writes always go in one PUT (servers ignore conditions on
// multipart completion), so they are limited to 5 GiB. docs/store.md has the
// findings per server.
#pragma once

#include <sluice/engine/transfer/scheduler.hpp>
#include <sluice/store/store.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::store {

enum class conditional_writes {
  probe,               // find out on first use (default)
  assume_supported,    // AWS S3 and servers known to honour If-None-Match / If-Match (quoted)
  assume_unsupported,  // never send conditions; conditional writes fail with unsupported
};

struct s3_options {
  std::string bucket;
  std::string prefix;  // "" or "a/b" ("a/b/" the same): keys are prefix + "/" + key
  conditional_writes conditions = conditional_writes::probe;
};

// The S3 store over a scheduler (which owns the engine contexts, the clients
// and the buffer pool). The store keeps the scheduler alive; the scheduler's
// engine must outlive the store (drop every store before the engine). Validates the
// bucket name and the prefix; sends no request.
result<std::shared_ptr<store>> open_s3_store(std::shared_ptr<transfer::scheduler> sched,
                                             const s3_options& opts);

// Runs the conditional-write probe of an S3 store now (a no-op for other
// drivers and for a store already probed) and returns its features.
boost::asio::awaitable<result<feature_set>> probe(store& s);

// Buckets, over the scheduler's clients (on its engine; they complete on the
// caller's executor and honour its cancellation slot: errc::cancelled). A name
// that breaks S3's bucket naming rules is invalid_argument, naming the rule,
// before any request is sent. The server's errors pass through (NoSuchBucket
// -> not_found, BucketNotEmpty, BucketAlreadyOwnedByYou ...). The scheduler
// and `name` are borrowed until completion.
struct bucket_info {
  std::string name;
  std::string creation_date;  // as the server sends it (ISO 8601)
};
boost::asio::awaitable<result<std::vector<bucket_info>>> list_buckets(transfer::scheduler& sched);
// Whether the bucket exists (and is reachable with these credentials): false on NoSuchBucket.
boost::asio::awaitable<result<bool>> bucket_exists(transfer::scheduler& sched, std::string_view name);
boost::asio::awaitable<result<void>> create_bucket(transfer::scheduler& sched, std::string_view name);
// Removes an empty bucket (a bucket with objects is the server's BucketNotEmpty).
boost::asio::awaitable<result<void>> remove_bucket(transfer::scheduler& sched, std::string_view name);

// A presigned GET URL for s3://bucket/key, valid for `expires` (1 s to 7
// days), that plain HTTP clients can fetch (SigV4 query signing; no request is
// sent). Errors: invalid_config without credentials, invalid_argument for a
// bad name or duration.
result<std::string> presign_get(transfer::scheduler& sched, std::string_view bucket, std::string_view key,
                                std::chrono::seconds expires);

}  // namespace sluice::store
