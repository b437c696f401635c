#!/usr/bin/env bash
# Runs one harness: first every input of its committed corpus (tests/fuzz/corpus/<name>/: a
# regression input fails here), then SECONDS of fuzzing. New inputs go to WORK/corpus/<name>
# (never into the source tree), crashes to WORK/crashes/<name>-*. The dictionary
# tests/fuzz/dict/<name>.dict is used when there is one. With SEED, libFuzzer's mutations are the
# same on every run (CI: a shorter run explores a prefix of a longer one with the same seed, so a
# seed that fuzzed clean for long here cannot turn red there); without it, a random seed.
# Usage: run_harness.sh BINARY FUZZ_SOURCE_DIR WORK SECONDS [SEED]
set -euo pipefail
bin=$1 src=$2 work=$3 seconds=$4 seed=${5:-}
name=$(basename "$bin"); name=${name#fuzz_}
mkdir -p "$work/corpus/$name" "$work/crashes"
args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
      -artifact_prefix="$work/crashes/$name-")
if [ -n "$seed" ]; then args+=(-seed="$seed"); fi
if [ -f "$src/dict/$name.dict" ]; then args+=(-dict="$src/dict/$name.dict"); fi
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && command -v llvm-symbolizer >/dev/null; then
  export ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer)
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec "$bin" "${args[@]}" "$work/corpus/$name" "$src/corpus/$name"
