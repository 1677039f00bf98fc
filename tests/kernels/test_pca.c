/* tests/kernels/test_pca.c - PCA: the operations' variants against the
 * reference, recovering a planted subspace, the two modes, the mean,
 * hyperparameters and models. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench_data.h"
#include "kernels/kn_model.h"
#include "kernels/pca/pca.h"
#include "kernels_fixture.h"

static kn_model *train(const char *json, const float *X, size_t n, size_t d)
{
    kn_hp hp = fx_hp(&kn_algo_pca, json);
    kn_err err = {{0}};
    kn_mem_source_state ms;
    kn_source src = kn_mem_source(&ms, &(kn_matrix){n, d, (float *)X}, NULL, 999);
    kn_model *m = NULL;
    cr_assert_eq(kn_algo_pca.train(&hp, &src, NULL, NULL, &m, &err), SF_OK, "%s: %s", json,
                 err.msg);
    return m;
}

/* The model's components, read back through predict: the projection of
 * e_f less that of 0 is column f of V, whatever mean the model keeps. */
static void components(const kn_model *m, size_t nc, size_t d, double *V)
{
    float *E = calloc((d + 1) * d, sizeof *E), *out = malloc((d + 1) * nc * sizeof *out);
    for (size_t f = 0; f < d; f++)
        E[f * d + f] = 1; /* row d stays 0 */
    kn_matrix Em = {d + 1, d, E};
    kn_err err = {{0}};
    cr_assert_eq(m->algo->predict(m, &Em, out, &err), SF_OK, "%s", err.msg);
    for (size_t c = 0; c < nc; c++)
        for (size_t f = 0; f < d; f++)
            V[c * d + f] = (double)out[f * nc + c] - out[d * nc + c];
    free(E), free(out);
}

/* ||U·v||² for unit v: cos² of v's angle to the subspace U spans. */
static double in_span(const double *U, size_t r, size_t d, const double *v)
{
    double s = 0;
    for (size_t a = 0; a < r; a++) {
        double dot = 0;
        for (size_t f = 0; f < d; f++)
            dot += U[a * d + f] * v[f];
        s += dot * dot;
    }
    return s;
}

/* ---- the operations against the reference ---- */

Test(pca_ops, cov_variants_match_reference)
{
    enum { N = 3001, D = 23 };
    uint64_t s = 1;
    float *X = bench_data_alloc(N * D);
    bench_data_fill_normal(X, N * D, 0, &s);
    kn_matrix Xm = {N, D, X};
    double *ref = calloc(D * D, sizeof *ref), *got = calloc(D * D, sizeof *got);
    kn_err err = {{0}};
    cr_assert_eq(kn_pca_cov_ref(&Xm, ref, &err), SF_OK);
    int tested = 0;
    for (int v = KN_BLAS; v < KN_VARIANTS; v++) {
        kn_pca_cov_fn fn = kn_pca_cov_op.fn[v];
        if (!fn || (v == KN_CUDA && !kn_cuda_usable()))
            continue;
        tested++;
        memset(got, 0, D * D * sizeof *got);
        cr_assert_eq(fn(&Xm, got, &err), SF_OK, "%s", err.msg);
        /* float32 sums of N products of unit-size numbers: ~N·1e-7 */
        for (size_t i = 0; i < D * D; i++)
            cr_assert(fabs(got[i] - ref[i]) <= 1e-4 * N, "%s: [%zu] %g vs %g", kn_variant_name(v),
                      i, got[i], ref[i]);
    }
    cr_assert(tested >= 1);
    free(X), free(ref), free(got);
}

Test(pca_ops, sketch_variants_match_reference)
{
    enum { N = 2000, D = 31, L = 7 };
    uint64_t s = 2;
    float *X = bench_data_alloc(N * D), Q[D * L];
    bench_data_fill_normal(X, N * D, 0, &s);
    bench_data_fill_normal(Q, D * L, 0, &s);
    kn_matrix Xm = {N, D, X};
    double ref[D * L] = {0}, got[D * L] = {0};
    kn_err err = {{0}};
    cr_assert_eq(kn_pca_sketch_ref(&Xm, Q, L, ref, &err), SF_OK);
    cr_assert_eq(kn_pca_sketch_blas(&Xm, Q, L, got, &err), SF_OK);
    double scale = 0;
    for (size_t i = 0; i < D * L; i++)
        scale = fmax(scale, fabs(ref[i]));
    for (size_t i = 0; i < D * L; i++)
        cr_assert(fabs(got[i] - ref[i]) <= 1e-4 * scale, "[%zu] %g vs %g", i, got[i], ref[i]);
    free(X);
}

Test(pca_ops, eigen_variants_match_reference)
{
    enum { D = 40 };
    uint64_t s = 3;
    double B[D * D], A[D * D], A2[D * D], w1[D], w2[D], V1[D * D], V2[D * D];
    for (size_t i = 0; i < D * D; i++)
        B[i] = bench_data_normal(&s);
    for (size_t i = 0; i < D; i++) /* A = BᵀB: symmetric, distinct eigenvalues */
        for (size_t j = 0; j < D; j++) {
            double t = 0;
            for (size_t k = 0; k < D; k++)
                t += B[k * D + i] * B[k * D + j];
            A[i * D + j] = A2[i * D + j] = t;
        }
    kn_err err = {{0}};
    cr_assert_eq(kn_pca_eigen_ref(A, D, w1, V1, &err), SF_OK, "%s", err.msg);
    cr_assert_eq(kn_pca_eigen_blas(A2, D, w2, V2, &err), SF_OK, "%s", err.msg);
    for (size_t i = 0; i < D; i++) {
        cr_assert(fabs(w1[i] - w2[i]) <= 1e-9 * w1[0], "w[%zu] %g vs %g", i, w1[i], w2[i]);
        if (i > 0)
            cr_assert(w1[i] <= w1[i - 1], "not descending at %zu", i);
        double dot = 0;
        for (size_t f = 0; f < D; f++)
            dot += V1[i * D + f] * V2[i * D + f];
        cr_assert(fabs(fabs(dot) - 1) <= 1e-6, "vector %zu: |cos| %g", i, fabs(dot));
    }
}

/* ---- training ---- */

Test(pca_train, recovers_a_planted_subspace)
{
    enum { N = 6000, D = 30, R = 3 };
    uint64_t s = 10;
    double U[R * D], scale[R] = {10, 6, 4}, V[R * D];
    bench_data_basis(U, R, D, &s);
    float *X = bench_data_planted(N, D, R, U, scale, 0.3, 0, 11);
    for (int mode = 0; mode < 2; mode++) {
        kn_model *m = train(mode ? "{\"feature_dim\": \"30\", \"mini_batch_size\": \"500\","
                                   "\"num_components\": \"3\", \"algorithm_mode\": \"randomized\"}"
                                 : "{\"feature_dim\": \"30\", \"mini_batch_size\": \"500\","
                                   "\"num_components\": \"3\"}",
                            X, N, D);
        components(m, R, D, V);
        for (size_t c = 0; c < R; c++) /* cos² of the angle to the subspace */
            cr_assert(in_span(U, R, D, V + c * D) > 0.999, "mode %d component %zu: cos² %g", mode,
                      c, in_span(U, R, D, V + c * D));
        kn_model_free(&m);
    }
    free(X);
}

Test(pca_train, regular_and_randomized_agree_on_the_top_components)
{
    enum { N = 5000, D = 60, R = 4 };
    uint64_t s = 20;
    double U[R * D], scale[R] = {9, 7, 5, 3}, Vr[R * D], Vz[R * D];
    bench_data_basis(U, R, D, &s);
    float *X = bench_data_planted(N, D, R, U, scale, 1.0, 0, 21);
    kn_model *reg = train("{\"feature_dim\": \"60\", \"mini_batch_size\": \"100\","
                          "\"num_components\": \"4\"}",
                          X, N, D);
    kn_model *rnd = train("{\"feature_dim\": \"60\", \"mini_batch_size\": \"100\","
                          "\"num_components\": \"4\", \"algorithm_mode\": \"randomized\","
                          "\"extra_components\": \"6\"}",
                          X, N, D);
    components(reg, R, D, Vr);
    components(rnd, R, D, Vz);
    for (size_t c = 0; c < R; c++) {
        double dot = 0;
        for (size_t f = 0; f < D; f++)
            dot += Vr[c * D + f] * Vz[c * D + f];
        /* same order, same sign convention: the same vector */
        cr_assert(dot > 0.995, "component %zu: cos %g", c, dot);
    }
    kn_model_free(&reg);
    kn_model_free(&rnd);
    free(X);
}

Test(pca_train, subtracts_the_mean_only_when_asked)
{
    enum { N = 4000, D = 12, R = 2 };
    uint64_t s = 30;
    double U[R * D], scale[R] = {5, 3}, V[R * D];
    bench_data_basis(U, R, D, &s);
    float *X = bench_data_planted(N, D, R, U, scale, 0.2, 100.0, 31); /* far from the origin */
    kn_model *centred = train("{\"feature_dim\": \"12\", \"mini_batch_size\": \"256\","
                              "\"num_components\": \"2\"}",
                              X, N, D);
    kn_model *raw = train("{\"feature_dim\": \"12\", \"mini_batch_size\": \"256\","
                          "\"num_components\": \"2\", \"subtract_mean\": \"false\"}",
                          X, N, D);
    /* Centred: projections of the training data average 0, and the
     * components are the planted ones despite the offset of 100. */
    float *out = malloc(N * R * sizeof *out);
    kn_matrix Xm = {N, D, X};
    kn_err err = {{0}};
    cr_assert_eq(centred->algo->predict(centred, &Xm, out, &err), SF_OK);
    for (size_t c = 0; c < R; c++) {
        double mean = 0;
        for (size_t i = 0; i < N; i++)
            mean += out[i * R + c] / N;
        cr_assert(fabs(mean) < 0.05, "component %zu: mean projection %g", c, mean);
    }
    components(centred, R, D, V);
    for (size_t c = 0; c < R; c++)
        cr_assert(in_span(U, R, D, V + c * D) > 0.999, "centred component %zu", c);
    /* Raw: the first direction is the offset itself, (1,...,1)/√d. */
    components(raw, R, D, V);
    double dot = 0;
    for (size_t f = 0; f < D; f++)
        dot += V[f] / sqrt((double)D);
    cr_assert(fabs(dot) > 0.99, "uncentred first component: cos to the mean %g", dot);
    kn_model_free(&centred);
    kn_model_free(&raw);
    free(out), free(X);
}

Test(pca_train, matches_the_reference_operations)
{
    enum { N = 1500, D = 16, R = 2 };
    uint64_t s = 40;
    double U[R * D], scale[R] = {4, 2}, Va[R * D], Vb[R * D];
    bench_data_basis(U, R, D, &s);
    float *X = bench_data_planted(N, D, R, U, scale, 0.5, 3.0, 41);
    const char *hp = "{\"feature_dim\": \"16\", \"mini_batch_size\": \"100\","
                     "\"num_components\": \"2\"}";
    setenv("STATEFLEET_KERNELS", "reference", 1);
    kn_model *a = train(hp, X, N, D);
    setenv("STATEFLEET_KERNELS", "openblas", 1);
    kn_model *b = train(hp, X, N, D);
    unsetenv("STATEFLEET_KERNELS");
    components(a, R, D, Va);
    components(b, R, D, Vb);
    for (size_t i = 0; i < R * D; i++)
        cr_assert(fabs(Va[i] - Vb[i]) < 1e-4, "[%zu] %g vs %g", i, Va[i], Vb[i]);
    kn_model_free(&a);
    kn_model_free(&b);
    free(X);
}

/* ---- hyperparameters, shape, models ---- */

Test(pca_hyper, rejects_missing_num_components)
{
    fx_hp_refused(&kn_algo_pca, "{\"feature_dim\": \"4\", \"mini_batch_size\": \"10\"}",
                  "num_components");
}

Test(pca_hyper, rejects_missing_mini_batch_size)
{
    fx_hp_refused(&kn_algo_pca, "{\"feature_dim\": \"4\", \"num_components\": \"2\"}",
                  "mini_batch_size");
}

Test(pca_hyper, rejects_an_unknown_algorithm_mode)
{
    fx_hp_refused(&kn_algo_pca,
                  "{\"feature_dim\": \"4\", \"mini_batch_size\": \"10\", \"num_components\": "
                  "\"2\", \"algorithm_mode\": \"fast\"}",
                  "algorithm_mode");
}

Test(pca_hyper, rejects_extra_components_below_minus_one)
{
    fx_hp_refused(&kn_algo_pca,
                  "{\"feature_dim\": \"4\", \"mini_batch_size\": \"10\", \"num_components\": "
                  "\"2\", \"extra_components\": \"-2\"}",
                  "extra_components");
}

Test(pca_train, rejects_more_components_than_features)
{
    kn_hp hp = fx_hp(&kn_algo_pca, "{\"feature_dim\": \"2\", \"mini_batch_size\": \"10\","
                                   "\"num_components\": \"3\"}");
    kn_err err = {{0}};
    float X[4] = {1, 2, 3, 4};
    kn_mem_source_state ms;
    kn_source src = kn_mem_source(&ms, &(kn_matrix){2, 2, X}, NULL, 0);
    kn_model *m = NULL;
    cr_assert_eq(kn_algo_pca.train(&hp, &src, NULL, NULL, &m, &err), SF_EINVAL);
    cr_assert(strstr(err.msg, "ClientError: num_components"), "%s", err.msg);
    cr_assert_null(m);
}

Test(pca_model, answers_projections_and_survives_a_save_and_load)
{
    enum { N = 1000, D = 8, R = 3 };
    uint64_t s = 50;
    double U[R * D], scale[R] = {3, 2, 1};
    bench_data_basis(U, R, D, &s);
    float *X = bench_data_planted(N, D, R, U, scale, 0.1, 1.0, 51);
    kn_model *m = train("{\"feature_dim\": \"8\", \"mini_batch_size\": \"64\","
                        "\"num_components\": \"3\"}",
                        X, N, D);
    kn_response r;
    m->algo->response(m, &r);
    cr_assert_str_eq(r.top, "projections");
    cr_assert_eq(r.nfields, 1);
    cr_assert_str_eq(r.fields[0].name, "projection");
    cr_assert(r.fields[0].vector);
    cr_assert_eq(r.width, 3);
    kn_model *back = fx_model_reload(m);
    kn_err err = {{0}};
    float a[N * R], b[N * R];
    kn_matrix Xm = {N, D, X};
    cr_assert_eq(m->algo->predict(m, &Xm, a, &err), SF_OK);
    cr_assert_eq(back->algo->predict(back, &Xm, b, &err), SF_OK);
    cr_assert_arr_eq(a, b, sizeof a);
    kn_model_free(&m);
    kn_model_free(&back);
    free(X);
}
