/* kernels/pca/pca_ref.c - PCA's operations, the reference.
 *
 * The definitions: plain loops in double for the products, and a cyclic
 * Jacobi eigensolver (slow, O(d³) a sweep, but simple and accurate to the
 * last bits, which is what a yardstick must be). Single-threaded. */
#include "pca.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

sf_rc kn_pca_cov_ref(const kn_matrix *X, double *G, kn_err *err)
{
    const size_t d = X->cols;
    for (size_t r = 0; r < X->rows; r++) {
        const float *x = kn_row(X, r);
        for (size_t i = 0; i < d; i++)
            for (size_t j = 0; j < d; j++)
                G[i * d + j] += (double)x[i] * (double)x[j];
    }
    return SF_OK;
}

sf_rc kn_pca_sketch_ref(const kn_matrix *X, const float *Q, size_t l, double *Z, kn_err *err)
{
    const size_t d = X->cols;
    double *t = malloc((l ? l : 1) * sizeof *t); /* one row of X·Q */
    if (!t)
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory for a sketch of %zu", l);
    for (size_t r = 0; r < X->rows; r++) {
        const float *x = kn_row(X, r);
        for (size_t a = 0; a < l; a++) {
            double s = 0;
            for (size_t i = 0; i < d; i++)
                s += (double)x[i] * (double)Q[i * l + a];
            t[a] = s;
        }
        for (size_t i = 0; i < d; i++)
            for (size_t a = 0; a < l; a++)
                Z[i * l + a] += (double)x[i] * t[a];
    }
    free(t);
    return SF_OK;
}

/* Sorts the eigenpairs by descending eigenvalue (selection sort: d swaps
 * of a row each, nothing next to the solve). */
static void sort_desc(size_t d, double *w, double *V)
{
    for (size_t i = 0; i < d; i++) {
        size_t best = i;
        for (size_t j = i + 1; j < d; j++)
            if (w[j] > w[best])
                best = j;
        if (best == i)
            continue;
        double t = w[i];
        w[i] = w[best];
        w[best] = t;
        for (size_t f = 0; f < d; f++) {
            t = V[i * d + f];
            V[i * d + f] = V[best * d + f];
            V[best * d + f] = t;
        }
    }
}

sf_rc kn_pca_eigen_ref(double *A, size_t d, double *w, double *V, kn_err *err)
{
    enum { MAX_SWEEPS = 100 };
    /* V holds the rotations so far as rows: A = Vᵀ·diag·V at the end. */
    memset(V, 0, d * d * sizeof *V);
    for (size_t i = 0; i < d; i++)
        V[i * d + i] = 1;
    double norm = 0;
    for (size_t i = 0; i < d * d; i++)
        norm += A[i] * A[i];
    int sweep = 0;
    for (; sweep < MAX_SWEEPS; sweep++) {
        double off = 0;
        for (size_t p = 0; p < d; p++)
            for (size_t q = p + 1; q < d; q++)
                off += A[p * d + q] * A[p * d + q];
        if (off <= 1e-30 * norm || off == 0)
            break;
        for (size_t p = 0; p < d; p++) {
            for (size_t q = p + 1; q < d; q++) {
                double apq = A[p * d + q];
                if (apq == 0)
                    continue;
                /* The rotation that zeroes A[p][q] (Golub & Van Loan 8.5.2). */
                double theta = (A[q * d + q] - A[p * d + p]) / (2 * apq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (size_t k = 0; k < d; k++) { /* columns p, q */
                    double akp = A[k * d + p], akq = A[k * d + q];
                    A[k * d + p] = c * akp - s * akq;
                    A[k * d + q] = s * akp + c * akq;
                }
                for (size_t k = 0; k < d; k++) { /* rows p, q */
                    double apk = A[p * d + k], aqk = A[q * d + k];
                    A[p * d + k] = c * apk - s * aqk;
                    A[q * d + k] = s * apk + c * aqk;
                }
                for (size_t k = 0; k < d; k++) { /* eigenvectors as rows */
                    double vp = V[p * d + k], vq = V[q * d + k];
                    V[p * d + k] = c * vp - s * vq;
                    V[q * d + k] = s * vp + c * vq;
                }
            }
        }
    }
    if (sweep == MAX_SWEEPS)
        return kn_fail(err, SF_EINVAL,
                       "AlgorithmError: the eigensolver did not converge on a "
                       "%zu × %zu covariance (NaN or infinite values in the data?)",
                       d, d);
    for (size_t i = 0; i < d; i++)
        w[i] = A[i * d + i];
    sort_desc(d, w, V);
    return SF_OK;
}
