/* kernels/mlp/mlp_algo.c - "image-classifier": SageMaker's algorithm, played by an MLP.
 *
 * SageMaker's image-classification trains a ResNet on images; we train a
 * multi-layer perceptron on flattened images (one row per image, its
 * pixels as numbers, the label first in CSV). The hyperparameters keep
 * SageMaker's names and defaults where they mean the same thing; where
 * they cannot (num_layers is a ResNet depth) they are accepted and
 * described in kernels/mlp/README.md. This file is the glue between the
 * kn_algo contract and the network: checking hyperparameters and data,
 * the epoch loop with its shuffling and metrics, prediction, saving.
 *
 * Shuffling: rows are read from the source into a block of at most
 * KN_MLP_BLOCK_BYTES and shuffled within it each epoch. When the whole
 * channel fits in one block (Fashion-MNIST does) it is read once and the
 * shuffle is global; a bigger channel is reread each epoch and shuffled
 * block by block. */
#define _POSIX_C_SOURCE 200809L
#include "kernels/mlp/mlp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KN_MLP_BLOCK_BYTES ((size_t)256 << 20)
#define KN_MLP_PREDICT_ROWS 256 /* rows per forward pass when predicting */
#define KN_MLP_PIXEL_SCALE (1.0f / 255.0f)

/* "auto" learning rates. SageMaker's 0.1 suits its batch-normalised
 * ResNet; this network has no normalisation, and SGD with momentum 0.9 at
 * 0.1 and 32 images a batch diverges on Fashion-MNIST (measured), so the
 * momentum methods start ten times lower. 0.001 is Adam's usual rate. */
#define KN_MLP_LR_MOMENTUM 0.01
#define KN_MLP_LR_ADAPTIVE 0.001

#define INT_MIN_(n, lo) .name = n, .type = KN_HP_INT, .has_min = true, .min = lo
#define UNIT_OPEN .has_min = true, .min = 0, .has_max = true, .max = 1, .max_open = true

static const kn_hp_spec hyper[] = {
    /* SageMaker image-classification's own */
    {INT_MIN_("num_classes", 2), .required = true, .has_max = true, .max = KN_MLP_MAX_WIDTH},
    {INT_MIN_("num_training_samples", 1)},
    {INT_MIN_("epochs", 1), .dflt = "30", .has_max = true, .max = 100000},
    {.name = "learning_rate",
     .type = KN_HP_FLOAT,
     .dflt = "auto",
     .allow_auto = true,
     .has_min = true,
     .min = 0,
     .min_open = true,
     .has_max = true,
     .max = 10},
    {INT_MIN_("mini_batch_size", 1), .dflt = "32", .has_max = true, .max = 65536},
    {.name = "optimizer", .type = KN_HP_CHOICE, .dflt = "sgd", .choices = "sgd|adam|rmsprop|nag"},
    {.name = "momentum", .type = KN_HP_FLOAT, .dflt = "0.9", UNIT_OPEN},
    {.name = "weight_decay",
     .type = KN_HP_FLOAT,
     .dflt = "0.0001",
     .has_min = true,
     .min = 0,
     .has_max = true,
     .max = 1},
    {.name = "beta_1", .type = KN_HP_FLOAT, .dflt = "0.9", UNIT_OPEN},
    {.name = "beta_2", .type = KN_HP_FLOAT, .dflt = "0.999", UNIT_OPEN},
    {.name = "eps",
     .type = KN_HP_FLOAT,
     .dflt = "1e-8",
     .has_min = true,
     .min = 0,
     .min_open = true,
     .has_max = true,
     .max = 1},
    {.name = "gamma", .type = KN_HP_FLOAT, .dflt = "0.9", UNIT_OPEN},
    {.name = "lr_scheduler_factor",
     .type = KN_HP_FLOAT,
     .dflt = "0.1",
     .has_min = true,
     .min = 0,
     .min_open = true,
     .has_max = true,
     .max = 1},
    /* "10,20": epochs after which the rate is multiplied by the factor */
    {.name = "lr_scheduler_step", .type = KN_HP_STRING},
    /* "channels,height,width": their product is the row width */
    {.name = "image_shape", .type = KN_HP_STRING},
    {.name = "early_stopping", .type = KN_HP_BOOL, .dflt = "false"},
    {INT_MIN_("early_stopping_min_epochs", 1), .dflt = "10"},
    {INT_MIN_("early_stopping_patience", 1), .dflt = "5"},
    {.name = "early_stopping_tolerance",
     .type = KN_HP_FLOAT,
     .dflt = "0.0",
     .has_min = true,
     .min = 0,
     .has_max = true,
     .max = 1},
    /* Accepted so that SageMaker jobs run unchanged; see README.md. */
    {INT_MIN_("num_layers", 1)},
    {INT_MIN_("use_pretrained_model", 0), .dflt = "0", .has_max = true, .max = 0},
    {INT_MIN_("multi_label", 0), .dflt = "0", .has_max = true, .max = 0},
    {.name = "precision_dtype", .type = KN_HP_CHOICE, .dflt = "float32", .choices = "float32"},
    /* statefleet's own */
    {.name = "hidden_layers", .type = KN_HP_STRING, .dflt = "[256,128]"},
    {INT_MIN_("seed", 0), .dflt = "0", .has_max = true, .max = 4294967295.0},
};

/* What training needs to know, checked once. */
typedef struct cfg {
    size_t classes, epochs, batch, dim;
    size_t width[KN_MLP_MAX_LAYERS + 1], nlayers, params;
    size_t lr_steps[64], nlr_steps;
    float lr_factor;
    kn_mlp_opt opt;
    bool early;
    size_t early_min, early_patience;
    double early_tol;
    uint64_t seed;
    uint64_t expected_records; /* for progress fractions; 0: unknown */
} cfg;

static sf_rc read_cfg(const kn_hp *hp, const kn_source *train, const kn_source *validation, cfg *c,
                      kn_err *err)
{
    memset(c, 0, sizeof *c);
    c->classes = (size_t)kn_hp_int(hp, "num_classes");
    c->epochs = (size_t)kn_hp_int(hp, "epochs");
    c->batch = (size_t)kn_hp_int(hp, "mini_batch_size");
    c->seed = (uint64_t)kn_hp_int(hp, "seed");
    c->dim = train->feature_dim;

    if (kn_hp_is_set(hp, "image_shape")) {
        size_t shape[3], n, product = 1;
        const char *text = kn_hp_str(hp, "image_shape");
        if (!kn_mlp_parse_dims(text, shape, 3, KN_MLP_MAX_WIDTH, &n) || n != 3)
            return kn_fail(err, SF_EINVAL,
                           "ClientError: image_shape '%s' is not channels,height,width (three "
                           "positive integers, e.g. \"1,28,28\")",
                           text);
        for (size_t i = 0; i < 3; i++)
            product *= shape[i];
        if (c->dim != 0 && product != c->dim)
            return kn_fail(err, SF_EINVAL,
                           "ClientError: image_shape %s means %zu values per image, but the "
                           "train channel's records have %zu",
                           text, product, c->dim);
        c->dim = product;
    }
    if (c->dim == 0)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: the train channel's record width is unknown; give "
                       "image_shape");
    if (c->dim > KN_MLP_MAX_WIDTH)
        return kn_fail(err, SF_ELIMIT,
                       "ClientError: records of %zu values are wider than the %d an image may "
                       "have here",
                       c->dim, KN_MLP_MAX_WIDTH);
    if (validation && validation->feature_dim != 0 && validation->feature_dim != c->dim)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: the validation channel's records have %zu values, the "
                       "train channel's %zu",
                       validation->feature_dim, c->dim);

    const char *hidden = kn_hp_str(hp, "hidden_layers");
    size_t nh;
    if (!kn_mlp_parse_dims(hidden, c->width + 1, KN_MLP_MAX_HIDDEN, KN_MLP_MAX_WIDTH, &nh))
        return kn_fail(err, SF_EINVAL,
                       "ClientError: hidden_layers '%s' is not a list of 1 to %d layer sizes "
                       "(each 1..%d), e.g. \"256,128\"",
                       hidden, KN_MLP_MAX_HIDDEN, KN_MLP_MAX_WIDTH);
    c->width[0] = c->dim;
    c->width[nh + 1] = c->classes;
    c->nlayers = nh + 1;
    for (size_t l = 0; l < c->nlayers; l++)
        c->params += c->width[l] * c->width[l + 1] + c->width[l + 1];
    if (c->params > KN_MLP_MAX_PARAMS)
        return kn_fail(err, SF_ELIMIT,
                       "ClientError: hidden_layers %s with %zu inputs and %zu classes makes %zu "
                       "parameters; the limit is %zu",
                       hidden, c->dim, c->classes, c->params, KN_MLP_MAX_PARAMS);

    const char *opt = kn_hp_str(hp, "optimizer");
    c->opt.kind = strcmp(opt, "adam") == 0      ? KN_MLP_ADAM
                  : strcmp(opt, "rmsprop") == 0 ? KN_MLP_RMSPROP
                  : strcmp(opt, "nag") == 0     ? KN_MLP_NAG
                                                : KN_MLP_SGD;
    bool adaptive = c->opt.kind == KN_MLP_ADAM || c->opt.kind == KN_MLP_RMSPROP;
    c->opt.learning_rate = (float)(kn_hp_is_auto(hp, "learning_rate")
                                       ? (adaptive ? KN_MLP_LR_ADAPTIVE : KN_MLP_LR_MOMENTUM)
                                       : kn_hp_num(hp, "learning_rate"));
    c->opt.momentum = (float)kn_hp_num(hp, "momentum");
    c->opt.weight_decay = (float)kn_hp_num(hp, "weight_decay");
    c->opt.beta_1 = (float)kn_hp_num(hp, "beta_1");
    c->opt.beta_2 = (float)kn_hp_num(hp, "beta_2");
    c->opt.eps = (float)kn_hp_num(hp, "eps");
    c->opt.gamma = (float)kn_hp_num(hp, "gamma");

    c->lr_factor = (float)kn_hp_num(hp, "lr_scheduler_factor");
    if (kn_hp_is_set(hp, "lr_scheduler_step")) {
        const char *steps = kn_hp_str(hp, "lr_scheduler_step");
        size_t max = sizeof c->lr_steps / sizeof c->lr_steps[0];
        if (!kn_mlp_parse_dims(steps, c->lr_steps, max, 100000, &c->nlr_steps))
            return kn_fail(err, SF_EINVAL,
                           "ClientError: lr_scheduler_step '%s' is not a list of up to %zu "
                           "epochs, e.g. \"10,20\"",
                           steps, max);
    }

    c->early = kn_hp_bool(hp, "early_stopping");
    c->early_min = (size_t)kn_hp_int(hp, "early_stopping_min_epochs");
    c->early_patience = (size_t)kn_hp_int(hp, "early_stopping_patience");
    c->early_tol = kn_hp_num(hp, "early_stopping_tolerance");
    if (c->early && !validation)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: early_stopping watches validation:accuracy and needs a "
                       "validation channel");
    if (kn_hp_is_set(hp, "num_training_samples"))
        c->expected_records = (uint64_t)kn_hp_int(hp, "num_training_samples") * c->epochs;
    return SF_OK;
}

/* Labels arrive as floats; a class is a whole number below num_classes. */
static sf_rc check_rows(const char *channel, const float *X, const float *labels, size_t n,
                        size_t dim, size_t classes, uint64_t first, kn_err *err)
{
    for (size_t i = 0; i < n; i++) {
        float y = labels[i];
        if (!(y >= 0.0f && y < (float)classes && y == floorf(y)))
            return kn_fail(err, SF_EINVAL,
                           "ClientError: %s channel, record %llu: label %g is not a class "
                           "0..%zu (num_classes is %zu)",
                           channel, (unsigned long long)(first + i + 1), y, classes - 1, classes);
        for (size_t j = 0; j < dim; j++)
            if (!isfinite(X[i * dim + j]))
                return kn_fail(err, SF_EINVAL,
                               "ClientError: %s channel, record %llu: value %zu is not a "
                               "finite number",
                               channel, (unsigned long long)(first + i + 1), j + 1);
    }
    return SF_OK;
}

/* Reads up to cap rows into X and labels; *n rows came, *ended at the end. */
static sf_rc fill(kn_source *src, const char *channel, const cfg *c, float *X, float *labels,
                  size_t cap, uint64_t first, size_t *n, bool *ended, kn_err *err)
{
    *n = 0;
    *ended = false;
    while (*n < cap) {
        kn_matrix m = {0, c->dim, X + *n * c->dim};
        sf_rc rc = src->next(src->ctx, &m, labels + *n, cap - *n, err);
        if (rc != SF_OK)
            return rc;
        if (m.rows == 0) {
            *ended = true;
            break;
        }
        if (m.cols != c->dim)
            return kn_fail(err, SF_EINVAL,
                           "ClientError: %s channel, record %llu: %zu values where %zu were "
                           "expected",
                           channel, (unsigned long long)(first + *n + 1), m.cols, c->dim);
        rc = check_rows(channel, m.data, labels + *n, m.rows, c->dim, c->classes, first + *n, err);
        if (rc != SF_OK)
            return rc;
        *n += m.rows;
    }
    return SF_OK;
}

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void shuffle(uint32_t *perm, size_t n, uint64_t *rng)
{
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(mix(rng) % i);
        uint32_t tmp = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = tmp;
    }
}

/* The share of a channel's records the network gets right. */
static sf_rc accuracy(const kn_mlp *net, kn_mlp_dense_forward_fn forward, kn_source *src,
                      const cfg *c, float *X, float *labels, float *probs, float *scratch,
                      double *acc, kn_err *err)
{
    sf_rc rc = src->rewind(src->ctx, err);
    uint64_t seen = 0, right = 0;
    while (rc == SF_OK) {
        size_t n;
        bool ended;
        rc = fill(src, "validation", c, X, labels, KN_MLP_PREDICT_ROWS, seen, &n, &ended, err);
        if (rc != SF_OK || n == 0)
            break;
        kn_mlp_predict(net, forward, X, n, probs, scratch);
        for (size_t i = 0; i < n; i++) {
            const float *p = probs + i * c->classes;
            size_t best = 0;
            for (size_t k = 1; k < c->classes; k++)
                best = p[k] > p[best] ? k : best;
            right += best == (size_t)labels[i];
        }
        seen += n;
        if (ended)
            break;
    }
    if (rc == SF_OK && seen == 0)
        rc = kn_fail(err, SF_EINVAL, "ClientError: the validation channel has no records");
    *acc = seen ? (double)right / (double)seen : 0.0;
    return rc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void copy_params(kn_mlp *dst, const kn_mlp *src)
{
    for (size_t l = 0; l < src->nlayers; l++) {
        memcpy(dst->W[l], src->W[l], src->width[l] * src->width[l + 1] * sizeof(float));
        memcpy(dst->b[l], src->b[l], src->width[l + 1] * sizeof(float));
    }
}

/* Rows in the shuffle block: KN_MLP_BLOCK_BYTES' worth, but at least a batch. */
static size_t shuffle_rows(const cfg *c)
{
    size_t rows = KN_MLP_BLOCK_BYTES / (c->dim * sizeof(float));
    rows = rows < c->batch ? c->batch : rows;
    return rows > UINT32_MAX ? UINT32_MAX : rows;
}

/* Everything train allocates, freed in one place. */
typedef struct run {
    kn_mlp *net, *best;
    kn_mlp_trainer *trainer;
    float *block, *block_labels, *batch, *probs, *scratch;
    float *vX, *vlabels; /* validation chunks: the block may hold the whole train channel */
    uint32_t *perm, *batch_labels;
} run;

static void run_free(run *r)
{
    kn_mlp_destroy(&r->net);
    kn_mlp_destroy(&r->best);
    kn_mlp_trainer_destroy(&r->trainer);
    free(r->block);
    free(r->block_labels);
    free(r->batch);
    free(r->probs);
    free(r->scratch);
    free(r->vX);
    free(r->vlabels);
    free(r->perm);
    free(r->batch_labels);
}

static sf_rc train_epochs(run *r, const cfg *c, kn_source *train, kn_source *validation,
                          const kn_progress *progress, kn_err *err);

static sf_rc ic_train(const kn_hp *hp, kn_source *train, kn_source *validation,
                      const kn_progress *progress, kn_model **out, kn_err *err)
{
    *out = NULL;
    cfg c;
    sf_rc rc = read_cfg(hp, train, validation, &c, err);
    if (rc != SF_OK)
        return rc;

    kn_mlp_dense_forward_fn fwd =
        (kn_mlp_dense_forward_fn)kn_pick(&kn_mlp_dense_forward, kn_wanted(), NULL);
    kn_mlp_dense_backward_fn bwd =
        (kn_mlp_dense_backward_fn)kn_pick(&kn_mlp_dense_backward, kn_wanted(), NULL);
    size_t block_rows = shuffle_rows(&c);
    size_t pred_rows = KN_MLP_PREDICT_ROWS;

    run r = {0};
    r.net = kn_mlp_new(c.width, c.nlayers);
    if (r.net) {
        r.net->input_scale = KN_MLP_PIXEL_SCALE;
        kn_mlp_init_he(r.net, c.seed);
        r.trainer = kn_mlp_trainer_new(r.net, c.batch, &c.opt, fwd, bwd);
    }
    size_t wide = r.net ? kn_mlp_max_width(r.net) : 0;
    r.block = malloc(block_rows * c.dim * sizeof(float));
    r.block_labels = malloc(block_rows * sizeof(float));
    r.perm = malloc(block_rows * sizeof(uint32_t));
    r.batch = malloc(c.batch * c.dim * sizeof(float));
    r.batch_labels = malloc(c.batch * sizeof(uint32_t));
    r.probs = malloc(pred_rows * c.classes * sizeof(float));
    r.scratch = malloc(2 * pred_rows * wide * sizeof(float));
    r.vX = malloc(pred_rows * c.dim * sizeof(float));
    r.vlabels = malloc(pred_rows * sizeof(float));
    if (c.early)
        r.best = kn_mlp_new(c.width, c.nlayers);
    if (!r.net || !r.trainer || !r.block || !r.block_labels || !r.perm || !r.batch ||
        !r.batch_labels || !r.probs || !r.scratch || !r.vX || !r.vlabels || (c.early && !r.best)) {
        run_free(&r);
        return kn_fail(err, SF_ENOMEM,
                       "AlgorithmError: out of memory for a network of %zu parameters and a "
                       "shuffle block of %zu records",
                       c.params, block_rows);
    }

    rc = train_epochs(&r, &c, train, validation, progress, err);
    if (rc == SF_OK) {
        kn_model *m = calloc(1, sizeof *m);
        if (!m) {
            rc = kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
        } else {
            m->algo = &kn_algo_image_classifier;
            m->hp = *hp;
            m->feature_dim = c.dim;
            m->state = r.net;
            r.net = NULL; /* the model owns it now */
            *out = m;
        }
    }
    run_free(&r);
    return rc;
}

static sf_rc train_epochs(run *r, const cfg *c, kn_source *train, kn_source *validation,
                          const kn_progress *progress, kn_err *err)
{
    kn_mlp_dense_forward_fn fwd =
        (kn_mlp_dense_forward_fn)kn_pick(&kn_mlp_dense_forward, kn_wanted(), NULL);
    size_t block_rows = shuffle_rows(c);
    uint64_t rng = c->seed ^ 0x5eedf1ee7ull, records = 0;
    bool resident = false; /* the whole channel is in the block: never reread it */
    size_t resident_rows = 0, since_best = 0;
    double best_acc = -1.0, last_report = now_s();
    sf_rc rc = SF_OK;

    for (size_t epoch = 1; epoch <= c->epochs; epoch++) {
        /* lr_scheduler_step names the epochs after which the rate drops. */
        float lr = c->opt.learning_rate;
        for (size_t k = 0; k < c->nlr_steps; k++)
            if (c->lr_steps[k] < epoch)
                lr *= c->lr_factor;
        kn_mlp_trainer_set_rate(r->trainer, lr);
        double loss = 0.0;
        size_t correct = 0;
        uint64_t seen = 0;
        /* Rewound before the first epoch too: a source handed over part-read
         * must not lose its first rows. */
        if (!resident && (rc = train->rewind(train->ctx, err)) != SF_OK)
            return rc;
        for (bool ended = false; !ended;) {
            size_t n = resident_rows;
            if (resident)
                ended = true;
            else if ((rc = fill(train, "train", c, r->block, r->block_labels, block_rows, seen, &n,
                                &ended, err)) != SF_OK)
                return rc;
            if (epoch == 1 && ended && seen == 0) {
                resident = true;
                resident_rows = n;
            }
            shuffle(r->perm, n, &rng);
            for (size_t at = 0; at < n; at += c->batch) {
                size_t B = n - at < c->batch ? n - at : c->batch;
                for (size_t i = 0; i < B; i++) {
                    size_t row = r->perm[at + i];
                    memcpy(r->batch + i * c->dim, r->block + row * c->dim, c->dim * sizeof(float));
                    r->batch_labels[i] = (uint32_t)r->block_labels[row];
                }
                kn_mlp_train_step(r->trainer, r->batch, r->batch_labels, B, &loss, &correct);
                seen += B;
                records += B;
                if (kn_cancelled(progress))
                    return kn_fail(err, SF_ESTATE,
                                   "AlgorithmError: training stopped on request in epoch %zu",
                                   epoch);
                if (progress && now_s() - last_report > 1.0) {
                    last_report = now_s();
                    double frac = c->expected_records
                                      ? (double)records / (double)c->expected_records
                                      : (epoch - 1.0) / (double)c->epochs;
                    kn_report(progress, frac < 1.0 ? frac : 0.99, records, (uint32_t)epoch, NULL,
                              0);
                }
            }
        }
        if (seen == 0)
            return kn_fail(err, SF_EINVAL, "ClientError: the train channel has no records");
        if (!isfinite(loss))
            return kn_fail(err, SF_EINVAL,
                           "AlgorithmError: training diverged in epoch %zu (the loss is not a "
                           "number); lower learning_rate (now %g)",
                           epoch, (double)c->opt.learning_rate);

        kn_metric metrics[3] = {
            {"train:accuracy", (double)correct / (double)seen},
            {"train:objective_loss", loss / (double)seen},
        };
        size_t nm = 2;
        if (validation) {
            double acc;
            rc = accuracy(r->net, fwd, validation, c, r->vX, r->vlabels, r->probs, r->scratch, &acc,
                          err);
            if (rc != SF_OK)
                return rc;
            metrics[nm++] = (kn_metric){"validation:accuracy", acc};
        }
        kn_report(progress, (double)epoch / (double)c->epochs, records, (uint32_t)epoch, metrics,
                  nm);
        if (c->early) {
            double acc = metrics[2].value;
            if (acc > best_acc + c->early_tol) {
                best_acc = acc;
                since_best = 0;
                copy_params(r->best, r->net);
            } else if (++since_best >= c->early_patience && epoch >= c->early_min) {
                break;
            }
        }
    }
    if (c->early)
        copy_params(r->net, r->best); /* the epoch validation liked best */
    return SF_OK;
}

/* ---- prediction ---- */

static void ic_response(const kn_model *m, kn_response *out)
{
    const kn_mlp *net = m->state;
    size_t classes = net->width[net->nlayers];
    /* As linear-learner's multiclass_classifier: the class, then one
     * probability per class (SageMaker's image-classification returns only
     * the probabilities; see README.md). */
    *out = (kn_response){
        .top = "predictions",
        .fields = {{"predicted_label", 1, false, true}, {"score", classes, true, false}},
        .nfields = 2,
        .width = 1 + classes,
    };
}

static sf_rc ic_predict(const kn_model *m, const kn_matrix *X, float *out, kn_err *err)
{
    const kn_mlp *net = m->state;
    size_t classes = net->width[net->nlayers], dim = net->width[0];
    if (X->rows > 0 && X->cols != dim)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: records have %zu values; this model reads images of %zu",
                       X->cols, dim);
    kn_mlp_dense_forward_fn fwd =
        (kn_mlp_dense_forward_fn)kn_pick(&kn_mlp_dense_forward, kn_wanted(), NULL);
    size_t chunk = X->rows < KN_MLP_PREDICT_ROWS ? X->rows : KN_MLP_PREDICT_ROWS;
    float *probs = malloc((chunk ? chunk : 1) * classes * sizeof(float));
    float *scratch = malloc((chunk ? chunk : 1) * 2 * kn_mlp_max_width(net) * sizeof(float));
    if (!probs || !scratch) {
        free(probs);
        free(scratch);
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory predicting %zu records",
                       X->rows);
    }
    for (size_t at = 0; at < X->rows; at += chunk) {
        size_t n = X->rows - at < chunk ? X->rows - at : chunk;
        kn_mlp_predict(net, fwd, X->data + at * dim, n, probs, scratch);
        for (size_t i = 0; i < n; i++) {
            const float *p = probs + i * classes;
            float *o = out + (at + i) * (1 + classes);
            size_t best = 0;
            for (size_t k = 1; k < classes; k++)
                best = p[k] > p[best] ? k : best;
            o[0] = (float)best;
            memcpy(o + 1, p, classes * sizeof(float));
        }
    }
    free(probs);
    free(scratch);
    return SF_OK;
}

/* ---- the model's parameters ----
 *
 * "architecture": the layer widths, inputs first ("784,256,128,10");
 * "input_scale": what inputs are multiplied by (1/255);
 * "dense.<l>.weight" (width[l] × width[l+1], input-major) and
 * "dense.<l>.bias" (width[l+1]) for each dense layer l. */

static sf_rc ic_save(const kn_model *m, kn_model_writer *w, kn_err *err)
{
    const kn_mlp *net = m->state;
    char arch[KN_MLP_MAX_LAYERS * 8 + 16], name[48];
    size_t len = 0;
    for (size_t l = 0; l <= net->nlayers; l++)
        len +=
            (size_t)snprintf(arch + len, sizeof arch - len, "%s%zu", l ? "," : "", net->width[l]);
    sf_rc rc = kn_mw_str(w, "architecture", arch, err);
    if (rc == SF_OK)
        rc = kn_mw_floats(w, "input_scale", &net->input_scale, 1, err);
    for (size_t l = 0; l < net->nlayers && rc == SF_OK; l++) {
        snprintf(name, sizeof name, "dense.%zu.weight", l);
        rc = kn_mw_floats(w, name, net->W[l], net->width[l] * net->width[l + 1], err);
        if (rc != SF_OK)
            break;
        snprintf(name, sizeof name, "dense.%zu.bias", l);
        rc = kn_mw_floats(w, name, net->b[l], net->width[l + 1], err);
    }
    return rc;
}

static sf_rc ic_load(kn_model_reader *rd, kn_model *m, kn_err *err)
{
    const char *arch;
    sf_rc rc = kn_mr_str(rd, "architecture", &arch, err);
    if (rc != SF_OK)
        return rc;
    size_t width[KN_MLP_MAX_LAYERS + 1], n, params = 0;
    if (!kn_mlp_parse_dims(arch, width, KN_MLP_MAX_LAYERS + 1, KN_MLP_MAX_WIDTH, &n) || n < 2)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: the model's architecture '%s' is not 2 to %d layer widths",
                       arch, KN_MLP_MAX_LAYERS + 1);
    for (size_t l = 0; l + 1 < n; l++)
        params += width[l] * width[l + 1] + width[l + 1];
    if (params > KN_MLP_MAX_PARAMS)
        return kn_fail(err, SF_ELIMIT,
                       "ClientError: the model's architecture %s has %zu parameters; the "
                       "limit is %zu",
                       arch, params, KN_MLP_MAX_PARAMS);
    kn_mlp *net = kn_mlp_new(width, n - 1);
    if (!net)
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory loading a %s network", arch);
    const float *data;
    size_t got;
    char name[48]; /* "dense.<size_t>.weight" fits whatever the index */
    rc = kn_mr_floats(rd, "input_scale", 1, &data, &got, err);
    if (rc == SF_OK)
        net->input_scale = data[0];
    for (size_t l = 0; l < net->nlayers && rc == SF_OK; l++) {
        snprintf(name, sizeof name, "dense.%zu.weight", l);
        rc = kn_mr_floats(rd, name, width[l] * width[l + 1], &data, &got, err);
        if (rc != SF_OK)
            break;
        memcpy(net->W[l], data, got * sizeof(float));
        snprintf(name, sizeof name, "dense.%zu.bias", l);
        rc = kn_mr_floats(rd, name, width[l + 1], &data, &got, err);
        if (rc == SF_OK)
            memcpy(net->b[l], data, got * sizeof(float));
    }
    if (rc != SF_OK) {
        kn_mlp_destroy(&net);
        return rc;
    }
    m->state = net;
    return SF_OK;
}

static void ic_free_state(void *state)
{
    kn_mlp *net = state;
    kn_mlp_destroy(&net);
}

const kn_algo kn_algo_image_classifier = {
    .name = "image-classifier",
    .hyper = hyper,
    .nhyper = sizeof hyper / sizeof hyper[0],
    .supervised = true,
    .train = ic_train,
    .response = ic_response,
    .predict = ic_predict,
    .save = ic_save,
    .load = ic_load,
    .free_state = ic_free_state,
};
