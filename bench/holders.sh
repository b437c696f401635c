# Sourced by the benchmarks that need many sockets (inspect_bench.sh, agent_bench.sh): starts
# $PAIRS pairs of bench/many_sockets, each holding $PER_PAIR accepted + $PER_PAIR connected
# loopback TCP sockets (server ports $BASE_PORT+1.., default 18801..), and waits until all say "ready". Uses the
# caller's $tmp (a directory), $pids (an array) and $MANY, $LIFETIME; opens fd 3 as the holders'
# stdin: closing it (the caller's cleanup) makes them exit.
holders_start() {
  mkfifo "$tmp/hold"
  exec 3<>"$tmp/hold"
  echo "starting $PAIRS pairs x $PER_PAIR connections..." >&2
  local i
  for i in $(seq 1 "$PAIRS"); do
    "$MANY" $((${BASE_PORT:-18800} + i)) "$PER_PAIR" "$LIFETIME" < "$tmp/hold" > "$tmp/ready.$i" 3>&- &
    pids+=($!)
  done
  for i in $(seq 1 "$PAIRS"); do
    until grep -q ready "$tmp/ready.$i" 2>/dev/null; do
      kill -0 "${pids[$((i - 1))]}" 2>/dev/null || { echo "holders: holder $i died" >&2; return 1; }
      sleep 0.2
    done
  done
}
