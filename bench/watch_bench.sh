#!/usr/bin/env bash
# connscope watch under a connection storm, same machine, same run, loopback only, inside a
# network namespace of its own (created here, deleted on exit):
#   - `connscope serve --mode close-after-accept` on 0.0.0.0:PORT and bench/connect_storm
#     (connect + close as fast as it can, THREADS threads, over ADDRS destination addresses
#     127.0.0.1.., STORM_SECONDS per run, at most COUNT connections);
#   - RUNS interleaved rounds of: the storm alone; with `connscope watch --json > /dev/null`
#     attached to the namespace; with `connscope watch` on a terminal (script(1) gives it one: at
#     most --rate lines a second, the rest counted in the kernel); with `connscope watch --json
#     --summary` (one line a second); with
#     `connscope watch --json --events overflow` (the programs count, nothing is streamed: the
#     kernel-side load of the agent, whose tracer streams no events). The
#     figures are medians: connections/s, the loss against the storm alone, the CPU per
#     connection of the storm (client + server, user + sys; the BPF programs run inside their
#     system calls and softirqs, so their cost shows here) and of the watch process (/proc);
#   - STATS_RUNS more storms of each with kernel.bpf_stats_enabled=1: run_time_ns / run_cnt of
#     each of the watch's programs (bpftool prog show, ids from /proc/PID/fdinfo), events seen
#     against connections made (the --json output counted this time, and the summary's totals);
#   - the anchors, BCC's tcpstates, tcpdrop and tcpretrans (bpfcc-tools) and bpftrace, under the
#     same storm when they run, or the error they stop with.
# Everything is bounded (each command by timeout, the whole script by MAX_SECONDS) and stops by
# itself; the trap kills the processes started here (by pid), deletes the namespace and restores
# kernel.bpf_stats_enabled, on failure too. Needs root and bpftool.
# Usage: bench/watch_bench.sh [BUILD_DIR] [RUNS]
#   env: BIN (another connscope binary to measure) STORM_SECONDS (5) THREADS (1) ADDRS (16)
#        CLOSE (close|wait) COUNT (1000000) PORT (9000) STATS_RUNS (3) ANCHORS (1: try them)
#        MAX_SECONDS (900) RUNS (5, when not given as the second argument)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-${RUNS:-5}}
STORM_SECONDS=${STORM_SECONDS:-5}
THREADS=${THREADS:-1}
ADDRS=${ADDRS:-16}
CLOSE=${CLOSE:-close}
COUNT=${COUNT:-1000000}
PORT=${PORT:-9000}
ANCHORS=${ANCHORS:-1}
STATS_RUNS=${STATS_RUNS:-3}
MAX_SECONDS=${MAX_SECONDS:-900}
BIN=$(realpath "${BIN:-$BUILD/src/cli/connscope}")
STORM=$(realpath "$BUILD/bench/connect_storm")
[ "$(id -u)" = 0 ] || { echo "watch_bench: run as root (BPF, network namespaces)" >&2; exit 3; }
[ -x "$BIN" ] && [ -x "$STORM" ] || { echo "watch_bench: build first (cmake --build $BUILD --target connscope connect_storm)" >&2; exit 3; }
command -v bpftool >/dev/null || { echo "watch_bench: needs bpftool" >&2; exit 3; }
command -v python3 >/dev/null || { echo "watch_bench: needs python3" >&2; exit 3; }

NS=csbench-watch-$$
TICK=$(getconf CLK_TCK)
tmp=$(mktemp -d)
stats_before=$(sysctl -n kernel.bpf_stats_enabled)
started=()  # pids of the processes started here: the only ones the trap kills
cleanup() {
  set +e  # clean up everything even when a step fails (the watchdog may be gone already)
  local p live=()
  [ -n "${watchdog:-}" ] && kill "$watchdog" 2>/dev/null
  # Only the processes started here that are still this script's children (a pid is not reused
  # while its parent has not waited for it).
  for p in "${started[@]}"; do
    [ "$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ')" = "$$" ] && live+=("$p")
  done
  for p in "${live[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${live[@]}"; do pkill -KILL -P "$p" 2>/dev/null || true; kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  sysctl -qw kernel.bpf_stats_enabled="$stats_before" || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "watch_bench: stopped" >&2; exit 130' INT TERM
# The whole run is bounded: past MAX_SECONDS the script ends itself (and the trap cleans up).
(
  trap 'kill "$s" 2>/dev/null; exit 0' TERM
  sleep "$MAX_SECONDS" &
  s=$!
  wait "$s" && { echo "watch_bench: over ${MAX_SECONDS}s, stopping" >&2; kill -TERM $$; }
) &
watchdog=$!

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"; exit} m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; print m}'; }
# user + sys of a process in seconds, from /proc/PID/stat (fields 14 and 15 after the comm).
cpu_of() { awk -v t="$TICK" '{sub(/.*\) /, ""); print ($12 + $13) / t}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# nsenter execs the command (ip netns exec forks, and so would a shell function in the
# background), so that $! is the process the trap stops.
IN_NS=(nsenter --net="/run/netns/$NS")

ip netns add "$NS"
ip -n "$NS" link set lo up
"${IN_NS[@]}" timeout $((MAX_SECONDS + 5)) "$BIN" serve --listen "0.0.0.0:$PORT" --mode close-after-accept >"$tmp/serve.out" 2>&1 &
started+=($!)
for _ in $(seq 50); do "${IN_NS[@]}" ss -Hltn "sport = :$PORT" | grep -q . && break; sleep 0.1; done
"${IN_NS[@]}" ss -Hltn "sport = :$PORT" | grep -q . || { echo "watch_bench: serve did not listen" >&2; cat "$tmp/serve.out" >&2; exit 1; }
SERVE=$(pgrep -P "${started[0]}" | head -1)  # timeout's child
[ -n "$SERVE" ] || { echo "watch_bench: no serve process under pid ${started[0]}" >&2; exit 1; }

# One storm; appends "rate connections cpu_per_connection_us" to $1.
storm() {
  local out s0 s1 line
  s0=$(cpu_of "$SERVE")
  line=$("${IN_NS[@]}" timeout $((STORM_SECONDS + 30)) "$STORM" 127.0.0.1 "$PORT" "$COUNT" "$STORM_SECONDS" "$THREADS" "$ADDRS" "$CLOSE" | head -1)
  s1=$(cpu_of "$SERVE")
  echo "$line" >>"$tmp/storm.log"
  echo "$line" | awk -v s="$(echo "$s1 - $s0" | bc -l)" '{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "%s %s %.3f\n", v["rate"], v["connections"], (v["cpu"] + s) * 1e6 / (v["connections"] ? v["connections"] : 1) }' >>"$1"
}

# Starts `connscope watch ARGS` in the namespace with stdout to $1 (WATCH_TTY=1: on a terminal,
# script(1)'s, whose output goes to $1); waits until its loop runs (its signalfd exists, after the
# programs are attached). Sets $watch.
start_watch() {
  local out=$1
  shift
  local cmd=("$BIN" watch "$@" --duration $((STORM_SECONDS + 30))s)
  [ "${WATCH_TTY:-0}" = 1 ] && cmd=(script -qfec "$(printf '%q ' exec "${cmd[@]}")" /dev/null)
  "${IN_NS[@]}" timeout $((STORM_SECONDS + 40)) "${cmd[@]}" >"$out" 2>>"$tmp/watch.err" </dev/null &
  local t=$!
  started+=($t)
  watch=""
  for _ in $(seq 100); do
    watch=$(pgrep -P "$t" | head -1 || true)
    # Under script(1), watch is script's child.
    [ -n "$watch" ] && [ "$(cat "/proc/$watch/comm" 2>/dev/null)" = script ] && watch=$(pgrep -P "$watch" | head -1 || true)
    [ -n "$watch" ] && ls -l "/proc/$watch/fd" 2>/dev/null | grep -q signalfd && break
    sleep 0.1
  done
  [ -n "$watch" ] || { echo "watch_bench: connscope watch did not start" >&2; cat "$tmp/watch.err" >&2; exit 1; }
  sleep 0.2
}
stop_watch() {
  kill -TERM "$watch" 2>/dev/null || true
  wait "${started[-1]}" 2>/dev/null || true
}

# One storm with the watch attached; appends "rate connections storm_cpu_us_per_conn
# watch_cpu_us_per_conn watch_cpu_percent_of_a_core watch_wakeups_per_second" to $1.
switches_of() { awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
watched_storm() {
  local file=$1 out=$2
  shift 2
  start_watch "$out" "$@"
  local w0 w1 t0 t1 v0 v1
  w0=$(cpu_of "$watch")
  v0=$(switches_of "$watch")
  t0=$(date +%s.%N)
  storm "$tmp/one"
  sleep 0.5  # what is still in the ring buffer
  w1=$(cpu_of "$watch")
  v1=$(switches_of "$watch")
  t1=$(date +%s.%N)
  stop_watch
  tail -1 "$tmp/one" | awk -v w="$(echo "$w1 - $w0" | bc -l)" -v d="$(echo "$t1 - $t0" | bc -l)" -v v="$((v1 - v0))" \
    '{printf "%s %s %s %.3f %.1f %.0f\n", $1, $2, $3, w * 1e6 / ($2 ? $2 : 1), 100 * w / d, v / d}' >>"$file"
}

echo "warming up (1 storm of ${STORM_SECONDS}s)" >&2
storm "$tmp/warmup"
# Each round runs the three once, starting with a different one, so that a drift in the
# machine's load does not always fall on the same one.
one_of() {
  case $1 in
    0) storm "$tmp/base" ;;
    1) watched_storm "$tmp/json" /dev/null --json ;;
    2) watched_storm "$tmp/summary" "$tmp/summary.out" --json --summary ;;
    3) watched_storm "$tmp/counters" /dev/null --json --events overflow ;;
    4) WATCH_TTY=1 watched_storm "$tmp/terminal" /dev/null ;;
  esac
}
for i in $(seq "$RUNS"); do
  echo "round $i/$RUNS (load average $(cut -d' ' -f1 /proc/loadavg))" >&2
  for k in 0 1 2 3 4; do one_of $(((i + k) % 5)); done
done

# The programs' own time: bpf_stats on for one run of each, ids from the watch's fdinfo.
prog_stats() {  # prints "name run_time_ns run_cnt" for the watch's programs
  local ids id
  ids=$(grep -h '^prog_id:' /proc/"$watch"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u)
  for id in $ids; do
    bpftool -j prog show id "$id" | python3 -c 'import json,sys; p=json.load(sys.stdin); print(p["name"], p.get("run_time_ns", 0), p.get("run_cnt", 0))'
  done
}
# One storm with bpf_stats on; appends to $tmp/progs "label name run_time_ns run_cnt connections"
# per program, and to $tmp/coverage what the watch's output saw (its --json output is counted and
# dropped at once: some hundred MB a run).
stats_run() {  # $1: label; the rest: watch arguments
  local label=$1
  shift
  start_watch "$tmp/stats.out" "$@"
  prog_stats >"$tmp/p0"
  storm "$tmp/stats.storm"
  sleep 0.5
  prog_stats >"$tmp/p1"
  stop_watch
  local conns
  conns=$(tail -1 "$tmp/stats.storm" | awk '{print $2}')
  join <(sort "$tmp/p0") <(sort "$tmp/p1") | awk -v l="$label" -v n="$conns" '{print l, $1, $4 - $2, $5 - $3, n}' >>"$tmp/progs"
  python3 - "$label" "$conns" "$tmp/stats.out" >>"$tmp/coverage" <<'PY'
import json, sys
label, conns, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
import re
n = est = lost = 0
last = None
with open(path, errors="replace") as f:
    for line in f:
        if label == "terminal":  # text on a terminal: event lines, and "… N more events" lines
            m = re.search(r"… (\d+) more events", line)
            if m:
                n += int(m.group(1))
            elif re.match(r"\d\d:\d\d:\d\d\.\d{3} ", line):
                n += 1
                est += "SYN_SENT → ESTABLISHED" in line
            elif "ring buffer was full" in line:
                lost += int(line.split("connscope: ")[-1].split()[0])
            continue
        e = json.loads(line)
        if "total" in e:  # --summary: one object a second, the totals so far
            last = e
        elif e.get("kind") == "lost":
            lost += e.get("count", 0)
        else:
            n += 1
            est += e.get("old_state") == "SYN_SENT" and e.get("new_state") == "ESTABLISHED"
if last:
    t = last["total"]
    n, lost = t["events"], t["lost"]
    est = sum(r["count"] for r in t["transitions"] if r["from"] == "SYN_SENT" and r["to"] == "ESTABLISHED")
print(label, conns, n, est, lost)
PY
  rm -f "$tmp/stats.out"
}
sysctl -qw kernel.bpf_stats_enabled=1
for i in $(seq "$STATS_RUNS"); do
  echo "bpf_stats run $i/$STATS_RUNS" >&2
  stats_run json --json
  stats_run summary --json --summary
  stats_run counters --json --events overflow
  WATCH_TTY=1 stats_run terminal
done
sysctl -qw kernel.bpf_stats_enabled="$stats_before"

# The anchors: each runs in the namespace under one storm, or its error is recorded.
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
anchor() {  # $1: label; $2: what its output says once it is attached (regex); the rest: the command
  local label=$1 ready=$2
  shift 2
  "${IN_NS[@]}" timeout $((STORM_SECONDS + 60)) "$@" >"$tmp/$label.out" 2>"$tmp/$label.err" &
  local t=$! a=""
  started+=($t)
  # BCC compiles its program first (seconds); it is attached once it has printed its header.
  for _ in $(seq 300); do
    alive "$t" || break
    grep -qE "$ready" "$tmp/$label.out" "$tmp/$label.err" && break
    sleep 0.1
  done
  sleep 1  # bpftrace says "Attaching" before the kernel refuses the probe
  if ! alive "$t" || ! grep -qE "$ready" "$tmp/$label.out" "$tmp/$label.err"; then
    kill -TERM "$t" 2>/dev/null || true
    wait "$t" 2>/dev/null || true
    local why
    why=$(cat "$tmp/$label.out" "$tmp/$label.err" | grep -v RLIMIT_MEMLOCK |
      grep -E 'Unable to find|chdir|ERROR|Exception|not found|rror' | head -4 | paste -sd'|' | sed 's/|/ | /g')
    printf "%-11s did not run: %s\n" "$label" "${why:-$(tail -1 "$tmp/$label.err")}"
    return
  fi
  a=$(pgrep -P "$t" | head -1)
  a=${a:-$t}
  local c0 c1 lines0 lines1
  c0=$(cpu_of "$a")
  lines0=$(wc -l <"$tmp/$label.out")
  storm "$tmp/$label.storm"
  sleep 1
  c1=$(cpu_of "$a")
  lines1=$(wc -l <"$tmp/$label.out")
  kill -INT "$a" 2>/dev/null || true
  wait "$t" 2>/dev/null || true
  read -r rate conns _ <"$tmp/$label.storm"
  printf "%-11s ran: %s connections/s, %s lines for %s connections (%.2f per connection), CPU %.3f s (%.1f %% of a core)\n" \
    "$label" "$rate" "$((lines1 - lines0))" "$conns" "$(echo "($lines1 - $lines0) / $conns" | bc -l)" \
    "$(echo "$c1 - $c0" | bc -l)" "$(echo "100 * ($c1 - $c0) / ($STORM_SECONDS + 1)" | bc -l)"
}
if [ "$ANCHORS" = 1 ]; then
  echo "anchors" >&2
  for tool in tcpstates:SKADDR tcpdrop:'^TIME' tcpretrans:'^Tracing'; do
    name=${tool%%:*}
    if command -v "$name-bpfcc" >/dev/null; then
      anchor "$name" "${tool#*:}" "$name-bpfcc" >>"$tmp/anchors"
    else
      echo "$name     not installed (apt-get install bpfcc-tools)" >>"$tmp/anchors"
    fi
  done
  if command -v bpftrace >/dev/null; then
    anchor bpftrace-tp '^Attaching' bpftrace -e 'tracepoint:sock:inet_sock_set_state { @[args->newstate] = count(); }' >>"$tmp/anchors"
    anchor bpftrace-kp '^Attaching [0-9]+ probe' bpftrace -e 'kprobe:tcp_set_state { @ = count(); }' >>"$tmp/anchors"
  else
    echo "bpftrace    not installed" >>"$tmp/anchors"
  fi
fi

# --- the table ---
col() { awk -v c="$2" '{print $c}' "$tmp/$1" | median; }
base=$(col base 1)
echo
echo "connscope watch under a connect + close storm: $(nproc) cores, $(uname -r), $(date -u +'%Y-%m-%d %H:%M UTC')"
echo "storm: $THREADS thread(s), $ADDRS destination addresses, client '$CLOSE', ${STORM_SECONDS}s per run; medians of $RUNS interleaved rounds; load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-28s %9s %8s %18s %18s %10s %14s\n" "run" "conn/s" "lost %" "storm CPU us/conn" "watch CPU us/conn" "watch CPU" "watch wakeups/s"
for r in base json terminal summary counters; do
  rate=$(col $r 1)
  lost=$(echo "100 * ($base - $rate) / $base" | bc -l)
  sc=$(col $r 3)
  if [ "$r" = base ]; then
    printf "%-28s %9.0f %8s %18.2f %18s %10s %14s\n" "storm alone" "$rate" "-" "$sc" "-" "-" "-"
  else
    label="watch --json > /dev/null"
    [ "$r" = summary ] && label="watch --json --summary"
    [ "$r" = terminal ] && label="watch on a terminal"
    [ "$r" = counters ] && label="counters only (agent's load)"
    printf "%-28s %9.0f %8.1f %18.2f %18.2f %9.1f%% %14.0f\n" "$label" "$rate" "$lost" "$sc" "$(col $r 4)" "$(col $r 5)" "$(col $r 6)"
  fi
done
echo "  all runs (conn/s): base $(awk '{printf "%s ", $1}' "$tmp/base")| json $(awk '{printf "%s ", $1}' "$tmp/json")| terminal $(awk '{printf "%s ", $1}' "$tmp/terminal")| summary $(awk '{printf "%s ", $1}' "$tmp/summary")| counters $(awk '{printf "%s ", $1}' "$tmp/counters")"
errs=$(grep -c . "$tmp/storm.log" | head -1)
failed=$(awk '{for (i = 1; i <= NF; i++) if ($i ~ /^failed=/) {split($i, kv, "="); s += kv[2]}} END {print s + 0}' "$tmp/storm.log")
echo "  storms: $errs, failed connects in all of them: $failed"

echo
echo "BPF programs' own time (kernel.bpf_stats_enabled=1; medians of $STATS_RUNS storms each):"
python3 - "$tmp" <<'PY'
import statistics, sys
from collections import defaultdict
tmp = sys.argv[1]
runs = defaultdict(list)  # (label, prog) -> [(time, cnt, conns)]
for line in open(f"{tmp}/progs"):
    label, name, t, c, n = line.split()
    runs[(label, name)].append((int(t), int(c), int(n)))
words = {"json": "watch --json", "summary": "watch --json --summary", "terminal": "watch on a terminal (--rate 50)",
         "counters": "counters only: watch --events overflow (no state, drop, reset or retransmit streamed)"}
for label in ("json", "terminal", "summary", "counters"):
    print(f"  {words[label]}:")
    totals = defaultdict(lambda: [0, 0, 0])
    for (l, name), rs in sorted(runs.items()):
        if l != label:
            continue
        per_run = statistics.median(t / c for t, c, _ in rs) if all(c for _, c, _ in rs) else 0
        per_conn = statistics.median(c / n for _, c, n in rs)
        print(f"    {name:22} {per_run:7.0f} ns/run  {per_conn:6.2f} runs/connection  "
              f"(run_cnt {sum(c for _, c, _ in rs)}, run_time {sum(t for t, _, _ in rs) / 1e6:.1f} ms)")
        for i, (t, c, n) in enumerate(rs):
            totals[i][0] += t; totals[i][1] += c; totals[i][2] = n
    ns_conn = statistics.median(t / n for t, _, n in totals.values())
    ns_run = statistics.median(t / c for t, c, _ in totals.values())
    print(f"    {'all':22} {ns_run:7.0f} ns/run  {ns_conn:7.0f} ns/connection")
print("  events seen against connections made:")
for line in open(f"{tmp}/coverage"):
    label, conns, n, est, lost = line.split()
    conns, n, est, lost = int(conns), int(n), int(est), int(lost)
    print(f"    {label:8} {conns} connections: {n} events ({n / conns:.2f} per connection), "
          f"SYN_SENT->ESTABLISHED {est} ({100 * est / conns:.1f} %), lost {lost}")
PY
if [ -s "$tmp/anchors" ]; then
  echo
  echo "anchors (same namespace, same storm):"
  sed 's/^/  /' "$tmp/anchors"
fi
