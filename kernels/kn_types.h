/* kernels/kn_types.h - what every kernel shares: matrices, errors, progress.
 *
 * Data is float32, row-major and contiguous: a record is a row. Kernels
 * know nothing of the fleet, files or JSON requests: readers
 * (kernels/formats/) turn bytes into batches of rows, algorithms turn rows
 * into models and predictions, writers turn predictions into SageMaker's
 * response shapes. */
#ifndef KN_TYPES_H
#define KN_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sf_rc.h"

/* rows × cols floats, row-major; data owned by whoever made it. */
typedef struct kn_matrix {
    size_t rows, cols;
    float *data;
} kn_matrix;

static inline float *kn_row(const kn_matrix *m, size_t r)
{
    return m->data + r * m->cols;
}

/* An error as SageMaker reports a failed job: a reason for a person
 * ("ClientError: ..." for bad data or hyperparameters, "AlgorithmError:
 * ..." for the algorithm's own failure), and where when it is about data. */
typedef struct kn_err {
    char msg[1024];
} kn_err;

/* Formats into err->msg (when err is not NULL) and returns rc. */
sf_rc kn_fail(kn_err *err, sf_rc rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A training metric, named as SageMaker names them ("train:objective_loss",
 * "validation:binary_classification_accuracy"). */
typedef struct kn_metric {
    const char *name;
    double value;
} kn_metric;

/* How a long kernel reports and learns it should stop. Either function may
 * be NULL. report is called at most a few times per second per kernel (the
 * worker throttles further); cancelled is polled between mini-batches. */
typedef struct kn_progress {
    void *ctx;
    void (*report)(void *ctx, double fraction, uint64_t records, uint32_t epoch,
                   const kn_metric *metrics, size_t n);
    bool (*cancelled)(void *ctx);
} kn_progress;

static inline void kn_report(const kn_progress *p, double fraction, uint64_t records,
                             uint32_t epoch, const kn_metric *metrics, size_t n)
{
    if (p && p->report)
        p->report(p->ctx, fraction, records, epoch, metrics, n);
}

static inline bool kn_cancelled(const kn_progress *p)
{
    return p && p->cancelled && p->cancelled(p->ctx);
}

#endif
