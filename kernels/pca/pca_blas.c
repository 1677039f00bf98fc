/* kernels/pca/pca_blas.c - PCA's operations on OpenBLAS (and its LAPACK).
 *
 * cov: SSYRK computes the upper triangle of XᵀX for a batch in float32
 * (half of a GEMM's work), added into the double accumulator; the
 * accumulator is what keeps a million rows from drowning small ones.
 * sketch: two SGEMMs, T = X·Q (n,l) then Xᵀ·T (d,l).
 * eigen: LAPACK's DSYEVD (divide and conquer), which the Debian OpenBLAS
 * library carries; its Fortran entry is declared here because the package
 * ships no lapacke.h. OpenBLAS threads all three itself. */
#include "pca.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK, Fortran calling convention: everything by reference, and the
 * lengths of the character arguments appended (gfortran's hidden
 * arguments: leaving them out is undefined and has broken callers). */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t uplo_len);

sf_rc kn_pca_cov_blas(const kn_matrix *X, double *G, kn_err *err)
{
    const size_t d = X->cols;
    if (X->rows == 0)
        return SF_OK;
    float *S = malloc(d * d * sizeof *S);
    if (!S)
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory for a %zu × %zu covariance",
                       d, d);
    /* Row-major upper of XᵀX: S[i][j] for j >= i. */
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)X->rows, 1.0f, X->data, (int)d,
                0.0f, S, (int)d);
    for (size_t i = 0; i < d; i++) {
        G[i * d + i] += S[i * d + i];
        for (size_t j = i + 1; j < d; j++) {
            G[i * d + j] += S[i * d + j];
            G[j * d + i] += S[i * d + j];
        }
    }
    free(S);
    return SF_OK;
}

sf_rc kn_pca_sketch_blas(const kn_matrix *X, const float *Q, size_t l, double *Z, kn_err *err)
{
    const size_t n = X->rows, d = X->cols;
    if (n == 0 || l == 0)
        return SF_OK;
    float *T = malloc(n * l * sizeof *T);
    float *Y = malloc(d * l * sizeof *Y);
    if (!T || !Y) {
        free(T), free(Y);
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory for a sketch of %zu × %zu", n,
                       l);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)l, (int)d, 1.0f, X->data,
                (int)d, Q, (int)l, 0.0f, T, (int)l);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)l, (int)n, 1.0f, X->data,
                (int)d, T, (int)l, 0.0f, Y, (int)l);
    for (size_t i = 0; i < d * l; i++)
        Z[i] += Y[i];
    free(T), free(Y);
    return SF_OK;
}

sf_rc kn_pca_eigen_blas(double *A, size_t d, double *w, double *V, kn_err *err)
{
    int n = (int)d, info = 0, lwork = -1, liwork = -1, iw = 0;
    double wq = 0;
    /* A is symmetric, so row-major is column-major: no transpose needed. */
    dsyevd_("V", "U", &n, A, &n, w, &wq, &lwork, &iw, &liwork, &info, 1, 1);
    if (info != 0)
        return kn_fail(err, SF_EINVAL, "AlgorithmError: DSYEVD workspace query failed (%d)", info);
    lwork = (int)wq;
    liwork = iw;
    double *work = malloc((size_t)lwork * sizeof *work);
    int *iwork = malloc((size_t)liwork * sizeof *iwork);
    if (!work || !iwork) {
        free(work), free(iwork);
        return kn_fail(err, SF_ENOMEM,
                       "AlgorithmError: out of memory for a %zu × %zu "
                       "eigendecomposition",
                       d, d);
    }
    dsyevd_("V", "U", &n, A, &n, w, work, &lwork, iwork, &liwork, &info, 1, 1);
    free(work), free(iwork);
    if (info != 0)
        return kn_fail(err, SF_EINVAL,
                       "AlgorithmError: the eigensolver did not converge on a "
                       "%zu × %zu covariance (NaN or infinite values in the data?)",
                       d, d);
    /* Column j of the column-major result (row j in memory) is the
     * eigenvector of w[j], ascending: reverse into V. */
    for (size_t i = 0; i < d; i++)
        memcpy(V + i * d, A + (d - 1 - i) * d, d * sizeof *V);
    for (size_t i = 0; i < d / 2; i++) {
        double t = w[i];
        w[i] = w[d - 1 - i];
        w[d - 1 - i] = t;
    }
    return SF_OK;
}
