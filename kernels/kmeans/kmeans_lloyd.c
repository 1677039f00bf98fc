/* kernels/kmeans/kmeans_lloyd.c - seeding and Lloyd's method on weighted points.
 *
 * Used on the first mini-batch (step 1: weights all 1) and on the streamed
 * centres (step 3: weighted by the points each absorbed), so everything
 * here takes a weight per point. Sums are kept in double: a centre that
 * absorbed a million points is a mean of a million floats. */
#include "kmeans.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

static double dist2(const float *a, const float *b, size_t d)
{
    double s = 0;
    for (size_t f = 0; f < d; f++) {
        double t = (double)a[f] - (double)b[f];
        s += t * t;
    }
    return s;
}

/* Index i with probability score[i] / total among rows not yet taken; a
 * row with score 0 only when every free row has score 0. */
static size_t draw(const double *score, const bool *taken, size_t n, uint64_t *rng)
{
    double total = 0;
    for (size_t i = 0; i < n; i++)
        if (!taken[i])
            total += score[i];
    if (total > 0) {
        double u = kn_kmeans_uniform(rng) * total;
        size_t last = n;
        for (size_t i = 0; i < n; i++) {
            if (taken[i] || score[i] <= 0)
                continue;
            last = i;
            if ((u -= score[i]) < 0)
                return i;
        }
        if (last < n) /* rounding left u a hair above 0 */
            return last;
    }
    size_t free_rows = 0;
    for (size_t i = 0; i < n; i++)
        free_rows += !taken[i];
    size_t pick = (size_t)(kn_kmeans_uniform(rng) * (double)free_rows);
    for (size_t i = 0; i < n; i++)
        if (!taken[i] && pick-- == 0)
            return i;
    return 0; /* unreachable while free_rows > 0 */
}

sf_rc kn_kmeans_seed(const kn_matrix *P, const float *weights, kn_kmeans_init how, uint64_t *rng,
                     kn_matrix *C, kn_err *err)
{
    const size_t n = P->rows, d = P->cols, k = C->rows;
    if (k == 0 || n < k || C->cols != d)
        return kn_fail(err, SF_EINVAL, "AlgorithmError: cannot seed %zu centres from %zu rows", k,
                       n);
    double *score = malloc(n * sizeof *score);
    double *near = malloc(n * sizeof *near); /* kmeans++: squared distance to nearest centre */
    bool *taken = calloc(n, sizeof *taken);
    if (!score || !near || !taken) {
        free(score), free(near), free(taken);
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory seeding from %zu rows", n);
    }
    for (size_t i = 0; i < n; i++) {
        score[i] = weights ? weights[i] : 1.0;
        near[i] = DBL_MAX;
    }
    for (size_t j = 0; j < k; j++) {
        size_t i = draw(score, taken, n, rng);
        taken[i] = true;
        memcpy(kn_row(C, j), kn_row(P, i), d * sizeof(float));
        if (how != KN_KMEANS_PLUSPLUS || j + 1 == k)
            continue;
        for (size_t r = 0; r < n; r++) {
            double t = dist2(kn_row(P, r), kn_row(C, j), d);
            if (t < near[r])
                near[r] = t;
            score[r] = (weights ? weights[r] : 1.0) * near[r];
        }
    }
    free(score), free(near), free(taken);
    return SF_OK;
}

sf_rc kn_kmeans_lloyd(const kn_matrix *P, const float *weights, kn_kmeans_assign_fn assign,
                      int max_iter, double tol, kn_matrix *C, double *ssd_out, kn_err *err)
{
    const size_t n = P->rows, d = P->cols, k = C->rows;
    uint32_t *closest = malloc(n * sizeof *closest);
    float *d2 = malloc(n * sizeof *d2);
    double *sum = malloc(k * d * sizeof *sum);
    double *mass = malloc(k * sizeof *mass);
    sf_rc rc = SF_OK;
    if (!closest || !d2 || !sum || !mass) {
        rc = kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory for Lloyd's on %zu rows", n);
        goto out;
    }
    double ssd = 0;
    if ((rc = assign(P, C, closest, d2, err)) != SF_OK)
        goto out;
    for (size_t i = 0; i < n; i++)
        ssd += (weights ? weights[i] : 1.0) * d2[i];
    for (int it = 0; it < max_iter; it++) {
        memset(sum, 0, k * d * sizeof *sum);
        memset(mass, 0, k * sizeof *mass);
        for (size_t i = 0; i < n; i++) {
            double w = weights ? weights[i] : 1.0;
            const float *x = kn_row(P, i);
            double *s = sum + (size_t)closest[i] * d;
            mass[closest[i]] += w;
            for (size_t f = 0; f < d; f++)
                s[f] += w * x[f];
        }
        for (size_t j = 0; j < k; j++)
            if (mass[j] > 0)
                for (size_t f = 0; f < d; f++)
                    kn_row(C, j)[f] = (float)(sum[j * d + f] / mass[j]);
        if ((rc = assign(P, C, closest, d2, err)) != SF_OK)
            goto out;
        double now = 0;
        for (size_t i = 0; i < n; i++)
            now += (weights ? weights[i] : 1.0) * d2[i];
        bool settled = ssd - now <= tol * ssd;
        ssd = now;
        if (settled)
            break;
    }
    if (ssd_out)
        *ssd_out = ssd;
out:
    free(closest), free(d2), free(sum), free(mass);
    return rc;
}

sf_rc kn_kmeans_reduce(const kn_matrix *P, const float *weights, kn_kmeans_init how, int trials,
                       int max_iter, double tol, uint64_t *rng, kn_matrix *C, kn_err *err)
{
    const size_t k = C->rows, d = C->cols;
    kn_matrix trial = {k, d, malloc(k * d * sizeof(float))};
    if (!trial.data)
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory for %zu centres", k);
    /* K points: too few to pay for a trip to a GPU, so OpenBLAS at most. */
    kn_variant want = kn_wanted() > KN_BLAS ? KN_BLAS : kn_wanted();
    kn_kmeans_assign_fn assign = (kn_kmeans_assign_fn)kn_pick(&kn_kmeans_assign_op, want, NULL);
    double best = DBL_MAX;
    sf_rc rc = SF_OK;
    for (int t = 0; t < trials && rc == SF_OK; t++) {
        double ssd = 0;
        rc = kn_kmeans_seed(P, weights, how, rng, &trial, err);
        if (rc == SF_OK)
            rc = kn_kmeans_lloyd(P, weights, assign, max_iter, tol, &trial, &ssd, err);
        if (rc == SF_OK && (t == 0 || ssd < best)) {
            best = ssd;
            memcpy(C->data, trial.data, k * d * sizeof(float));
        }
    }
    free(trial.data);
    return rc;
}
