// array put | get | info: Zarr v3 arrays on S3 or in a local directory, from and to .npy files.
//
// A URL names a node of a hierarchy: the store's root is the path up to and
// including its first segment ending in ".zarr" (s3://b/data/era5.zarr/t2m:
// root data/era5.zarr, node t2m); without such a segment the URL is an array at
// the root of a store of its own.
#include "cli.hpp"

#include <sluice/npy/npy.hpp>
#include <sluice/objects/objects.hpp>
#include <sluice/store/file.hpp>
#include <sluice/zarr/array.hpp>
#include <sluice/zarr/group.hpp>
#include <sluice/zarr/metadata.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <functional>
#include <optional>
#include <variant>

namespace sluice::cli {

namespace {

namespace json = boost::json;

constexpr unsigned array_concurrency = 8;  // chunks fetched / encoded at once

// Prints "sluice: array <verb>: <message>" and returns the usage exit status.
int usage(const array_options& o, const std::string& message) {
  std::fprintf(stderr, "sluice: array %s: %s\n", o.verb.c_str(), printable(message).c_str());
  return 2;
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::size_t begin = 0;
  for (;;) {
    auto end = text.find(sep, begin);
    out.emplace_back(
        text.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin));
    if (end == std::string_view::npos) return out;
    begin = end + 1;
  }
}

std::string trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

template <class T>
std::optional<T> to_number(std::string_view s) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// "4,5,6": positive integers, one per dimension.
result<std::vector<std::uint64_t>> parse_shape_list(std::string_view flag, std::string_view text) {
  std::vector<std::uint64_t> out;
  for (auto& part : split(text, ',')) {
    auto v = to_number<std::uint64_t>(trim(part));
    if (!v || *v == 0)
      return fail(errc::invalid_argument, std::string(flag) + " '" + std::string(text) +
                                              "' is not a list of positive integers (e.g. 100,100)");
    out.push_back(*v);
  }
  return out;
}

// The compressor --codec names, as a bytes -> bytes codec (nullopt: none).
result<std::optional<zarr::codec_spec>> parse_codec(std::string_view text, std::size_t element_size) {
  auto parts = split(text, ':');
  const std::string& name = parts[0];
  auto bad = [&](const std::string& why) {
    return fail(errc::invalid_argument, "--codec '" + std::string(text) + "': " + why +
                                            " (zstd[:LEVEL], gzip[:LEVEL], blosc[:CNAME[:LEVEL]] or none)");
  };
  auto level = [&](std::size_t i, int lo, int hi, int dflt) -> std::optional<int> {
    if (parts.size() <= i) return dflt;
    auto v = to_number<int>(parts[i]);
    if (!v || *v < lo || *v > hi) return std::nullopt;
    return *v;
  };
  if (name == "none") {
    if (parts.size() != 1) return bad("none takes no options");
    return std::optional<zarr::codec_spec>();
  }
  if (name == "zstd" || name == "gzip") {
    if (parts.size() > 2) return bad("too many ':'");
    const bool zstd = name == "zstd";
    auto l = zstd ? level(1, -7, 22, 3) : level(1, 0, 9, 5);
    if (!l) return bad(zstd ? "the level must be -7..22" : "the level must be 0..9");
    json::object cfg{{"level", *l}};
    if (zstd) cfg["checksum"] = false;
    return std::optional<zarr::codec_spec>(zarr::codec_spec{name, std::move(cfg), true});
  }
  if (name == "blosc") {
    if (parts.size() > 3) return bad("too many ':'");
    std::string cname = parts.size() > 1 ? parts[1] : "lz4";
    if (cname != "lz4" && cname != "lz4hc" && cname != "blosclz" && cname != "zstd" && cname != "zlib" &&
        cname != "snappy")
      return bad("unknown blosc compressor '" + cname + "'");
    auto l = level(2, 0, 9, 5);
    if (!l) return bad("the level must be 0..9");
    json::object cfg{{"cname", cname},
                     {"clevel", *l},
                     {"shuffle", element_size > 1 ? "shuffle" : "noshuffle"},
                     {"typesize", element_size},
                     {"blocksize", 0}};
    return std::optional<zarr::codec_spec>(zarr::codec_spec{"blosc", std::move(cfg), true});
  }
  return bad("unknown codec '" + name + "'");
}

// One dimension of --select as typed: start:stop:step with parts omitted, or an index.
struct select_dim {
  std::optional<std::int64_t> start, stop;
  std::int64_t step = 1;
  bool single = false;
};

result<std::vector<select_dim>> parse_select(std::string_view text) {
  std::vector<select_dim> out;
  if (trim(text).empty()) return out;
  auto bad = [&](const std::string& why) {
    return fail(errc::invalid_argument, "--select '" + std::string(text) + "': " + why +
                                            " (per dimension start:stop[:step] with parts omitted, ':', or "
                                            "an index, e.g. 0:10,:,5)");
  };
  for (auto& raw : split(text, ',')) {
    const std::string part = trim(raw);
    if (part.empty()) return bad("an empty dimension");
    select_dim d;
    auto fields = split(part, ':');
    if (fields.size() > 3) return bad("'" + part + "' has more than two ':'");
    std::vector<std::optional<std::int64_t>> v;
    for (auto& f : fields) {
      const std::string t = trim(f);
      if (t.empty()) {
        v.push_back(std::nullopt);
        continue;
      }
      auto n = to_number<std::int64_t>(t);
      if (!n) return bad("'" + t + "' is not an integer");
      v.push_back(*n);
    }
    if (fields.size() == 1) {
      d.start = v[0];
      d.single = true;
    } else {
      d.start = v[0];
      d.stop = v[1];
      if (fields.size() == 3 && v[2]) {
        if (*v[2] <= 0) return bad("a step must be positive");
        d.step = *v[2];
      }
    }
    out.push_back(d);
  }
  return out;
}

// --select against the array's shape, as numpy indexes: negative positions
// count from the end, slice bounds are clamped, an index must be inside.
result<zarr::selection> resolve_select(const std::vector<select_dim>& dims,
                                       std::span<const std::uint64_t> shape) {
  if (dims.size() > shape.size())
    return fail(errc::invalid_argument, "--select has " + std::to_string(dims.size()) +
                                            " dimensions, the array has " + std::to_string(shape.size()));
  zarr::selection sel;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i >= dims.size()) {
      sel.push_back(zarr::slice::all());
      continue;
    }
    const auto n = static_cast<std::int64_t>(shape[i]);
    const select_dim& d = dims[i];
    if (d.single) {
      std::int64_t at = *d.start < 0 ? *d.start + n : *d.start;
      if (at < 0 || at >= n)
        return fail(errc::invalid_argument, "--select: index " + std::to_string(*d.start) +
                                                " is outside dimension " + std::to_string(i) + " of size " +
                                                std::to_string(n));
      sel.push_back(zarr::slice::at(static_cast<std::uint64_t>(at)));
      continue;
    }
    auto clamp = [&](std::optional<std::int64_t> v, std::int64_t dflt) {
      if (!v) return dflt;
      std::int64_t x = *v < 0 ? *v + n : *v;
      return std::clamp<std::int64_t>(x, 0, n);
    };
    const std::int64_t start = clamp(d.start, 0);
    const std::int64_t stop = std::max(start, clamp(d.stop, n));
    sel.push_back(zarr::slice::range(static_cast<std::uint64_t>(start), static_cast<std::uint64_t>(stop),
                                     static_cast<std::uint64_t>(d.step)));
  }
  return sel;
}

// Where a URL's node lives: the store (bucket + prefix, or a directory) and
// the node's path inside it.
struct node_url {
  bool remote = false;
  std::string bucket;
  std::string root;        // S3 prefix or local directory
  std::string path;        // the node, relative to root ("" = the root itself)
  bool hierarchy = false;  // root ends in ".zarr": parent groups are kept
  std::string shown;       // the URL as typed, without trailing '/'

  std::string name_of(std::string_view node) const {
    std::string base = remote ? "s3://" + bucket + (root.empty() ? "" : "/" + root) : root;
    return node.empty() ? base : base + "/" + std::string(node);
  }
};

result<node_url> parse_node_url(const std::string& url) {
  SLUICE_TRY(objects::location loc, objects::parse_location(url));
  node_url n;
  n.remote = loc.remote;
  std::string text = loc.remote ? loc.key : loc.path;
  n.bucket = loc.bucket;
  const bool absolute = !loc.remote && text.starts_with('/');
  while (text.size() > 1 && text.back() == '/') text.pop_back();
  if (loc.remote && text == "/") text.clear();
  std::vector<std::string> segments;
  if (!text.empty() && text != "/") segments = split(absolute ? text.substr(1) : text, '/');
  for (auto& s : segments)
    if (s.empty()) return fail(errc::invalid_argument, "'" + url + "' has an empty path segment");
  std::size_t cut = segments.size();
  for (std::size_t i = 0; i < segments.size(); ++i)
    if (segments[i].size() > 5 && segments[i].ends_with(".zarr")) {
      cut = i + 1;
      n.hierarchy = true;
      break;
    }
  auto join = [](auto first, auto last) {
    std::string out;
    for (auto it = first; it != last; ++it) out += (out.empty() ? "" : "/") + *it;
    return out;
  };
  n.root = join(segments.begin(), segments.begin() + static_cast<std::ptrdiff_t>(cut));
  n.path = join(segments.begin() + static_cast<std::ptrdiff_t>(cut), segments.end());
  if (absolute) n.root = "/" + n.root;
  if (!loc.remote && n.root.empty()) n.root = ".";
  n.shown = n.name_of(n.path);
  return n;
}

// The engine, the session for S3 and the store a node URL names.
struct opened_store {
  std::unique_ptr<engine> eng;
  std::optional<session> s;
  std::shared_ptr<store::store> st;
  engine& run() { return s ? *s->eng : *eng; }
};

result<opened_store> open_store(const global_options& g, const node_url& n, bool create) {
  opened_store o;
  if (n.remote) {
    SLUICE_TRY(o.s, open_session(g));
    SLUICE_TRY(o.st, bucket_store(*o.s, n.bucket, n.root));
    return o;
  }
  o.eng = std::make_unique<engine>(engine::options{1});
  store::file_options fo;
  fo.create_root = create;
  SLUICE_TRY(o.st, store::open_file_store(n.root, fo));
  return o;
}

std::string key_in(std::string_view node, std::string_view name) {
  return node.empty() ? std::string(name) : std::string(node) + "/" + std::string(name);
}

std::string list_text(std::span<const std::uint64_t> v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// ---- put ------------------------------------------------------------------------------------------

int array_put(const global_options& g, const array_options& o) {
  std::optional<std::vector<std::uint64_t>> chunks, shards;
  if (!o.chunks.empty()) {
    auto c = parse_shape_list("--chunks", o.chunks);
    if (!c) return usage(o, c.error().message);
    chunks = *c;
  }
  if (!o.shards.empty()) {
    auto s = parse_shape_list("--shards", o.shards);
    if (!s) return usage(o, s.error().message);
    shards = *s;
  }
  auto parsed_codec = parse_codec(o.codec, 1);  // syntax only; typesize is set below
  if (!parsed_codec) return usage(o, parsed_codec.error().message);
  json::object attributes;
  for (auto& a : o.attrs) {
    auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0) return usage(o, "--attr '" + a + "' is not KEY=JSON");
    boost::system::error_code ec;
    json::value v = json::parse(a.substr(eq + 1), ec);
    if (ec) return usage(o, "--attr '" + a + "': the value is not JSON (quote strings: KEY='\"text\"')");
    attributes[a.substr(0, eq)] = std::move(v);
  }
  auto url = parse_node_url(o.url);
  if (!url) return usage(o, url.error().message);

  auto npy_array = npy::read_file(o.file);
  if (!npy_array) return report("array put", npy_array.error());
  const auto& shape = npy_array->shape;
  const auto dtype = npy_array->dtype;
  const std::size_t rank = shape.size();
  if (!chunks) {
    chunks.emplace();
    for (auto d : shape) chunks->push_back(std::max<std::uint64_t>(d, 1));
  }
  if (chunks->size() != rank)
    return usage(o, "--chunks has " + std::to_string(chunks->size()) + " dimensions, " + o.file + " has " +
                        std::to_string(rank));
  if (shards) {
    if (shards->size() != rank)
      return usage(o, "--shards has " + std::to_string(shards->size()) + " dimensions, " + o.file + " has " +
                          std::to_string(rank));
    for (std::size_t i = 0; i < rank; ++i)
      if ((*shards)[i] % (*chunks)[i] != 0)
        return usage(o, "--shards " + list_text(*shards) + " is not a multiple of --chunks " +
                            list_text(*chunks) + " in dimension " + std::to_string(i));
  }
  std::optional<std::vector<std::optional<std::string>>> dims;
  if (!o.dims.empty()) {
    dims.emplace();
    for (auto& d : split(o.dims, ',')) dims->push_back(d);
    if (dims->size() != rank)
      return usage(o, "--dims names " + std::to_string(dims->size()) + " dimensions, " + o.file + " has " +
                          std::to_string(rank));
  }
  zarr::fill_value fill = zarr::fill_value::zero(dtype);
  if (o.fill_given) {
    std::string text = o.fill;
    if (text == "NaN" || text == "Infinity" || text == "-Infinity" || text.starts_with("0x"))
      text = "\"" + text + "\"";
    auto f = zarr::parse_fill_value(dtype, text, "--fill");
    if (!f) return usage(o, f.error().message);
    fill = *f;
  }
  auto compressor = parse_codec(o.codec, zarr::element_size(dtype));

  // The metadata: bytes (little-endian), the compressor, crc32c; inside sharding_indexed when sharded.
  const json::object little{{"endian", "little"}};
  std::vector<zarr::codec_spec> chain{{"bytes", little, true}};
  if (*compressor) chain.push_back(**compressor);
  if (o.crc32c) chain.push_back({"crc32c", {}, true});
  zarr::array_metadata m;
  m.shape = shape;
  m.dtype = dtype;
  m.fill = fill;
  m.dimension_names = dims;
  m.attributes = attributes;
  if (shards) {
    auto as_json = [](const std::vector<zarr::codec_spec>& specs) {
      json::array out;
      for (auto& c : specs) {
        json::object e{{"name", c.name}};
        if (!c.configuration.empty()) e["configuration"] = c.configuration;
        out.push_back(std::move(e));
      }
      return out;
    };
    json::array inner_shape;  // as int64, the kind zarr.json's reader gives integers
    for (auto c : *chunks) inner_shape.push_back(static_cast<std::int64_t>(c));
    const std::vector<zarr::codec_spec> index{{"bytes", little, true}, {"crc32c", {}, true}};
    json::object cfg{{"chunk_shape", inner_shape},
                     {"codecs", as_json(chain)},
                     {"index_codecs", as_json(index)},
                     {"index_location", "end"}};
    m.codecs = {{"sharding_indexed", std::move(cfg), true}};
    m.chunk_grid.chunk_shape = *shards;
  } else {
    m.codecs = chain;
    m.chunk_grid.chunk_shape = *chunks;
  }
  if (auto v = zarr::validate(m, "zarr.json"); !v) return usage(o, v.error().message);

  auto opened = open_store(g, *url, true);
  if (!opened) return report("array put", opened.error());
  auto& eng = opened->run();
  const std::string context = "array put " + url->shown;
  // array::create gives every parent group (within the .zarr root) its zarr.json.
  std::shared_ptr<store::store> st = opened->st;
  const std::string path = url->path;
  auto a = eng.run(zarr::array::create(st, path, m));
  if (!a) return report(context, a.error());
  const zarr::selection everything;
  auto w = eng.run(a->write(everything, npy_array->data, array_concurrency));
  if (!w) return report(context, w.error());
  if (!g.quiet)
    std::printf("wrote %s %s %s to %s\n", std::string(zarr::name_of(dtype)).c_str(), list_text(shape).c_str(),
                o.file.c_str(), url->shown.c_str());
  return 0;
}

// ---- get ------------------------------------------------------------------------------------------

int array_get(const global_options& g, const array_options& o) {
  auto dims = parse_select(o.select);
  if (!dims) return usage(o, dims.error().message);
  auto url = parse_node_url(o.url);
  if (!url) return usage(o, url.error().message);
  auto opened = open_store(g, *url, false);
  if (!opened) return report("array get", opened.error());
  auto& eng = opened->run();
  const std::string context = "array get " + url->shown;
  std::shared_ptr<store::store> st = opened->st;
  const std::string path = url->path;
  auto a = eng.run(zarr::array::open(st, path));
  if (!a) return report(context, a.error());
  auto sel = resolve_select(*dims, a->metadata().shape);
  if (!sel) return usage(o, sel.error().message);
  auto shape = a->shape_of(*sel);
  if (!shape) return usage(o, "--select: " + shape.error().message);
  std::uint64_t bytes = zarr::element_size(a->metadata().dtype);
  for (auto d : *shape) bytes *= d;
  std::vector<std::byte> data(bytes);
  auto r = eng.run(a->read(*sel, data, array_concurrency));
  if (!r) return report(context, r.error());
  auto w = npy::write_file(o.output, a->metadata().dtype, *shape, data);
  if (!w) return report(context, w.error());
  if (!g.quiet)
    std::printf("read %s %s from %s to %s\n", std::string(zarr::name_of(a->metadata().dtype)).c_str(),
                list_text(*shape).c_str(), url->shown.c_str(), o.output.c_str());
  return 0;
}

// ---- info -----------------------------------------------------------------------------------------

const zarr::codec_spec* sharding_of(const zarr::array_metadata& m) {
  for (auto& c : m.codecs)
    if (c.name == "sharding_indexed") return &c;
  return nullptr;
}

std::string codec_text(const json::value& entry);

std::string codecs_text(const json::value* list) {
  std::string s;
  if (!list || !list->is_array()) return s;
  for (auto& e : list->as_array()) s += (s.empty() ? "" : " ") + codec_text(e);
  return s;
}

// "zstd(checksum=false, level=3)", "sharding_indexed(chunks [2, 2]: bytes(...) zstd(...); index at end:
// ...)".
std::string codec_text(const json::value& entry) {
  if (entry.is_string()) return std::string(entry.as_string());
  if (!entry.is_object()) return json::serialize(entry);
  const auto& obj = entry.as_object();
  std::string name =
      obj.contains("name") && obj.at("name").is_string() ? std::string(obj.at("name").as_string()) : "?";
  const json::object* cfg = obj.contains("configuration") ? obj.at("configuration").if_object() : nullptr;
  if (!cfg || cfg->empty()) return name;
  if (name == "sharding_indexed") {
    std::string loc = cfg->contains("index_location") && cfg->at("index_location").is_string()
                          ? std::string(cfg->at("index_location").as_string())
                          : "end";
    return name + "(chunks " +
           (cfg->contains("chunk_shape") ? json::serialize(cfg->at("chunk_shape")) : "?") + ": " +
           codecs_text(cfg->if_contains("codecs")) + "; index at " + loc + ": " +
           codecs_text(cfg->if_contains("index_codecs")) + ")";
  }
  std::string s = name + "(";
  bool first = true;
  for (auto& kv : *cfg) {
    const json::value& v = kv.value();
    s += (first ? "" : ", ") + std::string(kv.key()) + "=" +
         (v.is_string() ? std::string(v.as_string()) : json::serialize(v));
    first = false;
  }
  return s + ")";
}

std::vector<std::uint64_t> to_shape(const json::value* v) {
  std::vector<std::uint64_t> out;
  if (v && v->is_array())
    for (auto& e : v->as_array())
      out.push_back(e.is_uint64() ? e.as_uint64() : e.is_int64() ? std::uint64_t(e.as_int64()) : 0);
  return out;
}

// The summary of an array: what info prints and --json writes.
json::object array_summary(const zarr::array_metadata& m, const std::string& name) {
  json::object doc = json::parse(*zarr::write_metadata(m)).as_object();
  json::object out;
  out["url"] = name;
  out["node_type"] = "array";
  out["shape"] = doc["shape"];
  out["data_type"] = doc["data_type"];
  const zarr::codec_spec* shard = sharding_of(m);
  json::array grid(m.chunk_grid.chunk_shape.begin(), m.chunk_grid.chunk_shape.end());
  if (shard && shard->configuration.contains("chunk_shape")) {
    out["chunk_shape"] = shard->configuration.at("chunk_shape");
    out["shard_shape"] = grid;
  } else {
    out["chunk_shape"] = grid;
    out["shard_shape"] = nullptr;
  }
  out["codecs"] = doc["codecs"];
  out["dimension_names"] = doc.contains("dimension_names") ? doc["dimension_names"] : json::value(nullptr);
  out["fill_value"] = doc["fill_value"];
  out["attributes"] = doc["attributes"];
  return out;
}

void print_summary(const json::object& n) {
  std::printf("%s %s\n", n.at("node_type").as_string().c_str(), n.at("url").as_string().c_str());
  auto line = [](const char* label, const std::string& value) {
    std::printf("  %-12s %s\n", label, value.c_str());
  };
  if (n.at("node_type").as_string() == "array") {
    line("shape", list_text(to_shape(n.if_contains("shape"))));
    line("data type", std::string(n.at("data_type").as_string()));
    line("chunk shape", list_text(to_shape(n.if_contains("chunk_shape"))));
    if (!n.at("shard_shape").is_null())
      line("shard shape", list_text(to_shape(n.if_contains("shard_shape"))));
    line("codecs", codecs_text(n.if_contains("codecs")));
    if (!n.at("dimension_names").is_null()) line("dimensions", json::serialize(n.at("dimension_names")));
    line("fill value", json::serialize(n.at("fill_value")));
  }
  if (auto* reason = n.if_contains("reason")) line("unsupported", std::string(reason->as_string()));
  if (auto* c = n.if_contains("consolidated"); c && c->is_bool() && c->as_bool())
    line("metadata", "consolidated (the hierarchy opens with one read)");
  line("attributes", json::serialize(n.at("attributes")));
}

// The node at `path` (read from its zarr.json), and for a group every node
// below it (zarr::group::nodes: its consolidated metadata when it has some,
// so the whole hierarchy costs one read), nested, in path order.
result<json::object> describe_node(engine& eng, const std::shared_ptr<store::store>& st, const node_url& url,
                                   const std::string& path) {
  const std::string key = key_in(path, "zarr.json");
  SLUICE_TRY(store::read_result got, eng.run(st->read(key)));
  if (got.state != store::read_state::value)
    return fail(errc::not_found, st->describe(key) + ": no Zarr array or group here (no zarr.json)");
  const std::string_view text(reinterpret_cast<const char*>(got.bytes.data()), got.bytes.size());
  SLUICE_TRY(zarr::node_metadata node, zarr::parse_metadata(text, st->describe(key)));
  if (auto* m = std::get_if<zarr::array_metadata>(&node)) return array_summary(*m, url.name_of(path));
  SLUICE_TRY(zarr::group g, eng.run(zarr::group::open(st, path)));
  SLUICE_TRY(std::vector<zarr::node> below, eng.run(g.nodes()));
  auto summary = [&](const std::string& at, const zarr::node_metadata& n) {
    if (auto* m = std::get_if<zarr::array_metadata>(&n)) return array_summary(*m, url.name_of(at));
    json::object out;
    out["url"] = url.name_of(at);
    if (auto* grp = std::get_if<zarr::group_metadata>(&n)) {
      out["node_type"] = "group";
      out["attributes"] = grp->attributes;
      out["members"] = json::array();
    } else {
      const auto& u = std::get<zarr::unsupported_node>(n);
      out["node_type"] = "unsupported";
      out["reason"] = u.reason;
      out["attributes"] = u.document.contains("attributes") ? u.document.at("attributes") : json::object();
    }
    return out;
  };
  json::object root = summary(path, node);
  root["consolidated"] = g.consolidated();
  // Each node under its parent, in path order.
  std::function<json::array(const std::string&)> members_of = [&](const std::string& parent) {
    json::array members;
    for (const auto& n : below) {
      const auto slash = n.path.rfind('/');
      if ((slash == std::string::npos ? std::string() : n.path.substr(0, slash)) != parent) continue;
      json::object member = summary(key_in(path, n.path), n.metadata);
      if (std::holds_alternative<zarr::group_metadata>(n.metadata)) member["members"] = members_of(n.path);
      members.push_back(std::move(member));
    }
    return members;
  };
  root["members"] = members_of("");
  return root;
}

void print_tree(const json::object& n) {
  print_summary(n);
  if (auto* members = n.if_contains("members"))
    for (auto& m : members->as_array()) print_tree(m.as_object());
}

int array_info(const global_options& g, const array_options& o) {
  auto url = parse_node_url(o.url);
  if (!url) return usage(o, url.error().message);
  auto opened = open_store(g, *url, false);
  if (!opened) return report("array info", opened.error());
  auto described = describe_node(opened->run(), opened->st, *url, url->path);
  if (!described) return report("array info " + url->shown, described.error());
  if (o.json)
    std::printf("%s\n", json::serialize(*described).c_str());
  else
    print_tree(*described);
  return 0;
}

int array_consolidate(const global_options& g, const array_options& o) {
  auto url = parse_node_url(o.url);
  if (!url) return usage(o, url.error().message);
  auto opened = open_store(g, *url, false);
  if (!opened) return report("array consolidate", opened.error());
  const std::string context = "array consolidate " + url->shown;
  auto& eng = opened->run();
  auto grp = eng.run(zarr::group::open(opened->st, url->path));
  if (!grp) return report(context, grp.error());
  auto done = eng.run(grp->consolidate());
  if (!done) return report(context, done.error());
  if (!g.quiet)
    std::printf("consolidated %zu nodes into %s\n", grp->metadata().consolidated->nodes.size(),
                url->shown.c_str());
  return 0;
}

}  // namespace

int cmd_array(const global_options& g, const array_options& o) {
  if (o.verb == "put") return array_put(g, o);
  if (o.verb == "get") return array_get(g, o);
  if (o.verb == "consolidate") return array_consolidate(g, o);
  return array_info(g, o);
}

}  // namespace sluice::cli
