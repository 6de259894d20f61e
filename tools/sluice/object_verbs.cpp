// du, presign, mv of one object between S3 locations, and rb --force: thin layers over
// objects:: and store::, with their JSON written by Boost.JSON.
#include "cli.hpp"
#include "json_output.hpp"

#include <sluice/objects/glob.hpp>
#include <sluice/objects/objects.hpp>
#include <sluice/objects/tree.hpp>
#include <sluice/store/s3.hpp>

#include <boost/json.hpp>

#include <cstdio>
#include <iostream>

namespace sluice::cli {

namespace {

std::string url_of(const std::string& bucket, std::string_view key) {
  return "s3://" + bucket + (key.empty() ? "" : "/" + std::string(key));
}

}  // namespace

int cmd_du(const global_options& g, const du_options& o) {
  auto loc = objects::parse_location(o.url);
  if (!loc) return report("du", loc.error());
  if (!loc->remote || loc->bucket.empty())
    return report("du", fail(errc::invalid_argument, "'" + o.url + "' is not an s3://bucket[/prefix] URL"));
  auto s = open_session(g);
  if (!s) return report("du", s.error());
  auto bucket = bucket_store(*s, loc->bucket);
  if (!bucket) return report("du", bucket.error());
  objects::usage_by_prefix u;
  // The level the per-prefix lines are below: the prefix as a directory, or a glob's literal directory.
  std::string level = loc->key.empty() || loc->key.back() == '/' ? loc->key : loc->key + "/";
  if (objects::has_wildcards(loc->key)) {
    // The keys a glob matches (no match: nothing, as for an empty prefix).
    auto r = s->eng->run(objects::du_matching(**bucket, loc->key));
    if (!r) return report("du " + o.url, r.error());
    u = std::move(*r);
    level = objects::literal_directory(loc->key);
  } else if (o.summary) {
    auto r = s->eng->run(objects::du(**bucket, loc->key));
    if (!r) return report("du " + o.url, r.error());
    u.total = *r;
  } else {
    auto r = s->eng->run(objects::du_by_prefix(**bucket, loc->key));
    if (!r) return report("du " + o.url, r.error());
    u = std::move(*r);
  }
  if (o.summary) u.prefixes.clear();
  if (g.json) {
    boost::json::object out{{"verb", "du"}, {"bytes", u.total.bytes}, {"objects", u.total.objects}};
    put_text(out, "url", o.url);
    if (!o.summary) {
      boost::json::array parts;
      for (const auto& [name, usage] : u.prefixes) {
        boost::json::object p{{"bytes", usage.bytes}, {"objects", usage.objects}};
        put_text(p, "prefix", url_of(loc->bucket, level + name));
        parts.push_back(std::move(p));
      }
      out["prefixes"] = std::move(parts);
    }
    print_json(out);
    return 0;
  }
  // As du(1): size, then (unlike du) the object count, then the name; the total last.
  for (const auto& [name, usage] : u.prefixes)
    std::printf("%llu\t%llu\t%s\n", static_cast<unsigned long long>(usage.bytes),
                static_cast<unsigned long long>(usage.objects),
                printable(url_of(loc->bucket, level + name)).c_str());
  std::printf("%llu\t%llu\t%s\n", static_cast<unsigned long long>(u.total.bytes),
              static_cast<unsigned long long>(u.total.objects), printable(o.url).c_str());
  return 0;
}

int cmd_cleanup(const global_options& g, const cleanup_cli_options& o) {
  auto loc = objects::parse_location(o.url);
  if (!loc) return report("cleanup", loc.error());
  if (!loc->remote || loc->bucket.empty())
    return report("cleanup",
                  fail(errc::invalid_argument, "'" + o.url + "' is not an s3://bucket[/prefix] URL"));
  auto s = open_session(g);
  if (!s) return report("cleanup", s.error());
  store::cleanup_options co;
  co.prefix = loc->key;
  co.older_than = o.older_than;
  co.dry_run = o.dry_run;
  auto r = s->eng->run(store::cleanup_uploads(*s->sched, loc->bucket, co));
  if (!r) return report("cleanup " + o.url, r.error());
  std::size_t aborted = 0, failed = 0;
  for (const auto& u : *r) {
    if (u.aborted) ++aborted;
    if (u.err) {
      ++failed;
      std::fprintf(stderr, "sluice: cleanup: %s: %s\n", printable(url_of(loc->bucket, u.key)).c_str(),
                   printable(u.err->describe()).c_str());
    }
  }
  if (g.json) {
    boost::json::array uploads;
    for (const auto& u : *r) {
      boost::json::object one;
      put_text(one, "key", u.key);
      put_text(one, "upload_id", u.upload_id);
      put_text(one, "initiated", u.initiated);
      one["aborted"] = u.aborted;
      if (u.err) put_text(one, "error", u.err->describe());
      uploads.push_back(std::move(one));
    }
    boost::json::object out{{"verb", "cleanup"}};
    put_text(out, "url", o.url);
    out["dry_run"] = o.dry_run;
    out["found"] = r->size();
    out["aborted"] = aborted;
    out["failures"] = failed;
    out["uploads"] = std::move(uploads);
    print_json(out);
  } else if (!g.quiet) {
    for (const auto& u : *r) {
      if (!u.aborted && !o.dry_run) continue;
      std::printf("%s %s (upload %s, initiated %s)\n", o.dry_run ? "(dryrun) abort" : "aborted",
                  printable(url_of(loc->bucket, u.key)).c_str(), printable(u.upload_id).c_str(),
                  printable(u.initiated).c_str());
    }
    std::printf("cleanup: %zu open upload%s found, %zu aborted%s\n", r->size(), r->size() == 1 ? "" : "s",
                aborted, failed ? (", " + std::to_string(failed) + " FAILED").c_str() : "");
  }
  return failed ? 1 : 0;
}

int cmd_presign(const global_options& g, const std::string& url, long expires_in) {
  auto loc = objects::parse_location(url);
  if (!loc) return report("presign", loc.error());
  if (!loc->remote || loc->key.empty() || loc->key.back() == '/')
    return report("presign", fail(errc::invalid_argument, "'" + url + "' is not an s3://bucket/key URL"));
  if (expires_in < 1 || expires_in > 604800)
    return report("presign",
                  fail(errc::invalid_argument, "--expires-in " + std::to_string(expires_in) +
                                                   ": a presigned URL lasts 1 to 604800 seconds (7 days)"));
  if (g.no_sign_request)
    return report("presign", fail(errc::invalid_argument, "--no-sign-request leaves nothing to sign with"));
  auto s = open_session(g);
  if (!s) return report("presign", s.error());
  auto signed_url = store::presign_get(*s->sched, loc->bucket, loc->key, std::chrono::seconds(expires_in));
  if (!signed_url) return report("presign " + url, signed_url.error());
  if (g.json)
    print_json(boost::json::object{
        {"verb", "presign"}, {"url", valid_utf8(*signed_url)}, {"expires_in", expires_in}});
  else
    std::printf("%s\n", signed_url->c_str());
  return 0;
}

int cmd_move_remote(const global_options& g, const std::string& src, const std::string& dst) {
  auto from = objects::parse_location(src);
  if (!from) return report("mv", from.error());
  auto to = objects::parse_location(dst);
  if (!to) return report("mv", to.error());
  if (from->key.empty() || from->key.back() == '/')
    return report("mv", fail(errc::invalid_argument, "'" + src + "' names no object (use -r for a prefix)"));
  std::string key = to->key;
  if (key.empty() || key.back() == '/') {
    auto slash = from->key.rfind('/');
    key += from->key.substr(slash == std::string::npos ? 0 : slash + 1);
  }
  if (from->bucket == to->bucket && from->key == key)
    return report("mv", fail(errc::invalid_argument, "'" + src + "' and '" + dst + "' are the same object"));
  auto s = open_session(g);
  if (!s) return report("mv", s.error());
  auto source = bucket_store(*s, from->bucket);
  if (!source) return report("mv", source.error());
  auto destination = bucket_store(*s, to->bucket);
  if (!destination) return report("mv", destination.error());
  // Two stores on one scheduler: a server-side copy, then the source removed.
  auto moved = s->eng->run(objects::move_value(**source, from->key, **destination, key));
  if (!moved) return report("mv " + src + " " + dst, moved.error());
  const std::string target = url_of(to->bucket, key);
  if (g.json) {
    boost::json::object out{{"verb", "mv"}, {"bytes", *moved}, {"server_side", true}};
    put_text(out, "from", src);
    put_text(out, "to", target);
    print_json(out);
  } else if (!g.quiet) {
    std::printf("moved %s -> %s (server-side)\n", printable(src).c_str(), printable(target).c_str());
  }
  return 0;
}

int cmd_remove_bucket_force(const global_options& g, const std::string& url) {
  auto loc = objects::parse_location(url);
  if (!loc) return report("rb", loc.error());
  if (!loc->remote || !loc->key.empty())
    return report("rb", fail(errc::invalid_argument, "'" + url + "' is not an s3://bucket URL"));
  auto s = open_session(g);
  if (!s) return report("rb", s.error());
  auto bucket = bucket_store(*s, loc->bucket);
  if (!bucket) return report("rb", bucket.error());
  auto emptied = s->eng->run(objects::remove(**bucket, "", true));
  if (!emptied) return report("rb --force " + url, emptied.error());
  for (const auto& f : emptied->failures) warn("rb", f.err);
  if (!emptied->failures.empty())
    return report("rb --force " + url,
                  fail(errc::io_error, std::to_string(emptied->failures.size()) +
                                           " object(s) could not be removed; the bucket is kept"));
  auto removed = s->eng->run(store::remove_bucket(*s->sched, loc->bucket));
  if (!removed) return report("rb " + url, removed.error());
  if (g.json) {
    boost::json::object out{{"verb", "rb"}, {"bucket", loc->bucket}, {"removed", emptied->deleted}};
    put_text(out, "url", url);
    print_json(out);
  } else if (!g.quiet)
    std::printf("removed %llu object%s and bucket %s\n", static_cast<unsigned long long>(emptied->deleted),
                emptied->deleted == 1 ? "" : "s", printable(url).c_str());
  return 0;
}

}  // namespace sluice::cli
