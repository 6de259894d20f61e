#!/usr/bin/env bash
# The whole test suite: set-up, build, then every test under ctest (unit
# tests, and integration tests against s3rver and a one-node Ceph radosgw
# started on loopback by the tests themselves).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo/tools/build.sh"
cd "$repo/build"
# Tests set the environment they need; nothing ambient may leak in.
for v in $(compgen -e | grep -E '^AWS_' || true); do unset "$v"; done
ctest --output-on-failure -j "$(nproc)" --timeout 600 "$@"
