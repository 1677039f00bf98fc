/* bench/bench_linear.c - linear-learner's training time on a data file, and the machine's SGEMM
 * peak.
 *
 * Driven by bench/bench_linear.py, which writes the data once and times
 * scikit-learn on the same rows. The file is raw little-endian float32:
 * rows × cols features, then rows labels. The first `train` rows train,
 * the rest are the holdout. Only training is timed (the file is read
 * before the clock starts). Prints key=value lines for the script.
 *
 *   bench_linear FILE ROWS COLS TRAIN [hyperparameter=value ...] */
#define _GNU_SOURCE
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kn_algo.h"
#include "kernels/kn_registry.h"
#include "kernels/linear/linear.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The best of a few 1024² SGEMMs: what this machine's BLAS can reach. */
static double sgemm_gflops(void)
{
    const int n = 1024;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n);
    float *c = malloc(sizeof(float) * n * n);
    for (int i = 0; i < n * n; i++)
        a[i] = (float)(i % 7) * 0.1f, b[i] = (float)(i % 5) * 0.1f;
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                    n);
        t = now() - t;
        best = t < best ? t : best;
    }
    free(a), free(b), free(c);
    return 2.0 * n * n * n / best / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s FILE ROWS COLS TRAIN [hp=value ...]\n", argv[0]);
        return 2;
    }
    size_t rows = strtoull(argv[2], NULL, 10), cols = strtoull(argv[3], NULL, 10);
    size_t ntrain = strtoull(argv[4], NULL, 10);
    float *X = malloc(rows * cols * sizeof(float)), *y = malloc(rows * sizeof(float));
    FILE *f = fopen(argv[1], "rb");
    if (!X || !y || !f || fread(X, sizeof(float), rows * cols, f) != rows * cols ||
        fread(y, sizeof(float), rows, f) != rows) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(f);

    const kn_algo *ll = kn_algo_find("linear-learner");
    json_t *given = json_object();
    json_object_set_new(given, "predictor_type", json_string("binary_classifier"));
    for (int i = 5; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq)
            continue;
        *eq = '\0';
        json_object_set_new(given, argv[i], json_string(eq + 1));
    }
    kn_hp hp;
    kn_err err;
    if (kn_hp_parse(ll->hyper, ll->nhyper, given, &hp, &err) != SF_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    json_decref(given);

    kn_mem_source_state tr;
    kn_source src = kn_mem_source(&tr, &(kn_matrix){ntrain, cols, X}, y, 0);
    kn_model *model;
    double t = now();
    sf_rc rc = ll->train(&hp, &src, NULL, NULL, &model, &err);
    double train_s = now() - t;
    if (rc != SF_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }

    size_t nt = rows - ntrain;
    kn_matrix H = {nt, cols, X + ntrain * cols};
    float *out = malloc(nt * 2 * sizeof(float));
    t = now();
    if (ll->predict(model, &H, out, &err) != SF_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double predict_s = now() - t;
    size_t right = 0;
    for (size_t i = 0; i < nt; i++)
        right += out[2 * i + 1] == y[ntrain + i];
    printf("train_s=%.4f\n", train_s);
    printf("predict_s=%.4f\n", predict_s);
    printf("holdout_accuracy=%.5f\n", (double)right / (double)nt);
    kn_variant got;
    kn_pick(&kn_linear_forward, kn_wanted(), &got);
    printf("variant=%s\n", kn_variant_name(got));
    printf("sgemm_gflops=%.1f\n", sgemm_gflops());
    free(out);
    kn_model_free(&model);
    free(X), free(y);
    return 0;
}
