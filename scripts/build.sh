#!/usr/bin/env bash
# scripts/build.sh [BUILD_DIR] [cmake args...] - configure and build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/build}
shift || true
bash "$root/scripts/setup.sh"
cmake -S "$root" -B "$dir" -DSF_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
