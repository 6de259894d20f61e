// sluice: verified transfers between object storage and local files.
#include "cli.hpp"
#include "json_output.hpp"

#include <sluice/engine/integrity/xxh3.hpp>
#include <sluice/engine/s3/uri.hpp>
#include <sluice/objects/glob.hpp>
#include <sluice/objects/objects.hpp>
#include <sluice/store/s3.hpp>

#include <sluice/engine/runtime/version.hpp>

#include <CLI/CLI.hpp>

#include "sluice_commit.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <tuple>

using namespace sluice;
namespace asio = boost::asio;

namespace {

struct ls_options {
  std::string url;
  bool recursive = false;
  bool human_readable = false;
  bool summarize = false;
};

// A listing's time as `aws s3 ls` shows it: "YYYY-MM-DD HH:MM:SS" in the local time zone (the
// server's text, padded, when it is not a time).
std::string ls_time(std::string_view server_time) {
  auto t = objects::parse_timestamp(server_time);
  std::string out(server_time);
  if (t) {
    const std::time_t tt = static_cast<std::time_t>(*t);
    std::tm tm{};
    char buf[32];
    if (::localtime_r(&tt, &tm) != nullptr && std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm) > 0)
      out = buf;
  }
  if (out.size() < 19) out.resize(19, ' ');
  return out;
}

// The lines of `aws s3 ls`: objects "TIME SIZE NAME" (size right-aligned in 10), common prefixes as
// 27 spaces, "PRE NAME/"; NAME is the key's last segment, or the whole key with --recursive.
class ls_printer {
 public:
  ls_printer(const cli::global_options& g, const ls_options& o) : g_(g), o_(o) {}
  void prefix(const std::string& p) {
    ++prefix_count_;
    if (g_.json) {
      boost::json::object e;
      cli::put_text(e, "prefix", p);
      prefixes_.push_back(std::move(e));
      return;
    }
    std::string_view name = p;
    if (name.ends_with('/')) name.remove_suffix(1);
    if (auto slash = name.rfind('/'); slash != std::string_view::npos) name.remove_prefix(slash + 1);
    std::printf("%30s %s/\n", "PRE", cli::printable(name).c_str());
  }
  void object(const store::entry& e, bool full_key) {
    ++objects_;
    bytes_ += e.size;
    if (g_.json) {
      boost::json::object j;
      cli::put_text(j, "key", e.key);
      j["size"] = e.size;
      j["last_modified"] = cli::valid_utf8(e.last_modified);
      if (!e.gen.tag.empty()) j["etag"] = cli::valid_utf8(e.gen.tag);
      entries_.push_back(std::move(j));
      return;
    }
    std::string_view name = e.key;
    if (!full_key)
      if (auto slash = name.rfind('/'); slash != std::string_view::npos) name.remove_prefix(slash + 1);
    const std::string size = o_.human_readable ? cli::format_size_like_aws(e.size) : std::to_string(e.size);
    std::printf("%s %10s %s\n", ls_time(e.last_modified).c_str(), size.c_str(), cli::printable(name).c_str());
  }
  // Nothing listed: no object, no common prefix.
  bool empty() const { return objects_ == 0 && prefix_count_ == 0; }
  void finish() {
    if (g_.json) {
      boost::json::object out{{"verb", "ls"}};
      cli::put_text(out, "url", o_.url);
      out["prefixes"] = std::move(prefixes_);
      out["objects"] = std::move(entries_);
      out["total_objects"] = objects_;
      out["total_bytes"] = bytes_;
      cli::print_json(out);
      return;
    }
    if (!o_.summarize) return;
    std::printf(
        "\nTotal Objects: %llu\n   Total Size: %s\n", static_cast<unsigned long long>(objects_),
        o_.human_readable ? cli::format_size_like_aws(bytes_).c_str() : std::to_string(bytes_).c_str());
  }

 private:
  const cli::global_options& g_;
  const ls_options& o_;
  boost::json::array prefixes_, entries_;
  uint64_t objects_ = 0, bytes_ = 0, prefix_count_ = 0;
};

// Each verb validates its arguments before opening a session, so usage
// errors never send a request.
int cmd_ls(const cli::global_options& g, const ls_options& o) {
  const std::string& url = o.url;
  objects::location loc;
  if (!url.empty() && url != "s3://") {
    auto parsed = objects::parse_location(url);
    if (!parsed) return cli::report("ls", parsed.error());
    loc = *parsed;
    if (!loc.remote)
      return cli::report("ls", fail(errc::invalid_argument, "'" + url + "' is not an s3:// URL"));
  }
  auto s = cli::open_session(g);
  if (!s) return cli::report("ls", s.error());
  if (loc.bucket.empty()) {
    auto buckets = s->eng->run(store::list_buckets(*s->sched));
    if (!buckets) return cli::report("ls", buckets.error());
    if (g.json) {
      boost::json::array list;
      for (auto& b : *buckets) {
        boost::json::object j;
        cli::put_text(j, "name", b.name);
        j["creation_date"] = cli::valid_utf8(b.creation_date);
        list.push_back(std::move(j));
      }
      cli::print_json(boost::json::object{{"verb", "ls"}, {"buckets", std::move(list)}});
      return 0;
    }
    for (auto& b : *buckets)
      std::printf("%s %s\n", ls_time(b.creation_date).c_str(), cli::printable(b.name).c_str());
    return 0;
  }
  auto bucket = cli::bucket_store(*s, loc.bucket);
  if (!bucket) return cli::report("ls", bucket.error());
  ls_printer out(g, o);
  if (objects::has_wildcards(loc.key)) {
    // A glob ('*', '?', '[...]', '**'): the matches of a streamed listing of its literal prefix, with
    // their whole keys; no match is an empty listing, status 1 as for a prefix with nothing under it.
    const objects::match_callback print_match = [&](const store::entry& e) -> result<bool> {
      out.object(e, true);
      return true;
    };
    auto matched = s->eng->run(objects::glob(**bucket, loc.key, print_match));
    if (!matched) return cli::report("ls " + url, matched.error());
    out.finish();
    return out.empty() ? 1 : 0;
  }
  // Printed page by page as the listing streams; the prefix is used as given, as aws does
  // (`ls s3://b/run` shows PRE run/ and PRE run2/).
  store::list_callback print = [&](store::list_page& page) -> result<bool> {
    for (auto& p : page.prefixes) out.prefix(p);
    for (auto& e : page.entries) out.object(e, o.recursive);
    return true;
  };
  auto listed = s->eng->run(objects::list(**bucket, loc.key, o.recursive, print));
  if (!listed) return cli::report("ls " + url, listed.error());
  out.finish();
  // As aws s3 ls: a key or prefix that lists nothing is status 1, with no message (scripts test
  // `ls s3://b/key` for existence); a whole bucket that is empty is status 0.
  return out.empty() && !loc.key.empty() ? 1 : 0;
}

// Server-side copy of one object (both sides s3://): store::copy_from between
// two bucket stores on one scheduler. New metadata or a content type replaces
// the source's (the recorded XXH3 is kept); without, the copy keeps them.
int cmd_copy_remote(const cli::global_options& g, const std::string& src, const std::string& dst,
                    const objects::location& from, const objects::location& to,
                    const store::write_options& w) {
  if (from.key.empty() || from.key.back() == '/')
    return cli::report("cp", fail(errc::invalid_argument, "'" + src + "' names no object"));
  auto s = cli::open_session(g);
  if (!s) return cli::report("cp", s.error());
  std::string key = to.key;
  if (key.empty() || key.back() == '/') {
    auto slash = from.key.rfind('/');
    key += from.key.substr(slash == std::string::npos ? 0 : slash + 1);
  }
  auto source = cli::bucket_store(*s, from.bucket);
  if (!source) return cli::report("cp", source.error());
  auto destination = cli::bucket_store(*s, to.bucket);
  if (!destination) return cli::report("cp", destination.error());
  auto c = s->eng->run((*destination)->copy_from(**source, from.key, key, w));
  if (!c) return cli::report("cp " + src + " " + dst, c.error());
  const std::string target = "s3://" + to.bucket + "/" + key;
  if (g.json) {
    boost::json::object out{{"verb", "cp"}, {"server_side", true}, {"objects", 1}};
    cli::put_text(out, "from", src);
    cli::put_text(out, "to", target);
    cli::print_json(out);
  } else if (!g.quiet) {
    std::printf("copied %s -> %s (server-side)\n", cli::printable(src).c_str(),
                cli::printable(target).c_str());
  }
  return 0;
}

// rm's outcome: "removed N objects" or its JSON; 1 when any failed.
int print_removed(const cli::global_options& g, const std::string& url, uint64_t deleted,
                  boost::json::array failures) {
  const bool failed = !failures.empty();
  if (g.json) {
    boost::json::object out{{"verb", "rm"}, {"removed", deleted}};
    cli::put_text(out, "url", url);
    out["failures"] = std::move(failures);
    cli::print_json(out);
  } else if (!g.quiet) {
    std::printf("removed %llu object%s\n", static_cast<unsigned long long>(deleted), deleted == 1 ? "" : "s");
  }
  return failed ? 1 : 0;
}

int cmd_rm(const cli::global_options& g, const std::string& url, bool recursive) {
  auto loc = objects::parse_location(url);
  if (!loc) return cli::report("rm", loc.error());
  if (!loc->remote)
    return cli::report("rm", fail(errc::invalid_argument, "'" + url + "' is not an s3:// URL"));
  if (!recursive && loc->key.empty())
    return cli::report(
        "rm", fail(errc::invalid_argument, "'" + url + "' names no object (use -r to remove a prefix)"));
  auto s = cli::open_session(g);
  if (!s) return cli::report("rm", s.error());
  auto bucket = cli::bucket_store(*s, loc->bucket);
  if (!bucket) return cli::report("rm", bucket.error());
  if (objects::has_wildcards(loc->key)) {
    // Every key the glob matches, one by one; a glob that matches nothing is an error, as for cp.
    std::vector<std::string> keys;
    const objects::match_callback collect = [&](const store::entry& e) -> result<bool> {
      keys.push_back(e.key);
      return true;
    };
    auto matched = s->eng->run(objects::glob(**bucket, loc->key, collect));
    if (!matched) return cli::report("rm " + url, matched.error());
    if (keys.empty())
      return cli::report("rm " + url, fail(errc::not_found, url + ": the pattern matches no key"));
    boost::json::array failures;
    uint64_t deleted = 0;
    for (const auto& key : keys) {
      auto removed = s->eng->run((*bucket)->remove(key, store::remove_always));
      if (removed) {
        ++deleted;
        continue;
      }
      cli::warn("rm s3://" + loc->bucket + "/" + key, removed.error());
      boost::json::object f;
      cli::put_text(f, "key", key);
      cli::put_text(f, "error", removed.error().describe());
      failures.push_back(std::move(f));
    }
    return print_removed(g, url, deleted, std::move(failures));
  }
  auto r = s->eng->run(objects::remove(**bucket, loc->key, recursive));
  if (!r) return cli::report("rm " + url, r.error());
  boost::json::array failures;
  for (auto& f : r->failures) {
    cli::warn("rm", f.err);
    boost::json::object j;
    cli::put_text(j, "key", f.key);
    cli::put_text(j, "error", f.err.describe());
    failures.push_back(std::move(j));
  }
  return print_removed(g, url, r->deleted, std::move(failures));
}

int cmd_stat(const cli::global_options& g, const std::string& url) {
  auto loc = objects::parse_location(url);
  if (!loc) return cli::report("stat", loc.error());
  if (!loc->remote || loc->key.empty())
    return cli::report("stat", fail(errc::invalid_argument, "'" + url + "' is not an s3://bucket/key URL"));
  auto s = cli::open_session(g);
  if (!s) return cli::report("stat", s.error());
  auto bucket = cli::bucket_store(*s, loc->bucket);
  if (!bucket) return cli::report("stat", bucket.error());
  auto info = s->eng->run((*bucket)->stat(loc->key));
  if (!info) return cli::report("stat " + url, info.error());
  if (!*info) return cli::report("stat " + url, fail(errc::not_found, url + ": no such key"));
  const store::read_result& st = **info;
  if (g.json) {
    boost::json::object out{{"verb", "stat"}};
    cli::put_text(out, "url", url);
    cli::put_text(out, "key", loc->key);
    out["size"] = st.size;
    out["etag"] = cli::valid_utf8(st.gen.tag);
    out["last_modified"] = cli::valid_utf8(st.last_modified);
    out["content_type"] = cli::valid_utf8(st.content_type);
    if (!st.recorded_xxh3.empty()) out["xxh3"] = cli::valid_utf8(st.recorded_xxh3);
    boost::json::object meta;
    for (auto& [k, v] : st.metadata) meta[cli::valid_utf8(k)] = cli::valid_utf8(v);
    out["metadata"] = std::move(meta);
    cli::print_json(out);
    return 0;
  }
  std::printf(
      "url            %s\nsize           %llu\netag           %s\nlast-modified  %s\ncontent-type   %s\n",
      cli::printable(url).c_str(), static_cast<unsigned long long>(st.size),
      cli::printable(st.gen.tag).c_str(), cli::printable(st.last_modified).c_str(),
      cli::printable(st.content_type).c_str());
  // The store keeps sluice's recorded hash apart from the user's metadata; shown among them as before.
  auto metadata = st.metadata;
  if (!st.recorded_xxh3.empty()) metadata[std::string(integrity::metadata_key)] = st.recorded_xxh3;
  for (auto& [k, v] : metadata)
    std::printf("meta %-9s %s\n", cli::printable(k).c_str(), cli::printable(v).c_str());
  return 0;
}

result<void> write_stdout(std::span<const std::byte> bytes) {
  // An empty object's bytes may have no storage at all: fwrite's buffer must not be null, even for 0.
  if (bytes.empty()) return {};
  if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size())
    return fail(errc::io_error, std::string("cannot write to standard output: ") + std::strerror(errno));
  return {};
}

result<void> flush_stdout() {
  if (std::fflush(stdout) != 0)
    return fail(errc::io_error, std::string("cannot write to standard output: ") + std::strerror(errno));
  return {};
}

// The largest object cat reads whole (and verifies before writing a byte).
constexpr uint64_t cat_whole_limit = 64ull << 20;

// cat, and cp s3://bucket/key - (`verb`): the object, or `range` of it, to standard output.
int cmd_cat(const cli::global_options& g, const std::string& url, const transfer::options& topts,
            const store::byte_range& range, const char* verb) {
  auto loc = objects::parse_location(url);
  if (!loc) return cli::report(verb, loc.error());
  if (!loc->remote || loc->key.empty())
    return cli::report(verb, fail(errc::invalid_argument, "'" + url + "' is not an s3://bucket/key URL"));
  auto s = cli::open_session(g, topts, 0);
  if (!s) return cli::report(verb, s.error());
  auto bucket = cli::bucket_store(*s, loc->bucket);
  if (!bucket) return cli::report(verb, bucket.error());
  auto& eng = *s->eng;
  const std::string context = std::string(verb) + " " + url;
  const uint64_t chunk_limit = std::max<uint64_t>(
      4096, std::min(cat_whole_limit, topts.memory_budget / 4096 * 4096 / 2) / 4096 * 4096);
  if (!range.whole()) {
    // A range has no hash of its own: streamed in chunks pinned to one version.
    const objects::chunk_callback to_stdout = [](std::span<const std::byte> bytes, uint64_t) {
      return write_stdout(bytes);
    };
    auto r = eng.run(objects::stream_range(**bucket, loc->key, range, chunk_limit, to_stdout));
    auto flushed = flush_stdout();
    if (!r) return cli::report(context, r.error());
    if (!flushed) return cli::report(context, flushed.error());
    return 0;
  }
  auto info = eng.run((*bucket)->stat(loc->key));
  if (!info) return cli::report(context, info.error());
  if (!*info) return cli::report(context, fail(errc::not_found, url + ": no such key"));
  // Pool memory is taken in whole pages: what fits the budget is a multiple of 4 KiB.
  const uint64_t budget = topts.memory_budget / 4096 * 4096;
  if ((*info)->size <= std::min(cat_whole_limit, budget)) {
    // Read whole and verified (one refetch on a mismatch) before any byte is written.
    auto r = eng.run((*bucket)->read(loc->key, store::read_all));
    if (!r) return cli::report(context, r.error());
    if (r->state != store::read_state::value)
      return cli::report(context, fail(errc::not_found, url + ": no such key"));
    auto written = write_stdout(r->bytes.span());
    if (written) written = flush_stdout();
    if (!written) return cli::report(context, written.error());
    return 0;
  }
  // Larger: successive ranged reads of bounded size, each pinned to the first
  // one's generation; the recorded hash is checked at the end, after the bytes
  // were written (a mismatch still fails the command).
  const uint64_t chunk = chunk_limit;
  const objects::chunk_callback to_stdout = [](std::span<const std::byte> bytes, uint64_t) {
    return write_stdout(bytes);
  };
  auto r = eng.run(objects::stream_value(**bucket, loc->key, chunk, to_stdout));
  auto flushed = flush_stdout();
  if (!r) return cli::report(context, r.error());
  if (!flushed) return cli::report(context, flushed.error());
  return 0;
}

int cmd_bucket(const cli::global_options& g, const std::string& url, bool make) {
  const char* verb = make ? "mb" : "rb";
  auto loc = objects::parse_location(url);
  if (!loc) return cli::report(verb, loc.error());
  if (!loc->remote || !loc->key.empty())
    return cli::report(verb, fail(errc::invalid_argument, "'" + url + "' is not an s3://bucket URL"));
  auto s = cli::open_session(g);
  if (!s) return cli::report(verb, s.error());
  auto& sched = *s->sched;
  auto r = make ? s->eng->run(store::create_bucket(sched, loc->bucket))
                : s->eng->run(store::remove_bucket(sched, loc->bucket));
  if (!r) return cli::report(std::string(verb) + " " + url, r.error());
  if (g.json) {
    boost::json::object out{{"verb", verb}, {"bucket", loc->bucket}};
    cli::put_text(out, "url", url);
    cli::print_json(out);
  } else if (!g.quiet) {
    std::printf("%s %s\n", make ? "made bucket" : "removed bucket", cli::printable(url).c_str());
  }
  return 0;
}

// "A-B" (bytes A to B, inclusive), "A-" (from A to the end), "-N" (the last N):
// HTTP byte-range semantics (RFC 9110 14.1.1).
result<store::byte_range> parse_range(std::string_view text) {
  auto bad = [&] {
    return fail(errc::invalid_argument,
                "--range '" + std::string(text) + "' is not A-B, A- or -N (bytes, counted from 0)");
  };
  const auto dash = text.find('-');
  if (dash == std::string_view::npos || text.size() < 2) return bad();
  auto number = [](std::string_view t) -> std::optional<uint64_t> {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc() || p != t.data() + t.size()) return std::nullopt;
    return v;
  };
  const auto first = text.substr(0, dash), last = text.substr(dash + 1);
  if (first.empty()) {
    auto n = number(last);
    if (!n || *n == 0) return bad();
    return store::byte_range::last(*n);
  }
  auto a = number(first);
  if (!a) return bad();
  if (last.empty()) return store::byte_range::from(*a);
  auto b = number(last);
  if (!b || *b < *a) return bad();
  return store::byte_range::at(*a, *b - *a + 1);
}

void print_version() {
  std::printf("sluice %s (commit %s)\n", SLUICE_VERSION, SLUICE_COMMIT);
  for (const auto& [name, version] : linked_library_versions())
    std::printf("  %-9s %s\n", name.c_str(), version.c_str());
  std::printf("  %-9s %s\n", "CLI11", CLI11_VERSION);
}

constexpr const char* exit_status_text =
    "Options go before or after the verb; sluice VERB --help shows an example.\n\n"
    "Exit status:\n"
    "  0    success\n"
    "  1    a failure (any object)\n"
    "  2    a command line that does not parse, or an option value that cannot be used\n"
    "  130  after Ctrl-C (SIGINT; 143 SIGTERM, 129 SIGHUP): partial files removed, multipart uploads "
    "aborted\n"
    "  141  (as shells show it) standard output was a closed pipe (cp s3://b/k - | head): sluice ended\n"
    "       quietly by SIGPIPE\n";

int run(int argc, char** argv) {
  // A closed standard output ends sluice quietly, as it does cat: whatever the parent ignored. Sockets
  // are written with MSG_NOSIGNAL by Asio, so only standard output can raise it.
  std::signal(SIGPIPE, SIG_DFL);

  CLI::App app{"sluice: fast, verified transfers between S3 object storage and local files"};
  app.fallthrough();  // options of the program after the verb too (aws s3, s5cmd)
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every verb");
  app.footer(exit_status_text);
  cli::global_options g;
  // Options taking a value, for finding the verb in argv before parsing.
  std::set<std::string, std::less<>> takes_value;
  auto global_option = [&](const std::string& name, std::string& into, const std::string& help) {
    app.add_option(name, into, help);
    takes_value.insert(name);
  };
  global_option("--endpoint-url", g.endpoint_url,
                "S3 endpoint, e.g. http://127.0.0.1:9000 (default: AWS_ENDPOINT_URL, profile, AWS)");
  global_option("--region", g.region, "Region for signing (default: AWS_REGION, profile, us-east-1)");
  global_option("--profile", g.profile,
                "Profile in ~/.aws/config and ~/.aws/credentials (default: AWS_PROFILE)");
  global_option("--ca-bundle", g.ca_bundle,
                "PEM file of CA certificates to trust (default: AWS_CA_BUNDLE, system)");
  app.add_flag("--no-verify-ssl", g.no_verify_ssl,
               "Do not verify TLS certificates (self-signed test servers only)");
  app.add_flag(
      "--unsigned-payload", g.unsigned_payload,
      "Send UNSIGNED-PAYLOAD over plain HTTP too (no SHA-256 of bodies; integrity from the signed XXH3)");
  app.add_flag("--no-sign-request", g.no_sign_request,
               "Send anonymous (unsigned) requests; without it, no credentials found is an error");
  app.add_flag("-q,--quiet", g.quiet, "Print nothing on success");
  app.add_flag("--json", g.json,
               "Print one JSON document on standard output, errors included (every verb but cat, cp to -, "
               "array put/get)");
  bool version_flag = false;  // handled before parsing
  app.add_flag("--version", version_flag, "Print the version, the commit and the linked libraries' versions");

  bool recursive = false, force = false;
  std::string url, src, dst, range_text;
  std::string content_type, part_size_text = "8MiB", threshold_text = "64MiB", budget_text = "256MiB";
  std::vector<std::string> metadata;
  cli::transfer_flags tf;
  // Transfer options: on the program (before the verb) and on each verb that takes them (its help).
  auto* global_part = app.add_option("--part-size", part_size_text, "Part size (default 8MiB)");
  auto* global_threshold =
      app.add_option("--multipart-threshold", threshold_text, "Uploads above go in parts (default 64MiB)");
  auto* global_budget =
      app.add_option("--memory-budget", budget_text, "Memory for transfer buffers (default 256MiB)");
  auto* global_concurrency =
      app.add_option("--concurrency", tf.concurrency, "Requests in flight (default 64)")
          ->check(CLI::Range(1u, 100000u));
  for (const char* name : {"--part-size", "--multipart-threshold", "--memory-budget", "--concurrency"})
    takes_value.insert(name);
  (void)global_threshold;

  std::vector<std::string> verb_names;
  auto verb = [&](const char* name, const char* description, const char* example) {
    auto* cmd = app.add_subcommand(name, description);
    cmd->footer(std::string("Example:\n  ") + example +
                "\nGlobal options (sluice --help) go before or after the verb.\n");
    verb_names.push_back(name);
    return cmd;
  };

  ls_options lso;
  auto* ls = verb("ls", "List buckets, or objects under s3://bucket[/prefix], as aws s3 ls prints them",
                  "sluice ls s3://bucket/runs/ --recursive --human-readable --summarize");
  ls->add_flag("-r,--recursive", lso.recursive, "List every key under the prefix (whole keys)");
  ls->add_flag("--human-readable", lso.human_readable, "Sizes as 1.0 KiB, 2.5 MiB ...");
  ls->add_flag("--summarize", lso.summarize, "End with the number of objects and their total size");
  ls->add_option("url", lso.url, "s3://bucket[/prefix]");

  auto add_transfer_flags = [&](CLI::App* cmd) {
    cmd->add_option("--part-size", part_size_text, "Part size for large objects (default 8MiB)");
    cmd->add_option("--multipart-threshold", threshold_text,
                    "Files above this size go up in parts (default 64MiB)");
    cmd->add_option("--memory-budget", budget_text, "Memory for transfer buffers (default 256MiB)");
    cmd->add_option("--concurrency", tf.concurrency, "Requests in flight (default 64)")
        ->check(CLI::Range(1u, 100000u));
    cmd->add_flag("--json", g.json, "Print one JSON object with the outcome");
    cmd->add_option("--content-type", content_type, "Content-Type of uploaded objects");
    cmd->add_option("--metadata", metadata, "User metadata NAME=VALUE (repeatable)");
  };
  // --include and --exclude per verb, for putting them back in command-line order after parsing.
  std::vector<std::tuple<CLI::App*, CLI::Option*, CLI::Option*>> filter_options;
  auto add_tree_flags = [&](CLI::App* cmd) {
    auto* inc = cmd->add_option("--include", tf.include,
                                "Copy keys (relative paths) matching this glob again after an --exclude "
                                "(repeatable; in order, the last filter that matches wins, as in aws)");
    auto* exc = cmd->add_option("--exclude", tf.exclude,
                                "Leave out keys (relative paths) matching this glob (repeatable)");
    filter_options.emplace_back(cmd, inc, exc);
    cmd->add_flag("--dryrun", tf.dry_run, "Print what would be done, change nothing");
  };
  auto* cp =
      verb("cp",
           "Copy a file to S3, an object to a file, or an object to another (server-side); '-' is "
           "standard input or output",
           "sluice cp ./run1.nc s3://bucket/runs/   (or: sluice cp s3://bucket/runs/run1.nc - | head)");
  cp->add_option("src", src, "local path, s3://bucket/key, or - (standard input)")->required();
  cp->add_option("dst", dst,
                 "local path (ending in / for a directory), s3://bucket/key, or - (standard output)")
      ->required();
  cp->add_flag("-r,--recursive", tf.recursive, "Copy a directory or prefix to a prefix or directory");
  add_transfer_flags(cp);
  add_tree_flags(cp);
  auto* mv =
      verb("mv",
           "Move an object or (-r) a prefix: copy (server-side between S3 locations), then remove the source",
           "sluice mv s3://bucket/incoming/run1.nc s3://bucket/archive/");
  mv->add_option("src", src, "local path or s3://bucket/key")->required();
  mv->add_option("dst", dst, "local path or s3://bucket/key")->required();
  mv->add_flag("-r,--recursive", tf.recursive, "Move every key under a prefix (or file under a directory)");
  add_transfer_flags(mv);
  add_tree_flags(mv);
  auto* sy =
      verb("sync", "Copy files that are new or differ in size or hash, between a directory and a prefix",
           "sluice sync ./results s3://bucket/results --delete");
  sy->add_option("src", src, "local directory or s3://bucket/prefix")->required();
  sy->add_option("dst", dst, "local directory or s3://bucket/prefix")->required();
  add_transfer_flags(sy);
  add_tree_flags(sy);
  sy->add_flag("--delete", tf.delete_extra,
               "Remove destination files or keys the source does not have (only when every copy succeeded)");
  sy->add_flag("--size-only", tf.size_only, "Count files of equal size as unchanged (no hashing)");
  sy->add_flag("--checksum", tf.checksum,
               "Always compare content (XXH3 or a single-part ETag's MD5, reading the local file); never "
               "trust times");

  auto* rm = verb("rm", "Remove an object, or with -r a prefix (keys equal to it or under it + '/')",
                  "sluice rm -r s3://bucket/scratch/run1");
  rm->add_flag("-r,--recursive", recursive, "Remove s3://bucket/prefix and everything under prefix/");
  rm->add_option("url", url, "s3://bucket/key")->required();

  auto* st =
      verb("stat", "Show an object's size, ETag, type and metadata", "sluice stat s3://bucket/runs/run1.nc");
  st->add_option("url", url, "s3://bucket/key")->required();

  auto* cat = verb("cat", "Write an object (or a byte range of it) to standard output (verified)",
                   "sluice cat --range 0-1023 s3://bucket/runs/run1.nc | xxd | head");
  cat->add_option("url", url, "s3://bucket/key")->required();
  cat->add_option("--range", range_text, "Bytes A-B (inclusive), A- (from A) or -N (the last N)");
  cat->add_option("--part-size", part_size_text, "Part size for large objects (default 8MiB)");
  cat->add_option("--memory-budget", budget_text, "Memory for transfer buffers (default 256MiB)");

  cli::du_options du;
  auto* dv = verb("du", "Bytes and objects under s3://bucket[/prefix], per first-level prefix and in total",
                  "sluice du -s s3://bucket/runs");
  dv->add_option("url", du.url, "s3://bucket[/prefix], or a glob of keys (quoted: 's3://bucket/runs/**.nc')")
      ->required();
  dv->add_flag("-s,--summarize", du.summary, "Only the total");
  dv->add_flag("--json", g.json, "Print one JSON object");

  long expires_in = 3600;
  auto* ps = verb("presign", "Print a URL that plain HTTP clients (curl) can GET the object with",
                  "curl -o run1.nc \"$(sluice presign s3://bucket/runs/run1.nc --expires-in 600)\"");
  ps->add_option("url", url, "s3://bucket/key")->required();
  ps->add_option("--expires-in", expires_in, "Seconds the URL stays valid (default 3600, at most 604800)");
  ps->add_flag("--json", g.json, "Print one JSON object");

  auto* mb = verb("mb", "Make a bucket", "sluice mb s3://bucket");
  mb->add_option("url", url, "s3://bucket")->required();
  auto* rb =
      verb("rb", "Remove a bucket (empty, or emptied first with --force)", "sluice rb --force s3://bucket");
  rb->add_option("url", url, "s3://bucket")->required();
  rb->add_flag("--force", force, "Remove every object first");

  cli::cleanup_cli_options cleanup;
  std::string older_than_text;
  auto* cu = verb("cleanup",
                  "List and abort the multipart uploads left open under s3://bucket[/prefix] (by crashed "
                  "or killed writers)",
                  "sluice cleanup s3://bucket/runs/ --older-than 1d --dryrun");
  cu->add_option("url", cleanup.url, "s3://bucket[/prefix]")->required();
  cu->add_option("--older-than", older_than_text,
                 "Only uploads initiated at least this long ago: 90s, 30m, 1h, 2d, 1w (default: all)");
  cu->add_flag("--dryrun", cleanup.dry_run, "Print what would be aborted, change nothing");
  cu->add_flag("--json", g.json, "Print one JSON object");

  cli::demo_options demo;
  std::string large_text = "256MiB", small_text = "16KiB";
  auto* dm = verb("demo", "Upload, download and verify a large object and many small ones; print speeds",
                  "sluice demo --large-size 1GiB --small-count 5000");
  dm->add_option("--bucket", demo.bucket, "Bucket to use (created if missing)");
  dm->add_option("--large-size", large_text, "Size of the large object (default 256MiB)");
  dm->add_option("--small-count", demo.small_count, "Number of small objects (default 1000)");
  dm->add_option("--small-size", small_text, "Size of each small object (default 16KiB)");
  dm->add_option("--concurrency", demo.concurrency, "Small-object requests in flight (default 64)")
      ->check(CLI::Range(1, 4096));
  dm->add_flag("--keep", demo.keep, "Keep the objects afterwards");

  cli::array_options arr;
  auto* ar = verb("array", "Zarr v3 arrays: write a .npy as an array, read a selection, describe",
                  "sluice array put t.npy s3://bucket/t.zarr --chunks 100,100 --codec zstd:3");
  ar->require_subcommand(1);
  auto* ap = ar->add_subcommand("put", "Write a .npy file as a Zarr v3 array");
  ap->add_option("file", arr.file, "the .npy file")->required();
  ap->add_option("url", arr.url, "s3://bucket/path or a local directory (a .zarr segment is the store root)")
      ->required();
  ap->add_option("--chunks", arr.chunks, "Chunk shape C0,C1,... (default: one chunk)");
  ap->add_option("--shards", arr.shards, "Shard shape S0,S1,... (sharding_indexed; inner chunks = --chunks)");
  ap->add_option("--codec", arr.codec,
                 "zstd[:LEVEL] | gzip[:LEVEL] | blosc[:CNAME[:LEVEL]] | none (default zstd:3)");
  ap->add_flag("--crc32c", arr.crc32c, "Append a CRC-32C to each chunk");
  ap->add_option("--dims", arr.dims, "Dimension names NAME,...");
  ap->add_option("--attr", arr.attrs, "Attribute KEY=JSON (repeatable)");
  auto* fill_opt =
      ap->add_option("--fill", arr.fill, "Fill value (JSON, or NaN, Infinity, -Infinity, 0x...)");
  auto* ag = ar->add_subcommand("get", "Read an array (or a selection of it) into a .npy file");
  ag->add_option("url", arr.url, "s3://bucket/path or a local directory")->required();
  ag->add_option("--select", arr.select, "Per dimension start:stop[:step], ':' or an index, e.g. 0:10,:,5");
  ag->add_option("-o,--output", arr.output, "The .npy file to write")->required();
  auto* ai = ar->add_subcommand("info", "Describe an array, or a group and the nodes under it");
  ai->add_option("url", arr.url, "s3://bucket/path or a local directory")->required();
  ai->add_flag("--json", g.json, "Print one JSON object");
  auto* ac = ar->add_subcommand(
      "consolidate", "Write the metadata of every node below a group into its zarr.json (one read opens it)");
  ac->add_option("url", arr.url, "s3://bucket/path.zarr or a local directory")->required();

  cli::object_options obj;
  auto* ob = verb("object",
                  "NumPy arrays as single objects, in cottoncandy's raw layout (dtype and shape in metadata)",
                  "sluice object put-array t.npy s3://bucket/arrays/t --compression zstd");
  ob->require_subcommand(1);
  auto* op = ob->add_subcommand("put-array",
                                "Store a .npy file's array as one object (dtype, shape, order, "
                                "compression in its user metadata)");
  op->add_option(
        "file", obj.file,
        "a .npy (one array), or a .npz: SciPy's sparse matrix (csr, csc, coo) or a dictionary of arrays")
      ->required();
  op->add_option("url", obj.url, "s3://bucket/key")->required();
  op->add_option("--compression", obj.compression,
                 "zstd | gzip | none (default none, as cottoncandy's raw arrays)");
  op->add_option("--split-axis", obj.split_axis,
                 "Store a .npy in cottoncandy's chunked (dask) layout, split along this axis (-1: the last)");
  op->add_option("--part-size", obj.part_size, "Chunked layout: at most this much per part (default 100MiB)");
  op->add_option("--level", obj.level, "Compression level (default: zstd 3, gzip 5)")
      ->check(CLI::Range(-7, 22));
  op->add_flag("--json", g.json, "Print one JSON object");
  auto* og = ob->add_subcommand("get-array",
                                "Read an object stored as a raw array (by sluice or cottoncandy) "
                                "into a .npy file");
  og->add_option("url", obj.url, "s3://bucket/key")->required();
  og->add_option(
        "-o,--output", obj.output,
        "The file to write: .npy for an array (raw or chunked), .npz for a sparse matrix or a dictionary")
      ->required();
  og->add_option("--select", obj.select,
                 "Chunked arrays: a box start:stop per dimension (':' for all), e.g. 0:10,:; only the parts "
                 "it touches are read");
  og->add_flag("--json", g.json, "Print one JSON object");

  cli::files_options fo;
  auto* fl =
      verb("files", "File datasets (data/<partition>/..., meta.json): register, push, pull partitions, list",
           "sluice files pull flowers --partition train --remote s3://bucket/datasets");
  fl->require_subcommand(1);
  auto* flr = fl->add_subcommand("register", "Check a dataset directory and install a copy as NAME");
  flr->add_option("dir", fo.dir,
                  "the dataset directory (data/<partition>/..., optional meta.json, README.md)")
      ->required();
  flr->add_option("name", fo.name, "the dataset's name")->required();
  flr->add_flag("--force", fo.force, "Replace an installed dataset of that name");
  flr->add_flag("--json", g.json, "Print one JSON object");
  auto* fll = fl->add_subcommand("ls", "List the installed datasets, or (--remote) the remote's");
  fll->add_flag("--json", g.json, "Print one JSON object");
  auto* flp =
      fl->add_subcommand("push", "Upload an installed dataset: every file an object, the manifest last");
  flp->add_option("name", fo.name, "the dataset's name")->required();
  flp->add_flag("--force", fo.force, "Replace the remote's dataset of that name (readers see old or new)");
  flp->add_flag("--json", g.json, "Print one JSON object");
  auto* flu = fl->add_subcommand(
      "pull", "Fetch a dataset's files, or some partitions' (verified; present ones kept)");
  flu->add_option("name", fo.name, "the dataset's name")->required();
  flu->add_option("--partition", fo.partitions, "Only this partition (repeatable)");
  flu->add_option("--include", fo.include, "Only files whose path matches this glob (repeatable)");
  flu->add_flag("--force", fo.force, "Fetch even files present and matching; replace a local dataset");
  flu->add_flag("--json", g.json, "Print one JSON object");
  auto* fli = fl->add_subcommand("info", "Partitions, file counts, bytes and meta of a dataset");
  fli->add_option("name", fo.name, "the dataset's name")->required();
  fli->add_flag("--json", g.json, "Print one JSON object");
  // --remote [s3://bucket/prefix]: the remote root (else SLUICE_FILES_REMOTE, else the config file);
  // on ls and info, given even without a value, it asks for the remote's side.
  std::vector<CLI::Option*> remote_opts;
  for (auto* sub : {fll, flp, flu, fli})
    remote_opts.push_back(
        sub->add_option("--remote", fo.remote,
                        "The remote root s3://bucket/prefix (else SLUICE_FILES_REMOTE, else [files] remote "
                        "in $SLUICE_HOME/config); on ls and info, alone: list or describe the remote's side")
            ->expected(0, 1));

  cli::datafile_options dfo;
  auto* df = verb("datafile", "A file with octue's metadata (id, timestamp, labels, tags), local or on S3",
                  "sluice datafile tag s3://bucket/run/out.csv --label cleaned --tag rated_mw=1.5");
  df->require_subcommand(1);
  auto* dfi = df->add_subcommand("info", "Show a datafile's metadata, locality, size and hashes");
  dfi->add_option("target", dfo.target, "a local file or s3://bucket/key")->required();
  dfi->add_flag("--json", g.json, "Print one JSON object");
  auto* dft = df->add_subcommand("tag",
                                 "Change a datafile's labels, tags or timestamp (an object's content is "
                                 "not sent again; a local file's go to its .NAME.sluice.json)");
  dft->add_option("target", dfo.target, "a local file or s3://bucket/key")->required();
  dft->add_option("--label", dfo.labels, "Add a label (lowercase letters, digits, '-'; repeatable)");
  dft->add_option("--remove-label", dfo.remove_labels, "Remove a label (repeatable)");
  dft->add_option("--tag", dfo.tags,
                  "Set a tag NAME=VALUE; VALUE is JSON where it parses as JSON, else text (repeatable)");
  dft->add_option("--remove-tag", dfo.remove_tags, "Remove a tag (repeatable)");
  dft->add_option("--timestamp", dfo.timestamp, "Set the timestamp (ISO 8601, e.g. 2024-05-01T12:00:00Z)");
  dft->add_flag("--clear-timestamp", dfo.clear_timestamp, "Remove the timestamp");
  dft->add_flag("--json", g.json, "Print one JSON object");
  auto* dfu = df->add_subcommand("upload", "Upload a local file with its metadata (from its sidecar)");
  dfu->add_option("path", dfo.target, "the local file")->required();
  dfu->add_option("url", dfo.second, "s3://bucket/key")->required();
  dfu->add_flag("--json", g.json, "Print one JSON object");
  auto* dfd = df->add_subcommand("download",
                                 "Download an object and its metadata (verified; skipped when the local "
                                 "copy is current)");
  dfd->add_option("url", dfo.target, "s3://bucket/key")->required();
  dfd->add_option("path", dfo.second, "the local file or directory (default: the key's name, here)");
  dfd->add_flag("--json", g.json, "Print one JSON object");

  cli::bench_options bench;
  std::string bench_size = "1MiB", bench_part = "8MiB", bench_budget = "256MiB", bench_url;
  auto* bn = verb("bench", "Measure GET or PUT throughput, latency, CPU and memory against an endpoint",
                  "sluice bench put s3://bucket/bench --size 64MiB --count 8 --json");
  bn->add_option("mode", bench.mode, "get or put")->required()->check(CLI::IsMember({"get", "put"}));
  bn->add_option("url", bench_url, "s3://bucket/prefix for the bench objects")->required();
  bn->add_option("--size", bench_size, "Object size (default 1MiB; KiB/MiB/GiB suffixes)");
  bn->add_option("--count", bench.count, "Number of objects (default 16)")->check(CLI::Range(1u, 10000000u));
  bn->add_option("--concurrency", bench.concurrency, "Requests in flight (default 16)")
      ->check(CLI::Range(1u, 100000u));
  bn->add_option("--part-size", bench_part, "Part size for large objects (default 8MiB)");
  bn->add_option("--memory-budget", bench_budget, "Memory for transfer buffers (default 256MiB)");
  bn->add_option("--duration", bench.duration_s, "Repeat for this many seconds instead of one pass")
      ->check(CLI::Range(0.0, 86400.0));
  bn->add_option("--output-dir", bench.output_dir,
                 "get: write the objects to files here (default: to memory)");
  bn->add_flag("--json", g.json, "Print one JSON object");

  // The verb, found before CLI11 parses: a mistyped one is named (CLI11 would say "a subcommand is
  // required"), and --version needs none.
  bool verb_found = false, help = false;
  // --json anywhere: errors of the command line itself are a JSON document too.
  bool json_asked = false;
  for (int i = 1; i < argc && std::string_view(argv[i]) != "--"; ++i)
    if (std::string_view(argv[i]) == "--json") json_asked = true;
  cli::set_json_errors(json_asked);
  auto usage_line = [&](const std::string& context, const std::string& message) {
    std::fprintf(stderr, "sluice: %s%s%s\n", cli::printable(context).c_str(), context.empty() ? "" : ": ",
                 cli::printable(message).c_str());
    if (json_asked) cli::print_json(cli::error_json(fail(errc::invalid_argument, message), context, 2));
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") break;
    if (a == "--version") {
      print_version();
      return 0;
    }
    if (a == "-h" || a == "--help" || a == "--help-all") help = true;
    if (a.starts_with("-")) {
      if (takes_value.contains(a)) ++i;  // its value
      continue;
    }
    if (std::find(verb_names.begin(), verb_names.end(), a) == verb_names.end()) {
      std::string list;
      for (auto& v : verb_names) list += (list.empty() ? "" : ", ") + v;
      return usage_line("", "unknown verb '" + std::string(a) + "' (verbs: " + list + "; see sluice --help)");
    }
    verb_found = true;
    break;
  }
  if (!verb_found && !help) {
    return usage_line("", "no verb given (sluice VERB [options]; see sluice --help)");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line naming the verb and what did not parse.
    std::string name;
    for (const CLI::App* at = &app; !at->get_subcommands().empty();) {
      at = at->get_subcommands().front();
      name += (name.empty() ? "" : " ") + at->get_name();
    }
    const std::string see = name.empty() ? "sluice --help" : "sluice " + name + " --help";
    std::string what = e.what();
    if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr && !app.remaining().empty()) {
      const std::string first = app.remaining().front();
      what =
          first.starts_with("-") ? "unknown option '" + first + "'" : "unexpected argument '" + first + "'";
    }
    return usage_line(name, what + " (see " + see + ")");
  }

  tf.json = g.json;
  bench.json = g.json;
  arr.json = g.json;
  // --include/--exclude in the order given: CLI11 keeps each option's values apart, its parse order
  // says how they interleave.
  for (auto& [cmd, inc, exc] : filter_options) {
    std::size_t next_inc = 0, next_exc = 0;
    for (CLI::Option* o : cmd->parse_order()) {
      if (o == inc && next_inc < tf.include.size()) tf.filters.push_back({true, tf.include[next_inc++]});
      if (o == exc && next_exc < tf.exclude.size()) tf.filters.push_back({false, tf.exclude[next_exc++]});
    }
  }
  // cat writes the object's bytes on standard output: no room for a document there.
  const bool to_stdout = *cp && dst == "-" && src != "-";
  if (g.json && (*cat || to_stdout))
    return usage_line(*cat ? "cat" : "cp",
                      "--json is not available: the object's bytes go to standard output");
  if (*ls) return cmd_ls(g, lso);
  // --part-size, --multipart-threshold and --memory-budget into tf; an exit status when they are bad.
  auto transfer_sizes = [&](const char* verb_name) -> std::optional<int> {
    auto ps_ = cli::parse_size(part_size_text);
    if (!ps_) return cli::usage_error("--part-size", ps_.error());
    auto th = cli::parse_size(threshold_text);
    if (!th) return cli::usage_error("--multipart-threshold", th.error());
    auto bud = cli::parse_size(budget_text);
    if (!bud) return cli::usage_error("--memory-budget", bud.error());
    if (*ps_ < (5ull << 20) || *ps_ > (5ull << 30))
      return cli::usage_error(verb_name,
                              fail(errc::invalid_argument, "--part-size must be between 5MiB and 5GiB"));
    if (*bud < *ps_)
      return cli::usage_error(verb_name,
                              fail(errc::invalid_argument, "--memory-budget must hold at least one part"));
    tf.part_size = *ps_;
    tf.multipart_threshold = *th;
    tf.memory_budget = *bud;
    return std::nullopt;
  };
  if (*cp || *sy || *mv) {
    const char* verb_name = *cp ? "cp" : *sy ? "sync" : "mv";
    if (auto bad = transfer_sizes(verb_name)) return *bad;
    tf.move = bool(*mv);
    store::write_options put;
    put.content_type = content_type;
    for (auto& m : metadata) {
      auto eq = m.find('=');
      if (eq == std::string::npos || eq == 0)
        return cli::usage_error("--metadata", fail(errc::invalid_argument, "'" + m + "' is not NAME=VALUE"));
      put.metadata[m.substr(0, eq)] = m.substr(eq + 1);
    }
    if ((*cp || *mv) && !tf.recursive) {
      if (*cp && dst == "-" && src != "-") {
        transfer::options t;
        t.part_size = tf.part_size;
        t.memory_budget = tf.memory_budget;
        return cmd_cat(g, src, t, store::byte_range::all(), "cp");
      }
      auto from = objects::parse_location(src);
      if (!from) return cli::report(verb_name, from.error());
      auto to = objects::parse_location(dst);
      if (!to) return cli::report(verb_name, to.error());
      if (from->remote && to->remote && !objects::has_wildcards(from->key))
        return *cp ? cmd_copy_remote(g, src, dst, *from, *to, put) : cli::cmd_move_remote(g, src, dst);
    }
    return cli::cmd_copy_or_sync(g, tf, src, dst, verb_name, put);
  }
  if (*ar) {
    arr.verb = *ap ? "put" : *ag ? "get" : *ac ? "consolidate" : "info";
    arr.fill_given = fill_opt->count() > 0;
    if (g.json && arr.verb != "info")
      return usage_line("array " + arr.verb, "--json is not available for this verb");
    return cli::cmd_array(g, arr);
  }
  if (*ob) {
    obj.verb = *op ? "put-array" : "get-array";
    // --part-size is also a global option, which takes it wherever it stands.
    if (*op && obj.part_size.empty() && global_part->count() > 0) obj.part_size = part_size_text;
    return cli::cmd_object(g, obj);
  }
  if (*fl) {
    fo.verb = *flr ? "register" : *fll ? "ls" : *flp ? "push" : *flu ? "pull" : "info";
    fo.remote_listing = (*fll && remote_opts[0]->count() > 0) || (*fli && remote_opts[3]->count() > 0);
    if (auto bad = transfer_sizes("files")) return *bad;
    fo.transfer = tf;
    return cli::cmd_files(g, fo);
  }
  if (*df) {
    dfo.verb = *dfi ? "info" : *dft ? "tag" : *dfu ? "upload" : "download";
    if (!dfo.timestamp.empty() && dfo.clear_timestamp)
      return usage_line("datafile tag", "--timestamp and --clear-timestamp cannot both be given");
    if (auto bad = transfer_sizes("datafile")) return *bad;
    return cli::cmd_datafile(g, tf, dfo);
  }
  if (*rm) return cmd_rm(g, url, recursive);
  if (*st) return cmd_stat(g, url);
  if (*dv) return cli::cmd_du(g, du);
  if (*ps) return cli::cmd_presign(g, url, expires_in);
  if (*cu) {
    if (!older_than_text.empty()) {
      auto d = cli::parse_duration(older_than_text);
      if (!d) return cli::usage_error("cleanup --older-than", d.error());
      cleanup.older_than = *d;
    }
    return cli::cmd_cleanup(g, cleanup);
  }
  if (*cat) {
    store::byte_range range = store::byte_range::all();
    if (!range_text.empty()) {
      auto r = parse_range(range_text);
      if (!r) return cli::usage_error("cat", r.error());
      range = *r;
    }
    auto ps_ = cli::parse_size(part_size_text);
    if (!ps_) return cli::usage_error("cat --part-size", ps_.error());
    auto bud = cli::parse_size(budget_text);
    if (!bud) return cli::usage_error("cat --memory-budget", bud.error());
    if (*ps_ == 0 || *bud < *ps_)
      return cli::usage_error("cat",
                              fail(errc::invalid_argument, "--memory-budget must hold at least one part"));
    // Pool memory comes in 4 KiB pages, and a streamed object's ranges take half the budget.
    if (*bud < (8u << 10))
      return cli::usage_error("cat", fail(errc::invalid_argument, "--memory-budget must be at least 8KiB"));
    transfer::options t;
    t.part_size = *ps_;
    t.memory_budget = *bud;
    return cmd_cat(g, url, t, range, "cat");
  }
  if (*mb) return cmd_bucket(g, url, true);
  if (*rb) return force ? cli::cmd_remove_bucket_force(g, url) : cmd_bucket(g, url, false);
  if (*bn) {
    // Transfer options given before the verb count for bench too.
    if (global_part->count() > 0) bench_part = part_size_text;
    if (global_budget->count() > 0) bench_budget = budget_text;
    if (global_concurrency->count() > 0) bench.concurrency = tf.concurrency;
    auto sz = cli::parse_size(bench_size);
    if (!sz) return cli::usage_error("bench --size", sz.error());
    auto ps_ = cli::parse_size(bench_part);
    if (!ps_) return cli::usage_error("bench --part-size", ps_.error());
    auto mb_ = cli::parse_size(bench_budget);
    if (!mb_) return cli::usage_error("bench --memory-budget", mb_.error());
    if (*ps_ < (5ull << 20) || *ps_ > *mb_)
      return cli::usage_error("bench", fail(errc::invalid_argument,
                                            "--part-size must be at least 5MiB and at most --memory-budget"));
    auto loc = objects::parse_location(bench_url);
    if (!loc) return cli::report("bench", loc.error());
    if (!loc->remote)
      return cli::report("bench", fail(errc::invalid_argument, "'" + bench_url + "' is not an s3:// URL"));
    if (*sz > *ps_ && *sz > (64ull << 20) && *ps_ > *mb_)
      return cli::report("bench", fail(errc::invalid_argument, "a part must fit the memory budget"));
    bench.size = *sz;
    bench.part_size = *ps_;
    bench.memory_budget = *mb_;
    bench.bucket = loc->bucket;
    bench.prefix = loc->key;
    return cli::run_bench(g, bench);
  }
  if (*dm) {
    auto ls_ = cli::parse_size(large_text);
    if (!ls_) return cli::usage_error("demo --large-size", ls_.error());
    auto ss = cli::parse_size(small_text);
    if (!ss) return cli::usage_error("demo --small-size", ss.error());
    demo.large_size = *ls_;
    demo.json = g.json;
    demo.small_size = *ss;
    if (auto v = s3::validate_bucket_name(demo.bucket); !v) return cli::report("demo", v.error());
    auto s = cli::open_session(g);
    if (!s) return cli::report("demo", s.error());
    return cli::run_demo(*s, demo);
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  return cli::exit_status(run(argc, argv));
}
