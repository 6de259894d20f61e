// object put-array | get-array: NumPy arrays as S3 objects in cottoncandy's
// layouts, from and to .npy and .npz files: one raw array
// (object_array/raw.hpp), an array split into parts (chunked.hpp), a sparse
// matrix or a dictionary of arrays (sparse.hpp). get-array finds the layout
// from what is stored.
#include "cli.hpp"
#include "json_output.hpp"

#include <sluice/npy/npy.hpp>
#include <sluice/npy/npz.hpp>
#include <sluice/object_array/chunked.hpp>
#include <sluice/object_array/raw.hpp>
#include <sluice/object_array/sparse.hpp>
#include <sluice/objects/objects.hpp>

#include <boost/json.hpp>

#include <cstdio>

namespace sluice::cli {

namespace {

int usage(const object_options& o, const std::string& message) {
  std::fprintf(stderr, "sluice: object %s: %s\n", o.verb.c_str(), printable(message).c_str());
  return 2;
}

boost::json::array shape_json(const std::vector<std::uint64_t>& shape) {
  boost::json::array out;
  for (auto d : shape) out.push_back(d);
  return out;
}

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string out = "(";
  for (std::size_t d = 0; d < shape.size(); ++d) out += (d ? ", " : "") + std::to_string(shape[d]);
  return out + (shape.size() == 1 ? ",)" : ")");
}

bool ends_with_npz(const std::string& path) {
  return path.size() > 4 && path.ends_with(".npz");
}

// "0:10,:,5:" -> [start, stop) per dimension of `shape`.
result<std::vector<std::pair<std::uint64_t, std::uint64_t>>> parse_box(
    const std::string& text, const std::vector<std::uint64_t>& shape) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> box;
  std::size_t at = 0;
  for (std::size_t d = 0;; ++d) {
    const std::size_t end = std::min(text.find(',', at), text.size());
    const std::string part = text.substr(at, end - at);
    if (d >= shape.size())
      return fail(errc::invalid_argument, "--select '" + text + "' has more dimensions than the array's " +
                                              std::to_string(shape.size()));
    const auto colon = part.find(':');
    if (colon == std::string::npos)
      return fail(errc::invalid_argument, "--select: '" + part + "' is not start:stop (or ':')");
    auto num = [&](const std::string& s, std::uint64_t dflt) -> result<std::uint64_t> {
      if (s.empty()) return dflt;
      char* e = nullptr;
      const auto v = std::strtoull(s.c_str(), &e, 10);
      if (*e != '\0' || s[0] == '-')
        return fail(errc::invalid_argument, "--select: '" + s + "' is not a position");
      return static_cast<std::uint64_t>(v);
    };
    SLUICE_TRY(std::uint64_t lo, num(part.substr(0, colon), 0));
    SLUICE_TRY(std::uint64_t hi, num(part.substr(colon + 1), shape[d]));
    box.emplace_back(lo, std::min(hi, shape[d]));
    if (end == text.size()) break;
    at = end + 1;
  }
  while (box.size() < shape.size()) box.emplace_back(0, shape[box.size()]);
  return box;
}

void print_array_line(const global_options& g, const char* verb, const std::string& from,
                      const std::string& to, const npy::array& a, const std::string& layout,
                      boost::json::object extra) {
  if (g.json) {
    boost::json::object out{{"verb", verb},
                            {"layout", layout},
                            {"dtype", npy::descr_of(a.dtype)},
                            {"shape", shape_json(a.shape)},
                            {"bytes", a.data.size()}};
    for (auto& kv : extra) out[kv.key()] = kv.value();
    put_text(out, "from", from);
    put_text(out, "to", to);
    print_json(out);
  } else if (!g.quiet) {
    std::printf("%s -> %s (%s, %s %s, %zu bytes)\n", printable(from).c_str(), printable(to).c_str(),
                layout.c_str(), npy::descr_of(a.dtype).c_str(), shape_text(a.shape).c_str(), a.data.size());
  }
}

void print_members_line(const global_options& g, const char* verb, const std::string& from,
                        const std::string& to, const std::string& layout, std::size_t members,
                        std::string detail) {
  if (g.json) {
    boost::json::object out{{"verb", verb}, {"layout", layout}, {"arrays", members}};
    put_text(out, "from", from);
    put_text(out, "to", to);
    if (!detail.empty()) out["detail"] = detail;
    print_json(out);
  } else if (!g.quiet) {
    std::printf("%s -> %s (%s, %zu arrays%s%s)\n", printable(from).c_str(), printable(to).c_str(),
                layout.c_str(), members, detail.empty() ? "" : ", ", detail.c_str());
  }
}

}  // namespace

int cmd_object(const global_options& g, const object_options& o) {
  const std::string context = "object " + o.verb;
  const std::string& url = o.url;
  auto loc = objects::parse_location(url);
  if (!loc) return usage_error(context, loc.error());
  if (!loc->remote || loc->bucket.empty() || loc->key.empty() || loc->key.back() == '/')
    return usage(o, "'" + url + "' is not an s3://bucket/key URL naming one object");
  object_array::raw_put_options put;
  object_array::chunked_put_options chunked;
  const bool split = o.split_axis.has_value() || !o.part_size.empty();
  if (o.verb == "put-array") {
    auto c = object_array::parse_compression(o.compression);
    if (!c) return usage(o, "--compression '" + o.compression + "' is not one of zstd, gzip, none");
    put.codec = *c;
    put.level = o.level;
    if (*c == object_array::compression::gzip && (o.level < 0 || o.level > 9))
      return usage(o, "--level " + std::to_string(o.level) + " is not a gzip level (1-9; 0: the default, 5)");
    if (*c == object_array::compression::none && o.level != 0)
      return usage(o, "--level needs --compression zstd or gzip");
    if (split && ends_with_npz(o.file)) return usage(o, "--split-axis and --part-size apply to a .npy");
    chunked.codec = put.codec;
    chunked.level = put.level;
    chunked.split_axis = o.split_axis.value_or(-1);
    if (!o.part_size.empty()) {
      auto ps = parse_size(o.part_size);
      if (!ps || *ps == 0) return usage(o, "--part-size '" + o.part_size + "' is not a size");
      chunked.part_bytes = *ps;
    }
  } else if (!o.select.empty() && ends_with_npz(o.output)) {
    return usage(o, "--select applies to arrays written to a .npy");
  }
  auto s = open_session(g, transfer::options{}, 0);
  if (!s) return report(context, s.error());
  auto bucket = bucket_store(*s, loc->bucket);
  if (!bucket) return report(context, bucket.error());
  store::store& st = **bucket;
  const std::string& key = loc->key;

  if (o.verb == "put-array") {
    if (ends_with_npz(o.file)) {
      auto members = npy::read_npz(o.file);
      if (!members) return report(context, members.error());
      auto sparse = object_array::from_npz(*members, o.file);
      if (!sparse) return report(context, sparse.error());
      if (*sparse) {
        auto ok = s->eng->run(object_array::put_sparse(st, key, **sparse, put));
        if (!ok) return report(context + " " + url, ok.error());
        print_members_line(g, "object put-array", o.file, url, "sparse",
                           object_array::sparse_attributes((*sparse)->format).size(),
                           (*sparse)->format + " " + std::to_string((*sparse)->rows) + " x " +
                               std::to_string((*sparse)->cols));
        return 0;
      }
      std::map<std::string, npy::array> entries;
      for (const auto& m : *members) {
        auto a = npy::parse(m.file, o.file + " (member " + m.name + ")");
        if (!a) return report(context, a.error());
        entries.emplace(m.name, std::move(*a));
      }
      auto ok = s->eng->run(object_array::put_dict(st, key, entries, put, 16));
      if (!ok) return report(context + " " + url, ok.error());
      print_members_line(g, "object put-array", o.file, url, "dictionary", entries.size(), "");
      return 0;
    }
    auto a = npy::read_file(o.file);
    if (!a) return report(context, a.error());
    if (split) {
      auto l = s->eng->run(object_array::put_chunked(st, key, *a, chunked));
      if (!l) return report(context + " " + url, l.error());
      boost::json::object extra{{"parts", l->parts.size()}};
      print_array_line(g, "object put-array", o.file, url, *a,
                       "chunked (" + std::to_string(l->parts.size()) + " parts)", std::move(extra));
      return 0;
    }
    auto gen = s->eng->run(object_array::put_raw(st, key, *a, put));
    if (!gen) return report(context + " " + url, gen.error());
    print_array_line(
        g, "object put-array", o.file, url, *a, "raw",
        boost::json::object{{"compression", std::string(object_array::compression_name(put.codec))}});
    return 0;
  }

  // get-array: which layout? A raw array is an object with dtype metadata; the others are prefixes,
  // chunked and sparse ones with a metadata.json saying which.
  auto head = s->eng->run(st.stat(key));
  if (!head) return report(context + " " + url, head.error());
  if (*head) {  // one object: a raw array, or not an array at all (get_raw says why)
    if (!o.select.empty())
      return usage(o, "--select needs an array in the chunked layout; " + url + " is a raw array");
    if (ends_with_npz(o.output)) return usage(o, url + " is one array: write it to a .npy");
    auto a = s->eng->run(object_array::get_raw(st, key));
    if (!a) return report(context + " " + url, a.error());
    auto written = npy::write_file(o.output, a->dtype, a->shape, a->data);
    if (!written) return report(context, written.error());
    print_array_line(g, "object get-array", url, o.output, *a, "raw", {});
    return 0;
  }
  auto layout = s->eng->run(object_array::read_chunked_layout(st, key));
  if (!layout && !ends_with_npz(o.output)) return report(context + " " + url, layout.error());
  if (layout && *layout) {
    if (ends_with_npz(o.output)) return usage(o, url + " is one array (chunked): write it to a .npy");
    std::vector<std::pair<std::uint64_t, std::uint64_t>> box;
    if (!o.select.empty()) {
      auto b = parse_box(o.select, (*layout)->shape);
      if (!b) return usage(o, b.error().message);
      box = std::move(*b);
    }
    std::uint64_t parts_read = 0;
    auto a = s->eng->run(object_array::get_chunked(st, **layout, box, 16, &parts_read));
    if (!a) return report(context + " " + url, a.error());
    auto written = npy::write_file(o.output, a->dtype, a->shape, a->data);
    if (!written) return report(context, written.error());
    print_array_line(g, "object get-array", url, o.output, *a,
                     "chunked (" + std::to_string(parts_read) + " of " +
                         std::to_string((*layout)->parts.size()) + " parts read)",
                     boost::json::object{{"parts", (*layout)->parts.size()}, {"parts_read", parts_read}});
    return 0;
  }
  if (!o.select.empty()) return usage(o, "--select needs an array in the chunked layout");
  if (!ends_with_npz(o.output))
    return report(context,
                  fail(errc::not_found, url + ": no such object, nor a chunked array under " + url +
                                            "/ (a sparse matrix or a dictionary of arrays goes to a .npz)"));
  auto sparse = s->eng->run(object_array::get_sparse(st, key));
  if (!sparse) return report(context + " " + url, sparse.error());
  std::vector<npy::npz_member> members;
  std::string layout_name, detail;
  if (*sparse) {
    auto m = object_array::to_npz(**sparse);
    if (!m) return report(context, m.error());
    members = std::move(*m);
    layout_name = "sparse";
    detail =
        (*sparse)->format + " " + std::to_string((*sparse)->rows) + " x " + std::to_string((*sparse)->cols);
  } else {
    auto d = s->eng->run(object_array::get_dict(st, key, 16));
    if (!d) return report(context + " " + url, d.error());
    for (auto& [name, a] : *d) {
      auto file = npy::format(a.dtype, a.shape, a.data);
      if (!file) return report(context, file.error());
      members.push_back({name, std::move(*file)});
    }
    layout_name = "dictionary";
  }
  auto written = npy::write_npz(o.output, members);
  if (!written) return report(context, written.error());
  print_members_line(g, "object get-array", url, o.output, layout_name,
                     layout_name == "sparse" ? members.size() - 2 : members.size(), detail);
  return 0;
}

}  // namespace sluice::cli
