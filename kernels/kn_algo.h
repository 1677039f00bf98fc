/* kernels/kn_algo.h - what an algorithm is, to the rest of statefleet.
 *
 * Each of SageMaker's built-in algorithms we run natively is one kn_algo:
 * its hyperparameter table, training from streams of rows, prediction on a
 * batch of rows, the shape of its results, and saving and loading its
 * model. The worker trains through it, batch transform predicts through
 * it, and kernels/formats/ writes its results in SageMaker's response
 * shapes, so none of them knows any one algorithm. */
#ifndef KN_ALGO_H
#define KN_ALGO_H

#include "kn_hyper.h"
#include "kn_model.h"
#include "kn_types.h"

/* A stream of rows, a batch at a time. Readers of files make one
 * (kernels/formats/kn_reader.h); kn_mem_source makes one from memory. */
typedef struct kn_source {
    void *ctx;
    /* Fills X (cols = feature_dim, room for max rows) and, when labels is
     * not NULL, one label per row; sets X->rows (0: the end). */
    sf_rc (*next)(void *ctx, kn_matrix *X, float *labels, size_t max, kn_err *err);
    /* Back to the first row, for another epoch. */
    sf_rc (*rewind)(void *ctx, kn_err *err);
    size_t feature_dim; /* columns, labels excluded */
} kn_source;

/* Fills X (X->cols set, room for cap rows) with up to cap rows and no
 * labels, calling next until full or at the end: a source may hand back
 * fewer rows than asked for before its end. Sets X->rows (fewer than cap
 * only at the end); a batch of another width is a ClientError. */
sf_rc kn_source_fill(kn_source *src, kn_matrix *X, size_t cap, kn_err *err);

/* Where a kn_mem_source is; its ctx points here. */
typedef struct kn_mem_source_state {
    const float *X, *labels;
    size_t rows, cols, pos, batch;
} kn_mem_source_state;

/* A source over rows already in memory: the rows of X and, when labels is
 * not NULL, labels[i] for row i. Both are borrowed and must outlive the
 * source, as must st. batch > 0 is the most rows one call to next hands
 * back, fewer than asked as a file reader at its buffer's edge may; 0
 * hands back as many as asked. Asking a source made without labels for
 * labels is a ClientError. */
kn_source kn_mem_source(kn_mem_source_state *st, const kn_matrix *X, const float *labels,
                        size_t batch);

/* One field of a per-record result: {"score": 0.4}, {"projection": [..]}. */
typedef struct kn_field {
    const char *name;
    size_t width;  /* floats it takes; 1 with vector false is a scalar */
    bool vector;   /* written as an array even when width is 1 */
    bool integral; /* a label or cluster index: written without a fraction
                      in CSV, as SageMaker's float in JSON (1.0) */
} kn_field;

/* The shape of a model's results: JSON {"<top>": [{field: value, ...}]},
 * JSON Lines one {field: value} per line, CSV the fields in order. */
typedef struct kn_response {
    const char *top; /* "predictions"; PCA: "projections" */
    kn_field fields[4];
    size_t nfields;
    size_t width; /* sum of the fields' widths: floats per record */
} kn_response;

typedef struct kn_algo {
    const char *name; /* SageMaker's: "linear-learner", "kmeans", "pca", "image-classifier" */
    const kn_hp_spec *hyper;
    size_t nhyper;
    bool supervised; /* training rows carry a label (CSV: the first column) */
    /* validation may be NULL. progress may be NULL. */
    sf_rc (*train)(const kn_hp *hp, kn_source *train, kn_source *validation,
                   const kn_progress *progress, kn_model **out, kn_err *err);
    void (*response)(const kn_model *m, kn_response *out);
    /* out: X->rows × response width floats. */
    sf_rc (*predict)(const kn_model *m, const kn_matrix *X, float *out, kn_err *err);
    /* The model's parameters, by name (see kn_model.h). */
    sf_rc (*save)(const kn_model *m, kn_model_writer *w, kn_err *err);
    sf_rc (*load)(kn_model_reader *r, kn_model *m, kn_err *err); /* fills m->state */
    void (*free_state)(void *state);
} kn_algo;

/* The algorithm SageMaker would run for name: an algorithm name
 * ("linear-learner"), or a TrainingImage such as
 * "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1" (matched
 * on the repository name, not the account). NULL when we have none. */
const kn_algo *kn_algo_find(const char *name_or_image);

/* Every algorithm, for listings: a NULL-terminated array. */
const kn_algo *const *kn_algos(void);

#endif
