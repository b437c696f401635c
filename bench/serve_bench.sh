#!/usr/bin/env bash
# connscope serve against nginx, same machine, same run, loopback only:
#   1. HTTP keep-alive requests per second (wrk, 1 thread, 50 connections, 5 s each);
#   2. resident memory holding 10,000 idle connections.
# Usage: bench/serve_bench.sh [BUILD_DIR]   (needs root for nginx's config; wrk and nginx-light)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$BUILD/src/cli/connscope
HOLD=$BUILD/bench/hold_connections
for tool in wrk nginx; do
  command -v $tool >/dev/null || { echo "serve_bench: needs $tool (apt-get install wrk nginx-light)" >&2; exit 3; }
done
[ -x "$BIN" ] && [ -x "$HOLD" ] || { echo "serve_bench: build first (cmake --build $BUILD)" >&2; exit 3; }

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

CS_PORT=18701 NG_PORT=18702 CS_IDLE=18703 NG_IDLE=18704
cat > "$tmp/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/error.log;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path $tmp; proxy_temp_path $tmp; fastcgi_temp_path $tmp;
  uwsgi_temp_path $tmp; scgi_temp_path $tmp;
  server { listen 127.0.0.1:$NG_PORT; listen 127.0.0.1:$NG_IDLE;
           location / { return 200 "connscope serve: 200 OK\n"; } }
}
CONF
"$BIN" serve --listen 127.0.0.1:$CS_PORT --listen 127.0.0.1:$CS_IDLE --mode http >/dev/null & pids+=($!)
cs_pid=$!
nginx -c "$tmp/nginx.conf" -e "$tmp/error.log" & pids+=($!)
sleep 0.5
ng_worker=$(pgrep -P "$(cat "$tmp/nginx.pid")" | head -1)

rps() { wrk -t1 -c50 -d5s "http://127.0.0.1:$1/" | awk '/Requests\/sec/ {print $2}'; }
cs_rps=$(rps $CS_PORT)
ng_rps=$(rps $NG_PORT)

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hold() { # PORT PID -> "connect-seconds rss-before rss-after"
  local before after line
  before=$(rss_kib "$2")
  coproc HOLDER { "$HOLD" 127.0.0.1 "$1" 10000; }
  read -r line <&"${HOLDER[0]}"
  after=$(rss_kib "$2")
  exec {HOLDER[1]}>&-
  wait "$HOLDER_PID" || true
  echo "$line | RSS ${before} KiB -> ${after} KiB"
}
cs_hold=$(hold $CS_IDLE $cs_pid)
ng_hold=$(hold $NG_IDLE "$ng_worker")

echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  machine: $(nproc) cores, kernel $(uname -r)"
echo "HTTP keep-alive, wrk -t1 -c50 -d5s:"
echo "  connscope serve --mode http: $cs_rps req/s"
echo "  nginx (return 200):          $ng_rps req/s"
awk -v a="$cs_rps" -v b="$ng_rps" 'BEGIN { printf "  ratio connscope/nginx: %.2f\n", a / b }'
echo "10,000 idle connections:"
echo "  connscope serve: $cs_hold"
echo "  nginx worker:    $ng_hold"
