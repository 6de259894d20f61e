#!/usr/bin/env bash
# The macro benchmark: in one run on loopback, sluice next to the ceilings
# (iperf3, wrk, fio) and the peers (curl, rclone, aws cli), in one table with
# sluice's ratio to each.
#
#   bash bench/macro/run.sh [--smoke] [--rounds N] [--arrays-only | --files-only | --main-only] [--array-link RATE]
#                           [--build-dir DIR] [--work-dir DIR] [--keep]
#
# Every row (large object, puts, small objects, arrays, file datasets) runs in N rounds (default 5,
# 1 with --smoke): in each round every contender of a workload runs once, one
# after the other (sluice, its ceilings, its peers). Each row shows the median of
# its rounds with the min and max; a ratio is the ratio of the medians, and a
# target is met when that ratio meets it; the target lines also give the ratio
# in every round and in how many rounds it held. Full runs also write the table
# as JSON beside the text (DIR/bench/macro-YYYYmmdd-HHMMSS.json).
#
#   --smoke        tiny sizes, 1-second tools; under a minute; exits non-zero if
#                  any step fails (ctest runs it as bench_macro_smoke)
#   --rounds N     rounds of every row (default 5; --smoke: 1)
#   --arrays-only  only the array rows (a Zarr v3 array written and read by
#                  sluice, the raw GETs / PUTs of its stored bytes, zarrita)
#   --main-only    only the main rows (large object, puts, small objects)
#   --files-only   only the file-dataset rows (sluice files push / pull of many
#                  small and of a few large files, next to sluice cp -r and aws s3
#                  sync of the same tree, on s3rver)
#   --array-link   RATE (tc units, e.g. 2400mbit): the array rows run with loopback
#                  shaped to RATE (a tbf qdisc on lo, as root; removed afterwards,
#                  also on failure): a link slower than the CPUs can decode, where
#                  the raw GET rate is the network's and not loopback's memcpy
#   --build-dir    where bin/sluice and bin/sluice_array_bench are (default: build); full runs write their
#                  table to DIR/bench/macro-YYYYmmdd-HHMMSS.txt
#   --work-dir     parent of the temporary directory that holds the server's
#                  objects, downloaded files and fio's file (default: $TMPDIR or /tmp);
#                  put it on the disk you want measured
#   --keep         keep the temporary directory (logs, configs) for a look
#
# Servers: nginx (Debian nginx-light) serves path-style URLs
# http://127.0.0.1:PORT/<bucket>/<key> from files and takes PUTs (WebDAV). It
# ignores SigV4, so every client works against it with dummy credentials. It
# cannot list or do multipart uploads: the workloads that need those (the aws
# cli's recursive download of many objects) run against s3rver, next to sluice
# on the same s3rver, and say so. Everything listens on 127.0.0.1 only, every
# step has a time limit, and a trap stops every process and removes every
# temporary file on exit, failure or interrupt.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
lib=(/usr/bin/python3 "$here/lib.py")

mode=full
build_dir="$repo/build"
work_parent="${TMPDIR:-/tmp}"
keep=0
arrays_only=0
files_only=0
main_only=0
array_link=""
rounds_opt=""
while (($#)); do
  case "$1" in
    --smoke) mode=smoke ;;
    --build-dir) build_dir="$2"; shift ;;
    --build-dir=*) build_dir="${1#*=}" ;;
    --work-dir) work_parent="$2"; shift ;;
    --work-dir=*) work_parent="${1#*=}" ;;
    --keep) keep=1 ;;
    --rounds) rounds_opt="$2"; shift ;;
    --rounds=*) rounds_opt="${1#*=}" ;;
    --arrays-only) arrays_only=1 ;;
    --files-only) files_only=1 ;;
    --main-only) main_only=1 ;;
    --array-link) array_link="$2"; shift ;;
    --array-link=*) array_link="${1#*=}" ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [[ -n $rounds_opt && ! $rounds_opt =~ ^[1-9][0-9]*$ ]]; then
  echo "run.sh: --rounds takes a whole number of rounds, at least 1 (got '$rounds_opt')" >&2
  exit 2
fi
build_dir="$(cd "$build_dir" 2>/dev/null && pwd)" || { echo "run.sh: no build directory '$build_dir'" >&2; exit 2; }
sluice="$build_dir/bin/sluice"
array_bench="$build_dir/bin/sluice_array_bench"
node_modules="$repo/tests/servers/node_modules"

# ------------------------------------------------------------------ parameters
KiB=1024; MiB=$((1024 * KiB)); GiB=$((1024 * MiB))
if [[ $mode == smoke ]]; then
  # sluice's parts are at least 5 MiB: a 24 MiB object is 3 parts.
  LARGE_SIZE=$((24 * MiB)); LARGE_PART=$((8 * MiB)); LARGE_C=4; LARGE_BUDGET=$((64 * MiB))
  PUT_SIZE=$((2 * MiB)); PUT_PART=$((8 * MiB)); PUT_COUNT=4; PUT_C=2; PUT_BUDGET=$((32 * MiB))
  SMALL_SIZE=$((64 * KiB)); SMALL_COUNT=50; SMALL_C=16; SMALL_C_HIGH=32; SMALL_BUDGET=$((16 * MiB))
  TOOL_SECS=1; SLUICE_DURATION=0; ROUNDS=${rounds_opt:-1}; STEP_TIMEOUT=60
  FIO_BS=1M; FIO_SIZE=16M
else
  LARGE_SIZE=$((1 * GiB)); LARGE_PART=$((8 * MiB)); LARGE_C=16; LARGE_BUDGET=$((256 * MiB))
  PUT_SIZE=$((64 * MiB)); PUT_PART=$PUT_SIZE; PUT_COUNT=16; PUT_C=4; PUT_BUDGET=$((320 * MiB))
  SMALL_SIZE=$((64 * KiB)); SMALL_COUNT=10000; SMALL_C=64; SMALL_C_HIGH=256; SMALL_BUDGET=$((64 * MiB))
  TOOL_SECS=5; SLUICE_DURATION=5; ROUNDS=${rounds_opt:-5}; STEP_TIMEOUT=300
  FIO_BS=8M; FIO_SIZE=1G
fi
FIO_DEPTH=8
# File datasets: FILES_SMALL_COUNT files of FILES_SMALL_SIZE in 10 partitions, and
# FILES_LARGE_COUNT of FILES_LARGE_SIZE in 2; FILES_C transfers at once; each row
# the median of FILES_ROUNDS rounds.
if [[ $mode == smoke ]]; then
  FILES_SMALL_COUNT=40; FILES_SMALL_SIZE=$((64 * KiB)); FILES_LARGE_COUNT=2; FILES_LARGE_SIZE=$((6 * MiB))
  FILES_C=16; FILES_ROUNDS=$ROUNDS
else
  FILES_SMALL_COUNT=10000; FILES_SMALL_SIZE=$((64 * KiB)); FILES_LARGE_COUNT=16; FILES_LARGE_SIZE=$((64 * MiB))
  FILES_C=64; FILES_ROUNDS=$ROUNDS
fi
# The array: float32, shards of ARR_SHARDS elements (64 MiB decoded in the full
# run), inner chunks of ARR_CHUNKS (1 MiB), zstd level 3; ARR_SELECT is a box of
# 10% of its elements that cuts shards and inner chunks unaligned. ARR_C shards
# at once, ARR_INFLIGHT requests.
if [[ $mode == smoke ]]; then
  ARR_SHAPE=512,512; ARR_SHARDS=256,256; ARR_CHUNKS=64,64; ARR_SELECT=100:262,60:222
  ARR_C=2; ARR_INFLIGHT=4; ARR_PART=$((8 * MiB)); ARR_BUDGET=$((32 * MiB)); ARR_ROUNDS=$ROUNDS
else
  ARR_SHAPE=16384,16384; ARR_SHARDS=4096,4096; ARR_CHUNKS=512,512; ARR_SELECT=5000:10184,3000:8184
  ARR_C=4; ARR_INFLIGHT=16; ARR_PART=$((8 * MiB)); ARR_BUDGET=$((256 * MiB)); ARR_ROUNDS=$ROUNDS
fi
human() { numfmt --to=iec-i --suffix=B "$1"; }

# ------------------------------------------------------------------ preflight
missing=()
need() {  # command, Debian package
  if [[ $1 == /* ]]; then [[ -x $1 ]] || missing+=("$1 (Debian package $2)")
  else command -v "$1" >/dev/null 2>&1 || missing+=("$1 (Debian package $2)"); fi
}
need /usr/bin/python3 python3
need nginx nginx-light
need iperf3 iperf3
need wrk wrk
need fio fio
need curl curl
need rclone rclone
need xxhsum xxhash
need node nodejs
need timeout coreutils
need numfmt coreutils
need ss iproute2
# The Debian aws cli (a pip one earlier on PATH may differ in behaviour).
if [[ -x /usr/bin/aws ]]; then aws=/usr/bin/aws; elif command -v aws >/dev/null 2>&1; then aws="$(command -v aws)"; else
  aws=""; missing+=("aws (Debian package awscli)"); fi
s3rver_js="$repo/tests/servers/node_modules/s3rver/bin/s3rver.js"
[[ -f $s3rver_js ]] || missing+=("s3rver (npm, tests/servers/package-lock.json)")
[[ -f $node_modules/zarrita/package.json ]] || missing+=("zarrita (npm, tests/servers/package-lock.json)")
if [[ -n $array_link ]]; then
  need tc iproute2
  [[ $(id -u) -eq 0 ]] || { echo "run.sh: --array-link shapes loopback with tc: run as root" >&2; exit 2; }
  if tc qdisc show dev lo 2>/dev/null | grep -qv '^qdisc noqueue'; then
    echo "run.sh: --array-link: lo already has a qdisc ($(tc qdisc show dev lo | head -n 1)); not replacing it" >&2
    exit 2
  fi
fi
if ((${#missing[@]})); then
  echo "run.sh: missing: ${missing[*]}" >&2
  echo "run.sh: run 'bash tools/install-deps.sh' (as root or with sudo), then try again." >&2
  exit 1
fi
if [[ ! -x $sluice ]]; then
  echo "run.sh: no sluice binary at $sluice (build it: ninja -C $build_dir sluice)" >&2
  exit 1
fi
if [[ ! -x $array_bench ]]; then
  echo "run.sh: no sluice_array_bench at $array_bench (build it: ninja -C $build_dir sluice_array_bench)" >&2
  exit 1
fi
if ! "$sluice" bench --help >/dev/null 2>&1; then
  echo "run.sh: $sluice has no 'bench' verb (rebuild from a current tree)" >&2
  exit 1
fi

# ------------------------------------------------------------------ work dir, cleanup
mkdir -p "$work_parent"
work="$(mktemp -d "$work_parent/sluice-macro.XXXXXX")"
pids=()
watchdog_pid=""
iperf_pidfile="$work/iperf3.pid"
cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  [[ -n $watchdog_pid ]] && kill -KILL "$watchdog_pid" 2>/dev/null
  if [[ -s $iperf_pidfile ]]; then kill "$(cat "$iperf_pidfile")" 2>/dev/null; fi
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 30); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  unshape_lo
  if ((keep)); then echo "run.sh: kept $work" >&2; else rm -rf "$work"; fi
  exit "$rc"
}
# --array-link's tbf on lo: added by shape_lo, removed by unshape_lo (and by
# the cleanup and the watchdog, which find $work/lo-shaped).
shape_lo() {
  [[ -n $array_link ]] || return 0
  tc qdisc add dev lo root tbf rate "$array_link" burst 4mb latency 100ms ||
    die "tc could not shape lo to '$array_link'"
  : >"$work/lo-shaped"
}
unshape_lo() {
  [[ -f $work/lo-shaped ]] || return 0
  tc qdisc del dev lo root 2>/dev/null
  rm -f "$work/lo-shaped"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# If this script is killed outright (SIGKILL, e.g. a ctest timeout), the trap
# cannot run: a watchdog stops the servers and removes the work dir instead.
(
  trap '' INT TERM HUP
  while kill -0 $$ 2>/dev/null; do sleep 1; done
  if [[ -s $iperf_pidfile ]]; then kill "$(cat "$iperf_pidfile")" 2>/dev/null; fi
  if [[ -f $work/server.pids ]]; then while read -r p; do kill -TERM "$p" 2>/dev/null; done <"$work/server.pids"; fi
  [[ -f $work/lo-shaped ]] && tc qdisc del dev lo root
  sleep 2
  ((keep)) || rm -rf "$work"
) >/dev/null 2>&1 &
watchdog_pid=$!
disown "$watchdog_pid"  # no "Killed" notice when cleanup stops it

www="$work/www"          # nginx's root: /<bucket>/<key> are files here
out="$work/out"          # where downloads (and fio) write
logs="$work/logs"
results="$work/results.jsonl"
main_rounds="$work/main-rounds.jsonl"
round=0
mkdir -p "$www/bench" "$www/.tmp" "$out" "$logs" "$work/nginx" "$work/s3rver"
: >"$results"
: >"$main_rounds"

# Clients talk to loopback servers with dummy credentials and no user configuration.
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
export AWS_REQUEST_CHECKSUM_CALCULATION=when_required AWS_RESPONSE_CHECKSUM_VALIDATION=when_required
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_CA_BUNDLE
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export RCLONE_CONFIG="$work/rclone.conf"
: >"$RCLONE_CONFIG"

step_failed=0
say() { printf '%s\n' "$*" >&2; }
die() { say "run.sh: $*"; exit 1; }

# measure ID WORKLOAD KIND LABEL [lib.py run options...] -- CMD...
# One run of a main row, recorded as ID#$round in $main_rounds (the medians of
# the rounds go into $results at the end).
measure() {
  local id=$1 workload=$2 kind=$3 label=$4
  shift 4
  "${lib[@]}" run --results "$main_rounds" --logdir "$logs" --id "$id#$round" --workload "$workload" --kind "$kind" \
    --label "$label" --timeout "$STEP_TIMEOUT" "$@" || step_failed=1
}
na() {  # ID WORKLOAD KIND LABEL SERVER REASON
  "${lib[@]}" na --results "$results" --id "$1" --workload "$2" --kind "$3" --label "$4" --server "$5" --reason "$6"
}

# ------------------------------------------------------------------ nginx
write_nginx_conf() {  # PORT; hash headers come from $large_hash $small_hash
  local user_line=""
  [[ $(id -u) -eq 0 ]] && user_line="user root root;"  # workers must write into the temp dir
  local common="dav_methods PUT DELETE; create_full_put_path on; dav_access user:rw group:r all:r; autoindex on;"
  cat >"$work/nginx/nginx.conf" <<EOF
# Generated by bench/macro/run.sh
$user_line
worker_processes 2;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  client_max_body_size 0;
  client_body_buffer_size 1m;
  client_body_temp_path $www/.tmp;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  types { }
  default_type application/octet-stream;
  log_format arrays '\$msec \$request_method \$status \$body_bytes_sent "\$http_range"';
  server {
    listen 127.0.0.1:$1 backlog=4096;
    root $www;
    location / { $common }
    # The recorded XXH3 that S3 would return as user metadata, so that sluice
    # verifies what it reads from nginx as it does from S3.
    location /bench/large/ { $common ${large_hash:+add_header x-amz-meta-sluice-xxh3 "$large_hash";} }
    location /bench/small/ { $common ${small_hash:+add_header x-amz-meta-sluice-xxh3 "$small_hash";} }
    location /bench/tamper/ { $common add_header x-amz-meta-sluice-xxh3 "0123456789abcdef"; }
    # The array rows count requests server-side (one line per request).
    location /bench/array/ { $common access_log $work/nginx/array-access.log arrays; }
  }
}
EOF
}

large_hash=""
small_hash=""
nginx_pid=""
start_nginx() {
  local attempt
  for attempt in 1 2 3; do
    nginx_port="$("${lib[@]}" freeport)"
    write_nginx_conf "$nginx_port"
    nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" >>"$logs/nginx.out" 2>&1 &
    nginx_pid=$!
    pids+=("$nginx_pid")
    echo "$nginx_pid" >>"$work/server.pids"
    if "${lib[@]}" wait-port "$nginx_port" 5 && kill -0 "$nginx_pid" 2>/dev/null; then
      nginx_url="http://127.0.0.1:$nginx_port"
      return 0
    fi
    kill "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
  done
  die "nginx did not start: $(tail -n 3 "$work/nginx/error.log" 2>/dev/null)"
}
reload_nginx() {  # after the hash headers changed
  write_nginx_conf "$nginx_port"
  nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" -t >>"$logs/nginx.out" 2>&1 ||
    die "nginx rejects its configuration: $(tail -n 3 "$logs/nginx.out")"
  kill -HUP "$nginx_pid"
  # New workers answer with the header once the reload is done.
  local probe=$1 value=$2 i
  for i in $(seq 50); do
    if curl -sfI "$nginx_url/$probe" | tr -d '\r' | grep -qi "^x-amz-meta-sluice-xxh3: $value\$"; then return 0; fi
    sleep 0.1
  done
  die "nginx did not pick up the new configuration"
}

# ------------------------------------------------------------------ s3rver
start_s3rver() {
  node --openssl-legacy-provider "$s3rver_js" --directory "$work/s3rver" --address 127.0.0.1 --port 0 \
    >"$logs/s3rver.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  echo "$pid" >>"$work/server.pids"
  local i port=""
  for i in $(seq 100); do
    port="$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$logs/s3rver.log" | head -n 1)"
    [[ -n $port ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $port ]] && "${lib[@]}" wait-port "$port" 5 || die "s3rver did not start: $(tail -n 3 "$logs/s3rver.log")"
  s3rver_url="http://127.0.0.1:$port"
  timeout 30 "$sluice" --endpoint-url "$s3rver_url" -q mb s3://bench >>"$logs/s3rver-mb.log" 2>&1 ||
    die "cannot create the bucket on s3rver: $(tail -n 2 "$logs/s3rver-mb.log")"
}

# ------------------------------------------------------------------ helpers
dur_args=()
((SLUICE_DURATION > 0)) && dur_args=(--duration "$SLUICE_DURATION")

# Checks run after each peer repetition (untimed): the peer really moved the data.
check_file() { echo "test \"\$(stat -c %s '$1' 2>/dev/null)\" = $2 || { echo '$1: not $2 bytes'; exit 1; }"; }
check_dir() {  # DIR COUNT SIZE: COUNT files of SIZE bytes
  echo "n=\$(find '$1' -type f -size $3c 2>/dev/null | wc -l); test \"\$n\" = $2 || { echo \"\$n of $2 objects of $3 bytes in $1\"; exit 1; }"
}

aws_config() {  # FILE MAX_CONCURRENT THRESHOLD CHUNK
  cat >"$1" <<EOF
[default]
region = us-east-1
s3 =
  max_concurrent_requests = $2
  multipart_threshold = $3
  multipart_chunksize = $4
EOF
}

# ------------------------------------------------------------------ start
start_ts="$(date +%Y%m%d-%H%M%S)"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
say "sluice macro benchmark ($mode): work dir $work"
start_nginx
say "nginx at $nginx_url (root $www)"
start_s3rver
say "s3rver at $s3rver_url"
on_nginx=(timeout -k 5 "$STEP_TIMEOUT" "$sluice" --endpoint-url "$nginx_url" bench)
on_s3rver=(timeout -k 5 "$STEP_TIMEOUT" "$sluice" --endpoint-url "$s3rver_url" bench)

# ------------------------------------------------------------------ arrays
# A float32 Zarr v3 array, sharded (zstd inner chunks, a CRC-32C index at the
# end), on nginx. Rows: sluice (zarr::array over the S3 store); the ceiling, the
# same scheduler moving the stored bytes alone (sluice_array_bench raw-get: the
# shards whole, or the selection's inner-chunk ranges with read_ranges; raw-put:
# the same shard bytes PUT again), no encode or decode; zarrita (FetchStore over
# HTTP, bench/macro/zarrita_array.mjs). zarrita 0.7.5 cannot write shards, so
# writes have no peer. The tools take turns round after round; each row is the
# median of its rounds. nginx logs every request under /bench/array/, so the
# rows count them server-side too. Every read is checked against the checksum
# of the data written.
array_rows() {
  say "arrays:"
  local abench=(timeout -k 5 "$STEP_TIMEOUT" "$array_bench" --endpoint-url "$nginx_url")
  local common=(--concurrency "$ARR_C" --in-flight "$ARR_INFLIGHT" --part-size "$ARR_PART" --memory-budget "$ARR_BUDGET")
  local layout=(--shape "$ARR_SHAPE" --shards "$ARR_SHARDS" --chunks "$ARR_CHUNKS")
  local rounds="$work/array-rounds.jsonl" log="$work/nginx/array-access.log" src=s3://bench/array/src.zarr
  : >"$rounds"
  ameasure() {  # ID ROUND WORKLOAD KIND LABEL [lib.py run options...] -- CMD...
    local id=$1 round=$2 workload=$3 kind=$4 label=$5
    shift 5
    "${lib[@]}" run --results "$rounds" --logdir "$logs" --id "$id#$round" --workload "$workload" --kind "$kind" \
      --label "$label" --timeout "$STEP_TIMEOUT" --parse array --access-log "$log" "$@" || step_failed=1
  }
  # The array everything reads: written once, with the checksums of the whole and of the selection.
  if ! "${abench[@]}" write "$src" "${layout[@]}" --select "$ARR_SELECT" "${common[@]}" \
      >"$logs/array-setup.out" 2>"$logs/array-setup.err"; then
    "${lib[@]}" na --results "$results" --id sluice.array_read --workload array_read --kind sluice \
      --label "sluice zarr::array read" --status failed --reason "writing the array failed: $(tail -n 2 "$logs/array-setup.err")"
    step_failed=1
    return 0
  fi
  local sums shards sum_whole sum_sel
  sums="$(/usr/bin/python3 -c 'import json, sys
d = json.loads(open(sys.argv[1]).read().splitlines()[-1])
print(repr(d["checksum"]), repr(d["checksum_selection"]), d["shards"])' "$logs/array-setup.out")"
  read -r sum_whole sum_sel shards <<<"$sums"
  local check_whole check_sel check_w check_p
  printf -v check_whole '%q %q checksum "$OUT" %q' "${lib[@]}" "$sum_whole"
  printf -v check_sel '%q %q checksum "$OUT" %q' "${lib[@]}" "$sum_sel"
  check_w="$(check_dir "$www/bench/array/w.zarr/c" "$shards" "+0")"
  check_p="$(check_dir "$www/bench/array/p.zarr/c" "$shards" "+0")"
  local round wl sel check
  shape_lo
  for ((round = 1; round <= ARR_ROUNDS; round++)); do
    for wl in array_read array_sel; do
      sel=() check=$check_whole
      [[ $wl == array_sel ]] && sel=(--select "$ARR_SELECT") check=$check_sel
      ameasure "sluice.$wl" "$round" "$wl" sluice "sluice zarr::array::read, $ARR_C shards" --check "$check" -- \
        "${abench[@]}" read "$src" "${sel[@]}" "${common[@]}"
      ameasure "raw.$wl" "$round" "$wl" ceiling "raw GETs, same scheduler, no decode" --vs "sluice.$wl" -- \
        "${abench[@]}" raw-get "$src" "${sel[@]}" "${common[@]}"
      ameasure "mem.$wl" "$round" "$wl" ceiling "same read from memory, no network" --vs "sluice.$wl" \
        --check "$check" -- "${abench[@]}" read-memory "$src" "${sel[@]}" "${common[@]}"
      ameasure "zarrita.$wl" "$round" "$wl" peer "zarrita 0.7.5 FetchStore (node)" --vs "sluice.$wl" \
        --check "$check" -- \
        timeout -k 5 "$STEP_TIMEOUT" node "$here/zarrita_array.mjs" --modules "$node_modules" \
        "$nginx_url/bench/array/src.zarr" "${sel[@]}"
    done
    ameasure sluice.array_write "$round" array_write sluice "sluice zarr::array::write, $ARR_C shards" \
      --before "rm -rf '$www/bench/array/w.zarr'" --check "$check_w" -- \
      "${abench[@]}" write s3://bench/array/w.zarr "${layout[@]}" "${common[@]}"
    ameasure raw.array_write "$round" array_write ceiling "raw PUTs, same scheduler, no encode" \
      --vs sluice.array_write --before "rm -rf '$www/bench/array/p.zarr'" --check "$check_p" -- \
      "${abench[@]}" raw-put "$src" --to array/p.zarr "${common[@]}"
  done
  unshape_lo
  rm -rf "$www/bench/array/w.zarr" "$www/bench/array/p.zarr"
  "${lib[@]}" median --rounds "$rounds" --results "$results"
}
((files_only || main_only)) || array_rows

# ------------------------------------------------------------------ file datasets
# `sluice files push` and `pull` of a dataset next to `sluice cp -r` of the same
# tree (the same transfers without the manifest, the hashing and the checks: the
# manifest's overhead) and `aws s3 sync`, all on s3rver (it lists; nginx cannot),
# each destination emptied before each run (untimed) so every tool moves every
# file. Downloads end durable: sluice fsyncs each file, aws is followed by a
# syncfs. The tools take turns round after round; each row is the median.
files_rows() {
  say "file datasets (s3rver):"
  local rounds="$work/files-rounds.jsonl" fhome="$work/files-home" fpull="$work/files-pull" src="$work/files-src"
  : >"$rounds"
  local S=(timeout -k 5 "$STEP_TIMEOUT" env SLUICE_HOME="$fhome" "$sluice" --endpoint-url "$s3rver_url"
    --concurrency "$FILES_C" -q)
  local P=(timeout -k 5 "$STEP_TIMEOUT" env SLUICE_HOME="$fpull" "$sluice" --endpoint-url "$s3rver_url"
    --concurrency "$FILES_C" -q)
  local A=(timeout -k 5 "$STEP_TIMEOUT" env AWS_CONFIG_FILE="$work/aws-files.cfg" "$aws" --endpoint-url "$s3rver_url")
  aws_config "$work/aws-files.cfg" "$FILES_C" $((8 * MiB)) $((8 * MiB))
  fmeasure() {  # ID ROUND WORKLOAD KIND LABEL [lib.py run options...] -- CMD...
    local id=$1 round=$2 workload=$3 kind=$4 label=$5
    shift 5
    "${lib[@]}" run --results "$rounds" --logdir "$logs" --id "$id#$round" --workload "$workload" --kind "$kind" \
      --label "$label" --timeout "$STEP_TIMEOUT" --server s3rver "$@" || step_failed=1
  }
  local set count size parts
  for set in small large; do
    if [[ $set == small ]]; then count=$FILES_SMALL_COUNT size=$FILES_SMALL_SIZE parts=10
    else count=$FILES_LARGE_COUNT size=$FILES_LARGE_SIZE parts=2; fi
    /usr/bin/python3 - "$src/$set" "$count" "$size" "$parts" <<'PY'
import os, sys
root, count, size, parts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
block = os.urandom(size)
for i in range(count):
    d = os.path.join(root, "data", "p%d" % (i % parts))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f-%05d" % i), "wb") as f:
        f.write(i.to_bytes(8, "little") + block[8:])  # distinct files
PY
    "${S[@]}" files register "$src/$set" "$set" --force >>"$logs/files-setup.log" 2>&1 ||
      { step_failed=1; say "  FAILED  registering the $set dataset: $(tail -n 2 "$logs/files-setup.log")"; return 0; }
  done
  local round bytes tree check rm_remote
  for ((round = 1; round <= FILES_ROUNDS; round++)); do
    for set in small large; do
      if [[ $set == small ]]; then count=$FILES_SMALL_COUNT size=$FILES_SMALL_SIZE
      else count=$FILES_LARGE_COUNT size=$FILES_LARGE_SIZE; fi
      bytes=$((count * size)) tree="$fhome/datasets/$set"
      rm_remote="timeout -k 5 $STEP_TIMEOUT $sluice --endpoint-url $s3rver_url -q rm -r"
      fmeasure "files.push_$set" "$round" "files_push_$set" sluice "sluice files push" --bytes "$bytes" \
        --requests "$count" --before "$rm_remote s3://bench/files/$set" -- \
        "${S[@]}" files push "$set" --remote s3://bench/files
      fmeasure "cpr.push_$set" "$round" "files_push_$set" ceiling "sluice cp -r (same tree)" --bytes "$bytes" \
        --requests "$count" --vs "files.push_$set" --before "$rm_remote s3://bench/cpr/$set" -- \
        "${S[@]}" cp -r "$tree" "s3://bench/cpr/$set"
      fmeasure "aws.push_$set" "$round" "files_push_$set" peer "aws s3 sync (c=$FILES_C)" --bytes "$bytes" \
        --requests "$count" --vs "files.push_$set" --before "$rm_remote s3://bench/aws/$set" -- \
        "${A[@]}" s3 sync "$tree" "s3://bench/aws/$set" --only-show-errors
      check="$(check_dir "$fpull/datasets/$set/data" "$count" "$size")"
      fmeasure "files.pull_$set" "$round" "files_pull_$set" sluice "sluice files pull" --bytes "$bytes" \
        --requests "$count" --before "rm -rf '$fpull'" --check "$check" -- \
        "${P[@]}" files pull "$set" --remote s3://bench/files
      fmeasure "cpr.pull_$set" "$round" "files_pull_$set" ceiling "sluice cp -r (same objects)" --bytes "$bytes" \
        --requests "$count" --vs "files.pull_$set" --before "rm -rf '$out/cpr-$set'" \
        --check "$(check_dir "$out/cpr-$set" "$count" "$size")" -- \
        "${S[@]}" cp -r "s3://bench/cpr/$set" "$out/cpr-$set"
      fmeasure "aws.pull_$set" "$round" "files_pull_$set" peer "aws s3 sync (c=$FILES_C), syncfs" --bytes "$bytes" \
        --requests "$count" --vs "files.pull_$set" --before "rm -rf '$out/aws-$set'" \
        --check "$(check_dir "$out/aws-$set" "$count" "$size")" -- \
        bash -c '"${@:3}" s3 sync "$1" "$2" --only-show-errors && sync -f "$2"' _ "s3://bench/aws/$set" \
        "$out/aws-$set" "${A[@]}"
    done
  done
  rm -rf "$fpull" "$out"/cpr-* "$out"/aws-* "$src"
  "${lib[@]}" median --rounds "$rounds" --results "$results"
}
((arrays_only || main_only)) || files_rows

# ------------------------------------------------------------------ report
# (called at the end, or right after the array rows with --arrays-only)
finish() {
  local standard=""
  ((arrays_only || files_only)) || standard="large object $(human "$LARGE_SIZE") in $(human "$LARGE_PART") parts, concurrency $LARGE_C, \
budget $(human "$LARGE_BUDGET"); puts $put_label, concurrency $PUT_C, budget $(human "$PUT_BUDGET"); small $small_label, \
concurrency $SMALL_C and $SMALL_C_HIGH, budget $(human "$SMALL_BUDGET")
Every row is the median of $ROUNDS rounds (min and max in its notes); in each round the contenders of a workload run one after the other; sluice GETs: $( ((SLUICE_DURATION > 0)) && echo "each run repeats for ${SLUICE_DURATION} s" || echo "one pass"); \
ceilings: ${TOOL_SECS} s runs (fio: $FIO_SIZE).
"
  local array_line="" files_line=""
  ((files_only || main_only)) || array_line="array: float32 [$ARR_SHAPE], shards [$ARR_SHARDS], inner chunks [$ARR_CHUNKS], zstd 3, CRC-32C index; selection [$ARR_SELECT]; \
$ARR_C shards at once, $ARR_INFLIGHT requests in flight, $(human "$ARR_PART") parts, budget $(human "$ARR_BUDGET"); each array row the median of $ARR_ROUNDS rounds.${array_link:+
Array rows on loopback shaped to $array_link (tc tbf on lo, --array-link).}
"
  ((arrays_only || main_only)) || files_line="files: $FILES_SMALL_COUNT x $(human "$FILES_SMALL_SIZE") in 10 partitions, $FILES_LARGE_COUNT x $(human "$FILES_LARGE_SIZE") in 2; \
$FILES_C transfers at once; each files row the median of $FILES_ROUNDS rounds, on s3rver.
"
  title="sluice macro benchmark ($mode), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r), load average at start $load_start, at end $(cut -d' ' -f1-3 /proc/loadavg)
sluice: $sluice ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?') + working tree)
${standard}${array_line}${files_line}Server: nginx unless noted.
"
  set +e
  smoke_flag=()
  [[ $mode == smoke ]] && smoke_flag=(--smoke)
  "${lib[@]}" report --results "$results" --title "$title" "${smoke_flag[@]}" --json-out "$work/table.json" \
    --small-c "$SMALL_C" --small-c-high "$SMALL_C_HIGH" \
    >"$work/table.txt"
  report_rc=$?
  set -e
  cat "$work/table.txt"
  if [[ $mode == full ]]; then
    mkdir -p "$build_dir/bench"
    saved="$build_dir/bench/macro-$start_ts.txt"
    cp "$work/table.txt" "$saved"
    cp "$work/table.json" "${saved%.txt}.json"
    echo
    echo "results written to $saved and ${saved%.txt}.json"
  fi
  if ((step_failed || report_rc)); then
    say "run.sh: some steps failed (see the table; logs in $work/logs with --keep)"
    exit 1
  fi
  exit 0
}
if ((arrays_only || files_only)); then finish; fi

# ------------------------------------------------------------------ set-up (untimed, once)
# The large object: one random part repeated, written straight into nginx's root
# (nginx cannot take the multipart upload sluice would use for it).
mkdir -p "$www/bench/large" "$www/bench/tamper"
large_key=bench/large/obj-000000
large_hash="$("${lib[@]}" patterned "$www/$large_key" "$LARGE_SIZE" "$LARGE_PART")"
head -c "$SMALL_SIZE" /dev/urandom >"$www/bench/tamper/obj-000000"
reload_nginx "$large_key" "$large_hash"
cat "$www/$large_key" >/dev/null  # in the page cache, as the later reads will find it

iperf_port="$("${lib[@]}" freeport)"
iperf_listening() {  # no test connection: iperf3 would count it as a client
  local i
  for i in $(seq 50); do
    ss -Hltn "sport = :$iperf_port" 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  return 1
}
have_iperf=0
if iperf3 -s -B 127.0.0.1 -p "$iperf_port" -D -I "$iperf_pidfile" --logfile "$logs/iperf3-server.log" &&
   iperf_listening; then
  have_iperf=1
else
  "${lib[@]}" na --results "$results" --id iperf3 --workload net --kind ceiling --label "iperf3" --server loopback \
    --status failed --reason "iperf3 server did not start" >/dev/null
  step_failed=1
fi

# wrk: the same requests sluice makes: ranged GETs of one part at the same
# concurrency for the large object; the small objects in turn.
wrk_done='done = function(s, latency, requests)
  local e = s.errors
  io.write(string.format('"'"'{"wrk":1,"requests":%.0f,"bytes":%.0f,"duration_us":%.0f,"errors":%.0f}\n'"'"',
    s.requests, s.bytes, s.duration, e.connect + e.read + e.write + e.status + e.timeout))
end'
cat >"$work/wrk-large.lua" <<LUA
local size, part, path = $LARGE_SIZE, $LARGE_PART, "/$large_key"
local n = math.floor((size + part - 1) / part)
local i = 0
request = function()
  local off = (i % n) * part
  i = i + 1
  local last = math.min(off + part, size) - 1
  return wrk.format("GET", path, { ["Range"] = string.format("bytes=%.0f-%.0f", off, last) })
end
$wrk_done
LUA
cat >"$work/wrk-small.lua" <<LUA
local count = $SMALL_COUNT
local i = 0
request = function()
  local path = string.format("/bench/small/obj-%06d", i % count)
  i = i + 1
  return wrk.format("GET", path)
end
$wrk_done
LUA
wrk_threads=2

large_args=(--size "$LARGE_SIZE" --count 1 --concurrency "$LARGE_C" --part-size "$LARGE_PART" --memory-budget "$LARGE_BUDGET")
# Puts: one PUT per object (a part at least as large as the object: nginx takes no multipart).
put_args=(--size "$PUT_SIZE" --count "$PUT_COUNT" --concurrency "$PUT_C" --part-size "$PUT_PART" --memory-budget "$PUT_BUDGET")
put_label="$PUT_COUNT x $(human "$PUT_SIZE")"
put_src="$work/put-src"
mkdir -p "$put_src"
head -c "$PUT_SIZE" /dev/urandom >"$put_src/obj-000000"
for ((i = 1; i < PUT_COUNT; i++)); do ln "$put_src/obj-000000" "$put_src/$(printf 'obj-%06d' "$i")"; done
{
  for ((i = 0; i < PUT_COUNT; i++)); do
    printf 'upload-file = "%s/obj-%06d"\nurl = "%s/bench/put-curl/obj-%06d"\n' "$put_src" "$i" "$nginx_url" "$i"
  done
} >"$work/curl-put.cfg"
put_bytes=$((PUT_SIZE * PUT_COUNT))

# Small objects: sluice writes them (one PUT each, its own content); then nginx
# is told their recorded hash (they all hold the same bytes) and the measured
# runs read them verified.
small_args=(--size "$SMALL_SIZE" --count "$SMALL_COUNT" --concurrency "$SMALL_C" --part-size "$LARGE_PART" --memory-budget "$SMALL_BUDGET")
small_high_args=(--size "$SMALL_SIZE" --count "$SMALL_COUNT" --concurrency "$SMALL_C_HIGH" --part-size "$LARGE_PART" --memory-budget "$SMALL_BUDGET")
small_label="$SMALL_COUNT x $(human "$SMALL_SIZE")"
small_bytes=$((SMALL_SIZE * SMALL_COUNT))
have_small=0
if timeout -k 5 "$STEP_TIMEOUT" "$sluice" --endpoint-url "$nginx_url" bench get "${small_args[@]}" --json s3://bench/small \
    >"$logs/sluice-small-setup.out" 2>"$logs/sluice-small-setup.err"; then
  first="$www/bench/small/obj-000000"
  last="$www/bench/small/$(printf 'obj-%06d' $((SMALL_COUNT - 1)))"
  cmp -s "$first" "$last" || die "the small bench objects differ; cannot give nginx one recorded hash"
  small_hash="$("${lib[@]}" recorded-hash "$first" 0)"
  reload_nginx bench/small/obj-000000 "$small_hash"
  have_small=1
  {
    for ((i = 0; i < SMALL_COUNT; i++)); do
      printf 'url = "%s/bench/small/obj-%06d"\noutput = "/dev/null"\n' "$nginx_url" "$i"
    done
  } >"$work/curl-small.cfg"
else
  reason="writing the objects failed: $(tail -n 2 "$logs/sluice-small-setup.err" | tr '\n' ' ')"
  for row in "sluice.small|sluice|sluice bench get -> memory" "sluice.small_files|sluice|sluice bench get -> files" \
             "wrk.small|ceiling|wrk -c$SMALL_C" "sluice.small_high|sluice|sluice bench get -> memory (c=$SMALL_C_HIGH)" \
             "wrk.small_high|ceiling|wrk -c$SMALL_C_HIGH" "curl.small|peer|curl --parallel-max $SMALL_C" \
             "rclone.small|peer|rclone copy (http)"; do
    IFS='|' read -r rid rkind rlabel <<<"$row"
    "${lib[@]}" na --results "$results" --id "$rid" --workload small --kind "$rkind" --label "$rlabel" \
      --unit req/s --status failed --reason "$reason"
  done
  step_failed=1
fi

# Integrity tripwire (once): nginx announces a wrong hash for this object; sluice must refuse it.
set +e
timeout -k 5 "$STEP_TIMEOUT" "$sluice" --endpoint-url "$nginx_url" bench get --size "$SMALL_SIZE" --count 1 --concurrency 1 \
  --json s3://bench/tamper >"$logs/tripwire.out" 2>"$logs/tripwire.err"
trip_rc=$?
set -e
if ((trip_rc != 0)) && grep -qi "integrity\|does not match" "$logs/tripwire.err" "$logs/tripwire.out"; then
  "${lib[@]}" na --results "$results" --id sluice.tripwire --workload tripwire --kind sluice --status ok \
    --label "sluice bench get, wrong recorded hash" --reason "rejected: $(head -n 1 "$logs/tripwire.err" | cut -c1-120)"
else
  "${lib[@]}" na --results "$results" --id sluice.tripwire --workload tripwire --kind sluice --status failed \
    --label "sluice bench get, wrong recorded hash" --reason "not rejected (exit $trip_rc)"
  step_failed=1
fi

large_url="$nginx_url/$large_key"
aws_config "$work/aws-get.cfg" "$LARGE_C" "$LARGE_PART" "$LARGE_PART"
aws_config "$work/aws-put.cfg" "$PUT_C" $((2 * PUT_SIZE)) "$PUT_SIZE"
aws_config "$work/aws-small.cfg" "$SMALL_C" "$LARGE_PART" "$LARGE_PART"

# ------------------------------------------------------------------ one round
# Every contender of every workload once, each workload's contenders one after
# the other (sluice, its ceilings, its peers), so that a machine that slows
# down or speeds up meets them all alike. run.sh runs $ROUNDS rounds.
main_round() {
  say "round $round of $ROUNDS:"
  # GET large -> memory
  measure sluice.large_mem large_mem sluice "sluice bench get -> memory" --parse sluice -- \
    "${on_nginx[@]}" get --json "${large_args[@]}" "${dur_args[@]}" s3://bench/large
  if ((have_iperf)); then
    measure iperf3 net ceiling "iperf3 -t $TOOL_SECS (1 TCP stream)" --server loopback --parse iperf3 \
      --vs sluice.large_mem -- \
      timeout -k 5 "$STEP_TIMEOUT" iperf3 -c 127.0.0.1 -p "$iperf_port" -t "$TOOL_SECS" -J
  fi
  measure wrk.large large_mem ceiling "wrk -c$LARGE_C, $(human "$LARGE_PART") ranges" --parse wrk --vs sluice.large_mem -- \
    timeout -k 5 "$STEP_TIMEOUT" wrk -t "$wrk_threads" -c "$LARGE_C" -d "${TOOL_SECS}s" --timeout 30s \
    -s "$work/wrk-large.lua" "$nginx_url"
  measure curl.large_mem large_mem peer "curl -o /dev/null" --bytes "$LARGE_SIZE" --vs sluice.large_mem \
    --check "test \"\$(cat \"\$OUT\")\" = $LARGE_SIZE" -- \
    curl -sS --fail -o /dev/null -w '%{size_download}' "$large_url"
  measure rclone.large_mem large_mem peer "rclone cat (http) > /dev/null" --bytes "$LARGE_SIZE" \
    --vs sluice.large_mem -- \
    bash -c 'rclone cat --http-url "$1" ":http:$2" >/dev/null' _ "$nginx_url" "$large_key"
  measure aws.large_mem large_mem peer "aws s3 cp - > /dev/null (c=$LARGE_C)" --bytes "$LARGE_SIZE" \
    --vs sluice.large_mem -- \
    bash -c 'AWS_CONFIG_FILE="$1" "$2" --endpoint-url "$3" s3 cp "s3://$4" - >/dev/null' _ \
    "$work/aws-get.cfg" "$aws" "$nginx_url" "$large_key"

  # GET large -> file (each peer with an fsync of the file at the end, as sluice does);
  # fio writes in the directory sluice downloads into ($out), and fsyncs at the end as sluice does.
  measure sluice.large_file large_file sluice "sluice bench get -> file" --parse sluice \
    --before "rm -rf '$out/sluice-large'" -- \
    "${on_nginx[@]}" get --json "${large_args[@]}" "${dur_args[@]}" --output-dir "$out/sluice-large" s3://bench/large
  rm -rf "$out/sluice-large"
  measure fio large_file ceiling "fio O_DIRECT io_uring bs=$FIO_BS qd=$FIO_DEPTH" --server disk --parse fio \
    --vs sluice.large_file --before "rm -f '$out/fio-seqwrite'" -- \
    timeout -k 5 "$STEP_TIMEOUT" fio --name=seqwrite --filename="$out/fio-seqwrite" --ioengine=io_uring --direct=1 \
    --rw=write --bs="$FIO_BS" --size="$FIO_SIZE" --iodepth="$FIO_DEPTH" --numjobs=1 --end_fsync=1 --output-format=json
  rm -f "$out/fio-seqwrite"
  measure curl.large_file large_file peer "curl -o file, fsync" --bytes "$LARGE_SIZE" --vs sluice.large_file \
    --before "rm -f '$out/curl.bin'" --check "$(check_file "$out/curl.bin" "$LARGE_SIZE")" -- \
    bash -c 'curl -sS --fail -o "$1" "$2" && sync "$1"' _ "$out/curl.bin" "$large_url"
  rm -f "$out/curl.bin"
  measure rclone.large_file large_file peer "rclone copyto (http, $LARGE_C streams), fsync" \
    --bytes "$LARGE_SIZE" --vs sluice.large_file --before "rm -f '$out/rclone.bin'" \
    --check "$(check_file "$out/rclone.bin" "$LARGE_SIZE")" -- \
    bash -c 'rclone copyto --http-url "$1" ":http:$2" "$3" --multi-thread-streams "$4" --multi-thread-cutoff 1M && sync "$3"' _ \
    "$nginx_url" "$large_key" "$out/rclone.bin" "$LARGE_C"
  rm -f "$out/rclone.bin"
  measure aws.large_file large_file peer "aws s3 cp to file (c=$LARGE_C), fsync" --bytes "$LARGE_SIZE" \
    --vs sluice.large_file --before "rm -f '$out/aws.bin'" --check "$(check_file "$out/aws.bin" "$LARGE_SIZE")" -- \
    bash -c 'AWS_CONFIG_FILE="$1" "$2" --endpoint-url "$3" s3 cp "s3://$4" "$5" --only-show-errors && sync "$5"' _ \
    "$work/aws-get.cfg" "$aws" "$nginx_url" "$large_key" "$out/aws.bin"
  rm -f "$out/aws.bin"

  # PUT: the same number and size of objects, one PUT each, same concurrency.
  measure sluice.put put sluice "sluice bench put ($put_label)" --parse sluice \
    --before "rm -rf '$www/bench/put-sluice'" --check "$(check_dir "$www/bench/put-sluice" "$PUT_COUNT" "$PUT_SIZE")" -- \
    "${on_nginx[@]}" put --json "${put_args[@]}" s3://bench/put-sluice
  # Over plain HTTP sluice signs the payload (SHA-256 of every byte), as the aws
  # cli does; curl sends no hash at all. The same without the payload hash:
  measure sluice.put_unsigned put sluice "sluice bench put, --unsigned-payload" --parse sluice \
    --before "rm -rf '$www/bench/put-sluice'" --check "$(check_dir "$www/bench/put-sluice" "$PUT_COUNT" "$PUT_SIZE")" -- \
    timeout -k 5 "$STEP_TIMEOUT" "$sluice" --unsigned-payload --endpoint-url "$nginx_url" bench put --json "${put_args[@]}" \
    s3://bench/put-sluice
  measure curl.put put peer "curl --parallel-max $PUT_C -T" --bytes "$put_bytes" --vs sluice.put \
    --before "rm -rf '$www/bench/put-curl'" --check "$(check_dir "$www/bench/put-curl" "$PUT_COUNT" "$PUT_SIZE")" -- \
    curl -sS --fail --parallel --parallel-max "$PUT_C" -H "Expect:" -K "$work/curl-put.cfg"
  # (rclone's s3 backend first asks whether the destination prefix is a file: nginx
  # answers a redirect for an existing directory, which rclone takes for a file.)
  measure rclone.put put peer "rclone copy (s3 backend) --transfers $PUT_C" --bytes "$put_bytes" \
    --vs sluice.put --before "rm -rf '$www/bench/put-rclone'" \
    --check "$(check_dir "$www/bench/put-rclone" "$PUT_COUNT" "$PUT_SIZE")" -- \
    rclone copy "$put_src" :s3:bench/put-rclone --s3-provider Other --s3-endpoint "$nginx_url" \
    --s3-access-key-id S3RVER --s3-secret-access-key S3RVER --s3-force-path-style=true --s3-no-check-bucket \
    --s3-upload-cutoff 5G --no-check-dest --transfers "$PUT_C"
  measure aws.put put peer "aws s3 cp --recursive (c=$PUT_C)" --bytes "$put_bytes" --vs sluice.put \
    --before "rm -rf '$www/bench/put-aws'" --check "$(check_dir "$www/bench/put-aws" "$PUT_COUNT" "$PUT_SIZE")" \
    --note "multipart_threshold above the object size: one PUT each, as sluice" -- \
    env AWS_CONFIG_FILE="$work/aws-put.cfg" "$aws" --endpoint-url "$nginx_url" s3 cp --recursive "$put_src" \
    s3://bench/put-aws/ --only-show-errors
  rm -rf "$www/bench/put-curl" "$www/bench/put-rclone" "$www/bench/put-aws" "$www/bench/put-sluice"

  # Small GETs: to memory next to wrk and curl; to files next to rclone (which
  # does not fsync: a syncfs at the end makes its files as durable as sluice's).
  if ((have_small)); then
    measure sluice.small small sluice "sluice bench get -> memory" --unit req/s --parse sluice -- \
      "${on_nginx[@]}" get --json "${small_args[@]}" "${dur_args[@]}" s3://bench/small
    measure wrk.small small ceiling "wrk -c$SMALL_C" --unit req/s --parse wrk --vs sluice.small -- \
      timeout -k 5 "$STEP_TIMEOUT" wrk -t "$wrk_threads" -c "$SMALL_C" -d "${TOOL_SECS}s" --timeout 30s \
      -s "$work/wrk-small.lua" "$nginx_url"
    # The same at a higher concurrency: the rate must hold where wrk's grows.
    measure sluice.small_high small sluice "sluice bench get -> memory (c=$SMALL_C_HIGH)" --unit req/s --parse sluice -- \
      "${on_nginx[@]}" get --json "${small_high_args[@]}" "${dur_args[@]}" s3://bench/small
    measure wrk.small_high small ceiling "wrk -c$SMALL_C_HIGH" --unit req/s --parse wrk --vs sluice.small_high -- \
      timeout -k 5 "$STEP_TIMEOUT" wrk -t "$wrk_threads" -c "$SMALL_C_HIGH" -d "${TOOL_SECS}s" --timeout 30s \
      -s "$work/wrk-small.lua" "$nginx_url"
    measure curl.small small peer "curl --parallel-max $SMALL_C -o /dev/null" --unit req/s \
      --bytes "$small_bytes" --requests "$SMALL_COUNT" --vs sluice.small \
      --check "n=\$(grep -c '^200 $SMALL_SIZE\$' \"\$OUT\"); test \"\$n\" = $SMALL_COUNT || { echo \"\$n of $SMALL_COUNT complete\"; exit 1; }" -- \
      curl -sS --fail --parallel --parallel-max "$SMALL_C" -w '%{http_code} %{size_download}\n' -K "$work/curl-small.cfg"
    # One pass into an empty directory, as rclone: repeating for 5 s would rewrite the same names
    # (each rename then also frees the file it replaces) and write more than rclone does.
    measure sluice.small_files small sluice "sluice bench get -> files" --unit req/s --parse sluice \
      --before "rm -rf '$out/sluice-small'" -- \
      "${on_nginx[@]}" get --json "${small_args[@]}" --output-dir "$out/sluice-small" s3://bench/small
    rm -rf "$out/sluice-small"
    measure rclone.small small peer "rclone copy (http) --transfers $SMALL_C to files, syncfs" --unit req/s \
      --bytes "$small_bytes" --requests "$SMALL_COUNT" --vs sluice.small_files \
      --note "lists nginx's index page, HEADs each object" --before "rm -rf '$out/rclone-small'" \
      --check "$(check_dir "$out/rclone-small" "$SMALL_COUNT" "$SMALL_SIZE")" -- \
      bash -c 'rclone copy --http-url "$1" :http:bench/small "$2" --transfers "$3" --checkers "$3" && sync -f "$2"' _ \
      "$nginx_url" "$out/rclone-small" "$SMALL_C"
    rm -rf "$out/rclone-small"
  fi
  # The same on s3rver (it stores the metadata itself; sluice's first run there
  # writes the objects, untimed), next to the aws cli, which lists the prefix to
  # download many objects: nginx cannot list, s3rver can.
  measure sluice.small_s3rver small sluice "sluice bench get -> files (s3rver)" --server s3rver --unit req/s --parse sluice \
    --before "rm -rf '$out/sluice-small'" -- \
    "${on_s3rver[@]}" get --json "${small_args[@]}" --output-dir "$out/sluice-small" s3://bench/small
  rm -rf "$out/sluice-small"
  measure aws.small small peer "aws s3 cp --recursive to files (s3rver), syncfs" --server s3rver --unit req/s \
    --bytes "$small_bytes" --requests "$SMALL_COUNT" --vs sluice.small_s3rver \
    --note "needs ListObjects: on s3rver" --before "rm -rf '$out/aws-small'" \
    --check "$(check_dir "$out/aws-small" "$SMALL_COUNT" "$SMALL_SIZE")" -- \
    bash -c 'AWS_CONFIG_FILE="$1" "$2" --endpoint-url "$3" s3 cp --recursive s3://bench/small/ "$4" --only-show-errors &&
      sync -f "$4"' _ "$work/aws-small.cfg" "$aws" "$s3rver_url" "$out/aws-small"
  rm -rf "$out/aws-small"
}

for ((round = 1; round <= ROUNDS; round++)); do main_round; done
"${lib[@]}" median --rounds "$main_rounds" --results "$results"

finish
