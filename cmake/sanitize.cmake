# SLUICE_SANITIZE: a sanitizer build of the whole tree (tools/sanitize.sh, docs/reliability.md#sanitizers).
#   address,undefined   ASan and UBSan (build-asan/): the whole suite
#   thread              TSan (build-tsan/): the engine, transfer and integration tests
# Every translation unit of the tree gets the instrumentation, the libraries, the CLI and the tests
# alike; Debian's prebuilt libraries (GoogleTest, Boost's compiled parts, OpenSSL) do not, which ASan
# and UBSan need not and TSan tolerates because none of them is used from two threads at once.
# A UBSan report is fatal (-fno-sanitize-recover=all): it fails the test that triggered it. ASan and
# TSan reports are fatal by their runtime options, which tools/sanitize.sh sets.
# Works with GCC 12 (the compiler CI builds sluice with) and with clang 14.
set(sluice_sanitize_choices "address,undefined" "address" "undefined" "thread")
if(NOT SLUICE_SANITIZE IN_LIST sluice_sanitize_choices)
  message(FATAL_ERROR "sluice: SLUICE_SANITIZE=${SLUICE_SANITIZE}: expected one of ${sluice_sanitize_choices}")
endif()
if(SLUICE_FUZZ)
  message(FATAL_ERROR "sluice: SLUICE_FUZZ brings its own sanitizers (cmake/fuzz.cmake); leave SLUICE_SANITIZE off")
endif()

set(sluice_sanitize_flags -fsanitize=${SLUICE_SANITIZE} -fno-omit-frame-pointer)
if(SLUICE_SANITIZE MATCHES "undefined")
  list(APPEND sluice_sanitize_flags -fno-sanitize-recover=all)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    # clang 14 cannot emit -fsanitize=function's prologue data for coroutine functions ("Cannot
    # represent a difference across sections"); cmake/fuzz.cmake leaves it out for the same reason.
    list(APPEND sluice_sanitize_flags -fno-sanitize=function)
  endif()
endif()

if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # With the instrumentation GCC 12 sees "may be used uninitialized" in every result<void> it cannot
  # follow through the sanitizer checks (hundreds of lines of noise per file). The main build keeps
  # the warning, with -Werror in CI.
  list(APPEND sluice_sanitize_flags -Wno-maybe-uninitialized)
endif()

if(SLUICE_SANITIZE STREQUAL "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 warns at every inlined std::atomic_thread_fence that TSan does not model fences (-Wtsan):
  # Asio's fenced_block around each handler it runs and its any_executor reference count; megabytes
  # of log per build. What those fences order is also ordered by the scheduler's mutex (the
  # handler's hand-over) or by the acq_rel reference count; a report they caused would show up
  # in Asio's own frames, and none has (docs/reliability.md#sanitizers).
  list(APPEND sluice_sanitize_flags -Wno-tsan)
endif()

include(CheckCXXSourceCompiles)
set(CMAKE_REQUIRED_FLAGS "-fsanitize=${SLUICE_SANITIZE}")
check_cxx_source_compiles("int main() { return 0; }" SLUICE_HAVE_SANITIZER_RUNTIME)
unset(CMAKE_REQUIRED_FLAGS)
if(NOT SLUICE_HAVE_SANITIZER_RUNTIME)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    string(REGEX MATCH "^[0-9]+" clang_major "${CMAKE_CXX_COMPILER_VERSION}")
    sluice_missing("the sanitizer runtimes of ${CMAKE_CXX_COMPILER} (-fsanitize=${SLUICE_SANITIZE})"
                   "libclang-rt-${clang_major}-dev")
  else()
    sluice_missing("the sanitizer runtimes of ${CMAKE_CXX_COMPILER} (-fsanitize=${SLUICE_SANITIZE})"
                   "libasan8 libubsan1 libtsan2")
  endif()
endif()

add_compile_options(${sluice_sanitize_flags})
add_link_options(-fsanitize=${SLUICE_SANITIZE})
