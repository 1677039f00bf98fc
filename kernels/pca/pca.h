/* kernels/pca/pca.h - PCA inside the kernels library (not public).
 *
 * SageMaker's pca:1 (facts §4.3) in two modes, both streaming the data a
 * batch at a time (pca_algo.c drives them):
 *
 *   regular:    one pass accumulates XᵀX and the column sums (the exact
 *               covariance), then a symmetric eigendecomposition gives the
 *               top num_components directions;
 *   randomized: the range finder of Halko, Martinsson and Tropp: one pass
 *               sketches Cov·Ω for a Gaussian Ω of num_components +
 *               extra_components columns, POWER_ITERS more passes apply
 *               Cov again to an orthonormal basis of it, and the small
 *               projected matrix is diagonalised. It never forms the d×d
 *               covariance, so it is the mode for wide data.
 *
 * The mean is not subtracted from rows in place: both accumulate the raw
 * sums around a shift (the first batch's mean) and correct afterwards,
 * which is exact and keeps float32 products from cancelling when the data
 * sits far from the origin.
 *
 * The hot operations are kn_ops (reference, OpenBLAS, CUDA for the
 * covariance). */
#ifndef KN_PCA_H
#define KN_PCA_H

#include "kernels/kn_algo.h"
#include "kernels/kn_registry.h"
#include "kernels/kn_types.h"

/* The algorithm, as kernels/kn_algo.c lists it. */
extern const kn_algo kn_algo_pca;

/* G (d,d), row-major, full (both triangles) += Xᵀ·X for X (n,d). */
typedef sf_rc (*kn_pca_cov_fn)(const kn_matrix *X, double *G, kn_err *err);

/* Z (d,l) += Xᵀ·(X·Q) for X (n,d) and Q (d,l), all row-major. */
typedef sf_rc (*kn_pca_sketch_fn)(const kn_matrix *X, const float *Q, size_t l, double *Z,
                                  kn_err *err);

/* Eigen-decomposes the symmetric A (d,d), row-major (destroyed): w[i] the
 * eigenvalues in descending order, row i of V (d,d) the unit eigenvector
 * of w[i]. */
typedef sf_rc (*kn_pca_eigen_fn)(double *A, size_t d, double *w, double *V, kn_err *err);

extern const kn_op kn_pca_cov_op;    /* "pca.cov" */
extern const kn_op kn_pca_sketch_op; /* "pca.sketch" */
extern const kn_op kn_pca_eigen_op;  /* "pca.eigen" */

sf_rc kn_pca_cov_ref(const kn_matrix *X, double *G, kn_err *err);
sf_rc kn_pca_cov_blas(const kn_matrix *X, double *G, kn_err *err);
sf_rc kn_pca_sketch_ref(const kn_matrix *X, const float *Q, size_t l, double *Z, kn_err *err);
sf_rc kn_pca_sketch_blas(const kn_matrix *X, const float *Q, size_t l, double *Z, kn_err *err);
sf_rc kn_pca_eigen_ref(double *A, size_t d, double *w, double *V, kn_err *err);
sf_rc kn_pca_eigen_blas(double *A, size_t d, double *w, double *V, kn_err *err);
#ifdef SF_HAVE_CUDA
sf_rc kn_pca_cov_cuda(const kn_matrix *X, double *G, kn_err *err);
#endif

#endif
