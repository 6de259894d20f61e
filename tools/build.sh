#!/usr/bin/env bash
# Installs what is missing, then configures and builds sluice into build/.
# Used by tools/demo.sh and tools/test.sh; safe to run again at any time.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo/tools/install-deps.sh"

# ccache keyed on paths relative to the checkout, so a fresh clone elsewhere
# (CI's) reuses what an earlier build compiled.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$repo}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"
# build/, build-fuzz/, build-asan/ and build-tsan/ together do not fit ccache's default 5 GB.
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-20G}"

werror=OFF
[[ "${CI:-}" == "true" ]] && werror=ON
cmake -S "$repo" -B "$repo/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_WERROR="$werror" >/dev/null
# Two cores and heavy Asio/Beast translation units: two jobs is the sweet spot.
ninja -C "$repo/build" -j "$(nproc)"
