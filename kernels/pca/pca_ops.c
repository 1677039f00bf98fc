/* kernels/pca/pca_ops.c - PCA's operations as the registry sees them. */
#include "pca.h"

const kn_op kn_pca_cov_op = {
    .name = "pca.cov",
    .fn =
        {
            [KN_REF] = (void *)kn_pca_cov_ref,
            [KN_BLAS] = (void *)kn_pca_cov_blas,
#ifdef SF_HAVE_CUDA
            [KN_CUDA] = (void *)kn_pca_cov_cuda,
#endif
        },
};

const kn_op kn_pca_sketch_op = {
    .name = "pca.sketch",
    .fn = {[KN_REF] = (void *)kn_pca_sketch_ref, [KN_BLAS] = (void *)kn_pca_sketch_blas},
};

const kn_op kn_pca_eigen_op = {
    .name = "pca.eigen",
    .fn = {[KN_REF] = (void *)kn_pca_eigen_ref, [KN_BLAS] = (void *)kn_pca_eigen_blas},
};
