#!/usr/bin/env bash
# bench/kernels.sh - the k-means and PCA benchmarks in one go: (b) kmeans
# against scikit-learn on 1,000,000 × 50 rows, k = 10; (d) the GEMM-shaped
# kernels against plain OpenBLAS SGEMM of the same shapes, in the same run.
#
#   bash bench/kernels.sh [BUILD_DIR]
set -euo pipefail
. "$(dirname "$0")/need_python.sh"
build=${1:-build}
echo "== (b) kmeans vs scikit-learn"
/usr/bin/python3 "$(dirname "$0")/bench_kmeans.py" "$build/bench/bench_kmeans" || true
echo "== (d) kmeans.assign vs cblas_sgemm"
"$build/bench/bench_kmeans" gemm --n 1000000 --d 50 --k 10
"$build/bench/bench_kmeans" gemm --n 200000 --d 128 --k 100
echo "== (d) pca.cov vs cblas_sgemm"
"$build/bench/bench_pca" --n 1000000 --d 50
"$build/bench/bench_pca" --n 200000 --d 256
