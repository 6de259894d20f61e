// sluice: verified transfers between object storage and local files.
#include "cli.hpp"

#include <sluice/engine/integrity/xxh3.hpp>
#include <sluice/engine/s3/uri.hpp>
#include <sluice/objects/objects.hpp>
#include <sluice/store/s3.hpp>

#include <CLI/CLI.hpp>

#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <set>

using namespace sluice;
namespace asio = boost::asio;

namespace {

// Each verb validates its arguments before opening a session, so usage
// errors never send a request.
int cmd_ls(const cli::global_options& g, const std::string& url, bool recursive) {
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
    for (auto& b : *buckets) std::printf("%s  %s\n", b.creation_date.c_str(), b.name.c_str());
    return 0;
  }
  auto bucket = cli::bucket_store(*s, loc.bucket);
  if (!bucket) return cli::report("ls", bucket.error());
  // Printed page by page as the listing streams.
  store::list_callback print = [](store::list_page& page) -> result<bool> {
    for (auto& p : page.prefixes) std::printf("%32s %s\n", "PRE", cli::printable(p).c_str());
    for (auto& o : page.entries)
      std::printf("%-20s %12llu %s\n", o.last_modified.c_str(), static_cast<unsigned long long>(o.size),
                  cli::printable(o.key).c_str());
    return true;
  };
  auto listed = s->eng->run(objects::list(**bucket, loc.key, recursive, print));
  if (!listed) return cli::report("ls " + url, listed.error());
  return 0;
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
  if (!g.quiet)
    std::printf("copied %s -> s3://%s/%s (server-side)\n", src.c_str(), to.bucket.c_str(), key.c_str());
  return 0;
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
  auto r = s->eng->run(objects::remove(**bucket, loc->key, recursive));
  if (!r) return cli::report("rm " + url, r.error());
  for (auto& f : r->failures)
    std::fprintf(stderr, "sluice: rm: %s\n", cli::printable(f.err.describe()).c_str());
  if (!g.quiet)
    std::printf("removed %llu object%s\n", static_cast<unsigned long long>(r->deleted),
                r->deleted == 1 ? "" : "s");
  return r->failures.empty() ? 0 : 1;
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
  std::printf(
      "url            %s\nsize           %llu\netag           %s\nlast-modified  %s\ncontent-type   %s\n",
      url.c_str(), static_cast<unsigned long long>(st.size), st.gen.tag.c_str(), st.last_modified.c_str(),
      st.content_type.c_str());
  // The store keeps sluice's recorded hash apart from the user's metadata; shown among them as before.
  auto metadata = st.metadata;
  if (!st.recorded_xxh3.empty()) metadata[std::string(integrity::metadata_key)] = st.recorded_xxh3;
  for (auto& [k, v] : metadata) std::printf("meta %-9s %s\n", k.c_str(), v.c_str());
  return 0;
}

result<void> write_stdout(std::span<const std::byte> bytes) {
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

int cmd_cat(const cli::global_options& g, const std::string& url, const transfer::options& topts) {
  auto loc = objects::parse_location(url);
  if (!loc) return cli::report("cat", loc.error());
  if (!loc->remote || loc->key.empty())
    return cli::report("cat", fail(errc::invalid_argument, "'" + url + "' is not an s3://bucket/key URL"));
  auto s = cli::open_session(g, topts, 0);
  if (!s) return cli::report("cat", s.error());
  auto bucket = cli::bucket_store(*s, loc->bucket);
  if (!bucket) return cli::report("cat", bucket.error());
  auto& eng = *s->eng;
  const std::string context = "cat " + url;
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
  const uint64_t chunk = std::max<uint64_t>(4096, std::min(cat_whole_limit, budget / 2) / 4096 * 4096);
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
  if (!g.quiet) std::printf("%s %s\n", make ? "made bucket" : "removed bucket", url.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluice: fast, verified transfers between S3 object storage and local files"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every verb");
  cli::global_options g;
  app.add_option("--endpoint-url", g.endpoint_url,
                 "S3 endpoint, e.g. http://127.0.0.1:9000 (default: AWS_ENDPOINT_URL, profile, AWS)");
  app.add_option("--region", g.region, "Region for signing (default: AWS_REGION, profile, us-east-1)");
  app.add_option("--profile", g.profile,
                 "Profile in ~/.aws/config and ~/.aws/credentials (default: AWS_PROFILE)");
  app.add_option("--ca-bundle", g.ca_bundle,
                 "PEM file of CA certificates to trust (default: AWS_CA_BUNDLE, system)");
  app.add_flag("--no-verify-ssl", g.no_verify_ssl,
               "Do not verify TLS certificates (self-signed test servers only)");
  app.add_flag(
      "--unsigned-payload", g.unsigned_payload,
      "Send UNSIGNED-PAYLOAD over plain HTTP too (no SHA-256 of bodies; integrity from the signed XXH3)");
  app.add_flag("-q,--quiet", g.quiet, "Print nothing on success");

  bool recursive = false;
  std::string url, src, dst;
  std::string content_type, part_size_text = "8MiB", threshold_text = "64MiB", budget_text = "256MiB";
  std::vector<std::string> metadata;

  auto* ls = app.add_subcommand("ls", "List buckets, or objects under s3://bucket[/prefix]");
  ls->add_flag("-r,--recursive", recursive, "List every key under the prefix");
  ls->add_option("url", url, "s3://bucket[/prefix]");

  cli::transfer_flags tf;
  auto add_transfer_flags = [&](CLI::App* cmd) {
    cmd->add_option("--part-size", part_size_text, "Part size for large objects (default 8MiB)");
    cmd->add_option("--multipart-threshold", threshold_text,
                    "Files above this size go up in parts (default 64MiB)");
    cmd->add_option("--memory-budget", budget_text, "Memory for transfer buffers (default 256MiB)");
    cmd->add_option("--concurrency", tf.concurrency, "Requests in flight (default 64)")
        ->check(CLI::Range(1u, 100000u));
    cmd->add_flag("--json", tf.json, "Print one JSON object with the outcome");
    cmd->add_option("--content-type", content_type, "Content-Type of uploaded objects");
    cmd->add_option("--metadata", metadata, "User metadata NAME=VALUE (repeatable)");
  };
  auto* cp = app.add_subcommand(
      "cp", "Copy a file to S3, an object to a file, or an object to another (server-side)");
  cp->add_option("src", src, "local path or s3://bucket/key")->required();
  cp->add_option("dst", dst, "local path or s3://bucket/key")->required();
  cp->add_flag("-r,--recursive", tf.recursive, "Copy a directory to a prefix or a prefix to a directory");
  add_transfer_flags(cp);
  auto add_tree_flags = [&](CLI::App* cmd) {
    cmd->add_option("--include", tf.include,
                    "Copy only keys (relative paths) matching this glob (repeatable)");
    cmd->add_option("--exclude", tf.exclude,
                    "Skip keys (relative paths) matching this glob (repeatable; wins over --include)");
    cmd->add_flag("--dryrun", tf.dry_run, "Print what would be done, change nothing");
  };
  add_tree_flags(cp);
  auto* sy = app.add_subcommand(
      "sync", "Copy files that are new or differ in size or hash, between a directory and a prefix");
  sy->add_option("src", src, "local directory or s3://bucket/prefix")->required();
  sy->add_option("dst", dst, "local directory or s3://bucket/prefix")->required();
  add_transfer_flags(sy);
  add_tree_flags(sy);
  sy->add_flag("--delete", tf.delete_extra,
               "Remove destination files or keys the source does not have (only when every copy succeeded)");
  sy->add_flag("--size-only", tf.size_only, "Count files of equal size as unchanged (no hashing)");

  auto* rm =
      app.add_subcommand("rm", "Remove an object, or with -r a prefix (keys equal to it or under it + '/')");
  rm->add_flag("-r,--recursive", recursive, "Remove s3://bucket/prefix and everything under prefix/");
  rm->add_option("url", url, "s3://bucket/key")->required();

  auto* st = app.add_subcommand("stat", "Show an object's size, ETag, type and metadata");
  st->add_option("url", url, "s3://bucket/key")->required();

  auto* cat = app.add_subcommand("cat", "Write an object to standard output (verified)");
  cat->add_option("url", url, "s3://bucket/key")->required();
  cat->add_option("--part-size", part_size_text, "Part size for large objects (default 8MiB)");
  cat->add_option("--memory-budget", budget_text, "Memory for transfer buffers (default 256MiB)");

  auto* mb = app.add_subcommand("mb", "Make a bucket");
  mb->add_option("url", url, "s3://bucket")->required();
  auto* rb = app.add_subcommand("rb", "Remove an (empty) bucket");
  rb->add_option("url", url, "s3://bucket")->required();

  cli::demo_options demo;
  std::string large_text = "256MiB", small_text = "16KiB";
  auto* dm = app.add_subcommand(
      "demo", "Upload, download and verify a large object and many small ones; print speeds");
  dm->add_option("--bucket", demo.bucket, "Bucket to use (created if missing)");
  dm->add_option("--large-size", large_text, "Size of the large object (default 256MiB)");
  dm->add_option("--small-count", demo.small_count, "Number of small objects (default 1000)");
  dm->add_option("--small-size", small_text, "Size of each small object (default 16KiB)");
  dm->add_option("--concurrency", demo.concurrency, "Small-object requests in flight (default 64)")
      ->check(CLI::Range(1, 4096));
  dm->add_flag("--keep", demo.keep, "Keep the objects afterwards");

  cli::array_options arr;
  auto* ar =
      app.add_subcommand("array", "Zarr v3 arrays: write a .npy as an array, read a selection, describe");
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
  ai->add_flag("--json", arr.json, "Print one JSON object");
  auto* ac = ar->add_subcommand(
      "consolidate", "Write the metadata of every node below a group into its zarr.json (one read opens it)");
  ac->add_option("url", arr.url, "s3://bucket/path.zarr or a local directory")->required();

  // CLI11 would report "a subcommand is required" for a mistyped verb; name it.
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.starts_with("-")) {
      // Global options that take a value consume the next argument.
      if (a == "--endpoint-url" || a == "--region" || a == "--profile" || a == "--ca-bundle") ++i;
      continue;
    }
    static const std::set<std::string_view> verbs{"ls", "cp", "sync", "rm",    "stat", "cat",
                                                  "mb", "rb", "demo", "bench", "array"};
    if (!verbs.contains(a)) {
      std::fprintf(
          stderr,
          "sluice: unknown verb '%s' (verbs: ls, cp, sync, rm, stat, cat, mb, rb, demo, bench, array; see "
          "sluice --help)\n",
          argv[i]);
      return 2;
    }
    break;
  }

  cli::bench_options bench;
  std::string bench_size = "1MiB", bench_part = "8MiB", bench_budget = "256MiB", bench_url;
  auto* bn = app.add_subcommand("bench",
                                "Measure GET or PUT throughput, latency, CPU and memory against an endpoint");
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
  bn->add_flag("--json", bench.json, "Print one JSON object");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "sluice: %s (see sluice --help)\n", e.what());
    return 2;
  }

  if (*ls) return cmd_ls(g, url, recursive);
  if (*cp || *sy) {
    auto ps = cli::parse_size(part_size_text);
    if (!ps) return cli::report("--part-size", ps.error());
    auto th = cli::parse_size(threshold_text);
    if (!th) return cli::report("--multipart-threshold", th.error());
    auto bud = cli::parse_size(budget_text);
    if (!bud) return cli::report("--memory-budget", bud.error());
    if (*ps < (5ull << 20) || *ps > (5ull << 30))
      return cli::report(bool(*cp) ? "cp" : "sync",
                         fail(errc::invalid_argument, "--part-size must be between 5MiB and 5GiB"));
    if (*bud < *ps)
      return cli::report(bool(*cp) ? "cp" : "sync",
                         fail(errc::invalid_argument, "--memory-budget must hold at least one part"));
    tf.part_size = *ps;
    tf.multipart_threshold = *th;
    tf.memory_budget = *bud;
    store::write_options put;
    put.content_type = content_type;
    for (auto& m : metadata) {
      auto eq = m.find('=');
      if (eq == std::string::npos || eq == 0)
        return cli::report("--metadata", fail(errc::invalid_argument, "'" + m + "' is not NAME=VALUE"));
      put.metadata[m.substr(0, eq)] = m.substr(eq + 1);
    }
    if (*cp && !tf.recursive) {
      auto from = objects::parse_location(src);
      if (!from) return cli::report("cp", from.error());
      auto to = objects::parse_location(dst);
      if (!to) return cli::report("cp", to.error());
      if (from->remote && to->remote) return cmd_copy_remote(g, src, dst, *from, *to, put);
    }
    return cli::cmd_copy_or_sync(g, tf, src, dst, bool(*sy), put);
  }
  if (*ar) {
    arr.verb = *ap ? "put" : *ag ? "get" : *ac ? "consolidate" : "info";
    arr.fill_given = fill_opt->count() > 0;
    return cli::cmd_array(g, arr);
  }
  if (*rm) return cmd_rm(g, url, recursive);
  if (*st) return cmd_stat(g, url);
  if (*cat) {
    auto ps = cli::parse_size(part_size_text);
    if (!ps) return cli::report("cat --part-size", ps.error());
    auto bud = cli::parse_size(budget_text);
    if (!bud) return cli::report("cat --memory-budget", bud.error());
    if (*ps == 0 || *bud < *ps)
      return cli::report("cat", fail(errc::invalid_argument, "--memory-budget must hold at least one part"));
    // Pool memory comes in 4 KiB pages, and a streamed object's ranges take half the budget.
    if (*bud < (8u << 10))
      return cli::report("cat", fail(errc::invalid_argument, "--memory-budget must be at least 8KiB"));
    transfer::options t;
    t.part_size = *ps;
    t.memory_budget = *bud;
    return cmd_cat(g, url, t);
  }
  if (*mb) return cmd_bucket(g, url, true);
  if (*rb) return cmd_bucket(g, url, false);
  if (*bn) {
    auto sz = cli::parse_size(bench_size);
    if (!sz) return cli::report("bench --size", sz.error());
    auto ps = cli::parse_size(bench_part);
    if (!ps) return cli::report("bench --part-size", ps.error());
    auto mb_ = cli::parse_size(bench_budget);
    if (!mb_) return cli::report("bench --memory-budget", mb_.error());
    if (*ps < (5ull << 20) || *ps > *mb_)
      return cli::report("bench", fail(errc::invalid_argument,
                                       "--part-size must be at least 5MiB and at most --memory-budget"));
    auto loc = objects::parse_location(bench_url);
    if (!loc) return cli::report("bench", loc.error());
    if (!loc->remote)
      return cli::report("bench", fail(errc::invalid_argument, "'" + bench_url + "' is not an s3:// URL"));
    if (*sz > *ps && *sz > (64ull << 20) && *ps > *mb_)
      return cli::report("bench", fail(errc::invalid_argument, "a part must fit the memory budget"));
    bench.size = *sz;
    bench.part_size = *ps;
    bench.memory_budget = *mb_;
    bench.bucket = loc->bucket;
    bench.prefix = loc->key;
    return cli::run_bench(g, bench);
  }
  if (*dm) {
    auto ls_ = cli::parse_size(large_text);
    if (!ls_) return cli::report("demo --large-size", ls_.error());
    auto ss = cli::parse_size(small_text);
    if (!ss) return cli::report("demo --small-size", ss.error());
    demo.large_size = *ls_;
    demo.small_size = *ss;
    if (auto v = s3::validate_bucket_name(demo.bucket); !v) return cli::report("demo", v.error());
    auto s = cli::open_session(g);
    if (!s) return cli::report("demo", s.error());
    return cli::run_demo(*s, demo);
  }
  return 2;
}
