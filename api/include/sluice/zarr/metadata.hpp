// Zarr v3 metadata documents (zarr.json) of arrays and groups: a typed model,
// a parser that checks every rule sluice relies on, and a writer of canonical
// documents (parse_*(write_metadata(m)) == m).
//
// What is read: zarr_format 3; node_type "array" or "group"; the core data types
// (data_type.hpp); the regular chunk grid; the chunk key encodings "default"
// and "v2"; the codecs list (kept as names and configurations: the codecs
// themselves live elsewhere); dimension_names; attributes; storage_transformers;
// zarr-python's inline consolidated metadata in groups. Extension points may be
// objects or short-hand names, as the spec allows.
//
// The must_understand rule: a top-level field sluice does not know, an unknown
// codec and any storage transformer refuse the document (errc::unsupported,
// naming it) unless the field's value, the codec's or transformer's entry is an
// object with "must_understand": false; such entries are kept, so a document
// rewritten through the model keeps them.
//
// All functions are pure, thread-safe and throw only std::bad_alloc. Errors are
// zarr::errc values (error.hpp) with "<path>: <field>: <problem>" messages.
#pragma once

#include <sluice/engine/runtime/result.hpp>
#include <sluice/zarr/data_type.hpp>
#include <sluice/zarr/error.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sluice::zarr {

// One entry of the codecs list (and of storage_transformers): the extension's
// name, its configuration (empty when absent) and whether a reader that does
// not know the name must refuse the array.
struct codec_spec {
  std::string name;
  boost::json::object configuration;
  bool must_understand = true;

  bool operator==(const codec_spec&) const = default;
};

enum class codec_kind { array_to_array, array_to_bytes, bytes_to_bytes };

// The kind of a codec sluice knows: "transpose" (array -> array); "bytes",
// "sharding_indexed" (array -> bytes); "zstd", "gzip", "blosc", "crc32c"
// (bytes -> bytes). nullopt for any other name.
std::optional<codec_kind> known_codec_kind(std::string_view name) noexcept;

// The "regular" chunk grid: every chunk has chunk_shape (each entry >= 1, one
// per dimension); chunks at the upper edges overhang the array.
struct regular_chunk_grid {
  std::vector<std::uint64_t> chunk_shape;

  // Chunks along each dimension: ceil(shape[i] / chunk_shape[i]). `shape` must
  // have the grid's rank.
  std::vector<std::uint64_t> grid_shape(std::span<const std::uint64_t> shape) const;

  bool operator==(const regular_chunk_grid&) const = default;
};

enum class chunk_key_kind {
  default_,  // "default": "c" then separator + index per dimension: c/1/2, c.1.2; 0-d: "c"
  v2,        // "v2": indices joined by the separator: 1.2, 1/2; 0-d: "0"
};

struct chunk_key_encoding {
  chunk_key_kind kind = chunk_key_kind::default_;
  char separator = '/';  // '/' or '.'; the spec's defaults are '/' for default, '.' for v2

  // The key of the chunk at grid index `index` (one entry per dimension),
  // relative to the array's prefix.
  std::string key(std::span<const std::uint64_t> index) const;
  // The grid index a key (relative to the array's prefix) names, for an
  // array of `rank` dimensions; nullopt when it is not a chunk key.
  std::optional<std::vector<std::uint64_t>> parse(std::string_view key, std::size_t rank) const;

  bool operator==(const chunk_key_encoding&) const = default;
};

struct array_metadata {
  std::vector<std::uint64_t> shape;  // rank 0 is a scalar
  data_type dtype = data_type::float64;
  regular_chunk_grid chunk_grid;
  chunk_key_encoding chunk_key;
  fill_value fill;                 // element_size(dtype) bytes
  std::vector<codec_spec> codecs;  // array -> array*, one array -> bytes, bytes -> bytes*
  // Absent (or null) when no dimension is named; else one entry per dimension,
  // nullopt for an unnamed one.
  std::optional<std::vector<std::optional<std::string>>> dimension_names;
  boost::json::object attributes;
  std::vector<codec_spec> storage_transformers;  // only ones marked must_understand: false
  boost::json::object extensions;                // unknown top-level fields marked must_understand: false

  // Elements in the array and in one chunk (checked at parse and write never to
  // overflow uint64, nor their byte sizes).
  std::uint64_t element_count() const noexcept;
  std::uint64_t chunk_element_count() const noexcept;

  bool operator==(const array_metadata&) const = default;
};

struct consolidated_entry;

// zarr-python's inline consolidated metadata of a group: the metadata of every
// node below it, keyed by its path relative to the group ("a", "a/b"). Nested
// groups carry an empty consolidated_metadata as a marker, as zarr-python
// writes them. Written as {"kind": "inline", "must_understand": false,
// "metadata": {path: document}}.
struct consolidated_metadata {
  std::vector<consolidated_entry> nodes;  // parse and write sort them by path

  // The entry at `path` (relative to the group), or nullptr.
  const consolidated_entry* find(std::string_view path) const noexcept;

  bool operator==(const consolidated_metadata& other) const;
};

struct group_metadata {
  boost::json::object attributes;
  std::optional<consolidated_metadata> consolidated;  // absent or null in the document: nullopt
  boost::json::object extensions;  // unknown top-level fields marked must_understand: false

  bool operator==(const group_metadata&) const = default;
};

// A node of consolidated metadata that is valid Zarr but uses what sluice does
// not implement (a "string" array, say): kept as its document so that the rest
// of the hierarchy opens and a rewrite keeps it. Opening it is the array
// layer's error to report, with `reason`.
struct unsupported_node {
  boost::json::object document;
  std::string reason;  // the unsupported error's message

  bool operator==(const unsupported_node& other) const { return document == other.document; }
};

using node_metadata = std::variant<array_metadata, group_metadata, unsupported_node>;

struct consolidated_entry {
  std::string path;  // relative, '/'-separated, no empty, "." or ".." segment
  node_metadata node;

  bool operator==(const consolidated_entry&) const = default;
};

// Parse one zarr.json document. `path` names it in messages (e.g.
// "data.zarr/a/zarr.json"). The array and group forms refuse the other node
// type. The whole document is refused when a node inside its consolidated
// metadata is invalid; one that is merely unsupported becomes an unsupported_node
// (parse_metadata itself never returns that alternative).
result<node_metadata> parse_metadata(std::string_view json, std::string_view path);
result<array_metadata> parse_array_metadata(std::string_view json, std::string_view path);
result<group_metadata> parse_group_metadata(std::string_view json, std::string_view path);

// The checks parse applies to a document, applied to a model (what a caller
// builds before writing): ranks agree, chunk entries >= 1, no overflow, the fill
// value's size, the codec chain, the extensions' markers, consolidated paths.
result<void> validate(const array_metadata& m, std::string_view path);
result<void> validate(const group_metadata& m, std::string_view path);

// The canonical zarr.json of a valid model: compact JSON, fields in the spec's
// order (zarr_format, node_type, then the others), object members (attributes,
// configurations) sorted by key, defaults spelled out (the chunk key separator),
// dimension_names only when set, "attributes" always. Fails as validate does.
result<std::string> write_metadata(const array_metadata& m, std::string_view path = "zarr.json");
result<std::string> write_metadata(const group_metadata& m, std::string_view path = "zarr.json");

// `root` with inline consolidated metadata holding `nodes` (paths relative to
// root), nested groups marked as zarr-python marks them; write_metadata then
// writes it into the root's document. The paths are checked by validate.
group_metadata consolidate(group_metadata root, std::vector<consolidated_entry> nodes);

}  // namespace sluice::zarr
