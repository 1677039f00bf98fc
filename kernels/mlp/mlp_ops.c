/* kernels/mlp/mlp_ops.c - the image classifier's operations, as the registry sees them. */
#include "kernels/mlp/mlp.h"

#ifdef SF_HAVE_CUDA
#define KN_MLP_CUDA(fn) ((void *)(fn))
#else
#define KN_MLP_CUDA(fn) NULL
#endif

const kn_op kn_mlp_dense_forward = {
    "mlp.dense_forward",
    {(void *)kn_mlp_dense_forward_ref, (void *)kn_mlp_dense_forward_blas,
     KN_MLP_CUDA(kn_mlp_dense_forward_cuda)},
};

const kn_op kn_mlp_dense_backward = {
    "mlp.dense_backward",
    {(void *)kn_mlp_dense_backward_ref, (void *)kn_mlp_dense_backward_blas,
     KN_MLP_CUDA(kn_mlp_dense_backward_cuda)},
};
