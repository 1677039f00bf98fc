/* kernels/linear/linear_ref.c - linear-learner's hot operations, plainly.
 *
 * This file is the specification: the OpenBLAS and CUDA variants must
 * agree with it (tests/kernels/test_linear_ops.c). Sums are accumulated
 * in double so that the reference is the most accurate of the three. */
#include "linear.h"

void kn_linear_forward_ref(const float *X, const float *W, const float *b, float *Z, size_t n,
                           size_t d, size_t K)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < K; j++) {
            double s = b ? b[j] : 0.0;
            for (size_t f = 0; f < d; f++)
                s += (double)X[i * d + f] * W[f * K + j];
            Z[i * K + j] = (float)s;
        }
}

void kn_linear_gradient_ref(const float *X, const float *dZ, float *G, size_t n, size_t d, size_t K,
                            float alpha)
{
    for (size_t f = 0; f < d; f++)
        for (size_t j = 0; j < K; j++) {
            double s = 0;
            for (size_t i = 0; i < n; i++)
                s += (double)X[i * d + f] * dZ[i * K + j];
            G[f * K + j] = (float)(alpha * s);
        }
}
