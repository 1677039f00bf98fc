/* kernels/mlp/mlp.cu - the dense layer on cuBLAS.
 *
 * Same signature and contract as mlp_ref.c: host pointers in and out. The
 * registry's ops share one signature, so this variant copies its operands
 * to the device and the results back on every call; that bounds what a GPU
 * buys here (PCIe, not FLOPs, for the layer sizes an MLP has), and a
 * device-resident training loop would be the next step. The device buffers
 * are kept between calls and only grow; a mutex makes them safe to share
 * between threads. Any CUDA failure aborts: after one, device state is
 * unknown and no result can be trusted.
 *
 * cuBLAS is column-major: a row-major (R,C) matrix is, to it, its (C,R)
 * transpose with leading dimension C, so each product below is written
 * for the transposes. */
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace
{

std::mutex lock;
cublasHandle_t handle;
float *buf[5];
size_t cap[5]; /* floats */

void check(bool ok, const char *what)
{
    if (!ok) {
        /* A library never prints, but a dead device leaves nothing to return to. */
        std::fprintf(stderr, "kernels/mlp: CUDA failure in %s\n", what);
        std::abort();
    }
}

float *room(int i, size_t n)
{
    if (cap[i] < n) {
        if (buf[i])
            cudaFree(buf[i]);
        check(cudaMalloc(&buf[i], n * sizeof(float)) == cudaSuccess, "cudaMalloc");
        cap[i] = n;
    }
    return buf[i];
}

void up(float *dst, const float *src, size_t n)
{
    check(cudaMemcpy(dst, src, n * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess,
          "cudaMemcpy to device");
}

void down(float *dst, const float *src, size_t n)
{
    check(cudaMemcpy(dst, src, n * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess,
          "cudaMemcpy from device");
}

void ready(void)
{
    if (!handle)
        check(cublasCreate(&handle) == CUBLAS_STATUS_SUCCESS, "cublasCreate");
}

__global__ void bias_relu(float *Y, const float *b, size_t B, size_t N, bool relu)
{
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= B * N)
        return;
    float y = Y[j] + b[j % N];
    Y[j] = relu && y < 0.0f ? 0.0f : y;
}

__global__ void column_sums(const float *dY, float *db, size_t B, size_t N)
{
    size_t n = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N)
        return;
    float s = 0.0f;
    for (size_t i = 0; i < B; i++)
        s += dY[i * N + n];
    db[n] = s;
}

__global__ void relu_mask(float *dX, const float *X, size_t n)
{
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j < n && X[j] <= 0.0f)
        dX[j] = 0.0f;
}

unsigned blocks(size_t n)
{
    return (unsigned)((n + 255) / 256);
}

} // namespace

extern "C" void kn_mlp_dense_forward_cuda(const float *X, const float *W, const float *b, float *Y,
                                          size_t B, size_t K, size_t N, bool relu)
{
    std::lock_guard<std::mutex> g(lock);
    ready();
    float *dX = room(0, B * K), *dW = room(1, K * N), *db = room(2, N), *dY = room(3, B * N);
    up(dX, X, B * K);
    up(dW, W, K * N);
    up(db, b, N);
    const float one = 1.0f, zero = 0.0f;
    /* Yᵀ (N,B) = Wᵀ (N,K) · Xᵀ (K,B) */
    check(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, (int)N, (int)B, (int)K, &one, dW, (int)N,
                      dX, (int)K, &zero, dY, (int)N) == CUBLAS_STATUS_SUCCESS,
          "cublasSgemm (forward)");
    bias_relu<<<blocks(B * N), 256>>>(dY, db, B, N, relu);
    check(cudaGetLastError() == cudaSuccess, "bias_relu");
    down(Y, dY, B * N);
}

extern "C" void kn_mlp_dense_backward_cuda(const float *X, const float *W, const float *dY,
                                           float *dW, float *db, float *dX, size_t B, size_t K,
                                           size_t N, bool relu_in)
{
    std::lock_guard<std::mutex> g(lock);
    ready();
    float *gX = room(0, B * K), *gW = room(1, K * N), *gb = room(2, N), *gY = room(3, B * N);
    up(gX, X, B * K);
    up(gY, dY, B * N);
    const float one = 1.0f, zero = 0.0f;
    /* dWᵀ (N,K) = dYᵀ (N,B) · X (B,K); X is Xᵀ (K,B) to cuBLAS, hence OP_T */
    check(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_T, (int)N, (int)K, (int)B, &one, gY, (int)N,
                      gX, (int)K, &zero, gW, (int)N) == CUBLAS_STATUS_SUCCESS,
          "cublasSgemm (weight gradient)");
    column_sums<<<blocks(N), 256>>>(gY, gb, B, N);
    check(cudaGetLastError() == cudaSuccess, "column_sums");
    down(dW, gW, K * N);
    down(db, gb, N);
    if (!dX)
        return;
    float *gdX = room(4, B * K);
    up(gW, W, K * N); /* gW held dW; the weights take its place */
    /* dXᵀ (K,B) = W (K,N) · dYᵀ (N,B); W is Wᵀ (N,K) to cuBLAS, hence OP_T */
    check(cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, (int)K, (int)B, (int)N, &one, gW, (int)N,
                      gY, (int)N, &zero, gdX, (int)K) == CUBLAS_STATUS_SUCCESS,
          "cublasSgemm (input gradient)");
    if (relu_in) {
        relu_mask<<<blocks(B * K), 256>>>(gdX, gX, B * K);
        check(cudaGetLastError() == cudaSuccess, "relu_mask");
    }
    down(dX, gdX, B * K);
}
