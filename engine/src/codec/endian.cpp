// The bytes codec's byte swap.
#include <sluice/engine/codec/endian.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace sluice::codec {
namespace {

// memcpy in and out keeps the loads unaligned-safe; GCC turns the loop into vector shuffles.
template <class U, U (*swap)(U)>
void swap_all(std::span<std::byte> data) {
  std::byte* p = data.data();
  for (std::size_t i = 0, n = data.size() / sizeof(U); i < n; ++i, p += sizeof(U)) {
    U v;
    std::memcpy(&v, p, sizeof v);
    v = swap(v);
    std::memcpy(p, &v, sizeof v);
  }
}

std::uint16_t swap16(std::uint16_t v) {
  return __builtin_bswap16(v);
}
std::uint32_t swap32(std::uint32_t v) {
  return __builtin_bswap32(v);
}
std::uint64_t swap64(std::uint64_t v) {
  return __builtin_bswap64(v);
}

}  // namespace

void swap_bytes(std::span<std::byte> data, std::size_t element_size) {
  if (element_size == 0 || data.size() % element_size != 0)
    throw std::invalid_argument("swap_bytes: " + std::to_string(data.size()) +
                                " bytes are not whole elements of " + std::to_string(element_size) +
                                " bytes");
  switch (element_size) {
    case 1:
      return;
    case 2:
      return swap_all<std::uint16_t, swap16>(data);
    case 4:
      return swap_all<std::uint32_t, swap32>(data);
    case 8:
      return swap_all<std::uint64_t, swap64>(data);
    default:
      for (std::size_t off = 0; off < data.size(); off += element_size)
        std::reverse(data.begin() + static_cast<std::ptrdiff_t>(off),
                     data.begin() + static_cast<std::ptrdiff_t>(off + element_size));
  }
}

}  // namespace sluice::codec
