// `sluice bench get|put`: object-store throughput as users measure it.
#include "cli.hpp"
#include "json_output.hpp"

#include <sluice/engine/s3/error.hpp>
#include <sluice/engine/transfer/scheduler.hpp>

#include <boost/asio/co_spawn.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <mutex>
#include <random>

namespace sluice::cli {

namespace asio = boost::asio;
using asio::awaitable;
using clock_type = std::chrono::steady_clock;

namespace {

struct usage_snapshot {
  double cpu_s = 0;
  uint64_t max_rss = 0;
};
usage_snapshot usage_now() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  usage_snapshot u;
  u.cpu_s = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
            double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  u.max_rss = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
  return u;
}

std::string object_key(const std::string& prefix, unsigned i) {
  // obj-NNNNNN (wider past a million); no printf: one per request.
  char digits[10];
  const auto end = std::to_chars(digits, digits + sizeof digits, i).ptr;
  const std::size_t n = static_cast<std::size_t>(end - digits);
  std::string p = prefix;
  if (!p.empty() && p.back() != '/') p += '/';
  p += "obj-";
  if (n < 6) p.append(6 - n, '0');
  return p.append(digits, n);
}

// The bytes bench objects hold: one pattern of min(size, part) bytes; an
// object larger than a part repeats it part after part, as a chain of pieces
// the scheduler sends without copying (parts of the scheduler's part size,
// which is `part` unless S3's limits make it larger: then parts are assembled).
struct source_data {
  aligned_buffer pattern;
  uint64_t size = 0;
  std::vector<std::span<const std::byte>> pieces;
};

source_data make_source(uint64_t size, uint64_t part, uint64_t threshold) {
  source_data s;
  s.size = size;
  const bool multipart = size > threshold;
  s.pattern = aligned_buffer(static_cast<std::size_t>(multipart ? part : size));
  fill_random(s.pattern.span(), 42);
  for (uint64_t at = 0; at < size || s.pieces.empty(); at += part) {
    const auto n = static_cast<std::size_t>(std::min<uint64_t>(s.pattern.size(), size - at));
    s.pieces.push_back(std::span<const std::byte>(s.pattern.span()).first(n));
    if (!multipart) break;
  }
  return s;
}

// Writes one bench object through the scheduler (one PUT, or a multipart
// upload with the XXH3 recorded, within the admission limit and the budget).
awaitable<result<void>> put_one(transfer::scheduler& sched, const std::string& bucket, const std::string& key,
                                const source_data& src) {
  SLUICE_CO_TRY_VOID(co_await sched.put_chain(bucket, key, src.pieces, s3::default_put_options));
  co_return result<void>{};
}

struct run_totals {
  std::mutex mu;  // guards the vectors
  std::vector<double> latencies_ms;
  std::vector<std::string> errors;
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> ops{0};
};

}  // namespace

int run_bench(const global_options& g, const bench_options& b) {
  auto cfg = resolve_client_options(g);
  if (!cfg) return report("bench", cfg.error());
  engine eng;  // one context per core
  transfer::options topts;
  topts.part_size = b.part_size;
  topts.memory_budget = b.memory_budget;
  topts.max_in_flight = b.concurrency;
  topts.multipart_threshold = std::max<uint64_t>(b.part_size, 64ull << 20);
  auto made = transfer::scheduler::create(eng, *cfg, topts);
  if (!made) return report("bench", made.error());
  auto sched = *made;
  const source_data src = make_source(b.size, b.part_size, topts.multipart_threshold);
  const bool get = b.mode == "get";

  if (!b.output_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(b.output_dir, ec);
    if (ec)
      return report("bench", fail(errc::io_error, "cannot create '" + b.output_dir + "': " + ec.message()));
  }

  // Runs `op(i)` for i in [0, count) (repeated until `duration` when given)
  // with `concurrency` workers spread over the engine's contexts.
  auto run_workers = [&](unsigned workers, unsigned count, double duration_s,
                         std::function<awaitable<result<uint64_t>>(unsigned, unsigned)> op, run_totals& t) {
    std::atomic<uint64_t> next{0};
    std::atomic<unsigned> left{workers};
    std::promise<void> all_done;
    auto deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                            std::chrono::duration<double>(duration_s));
    for (unsigned w = 0; w < workers; ++w) {
      // Worker w runs on context w % contexts and uses that context's client,
      // so its sockets are driven by the thread the coroutine runs on.
      const unsigned ctx = w % eng.thread_count();
      auto worker = [&, ctx]() -> awaitable<void> {
        for (;;) {
          uint64_t n = next.fetch_add(1);
          if (duration_s > 0 ? clock_type::now() >= deadline : n >= count) break;
          unsigned i = static_cast<unsigned>(n % count);
          auto t0 = clock_type::now();
          auto r = co_await op(i, ctx);
          double ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
          std::lock_guard lk(t.mu);
          if (r) {
            t.latencies_ms.push_back(ms);
            t.bytes += *r;
            ++t.ops;
          } else {
            t.errors.push_back(r.error().describe());
          }
        }
      };
      asio::co_spawn(eng.context(ctx), worker, [&](std::exception_ptr) {
        if (--left == 0) all_done.set_value();
      });
    }
    all_done.get_future().wait();
  };

  const std::string bucket = b.bucket;
  if (get) {
    // Set-up: make sure every object exists with the right size.
    // Set-up is not measured: a modest concurrency, so that its own
    // requests do not set the process's peak memory.
    run_totals setup;
    run_workers(
        std::min({b.concurrency, 64u, std::max(1u, b.count)}), b.count, 0,
        [&](unsigned i, unsigned ctx) -> awaitable<result<uint64_t>> {
          std::string key = object_key(b.prefix, i);
          auto& c = sched->client(ctx);
          auto head = co_await c.head_object(bucket, key);
          if (head && head->size == b.size) co_return uint64_t{0};
          if (!head && head.error().code != s3::errc::no_such_key) co_return head.error();
          SLUICE_CO_TRY_VOID(co_await put_one(*sched, bucket, key, src));
          co_return b.size;
        },
        setup);
    if (!setup.errors.empty())
      return report("bench get: writing the objects", fail(errc::io_error, setup.errors.front()));
  }

  // Admit before spawning: the scheduler starts at most operation_limit()
  // calls at once; more workers would only wait, each with its own frames.
  const unsigned workers = std::min({b.concurrency, std::max(1u, b.count), sched->operation_limit()});
  run_totals t;
  auto u0 = usage_now();
  auto t0 = clock_type::now();
  const transfer::consumer discard = [](std::span<const std::byte>, uint64_t) -> result<void> { return {}; };
  run_workers(
      workers, b.count, b.duration_s,
      [&](unsigned i, unsigned) -> awaitable<result<uint64_t>> {
        std::string key = object_key(b.prefix, i);
        if (!get) {
          SLUICE_CO_TRY_VOID(co_await put_one(*sched, bucket, key, src));
          co_return b.size;
        }
        std::optional<uint64_t> known = b.size;
        if (!b.output_dir.empty()) {
          std::string path = b.output_dir + "/" + std::to_string(i);
          SLUICE_CO_TRY(transfer::stats st, co_await sched->download(bucket, key, path, known));
          co_return st.bytes;
        }
        SLUICE_CO_TRY(transfer::stats st, co_await sched->stream(bucket, key, discard, known));
        co_return st.bytes;
      },
      t);
  double wall = std::chrono::duration<double>(clock_type::now() - t0).count();
  auto u1 = usage_now();

  std::sort(t.latencies_ms.begin(), t.latencies_ms.end());
  auto pct = [&](double p) {
    if (t.latencies_ms.empty()) return 0.0;
    std::size_t idx =
        std::min(t.latencies_ms.size() - 1, static_cast<std::size_t>(p * double(t.latencies_ms.size())));
    return t.latencies_ms[idx];
  };
  double bytes = double(t.bytes.load());
  double gib = bytes / double(1ull << 30);
  double thr = wall > 0 ? bytes / wall : 0;
  double rps = wall > 0 ? double(t.ops.load()) / wall : 0;
  double cpu_per_gib = gib > 0 ? (u1.cpu_s - u0.cpu_s) / gib : 0;
  auto hs = sched->http_stats();

  if (b.json) {
    boost::json::object out{{"verb", "bench"},
                            {"mode", b.mode},
                            {"size", b.size},
                            {"count", b.count},
                            {"concurrency", b.concurrency},
                            {"part_size", b.part_size},
                            {"memory_budget", b.memory_budget},
                            {"objects", t.ops.load()},
                            {"bytes", t.bytes.load()},
                            {"seconds", wall},
                            {"throughput_bytes_per_s", thr},
                            {"requests_per_s", rps},
                            {"p50_ms", pct(0.5)},
                            {"p99_ms", pct(0.99)},
                            {"cpu_s_per_gib", cpu_per_gib},
                            {"peak_rss_bytes", u1.max_rss},
                            {"pool_peak_bytes", sched->pool().peak_reserved()},
                            {"http_requests", hs.requests},
                            {"connections", hs.connections_opened},
                            {"body_bytes_direct", hs.body_bytes_direct},
                            {"body_bytes_copied", hs.body_bytes_copied},
                            {"peak_requests_in_flight", sched->peak_requests_in_flight()},
                            {"request_limit", sched->request_limit()},
                            {"errors", t.errors.size()}};
    boost::json::array messages;
    for (const auto& e : t.errors) messages.push_back(boost::json::string(valid_utf8(e)));
    out["error_messages"] = std::move(messages);
    print_json(out);
  } else {
    std::printf("sluice bench %s: %llu objects of %s in %.2f s\n", b.mode.c_str(),
                (unsigned long long)t.ops.load(), format_bytes(double(b.size)).c_str(), wall);
    std::printf("  throughput   %s (%s moved)\n", format_rate(bytes, wall).c_str(),
                format_bytes(bytes).c_str());
    std::printf("  requests/s   %.1f (at most %u in flight", rps, sched->peak_requests_in_flight());
    if (b.concurrency > sched->request_limit())
      std::printf("; %u asked for, the connection cap allows %u", b.concurrency, sched->request_limit());
    std::printf(")\n  latency      p50 %.2f ms, p99 %.2f ms\n", pct(0.5), pct(0.99));
    std::printf("  cpu          %.3f s per GiB\n  peak RSS     %s (memory budget %s, pool peak %s)\n",
                cpu_per_gib, format_bytes(double(u1.max_rss)).c_str(),
                format_bytes(double(b.memory_budget)).c_str(),
                format_bytes(double(sched->pool().peak_reserved())).c_str());
    std::printf("  errors       %zu\n", t.errors.size());
  }
  for (std::size_t i = 0; i < std::min<std::size_t>(3, t.errors.size()); ++i)
    std::fprintf(stderr, "sluice: bench: %s\n", printable(t.errors[i]).c_str());
  return t.errors.empty() ? 0 : 1;
}

}  // namespace sluice::cli
