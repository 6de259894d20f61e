#!/usr/bin/env bash
# The sanitizer builds (docs/reliability.md#sanitizers): configures and builds a
# tree of its own with GCC 12 and runs ctest in it.
#
#   tools/sanitize.sh asan [CTEST ARGS ...]   ASan + UBSan into build-asan/: the whole suite
#   tools/sanitize.sh tsan [CTEST ARGS ...]   TSan into build-tsan/: the engine, transfer and
#                                             integration tests (ctest -L 'engine|integration';
#                                             only their binaries and the CLI are built)
#   Both leave out one test that assumes uninstrumented speed (see below).
#
# CTEST ARGS replace the default selection (`tools/sanitize.sh tsan -R Transfer`). Every report
# fails the run: UBSan's are fatal (-fno-sanitize-recover=all), ASan and TSan halt on the first one.
# A report fails its test; ASan and TSan also write it to <tree>/sanitizer-reports/, and UBSan (whose
# log_path GCC's runtime ignores) exits with 86, so a report in a child process (the CLI run by a
# test) is not lost where a test accepts a failing exit code. The script fails on any report file
# and on any report in ctest's log, and prints them.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

mode="${1:-}"
timing_bound='^Transfer[.]five_thousand_small_objects_in_flight_at_once$'
case "$mode" in
  # Left out of both: Transfer.five_thousand_small_objects_in_flight_at_once counts every connection
  # opened over its upload and download batches and allows 2 x 256 (the two engine threads' pools).
  # Instrumented and with the CPU busy it counts 768: one pool reopening its 256 once, which it
  # does when it finds a kept-alive connection closed by the server (s3rver closes those idle 5 s).
  # Most likely one thread drains its share of the uploads seconds before the other and its idle
  # connections outlive the keep-alive. It passes in the plain build under the same load, and
  # instrumented on an idle machine. docs/reliability.md#sanitizers.
  asan) sanitizers="address,undefined"; targets=(all); slowdown=3
        default_selection=(-E "$timing_bound") ;;
  # Only what its tests need: the unit and store test binaries are not built in this tree.
  tsan) sanitizers="thread"
        default_selection=(-L 'engine|integration' -E "$timing_bound")
        targets=(sluice sluice_engine_tests sluice_s3rver_tests sluice_radosgw_tests); slowdown=5 ;;
  -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) echo "usage: tools/sanitize.sh asan|tsan [ctest args ...]" >&2; exit 2 ;;
esac
shift
build="$repo/build-$mode"
selection=("$@")
((${#selection[@]})) || selection=("${default_selection[@]}")

bash "$repo/tools/install-deps.sh"
# Worktrees and clones share ccache entries when paths are relative to the repository. Three
# trees (build/, build-fuzz/ and this one) do not fit ccache's default 5 GB.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$repo}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-20G}"

start=$(date +%s)
# -O1: the speed sanitizers are usually run at; -g1: line tables and function names, enough for
# symbolised reports at a fraction of full debug info. No NDEBUG: Boost's asserts stay on.
# No -Werror: GCC warns differently with instrumentation (the main build in build/ keeps it).
CC=gcc CXX=g++ cmake -S "$repo" -B "$build" -G Ninja -DSLUICE_SANITIZE="$sanitizers" \
  -DSLUICE_BUILD_BENCH=OFF -DSLUICE_INSTALL=OFF -DSLUICE_WERROR=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" >/dev/null
# Two cores and heavy Asio/Beast translation units: two jobs is the sweet spot.
ninja -C "$build" -j "$(nproc)" "${targets[@]}"
echo "sanitize: $mode: built in $(($(date +%s) - start)) s"

reports="$build/sanitizer-reports"
rm -rf "$reports"
mkdir -p "$reports"
suppressions="$repo/tools/sanitize/$mode.supp"
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:log_path=$reports/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=86"
export LSAN_OPTIONS=""
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$reports/tsan"
if [[ -f $suppressions ]]; then
  case "$mode" in
    asan) LSAN_OPTIONS="suppressions=$suppressions" ;;
    tsan) TSAN_OPTIONS+=":suppressions=$suppressions" ;;
  esac
fi

# Tests that need a stall to outlast other work lengthen it by this (tests/support/test_servers.hpp).
export SLUICE_TEST_TIME_SCALE="${SLUICE_TEST_TIME_SCALE:-$slowdown}"
# The fault soak: a quarter of its operations (every fault kind is still injected many times over);
# the plain suite runs all of them.
export SLUICE_SOAK_OPS="${SLUICE_SOAK_OPS:-500}" SLUICE_SOAK_CLI_OPS="${SLUICE_SOAK_CLI_OPS:-20}"

cd "$build"
# Tests set the environment they need; nothing ambient may leak in.
for v in $(compgen -e | grep -E '^AWS_' || true); do unset "$v"; done
start=$(date +%s)
status=0
# Instrumented code is slower (ASan about 2x, TSan 5-15x): the per-test timeout is twice the
# plain suite's. Tests pick their own shorter timeouts where they have them.
ctest --output-on-failure -j "$(nproc)" --timeout 1200 "${selection[@]}" || status=$?
echo "sanitize: $mode: tests ran in $(($(date +%s) - start)) s"

shopt -s nullglob
found=("$reports"/*)
if ((${#found[@]})); then
  echo "sanitize: $mode: ${#found[@]} sanitizer report(s):" >&2
  for f in "${found[@]}"; do
    echo "---- $f" >&2
    head -60 "$f" >&2
  done
  status=1
fi
# Reports printed by tests (a child's stderr shown with a failure, or by a passing test).
marker='runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer'
if grep -Eq "$marker" Testing/Temporary/LastTest.log 2>/dev/null; then
  echo "sanitize: $mode: reports in ctest's output ($build/Testing/Temporary/LastTest.log):" >&2
  grep -E "$marker" Testing/Temporary/LastTest.log | sort | uniq -c | head -40 >&2
  status=1
fi
((status == 0)) && echo "sanitize: $mode: no sanitizer reports"
exit "$status"
