/* kernels/mlp/mlp.h - the image classifier's insides: dense layers and the network.
 *
 * The algorithm (mlp_algo.c) is SageMaker's "image-classifier" played by a
 * multi-layer perceptron: flattened images in, ReLU hidden layers, a
 * softmax over num_classes out. Its two hot operations are kn_ops with a
 * reference (mlp_ref.c, the specification), an OpenBLAS (mlp_blas.c) and
 * a CUDA (mlp.cu) variant; the network code (mlp_net.c) only calls them
 * through the pointers kn_pick hands out, so it never knows which runs.
 *
 * Shapes: a batch of B rows, a layer from K inputs to N outputs. All
 * matrices are float32, row-major, contiguous. X is (B,K), W is (K,N),
 * b is (N), Y and dY are (B,N), dX is (B,K). W is stored input-major so
 * that the forward pass is the plain product X·W. */
#ifndef KN_MLP_H
#define KN_MLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kn_algo.h"
#include "kernels/kn_registry.h"

extern const kn_algo kn_algo_image_classifier;

/* Y = X·W + b, then max(Y, 0) when relu. Y must not alias X. */
typedef void (*kn_mlp_dense_forward_fn)(const float *X, const float *W, const float *b, float *Y,
                                        size_t B, size_t K, size_t N, bool relu);

/* The gradients of a dense layer given dY, the loss's gradient at its
 * (pre-activation) output: dW = Xᵀ·dY, db = the column sums of dY, and,
 * when dX is not NULL, dX = dY·Wᵀ. relu_in says X came out of a ReLU, so
 * dX is also masked where X is 0 (the ReLU's own backward, fused here
 * because X is the only thing it needs). dW, db and dX are overwritten. */
typedef void (*kn_mlp_dense_backward_fn)(const float *X, const float *W, const float *dY, float *dW,
                                         float *db, float *dX, size_t B, size_t K, size_t N,
                                         bool relu_in);

extern const kn_op kn_mlp_dense_forward;  /* "mlp.dense_forward" */
extern const kn_op kn_mlp_dense_backward; /* "mlp.dense_backward" */

void kn_mlp_dense_forward_ref(const float *X, const float *W, const float *b, float *Y, size_t B,
                              size_t K, size_t N, bool relu);
void kn_mlp_dense_backward_ref(const float *X, const float *W, const float *dY, float *dW,
                               float *db, float *dX, size_t B, size_t K, size_t N, bool relu_in);
void kn_mlp_dense_forward_blas(const float *X, const float *W, const float *b, float *Y, size_t B,
                               size_t K, size_t N, bool relu);
void kn_mlp_dense_backward_blas(const float *X, const float *W, const float *dY, float *dW,
                                float *db, float *dX, size_t B, size_t K, size_t N, bool relu_in);
#ifdef SF_HAVE_CUDA
/* Host pointers in and out: each call copies to and from the device
 * (see mlp.cu for why, and what it costs). */
void kn_mlp_dense_forward_cuda(const float *X, const float *W, const float *b, float *Y, size_t B,
                               size_t K, size_t N, bool relu);
void kn_mlp_dense_backward_cuda(const float *X, const float *W, const float *dY, float *dW,
                                float *db, float *dX, size_t B, size_t K, size_t N, bool relu_in);
#endif

/* ---- the network (mlp_net.c) ---- */

#define KN_MLP_MAX_HIDDEN 8                       /* hidden layers */
#define KN_MLP_MAX_LAYERS (KN_MLP_MAX_HIDDEN + 1) /* dense layers, the output one included */
#define KN_MLP_MAX_WIDTH 65536                    /* units in one layer, inputs included */
#define KN_MLP_MAX_PARAMS ((size_t)1 << 28)       /* 1 GiB of weights */

typedef enum { KN_MLP_SGD, KN_MLP_NAG, KN_MLP_ADAM, KN_MLP_RMSPROP } kn_mlp_optimizer;

typedef struct kn_mlp_opt {
    kn_mlp_optimizer kind;
    float learning_rate, momentum, weight_decay;
    float beta_1, beta_2, eps; /* adam */
    float gamma;               /* rmsprop's decay */
} kn_mlp_opt;

/* The parameters. Dense layer l maps width[l] to width[l+1] units;
 * W[l] is (width[l], width[l+1]), b[l] is (width[l+1]). Every layer but
 * the last is followed by a ReLU; the last one's outputs are logits. */
typedef struct kn_mlp {
    size_t nlayers;
    size_t width[KN_MLP_MAX_LAYERS + 1];
    float *W[KN_MLP_MAX_LAYERS], *b[KN_MLP_MAX_LAYERS];
    float input_scale; /* multiplies every input value first: 1/255 for pixels */
} kn_mlp;

/* A network of nlayers dense layers with the given widths (nlayers + 1 of
 * them: inputs first, classes last), parameters zero. NULL when out of
 * memory or past the caps above (the caller checks the caps first to say
 * which). */
kn_mlp *kn_mlp_new(const size_t *width, size_t nlayers);
void kn_mlp_destroy(kn_mlp **net);
size_t kn_mlp_param_count(const kn_mlp *net);

/* He initialisation (normal, variance 2/fan_in), biases zero: the
 * variance ReLU layers need to keep their activations from shrinking. */
void kn_mlp_init_he(kn_mlp *net, uint64_t seed);

/* What a training step needs besides the parameters: activations,
 * gradients and optimizer state for batches of up to max_batch rows. */
typedef struct kn_mlp_trainer kn_mlp_trainer;

/* forward and backward are the ops' implementations (kn_pick). The trainer
 * borrows net, which must outlive it. */
kn_mlp_trainer *kn_mlp_trainer_new(kn_mlp *net, size_t max_batch, const kn_mlp_opt *opt,
                                   kn_mlp_dense_forward_fn forward,
                                   kn_mlp_dense_backward_fn backward);
void kn_mlp_trainer_destroy(kn_mlp_trainer **t);

/* The learning rate from the next step on (schedules change it per epoch). */
void kn_mlp_trainer_set_rate(kn_mlp_trainer *t, float learning_rate);

/* One mini-batch: X is (B, width[0]) raw inputs (scaled here), labels are
 * class indices < width[nlayers]. Adds the batch's summed cross-entropy to
 * *loss and its correct predictions to *correct, then takes one optimizer
 * step. */
void kn_mlp_train_step(kn_mlp_trainer *t, const float *X, const uint32_t *labels, size_t B,
                       double *loss, size_t *correct);

/* The loss's gradients for one batch without a step, for gradient checks:
 * afterwards kn_mlp_grad_W / kn_mlp_grad_b read them (same shapes as the
 * parameters). Returns the mean cross-entropy. */
double kn_mlp_gradients(kn_mlp_trainer *t, const float *X, const uint32_t *labels, size_t B);
const float *kn_mlp_grad_W(const kn_mlp_trainer *t, size_t layer);
const float *kn_mlp_grad_b(const kn_mlp_trainer *t, size_t layer);

/* Class probabilities for B rows of raw inputs: probs is (B, classes).
 * scratch holds 2 × B × (the widest layer) floats. */
void kn_mlp_predict(const kn_mlp *net, kn_mlp_dense_forward_fn forward, const float *X, size_t B,
                    float *probs, float *scratch);
size_t kn_mlp_max_width(const kn_mlp *net);

/* Rows of logits to probabilities, in place, stable for large logits. */
void kn_mlp_softmax(float *Z, size_t B, size_t C);

/* Parses "256,128" or "1,28,28" (also "[256,128]", spaces allowed): at
 * most max positive integers each at most limit. False when malformed. */
bool kn_mlp_parse_dims(const char *text, size_t *dims, size_t max, size_t limit, size_t *n);

#endif
