// Zarr v3 arrays on any store: create, open, and read or write selections in
// C order and native byte order, chunk by chunk, concurrently.
//
// An array lives at `path` under a store (its zarr.json at path/zarr.json, its
// chunks at path/<chunk key>). Chunks are fetched and decoded only where a
// selection touches them; a chunk that is missing reads as the fill value, and
// a chunk written equal to the fill value everywhere is removed instead of
// stored (zarr-python's write_empty_chunks=False). Codecs: transpose, bytes
// (either endianness), zstd, gzip, blosc, crc32c and sharding_indexed. A read
// of a sharded array fetches each shard's index once (then cached per key and
// generation) and only the inner chunks it needs, as merged byte ranges; a
// write rebuilds each shard it touches once (docs/arrays.md).
//
// Thread safety: an array object is immutable after open/create; its reads may
// run concurrently. Concurrent writes to one chunk from two calls race (the
// last write wins); writes to different chunks do not interfere.
#pragma once

#include <sluice/store/store.hpp>
#include <sluice/zarr/metadata.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace sluice::zarr {

// One dimension of a selection: start:stop:step (stop nullopt = the end), or a
// single index (`at`), which drops the dimension from the result's shape.
struct slice {
  std::uint64_t start = 0;
  std::optional<std::uint64_t> stop;
  std::uint64_t step = 1;
  bool single = false;

  static slice all() { return {}; }
  static slice at(std::uint64_t i) { return {i, i + 1, 1, true}; }
  static slice range(std::uint64_t start, std::uint64_t stop, std::uint64_t step = 1) {
    return {start, stop, step, false};
  }
};
// One slice per dimension; empty = the whole array.
using selection = std::vector<slice>;

class chunk_codecs;       // private: src/zarr/codec_chain.hpp
class shard_index_cache;  // private: src/zarr/shard_index_cache.hpp

class array {
 public:
  // Writes path/zarr.json (validated first) and returns the array, after an
  // empty group's zarr.json in each parent up to the store root that has none
  // (a parent that is an array is refused). An existing array or group at
  // path is replaced (its chunks are not removed).
  static boost::asio::awaitable<result<array>> create(std::shared_ptr<store::store> st, std::string path,
                                                      array_metadata metadata);
  // An array whose metadata the caller already holds (a group's consolidated
  // metadata): no request. Errors as open's for the document.
  static result<array> bind(std::shared_ptr<store::store> st, std::string path, array_metadata metadata);
  // Reads path/zarr.json. Errors: not_found (condition) when there is none;
  // zarr::errc::invalid_metadata / unsupported from the document.
  static boost::asio::awaitable<result<array>> open(std::shared_ptr<store::store> st, std::string path);

  const array_metadata& metadata() const noexcept { return *meta_; }
  const std::string& path() const noexcept { return path_; }

  // The shape a selection reads into or writes from (single dimensions
  // dropped). Errors: invalid_argument for a rank mismatch, a step of 0, or a
  // start, stop or index outside the array, naming the dimension.
  result<std::vector<std::uint64_t>> shape_of(const selection& sel) const;

  // Reads the selection into `out` (exactly its elements, C order, native
  // byte order). `concurrency` chunks are fetched and decoded at once.
  boost::asio::awaitable<result<void>> read(const selection& sel, std::span<std::byte> out,
                                            unsigned concurrency) const;
  // Writes `in` (the selection's elements, C order, native byte order). A
  // chunk the selection covers whole is encoded without reading it; others
  // are read, modified and written back.
  boost::asio::awaitable<result<void>> write(const selection& sel, std::span<const std::byte> in,
                                             unsigned concurrency);

  // Calls `visit` once for each chunk the selection touches (the inner
  // chunks of a sharded array), with the chunk's part of the selection (in
  // array coordinates, same form as `sel`) and its elements (C order, native
  // byte order; valid during the call). `concurrency` parts are fetched at
  // once, so memory is bounded by concurrency x one chunk; visits come in no
  // set order and never two at once. `visit` returning false stops early.
  using chunk_visitor = std::function<result<bool>(const selection& part, std::span<const std::byte> data)>;
  boost::asio::awaitable<result<void>> for_each_chunk(const selection& sel, const chunk_visitor& visit,
                                                      unsigned concurrency) const;

  // Replaces the attributes: rewrites zarr.json. Changes this object: not
  // while other calls on it run.
  boost::asio::awaitable<result<void>> set_attributes(boost::json::object attributes);

  // Changes the shape (same rank). Chunks wholly outside the new shape are
  // removed, and chunks it cuts are rewritten with the fill value past it, so
  // growing again shows the fill value, never old data; zarr.json is written
  // last. Changes this object: not while other calls on it run.
  boost::asio::awaitable<result<void>> resize(std::vector<std::uint64_t> shape, unsigned concurrency);

  // The key of a chunk, relative to the store (path + "/" + chunk key).
  std::string chunk_key(std::span<const std::uint64_t> chunk_index) const;

 private:
  // An array object over checked metadata and its codecs (create, open, bind).
  static array assemble(std::shared_ptr<store::store> st, std::string path, array_metadata metadata,
                        std::shared_ptr<const chunk_codecs> codecs);
  // A chunk's elements (C order, native bytes) into `chunk`: decoded, or the
  // fill value (`fill`, native bytes) when the chunk is not stored.
  boost::asio::awaitable<result<void>> load_chunk(std::string key, std::span<std::byte> chunk,
                                                  const fill_value& fill) const;
  // read() of an array whose shards can be read by range: per shard touched,
  // its index (cached) and then only the inner chunks the selection needs.
  boost::asio::awaitable<result<void>> read_inner_chunks(const selection& sel, std::span<std::byte> out,
                                                         unsigned concurrency) const;

  std::shared_ptr<store::store> store_;
  std::string path_;
  std::shared_ptr<const array_metadata> meta_;
  std::shared_ptr<const chunk_codecs> codecs_;
  std::shared_ptr<shard_index_cache> indexes_;  // shared by copies of this array
};

}  // namespace sluice::zarr
