// The bytes -> bytes codecs of Zarr v3 (zstd, gzip, blosc, crc32c) behind one interface.
//
// A codec is synchronous and CPU-only, and it never allocates its output: the caller reserves the
// memory (from the buffer pool) and passes spans. Libraries may allocate their own scratch state.
// Codec objects are immutable once made: every member may be called from any number of threads at
// once. `in` and `out` must not overlap (crc32c's decode is the one exception, see crc32c.hpp).
//
// Errors are values. Every message names the codec and the caller's `what` (the chunk's key):
// "zstd: data/c/0/1: corrupt frame (...)". The codes:
//   errc::invalid_argument   bad options (from a factory)
//   errc::too_large          encode: `out` is smaller than the encoded bytes (size it with
//                            max_encoded_size), or the input exceeds what the format can hold
//   errc::corrupt_data       decode: truncated or damaged input, or input that decodes (or records that
//                            it decodes) to another size than `out`
//   errc::integrity_mismatch decode: a checksum the format carries does not match (crc32c)
//   errc::unsupported        the library lacks what the data or the options need (a blosc compressor)
// corrupt_data and integrity_mismatch are both equivalent to sluice::condition::integrity.
#pragma once

#include <sluice/engine/runtime/result.hpp>

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace sluice::codec {

class bytes_codec {
 public:
  virtual ~bytes_codec() = default;

  // The codec's name in Zarr v3 metadata: "zstd", "gzip", "blosc", "crc32c".
  virtual std::string_view name() const noexcept = 0;

  // An upper bound on the encoded size of `decoded` bytes, for every input and option: an `out` of this
  // size never fails with too_large.
  virtual std::size_t max_encoded_size(std::size_t decoded) const noexcept = 0;

  // Encodes all of `in` into the front of `out`; returns the number of bytes written.
  virtual result<std::size_t> encode(std::span<const std::byte> in, std::span<std::byte> out,
                                     std::string_view what) const = 0;

  // The decoded size when the encoded bytes record it (zstd: the frame's content size; blosc: its
  // header; crc32c: in.size() - 4), nullopt when they do not (gzip, a zstd frame written without its
  // size) or when `in` is too damaged to tell. A hint for sizing `out`; decode() checks it again.
  virtual std::optional<std::size_t> decoded_size(std::span<const std::byte> in,
                                                  std::string_view what) const = 0;

  // Decodes all of `in` into `out`, which is exactly the expected decoded size (a Zarr chunk's size is
  // known from its metadata). Input that decodes to more or fewer bytes is an error, never a partial
  // result. Returns out.size() on success. On error the contents of `out` are unspecified.
  virtual result<std::size_t> decode(std::span<const std::byte> in, std::span<std::byte> out,
                                     std::string_view what) const = 0;
};

}  // namespace sluice::codec
