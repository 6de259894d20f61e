// Arrays as objects, in cottoncandy's raw layout: one object holds an array's
// elements (compressed or not), and its user metadata describes them:
//
//   dtype        numpy's dtype.str: '<f8', '|b1', '>i4', ...
//   shape        the dimensions joined by commas: "100,600,1000" ("" for a 0-d array)
//   compression  "False", or the codec: sluice writes "gzip" or "Zstd" (cottoncandy's
//                spellings) and reads them in any case; LZ4, Zlib and BZ2, which
//                cottoncandy also writes, are refused by name
//   order        "C" or "F": the order of the elements in the object
//
// Older cottoncandy versions wrote a `gzip` flag ("True" / "False") instead of
// `compression`: sluice reads it too. A gzip object is one gzip stream
// (RFC 1952), a Zstd object zstd frames, of the elements exactly. So an array
// written by either tool is read by the other, with the same elements, dtype
// and shape.
//
// Errors are values: not_found (condition) when there is no object;
// invalid_argument when the object is not a raw array (no dtype or shape), or
// its metadata is malformed; unsupported for a dtype or a compression sluice
// does not read, or a store that keeps no user metadata; corrupt_data when the
// bytes do not decode to exactly the size the dtype and shape give (or cannot:
// more than the codec can expand them to); too_large for an array larger than
// the machine's memory. Every message names the object.
#pragma once

#include <sluice/npy/npy.hpp>
#include <sluice/store/store.hpp>

#include <boost/asio/awaitable.hpp>

#include <map>
#include <string>
#include <string_view>

namespace sluice::object_array {

enum class compression { none, gzip, zstd };

// "none" / "False", "gzip", "zstd" (any case); nullopt otherwise.
std::optional<compression> parse_compression(std::string_view text);
// As written in the `compression` metadata: "False", "gzip", "Zstd".
std::string_view compression_name(compression c) noexcept;

struct raw_put_options {
  compression codec = compression::none;
  int level = 0;                                // 0: the codec's default (gzip 5, zstd 3)
  std::map<std::string, std::string> metadata;  // more user metadata (cottoncandy's **metadata)
};

// What an object's metadata says of the elements it holds.
struct raw_layout {
  npy::header elements;  // dtype, byte order, order, shape, data_size (data_offset 0)
  compression codec = compression::none;
};

// The user metadata describing `a` as stored by put_raw (little-endian, C order).
std::map<std::string, std::string> raw_metadata(const npy::array& a, compression codec);

// Reads the metadata (names lowercased, as stores give them). `what` names
// the object in messages.
result<raw_layout> parse_raw_metadata(const std::map<std::string, std::string>& metadata,
                                      std::string_view what);

// Writes `a` (C order, native byte order) to `key`, compressed as asked, with
// the metadata above. The store must keep user metadata.
boost::asio::awaitable<result<store::generation>> put_raw(store::store& st, std::string_view key,
                                                          const npy::array& a, const raw_put_options& opts);

// Reads the array at `key`: C order, native byte order, whatever order, byte
// order and compression it was stored with.
boost::asio::awaitable<result<npy::array>> get_raw(store::store& st, std::string_view key);

}  // namespace sluice::object_array
