#!/usr/bin/env bash
# Runs one harness: first every input of its committed corpus (tests/fuzz/corpus/<name>/: a
# regression input fails here), then SECONDS of fuzzing. New inputs go to WORK/corpus/<name>
# (never into the source tree), crashes to WORK/crashes/<name>-*. The dictionary
# tests/fuzz/dict/<name>.dict is used when there is one.
# Usage: run_harness.sh BINARY FUZZ_SOURCE_DIR WORK SECONDS
set -euo pipefail
bin=$1 src=$2 work=$3 seconds=$4
name=$(basename "$bin"); name=${name#fuzz_}
mkdir -p "$work/corpus/$name" "$work/crashes"
args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
      -artifact_prefix="$work/crashes/$name-")
if [ -f "$src/dict/$name.dict" ]; then args+=(-dict="$src/dict/$name.dict"); fi
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && command -v llvm-symbolizer >/dev/null; then
  export ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer)
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec "$bin" "${args[@]}" "$work/corpus/$name" "$src/corpus/$name"
