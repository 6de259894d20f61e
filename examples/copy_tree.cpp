// copy_tree: copy (or sync) a tree of files between two stores: a local directory and an S3 prefix,
// two S3 prefixes (server-side copies on one endpoint), or two directories.
//
//   copy_tree [--sync] SRC DST        SRC and DST: a local directory or s3://bucket/prefix
//
// It opens each side as a store (sluice/store/file.hpp, sluice/store/s3.hpp) and runs
// objects::copy_tree or objects::sync (sluice/objects/tree.hpp): the source is listed page by page,
// values are copied 64 at a time the fastest way the pair allows, keys that would leave the
// destination ("..", empty segments) are refused and reported, and with --sync values whose size and
// XXH3 already match are skipped.
//
// Credentials, region and endpoint follow the AWS conventions (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_REGION, AWS_ENDPOINT_URL, AWS_PROFILE, AWS_CA_BUNDLE, ~/.aws/...).
//
// Exit status: 0 when every value was copied, 1 when any failed or was refused (one line each on
// stderr), 2 for a bad command line.
#include <sluice/engine/runtime/engine.hpp>
#include <sluice/engine/s3/config.hpp>
#include <sluice/engine/transfer/scheduler.hpp>
#include <sluice/objects/objects.hpp>
#include <sluice/objects/tree.hpp>
#include <sluice/store/file.hpp>
#include <sluice/store/s3.hpp>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: copy_tree [--sync] SRC DST   (each a local directory or s3://bucket/prefix)\n");
  return 2;
}

int report(const std::string& context, const sluice::error& e) {
  std::fprintf(stderr, "copy_tree: %s: %s\n", context.c_str(), e.describe().c_str());
  return 1;
}

// One side of the copy: the store and the prefix inside it.
struct side {
  std::shared_ptr<sluice::store::store> store;
  std::string prefix;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace sluice;
  int arg = 1;
  bool sync = false;
  if (arg < argc && std::strcmp(argv[arg], "--sync") == 0) {
    sync = true;
    ++arg;
  }
  if (argc - arg != 2) return usage();
  auto from = objects::parse_location(argv[arg]);
  auto to = objects::parse_location(argv[arg + 1]);
  if (!from || !to) {
    std::fprintf(stderr, "copy_tree: %s\n", (!from ? from.error() : to.error()).describe().c_str());
    return usage();
  }

  // The engine and the scheduler serve every S3 side (two S3 sides share them, so their copies are
  // server-side); declared first, they are destroyed last.
  engine eng;
  std::shared_ptr<transfer::scheduler> sched;
  auto open = [&](const objects::location& loc, bool is_source) -> result<side> {
    if (!loc.remote) {
      store::file_options fo;
      fo.create_root = !is_source;
      SLUICE_TRY(auto s, store::open_file_store(loc.path, fo));
      return side{std::move(s), ""};
    }
    if (!sched) {
      const s3::config_overrides overrides;
      SLUICE_TRY(s3::resolved_config config, s3::resolve_config(overrides, s3::process_env()));
      s3::client_options client_opts;
      client_opts.config = std::move(config);
      SLUICE_TRY(sched, transfer::scheduler::create(eng, client_opts, transfer::options{}));
    }
    SLUICE_TRY(auto s,
               store::open_s3_store(sched, {loc.bucket, "", store::conditional_writes::assume_unsupported}));
    return side{std::move(s), loc.key};
  };
  auto src = open(*from, true);
  if (!src) return report(argv[arg], src.error());
  auto dst = open(*to, false);
  if (!dst) return report(argv[arg + 1], dst.error());

  // engine::run() is the blocking facade; the stores and prefixes live until it returns.
  auto r = sync ? eng.run(objects::sync(*src->store, src->prefix, *dst->store, dst->prefix))
                : eng.run(objects::copy_tree(*src->store, src->prefix, *dst->store, dst->prefix));
  if (!r) return report(sync ? "sync" : "copy", r.error());
  for (const auto& f : r->refused)
    std::fprintf(stderr, "copy_tree: refused %s: %s\n", f.key.c_str(), f.err.describe().c_str());
  for (const auto& f : r->failures)
    std::fprintf(stderr, "copy_tree: failed %s: %s\n", f.key.c_str(), f.err.describe().c_str());
  std::printf("copied %llu values (%llu bytes), %llu unchanged, %llu refused, %llu failed\n",
              static_cast<unsigned long long>(r->copied), static_cast<unsigned long long>(r->bytes),
              static_cast<unsigned long long>(r->skipped), static_cast<unsigned long long>(r->refused.size()),
              static_cast<unsigned long long>(r->failures.size()));
  return r->refused.empty() && r->failures.empty() ? 0 : 1;
}
