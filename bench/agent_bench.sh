#!/usr/bin/env bash
# connscope agent's sampling cost with 200,000 sockets on the machine (issue 6's budget: <= 5 ms
# of CPU per one-second sample, <= 2 % of a core on average with the defaults, RSS <= 64 MiB):
# 10 pairs of processes hold 200,000 established loopback TCP sockets (as inspect_bench.sh), the
# agent runs DURATION seconds (default 60) with its defaults, and the script reports
#   - the fast tier's CPU per sample (polled from /api/v1/snapshot every second: min/median/max),
#   - the full tier's CPU per dump (the same, from its samples),
#   - the agent process's average CPU (utime + stime over the run) and its peak RSS,
#   - /metrics latency (wrk, one keep-alive connection, after the CPU window) and page size,
#   - the scrape time of node_exporter's tcpstat collector (Debian's prometheus-node-exporter)
#     against the agent's /metrics, alternating, in the same run.
# The agent keeps its history in a temporary data dir (removed at the end). As root the agent
# samples with eBPF (its default: exact states every second, a full dump at start and then every
# 10 minutes): the script then also reports the census's ESTABLISHED against the full dump's, and
# the full dump's cost spread over the check interval. AGENT_ARGS=--no-bpf measures the tiers.
# Usage: [AGENT_ARGS=...] bench/agent_bench.sh [BUILD_DIR] [PAIRS] [PER_PAIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
PAIRS=${2:-10}
PER_PAIR=${3:-10000}
DURATION=${DURATION:-60}
BIN=$BUILD/src/cli/connscope
MANY=$BUILD/bench/many_sockets
LIFETIME=${LIFETIME:-600}
for b in "$BIN" "$MANY"; do
  [ -x "$b" ] || { echo "agent_bench: $b missing; build first (cmake --build $BUILD)" >&2; exit 3; }
done

tmp=$(mktemp -d)
pids=()
cleanup() {
  exec 3>&- 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. bench/holders.sh
holders_start
echo "sockets up: $(grep TCP: /proc/net/sockstat)" >&2

# shellcheck disable=SC2086  # AGENT_ARGS: words
"$BIN" --json agent --listen 127.0.0.1:0 --data-dir "$tmp/data" ${AGENT_ARGS:-} > "$tmp/agent.out" 2>"$tmp/agent.err" 3>&- &
agent=$!
pids+=("$agent")
until grep -q listening "$tmp/agent.out" 2>/dev/null; do
  kill -0 "$agent" 2>/dev/null || { echo "agent_bench: agent died: $(cat "$tmp/agent.err")" >&2; exit 1; }
  sleep 0.1
done
port=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$tmp/agent.out")
echo "sampler: $(python3 -c 'import json,sys; print(json.dumps(json.loads(open(sys.argv[1]).readline())["sampler"]))' "$tmp/agent.out")"
ticks=$(getconf CLK_TCK)
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sleep 2  # past the first samples
c0=$(cpu_of "$agent"); t0=$(date +%s.%N)
for _ in $(seq 1 "$DURATION"); do
  curl -s "http://127.0.0.1:$port/api/v1/snapshot" |
    python3 -c 'import json,sys; j=json.load(sys.stdin); f=j["fast"]; u=j["full"]; k=f.get("kernel"); print(f["time_ms"], f["cost"]["cpu_ms"], u["time_ms"] if u else 0, u["cost"]["cpu_ms"] if u else 0, u["sockets"] if u else 0, j["full_wait_ms"], k["states"]["ESTABLISHED"] if k else -1, sum(u["states"][x]["ESTABLISHED"] for x in ("ipv4", "ipv6")) if u else -1, k["check"]["total_drift"] if k and k["check"] else -1)' >> "$tmp/samples"
  sleep 1
done
c1=$(cpu_of "$agent"); t1=$(date +%s.%N)
# /metrics latency while the agent samples (its full dumps included): one connection, keep-alive.
if command -v wrk >/dev/null; then
  wrk -t1 -c1 -d"${WRK_SECONDS:-15}"s --latency "http://127.0.0.1:$port/metrics" > "$tmp/wrk" 2>&1 || true
  echo "/metrics latency (wrk -t1 -c1, $(grep -o 'Requests/sec:.*' "$tmp/wrk")): $(grep -E '^ +(50|99)%' "$tmp/wrk" | tr -s ' ' | tr '\n' ' ')"
  echo "/metrics page: $(curl -s "http://127.0.0.1:$port/metrics" | wc -c) bytes"
fi
# The anchor: node_exporter's tcpstat collector, which dumps every socket on each scrape.
if command -v prometheus-node-exporter >/dev/null; then
  prometheus-node-exporter --web.listen-address=127.0.0.1:19100 --collector.disable-defaults \
    --collector.tcpstat > "$tmp/ne.log" 2>&1 3>&- &
  pids+=($!)
  until curl -s -o /dev/null http://127.0.0.1:19100/metrics; do sleep 0.1; done
  for _ in $(seq 1 "${SCRAPES:-15}"); do
    curl -s -o /dev/null -w '%{time_total}\n' http://127.0.0.1:19100/metrics >> "$tmp/ne"
    curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/metrics" >> "$tmp/cs_scrape"
  done
  med() { sort -g | awk '{a[NR]=$1} END {printf "%.1f ms", 1000 * a[int((NR+1)/2)]}'; }
  echo "scrape time, median of ${SCRAPES:-15} (curl time_total): node_exporter --collector.tcpstat $(med < "$tmp/ne"), connscope agent /metrics $(med < "$tmp/cs_scrape")"
fi
rss=$(awk '/VmHWM/ {print $2}' "/proc/$agent/status")
echo "history database after the run: $(du -sh "$tmp/data" | cut -f1) (history.db, its WAL)"
python3 - "$tmp/samples" "$c0" "$c1" "$t0" "$t1" "$ticks" "$rss" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1])]
fast = {r[0]: float(r[1]) for r in rows}
full = {r[2]: float(r[3]) for r in rows if r[2] != "0"}
socks = max(int(r[4]) for r in rows)
c0, c1, t0, t1, tck, rss = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
f = sorted(fast.values()); u = sorted(full.values())
print(f"sockets in the full dump: {socks}")
print(f"fast tier CPU per sample: min {f[0]:.2f} ms, median {statistics.median(f):.2f} ms, max {f[-1]:.2f} ms ({len(f)} samples)")
if u:
    print(f"full tier CPU per dump:   min {u[0]:.1f} ms, median {statistics.median(u):.1f} ms, max {u[-1]:.1f} ms ({len(u)} dumps)")
    waits = sorted({r[2]: int(r[5]) for r in rows if r[2] != "0"}.values())
    print(f"full tier wait after a dump (CPU budget): min {waits[0] / 1000:.1f} s, median {statistics.median(waits) / 1000:.1f} s, max {waits[-1] / 1000:.1f} s")
print(f"agent average CPU: {100 * (c1 - c0) / tck / (t1 - t0):.2f} % of one core over {t1 - t0:.0f} s (including {len(rows)} snapshot requests)")
print(f"agent peak RSS: {rss / 1024:.1f} MiB")
census = [int(r[6]) for r in rows]
if census[-1] >= 0:
    print(f"eBPF census ESTABLISHED: first {census[0]}, last {census[-1]} (the full dump at start: {rows[-1][7]})")
    drifts = sorted({int(r[8]) for r in rows if int(r[8]) >= 0})
    print(f"census drift at its checks (sockets, summed over states): {drifts if drifts else 'no check in the run'}")
    if u:
        wait_s = int(rows[-1][5]) / 1000
        print(f"full dump + census check every {wait_s:.0f} s: {u[-1]:.0f} ms of CPU = {100 * u[-1] / 1000 / wait_s:.3f} % of one core on average")
PY
