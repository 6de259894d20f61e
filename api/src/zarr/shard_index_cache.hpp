// Decoded shard indexes of one array, per (key, generation), fetched once
// however many readers want one at the same moment (private to src/zarr).
//
// A cached index is only a guess about the shard's current version: readers
// fetch inner chunks with if_equal on the index's generation, and a
// precondition failure (the shard was rewritten) makes them forget() the entry
// and ask again. Missing shards and failed fetches are not cached.
//
// Thread safety: every member may be called from any thread.
#pragma once

#include "zarr/codec_chain.hpp"

#include <sluice/store/store.hpp>

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sluice::zarr {

struct shard_index {
  store::generation gen;
  std::uint64_t shard_size = 0;
  std::vector<chunk_codecs::inner_location> where;  // per inner chunk, C order
};

class shard_index_cache {
 public:
  // The fetch: the shard's index, or nullptr when the shard is not stored.
  using fetch_fn = std::function<boost::asio::awaitable<result<std::shared_ptr<const shard_index>>>()>;

  // At most `max_bytes` of decoded locations are kept (oldest dropped first).
  explicit shard_index_cache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  // The cached index of `key`, or the result of `fetch` (run once for all the
  // callers waiting on it).
  boost::asio::awaitable<result<std::shared_ptr<const shard_index>>> get(std::string key, fetch_fn fetch);

  // Drops `key`'s entry if it is still of generation `gen` (a reader found it
  // stale); forget(key) drops it whatever its generation (a writer replaced it).
  void forget(const std::string& key, const store::generation& gen);
  void forget(const std::string& key);

  // Fetches started (not cache hits nor waits on another's fetch): for tests.
  std::uint64_t fetches() const noexcept { return fetches_.load(std::memory_order_relaxed); }

 private:
  struct slot;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<slot>, std::less<>> slots_;
  std::deque<std::pair<std::string, std::shared_ptr<slot>>> order_;  // insertion order, for eviction
  std::size_t bytes_ = 0;
  std::size_t max_bytes_;
  std::atomic<std::uint64_t> fetches_{0};

  void evict_locked();
};

}  // namespace sluice::zarr
