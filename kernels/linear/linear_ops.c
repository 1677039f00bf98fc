/* kernels/linear/linear_ops.c - linear-learner's operations as the registry sees them. */
#include "linear.h"

#ifdef SF_HAVE_CUDA
#define CUDA_FN(f) (void *)(f)
#else
#define CUDA_FN(f) NULL
#endif

const kn_op kn_linear_forward = {
    .name = "linear.forward",
    .fn = {(void *)kn_linear_forward_ref, (void *)kn_linear_forward_blas,
           CUDA_FN(kn_linear_forward_cuda)},
};

const kn_op kn_linear_gradient = {
    .name = "linear.gradient",
    .fn = {(void *)kn_linear_gradient_ref, (void *)kn_linear_gradient_blas,
           CUDA_FN(kn_linear_gradient_cuda)},
};
