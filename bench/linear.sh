#!/bin/sh
# bench/linear.sh - build bench_linear and compare linear-learner with scikit-learn.
#   bench/linear.sh [BUILD_DIR] [--rows N]
set -e
. "$(dirname "$0")/need_python.sh"
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
[ $# -gt 0 ] && shift
cmake -S "$root" -B "$build" >/dev/null
cmake --build "$build" --target bench_linear -j"$(nproc)" >/dev/null
exec /usr/bin/python3 "$root/bench/bench_linear.py" "$build/bench/bench_linear" "$@"
