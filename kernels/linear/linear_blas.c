/* kernels/linear/linear_blas.c - linear-learner's hot operations on OpenBLAS.
 *
 * One score column (binary, regression, one model) is a matrix-vector
 * product, sgemv; several (multiclass, or num_models side by side) are
 * sgemm. Same shapes and meaning as linear_ref.c. */
#include <cblas.h>

#include "linear.h"

void kn_linear_forward_blas(const float *X, const float *W, const float *b, float *Z, size_t n,
                            size_t d, size_t K)
{
    for (size_t i = 0; i < n; i++) /* Z starts as the bias; the product adds to it */
        for (size_t j = 0; j < K; j++)
            Z[i * K + j] = b ? b[j] : 0.0f;
    if (K == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (blasint)n, (blasint)d, 1.0f, X, (blasint)d, W, 1,
                    1.0f, Z, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)n, (blasint)K, (blasint)d,
                    1.0f, X, (blasint)d, W, (blasint)K, 1.0f, Z, (blasint)K);
}

void kn_linear_gradient_blas(const float *X, const float *dZ, float *G, size_t n, size_t d,
                             size_t K, float alpha)
{
    if (K == 1)
        cblas_sgemv(CblasRowMajor, CblasTrans, (blasint)n, (blasint)d, alpha, X, (blasint)d, dZ, 1,
                    0.0f, G, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)d, (blasint)K, (blasint)n,
                    alpha, X, (blasint)d, dZ, (blasint)K, 0.0f, G, (blasint)K);
}

int kn_linear_blas_threads(int n)
{
    int before = openblas_get_num_threads();
    if (n > 0)
        openblas_set_num_threads(n);
    return before;
}
