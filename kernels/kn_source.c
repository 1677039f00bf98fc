/* kernels/kn_source.c - reading a kn_source in full blocks.
 *
 * Algorithms that work on blocks of a fixed height (k-means' mini-batches,
 * PCA's covariance blocks) read through here, so that a source handing
 * back short batches (a reader at a buffer's edge, a test's source) gives
 * them the same blocks as one that fills every request. */
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
