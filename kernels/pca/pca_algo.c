/* kernels/pca/pca_algo.c - SageMaker's pca:1 as a kn_algo.
 *
 * Hyperparameters and response shape are SageMaker's (facts §4.3); the
 * two modes are described in pca.h. Fixed here, where SageMaker leaves it
 * open: components come in descending order of variance, each signed so
 * that its largest coordinate is positive; randomized mode uses a
 * constant seed and POWER_ITERS power iterations. subtract_mean applies
 * to training and to inference alike, as SageMaker documents: the model
 * keeps the mean (zeros without subtract_mean) and projects x - mean. */
#include "pca.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kn_model.h"

enum {
    POWER_ITERS = 2,
    MIN_BLOCK = 4096, /* rows per read at least: see block_rows() */
};
#define PCA_SEED 0x706361ULL /* "pca" */
#define MAX_DIM (1u << 16)   /* d × d doubles must fit comfortably */

static const kn_hp_spec pca_hyper[] = {
    {.name = "feature_dim", .type = KN_HP_INT, .required = true, .has_min = true, .min = 1},
    {.name = "mini_batch_size", .type = KN_HP_INT, .required = true, .has_min = true, .min = 1},
    {.name = "num_components", .type = KN_HP_INT, .required = true, .has_min = true, .min = 1},
    {.name = "algorithm_mode",
     .type = KN_HP_CHOICE,
     .dflt = "regular",
     .choices = "regular|randomized"},
    {.name = "extra_components", .type = KN_HP_INT, .dflt = "-1", .has_min = true, .min = -1},
    {.name = "subtract_mean", .type = KN_HP_BOOL, .dflt = "true"},
};

typedef struct pca_state {
    size_t nc, d;
    float *v;    /* nc × d: the components, as rows */
    float *mean; /* d */
    float *var;  /* nc: variance along each component */
} pca_state;

static void pca_free(void *p)
{
    pca_state *s = p;
    if (s) {
        free(s->v);
        free(s->mean);
        free(s->var);
    }
    free(s);
}

/* The covariance does not depend on how rows are batched, so they are
 * read in blocks of at least MIN_BLOCK: BLAS level 3 needs tall operands
 * to reach its speed, and mini_batch_size (500 by the SDK's default) is
 * far too short. */
static size_t block_rows(size_t mini_batch)
{
    return mini_batch > MIN_BLOCK ? mini_batch : MIN_BLOCK;
}

/* What one pass over the data gathers. */
typedef struct pass {
    kn_source *src;
    kn_matrix X; /* the block buffer */
    size_t cap;
    bool center;  /* subtract_mean */
    float *shift; /* d: the first block's mean, fixed after pass one */
    bool have_shift;
    double *colsum; /* d: sum of (x - shift) */
    uint64_t rows;
    const kn_progress *progress;
} pass;

/* Reads the data once; per block calls cov (G += XsᵀXs) or sketch (G +=
 * Xsᵀ·Xs·Q), Xs the rows less the shift. */
static sf_rc run_pass(pass *p, kn_pca_cov_fn cov, kn_pca_sketch_fn sketch, const float *Q, size_t l,
                      double *G, kn_err *err)
{
    const size_t d = p->X.cols;
    sf_rc rc = p->src->rewind(p->src->ctx, err);
    if (rc != SF_OK)
        return rc;
    memset(p->colsum, 0, d * sizeof *p->colsum);
    p->rows = 0;
    for (;;) {
        if (kn_cancelled(p->progress))
            return kn_fail(err, SF_ESTATE, "AlgorithmError: training was stopped");
        if ((rc = kn_source_fill(p->src, &p->X, p->cap, err)) != SF_OK)
            return rc;
        if (p->X.rows == 0)
            break;
        if (p->center && !p->have_shift) {
            for (size_t f = 0; f < d; f++) {
                double s = 0;
                for (size_t r = 0; r < p->X.rows; r++)
                    s += kn_row(&p->X, r)[f];
                p->shift[f] = (float)(s / (double)p->X.rows);
            }
            p->have_shift = true;
        }
        for (size_t r = 0; r < p->X.rows; r++) {
            float *x = kn_row(&p->X, r);
            for (size_t f = 0; f < d; f++) {
                if (p->center)
                    x[f] -= p->shift[f];
                p->colsum[f] += x[f];
            }
        }
        rc = cov ? cov(&p->X, G, err) : sketch(&p->X, Q, l, G, err);
        if (rc != SF_OK)
            return rc;
        p->rows += p->X.rows;
    }
    if (p->rows == 0)
        return kn_fail(err, SF_EINVAL, "ClientError: the train channel has no records");
    return SF_OK;
}

/* G (d,c) = G/n - m·(mᵀ·B) where m = colsum/n and B (d,c) is what G was
 * accumulated against (the identity for the covariance, Q for a sketch):
 * turns sums around the shift into the covariance (times B). */
static void center(const pass *p, double *G, size_t c, const double *B)
{
    const size_t d = p->X.cols;
    const double n = (double)p->rows;
    for (size_t i = 0; i < d * c; i++)
        G[i] /= n;
    if (!p->center)
        return;
    for (size_t a = 0; a < c; a++) {
        double mb = 0; /* mᵀ·B[:,a] */
        for (size_t f = 0; f < d; f++)
            mb += (p->colsum[f] / n) * (B ? B[f * c + a] : (f == a));
        for (size_t i = 0; i < d; i++)
            G[i * c + a] -= (p->colsum[i] / n) * mb;
    }
}

/* Orthonormalises the columns of Z (d,l) in place: modified Gram-Schmidt,
 * twice, which is as good as Householder QR for the tall, thin,
 * well-scaled matrices a range finder makes, and needs no workspace. A
 * column that vanishes (rank below l) is replaced by a unit vector
 * orthogonal to the rest. */
static void orthonormalise(double *Z, size_t d, size_t l)
{
    for (size_t a = 0; a < l; a++) {
        for (int again = 0; again < 2; again++)
            for (size_t b = 0; b < a; b++) {
                double dot = 0;
                for (size_t i = 0; i < d; i++)
                    dot += Z[i * l + a] * Z[i * l + b];
                for (size_t i = 0; i < d; i++)
                    Z[i * l + a] -= dot * Z[i * l + b];
            }
        double norm = 0;
        for (size_t i = 0; i < d; i++)
            norm += Z[i * l + a] * Z[i * l + a];
        norm = sqrt(norm);
        if (norm < 1e-300) { /* try each axis until one survives */
            for (size_t e = 0; e < d; e++) {
                for (size_t i = 0; i < d; i++)
                    Z[i * l + a] = i == e;
                for (size_t b = 0; b < a; b++) {
                    double dot = Z[e * l + b];
                    for (size_t i = 0; i < d; i++)
                        Z[i * l + a] -= dot * Z[i * l + b];
                }
                norm = 0;
                for (size_t i = 0; i < d; i++)
                    norm += Z[i * l + a] * Z[i * l + a];
                norm = sqrt(norm);
                if (norm > 0.5)
                    break;
            }
        }
        for (size_t i = 0; i < d; i++)
            Z[i * l + a] /= norm;
    }
}

/* A standard normal (Box-Muller on splitmix64). */
static double gaussian(uint64_t *s)
{
    uint64_t z1 = (*s += 0x9e3779b97f4a7c15ULL), z2;
    z1 = (z1 ^ (z1 >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z1 = (z1 ^ (z1 >> 27)) * 0x94d049bb133111ebULL;
    z1 ^= z1 >> 31;
    z2 = (*s += 0x9e3779b97f4a7c15ULL);
    z2 = (z2 ^ (z2 >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z2 = (z2 ^ (z2 >> 27)) * 0x94d049bb133111ebULL;
    z2 ^= z2 >> 31;
    double u1 = ((double)(z1 >> 11) + 0.5) * 0x1.0p-53, u2 = (double)(z2 >> 11) * 0x1.0p-53;
    return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Regular mode: the exact covariance, fully diagonalised. vecs (d,d), w (d). */
static sf_rc regular(pass *p, double *vecs, double *w, kn_err *err)
{
    const size_t d = p->X.cols;
    double *G = calloc(d * d, sizeof *G);
    if (!G)
        return kn_fail(err, SF_ENOMEM,
                       "AlgorithmError: out of memory for a %zu × %zu "
                       "covariance",
                       d, d);
    kn_pca_cov_fn cov = (kn_pca_cov_fn)kn_pick(&kn_pca_cov_op, kn_wanted(), NULL);
    kn_pca_eigen_fn eig = (kn_pca_eigen_fn)kn_pick(&kn_pca_eigen_op, kn_wanted(), NULL);
    sf_rc rc = run_pass(p, cov, NULL, NULL, 0, G, err);
    if (rc == SF_OK) {
        center(p, G, d, NULL);
        rc = eig(G, d, w, vecs, err);
    }
    free(G);
    return rc;
}

/* Randomized mode: l = nc + extra directions; vecs (l,d), w (l). */
static sf_rc randomized(pass *p, size_t l, double *vecs, double *w, kn_err *err)
{
    const size_t d = p->X.cols;
    double *Z = calloc(d * l, sizeof *Z), *Qd = malloc(d * l * sizeof *Qd);
    double *B = malloc(l * l * sizeof *B), *U = malloc(l * l * sizeof *U);
    float *Q = malloc(d * l * sizeof *Q);
    sf_rc rc = SF_OK;
    if (!Z || !Qd || !B || !U || !Q) {
        rc = kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory for a %zu × %zu sketch", d, l);
        goto out;
    }
    kn_pca_sketch_fn sketch = (kn_pca_sketch_fn)kn_pick(&kn_pca_sketch_op, kn_wanted(), NULL);
    kn_pca_eigen_fn eig = (kn_pca_eigen_fn)kn_pick(&kn_pca_eigen_op, kn_wanted(), NULL);
    uint64_t rng = PCA_SEED;
    for (size_t i = 0; i < d * l; i++)
        Qd[i] = gaussian(&rng);
    /* Each pass: Z = Cov·Q; the last one's Qᵀ·Z is the projected matrix. */
    for (int it = 0; it <= POWER_ITERS; it++) {
        for (size_t i = 0; i < d * l; i++)
            Q[i] = (float)Qd[i];
        memset(Z, 0, d * l * sizeof *Z);
        if ((rc = run_pass(p, NULL, sketch, Q, l, Z, err)) != SF_OK)
            goto out;
        center(p, Z, l, Qd);
        if (it == POWER_ITERS)
            break;
        memcpy(Qd, Z, d * l * sizeof *Qd);
        orthonormalise(Qd, d, l);
    }
    for (size_t a = 0; a < l; a++) /* B = Qᵀ·Z, symmetrised against rounding */
        for (size_t b = 0; b < l; b++) {
            double s = 0, t = 0;
            for (size_t i = 0; i < d; i++) {
                s += Qd[i * l + a] * Z[i * l + b];
                t += Qd[i * l + b] * Z[i * l + a];
            }
            B[a * l + b] = (s + t) / 2;
        }
    if ((rc = eig(B, l, w, U, err)) != SF_OK)
        goto out;
    for (size_t c = 0; c < l; c++) /* direction c = Q·U[c] */
        for (size_t i = 0; i < d; i++) {
            double s = 0;
            for (size_t a = 0; a < l; a++)
                s += Qd[i * l + a] * U[c * l + a];
            vecs[c * d + i] = s;
        }
out:
    free(Z), free(Qd), free(B), free(U), free(Q);
    return rc;
}

static sf_rc pca_train(const kn_hp *hp, kn_source *train, kn_source *validation,
                       const kn_progress *progress, kn_model **out, kn_err *err)
{
    const size_t d = (size_t)kn_hp_int(hp, "feature_dim");
    const size_t nc = (size_t)kn_hp_int(hp, "num_components");
    const bool rand_mode = strcmp(kn_hp_str(hp, "algorithm_mode"), "randomized") == 0;
    if (train->feature_dim && train->feature_dim != d)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: feature_dim is %zu but the train channel has %zu features", d,
                       train->feature_dim);
    if (d > MAX_DIM)
        return kn_fail(err, SF_ELIMIT, "ClientError: feature_dim %zu is more than %u", d, MAX_DIM);
    if (nc > d)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: num_components (%zu) must not exceed feature_dim (%zu)", nc,
                       d);
    int64_t extra = kn_hp_int(hp, "extra_components");
    size_t l = nc + (extra < 0 ? (nc > 10 ? nc : 10) : (size_t)extra);
    if (l > d)
        l = d;
    size_t rows_of_vecs = rand_mode ? l : d;

    kn_source src = *train;
    src.feature_dim = d;
    pass p = {.src = &src,
              .cap = block_rows((size_t)kn_hp_int(hp, "mini_batch_size")),
              .center = kn_hp_bool(hp, "subtract_mean"),
              .progress = progress};
    p.X = (kn_matrix){0, d, malloc(p.cap * d * sizeof(float))};
    p.shift = calloc(d, sizeof(float));
    p.colsum = malloc(d * sizeof(double));
    double *vecs = malloc(rows_of_vecs * d * sizeof *vecs);
    double *w = malloc(rows_of_vecs * sizeof *w);
    pca_state *st = calloc(1, sizeof *st);
    kn_model *m = calloc(1, sizeof *m);
    sf_rc rc = SF_OK;
    if (!p.X.data || !p.shift || !p.colsum || !vecs || !w || !st || !m ||
        !(st->v = malloc(nc * d * sizeof(float))) || !(st->mean = calloc(d, sizeof(float))) ||
        !(st->var = malloc(nc * sizeof(float)))) {
        rc = kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory for PCA of %zu features", d);
        goto fail;
    }
    rc = rand_mode ? randomized(&p, l, vecs, w, err) : regular(&p, vecs, w, err);
    if (rc != SF_OK)
        goto fail;

    st->nc = nc;
    st->d = d;
    for (size_t c = 0; c < nc; c++) {
        const double *v = vecs + c * d;
        size_t big = 0;
        for (size_t f = 1; f < d; f++)
            if (fabs(v[f]) > fabs(v[big]))
                big = f;
        double sign = v[big] < 0 ? -1 : 1;
        for (size_t f = 0; f < d; f++)
            st->v[c * d + f] = (float)(sign * v[f]);
        st->var[c] = (float)(w[c] > 0 ? w[c] : 0);
    }
    if (p.center)
        for (size_t f = 0; f < d; f++)
            st->mean[f] = (float)(p.shift[f] + p.colsum[f] / (double)p.rows);
    kn_report(progress, 1.0, p.rows, 1, NULL, 0);

    m->algo = &kn_algo_pca;
    m->hp = *hp;
    m->feature_dim = d;
    m->state = st;
    *out = m;
    st = NULL;
    m = NULL;
fail:
    pca_free(st);
    free(m);
    free(p.X.data), free(p.shift), free(p.colsum), free(vecs), free(w);
    return rc;
}

static void pca_response(const kn_model *m, kn_response *out)
{
    const pca_state *st = m->state;
    *out = (kn_response){
        .top = "projections",
        .fields = {{.name = "projection", .width = st->nc, .vector = true}},
        .nfields = 1,
        .width = st->nc,
    };
}

/* out (n,nc) = (X - mean)·Vᵀ, computed as X·Vᵀ - mean·Vᵀ so that X is
 * read once and never copied. */
static sf_rc pca_predict(const kn_model *m, const kn_matrix *X, float *out, kn_err *err)
{
    const pca_state *st = m->state;
    if (X->cols != st->d)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: records have %zu features, the model reads %zu", X->cols,
                       st->d);
    if (X->rows == 0)
        return SF_OK;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)X->rows, (int)st->nc, (int)st->d,
                1.0f, X->data, (int)st->d, st->v, (int)st->d, 0.0f, out, (int)st->nc);
    for (size_t c = 0; c < st->nc; c++) {
        double mv = 0;
        for (size_t f = 0; f < st->d; f++)
            mv += (double)st->mean[f] * st->v[c * st->d + f];
        for (size_t r = 0; r < X->rows; r++)
            out[r * st->nc + c] -= (float)mv;
    }
    return SF_OK;
}

static sf_rc pca_save(const kn_model *m, kn_model_writer *w, kn_err *err)
{
    const pca_state *st = m->state;
    sf_rc rc = kn_mw_int(w, "num_components", (int64_t)st->nc, err);
    if (rc == SF_OK)
        rc = kn_mw_int(w, "feature_dim", (int64_t)st->d, err);
    if (rc == SF_OK)
        rc = kn_mw_floats(w, "v", st->v, st->nc * st->d, err);
    if (rc == SF_OK)
        rc = kn_mw_floats(w, "mean", st->mean, st->d, err);
    if (rc == SF_OK)
        rc = kn_mw_floats(w, "variance", st->var, st->nc, err);
    return rc;
}

static sf_rc pca_load(kn_model_reader *r, kn_model *m, kn_err *err)
{
    int64_t nc = 0, d = 0;
    const float *v = NULL, *mean = NULL, *var = NULL;
    size_t n = 0;
    sf_rc rc = kn_mr_int(r, "num_components", &nc, err);
    if (rc == SF_OK)
        rc = kn_mr_int(r, "feature_dim", &d, err);
    if (rc != SF_OK)
        return rc;
    if (d < 1 || d > MAX_DIM || nc < 1 || nc > d)
        return kn_fail(err, SF_EINVAL,
                       "AlgorithmError: the model has %lld components of %lld "
                       "features",
                       (long long)nc, (long long)d);
    if ((rc = kn_mr_floats(r, "v", (size_t)(nc * d), &v, &n, err)) != SF_OK ||
        (rc = kn_mr_floats(r, "mean", (size_t)d, &mean, &n, err)) != SF_OK ||
        (rc = kn_mr_floats(r, "variance", (size_t)nc, &var, &n, err)) != SF_OK)
        return rc;
    pca_state *st = calloc(1, sizeof *st);
    if (!st || !(st->v = malloc((size_t)(nc * d) * sizeof(float))) ||
        !(st->mean = malloc((size_t)d * sizeof(float))) ||
        !(st->var = malloc((size_t)nc * sizeof(float)))) {
        pca_free(st);
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory loading a PCA model");
    }
    memcpy(st->v, v, (size_t)(nc * d) * sizeof(float));
    memcpy(st->mean, mean, (size_t)d * sizeof(float));
    memcpy(st->var, var, (size_t)nc * sizeof(float));
    st->nc = (size_t)nc;
    st->d = (size_t)d;
    m->feature_dim = (size_t)d;
    m->state = st;
    return SF_OK;
}

const kn_algo kn_algo_pca = {
    .name = "pca",
    .hyper = pca_hyper,
    .nhyper = sizeof pca_hyper / sizeof pca_hyper[0],
    .supervised = false,
    .train = pca_train,
    .response = pca_response,
    .predict = pca_predict,
    .save = pca_save,
    .load = pca_load,
    .free_state = pca_free,
};
