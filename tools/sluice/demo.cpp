// The README's main job: a large object and many small ones, up and down
// through sluice, verified byte for byte, with timings.
#include "cli.hpp"
#include "json_output.hpp"

#include <sluice/engine/runtime/concurrently.hpp>
#include <sluice/engine/transfer/scheduler.hpp>
#include <sluice/objects/objects.hpp>
#include <sluice/store/s3.hpp>

#include <unistd.h>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

namespace sluice::cli {

namespace asio = boost::asio;
using asio::awaitable;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

bool same_file(const std::string& a, const std::string& b) {
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  std::vector<char> ba(1 << 20), bb(1 << 20);
  while (fa && fb) {
    fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
    fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
    if (fa.gcount() != fb.gcount() ||
        std::memcmp(ba.data(), bb.data(), static_cast<std::size_t>(fa.gcount())) != 0)
      return false;
  }
  return fa.eof() && fb.eof();
}

// Small objects through the bucket store: every worker takes the next index until all are done.
awaitable<result<void>> small_objects(store::store& bucket, const demo_options& d, const std::string& prefix,
                                      bool upload) {
  std::optional<error> first_error;
  unsigned next = 0;
  co_await run_concurrently(
      std::min(d.concurrency, std::max(1u, d.small_count)), [&](unsigned) -> awaitable<void> {
        aligned_buffer expect(static_cast<std::size_t>(d.small_size));
        while (!first_error && next < d.small_count) {
          unsigned i = next++;
          std::string key = prefix + std::to_string(i);
          fill_random(expect.span(), 1000 + i);
          if (upload) {
            auto r = co_await bucket.write(key, expect.span(), store::write_always);
            if (!r && !first_error) first_error = r.error();
          } else {
            auto r = co_await bucket.read(key, store::read_all);  // whole, so the recorded XXH3 is verified
            if (!r) {
              if (!first_error) first_error = r.error();
            } else if (r->state != store::read_state::value) {
              if (!first_error) first_error = fail(errc::not_found, bucket.describe(key) + ": no such key");
            } else if (r->bytes.size() != expect.size() ||
                       std::memcmp(r->bytes.data(), expect.data(), expect.size()) != 0) {
              if (!first_error)
                first_error = fail(errc::integrity_mismatch, bucket.describe(key) + " came back different");
            }
          }
        }
      });
  if (first_error) co_return *first_error;
  co_return result<void>{};
}

// A line of the human report (none under --json: the document says it all).
__attribute__((format(printf, 2, 3))) void say(bool on, const char* format, ...) {
  if (!on) return;
  va_list args;
  va_start(args, format);
  std::vprintf(format, args);
  va_end(args);
}

}  // namespace

int run_demo(session& s, const demo_options& d) {
  auto& eng = *s.eng;
  const bool text = !d.json;
  boost::json::object out{{"verb", "demo"}, {"bucket", d.bucket}};
  out["endpoint"] = valid_utf8(s.client_options.config.endpoint_url);
  say(text, "sluice demo: endpoint %s, bucket %s\n", s.client_options.config.endpoint_url.c_str(),
      d.bucket.c_str());

  auto exists = eng.run(store::bucket_exists(*s.sched, d.bucket));
  if (!exists) return report("demo: head bucket", exists.error());
  if (!*exists) {
    if (auto r = eng.run(store::create_bucket(*s.sched, d.bucket)); !r)
      return report("demo: create bucket", r.error());
    say(text, "  created bucket %s\n", d.bucket.c_str());
    out["created_bucket"] = true;
  }
  auto bucket = bucket_store(s, d.bucket);
  if (!bucket) return report("demo", bucket.error());

  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = fs::temp_directory_path() / ("sluice-demo-" + std::to_string(::getpid()));
  fs::create_directories(dir, ec);
  if (ec) return report("demo", fail(errc::io_error, "cannot create " + dir.string() + ": " + ec.message()));
  struct cleanup {
    fs::path dir;
    ~cleanup() {
      std::error_code e;
      fs::remove_all(dir, e);
    }
  } guard{dir};

  const std::string src = (dir / "large.bin").string(), back = (dir / "large.back").string();
  {
    std::ofstream out(src, std::ios::binary);
    aligned_buffer chunk(8 << 20);
    for (uint64_t off = 0; off < d.large_size; off += chunk.size()) {
      std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(chunk.size(), d.large_size - off));
      fill_random(chunk.span().first(n), off);
      out.write(reinterpret_cast<const char*>(chunk.data()), static_cast<std::streamsize>(n));
    }
    if (!out) return report("demo", fail(errc::io_error, "cannot write " + src));
  }
  const std::string large_key = "demo/large.bin";
  // The large object goes through the transfer scheduler: parts in flight,
  // a memory-bounded pool, io_uring writes.
  engine xfer_engine;
  transfer::options topts;
  auto made = transfer::scheduler::create(xfer_engine, s.client_options, topts);
  if (!made) return report("demo", made.error());
  auto sched = *made;

  auto t0 = clock_type::now();
  auto up = eng.run(sched->upload(src, d.bucket, large_key));
  double t_up = seconds_since(t0);
  if (!up) return report("demo: upload", up.error());
  uint64_t parts =
      d.large_size > topts.multipart_threshold ? (d.large_size + topts.part_size - 1) / topts.part_size : 1;
  say(text, "  uploaded   %s in %llu part%s: %.2f s, %s\n", format_bytes(double(d.large_size)).c_str(),
      static_cast<unsigned long long>(parts), parts == 1 ? "" : "s", t_up,
      format_rate(double(d.large_size), t_up).c_str());

  t0 = clock_type::now();
  auto down = eng.run(sched->download(d.bucket, large_key, back));
  double t_down = seconds_since(t0);
  if (!down) return report("demo: download", down.error());
  bool same = same_file(src, back);
  out["large"] = boost::json::object{{"bytes", d.large_size},
                                     {"parts", parts},
                                     {"upload_seconds", t_up},
                                     {"download_seconds", t_down},
                                     {"identical", same}};
  say(text, "  downloaded %s: %.2f s, %s, XXH3 verified, byte-for-byte %s\n",
      format_bytes(double(d.large_size)).c_str(), t_down, format_rate(double(d.large_size), t_down).c_str(),
      same ? "identical" : "DIFFERENT");
  if (!same)
    return report("demo", fail(errc::integrity_mismatch, "the downloaded file differs from the original"));

  const std::string prefix = "demo/small/";
  t0 = clock_type::now();
  if (auto r = eng.run(small_objects(**bucket, d, prefix, true)); !r)
    return report("demo: small uploads", r.error());
  double t_sp = seconds_since(t0);
  say(text, "  uploaded   %u objects of %s: %.2f s, %.0f objects/s\n", d.small_count,
      format_bytes(double(d.small_size)).c_str(), t_sp, d.small_count / t_sp);
  t0 = clock_type::now();
  if (auto r = eng.run(small_objects(**bucket, d, prefix, false)); !r)
    return report("demo: small downloads", r.error());
  double t_sg = seconds_since(t0);
  say(text, "  downloaded %u objects: %.2f s, %.0f objects/s, all verified\n", d.small_count, t_sg,
      d.small_count / t_sg);
  out["small"] = boost::json::object{{"count", d.small_count},
                                     {"bytes_each", d.small_size},
                                     {"upload_seconds", t_sp},
                                     {"download_seconds", t_sg}};

  uint64_t listed = 0;
  const store::list_callback count = [&](store::list_page& page) -> result<bool> {
    listed += page.entries.size();
    return true;
  };
  if (auto r = eng.run(objects::list(**bucket, prefix, true, count)); !r)
    return report("demo: list", r.error());
  out["listed"] = listed;
  say(text, "  listed     %llu objects under s3://%s/%s\n", static_cast<unsigned long long>(listed),
      d.bucket.c_str(), prefix.c_str());
  if (listed != d.small_count)
    return report("demo", fail(errc::malformed_response, "the listing does not show every object"));

  if (!d.keep) {
    auto removed = eng.run(objects::remove(**bucket, "demo", true));
    if (!removed) return report("demo: clean up", removed.error());
    say(text, "  removed    %llu objects\n", static_cast<unsigned long long>(removed->deleted));
    out["removed"] = removed->deleted;
  }
  // Every request: the bucket store's (bucket, small objects, listing, clean-up) and the large object's.
  auto stats = s.sched->http_stats();
  stats += sched->http_stats();
  say(text, "sluice demo: OK (%llu requests on %llu connections)\n",
      static_cast<unsigned long long>(stats.requests),
      static_cast<unsigned long long>(stats.connections_opened));
  if (!text) {
    out["ok"] = true;
    out["requests"] = stats.requests;
    out["connections"] = stats.connections_opened;
    print_json(out);
  }
  return 0;
}

}  // namespace sluice::cli
