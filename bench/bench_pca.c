/* bench/bench_pca.c - PCA's covariance accumulation against plain SGEMM.
 *
 *   bench_pca [--n N] [--d D]
 * Times pca.cov (OpenBLAS: SSYRK per block of 4096 rows, as training reads
 * them, into the double accumulator) over N×D rows, and one cblas_sgemm
 * of the same Xᵀ·X, (D,N)·(N,D). SSYRK does half the multiply-adds of the
 * GEMM, so both its own GFLOP/s (N·D·(D+1)) and the GEMM-equivalent
 * (2·N·D², the work the GEMM does for the same answer) are printed. */
#define _GNU_SOURCE
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench_data.h"
#include "kernels/pca/pca.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    size_t n = 1000000, d = 50, block = 4096;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--n") == 0)
            n = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--d") == 0)
            d = strtoull(argv[i + 1], NULL, 10);
    }
    float *X = bench_data_alloc(n * d), *S = bench_data_alloc(d * d);
    double *G = calloc(d * d, sizeof *G);
    uint64_t s = 1;
    bench_data_fill_uniform(X, n * d, -0.5, 0.5, &s);
    kn_err err = {{0}};
    double best_gemm = INFINITY, best_cov = INFINITY;
    for (int rep = 0; rep < 5; rep++) {
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)d, (int)n, 1.0f, X,
                    (int)d, X, (int)d, 0.0f, S, (int)d);
        best_gemm = fmin(best_gemm, now() - t);
        t = now();
        for (size_t r = 0; r < n; r += block) {
            kn_matrix B = {n - r < block ? n - r : block, d, X + r * d};
            if (kn_pca_cov_blas(&B, G, &err) != SF_OK) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
        }
        best_cov = fmin(best_cov, now() - t);
    }
    double gemm_flops = 2.0 * n * d * d, syrk_flops = (double)n * d * (d + 1);
    printf("{\"op\": \"pca.cov\", \"n\": %zu, \"d\": %zu, \"sgemm_gflops\": %.1f, "
           "\"cov_gflops\": %.1f, \"cov_gemm_equivalent_gflops\": %.1f, \"sgemm_ms\": %.2f, "
           "\"cov_ms\": %.2f, \"time_ratio\": %.2f}\n",
           n, d, gemm_flops / best_gemm / 1e9, syrk_flops / best_cov / 1e9,
           gemm_flops / best_cov / 1e9, best_gemm * 1e3, best_cov * 1e3, best_gemm / best_cov);
    free(X), free(S), free(G);
    return 0;
}
