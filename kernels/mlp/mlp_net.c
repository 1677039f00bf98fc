/* kernels/mlp/mlp_net.c - the network: initialisation, a training step, prediction.
 *
 * Everything here but the dense layers themselves (which go through the
 * kn_op pointers it is handed) is elementwise and cheap next to them:
 * scaling inputs, softmax with cross-entropy, and the optimizer's update.
 * It allocates only in the *_new functions, so a step cannot fail. */
#include "kernels/mlp/mlp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

kn_mlp *kn_mlp_new(const size_t *width, size_t nlayers)
{
    if (nlayers < 1 || nlayers > KN_MLP_MAX_LAYERS)
        return NULL;
    kn_mlp *net = calloc(1, sizeof *net);
    if (!net)
        return NULL;
    net->nlayers = nlayers;
    net->input_scale = 1.0f;
    memcpy(net->width, width, (nlayers + 1) * sizeof *width);
    for (size_t l = 0; l < nlayers; l++) {
        net->W[l] = calloc(width[l] * width[l + 1], sizeof(float));
        net->b[l] = calloc(width[l + 1], sizeof(float));
        if (!net->W[l] || !net->b[l]) {
            kn_mlp_destroy(&net);
            return NULL;
        }
    }
    return net;
}

void kn_mlp_destroy(kn_mlp **pnet)
{
    kn_mlp *net = pnet ? *pnet : NULL;
    if (!net)
        return;
    for (size_t l = 0; l < net->nlayers; l++) {
        free(net->W[l]);
        free(net->b[l]);
    }
    free(net);
    *pnet = NULL;
}

size_t kn_mlp_param_count(const kn_mlp *net)
{
    size_t n = 0;
    for (size_t l = 0; l < net->nlayers; l++)
        n += net->width[l] * net->width[l + 1] + net->width[l + 1];
    return n;
}

size_t kn_mlp_max_width(const kn_mlp *net)
{
    size_t m = 0;
    for (size_t l = 0; l <= net->nlayers; l++)
        m = net->width[l] > m ? net->width[l] : m;
    return m;
}

/* splitmix64: small, seedable, and good enough for initial weights. */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform01(uint64_t *s)
{
    return ((next_u64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0); /* (0,1): log-safe */
}

void kn_mlp_init_he(kn_mlp *net, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t l = 0; l < net->nlayers; l++) {
        double sd = sqrt(2.0 / (double)net->width[l]);
        size_t n = net->width[l] * net->width[l + 1];
        for (size_t j = 0; j < n; j++) {
            /* Box-Muller: one normal from two uniforms. */
            double u = uniform01(&s), v = uniform01(&s);
            net->W[l][j] = (float)(sd * sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
        }
        memset(net->b[l], 0, net->width[l + 1] * sizeof(float));
    }
}

void kn_mlp_softmax(float *Z, size_t B, size_t C)
{
    for (size_t i = 0; i < B; i++) {
        float *z = Z + i * C, max = z[0];
        for (size_t c = 1; c < C; c++)
            max = z[c] > max ? z[c] : max;
        /* Subtracting the largest logit keeps expf finite; the result is the same. */
        double sum = 0.0;
        for (size_t c = 0; c < C; c++) {
            z[c] = expf(z[c] - max);
            sum += z[c];
        }
        for (size_t c = 0; c < C; c++)
            z[c] = (float)(z[c] / sum);
    }
}

static size_t argmax(const float *p, size_t C)
{
    size_t best = 0;
    for (size_t c = 1; c < C; c++)
        if (p[c] > p[best])
            best = c;
    return best;
}

/* ---- training ---- */

struct kn_mlp_trainer {
    kn_mlp *net;
    size_t max_batch;
    kn_mlp_opt opt;
    kn_mlp_dense_forward_fn forward;
    kn_mlp_dense_backward_fn backward;
    float *A[KN_MLP_MAX_LAYERS + 1]; /* A[0] scaled inputs, A[l] layer l's outputs */
    float *dA[2];                    /* the gradient flowing back, ping-ponged */
    float *gW[KN_MLP_MAX_LAYERS], *gb[KN_MLP_MAX_LAYERS];
    float *m[2 * KN_MLP_MAX_LAYERS], *v[2 * KN_MLP_MAX_LAYERS]; /* optimizer state per tensor */
    uint64_t steps;
};

kn_mlp_trainer *kn_mlp_trainer_new(kn_mlp *net, size_t max_batch, const kn_mlp_opt *opt,
                                   kn_mlp_dense_forward_fn forward,
                                   kn_mlp_dense_backward_fn backward)
{
    kn_mlp_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->net = net;
    t->max_batch = max_batch;
    t->opt = *opt;
    t->forward = forward;
    t->backward = backward;
    bool ok = true;
    size_t wide = kn_mlp_max_width(net);
    for (size_t l = 0; l <= net->nlayers; l++)
        ok &= (t->A[l] = malloc(max_batch * net->width[l] * sizeof(float))) != NULL;
    for (int k = 0; k < 2; k++)
        ok &= (t->dA[k] = malloc(max_batch * wide * sizeof(float))) != NULL;
    for (size_t l = 0; l < net->nlayers; l++) {
        size_t nw = net->width[l] * net->width[l + 1], nb = net->width[l + 1];
        ok &= (t->gW[l] = calloc(nw, sizeof(float))) != NULL;
        ok &= (t->gb[l] = calloc(nb, sizeof(float))) != NULL;
        /* SGD without momentum needs no state; the others need one or two tensors. */
        bool one = opt->kind != KN_MLP_SGD || opt->momentum != 0.0f;
        bool two = opt->kind == KN_MLP_ADAM;
        if (one) {
            ok &= (t->m[2 * l] = calloc(nw, sizeof(float))) != NULL;
            ok &= (t->m[2 * l + 1] = calloc(nb, sizeof(float))) != NULL;
        }
        if (two) {
            ok &= (t->v[2 * l] = calloc(nw, sizeof(float))) != NULL;
            ok &= (t->v[2 * l + 1] = calloc(nb, sizeof(float))) != NULL;
        }
    }
    if (!ok)
        kn_mlp_trainer_destroy(&t);
    return t;
}

void kn_mlp_trainer_destroy(kn_mlp_trainer **pt)
{
    kn_mlp_trainer *t = pt ? *pt : NULL;
    if (!t)
        return;
    for (size_t l = 0; l <= KN_MLP_MAX_LAYERS; l++)
        free(t->A[l]);
    free(t->dA[0]);
    free(t->dA[1]);
    for (size_t l = 0; l < KN_MLP_MAX_LAYERS; l++) {
        free(t->gW[l]);
        free(t->gb[l]);
    }
    for (size_t k = 0; k < 2 * KN_MLP_MAX_LAYERS; k++) {
        free(t->m[k]);
        free(t->v[k]);
    }
    free(t);
    *pt = NULL;
}

void kn_mlp_trainer_set_rate(kn_mlp_trainer *t, float learning_rate)
{
    t->opt.learning_rate = learning_rate;
}

const float *kn_mlp_grad_W(const kn_mlp_trainer *t, size_t layer)
{
    return t->gW[layer];
}

const float *kn_mlp_grad_b(const kn_mlp_trainer *t, size_t layer)
{
    return t->gb[layer];
}

/* Forward to probabilities in A[nlayers]: returns the batch's summed
 * cross-entropy and counts correct argmaxes. */
static double forward_loss(kn_mlp_trainer *t, const float *X, const uint32_t *labels, size_t B,
                           size_t *correct)
{
    kn_mlp *net = t->net;
    size_t L = net->nlayers, C = net->width[L];
    for (size_t j = 0; j < B * net->width[0]; j++)
        t->A[0][j] = X[j] * net->input_scale;
    for (size_t l = 0; l < L; l++)
        t->forward(t->A[l], net->W[l], net->b[l], t->A[l + 1], B, net->width[l], net->width[l + 1],
                   l + 1 < L);
    kn_mlp_softmax(t->A[L], B, C);
    double loss = 0.0;
    for (size_t i = 0; i < B; i++) {
        const float *p = t->A[L] + i * C;
        /* A probability can underflow to 0; clamp so one bad row is a big
         * loss, not an infinite one that hides every other row's. NaN
         * passes through: it is how a diverged network shows itself. */
        float pl = p[labels[i]];
        loss -= log(isnan(pl) || pl > 1e-30f ? pl : 1e-30f);
        if (correct && argmax(p, C) == labels[i])
            (*correct)++;
    }
    return loss;
}

/* Gradients of the mean cross-entropy into gW, gb. */
static void backward(kn_mlp_trainer *t, const uint32_t *labels, size_t B)
{
    kn_mlp *net = t->net;
    size_t L = net->nlayers, C = net->width[L];
    /* Softmax with cross-entropy: dLoss/dlogits = (p - onehot) / B. */
    float *dZ = t->dA[0];
    for (size_t i = 0; i < B; i++)
        for (size_t c = 0; c < C; c++)
            dZ[i * C + c] = (t->A[L][i * C + c] - (c == labels[i] ? 1.0f : 0.0f)) / (float)B;
    for (size_t l = L; l-- > 0;) {
        float *dPrev = l > 0 ? t->dA[(L - l) % 2] : NULL;
        t->backward(t->A[l], net->W[l], dZ, t->gW[l], t->gb[l], dPrev, B, net->width[l],
                    net->width[l + 1], l > 0);
        dZ = dPrev;
    }
}

double kn_mlp_gradients(kn_mlp_trainer *t, const float *X, const uint32_t *labels, size_t B)
{
    double loss = forward_loss(t, X, labels, B, NULL);
    backward(t, labels, B);
    return loss / (double)B;
}

/* One tensor's update. Weight decay (an L2 term) applies to weights only:
 * decaying biases pulls them toward 0 for no gain in generalisation. */
static void update(kn_mlp_trainer *t, float *w, const float *g, float *m, float *v, size_t n,
                   bool decay)
{
    const kn_mlp_opt *o = &t->opt;
    float lr = o->learning_rate, wd = decay ? o->weight_decay : 0.0f;
    switch (o->kind) {
    case KN_MLP_SGD:
        if (!m) {
            for (size_t j = 0; j < n; j++)
                w[j] -= lr * (g[j] + wd * w[j]);
            break;
        }
        for (size_t j = 0; j < n; j++) {
            m[j] = o->momentum * m[j] - lr * (g[j] + wd * w[j]);
            w[j] += m[j];
        }
        break;
    case KN_MLP_NAG:
        /* Nesterov: step along the momentum as it will be after this update. */
        for (size_t j = 0; j < n; j++) {
            float gj = g[j] + wd * w[j];
            m[j] = o->momentum * m[j] + gj;
            w[j] -= lr * (gj + o->momentum * m[j]);
        }
        break;
    case KN_MLP_ADAM: {
        double k = (double)t->steps;
        float c1 = (float)(1.0 - pow(o->beta_1, k)), c2 = (float)(1.0 - pow(o->beta_2, k));
        float step = lr * sqrtf(c2) / c1; /* bias correction folded into the rate */
        for (size_t j = 0; j < n; j++) {
            float gj = g[j] + wd * w[j];
            m[j] = o->beta_1 * m[j] + (1.0f - o->beta_1) * gj;
            v[j] = o->beta_2 * v[j] + (1.0f - o->beta_2) * gj * gj;
            w[j] -= step * m[j] / (sqrtf(v[j]) + o->eps);
        }
        break;
    }
    case KN_MLP_RMSPROP:
        for (size_t j = 0; j < n; j++) {
            float gj = g[j] + wd * w[j];
            m[j] = o->gamma * m[j] + (1.0f - o->gamma) * gj * gj;
            w[j] -= lr * gj / (sqrtf(m[j]) + o->eps);
        }
        break;
    }
}

void kn_mlp_train_step(kn_mlp_trainer *t, const float *X, const uint32_t *labels, size_t B,
                       double *loss, size_t *correct)
{
    *loss += forward_loss(t, X, labels, B, correct);
    backward(t, labels, B);
    t->steps++;
    kn_mlp *net = t->net;
    for (size_t l = 0; l < net->nlayers; l++) {
        update(t, net->W[l], t->gW[l], t->m[2 * l], t->v[2 * l], net->width[l] * net->width[l + 1],
               true);
        update(t, net->b[l], t->gb[l], t->m[2 * l + 1], t->v[2 * l + 1], net->width[l + 1], false);
    }
}

/* ---- prediction ---- */

void kn_mlp_predict(const kn_mlp *net, kn_mlp_dense_forward_fn forward, const float *X, size_t B,
                    float *probs, float *scratch)
{
    size_t wide = kn_mlp_max_width(net), L = net->nlayers;
    float *in = scratch, *out = scratch + B * wide;
    for (size_t j = 0; j < B * net->width[0]; j++)
        in[j] = X[j] * net->input_scale;
    for (size_t l = 0; l < L; l++) {
        float *dst = l + 1 == L ? probs : out;
        forward(in, net->W[l], net->b[l], dst, B, net->width[l], net->width[l + 1], l + 1 < L);
        out = in;
        in = dst;
    }
    kn_mlp_softmax(probs, B, net->width[L]);
}

bool kn_mlp_parse_dims(const char *text, size_t *dims, size_t max, size_t limit, size_t *n)
{
    const char *p = text;
    *n = 0;
    while (*p == ' ')
        p++;
    bool bracket = *p == '[';
    p += bracket;
    for (;;) {
        while (*p == ' ')
            p++;
        if (*p < '0' || *p > '9' || *n == max)
            return false;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (v == 0 || v > limit)
            return false;
        dims[(*n)++] = (size_t)v;
        p = end;
        while (*p == ' ')
            p++;
        if (*p != ',')
            break;
        p++;
    }
    if (bracket && *p++ != ']')
        return false;
    while (*p == ' ')
        p++;
    return *p == '\0';
}
