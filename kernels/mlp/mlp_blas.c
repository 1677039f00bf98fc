/* kernels/mlp/mlp_blas.c - the dense layer on OpenBLAS.
 *
 * The three products are single SGEMM calls (OpenBLAS threads them
 * itself); what is left (bias, ReLU, column sums) is a pass over memory
 * the GEMMs just touched. Same contract as mlp_ref.c. */
#include "kernels/mlp/mlp.h"

#include <cblas.h>
#include <string.h>

void kn_mlp_dense_forward_blas(const float *X, const float *W, const float *b, float *Y, size_t B,
                               size_t K, size_t N, bool relu)
{
    /* Y starts as the bias on every row so the GEMM can add into it (beta 1). */
    for (size_t i = 0; i < B; i++)
        memcpy(Y + i * N, b, N * sizeof *Y);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)N, (int)K, 1.0f, X, (int)K,
                W, (int)N, 1.0f, Y, (int)N);
    if (relu)
        for (size_t j = 0; j < B * N; j++)
            Y[j] = Y[j] > 0.0f ? Y[j] : 0.0f;
}

void kn_mlp_dense_backward_blas(const float *X, const float *W, const float *dY, float *dW,
                                float *db, float *dX, size_t B, size_t K, size_t N, bool relu_in)
{
    /* dW (K,N) = Xᵀ (K,B) · dY (B,N) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)N, (int)B, 1.0f, X, (int)K,
                dY, (int)N, 0.0f, dW, (int)N);
    memset(db, 0, N * sizeof *db);
    for (size_t i = 0; i < B; i++)
        for (size_t n = 0; n < N; n++)
            db[n] += dY[i * N + n];
    if (!dX)
        return;
    /* dX (B,K) = dY (B,N) · Wᵀ (N,K) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)K, (int)N, 1.0f, dY, (int)N,
                W, (int)N, 0.0f, dX, (int)K);
    if (relu_in)
        for (size_t j = 0; j < B * K; j++)
            if (X[j] <= 0.0f)
                dX[j] = 0.0f;
}
