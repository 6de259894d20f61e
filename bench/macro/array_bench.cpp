// sluice_array_bench: the array rows of the macro benchmark (bench/macro/run.sh).
//
// A 2-d float32 Zarr v3 array, sharded, zstd inside the shards (as `sluice
// array put --shards` writes it), on an S3 endpoint (nginx in the harness),
// written and read through zarr::array over the S3 store, next to what the
// same scheduler does with the stored bytes alone (no encode, no decode):
//
//   sluice_array_bench --endpoint-url URL write   s3://BUCKET/PATH --shape R,C --shards R,C --chunks R,C
//                                                 [--select A:B,C:D]   (the selection's checksum too)
//   sluice_array_bench --endpoint-url URL read    s3://BUCKET/PATH [--select A:B,C:D]
//   sluice_array_bench --endpoint-url URL raw-get s3://BUCKET/PATH [--select A:B,C:D]
//   sluice_array_bench --endpoint-url URL read-memory s3://BUCKET/PATH [--select A:B,C:D]
//   sluice_array_bench --endpoint-url URL raw-put s3://BUCKET/PATH --to PATH2
//   common: [--concurrency N] [--part-size B] [--memory-budget B] [--in-flight N] [--zstd-level L]
//
// write    generates the data (a smooth field plus noise, quantised to 0.01:
//          zstd stores it in 2-4x fewer bytes), then times array::create +
//          array::write of the whole array, N shards at once.
// read     times array::read of the whole array or of the selection into one
//          buffer (the caller's: reported apart from the peak RSS), N shards at once.
// raw-get  the ceiling of read: the same scheduler reads the stored bytes the
//          read needs without decoding them: every shard whole, or for a
//          selection the inner chunks' byte ranges (learnt from the shard
//          indexes before the clock starts) with store::read_ranges, N shards at once.
// read-memory  the ceiling of read's CPU: the stored objects are copied into a
//          memory store of this process before the clock starts, then read
//          exactly as `read` does (decoded on the same engine's threads) with
//          no network at all: what decoding alone allows on this machine.
// raw-put  the ceiling of write: the stored shards (read into memory before the
//          clock starts) PUT again under PATH2 by the same scheduler, N at once.
//
// Each prints one JSON line: decoded and stored bytes, seconds, the rates, the
// HTTP requests the scheduler sent while timed, CPU seconds (user + system,
// getrusage, timed part only), peak RSS, the caller's buffer, and `checksum`:
// the sum, as a double in C order, of the elements moved (what zarrita's
// script computes too). raw-get of a selection adds the plan: shards, the
// coalesced spans and the GETs the scheduler needs for them.
#include <sluice/engine/runtime/concurrently.hpp>
#include <sluice/engine/runtime/engine.hpp>
#include <sluice/engine/s3/config.hpp>
#include <sluice/engine/transfer/scheduler.hpp>
#include <sluice/store/memory.hpp>
#include <sluice/store/s3.hpp>
#include <sluice/zarr/array.hpp>
#include <sluice/zarr/metadata.hpp>

#include <boost/json/serialize.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace sluice;
using clock_type = std::chrono::steady_clock;

struct bench_args {
  std::string mode, endpoint, bucket, path, to;
  std::vector<std::uint64_t> shape, shards, chunks;
  std::optional<std::vector<std::pair<std::uint64_t, std::uint64_t>>> select;
  unsigned concurrency = 4;
  unsigned in_flight = 16;
  std::uint64_t part_size = 8ull << 20;
  std::uint64_t memory_budget = 256ull << 20;
  int zstd_level = 3;
};

struct usage_snapshot {
  double cpu_s = 0;
  std::uint64_t max_rss = 0;
};
usage_snapshot usage_now() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return {double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
              double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
          static_cast<std::uint64_t>(ru.ru_maxrss) * 1024};
}

int die(const std::string& what) {
  std::fprintf(stderr, "sluice_array_bench: %s\n", what.c_str());
  return 1;
}

std::optional<std::vector<std::uint64_t>> parse_list(const std::string& text) {
  std::vector<std::uint64_t> out;
  std::size_t at = 0;
  while (at <= text.size()) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    const std::string item = text.substr(at, comma - at);
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    out.push_back(std::stoull(item));
    at = comma + 1;
  }
  return out;
}

// "A:B,C:D": one half-open range per dimension.
std::optional<std::vector<std::pair<std::uint64_t, std::uint64_t>>> parse_select(const std::string& text) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
  std::string s = text;
  for (char& c : s)
    if (c == ':') c = ',';
  auto v = parse_list(s);
  if (!v || v->size() % 2 != 0) return std::nullopt;
  for (std::size_t i = 0; i < v->size(); i += 2) {
    if ((*v)[i] >= (*v)[i + 1]) return std::nullopt;
    out.emplace_back((*v)[i], (*v)[i + 1]);
  }
  return out;
}

// The bench data: element (i, j) of an R x C field, a smooth wave around
// 280 plus noise of about 0.01, quantised to 0.01 like a stored measurement.
class field {
 public:
  field(std::uint64_t rows, std::uint64_t cols) : row_wave_(rows), col_wave_(cols), ripple_(cols) {
    for (std::uint64_t i = 0; i < rows; ++i) row_wave_[i] = std::sin(double(i) * 0.0021);
    for (std::uint64_t j = 0; j < cols; ++j) {
      col_wave_[j] = std::cos(double(j) * 0.0017);
      ripple_[j] = std::sin(double(j) * 0.05);
    }
  }
  float at(std::uint64_t i, std::uint64_t j) const {
    std::uint64_t z = (i * col_wave_.size() + j) * 0x9e3779b97f4a7c15ull;  // splitmix64
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    const double noise =
        (double(z >> 40) + double(z & 0xffffff)) / double(1 << 24) - 1.0;  // triangular, -1..1
    const double t = 280.0 + 15.0 * row_wave_[i] * col_wave_[j] + 2.0 * ripple_[j] + 0.01 * noise;
    return static_cast<float>(std::round(t * 100.0) / 100.0);
  }

 private:
  std::vector<double> row_wave_, col_wave_, ripple_;
};

zarr::array_metadata make_metadata(const bench_args& a) {
  const json::object little{{"endian", "little"}};
  json::array inner;
  for (auto c : a.chunks) inner.push_back(static_cast<std::int64_t>(c));
  json::object cfg{
      {"chunk_shape", inner},
      {"codecs", json::array{json::object{{"name", "bytes"}, {"configuration", little}},
                             json::object{{"name", "zstd"},
                                          {"configuration",
                                           json::object{{"level", a.zstd_level}, {"checksum", false}}}}}},
      {"index_codecs", json::array{json::object{{"name", "bytes"}, {"configuration", little}},
                                   json::object{{"name", "crc32c"}}}},
      {"index_location", "end"}};
  zarr::array_metadata m;
  m.shape = a.shape;
  m.dtype = zarr::data_type::float32;
  m.fill = zarr::fill_value::zero(m.dtype);
  m.chunk_grid.chunk_shape = a.shards;
  m.codecs = {{"sharding_indexed", std::move(cfg), true}};
  return m;
}

zarr::selection to_selection(const bench_args& a) {
  zarr::selection sel;
  if (a.select)
    for (auto [b, e] : *a.select) sel.push_back(zarr::slice::range(b, e));
  return sel;
}

// The selection (or the whole array) as per-dimension [begin, end).
std::vector<std::pair<std::uint64_t, std::uint64_t>> box_of(const bench_args& a,
                                                            std::span<const std::uint64_t> shape) {
  if (a.select) return *a.select;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> box;
  for (auto n : shape) box.emplace_back(0, n);
  return box;
}

double checksum_of(std::span<const float> v) {
  double sum = 0;
  for (float f : v) sum += double(f);
  return sum;
}

// What the sharding codec's configuration says: inner chunk shape.
std::vector<std::uint64_t> inner_shape_of(const zarr::array_metadata& m) {
  std::vector<std::uint64_t> out;
  for (const auto& c : m.codecs)
    if (c.name == "sharding_indexed")
      for (const auto& v : c.configuration.at("chunk_shape").as_array())
        out.push_back(static_cast<std::uint64_t>(v.to_number<std::int64_t>()));
  return out;
}

// One shard a read touches: its grid index and, for a selection, the byte
// ranges of the inner chunks it needs (from its index).
struct shard_plan {
  std::vector<std::uint64_t> index;
  std::string key;
  std::uint64_t stored = 0;  // the shard's size
  std::vector<store::byte_range> ranges;
};

struct run_figures {
  std::uint64_t decoded = 0, stored = 0, requests = 0, destination = 0;
  double seconds = 0, cpu_s = 0, checksum = 0;
  std::optional<double> checksum_selection;
  usage_snapshot end;
  double window_start = 0, window_end = 0;  // Unix time, s
  json::object extra;
};

// The timed part, as a steady duration and as a window of Unix time, so that
// the harness can pick its requests out of nginx's access log (stamped with
// $msec). 10 ms of quiet on either side keep the untimed requests out of it.
class timed_window {
 public:
  timed_window() {
    std::this_thread::sleep_for(quiet);
    start_ = std::chrono::system_clock::now();
    t0_ = clock_type::now();
  }
  void stop(run_figures& r) const {
    r.seconds = std::chrono::duration<double>(clock_type::now() - t0_).count();
    auto unix_s = [](std::chrono::system_clock::time_point t) {
      return std::chrono::duration<double>(t.time_since_epoch()).count();
    };
    r.window_start = unix_s(start_);
    r.window_end = unix_s(std::chrono::system_clock::now());
    std::this_thread::sleep_for(quiet);
  }

 private:
  static constexpr std::chrono::milliseconds quiet{10};
  std::chrono::system_clock::time_point start_;
  clock_type::time_point t0_;
};

void print(const bench_args& a, const run_figures& f) {
  const double gib = double(f.decoded) / double(1ull << 30);
  json::object o{{"mode", a.mode},
                 {"selection", a.select.has_value()},
                 {"concurrency", a.concurrency},
                 {"part_size", a.part_size},
                 {"memory_budget", a.memory_budget},
                 {"decoded_bytes", f.decoded},
                 {"stored_bytes", f.stored},
                 {"seconds", f.seconds},
                 {"decoded_bytes_per_s", f.seconds > 0 ? double(f.decoded) / f.seconds : 0.0},
                 {"stored_bytes_per_s", f.seconds > 0 ? double(f.stored) / f.seconds : 0.0},
                 {"http_requests", f.requests},
                 {"cpu_s", f.cpu_s},
                 {"cpu_s_per_gib", gib > 0 ? f.cpu_s / gib : 0.0},
                 {"peak_rss_bytes", f.end.max_rss},
                 {"destination_bytes", f.destination},
                 {"checksum", f.checksum},
                 {"window", json::array{f.window_start, f.window_end}}};
  if (f.checksum_selection) o["checksum_selection"] = *f.checksum_selection;
  for (const auto& kv : f.extra) o[kv.key()] = kv.value();
  std::printf("%s\n", json::serialize(o).c_str());
}

class bench {
 public:
  bench(bench_args a, engine& eng, std::shared_ptr<transfer::scheduler> sched)
      : a_(std::move(a)), eng_(eng), sched_(std::move(sched)) {}

  result<std::shared_ptr<store::store>> open(const std::string& prefix) {
    return store::open_s3_store(sched_, {a_.bucket, prefix, store::conditional_writes::assume_unsupported});
  }

  // The shard keys a read of the box touches, with their sizes (HEAD) and,
  // for a selection, the inner chunks' byte ranges (their index). Untimed.
  result<std::vector<shard_plan>> plan(store::store& st, const zarr::array& arr) {
    const auto& m = arr.metadata();
    const auto inner = inner_shape_of(m);
    const auto& shard = m.chunk_grid.chunk_shape;
    const auto box = box_of(a_, m.shape);
    const std::size_t rank = m.shape.size();
    std::vector<std::uint64_t> per_shard(rank);
    std::uint64_t inner_count = 1;
    for (std::size_t d = 0; d < rank; ++d) {
      per_shard[d] = shard[d] / inner[d];
      inner_count *= per_shard[d];
    }
    const std::uint64_t index_bytes = 16 * inner_count + 4;  // (offset, nbytes) pairs + CRC-32C
    std::vector<shard_plan> out;
    std::vector<std::uint64_t> lo(rank), hi(rank), at(rank);
    for (std::size_t d = 0; d < rank; ++d) {
      lo[d] = box[d].first / shard[d];
      hi[d] = (box[d].second - 1) / shard[d];
      at[d] = lo[d];
    }
    for (;;) {
      shard_plan p;
      p.index = at;
      p.key = arr.chunk_key(at);
      auto stat = eng_.run(st.stat(p.key));
      if (!stat) return stat.error();
      if (*stat) {
        p.stored = (*stat)->size;
        if (a_.select) {
          store::read_options o;
          o.range = store::byte_range::last(index_bytes);
          auto idx = eng_.run(st.read(p.key, o));
          if (!idx) return idx.error();
          const auto bytes = idx->bytes.span();
          // Inner chunks of this shard inside the box, in C order.
          std::vector<std::uint64_t> ilo(rank), ihi(rank), k(rank);
          for (std::size_t d = 0; d < rank; ++d) {
            const std::uint64_t first = at[d] * shard[d], last = first + shard[d] - 1;
            const std::uint64_t b = std::max(first, box[d].first), e = std::min(last, box[d].second - 1);
            ilo[d] = (b - first) / inner[d];
            ihi[d] = (e - first) / inner[d];
            k[d] = ilo[d];
          }
          for (;;) {
            std::uint64_t linear = 0;
            for (std::size_t d = 0; d < rank; ++d) linear = linear * per_shard[d] + k[d];
            std::uint64_t off = 0, n = 0;
            std::memcpy(&off, bytes.data() + 16 * linear, 8);
            std::memcpy(&n, bytes.data() + 16 * linear + 8, 8);
            if (off != ~0ull) p.ranges.push_back(store::byte_range::at(off, n));
            std::size_t d = rank;
            while (d > 0 && ++k[d - 1] > ihi[d - 1]) {
              k[d - 1] = ilo[d - 1];
              --d;
            }
            if (d == 0) break;
          }
        }
        out.push_back(std::move(p));
      }
      std::size_t d = rank;
      while (d > 0 && ++at[d - 1] > hi[d - 1]) {
        at[d - 1] = lo[d - 1];
        --d;
      }
      if (d == 0) break;
    }
    return out;
  }

  // The GETs the scheduler sends for a shard's ranges: merged within
  // coalesce_gap into spans, each span a first request of at most 1 MiB
  // (pipeline::first_read_window) and then parts.
  static void count_spans(std::vector<store::byte_range> ranges, std::uint64_t gap, std::uint64_t part,
                          std::uint64_t& spans, std::uint64_t& gets, std::uint64_t& span_bytes) {
    std::sort(ranges.begin(), ranges.end(), [](auto& x, auto& y) { return x.offset < y.offset; });
    std::vector<std::pair<std::uint64_t, std::uint64_t>> merged;
    for (const auto& r : ranges) {
      const std::uint64_t b = r.offset, e = r.offset + *r.length;
      if (!merged.empty() && (b <= merged.back().second || b - merged.back().second <= gap))
        merged.back().second = std::max(merged.back().second, e);
      else
        merged.emplace_back(b, e);
    }
    const std::uint64_t window = std::min<std::uint64_t>(1ull << 20, part);
    for (auto [b, e] : merged) {
      ++spans;
      span_bytes += e - b;
      gets += 1 + (e - b > window ? (e - b - window + part - 1) / part : 0);
    }
  }

  int write() {
    if (a_.shape.size() != 2) return die("write: --shape must have two dimensions");
    auto st = open(a_.path);
    if (!st) return die(st.error().describe());
    const std::uint64_t rows = a_.shape[0], cols = a_.shape[1];
    std::vector<float> data(rows * cols);
    const field f(rows, cols);
    for (std::uint64_t i = 0; i < rows; ++i)
      for (std::uint64_t j = 0; j < cols; ++j) data[i * cols + j] = f.at(i, j);
    run_figures r;
    r.decoded = r.destination = data.size() * sizeof(float);
    r.checksum = checksum_of(data);
    if (a_.select) {
      double sum = 0;
      const auto& s = *a_.select;
      for (std::uint64_t i = s[0].first; i < s[0].second; ++i)
        for (std::uint64_t j = s[1].first; j < s[1].second; ++j) sum += double(data[i * cols + j]);
      r.checksum_selection = sum;
    }
    const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data.data()), r.decoded);
    const auto h0 = sched_->http_stats().requests;
    const auto u0 = usage_now();
    const timed_window window;
    auto arr = eng_.run(zarr::array::create(*st, "", make_metadata(a_)));
    if (!arr) return die(arr.error().describe());
    const zarr::selection everything;
    auto w = eng_.run(arr->write(everything, in, a_.concurrency));
    if (!w) return die(w.error().describe());
    window.stop(r);
    r.end = usage_now();
    r.cpu_s = r.end.cpu_s - u0.cpu_s;
    r.requests = sched_->http_stats().requests - h0;
    const bench_args whole = [&] {
      bench_args b = a_;
      b.select.reset();
      return b;
    }();
    bench sizes(whole, eng_, sched_);
    auto shards = sizes.plan(**st, *arr);
    if (!shards) return die(shards.error().describe());
    for (const auto& s : *shards) r.stored += s.stored;
    r.extra["shards"] = shards->size();
    print(a_, r);
    return 0;
  }

  int read() {
    auto st = open(a_.path);
    if (!st) return die(st.error().describe());
    auto arr = eng_.run(zarr::array::open(*st, ""));
    if (!arr) return die(arr.error().describe());
    return time_read(*arr, **st, *arr);
  }

  // Times `arr.read` of the selection (or everything) into one buffer,
  // touched before the clock starts; the stored bytes it moved come from the
  // plan of `remote_arr` on `remote` (after the clock).
  int time_read(const zarr::array& arr, store::store& remote, const zarr::array& remote_arr) {
    const zarr::selection sel = to_selection(a_);
    auto shape = arr.shape_of(sel);
    if (!shape) return die(shape.error().describe());
    std::uint64_t n = 1;
    for (auto d : *shape) n *= d;
    std::vector<float> out(n);  // the caller's buffer, touched before the clock starts
    std::span<std::byte> dst(reinterpret_cast<std::byte*>(out.data()), n * sizeof(float));
    run_figures r;
    r.decoded = r.destination = dst.size();
    const auto h0 = sched_->http_stats().requests;
    const auto u0 = usage_now();
    const timed_window window;
    auto got = eng_.run(arr.read(sel, dst, a_.concurrency));
    if (!got) return die(got.error().describe());
    window.stop(r);
    r.end = usage_now();
    r.cpu_s = r.end.cpu_s - u0.cpu_s;
    r.requests = sched_->http_stats().requests - h0;
    r.checksum = checksum_of(out);
    auto shards = plan(remote, remote_arr);
    if (!shards) return die(shards.error().describe());
    r.stored = stored_read(*shards);
    r.extra["shards"] = shards->size();
    print(a_, r);
    return 0;
  }

  // Stored bytes a read moves: whole shards, or the selection's ranges.
  std::uint64_t stored_read(const std::vector<shard_plan>& shards) const {
    std::uint64_t bytes = 0;
    for (const auto& s : shards) {
      if (!a_.select) {
        bytes += s.stored;
        continue;
      }
      for (const auto& rg : s.ranges) bytes += *rg.length;
    }
    return bytes;
  }

  int read_memory() {
    auto st = open(a_.path);
    if (!st) return die(st.error().describe());
    auto arr = eng_.run(zarr::array::open(*st, ""));
    if (!arr) return die(arr.error().describe());
    auto shards = plan(**st, *arr);
    if (!shards) return die(shards.error().describe());
    store::memory_options mo;
    mo.capacity = std::size_t(8) << 30;
    mo.compute = &sched_->owner();
    auto mem = store::make_memory_store(mo);
    std::vector<std::string> keys{"zarr.json"};
    for (const auto& sh : *shards) keys.push_back(sh.key);
    for (const auto& key : keys) {  // untimed: the stored bytes into memory
      auto got = eng_.run((*st)->read(key));
      if (!got) return die(got.error().describe());
      auto put = eng_.run(mem->write(key, got->bytes.span()));
      if (!put) return die(put.error().describe());
    }
    auto local = eng_.run(zarr::array::open(mem, ""));
    if (!local) return die(local.error().describe());
    return time_read(*local, **st, *arr);
  }

  int raw_get() {
    auto st = open(a_.path);
    if (!st) return die(st.error().describe());
    auto arr = eng_.run(zarr::array::open(*st, ""));
    if (!arr) return die(arr.error().describe());
    auto shards = plan(**st, *arr);
    if (!shards) return die(shards.error().describe());
    run_figures r;
    r.stored = stored_read(*shards);
    const auto box = box_of(a_, arr->metadata().shape);
    r.decoded = sizeof(float);
    for (auto [b, e] : box) r.decoded *= e - b;
    if (a_.select) {
      std::uint64_t spans = 0, gets = 0, span_bytes = 0;
      for (const auto& s : *shards)
        count_spans(s.ranges, transfer::options{}.coalesce_gap, a_.part_size, spans, gets, span_bytes);
      r.extra["shards"] = shards->size();
      r.extra["spans"] = spans;
      r.extra["span_bytes"] = span_bytes;
      r.extra["expected_gets"] = gets;
      r.extra["expected_read_requests"] = gets + shards->size();  // + one index GET per shard
    }
    std::size_t next = 0;
    std::optional<error> failed;
    std::uint64_t moved = 0;
    auto worker = [&](unsigned) -> asio::awaitable<void> {
      while (!failed && next < shards->size()) {
        const shard_plan& s = (*shards)[next++];
        if (!a_.select) {
          auto got = co_await (*st)->read(s.key);
          if (!got) failed = got.error();
          if (got) moved += got->bytes.size();
          continue;
        }
        if (s.ranges.empty()) continue;
        auto got = co_await (*st)->read_ranges(s.key, s.ranges);
        if (!got) failed = got.error();
        if (got)
          for (const auto& b : got->ranges) moved += b.size();
      }
    };
    const auto h0 = sched_->http_stats().requests;
    const auto u0 = usage_now();
    const timed_window window;
    eng_.run(run_concurrently(std::max(1u, a_.concurrency), worker));
    if (failed) return die(failed->describe());
    window.stop(r);
    r.end = usage_now();
    r.cpu_s = r.end.cpu_s - u0.cpu_s;
    r.requests = sched_->http_stats().requests - h0;
    if (moved != r.stored)
      return die("raw-get moved " + std::to_string(moved) + " bytes, planned " + std::to_string(r.stored));
    print(a_, r);
    return 0;
  }

  int raw_put() {
    auto src = open(a_.path);
    auto dst = open(a_.to);
    if (!src || !dst) return die((src ? dst.error() : src.error()).describe());
    auto arr = eng_.run(zarr::array::open(*src, ""));
    if (!arr) return die(arr.error().describe());
    auto shards = plan(**src, *arr);
    if (!shards) return die(shards.error().describe());
    // The stored shards in heap memory (the pool's buffers go back at once).
    std::vector<std::vector<std::byte>> bytes;
    run_figures r;
    for (const auto& s : *shards) {
      auto got = eng_.run((*src)->read(s.key));
      if (!got) return die(got.error().describe());
      auto span = got->bytes.span();
      bytes.emplace_back(span.begin(), span.end());
      r.stored += span.size();
    }
    r.decoded = arr->metadata().element_count() * sizeof(float);
    std::size_t next = 0;
    std::optional<error> failed;
    auto worker = [&](unsigned) -> asio::awaitable<void> {
      while (!failed && next < shards->size()) {
        const std::size_t i = next++;
        const std::span<const std::byte> body(bytes[i]);
        auto w = co_await (*dst)->write((*shards)[i].key, body);
        if (!w) failed = w.error();
      }
    };
    const auto h0 = sched_->http_stats().requests;
    const auto u0 = usage_now();
    const timed_window window;
    eng_.run(run_concurrently(std::max(1u, a_.concurrency), worker));
    if (failed) return die(failed->describe());
    window.stop(r);
    r.end = usage_now();
    r.cpu_s = r.end.cpu_s - u0.cpu_s;
    r.requests = sched_->http_stats().requests - h0;
    for (const auto& b : bytes) r.destination += b.size();
    r.extra["shards"] = shards->size();
    print(a_, r);
    return 0;
  }

 private:
  bench_args a_;
  engine& eng_;
  std::shared_ptr<transfer::scheduler> sched_;
};

const char* usage_text =
    "usage: sluice_array_bench --endpoint-url URL (write|read|raw-get|read-memory|raw-put) s3://BUCKET/PATH\n"
    "         [--shape R,C --shards R,C --chunks R,C] [--select A:B,C:D] [--to PATH2]\n"
    "         [--concurrency N] [--in-flight N] [--part-size B] [--memory-budget B] [--zstd-level L]\n";

}  // namespace

int main(int argc, char** argv) {
  bench_args a;
  std::string url;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    std::optional<std::string> v;
    auto list_into = [&](std::vector<std::uint64_t>& to) {
      auto l = v ? parse_list(*v) : std::nullopt;
      if (!l) return false;
      to = *l;
      return true;
    };
    bool ok = true;
    if (arg == "-h" || arg == "--help") {
      std::fputs(usage_text, stdout);
      return 0;
    } else if (arg == "--endpoint-url") {
      ok = (v = value()).has_value();
      if (ok) a.endpoint = *v;
    } else if (arg == "--shape" || arg == "--shards" || arg == "--chunks") {
      v = value();
      ok = list_into(arg == "--shape" ? a.shape : arg == "--shards" ? a.shards : a.chunks);
    } else if (arg == "--select") {
      v = value();
      if (v) a.select = parse_select(*v);
      ok = v && a.select;
    } else if (arg == "--to") {
      ok = (v = value()).has_value();
      if (ok) a.to = *v;
    } else if (arg == "--concurrency" || arg == "--in-flight" || arg == "--part-size" ||
               arg == "--memory-budget" || arg == "--zstd-level") {
      v = value();
      std::vector<std::uint64_t> n;
      ok = list_into(n) && n.size() == 1;
      if (ok) {
        if (arg == "--concurrency") a.concurrency = static_cast<unsigned>(n[0]);
        if (arg == "--in-flight") a.in_flight = static_cast<unsigned>(n[0]);
        if (arg == "--part-size") a.part_size = n[0];
        if (arg == "--memory-budget") a.memory_budget = n[0];
        if (arg == "--zstd-level") a.zstd_level = static_cast<int>(n[0]);
      }
    } else if (a.mode.empty() && !arg.starts_with("-")) {
      a.mode = arg;
    } else if (url.empty() && arg.starts_with("s3://")) {
      url = arg;
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "sluice_array_bench: bad argument '%s'\n%s", arg.c_str(), usage_text);
      return 2;
    }
  }
  const std::size_t slash = url.find('/', 5);
  if (a.mode.empty() || url.size() <= 5 || slash == std::string::npos) {
    std::fputs(usage_text, stderr);
    return 2;
  }
  a.bucket = url.substr(5, slash - 5);
  a.path = url.substr(slash + 1);
  if (a.mode == "write" &&
      (a.shape.empty() || a.shards.size() != a.shape.size() || a.chunks.size() != a.shape.size()))
    return die("write needs --shape, --shards and --chunks of one rank");
  if (a.mode == "raw-put" && a.to.empty()) return die("raw-put needs --to");

  s3::config_overrides o;
  if (!a.endpoint.empty()) o.endpoint_url = a.endpoint;
  auto cfg = s3::resolve_config(o, s3::process_env());
  if (!cfg) return die(cfg.error().describe());
  s3::client_options copts;
  copts.config = std::move(*cfg);
  engine eng;  // one context per core, as `sluice bench`
  transfer::options t;
  t.part_size = a.part_size;
  t.memory_budget = a.memory_budget;
  t.max_in_flight = a.in_flight;
  // One PUT per shard (nginx takes no multipart upload): above any shard.
  t.multipart_threshold = std::size_t(1) << 30;
  auto sched = transfer::scheduler::create(eng, copts, t);
  if (!sched) return die(sched.error().describe());
  bench b(a, eng, *sched);
  if (a.mode == "write") return b.write();
  if (a.mode == "read") return b.read();
  if (a.mode == "raw-get") return b.raw_get();
  if (a.mode == "read-memory") return b.read_memory();
  if (a.mode == "raw-put") return b.raw_put();
  return die("unknown mode '" + a.mode + "'");
}
