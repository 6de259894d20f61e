// datafile info | tag | upload | download: one file with octue's metadata (id,
// timestamp, labels, tags), local or on S3 (api/include/sluice/files/datafile.hpp).
#include "cli.hpp"
#include "json_output.hpp"

#include <sluice/files/datafile.hpp>
#include <sluice/objects/objects.hpp>

#include <boost/json.hpp>

#include <cstdio>
#include <filesystem>

namespace sluice::cli {

namespace {

int usage(const datafile_options& o, const std::string& message) {
  std::fprintf(stderr, "sluice: datafile %s: %s\n", o.verb.c_str(), printable(message).c_str());
  return 2;
}

struct target {
  bool remote = false;
  std::string bucket, key;  // remote
  std::string path;         // local
};

result<target> parse_target(const std::string& text, bool remote_only) {
  SLUICE_TRY(objects::location loc, objects::parse_location(text));
  target t;
  if (loc.remote) {
    if (loc.bucket.empty() || loc.key.empty() || loc.key.back() == '/')
      return fail(errc::invalid_argument, "'" + text + "' is not an s3://bucket/key URL naming one object");
    t.remote = true;
    t.bucket = loc.bucket;
    t.key = loc.key;
    return t;
  }
  if (remote_only) return fail(errc::invalid_argument, "'" + text + "' is not an s3://bucket/key URL");
  std::error_code ec;
  if (text.empty() || text.back() == '/' || std::filesystem::is_directory(text, ec))
    return fail(errc::invalid_argument, "'" + text + "' is a directory, not a file");
  t.path = text;
  return t;
}

boost::json::object describe(const files::datafile& d) {
  boost::json::object out;
  const auto& m = d.metadata();
  out["id"] = m.id;
  out["metadata_stored"] = d.metadata_stored();
  if (m.timestamp.empty())
    out["timestamp"] = nullptr;
  else
    out["timestamp"] = m.timestamp;
  boost::json::array labels;
  for (const auto& l : m.labels) labels.emplace_back(l);
  out["labels"] = std::move(labels);
  out["tags"] = m.tags;
  if (d.is_cloud()) put_text(out, "url", d.cloud_url());
  if (!d.local_path().empty()) put_text(out, "path", d.local_path());
  out["exists_in_cloud"] = d.exists_in_cloud();
  out["exists_locally"] = d.exists_locally();
  out["size"] = d.size();
  if (auto h = d.hash_value())
    out["hash_value"] = *h;
  else
    out["hash_value"] = nullptr;
  out["metadata_hash_value"] = d.metadata_hash_value();
  return out;
}

void print_text(const files::datafile& d, bool with_crc, const std::string& crc) {
  const auto& m = d.metadata();
  if (d.is_cloud()) std::printf("url:        %s\n", printable(d.cloud_url()).c_str());
  if (!d.local_path().empty()) std::printf("path:       %s\n", printable(d.local_path()).c_str());
  std::printf("id:         %s%s\n", m.id.c_str(),
              d.metadata_stored() ? "" : " (new: kept once metadata is written, e.g. by datafile tag)");
  std::printf("timestamp:  %s\n", m.timestamp.empty() ? "(none)" : m.timestamp.c_str());
  std::string labels;
  for (const auto& l : m.labels) labels += (labels.empty() ? "" : " ") + l;
  std::printf("labels:     %s\n", labels.empty() ? "(none)" : labels.c_str());
  std::printf("tags:       %s\n", printable(files::canonical_json(m.tags)).c_str());
  std::printf("locality:   %s%s\n", d.exists_in_cloud() ? "cloud" : "",
              d.exists_locally() ? (d.exists_in_cloud() ? " and local" : "local") : "");
  std::printf("size:       %llu bytes\n", static_cast<unsigned long long>(d.size()));
  auto h = d.hash_value();
  std::printf("xxh3:       %s\n", h ? h->c_str() : "(not recorded)");
  if (with_crc) std::printf("crc32c:     %s\n", crc.c_str());
  std::printf("metadata:   %s\n", d.metadata_hash_value().c_str());
}

// --tag K=JSON: the value is JSON where it parses as JSON, else the text itself (so
// --tag maker=Vestas is the string "Vestas", --tag rated=1.5 the number 1.5).
result<std::pair<std::string, boost::json::value>> parse_tag(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    return fail(errc::invalid_argument, "--tag '" + text + "' is not NAME=VALUE");
  std::string name = text.substr(0, eq);
  SLUICE_TRY_VOID(files::validate_tag_name(name));
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text.substr(eq + 1), ec);
  if (ec) v = boost::json::string(text.substr(eq + 1));
  return std::pair<std::string, boost::json::value>(std::move(name), std::move(v));
}

}  // namespace

int cmd_datafile(const global_options& g, const transfer_flags& tf, const datafile_options& o) {
  const std::string context = "datafile " + o.verb;
  const bool remote_only = o.verb == "download";
  auto t = parse_target(o.target, remote_only);
  if (!t) return usage(o, t.error().message);
  std::optional<target> other;  // upload: the URL; download: the local path
  if (o.verb == "upload") {
    if (t->remote) return usage(o, "the first argument is the local file, the second the s3:// URL");
    auto u = parse_target(o.second, true);
    if (!u) return usage(o, u.error().message);
    other = *u;
  }
  if (o.verb == "download") {
    std::string path = o.second;
    const std::string base = std::filesystem::path(t->key).filename().string();
    if (path.empty())
      path = base;
    else if (std::error_code ec; path.back() == '/' || std::filesystem::is_directory(path, ec))
      path = (std::filesystem::path(path) / base).string();
    other = target{false, "", "", path};
  }

  files::datafile_metadata changes;
  std::vector<std::pair<std::string, boost::json::value>> tags;
  if (o.verb == "tag") {
    for (const auto& l : o.labels)
      if (auto ok = files::validate_label(l); !ok) return usage(o, ok.error().message);
    for (const auto& text : o.tags) {
      auto kv = parse_tag(text);
      if (!kv) return usage(o, kv.error().message);
      tags.push_back(std::move(*kv));
    }
    for (const auto& name : o.remove_tags)
      if (auto ok = files::validate_tag_name(name); !ok) return usage(o, ok.error().message);
    if (!o.timestamp.empty()) {
      auto ts = files::normalize_timestamp(o.timestamp);
      if (!ts) return usage(o, ts.error().message);
      changes.timestamp = *ts;
    }
    if (o.labels.empty() && o.tags.empty() && o.remove_labels.empty() && o.remove_tags.empty() &&
        o.timestamp.empty() && !o.clear_timestamp)
      return usage(o, "nothing to change: give --label, --tag, --timestamp, --remove-label or --remove-tag");
  }

  // S3 needs a session; a local file only an engine to run the library's coroutines on.
  const bool needs_s3 = t->remote || (other && other->remote);
  std::optional<session> s;
  std::unique_ptr<engine> local_engine;
  if (needs_s3) {
    auto opened = open_transfer_session(g, tf);
    if (!opened) return report(context, opened.error());
    s.emplace(std::move(*opened));
  } else {
    local_engine = std::make_unique<engine>();
  }
  engine& eng = s ? *s->eng : *local_engine;
  auto run = [&]<class T>(boost::asio::awaitable<T> a) { return eng.run(std::move(a)); };

  // The datafile the verb works on.
  result<files::datafile> df = fail(errc::invalid_argument, "");
  if (t->remote) {
    auto st = bucket_store(*s, t->bucket);
    if (!st) return report(context, st.error());
    const std::string local = other ? other->path : std::string();
    df = run(files::datafile::cloud(*st, t->key, local));
  } else {
    df = files::datafile::local(t->path);
  }
  if (!df) return report(context + " " + o.target, df.error());
  files::datafile& d = *df;
  if (!t->remote && !d.exists_locally())
    return report(context, fail(errc::not_found, t->path + ": no such file"));
  if (t->remote && !d.exists_in_cloud())
    return report(context, fail(errc::not_found, d.cloud_url() + ": no such object"));

  if (o.verb == "tag") {
    auto& m = d.metadata();
    for (const auto& l : o.labels) m.labels.insert(l);
    for (const auto& l : o.remove_labels) m.labels.erase(l);
    for (auto& [k, v] : tags) m.tags[k] = v;
    for (const auto& k : o.remove_tags) m.tags.erase(k);
    if (!changes.timestamp.empty()) m.timestamp = changes.timestamp;
    if (o.clear_timestamp) m.timestamp.clear();
    auto ok = run(d.update_metadata());
    if (!ok) return report(context + " " + o.target, ok.error());
  } else if (o.verb == "upload") {
    auto st = bucket_store(*s, other->bucket);
    if (!st) return report(context, st.error());
    auto ok = run(d.upload(*st, other->key));
    if (!ok) return report(context + " " + o.target + " -> " + o.second, ok.error());
  } else if (o.verb == "download") {
    auto ok = run(d.download());
    if (!ok) return report(context + " " + o.target, ok.error());
  }

  if (g.json) {
    auto out = describe(d);
    out["verb"] = "datafile " + o.verb;
    if (s) {  // what went over the network: a metadata change receives no content
      const auto http = s->sched->http_stats();
      out["requests"] = http.requests;
      out["received_bytes"] = http.body_bytes_direct + http.body_bytes_copied;
    }
    if (o.verb == "info" && d.exists_locally()) {
      if (auto h = files::hash_file(d.local_path())) out["crc32c"] = h->crc32c;
    }
    print_json(out);
  } else if (o.verb == "info") {
    std::string crc;
    bool with_crc = false;
    if (d.exists_locally()) {
      if (auto h = files::hash_file(d.local_path())) {
        crc = h->crc32c;
        with_crc = true;
      }
    }
    print_text(d, with_crc, crc);
  } else if (!g.quiet) {
    if (o.verb == "tag")
      std::printf("tagged %s\n", printable(t->remote ? d.cloud_url() : t->path).c_str());
    else if (o.verb == "upload")
      std::printf("upload: %s to %s\n", printable(t->path).c_str(), printable(d.cloud_url()).c_str());
    else
      std::printf("download: %s to %s\n", printable(d.cloud_url()).c_str(),
                  printable(d.local_path()).c_str());
  }
  return 0;
}

}  // namespace sluice::cli
