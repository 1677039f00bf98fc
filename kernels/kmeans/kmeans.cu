/* kernels/kmeans/kmeans.cu - nearest-centre assignment on a GPU.
 *
 * The OpenBLAS variant's scheme: cuBLAS computes -2·X·Cᵀ, then one thread
 * per row takes the argmin with ||c||² added, and adds ||x||² to the
 * winner. Rows go up in chunks so device memory stays bounded whatever n
 * is. Buffers are allocated per call: simple, and the copies dominate at
 * the batch sizes training uses; a resident copy of the data is the next
 * step if the GPU path ever matters. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <new>

extern "C" {
#include "kmeans.h"
}

namespace
{

const size_t CHUNK_ROWS = 1 << 16;

/* dot: (m,k) row-major, -2·x·c; one thread per row. */
__global__ void argmin_rows(const float *dot, const float *x, const float *c_norm, size_t m,
                            size_t k, size_t d, uint32_t *closest, float *dist2)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= m)
        return;
    const float *row = dot + i * k;
    float best = row[0] + c_norm[0];
    uint32_t best_j = 0;
    for (size_t j = 1; j < k; j++) {
        float v = row[j] + c_norm[j];
        if (v < best) {
            best = v;
            best_j = (uint32_t)j;
        }
    }
    float xx = 0;
    for (size_t f = 0; f < d; f++)
        xx += x[i * d + f] * x[i * d + f];
    float d2 = xx + best;
    closest[i] = best_j;
    dist2[i] = d2 > 0 ? d2 : 0;
}

struct dev_buffers {
    float *x = nullptr, *c = nullptr, *c_norm = nullptr, *dot = nullptr, *dist2 = nullptr;
    uint32_t *closest = nullptr;
    cublasHandle_t blas = nullptr;
    ~dev_buffers()
    {
        cudaFree(x);
        cudaFree(c);
        cudaFree(c_norm);
        cudaFree(dot);
        cudaFree(dist2);
        cudaFree(closest);
        if (blas)
            cublasDestroy(blas);
    }
};

} // namespace

extern "C" sf_rc kn_kmeans_assign_cuda(const kn_matrix *X, const kn_matrix *C, uint32_t *closest,
                                       float *dist2, kn_err *err)
{
    const size_t n = X->rows, d = X->cols, k = C->rows;
    if (d != C->cols || k == 0)
        return kn_fail(err, SF_EINVAL,
                       "AlgorithmError: kmeans.assign: %zu columns against %zu "
                       "centres of %zu",
                       d, k, C->cols);
    if (n == 0)
        return SF_OK;
    size_t chunk = n < CHUNK_ROWS ? n : CHUNK_ROWS;

    float *c_norm = new (std::nothrow) float[k];
    if (!c_norm)
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory for %zu centres", k);
    for (size_t j = 0; j < k; j++) {
        float s = 0;
        for (size_t f = 0; f < d; f++)
            s += C->data[j * d + f] * C->data[j * d + f];
        c_norm[j] = s;
    }

    dev_buffers b;
    bool ok =
        cudaMalloc(&b.x, chunk * d * sizeof(float)) == cudaSuccess &&
        cudaMalloc(&b.c, k * d * sizeof(float)) == cudaSuccess &&
        cudaMalloc(&b.c_norm, k * sizeof(float)) == cudaSuccess &&
        cudaMalloc(&b.dot, chunk * k * sizeof(float)) == cudaSuccess &&
        cudaMalloc(&b.dist2, chunk * sizeof(float)) == cudaSuccess &&
        cudaMalloc(&b.closest, chunk * sizeof(uint32_t)) == cudaSuccess &&
        cublasCreate(&b.blas) == CUBLAS_STATUS_SUCCESS &&
        cudaMemcpy(b.c, C->data, k * d * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess &&
        cudaMemcpy(b.c_norm, c_norm, k * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess;
    delete[] c_norm;
    if (!ok)
        return kn_fail(err, SF_ENOMEM,
                       "AlgorithmError: kmeans.assign: no device memory for "
                       "%zu rows of %zu against %zu centres",
                       chunk, d, k);

    const float alpha = -2.0f, beta = 0.0f;
    for (size_t r = 0; r < n && ok; r += chunk) {
        size_t m = n - r < chunk ? n - r : chunk;
        ok = cudaMemcpy(b.x, X->data + r * d, m * d * sizeof(float), cudaMemcpyHostToDevice) ==
             cudaSuccess;
        /* Row-major (m,k) dot is column-major (k,m): C_colmajor(d,k)ᵀ · X_colmajor(d,m). */
        ok =
            ok && cublasSgemm(b.blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)k, (int)m, (int)d, &alpha, b.c,
                              (int)d, b.x, (int)d, &beta, b.dot, (int)k) == CUBLAS_STATUS_SUCCESS;
        if (ok) {
            unsigned threads = 256, blocks = (unsigned)((m + threads - 1) / threads);
            argmin_rows<<<blocks, threads>>>(b.dot, b.x, b.c_norm, m, k, d, b.closest, b.dist2);
            ok = cudaGetLastError() == cudaSuccess;
        }
        ok = ok &&
             cudaMemcpy(closest + r, b.closest, m * sizeof(uint32_t), cudaMemcpyDeviceToHost) ==
                 cudaSuccess &&
             cudaMemcpy(dist2 + r, b.dist2, m * sizeof(float), cudaMemcpyDeviceToHost) ==
                 cudaSuccess;
    }
    if (!ok)
        return kn_fail(err, SF_EIO, "AlgorithmError: kmeans.assign: CUDA failed: %s",
                       cudaGetErrorString(cudaGetLastError()));
    return SF_OK;
}
