// The blosc codec of Zarr v3 (core spec codecs/blosc): the c-blosc 1.x container format, through
// Debian's libblosc (its context API: no global state, one internal thread, safe from any thread).
#pragma once

#include <sluice/engine/codec/bytes_codec.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace sluice::codec {

// The metadata's "shuffle": bytes (or bits) regrouped by position within a `typesize`-byte element
// before compression.
enum class blosc_shuffle { noshuffle, shuffle, bitshuffle };

// The defaults are numcodecs' Blosc defaults (lz4, level 5, byte shuffle, automatic block size).
struct blosc_options {
  std::string cname = "lz4";  // "lz4", "lz4hc", "blosclz", "zstd", "snappy" or "zlib"
  int clevel = 5;             // 0 (stored) .. 9
  blosc_shuffle shuffle = blosc_shuffle::shuffle;
  std::size_t typesize = 1;   // the shuffle stride in bytes, 1..255 (the data type's size)
  std::size_t blocksize = 0;  // bytes per internal block; 0 = chosen by blosc
};

// blosc carries no checksum: a damaged header or block structure is detected (corrupt_data), but
// damaged compressed payload may decode to wrong bytes. Add the crc32c codec where that matters.
// Decoding checks the 16-byte header against the input (its compressed size must be in.size()), `out`
// (its decoded size must be out.size()) and the options: a compressed frame must carry the configured
// shuffle mode, which the Zarr v3 spec requires the metadata to record (a plain-copy frame, whose
// shuffle flags have no effect, may carry any). cname, clevel, typesize and blocksize only matter
// for encoding: frames record their own. Inputs above 2 GiB - 16 bytes
// (BLOSC_MAX_BUFFERSIZE) cannot be encoded (too_large).
// Errors: invalid_argument for an unknown cname, clevel outside 0..9 or typesize outside 1..255;
// unsupported when the installed libblosc lacks the compressor named.
result<std::unique_ptr<bytes_codec>> make_blosc_codec(const blosc_options& options);

}  // namespace sluice::codec
