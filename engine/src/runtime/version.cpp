#include <sluice/engine/runtime/version.hpp>

#include <blosc.h>
#include <openssl/crypto.h>
#include <xxhash.h>
#include <zlib.h>
#include <zstd.h>

#include <boost/version.hpp>

namespace sluice {

std::vector<std::pair<std::string, std::string>> linked_library_versions() {
  const unsigned xxh = XXH_versionNumber();
  return {
      {"Boost", std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000) +
                    "." + std::to_string(BOOST_VERSION % 100)},
      {"OpenSSL", OpenSSL_version(OPENSSL_VERSION)},
      {"zstd", ZSTD_versionString()},
      {"zlib", zlibVersion()},
      {"Blosc", blosc_get_version_string()},
      {"xxHash",
       std::to_string(xxh / 10000) + "." + std::to_string(xxh / 100 % 100) + "." + std::to_string(xxh % 100)},
      {"liburing", SLUICE_LIBURING_VERSION " (built against)"},
  };
}

}  // namespace sluice
