#!/usr/bin/env bash
# Installs everything sluice needs to build and test, from Debian's packages and
# (for the s3rver test server) the npm registry. Idempotent: installs only what is
# missing, so running it on a ready machine costs a few dpkg queries.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

debian_packages=(
  # build
  cmake ninja-build g++ pkg-config ccache
  # fuzz targets (tools/fuzz.sh): clang, and libFuzzer's and the sanitizers'
  # runtimes, which clang only recommends (so --no-install-recommends skips them)
  clang libclang-rt-14-dev
  # libraries
  libboost1.81-dev libssl-dev liburing-dev libsimdjson-dev libzstd-dev
  libxxhash-dev libpugixml-dev libcli11-dev libgtest-dev libgmock-dev googletest
  libbenchmark-dev
  # Zarr v3 codecs (engine/codec): gzip, blosc, hardware CRC-32C
  zlib1g-dev libblosc-dev libisal-dev
  # test servers and peers
  radosgw ceph-mon ceph-osd ceph-common python3-botocore python3-numpy awscli openssl curl
  # macro benchmark (bench/macro/run.sh): object server, ceilings, peers, hashing
  nginx-light iperf3 wrk fio rclone xxhash iproute2 python3
)
# Node.js may come from another source than Debian (its npm then conflicts with
# Debian's npm package): ask Debian only for what is not on PATH.
command -v node >/dev/null 2>&1 || debian_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || debian_packages+=(npm)

missing=()
for p in "${debian_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  # Packages such as nginx, iperf3 and ceph would start their daemons on
  # install; the tests start their own on loopback. Keep service starts off
  # for the duration of the install.
  policy=/usr/sbin/policy-rc.d
  made_policy=""
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
    "${sudo_cmd[@]}" chmod +x "$policy"
    made_policy=1
  fi
  status=0
  "${sudo_cmd[@]}" apt-get update -qq || status=$?
  if ((status == 0)); then
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
  fi
  [[ -n $made_policy ]] && "${sudo_cmd[@]}" rm -f "$policy"
  if ((status != 0)); then
    echo "install-deps: apt-get failed (status $status) installing: ${missing[*]}" >&2
    exit "$status"
  fi
fi

# s3rver and zarrita (the Zarr interop reader, tests/interop/zarrita_read.mjs) are pinned by
# tests/servers/package-lock.json; `npm ci` again whenever the lock's content differs from the one
# installed (a stamp of its SHA-256: a fresh checkout's newer mtime alone does not reinstall, which
# would pull the modules from under a test run sharing them).
servers="$repo/tests/servers"
lock_sum="$(sha256sum "$servers/package-lock.json" | cut -d' ' -f1)"
stamp="$servers/node_modules/.sluice-lock-sha256"
if [[ ! -x "$servers/node_modules/.bin/s3rver" ]] ||
   [[ ! -f "$servers/node_modules/zarrita/package.json" ]] ||
   [[ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]]; then
  echo "install-deps: npm ci in tests/servers"
  (cd "$servers" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$stamp"
fi
