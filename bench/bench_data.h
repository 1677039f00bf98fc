/* bench/bench_data.h - seeded data for the kernels' benches and tests.
 *
 * Gaussian clusters (k-means), planted low-rank data (PCA), features with
 * labels from a known linear rule (linear-learner), pixel-like classes
 * (the image classifier), and plain uniform or normal values. Every value
 * comes from one splitmix64 stream per seed, so a seed gives the same rows
 * on every run and machine: the tests' thresholds were checked on exactly
 * these rows, and changing a generator means checking them again.
 *
 * Header-only, static inline, needing nothing but libc. One home, here:
 * tests/kernels/ includes it as "bench/bench_data.h". Benches never reach
 * into tests/ (the test suite's own helpers, tied to Criterion), and a
 * test including this pulls in nothing of the benches. Never part of the
 * library: nothing in kernels/ includes it.
 * Arrays it returns are malloc'd (the caller frees them); running out of
 * memory aborts, as nothing a bench or test could do would help. */
#ifndef BENCH_DATA_H
#define BENCH_DATA_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* splitmix64: one 64-bit word a call, every seed (0 too) a good stream. */
static inline uint64_t bench_data_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1), 53 bits. */
static inline double bench_data_uniform(uint64_t *s)
{
    return (double)(bench_data_rand(s) >> 11) * 0x1.0p-53;
}

/* Standard normal (Box-Muller; the first uniform in (0, 1), so never log 0). */
static inline double bench_data_normal(uint64_t *s)
{
    double u1 = ((double)(bench_data_rand(s) >> 11) + 0.5) * 0x1.0p-53;
    double u2 = bench_data_uniform(s);
    return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

/* n floats, malloc'd; aborts when there is no memory. */
static inline float *bench_data_alloc(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (!p)
        abort();
    return p;
}

/* x[0..n) uniform in [lo, hi). */
static inline void bench_data_fill_uniform(float *x, size_t n, double lo, double hi, uint64_t *s)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(lo + (hi - lo) * bench_data_uniform(s));
}

/* x[0..n) normal with the given mean, standard deviation 1. */
static inline void bench_data_fill_normal(float *x, size_t n, double mean, uint64_t *s)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(mean + bench_data_normal(s));
}

/* Gaussian clusters: k centres (k,d) drawn uniformly in [-spread, spread]^d
 * into `centres`, then n rows (n,d), row i around centre i % k with unit
 * normal noise. Returns the rows. */
static inline float *bench_data_clusters(size_t n, size_t d, size_t k, double spread, uint64_t seed,
                                         float *centres)
{
    uint64_t s = seed;
    bench_data_fill_uniform(centres, k * d, -spread, spread, &s);
    float *X = bench_data_alloc(n * d);
    for (size_t i = 0; i < n; i++)
        for (size_t f = 0; f < d; f++)
            X[i * d + f] = centres[(i % k) * d + f] + (float)bench_data_normal(&s);
    return X;
}

/* An orthonormal basis U (r,d) of a random r-dimensional subspace, r <= d
 * (Gram-Schmidt, twice for accuracy). */
static inline void bench_data_basis(double *U, size_t r, size_t d, uint64_t *s)
{
    for (size_t a = 0; a < r; a++) {
        for (size_t f = 0; f < d; f++)
            U[a * d + f] = bench_data_normal(s);
        for (int again = 0; again < 2; again++)
            for (size_t b = 0; b < a; b++) {
                double dot = 0;
                for (size_t f = 0; f < d; f++)
                    dot += U[a * d + f] * U[b * d + f];
                for (size_t f = 0; f < d; f++)
                    U[a * d + f] -= dot * U[b * d + f];
            }
        double norm = 0;
        for (size_t f = 0; f < d; f++)
            norm += U[a * d + f] * U[a * d + f];
        for (size_t f = 0; f < d; f++)
            U[a * d + f] /= sqrt(norm);
    }
}

/* Planted low-rank data, n rows (n,d): offset + sum over a of
 * scale[a]·z_a·U[a] + noise·e, z and e standard normal, U (r,d) a basis
 * (bench_data_basis). */
static inline float *bench_data_planted(size_t n, size_t d, size_t r, const double *U,
                                        const double *scale, double noise, double offset,
                                        uint64_t seed)
{
    uint64_t s = seed;
    float *X = bench_data_alloc(n * d);
    for (size_t i = 0; i < n; i++) {
        for (size_t f = 0; f < d; f++)
            X[i * d + f] = (float)(offset + noise * bench_data_normal(&s));
        for (size_t a = 0; a < r; a++) {
            double z = scale[a] * bench_data_normal(&s);
            for (size_t f = 0; f < d; f++)
                X[i * d + f] += (float)(z * U[a * d + f]);
        }
    }
    return X;
}

/* Features of unequal scale, rows (rows,cols): column f is normal with
 * mean f and standard deviation 1 + f, so a learner must standardize. */
static inline float *bench_data_features(size_t rows, size_t cols, uint64_t seed)
{
    float *X = bench_data_alloc(rows * cols);
    for (size_t i = 0; i < rows * cols; i++)
        X[i] = (float)(bench_data_normal(&seed) * (double)(1 + i % cols) + (double)(i % cols));
    return X;
}

/* Labels y (rows) of X (rows,cols) from a known linear model z = w·x + b:
 * binary, z > 0 with a fraction `noise` of labels flipped; otherwise a
 * regression target z + noise·N(0,1). */
static inline void bench_data_label_linear(float *y, const float *X, size_t rows, size_t cols,
                                           const double *w, double b, bool binary, double noise,
                                           uint64_t seed)
{
    for (size_t i = 0; i < rows; i++) {
        double z = b;
        for (size_t f = 0; f < cols; f++)
            z += w[f] * X[i * cols + f];
        if (binary)
            y[i] = (float)((z > 0) ^ (bench_data_uniform(&seed) < noise));
        else
            y[i] = (float)(z + noise * bench_data_normal(&seed));
    }
}

/* Pixel-like classes, n rows (n,dim) with values in 10..230: row i is of
 * class c = i % classes (labels[i], n floats of the caller's), feature j
 * bright (180) where j % classes == c and dark (60) elsewhere, plus
 * uniform noise in [-50, 50): separable, as the classifier must find. */
static inline float *bench_data_pixel_classes(size_t n, size_t dim, size_t classes, uint64_t seed,
                                              float *labels)
{
    uint64_t s = seed;
    float *X = bench_data_alloc(n * dim);
    for (size_t i = 0; i < n; i++) {
        size_t c = i % classes;
        labels[i] = (float)c;
        for (size_t j = 0; j < dim; j++)
            X[i * dim + j] =
                (j % classes == c ? 180.0f : 60.0f) + (float)(bench_data_uniform(&s) * 100 - 50);
    }
    return X;
}

#endif
