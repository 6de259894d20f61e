// The sharding_indexed codec (api/src/zarr/codec_chain): arbitrary bytes
// decoded as a shard of a configuration the input chooses (data type, rank,
// inner chunk shape, index at the start or end, with or without its CRC-32C,
// inner codecs, the codecs after the shard).
// Properties:
// - every such configuration builds;
// - decoding fails, or fills exactly the shard's bytes and nothing past them;
// - a shard that decodes re-encodes to one that decodes to the same chunk;
// - any chunk encodes to a shard that decodes to it.
#include "fuzz_check.hpp"

#include "zarr/codec_chain.hpp"

#include <sluice/zarr/metadata.hpp>

#include <fuzzer/FuzzedDataProvider.h>

#include <vector>

namespace {

namespace zarr = sluice::zarr;
namespace json = boost::json;

json::object codec(std::string_view name, json::object configuration = {}) {
  json::object c;
  c["name"] = name;
  if (!configuration.empty()) c["configuration"] = std::move(configuration);
  return c;
}

// The array (one shard) and its sharding_indexed codec, as the input says.
zarr::array_metadata shard_array(FuzzedDataProvider& in) {
  zarr::array_metadata m;
  m.dtype = zarr::all_data_types[in.ConsumeIntegralInRange<std::size_t>(0, zarr::all_data_types.size() - 1)];
  const std::size_t rank = in.ConsumeIntegralInRange<std::size_t>(0, 3);
  json::array inner_shape;
  for (std::size_t d = 0; d < rank; ++d) {
    const std::uint64_t inner = in.ConsumeIntegralInRange<std::uint64_t>(1, 4);
    const std::uint64_t per_shard = in.ConsumeIntegralInRange<std::uint64_t>(1, 3);
    inner_shape.push_back(static_cast<std::int64_t>(inner));
    m.shape.push_back(inner * per_shard);
  }
  m.chunk_grid.chunk_shape = m.shape;
  std::vector<std::byte> fill(zarr::element_size(m.dtype));
  for (auto& b : fill) b = static_cast<std::byte>(in.ConsumeIntegral<std::uint8_t>());
  if (m.dtype == zarr::data_type::bool_) fill[0] = std::byte{0};
  m.fill = zarr::fill_value::from_bytes(m.dtype, fill).value();

  json::array codecs;
  if (rank >= 2 && in.ConsumeBool()) {
    json::array order;
    for (std::size_t d = rank; d-- > 0;) order.push_back(static_cast<std::int64_t>(d));
    json::object t;
    t["order"] = std::move(order);
    codecs.push_back(codec("transpose", std::move(t)));
  }
  json::object endian;
  endian["endian"] = in.ConsumeBool() ? "big" : "little";
  codecs.push_back(codec("bytes", std::move(endian)));
  switch (in.ConsumeIntegralInRange<int>(0, 4)) {
    case 1:
      codecs.push_back(codec("crc32c"));
      break;
    case 2:
      codecs.push_back(codec("gzip", json::object{{"level", 1}}));
      break;
    case 3:
      codecs.push_back(codec("zstd", json::object{{"level", 1}, {"checksum", in.ConsumeBool()}}));
      break;
    case 4:
      codecs.push_back(codec("blosc", json::object{{"cname", "lz4"}, {"clevel", 1}, {"shuffle", "shuffle"}}));
      break;
    default:
      break;
  }
  json::array index_codecs{codec("bytes", json::object{{"endian", "little"}})};
  if (in.ConsumeBool()) index_codecs.push_back(codec("crc32c"));

  zarr::codec_spec sharding;
  sharding.name = "sharding_indexed";
  sharding.configuration["chunk_shape"] = std::move(inner_shape);
  sharding.configuration["codecs"] = std::move(codecs);
  sharding.configuration["index_codecs"] = std::move(index_codecs);
  sharding.configuration["index_location"] = in.ConsumeBool() ? "start" : "end";
  m.codecs.push_back(std::move(sharding));
  // Bytes -> bytes codecs after the shard: ones whose output records its size.
  switch (in.ConsumeIntegralInRange<int>(0, 2)) {
    case 1:
      m.codecs.push_back(zarr::codec_spec{"crc32c", {}, true});
      break;
    case 2:
      m.codecs.push_back(zarr::codec_spec{"zstd", json::object{{"level", 1}}, true});
      break;
    default:
      break;
  }
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const zarr::array_metadata m = shard_array(in);
  SLUICE_FUZZ_CHECK(zarr::validate(m, "fuzz/zarr.json"));
  auto codecs = zarr::chunk_codecs::make(m, "fuzz/zarr.json");
  SLUICE_FUZZ_CHECK(codecs);
  const std::size_t chunk_bytes =
      static_cast<std::size_t>(m.chunk_element_count() * zarr::element_size(m.dtype));
  const std::vector<std::uint8_t> rest = in.ConsumeRemainingBytes<std::uint8_t>();
  const auto stored = sluice::fuzz::as_bytes(rest.data(), rest.size());

  constexpr std::byte canary{0xa5};
  std::vector<std::byte> guarded(chunk_bytes + 64, canary);
  const auto chunk = std::span(guarded).first(chunk_bytes);
  auto decoded = (*codecs)->decode(stored, chunk, "c/0");
  for (std::size_t i = chunk_bytes; i < guarded.size(); ++i) SLUICE_FUZZ_CHECK(guarded[i] == canary);
  if (decoded) {
    auto again = (*codecs)->encode(chunk, "c/0");
    SLUICE_FUZZ_CHECK(again);
    std::vector<std::byte> back(chunk_bytes);
    SLUICE_FUZZ_CHECK((*codecs)->decode(*again, back, "c/0"));
    SLUICE_FUZZ_CHECK(std::equal(back.begin(), back.end(), chunk.begin()));
  }

  // The same bytes as a chunk's content (repeated to its size).
  std::vector<std::byte> content(chunk_bytes);
  for (std::size_t i = 0; i < chunk_bytes && !stored.empty(); ++i) content[i] = stored[i % stored.size()];
  auto encoded = (*codecs)->encode(content, "c/0");
  SLUICE_FUZZ_CHECK(encoded);
  std::vector<std::byte> back(chunk_bytes);
  SLUICE_FUZZ_CHECK((*codecs)->decode(*encoded, back, "c/0"));
  SLUICE_FUZZ_CHECK(back == content);
  return 0;
}
