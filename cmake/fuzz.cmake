# SLUICE_FUZZ: the libFuzzer build (tests/fuzz, docs/reliability.md#fuzzing).
# Every translation unit of the tree, the libraries included, gets ASan, UBSan
# (fatal: a report aborts the run) and libFuzzer's coverage instrumentation;
# only the fuzz executables link libFuzzer's main. Debian's clang has the
# runtime in libclang-rt-<version>-dev.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "sluice: SLUICE_FUZZ needs clang (libFuzzer); configure a separate build tree with "
                      "CXX=clang++, as tools/fuzz.sh does.")
endif()

include(CheckCXXSourceCompiles)
set(CMAKE_REQUIRED_FLAGS "-fsanitize=fuzzer,address,undefined")
check_cxx_source_compiles([[
#include <cstddef>
#include <cstdint>
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }
]] SLUICE_HAVE_LIBFUZZER)
unset(CMAKE_REQUIRED_FLAGS)
if(NOT SLUICE_HAVE_LIBFUZZER)
  string(REGEX MATCH "^[0-9]+" clang_major "${CMAKE_CXX_COMPILER_VERSION}")
  sluice_missing("libFuzzer's runtime for ${CMAKE_CXX_COMPILER} (-fsanitize=fuzzer)"
                 "libclang-rt-${clang_major}-dev")
endif()

# -fno-sanitize=function: clang 14 cannot emit that check's prologue data for
# coroutine functions ("Cannot represent a difference across sections").
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=function -fno-sanitize-recover=all
                    -fno-omit-frame-pointer)
add_link_options(-fsanitize=address,undefined)
