/* kernels/kmeans/kmeans.h - k-means inside the kernels library (not public).
 *
 * SageMaker's k-means (kmeans:1), as its documentation describes it, in
 * four steps; kmeans_algo.c drives them:
 *
 *   1. seed K = k × extra_center_factor centres from the first rows
 *      (init_method: random or kmeans++)                 kmeans_lloyd.c
 *   2. stream the data in mini-batches, moving each of the K centres to
 *      the (optionally decaying, half_life_time_size) running mean of the
 *      points assigned to it; `epochs` passes             kmeans_stream.c
 *   3. reduce the K centres to k with a "local" Lloyd's on the centres
 *      weighted by how many points each absorbed, best of
 *      local_lloyd_num_trials seedings (local_lloyd_init_method)
 *                                                         kmeans_lloyd.c
 *   4. refine: plain Lloyd's over the whole training stream, a few passes,
 *      until the training SSD improves by less than local_lloyd_tol.
 *      SageMaker stops after step 3; the extra passes cost a read of the
 *      data each and are what make the centres match a full Lloyd's
 *      (scikit-learn's) inertia.                          kmeans_stream.c
 *
 * Every step spends its time in one operation, assigning points to their
 * nearest centre; it is the kn_op below, with a reference, an OpenBLAS
 * and a CUDA variant. */
#ifndef KN_KMEANS_H
#define KN_KMEANS_H

#include <stdint.h>

#include "kernels/kn_algo.h"
#include "kernels/kn_registry.h"
#include "kernels/kn_types.h"

/* The algorithm, as kernels/kn_algo.c lists it. */
extern const kn_algo kn_algo_kmeans;

/* Assigns each row of X (n,d) to its nearest row of C (k,d): closest[i]
 * is the index in [0,k), dist2[i] the squared Euclidean distance (>= 0).
 * Ties go to the lower index. Both outputs have room for n values. */
typedef sf_rc (*kn_kmeans_assign_fn)(const kn_matrix *X, const kn_matrix *C, uint32_t *closest,
                                     float *dist2, kn_err *err);

extern const kn_op kn_kmeans_assign_op; /* "kmeans.assign" */

sf_rc kn_kmeans_assign_ref(const kn_matrix *X, const kn_matrix *C, uint32_t *closest, float *dist2,
                           kn_err *err);
sf_rc kn_kmeans_assign_blas(const kn_matrix *X, const kn_matrix *C, uint32_t *closest, float *dist2,
                            kn_err *err);
#ifdef SF_HAVE_CUDA
sf_rc kn_kmeans_assign_cuda(const kn_matrix *X, const kn_matrix *C, uint32_t *closest, float *dist2,
                            kn_err *err);
#endif

/* How initial centres are chosen (init_method, local_lloyd_init_method). */
typedef enum { KN_KMEANS_RANDOM, KN_KMEANS_PLUSPLUS } kn_kmeans_init;

/* A small seeded generator (splitmix64): runs repeat exactly. */
static inline uint64_t kn_kmeans_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double kn_kmeans_uniform(uint64_t *s)
{
    return (double)(kn_kmeans_rand(s) >> 11) * 0x1.0p-53;
}

/* Picks C->rows rows of P (n,d) as centres. weights (n; NULL: all 1)
 * scale how likely a row is chosen; rows of weight 0 are never chosen
 * unless nothing else is left. kmeans++ picks each next centre with
 * probability weight × squared distance to the nearest centre so far.
 * P must have at least C->rows rows. */
sf_rc kn_kmeans_seed(const kn_matrix *P, const float *weights, kn_kmeans_init how, uint64_t *rng,
                     kn_matrix *C, kn_err *err);

/* Weighted Lloyd's on P (n,d) from the centres in C (k,d), updated in
 * place: at most max_iter rounds, stopping once the weighted SSD improves
 * by less than tol relative. A centre left without points stays where it
 * was. *ssd (may be NULL) is the final weighted sum of squared distances. */
sf_rc kn_kmeans_lloyd(const kn_matrix *P, const float *weights, kn_kmeans_assign_fn assign,
                      int max_iter, double tol, kn_matrix *C, double *ssd, kn_err *err);

/* Step 3: the best of trials seedings + Lloyd's of P (n,d) weighted by
 * weights down to C->rows centres (C is filled). */
sf_rc kn_kmeans_reduce(const kn_matrix *P, const float *weights, kn_kmeans_init how, int trials,
                       int max_iter, double tol, uint64_t *rng, kn_matrix *C, kn_err *err);

/* Steps 1 and 2 and 4 read the data through these. */
typedef struct kn_kmeans_stream_opts {
    size_t k_big;        /* K: centres kept while streaming */
    size_t mini_batch;   /* rows per batch */
    uint32_t epochs;     /* passes of step 2 */
    uint64_t half_life;  /* half_life_time_size; 0: no decay */
    kn_kmeans_init init; /* init_method */
    uint64_t seed;       /* for the random choices */
    kn_kmeans_assign_fn assign;
    const kn_progress *progress; /* may be NULL */
    bool want_msd, want_ssd;     /* which train: metrics to report */
} kn_kmeans_stream_opts;

/* Steps 1 and 2: on success *C (K',d) holds the streamed centres (K' =
 * min(K, rows seen)) and *weights (K') the weight each absorbed; both
 * malloc'ed, owned by the caller. *rows is the number of rows per epoch. */
sf_rc kn_kmeans_stream(kn_source *src, const kn_kmeans_stream_opts *o, kn_matrix *C,
                       float **weights, uint64_t *rows, kn_err *err);

/* The SSD of the data in src against C and the rows read, one pass; when
 * refine is true the pass is also a Lloyd's step: C moves to the means of
 * the points assigned to it (a centre without points stays). */
sf_rc kn_kmeans_pass(kn_source *src, size_t mini_batch, kn_kmeans_assign_fn assign, bool refine,
                     const kn_progress *progress, kn_matrix *C, double *ssd, uint64_t *rows,
                     kn_err *err);

#endif
