#!/usr/bin/env bash
# connscope probe against its floor and its anchor, same machine, same run, loopback only:
# a connect scan of 127.0.0.1 ports 1-65535 by
#   - connscope probe (window 2048, the table with --failed, stdout to /dev/null: what a person runs),
#   - connscope probe --json (its own duration_ms: the scan alone, without process start and output),
#   - bench/connect_floor (minimal C: nonblocking connect + epoll, window 2048) on one thread, the
#     issue's floor, and on as many threads as connscope's scan uses (min(cores, 4)), the floor
#     for the same resources,
#   - nmap -sT -n -Pn --min-rate 100000 -p1-65535 127.0.0.1 (the anchor).
# The runs are interleaved (one of each per round) so that load from elsewhere hits all alike;
# medians of RUNS rounds (default 7). Prints the medians and the ratios.
# Usage: bench/probe_bench.sh [BUILD_DIR] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-7}
BIN=$BUILD/src/cli/connscope
FLOOR=$BUILD/bench/connect_floor
command -v nmap >/dev/null || { echo "probe_bench: needs nmap (apt-get install nmap)" >&2; exit 3; }
[ -x "$BIN" ] && [ -x "$FLOOR" ] || { echo "probe_bench: build first (cmake --build $BUILD --target connscope connect_floor)" >&2; exit 3; }
ulimit -n 20000 2>/dev/null || true
# connscope probe's shards for an unpaced 65535-endpoint scan (probe/scan.h: up to 4, one per core).
SHARDS=$(nproc); [ "$SHARDS" -gt 4 ] && SHARDS=4

now() { date +%s.%N; }
wall() { local t0 t1; t0=$(now); "$@" >/dev/null 2>&1 || true; t1=$(now); echo "$t1 - $t0" | bc -l; }
median() { sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f\n", m}'; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq "$RUNS"); do
  wall "$BIN" probe 127.0.0.1 --ports 1-65535 --concurrency 2048 --failed >>"$tmp/cs"
  { "$BIN" --json probe 127.0.0.1 --ports 1-65535 --concurrency 2048 2>/dev/null || true; } | tail -1 |
    sed -n 's/.*"duration_ms":\([0-9.]*\).*/\1/p' | awk '{printf "%.4f\n", $1/1000}' >>"$tmp/cs_scan"
  wall "$FLOOR" 127.0.0.1 1 65535 2048 >>"$tmp/floor"
  wall "$FLOOR" 127.0.0.1 1 65535 2048 3000 "$SHARDS" >>"$tmp/floor_n"
  wall nmap -sT -n -Pn --min-rate 100000 -p1-65535 127.0.0.1 >>"$tmp/nmap"
done
cs=$(median <"$tmp/cs")
cs_scan=$(median <"$tmp/cs_scan")
floor=$(median <"$tmp/floor")
floor_n=$(median <"$tmp/floor_n")
nmap_t=$(median <"$tmp/nmap")
echo "connect scan of 127.0.0.1:1-65535, medians of $RUNS interleaved runs ($(nproc) cores, $(uname -r))"
printf "  connscope probe (wall)        %s s\n" "$cs"
printf "  connscope probe (scan only)   %s s\n" "$cs_scan"
printf "  connect_floor (C, epoll)      %s s\n" "$floor"
printf "  connect_floor, %s threads      %s s\n" "$SHARDS" "$floor_n"
printf "  nmap -sT --min-rate 100000    %s s\n" "$nmap_t"
printf "  connscope / floor             %.2fx (goal <= 1.10; scan only %.2fx)\n" \
  "$(echo "$cs / $floor" | bc -l)" "$(echo "$cs_scan / $floor" | bc -l)"
printf "  connscope / floor on %s threads %.2fx (scan only %.2fx)\n" "$SHARDS" \
  "$(echo "$cs / $floor_n" | bc -l)" "$(echo "$cs_scan / $floor_n" | bc -l)"
printf "  nmap / connscope              %.2fx (goal >= 1.30)\n" "$(echo "$nmap_t / $cs" | bc -l)"
