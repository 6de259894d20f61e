#!/usr/bin/env bash
# The main job: build sluice, then upload, download and verify a generated
# 256 MiB object and 1,000 small objects, printing what it did and how fast.
#
# With no configuration it starts the embedded default, a local S3-compatible
# server (s3rver) on loopback, and stops it afterwards. To use another
# endpoint, set SLUICE_DEMO_ENDPOINT (credentials then come from the usual AWS
# variables or profiles). Extra arguments go to `sluice demo`
# (e.g. --large-size 1GiB --small-count 5000).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo/tools/build.sh"
sluice="$repo/build/bin/sluice"

if [[ -n "${SLUICE_DEMO_ENDPOINT:-}" ]]; then
  exec "$sluice" --endpoint-url "$SLUICE_DEMO_ENDPOINT" demo "$@"
fi

dir="$(mktemp -d /tmp/sluice-demo-server.XXXXXX)"
log="$dir/s3rver.log"
node --openssl-legacy-provider "$repo/tests/servers/node_modules/s3rver/bin/s3rver.js" \
  --directory "$dir/data" --address 127.0.0.1 --port 0 >"$log" 2>&1 &
server_pid=$!
cleanup() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

port=""
for _ in $(seq 1 150); do
  port="$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log" | head -n1)"
  [[ -n "$port" ]] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [[ -z "$port" ]]; then
  echo "sluice demo: the local S3 server did not start:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
echo "sluice demo: started the embedded default S3 server (s3rver) on 127.0.0.1:$port"
# s3rver's fixed test credentials; nothing from the caller's AWS set-up is used.
env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_CA_BUNDLE -u AWS_ENDPOINT_URL \
  AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 \
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  "$sluice" --endpoint-url "http://127.0.0.1:$port" demo "$@"
