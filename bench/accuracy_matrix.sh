#!/usr/bin/env bash
# The scenario matrix against its anchors, same lab, same cells, same run: for every cell of
# tests/lab/matrix.h, `connscope doctor`, `nmap -sT -Pn -n --reason`, `curl` (HTTP and HTTPS
# cells) and prometheus-blackbox-exporter (tcp / tls / http module, /probe?...&debug=true), each
# judged as (stage, cause) against the cell's truth. Writes the table into docs/ACCURACY.md
# (between its matrix markers); the raw results (one JSON line per cell) and each shard's log
# stay in BUILD_DIR/accuracy_matrix.*.
# Needs root (the lab) and the build: cmake --build BUILD --target connscope matrix_lab_test
# Usage: bench/accuracy_matrix.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
TEST=$BUILD/tests/lab/matrix_lab_test
for tool in nmap curl prometheus-blackbox-exporter python3; do
  command -v "$tool" >/dev/null || { echo "accuracy_matrix: needs $tool (scripts/install-deps)" >&2; exit 3; }
done
[ -x "$TEST" ] || { echo "accuracy_matrix: build first (cmake --build $BUILD --target connscope matrix_lab_test)" >&2; exit 3; }

results=$BUILD/accuracy_matrix.jsonl
: >"$results"
export CONNSCOPE_MATRIX_ANCHORS=$(realpath "$results")
# The shards two at a time (one lab each), as ctest -j2 runs them.
shards=()
for family in v4 v6; do
  for proto in tcp tls http https; do shards+=("${family}_${proto}"); done
done
run_shard() {
  "$TEST" --gtest_filter="Cells/MatrixLab.Doctor/$1_*" >"$BUILD/accuracy_matrix.$1.log" 2>&1 || true
}
t0=$(date +%s)
for ((i = 0; i < ${#shards[@]}; i += 2)); do
  run_shard "${shards[i]}" &
  run_shard "${shards[i + 1]}" &
  wait
done
t1=$(date +%s)
echo "accuracy_matrix: $(wc -l <"$results") cells in $((t1 - t0)) s"
python3 bench/accuracy_table.py "$results" docs/ACCURACY.md "bench/accuracy_matrix.sh $*" \
  "$(date -u +%Y-%m-%d) ($(uname -r), nmap $(nmap --version | awk 'NR==1{print $3}'), $(curl --version | awk 'NR==1{print $1" "$2}'), blackbox_exporter $(prometheus-blackbox-exporter --version 2>&1 | awk 'NR==1{print $3}'))"
