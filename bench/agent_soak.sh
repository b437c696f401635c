#!/usr/bin/env bash
# A soak of `connscope agent` (issue 15): the agent runs SOAK_MINUTES (default 30) under
#   - 10,000 loopback TCP connections (20,000 sockets) of which CHURN_RATE (default 500) are
#     closed and replaced every second (bench/churn_sockets: nine closes in ten with RST, one with
#     FIN, so TIME_WAIT and CLOSE_WAIT come and go too);
#   - configured probes every 2 s to loopback targets, most of them failing: `connscope serve
#     --demo`'s endpoints (http, banner, never-accept, reset-after-accept, close-after-accept,
#     slow-first-byte past the probe timeout, garbage, TLS against a plain HTTP server) and a
#     closed port;
#   - the dashboard's event stream (/api/v1/events, Server-Sent Events) open and read for the
#     whole run;
#   - /metrics scraped every second;
#   - short-lived listeners, as a test runner's servers come and go: one more on an ephemeral
#     loopback port every second, each listening 20 s (LISTENER_CHURN=0: none).
# History retention is shortened (raw 5 min, rollups 10 min) so that the run reaches the steady
# state where the store deletes as much as it writes: from then on the database must stop growing.
#
# Every 10 s it samples the agent's RSS, open descriptors (/proc/PID/fd), history database size
# (history.db and its -wal and -shm), the number of history series names, and CPU (utime + stime over the interval, in % of one core)
# into a CSV, prints the start and end figures and the slope of each (least squares, per hour,
# over the whole run and over its second half), and renders the four as a PNG with gnuplot
# (gnuplot-nox). Everything runs on loopback; the data dir is a temporary directory; every
# process started here stops at the end, on Ctrl-C and on errors.
#
# Usage: [SOAK_MINUTES=30] [CHURN_CONNS=10000] [CHURN_RATE=500] [AGENT_ARGS=...]
#        bench/agent_soak.sh [BUILD_DIR] [OUT_DIR]
#   OUT_DIR (default: a new directory under /tmp) receives soak.csv, soak.png, the agent's log,
#   the event-stream and scrape counts. docs/agent_soak.png is a copy of a 30-minute soak.png.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
OUT=${2:-$(mktemp -d /tmp/agent_soak.XXXXXX)}
MINUTES=${SOAK_MINUTES:-30}
CONNS=${CHURN_CONNS:-10000}
RATE=${CHURN_RATE:-500}
LISTENER_CHURN=${LISTENER_CHURN:-1}
DEMO_PORT=${DEMO_PORT:-19701}   # serve --demo: 11 consecutive ports
CHURN_PORT=${CHURN_PORT:-19750}
CLOSED_PORT=${CLOSED_PORT:-19799}
SAMPLE_S=10
BIN=$BUILD/src/cli/connscope
CHURN=$BUILD/bench/churn_sockets
for b in "$BIN" "$CHURN"; do
  [ -x "$b" ] || { echo "agent_soak: $b missing; build first (cmake --build $BUILD --target connscope churn_sockets)" >&2; exit 3; }
done
command -v gnuplot >/dev/null || echo "agent_soak: gnuplot missing (apt-get install gnuplot-nox): no plot" >&2
for p in $(seq "$DEMO_PORT" $((DEMO_PORT + 10))) "$CHURN_PORT" "$CLOSED_PORT"; do
  if ss -Htln "sport = :$p" | grep -q .; then echo "agent_soak: port $p is in use" >&2; exit 3; fi
done
mkdir -p "$OUT"

tmp=$(mktemp -d)
pids=()
cleanup() {
  exec 3>&- 2>/dev/null || true   # churn_sockets sees EOF on stdin and exits
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
lifetime=$((MINUTES * 60 + 300))  # the helpers also stop by themselves, should this shell be killed

# The probe targets: the demo endpoints.
"$BIN" serve --demo --demo-port "$DEMO_PORT" > "$tmp/serve.out" 2>&1 3>&- &
pids+=($!)
until grep -q "press Ctrl-C" "$tmp/serve.out" 2>/dev/null; do
  kill -0 "${pids[-1]}" 2>/dev/null || { echo "agent_soak: serve died: $(cat "$tmp/serve.out")" >&2; exit 1; }
  sleep 0.1
done

# The churn.
mkfifo "$tmp/hold"
exec 3<>"$tmp/hold"
"$CHURN" "$CHURN_PORT" "$CONNS" "$RATE" "$lifetime" < "$tmp/hold" > "$OUT/churn.log" 2>&1 3>&- &
pids+=($!)
until grep -q ready "$OUT/churn.log" 2>/dev/null; do
  kill -0 "${pids[-1]}" 2>/dev/null || { echo "agent_soak: churn_sockets died: $(cat "$OUT/churn.log")" >&2; exit 1; }
  sleep 0.2
done
echo "churn up: $CONNS connections, $RATE replaced a second; $(grep TCP: /proc/net/sockstat)" >&2

d=$DEMO_PORT
cat > "$tmp/agent.toml" <<EOF
# bench/agent_soak.sh: loopback probes only, most of them failing.
probe_own_listeners = false
probe_interval = "2s"
probe_timeout = "1s"
[history]
raw_retention = "5m"
rollup_retention = "10m"
[[probes]]
target = "http://127.0.0.1:$((d + 2))/"
[[probes]]
target = "127.0.0.1:$((d + 3))"
[[probes]]
target = "127.0.0.1:$((d + 4))"
[[probes]]
target = "127.0.0.1:$((d + 5))"
[[probes]]
target = "127.0.0.1:$((d + 6))"
[[probes]]
target = "http://127.0.0.1:$((d + 7))/"
[[probes]]
target = "127.0.0.1:$((d + 9))"
[[probes]]
target = "https://127.0.0.1:$((d + 2))/"
[[probes]]
target = "127.0.0.1:$CLOSED_PORT"
EOF
cp "$tmp/agent.toml" "$OUT/agent.toml"

data=$tmp/data
# shellcheck disable=SC2086  # AGENT_ARGS: words
"$BIN" --json agent --config "$tmp/agent.toml" --listen 127.0.0.1:0 --data-dir "$data" ${AGENT_ARGS:-} \
  > "$tmp/agent.out" 2> "$OUT/agent.err" 3>&- &
agent=$!
pids+=("$agent")
until grep -q listening "$tmp/agent.out" 2>/dev/null; do
  kill -0 "$agent" 2>/dev/null || { echo "agent_soak: agent died: $(cat "$OUT/agent.err")" >&2; exit 1; }
  sleep 0.1
done
port=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$tmp/agent.out" | head -1)
url=http://127.0.0.1:$port
echo "agent pid $agent on $url, data dir $data, $MINUTES min, output in $OUT" >&2

# The event stream: one connection for the whole run, read as it comes (event names counted).
mkfifo "$tmp/sse"
curl -sN "$url/api/v1/events" > "$tmp/sse" 3>&- &
sse=$!
pids+=("$sse")
awk '/^event: / {n[$2]++} END {for (k in n) printf "%s=%d ", k, n[k]; print ""}' < "$tmp/sse" > "$OUT/sse.count" 3>&- &
sse_reader=$!
pids+=("$sse_reader")

# Listeners that come and go: one a second on an ephemeral port, each kept 20 s.
if [ "$LISTENER_CHURN" != 0 ]; then
  python3 - "$lifetime" > "$OUT/listeners.log" 2>&1 3>&- <<'PY' &
import socket, sys, time
end = time.monotonic() + float(sys.argv[1])
live, made = [], 0
while time.monotonic() < end:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    live.append((time.monotonic() + 20, s))
    made += 1
    while live and live[0][0] <= time.monotonic():
        live.pop(0)[1].close()
    if made % 60 == 0:
        print(f"{made} listeners made, {len(live)} listening", flush=True)
    time.sleep(1)
PY
  pids+=($!)
fi

# /metrics every second: status, size, time.
(
  while :; do
    curl -s -o /dev/null -w '%{http_code} %{size_download} %{time_total}\n' --max-time 5 "$url/metrics" || echo "000 0 0"
    sleep 1
  done
) > "$OUT/scrapes" 3>&- &
pids+=($!)

ticks=$(getconf CLK_TCK)
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }
db_bytes() { find "$data" -maxdepth 1 -name 'history.db*' -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }
# With eBPF: the keys of the agent's drop counters map (cs_drops), which it reads every second
# (-1: not read: no bpftool, no eBPF, or the map not found).
drops_map=
if command -v bpftool >/dev/null; then
  for f in /proc/"$agent"/fdinfo/*; do
    id=$(awk '/^map_id:/ {print $2}' "$f" 2>/dev/null)
    if [ -n "$id" ] && bpftool map show id "$id" 2>/dev/null | grep -q ' name cs_drops '; then drops_map=$id; break; fi
  done
fi
drop_keys() {
  [ -n "$drops_map" ] || { echo -1; return; }
  bpftool map dump id "$drops_map" 2>/dev/null | grep -c '"key"\|^key' || true
}
series_names() {
  curl -s --max-time 5 "$url/api/v1/history" |
    python3 -c 'import json, sys; print(len(json.load(sys.stdin)["series_names"]))' 2>/dev/null || echo -1
}
echo "t_s,rss_kib,fds,db_bytes,cpu_pct,tcp_inuse,tcp_tw,metrics_bytes,drop_keys,series" > "$OUT/soak.csv"
: > "$OUT/threads.csv"
start=$(date +%s)
c_prev=$(cpu_of "$agent")
t_prev=$(date +%s.%N)
samples=$((MINUTES * 60 / SAMPLE_S))
for i in $(seq 0 "$samples"); do
  # Sample i at start + 10 i seconds.
  now=$(date +%s.%N)
  wait_s=$(awk -v s="$start" -v i="$i" -v n="$now" -v p="$SAMPLE_S" 'BEGIN {w = s + i * p - n; print (w > 0 ? w : 0)}')
  sleep "$wait_s"
  kill -0 "$agent" 2>/dev/null || { echo "agent_soak: the agent died: $(tail -5 "$OUT/agent.err")" >&2; exit 1; }
  c=$(cpu_of "$agent"); t=$(date +%s.%N)
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$agent/status")
  fds=$(find "/proc/$agent/fd" -mindepth 1 -maxdepth 1 | wc -l)
  read -r inuse tw < <(awk '/^TCP:/ {print $3, $7}' /proc/net/sockstat)
  echo "$((i * SAMPLE_S)),$rss,$fds,$(db_bytes),$(awk -v c="$c" -v cp="$c_prev" -v t="$t" -v tp="$t_prev" -v k="$ticks" \
    'BEGIN {printf "%.2f", (t > tp ? 100 * (c - cp) / k / (t - tp) : 0)}'),$inuse,$tw,$(tail -1 "$OUT/scrapes" | cut -d' ' -f2),$(drop_keys),$(series_names)" >> "$OUT/soak.csv"
  # Per thread (they have no names; the TID order is their start order): which one grows.
  for f in /proc/"$agent"/task/*/stat; do
    awk -v t="$((i * SAMPLE_S))" '{sub(/^.*\) /, ""); print t "," FILENAME "," $12 + $13}' "$f" 2>/dev/null || true
  done | sed 's|/proc/[0-9]*/task/\([0-9]*\)/stat|\1|' >> "$OUT/threads.csv"
  c_prev=$c; t_prev=$t
done
kill -0 "$sse" 2>/dev/null && sse_state="open for the whole run" || sse_state="CLOSED before the end"
echo "history files at the end: $(find "$data" -maxdepth 1 -name 'history.db*' -printf '%f=%s ' )" > "$OUT/db_files"

# Stop everything; the stream's reader prints its counts at the stream's end.
kill "$sse" 2>/dev/null || true
wait "$sse_reader" 2>/dev/null || true
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
exec 3>&- 2>/dev/null || true
wait 2>/dev/null || true
pids=()

echo "== connscope agent soak: $MINUTES min, $CONNS loopback connections with $RATE replaced a second, 9 probes every 2 s, event stream, /metrics every 1 s"
echo "churn: $(tail -1 "$OUT/churn.log")"
[ "$LISTENER_CHURN" != 0 ] && echo "short-lived listeners: $(tail -1 "$OUT/listeners.log")"
echo "event stream: $sse_state; events read: $(cat "$OUT/sse.count")"
cat "$OUT/db_files"
python3 - "$OUT/soak.csv" "$OUT/scrapes" "$OUT/threads.csv" "$ticks" <<'PY'
import csv, statistics, sys
scrapes = [l.split() for l in open(sys.argv[2]) if l.strip()]
if scrapes:
    times = [1000 * float(s[2]) for s in scrapes if s[0] == "200"]
    print(f"/metrics scrapes: {len(scrapes)}, failed {sum(s[0] != '200' for s in scrapes)}, "
          f"time median {statistics.median(times):.1f} ms, max {max(times):.1f} ms, "
          f"page {scrapes[0][1]} -> {scrapes[-1][1]} bytes")
rows = list(csv.DictReader(open(sys.argv[1])))
t = [float(r["t_s"]) for r in rows]

def slope(xs, ys):
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx * 3600 if sxx else 0.0

half = len(rows) // 2
for key, name, unit, scale in (("rss_kib", "RSS", "MiB", 1 / 1024), ("fds", "descriptors", "", 1),
                               ("series", "series names", "", 1),
                               ("db_bytes", "history DB", "MiB", 1 / 1048576), ("cpu_pct", "CPU", "% of a core", 1)):
    v = [float(r[key]) * scale for r in rows]
    # CPU's first sample covers no interval; start from the second.
    vs, ts = (v[1:], t[1:]) if key == "cpu_pct" else (v, t)
    print(f"{name:12s} start {vs[0]:9.2f}  end {vs[-1]:9.2f}  min {min(vs):9.2f}  max {max(vs):9.2f} {unit:12s}"
          f" slope {slope(ts, vs):+9.2f}/h (second half {slope(t[half:], v[half:]):+9.2f}/h)")
# CPU per thread, by TID (start order), over the first and the second half of the run.
ticks = {}
for line in open(sys.argv[3]):
    ts_, tid, tk = line.strip().split(",")
    ticks.setdefault(int(tid), {})[float(ts_)] = float(tk)
t0, tm, t1 = t[0], t[half], t[-1]
parts = []
for tid in sorted(ticks):
    s_ = ticks[tid]
    if t0 in s_ and tm in s_ and t1 in s_ and t1 > tm > t0:
        k = float(sys.argv[4])
        parts.append(f"{tid}: {100 * (s_[tm] - s_[t0]) / k / (tm - t0):.2f} -> {100 * (s_[t1] - s_[tm]) / k / (t1 - tm):.2f}")
print("CPU per thread (% of a core, first half -> second half): " + ", ".join(parts))
PY
if command -v gnuplot >/dev/null; then
  gnuplot <<EOF
set terminal pngcairo size 1200,800 font ",10"
set output "$OUT/soak.png"
set datafile separator ","
set key off
set grid
set xlabel "minutes"
set multiplot layout 2,2 title "connscope agent soak: $CONNS loopback connections, $RATE replaced/s, 9 probes, SSE, /metrics 1/s ($(date -u +%F))"
set yrange [0:*]
set title "RSS (MiB)"
plot "$OUT/soak.csv" skip 1 using (\$1/60):(\$2/1024) with lines lw 2
set title "open descriptors"
plot "$OUT/soak.csv" skip 1 using (\$1/60):3 with lines lw 2
set title "history database: history.db + -wal + -shm (MiB)"
plot "$OUT/soak.csv" skip 1 using (\$1/60):(\$4/1048576) with lines lw 2
set title "CPU (% of one core, per 10 s)"
plot "$OUT/soak.csv" skip 2 using (\$1/60):5 with lines lw 2
unset multiplot
EOF
  echo "plot: $OUT/soak.png"
fi
echo "csv: $OUT/soak.csv"
