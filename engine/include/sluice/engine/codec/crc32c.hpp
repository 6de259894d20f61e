// CRC-32C (Castagnoli, RFC 3720 iSCSI) and the crc32c codec of Zarr v3 (core spec codecs/crc32c).
#pragma once

#include <sluice/engine/codec/bytes_codec.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace sluice::codec {

// The CRC-32C of `data` (initial value and final XOR 0xFFFFFFFF, reflected): crc32c("123456789") is
// 0xE3069283. Hardware-accelerated (SSE4.2 / PCLMUL through ISA-L's crc32_iscsi). Any size.
std::uint32_t crc32c(std::span<const std::byte> data) noexcept;
// The CRC-32C of data that arrives in pieces: crc32c_extend(crc32c(a), b) == crc32c(a + b), and
// crc32c_extend(0, a) == crc32c(a).
std::uint32_t crc32c_extend(std::uint32_t crc, std::span<const std::byte> data) noexcept;

// Encoding appends the CRC-32C of the input as 4 little-endian bytes. Decoding verifies it
// (integrity_mismatch naming both values) and copies the payload to `out`, which must be
// in.size() - 4 bytes; input shorter than 4 bytes is corrupt_data. Unlike the other codecs, decode's
// `out` may be the front of `in` itself (out.data() == in.data()): then nothing is copied.
std::unique_ptr<bytes_codec> make_crc32c_codec();

}  // namespace sluice::codec
