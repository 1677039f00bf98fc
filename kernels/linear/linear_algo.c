/* kernels/linear/linear_algo.c - linear-learner as a kn_algo: predict, shapes, save, load.
 *
 * Results are SageMaker's (facts §4.1): binary {"score", "predicted_label"},
 * multiclass {"score": [one per class], "predicted_label"}, regressor
 * {"score"}. The saved model is the folded weights (raw features in), so
 * prediction is one product and a squashing per row. */
#include <stdlib.h>
#include <string.h>

#include "linear.h"

void ll_state_free(void *state)
{
    ll_state *s = state;
    if (!s)
        return;
    free(s->w);
    free(s->b);
    free(s);
}

static void ll_response(const kn_model *m, kn_response *out)
{
    const ll_state *s = m->state;
    memset(out, 0, sizeof *out);
    out->top = "predictions";
    if (s->kind == LL_MULTICLASS)
        out->fields[out->nfields++] = (kn_field){"score", s->k, true, false};
    else
        out->fields[out->nfields++] = (kn_field){"score", 1, false, false};
    if (s->kind != LL_REGRESSOR)
        out->fields[out->nfields++] = (kn_field){"predicted_label", 1, false, true};
    out->width = 0;
    for (size_t i = 0; i < out->nfields; i++)
        out->width += out->fields[i].width;
}

/* Rows at a time, so the raw scores never need more than a slice. */
#define PREDICT_SLICE 1024

/* Models this small (weights within L1/L2) predict with forward_small, not
 * the registry's variant. Why: predict runs on many threads at once (batch
 * transform's predict threads, an endpoint's requests), and OpenBLAS (0.3.21,
 * Debian's) has no per-call thread count (openblas_set_num_threads_local
 * came later), only a process-wide one that training wants left alone. Its
 * sgemv from N predict threads either fans out to its own threads, which
 * fight the predict threads for the same cores, or leaves its thread pool
 * spinning in sched_yield; and for d in the hundreds a product of 1024
 * rows is microseconds, less than handing it over to a GPU or a BLAS
 * thread costs. The loop below is the reference's arithmetic in float
 * (8 partial sums, which the compiler keeps in vector registers). */
#define PREDICT_SMALL_WEIGHTS 16384

/* Z (n, K) = X (n, d) W (d, K) + b, row-major float32, on this thread. */
static void forward_small(const float *X, const float *W, const float *b, float *Z, size_t n,
                          size_t d, size_t K)
{
    if (K == 1) {
        for (size_t i = 0; i < n; i++) {
            const float *x = X + i * d;
            float acc[8] = {0};
            size_t f = 0;
            for (; f + 8 <= d; f += 8)
                for (size_t l = 0; l < 8; l++)
                    acc[l] += x[f + l] * W[f + l];
            for (; f < d; f++)
                acc[f & 7] += x[f] * W[f];
            float sum =
                ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
            Z[i] = sum + (b ? b[0] : 0.0f);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const float *x = X + i * d;
        float *z = Z + i * K;
        for (size_t j = 0; j < K; j++)
            z[j] = b ? b[j] : 0.0f;
        for (size_t f = 0; f < d; f++) {
            const float xf = x[f], *w = W + f * K;
            for (size_t j = 0; j < K; j++)
                z[j] += xf * w[j];
        }
    }
}

static sf_rc ll_predict(const kn_model *m, const kn_matrix *X, float *out, kn_err *err)
{
    const ll_state *s = m->state;
    if (X->cols != s->d)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: the model reads %zu features; the request has %zu", s->d,
                       X->cols);
    kn_linear_forward_fn fwd =
        s->d * s->k <= PREDICT_SMALL_WEIGHTS
            ? forward_small
            : (kn_linear_forward_fn)kn_pick(&kn_linear_forward, kn_wanted(), NULL);
    size_t k = s->k, width = s->kind == LL_MULTICLASS ? k + 1 : s->kind == LL_BINARY ? 2 : 1;
    float *Z = malloc(PREDICT_SLICE * k * sizeof(float));
    if (!Z)
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory predicting");
    for (size_t r0 = 0; r0 < X->rows; r0 += PREDICT_SLICE) {
        size_t n = X->rows - r0 < PREDICT_SLICE ? X->rows - r0 : PREDICT_SLICE;
        fwd(kn_row(X, r0), s->w, s->b, Z, n, s->d, k);
        for (size_t i = 0; i < n; i++) {
            float *o = out + (r0 + i) * width;
            ll_scores(s->kind, s->loss, Z + i * k, o, k);
            if (s->kind == LL_BINARY) {
                o[1] = o[0] > s->threshold ? 1.0f : 0.0f;
            } else if (s->kind == LL_MULTICLASS) {
                size_t best = 0;
                for (size_t j = 1; j < k; j++)
                    if (o[j] > o[best])
                        best = j;
                o[k] = (float)best;
            }
        }
    }
    free(Z);
    return SF_OK;
}

static sf_rc ll_save(const kn_model *m, kn_model_writer *w, kn_err *err)
{
    const ll_state *s = m->state;
    sf_rc rc = kn_mw_str(w, "loss", ll_loss_name(s->loss), err);
    if (rc == SF_OK)
        rc = kn_mw_int(w, "num_scores", (int64_t)s->k, err);
    if (rc == SF_OK)
        rc = kn_mw_floats(w, "w", s->w, s->d * s->k, err);
    if (rc == SF_OK)
        rc = kn_mw_floats(w, "b", s->b, s->k, err);
    if (rc == SF_OK)
        rc = kn_mw_floats(w, "threshold", &s->threshold, 1, err);
    return rc;
}

static sf_rc ll_load(kn_model_reader *r, kn_model *m, kn_err *err)
{
    ll_config c;
    sf_rc rc = ll_config_from_hp(&m->hp, &c, err);
    if (rc != SF_OK)
        return rc;
    const char *loss;
    int64_t k;
    const float *w, *b, *thr;
    if ((rc = kn_mr_str(r, "loss", &loss, err)) || (rc = kn_mr_int(r, "num_scores", &k, err)))
        return rc;
    if (k != (int64_t)c.k || m->feature_dim == 0)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: model_algo-1 has %lld scores per row, its hyperparameters "
                       "say %zu",
                       (long long)k, c.k);
    if ((rc = kn_mr_floats(r, "w", m->feature_dim * c.k, &w, NULL, err)) ||
        (rc = kn_mr_floats(r, "b", c.k, &b, NULL, err)) ||
        (rc = kn_mr_floats(r, "threshold", 1, &thr, NULL, err)))
        return rc;
    ll_state *s = calloc(1, sizeof *s);
    if (!s || !(s->w = malloc(m->feature_dim * c.k * sizeof(float))) ||
        !(s->b = malloc(c.k * sizeof(float)))) {
        ll_state_free(s);
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory loading the model");
    }
    s->kind = c.kind;
    s->loss = c.loss;
    if (strcmp(loss, ll_loss_name(c.loss)) != 0) { /* the saved name wins: it is what ran */
        for (int l = LL_LOGISTIC; l <= LL_EPS_ABSOLUTE; l++)
            if (strcmp(loss, ll_loss_name((ll_loss)l)) == 0)
                s->loss = (ll_loss)l;
    }
    s->d = m->feature_dim;
    s->k = c.k;
    memcpy(s->w, w, s->d * s->k * sizeof(float));
    memcpy(s->b, b, s->k * sizeof(float));
    s->threshold = thr[0];
    m->state = s;
    return SF_OK;
}

const kn_algo kn_algo_linear_learner = {
    .name = "linear-learner",
    .hyper = kn_linear_hyper,
    .nhyper = LL_NHYPER,
    .supervised = true,
    .train = ll_train,
    .response = ll_response,
    .predict = ll_predict,
    .save = ll_save,
    .load = ll_load,
    .free_state = ll_state_free,
};
