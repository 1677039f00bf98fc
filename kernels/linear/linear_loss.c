/* kernels/linear/linear_loss.c - linear-learner's losses, metrics and threshold.
 *
 * Each loss is written once, per row, with its gradient beside it, so the
 * two cannot drift apart. Regression with normalize_label trains on
 * (y - mean)/scale; the loss it reports is still in the label's own units
 * (huber_delta and loss_insensitivity are in those units too, so they are
 * divided by scale for the gradient: the same function, rescaled). */
#include <math.h>
#include <stdlib.h>

#include "linear.h"

static double softplus(double z) /* log(1 + e^z) without overflow */
{
    return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

static double sigmoid(double z)
{
    return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

static double sign(double r)
{
    return (r > 0) - (r < 0);
}

/* A regression loss of residual r = prediction - label, in units where the
 * loss's own widths are delta and eps; *g gets its derivative. */
static double regression_loss(const ll_config *c, double r, double delta, double eps, double *g)
{
    double a;
    switch (c->loss) {
    case LL_ABSOLUTE:
        *g = sign(r);
        return fabs(r);
    case LL_HUBER:
        if (fabs(r) <= delta) {
            *g = r;
            return 0.5 * r * r;
        }
        *g = delta * sign(r);
        return delta * (fabs(r) - 0.5 * delta);
    case LL_QUANTILE: /* under-prediction (r < 0) costs q, over-prediction 1-q */
        *g = r < 0 ? -c->quantile : 1.0 - c->quantile;
        return r < 0 ? -c->quantile * r : (1.0 - c->quantile) * r;
    case LL_EPS_SQUARED:
        a = fabs(r) - eps;
        *g = a > 0 ? 2 * a * sign(r) : 0;
        return a > 0 ? a * a : 0;
    case LL_EPS_ABSOLUTE:
        a = fabs(r) - eps;
        *g = a > 0 ? sign(r) : 0;
        return a > 0 ? a : 0;
    default: /* squared_loss: r², so that objective_loss is the mean squared error */
        *g = 2 * r;
        return r * r;
    }
}

void ll_loss_rows(const ll_lossctx *lc, const float *Z, const float *labels, size_t n,
                  size_t num_models, float *dZ, double *loss)
{
    const ll_config *c = lc->cfg;
    size_t k = c->k, K = k * num_models;
    for (size_t i = 0; i < n; i++) {
        double y = labels[i];
        for (size_t m = 0; m < num_models; m++) {
            const float *z = Z + i * K + m * k;
            float *dz = dZ ? dZ + i * K + m * k : NULL;
            double l, g;
            if (c->kind == LL_BINARY) {
                double w = y > 0.5 ? lc->pos_weight : 1.0;
                if (c->loss == LL_HINGE) {
                    double s = y > 0.5 ? 1.0 : -1.0, t = c->margin - s * z[0];
                    l = t > 0 ? t : 0;
                    g = t > 0 ? -s : 0;
                } else {
                    l = softplus(z[0]) - y * z[0];
                    g = sigmoid(z[0]) - y;
                }
                l *= w;
                g *= w;
                if (dz)
                    dz[0] = (float)g;
            } else if (c->kind == LL_MULTICLASS) {
                size_t cls = (size_t)y;
                double w = lc->class_w ? lc->class_w[cls] : 1.0;
                double mx = z[0];
                for (size_t j = 1; j < k; j++)
                    if (z[j] > mx)
                        mx = z[j];
                double sum = 0;
                for (size_t j = 0; j < k; j++)
                    sum += exp(z[j] - mx);
                l = w * (log(sum) + mx - z[cls]);
                if (dz)
                    for (size_t j = 0; j < k; j++)
                        dz[j] = (float)(w * (exp(z[j] - mx) / sum - (j == cls)));
            } else {
                double s = lc->label_scale, yn = (y - lc->label_mean) / s;
                double r = z[0] - yn, ignored;
                regression_loss(c, r, c->huber_delta / s, c->eps_insensitivity / s, &g);
                l = regression_loss(c, r * s, c->huber_delta, c->eps_insensitivity, &ignored);
                if (dz)
                    dz[0] = (float)g;
            }
            loss[m] += l;
        }
    }
}

sf_rc ll_check_labels(const ll_config *c, const float *labels, size_t n, uint64_t first_row,
                      kn_err *err)
{
    for (size_t i = 0; i < n; i++) {
        float y = labels[i];
        if (!isfinite(y))
            return kn_fail(err, SF_EINVAL, "ClientError: label in record %llu is not a number",
                           (unsigned long long)(first_row + i + 1));
        if (c->kind == LL_BINARY && y != 0 && y != 1)
            return kn_fail(err, SF_EINVAL,
                           "ClientError: label %g in record %llu is not 0 or 1 (predictor_type "
                           "binary_classifier)",
                           y, (unsigned long long)(first_row + i + 1));
        if (c->kind == LL_MULTICLASS && (y < 0 || y != floorf(y) || y >= (float)c->k))
            return kn_fail(err, SF_EINVAL,
                           "ClientError: label %g in record %llu is not an integer in 0..%zu "
                           "(num_classes %zu)",
                           y, (unsigned long long)(first_row + i + 1), c->k - 1, c->k);
    }
    return SF_OK;
}

void ll_scores(ll_kind kind, ll_loss loss, const float *z, float *score, size_t k)
{
    if (kind == LL_MULTICLASS) {
        float mx = z[0];
        for (size_t j = 1; j < k; j++)
            mx = z[j] > mx ? z[j] : mx;
        double sum = 0;
        for (size_t j = 0; j < k; j++)
            sum += exp((double)(z[j] - mx));
        for (size_t j = 0; j < k; j++)
            score[j] = (float)(exp((double)(z[j] - mx)) / sum);
    } else if (kind == LL_BINARY && loss == LL_LOGISTIC) {
        score[0] = (float)sigmoid(z[0]);
    } else {
        score[0] = z[0];
    }
}

/* ---- the binary threshold ---- */

static double f_beta(double beta, double p, double r)
{
    double b2 = beta * beta;
    return p + r > 0 ? (1 + b2) * p * r / (b2 * p + r) : 0;
}

static ll_binary_metrics metrics(const ll_config *c, double tp, double fp, double pos, double n)
{
    ll_binary_metrics m;
    double neg = n - pos, tn = neg - fp;
    m.accuracy = n > 0 ? (tp + tn) / n : 0;
    m.precision = tp + fp > 0 ? tp / (tp + fp) : 0;
    m.recall = pos > 0 ? tp / pos : 0;
    m.f_beta = f_beta(c->f_beta, m.precision, m.recall);
    return m;
}

ll_binary_metrics ll_binary_at(const ll_config *c, const ll_calib *cal, float threshold)
{
    double tp = 0, fp = 0, pos = 0;
    for (size_t i = 0; i < cal->n; i++) {
        bool y = cal->label[i] > 0.5f, p = cal->score[i] > threshold;
        pos += y;
        tp += y && p;
        fp += !y && p;
    }
    return metrics(c, tp, fp, pos, (double)cal->n);
}

typedef struct pair {
    float score, label;
} pair;

static int by_score_desc(const void *a, const void *b)
{
    float x = ((const pair *)a)->score, y = ((const pair *)b)->score;
    return (x < y) - (x > y);
}

float ll_choose_threshold(const ll_config *c, ll_calib *cal, float fallback, ll_binary_metrics *at)
{
    size_t n = cal->n;
    pair *p = n ? malloc(n * sizeof *p) : NULL;
    double pos = 0;
    for (size_t i = 0; i < n && p; i++) {
        p[i].score = cal->score[i];
        p[i].label = cal->label[i];
        pos += cal->label[i] > 0.5f;
    }
    float best_t = fallback;
    if (p && c->selection != LL_SEL_LOSS && pos > 0 && pos < (double)n) {
        qsort(p, n, sizeof *p, by_score_desc);
        /* Predicting the top i rows positive, for every i at a change of
         * score; the threshold sits between row i-1 and row i. */
        double tp = 0, fp = 0, best = -1, best_fallback = -1;
        float fb_t = fallback;
        for (size_t i = 0; i <= n; i++) {
            if (i > 0) {
                tp += p[i - 1].label > 0.5f;
                fp += p[i - 1].label <= 0.5f;
            }
            if (i > 0 && i < n && p[i].score == p[i - 1].score)
                continue;
            float t = i == 0   ? p[0].score
                      : i == n ? nextafterf(p[n - 1].score, -INFINITY)
                               : p[i - 1].score / 2 + p[i].score / 2;
            if (i > 0 && i < n && !(t < p[i - 1].score)) /* adjacent floats */
                t = p[i].score;
            ll_binary_metrics m = metrics(c, tp, fp, pos, (double)n);
            double v;
            switch (c->selection) {
            case LL_SEL_F_BETA:
                v = m.f_beta;
                break;
            case LL_SEL_PRECISION_AT_RECALL:
                v = m.recall >= c->target_recall ? m.precision : -1;
                break;
            case LL_SEL_RECALL_AT_PRECISION:
                v = m.precision >= c->target_precision ? m.recall : -1;
                if (m.precision > best_fallback && i > 0) { /* no threshold reaches it */
                    best_fallback = m.precision;
                    fb_t = t;
                }
                break;
            default:
                v = m.accuracy;
            }
            if (v > best) {
                best = v;
                best_t = t;
            }
        }
        if (best < 0)
            best_t = fb_t;
    }
    free(p);
    if (at)
        *at = ll_binary_at(c, cal, best_t);
    return best_t;
}
