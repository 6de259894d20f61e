// cp (one object or -r) and sync over the bucket store and the directory store, with progress.
#include "cli.hpp"
#include "json_output.hpp"

#include <sluice/engine/transfer/scheduler.hpp>
#include <sluice/objects/glob.hpp>
#include <sluice/objects/objects.hpp>
#include <sluice/objects/tree.hpp>
#include <sluice/store/file.hpp>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace sluice::cli {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

namespace {

// Shows bytes, objects, rate and ETA on a terminal while a transfer runs. Bytes moved come from the
// scheduler (parts as they complete) or, for a tree, from the tree's own counts when those are ahead
// (server-side copies move no bytes through the scheduler); values a sync found unchanged count as
// done but not in the rate. `total_known` false (standard input) shows the totals as "?".
class progress_display {
 public:
  progress_display(transfer::progress& p, const objects::tree_progress* tree, uint64_t total_bytes,
                   uint64_t total_objects, bool total_known, bool enabled)
      : p_(p),
        tree_(tree),
        total_bytes_(total_bytes),
        total_objects_(total_objects),
        total_known_(total_known),
        start_(clock_type::now()) {
    if (enabled) thread_ = std::thread([this] { loop(); });
  }
  ~progress_display() { stop(); }
  void stop() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) {
      thread_.join();
      std::fprintf(stderr, "\r\033[K");
    }
  }

 private:
  void loop() {
    std::unique_lock lk(mu_);
    while (!cv_.wait_for(lk, std::chrono::milliseconds(200), [this] { return done_; })) draw();
  }
  void draw() {
    const double secs = std::chrono::duration<double>(clock_type::now() - start_).count();
    double moved = double(p_.bytes.load());
    uint64_t objects = p_.objects.load();
    double skipped = 0;
    if (tree_ != nullptr) {
      moved = std::max(moved, double(tree_->bytes.load()));
      skipped = double(tree_->skipped_bytes.load());
      objects = tree_->objects.load() + tree_->skipped_objects.load();
    }
    const double done = moved + skipped;
    const double rate = secs > 0 ? moved / secs : 0;
    std::string eta = "--";
    if (total_known_ && rate > 0 && double(total_bytes_) > done)
      eta = std::to_string(int((double(total_bytes_) - done) / rate)) + "s";
    const int width = 30;
    const int filled =
        total_known_ && total_bytes_ ? int(width * std::min(1.0, done / double(total_bytes_))) : 0;
    const std::string total = total_known_ ? format_bytes(double(total_bytes_)) : "?";
    const std::string total_objects = total_known_ ? std::to_string(total_objects_) : "?";
    std::fprintf(stderr, "\r[%s%s] %s / %s  %llu/%s objects  %s  ETA %s\033[K",
                 std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                 format_bytes(done).c_str(), total.c_str(), (unsigned long long)objects,
                 total_objects.c_str(), format_rate(moved, secs).c_str(), eta.c_str());
    std::fflush(stderr);
  }

  transfer::progress& p_;
  const objects::tree_progress* tree_;
  uint64_t total_bytes_, total_objects_;
  bool total_known_;
  clock_type::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// What a transfer verb did, for its one summary line or its JSON document.
struct outcome {
  uint64_t objects = 0, bytes = 0, skipped = 0, filtered = 0, removed = 0, markers = 0;
  bool server_side = false;
  std::vector<std::pair<std::string, error>> failures;  // key (or path), error
  boost::json::array actions;                           // --dryrun: what would be done
};

// Prints the outcome: one summary line, or JSON, or nothing (-q); failures
// always go to stderr, one line each.
// `http`: the requests sent and the response-body bytes that came over the network (a resumed
// download fetches fewer bytes than it writes; a resumed upload sends fewer requests).
int finish(const global_options& g, const transfer_flags& f, std::string_view verb, const outcome& r,
           double secs, const std::string& src, const std::string& dst, bool single,
           std::optional<http::client_stats> http = std::nullopt) {
  for (const auto& [key, err] : r.failures)
    std::fprintf(stderr, "sluice: %.*s: %s: %s\n", int(verb.size()), verb.data(), printable(key).c_str(),
                 printable(err.describe()).c_str());
  if (f.json) {
    boost::json::object out{{"verb", verb}};
    put_text(out, "from", src);
    put_text(out, "to", dst);
    out["objects"] = r.objects;
    out["bytes"] = r.bytes;
    if (!single) {
      out["skipped"] = r.skipped;
      out["filtered"] = r.filtered;
      out["removed"] = r.removed;
      out["folder_markers"] = r.markers;
    }
    out["server_side"] = r.server_side;
    out["dry_run"] = f.dry_run;
    out["seconds"] = secs;
    out["throughput_bytes_per_s"] = secs > 0 ? double(r.bytes) / secs : 0.0;
    if (http) {
      out["received_bytes"] = http->body_bytes_direct + http->body_bytes_copied;
      out["requests"] = http->requests;
    }
    boost::json::array failures;
    for (const auto& [key, err] : r.failures) {
      boost::json::object j;
      put_text(j, "key", key);
      put_text(j, "error", err.describe());
      failures.push_back(std::move(j));
    }
    out["failures"] = std::move(failures);
    if (f.dry_run) out["actions"] = r.actions;
    print_json(out);
  } else if (!g.quiet && single) {
    std::printf("%s %s -> %s (%s in %.2f s, %s)\n", verb == "mv" ? "moved" : "copied", printable(src).c_str(),
                printable(dst).c_str(), format_bytes(double(r.bytes)).c_str(), secs,
                format_rate(double(r.bytes), secs).c_str());
  } else if (!g.quiet) {
    std::string extra;
    if (r.skipped > r.filtered) extra += ", " + std::to_string(r.skipped - r.filtered) + " unchanged";
    if (r.filtered) extra += ", " + std::to_string(r.filtered) + " filtered out";
    if (r.removed) extra += ", " + std::to_string(r.removed) + " removed";
    if (!r.failures.empty()) extra += ", " + std::to_string(r.failures.size()) + " FAILED";
    std::printf("%s%.*s: %llu object%s, %s in %.2f s (%s)%s\n", f.dry_run ? "(dryrun) " : "",
                int(verb.size()), verb.data(), (unsigned long long)r.objects, r.objects == 1 ? "" : "s",
                format_bytes(double(r.bytes)).c_str(), secs, format_rate(double(r.bytes), secs).c_str(),
                extra.c_str());
  }
  return r.failures.empty() ? 0 : 1;
}

// Ctrl-C (and SIGTERM, SIGHUP) stops the running transfer cleanly (partial files removed, multipart
// uploads aborted); a second Ctrl-C ends the process at once.
std::atomic<transfer::scheduler*> interrupt_target{nullptr};

extern "C" void on_interrupt(int sig) {
  note_signal(sig);
  if (auto* s = interrupt_target.load()) s->cancel();
}

class interrupt_guard {
 public:
  explicit interrupt_guard(transfer::scheduler& s) {
    interrupt_target.store(&s);
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
    sigaction(SIGHUP, &sa, &old_hup_);
  }
  ~interrupt_guard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    sigaction(SIGHUP, &old_hup_, nullptr);
    interrupt_target.store(nullptr);
  }

 private:
  struct sigaction old_int_ {
  }, old_term_{}, old_hup_{};
};

// Where running multipart uploads are recorded (transfer::options::upload_journal_dir):
// $XDG_STATE_HOME/sluice, else ~/.local/state/sluice; none without either variable.
std::string state_dir() {
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x == '/') return std::string(x) + "/sluice";
  if (const char* h = std::getenv("HOME"); h && *h == '/') return std::string(h) + "/.local/state/sluice";
  return {};
}

result<session> open_transfer(const global_options& g, const transfer_flags& f) {
  transfer::options t;
  t.upload_journal_dir = state_dir();
  t.part_size = f.part_size;
  t.memory_budget = f.memory_budget;
  t.max_in_flight = f.concurrency;
  t.multipart_threshold = f.multipart_threshold;
  return open_session(g, t, 0);  // one engine thread per core
}

// The last segment of a key ("a/b/c" -> "c").
std::string base_name(std::string_view key) {
  auto slash = key.rfind('/');
  return std::string(key.substr(slash == std::string_view::npos ? 0 : slash + 1));
}

// Standard input up to s3://bucket/key (`cp - s3://b/k`): multipart as it grows, within the budget.
int upload_stdin(const global_options& g, const transfer_flags& f, const objects::location& to,
                 const std::string& dst, const store::write_options& w) {
  if (to.key.empty() || to.key.back() == '/')
    return report("cp", fail(errc::invalid_argument,
                             "'" + dst + "' names no object (standard input needs a key of its own)"));
  auto s = open_transfer(g, f);
  if (!s) return report("cp", s.error());
  auto remote = bucket_store(*s, to.bucket);
  if (!remote) return report("cp", remote.error());
  interrupt_guard on_ctrl_c(*s->sched);
  const bool show = !g.quiet && !f.json && ::isatty(STDERR_FILENO);
  auto t0 = clock_type::now();
  transfer::scheduler* sched = s->sched.get();
  const store::stream_source input =
      objects::descriptor_source(STDIN_FILENO, "standard input", [sched] { return sched->cancelled(); });
  progress_display pd(s->sched->counters(), nullptr, 0, 1, false, show);
  auto up = s->eng->run((*remote)->write_stream(to.key, input, w));
  pd.stop();
  if (!up) return report("cp - " + dst, up.error());
  outcome r;
  r.objects = 1;
  r.bytes = s->sched->counters().bytes.load();
  return finish(g, f, "cp", r, std::chrono::duration<double>(clock_type::now() - t0).count(), "-", dst, true);
}

}  // namespace

result<session> open_transfer_session(const global_options& g, const transfer_flags& f) {
  return open_transfer(g, f);
}

int cmd_copy_or_sync(const global_options& g, const transfer_flags& f, const std::string& src,
                     const std::string& dst, std::string_view verb_name, const store::write_options& w) {
  const std::string verb_text(verb_name);
  const char* verb = verb_text.c_str();
  const bool sync = verb_name == "sync";
  auto from = objects::parse_location(src);
  if (!from) return report(verb, from.error());
  auto to = objects::parse_location(dst);
  if (!to) return report(verb, to.error());
  // sync compares a whole prefix with a directory, as aws s3 sync (which has no globs) does: a
  // wildcard in its URL is refused rather than taken as part of a key; filters select keys.
  if (sync)
    for (const auto& [side, url] : {std::pair{&*from, &src}, std::pair{&*to, &dst}})
      if (side->remote && objects::has_wildcards(side->key))
        return usage_error(
            verb, fail(errc::invalid_argument, "'" + *url +
                                                   "': sync takes no globs ('*', '?', '['); select keys with "
                                                   "--exclude and --include"));
  // A glob in the source key (cp or mv): every match, as a tree under the pattern's literal directory.
  const bool glob = from->remote && !sync && objects::has_wildcards(from->key);
  std::string match;
  if (glob) {
    match = from->key;
    from->key = objects::literal_directory(match);
  }
  const bool recursive = f.recursive || sync || glob;
  if (src == "-" && !sync && !f.move && !recursive && to->remote) return upload_stdin(g, f, *to, dst, w);
  if (src == "-" || dst == "-")
    return report(verb, fail(errc::invalid_argument,
                             "'-' (standard input or output) goes with one s3:// object, for cp only"));
  if (from->remote == to->remote && !(from->remote && recursive && !sync))
    return report(verb,
                  fail(errc::invalid_argument, from->remote ? "use cp for a server-side copy of one object; "
                                                              "sync needs one local side"
                                                            : "one side must be an s3:// URL"));
  std::error_code ec;
  if (!from->remote && !fs::exists(from->path, ec))
    return report(verb, fail(errc::not_found, "'" + from->path + "' does not exist"));
  if (!from->remote && !recursive && fs::is_directory(from->path, ec))
    return report(verb, fail(errc::invalid_argument, "'" + from->path + "' is a directory (use -r)"));
  if (!from->remote && recursive && !fs::is_directory(from->path, ec))
    return report(verb, fail(errc::invalid_argument, "'" + from->path + "' is not a directory"));

  auto s = open_transfer(g, f);
  if (!s) return report(verb, s.error());
  auto& sched = *s->sched;
  auto& eng = *s->eng;
  interrupt_guard on_ctrl_c(sched);
  const bool show = !g.quiet && !f.json && ::isatty(STDERR_FILENO);
  auto t0 = clock_type::now();
  auto secs = [&] { return std::chrono::duration<double>(clock_type::now() - t0).count(); };

  auto remote = bucket_store(*s, from->remote ? from->bucket : to->bucket);
  if (!remote) return report(verb, remote.error());

  if (!recursive) {
    // One object, through the bucket store: write_file streams a file up (one
    // PUT, or a multipart upload above the threshold), read_to_file streams an
    // object down in ranged parts (temporary file, verified, renamed).
    const std::string context = std::string(verb) + " " + src + " " + dst;
    outcome r;
    r.objects = 1;
    if (!from->remote) {
      std::string key = to->key;
      if (key.empty() || key.back() == '/') key += fs::path(from->path).filename().string();
      const uint64_t size = fs::file_size(from->path, ec);
      progress_display pd(sched.counters(), nullptr, size, 1, true, show);
      auto up = eng.run((*remote)->write_file(key, from->path, w));
      pd.stop();
      if (!up) return report(context, up.error());
      r.bytes = size;
      if (f.move && !fs::remove(from->path, ec))
        return report(context, fail(errc::io_error, "uploaded, but cannot remove '" + from->path +
                                                        "': " + (ec ? ec.message() : "gone")));
    } else {
      if (from->key.empty() || from->key.back() == '/')
        return report(verb,
                      fail(errc::invalid_argument, "'" + src + "' names no object (use -r for a prefix)"));
      // A destination ending in '/' or naming a directory gets the key's last
      // segment; missing directories on the way are created.
      std::string path = to->path;
      const bool into_dir = path.ends_with('/') || fs::is_directory(path, ec);
      fs::path parent = into_dir ? fs::path(path) : fs::path(path).parent_path();
      if (!parent.empty() && !fs::is_directory(parent, ec)) {
        fs::create_directories(parent, ec);
        if (ec)
          return report(context, fail(errc::io_error, "cannot create the directory '" + parent.string() +
                                                          "': " + ec.message()));
      }
      if (into_dir) path = (fs::path(path) / base_name(from->key)).string();
      // The size first, for the progress line's total (and a missing key said before any file is made).
      auto info = eng.run((*remote)->stat(from->key));
      if (!info) return report(context, info.error());
      if (!*info) return report(context, fail(errc::not_found, src + ": no such key"));
      progress_display pd(sched.counters(), nullptr, (*info)->size, 1, true, show);
      auto down = eng.run((*remote)->read_to_file(from->key, path));
      pd.stop();
      if (!down) return report(context, down.error());
      if (down->state != store::read_state::value)
        return report(context, fail(errc::not_found, src + ": no such key"));
      r.bytes = down->size;
      // As aws does: the file's time is the object's, so that sync can compare times later.
      if (auto stamped = objects::stamp_modification_time(path, (*info)->last_modified); !stamped)
        warn(context, stamped.error());
      if (f.move) {
        auto removed = eng.run((*remote)->remove(from->key, store::remove_always));
        if (!removed) return report(context, removed.error());
      }
    }
    return finish(g, f, verb, r, secs(), src, dst, true, sched.http_stats());
  }

  // Between two S3 prefixes (cp -r, mv -r): server-side copies.
  std::shared_ptr<store::store> other;
  if (from->remote && to->remote) {
    auto o = bucket_store(*s, to->bucket);
    if (!o) return report(verb, o.error());
    other = *o;
  }

  // Many objects: a tree copy between a directory store and an S3 store
  // (objects::copy_tree / sync): streamed listing, path-safety guard,
  // concurrent copies and comparisons.
  std::shared_ptr<store::store> local;
  if (!other) {
    store::file_options fo;
    fo.create_root = from->remote;  // a download may create its directory; an upload's source must exist
    auto opened = store::open_file_store(from->remote ? to->path : from->path, fo);
    if (!opened) return report(verb, opened.error());
    local = *opened;
  }
  store::store& source = from->remote ? **remote : *local;
  store::store& destination = other ? *other : from->remote ? *local : **remote;
  const std::string src_prefix = from->remote ? from->key : "";
  const std::string dst_prefix = to->remote ? to->key : "";

  objects::tree_options o;
  o.dry_run = f.dry_run;
  o.delete_extra = f.delete_extra;
  o.size_only = f.size_only;
  o.checksum = f.checksum;
  for (const auto& [include, pattern] : f.filters) o.filters.push_back({include, pattern});
  o.move = f.move;
  o.match = match;
  o.concurrency = f.concurrency;
  o.write = w;
  outcome out;
  if (f.dry_run)
    o.on_action = [&](const objects::tree_action& a) {
      const char* what = a.kind == objects::action_kind::copy   ? "copy"
                         : a.kind == objects::action_kind::skip ? "skip"
                                                                : "delete";
      if (f.json) {
        boost::json::object j{{"action", what}};
        put_text(j, "key", a.key);
        j["size"] = a.size;
        j["reason"] = valid_utf8(a.reason);
        out.actions.push_back(std::move(j));
      } else {
        std::printf("(dryrun) %s %s (%s)\n", what, printable(a.key).c_str(), printable(a.reason).c_str());
      }
    };
  objects::tree_progress counts;
  o.progress = &counts;
  // Totals for the progress line: one listing pass before the copy, only on a terminal.
  uint64_t total = 0, total_objects = 0;
  if (show) {
    auto u = eng.run(objects::du(source, src_prefix));
    if (u) {
      total = u->bytes;
      total_objects = u->objects;
    }
  }
  progress_display pd(sched.counters(), &counts, total, total_objects, true, show);
  auto r = sync ? eng.run(objects::sync(source, src_prefix, destination, dst_prefix, o))
                : eng.run(objects::copy_tree(source, src_prefix, destination, dst_prefix, o));
  pd.stop();
  if (!r) return report(verb, r.error());
  out.objects = r->copied;
  out.bytes = r->bytes;
  out.skipped = r->skipped;
  out.filtered = r->filtered;
  out.removed = r->removed;
  out.markers = r->markers;
  out.server_side = bool(other);
  if (glob && r->copied == 0 && r->failures.empty() && r->refused.empty())
    return report(std::string(verb) + " " + src, fail(errc::not_found, src + ": the pattern matches no key"));
  for (auto& x : r->refused) out.failures.emplace_back(x.key, x.err);
  for (auto& x : r->failures) out.failures.emplace_back(x.key, x.err);
  return finish(g, f, verb, out, secs(), src, dst, false, sched.http_stats());
}

}  // namespace sluice::cli
