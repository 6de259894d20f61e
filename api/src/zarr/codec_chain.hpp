// An array's codecs list made executable (private to src/zarr): chunk bytes in
// C order and native byte order <-> the bytes stored under a chunk key.
#pragma once

#include <sluice/engine/codec/bytes_codec.hpp>
#include <sluice/zarr/metadata.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace sluice::zarr {

namespace detail {
class config_reader;  // one codec's configuration (codec_chain.cpp)
}

class chunk_codecs {
 public:
  // Builds the chain from `m.codecs`. Errors (naming `path` and the codec):
  // invalid_metadata for a configuration the spec forbids, unsupported for
  // sharding_indexed and for codecs sluice does not implement.
  static result<std::shared_ptr<const chunk_codecs>> make(const array_metadata& m, std::string_view path);

  // Encodes one whole chunk (chunk_shape elements, C order, native byte order).
  result<std::vector<std::byte>> encode(std::span<const std::byte> chunk, std::string_view key) const;
  // Decodes stored bytes into `chunk` (exactly the chunk's byte size).
  result<void> decode(std::span<const std::byte> stored, std::span<std::byte> chunk,
                      std::string_view key) const;

  // Where one inner chunk of a shard is stored: bytes [offset, offset + nbytes)
  // of the shard, or nowhere (the fill value).
  struct inner_location {
    std::uint64_t offset = 0, nbytes = 0;
    bool stored() const noexcept { return !(offset == ~std::uint64_t{0} && nbytes == ~std::uint64_t{0}); }
  };

  // sharding_indexed as the array -> bytes codec: the chunk is a shard of
  // inner chunks, each encoded by `inner`, with an index of (offset, nbytes)
  // little-endian pairs (2^64-1 twice: not stored), at the end or the start,
  // followed by its CRC-32C when the index codecs say so.
  struct sharding {
    std::shared_ptr<const chunk_codecs> inner;
    std::vector<std::uint64_t> inner_shape;
    std::vector<std::uint64_t> per_shard;  // inner chunks along each dimension
    std::uint64_t inner_count = 0;
    bool index_at_start = false;
    bool index_crc = false;
    std::vector<std::byte> fill;  // one element, native byte order

    std::size_t index_bytes() const noexcept {
      return static_cast<std::size_t>(inner_count * 16) + (index_crc ? 4 : 0);
    }
    // The index (exactly index_bytes()) of a shard of `shard_size` bytes
    // decoded: one location per inner chunk, C order. Errors naming `key`:
    // integrity_mismatch when its CRC-32C fails, corrupt_data for a wrong
    // size or a chunk outside the shard.
    result<std::vector<inner_location>> decode_index(std::span<const std::byte> index,
                                                     std::uint64_t shard_size, std::string_view key) const;
  };

  // The sharding codec when a shard's inner chunks can be read by byte range:
  // sharding_indexed is the whole chain (no transpose before it, no bytes
  // codec after it). nullptr otherwise: shards are then read whole.
  const sharding* ranged_sharding() const noexcept {
    return shard_ && transposes_.empty() && bytes_.empty() ? &*shard_ : nullptr;
  }
  // The byte size of one decoded chunk (chunk_shape elements).
  std::uint64_t chunk_bytes() const noexcept { return chunk_bytes_; }
  // The most bytes a chunk can be stored as (every codec's worst case): what
  // a decoded size read from untrusted bytes is checked against.
  std::uint64_t max_stored_bytes() const noexcept;

 private:
  struct transpose_step {
    std::vector<unsigned> order;
    std::vector<std::uint64_t> in_shape;  // the shape this step receives when encoding
  };
  std::size_t element_size_ = 1;
  std::size_t swap_unit_ = 1;  // bytes swapped as one number (a complex's half)
  bool swap_ = false;          // the stored byte order is not the native one
  std::uint64_t chunk_bytes_ = 0;
  std::vector<std::uint64_t> chunk_shape_;  // what the array -> bytes codec receives (after transposes)
  std::vector<transpose_step> transposes_;  // in encode order
  std::vector<std::unique_ptr<codec::bytes_codec>> bytes_;  // in encode order

  std::optional<sharding> shard_;

  // The most bytes the array -> bytes codec can produce (before the bytes
  // codecs): the chunk, or a shard's index and every inner chunk at its worst.
  std::uint64_t max_array_to_bytes() const noexcept;

  static result<sharding> make_sharding(const array_metadata& m,
                                        const std::vector<std::uint64_t>& shard_shape,
                                        const detail::config_reader& r);

  result<std::vector<std::byte>> encode_shard(std::span<const std::byte> chunk, std::string_view key) const;
  result<void> decode_shard(std::span<const std::byte> stored, std::span<std::byte> chunk,
                            std::string_view key) const;
};

}  // namespace sluice::zarr
