# Sourced by the benchmarks that need many sockets (inspect_bench.sh, inspect_service_bench.sh,
# agent_bench.sh). holders_init makes $tmp (a directory) and $pids (an array) and removes them
# on exit. holders_start starts $PAIRS pairs of bench/many_sockets, each holding $PER_PAIR
# accepted + $PER_PAIR connected loopback TCP sockets (server ports $BASE_PORT+1.., default
# 18801..), and waits until all say "ready". Uses $tmp, $pids, $MANY and $LIFETIME; opens fd 3
# as the holders' stdin: closing it (holders_cleanup) makes them exit.
holders_init() {
  tmp=$(mktemp -d)
  pids=()
  trap holders_cleanup EXIT
  trap 'exit 130' INT TERM
}
holders_cleanup() {
  exec 3>&- 2>/dev/null || true            # holders see EOF on stdin and exit
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
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
