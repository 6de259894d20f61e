# Every dependency comes from a Debian package. A missing one stops configure
# with a message naming the package to install (or: bash tools/install-deps.sh).
find_package(PkgConfig QUIET)

function(sluice_missing what debian_package)
  message(FATAL_ERROR
    "sluice: ${what} not found. Install the Debian package '${debian_package}' "
    "(or run: bash tools/install-deps.sh).")
endfunction()

find_package(Boost 1.81 CONFIG QUIET)
if(NOT Boost_FOUND)
  sluice_missing("Boost 1.81 (Asio, Beast, system)" libboost1.81-dev)
endif()

find_package(OpenSSL QUIET)
if(NOT OpenSSL_FOUND)
  sluice_missing("OpenSSL" libssl-dev)
endif()

find_package(Threads REQUIRED)

if(NOT PkgConfig_FOUND)
  sluice_missing("pkg-config" pkg-config)
endif()

macro(sluice_pkg target module debian_package)
  pkg_check_modules(${target} QUIET IMPORTED_TARGET ${module})
  if(NOT ${target}_FOUND)
    sluice_missing("${module}" ${debian_package})
  endif()
endmacro()

sluice_pkg(LIBURING liburing liburing-dev)
sluice_pkg(ZSTD libzstd libzstd-dev)
sluice_pkg(XXHASH libxxhash libxxhash-dev)
sluice_pkg(SIMDJSON simdjson libsimdjson-dev)
# The Zarr v3 codecs (engine/codec): gzip through zlib, blosc through c-blosc 1.x,
# CRC-32C through ISA-L (hardware-accelerated).
sluice_pkg(LIBZ zlib zlib1g-dev)  # not ZLIB: FindZLIB owns the ZLIB_* variables
sluice_pkg(BLOSC blosc libblosc-dev)
sluice_pkg(ISAL libisal libisal-dev)

find_package(pugixml QUIET)
if(NOT pugixml_FOUND)
  sluice_missing("pugixml" libpugixml-dev)
endif()

find_package(CLI11 CONFIG QUIET)
if(NOT CLI11_FOUND)
  sluice_missing("CLI11" libcli11-dev)
endif()

if(SLUICE_BUILD_TESTS)
  find_package(GTest QUIET)
  if(NOT GTest_FOUND)
    sluice_missing("GoogleTest" "googletest libgtest-dev libgmock-dev")
  endif()
endif()
if(SLUICE_BUILD_BENCH)
  find_package(benchmark QUIET)
  if(NOT benchmark_FOUND)
    sluice_missing("Google Benchmark" libbenchmark-dev)
  endif()
endif()
