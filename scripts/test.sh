#!/usr/bin/env bash
# scripts/test.sh [BUILD_DIR] [cmake args...] - build, then run the whole
# suite with ctest. .ci/run calls it twice: plain, then with sanitizers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/build}
shift || true
bash "$root/scripts/build.sh" "$dir" "$@"
cd "$dir"
ctest --output-on-failure -j"$(nproc)"
