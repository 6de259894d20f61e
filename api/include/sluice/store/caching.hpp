// The caching adapter: wraps any store and keeps, inside this process, what
// makes repeated listings and small reads cheap and what hides a lagging
// listing from the program that wrote (cdffs's three caches are the model).
// It implements the whole store interface; everything it does not answer
// itself goes to the inner store, and the inner store's errors come back
// unchanged.
//
// - Listings: a complete listing of (prefix, delimiter) is kept for
//   listing_ttl and answers later lists of that prefix and delimiter, with any
//   start_after, still page by page. Not kept: a listing the callback stopped
//   or failed, one asked with start_after (it is not complete), one larger
//   than max_listing_entries, and one that overlapped a change made through
//   this adapter under its prefix.
// - Read-after-write: a listing always shows the changes made through this
//   adapter. Cached listings are patched in place (a written key with the size
//   and generation the write returned; a removed key dropped) or dropped when
//   a patch cannot be exact (a remove below a common prefix, a remove_prefix,
//   an operation that failed half way). When the inner store's listings may
//   lag (remember_writes), the adapter also remembers the keys it wrote and
//   removed and the prefixes it removed, and merges them into every listing
//   the inner store answers. The memory is bounded: an entry is kept for
//   remember_for and at most max_remembered of them (the oldest go first);
//   after that the inner listing is trusted again. While an entry is kept,
//   the adapter's record wins over the inner listing, so a change another
//   process makes to that key shows in listings once the entry is forgotten.
//   remove_prefix over a lagging store also removes the remembered keys under
//   the prefix that the inner store's own listing may not have shown it yet.
// - Values (value_cache_bytes > 0): whole-value reads of values up to
//   max_cached_value_bytes are copied once into a pool of the adapter's own
//   (so cached values never hold the inner store's transfer budget) and
//   served from it, least recently used evicted first. Each value counts its
//   size rounded up to a page, plus its key and metadata; an evicted value a
//   reader still holds keeps its pool memory until the reader lets go, and a
//   fill that finds no room meanwhile is skipped. Ranged reads of a cached
//   value share a slice of it. An unconditional read uses a cached copy for
//   listing_ttl (0: never without asking); after that, and whenever the
//   caller passes if_equal or if_not_equal, the inner store is asked with
//   if_not_equal = the cached generation, so an unchanged value costs no
//   bytes. stat() and read_to_file() answer from a fresh cached copy too. A
//   read that overlaps a change to its key through the adapter does not fill
//   the cache.
// - Invalidation: write, remove, remove_prefix, copy, copy_from, move and
//   write_file through the adapter drop the cached values they touch and
//   patch or drop the cached listings that cover them (copy, copy_from, move
//   and write_file learn the new value's size with one stat of the inner
//   store). Changes made by other processes are seen when a cached listing or
//   value expires (listing_ttl), or at once by conditional reads.
//
// features(), describe() and local_path() are the inner store's.
//
// Thread safety: like every store, usable from many coroutines and threads at
// once; the caches sit under one mutex that is never held across a co_await
// or a listing callback. Lifetime: the adapter holds the inner store; hold the
// adapter by shared_ptr and keep it alive until its operations complete.
#pragma once

#include <sluice/store/store.hpp>

#include <chrono>
#include <cstddef>
#include <memory>

namespace sluice::store {

// When the adapter remembers its own writes and removes for listings.
enum class remember_writes {
  when_listings_lag,  // when the inner store's features().listing_is_consistent is false
  always,
  never,  // cached listings are still patched
};

struct caching_options {
  // How long a cached listing (and, for unconditional reads, a cached value)
  // is used without asking the inner store. 0: listings are not cached.
  std::chrono::milliseconds listing_ttl = std::chrono::seconds(60);
  // Entries (and common prefixes) all cached listings may hold together; each
  // listing also counts one. A listing larger than this is not cached.
  std::size_t max_listing_entries = 100'000;

  remember_writes remember = remember_writes::when_listings_lag;
  // How long a write or remove is remembered, and how many are at most
  // (keys and removed prefixes each).
  std::chrono::milliseconds remember_for = std::chrono::seconds(60);
  std::size_t max_remembered = 100'000;

  // Bytes the value cache may hold; 0: values are not cached.
  std::size_t value_cache_bytes = 0;
  // Larger values are never cached.
  std::size_t max_cached_value_bytes = std::size_t(1) << 20;
};

inline const caching_options caching_defaults{};

// Wraps `inner` (not null). Sends no request.
std::shared_ptr<store> make_caching_store(std::shared_ptr<store> inner,
                                          const caching_options& opts = caching_defaults);

}  // namespace sluice::store
