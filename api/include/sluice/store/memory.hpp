// The memory driver: values in pool memory inside this process. Reads share
// the stored bytes (no copy); writes copy the caller's bytes once. Every
// condition is honoured atomically. For tests, caches and small scratch data.
#pragma once

#include <sluice/store/store.hpp>

#include <cstddef>
#include <memory>

namespace sluice::store {

struct memory_options {
  // Bytes all values may hold together (values still shared by readers count
  // until the readers let go). A write past it fails with errc::no_space.
  std::size_t capacity = std::size_t(1) << 30;
  // An engine whose threads may do CPU work for callers of this store
  // (compute_engine(): the Zarr layer decodes chunks there, on every thread at
  // once); none: the caller's thread does it. Must outlive the store.
  engine* compute = nullptr;
};

std::shared_ptr<store> make_memory_store(const memory_options& opts = {});

}  // namespace sluice::store
