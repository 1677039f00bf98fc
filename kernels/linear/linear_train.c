/* kernels/linear/linear_train.c - training linear-learner.
 *
 * The job, in order:
 *   1. read the first num_point_for_scaler rows to learn each feature's
 *      mean and spread (normalize_data), the label's (normalize_label),
 *      and the class balance (positive_example_weight_mult "balanced",
 *      balance_multiclass_weights); then rewind;
 *   2. for each epoch, stream the train channel in mini-batches: scale the
 *      batch, forward, loss gradient, backward (the two products are the
 *      kn_ops, split across a few threads by rows), optimizer step, L1's
 *      proximal step, learning-rate schedule;
 *   3. after each epoch, score the validation channel (or, without one,
 *      take the epoch's training loss), keep each model's best weights, and
 *      stop early when the best loss has not improved by a relative
 *      early_stopping_tolerance for early_stopping_patience epochs;
 *   4. keep the best model, fold the scaler into its weights (so that
 *      prediction reads raw features), and for a binary classifier choose
 *      the threshold by binary_classifier_model_selection_criteria on the
 *      validation channel or, without one, on the first training rows.
 *
 * num_models: SageMaker trains several models in parallel with different
 * settings and keeps the best. Here the models are extra score columns
 * of one W, trained by the same products (sgemm instead of sgemv: nearly
 * free, since reading X is the cost), each with its own learning rate
 * (lr × 1, ½, 2, ¼, 4, ...). "auto" trains one.
 *
 * Never prints; reports metrics through kn_progress. */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "linear.h"

#define MAX_PARTS 16
/* Below this many multiply-adds per part, waking a thread costs more than
 * it saves: measured on a 2-vCPU machine, a default mini-batch (1000 rows
 * of 100 features, one score) ran faster on one thread than on two. */
#define MIN_WORK_PER_PART (1u << 18)

typedef struct part {
    float *Z, *dZ, *G, *gb; /* (rows,K) (rows,K) (d,K) (K) */
    double *loss;           /* (M) */
} part;

typedef struct trainer {
    const ll_config *c;
    size_t d, M, k, K;
    kn_linear_forward_fn fwd;
    kn_linear_gradient_fn grad;
    ll_pool *pool;
    size_t nparts;
    part parts[MAX_PARTS];

    /* the scaler: x' = (x - mean) * inv_std */
    float *mean, *inv_std;
    float *class_w;
    ll_lossctx lc;

    float *W, *b;             /* (d,K), (K) */
    float *mW, *vW, *mb, *vb; /* optimizer state, same shapes */
    float *lr_mult;           /* (K): each model's share of the learning rate */
    double lr;
    uint64_t steps;

    float *bestW, *bestb;
    double *best;                /* (M): each model's best loss so far */
    double *loss, *vloss;        /* (M): this epoch's train and validation loss */
    double *vacc, *vtopk, *vabs; /* (M): validation metrics */

    float *X, *y; /* the batch being worked on */
    size_t rows;  /* its rows */
} trainer;

/* ---- small helpers ---- */

static void *zalloc(size_t n, size_t size, bool *ok)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        *ok = false;
    return p;
}

static uint64_t rng_next(uint64_t *s) /* splitmix64: seeded, so training repeats */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_uniform(uint64_t *s) /* in (0, 1) */
{
    return ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
}

static size_t cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_PARTS ? MAX_PARTS : (size_t)n;
}

/* ---- setup ---- */

static void trainer_free(trainer *t)
{
    ll_pool_destroy(&t->pool);
    for (size_t i = 0; i < MAX_PARTS; i++) {
        free(t->parts[i].Z);
        free(t->parts[i].dZ);
        free(t->parts[i].G);
        free(t->parts[i].gb);
        free(t->parts[i].loss);
    }
    void *all[] = {t->mean,  t->inv_std, t->class_w, t->W,     t->b,     t->mW,   t->vW,
                   t->mb,    t->vb,      t->lr_mult, t->bestW, t->bestb, t->best, t->loss,
                   t->vloss, t->vacc,    t->vtopk,   t->vabs,  t->X,     t->y};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

static sf_rc trainer_init(trainer *t, const ll_config *c, size_t d, kn_err *err)
{
    memset(t, 0, sizeof *t);
    t->c = c;
    t->d = d;
    t->M = c->num_models;
    t->k = c->k;
    t->K = t->M * t->k;
    if (t->K > 1000000 || d > 100000000 / (t->K ? t->K : 1))
        return kn_fail(err, SF_ELIMIT,
                       "ClientError: %zu features × %zu scores × %zu models is too big a model", d,
                       t->k, t->M);
    kn_variant got;
    t->fwd = (kn_linear_forward_fn)kn_pick(&kn_linear_forward, kn_wanted(), &got);
    t->grad = (kn_linear_gradient_fn)kn_pick(&kn_linear_gradient, kn_wanted(), &got);
    /* A GPU wants whole batches; the CPU variants share them out. */
    size_t want = got == KN_CUDA ? 1 : cores();
    size_t by_work = c->batch * d * t->K / MIN_WORK_PER_PART;
    if (want > by_work)
        want = by_work ? by_work : 1;
    t->pool = ll_pool_new(want);
    t->nparts = t->pool ? want : 1;

    bool ok = true;
    size_t per = (c->batch + t->nparts - 1) / t->nparts, K = t->K;
    for (size_t i = 0; i < t->nparts; i++) {
        t->parts[i].Z = zalloc(per * K, sizeof(float), &ok);
        t->parts[i].dZ = zalloc(per * K, sizeof(float), &ok);
        t->parts[i].G = zalloc(d * K, sizeof(float), &ok);
        t->parts[i].gb = zalloc(K, sizeof(float), &ok);
        t->parts[i].loss = zalloc(t->M, sizeof(double), &ok);
    }
    t->mean = zalloc(d, sizeof(float), &ok);
    t->inv_std = zalloc(d, sizeof(float), &ok);
    t->W = zalloc(d * K, sizeof(float), &ok);
    t->mW = zalloc(d * K, sizeof(float), &ok);
    t->vW = zalloc(d * K, sizeof(float), &ok);
    t->bestW = zalloc(d * K, sizeof(float), &ok);
    t->b = zalloc(K, sizeof(float), &ok);
    t->mb = zalloc(K, sizeof(float), &ok);
    t->vb = zalloc(K, sizeof(float), &ok);
    t->bestb = zalloc(K, sizeof(float), &ok);
    t->lr_mult = zalloc(K, sizeof(float), &ok);
    t->best = zalloc(t->M, sizeof(double), &ok);
    t->loss = zalloc(t->M, sizeof(double), &ok);
    t->vloss = zalloc(t->M, sizeof(double), &ok);
    t->vacc = zalloc(t->M, sizeof(double), &ok);
    t->vtopk = zalloc(t->M, sizeof(double), &ok);
    t->vabs = zalloc(t->M, sizeof(double), &ok);
    t->X = zalloc(c->batch * d, sizeof(float), &ok);
    t->y = zalloc(c->batch, sizeof(float), &ok);
    if (c->kind == LL_MULTICLASS)
        t->class_w = zalloc(t->k, sizeof(float), &ok);
    if (!ok)
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory for %zu features", d);

    /* model m's learning rate: lr × 2^s, s = 0, -1, 1, -2, 2, ... */
    for (size_t m = 0; m < t->M; m++) {
        double s = m == 0 ? 0 : (m % 2 ? -(double)((m + 1) / 2) : (double)(m / 2));
        for (size_t j = 0; j < t->k; j++)
            t->lr_mult[m * t->k + j] = (float)pow(2.0, s);
        t->best[m] = INFINITY;
    }
    t->lr = c->lr;
    uint64_t seed = 0x5eed;
    for (size_t i = 0; i < d * K; i++) {
        if (c->init_normal) { /* Box-Muller */
            double u = rng_uniform(&seed), v = rng_uniform(&seed);
            t->W[i] = (float)(c->init_sigma * sqrt(-2 * log(u)) * cos(2 * M_PI * v));
        } else {
            t->W[i] = (float)(c->init_scale * (2 * rng_uniform(&seed) - 1));
        }
    }
    for (size_t j = 0; j < K; j++)
        t->b[j] = c->use_bias ? (float)c->init_bias : 0.0f;
    memcpy(t->bestW, t->W, d * K * sizeof(float));
    memcpy(t->bestb, t->b, K * sizeof(float));
    t->lc.cfg = c;
    t->lc.pos_weight = c->pos_weight > 0 ? c->pos_weight : 1.0;
    t->lc.label_mean = 0;
    t->lc.label_scale = 1;
    return SF_OK;
}

/* Reads one batch of up to the mini-batch size; *n 0 at the end. */
static sf_rc read_batch(trainer *t, kn_source *src, size_t *n, kn_err *err)
{
    kn_matrix X = {.rows = 0, .cols = t->d, .data = t->X};
    sf_rc rc = src->next(src->ctx, &X, t->y, t->c->batch, err);
    *n = rc == SF_OK ? X.rows : 0;
    return rc;
}

/* Step 1: the scaler and the class balance, from the first rows. */
static sf_rc learn_scaler(trainer *t, kn_source *src, uint64_t *seen, kn_err *err)
{
    const ll_config *c = t->c;
    size_t d = t->d, want = c->num_point_for_scaler, got = 0, n;
    double *sum = calloc(d, sizeof(double)), *sq = calloc(d, sizeof(double));
    double ysum = 0, ysq = 0, pos = 0;
    double *count = c->kind == LL_MULTICLASS ? calloc(t->k, sizeof(double)) : NULL;
    sf_rc rc = sum && sq && (count || c->kind != LL_MULTICLASS)
                   ? SF_OK
                   : kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
    if (rc == SF_OK) /* a source may have been read before: start at its first row */
        rc = src->rewind(src->ctx, err);
    while (rc == SF_OK && got < want) {
        if ((rc = read_batch(t, src, &n, err)) != SF_OK || n == 0)
            break;
        if ((rc = ll_check_labels(c, t->y, n, got, err)) != SF_OK)
            break;
        if (n > want - got)
            n = want - got;
        for (size_t i = 0; i < n; i++) {
            const float *x = t->X + i * d;
            for (size_t f = 0; f < d; f++) {
                sum[f] += x[f];
                sq[f] += (double)x[f] * x[f];
            }
            double y = t->y[i];
            ysum += y;
            ysq += y * y;
            pos += y > 0.5;
            if (count)
                count[(size_t)y]++;
        }
        got += n;
    }
    if (rc == SF_OK && got == 0)
        rc = kn_fail(err, SF_EINVAL, "ClientError: the train channel has no records");
    if (rc == SF_OK) {
        for (size_t f = 0; f < d; f++) {
            double mu = sum[f] / got, var = sq[f] / got - mu * mu;
            double sd = var > 1e-12 * (1 + mu * mu) ? sqrt(var) : 1.0; /* constant: leave it */
            t->mean[f] = c->normalize_data && c->unbias_data ? (float)mu : 0.0f;
            t->inv_std[f] = c->normalize_data ? (float)(1.0 / sd) : 1.0f;
        }
        if (c->kind == LL_REGRESSOR) {
            double mu = ysum / got, var = ysq / got - mu * mu;
            t->lc.label_mean = c->unbias_label ? mu : 0;
            t->lc.label_scale = c->normalize_label && var > 1e-12 ? sqrt(var) : 1;
        }
        if (c->kind == LL_BINARY && c->pos_weight < 0) /* "balanced" */
            t->lc.pos_weight = pos > 0 ? (got - pos) / pos : 1.0;
        if (count) {
            for (size_t j = 0; j < t->k; j++) /* n / (k × n_j), as scikit-learn's "balanced" */
                t->class_w[j] =
                    c->balance_multiclass && count[j] > 0 ? (float)(got / (t->k * count[j])) : 1.0f;
            t->lc.class_w = t->class_w;
        }
    }
    free(sum);
    free(sq);
    free(count);
    *seen = got;
    return rc != SF_OK ? rc : src->rewind(src->ctx, err);
}

static void scale_batch(trainer *t, size_t n)
{
    if (!t->c->normalize_data)
        return;
    for (size_t i = 0; i < n; i++) {
        float *x = t->X + i * t->d;
        for (size_t f = 0; f < t->d; f++)
            x[f] = (x[f] - t->mean[f]) * t->inv_std[f];
    }
}

/* ---- step 2: one mini-batch ---- */

static void part_rows(const trainer *t, size_t p, size_t *r0, size_t *r1)
{
    size_t per = (t->rows + t->nparts - 1) / t->nparts;
    *r0 = p * per < t->rows ? p * per : t->rows;
    *r1 = *r0 + per < t->rows ? *r0 + per : t->rows;
}

/* One part's rows: scores, loss gradient, and its share of the weight
 * gradient (already divided by the batch's rows). */
static void part_gradient(void *arg, size_t p)
{
    trainer *t = arg;
    part *pt = &t->parts[p];
    size_t r0, r1, K = t->K, d = t->d;
    part_rows(t, p, &r0, &r1);
    memset(pt->loss, 0, t->M * sizeof(double));
    memset(pt->gb, 0, K * sizeof(float));
    if (r0 == r1) {
        memset(pt->G, 0, d * K * sizeof(float));
        return;
    }
    size_t n = r1 - r0;
    const float *X = t->X + r0 * d;
    t->fwd(X, t->W, t->c->use_bias ? t->b : NULL, pt->Z, n, d, K);
    ll_loss_rows(&t->lc, pt->Z, t->y + r0, n, t->M, pt->dZ, pt->loss);
    float alpha = 1.0f / (float)t->rows;
    t->grad(X, pt->dZ, pt->G, n, d, K, alpha);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < K; j++)
            pt->gb[j] += alpha * pt->dZ[i * K + j];
}

/* One optimizer step on a parameter: g its gradient (weight decay added),
 * lr its learning rate; m and v the optimizer's memory of it. */
static float update(const ll_config *c, float w, double g, double lr, float *m, float *v,
                    double bc1, double bc2)
{
    switch (c->optimizer) {
    case LL_SGD:
        *m = (float)(c->momentum * *m - lr * g);
        return w + *m;
    case LL_RMSPROP:
        *v = (float)(0.9 * *v + 0.1 * g * g);
        return (float)(w - lr * g / (sqrt(*v) + 1e-8));
    default: /* adam, with its bias corrections bc1 = 1-β1^t, bc2 = 1-β2^t */
        *m = (float)(c->beta1 * *m + (1 - c->beta1) * g);
        *v = (float)(c->beta2 * *v + (1 - c->beta2) * g * g);
        return (float)(w - lr * (*m / bc1) / (sqrt(*v / bc2) + 1e-8));
    }
}

static void train_batch(trainer *t, size_t n)
{
    const ll_config *c = t->c;
    size_t d = t->d, K = t->K;
    t->rows = n;
    if (t->pool)
        ll_pool_run(t->pool, part_gradient, t);
    else
        part_gradient(t, 0);
    /* sum the parts into part 0 */
    part *p0 = &t->parts[0];
    for (size_t p = 1; p < t->nparts; p++) {
        for (size_t i = 0; i < d * K; i++)
            p0->G[i] += t->parts[p].G[i];
        for (size_t j = 0; j < K; j++)
            p0->gb[j] += t->parts[p].gb[j];
        for (size_t m = 0; m < t->M; m++)
            p0->loss[m] += t->parts[p].loss[m];
    }
    for (size_t m = 0; m < t->M; m++)
        t->loss[m] += p0->loss[m];

    t->steps++;
    double bc1 = 1 - pow(c->beta1, (double)t->steps), bc2 = 1 - pow(c->beta2, (double)t->steps);
    for (size_t f = 0; f < d; f++)
        for (size_t j = 0; j < K; j++) {
            size_t i = f * K + j;
            double lr = t->lr * t->lr_mult[j];
            double g = p0->G[i] + c->wd * t->W[i];
            float w = update(c, t->W[i], g, lr, &t->mW[i], &t->vW[i], bc1, bc2);
            if (c->l1 > 0) { /* proximal step: shrink towards 0, and stop there */
                float s = (float)(lr * c->l1);
                w = w > s ? w - s : w < -s ? w + s : 0.0f;
            }
            t->W[i] = w;
        }
    if (c->use_bias)
        for (size_t j = 0; j < K; j++) {
            double lr = t->lr * t->lr_mult[j] * c->bias_lr_mult;
            double g = p0->gb[j] + c->wd * c->bias_wd_mult * t->b[j];
            t->b[j] = update(c, t->b[j], g, lr, &t->mb[j], &t->vb[j], bc1, bc2);
        }
    if (c->use_scheduler && t->steps % c->sched_step == 0) {
        t->lr *= c->sched_factor;
        if (t->lr < c->sched_min_lr)
            t->lr = c->sched_min_lr;
    }
}

/* ---- step 3: validation ---- */

static sf_rc validate(trainer *t, kn_source *v, uint64_t *rows_out, kn_err *err)
{
    const ll_config *c = t->c;
    size_t M = t->M, k = t->k, K = t->K, n;
    for (size_t m = 0; m < M; m++)
        t->vloss[m] = t->vacc[m] = t->vtopk[m] = t->vabs[m] = 0;
    uint64_t rows = 0;
    sf_rc rc = v->rewind(v->ctx, err);
    float *Z = t->parts[0].Z; /* room for a part's rows: score in slices */
    size_t per = (c->batch + t->nparts - 1) / t->nparts;
    while (rc == SF_OK) {
        if ((rc = read_batch(t, v, &n, err)) != SF_OK || n == 0)
            break;
        if ((rc = ll_check_labels(c, t->y, n, rows, err)) != SF_OK)
            break;
        scale_batch(t, n);
        for (size_t r0 = 0; r0 < n; r0 += per) {
            size_t nn = n - r0 < per ? n - r0 : per;
            const float *y = t->y + r0;
            t->fwd(t->X + r0 * t->d, t->W, c->use_bias ? t->b : NULL, Z, nn, t->d, K);
            ll_loss_rows(&t->lc, Z, y, nn, M, NULL, t->vloss);
            for (size_t i = 0; i < nn; i++)
                for (size_t m = 0; m < M; m++) {
                    const float *z = Z + i * K + m * k;
                    if (c->kind == LL_BINARY) {
                        t->vacc[m] += (z[0] > 0) == (y[i] > 0.5f);
                    } else if (c->kind == LL_MULTICLASS) {
                        size_t cls = (size_t)y[i], above = 0;
                        for (size_t j = 0; j < k; j++)
                            above += z[j] > z[cls];
                        t->vacc[m] += above == 0;
                        t->vtopk[m] += above < c->top_k;
                    } else {
                        double pred = z[0] * t->lc.label_scale + t->lc.label_mean;
                        double r = pred - y[i];
                        t->vacc[m] += r * r; /* mse */
                        t->vabs[m] += fabs(r);
                    }
                }
        }
        rows += n;
    }
    if (rc == SF_OK && rows == 0)
        rc = kn_fail(err, SF_EINVAL, "ClientError: the validation channel has no records");
    for (size_t m = 0; rc == SF_OK && m < M; m++) {
        t->vloss[m] /= (double)rows;
        t->vacc[m] /= (double)rows;
        t->vtopk[m] /= (double)rows;
        t->vabs[m] /= (double)rows;
    }
    *rows_out = rows;
    return rc;
}

static size_t argmin(const double *v, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] < v[best])
            best = i;
    return best;
}

static void report_epoch(trainer *t, const kn_progress *progress, bool has_val, size_t epoch,
                         uint64_t records)
{
    const ll_config *c = t->c;
    size_t m = argmin(has_val ? t->vloss : t->loss, t->M);
    kn_metric mt[6];
    size_t n = 0;
    mt[n++] = (kn_metric){"train:objective_loss", t->loss[m]};
    if (has_val) {
        mt[n++] = (kn_metric){"validation:objective_loss", t->vloss[m]};
        if (c->kind == LL_BINARY)
            mt[n++] = (kn_metric){"validation:binary_classification_accuracy", t->vacc[m]};
        if (c->kind == LL_MULTICLASS) {
            mt[n++] = (kn_metric){"validation:multiclass_accuracy", t->vacc[m]};
            mt[n++] = (kn_metric){"validation:multiclass_top_k_accuracy", t->vtopk[m]};
        }
        if (c->kind == LL_REGRESSOR) {
            mt[n++] = (kn_metric){"validation:mse", t->vacc[m]};
            mt[n++] = (kn_metric){"validation:absolute_loss", t->vabs[m]};
        }
    }
    kn_report(progress, (double)epoch / (double)c->epochs, records, (uint32_t)epoch, mt, n);
}

/* ---- step 4: the model ---- */

/* The best weights of model m, with the scaler and label scaling folded
 * in: z = ((x - μ)·s)·W + b = x·(s∘W) + (b - Σ μ s W), then × label scale
 * + label mean. */
static ll_state *fold(const trainer *t, size_t m)
{
    size_t d = t->d, k = t->k, K = t->K;
    ll_state *s = calloc(1, sizeof *s);
    if (!s || !(s->w = malloc(d * k * sizeof(float))) || !(s->b = malloc(k * sizeof(float)))) {
        ll_state_free(s);
        return NULL;
    }
    s->kind = t->c->kind;
    s->loss = t->c->loss;
    s->d = d;
    s->k = k;
    double ls = t->lc.label_scale, lm = t->lc.label_mean;
    for (size_t j = 0; j < k; j++) {
        size_t col = m * k + j;
        double b = t->c->use_bias ? t->bestb[col] : 0;
        for (size_t f = 0; f < d; f++) {
            double w = (double)t->bestW[f * K + col] * t->inv_std[f];
            b -= w * t->mean[f];
            s->w[f * k + j] = (float)(w * ls);
        }
        s->b[j] = (float)(b * ls + lm);
    }
    s->threshold = s->loss == LL_LOGISTIC ? 0.5f : 0.0f;
    return s;
}

/* Scores of the final model on up to cap rows of src, for the threshold. */
static sf_rc calibrate(trainer *t, ll_state *s, kn_source *src, size_t cap, ll_calib *cal,
                       kn_err *err)
{
    cal->n = 0;
    cal->cap = cap;
    cal->score = malloc(cap * sizeof(float));
    cal->label = malloc(cap * sizeof(float));
    if (!cal->score || !cal->label)
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory for calibration");
    sf_rc rc = src->rewind(src->ctx, err);
    float *Z = t->parts[0].Z;
    size_t per = (t->c->batch + t->nparts - 1) / t->nparts, n;
    while (rc == SF_OK && cal->n < cap) {
        if ((rc = read_batch(t, src, &n, err)) != SF_OK || n == 0)
            break;
        for (size_t r0 = 0; r0 < n && cal->n < cap; r0 += per) {
            size_t nn = n - r0 < per ? n - r0 : per;
            t->fwd(t->X + r0 * t->d, s->w, s->b, Z, nn, t->d, 1);
            for (size_t i = 0; i < nn && cal->n < cap; i++) {
                ll_scores(s->kind, s->loss, &Z[i], &cal->score[cal->n], 1);
                cal->label[cal->n++] = t->y[r0 + i];
            }
        }
    }
    return rc;
}

static sf_rc choose_threshold(trainer *t, ll_state *s, kn_source *train, kn_source *val,
                              const kn_progress *progress, size_t epoch, uint64_t records,
                              kn_err *err)
{
    ll_calib cal = {0};
    sf_rc rc = calibrate(t, s, val ? val : train, t->c->num_calibration_samples, &cal, err);
    if (rc == SF_OK) {
        ll_binary_metrics at;
        s->threshold = ll_choose_threshold(t->c, &cal, s->threshold, &at);
        if (val) { /* the chosen model's scores, as SageMaker's final metrics */
            kn_metric mt[] = {
                {"validation:binary_classification_accuracy", at.accuracy},
                {"validation:binary_f_beta", at.f_beta},
                {"validation:precision", at.precision},
                {"validation:recall", at.recall},
            };
            kn_report(progress, 1.0, records, (uint32_t)epoch, mt, sizeof mt / sizeof mt[0]);
        }
    }
    free(cal.score);
    free(cal.label);
    return rc;
}

sf_rc ll_train(const kn_hp *hp, kn_source *train, kn_source *val, const kn_progress *progress,
               kn_model **out, kn_err *err)
{
    *out = NULL;
    ll_config cfg;
    sf_rc rc = ll_config_from_hp(hp, &cfg, err);
    if (rc != SF_OK)
        return rc;
    size_t d = train->feature_dim;
    if (d == 0)
        return kn_fail(err, SF_EINVAL, "ClientError: the train channel has no features");
    if (cfg.feature_dim && cfg.feature_dim != d)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: Hyperparameter 'feature_dim' is %zu but the train channel "
                       "has %zu features",
                       cfg.feature_dim, d);
    if (val && val->feature_dim != d)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: the validation channel has %zu features, the train channel "
                       "%zu",
                       val->feature_dim, d);

    int blas_threads = kn_linear_blas_threads(1);
    trainer t;
    uint64_t sample = 0, records = 0, vrows = 0;
    size_t epoch = 0, stale = 0;
    double best_all = INFINITY;
    if ((rc = trainer_init(&t, &cfg, d, err)) == SF_OK)
        rc = learn_scaler(&t, train, &sample, err);

    for (epoch = 1; rc == SF_OK && epoch <= cfg.epochs; epoch++) {
        memset(t.loss, 0, t.M * sizeof(double));
        uint64_t rows = 0;
        size_t n;
        for (;;) {
            if (kn_cancelled(progress)) {
                rc = kn_fail(err, SF_ESTATE, "AlgorithmError: training was stopped");
                break;
            }
            if ((rc = read_batch(&t, train, &n, err)) != SF_OK || n == 0)
                break;
            if ((rc = ll_check_labels(&cfg, t.y, n, rows, err)) != SF_OK)
                break;
            scale_batch(&t, n);
            train_batch(&t, n);
            rows += n;
        }
        if (rc == SF_OK)
            rc = train->rewind(train->ctx, err);
        if (rc != SF_OK)
            break;
        records += rows;
        for (size_t m = 0; m < t.M; m++)
            t.loss[m] /= (double)rows;
        if (val && (rc = validate(&t, val, &vrows, err)) != SF_OK)
            break;
        const double *score = val ? t.vloss : t.loss;
        for (size_t m = 0; m < t.M; m++) {
            if (!isfinite(score[m]))
                continue;
            if (score[m] < t.best[m]) { /* keep model m's best weights */
                t.best[m] = score[m];
                for (size_t f = 0; f < d; f++)
                    memcpy(&t.bestW[f * t.K + m * t.k], &t.W[f * t.K + m * t.k],
                           t.k * sizeof(float));
                memcpy(&t.bestb[m * t.k], &t.b[m * t.k], t.k * sizeof(float));
            }
        }
        report_epoch(&t, progress, val != NULL, epoch, records);
        double now = t.best[argmin(t.best, t.M)];
        if (!(now < INFINITY)) {
            rc = kn_fail(err, SF_EINVAL,
                         "AlgorithmError: the loss diverged (not a number after epoch %zu); try "
                         "a smaller learning_rate",
                         epoch);
            break;
        }
        if (best_all == INFINITY || (best_all - now) > cfg.tolerance * fabs(best_all))
            stale = 0;
        else if (++stale >= cfg.patience)
            break; /* early stopping */
        best_all = now < best_all ? now : best_all;
    }
    if (epoch > cfg.epochs)
        epoch = cfg.epochs;

    kn_model *m = NULL;
    ll_state *s = NULL;
    if (rc == SF_OK) {
        s = fold(&t, argmin(t.best, t.M));
        m = calloc(1, sizeof *m);
        if (!s || !m)
            rc = kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
    }
    if (rc == SF_OK && cfg.kind == LL_BINARY)
        rc = choose_threshold(&t, s, train, val, progress, epoch, records, err);
    trainer_free(&t);
    kn_linear_blas_threads(blas_threads);
    if (rc != SF_OK) {
        ll_state_free(s);
        free(m);
        return rc;
    }
    m->algo = &kn_algo_linear_learner;
    m->hp = *hp;
    m->feature_dim = d;
    m->state = s;
    *out = m;
    return SF_OK;
}
