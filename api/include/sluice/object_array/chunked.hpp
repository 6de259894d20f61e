// Arrays as objects in cottoncandy's chunked (dask) layout: an array split
// along one axis into parts, each part a raw array (raw.hpp), and a JSON
// object naming them:
//
//   NAME/pt0000, NAME/pt0001, ...   the parts, numbered in C order of their
//                                   chunk coordinates (the last dimension fastest)
//   NAME/metadata.json              {"shape": [...], "dtype": "<f8",
//                                    "chunks": [[...], ...],      per dimension,
//                                                                 dask's convention
//                                    "chunk_sizes": [[...], ...], each part's shape
//                                    "dask": [[[coords], "NAME/pt0000"], ...]}
//
// cottoncandy's upload_dask_array writes this (its parts gzip-compressed, and
// sometimes a trailing part of length 0 along the split axis, which readers
// here accept); its download_dask_array places each part by its coordinates
// and the running sums of `chunks`. sluice writes the same layout, its parts
// in parallel, and reads any box of the array fetching only the parts the box
// touches.
#pragma once

#include <sluice/npy/npy.hpp>
#include <sluice/object_array/raw.hpp>
#include <sluice/store/store.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::object_array {

struct chunked_layout {
  std::vector<std::uint64_t> shape;
  std::string dtype;                               // numpy's dtype.str, as in the metadata
  std::vector<std::vector<std::uint64_t>> chunks;  // per dimension: the chunk lengths, in order
  struct part {
    std::vector<std::uint64_t> coord;  // chunk index per dimension
    std::string key;                   // the part's key, as the metadata names it
  };
  std::vector<part> parts;
};

// `what` names the metadata object in messages. Checks that the chunks add up
// to the shape and that every chunk coordinate has exactly one part.
result<chunked_layout> parse_chunked_metadata(std::string_view json, std::string_view what);
std::string chunked_metadata_json(const chunked_layout& l);

struct chunked_put_options {
  int split_axis = -1;                      // cottoncandy's default: the last axis
  std::uint64_t part_bytes = 100ull << 20;  // at most this much per part (cottoncandy's buffer)
  compression codec = compression::gzip;    // each part's (cottoncandy's default)
  int level = 0;
  unsigned concurrency = 8;  // parts in flight
};

// Writes `a` as NAME/pt.... and NAME/metadata.json (written last).
boost::asio::awaitable<result<chunked_layout>> put_chunked(store::store& st, std::string_view name,
                                                           const npy::array& a,
                                                           const chunked_put_options& opts);

// NAME/metadata.json, parsed; nullopt when there is none.
boost::asio::awaitable<result<std::optional<chunked_layout>>> read_chunked_layout(store::store& st,
                                                                                  std::string_view name);

// The box [start, stop) per dimension of the array (an empty `box`: all of
// it), fetching only the parts it touches (`parts_read` counts them).
// Errors: invalid_argument for a box outside the shape; corrupt_data when a
// part's dtype or shape is not what the metadata says.
boost::asio::awaitable<result<npy::array>> get_chunked(
    store::store& st, const chunked_layout& layout,
    std::span<const std::pair<std::uint64_t, std::uint64_t>> box, unsigned concurrency,
    std::uint64_t* parts_read = nullptr);

}  // namespace sluice::object_array
