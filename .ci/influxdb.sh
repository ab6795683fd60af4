#!/usr/bin/env bash
# Starts a throwaway InfluxDB 1.x (Debian's `influxdb`, installed if `influxd` is missing) in the
# background on a free loopback port, waits until `/ping` answers and prints its URL as the only line
# on stdout, so callers can do `export INFLUX_V1_URL=$(.ci/influxdb.sh)`. Progress goes to stderr.
#
# State (config, data, wal, log, pid file `influxd.pid`) lives in $INFLUXD_STATE_DIR when set (the
# test launcher passes its own temporary directory and stops influxd by that pid), else in a new
# temporary directory. Stop it with: kill "$(cat <state dir>/influxd.pid)".
set -euo pipefail

log() { echo "influxdb.sh: $*" >&2; }

if ! command -v influxd >/dev/null 2>&1; then
  log "influxd not found; installing Debian's influxdb"
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y influxdb >&2
fi

free_port() {
  node -e "const s=require('node:net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

state_dir="${INFLUXD_STATE_DIR:-$(mktemp -d -t influxd.XXXXXX)}"
mkdir -p "$state_dir"
http_port="$(free_port)"
rpc_port="$(free_port)"

# Every listener on loopback; no usage reporting, no internal monitor database (it would create
# series of its own in the test instance).
cat >"$state_dir/influxdb.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:${rpc_port}"
[meta]
  dir = "${state_dir}/meta"
[data]
  dir = "${state_dir}/data"
  wal-dir = "${state_dir}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:${http_port}"
  log-enabled = false
EOF

# setsid + redirected output: influxd outlives this script and does not hold the caller's stdout
# (a `$(...)` would otherwise wait for it).
setsid influxd run -config "$state_dir/influxdb.conf" >"$state_dir/influxd.log" 2>&1 </dev/null &
echo $! >"$state_dir/influxd.pid"
url="http://127.0.0.1:${http_port}"

for _ in $(seq 1 150); do
  if curl -fsS -o /dev/null "$url/ping" 2>/dev/null; then
    log "influxd $(influxd version 2>/dev/null | head -n1) up at $url (pid $(cat "$state_dir/influxd.pid"), state in $state_dir)"
    echo "$url"
    exit 0
  fi
  if ! kill -0 "$(cat "$state_dir/influxd.pid")" 2>/dev/null; then
    log "influxd exited during start-up; its log:"
    cat "$state_dir/influxd.log" >&2
    exit 1
  fi
  sleep 0.2
done
log "influxd did not answer $url/ping within 30 s; its log:"
cat "$state_dir/influxd.log" >&2
kill "$(cat "$state_dir/influxd.pid")" 2>/dev/null || true
exit 1
