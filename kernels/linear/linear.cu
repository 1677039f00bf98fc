/* kernels/linear/linear.cu - linear-learner's hot operations on cuBLAS.
 *
 * Same shapes and meaning as linear_ref.c. cuBLAS is column-major: a
 * row-major (r,c) matrix is its (c,r) transpose there, so Z = X·W is
 * computed as Zᵀ = Wᵀ·Xᵀ and G = Xᵀ·dZ as Gᵀ = dZᵀ·X, with no copies.
 * Device buffers and the cuBLAS handle are kept per host thread and only
 * grow, so a training loop does not allocate per mini-batch. Any CUDA
 * failure makes the call run the reference instead: a result is always
 * produced, and it is always right. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stddef.h>

extern "C" {
void kn_linear_forward_ref(const float *X, const float *W, const float *b, float *Z, size_t n,
                           size_t d, size_t K);
void kn_linear_gradient_ref(const float *X, const float *dZ, float *G, size_t n, size_t d, size_t K,
                            float alpha);
}

namespace
{

/* Plain data, no destructor: a thread_local with one would need the C++
 * runtime's thread-exit hooks in every C program linking sf_kernels. The
 * buffers live as long as the thread; the driver frees them at exit. */
struct buffers {
    cublasHandle_t blas;
    float *a, *b, *c;
    size_t na, nb, nc;
};

thread_local buffers tls = {};

bool grow(float **p, size_t *have, size_t want)
{
    if (*have >= want)
        return true;
    cudaFree(*p);
    *p = nullptr;
    *have = 0;
    if (cudaMalloc(p, want * sizeof(float)) != cudaSuccess)
        return false;
    *have = want;
    return true;
}

bool ready(size_t na, size_t nb, size_t nc)
{
    if (!tls.blas && cublasCreate(&tls.blas) != CUBLAS_STATUS_SUCCESS)
        return false;
    return grow(&tls.a, &tls.na, na) && grow(&tls.b, &tls.nb, nb) && grow(&tls.c, &tls.nc, nc);
}

bool put(float *dev, const float *host, size_t n)
{
    return cudaMemcpy(dev, host, n * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess;
}

bool get(float *host, const float *dev, size_t n)
{
    return cudaMemcpy(host, dev, n * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess;
}

} // namespace

extern "C" void kn_linear_forward_cuda(const float *X, const float *W, const float *b, float *Z,
                                       size_t n, size_t d, size_t K)
{
    for (size_t i = 0; i < n; i++) /* Z starts as the bias, on the host */
        for (size_t j = 0; j < K; j++)
            Z[i * K + j] = b ? b[j] : 0.0f;
    const float one = 1.0f;
    bool ok = ready(n * d, d * K, n * K) && put(tls.a, X, n * d) && put(tls.b, W, d * K) &&
              put(tls.c, Z, n * K) &&
              cublasSgemm(tls.blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)K, (int)n, (int)d, &one, tls.b,
                          (int)K, tls.a, (int)d, &one, tls.c, (int)K) == CUBLAS_STATUS_SUCCESS &&
              get(Z, tls.c, n * K);
    if (!ok)
        kn_linear_forward_ref(X, W, b, Z, n, d, K);
}

extern "C" void kn_linear_gradient_cuda(const float *X, const float *dZ, float *G, size_t n,
                                        size_t d, size_t K, float alpha)
{
    const float zero = 0.0f;
    bool ok = ready(n * d, n * K, d * K) && put(tls.a, X, n * d) && put(tls.b, dZ, n * K) &&
              cublasSgemm(tls.blas, CUBLAS_OP_N, CUBLAS_OP_T, (int)K, (int)d, (int)n, &alpha, tls.b,
                          (int)K, tls.a, (int)d, &zero, tls.c, (int)K) == CUBLAS_STATUS_SUCCESS &&
              get(G, tls.c, d * K);
    if (!ok)
        kn_linear_gradient_ref(X, dZ, G, n, d, K, alpha);
}
