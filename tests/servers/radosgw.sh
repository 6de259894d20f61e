#!/usr/bin/env bash
# A throwaway one-node Ceph cluster (monitor + one memstore OSD) with radosgw in front, for the
# integration tests. Everything (config, data, sockets, logs, pids) lives in DIR; every daemon
# listens on 127.0.0.1 only, on ports picked here.
#
#   radosgw.sh start DIR   stop any leftover cluster in DIR, wipe DIR, start a fresh cluster,
#                          wait until radosgw answers signed S3 requests, write DIR/endpoint.env
#   radosgw.sh stop DIR    stop every daemon started from DIR (idempotent; never fails)
#
# DIR/endpoint.env holds SLUICE_TEST_ENDPOINT, SLUICE_TEST_ACCESS_KEY, SLUICE_TEST_SECRET_KEY and
# SLUICE_TEST_REGION. The S3 user has a fixed key; signatures are checked (SigV4, region us-east-1).
# The data lives in memory: a stopped cluster is gone. Needs root (or a user that may run the Ceph
# daemons), no systemd. Start takes 3-5 s on an idle 2-core machine (about 10 s next to other
# tests); it gives up after SLUICE_RADOSGW_TIMEOUT seconds (default 90), prints the end of the
# relevant log and stops whatever it had started.
set -euo pipefail

readonly access_key=SLUICETESTACCESSKEY1
readonly secret_key=sluiceTestSecretKey0000000000000000000001
readonly region=us-east-1
# Memory the OSD may fill; tests write a few hundred MiB, and deleted data is freed only by rgw's gc.
readonly memstore_bytes=$((4 * 1024 * 1024 * 1024))
readonly timeout_seconds="${SLUICE_RADOSGW_TIMEOUT:-90}"
readonly daemons=(client.rgw osd.0 mon.a) # in stop order

usage() {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}

log() { echo "radosgw.sh: $*" >&2; }

# alive PID: the process exists and has not exited (an exited child whose parent does not reap it
# stays as a zombie; it counts as gone).
alive() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}

# pid_of NAME: the pid recorded for daemon NAME if that process still runs from this DIR's config
# (guards against a recycled pid after a reboot or a long pause).
pid_of() {
  local file="$dir/run/$1.pid" pid
  [[ -s $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir/ceph.conf" || return 1
  echo "$pid"
}

# stop_pid PID NAME: SIGTERM, up to 10 s to exit (a memstore daemon needs well under one), SIGKILL.
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    alive "$pid" || return 0
    sleep 0.05
  done
  log "$2 (pid $pid) did not stop on SIGTERM; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  while alive "$pid"; do sleep 0.05; done
}

stop_daemon() {
  local pid
  pid=$(pid_of "$1") || return 0
  stop_pid "$pid" "$1"
}

# orphans PROGRAM: pids of PROGRAM processes running with this DIR's config whose pid file is gone
# (DIR wiped under a running cluster). Matches the exact config path, nothing broader.
orphans() {
  local file pid
  while IFS= read -r file; do
    pid=${file#/proc/}
    pid=${pid%/cmdline}
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]] && alive "$pid" && echo "$pid"
  done < <(grep -lzxF -- "$dir/ceph.conf" /proc/[0-9]*/cmdline 2>/dev/null || true)
}

# One at a time, clients of the monitor first: a radosgw whose OSD is gone hangs in its shutdown.
stop_cluster() {
  local name program pid
  for name in "${daemons[@]}"; do stop_daemon "$name"; done
  for program in radosgw ceph-osd ceph-mon; do
    for pid in $(orphans "$program"); do
      log "stopping $program (pid $pid) left over from $dir"
      stop_pid "$pid" "$program"
    done
  done
  rm -f "$dir"/run/*.pid "$dir/endpoint.env"
}

# free_ports N: N distinct free TCP ports on 127.0.0.1 (held open together while chosen, so they
# differ; another process could still take one before the daemon binds it, which start reports).
free_ports() {
  local python=/usr/bin/python3 # Debian's (Ceph's CLI needs it anyway): starts faster than a shim
  [[ -x $python ]] || python=python3
  "$python" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# Seconds left before the deadline, at least 1 (`timeout 0` would mean no limit at all).
remaining() {
  local left=$((deadline - SECONDS))
  echo $((left > 0 ? left : 1))
}
expired() { ((SECONDS >= deadline)); }

# fail MESSAGE [LOG...]: report, show the end of the logs that explain it, stop what was started.
fail() {
  local message=$1 file
  shift
  log "FAILED: $message"
  for file in "$@"; do
    if [[ -s $file ]]; then
      echo "----- last lines of $file -----" >&2
      tail -n 40 "$file" >&2
    fi
  done
  log "all logs: $dir/log/"
  stop_cluster
  exit 1
}

# spawn NAME COMMAND...: run a daemon in the foreground of its own session (it outlives this
# script and any test runner's process group), with stdout/stderr in DIR/log/NAME.out and its pid in
# DIR/run/NAME.pid.
spawn() {
  local name=$1
  shift
  # shellcheck disable=SC2016 # expanded by the inner shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$dir/run/$name.pid" "$@" \
    </dev/null >>"$dir/log/$name.out" 2>&1 &
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s $dir/run/$name.pid ]] && return 0
    sleep 0.02
  done
  fail "$name did not start" "$dir/log/$name.out"
}

# expect_running NAME: fail now (rather than at the deadline) if daemon NAME has exited.
expect_running() {
  pid_of "$1" >/dev/null || fail "$1 exited" "$dir/log/$1.out" "$dir/log/$2.log"
}

# A command the monitor refuses with "problem getting command descriptions" (EPERM) was sent before
# the client had the monitor map: its fsid is all zeros (mon.a.log: "handle_command on fsid 0000...").
# A loaded machine makes that race likely (a sanitizer run in CI lost `osd create` to it); the same
# command a moment later succeeds, so it is sent again, at most 5 times. Other failures are final.
ceph_cli() {
  local limit attempt rc err="$dir/run/ceph-cli.err"
  for attempt in 1 2 3 4 5; do
    limit=$(remaining)
    rc=0
    timeout "$((limit < 30 ? limit : 30))" ceph -c "$dir/ceph.conf" --connect-timeout 10 "$@" 2>"$err" || rc=$?
    cat "$err" >&2
    if ((rc != 0 && attempt < 5)) && grep -q 'problem getting command descriptions' "$err"; then
      sleep 0.5
      continue
    fi
    return "$rc"
  done
}

write_config() {
  local fsid=$1 mon_port=$2 rgw_port=$3
  cat >"$dir/ceph.conf" <<EOF
# Generated by tests/servers/radosgw.sh for a throwaway test cluster.
[global]
fsid = $fsid
mon host = [v1:127.0.0.1:$mon_port]
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr2 = false
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = $dir/run
crash dir = $dir/crash
log file = $dir/log/\$name.log
log to stderr = false
err to stderr = true
osd objectstore = memstore
memstore device bytes = $memstore_bytes
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
osd crush update on start = false
osd class update on start = false
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
mon max pg per osd = 1000
mon warn on insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
# Commit map changes at once, not once a second: rgw's start and its first bucket create pools one
# after another, each waiting for a new OSD map.
paxos propose interval = 0.01
paxos min wait = 0.001

[mon]
mon data = $dir/mon/\$id
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok

[osd]
osd data = $dir/osd/\$id
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
osd max object name len = 460
osd max object namespace len = 64

[client.rgw]
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw data = $dir/rgw
rgw init timeout = $timeout_seconds
rgw run sync thread = false
rgw enable usage log = false
# Deleted objects are collected quickly so that memstore does not fill up.
rgw gc obj min wait = 10
rgw gc processor period = 10
debug rgw = 1
EOF
}

start_cluster() {
  deadline=$((SECONDS + timeout_seconds))
  local started=$SECONDS

  stop_cluster
  # Wipe DIR only if it is empty or an earlier cluster's: never a directory given by mistake.
  if [[ -n $(ls -A "$dir") && ! -f $dir/ceph.conf ]] ||
    { [[ -f $dir/ceph.conf ]] && ! grep -q '^# Generated by tests/servers/radosgw.sh' "$dir/ceph.conf"; }; then
    log "$dir is not empty and holds no cluster made by this script; not wiping it"
    exit 1
  fi
  find "$dir" -mindepth 1 -delete
  mkdir -p "$dir"/{run,log,crash,mon/a,osd/0,rgw}

  local mon_port rgw_port
  read -r mon_port rgw_port < <(free_ports 2)
  local fsid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  write_config "$fsid" "$mon_port" "$rgw_port"
  local conf=$dir/ceph.conf

  # Monitor.
  monmaptool --create --fsid "$fsid" --addv a "[v1:127.0.0.1:$mon_port]" "$dir/monmap" \
    >"$dir/log/monmaptool.out" 2>&1 || fail "monmaptool failed" "$dir/log/monmaptool.out"
  ceph-mon -c "$conf" -i a --mkfs --monmap "$dir/monmap" >"$dir/log/mon-mkfs.out" 2>&1 ||
    fail "ceph-mon --mkfs failed" "$dir/log/mon-mkfs.out" "$dir/log/mon.a.log"
  spawn mon.a ceph-mon -c "$conf" -i a -f
  until ceph_cli mon stat >/dev/null 2>>"$dir/log/ceph-cli.out"; do
    expect_running mon.a mon.a
    ! expired || fail "the monitor did not answer within ${timeout_seconds}s" \
      "$dir/log/mon.a.log" "$dir/log/ceph-cli.out"
    sleep 0.2
  done

  # One OSD keeping its data in memory.
  local osd_id osd_uuid
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  osd_id=$(ceph_cli osd create "$osd_uuid" 2>>"$dir/log/ceph-cli.out") || fail "ceph osd create failed" \
    "$dir/log/ceph-cli.out"
  [[ $osd_id == 0 ]] || fail "ceph osd create gave id '$osd_id', expected 0" "$dir/log/ceph-cli.out"
  ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$dir/log/osd-mkfs.out" 2>&1 ||
    fail "ceph-osd --mkfs failed" "$dir/log/osd-mkfs.out" "$dir/log/osd.0.log"
  ceph_cli osd crush add osd.0 1.0 host=localhost root=default >>"$dir/log/ceph-cli.out" 2>&1 ||
    fail "ceph osd crush add failed" "$dir/log/ceph-cli.out"
  spawn osd.0 ceph-osd -c "$conf" -i 0 -f
  until [[ $(ceph_cli osd stat -f json 2>>"$dir/log/ceph-cli.out" || true) == *'"num_up_osds":1'* ]]; do
    expect_running osd.0 osd.0
    ! expired || fail "the OSD did not come up within ${timeout_seconds}s" \
      "$dir/log/osd.0.log" "$dir/log/mon.a.log"
    sleep 0.2
  done

  # radosgw, then its user (radosgw-admin needs the pools radosgw creates at start; it would create
  # them itself too, but two creators at once only slow each other down).
  spawn client.rgw radosgw -c "$conf" -n client.rgw -f
  until curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$rgw_port/"; do
    expect_running client.rgw client.rgw
    ! expired || fail "radosgw did not listen on 127.0.0.1:$rgw_port within ${timeout_seconds}s" \
      "$dir/log/client.rgw.log" "$dir/log/client.rgw.out"
    sleep 0.1
  done
  timeout "$(remaining)" radosgw-admin -c "$conf" user create --uid=sluice-test \
    --display-name="sluice tests" --access-key="$access_key" --secret="$secret_key" \
    >"$dir/log/radosgw-admin.out" 2>&1 ||
    fail "radosgw-admin user create failed" "$dir/log/radosgw-admin.out"

  # Ready when a SigV4-signed request succeeds through the whole stack (curl signs like the AWS
  # CLI does, 100 times faster; S3 wants the payload hash header).
  until curl -s -f --max-time 10 -o "$dir/log/ready-check.out" --aws-sigv4 "aws:amz:$region:s3" \
    -u "$access_key:$secret_key" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    "http://127.0.0.1:$rgw_port/" 2>>"$dir/log/ready-check.err"; do
    expect_running client.rgw client.rgw
    ! expired || fail "radosgw did not accept a signed request within ${timeout_seconds}s" \
      "$dir/log/ready-check.err" "$dir/log/client.rgw.log"
    sleep 0.2
  done
  grep -q ListAllMyBucketsResult "$dir/log/ready-check.out" ||
    fail "radosgw answered a signed ListBuckets with something else" "$dir/log/ready-check.out"

  cat >"$dir/endpoint.env.tmp" <<EOF
SLUICE_TEST_ENDPOINT=http://127.0.0.1:$rgw_port
SLUICE_TEST_ACCESS_KEY=$access_key
SLUICE_TEST_SECRET_KEY=$secret_key
SLUICE_TEST_REGION=$region
EOF
  mv "$dir/endpoint.env.tmp" "$dir/endpoint.env"
  log "radosgw ready at http://127.0.0.1:$rgw_port after $((SECONDS - started))s (env: $dir/endpoint.env)"
}

(($# == 2)) || usage
dir=$2
[[ -n $dir && $dir != / ]] || usage
case $1 in
  start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P) # absolute and canonical: it is also written into the config
    start_cluster
    ;;
  stop)
    # Also when DIR is gone: its daemons are then found by their command line.
    dir=$(realpath -m -- "$dir")
    stop_cluster || log "warning: stop did not finish cleanly"
    exit 0
    ;;
  *) usage ;;
esac
