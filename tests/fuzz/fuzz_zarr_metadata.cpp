// zarr.json documents (sluice/zarr/metadata.hpp) and fill values
// (sluice/zarr/data_type.hpp), and the codec chain an array's metadata builds.
// Properties:
// - parse_metadata gives an array or a group, or invalid_metadata / unsupported;
//   the array and group parsers agree with it;
// - a document that parses re-serialises (write_metadata) to one that parses to
//   the same metadata, and writing that again gives the same bytes (canonical);
// - the element and byte counts of a parsed array fit in 64 bits;
// - chunk keys read back as the chunk's grid index;
// - when the codecs are ones sluice implements, a chunk encodes and decodes to
//   itself, and decoding arbitrary bytes fails or fills exactly the chunk;
// - format_fill_value of any element's bytes parses back to those bytes.
#include "fuzz_check.hpp"

#include "zarr/codec_chain.hpp"

#include <sluice/zarr/data_type.hpp>
#include <sluice/zarr/error.hpp>
#include <sluice/zarr/metadata.hpp>

#include <algorithm>
#include <charconv>
#include <string>
#include <variant>
#include <vector>

namespace {

namespace zarr = sluice::zarr;
constexpr std::string_view path = "fuzz/zarr.json";

void check_error_kind(const sluice::error& e) {
  const bool expected = e.code == zarr::errc::invalid_metadata || e.code == zarr::errc::unsupported;
  if (!expected) std::fprintf(stderr, "unexpected error: %s\n", e.describe().c_str());
  SLUICE_FUZZ_CHECK(expected);
}

// The grid index a chunk key names, read back by splitting it.
std::vector<std::uint64_t> index_of(const zarr::chunk_key_encoding& enc, std::string_view key,
                                    std::size_t rank) {
  std::vector<std::uint64_t> out;
  if (enc.kind == zarr::chunk_key_kind::default_) {
    SLUICE_FUZZ_CHECK(key.starts_with("c"));
    key.remove_prefix(1);
    if (rank == 0) {
      SLUICE_FUZZ_CHECK(key.empty());
      return out;
    }
    SLUICE_FUZZ_CHECK(!key.empty() && key.front() == enc.separator);
    key.remove_prefix(1);
  } else if (rank == 0) {
    SLUICE_FUZZ_CHECK(key == "0");
    return out;
  }
  for (;;) {
    const auto sep = key.find(enc.separator);
    const auto part = key.substr(0, sep);
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    SLUICE_FUZZ_CHECK(!part.empty() && ec == std::errc() && p == part.data() + part.size());
    out.push_back(v);
    if (sep == std::string_view::npos) break;
    key.remove_prefix(sep + 1);
  }
  return out;
}

void check_codecs(const zarr::array_metadata& m, std::span<const std::byte> input) {
  auto codecs = zarr::chunk_codecs::make(m, path);
  if (!codecs) {
    check_error_kind(codecs.error());
    return;
  }
  const std::uint64_t chunk_bytes = m.chunk_element_count() * zarr::element_size(m.dtype);
  if (chunk_bytes > (1u << 16)) return;  // keep each run quick
  std::vector<std::byte> chunk(static_cast<std::size_t>(chunk_bytes));
  for (std::size_t i = 0; i < chunk.size() && !input.empty(); ++i) chunk[i] = input[i % input.size()];
  auto stored = (*codecs)->encode(chunk, "c/0");
  if (!stored) return;  // a codec may refuse its configuration (a zstd level out of range, say)
  std::vector<std::byte> back(chunk.size());
  auto decoded = (*codecs)->decode(*stored, back, "c/0");
  // The one refusal allowed: a bytes -> bytes codec whose output size neither
  // the metadata nor the encoded bytes tell (gzip after another bytes -> bytes
  // codec or after sharding_indexed). Such chains encode but cannot decode.
  if (!decoded && decoded.error().code == zarr::errc::unsupported) return;
  SLUICE_FUZZ_CHECK(decoded && back == chunk);
  // Arbitrary stored bytes: an error, or exactly the chunk, and nothing past it.
  std::vector<std::byte> guarded(chunk.size() + 64, std::byte{0x5a});
  auto any = (*codecs)->decode(input, std::span(guarded).first(chunk.size()), "c/0");
  (void)any;
  for (std::size_t i = chunk.size(); i < guarded.size(); ++i)
    SLUICE_FUZZ_CHECK(guarded[i] == std::byte{0x5a});
}

void check_array(const zarr::array_metadata& m, std::span<const std::byte> input) {
  auto written = zarr::write_metadata(m, path);
  SLUICE_FUZZ_CHECK(written);
  auto again = zarr::parse_array_metadata(*written, path);
  SLUICE_FUZZ_CHECK(again && *again == m);
  auto rewritten = zarr::write_metadata(*again, path);
  SLUICE_FUZZ_CHECK(rewritten && *rewritten == *written);

  const std::size_t rank = m.shape.size();
  SLUICE_FUZZ_CHECK(m.chunk_grid.chunk_shape.size() == rank);
  // Products in 128 bits, held at 2^64 once past it (so they never wrap).
  constexpr unsigned __int128 past = static_cast<unsigned __int128>(UINT64_MAX) + 1;
  unsigned __int128 elements = 1, chunk_elements = 1;
  for (std::size_t d = 0; d < rank; ++d) {
    SLUICE_FUZZ_CHECK(m.chunk_grid.chunk_shape[d] >= 1);
    elements = std::min(elements * m.shape[d], past);
    chunk_elements = std::min(chunk_elements * m.chunk_grid.chunk_shape[d], past);
  }
  const std::size_t esize = zarr::element_size(m.dtype);
  SLUICE_FUZZ_CHECK(elements * esize <= UINT64_MAX && chunk_elements * esize <= UINT64_MAX);
  SLUICE_FUZZ_CHECK(m.element_count() == elements && m.chunk_element_count() == chunk_elements);
  SLUICE_FUZZ_CHECK(m.fill.size() == esize);

  const std::vector<std::uint64_t> grid = m.chunk_grid.grid_shape(m.shape);
  SLUICE_FUZZ_CHECK(grid.size() == rank);
  std::vector<std::uint64_t> first(rank, 0), last(rank, 0);
  bool any_chunk = true;
  for (std::size_t d = 0; d < rank; ++d) {
    SLUICE_FUZZ_CHECK(grid[d] == m.shape[d] / m.chunk_grid.chunk_shape[d] +
                                     (m.shape[d] % m.chunk_grid.chunk_shape[d] != 0));
    any_chunk = any_chunk && grid[d] > 0;
    last[d] = grid[d] == 0 ? 0 : grid[d] - 1;
  }
  SLUICE_FUZZ_CHECK(index_of(m.chunk_key, m.chunk_key.key(first), rank) == first);
  if (any_chunk) SLUICE_FUZZ_CHECK(index_of(m.chunk_key, m.chunk_key.key(last), rank) == last);

  check_codecs(m, input);
}

void check_group(const zarr::group_metadata& g) {
  auto written = zarr::write_metadata(g, path);
  SLUICE_FUZZ_CHECK(written);
  auto again = zarr::parse_group_metadata(*written, path);
  SLUICE_FUZZ_CHECK(again && *again == g);
  auto rewritten = zarr::write_metadata(*again, path);
  SLUICE_FUZZ_CHECK(rewritten && *rewritten == *written);
}

void check_fill_value(std::span<const std::byte> input) {
  if (input.empty()) return;
  const auto t = zarr::all_data_types[std::to_integer<std::size_t>(input[0]) % zarr::all_data_types.size()];
  const std::size_t n = zarr::element_size(t);
  if (input.size() < 1 + n) return;
  auto bytes = input.subspan(1, n);
  if (t == zarr::data_type::bool_ && std::to_integer<unsigned>(bytes[0]) > 1) return;  // not a bool
  auto fill = zarr::fill_value::from_bytes(t, bytes);
  SLUICE_FUZZ_CHECK(fill);
  auto json = zarr::format_fill_value(t, *fill);
  SLUICE_FUZZ_CHECK(json);
  auto back = zarr::parse_fill_value(t, *json);
  SLUICE_FUZZ_CHECK(back && *back == *fill);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view json = sluice::fuzz::as_text(data, size);
  const auto input = sluice::fuzz::as_bytes(data, size);
  check_fill_value(input);

  auto node = zarr::parse_metadata(json, path);
  auto array = zarr::parse_array_metadata(json, path);
  auto group = zarr::parse_group_metadata(json, path);
  if (!node) {
    check_error_kind(node.error());
    SLUICE_FUZZ_CHECK(!array && !group);
    return 0;
  }
  SLUICE_FUZZ_CHECK(!std::holds_alternative<zarr::unsupported_node>(*node));
  if (const auto* m = std::get_if<zarr::array_metadata>(&*node)) {
    SLUICE_FUZZ_CHECK(array && *array == *m && !group);
    check_array(*m, input);
  } else {
    const auto& g = std::get<zarr::group_metadata>(*node);
    SLUICE_FUZZ_CHECK(group && *group == g && !array);
    check_group(g);
  }
  return 0;
}
