#!/usr/bin/env bash
# connscope inspect when a service listens inside ip_local_port_range (issue 12, part 5): PAIRS
# pairs of bench/many_sockets (default 3 x 10,000 connections: 60,000 established loopback
# sockets) serve on 127.0.0.1:41001.. (BASE_PORT+1..), ports the kernel also hands out to
# clients, so every client socket looks like "incoming on its own ephemeral port" to a rule that
# knows only the port range. In the same run, round by round (RUNS rounds, default 11, each
# round runs the three commands once, in turn, so that load from elsewhere falls on all three),
# it times the floor dump, `connscope --json inspect --interval 0 --no-owners` and `ss -tan`, and
# prints the medians, the ratios, and how many per-port rows inspect's JSON has. BEFORE_BIN=path
# times another connscope binary (an older build) in the same rounds, for a before/after.
# Usage: bench/inspect_service_bench.sh [BUILD_DIR] [PAIRS] [PER_PAIR]   (root not needed)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
PAIRS=${2:-3}
PER_PAIR=${3:-10000}
RUNS=${RUNS:-11}
BASE_PORT=${BASE_PORT:-41000}
BIN=$BUILD/src/cli/connscope
MANY=$BUILD/bench/many_sockets
FLOOR=$BUILD/bench/floor_dump
LIFETIME=${LIFETIME:-300}   # seconds each holder lives at most, should the script die uncleanly
for b in "$BIN" "$MANY" "$FLOOR"; do
  [ -x "$b" ] || { echo "inspect_service_bench: $b missing; build first (cmake --build $BUILD --target connscope many_sockets floor_dump)" >&2; exit 3; }
done
read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range
if [ $((BASE_PORT + 1)) -lt "$lo" ] || [ $((BASE_PORT + PAIRS)) -gt "$hi" ]; then
  echo "inspect_service_bench: ports $((BASE_PORT + 1))..$((BASE_PORT + PAIRS)) are not inside ip_local_port_range ($lo-$hi)" >&2
  exit 3
fi

. bench/holders.sh
holders_init
t0=$(date +%s.%N)
holders_start
echo "sockets up in $(echo "$(date +%s.%N) - $t0" | bc) s; $(grep TCP: /proc/net/sockstat)" >&2

# What inspect makes of them: per-port rows, and the rows of the service ports.
"$BIN" --json inspect --interval 0 --no-owners > "$tmp/inspect.json" && st=0 || st=$?
echo "connscope inspect exit status: $st (1 = problems found)" >&2
rows=$(jq '.ports | length' "$tmp/inspect.json")
service_rows=$(jq -c --argjson lo $((BASE_PORT + 1)) --argjson hi $((BASE_PORT + PAIRS)) \
  '[.ports[] | select(.port >= $lo and .port <= $hi) | {port, direction, ESTABLISHED: .states.ESTABLISHED}]' "$tmp/inspect.json")
echo "ports[] rows: $rows; service ports: $service_rows"
if [ -n "${BEFORE_BIN:-}" ]; then
  "$BEFORE_BIN" --json inspect --interval 0 --no-owners > "$tmp/before.json" || true
  echo "before ($BEFORE_BIN): ports[] rows: $(jq '.ports | length' "$tmp/before.json"), JSON $(wc -c < "$tmp/before.json") bytes (now $(wc -c < "$tmp/inspect.json"))"
fi

# One round: each command once, wall time in microseconds via $EPOCHREALTIME (one fork+exec each).
declare -A T
time_one() {
  local s e
  s=${EPOCHREALTIME/./}; eval "$2" > /dev/null || true; e=${EPOCHREALTIME/./}
  T[$1]+="$((e - s)) "
}
for _ in $(seq 1 "$RUNS"); do
  time_one floor "$FLOOR dump"
  time_one inspect "$BIN --json inspect --interval 0 --no-owners"
  time_one sstan "ss -tan | wc -l"
  if [ -n "${BEFORE_BIN:-}" ]; then time_one before "$BEFORE_BIN --json inspect --interval 0 --no-owners"; fi
done
median() { printf '%s\n' ${T[$1]} | sort -n | awk '{a[NR]=$1} END {printf "%.4f", a[int((NR+1)/2)]/1e6}'; }
M_floor=$(median floor); M_inspect=$(median inspect); M_ss=$(median sstan)
printf '%-58s %8s s\n' "floor: one inet_diag dump (floor_dump dump)" "$M_floor"
printf '%-58s %8s s\n' "connscope --json inspect --interval 0 --no-owners" "$M_inspect"
printf '%-58s %8s s\n' "ss -tan | wc -l" "$M_ss"
if [ -n "${BEFORE_BIN:-}" ]; then
  M_before=$(median before)
  printf '%-58s %8s s   (%sx the floor)\n' "before: the same command, BEFORE_BIN" "$M_before" "$(awk -v a="$M_before" -v b="$M_floor" 'BEGIN {printf "%.2f", a/b}')"
fi
echo
echo "ratios (medians of $RUNS rounds):"
echo "  inspect / floor dump   $(awk -v a="$M_inspect" -v b="$M_floor" 'BEGIN {printf "%.2f", a/b}')x   (target <= 1.2)"
echo "  ss -tan / inspect      $(awk -v a="$M_ss" -v b="$M_inspect" 'BEGIN {printf "%.2f", a/b}')x   (target >= 2)"
echo "  sockets: $($FLOOR dump); $(date -u +%FT%TZ); load:$(uptime | sed 's/.*load/ load/')"
