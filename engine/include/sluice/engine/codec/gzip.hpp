// The gzip codec of Zarr v3 (core spec codecs/gzip): DEFLATE (RFC 1951) in the gzip file format
// (RFC 1952), through zlib, as numcodecs' GZip (zarr-python) writes and reads it.
#pragma once

#include <sluice/engine/codec/bytes_codec.hpp>

#include <memory>

namespace sluice::codec {

struct gzip_options {
  int level = 5;  // 0 (stored, no compression) .. 9 (smallest); 5 is zarr-python's default
};

// Encoding writes one gzip member (no name, mtime 0). Decoding reads one or more members, each checked
// against its CRC-32 and length trailer by zlib, and allows zero padding after the last one, as
// Python's gzip module does; any other trailing byte is corrupt_data. gzip does not record the decoded
// size reliably (ISIZE is modulo 2^32, last member only), so decoded_size() is nullopt.
// Errors: invalid_argument for a level outside 0..9.
result<std::unique_ptr<bytes_codec>> make_gzip_codec(const gzip_options& options);

}  // namespace sluice::codec
