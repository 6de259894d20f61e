// The zstd codec of Zarr v3 (zarr-extensions codecs/zstd): one Zstandard frame (RFC 8878) per chunk.
#pragma once

#include <sluice/engine/codec/bytes_codec.hpp>

#include <memory>

namespace sluice::codec {

struct zstd_options {
  int level = 0;          // -131072..22 (ZSTD_minCLevel()..ZSTD_maxCLevel()); 0 = zstd's default (3)
  bool checksum = false;  // store the frame's XXH64-based content checksum; decode always verifies one
};

// Every frame is written with its content size, so decoded_size() knows it. Decoding accepts frames
// without a content size too (other writers stream them), and several concatenated frames. A frame's
// checksum, when present, is always verified: a mismatch is integrity_mismatch, other damage
// corrupt_data. Compression and decompression contexts are kept per thread and reused.
// Errors: invalid_argument for a level out of range.
result<std::unique_ptr<bytes_codec>> make_zstd_codec(const zstd_options& options);

}  // namespace sluice::codec
