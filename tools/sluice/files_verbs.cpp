// files register | ls | push | pull | info: file datasets (partitions of files,
// meta.json, a manifest) between the local registry and a remote root
// (api/include/sluice/files/dataset.hpp).
#include "cli.hpp"
#include "json_output.hpp"

#include <sluice/files/dataset.hpp>
#include <sluice/objects/objects.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <map>

namespace sluice::cli {

namespace {

int usage(const files_options& o, const std::string& message) {
  std::fprintf(stderr, "sluice: files %s: %s\n", o.verb.c_str(), printable(message).c_str());
  return 2;
}

struct partition_summary {
  std::uint64_t files = 0, bytes = 0;
};

std::map<std::string, partition_summary> summarize(const files::manifest& m) {
  std::map<std::string, partition_summary> out;
  for (const auto& f : m.files) {
    const std::string p = files::partition_of(f.path);
    if (p.empty()) continue;
    ++out[p].files;
    out[p].bytes += f.size;
  }
  return out;
}

// `files info` as text: each partition's files and bytes, then the meta.
void print_contents(const files::manifest& m) {
  for (const auto& [p, sm] : summarize(m))
    std::printf("  data/%-20s %8llu files %12s\n", printable(p).c_str(),
                static_cast<unsigned long long>(sm.files), format_bytes(double(sm.bytes)).c_str());
  std::printf("meta: %s\n", m.meta ? printable(files::canonical_json(*m.meta)).c_str() : "(none)");
}

boost::json::object manifest_summary(const files::manifest& m) {
  boost::json::object o;
  put_text(o, "name", m.name);
  if (!m.id.empty()) o["id"] = m.id;
  if (!m.created.empty()) o["created"] = m.created;
  o["files"] = m.files.size();
  o["bytes"] = m.bytes();
  boost::json::object parts;
  for (const auto& [p, s] : summarize(m)) {
    boost::json::object e{{"files", s.files}, {"bytes", s.bytes}};
    parts[p] = std::move(e);
  }
  o["partitions"] = std::move(parts);
  if (m.meta)
    o["meta"] = *m.meta;
  else
    o["meta"] = nullptr;
  return o;
}

}  // namespace

int cmd_files(const global_options& g_in, const files_options& o) {
  const std::string context = "files " + o.verb;
  auto reg = files::registry::from_environment();
  if (!reg) return report(context, reg.error());
  if (!o.name.empty())
    if (auto ok = files::validate_dataset_name(o.name); !ok) return usage(o, ok.error().message);

  if (o.verb == "register") {
    auto m = files::register_dataset(*reg, o.dir, o.name, o.force);
    if (!m) return report(context, m.error());
    if (g_in.json) {
      auto out = manifest_summary(*m);
      out["verb"] = "files register";
      put_text(out, "path", reg->dataset_dir(o.name));
      print_json(out);
    } else if (!g_in.quiet) {
      std::printf("registered %s: %zu partitions, %zu files, %s (%s)\n", o.name.c_str(),
                  m->partitions().size(), m->files.size(), format_bytes(double(m->bytes())).c_str(),
                  printable(reg->dataset_dir(o.name)).c_str());
    }
    return 0;
  }
  if (o.verb == "info" && !o.remote_listing) {  // the installed dataset (pulled: its manifest)
    auto all = files::installed_datasets(*reg);
    if (!all) return report(context, all.error());
    auto it =
        std::find_if(all->begin(), all->end(), [&](const files::manifest& m) { return m.name == o.name; });
    if (it == all->end())
      return report(context,
                    fail(errc::not_found, "dataset '" + o.name + "' is not installed in " + reg->home +
                                              " (sluice files pull " + o.name + ", or info --remote)"));
    auto out = manifest_summary(*it);
    out["verb"] = "files info";
    put_text(out, "path", reg->dataset_dir(o.name));
    if (g_in.json) {
      print_json(out);
    } else {
      std::printf("%s  %s (%s)\n", printable(o.name).c_str(),
                  it->id.empty() ? "registered here, not pushed" : ("version " + it->id).c_str(),
                  printable(reg->dataset_dir(o.name)).c_str());
      print_contents(*it);
    }
    return 0;
  }
  if (o.verb == "ls" && !o.remote_listing) {
    {
      auto all = files::installed_datasets(*reg);
      if (!all) return report(context, all.error());
      if (g_in.json) {
        boost::json::array list;
        for (const auto& m : *all) list.push_back(manifest_summary(m));
        print_json(boost::json::object{{"verb", "files ls"}, {"datasets", std::move(list)}});
      } else {
        for (const auto& m : *all)
          std::printf("%-24s %3zu partitions %8zu files %12s  %s\n", printable(m.name).c_str(),
                      m.partitions().size(), m.files.size(), format_bytes(double(m.bytes())).c_str(),
                      m.id.empty() ? "(local, not pushed)" : m.id.c_str());
      }
      return 0;
    }
  }

  // Everything else reaches the remote.
  auto remote = files::find_remote(*reg, o.remote);
  if (!remote) return report(context, remote.error());
  if (!*remote)
    return usage(o,
                 "no remote: give --remote s3://bucket/prefix, set SLUICE_FILES_REMOTE, or put remote = "
                 "s3://... in the [files] section of " +
                     reg->home + "/config");
  auto loc = objects::parse_location((*remote)->url);
  if (!loc || !loc->remote || loc->bucket.empty())
    return usage(o, "the remote '" + (*remote)->url + "' (from " + (*remote)->source +
                        ") is not an s3://bucket[/prefix] URL");
  std::string prefix = loc->key;
  if (!prefix.empty() && prefix.back() != '/') prefix += '/';
  global_options g = g_in;
  if (g.profile.empty()) g.profile = (*remote)->profile;
  if (g.endpoint_url.empty()) g.endpoint_url = (*remote)->endpoint_url;
  auto s = open_transfer_session(g, o.transfer);
  if (!s) return report(context, s.error());
  auto st = bucket_store(*s, loc->bucket, prefix);
  if (!st) return report(context, st.error());
  store::store& rs = **st;

  if (o.verb == "ls") {
    auto all = s->eng->run(files::remote_datasets(rs));
    if (!all) return report(context, all.error());
    if (g.json) {
      boost::json::array list;
      for (const auto& m : *all) list.push_back(manifest_summary(m));
      print_json(boost::json::object{
          {"verb", "files ls"}, {"remote", (*remote)->url}, {"datasets", std::move(list)}});
    } else {
      for (const auto& m : *all)
        std::printf("%-24s %3zu partitions %8zu files %12s  %s  %s\n", printable(m.name).c_str(),
                    m.partitions().size(), m.files.size(), format_bytes(double(m.bytes())).c_str(),
                    m.created.c_str(), m.id.c_str());
    }
    return 0;
  }
  if (o.verb == "info") {
    auto m = s->eng->run(files::remote_manifest(rs, o.name));
    if (!m) return report(context, m.error());
    if (!*m) return report(context, fail(errc::not_found, rs.describe(o.name + "/") + ": no dataset there"));
    auto out = manifest_summary(**m);
    out["verb"] = "files info";
    if (g.json) {
      print_json(out);
    } else {
      std::printf("%s  version %s, created %s\n", printable(o.name).c_str(), (*m)->id.c_str(),
                  (*m)->created.c_str());
      print_contents(**m);
    }
    return 0;
  }
  if (o.verb == "push") {
    auto r = s->eng->run(files::push(*reg, o.name, rs, o.force, o.transfer.concurrency));
    if (!r) return report(context + " " + o.name, r.error());
    if (g.json) {
      auto out = manifest_summary(r->pushed);
      out["verb"] = "files push";
      out["uploaded_files"] = r->files;
      out["uploaded_bytes"] = r->bytes;
      out["replaced_objects"] = r->replaced_objects;
      put_text(out, "url", rs.describe(o.name + "/"));
      print_json(out);
    } else if (!g.quiet) {
      std::printf("pushed %s to %s: %llu files, %s (version %s)\n", o.name.c_str(),
                  printable(rs.describe(o.name + "/")).c_str(), static_cast<unsigned long long>(r->files),
                  format_bytes(double(r->bytes)).c_str(), r->pushed.id.c_str());
    }
    return 0;
  }
  // pull
  files::pull_options po;
  po.partitions = o.partitions;
  po.include = o.include;
  po.force = o.force;
  po.concurrency = o.transfer.concurrency;
  auto r = s->eng->run(files::pull(*reg, o.name, rs, po));
  if (!r) return report(context + " " + o.name, r.error());
  if (g.json) {
    auto out = manifest_summary(r->pulled);
    out["verb"] = "files pull";
    out["fetched_files"] = r->fetched;
    out["fetched_bytes"] = r->fetched_bytes;
    out["present_files"] = r->present;
    put_text(out, "path", reg->dataset_dir(o.name));
    print_json(out);
  } else if (!g.quiet) {
    std::printf("pulled %s into %s: %llu files fetched (%s), %llu already present\n", o.name.c_str(),
                printable(reg->dataset_dir(o.name)).c_str(), static_cast<unsigned long long>(r->fetched),
                format_bytes(double(r->fetched_bytes)).c_str(), static_cast<unsigned long long>(r->present));
  }
  return 0;
}

}  // namespace sluice::cli
