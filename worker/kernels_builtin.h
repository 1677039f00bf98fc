/* worker/kernels_builtin.h - the kernels every worker has.
 *
 *   noop    output = input. Inline: runs on the I/O thread.
 *   spin    works for a while, reporting progress; for tests, benchmarks
 *           and demos of cancellation, timeouts and Retry.
 *   lambda  "lambda:NAME" runs the Lambda-style function NAME from
 *           --functions (coordinator/integrations/local_function.h).
 *
 * The real ML kernels (issue 5) register beside these. */
#ifndef WORKER_KERNELS_BUILTIN_H
#define WORKER_KERNELS_BUILTIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "coordinator/asl/diag.h"
#include "worker/kernel.h"

extern const wk_kernel wk_kernel_noop;
extern const wk_kernel wk_kernel_spin;
extern const wk_kernel wk_kernel_lambda;

/* Adds noop and spin, and lambda when with_lambda (a functions directory
 * was given): the names a worker advertises in its hello. */
sf_rc wk_registry_add_builtin(wk_registry *r, bool with_lambda);

/* spin's input: {"DurationMs": N, "Records": R, "Epochs": E, "FailAt": F}.
 * All optional: 0 ms, 0 records, 1 epoch, no failure. */
#define WK_SPIN_DURATION_MAX_MS (7ull * 24 * 3600 * 1000) /* a week */
#define WK_SPIN_EPOCHS_MAX 1000000u

typedef struct wk_spin_args {
    uint64_t duration_ms;
    uint64_t records;
    uint32_t epochs;  /* at least 1 */
    double fail_at;   /* fraction at which to fail on purpose, 0..1 */
    bool has_fail_at; /* whether FailAt was given */
} wk_spin_args;

/* Reads spin's input (borrowed). SF_EINVAL with err set to
 * States.TaskFailed and a cause naming the field when it is not an object
 * or a field has the wrong type or range; unknown fields are ignored. */
sf_rc wk_spin_args_parse(json_t *input, wk_spin_args *out, asl_err *err);

#endif
