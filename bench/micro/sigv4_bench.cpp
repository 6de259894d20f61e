// SigV4 cost per request: header signing for the requests a transfer sends
// most (ranged GET, PUT with user metadata) and presigned URLs.
#include <sluice/engine/s3/sigv4.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <string>

namespace {

using namespace sluice::s3;

const credentials& creds() {
  static const credentials c{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
  return c;
}
const credentials& session_creds() {
  static const credentials c{"ASIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                             std::string(700, 'T')};  // STS tokens are several hundred bytes
  return c;
}

signing_scope scope() {
  return signing_scope{"us-east-1", "s3", std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))};
}

signing_request ranged_get() {
  signing_request r;
  r.method = "GET";
  r.path = "/climate-data/era5/2m_temperature/chunk-000123.bin";
  r.headers = {{"host", "s3.us-east-1.amazonaws.com"}, {"range", "bytes=8388608-16777215"}};
  r.payload_hash = std::string(unsigned_payload);
  return r;
}

signing_request put_with_metadata() {
  signing_request r;
  r.method = "PUT";
  r.path = "/climate-data/era5/2m_temperature/part%20000124.bin";
  r.query = {{"partNumber", "3", true}, {"uploadId", "2~abcdefghijklmnopqrstuvwxyz0123456789", true}};
  r.headers = {{"host", "s3.us-east-1.amazonaws.com"},
               {"content-length", "67108864"},
               {"content-type", "application/octet-stream"},
               {"x-amz-meta-sluice-xxh3", "0123456789abcdef/8388608"},
               {"x-amz-meta-dtype", "float32"},
               {"x-amz-meta-shape", "[721,1440,24]"}};
  r.payload_hash = std::string(unsigned_payload);
  return r;
}

void BM_sign_ranged_get(benchmark::State& state) {
  const auto base = ranged_get();
  const auto sc = scope();
  for (auto _ : state) {
    auto r = base;
    sign_request(r, creds(), sc);
    benchmark::DoNotOptimize(r.headers.back().second.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_sign_ranged_get);

void BM_sign_ranged_get_session_token(benchmark::State& state) {
  const auto base = ranged_get();
  const auto sc = scope();
  for (auto _ : state) {
    auto r = base;
    sign_request(r, session_creds(), sc);
    benchmark::DoNotOptimize(r.headers.back().second.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_sign_ranged_get_session_token);

void BM_sign_put_with_metadata(benchmark::State& state) {
  const auto base = put_with_metadata();
  const auto sc = scope();
  for (auto _ : state) {
    auto r = base;
    sign_request(r, creds(), sc);
    benchmark::DoNotOptimize(r.headers.back().second.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_sign_put_with_metadata);

void BM_presign_get(benchmark::State& state) {
  auto base = ranged_get();
  base.headers = {{"host", "s3.us-east-1.amazonaws.com"}};
  const auto sc = scope();
  for (auto _ : state) {
    auto r = base;
    auto q = presign(r, creds(), sc, std::chrono::seconds(3600));
    benchmark::DoNotOptimize(q.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_presign_get);

// The canonical request alone (no HMAC chain): how much of the cost is string work.
void BM_canonical_request_put(benchmark::State& state) {
  auto r = put_with_metadata();
  r.headers.emplace_back("x-amz-date", amz_date(scope().time));
  r.headers.emplace_back("x-amz-content-sha256", std::string(unsigned_payload));
  for (auto _ : state) {
    auto text = canonical_request(r);
    benchmark::DoNotOptimize(text.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_canonical_request_put);

}  // namespace
