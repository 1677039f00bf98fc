/* kernels/kmeans/kmeans_ops.c - k-means' operations as the registry sees them. */
#include "kmeans.h"

const kn_op kn_kmeans_assign_op = {
    .name = "kmeans.assign",
    .fn =
        {
            [KN_REF] = (void *)kn_kmeans_assign_ref,
            [KN_BLAS] = (void *)kn_kmeans_assign_blas,
#ifdef SF_HAVE_CUDA
            [KN_CUDA] = (void *)kn_kmeans_assign_cuda,
#endif
        },
};
