/* kernels/kmeans/kmeans_algo.c - SageMaker's kmeans:1 as a kn_algo.
 *
 * Hyperparameters, defaults and response shape are SageMaker's (facts
 * §4.2); the steps are in kmeans.h. Choices SageMaker leaves open, made
 * here and fixed so that runs repeat:
 *   - extra_center_factor auto: 1 + ceil(ln k), at least 2;
 *   - local_lloyd_num_trials auto: 10;
 *   - the random choices are seeded with a constant;
 *   - step 4 runs at most REFINE_PASSES passes;
 *   - distance_to_cluster is the Euclidean distance (not squared).
 * The test channel (kn_algo's validation source) is scored with the final
 * centres as test:msd / test:ssd, the training passes as train:msd /
 * train:ssd, whichever eval_metrics asks for. */
#include "kmeans.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kn_model.h"

enum { REFINE_PASSES = 10, AUTO_TRIALS = 10 };
#define KMEANS_SEED 0x6b6d65616e73ULL /* "kmeans" */

/* Centres beyond this are refused before anything is allocated. */
#define MAX_CENTRES (1u << 24)

static const kn_hp_spec kmeans_hyper[] = {
    {.name = "feature_dim", .type = KN_HP_INT, .required = true, .has_min = true, .min = 1},
    {.name = "k", .type = KN_HP_INT, .required = true, .has_min = true, .min = 1},
    {.name = "epochs", .type = KN_HP_INT, .dflt = "1", .has_min = true, .min = 1},
    {.name = "eval_metrics", .type = KN_HP_JSON, .dflt = "[\"msd\"]"},
    {.name = "extra_center_factor",
     .type = KN_HP_INT,
     .dflt = "auto",
     .allow_auto = true,
     .has_min = true,
     .min = 1},
    {.name = "half_life_time_size", .type = KN_HP_INT, .dflt = "0", .has_min = true, .min = 0},
    {.name = "init_method", .type = KN_HP_CHOICE, .dflt = "random", .choices = "random|kmeans++"},
    {.name = "local_lloyd_init_method",
     .type = KN_HP_CHOICE,
     .dflt = "kmeans++",
     .choices = "random|kmeans++"},
    {.name = "local_lloyd_max_iter", .type = KN_HP_INT, .dflt = "300", .has_min = true, .min = 1},
    {.name = "local_lloyd_num_trials",
     .type = KN_HP_INT,
     .dflt = "auto",
     .allow_auto = true,
     .has_min = true,
     .min = 1},
    {.name = "local_lloyd_tol",
     .type = KN_HP_FLOAT,
     .dflt = "0.0001",
     .has_min = true,
     .min = 0,
     .has_max = true,
     .max = 1},
    {.name = "mini_batch_size", .type = KN_HP_INT, .dflt = "5000", .has_min = true, .min = 1},
};

typedef struct km_state {
    size_t k, d;
    float *centers; /* k × d */
} km_state;

static void km_free(void *p)
{
    km_state *s = p;
    if (s)
        free(s->centers);
    free(s);
}

/* eval_metrics: a JSON list drawn from "msd" and "ssd". */
static sf_rc parse_metrics(const char *text, bool *msd, bool *ssd, kn_err *err)
{
    json_t *j = json_loads(text, 0, NULL);
    sf_rc rc = SF_OK;
    *msd = *ssd = false;
    if (!json_is_array(j) || json_array_size(j) == 0)
        rc = SF_EINVAL;
    for (size_t i = 0; rc == SF_OK && i < json_array_size(j); i++) {
        const char *m = json_string_value(json_array_get(j, i));
        if (m && strcmp(m, "msd") == 0)
            *msd = true;
        else if (m && strcmp(m, "ssd") == 0)
            *ssd = true;
        else
            rc = SF_EINVAL;
    }
    json_decref(j);
    if (rc != SF_OK)
        return kn_fail(err, rc,
                       "ClientError: eval_metrics: %s is not a JSON list of \"msd\" and \"ssd\" "
                       "(e.g. [\"msd\",\"ssd\"])",
                       text);
    return SF_OK;
}

static kn_kmeans_init init_of(const kn_hp *hp, const char *name)
{
    return strcmp(kn_hp_str(hp, name), "kmeans++") == 0 ? KN_KMEANS_PLUSPLUS : KN_KMEANS_RANDOM;
}

static sf_rc score_test(kn_source *test, size_t mini_batch, kn_kmeans_assign_fn assign,
                        const kn_progress *progress, kn_matrix *C, bool want_msd, bool want_ssd,
                        uint32_t epoch, kn_err *err)
{
    double ssd = 0;
    uint64_t rows = 0;
    if (test->feature_dim && test->feature_dim != C->cols)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: the test channel has %zu features, feature_dim is %zu",
                       test->feature_dim, C->cols);
    sf_rc rc = kn_kmeans_pass(test, mini_batch, assign, false, progress, C, &ssd, &rows, err);
    if (rc != SF_OK)
        return rc;
    kn_metric m[2];
    size_t n = 0;
    if (want_msd)
        m[n++] = (kn_metric){"test:msd", rows ? ssd / (double)rows : 0};
    if (want_ssd)
        m[n++] = (kn_metric){"test:ssd", ssd};
    kn_report(progress, 1.0, rows, epoch, m, n);
    return SF_OK;
}

static sf_rc km_train(const kn_hp *hp, kn_source *train, kn_source *test,
                      const kn_progress *progress, kn_model **out, kn_err *err)
{
    const size_t d = (size_t)kn_hp_int(hp, "feature_dim");
    const size_t k = (size_t)kn_hp_int(hp, "k");
    const size_t mbs = (size_t)kn_hp_int(hp, "mini_batch_size");
    const double tol = kn_hp_num(hp, "local_lloyd_tol");
    const int max_iter = (int)kn_hp_int(hp, "local_lloyd_max_iter");
    bool want_msd, want_ssd;
    sf_rc rc = parse_metrics(kn_hp_str(hp, "eval_metrics"), &want_msd, &want_ssd, err);
    if (rc != SF_OK)
        return rc;
    if (train->feature_dim && train->feature_dim != d)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: feature_dim is %zu but the train channel has %zu features", d,
                       train->feature_dim);
    size_t factor = kn_hp_is_auto(hp, "extra_center_factor")
                        ? 1 + (size_t)ceil(log((double)k))
                        : (size_t)kn_hp_int(hp, "extra_center_factor");
    if (factor < 2 && kn_hp_is_auto(hp, "extra_center_factor"))
        factor = 2;
    if (k > MAX_CENTRES || factor > MAX_CENTRES / k)
        return kn_fail(err, SF_ELIMIT,
                       "ClientError: k × extra_center_factor (%zu × %zu) is more than %u centres",
                       k, factor, MAX_CENTRES);
    int trials = kn_hp_is_auto(hp, "local_lloyd_num_trials")
                     ? AUTO_TRIALS
                     : (int)kn_hp_int(hp, "local_lloyd_num_trials");
    kn_kmeans_assign_fn assign =
        (kn_kmeans_assign_fn)kn_pick(&kn_kmeans_assign_op, kn_wanted(), NULL);
    /* The reader may not know the width before the first record; the
     * hyperparameter is what the batches are sized by. */
    kn_source src = *train;
    src.feature_dim = d;

    /* Steps 1 and 2. */
    kn_kmeans_stream_opts o = {
        .k_big = k * factor,
        .mini_batch = mbs,
        .epochs = (uint32_t)kn_hp_int(hp, "epochs"),
        .half_life = (uint64_t)kn_hp_int(hp, "half_life_time_size"),
        .init = init_of(hp, "init_method"),
        .seed = KMEANS_SEED,
        .assign = assign,
        .progress = progress,
        .want_msd = want_msd,
        .want_ssd = want_ssd,
    };
    kn_matrix big = {0};
    float *weight = NULL;
    uint64_t rows = 0;
    km_state *st = NULL;
    kn_model *m = NULL;
    if ((rc = kn_kmeans_stream(&src, &o, &big, &weight, &rows, err)) != SF_OK)
        return rc;
    if (big.rows < k) {
        rc = kn_fail(err, SF_EINVAL,
                     "ClientError: k is %zu but the train channel has only %llu "
                     "records",
                     k, (unsigned long long)rows);
        goto fail;
    }

    /* Step 3. */
    st = calloc(1, sizeof *st);
    m = calloc(1, sizeof *m);
    if (!st || !m || !(st->centers = malloc(k * d * sizeof(float)))) {
        rc = kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory for %zu centres", k);
        goto fail;
    }
    st->k = k;
    st->d = d;
    kn_matrix C = {k, d, st->centers};
    uint64_t rng = KMEANS_SEED ^ 0x3;
    if ((rc = kn_kmeans_reduce(&big, weight, init_of(hp, "local_lloyd_init_method"), trials,
                               max_iter, tol, &rng, &C, err)) != SF_OK)
        goto fail;

    /* Step 4: each pass scores the centres it starts from, then moves them. */
    double prev = 0;
    for (int p = 0; p < REFINE_PASSES; p++) {
        double ssd = 0;
        if ((rc = kn_kmeans_pass(&src, mbs, assign, true, progress, &C, &ssd, &rows, err)) != SF_OK)
            goto fail;
        kn_metric mt[2];
        size_t n = 0;
        if (want_msd)
            mt[n++] = (kn_metric){"train:msd", rows ? ssd / (double)rows : 0};
        if (want_ssd)
            mt[n++] = (kn_metric){"train:ssd", ssd};
        kn_report(progress, (o.epochs + 0.5) / (o.epochs + 1.0), rows, o.epochs + 1 + (uint32_t)p,
                  mt, n);
        if (p > 0 && prev - ssd <= tol * prev)
            break;
        prev = ssd;
    }

    if (test && (rc = score_test(test, mbs, assign, progress, &C, want_msd, want_ssd, o.epochs + 1,
                                 err)) != SF_OK)
        goto fail;

    m->algo = &kn_algo_kmeans;
    m->hp = *hp;
    m->feature_dim = d;
    m->state = st;
    *out = m;
    free(big.data);
    free(weight);
    return SF_OK;
fail:
    km_free(st);
    free(m);
    free(big.data);
    free(weight);
    return rc;
}

static void km_response(const kn_model *m, kn_response *out)
{
    *out = (kn_response){
        .top = "predictions",
        .fields = {{.name = "closest_cluster", .width = 1, .integral = true},
                   {.name = "distance_to_cluster", .width = 1}},
        .nfields = 2,
        .width = 2,
    };
}

static sf_rc km_predict(const kn_model *m, const kn_matrix *X, float *out, kn_err *err)
{
    const km_state *st = m->state;
    if (X->cols != st->d)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: records have %zu features, the model reads %zu", X->cols,
                       st->d);
    uint32_t *closest = malloc((X->rows ? X->rows : 1) * sizeof *closest);
    float *d2 = malloc((X->rows ? X->rows : 1) * sizeof *d2);
    sf_rc rc = SF_OK;
    if (!closest || !d2) {
        rc = kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory for %zu records", X->rows);
        goto out;
    }
    kn_matrix C = {st->k, st->d, st->centers};
    kn_kmeans_assign_fn assign =
        (kn_kmeans_assign_fn)kn_pick(&kn_kmeans_assign_op, kn_wanted(), NULL);
    if ((rc = assign(X, &C, closest, d2, err)) != SF_OK)
        goto out;
    for (size_t i = 0; i < X->rows; i++) {
        out[2 * i] = (float)closest[i];
        out[2 * i + 1] = sqrtf(d2[i]);
    }
out:
    free(closest);
    free(d2);
    return rc;
}

static sf_rc km_save(const kn_model *m, kn_model_writer *w, kn_err *err)
{
    const km_state *st = m->state;
    sf_rc rc = kn_mw_int(w, "k", (int64_t)st->k, err);
    if (rc == SF_OK)
        rc = kn_mw_int(w, "feature_dim", (int64_t)st->d, err);
    if (rc == SF_OK)
        rc = kn_mw_floats(w, "centers", st->centers, st->k * st->d, err);
    return rc;
}

static sf_rc km_load(kn_model_reader *r, kn_model *m, kn_err *err)
{
    int64_t k = 0, d = 0;
    const float *c = NULL;
    size_t n = 0;
    sf_rc rc = kn_mr_int(r, "k", &k, err);
    if (rc == SF_OK)
        rc = kn_mr_int(r, "feature_dim", &d, err);
    if (rc != SF_OK)
        return rc;
    if (k < 1 || d < 1 || (uint64_t)k > MAX_CENTRES || (uint64_t)d > SIZE_MAX / 4 / (uint64_t)k)
        return kn_fail(err, SF_EINVAL,
                       "AlgorithmError: the model has %lld centres of %lld "
                       "features",
                       (long long)k, (long long)d);
    if ((rc = kn_mr_floats(r, "centers", (size_t)(k * d), &c, &n, err)) != SF_OK)
        return rc;
    km_state *st = calloc(1, sizeof *st);
    if (!st || !(st->centers = malloc((size_t)(k * d) * sizeof(float)))) {
        km_free(st);
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory loading %lld centres",
                       (long long)k);
    }
    memcpy(st->centers, c, (size_t)(k * d) * sizeof(float));
    st->k = (size_t)k;
    st->d = (size_t)d;
    m->feature_dim = (size_t)d;
    m->state = st;
    return SF_OK;
}

const kn_algo kn_algo_kmeans = {
    .name = "kmeans",
    .hyper = kmeans_hyper,
    .nhyper = sizeof kmeans_hyper / sizeof kmeans_hyper[0],
    .supervised = false,
    .train = km_train,
    .response = km_response,
    .predict = km_predict,
    .save = km_save,
    .load = km_load,
    .free_state = km_free,
};
