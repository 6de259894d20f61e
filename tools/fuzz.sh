#!/usr/bin/env bash
# The libFuzzer targets of tests/fuzz (docs/reliability.md#fuzzing): builds them
# with clang, ASan and UBSan into build-fuzz/ (a tree of its own: the GCC build
# in build/ is not touched), then runs each one: its checked-in seeds
# (tests/fuzz/corpus/<name>/) first, as a regression test, then fuzzing for
# --time seconds. A crash, a sanitizer report or a violated property fails the
# script; the input is kept in build-fuzz/artifacts/.
#
#   tools/fuzz.sh [--time SECONDS] [--no-build] [TARGET ...]   (default: every target, 20 s each)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$repo/build-fuzz"

seconds=20
do_build=1
targets=()
while (($#)); do
  case "$1" in
    --time) seconds="$2"; shift 2 ;;
    --no-build) do_build=0; shift ;;
    -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done

if ((do_build)); then
  bash "$repo/tools/install-deps.sh"
  # Worktrees and clones share ccache entries when paths are relative to the repository.
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$repo}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"
  # build/, build-fuzz/, build-asan/ and build-tsan/ together do not fit ccache's default 5 GB.
  export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-20G}"
  start=$(date +%s)
  # -O1 and line tables: fast enough to fuzz, and symbolised reports. No NDEBUG: asserts stay on.
  CC=clang CXX=clang++ cmake -S "$repo" -B "$build" -G Ninja -DSLUICE_FUZZ=ON \
    -DSLUICE_BUILD_TESTS=OFF -DSLUICE_BUILD_BENCH=OFF -DSLUICE_INSTALL=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" >/dev/null
  ninja -C "$build" -j "$(nproc)" sluice_fuzzers
  echo "fuzz: built in $(($(date +%s) - start)) s"
fi

if ((${#targets[@]} == 0)); then
  for seeds in "$repo"/tests/fuzz/corpus/*/; do targets+=("$(basename "$seeds")"); done
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
mkdir -p "$build/artifacts"
failed=()
for name in "${targets[@]}"; do
  name="${name#fuzz_}"
  exe="$build/bin/fuzz_$name"
  seeds="$repo/tests/fuzz/corpus/$name"
  # New inputs go to a corpus in the build tree; the checked-in seeds stay as they are.
  found="$build/corpus/$name"
  mkdir -p "$found"
  log="$build/artifacts/$name.log"
  status=0
  "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$name-" "$found" "$seeds" >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if ((status != 0)); then
    failed+=("$name")
    echo "fuzz: $name FAILED (status $status) after ${runs:-?} executions; log: $log"
    grep -E 'ERROR|property violated|runtime error|Test unit written' "$log" | head -20 || true
  else
    printf 'fuzz: %-16s %10s executions in %s s (%s seeds)\n' "$name" "${runs:-?}" "$seconds" \
      "$(find "$seeds" -type f | wc -l)"
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
