// The bytes codec of Zarr v3 (core spec codecs/bytes): an array's elements in C order, each in the
// endianness the metadata names ("little" or "big"). In memory sluice keeps elements in native order,
// so the codec is a byte swap when the two differ and nothing otherwise:
//
//   if (endian_is_little != native_is_little) swap_bytes(chunk, scalar_size);   // both directions
#pragma once

#include <bit>
#include <cstddef>
#include <span>

namespace sluice::codec {

inline constexpr bool native_is_little = std::endian::native == std::endian::little;

// Reverses the bytes of each `element_size`-byte element of `data`, in place. element_size is the
// size of one scalar: 2 for int16/float16, 4 for int32/float32/complex64 (whose two float32 parts are
// swapped separately), 8 for int64/float64/complex128; 1 is a no-op. Any size is accepted (r* types).
// data.size() must be a multiple of element_size and element_size must not be 0: a violation is a bug
// and throws std::invalid_argument.
void swap_bytes(std::span<std::byte> data, std::size_t element_size);

}  // namespace sluice::codec
