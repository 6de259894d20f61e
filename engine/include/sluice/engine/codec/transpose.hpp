// The transpose codec of Zarr v3 (core spec codecs/transpose, an array -> array codec).
//
// The spec defines the encoded array B of a decoded chunk A with shape A_shape by
//   B_shape[i] = A_shape[order[i]]   and   B[B_pos] = A[A_pos] where B_pos[i] = A_pos[order[i]],
// that is axis i of B is axis order[i] of A (numpy: B = A.transpose(order)). Both arrays are stored in
// C order (last index fastest), `element_size` bytes per element. With order = [2, 1, 0] a C-order
// chunk is written in Fortran order.
//
// Both functions take the same arguments as the codec's metadata gives them: the DECODED chunk shape
// (A_shape) and `order`, so a round trip is transpose(a, b, shape, order) then
// inverse_transpose(b, a, shape, order). `in` and `out` must not overlap and must both hold
// product(shape) * element_size bytes.
//
// Errors (invalid_argument, naming "transpose" and `what`): order is not a permutation of
// 0..shape.size()-1, element_size is 0, a size overflows, or a span has the wrong size.
#pragma once

#include <sluice/engine/runtime/result.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace sluice::codec {

// Encode: `in` is A (shape `shape`), `out` receives B (shape B_shape[i] = shape[order[i]]).
result<void> transpose(std::span<const std::byte> in, std::span<std::byte> out,
                       std::span<const std::uint64_t> shape, std::span<const unsigned> order,
                       std::size_t element_size, std::string_view what = {});

// Decode: `in` is B (shape B_shape[i] = decoded_shape[order[i]]), `out` receives A (shape
// decoded_shape). It is transpose() with the inverse permutation, applied to B.
result<void> inverse_transpose(std::span<const std::byte> in, std::span<std::byte> out,
                               std::span<const std::uint64_t> decoded_shape, std::span<const unsigned> order,
                               std::size_t element_size, std::string_view what = {});

}  // namespace sluice::codec
