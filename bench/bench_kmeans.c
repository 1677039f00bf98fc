/* bench/bench_kmeans.c - k-means: whole training, and the assignment kernel.
 *
 *   bench_kmeans train [--n N] [--d D] [--k K] [--data FILE]
 *       trains kmeans (SageMaker's defaults, feature_dim and k given) on N
 *       seeded rows of D features around K centres and prints one JSON
 *       line: seconds and inertia. --data also writes the rows (raw
 *       float32, row-major) for bench_kmeans.py to give scikit-learn.
 *   bench_kmeans gemm [--n N] [--d D] [--k K]
 *       GFLOP/s of kmeans.assign (OpenBLAS variant) next to a plain
 *       cblas_sgemm of the same (N,D)·(D,K) product, in the same run, and
 *       the machine's peak estimate.
 * Never part of the test suite: timings on a shared machine are noise. */
#define _GNU_SOURCE
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_data.h"
#include "kernels/kmeans/kmeans.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Rows around k centres uniform in [-3,3]^d, unit noise: separable in 50
 * dimensions, but not so far apart that any seeding wins. */
static float *make_data(size_t n, size_t d, size_t k, uint64_t seed)
{
    float *C = bench_data_alloc(k * d);
    float *X = bench_data_clusters(n, d, k, 3.0, seed, C);
    free(C);
    return X;
}

/* Estimated single-precision peak: cores × clock × flops per cycle (two
 * FMA pipes: 32 with AVX2 or AVX-512 on two 256-bit pipes, as on AMD
 * Zen 4; Intel server cores with two 512-bit pipes reach 64). */
static double peak_gflops(char *desc, size_t len)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double mhz = 0;
    int avx512 = 0, avx2 = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096];
    while (f && fgets(line, sizeof line, f)) {
        if (!mhz && strncmp(line, "cpu MHz", 7) == 0)
            mhz = atof(strchr(line, ':') + 1);
        if (strncmp(line, "flags", 5) == 0) {
            avx512 |= strstr(line, " avx512f") != NULL;
            avx2 |= strstr(line, " avx2") != NULL && strstr(line, " fma") != NULL;
        }
    }
    if (f)
        fclose(f);
    int per_cycle = avx512 || avx2 ? 32 : 8;
    snprintf(desc, len, "%ld cores x %.2f GHz x %d flop/cycle (%s)", cores, mhz / 1e3, per_cycle,
             avx512 ? "AVX-512"
             : avx2 ? "AVX2+FMA"
                    : "SSE");
    return (double)cores * mhz / 1e3 * per_cycle;
}

static int bench_gemm(size_t n, size_t d, size_t k)
{
    float *X = make_data(n, d, k, 1), *C = make_data(k, d, k, 2);
    float *out = malloc(n * k * sizeof *out), *d2 = malloc(n * sizeof *d2);
    uint32_t *lab = malloc(n * sizeof *lab);
    kn_matrix Xm = {n, d, X}, Cm = {k, d, C};
    kn_err err = {{0}};
    double flops = 2.0 * n * d * k, best_gemm = INFINITY, best_assign = INFINITY;
    /* Each side in its own block, with a pause between: OpenBLAS's pool
     * threads keep spinning for about 0.1 s after a threaded call, and
     * whatever runs then shares the cores with them. */
    for (int rep = 0; rep < 7; rep++) {
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)k, (int)d, 1.0f, X,
                    (int)d, C, (int)d, 0.0f, out, (int)k);
        best_gemm = fmin(best_gemm, now() - t);
    }
    usleep(300000);
    for (int rep = 0; rep < 7; rep++) {
        double t = now();
        if (kn_kmeans_assign_blas(&Xm, &Cm, lab, d2, &err) != SF_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        best_assign = fmin(best_assign, now() - t);
    }
    char desc[256];
    double peak = peak_gflops(desc, sizeof desc);
    printf("{\"op\": \"kmeans.assign\", \"n\": %zu, \"d\": %zu, \"k\": %zu, "
           "\"sgemm_gflops\": %.1f, \"assign_gflops\": %.1f, \"ratio\": %.2f, "
           "\"sgemm_ms\": %.2f, \"assign_ms\": %.2f, \"peak_gflops\": %.0f, \"peak\": \"%s\"}\n",
           n, d, k, flops / best_gemm / 1e9, flops / best_assign / 1e9, best_gemm / best_assign,
           best_gemm * 1e3, best_assign * 1e3, peak, desc);
    free(X), free(C), free(out), free(d2), free(lab);
    return 0;
}

static int bench_train(size_t n, size_t d, size_t k, const char *data_path)
{
    float *X = make_data(n, d, k, 12345);
    if (data_path) {
        FILE *f = fopen(data_path, "wb");
        if (!f || fwrite(X, sizeof(float), n * d, f) != n * d || fclose(f) != 0) {
            perror(data_path);
            return 1;
        }
    }
    char hp_text[256];
    snprintf(hp_text, sizeof hp_text, "{\"feature_dim\": \"%zu\", \"k\": \"%zu\"}", d, k);
    json_t *j = json_loads(hp_text, 0, NULL);
    kn_hp hp;
    kn_err err = {{0}};
    if (kn_hp_parse(kn_algo_kmeans.hyper, kn_algo_kmeans.nhyper, j, &hp, &err) != SF_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    json_decref(j);
    kn_mem_source_state ms;
    kn_source src = kn_mem_source(&ms, &(kn_matrix){n, d, X}, NULL, 0);
    kn_model *m = NULL;
    double t = now();
    if (kn_algo_kmeans.train(&hp, &src, NULL, NULL, &m, &err) != SF_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double secs = now() - t;
    /* Inertia from the model's own answers, summed in double. */
    float *out = malloc(n * 2 * sizeof *out);
    kn_matrix Xm = {n, d, X};
    if (kn_algo_kmeans.predict(m, &Xm, out, &err) != SF_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double inertia = 0;
    for (size_t i = 0; i < n; i++)
        inertia += (double)out[2 * i + 1] * out[2 * i + 1];
    kn_variant got;
    kn_pick(&kn_kmeans_assign_op, kn_wanted(), &got);
    printf("{\"impl\": \"statefleet\", \"variant\": \"%s\", \"n\": %zu, \"d\": %zu, \"k\": %zu, "
           "\"seconds\": %.3f, \"inertia\": %.6e}\n",
           kn_variant_name(got), n, d, k, secs, inertia);
    kn_model_free(&m);
    free(out), free(X);
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = 1000000, d = 50, k = 10;
    const char *data = NULL;
    if (argc < 2 || (strcmp(argv[1], "train") != 0 && strcmp(argv[1], "gemm") != 0)) {
        fprintf(stderr, "usage: %s train|gemm [--n N] [--d D] [--k K] [--data FILE]\n", argv[0]);
        return 2;
    }
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--n") == 0)
            n = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--d") == 0)
            d = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--k") == 0)
            k = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--data") == 0)
            data = argv[i + 1];
    }
    return strcmp(argv[1], "gemm") == 0 ? bench_gemm(n, d, k) : bench_train(n, d, k, data);
}
