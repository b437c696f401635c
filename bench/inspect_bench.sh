#!/usr/bin/env bash
# connscope inspect against its floors and against ss / netstat, same machine, same run:
# 10 pairs of processes hold 200,000 established loopback TCP sockets (10,000 accepted + 10,000
# connected per pair, server ports 18801..18810; nofile is 20,000 per process here), then each
# command runs RUNS times (default 5) and the median wall time is reported.
# Usage: bench/inspect_bench.sh [BUILD_DIR] [PAIRS] [PER_PAIR]   (root, for -p and /proc/*/fd)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
PAIRS=${2:-10}
PER_PAIR=${3:-10000}
RUNS=${RUNS:-5}
TANP_TIMEOUT=${TANP_TIMEOUT:-120}
BIN=$BUILD/src/cli/connscope
MANY=$BUILD/bench/many_sockets
FLOOR=$BUILD/bench/floor_dump
LIFETIME=${LIFETIME:-600}   # seconds each holder lives at most, should the script die uncleanly
for b in "$BIN" "$MANY" "$FLOOR"; do
  [ -x "$b" ] || { echo "inspect_bench: $b missing; build first (cmake --build $BUILD)" >&2; exit 3; }
done

. bench/holders.sh
holders_init
t0=$(date +%s.%N)
holders_start
echo "sockets up in $(echo "$(date +%s.%N) - $t0" | bc) s; $(grep TCP: /proc/net/sockstat)" >&2
echo "floor dump: $($FLOOR dump); ss -tan lines: $(ss -tan | wc -l); load:$(uptime | sed 's/.*load/ load/')" >&2
"$BIN" --json inspect --interval 0 --no-owners > /dev/null && st=0 || st=$?
echo "connscope inspect exit status: $st (1 = problems found)" >&2

# median wall time of RUNS runs of a shell command line, in seconds (3 decimals); timed with
# $EPOCHREALTIME around an eval in this shell, so a plain command costs one fork+exec, no extra shell
median() {
  local cmd=$1 n=${2:-$RUNS} t=() s e
  for _ in $(seq 1 "$n"); do
    s=${EPOCHREALTIME/./}; eval "$cmd" > /dev/null || true; e=${EPOCHREALTIME/./}
    t+=("$((e - s))")
  done
  printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]/1e6}'
}
row() { printf '%-62s %8s %s\n' "$1" "$2" "${3:-s}"; }

declare -A T
T[floor]=$(median "$FLOOR dump");                                   row "floor: one inet_diag dump" "${T[floor]}"
T[info]=$(median "$FLOOR dump-info");                              row "floor: the same dump with tcp_info (not the target's floor)" "${T[info]}"
T[fds]=$(median "$FLOOR fds");                                      row "floor: readlink every /proc/*/fd" "${T[fds]}"
T[both]=$(median "$FLOOR both");                                    row "floor: dump + fd scan, one process" "${T[both]}"
T[noown]=$(median "$BIN --json inspect --interval 0 --no-owners > /dev/null"); row "connscope --json inspect --interval 0 --no-owners" "${T[noown]}"
T[sstan]=$(median "ss -tan | wc -l");                               row "ss -tan | wc -l" "${T[sstan]}"
T[netstat]=$(median "netstat -ant | wc -l");                        row "netstat -ant | wc -l" "${T[netstat]}"
T[own]=$(median "$BIN --json inspect --interval 0 > /dev/null");    row "connscope --json inspect --interval 0" "${T[own]}"
T[sstlnp]=$(median "ss -tlnp | wc -l");                             row "ss -tlnp | wc -l" "${T[sstlnp]}"
T[listen]=$(median "$BIN --json inspect --listen --interval 0 > /dev/null"); row "connscope --json inspect --listen --interval 0" "${T[listen]}"
# ss -tanp: once, bounded (its owner table is quadratic in the number of sockets)
s=${EPOCHREALTIME/./}
if timeout "$TANP_TIMEOUT" bash -c 'ss -tanp | wc -l' > /dev/null; then
  e=${EPOCHREALTIME/./}; T[sstanp]=$(awk -v d=$((e - s)) 'BEGIN {printf "%.3f", d/1e6}')
else
  T[sstanp]=">$TANP_TIMEOUT"
fi
row "ss -tanp | wc -l (1 run, timeout ${TANP_TIMEOUT} s)" "${T[sstanp]}"

rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {printf "%.1f", $2/1024}' || true; }
R1=$(rss "$BIN" --json inspect --interval 0 --no-owners)
R2=$(rss "$BIN" --json inspect --interval 0)
R3=$(rss "$BIN" --json inspect)
row "peak RSS, inspect --interval 0 --no-owners" "$R1" MiB
row "peak RSS, inspect --interval 0" "$R2" MiB
row "peak RSS, inspect (default 1 s interval, two samples)" "$R3" MiB

r() { awk -v a="$1" -v b="$2" 'BEGIN { if (b ~ /^>/) { printf ">%.1f", substr(b,2)/a } else printf "%.2f", b/a }'; }
echo
echo "ratios:"
echo "  inspect --no-owners / floor dump          $(r "${T[floor]}" "${T[noown]}")x   (target <= 1.15)"
echo "  inspect --no-owners / floor dump+tcp_info $(r "${T[info]}" "${T[noown]}")x   (for reference)"
echo "  ss -tan / inspect --no-owners             $(r "${T[noown]}" "${T[sstan]}")x   (target >= 2)"
echo "  netstat -ant / inspect --no-owners        $(r "${T[noown]}" "${T[netstat]}")x"
echo "  inspect / (floor dump + fd scan, one run) $(r "${T[both]}" "${T[own]}")x   (target <= 1.15)"
echo "  inspect / (floor dump + floor fd scan)    $(r "$(awk -v a="${T[floor]}" -v b="${T[fds]}" 'BEGIN{print a+b}')" "${T[own]}")x"
echo "  ss -tanp / inspect                        $(r "${T[own]}" "${T[sstanp]}")x   (target >= 20)"
echo "  ss -tlnp / inspect --listen               $(r "${T[listen]}" "${T[sstlnp]}")x   (target >= 2)"
echo "  peak RSS (MiB): $R1 / $R2 / $R3            (target <= 32)"
echo "  sockets: $($FLOOR dump); load:$(uptime | sed 's/.*load/ load/')"
