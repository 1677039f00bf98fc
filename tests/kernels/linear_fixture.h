/* tests/kernels/linear_fixture.h - seeded data sets and an in-memory kn_source.
 *
 * Shared by the linear-learner and model tests: rows are generated from a
 * fixed seed so every run sees the same data, and the source serves them
 * in batches the way a file reader would. */
#ifndef LINEAR_FIXTURE_H
#define LINEAR_FIXTURE_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kn_algo.h"

typedef struct mem_data {
    float *X, *y;
    size_t rows, cols, pos;
} mem_data;

static inline sf_rc mem_next(void *ctx, kn_matrix *X, float *labels, size_t max, kn_err *err)
{
    (void)err;
    mem_data *m = ctx;
    size_t n = m->rows - m->pos < max ? m->rows - m->pos : max;
    memcpy(X->data, m->X + m->pos * m->cols, n * m->cols * sizeof(float));
    if (labels)
        memcpy(labels, m->y + m->pos, n * sizeof(float));
    X->rows = n;
    X->cols = m->cols;
    m->pos += n;
    return SF_OK;
}

static inline sf_rc mem_rewind(void *ctx, kn_err *err)
{
    (void)err;
    ((mem_data *)ctx)->pos = 0;
    return SF_OK;
}

static inline kn_source mem_source(mem_data *m)
{
    return (kn_source){.ctx = m, .next = mem_next, .rewind = mem_rewind, .feature_dim = m->cols};
}

static inline void mem_free(mem_data *m)
{
    free(m->X);
    free(m->y);
    memset(m, 0, sizeof *m);
}

static inline double fx_uniform(uint64_t *s) /* xorshift64*, in [0, 1) */
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static inline double fx_normal(uint64_t *s)
{
    double u = fx_uniform(s) + 1e-12, v = fx_uniform(s);
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* rows × cols features ~ N(offset, scale²) each, seeded. */
static inline mem_data fx_features(size_t rows, size_t cols, uint64_t seed)
{
    mem_data m = {malloc(rows * cols * sizeof(float)), malloc(rows * sizeof(float)), rows, cols, 0};
    for (size_t i = 0; i < rows * cols; i++)
        m.X[i] = (float)(fx_normal(&seed) * (1 + (i % cols)) + (double)(i % cols));
    return m;
}

/* Labels from a known linear model: binary (z > 0, with label noise
 * flipping a fraction `noise`), or regression (z + noise × N(0,1)). */
static inline void fx_label_linear(mem_data *m, const double *w, double b, bool binary,
                                   double noise, uint64_t seed)
{
    for (size_t i = 0; i < m->rows; i++) {
        double z = b;
        for (size_t f = 0; f < m->cols; f++)
            z += w[f] * m->X[i * m->cols + f];
        if (binary)
            m->y[i] = (float)((z > 0) ^ (fx_uniform(&seed) < noise));
        else
            m->y[i] = (float)(z + noise * fx_normal(&seed));
    }
}

#endif
