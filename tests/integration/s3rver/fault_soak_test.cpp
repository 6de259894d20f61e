// The fault soak: a seeded campaign of a few thousand S3 operations (whole and ranged GETs, single
// and multipart PUTs, HEADs, listings, removes, downloads to files) through a fault_proxy that
// injects every fault kind it has into a quarter of the exchanges, part through the store layer and
// the transfer scheduler, part through the `sluice` CLI. Every operation must end correct (the bytes
// checked against what was written) or as a clean error (a code and a message); a wrong result
// reported as success fails the test. One summary line of counts goes to standard output.
//
// And the stall campaign: stalls in an answer's header, in its body and in a PUT's upload, each an
// error of kind timeout (never a hang), each followed by a clean request that succeeds.
//
// SLUICE_SOAK_SEED sets the seed (else it comes from the clock; it is printed either way),
// SLUICE_SOAK_OPS and SLUICE_SOAK_CLI_OPS the number of operations.
#include "fault_proxy.hpp"
#include "s3_test_client.hpp"

#include <sluice/engine/s3/error.hpp>
#include <sluice/engine/transfer/scheduler.hpp>
#include <sluice/store/s3.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace sluice;
using namespace sluice::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t KiB = 1024, MiB = 1024 * KiB;
constexpr std::size_t part_size = 5 * MiB;  // S3's smallest part: values above go in parts

uint64_t env_number(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 10);
}

uint64_t soak_seed() {
  const uint64_t clock = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  return env_number("SLUICE_SOAK_SEED", clock % 1'000'000'007);
}

// ---- what the campaign counts -----------------------------------------------------------------

// Outcomes of every operation, from every worker thread.
class tally {
 public:
  void correct() { ++correct_; }
  void clean_error(const std::string& kind, const std::string& example) {
    ++clean_;
    std::lock_guard lk(mu_);
    ++errors_[kind];
    examples_.try_emplace(kind, example);
  }
  // A wrong result reported as success, an error without a code or message, a torn file.
  void bad(std::string what) {
    ++bad_;
    std::lock_guard lk(mu_);
    if (bad_list_.size() < 20) bad_list_.push_back(std::move(what));
  }
  // Judges an error: clean when it has a code and a message.
  void error_of(const error& e, const std::string& op) {
    if (e.code && !e.message.empty())
      clean_error(std::string(e.code.category().name()) + ":" + e.code.message(), op + ": " + e.describe());
    else
      bad(op + ": an error without a code or a message: '" + e.describe() + "'");
  }
  void op_time(std::chrono::steady_clock::duration d) {
    std::lock_guard lk(mu_);
    longest_ = std::max(longest_, d);
  }

  int correct_count() const { return correct_.load(); }
  int clean_count() const { return clean_.load(); }
  int bad_count() const { return bad_.load(); }
  std::vector<std::string> bad_list() const {
    std::lock_guard lk(mu_);
    return bad_list_;
  }
  std::map<std::string, int> errors() const {
    std::lock_guard lk(mu_);
    return errors_;
  }
  // The first error message of each kind.
  std::map<std::string, std::string> examples() const {
    std::lock_guard lk(mu_);
    return examples_;
  }
  double longest_seconds() const {
    std::lock_guard lk(mu_);
    return std::chrono::duration<double>(longest_).count();
  }

 private:
  std::atomic<int> correct_{0}, clean_{0}, bad_{0};
  mutable std::mutex mu_;
  std::map<std::string, int> errors_;
  std::map<std::string, std::string> examples_;
  std::vector<std::string> bad_list_;
  std::chrono::steady_clock::duration longest_{};
};

// ---- what a key may hold ----------------------------------------------------------------------

using content = std::shared_ptr<const std::vector<std::byte>>;  // nullptr: no value

// What one key may hold. A write or remove that failed may or may not have reached the server (the
// proxy may even forward it after the client gave up): the key then keeps every candidate and is
// never written again.
struct key_model {
  std::string key;
  std::vector<content> candidates{nullptr};
  bool tainted = false;

  bool settled() const { return candidates.size() == 1; }
  bool may_be_absent() const {
    return std::find(candidates.begin(), candidates.end(), nullptr) != candidates.end();
  }
  bool matches(std::span<const std::byte> got) const {
    return std::any_of(candidates.begin(), candidates.end(), [&](const content& c) {
      return c && c->size() == got.size() && std::equal(c->begin(), c->end(), got.begin());
    });
  }
  bool size_matches(uint64_t size) const {
    return std::any_of(candidates.begin(), candidates.end(),
                       [&](const content& c) { return c && c->size() == size; });
  }
  std::string describe() const {
    std::string out = key + " (";
    for (const auto& c : candidates)
      out += (c ? std::to_string(c->size()) + " B" : std::string("absent")) + " ";
    return out + (tainted ? "tainted)" : "settled)");
  }
};

std::string read_local(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void write_local(const std::string& path, std::span<const std::byte> data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

std::span<const std::byte> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// Names a sluice download leaves in `dir` while it works (".NAME.sluice-XXXXXX" and its journal).
std::vector<std::string> temporaries(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".sluice-") != std::string::npos)
      out.push_back(e.path().filename().string());
  return out;
}

// ---- the fault plan ---------------------------------------------------------------------------

// Which worker's key a target names ("/bucket/soak/w3/k1" -> 3), or -1.
int worker_of(std::string_view target) {
  const auto at = target.find("/soak/w");
  if (at == std::string_view::npos) return -1;
  return std::atoi(std::string(target.substr(at + 7, 4)).c_str());
}

// Faults in a quarter of the exchanges, every kind alike except bit flips (more often) and the costly
// ones (stalls wait out a deadline; a redirect is not retried, so it fails its operation). Bit flips only
// where a recorded hash covers the bytes read: GETs of whole objects or of their parts, never of a range the
// caller chose (no checksum covers those; `unverifiable` says which workers read such ranges now).
class fault_plan {
 public:
  fault_plan(uint64_t seed, bool stalls, const std::vector<std::atomic<bool>>* unverifiable)
      : seed_(seed), stalls_(stalls), unverifiable_(unverifiable) {}

  fault_kind operator()(const fault_request& r) const {
    std::mt19937_64 rng(seed_ * 0x100000001b3ull + r.index);
    if (rng() % 4 != 0) return fault_kind::none;
    if (flip_allowed(r) && rng() % 4 == 0) return fault_kind::bit_flip;  // the integrity checks, often
    for (;;) {
      const auto k = static_cast<fault_kind>(1 + rng() % (fault_kinds - 1));
      const bool stall =
          k == fault_kind::stall_request || k == fault_kind::stall_header || k == fault_kind::stall_body;
      if (stall && (!stalls_ || rng() % 2 != 0)) continue;
      if (k == fault_kind::redirect && rng() % 3 != 0) continue;
      if (k == fault_kind::bit_flip && !flip_allowed(r)) continue;
      return k;
    }
  }

 private:
  bool flip_allowed(const fault_request& r) const {
    if (r.method != "GET" || r.target.find('?') != std::string_view::npos) return false;
    const int w = worker_of(r.target);
    return !(unverifiable_ && w >= 0 && static_cast<std::size_t>(w) < unverifiable_->size() &&
             (*unverifiable_)[static_cast<std::size_t>(w)].load());
  }

  uint64_t seed_;
  bool stalls_;
  const std::vector<std::atomic<bool>>* unverifiable_;
};

// Short deadlines (stalls end in a second), quick retries.
s3::client_options soak_client_options(const std::string& endpoint, const s3_server& server,
                                       std::chrono::milliseconds deadline, int attempts) {
  s3::client_options o;
  o.config.endpoint_url = endpoint;
  o.config.region = "us-east-1";
  o.config.creds = {server.access_key, server.secret_key, ""};
  o.config.path_style = true;
  o.http.deadlines.connect = 2s;
  o.http.deadlines.first_byte = deadline;
  o.http.deadlines.idle = deadline;
  o.retry.max_attempts = attempts;
  o.retry.base_delay = 5ms;
  o.retry.max_delay = 50ms;
  o.retry.overall_deadline = 30s;
  return o;
}

transfer::options soak_transfer_options() {
  transfer::options t;
  t.part_size = part_size;
  t.multipart_threshold = part_size;
  t.memory_budget = 192 * MiB;
  t.max_in_flight = 8;
  return t;
}

// ---- one worker of the library campaign ---------------------------------------------------------

class soak_worker {
 public:
  soak_worker(int id, uint64_t seed, store::store& st, engine& eng, tally& t, std::atomic<bool>& unverifiable,
              const std::string& dir)
      : id_(id), rng_(seed), st_(st), eng_(eng), tally_(t), unverifiable_(unverifiable), dir_(dir) {
    for (int i = 0; i < 5; ++i) add_key();
  }

  void run(int ops) {
    for (int i = 0; i < ops; ++i) {
      const auto start = std::chrono::steady_clock::now();
      one_op();
      tally_.op_time(std::chrono::steady_clock::now() - start);
    }
  }

 private:
  void add_key() { keys_.push_back({"soak/w" + std::to_string(id_) + "/k" + std::to_string(next_key_++)}); }
  std::string prefix() const { return "soak/w" + std::to_string(id_) + "/"; }

  // An untainted key to write, a fresh one when every key is tainted; old tainted keys are retired
  // (listings may still show them).
  key_model& writable() {
    std::vector<key_model*> ok;
    for (auto& k : keys_)
      if (!k.tainted) ok.push_back(&k);
    if (ok.empty()) {
      if (keys_.size() >= 10) {
        retired_.insert(keys_.front().key);
        keys_.erase(keys_.begin());
      }
      add_key();
      return keys_.back();
    }
    return *ok[rng_() % ok.size()];
  }
  key_model& any_key() { return keys_[rng_() % keys_.size()]; }
  // A settled key with a value of at least one byte, or nullptr.
  key_model* settled_value() {
    std::vector<key_model*> ok;
    for (auto& k : keys_)
      if (k.settled() && k.candidates[0] && !k.candidates[0]->empty()) ok.push_back(&k);
    return ok.empty() ? nullptr : ok[rng_() % ok.size()];
  }

  content make_value(bool multipart) {
    const std::size_t size = multipart ? part_size + rng_() % (MiB + MiB / 2)
                                       : (rng_() % 8 == 0 ? rng_() % 16 : rng_() % (256 * KiB));
    return std::make_shared<const std::vector<std::byte>>(test_bytes(size, rng_()));
  }

  void one_op() {
    // Weights: writes, whole reads, ranged reads, HEAD, listings, removes, downloads, file uploads.
    static constexpr std::array<int, 9> weights = {20, 2, 20, 12, 5, 12, 8, 4, 4};
    int pick = static_cast<int>(rng_() % 87), op = 0;
    while (pick >= weights[static_cast<std::size_t>(op)]) pick -= weights[static_cast<std::size_t>(op++)];
    switch (op) {
      case 0:
        return write(false);
      case 1:
        return write(true);
      case 2:
        return read_whole();
      case 3:
        return read_range();
      case 4:
        return read_ranges();
      case 5:
        return stat();
      case 6:
        return list();
      case 7:
        return rng_() % 2 ? remove() : write_file();
      default:
        return download();
    }
  }

  void after_write(key_model& k, const result<store::generation>& r, content value, const char* what) {
    if (r) {
      k.candidates = {std::move(value)};
      tally_.correct();
      return;
    }
    tally_.error_of(r.error(), std::string(what) + " " + k.key);
    k.candidates.push_back(std::move(value));
    k.tainted = true;
  }

  void write(bool multipart) {
    key_model& k = writable();
    content value = make_value(multipart);
    auto r = eng_.run(st_.write(k.key, *value));
    after_write(k, r, value, multipart ? "multipart write" : "write");
  }

  void write_file() {
    key_model& k = writable();
    content value = make_value(rng_() % 4 == 0);
    const std::string path = dir_ + "/upload.bin";
    write_local(path, *value);
    auto r = eng_.run(st_.write_file(k.key, path));
    after_write(k, r, value, "file upload");
  }

  void remove() {
    key_model& k = writable();
    auto r = eng_.run(st_.remove(k.key));
    if (r) {
      k.candidates = {nullptr};
      tally_.correct();
      return;
    }
    tally_.error_of(r.error(), "remove " + k.key);
    k.candidates.push_back(nullptr);
    k.tainted = true;
  }

  // A value or its absence, judged against the model.
  void judge_read(const key_model& k, const result<store::read_result>& r, std::span<const std::byte> got,
                  const char* what) {
    if (!r) return tally_.error_of(r.error(), std::string(what) + " " + k.key);
    if (r->state == store::read_state::missing) {
      if (k.may_be_absent()) return tally_.correct();
      return tally_.bad(std::string(what) + " " + k.key + ": missing, but it holds " + k.describe());
    }
    if (k.matches(got)) return tally_.correct();
    tally_.bad(std::string(what) + " " + k.key + ": " + std::to_string(got.size()) +
               " bytes that were never written there, which holds " + k.describe() +
               (r->verified ? " (verified!)" : ""));
  }

  void read_whole() {
    key_model& k = any_key();
    auto r = eng_.run(st_.read(k.key));
    std::span<const std::byte> got;
    if (r && r->state == store::read_state::value) got = r->bytes.span();
    judge_read(k, r, got, "read");
  }

  // A range no checksum covers: no bit flips while it is read.
  void read_range() {
    key_model* k = settled_value();
    if (!k) return read_whole();
    const auto& value = *k->candidates[0];
    store::read_options o;
    uint64_t first = 0, count = 0;
    if (rng_() % 4 == 0) {
      count = 1 + rng_() % value.size();
      first = value.size() - count;
      o.range = store::byte_range::last(count);
    } else {
      first = rng_() % value.size();
      count = 1 + rng_() % std::min<uint64_t>(value.size() - first, 2 * MiB);
      o.range = store::byte_range::at(first, count);
    }
    unverifiable_ = true;
    auto r = eng_.run(st_.read(k->key, o));
    unverifiable_ = false;
    const std::string what =
        "read of " + std::to_string(count) + " bytes at " + std::to_string(first) + " of";
    if (!r) return tally_.error_of(r.error(), what + " " + k->key);
    const auto got = r->bytes.span();
    if (r->state == store::read_state::value && got.size() == count &&
        std::equal(got.begin(), got.end(), value.begin() + static_cast<std::ptrdiff_t>(first)))
      return tally_.correct();
    tally_.bad(what + " " + k->key + ": " + std::to_string(got.size()) + " other bytes");
  }

  void read_ranges() {
    key_model* k = settled_value();
    if (!k) return read_whole();
    const auto& value = *k->candidates[0];
    std::vector<store::byte_range> ranges;
    for (int i = 0, n = 2 + static_cast<int>(rng_() % 2); i < n; ++i) {
      const uint64_t first = rng_() % value.size();
      ranges.push_back(
          store::byte_range::at(first, 1 + rng_() % std::min<uint64_t>(value.size() - first, MiB)));
    }
    unverifiable_ = true;
    auto r = eng_.run(st_.read_ranges(k->key, ranges));
    unverifiable_ = false;
    if (!r) return tally_.error_of(r.error(), "read_ranges of " + k->key);
    bool same = r->state == store::read_state::value && r->ranges.size() == ranges.size();
    for (std::size_t i = 0; same && i < ranges.size(); ++i) {
      const auto got = r->ranges[i].span();
      same =
          got.size() == *ranges[i].length &&
          std::equal(got.begin(), got.end(), value.begin() + static_cast<std::ptrdiff_t>(ranges[i].offset));
    }
    if (same) return tally_.correct();
    tally_.bad("read_ranges of " + k->key + ": other bytes");
  }

  void stat() {
    key_model& k = any_key();
    auto r = eng_.run(st_.stat(k.key));
    if (!r) return tally_.error_of(r.error(), "stat " + k.key);
    if (!*r ? k.may_be_absent() : k.size_matches((*r)->size)) return tally_.correct();
    tally_.bad("stat " + k.key + ": " +
               (*r ? std::to_string((*r)->size) + " bytes" : std::string("missing")) + ", but it holds " +
               k.describe());
  }

  void list() {
    std::map<std::string, uint64_t> listed;
    store::list_callback cb = [&](store::list_page& p) -> result<bool> {
      for (auto& e : p.entries) listed[e.key] = e.size;
      return true;
    };
    const std::string pfx = prefix();
    auto r = eng_.run(st_.list(pfx, store::list_all, cb));
    if (!r) return tally_.error_of(r.error(), "list " + pfx);
    for (const auto& k : keys_) {
      auto it = listed.find(k.key);
      const bool ok = it == listed.end() ? k.may_be_absent() : k.size_matches(it->second);
      if (!ok)
        return tally_.bad(
            "list " + pfx + ": " + k.key +
            (it == listed.end() ? std::string(" missing") : " " + std::to_string(it->second) + " B") +
            ", but it holds " + k.describe());
      if (it != listed.end()) listed.erase(it);
    }
    for (const auto& [key, size] : listed)
      if (!retired_.contains(key)) return tally_.bad("list " + pfx + ": " + key + " was never written");
    tally_.correct();
  }

  // To a file: on success the file holds a candidate; on failure there is no file at the name and no
  // temporary file is left.
  void download() {
    key_model& k = any_key();
    const std::string path = dir_ + "/download.bin";
    fs::remove(path);
    auto r = eng_.run(st_.read_to_file(k.key, path));
    if (!r) {
      tally_.error_of(r.error(), "download " + k.key);
      if (fs::exists(path)) tally_.bad("download " + k.key + " failed but left a file at its name");
    } else if (r->state == store::read_state::missing) {
      if (fs::exists(path)) tally_.bad("download " + k.key + ": missing, yet a file at its name");
      k.may_be_absent() ? tally_.correct()
                        : tally_.bad("download " + k.key + ": missing, but it holds " + k.describe());
    } else {
      const std::string got = read_local(path);
      k.matches(bytes_of(got))
          ? tally_.correct()
          : tally_.bad("download " + k.key + ": a file of " + std::to_string(got.size()) +
                       " bytes never written there, which holds " + k.describe());
    }
    if (auto left = temporaries(dir_); !left.empty())
      tally_.bad("download " + k.key + " left " + left.front());
  }

  int id_;
  std::mt19937_64 rng_;
  store::store& st_;
  engine& eng_;
  tally& tally_;
  std::atomic<bool>& unverifiable_;
  std::string dir_;
  std::vector<key_model> keys_;
  std::set<std::string> retired_;
  int next_key_ = 0;
};

// ---- the CLI leg ------------------------------------------------------------------------------

// `sluice` processes through their own proxy (no stalls: the CLI's deadlines are a minute long):
// uploads (single and multipart), downloads, cat and ls. An operation succeeds with the right bytes
// or fails with status 1 and a message, leaving no file at the destination's name.
class cli_leg {
 public:
  cli_leg(uint64_t seed, const s3_server& via, std::string bucket, tally& t)
      : rng_(seed), bucket_(std::move(bucket)), tally_(t) {
    env_ = cli_environment(via);
    env_["XDG_STATE_HOME"] = dir_.path + "/state";
    for (int i = 0; i < 4; ++i) keys_.push_back({"cli/k" + std::to_string(i)});
  }

  void run(int ops) {
    for (int i = 0; i < ops; ++i) {
      const auto start = std::chrono::steady_clock::now();
      switch (rng_() % 5) {
        case 0:
        case 1:
          upload();
          break;
        case 2:
          download();
          break;
        case 3:
          cat();
          break;
        default:
          ls();
          break;
      }
      tally_.op_time(std::chrono::steady_clock::now() - start);
    }
  }

 private:
  struct temp_dir {
    std::string path = make_temp_dir("sluice-soak-cli-");
    ~temp_dir() { remove_tree(path); }
  };

  std::string url(const key_model& k) const { return "s3://" + bucket_ + "/" + k.key; }

  // A failure is clean when the status is 1 and standard error says why.
  void judge_failure(const command_result& r, const std::string& what) {
    if (r.exit_code == 1 && r.err.find("sluice") != std::string::npos)
      return tally_.clean_error("cli:status 1", r.err.substr(0, r.err.find('\n')));
    tally_.bad(what + ": " + describe(r));
  }

  // A status 1 that says the key is not there: right when it may be absent, else a wrong answer.
  void judge_missing_or_failure(const command_result& r, const key_model& k, const std::string& what) {
    const bool says_missing = r.exit_code == 1 && (r.err.find("NoSuchKey") != std::string::npos ||
                                                   r.err.find("not found") != std::string::npos ||
                                                   r.err.find("does not exist") != std::string::npos);
    if (!says_missing) return judge_failure(r, what);
    if (k.may_be_absent()) return tally_.correct();
    tally_.bad(what + ": said missing, but it holds " + k.describe() + "\n" + describe(r));
  }

  void upload() {
    std::vector<key_model*> ok;
    for (auto& k : keys_)
      if (!k.tainted) ok.push_back(&k);
    if (ok.empty()) {
      keys_.push_back({"cli/k" + std::to_string(keys_.size())});
      ok.push_back(&keys_.back());
    }
    key_model& k = *ok[rng_() % ok.size()];
    const bool multipart = rng_() % 4 == 0;
    const std::size_t size = multipart ? part_size + rng_() % MiB : rng_() % (200 * KiB);
    content value = std::make_shared<const std::vector<std::byte>>(test_bytes(size, rng_()));
    const std::string path = dir_.path + "/up.bin";
    write_local(path, *value);
    auto r = run_sluice({"cp", "--part-size", "5MiB", "--multipart-threshold", "5MiB", path, url(k)}, env_);
    if (r.exit_code == 0) {
      k.candidates = {value};
      tally_.correct();
      return;
    }
    judge_failure(r, "cp up " + k.key);
    k.candidates.push_back(value);
    k.tainted = true;
  }

  void download() {
    key_model& k = keys_[rng_() % keys_.size()];
    const std::string out_dir = dir_.path + "/down", path = out_dir + "/got.bin";
    fs::create_directories(out_dir);
    fs::remove(path);
    auto r = run_sluice({"cp", "--part-size", "5MiB", url(k), path}, env_);
    if (r.exit_code == 0) {
      const std::string got = read_local(path);
      k.matches(bytes_of(got)) ? tally_.correct()
                               : tally_.bad("cp down " + k.key + ": other bytes, " + k.describe());
    } else {
      judge_missing_or_failure(r, k, "cp down " + k.key);
      if (fs::exists(path)) tally_.bad("cp down " + k.key + " failed but left a file at its name");
    }
    if (auto left = temporaries(out_dir); !left.empty())
      tally_.bad("cp down " + k.key + " left " + left.front());
  }

  void cat() {
    key_model& k = keys_[rng_() % keys_.size()];
    auto r = run_sluice({"cat", url(k)}, env_);
    if (r.exit_code == 0) {
      k.matches(bytes_of(r.out)) ? tally_.correct()
                                 : tally_.bad("cat " + k.key + ": other bytes, " + k.describe());
    } else {
      judge_missing_or_failure(r, k, "cat " + k.key);
    }
  }

  void ls() {
    auto r = run_sluice({"ls", "s3://" + bucket_ + "/cli/"}, env_);
    // Nothing listed is status 1 without a word, as `aws s3 ls` has it: right only while
    // every key may be absent (the keys below then all take the "may be absent" branch).
    const bool listed_nothing = r.exit_code == 1 && r.out.empty() && r.err.empty();
    if (r.exit_code != 0 && !listed_nothing) return judge_failure(r, "ls");
    for (const auto& k : keys_) {
      const std::string name = k.key.substr(4);
      const bool listed = r.out.find(" " + name + "\n") != std::string::npos;
      if (!listed && !k.may_be_absent()) return tally_.bad("ls: " + k.key + " missing:\n" + r.out);
    }
    tally_.correct();
  }

  temp_dir dir_;
  std::mt19937_64 rng_;
  std::string bucket_;
  tally& tally_;
  std::map<std::string, std::string> env_;
  std::vector<key_model> keys_;
};

}  // namespace

TEST(FaultSoak, every_operation_through_every_fault_is_correct_or_a_clean_error) {
  const uint64_t seed = soak_seed();
  const int workers = 8;
  const int ops = static_cast<int>(env_number("SLUICE_SOAK_OPS", 2000));
  const int cli_ops = static_cast<int>(env_number("SLUICE_SOAK_CLI_OPS", 60));
  std::printf(
      "fault soak: seed %llu (SLUICE_SOAK_SEED=%llu reproduces the plan), %d operations, %d via the CLI\n",
      static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed), ops, cli_ops);
  std::fflush(stdout);
  const auto started = std::chrono::steady_clock::now();

  s3rver_process s3rver;
  std::vector<std::atomic<bool>> unverifiable(workers);
  fault_proxy proxy(s3rver.server(), fault_plan(seed, true, &unverifiable), seed);
  fault_proxy cli_proxy(s3rver.server(), fault_plan(seed + 1, false, nullptr), seed + 1);

  engine eng(engine::options{2});
  auto sched = transfer::scheduler::create(
      eng, soak_client_options(proxy.endpoint_url(), s3rver.server(), 1000ms, 4), soak_transfer_options());
  ASSERT_TRUE(sched) << sched.error().describe();
  const std::string bucket = unique_bucket_name("soak");
  {
    s3_test_client direct(s3rver.server());
    auto made = direct.run(direct->create_bucket(bucket));
    ASSERT_TRUE(made) << made.error().describe();
  }
  auto st = store::open_s3_store(*sched, {bucket, "", store::conditional_writes::assume_unsupported});
  ASSERT_TRUE(st) << st.error().describe();

  tally t;
  std::vector<std::string> dirs;
  for (int w = 0; w < workers; ++w) dirs.push_back(make_temp_dir("sluice-soak-"));
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w)
    threads.emplace_back([&, w] {
      soak_worker worker(w, seed * 31 + static_cast<uint64_t>(w), **st, eng, t,
                         unverifiable[static_cast<std::size_t>(w)], dirs[static_cast<std::size_t>(w)]);
      worker.run(ops / workers);
    });
  double cli_seconds = 0;
  threads.emplace_back([&] {
    const auto cli_started = std::chrono::steady_clock::now();
    cli_leg leg(seed * 31 + workers, cli_proxy.as_server(), bucket, t);
    leg.run(cli_ops);
    cli_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - cli_started).count();
  });
  for (auto& th : threads) th.join();
  for (const auto& d : dirs) remove_tree(d);

  int faults = 0;
  std::string per_kind, errors;
  for (std::size_t i = 1; i < fault_kinds; ++i) {
    const auto k = static_cast<fault_kind>(i);
    const int n = proxy.injected(k) + cli_proxy.injected(k);
    faults += n;
    per_kind += " " + std::string(name_of(k)) + "=" + std::to_string(n);
  }
  for (const auto& [code, n] : t.errors()) errors += " " + code + "=" + std::to_string(n);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "fault soak summary: seed=%llu operations=%d (library %d, cli %d) correct=%d clean_errors=%d bad=%d "
      "requests=%d faults=%d [%s ] errors [%s ] longest_operation=%.1fs elapsed=%.1fs (cli leg %.1fs) "
      "(proxy: %d connections refused, %d upstream failures)\n",
      static_cast<unsigned long long>(seed), t.correct_count() + t.clean_count() + t.bad_count(),
      ops / workers * workers, cli_ops, t.correct_count(), t.clean_count(), t.bad_count(),
      proxy.requests() + cli_proxy.requests(), faults, per_kind.c_str(), errors.c_str(), t.longest_seconds(),
      elapsed, cli_seconds, proxy.refused() + cli_proxy.refused(),
      proxy.upstream_failures() + cli_proxy.upstream_failures());
  for (const auto& [kind, example] : t.examples())
    std::printf("  e.g. %s: %s\n", kind.c_str(), example.c_str());
  std::fflush(stdout);

  for (const auto& b : t.bad_list()) ADD_FAILURE() << b;
  EXPECT_EQ(t.bad_count(), 0) << "seed " << seed;
  // Every kind was injected, and most operations still came through. A shorter campaign (the
  // sanitizer runs: 500 operations) can miss a rare kind by chance (stall_body, about 4 expected, once
  // 0): there only the kinds no other test forces are required; the stall campaign below forces every
  // stall, deterministically.
  const bool full_campaign = ops >= 2000;
  for (std::size_t i = 1; i < fault_kinds; ++i) {
    const auto k = static_cast<fault_kind>(i);
    const bool stall =
        k == fault_kind::stall_request || k == fault_kind::stall_header || k == fault_kind::stall_body;
    if (!full_campaign && stall) continue;
    EXPECT_GT(proxy.injected(k) + cli_proxy.injected(k), 0) << name_of(k) << " never injected";
  }
  EXPECT_GT(t.correct_count(), t.clean_count());
  // The proxy always reached s3rver: the errors were the faults', not a dead server's.
  EXPECT_EQ(proxy.upstream_failures() + cli_proxy.upstream_failures(), 0) << s3rver.log_tail();
  EXPECT_EQ(proxy.refused() + cli_proxy.refused(), 0);
  // No operation hung: the longest is a few deadlines and retries, far from this.
  EXPECT_LT(t.longest_seconds(), 60.0);
}

namespace {

// One stall of the campaign: which fault, and the operation it meets (an error, or none).
struct stall_case {
  const char* what;
  fault_kind kind;
  std::function<std::optional<error>()> op;
};

template <class T>
std::optional<error> error_of(const result<T>& r) {
  if (r) return std::nullopt;
  return r.error();
}

}  // namespace

// Stalls in an answer's header, in its body, and in a PUT's upload (the proxy stops reading), for
// every kind of request: each ends as a timeout error after its attempts' deadlines (not a hang),
// and the next request, with the stalls over, succeeds on the same clients.
TEST(FaultSoak, stalls_in_headers_bodies_and_uploads_end_as_timeouts_and_the_pool_recovers) {
  s3rver_process s3rver;
  // Each stall lasts until the client gives up; the deadline it must hit is longer under
  // sanitizers (time_scale()), where an unstalled request on a busy CPU can take a second.
  const std::chrono::milliseconds stall_deadline = 1000ms * time_scale();
  std::atomic<fault_kind> plan{fault_kind::none};
  fault_proxy proxy(
      s3rver.server(), [&](const fault_request&) { return plan.load(); }, 7);
  engine eng(engine::options{2});
  auto sched = transfer::scheduler::create(
      eng, soak_client_options(proxy.endpoint_url(), s3rver.server(), stall_deadline, 2),
      soak_transfer_options());
  ASSERT_TRUE(sched) << sched.error().describe();
  const std::string bucket = unique_bucket_name("stalls");
  // Set up straight through s3rver (with long deadlines): the 1 s deadlines are for the stalls, and a
  // loaded machine may take longer than that over the proxy.
  auto direct = transfer::scheduler::create(
      eng, soak_client_options(s3rver.server().endpoint_url, s3rver.server(), 60s, 3),
      soak_transfer_options());
  ASSERT_TRUE(direct) << direct.error().describe();
  ASSERT_TRUE(eng.run((*direct)->client().create_bucket(bucket)));
  auto st = store::open_s3_store(*sched, {bucket, "", store::conditional_writes::assume_unsupported});
  ASSERT_TRUE(st) << st.error().describe();
  store::store& s = **st;

  const auto small = test_bytes(100 * KiB + 3, 1);
  const auto large = test_bytes(3 * part_size + 123, 2);
  const auto single = test_bytes(24 * MiB, 3);  // more than the socket buffers take in
  auto direct_store =
      store::open_s3_store(*direct, {bucket, "", store::conditional_writes::assume_unsupported});
  ASSERT_TRUE(direct_store) << direct_store.error().describe();
  for (const auto& [key, value] : {std::pair{"small", &small}, std::pair{"large", &large}}) {
    auto put = eng.run((*direct_store)->write(key, *value));
    ASSERT_TRUE(put) << put.error().describe();
  }
  const std::string dir = make_temp_dir("sluice-stalls-");
  const std::string path = dir + "/large.bin";
  // Named, not temporaries in the co_await (GCC 12, docs/architecture.md).
  store::read_options middle;
  middle.range = store::byte_range::at(MiB, 2 * MiB);
  const store::list_callback ignore_pages = [](store::list_page&) -> result<bool> { return true; };

  const std::vector<stall_case> cases = {
      {"GET, header", fault_kind::stall_header, [&] { return error_of(eng.run(s.read("small"))); }},
      {"GET, body", fault_kind::stall_body, [&] { return error_of(eng.run(s.read("small"))); }},
      {"ranged GET, body", fault_kind::stall_body,
       [&] { return error_of(eng.run(s.read("large", middle))); }},
      {"HEAD, header", fault_kind::stall_header, [&] { return error_of(eng.run(s.stat("small"))); }},
      {"list, body", fault_kind::stall_body,
       [&] { return error_of(eng.run(s.list("", store::list_all, ignore_pages))); }},
      {"download in parts, body", fault_kind::stall_body,
       [&] { return error_of(eng.run(s.read_to_file("large", path))); }},
      {"single PUT, upload", fault_kind::stall_request,
       [&] { return error_of(eng.run((*sched)->client().put_object(bucket, "single", as_span(single)))); }},
      {"multipart PUT, upload", fault_kind::stall_request,
       [&] { return error_of(eng.run(s.write("parts", large))); }},
      {"multipart PUT, header", fault_kind::stall_header,
       [&] { return error_of(eng.run(s.write("parts", large))); }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const int before = proxy.injected(c.kind);
    plan = c.kind;
    const auto start = std::chrono::steady_clock::now();
    auto failed = c.op();
    const auto took = std::chrono::steady_clock::now() - start;
    plan = fault_kind::none;
    EXPECT_GT(proxy.injected(c.kind), before);
    ASSERT_TRUE(failed.has_value()) << "succeeded through a stall";
    EXPECT_EQ(failed->code, errc::timeout) << failed->describe();
    EXPECT_FALSE(failed->message.empty());
    EXPECT_LT(took, 30s * time_scale()) << "a hang, not a deadline";  // two attempts of one deadline
    EXPECT_FALSE(fs::exists(path)) << "a failed download left a file at its name";
    EXPECT_TRUE(temporaries(dir).empty()) << temporaries(dir).front();

    auto after = eng.run(s.read("small"));  // the pools recovered: the stalled connections are gone
    ASSERT_TRUE(after) << after.error().describe();
    ASSERT_EQ(after->state, store::read_state::value);
    EXPECT_TRUE(std::ranges::equal(after->bytes.span(), small));
  }
  // Nothing a stalled attempt sent was completed: no object came of the stalled uploads.
  for (const char* key : {"parts", "single"}) {
    auto there = eng.run((*direct_store)->stat(key));
    ASSERT_TRUE(there) << there.error().describe();
    EXPECT_FALSE(there->has_value()) << key;
  }
  remove_tree(dir);
}
