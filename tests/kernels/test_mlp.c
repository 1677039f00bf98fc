/* tests/kernels/test_mlp.c - the image classifier: its ops, gradients, hyperparameters, models.
 *
 * The Fashion-MNIST run is test_mlp_fashion.c: it is the slow one and
 * gets its own process and timeout. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "bench/bench_data.h"
#include "kernels/kn_model.h"
#include "kernels/mlp/mlp.h"
#include "kernels/mlp/mlp_idx.h"
#include "kernels_fixture.h"

/* ---- helpers ---- */

static const kn_algo *const ic = &kn_algo_image_classifier;

static uint64_t rng_state;

static float *random_floats(size_t n, float lo, float hi)
{
    float *p = bench_data_alloc(n);
    bench_data_fill_uniform(p, n, lo, hi, &rng_state);
    return p;
}

static float *absolute(const float *p, size_t n)
{
    float *a = malloc(n * sizeof *a);
    cr_assert_not_null(a);
    for (size_t i = 0; i < n; i++)
        a[i] = fabsf(p[i]);
    return a;
}

/* Within a float sum's rounding error: mag is the same sum over the
 * terms' absolute values, and summing K float products in any order is
 * off by at most about K × 2⁻²⁴ × mag; 1e-5 × mag covers K up to ~170
 * in the worst case and every K here in practice (errors add like a
 * random walk, not in the worst case). */
#define OP_TOL(mag) (1e-5f * (mag) + 1e-6f)

static void assert_close(const char *what, kn_variant v, const float *got, const float *want,
                         const float *mag, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_assert(fabsf(got[i] - want[i]) <= OP_TOL(mag[i]),
                  "%s, %s variant, element %zu: %g, the reference %g (tolerance %g)", what,
                  kn_variant_name(v), i, got[i], want[i], OP_TOL(mag[i]));
}

/* The variants a test compares with the reference: every one built, CUDA
 * only where a device answers. */
static bool runnable(const kn_op *op, kn_variant v)
{
    return op->fn[v] && (v != KN_CUDA || kn_cuda_usable());
}

static const size_t shapes[][3] = {
    {1, 1, 1}, {7, 13, 5}, {33, 100, 10}, {64, 784, 256}, {128, 256, 128}, {5, 3, 300},
};

/* ---- (1) every variant against the reference ---- */

Test(mlp_ops, dense_forward_variants_match_the_reference)
{
    rng_state = 1;
    int compared = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t B = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
        float *X = random_floats(B * K, -1, 1), *W = random_floats(K * N, -1, 1);
        float *b = random_floats(N, -1, 1);
        float *aX = absolute(X, B * K), *aW = absolute(W, K * N), *ab = absolute(b, N);
        float *want = malloc(B * N * sizeof *want), *got = malloc(B * N * sizeof *got);
        float *mag = malloc(B * N * sizeof *mag);
        kn_mlp_dense_forward_ref(aX, aW, ab, mag, B, K, N, false);
        for (int relu = 0; relu < 2; relu++) {
            kn_mlp_dense_forward_ref(X, W, b, want, B, K, N, relu);
            for (int v = KN_REF + 1; v < KN_VARIANTS; v++) {
                if (!runnable(&kn_mlp_dense_forward, (kn_variant)v))
                    continue;
                kn_mlp_dense_forward_fn f = (kn_mlp_dense_forward_fn)kn_mlp_dense_forward.fn[v];
                memset(got, 0xff, B * N * sizeof *got); /* NaNs: every element must be written */
                f(X, W, b, got, B, K, N, relu);
                assert_close("dense_forward Y", (kn_variant)v, got, want, mag, B * N);
                compared++;
            }
        }
        free(X), free(W), free(b), free(aX), free(aW), free(ab), free(want), free(got), free(mag);
    }
    cr_assert_gt(compared, 0, "no variant besides the reference was built");
}

Test(mlp_ops, dense_backward_variants_match_the_reference)
{
    rng_state = 2;
    int compared = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t B = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
        /* Inputs as a ReLU leaves them: about half exactly zero. */
        float *X = random_floats(B * K, -1, 1), *W = random_floats(K * N, -1, 1);
        for (size_t i = 0; i < B * K; i++)
            X[i] = X[i] < 0 ? 0 : X[i];
        float *dY = random_floats(B * N, -1, 1);
        float *aX = absolute(X, B * K), *aW = absolute(W, K * N), *adY = absolute(dY, B * N);
        float *dW = malloc(K * N * 4), *db = malloc(N * 4), *dX = malloc(B * K * 4);
        float *gW = malloc(K * N * 4), *gb = malloc(N * 4), *gX = malloc(B * K * 4);
        float *mW = malloc(K * N * 4), *mb = malloc(N * 4), *mX = malloc(B * K * 4);
        kn_mlp_dense_backward_ref(aX, aW, adY, mW, mb, mX, B, K, N, false);
        for (int relu_in = 0; relu_in < 2; relu_in++) {
            kn_mlp_dense_backward_ref(X, W, dY, dW, db, dX, B, K, N, relu_in);
            for (int v = KN_REF + 1; v < KN_VARIANTS; v++) {
                if (!runnable(&kn_mlp_dense_backward, (kn_variant)v))
                    continue;
                kn_mlp_dense_backward_fn f = (kn_mlp_dense_backward_fn)kn_mlp_dense_backward.fn[v];
                memset(gW, 0xff, K * N * 4), memset(gb, 0xff, N * 4), memset(gX, 0xff, B * K * 4);
                f(X, W, dY, gW, gb, gX, B, K, N, relu_in);
                assert_close("dense_backward dW", (kn_variant)v, gW, dW, mW, K * N);
                assert_close("dense_backward db", (kn_variant)v, gb, db, mb, N);
                assert_close("dense_backward dX", (kn_variant)v, gX, dX, mX, B * K);
                /* The first layer asks for no dX: nothing may be written there. */
                f(X, W, dY, gW, gb, NULL, B, K, N, relu_in);
                assert_close("dense_backward dW (no dX)", (kn_variant)v, gW, dW, mW, K * N);
                compared++;
            }
        }
        free(X), free(W), free(dY), free(aX), free(aW), free(adY);
        free(dW), free(db), free(dX), free(gW), free(gb), free(gX), free(mW), free(mb), free(mX);
    }
    cr_assert_gt(compared, 0, "no variant besides the reference was built");
}

Test(mlp_ops, registry_falls_back_to_the_reference)
{
    kn_variant got;
    cr_assert_eq(kn_pick(&kn_mlp_dense_forward, KN_REF, &got), (void *)kn_mlp_dense_forward_ref);
    cr_assert_eq(got, KN_REF);
    kn_pick(&kn_mlp_dense_backward, KN_AUTO, &got);
    cr_assert(got == KN_BLAS || (got == KN_CUDA && kn_cuda_usable()));
}

/* ---- (2) gradients against finite differences ---- */

static const kn_mlp_opt plain_sgd = {.kind = KN_MLP_SGD, .learning_rate = 0.1f};

static void check_gradients(kn_variant v)
{
    const size_t width[] = {6, 5, 4, 3}, B = 4;
    kn_mlp *net = kn_mlp_new(width, 3);
    cr_assert_not_null(net);
    kn_mlp_init_he(net, 7);
    rng_state = 3;
    for (size_t l = 0; l < net->nlayers; l++)
        bench_data_fill_uniform(net->b[l], width[l + 1], -0.3, 0.3, &rng_state);
    float *X = random_floats(B * width[0], -2, 2);
    const uint32_t labels[] = {0, 2, 1, 2};
    kn_mlp_trainer *t = kn_mlp_trainer_new(net, B, &plain_sgd, kn_mlp_dense_forward.fn[v],
                                           kn_mlp_dense_backward.fn[v]);
    cr_assert_not_null(t);
    kn_mlp_gradients(t, X, labels, B);

    /* Central differences: h trades truncation error (h²) and the chance
     * of stepping over a ReLU's kink against rounding (float loss / h).
     * At 1e-3 both stay near 1e-4 here, and no pre-activation of this
     * seeded net lies within reach of a kink (at 1e-2 two do). */
    const float h = 1e-3f;
    size_t checked = 0;
    for (size_t l = 0; l < net->nlayers; l++) {
        for (int which = 0; which < 2; which++) {
            float *p = which ? net->b[l] : net->W[l];
            const float *g = which ? kn_mlp_grad_b(t, l) : kn_mlp_grad_W(t, l);
            size_t n = which ? width[l + 1] : width[l] * width[l + 1];
            float *ana = malloc(n * sizeof *ana);
            memcpy(ana, g, n * sizeof *ana); /* the next calls overwrite g */
            for (size_t j = 0; j < n; j++) {
                float keep = p[j];
                p[j] = keep + h;
                double up = kn_mlp_gradients(t, X, labels, B);
                p[j] = keep - h;
                double down = kn_mlp_gradients(t, X, labels, B);
                p[j] = keep;
                double num = (up - down) / (2.0 * h);
                cr_assert(fabs(num - ana[j]) <= 1e-3 + 1e-2 * fabs(num),
                          "%s variant, layer %zu %s[%zu]: backprop %g, finite differences %g",
                          kn_variant_name(v), l, which ? "b" : "W", j, ana[j], num);
                checked++;
            }
            free(ana);
        }
    }
    cr_assert_eq(checked, kn_mlp_param_count(net));
    kn_mlp_trainer_destroy(&t);
    cr_assert_null(t);
    kn_mlp_destroy(&net);
    cr_assert_null(net);
    free(X);
}

Test(mlp_net, backprop_matches_finite_differences)
{
    for (int v = 0; v < KN_VARIANTS; v++)
        if (runnable(&kn_mlp_dense_forward, (kn_variant)v))
            check_gradients((kn_variant)v);
}

Test(mlp_net, softmax_is_stable_for_large_logits)
{
    float z[] = {1000.0f, 1001.0f, 999.0f, -1000.0f};
    kn_mlp_softmax(z, 1, 4);
    cr_assert_float_eq(z[0] + z[1] + z[2] + z[3], 1.0f, 1e-6f);
    cr_assert(z[1] > z[0] && z[0] > z[2] && z[3] == 0.0f);
}

Test(mlp_net, he_init_is_seeded_and_scaled)
{
    const size_t width[] = {400, 300, 10};
    kn_mlp *a = kn_mlp_new(width, 2), *b = kn_mlp_new(width, 2);
    kn_mlp_init_he(a, 42);
    kn_mlp_init_he(b, 42);
    cr_assert_eq(memcmp(a->W[0], b->W[0], 400 * 300 * sizeof(float)), 0);
    double sum2 = 0;
    for (size_t j = 0; j < 400 * 300; j++)
        sum2 += a->W[0][j] * (double)a->W[0][j];
    /* He: variance 2 / fan_in */
    cr_assert_float_eq(sum2 / (400 * 300), 2.0 / 400, 0.05 * 2.0 / 400);
    kn_mlp_init_he(b, 43);
    cr_assert_neq(memcmp(a->W[0], b->W[0], 400 * 300 * sizeof(float)), 0);
    kn_mlp_destroy(&a);
    kn_mlp_destroy(&b);
}

Test(mlp_net, parses_dimension_lists)
{
    size_t d[4], n;
    cr_assert(kn_mlp_parse_dims("1,28,28", d, 4, 1000, &n) && n == 3 && d[2] == 28);
    cr_assert(kn_mlp_parse_dims("[256, 128]", d, 4, 1000, &n) && n == 2 && d[1] == 128);
    cr_assert(kn_mlp_parse_dims("64", d, 4, 1000, &n) && n == 1 && d[0] == 64);
    const char *bad[] = {"", "0", "1,,2", "1,2,", "[1,2", "1;2", "-3", "1,2,3,4,5", "2000", "a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(kn_mlp_parse_dims(bad[i], d, 4, 1000, &n), "accepted '%s'", bad[i]);
}

/* ---- an in-memory channel: blobs, one per class ---- */

typedef struct blobs {
    float *X, *y;
    size_t n, dim;
    kn_mem_source_state st;
} blobs;

/* Pixel-like values (0..255): the classifier divides by 255. */
static kn_source make_blobs(blobs *b, size_t n, size_t dim, size_t classes, uint64_t seed)
{
    b->n = n, b->dim = dim;
    b->y = bench_data_alloc(n);
    b->X = bench_data_pixel_classes(n, dim, classes, seed, b->y);
    return kn_mem_source(&b->st, &(kn_matrix){n, dim, b->X}, b->y, 0);
}

static void free_blobs(blobs *b)
{
    free(b->X);
    free(b->y);
}

static sf_rc train_json(const char *json, kn_source *train, kn_source *validation, kn_model **m,
                        kn_err *err)
{
    kn_hp hp;
    sf_rc rc = fx_hp_parse(ic, json, &hp, err);
    if (rc != SF_OK)
        return rc;
    return kn_algo_image_classifier.train(&hp, train, validation, NULL, m, err);
}

/* ---- (3) hyperparameters ---- */

Test(mlp_hyper, refuses_what_sagemaker_refuses_naming_it)
{
    fx_hp_refused(ic, "{}", "num_classes");
    fx_hp_refused(ic, "{\"num_classes\": \"1\"}", "num_classes");
    fx_hp_refused(ic, "{\"num_classes\": \"ten\"}", "num_classes");
    fx_hp_refused(ic, "{\"num_classes\": \"10\", \"optimizer\": \"adagrad\"}", "optimizer");
    fx_hp_refused(ic, "{\"num_classes\": \"10\", \"epochs\": \"0\"}", "epochs");
    fx_hp_refused(ic, "{\"num_classes\": \"10\", \"mini_batch_size\": \"-1\"}", "mini_batch_size");
    fx_hp_refused(ic, "{\"num_classes\": \"10\", \"learning_rate\": \"0\"}", "learning_rate");
    fx_hp_refused(ic, "{\"num_classes\": \"10\", \"momentum\": \"1\"}", "momentum");
    fx_hp_refused(ic, "{\"num_classes\": \"10\", \"weight_decay\": \"-0.1\"}", "weight_decay");
    fx_hp_refused(ic, "{\"num_classes\": \"10\", \"early_stopping\": \"maybe\"}", "early_stopping");
    fx_hp_refused(ic, "{\"num_classes\": \"10\", \"use_pretrained_model\": \"1\"}",
                  "use_pretrained_model");
    fx_hp_refused(ic, "{\"num_classes\": \"10\", \"precision_dtype\": \"float16\"}",
                  "precision_dtype");
    fx_hp_refused(ic, "{\"num_classes\": \"10\", \"num_epochs\": \"5\"}", "num_epochs");
}

Test(mlp_hyper, accepts_sagemaker_jobs_and_fills_defaults)
{
    kn_hp hp;
    kn_err err = {{0}};
    cr_assert_eq(fx_hp_parse(ic,
                             "{\"num_classes\": \"10\", \"num_training_samples\": \"60000\", "
                             "\"num_layers\": \"18\", \"optimizer\": \"nag\", \"epochs\": 2}",
                             &hp, &err),
                 SF_OK, "%s", err.msg);
    cr_assert_eq(kn_hp_int(&hp, "mini_batch_size"), 32);
    cr_assert_float_eq(kn_hp_num(&hp, "momentum"), 0.9, 1e-12);
    cr_assert_float_eq(kn_hp_num(&hp, "weight_decay"), 0.0001, 1e-12);
    cr_assert_eq(kn_hp_int(&hp, "epochs"), 2);
    cr_assert(kn_hp_is_auto(&hp, "learning_rate"));
    cr_assert_str_eq(kn_hp_str(&hp, "hidden_layers"), "[256,128]");
}

/* Refusals that need the data to see: they come from train, before any step. */
static void assert_train_refused(const char *json, bool with_validation, const char *needle)
{
    blobs b;
    kn_source src = make_blobs(&b, 40, 12, 3, 5);
    kn_model *m = NULL;
    kn_err err = {{0}};
    cr_assert_neq(train_json(json, &src, with_validation ? &src : NULL, &m, &err), SF_OK,
                  "accepted %s", json);
    cr_assert_null(m);
    cr_assert(strstr(err.msg, "ClientError") && strstr(err.msg, needle),
              "%s: the error '%s' does not name '%s'", json, err.msg, needle);
    free_blobs(&b);
}

Test(mlp_hyper, refuses_shapes_that_do_not_fit_the_data)
{
    assert_train_refused("{\"num_classes\": \"3\", \"image_shape\": \"[1,28,28]\"}", true,
                         "image_shape");
    assert_train_refused("{\"num_classes\": \"3\", \"image_shape\": \"[1,2]\"}", true,
                         "image_shape");
    assert_train_refused("{\"num_classes\": \"3\", \"hidden_layers\": \"[0]\"}", true,
                         "hidden_layers");
    assert_train_refused("{\"num_classes\": \"3\", \"hidden_layers\": \"{}\"}", true,
                         "hidden_layers");
    assert_train_refused("{\"num_classes\": \"3\", \"lr_scheduler_step\": \"[-2]\"}", true,
                         "lr_scheduler_step");
    assert_train_refused("{\"num_classes\": \"3\", \"early_stopping\": \"true\"}", false,
                         "validation channel");
    /* three classes of blobs, but labels must be below num_classes */
    assert_train_refused("{\"num_classes\": \"2\"}", true, "label 2");
}

/* SageMaker's own examples write image_shape "1,28,28"; JSON-minded
 * callers write "[1,28,28]". Both are the same shape, and so are the
 * list hyperparameters beside it. */
Test(mlp_hyper, image_shape_trains_with_or_without_brackets)
{
    const char *jobs[] = {
        "{\"num_classes\": \"3\", \"epochs\": \"1\", \"image_shape\": \"1,3,4\", "
        "\"hidden_layers\": \"8\", \"lr_scheduler_step\": \"1\"}",
        "{\"num_classes\": \"3\", \"epochs\": \"1\", \"image_shape\": "
        "\"[1,3,4]\", \"hidden_layers\": \"[8]\", \"lr_scheduler_step\": \"[1]\"}"};
    for (size_t i = 0; i < 2; i++) {
        blobs b;
        kn_source src = make_blobs(&b, 60, 12, 3, 7);
        kn_model *m = NULL;
        kn_err err = {{0}};
        cr_assert_eq(train_json(jobs[i], &src, NULL, &m, &err), SF_OK, "%s: %s", jobs[i], err.msg);
        cr_assert_eq(m->feature_dim, 12, "%s", jobs[i]);
        kn_model_free(&m);
        free_blobs(&b);
    }
    fx_hp_refused(ic, "{\"num_classes\": \"3\", \"image_shape\": \"\"}", "image_shape");
}

/* ---- training, prediction and models on blobs ---- */

static double blob_accuracy(const kn_model *m, const blobs *b)
{
    kn_response resp;
    m->algo->response(m, &resp);
    float *out = malloc(b->n * resp.width * sizeof(float));
    kn_matrix X = {b->n, b->dim, b->X};
    kn_err err = {{0}};
    cr_assert_eq(m->algo->predict(m, &X, out, &err), SF_OK, "%s", err.msg);
    size_t right = 0;
    for (size_t i = 0; i < b->n; i++)
        right += out[i * resp.width] == b->y[i];
    free(out);
    return (double)right / (double)b->n;
}

Test(mlp_train, every_optimizer_learns_separable_classes)
{
    const char *opts[] = {"sgd", "nag", "adam", "rmsprop"};
    for (size_t o = 0; o < 4; o++) {
        blobs b;
        kn_source src = make_blobs(&b, 300, 20, 4, 9);
        char json[256];
        snprintf(json, sizeof json,
                 "{\"num_classes\": \"4\", \"optimizer\": \"%s\", \"epochs\": \"20\", "
                 "\"hidden_layers\": \"[16]\", \"mini_batch_size\": \"16\"}",
                 opts[o]);
        kn_model *m = NULL;
        kn_err err = {{0}};
        cr_assert_eq(train_json(json, &src, &src, &m, &err), SF_OK, "%s: %s", opts[o], err.msg);
        double acc = blob_accuracy(m, &b);
        cr_assert_geq(acc, 0.95, "%s reached only %.3f", opts[o], acc);
        kn_model_free(&m);
        free_blobs(&b);
    }
}

typedef struct seen_metrics {
    int epochs;
    bool train_acc, loss, val_acc;
} seen_metrics;

static void note_metrics(void *ctx, double fraction, uint64_t records, uint32_t epoch,
                         const kn_metric *metrics, size_t n)
{
    seen_metrics *s = ctx;
    if (n == 0)
        return;
    s->epochs++;
    for (size_t i = 0; i < n; i++) {
        s->train_acc |= strcmp(metrics[i].name, "train:accuracy") == 0;
        s->loss |= strcmp(metrics[i].name, "train:objective_loss") == 0;
        s->val_acc |= strcmp(metrics[i].name, "validation:accuracy") == 0;
    }
}

Test(mlp_train, reports_sagemaker_metrics_every_epoch)
{
    blobs b;
    kn_source src = make_blobs(&b, 200, 10, 2, 11);
    kn_hp hp;
    kn_err err = {{0}};
    cr_assert_eq(fx_hp_parse(ic, "{\"num_classes\": \"2\", \"epochs\": \"3\"}", &hp, &err), SF_OK);
    seen_metrics s = {0};
    kn_progress p = {&s, note_metrics, NULL};
    kn_model *m = NULL;
    cr_assert_eq(kn_algo_image_classifier.train(&hp, &src, &src, &p, &m, &err), SF_OK, "%s",
                 err.msg);
    cr_assert_eq(s.epochs, 3);
    cr_assert(s.train_acc && s.loss && s.val_acc);
    kn_model_free(&m);
    free_blobs(&b);
}

static bool cancel_now(void *ctx)
{
    return true;
}

Test(mlp_train, stops_when_cancelled)
{
    blobs b;
    kn_source src = make_blobs(&b, 200, 10, 2, 11);
    kn_hp hp;
    kn_err err = {{0}};
    cr_assert_eq(fx_hp_parse(ic, "{\"num_classes\": \"2\"}", &hp, &err), SF_OK);
    kn_progress p = {NULL, NULL, cancel_now};
    kn_model *m = NULL;
    cr_assert_neq(kn_algo_image_classifier.train(&hp, &src, NULL, &p, &m, &err), SF_OK);
    cr_assert_null(m);
    cr_assert(strstr(err.msg, "stopped"), "%s", err.msg);
    free_blobs(&b);
}

Test(mlp_train, diverging_is_an_algorithm_error_naming_the_rate)
{
    blobs b;
    kn_source src = make_blobs(&b, 200, 10, 2, 11);
    for (size_t i = 0; i < b.n * b.dim; i++)
        b.X[i] *= 1e4f; /* far outside 0..255: steps big enough to overflow */
    kn_model *m = NULL;
    kn_err err = {{0}};
    sf_rc rc = train_json("{\"num_classes\": \"2\", \"learning_rate\": \"10\", \"momentum\": "
                          "\"0.99\", \"epochs\": \"5\", \"mini_batch_size\": \"1\"}",
                          &src, NULL, &m, &err);
    cr_assert_neq(rc, SF_OK, "a rate of 10 with momentum 0.99 trained without diverging");
    cr_assert_null(m);
    cr_assert(strstr(err.msg, "AlgorithmError") && strstr(err.msg, "learning_rate"), "%s", err.msg);
    free_blobs(&b);
}

Test(mlp_train, same_seed_same_model)
{
    blobs b;
    kn_source src = make_blobs(&b, 120, 8, 3, 4);
    kn_model *m1 = NULL, *m2 = NULL;
    kn_err err = {{0}};
    const char *json = "{\"num_classes\": \"3\", \"epochs\": \"2\", \"seed\": \"9\"}";
    cr_assert_eq(train_json(json, &src, NULL, &m1, &err), SF_OK, "%s", err.msg);
    cr_assert_eq(train_json(json, &src, NULL, &m2, &err), SF_OK, "%s", err.msg);
    const kn_mlp *a = m1->state, *c = m2->state;
    cr_assert_eq(memcmp(a->W[0], c->W[0], a->width[0] * a->width[1] * sizeof(float)), 0);
    kn_model_free(&m1);
    kn_model_free(&m2);
    free_blobs(&b);
}

/* ---- (4) save and load ---- */

Test(mlp_model, save_load_round_trip_predicts_identically)
{
    blobs b;
    kn_source src = make_blobs(&b, 150, 16, 3, 21);
    kn_model *m = NULL, *back = NULL;
    kn_err err = {{0}};
    cr_assert_eq(train_json("{\"num_classes\": \"3\", \"epochs\": \"2\", \"hidden_layers\": "
                            "\"[12,8]\"}",
                            &src, NULL, &m, &err),
                 SF_OK, "%s", err.msg);
    back = fx_model_reload(m);

    kn_response r1, r2;
    m->algo->response(m, &r1);
    back->algo->response(back, &r2);
    cr_assert_eq(r1.width, 4);
    cr_assert_eq(r2.width, r1.width);
    cr_assert_str_eq(r2.fields[0].name, "predicted_label");
    cr_assert_str_eq(r2.fields[1].name, "score");
    cr_assert(r2.fields[1].vector && r2.fields[1].width == 3);
    float *o1 = malloc(b.n * r1.width * sizeof(float)), *o2 = malloc(b.n * r1.width * 4);
    kn_matrix X = {b.n, b.dim, b.X};
    cr_assert_eq(m->algo->predict(m, &X, o1, &err), SF_OK, "%s", err.msg);
    cr_assert_eq(back->algo->predict(back, &X, o2, &err), SF_OK, "%s", err.msg);
    cr_assert_eq(memcmp(o1, o2, b.n * r1.width * sizeof(float)), 0);
    for (size_t i = 0; i < b.n; i++) {
        float sum = 0;
        for (size_t c = 0; c < 3; c++)
            sum += o1[i * 4 + 1 + c];
        cr_assert_float_eq(sum, 1.0f, 1e-5f, "record %zu's probabilities sum to %g", i, sum);
    }
    /* A record of the wrong width is refused, not misread. */
    kn_matrix bad = {1, b.dim - 1, b.X};
    cr_assert_neq(back->algo->predict(back, &bad, o2, &err), SF_OK);
    cr_assert(strstr(err.msg, "ClientError"), "%s", err.msg);

    free(o1), free(o2);
    kn_model_free(&m);
    kn_model_free(&back);
    cr_assert_null(back);
    free_blobs(&b);
}

/* ---- the IDX reader ---- */

static void write_gz(const char *path, const void *data, size_t n)
{
    gzFile f = gzopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(gzwrite(f, data, (unsigned)n), (int)n);
    gzclose(f);
}

static void assert_idx_refused(const void *data, size_t n, const char *needle)
{
    char path[] = "/tmp/test_mlp_idx_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    write_gz(path, data, n);
    kn_idx *idx = NULL;
    kn_err err = {{0}};
    cr_assert_neq(kn_idx_load(path, &idx, &err), SF_OK);
    cr_assert_null(idx);
    cr_assert(strstr(err.msg, path) && strstr(err.msg, needle), "'%s' lacks '%s'", err.msg, needle);
    unlink(path);
}

Test(mlp_idx, reads_an_idx_file_and_refuses_bad_ones_naming_them)
{
    const uint8_t good[] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 10, 20, 30, 40};
    char path[] = "/tmp/test_mlp_idx_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    write_gz(path, good, sizeof good);
    kn_idx *idx = NULL;
    kn_err err = {{0}};
    cr_assert_eq(kn_idx_load(path, &idx, &err), SF_OK, "%s", err.msg);
    cr_assert_eq(idx->ndims, 3);
    cr_assert_eq(idx->dims[0], 2);
    cr_assert_eq(idx->item, 2);
    cr_assert_eq(idx->data[3], 40);
    kn_idx_destroy(&idx);
    cr_assert_null(idx);
    unlink(path);

    assert_idx_refused("GIF89a", 6, "not an IDX file");
    const uint8_t floats[] = {0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0};
    assert_idx_refused(floats, sizeof floats, "type 0x0d");
    assert_idx_refused(good, sizeof good - 1, "truncated");
    assert_idx_refused(good, 10, "truncated");
    uint8_t longer[sizeof good + 1];
    memcpy(longer, good, sizeof good);
    longer[sizeof good] = 7;
    assert_idx_refused(longer, sizeof longer, "bytes after");
    const uint8_t huge[] = {0, 0, 8, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_idx_refused(huge, sizeof huge, "more than");

    cr_assert_neq(kn_idx_load("/nonexistent/train.gz", &idx, &err), SF_OK);
    cr_assert(strstr(err.msg, "/nonexistent/train.gz"), "%s", err.msg);
}

Test(mlp_train, early_stopping_ends_when_validation_stops_improving)
{
    blobs b;
    kn_source src = make_blobs(&b, 200, 10, 2, 11);
    kn_hp hp;
    kn_err err = {{0}};
    /* Blobs are learnt to 100% at once: no later epoch can beat the first. */
    cr_assert_eq(fx_hp_parse(ic,
                             "{\"num_classes\": \"2\", \"epochs\": \"50\", \"early_stopping\": "
                             "\"true\", \"early_stopping_min_epochs\": \"3\", "
                             "\"early_stopping_patience\": \"2\", \"optimizer\": \"adam\"}",
                             &hp, &err),
                 SF_OK, "%s", err.msg);
    seen_metrics s = {0};
    kn_progress p = {&s, note_metrics, NULL};
    kn_model *m = NULL;
    cr_assert_eq(kn_algo_image_classifier.train(&hp, &src, &src, &p, &m, &err), SF_OK, "%s",
                 err.msg);
    cr_assert(s.epochs >= 3 && s.epochs < 50, "ran %d epochs", s.epochs);
    cr_assert_geq(blob_accuracy(m, &b), 0.99);
    kn_model_free(&m);
    free_blobs(&b);
}
