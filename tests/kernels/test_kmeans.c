/* tests/kernels/test_kmeans.c - k-means: the assignment variants against
 * the reference, clustering quality, hyperparameters, metrics, models. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench_data.h"
#include "kernels/kmeans/kmeans.h"
#include "kernels/kn_model.h"
#include "kernels_fixture.h"

static double ssd_of(const float *X, size_t n, size_t d, const float *C, size_t k)
{
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        double best = INFINITY;
        for (size_t j = 0; j < k; j++) {
            double s = 0;
            for (size_t f = 0; f < d; f++) {
                double t = X[i * d + f] - C[j * d + f];
                s += t * t;
            }
            if (s < best)
                best = s;
        }
        total += best;
    }
    return total;
}

/* The model's inertia on X, from its own predictions. */
static double model_ssd(const kn_model *m, const float *X, size_t n, size_t d)
{
    float *out = malloc(n * 2 * sizeof *out);
    kn_matrix Xm = {n, d, (float *)X};
    kn_err err = {{0}};
    cr_assert_eq(m->algo->predict(m, &Xm, out, &err), SF_OK, "%s", err.msg);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)out[2 * i + 1] * out[2 * i + 1];
    free(out);
    return s;
}

/* ---- kmeans.assign: every variant against the reference ---- */

/* Distances from the expansion ||x||² - 2x·c + ||c||² in float32 are off
 * by a few ulps of ||x||² + ||c||²; labels must agree wherever the two
 * nearest centres are further apart than that. */
static void check_variants(size_t n, size_t d, size_t k, double offset, uint64_t seed)
{
    uint64_t s = seed;
    float *X = malloc(n * d * sizeof *X), *C = malloc(k * d * sizeof *C);
    bench_data_fill_normal(X, n * d, offset, &s);
    bench_data_fill_normal(C, k * d, offset, &s);
    kn_matrix Xm = {n, d, X}, Cm = {k, d, C};
    uint32_t *lab_ref = malloc(n * sizeof *lab_ref), *lab = malloc(n * sizeof *lab);
    float *d_ref = malloc(n * sizeof *d_ref), *dv = malloc(n * sizeof *dv);
    kn_err err = {{0}};
    cr_assert_eq(kn_kmeans_assign_ref(&Xm, &Cm, lab_ref, d_ref, &err), SF_OK, "%s", err.msg);
    int tested = 0;
    for (int v = KN_BLAS; v < KN_VARIANTS; v++) {
        kn_kmeans_assign_fn fn = kn_kmeans_assign_op.fn[v];
        if (!fn || (v == KN_CUDA && !kn_cuda_usable()))
            continue;
        tested++;
        cr_assert_eq(fn(&Xm, &Cm, lab, dv, &err), SF_OK, "%s", err.msg);
        for (size_t i = 0; i < n; i++) {
            double xx = 0, cc = 0;
            for (size_t f = 0; f < d; f++) {
                xx += (double)X[i * d + f] * X[i * d + f];
                cc += (double)C[lab_ref[i] * d + f] * C[lab_ref[i] * d + f];
            }
            double tol = 1e-5 * (xx + cc) + 1e-5;
            cr_assert(fabs(dv[i] - d_ref[i]) <= tol, "%s: row %zu: %g vs reference %g",
                      kn_variant_name(v), i, dv[i], d_ref[i]);
            if (lab[i] != lab_ref[i]) {
                /* only a near tie may differ: the other centre must be as close */
                double o = 0;
                for (size_t f = 0; f < d; f++) {
                    double t = (double)X[i * d + f] - C[lab[i] * d + f];
                    o += t * t;
                }
                cr_assert(fabs(o - d_ref[i]) <= tol, "%s: row %zu: centre %u, reference %u",
                          kn_variant_name(v), i, lab[i], lab_ref[i]);
            }
        }
    }
    cr_assert(tested >= 1, "the OpenBLAS variant must be built");
    free(X), free(C), free(lab_ref), free(lab), free(d_ref), free(dv);
}

Test(kmeans_assign, blas_matches_reference_on_small_odd_shapes)
{
    check_variants(301, 37, 13, 0, 1);
    check_variants(5, 3, 1, 0, 2);
    check_variants(1, 1, 4, 0, 3);
}

Test(kmeans_assign, blas_matches_reference_when_rows_are_sharded_across_cores)
{
    check_variants(40000, 50, 10, 0, 4);  /* small tiles, one thread per core */
    check_variants(3000, 300, 900, 0, 5); /* k·d too large: big tiles, OpenBLAS threads */
}

Test(kmeans_assign, blas_matches_reference_far_from_the_origin)
{
    check_variants(2000, 20, 7, 30.0, 6); /* the expansion cancels: tolerance scales */
}

Test(kmeans_assign, rejects_mismatched_widths)
{
    float x[6] = {0}, c[4] = {0};
    kn_matrix X = {2, 3, x}, C = {2, 2, c};
    uint32_t lab[2];
    float d2[2];
    kn_err err = {{0}};
    cr_assert_eq(kn_kmeans_assign_blas(&X, &C, lab, d2, &err), SF_EINVAL);
    cr_assert_eq(kn_kmeans_assign_ref(&X, &C, lab, d2, &err), SF_EINVAL);
}

/* ---- quality ---- */

Test(kmeans_train, recovers_well_separated_clusters)
{
    enum { N = 8000, D = 10, K = 8 };
    float centres[K * D];
    float *X = bench_data_clusters(N, D, K, 25.0, 42, centres);
    kn_mem_source_state ms;
    kn_source src = kn_mem_source(&ms, &(kn_matrix){N, D, X}, NULL, 777);
    kn_hp hp = fx_hp(&kn_algo_kmeans,
                     "{\"feature_dim\": \"10\", \"k\": \"8\", \"mini_batch_size\": \"1000\"}");
    kn_model *m = NULL;
    kn_err err = {{0}};
    cr_assert_eq(kn_algo_kmeans.train(&hp, &src, NULL, NULL, &m, &err), SF_OK, "%s", err.msg);
    double got = model_ssd(m, X, N, D), want = ssd_of(X, N, D, centres, K);
    cr_assert(got <= want * 1.01, "inertia %g vs generating %g", got, want);
    /* each true centre has a learned one close by, and no two share one */
    float out[K * 2];
    kn_matrix Cm = {K, D, centres};
    cr_assert_eq(kn_algo_kmeans.predict(m, &Cm, out, &err), SF_OK);
    for (size_t c = 0; c < K; c++) {
        cr_assert(out[2 * c + 1] < 0.3, "true centre %zu is %g from its cluster", c,
                  out[2 * c + 1]);
        for (size_t o = 0; o < c; o++)
            cr_assert_neq(out[2 * c], out[2 * o]);
    }
    kn_model_free(&m);
    cr_assert_null(m);
    free(X);
}

/* Many clusters, a few of them small and far away: random seeding often
 * puts two centres in one big cluster and none in a small one, which
 * Lloyd's cannot undo; kmeans++ rarely does. Averaged over seedings. */
Test(kmeans_seed, kmeanspp_beats_random_on_average)
{
    enum { N = 3000, D = 5, K = 20, TRIALS = 20 };
    float centres[K * D];
    float *X = bench_data_clusters(N, D, K, 40.0, 7, centres);
    kn_matrix P = {N, D, X};
    float C[K * D];
    kn_matrix Cm = {K, D, C};
    double sum[2] = {0, 0};
    kn_err err = {{0}};
    for (int how = 0; how < 2; how++) {
        uint64_t rng = 99;
        for (int t = 0; t < TRIALS; t++) {
            double ssd = 0;
            cr_assert_eq(kn_kmeans_seed(&P, NULL, how ? KN_KMEANS_PLUSPLUS : KN_KMEANS_RANDOM, &rng,
                                        &Cm, &err),
                         SF_OK, "%s", err.msg);
            cr_assert_eq(
                kn_kmeans_lloyd(&P, NULL, kn_kmeans_assign_ref, 100, 1e-6, &Cm, &ssd, &err), SF_OK,
                "%s", err.msg);
            sum[how] += ssd / TRIALS;
        }
    }
    cr_assert(sum[1] < sum[0], "kmeans++ %g, random %g", sum[1], sum[0]);
    free(X);
}

Test(kmeans_seed, weights_of_zero_are_never_chosen_while_others_remain)
{
    float X[] = {0, 1, 2, 3, 4, 5};
    float w[] = {0, 1, 0, 1, 0, 1};
    kn_matrix P = {6, 1, X};
    float c[3];
    kn_matrix C = {3, 1, c};
    uint64_t rng = 5;
    kn_err err = {{0}};
    for (int how = 0; how < 2; how++) {
        cr_assert_eq(kn_kmeans_seed(&P, w, how, &rng, &C, &err), SF_OK);
        for (int j = 0; j < 3; j++)
            cr_assert(c[j] == 1 || c[j] == 3 || c[j] == 5, "picked %g", c[j]);
    }
}

/* ---- hyperparameters ---- */

Test(kmeans_hyper, rejects_missing_k)
{
    fx_hp_refused(&kn_algo_kmeans, "{\"feature_dim\": \"4\"}", "'k'");
}

Test(kmeans_hyper, rejects_k_of_zero)
{
    fx_hp_refused(&kn_algo_kmeans, "{\"feature_dim\": \"4\", \"k\": \"0\"}", "'k'");
}

Test(kmeans_hyper, rejects_unknown_init_method)
{
    fx_hp_refused(&kn_algo_kmeans,
                  "{\"feature_dim\": \"4\", \"k\": \"2\", \"init_method\": \"kmeans||\"}",
                  "init_method");
}

Test(kmeans_hyper, rejects_local_lloyd_tol_above_one)
{
    fx_hp_refused(&kn_algo_kmeans,
                  "{\"feature_dim\": \"4\", \"k\": \"2\", \"local_lloyd_tol\": \"1.5\"}",
                  "local_lloyd_tol");
}

Test(kmeans_hyper, defaults_are_sagemakers)
{
    kn_hp hp = fx_hp(&kn_algo_kmeans, "{\"feature_dim\": \"4\", \"k\": \"2\"}");
    cr_assert_eq(kn_hp_int(&hp, "epochs"), 1);
    cr_assert_eq(kn_hp_int(&hp, "mini_batch_size"), 5000);
    cr_assert_eq(kn_hp_int(&hp, "local_lloyd_max_iter"), 300);
    cr_assert_str_eq(kn_hp_str(&hp, "init_method"), "random");
    cr_assert_str_eq(kn_hp_str(&hp, "local_lloyd_init_method"), "kmeans++");
    cr_assert(kn_hp_is_auto(&hp, "extra_center_factor"));
    cr_assert(kn_hp_is_auto(&hp, "local_lloyd_num_trials"));
    cr_assert_float_eq(kn_hp_num(&hp, "local_lloyd_tol"), 1e-4, 1e-12);
}

/* Three pairs of points 1 apart. */
static float tiny_rows[] = {0, 0, 0, 1, 10, 10, 10, 11, 20, 0, 21, 0};
static const kn_matrix tiny = {6, 2, tiny_rows};

Test(kmeans_train, rejects_bad_eval_metrics)
{
    kn_mem_source_state ms;
    kn_source src = kn_mem_source(&ms, &tiny, NULL, 0);
    kn_hp hp = fx_hp(&kn_algo_kmeans,
                     "{\"feature_dim\": \"2\", \"k\": \"2\", \"eval_metrics\": \"[\\\"mse\\\"]\"}");
    kn_model *m = NULL;
    kn_err err = {{0}};
    cr_assert_eq(kn_algo_kmeans.train(&hp, &src, NULL, NULL, &m, &err), SF_EINVAL);
    cr_assert(strstr(err.msg, "ClientError: eval_metrics"), "%s", err.msg);
    cr_assert_null(m);
}

Test(kmeans_train, rejects_more_clusters_than_records)
{
    kn_mem_source_state ms;
    kn_source src = kn_mem_source(&ms, &tiny, NULL, 0);
    kn_hp hp = fx_hp(&kn_algo_kmeans, "{\"feature_dim\": \"2\", \"k\": \"7\"}");
    kn_model *m = NULL;
    kn_err err = {{0}};
    cr_assert_eq(kn_algo_kmeans.train(&hp, &src, NULL, NULL, &m, &err), SF_EINVAL);
    cr_assert(strstr(err.msg, "ClientError") && strstr(err.msg, "k is 7"), "%s", err.msg);
}

Test(kmeans_train, rejects_a_feature_dim_the_data_does_not_have)
{
    kn_mem_source_state ms;
    kn_source src = kn_mem_source(&ms, &tiny, NULL, 0);
    kn_hp hp = fx_hp(&kn_algo_kmeans, "{\"feature_dim\": \"3\", \"k\": \"2\"}");
    kn_model *m = NULL;
    kn_err err = {{0}};
    cr_assert_eq(kn_algo_kmeans.train(&hp, &src, NULL, NULL, &m, &err), SF_EINVAL);
    cr_assert(strstr(err.msg, "feature_dim"), "%s", err.msg);
}

/* ---- metrics, prediction, models ---- */

typedef struct seen {
    char names[16][32];
    double values[16];
    size_t n;
} seen;

static void record(void *ctx, double fraction, uint64_t records, uint32_t epoch,
                   const kn_metric *metrics, size_t n)
{
    seen *s = ctx;
    for (size_t i = 0; i < n && s->n < 16; i++, s->n++) {
        snprintf(s->names[s->n], sizeof s->names[0], "%s", metrics[i].name);
        s->values[s->n] = metrics[i].value;
    }
}

static bool has(const seen *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return true;
    return false;
}

Test(kmeans_train, reports_train_and_test_metrics_by_sagemakers_names)
{
    kn_mem_source_state ms, mt;
    kn_source src = kn_mem_source(&ms, &tiny, NULL, 4), test = kn_mem_source(&mt, &tiny, NULL, 0);
    kn_hp hp = fx_hp(&kn_algo_kmeans, "{\"feature_dim\": \"2\", \"k\": \"3\", \"epochs\": \"2\","
                                      "\"eval_metrics\": \"[\\\"msd\\\", \\\"ssd\\\"]\"}");
    seen s = {0};
    kn_progress prog = {&s, record, NULL};
    kn_model *m = NULL;
    kn_err err = {{0}};
    cr_assert_eq(kn_algo_kmeans.train(&hp, &src, &test, &prog, &m, &err), SF_OK, "%s", err.msg);
    cr_assert(has(&s, "train:msd") && has(&s, "train:ssd"));
    cr_assert(has(&s, "test:msd") && has(&s, "test:ssd"));
    /* three pairs of points 1 apart: the best msd is 0.25 */
    for (size_t i = 0; i < s.n; i++)
        if (strcmp(s.names[i], "test:msd") == 0)
            cr_assert_float_eq(s.values[i], 0.25, 1e-5);
    kn_model_free(&m);
}

Test(kmeans_predict, answers_closest_cluster_and_distance)
{
    kn_mem_source_state ms;
    kn_source src = kn_mem_source(&ms, &tiny, NULL, 0);
    kn_hp hp = fx_hp(&kn_algo_kmeans, "{\"feature_dim\": \"2\", \"k\": \"3\"}");
    kn_model *m = NULL;
    kn_err err = {{0}};
    cr_assert_eq(kn_algo_kmeans.train(&hp, &src, NULL, NULL, &m, &err), SF_OK, "%s", err.msg);
    kn_response r;
    kn_algo_kmeans.response(m, &r);
    cr_assert_str_eq(r.top, "predictions");
    cr_assert_eq(r.nfields, 2);
    cr_assert_eq(r.width, 2);
    cr_assert_str_eq(r.fields[0].name, "closest_cluster");
    cr_assert(r.fields[0].integral);
    cr_assert_str_eq(r.fields[1].name, "distance_to_cluster");
    float q[] = {0, 0.5f, 20.5f, 3.0f};
    kn_matrix Q = {2, 2, q};
    float out[4];
    cr_assert_eq(kn_algo_kmeans.predict(m, &Q, out, &err), SF_OK, "%s", err.msg);
    cr_assert_float_eq(out[1], 0.0f, 1e-4); /* the centre of {(0,0),(0,1)} */
    cr_assert_float_eq(out[3], 3.0f, 1e-4); /* (20.5,0) is 3 below */
    cr_assert_neq(out[0], out[2]);
    cr_assert_eq(out[0], floorf(out[0]));
    float bad[3] = {0};
    kn_matrix B = {1, 3, bad};
    cr_assert_eq(kn_algo_kmeans.predict(m, &B, out, &err), SF_EINVAL);
    kn_model_free(&m);
}

Test(kmeans_model, survives_a_save_and_load)
{
    enum { N = 2000, D = 6, K = 5 };
    float centres[K * D];
    float *X = bench_data_clusters(N, D, K, 10.0, 3, centres);
    kn_mem_source_state ms;
    kn_source src = kn_mem_source(&ms, &(kn_matrix){N, D, X}, NULL, 0);
    kn_hp hp = fx_hp(&kn_algo_kmeans,
                     "{\"feature_dim\": \"6\", \"k\": \"5\", \"init_method\": \"kmeans++\"}");
    kn_model *m = NULL, *back = NULL;
    kn_err err = {{0}};
    cr_assert_eq(kn_algo_kmeans.train(&hp, &src, NULL, NULL, &m, &err), SF_OK, "%s", err.msg);
    back = fx_model_reload(m);
    cr_assert_eq(back->feature_dim, D);
    float *a = malloc(N * 2 * sizeof *a), *b = malloc(N * 2 * sizeof *b);
    kn_matrix Xm = {N, D, X};
    cr_assert_eq(kn_algo_kmeans.predict(m, &Xm, a, &err), SF_OK);
    cr_assert_eq(kn_algo_kmeans.predict(back, &Xm, b, &err), SF_OK);
    cr_assert_arr_eq(a, b, N * 2 * sizeof *a);
    free(a), free(b), free(X);
    kn_model_free(&m);
    kn_model_free(&back);
}

Test(kmeans_train, decaying_centres_still_find_the_clusters)
{
    enum { N = 4000, D = 4, K = 4 };
    float centres[K * D];
    float *X = bench_data_clusters(N, D, K, 20.0, 11, centres);
    kn_mem_source_state ms;
    kn_source src = kn_mem_source(&ms, &(kn_matrix){N, D, X}, NULL, 0);
    kn_hp hp = fx_hp(&kn_algo_kmeans,
                     "{\"feature_dim\": \"4\", \"k\": \"4\", \"half_life_time_size\": \"500\","
                     "\"mini_batch_size\": \"200\", \"epochs\": \"3\"}");
    kn_model *m = NULL;
    kn_err err = {{0}};
    cr_assert_eq(kn_algo_kmeans.train(&hp, &src, NULL, NULL, &m, &err), SF_OK, "%s", err.msg);
    cr_assert(model_ssd(m, X, N, D) <= 1.01 * ssd_of(X, N, D, centres, K));
    kn_model_free(&m);
    free(X);
}
