/* kernels/kmeans/kmeans_stream.c - the passes over the training data.
 *
 * Step 2 (streaming mini-batch k-means) and step 4 (Lloyd's passes) of
 * kmeans.h. Only one mini-batch is in memory at a time; centres move by
 * exact running means, kept in double, so a centre's position does not
 * depend on how the rows were batched (without decay).
 *
 * Decay (half_life_time_size h > 0): every point observed multiplies the
 * weight of everything a centre absorbed before it by 2^(-1/h), so after
 * h more points an old point counts half. A batch of b points decays the
 * old weight by 2^(-b/h) at once: within a batch, points are applied
 * together. */
#include "kmeans.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static sf_rc cancelled(const kn_progress *p, kn_err *err)
{
    return kn_fail(err, SF_ESTATE, "AlgorithmError: training was stopped");
}

/* The metrics SageMaker names for the data seen in a pass. */
static void report(const kn_progress *p, bool want_msd, bool want_ssd, double fraction,
                   uint64_t rows, uint32_t epoch, double ssd)
{
    kn_metric m[2];
    size_t n = 0;
    if (want_msd)
        m[n++] = (kn_metric){"train:msd", rows ? ssd / (double)rows : 0};
    if (want_ssd)
        m[n++] = (kn_metric){"train:ssd", ssd};
    kn_report(p, fraction, rows, epoch, m, n);
}

typedef struct batch {
    kn_matrix X;
    uint32_t *closest;
    float *dist2;
    double *sum;  /* k × d: this batch's (or pass's) sums per centre */
    double *mass; /* k */
} batch;

static sf_rc batch_init(batch *b, size_t rows, size_t d, size_t k, kn_err *err)
{
    *b = (batch){{0, d, malloc(rows * d * sizeof(float))},
                 malloc(rows * sizeof(uint32_t)),
                 malloc(rows * sizeof(float)),
                 malloc(k * d * sizeof(double)),
                 malloc(k * sizeof(double))};
    if (!b->X.data || !b->closest || !b->dist2 || !b->sum || !b->mass)
        return kn_fail(err, SF_ENOMEM,
                       "AlgorithmError: out of memory for a mini-batch of %zu rows of %zu", rows,
                       d);
    return SF_OK;
}

static void batch_cleanup(batch *b)
{
    free(b->X.data), free(b->closest), free(b->dist2), free(b->sum), free(b->mass);
}

/* Adds the batch's assigned rows into b->sum and b->mass; returns its SSD. */
static double accumulate(batch *b, size_t k)
{
    const size_t d = b->X.cols;
    double ssd = 0;
    for (size_t i = 0; i < b->X.rows; i++) {
        const float *x = kn_row(&b->X, i);
        double *s = b->sum + (size_t)b->closest[i] * d;
        b->mass[b->closest[i]] += 1;
        for (size_t f = 0; f < d; f++)
            s[f] += x[f];
        ssd += b->dist2[i];
    }
    return ssd;
}

static void zero(batch *b, size_t k)
{
    memset(b->sum, 0, k * b->X.cols * sizeof(double));
    memset(b->mass, 0, k * sizeof(double));
}

sf_rc kn_kmeans_stream(kn_source *src, const kn_kmeans_stream_opts *o, kn_matrix *C_out,
                       float **weights_out, uint64_t *rows_out, kn_err *err)
{
    const size_t d = src->feature_dim;
    size_t K = o->k_big, cap = o->mini_batch > K ? o->mini_batch : K;
    uint64_t rng = o->seed;
    batch b;
    kn_matrix C = {0, d, NULL};
    double *weight = NULL;
    uint64_t rows = 0;
    sf_rc rc = batch_init(&b, cap, d, K, err);
    if (rc != SF_OK)
        goto fail;

    for (uint32_t e = 0; e < o->epochs; e++) {
        if ((rc = src->rewind(src->ctx, err)) != SF_OK)
            goto fail;
        uint64_t seen = 0;
        double ssd = 0;
        for (;;) {
            if (kn_cancelled(o->progress)) {
                rc = cancelled(o->progress, err);
                goto fail;
            }
            /* The first batch is as large as K when mini_batch is smaller,
             * so that step 1 has K rows to choose from. */
            if ((rc = kn_source_fill(src, &b.X, C.data ? o->mini_batch : cap, err)) != SF_OK)
                goto fail;
            if (b.X.rows == 0)
                break;
            if (!C.data) { /* step 1 */
                C.rows = K < b.X.rows ? K : b.X.rows;
                C.data = malloc(C.rows * d * sizeof(float));
                weight = calloc(C.rows, sizeof *weight);
                if (!C.data || !weight) {
                    rc = kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory for %zu centres",
                                 C.rows);
                    goto fail;
                }
                if ((rc = kn_kmeans_seed(&b.X, NULL, o->init, &rng, &C, err)) != SF_OK)
                    goto fail;
            }
            if ((rc = o->assign(&b.X, &C, b.closest, b.dist2, err)) != SF_OK)
                goto fail;
            zero(&b, C.rows);
            ssd += accumulate(&b, C.rows);
            seen += b.X.rows;
            double keep = o->half_life ? exp2(-(double)b.X.rows / (double)o->half_life) : 1.0;
            for (size_t j = 0; j < C.rows; j++) {
                double old = weight[j] * keep, now = old + b.mass[j];
                weight[j] = now;
                if (b.mass[j] == 0)
                    continue;
                float *c = kn_row(&C, j);
                for (size_t f = 0; f < d; f++)
                    c[f] = (float)(((double)c[f] * old + b.sum[j * d + f]) / now);
            }
        }
        rows = seen;
        report(o->progress, o->want_msd, o->want_ssd, (double)(e + 1) / (o->epochs + 1), seen,
               e + 1, ssd);
    }
    if (!C.data) {
        rc = kn_fail(err, SF_EINVAL, "ClientError: the train channel has no records");
        goto fail;
    }
    *weights_out = malloc(C.rows * sizeof(float));
    if (!*weights_out) {
        rc = kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory for %zu weights", C.rows);
        goto fail;
    }
    for (size_t j = 0; j < C.rows; j++)
        (*weights_out)[j] = (float)weight[j];
    free(weight);
    batch_cleanup(&b);
    *C_out = C;
    *rows_out = rows;
    return SF_OK;
fail:
    free(C.data);
    free(weight);
    batch_cleanup(&b);
    return rc;
}

sf_rc kn_kmeans_pass(kn_source *src, size_t mini_batch, kn_kmeans_assign_fn assign, bool refine,
                     const kn_progress *progress, kn_matrix *C, double *ssd_out, uint64_t *rows_out,
                     kn_err *err)
{
    const size_t d = C->cols, k = C->rows;
    batch b;
    sf_rc rc = batch_init(&b, mini_batch, d, k, err);
    double ssd = 0;
    uint64_t rows = 0;
    if (rc == SF_OK)
        rc = src->rewind(src->ctx, err);
    if (rc != SF_OK)
        goto out;
    zero(&b, k);
    for (;;) {
        if (kn_cancelled(progress)) {
            rc = cancelled(progress, err);
            goto out;
        }
        if ((rc = kn_source_fill(src, &b.X, mini_batch, err)) != SF_OK)
            goto out;
        if (b.X.rows == 0)
            break;
        if ((rc = assign(&b.X, C, b.closest, b.dist2, err)) != SF_OK)
            goto out;
        if (refine) {
            ssd += accumulate(&b, k);
        } else {
            for (size_t i = 0; i < b.X.rows; i++)
                ssd += b.dist2[i];
        }
        rows += b.X.rows;
    }
    if (refine)
        for (size_t j = 0; j < k; j++)
            if (b.mass[j] > 0)
                for (size_t f = 0; f < d; f++)
                    kn_row(C, j)[f] = (float)(b.sum[j * d + f] / b.mass[j]);
    *ssd_out = ssd;
    *rows_out = rows;
out:
    batch_cleanup(&b);
    return rc;
}
