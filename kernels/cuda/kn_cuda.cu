/* kernels/cuda/kn_cuda.cu - the CUDA runtime as the registry sees it. */
#include <cuda_runtime.h>

extern "C" int kn_cuda_device_count(void)
{
    int n = 0;
    /* No driver or no device: zero, and the CPU variants run. */
    if (cudaGetDeviceCount(&n) != cudaSuccess)
        return 0;
    return n;
}
