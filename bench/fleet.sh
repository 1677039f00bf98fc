#!/usr/bin/env bash
# bench/fleet.sh - runs bench_fleet several times and prints the spread of
# each figure, since one run on a shared machine says little. Every run
# measures its own raw ZeroMQ baselines; the ratios are per run.
#
#   bash bench/fleet.sh [BUILD_DIR] [RUNS] [bench_fleet flags...]
set -euo pipefail
build=${1:-build}
runs=${2:-3}
shift $(($# < 2 ? $# : 2))
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq "$runs"); do
  echo "== run $i of $runs"
  "$build/bench/bench_fleet" "$@" | tee -a "$out"
done
# Min and max of each figure across the runs: rates by their first number,
# round trips by p50 and p99.
awk '
  /^\(/ { phase = substr($1, 2, 1) }
  /raw ZeroMQ|fleet:/ {
    who = ($1 == "raw") ? "raw  " : "fleet"
    if ($0 ~ / p50 /) {
      for (i = 1; i <= NF; i++) { if ($i == "p50") p50 = $(i + 1); if ($i == "p99") p99 = $(i + 1) }
      k = "(" phase ") " who " p50 us"; v[k] = v[k] " " p50
      k = "(" phase ") " who " p99 us"; v[k] = v[k] " " p99
    } else {
      for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/ && $(i + 1) ~ /\/s$/) { k = "(" phase ") " who " " $(i + 1); v[k] = v[k] " " $i; break }
    }
  }
  END {
    for (k in v) {
      n = split(v[k], a, " "); lo = a[1]; hi = a[1]
      for (i = 2; i <= n; i++) { if (a[i] + 0 < lo + 0) lo = a[i]; if (a[i] + 0 > hi + 0) hi = a[i] }
      printf "%-28s min %10s  max %10s  (runs:%s)\n", k, lo, hi, v[k]
    }
  }' "$out" | sort
