// The transpose codec: one strided copy that walks the output in C order.
#include <sluice/engine/codec/transpose.hpp>

#include "codec/error.hpp"

#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace sluice::codec {
namespace {

constexpr std::string_view codec_name = "transpose";

error bad(std::string_view what, const std::string& text) {
  return detail::codec_error(errc::invalid_argument, codec_name, what, text);
}

std::string list(std::span<const unsigned> v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// Checks the arguments shared by both directions; returns the number of elements.
result<std::uint64_t> validate(std::size_t in_size, std::size_t out_size,
                               std::span<const std::uint64_t> shape, std::span<const unsigned> order,
                               std::size_t element_size, std::string_view what) {
  if (element_size == 0) return bad(what, "element size 0");
  if (order.size() != shape.size())
    return bad(what, "order " + list(order) + " has " + std::to_string(order.size()) +
                         " axes, the chunk has " + std::to_string(shape.size()));
  std::vector<bool> seen(order.size());
  for (unsigned axis : order) {
    if (axis >= order.size() || seen[axis])
      return bad(what, "order " + list(order) + " is not a permutation of 0.." +
                           std::to_string(order.size()) + "-1");
    seen[axis] = true;
  }
  std::uint64_t count = 1;
  for (std::uint64_t extent : shape) {
    if (extent != 0 && count > std::numeric_limits<std::uint64_t>::max() / extent)
      return bad(what, "the chunk's element count overflows");
    count *= extent;
  }
  if (count > std::numeric_limits<std::size_t>::max() / element_size)
    return bad(what, "the chunk's size overflows");
  const std::size_t bytes = static_cast<std::size_t>(count) * element_size;
  if (in_size != bytes || out_size != bytes)
    return bad(what, "input of " + std::to_string(in_size) + " bytes and output of " +
                         std::to_string(out_size) + " bytes for a chunk of " + std::to_string(bytes) +
                         " bytes");
  return count;
}

// Copies `count` elements, `stride` bytes apart in the source, to consecutive elements of `dst`.
template <std::size_t E>
void gather(const std::byte* src, std::size_t stride, std::byte* dst, std::uint64_t count,
            std::size_t element_size) {
  const std::size_t size = E ? E : element_size;
  for (std::uint64_t i = 0; i < count; ++i, src += stride, dst += size) std::memcpy(dst, src, E ? E : size);
}

// out (shape out_shape, C order) receives in[sum_k pos[k] * src_stride[k]] at each position pos;
// strides are in elements.
void permute(const std::byte* in, std::byte* out, const std::vector<std::uint64_t>& out_shape,
             const std::vector<std::uint64_t>& src_stride, std::uint64_t count, std::size_t element_size) {
  const std::size_t nd = out_shape.size();
  if (nd == 0) {
    std::memcpy(out, in, element_size);
    return;
  }
  const std::uint64_t inner = out_shape[nd - 1];
  const std::size_t inner_stride = static_cast<std::size_t>(src_stride[nd - 1]) * element_size;
  std::vector<std::uint64_t> pos(nd, 0);
  std::size_t src = 0;  // byte offset of the current run in `in`
  for (std::uint64_t done = 0; done < count; done += inner) {
    std::byte* dst = out + static_cast<std::size_t>(done) * element_size;
    if (inner_stride == element_size) {
      std::memcpy(dst, in + src, static_cast<std::size_t>(inner) * element_size);
    } else {
      switch (element_size) {
        case 1:
          gather<1>(in + src, inner_stride, dst, inner, 1);
          break;
        case 2:
          gather<2>(in + src, inner_stride, dst, inner, 2);
          break;
        case 4:
          gather<4>(in + src, inner_stride, dst, inner, 4);
          break;
        case 8:
          gather<8>(in + src, inner_stride, dst, inner, 8);
          break;
        default:
          gather<0>(in + src, inner_stride, dst, inner, element_size);
      }
    }
    // Next run: advance the odometer over the outer axes.
    for (std::size_t k = nd - 1; k-- > 0;) {
      src += static_cast<std::size_t>(src_stride[k]) * element_size;
      if (++pos[k] < out_shape[k]) break;
      src -= static_cast<std::size_t>(src_stride[k] * out_shape[k]) * element_size;
      pos[k] = 0;
    }
  }
}

// Element strides of a C-order array of `shape`.
std::vector<std::uint64_t> c_strides(std::span<const std::uint64_t> shape) {
  std::vector<std::uint64_t> s(shape.size());
  std::uint64_t step = 1;
  for (std::size_t k = shape.size(); k-- > 0;) {
    s[k] = step;
    step *= shape[k];
  }
  return s;
}

}  // namespace

result<void> transpose(std::span<const std::byte> in, std::span<std::byte> out,
                       std::span<const std::uint64_t> shape, std::span<const unsigned> order,
                       std::size_t element_size, std::string_view what) {
  SLUICE_TRY(const std::uint64_t count, validate(in.size(), out.size(), shape, order, element_size, what));
  if (count == 0) return {};
  // B axis i is A axis order[i]: its extent is shape[order[i]], its step in A is A's stride there.
  const auto a_stride = c_strides(shape);
  std::vector<std::uint64_t> b_shape(shape.size()), src_stride(shape.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    b_shape[i] = shape[order[i]];
    src_stride[i] = a_stride[order[i]];
  }
  permute(in.data(), out.data(), b_shape, src_stride, count, element_size);
  return {};
}

result<void> inverse_transpose(std::span<const std::byte> in, std::span<std::byte> out,
                               std::span<const std::uint64_t> decoded_shape, std::span<const unsigned> order,
                               std::size_t element_size, std::string_view what) {
  SLUICE_TRY(const std::uint64_t count,
             validate(in.size(), out.size(), decoded_shape, order, element_size, what));
  if (count == 0) return {};
  // A axis order[i] is B axis i: walking A in C order, its step in B is B's stride on axis i.
  std::vector<std::uint64_t> b_shape(decoded_shape.size());
  for (std::size_t i = 0; i < order.size(); ++i) b_shape[i] = decoded_shape[order[i]];
  const auto b_stride = c_strides(b_shape);
  std::vector<std::uint64_t> a_shape(decoded_shape.begin(), decoded_shape.end()),
      src_stride(decoded_shape.size());
  for (std::size_t i = 0; i < order.size(); ++i) src_stride[order[i]] = b_stride[i];
  permute(in.data(), out.data(), a_shape, src_stride, count, element_size);
  return {};
}

}  // namespace sluice::codec
