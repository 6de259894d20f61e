// How large an array this machine can hold: a size read from a file or from metadata beyond it is
// refused (too_large) before any allocation. Private to sluice_api.
#pragma once

#include <unistd.h>

#include <cstdint>

namespace sluice::npy::detail {

// The machine's physical memory in bytes (UINT64_MAX when it cannot be told).
inline std::uint64_t physical_memory() noexcept {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? std::uint64_t(pages) * std::uint64_t(page) : UINT64_MAX;
}

}  // namespace sluice::npy::detail
