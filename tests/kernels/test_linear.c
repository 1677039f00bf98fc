/* tests/kernels/test_linear.c - linear-learner trained end to end on seeded data.
 *
 * Each test trains on a data set whose answer is known (a linear rule with
 * a little noise) and checks what SageMaker promises: accuracy, recovered
 * weights, result shapes, metric names, early stopping, save and load. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench_data.h"
#include "kernels/kn_algo.h"
#include "kernels/linear/linear.h"
#include "kernels_fixture.h"

/* A labelled data set: rows X and a label each in y, both malloc'd. */
typedef struct labelled {
    kn_matrix X;
    float *y;
} labelled;

/* rows × cols features of unequal scale (bench_data_features); labels to come. */
static labelled features(size_t rows, size_t cols, uint64_t seed)
{
    return (labelled){{rows, cols, bench_data_features(rows, cols, seed)}, bench_data_alloc(rows)};
}

/* Labels from a known linear rule (bench_data_label_linear). */
static void label_linear(labelled *d, const double *w, double b, bool binary, double noise,
                         uint64_t seed)
{
    bench_data_label_linear(d->y, d->X.data, d->X.rows, d->X.cols, w, b, binary, noise, seed);
}

static void labelled_free(labelled *d)
{
    free(d->X.data);
    free(d->y);
}

static const kn_algo *ll(void)
{
    const kn_algo *a = kn_algo_find("linear-learner");
    cr_assert_not_null(a);
    return a;
}

static sf_rc train(const char *hp_json, labelled *tr, labelled *va, const kn_progress *p,
                   kn_model **m, kn_err *err)
{
    kn_hp hp;
    sf_rc rc = fx_hp_parse(ll(), hp_json, &hp, err);
    if (rc != SF_OK)
        return rc;
    kn_mem_source_state ts_st, vs_st;
    kn_source ts = kn_mem_source(&ts_st, &tr->X, tr->y, 0), vs;
    if (va)
        vs = kn_mem_source(&vs_st, &va->X, va->y, 0);
    return ll()->train(&hp, &ts, va ? &vs : NULL, p, m, err);
}

/* Predictions for every row of d: rows × width floats (caller frees). */
static float *predict_all(const kn_model *m, const labelled *d, size_t *width)
{
    kn_response r;
    ll()->response(m, &r);
    float *out = malloc(d->X.rows * r.width * sizeof(float));
    kn_err e;
    cr_assert_eq(ll()->predict(m, &d->X, out, &e), SF_OK, "%s", e.msg);
    *width = r.width;
    return out;
}

static double label_accuracy(const kn_model *m, const labelled *d)
{
    size_t width;
    float *out = predict_all(m, d, &width);
    size_t right = 0;
    for (size_t i = 0; i < d->X.rows; i++)
        right += out[i * width + width - 1] == d->y[i];
    free(out);
    return (double)right / (double)d->X.rows;
}

/* Binary data: 10 features with different means and spreads, labels from
 * a known rule through the middle of the data, 2% of labels flipped. */
static void binary_data(labelled *tr, labelled *te, double noise)
{
    double w[10], b = 0;
    uint64_t s = 99;
    for (size_t f = 0; f < 10; f++) {
        w[f] = (2 * bench_data_uniform(&s) - 1) / (1.0 + (double)f);
        b -= w[f] * (double)f; /* the features' means are f */
    }
    *tr = features(4000, 10, 1);
    *te = features(2000, 10, 2);
    label_linear(tr, w, b, true, noise, 3);
    label_linear(te, w, b, true, 0, 4);
}

Test(linear, binary_classifier_learns_a_noisy_linear_rule)
{
    labelled tr, te;
    binary_data(&tr, &te, 0.02);
    kn_model *m;
    kn_err e;
    cr_assert_eq(train("{\"predictor_type\": \"binary_classifier\", \"epochs\": \"10\", "
                       "\"mini_batch_size\": \"100\"}",
                       &tr, NULL, NULL, &m, &e),
                 SF_OK, "%s", e.msg);
    double acc = label_accuracy(m, &te);
    cr_assert_geq(acc, 0.96, "holdout accuracy %.3f", acc);
    size_t width;
    float *out = predict_all(m, &te, &width);
    cr_assert_eq(width, 2, "score and predicted_label");
    for (size_t i = 0; i < te.X.rows; i++) {
        cr_assert(out[2 * i] >= 0 && out[2 * i] <= 1, "logistic score is a probability");
        cr_assert(out[2 * i + 1] == 0 || out[2 * i + 1] == 1);
    }
    free(out);
    kn_model_free(&m);
    cr_assert_null(m);
    labelled_free(&tr), labelled_free(&te);
}

Test(linear, every_optimizer_and_hinge_loss_learn_too)
{
    labelled tr, te;
    binary_data(&tr, &te, 0.02);
    const char *cfgs[] = {
        "{\"predictor_type\": \"binary_classifier\", \"optimizer\": \"sgd\", \"epochs\": \"10\", "
        "\"mini_batch_size\": \"100\"}",
        "{\"predictor_type\": \"binary_classifier\", \"optimizer\": \"rmsprop\", \"epochs\": "
        "\"10\", \"mini_batch_size\": \"100\"}",
        "{\"predictor_type\": \"binary_classifier\", \"loss\": \"hinge_loss\", \"epochs\": \"10\", "
        "\"mini_batch_size\": \"100\"}",
        "{\"predictor_type\": \"binary_classifier\", \"num_models\": \"4\", \"epochs\": \"10\", "
        "\"mini_batch_size\": \"100\"}",
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        kn_model *m;
        kn_err e;
        cr_assert_eq(train(cfgs[i], &tr, NULL, NULL, &m, &e), SF_OK, "%s: %s", cfgs[i], e.msg);
        double acc = label_accuracy(m, &te);
        cr_assert_geq(acc, 0.93, "%s: holdout accuracy %.3f", cfgs[i], acc);
        kn_model_free(&m);
    }
    labelled_free(&tr), labelled_free(&te);
}

Test(linear, multiclass_classifier_scores_every_class)
{
    /* three classes: the argmax of three linear scores */
    labelled tr = features(6000, 4, 5), te = features(1000, 4, 6);
    const double W[3][4] = {{1, -1, 0.5, 0}, {-1, 0.5, 0, 0.3}, {0, 0.5, -0.5, -0.3}};
    labelled *sets[] = {&tr, &te};
    for (size_t s = 0; s < 2; s++)
        for (size_t i = 0; i < sets[s]->X.rows; i++) {
            const float *x = sets[s]->X.data + i * 4;
            size_t best = 0;
            double bz = -1e30;
            for (size_t c = 0; c < 3; c++) {
                double z = 0;
                for (size_t f = 0; f < 4; f++)
                    z += W[c][f] * (x[f] - (double)f) / (1.0 + (double)f);
                if (z > bz)
                    bz = z, best = c;
            }
            sets[s]->y[i] = (float)best;
        }
    kn_model *m;
    kn_err e;
    cr_assert_eq(train("{\"predictor_type\": \"multiclass_classifier\", \"num_classes\": \"3\", "
                       "\"epochs\": \"20\", \"mini_batch_size\": \"100\"}",
                       &tr, NULL, NULL, &m, &e),
                 SF_OK, "%s", e.msg);
    double acc = label_accuracy(m, &te);
    cr_assert_geq(acc, 0.9, "holdout accuracy %.3f", acc);
    kn_response r;
    ll()->response(m, &r);
    cr_assert_eq(r.nfields, 2);
    cr_assert_str_eq(r.fields[0].name, "score");
    cr_assert_eq(r.fields[0].width, 3);
    cr_assert(r.fields[0].vector);
    cr_assert_str_eq(r.fields[1].name, "predicted_label");
    cr_assert(r.fields[1].integral);
    size_t width;
    float *out = predict_all(m, &te, &width);
    cr_assert_eq(width, 4);
    float sum = out[0] + out[1] + out[2];
    cr_assert_float_eq(sum, 1.0f, 1e-4, "softmax scores sum to 1");
    free(out);
    kn_model_free(&m);
    labelled_free(&tr), labelled_free(&te);
}

Test(linear, regressor_recovers_known_weights)
{
    const double w[5] = {2.0, -1.0, 0.5, 0.0, 3.0};
    labelled tr = features(5000, 5, 7);
    label_linear(&tr, w, 4.0, false, 0.01, 8);
    kn_model *m;
    kn_err e;
    cr_assert_eq(train("{\"predictor_type\": \"regressor\", \"epochs\": \"30\", "
                       "\"mini_batch_size\": \"50\"}",
                       &tr, NULL, NULL, &m, &e),
                 SF_OK, "%s", e.msg);
    const ll_state *s = m->state;
    for (size_t f = 0; f < 5; f++)
        cr_assert(fabs(s->w[f] - w[f]) < 0.02, "w[%zu] = %g, want %g", f, s->w[f], w[f]);
    cr_assert(fabs(s->b[0] - 4.0) < 0.1, "b = %g, want 4", s->b[0]);
    kn_response r;
    ll()->response(m, &r);
    cr_assert_eq(r.nfields, 1, "a regressor returns only its score");
    cr_assert_str_eq(r.fields[0].name, "score");
    kn_model_free(&m);
    labelled_free(&tr);
}

Test(linear, robust_regression_losses_train)
{
    const double w[3] = {1.0, -2.0, 0.5};
    labelled tr = features(3000, 3, 9);
    label_linear(&tr, w, 1.0, false, 0.05, 10);
    const char *losses[] = {"absolute_loss", "huber_loss", "quantile_loss",
                            "eps_insensitive_squared_loss", "eps_insensitive_absolute_loss"};
    for (size_t i = 0; i < 5; i++) {
        char hp[256];
        snprintf(hp, sizeof hp,
                 "{\"predictor_type\": \"regressor\", \"loss\": \"%s\", \"epochs\": \"30\", "
                 "\"mini_batch_size\": \"50\"}",
                 losses[i]);
        kn_model *m;
        kn_err e;
        cr_assert_eq(train(hp, &tr, NULL, NULL, &m, &e), SF_OK, "%s: %s", losses[i], e.msg);
        const ll_state *s = m->state;
        for (size_t f = 0; f < 3; f++)
            cr_assert(fabs(s->w[f] - w[f]) < 0.1, "%s: w[%zu] = %g, want %g", losses[i], f, s->w[f],
                      w[f]);
        kn_model_free(&m);
    }
    labelled_free(&tr);
}

Test(linear, refuses_hyperparameters_that_do_not_fit_together)
{
    labelled tr, te;
    binary_data(&tr, &te, 0);
    kn_model *m = NULL;
    kn_err e;
    cr_assert_eq(train("{\"predictor_type\": \"multiclass_classifier\"}", &tr, NULL, NULL, &m, &e),
                 SF_EINVAL);
    cr_assert_str_eq(e.msg, "ClientError: Missing required hyperparameter 'num_classes' "
                            "(required when predictor_type is multiclass_classifier)");
    cr_assert_eq(train("{\"predictor_type\": \"binary_classifier\", \"loss\": \"squared_loss\"}",
                       &tr, NULL, NULL, &m, &e),
                 SF_EINVAL);
    cr_assert_str_eq(e.msg, "ClientError: Hyperparameter 'loss' 'squared_loss' cannot be used "
                            "with predictor_type 'binary_classifier'");
    cr_assert_eq(train("{\"predictor_type\": \"binary_classifier\", \"feature_dim\": \"11\"}", &tr,
                       NULL, NULL, &m, &e),
                 SF_EINVAL);
    cr_assert_str_eq(e.msg, "ClientError: Hyperparameter 'feature_dim' is 11 but the train "
                            "channel has 10 features");
    cr_assert_eq(train("{\"predictor_type\": \"binary_classifier\", \"epochs\": \"0\"}", &tr, NULL,
                       NULL, &m, &e),
                 SF_EINVAL);
    cr_assert_str_eq(e.msg, "ClientError: Hyperparameter 'epochs' must be an integer greater "
                            "than 0; got '0'");
    cr_assert_eq(train("{\"predictor_type\": \"binary_classifier\", \"epoch\": \"3\"}", &tr, NULL,
                       NULL, &m, &e),
                 SF_EINVAL);
    cr_assert_str_eq(e.msg, "ClientError: Unknown hyperparameter 'epoch' (did you mean 'epochs'?)");
    cr_assert_null(m);
    labelled_free(&tr), labelled_free(&te);
}

Test(linear, refuses_labels_that_are_not_classes)
{
    labelled tr, te;
    binary_data(&tr, &te, 0);
    tr.y[1234] = 2;
    kn_model *m = NULL;
    kn_err e;
    cr_assert_eq(train("{\"predictor_type\": \"binary_classifier\"}", &tr, NULL, NULL, &m, &e),
                 SF_EINVAL);
    cr_assert_str_eq(e.msg, "ClientError: label 2 in record 1235 is not 0 or 1 (predictor_type "
                            "binary_classifier)");
    cr_assert_null(m);
    labelled_free(&tr), labelled_free(&te);
}

typedef struct seen {
    size_t calls;
    uint32_t last_epoch;
    char names[16][64];
    size_t nnames;
    double last_val_acc;
} seen;

static void on_report(void *ctx, double fraction, uint64_t records, uint32_t epoch,
                      const kn_metric *metrics, size_t n)
{
    seen *s = ctx;
    s->calls++;
    s->last_epoch = epoch;
    for (size_t i = 0; i < n; i++) {
        bool have = false;
        for (size_t j = 0; j < s->nnames; j++)
            have |= strcmp(s->names[j], metrics[i].name) == 0;
        if (!have && s->nnames < 16)
            snprintf(s->names[s->nnames++], 64, "%s", metrics[i].name);
        if (strcmp(metrics[i].name, "validation:binary_classification_accuracy") == 0)
            s->last_val_acc = metrics[i].value;
    }
}

static bool has_name(const seen *s, const char *name)
{
    for (size_t j = 0; j < s->nnames; j++)
        if (strcmp(s->names[j], name) == 0)
            return true;
    return false;
}

Test(linear, reports_sagemaker_metric_names_each_epoch)
{
    labelled tr, te;
    binary_data(&tr, &te, 0.02);
    seen s = {0};
    kn_progress p = {.ctx = &s, .report = on_report};
    kn_model *m;
    kn_err e;
    cr_assert_eq(train("{\"predictor_type\": \"binary_classifier\", \"epochs\": \"3\", "
                       "\"early_stopping_patience\": \"10\", \"mini_batch_size\": \"50\"}",
                       &tr, &te, &p, &m, &e),
                 SF_OK, "%s", e.msg);
    cr_assert_geq(s.calls, 3, "one report per epoch at least");
    const char *want[] = {"train:objective_loss",
                          "validation:objective_loss",
                          "validation:binary_classification_accuracy",
                          "validation:binary_f_beta",
                          "validation:precision",
                          "validation:recall"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(has_name(&s, want[i]), "no %s", want[i]);
    cr_assert_geq(s.last_val_acc, 0.95, "final accuracy %g", s.last_val_acc);
    kn_model_free(&m);
    labelled_free(&tr), labelled_free(&te);
}

Test(linear, early_stopping_stops_when_validation_stops_improving)
{
    labelled tr, te;
    binary_data(&tr, &te, 0.0);
    seen s = {0};
    kn_progress p = {.ctx = &s, .report = on_report};
    kn_model *m;
    kn_err e;
    /* a tolerance no epoch can meet after the first: stops after 1 + patience */
    cr_assert_eq(train("{\"predictor_type\": \"binary_classifier\", \"epochs\": \"50\", "
                       "\"early_stopping_patience\": \"2\", \"early_stopping_tolerance\": "
                       "\"0.99\"}",
                       &tr, &te, &p, &m, &e),
                 SF_OK, "%s", e.msg);
    cr_assert_eq(s.last_epoch, 3, "stopped at epoch %u", s.last_epoch);
    kn_model_free(&m);
    labelled_free(&tr), labelled_free(&te);
}

static bool stop_now(void *ctx)
{
    return ++*(int *)ctx > 3;
}

Test(linear, stops_when_cancelled)
{
    labelled tr, te;
    binary_data(&tr, &te, 0.0);
    int polls = 0;
    kn_progress p = {.ctx = &polls, .cancelled = stop_now};
    kn_model *m = NULL;
    kn_err e;
    cr_assert_eq(train("{\"predictor_type\": \"binary_classifier\"}", &tr, NULL, &p, &m, &e),
                 SF_ESTATE);
    cr_assert_str_eq(e.msg, "AlgorithmError: training was stopped");
    cr_assert_null(m);
    labelled_free(&tr), labelled_free(&te);
}

Test(linear, threshold_follows_the_selection_criterion)
{
    labelled tr, te;
    binary_data(&tr, &te, 0.1);
    kn_model *m;
    kn_err e;
    cr_assert_eq(train("{\"predictor_type\": \"binary_classifier\", "
                       "\"binary_classifier_model_selection_criteria\": "
                       "\"precision_at_target_recall\", \"target_recall\": \"0.99\"}",
                       &tr, &te, NULL, &m, &e),
                 SF_OK, "%s", e.msg);
    const ll_state *s = m->state;
    size_t width, tp = 0, pos = 0;
    float *out = predict_all(m, &te, &width);
    for (size_t i = 0; i < te.X.rows; i++) {
        pos += te.y[i] == 1;
        tp += te.y[i] == 1 && out[2 * i + 1] == 1;
    }
    cr_assert_geq((double)tp / (double)pos, 0.99, "recall at the chosen threshold %g",
                  (double)s->threshold);
    cr_assert_lt(s->threshold, 0.5, "a high recall asks for a low threshold");
    free(out);
    kn_model_free(&m);
    labelled_free(&tr), labelled_free(&te);
}

Test(linear, l1_zeroes_useless_features)
{
    const double w[6] = {2.0, 0, 0, -1.0, 0, 0};
    labelled tr = features(4000, 6, 11);
    label_linear(&tr, w, 0.0, false, 0.01, 12);
    kn_model *m;
    kn_err e;
    cr_assert_eq(train("{\"predictor_type\": \"regressor\", \"l1\": \"0.05\", \"epochs\": \"20\", "
                       "\"mini_batch_size\": \"50\"}",
                       &tr, NULL, NULL, &m, &e),
                 SF_OK, "%s", e.msg);
    const ll_state *s = m->state;
    size_t zeros = 0;
    for (size_t f = 0; f < 6; f++)
        zeros += s->w[f] == 0;
    cr_assert_geq(zeros, 3, "%zu weights are exactly 0", zeros);
    cr_assert(s->w[0] > 1 && s->w[3] < -0.5);
    kn_model_free(&m);
    labelled_free(&tr);
}

Test(linear, saved_and_loaded_model_predicts_identically)
{
    labelled tr, te;
    binary_data(&tr, &te, 0.02);
    kn_model *m, *back;
    kn_err e;
    cr_assert_eq(train("{\"predictor_type\": \"binary_classifier\", \"epochs\": \"3\"}", &tr, NULL,
                       NULL, &m, &e),
                 SF_OK, "%s", e.msg);
    back = fx_model_reload(m);
    cr_assert_eq(back->feature_dim, 10);
    cr_assert_str_eq(kn_hp_str(&back->hp, "predictor_type"), "binary_classifier");
    cr_assert_eq(kn_hp_int(&back->hp, "epochs"), 3);
    size_t w1, w2;
    float *a = predict_all(m, &te, &w1), *b = predict_all(back, &te, &w2);
    cr_assert_eq(w1, w2);
    cr_assert_eq(memcmp(a, b, te.X.rows * w1 * sizeof(float)), 0, "bit-identical predictions");
    free(a), free(b);
    kn_model_free(&m);
    kn_model_free(&back);
    labelled_free(&tr), labelled_free(&te);
}

Test(linear, refuses_a_request_of_the_wrong_width)
{
    labelled tr, te;
    binary_data(&tr, &te, 0.02);
    kn_model *m;
    kn_err e;
    cr_assert_eq(train("{\"predictor_type\": \"binary_classifier\", \"epochs\": \"1\"}", &tr, NULL,
                       NULL, &m, &e),
                 SF_OK, "%s", e.msg);
    float x[9] = {0}, out[2];
    kn_matrix X = {1, 9, x};
    cr_assert_eq(ll()->predict(m, &X, out, &e), SF_EINVAL);
    cr_assert_str_eq(e.msg, "ClientError: the model reads 10 features; the request has 9");
    kn_model_free(&m);
    labelled_free(&tr), labelled_free(&te);
}

Test(linear, every_cpu_variant_trains_the_same_model)
{
    labelled tr, te;
    binary_data(&tr, &te, 0.02);
    float *w[2];
    for (int v = 0; v < 2; v++) {
        setenv("STATEFLEET_KERNELS", v == 0 ? "reference" : "openblas", 1);
        kn_model *m;
        kn_err e;
        cr_assert_eq(train("{\"predictor_type\": \"binary_classifier\", \"epochs\": \"2\"}", &tr,
                           NULL, NULL, &m, &e),
                     SF_OK, "%s", e.msg);
        const ll_state *s = m->state;
        w[v] = malloc(10 * sizeof(float));
        memcpy(w[v], s->w, 10 * sizeof(float));
        kn_model_free(&m);
    }
    unsetenv("STATEFLEET_KERNELS");
    for (size_t f = 0; f < 10; f++) /* float sums in another order, through 80 steps */
        cr_assert(fabsf(w[0][f] - w[1][f]) < 1e-3 * (1 + fabsf(w[0][f])), "w[%zu]: %g vs %g", f,
                  w[0][f], w[1][f]);
    free(w[0]), free(w[1]);
    labelled_free(&tr), labelled_free(&te);
}
