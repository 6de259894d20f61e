// The versions of the libraries sluice is linked with (`sluice --version`).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace sluice {

// {name, version} of each library: Boost, OpenSSL, zstd, zlib, Blosc and
// xxHash as the running code reports them, liburing as built against (it
// reports no version at run time). Thread-safe.
std::vector<std::pair<std::string, std::string>> linked_library_versions();

}  // namespace sluice
