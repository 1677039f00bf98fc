/* kernels/kmeans/kmeans_ref.c - nearest-centre assignment, the reference.
 *
 * The definition of kmeans.assign: the squared Euclidean distance from
 * each point to each centre, summed directly (in double, so that it is
 * the yardstick the fast variants are measured against), and the nearest
 * with ties to the lower index. Readable, single-threaded, never fast. */
#include "kmeans.h"

sf_rc kn_kmeans_assign_ref(const kn_matrix *X, const kn_matrix *C, uint32_t *closest, float *dist2,
                           kn_err *err)
{
    if (X->cols != C->cols || C->rows == 0)
        return kn_fail(err, SF_EINVAL,
                       "AlgorithmError: kmeans.assign: %zu columns against %zu "
                       "centres of %zu",
                       X->cols, C->rows, C->cols);
    for (size_t i = 0; i < X->rows; i++) {
        const float *x = kn_row(X, i);
        double best = 0;
        uint32_t best_j = 0;
        for (size_t j = 0; j < C->rows; j++) {
            const float *c = kn_row(C, j);
            double s = 0;
            for (size_t f = 0; f < X->cols; f++) {
                double t = (double)x[f] - (double)c[f];
                s += t * t;
            }
            if (j == 0 || s < best) {
                best = s;
                best_j = (uint32_t)j;
            }
        }
        closest[i] = best_j;
        dist2[i] = (float)best;
    }
    return SF_OK;
}
