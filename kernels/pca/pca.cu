/* kernels/pca/pca.cu - the covariance accumulation on a GPU.
 *
 * cuBLAS SSYRK over chunks of rows into one device float accumulator per
 * call, then added into the caller's double G. Buffers are per call: the
 * batch sizes PCA streams make the copy of X the cost either way. */
#include <cublas_v2.h>
#include <cuda_runtime.h>

extern "C" {
#include "pca.h"
}

namespace
{

const size_t CHUNK_ROWS = 1 << 15;

struct dev_buffers {
    float *x = nullptr, *s = nullptr, *host = nullptr;
    cublasHandle_t blas = nullptr;
    ~dev_buffers()
    {
        cudaFree(x);
        cudaFree(s);
        cudaFreeHost(host);
        if (blas)
            cublasDestroy(blas);
    }
};

} // namespace

extern "C" sf_rc kn_pca_cov_cuda(const kn_matrix *X, double *G, kn_err *err)
{
    const size_t n = X->rows, d = X->cols;
    if (n == 0)
        return SF_OK;
    size_t chunk = n < CHUNK_ROWS ? n : CHUNK_ROWS;
    dev_buffers b;
    bool ok = cudaMalloc(&b.x, chunk * d * sizeof(float)) == cudaSuccess &&
              cudaMalloc(&b.s, d * d * sizeof(float)) == cudaSuccess &&
              cudaMallocHost(&b.host, d * d * sizeof(float)) == cudaSuccess &&
              cublasCreate(&b.blas) == CUBLAS_STATUS_SUCCESS;
    if (!ok)
        return kn_fail(err, SF_ENOMEM,
                       "AlgorithmError: pca.cov: no device memory for %zu rows "
                       "of %zu",
                       chunk, d);
    const float one = 1.0f;
    for (size_t r = 0; r < n && ok; r += chunk) {
        size_t m = n - r < chunk ? n - r : chunk;
        const float beta = r == 0 ? 0.0f : 1.0f;
        ok = cudaMemcpy(b.x, X->data + r * d, m * d * sizeof(float), cudaMemcpyHostToDevice) ==
             cudaSuccess;
        /* Row-major X (m,d) is column-major Xᵀ (d,m): S = Xᵀ·X is A·Aᵀ for
         * that A, with no transpose. */
        ok = ok && cublasSsyrk(b.blas, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_N, (int)d, (int)m, &one,
                               b.x, (int)d, &beta, b.s, (int)d) == CUBLAS_STATUS_SUCCESS;
    }
    ok =
        ok && cudaMemcpy(b.host, b.s, d * d * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess;
    if (!ok)
        return kn_fail(err, SF_EIO, "AlgorithmError: pca.cov: CUDA failed: %s",
                       cudaGetErrorString(cudaGetLastError()));
    /* Column-major upper (i <= j) is element [j*d + i] in memory. */
    for (size_t j = 0; j < d; j++)
        for (size_t i = 0; i <= j; i++) {
            double v = b.host[j * d + i];
            G[i * d + j] += v;
            if (i != j)
                G[j * d + i] += v;
        }
    return SF_OK;
}
