// zarr.json for arrays and groups: simdjson's DOM in, the checks, Boost.JSON out.
//
// Reading goes field by field over the top-level object (the fields that
// depend on others, fill_value on data_type say, once all are found); the
// extension points (chunk grid, key encoding, codecs, storage transformers)
// are read from their Boost.JSON form, because the sharding codec's nested
// codec lists live inside a configuration object that the model keeps as
// Boost.JSON anyway. validate() holds every check that spans fields, so a
// model built by a caller is held to the same rules as a parsed document.
#include <sluice/zarr/metadata.hpp>

#include "zarr/json_util.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <map>

namespace sluice::zarr {
namespace {

using detail::in_quotes;
using detail::invalid;
using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr std::array<std::string_view, 11> array_fields = {
    "zarr_format",        "node_type",  "shape",  "data_type",  "chunk_grid",
    "chunk_key_encoding", "fill_value", "codecs", "attributes", "storage_transformers",
    "dimension_names"};
constexpr std::array<std::string_view, 4> group_fields = {"zarr_format", "node_type", "attributes",
                                                          "consolidated_metadata"};

std::string index_field(std::string_view field, std::size_t i) {
  return std::string(field) + "[" + std::to_string(i) + "]";
}

std::string known_data_types() {
  std::string out;
  for (auto t : all_data_types) {
    if (!out.empty()) out += ", ";
    out += name_of(t);
  }
  return out;
}

// --- extension points (Boost.JSON form) ------------------------------------------------------------

// An extension is a short-hand name or {"name", "configuration"?, "must_understand"?}.
result<codec_spec> read_extension(const boost::json::value& v, std::string_view path,
                                  const std::string& field) {
  codec_spec out;
  if (const auto* s = v.if_string()) {
    out.name = std::string(*s);
  } else if (const auto* o = v.if_object()) {
    for (const auto& kv : *o) {
      const std::string_view key = kv.key();
      if (key == "name") {
        const auto* name = kv.value().if_string();
        if (!name) return invalid(path, field + ".name", "must be a string");
        out.name = std::string(*name);
      } else if (key == "configuration") {
        const auto* cfg = kv.value().if_object();
        if (!cfg) return invalid(path, field + ".configuration", "must be an object");
        out.configuration = *cfg;
      } else if (key == "must_understand") {
        const auto* b = kv.value().if_bool();
        if (!b) return invalid(path, field + ".must_understand", "must be true or false");
        out.must_understand = *b;
      } else {
        return invalid(path, field,
                       "unknown member " + in_quotes(key) +
                           " (an extension object has name, configuration and must_understand)");
      }
    }
    if (!o->contains("name")) return invalid(path, field, "has no name");
  } else {
    return invalid(path, field, "must be a name or an object with a name");
  }
  if (out.name.empty()) return invalid(path, field + ".name", "must not be empty");
  return out;
}

// A configuration's members must all be known to sluice (`allowed`).
result<void> only_members(const boost::json::object& cfg, std::initializer_list<std::string_view> allowed,
                          std::string_view path, const std::string& field, std::string_view what) {
  for (const auto& kv : cfg) {
    if (std::find(allowed.begin(), allowed.end(), kv.key()) == allowed.end())
      return invalid(path, field,
                     "unknown member " + in_quotes(kv.key()) + " in " + in_quotes(what) + "'s configuration");
  }
  return {};
}

// An array of integers; each at least `min`.
result<std::vector<std::uint64_t>> read_uints(const boost::json::value& v, std::uint64_t min,
                                              std::string_view path, const std::string& field) {
  const auto* a = v.if_array();
  if (!a) return invalid(path, field, "must be an array of integers");
  std::vector<std::uint64_t> out;
  out.reserve(a->size());
  for (std::size_t i = 0; i < a->size(); ++i) {
    const auto& item = (*a)[i];
    std::uint64_t x;
    if (const auto* u = item.if_uint64()) {
      x = *u;
    } else if (const auto* s = item.if_int64(); s && *s >= 0) {
      x = static_cast<std::uint64_t>(*s);
    } else {
      return invalid(path, index_field(field, i), "must be a non-negative integer");
    }
    if (x < min)
      return invalid(path, index_field(field, i),
                     "is " + std::to_string(x) + "; it must be at least " + std::to_string(min));
    out.push_back(x);
  }
  return out;
}

result<std::vector<std::uint64_t>> read_uints(element e, std::uint64_t min, std::string_view path,
                                              const std::string& field) {
  if (!e.is_array()) return invalid(path, field, "must be an array of integers");
  SLUICE_TRY(auto v, detail::to_boost(e, path, field));
  return read_uints(v, min, path, field);
}

result<regular_chunk_grid> read_chunk_grid(element e, std::string_view path) {
  SLUICE_TRY(auto v, detail::to_boost(e, path, "chunk_grid"));
  SLUICE_TRY(auto ext, read_extension(v, path, "chunk_grid"));
  if (ext.name != "regular")
    return detail::unsupported(
        path, "chunk_grid",
        "chunk grid " + in_quotes(ext.name) + " is not supported (sluice reads 'regular')");
  SLUICE_TRY_VOID(
      only_members(ext.configuration, {"chunk_shape"}, path, "chunk_grid.configuration", "regular"));
  const auto* shape = ext.configuration.if_contains("chunk_shape");
  if (!shape) return invalid(path, "chunk_grid.configuration", "has no chunk_shape");
  regular_chunk_grid grid;
  SLUICE_TRY(grid.chunk_shape, read_uints(*shape, 1, path, "chunk_grid.configuration.chunk_shape"));
  return grid;
}

result<chunk_key_encoding> read_chunk_key_encoding(element e, std::string_view path) {
  SLUICE_TRY(auto v, detail::to_boost(e, path, "chunk_key_encoding"));
  SLUICE_TRY(auto ext, read_extension(v, path, "chunk_key_encoding"));
  chunk_key_encoding out;
  if (ext.name == "default") {
    out = {chunk_key_kind::default_, '/'};
  } else if (ext.name == "v2") {
    out = {chunk_key_kind::v2, '.'};
  } else {
    return detail::unsupported(
        path, "chunk_key_encoding",
        "chunk key encoding " + in_quotes(ext.name) + " is not supported (sluice reads 'default' and 'v2')");
  }
  SLUICE_TRY_VOID(
      only_members(ext.configuration, {"separator"}, path, "chunk_key_encoding.configuration", ext.name));
  if (const auto* sep = ext.configuration.if_contains("separator")) {
    const auto* s = sep->if_string();
    if (!s || (*s != "/" && *s != "."))
      return invalid(path, "chunk_key_encoding.configuration.separator", "must be \"/\" or \".\"");
    out.separator = (*s)[0];
  }
  return out;
}

result<std::vector<codec_spec>> read_codec_list(const boost::json::value& v, std::string_view path,
                                                const std::string& field) {
  const auto* a = v.if_array();
  if (!a) return invalid(path, field, "must be an array of codecs");
  std::vector<codec_spec> out;
  out.reserve(a->size());
  for (std::size_t i = 0; i < a->size(); ++i) {
    SLUICE_TRY(auto c, read_extension((*a)[i], path, index_field(field, i)));
    out.push_back(std::move(c));
  }
  return out;
}

result<data_type> read_data_type(element e, std::string_view path) {
  std::string name;
  if (e.is_string()) {
    name = std::string(e.get_string().value_unsafe());
  } else {
    SLUICE_TRY(auto v, detail::to_boost(e, path, "data_type"));
    SLUICE_TRY(auto ext, read_extension(v, path, "data_type"));
    name = ext.name;
  }
  if (auto t = data_type_named(name)) return *t;
  return detail::unsupported(
      path, "data_type",
      "data type " + in_quotes(name) + " is not supported (sluice reads " + known_data_types() + ")");
}

result<std::optional<std::vector<std::optional<std::string>>>> read_dimension_names(element e,
                                                                                    std::string_view path) {
  if (e.is_null()) return std::nullopt;
  simdjson::dom::array a;
  if (e.get_array().get(a))
    return invalid(path, "dimension_names", "must be null or an array of strings and nulls");
  std::vector<std::optional<std::string>> names;
  std::size_t i = 0;
  for (element item : a) {
    if (item.is_null()) {
      names.emplace_back();
    } else if (item.is_string()) {
      names.emplace_back(std::string(item.get_string().value_unsafe()));
    } else {
      return invalid(path, index_field("dimension_names", i), "must be a string or null");
    }
    ++i;
  }
  return names;
}

result<boost::json::object> read_attributes(element e, std::string_view path) {
  if (!e.is_object()) return invalid(path, "attributes", "must be an object");
  SLUICE_TRY(auto v, detail::to_boost(e, path, "attributes"));
  return std::move(v.as_object());
}

// An unknown top-level field is kept only when it says it may be ignored.
result<void> read_unknown_field(std::string_view key, element e, std::string_view path,
                                boost::json::object& extensions) {
  SLUICE_TRY(auto v, detail::to_boost(e, path, key));
  const auto* o = v.if_object();
  const boost::json::value* mu = o ? o->if_contains("must_understand") : nullptr;
  if (!mu || !mu->is_bool() || mu->get_bool())
    return detail::unsupported(path, in_quotes(key),
                               "unknown field; sluice opens no array or group with a field it does not know "
                               "unless the field is an object with \"must_understand\": false");
  extensions.emplace(key, std::move(v));
  return {};
}

// --- the codec chain -------------------------------------------------------------------------------

std::string known_codecs() {
  return "bytes, sharding_indexed, transpose, zstd, gzip, blosc, crc32c";
}

result<void> check_codecs(const std::vector<codec_spec>& codecs, data_type dtype,
                          std::vector<std::uint64_t> shape, bool shard_index, std::string_view path,
                          const std::string& field);

result<void> check_bytes_codec(const codec_spec& c, data_type dtype, std::string_view path,
                               const std::string& f) {
  SLUICE_TRY_VOID(only_members(c.configuration, {"endian"}, path, f + ".configuration", "bytes"));
  if (const auto* endian = c.configuration.if_contains("endian")) {
    const auto* s = endian->if_string();
    if (!s || (*s != "little" && *s != "big"))
      return invalid(path, f + ".configuration.endian", "must be \"little\" or \"big\"");
  } else if (element_size(dtype) > 1) {
    return invalid(path, f,
                   "codec 'bytes' needs configuration.endian (\"little\" or \"big\") for " +
                       std::string(name_of(dtype)) + ", whose elements have " +
                       std::to_string(element_size(dtype)) + " bytes");
  }
  return {};
}

result<void> check_transpose(const codec_spec& c, std::vector<std::uint64_t>& shape, std::string_view path,
                             const std::string& f) {
  SLUICE_TRY_VOID(only_members(c.configuration, {"order"}, path, f + ".configuration", "transpose"));
  const auto* order = c.configuration.if_contains("order");
  if (!order) return invalid(path, f + ".configuration", "codec 'transpose' needs an order");
  SLUICE_TRY(auto perm, read_uints(*order, 0, path, f + ".configuration.order"));
  std::vector<bool> seen(shape.size());
  if (perm.size() != shape.size())
    return invalid(path, f + ".configuration.order",
                   "has " + std::to_string(perm.size()) + " entries for a chunk of rank " +
                       std::to_string(shape.size()));
  for (auto p : perm) {
    if (p >= shape.size() || seen[p])
      return invalid(path, f + ".configuration.order",
                     "must be a permutation of 0.." + std::to_string(shape.size()) + " (exclusive)");
    seen[p] = true;
  }
  std::vector<std::uint64_t> permuted;
  for (auto p : perm) permuted.push_back(shape[p]);
  shape = std::move(permuted);
  return {};
}

result<void> check_sharding(const codec_spec& c, data_type dtype,
                            const std::vector<std::uint64_t>& shard_shape, std::string_view path,
                            const std::string& f) {
  const std::string cf = f + ".configuration";
  SLUICE_TRY_VOID(only_members(c.configuration, {"chunk_shape", "codecs", "index_codecs", "index_location"},
                               path, cf, "sharding_indexed"));
  const auto* chunk = c.configuration.if_contains("chunk_shape");
  if (!chunk) return invalid(path, cf, "codec 'sharding_indexed' needs a chunk_shape");
  SLUICE_TRY(auto inner, read_uints(*chunk, 1, path, cf + ".chunk_shape"));
  if (inner.size() != shard_shape.size())
    return invalid(path, cf + ".chunk_shape",
                   "has " + std::to_string(inner.size()) + " entries for shards of rank " +
                       std::to_string(shard_shape.size()));
  std::vector<std::uint64_t> per_shard;
  for (std::size_t i = 0; i < inner.size(); ++i) {
    if (shard_shape[i] % inner[i] != 0)
      return invalid(path, index_field(cf + ".chunk_shape", i),
                     "inner chunks of " + std::to_string(inner[i]) + " do not divide shards of " +
                         std::to_string(shard_shape[i]));
    per_shard.push_back(shard_shape[i] / inner[i]);
  }
  if (const auto* where = c.configuration.if_contains("index_location")) {
    const auto* s = where->if_string();
    if (!s || (*s != "start" && *s != "end"))
      return invalid(path, cf + ".index_location", "must be \"start\" or \"end\"");
  }
  const auto* codecs = c.configuration.if_contains("codecs");
  if (!codecs) return invalid(path, cf, "codec 'sharding_indexed' needs codecs");
  SLUICE_TRY(auto inner_codecs, read_codec_list(*codecs, path, cf + ".codecs"));
  SLUICE_TRY_VOID(check_codecs(inner_codecs, dtype, inner, false, path, cf + ".codecs"));
  const auto* index_codecs = c.configuration.if_contains("index_codecs");
  if (!index_codecs) return invalid(path, cf, "codec 'sharding_indexed' needs index_codecs");
  SLUICE_TRY(auto index_list, read_codec_list(*index_codecs, path, cf + ".index_codecs"));
  per_shard.push_back(2);  // the index: (offset, nbytes) per inner chunk, uint64
  return check_codecs(index_list, data_type::uint64, per_shard, true, path, cf + ".index_codecs");
}

// Array -> array codecs, exactly one array -> bytes codec, bytes -> bytes
// codecs, in that order; unknown codecs refused unless marked
// must_understand: false (then skipped: their kind is unknown). `shape` is the
// chunk shape the first codec sees. A shard index must stay fixed-size: no
// compressor among its codecs.
result<void> check_codecs(const std::vector<codec_spec>& codecs, data_type dtype,
                          std::vector<std::uint64_t> shape, bool shard_index, std::string_view path,
                          const std::string& field) {
  std::optional<std::size_t> array_to_bytes;
  for (std::size_t i = 0; i < codecs.size(); ++i) {
    const codec_spec& c = codecs[i];
    const std::string f = index_field(field, i);
    const auto kind = known_codec_kind(c.name);
    if (!kind) {
      if (!c.must_understand) continue;
      return detail::unsupported(
          path, f,
          "codec " + in_quotes(c.name) + " is not supported (sluice knows " + known_codecs() +
              "; an unknown codec is skipped only when marked \"must_understand\": false)");
    }
    if (*kind == codec_kind::array_to_array && array_to_bytes)
      return invalid(path, f,
                     "codec " + in_quotes(c.name) +
                         " (array -> array) comes after the array -> bytes codec " +
                         in_quotes(codecs[*array_to_bytes].name));
    if (*kind == codec_kind::array_to_bytes && array_to_bytes)
      return invalid(path, f,
                     "a second array -> bytes codec " + in_quotes(c.name) + "; " +
                         index_field(field, *array_to_bytes) + " " + in_quotes(codecs[*array_to_bytes].name) +
                         " is one already");
    if (*kind == codec_kind::bytes_to_bytes && !array_to_bytes)
      return invalid(
          path, f, "codec " + in_quotes(c.name) + " (bytes -> bytes) comes before any array -> bytes codec");
    if (shard_index && *kind == codec_kind::bytes_to_bytes && c.name != "crc32c")
      return invalid(path, f,
                     "codec " + in_quotes(c.name) +
                         " would make the shard index variable-sized; index codecs must be fixed-size");
    if (c.name == "bytes") SLUICE_TRY_VOID(check_bytes_codec(c, dtype, path, f));
    if (c.name == "transpose") SLUICE_TRY_VOID(check_transpose(c, shape, path, f));
    if (c.name == "sharding_indexed") SLUICE_TRY_VOID(check_sharding(c, dtype, shape, path, f));
    if (*kind == codec_kind::array_to_bytes) array_to_bytes = i;
  }
  if (!array_to_bytes)
    return invalid(path, field, "has no array -> bytes codec (sluice knows bytes and sharding_indexed)");
  return {};
}

// --- checks of a model -----------------------------------------------------------------------------

// The product of `dims` times `element`, or nullopt when it overflows uint64.
std::optional<std::uint64_t> checked_bytes(const std::vector<std::uint64_t>& dims, std::uint64_t element) {
  // A zero anywhere makes the product 0, whatever came before it.
  if (std::find(dims.begin(), dims.end(), std::uint64_t(0)) != dims.end()) return 0;
  std::uint64_t n = element;
  for (auto d : dims) {
    if (n > std::numeric_limits<std::uint64_t>::max() / d) return std::nullopt;
    n *= d;
  }
  return n;
}

result<void> check_extensions(const boost::json::object& extensions, std::span<const std::string_view> known,
                              std::string_view path) {
  for (const auto& kv : extensions) {
    if (std::find(known.begin(), known.end(), kv.key()) != known.end())
      return invalid(path, in_quotes(kv.key()), "a known field cannot be kept as an extension");
    const auto* o = kv.value().if_object();
    const boost::json::value* mu = o ? o->if_contains("must_understand") : nullptr;
    if (!mu || !mu->is_bool() || mu->get_bool())
      return detail::unsupported(
          path, in_quotes(kv.key()),
          "unknown field; an extension field must be an object with \"must_understand\": "
          "false");
  }
  return {};
}

// Consolidated paths become store key prefixes: each must stay below the group.
result<void> check_node_path(std::string_view p, std::string_view path) {
  const std::string field = "consolidated_metadata.metadata[" + in_quotes(p) + "]";
  if (p.empty()) return invalid(path, field, "a node path must not be empty");
  std::size_t start = 0;
  while (true) {
    const std::size_t end = p.find('/', start);
    const std::string_view segment = p.substr(start, end == std::string_view::npos ? end : end - start);
    if (segment.empty() || segment == "." || segment == "..")
      return invalid(path, field,
                     "a node path is relative and '/'-separated, without empty, '.' or '..' segments");
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return {};
}

// --- parsing ---------------------------------------------------------------------------------------

result<node_metadata> parse_node(element root, std::string_view path);

result<consolidated_metadata> read_consolidated(element e, std::string_view path) {
  if (!e.is_object()) return invalid(path, "consolidated_metadata", "must be null or an object");
  std::optional<element> metadata;
  bool kind_seen = false;
  for (auto member : detail::object_of(e)) {
    const std::string_view key = member.key;
    if (key == "kind") {
      if (!member.value.is_string()) return invalid(path, "consolidated_metadata.kind", "must be a string");
      const std::string_view kind = member.value.get_string().value_unsafe();
      if (kind != "inline")
        return detail::unsupported(path, "consolidated_metadata.kind",
                                   "kind " + in_quotes(kind) + " is not supported (sluice reads 'inline')");
      kind_seen = true;
    } else if (key == "must_understand") {
      if (!member.value.is_bool())
        return invalid(path, "consolidated_metadata.must_understand", "must be true or false");
    } else if (key == "metadata") {
      metadata = member.value;
    } else {
      return invalid(
          path, "consolidated_metadata",
          "unknown member " + in_quotes(key) + " (zarr-python writes kind, must_understand and metadata)");
    }
  }
  if (!kind_seen) return invalid(path, "consolidated_metadata", "has no kind");
  if (!metadata) return invalid(path, "consolidated_metadata", "has no metadata");
  if (!metadata->is_object())
    return invalid(path, "consolidated_metadata.metadata",
                   "must be an object of node path -> metadata document");
  consolidated_metadata out;
  for (auto member : detail::object_of(*metadata)) {
    const std::string_view node_path = member.key;
    SLUICE_TRY_VOID(check_node_path(node_path, path));
    const std::string inner_path =
        std::string(path) + ": consolidated_metadata.metadata[" + in_quotes(node_path) + "]";
    auto node = parse_node(member.value, inner_path);
    if (!node) {
      if (node.error().code != make_error_code(errc::unsupported)) return node.error();
      SLUICE_TRY(auto doc, detail::to_boost(member.value, inner_path, ""));
      out.nodes.push_back(
          {std::string(node_path), unsupported_node{std::move(doc.as_object()), node.error().message}});
    } else {
      out.nodes.push_back({std::string(node_path), std::move(*node)});
    }
  }
  std::sort(out.nodes.begin(), out.nodes.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  for (std::size_t i = 1; i < out.nodes.size(); ++i)
    if (out.nodes[i].path == out.nodes[i - 1].path)
      return invalid(path, "consolidated_metadata.metadata",
                     "the node path " + in_quotes(out.nodes[i].path) + " appears twice");
  return out;
}

// The top-level members by name; a name seen twice is refused.
struct members {
  std::map<std::string_view, element> all;

  std::optional<element> get(std::string_view key) const {
    if (auto it = all.find(key); it != all.end()) return it->second;
    return std::nullopt;
  }
};

result<members> collect(element root, std::string_view path) {
  if (!root.is_object()) return invalid(path, "", "a metadata document must be a JSON object");
  members out;
  for (auto member : detail::object_of(root)) {
    if (!out.all.emplace(member.key, member.value).second)
      return invalid(path, in_quotes(member.key), "the field appears twice");
  }
  return out;
}

result<array_metadata> parse_array(const members& doc, std::string_view path) {
  array_metadata m;
  const auto require = [&](std::string_view key) -> result<element> {
    if (auto e = doc.get(key)) return *e;
    return invalid(path, key, "missing (an array's zarr.json needs it)");
  };
  SLUICE_TRY(auto shape, require("shape"));
  SLUICE_TRY(m.shape, read_uints(shape, 0, path, "shape"));
  SLUICE_TRY(auto dtype, require("data_type"));
  SLUICE_TRY(m.dtype, read_data_type(dtype, path));
  SLUICE_TRY(auto grid, require("chunk_grid"));
  SLUICE_TRY(m.chunk_grid, read_chunk_grid(grid, path));
  SLUICE_TRY(auto key, require("chunk_key_encoding"));
  SLUICE_TRY(m.chunk_key, read_chunk_key_encoding(key, path));
  SLUICE_TRY(auto fill, require("fill_value"));
  SLUICE_TRY(m.fill, detail::fill_from_json(m.dtype, fill, path, "fill_value"));
  SLUICE_TRY(auto codecs, require("codecs"));
  SLUICE_TRY(auto codecs_json, detail::to_boost(codecs, path, "codecs"));
  SLUICE_TRY(m.codecs, read_codec_list(codecs_json, path, "codecs"));
  if (auto names = doc.get("dimension_names")) {
    SLUICE_TRY(m.dimension_names, read_dimension_names(*names, path));
  }
  if (auto attrs = doc.get("attributes")) {
    SLUICE_TRY(m.attributes, read_attributes(*attrs, path));
  }
  if (auto st = doc.get("storage_transformers")) {
    SLUICE_TRY(auto st_json, detail::to_boost(*st, path, "storage_transformers"));
    const auto* list = st_json.if_array();
    if (!list) return invalid(path, "storage_transformers", "must be an array");
    for (std::size_t i = 0; i < list->size(); ++i) {
      SLUICE_TRY(auto t, read_extension((*list)[i], path, index_field("storage_transformers", i)));
      if (t.must_understand)
        return detail::unsupported(
            path, index_field("storage_transformers", i),
            "storage transformer " + in_quotes(t.name) +
                " is not supported (sluice knows none; one is skipped only when marked "
                "\"must_understand\": false)");
      m.storage_transformers.push_back(std::move(t));
    }
  }
  for (const auto& [k, v] : doc.all)
    if (std::find(array_fields.begin(), array_fields.end(), k) == array_fields.end())
      SLUICE_TRY_VOID(read_unknown_field(k, v, path, m.extensions));
  SLUICE_TRY_VOID(validate(m, path));
  return m;
}

result<group_metadata> parse_group(const members& doc, std::string_view path) {
  group_metadata m;
  if (auto attrs = doc.get("attributes")) {
    SLUICE_TRY(m.attributes, read_attributes(*attrs, path));
  }
  if (auto cm = doc.get("consolidated_metadata"); cm && !cm->is_null()) {
    SLUICE_TRY(m.consolidated, read_consolidated(*cm, path));
  }
  for (const auto& [k, v] : doc.all)
    if (std::find(group_fields.begin(), group_fields.end(), k) == group_fields.end())
      SLUICE_TRY_VOID(read_unknown_field(k, v, path, m.extensions));
  SLUICE_TRY_VOID(validate(m, path));
  return m;
}

result<node_metadata> parse_node(element root, std::string_view path) {
  SLUICE_TRY(auto doc, collect(root, path));
  const auto format = doc.get("zarr_format");
  if (!format) return invalid(path, "zarr_format", "missing (a Zarr v3 zarr.json has \"zarr_format\": 3)");
  if (!format->is_int64() && !format->is_uint64()) return invalid(path, "zarr_format", "must be an integer");
  if (!format->is_int64() || format->get_int64().value_unsafe() != 3)
    return detail::unsupported(
        path, "zarr_format",
        "is " + std::string(simdjson::minify(*format)) + "; sluice reads Zarr v3 (zarr_format 3) only");
  const auto node_type = doc.get("node_type");
  if (!node_type) return invalid(path, "node_type", "missing (\"array\" or \"group\")");
  if (!node_type->is_string()) return invalid(path, "node_type", "must be \"array\" or \"group\"");
  const std::string_view type = node_type->get_string().value_unsafe();
  if (type == "array") {
    SLUICE_TRY(auto m, parse_array(doc, path));
    return node_metadata(std::move(m));
  }
  if (type == "group") {
    SLUICE_TRY(auto m, parse_group(doc, path));
    return node_metadata(std::move(m));
  }
  return invalid(path, "node_type", "is " + in_quotes(type) + "; it must be \"array\" or \"group\"");
}

// --- writing ---------------------------------------------------------------------------------------

boost::json::object codec_json(const codec_spec& c) {
  boost::json::object o;
  o["name"] = c.name;
  if (!c.configuration.empty()) o["configuration"] = detail::sorted(c.configuration);
  if (!c.must_understand) o["must_understand"] = false;
  return o;
}

boost::json::array uint_array(const std::vector<std::uint64_t>& v) {
  boost::json::array a;
  for (auto x : v) a.emplace_back(x);
  return a;
}

void append_extensions(boost::json::object& o, const boost::json::object& extensions) {
  const auto ext = detail::sorted(extensions);
  for (const auto& kv : ext.as_object()) o[kv.key()] = kv.value();
}

boost::json::object node_json(const node_metadata& node);

boost::json::object array_json(const array_metadata& m) {
  boost::json::object o;
  o["zarr_format"] = 3;
  o["node_type"] = "array";
  o["shape"] = uint_array(m.shape);
  o["data_type"] = name_of(m.dtype);
  o["chunk_grid"] = {{"name", "regular"},
                     {"configuration", {{"chunk_shape", uint_array(m.chunk_grid.chunk_shape)}}}};
  o["chunk_key_encoding"] = {{"name", m.chunk_key.kind == chunk_key_kind::default_ ? "default" : "v2"},
                             {"configuration", {{"separator", std::string(1, m.chunk_key.separator)}}}};
  o["fill_value"] = detail::fill_to_json(m.dtype, m.fill);
  boost::json::array codecs;
  for (const auto& c : m.codecs) codecs.push_back(codec_json(c));
  o["codecs"] = std::move(codecs);
  o["attributes"] = detail::sorted(m.attributes);
  boost::json::array transformers;
  for (const auto& t : m.storage_transformers) transformers.push_back(codec_json(t));
  o["storage_transformers"] = std::move(transformers);
  if (m.dimension_names) {
    boost::json::array names;
    for (const auto& n : *m.dimension_names) {
      if (n)
        names.emplace_back(boost::json::string(*n));
      else
        names.emplace_back(nullptr);
    }
    o["dimension_names"] = std::move(names);
  }
  append_extensions(o, m.extensions);
  return o;
}

boost::json::object group_json(const group_metadata& m) {
  boost::json::object o;
  o["zarr_format"] = 3;
  o["node_type"] = "group";
  o["attributes"] = detail::sorted(m.attributes);
  if (m.consolidated) {
    std::vector<const consolidated_entry*> nodes;
    for (const auto& n : m.consolidated->nodes) nodes.push_back(&n);
    std::sort(nodes.begin(), nodes.end(), [](auto* a, auto* b) { return a->path < b->path; });
    boost::json::object metadata;
    for (const auto* n : nodes) metadata[n->path] = node_json(n->node);
    o["consolidated_metadata"] = {
        {"kind", "inline"}, {"must_understand", false}, {"metadata", std::move(metadata)}};
  }
  append_extensions(o, m.extensions);
  return o;
}

boost::json::object node_json(const node_metadata& node) {
  if (const auto* a = std::get_if<array_metadata>(&node)) return array_json(*a);
  if (const auto* g = std::get_if<group_metadata>(&node)) return group_json(*g);
  // As read, members in their order: whether a document is merely unsupported
  // or invalid can depend on which problem the parser meets first, and sorting
  // could turn a node kept as unsupported into one that refuses the whole group.
  return std::get<unsupported_node>(node).document;
}

}  // namespace

// --- public ----------------------------------------------------------------------------------------

std::optional<codec_kind> known_codec_kind(std::string_view name) noexcept {
  if (name == "transpose") return codec_kind::array_to_array;
  if (name == "bytes" || name == "sharding_indexed") return codec_kind::array_to_bytes;
  if (name == "zstd" || name == "gzip" || name == "blosc" || name == "crc32c")
    return codec_kind::bytes_to_bytes;
  return std::nullopt;
}

std::vector<std::uint64_t> regular_chunk_grid::grid_shape(std::span<const std::uint64_t> shape) const {
  std::vector<std::uint64_t> out;
  out.reserve(shape.size());
  for (std::size_t i = 0; i < shape.size() && i < chunk_shape.size(); ++i)
    out.push_back(shape[i] / chunk_shape[i] + (shape[i] % chunk_shape[i] != 0 ? 1 : 0));
  return out;
}

std::string chunk_key_encoding::key(std::span<const std::uint64_t> index) const {
  std::string out;
  if (kind == chunk_key_kind::default_) {
    out = "c";
    for (auto i : index) {
      out += separator;
      out += std::to_string(i);
    }
    return out;
  }
  if (index.empty()) return "0";
  for (std::size_t d = 0; d < index.size(); ++d) {
    if (d != 0) out += separator;
    out += std::to_string(index[d]);
  }
  return out;
}

std::optional<std::vector<std::uint64_t>> chunk_key_encoding::parse(std::string_view key,
                                                                    std::size_t rank) const {
  const std::string_view original = key;
  std::vector<std::uint64_t> index;
  if (kind == chunk_key_kind::default_) {
    if (!key.starts_with('c')) return std::nullopt;
    key.remove_prefix(1);
    if (rank == 0) return key.empty() ? std::optional(index) : std::nullopt;
  } else if (rank == 0) {
    return key == "0" ? std::optional(index) : std::nullopt;
  }
  for (std::size_t d = 0; d < rank; ++d) {
    if (kind == chunk_key_kind::default_ || d != 0) {
      if (key.empty() || key.front() != separator) return std::nullopt;
      key.remove_prefix(1);
    }
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), v);
    if (ec != std::errc() || end == key.data()) return std::nullopt;
    key.remove_prefix(static_cast<std::size_t>(end - key.data()));
    index.push_back(v);
  }
  if (!key.empty() || this->key(index) != original) return std::nullopt;  // "c/01" names no chunk
  return index;
}

std::uint64_t array_metadata::element_count() const noexcept {
  std::uint64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::uint64_t array_metadata::chunk_element_count() const noexcept {
  std::uint64_t n = 1;
  for (auto d : chunk_grid.chunk_shape) n *= d;
  return n;
}

const consolidated_entry* consolidated_metadata::find(std::string_view path) const noexcept {
  for (const auto& n : nodes)
    if (n.path == path) return &n;
  return nullptr;
}

bool consolidated_metadata::operator==(const consolidated_metadata& other) const {
  return nodes == other.nodes;
}

result<void> validate(const array_metadata& m, std::string_view path) {
  const std::size_t rank = m.shape.size();
  const auto& chunk = m.chunk_grid.chunk_shape;
  if (chunk.size() != rank)
    return invalid(
        path, "chunk_grid.configuration.chunk_shape",
        "has " + std::to_string(chunk.size()) + " entries for an array of rank " + std::to_string(rank));
  for (std::size_t i = 0; i < rank; ++i)
    if (chunk[i] == 0)
      return invalid(path, index_field("chunk_grid.configuration.chunk_shape", i),
                     "is 0; it must be at least 1");
  const std::string type(name_of(m.dtype));
  if (!checked_bytes(m.shape, element_size(m.dtype)))
    return invalid(path, "shape",
                   "the array's element count or byte size (as " + type + ") overflows 64 bits");
  if (!checked_bytes(chunk, element_size(m.dtype)))
    return invalid(path, "chunk_grid.configuration.chunk_shape",
                   "a chunk's element count or byte size (as " + type + ") overflows 64 bits");
  if (m.fill.size() != element_size(m.dtype))
    return invalid(path, "fill_value",
                   "has " + std::to_string(m.fill.size()) + " bytes; " + type + " elements have " +
                       std::to_string(element_size(m.dtype)));
  if (m.dtype == data_type::bool_ && std::to_integer<unsigned>(m.fill.bytes()[0]) > 1)
    return invalid(path, "fill_value", "a bool fill value is the byte 0 or 1");
  if (m.chunk_key.separator != '/' && m.chunk_key.separator != '.')
    return invalid(path, "chunk_key_encoding.configuration.separator", "must be \"/\" or \".\"");
  if (m.dimension_names && m.dimension_names->size() != rank)
    return invalid(path, "dimension_names",
                   "has " + std::to_string(m.dimension_names->size()) + " entries for an array of rank " +
                       std::to_string(rank));
  for (std::size_t i = 0; i < m.codecs.size(); ++i)
    if (m.codecs[i].name.empty()) return invalid(path, index_field("codecs", i), "a codec needs a name");
  SLUICE_TRY_VOID(check_codecs(m.codecs, m.dtype, chunk, false, path, "codecs"));
  for (std::size_t i = 0; i < m.storage_transformers.size(); ++i)
    if (m.storage_transformers[i].must_understand || m.storage_transformers[i].name.empty())
      return detail::unsupported(path, index_field("storage_transformers", i),
                                 "storage transformer " + in_quotes(m.storage_transformers[i].name) +
                                     " is not supported (sluice knows none)");
  return check_extensions(m.extensions, array_fields, path);
}

result<void> validate(const group_metadata& m, std::string_view path) {
  if (m.consolidated) {
    std::vector<std::string_view> paths;
    for (const auto& n : m.consolidated->nodes) {
      SLUICE_TRY_VOID(check_node_path(n.path, path));
      paths.push_back(n.path);
      const std::string inner =
          std::string(path) + ": consolidated_metadata.metadata[" + in_quotes(n.path) + "]";
      if (const auto* a = std::get_if<array_metadata>(&n.node)) SLUICE_TRY_VOID(validate(*a, inner));
      if (const auto* g = std::get_if<group_metadata>(&n.node)) SLUICE_TRY_VOID(validate(*g, inner));
    }
    std::sort(paths.begin(), paths.end());
    if (auto dup = std::adjacent_find(paths.begin(), paths.end()); dup != paths.end())
      return invalid(path, "consolidated_metadata.metadata",
                     "the node path " + in_quotes(*dup) + " appears twice");
  }
  return check_extensions(m.extensions, group_fields, path);
}

result<node_metadata> parse_metadata(std::string_view json, std::string_view path) {
  simdjson::dom::parser parser;
  SLUICE_TRY(auto root, detail::parse_json(parser, json, path));
  return parse_node(root, path);
}

result<array_metadata> parse_array_metadata(std::string_view json, std::string_view path) {
  SLUICE_TRY(auto node, parse_metadata(json, path));
  if (auto* a = std::get_if<array_metadata>(&node)) return std::move(*a);
  return invalid(path, "node_type", "is \"group\"; an array was expected");
}

result<group_metadata> parse_group_metadata(std::string_view json, std::string_view path) {
  SLUICE_TRY(auto node, parse_metadata(json, path));
  if (auto* g = std::get_if<group_metadata>(&node)) return std::move(*g);
  return invalid(path, "node_type", "is \"array\"; a group was expected");
}

result<std::string> write_metadata(const array_metadata& m, std::string_view path) {
  SLUICE_TRY_VOID(validate(m, path));
  return boost::json::serialize(array_json(m));
}

result<std::string> write_metadata(const group_metadata& m, std::string_view path) {
  SLUICE_TRY_VOID(validate(m, path));
  return boost::json::serialize(group_json(m));
}

group_metadata consolidate(group_metadata root, std::vector<consolidated_entry> nodes) {
  for (auto& n : nodes) {
    // zarr-python flattens a nested group's own consolidated metadata into the
    // root's and leaves an empty one behind as a marker.
    if (auto* g = std::get_if<group_metadata>(&n.node)) g->consolidated = consolidated_metadata{};
  }
  std::sort(nodes.begin(), nodes.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  root.consolidated = consolidated_metadata{std::move(nodes)};
  return root;
}

}  // namespace sluice::zarr
