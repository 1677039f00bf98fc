/* worker/kernels_builtin.c - noop, spin and lambda (see kernels_builtin.h).
 *
 * spin and lambda run on executor threads and must stay responsive to
 * wk_cancelled: spin sleeps in slices of at most 10 ms, lambda polls its
 * function's output every 50 ms. Neither prints. */
#define _GNU_SOURCE
#include "worker/kernels_builtin.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "coordinator/integrations/local_function.h"
#include "worker/kernels_ml.h"

/* ---- noop --------------------------------------------------------------- */

static sf_rc noop_run(wk_task_ctx *ctx, json_t *input, json_t **output, asl_err *err)
{
    *output = json_incref(input);
    return SF_OK;
}

const wk_kernel wk_kernel_noop = {.name = "noop", .run = noop_run, .inline_ok = true};

/* ---- spin --------------------------------------------------------------- */

#define SPIN_SLICE_MS 10

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A non-negative integer field no larger than max; absent keeps *out. */
static sf_rc spin_uint(json_t *input, const char *key, uint64_t max, uint64_t *out, asl_err *err)
{
    json_t *v = json_object_get(input, key);
    if (!v)
        return SF_OK;
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        (uint64_t)json_integer_value(v) <= max) {
        *out = (uint64_t)json_integer_value(v);
        return SF_OK;
    }
    /* Whole numbers written as reals (2.0) are common in generated input. */
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d >= 0 && d <= (double)max && d == floor(d)) {
            *out = (uint64_t)d;
            return SF_OK;
        }
    }
    asl_err_set(err, "States.TaskFailed", "spin: %s must be a whole number from 0 to %llu, got %s",
                key, (unsigned long long)max,
                json_is_string(v)   ? "a string"
                : json_is_number(v) ? "a number outside that range"
                                    : "another kind of value");
    return SF_EINVAL;
}

sf_rc wk_spin_args_parse(json_t *input, wk_spin_args *out, asl_err *err)
{
    *out = (wk_spin_args){.epochs = 1};
    if (!json_is_object(input)) {
        asl_err_set(err, "States.TaskFailed",
                    "spin: the input must be an object such as {\"DurationMs\": 100}");
        return SF_EINVAL;
    }
    uint64_t epochs = 1;
    if (spin_uint(input, "DurationMs", WK_SPIN_DURATION_MAX_MS, &out->duration_ms, err) ||
        spin_uint(input, "Records", (uint64_t)1 << 53, &out->records, err) ||
        spin_uint(input, "Epochs", WK_SPIN_EPOCHS_MAX, &epochs, err))
        return SF_EINVAL;
    if (epochs == 0) {
        asl_err_set(err, "States.TaskFailed", "spin: Epochs must be at least 1");
        return SF_EINVAL;
    }
    out->epochs = (uint32_t)epochs;
    json_t *f = json_object_get(input, "FailAt");
    if (f && !json_is_null(f)) {
        double d = json_number_value(f);
        if (!json_is_number(f) || !(d >= 0.0 && d <= 1.0)) {
            asl_err_set(err, "States.TaskFailed",
                        "spin: FailAt must be a fraction from 0 to 1 (or absent)");
            return SF_EINVAL;
        }
        out->fail_at = d;
        out->has_fail_at = true;
    }
    return SF_OK;
}

/* Where a spin of a given length stands after elapsed ms. */
static void spin_report(wk_task_ctx *ctx, const wk_spin_args *a, double frac)
{
    uint32_t epoch = 1 + (uint32_t)(frac * a->epochs);
    if (epoch > a->epochs)
        epoch = a->epochs;
    /* A made-up loss curve that falls the way training loss does. */
    wk_metric loss = {"train:objective_loss", 0.1 + 2.2 / (1.0 + 9.0 * frac)};
    wk_progress(ctx, frac, (uint64_t)((double)a->records * frac), epoch, &loss, 1);
}

static sf_rc spin_run(wk_task_ctx *ctx, json_t *input, json_t **output, asl_err *err)
{
    wk_spin_args a;
    if (wk_spin_args_parse(input, &a, err) != SF_OK)
        return SF_EINVAL;
    uint64_t start = now_ms();
    for (;;) {
        if (wk_cancelled(ctx))
            return wk_fail_cancelled(ctx, err);
        uint64_t elapsed = now_ms() - start;
        double frac = a.duration_ms ? (double)elapsed / (double)a.duration_ms : 1.0;
        if (frac > 1.0)
            frac = 1.0;
        spin_report(ctx, &a, frac);
        if (a.has_fail_at && frac >= a.fail_at) {
            asl_err_set(err, "Spin.InjectedFailure", "spin failed on purpose at %.0f%% (FailAt %g)",
                        frac * 100.0, a.fail_at);
            return SF_EINVAL;
        }
        if (frac >= 1.0)
            break;
        uint64_t left = a.duration_ms - elapsed;
        uint64_t slice = left < SPIN_SLICE_MS ? left : SPIN_SLICE_MS;
        struct timespec ts = {0, (long)slice * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    *output = json_pack("{s:I,s:I,s:I}", "Records", (json_int_t)a.records, "Epochs",
                        (json_int_t)a.epochs, "ElapsedMs", (json_int_t)(now_ms() - start));
    if (!*output) {
        asl_err_set(err, "States.Runtime", "spin: out of memory");
        return SF_ENOMEM;
    }
    return SF_OK;
}

const wk_kernel wk_kernel_spin = {.name = "spin", .run = spin_run, .inline_ok = false};

/* ---- lambda ------------------------------------------------------------- */

#define LAMBDA_POLL_MS 50 /* how often a running function checks for cancellation */

static sf_rc lambda_run(wk_task_ctx *ctx, json_t *input, json_t **output, asl_err *err)
{
    const char *dir = wk_task_functions_dir(ctx);
    const char *name = wk_task_kernel_arg(ctx);
    if (!dir) {
        asl_err_set(err, "States.TaskFailed",
                    "this worker has no functions directory (start it with --functions DIR)");
        return SF_EINVAL;
    }
    if (!name[0]) {
        asl_err_set(err, "States.TaskFailed",
                    "the kernel field must name the function, as in \"lambda:NAME\"");
        return SF_EINVAL;
    }
    integ_fn *fn = NULL;
    sf_rc rc = integ_fn_start(dir, name, input, &fn, err);
    if (rc != SF_OK)
        return rc;
    for (;;) {
        if (wk_cancelled(ctx)) {
            integ_fn_destroy(&fn); /* kills and reaps it */
            return wk_fail_cancelled(ctx, err);
        }
        struct pollfd p = {.fd = integ_fn_fd(fn), .events = POLLIN};
        int n = poll(&p, 1, LAMBDA_POLL_MS);
        if (n < 0 && errno != EINTR) {
            asl_err_set(err, "States.Runtime", "lambda %s: poll failed: %s", name, strerror(errno));
            integ_fn_destroy(&fn);
            return SF_EIO;
        }
        if (n <= 0)
            continue;
        int r = integ_fn_read(fn);
        if (r < 0) {
            asl_err_set(err, "States.Runtime", "lambda %s: cannot read its output: %s", name,
                        strerror(errno));
            integ_fn_destroy(&fn);
            return SF_EIO;
        }
        if (r == 1)
            break;
    }
    rc = integ_fn_finish(fn, output, err);
    integ_fn_destroy(&fn);
    return rc;
}

const wk_kernel wk_kernel_lambda = {.name = "lambda", .run = lambda_run, .inline_ok = false};

sf_rc wk_registry_add_builtin(wk_registry *r, bool with_lambda)
{
    sf_rc rc = wk_registry_add(r, &wk_kernel_noop);
    if (rc == SF_OK)
        rc = wk_registry_add(r, &wk_kernel_spin);
    if (rc == SF_OK && with_lambda)
        rc = wk_registry_add(r, &wk_kernel_lambda);
    return rc == SF_OK ? wk_register_ml_kernels(r) : rc; /* train, transform: kernels_ml.h */
}
