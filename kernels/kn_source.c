/* kernels/kn_source.c - reading a kn_source in full blocks; a source over
 * rows in memory.
 *
 * Algorithms that work on blocks of a fixed height (k-means' mini-batches,
 * PCA's covariance blocks) read through here, so that a source handing
 * back short batches (a reader at a buffer's edge, a memory source with a
 * small batch) gives them the same blocks as one that fills every request.
 * The memory source copies rows out and never writes to what it reads. */
#include <string.h>

#include "kernels/kn_algo.h"

sf_rc kn_source_fill(kn_source *src, kn_matrix *X, size_t cap, kn_err *err)
{
    size_t got = 0;
    while (got < cap) {
        kn_matrix part = {0, X->cols, X->data + got * X->cols};
        sf_rc rc = src->next(src->ctx, &part, NULL, cap - got, err);
        if (rc != SF_OK)
            return rc;
        if (part.rows == 0)
            break;
        if (part.cols != X->cols)
            return kn_fail(err, SF_EINVAL,
                           "ClientError: records have %zu features, feature_dim is %zu", part.cols,
                           X->cols);
        got += part.rows;
    }
    X->rows = got;
    return SF_OK;
}

static sf_rc mem_next(void *ctx, kn_matrix *X, float *labels, size_t max, kn_err *err)
{
    kn_mem_source_state *st = ctx;
    if (labels && !st->labels)
        return kn_fail(err, SF_EINVAL, "ClientError: the records have no labels");
    size_t take = st->rows - st->pos;
    if (take > max)
        take = max;
    if (st->batch && take > st->batch)
        take = st->batch;
    if (take) {
        memcpy(X->data, st->X + st->pos * st->cols, take * st->cols * sizeof(float));
        if (labels)
            memcpy(labels, st->labels + st->pos, take * sizeof(float));
    }
    X->rows = take;
    X->cols = st->cols;
    st->pos += take;
    return SF_OK;
}

static sf_rc mem_rewind(void *ctx, kn_err *err)
{
    ((kn_mem_source_state *)ctx)->pos = 0;
    return SF_OK;
}

kn_source kn_mem_source(kn_mem_source_state *st, const kn_matrix *X, const float *labels,
                        size_t batch)
{
    *st = (kn_mem_source_state){X->data, labels, X->rows, X->cols, 0, batch};
    return (kn_source){.ctx = st, .next = mem_next, .rewind = mem_rewind, .feature_dim = X->cols};
}
