/* kernels/linear/linear.h - linear-learner inside the kernels library (not public).
 *
 * SageMaker's Linear Learner (linear-learner:1): a linear model
 * z = x·W + b trained by mini-batch gradient descent on one of several
 * losses, for binary classification (a score and a label chosen by a
 * threshold), multiclass classification (softmax over num_classes) and
 * regression. The files:
 *
 *   linear_hyper.c   the hyperparameter table, and what "auto" means here
 *   linear_loss.c    losses and their gradients, metrics, threshold choice
 *   linear_train.c   the training loop: scaler, optimizers, early stopping
 *   linear_algo.c    the kn_algo: predict, response shapes, save and load
 *   linear_ref.c     the hot operations, plainly (the specification)
 *   linear_blas.c    the same with OpenBLAS sgemv/sgemm
 *   linear.cu        the same with cuBLAS
 *
 * Shapes: a batch of n rows of d features; K score columns (k per model,
 * times num_models trained side by side). All matrices float32, row-major:
 * X is (n,d), W is (d,K), b is (K), Z and dZ are (n,K), G is (d,K). */
#ifndef KN_LINEAR_H
#define KN_LINEAR_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/kn_algo.h"
#include "kernels/kn_registry.h"

extern const kn_algo kn_algo_linear_learner;

/* Z = X·W + b (b broadcast over rows; NULL: no bias). */
typedef void (*kn_linear_forward_fn)(const float *X, const float *W, const float *b, float *Z,
                                     size_t n, size_t d, size_t K);
/* G = alpha · Xᵀ·dZ (G overwritten). */
typedef void (*kn_linear_gradient_fn)(const float *X, const float *dZ, float *G, size_t n, size_t d,
                                      size_t K, float alpha);

extern const kn_op kn_linear_forward;  /* "linear.forward" */
extern const kn_op kn_linear_gradient; /* "linear.gradient" */

/* The variants, for the op table and the tests. */
void kn_linear_forward_ref(const float *X, const float *W, const float *b, float *Z, size_t n,
                           size_t d, size_t K);
void kn_linear_gradient_ref(const float *X, const float *dZ, float *G, size_t n, size_t d, size_t K,
                            float alpha);
void kn_linear_forward_blas(const float *X, const float *W, const float *b, float *Z, size_t n,
                            size_t d, size_t K);
void kn_linear_gradient_blas(const float *X, const float *dZ, float *G, size_t n, size_t d,
                             size_t K, float alpha);
/* Sets OpenBLAS's own thread count (n > 0) and returns what it was. A
 * mini-batch product is too small for OpenBLAS to split profitably, and
 * its threads fight ours (linear_pool.c) for the cores: training runs it
 * single-threaded and puts it back after. OpenBLAS has one process-wide
 * setting, so this briefly applies to other BLAS users too. */
int kn_linear_blas_threads(int n);
#ifdef SF_HAVE_CUDA
void kn_linear_forward_cuda(const float *X, const float *W, const float *b, float *Z, size_t n,
                            size_t d, size_t K);
void kn_linear_gradient_cuda(const float *X, const float *dZ, float *G, size_t n, size_t d,
                             size_t K, float alpha);
#endif

/* ---- configuration: the hyperparameters with "auto" resolved ---- */

typedef enum { LL_BINARY, LL_MULTICLASS, LL_REGRESSOR } ll_kind;

typedef enum {
    LL_LOGISTIC,
    LL_SOFTMAX,
    LL_SQUARED,
    LL_ABSOLUTE,
    LL_HINGE,
    LL_HUBER,
    LL_QUANTILE,
    LL_EPS_SQUARED,
    LL_EPS_ABSOLUTE,
} ll_loss;

typedef enum { LL_SGD, LL_ADAM, LL_RMSPROP } ll_optimizer;

typedef enum {
    LL_SEL_ACCURACY,
    LL_SEL_F_BETA,
    LL_SEL_PRECISION_AT_RECALL,
    LL_SEL_RECALL_AT_PRECISION,
    LL_SEL_LOSS,
} ll_selection;

typedef struct ll_config {
    ll_kind kind;
    ll_loss loss;
    ll_optimizer optimizer;
    ll_selection selection;
    size_t k;           /* score columns per model: 1, or num_classes */
    size_t num_models;  /* trained side by side, the best kept */
    size_t feature_dim; /* 0: from the data */
    size_t epochs, batch;
    double lr, beta1, beta2, momentum;
    double l1, wd, bias_lr_mult, bias_wd_mult;
    bool use_bias, normalize_data, unbias_data, normalize_label, unbias_label;
    size_t num_point_for_scaler, num_calibration_samples;
    double pos_weight; /* positive_example_weight_mult; < 0: "balanced" */
    bool balance_multiclass;
    double huber_delta, quantile, margin, eps_insensitivity;
    double f_beta, target_precision, target_recall;
    size_t top_k;
    size_t patience;
    double tolerance;
    bool use_scheduler;
    double sched_factor, sched_min_lr;
    size_t sched_step;
    bool init_normal;
    double init_scale, init_sigma, init_bias;
} ll_config;

/* The table's length is spelt out so that kn_algo_linear_learner can use
 * it as a constant; the compiler checks it against the table. */
#define LL_NHYPER 44
extern const kn_hp_spec kn_linear_hyper[LL_NHYPER];

sf_rc ll_config_from_hp(const kn_hp *hp, ll_config *c, kn_err *err);
const char *ll_loss_name(ll_loss l);

/* ---- the trained model ---- */

typedef struct ll_state {
    ll_kind kind;
    ll_loss loss;
    size_t d, k;
    float *w;        /* (d,k), in the units of the raw features: the scaler is folded in */
    float *b;        /* (k) */
    float threshold; /* binary: predicted_label = score > threshold */
} ll_state;

void ll_state_free(void *state);

/* ---- a few threads that share a mini-batch (linear_pool.c) ---- */

typedef struct ll_pool ll_pool;

/* threads in all, the caller's included; NULL when threads < 2 or on
 * failure (the caller then does all the work itself). */
ll_pool *ll_pool_new(size_t threads);
/* Runs fn(arg, part) for part 0..threads-1, part 0 on the calling thread,
 * and returns when all are done. */
void ll_pool_run(ll_pool *p, void (*fn)(void *arg, size_t part), void *arg);
void ll_pool_destroy(ll_pool **p);

/* The kn_algo's train (linear_train.c). */
sf_rc ll_train(const kn_hp *hp, kn_source *train, kn_source *validation,
               const kn_progress *progress, kn_model **out, kn_err *err);

/* ---- losses (linear_loss.c) ---- */

/* Per-row loss weights and label scaling the loss needs beyond cfg. */
typedef struct ll_lossctx {
    const ll_config *cfg;
    double pos_weight;              /* binary: weight of a label-1 row */
    const float *class_w;           /* multiclass: weight per class, or NULL */
    double label_mean, label_scale; /* regression: labels seen as (y-mean)/scale */
} ll_lossctx;

/* For n rows of Z (n, K = num_models × k) and their labels: dZ (may be
 * NULL: loss only) gets the loss's gradient with respect to Z, and
 * loss[m] += the summed loss of model m in the labels' own units. */
void ll_loss_rows(const ll_lossctx *lc, const float *Z, const float *labels, size_t n,
                  size_t num_models, float *dZ, double *loss);

/* Checks a batch's labels for the predictor type ("ClientError: ..."). */
sf_rc ll_check_labels(const ll_config *cfg, const float *labels, size_t n, uint64_t first_row,
                      kn_err *err);

/* Binary scores and labels kept to choose a threshold on. */
typedef struct ll_calib {
    float *score, *label;
    size_t n, cap;
} ll_calib;

typedef struct ll_binary_metrics {
    double accuracy, precision, recall, f_beta;
} ll_binary_metrics;

/* The threshold the selection criterion prefers on cal (sorted in place),
 * and the metrics at it. */
float ll_choose_threshold(const ll_config *cfg, ll_calib *cal, float fallback,
                          ll_binary_metrics *at);
ll_binary_metrics ll_binary_at(const ll_config *cfg, const ll_calib *cal, float threshold);

/* A row's scores from its raw outputs z (k of them), as predict returns
 * them: σ(z) for logistic, softmax for multiclass, z itself otherwise. */
void ll_scores(ll_kind kind, ll_loss loss, const float *z, float *score, size_t k);

#endif
