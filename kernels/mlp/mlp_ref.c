/* kernels/mlp/mlp_ref.c - the dense layer, forward and backward, in plain C.
 *
 * This file is the definition of the two operations: the OpenBLAS and
 * CUDA variants must agree with it within the tolerance the tests state.
 * It favours being obviously right over being fast; the only concession
 * is the loop order (i, k, n), which walks W and Y along rows so that
 * the bench's reference figures are not just cache misses. */
#include "kernels/mlp/mlp.h"

#include <string.h>

void kn_mlp_dense_forward_ref(const float *X, const float *W, const float *b, float *Y, size_t B,
                              size_t K, size_t N, bool relu)
{
    for (size_t i = 0; i < B; i++) {
        float *y = Y + i * N;
        memcpy(y, b, N * sizeof *y);
        for (size_t k = 0; k < K; k++) {
            float x = X[i * K + k];
            const float *w = W + k * N;
            for (size_t n = 0; n < N; n++)
                y[n] += x * w[n];
        }
        if (relu)
            for (size_t n = 0; n < N; n++)
                y[n] = y[n] > 0.0f ? y[n] : 0.0f;
    }
}

void kn_mlp_dense_backward_ref(const float *X, const float *W, const float *dY, float *dW,
                               float *db, float *dX, size_t B, size_t K, size_t N, bool relu_in)
{
    /* dW[k][n] = sum_i X[i][k] dY[i][n];  db[n] = sum_i dY[i][n] */
    memset(dW, 0, K * N * sizeof *dW);
    memset(db, 0, N * sizeof *db);
    for (size_t i = 0; i < B; i++) {
        const float *dy = dY + i * N;
        for (size_t k = 0; k < K; k++) {
            float x = X[i * K + k];
            float *dw = dW + k * N;
            for (size_t n = 0; n < N; n++)
                dw[n] += x * dy[n];
        }
        for (size_t n = 0; n < N; n++)
            db[n] += dy[n];
    }
    if (!dX)
        return;
    /* dX[i][k] = sum_n dY[i][n] W[k][n], zero where the ReLU that made X was off */
    for (size_t i = 0; i < B; i++) {
        const float *dy = dY + i * N;
        for (size_t k = 0; k < K; k++) {
            const float *w = W + k * N;
            float s = 0.0f;
            for (size_t n = 0; n < N; n++)
                s += dy[n] * w[n];
            dX[i * K + k] = relu_in && X[i * K + k] <= 0.0f ? 0.0f : s;
        }
    }
}
