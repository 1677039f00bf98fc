/* worker/agent_ctx.c - what a kernel may ask of its task (kernel.h).
 *
 * Runs on the kernel's thread. Progress is throttled here, where it is
 * produced: a report that comes too soon after the last one sent is held,
 * replacing any report held before it, and goes out either with the next
 * report allowed through or, at the latest, just before the task's answer
 * (wk_ctx_finish queues both in one critical section, so they stay in
 * order). Reports and answers reach the I/O thread through the queue;
 * an inline task is on the I/O thread already and sends directly. */
#define _GNU_SOURCE
#include "worker/agent_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool wk_cancelled(wk_task_ctx *t)
{
    if (atomic_load_explicit(&t->cancel, memory_order_acquire) != WK_CANCEL_NONE)
        return true;
    if (t->deadline_ns && wk_now_ns() >= t->deadline_ns) {
        int none = WK_CANCEL_NONE;
        atomic_compare_exchange_strong(&t->cancel, &none, WK_CANCEL_TIMEOUT);
        return true;
    }
    return false;
}

sf_rc wk_fail_cancelled(wk_task_ctx *t, asl_err *err)
{
    switch (atomic_load_explicit(&t->cancel, memory_order_acquire)) {
    case WK_CANCEL_TIMEOUT:
        asl_err_set(err, "States.Timeout", "the task ran past its timeout of %llu ms",
                    (unsigned long long)t->timeout_ms);
        break;
    case WK_CANCEL_COORDINATOR:
        asl_err_set(err, "Worker.Cancelled", "cancelled by the coordinator: %s", t->why);
        break;
    case WK_CANCEL_LOST:
        asl_err_set(err, "Worker.Cancelled",
                    "cancelled: worker %s lost its coordinator while the task ran", t->agent->id);
        break;
    case WK_CANCEL_STOPPING:
        asl_err_set(err, "Worker.Cancelled", "cancelled: worker %s is shutting down", t->agent->id);
        break;
    default:
        asl_err_set(err, "Worker.Cancelled", "cancelled");
        break;
    }
    return SF_ESTATE;
}

/* Fills r from the kernel's arguments. Metrics the protocol would refuse
 * (no name, a name over its limit, a value that is not finite) are left
 * out rather than failing the whole report. */
static void fill_report(wk_task_ctx *t, wk_report *r, double fraction, uint64_t records,
                        uint32_t epoch, const wk_metric *metrics, size_t n_metrics)
{
    if (!(fraction >= 0.0)) /* also NaN */
        fraction = 0.0;
    if (fraction > 1.0)
        fraction = 1.0;
    size_t n = 0;
    for (size_t i = 0; metrics && i < n_metrics && n < FLEET_METRICS_MAX; i++) {
        const char *name = metrics[i].name;
        size_t len = name ? strlen(name) : 0;
        if (!len || len > FLEET_METRIC_NAME_MAX || !isfinite(metrics[i].value))
            continue;
        memcpy(r->names[n], name, len + 1);
        r->metrics[n] = (fleet_metric){.name = r->names[n], .value = metrics[i].value};
        n++;
    }
    r->ev = (wk_event){.kind = WK_EV_PROGRESS, .task = t};
    r->msg.type = FLEET_PROGRESS;
    r->msg.u.progress = (fleet_progress){.task_id = t->id,
                                         .fraction = fraction,
                                         .records = records,
                                         .epoch = epoch,
                                         .metrics = n ? r->metrics : NULL,
                                         .n_metrics = n};
}

void wk_progress(wk_task_ctx *t, double fraction, uint64_t records, uint32_t epoch,
                 const wk_metric *metrics, size_t n_metrics)
{
    wk_agent *a = t->agent;
    if (!a->progress_period_ns)
        return;
    if (!t->held && !(t->held = malloc(sizeof *t->held)))
        return; /* a report is not worth failing the task over */
    fill_report(t, t->held, fraction, records, epoch, metrics, n_metrics);
    uint64_t now = wk_now_ns();
    if (t->last_progress_ns && now - t->last_progress_ns < a->progress_period_ns)
        return;
    t->last_progress_ns = now;
    wk_report *r = t->held;
    t->held = NULL;
    if (t->inline_run) {
        wk_conn_send(a, &r->msg);
        free(r);
    } else {
        wk_queue_push2(&a->queue, &r->ev, NULL);
    }
}

void wk_ctx_finish(wk_task_ctx *t)
{
    /* A kernel that returns after its deadline timed out, whatever it says:
     * the coordinator's Retry sees the same error as for one that noticed. */
    if (t->deadline_ns && wk_now_ns() >= t->deadline_ns) {
        int none = WK_CANCEL_NONE;
        atomic_compare_exchange_strong(&t->cancel, &none, WK_CANCEL_TIMEOUT);
    }
    wk_report *held = t->held;
    t->held = NULL;
    t->done = (wk_event){.kind = WK_EV_DONE, .task = t};
    wk_queue_push2(&t->agent->queue, held ? &held->ev : NULL, &t->done);
}

uint64_t wk_task_id(const wk_task_ctx *t)
{
    return t->id;
}

const char *wk_task_kernel(const wk_task_ctx *t)
{
    return t->kernel_field;
}

const char *wk_task_kernel_arg(const wk_task_ctx *t)
{
    return t->kernel_arg;
}

unsigned wk_task_cores(const wk_task_ctx *t)
{
    return t->cores;
}

unsigned wk_task_node(const wk_task_ctx *t)
{
    return t->node;
}

unsigned wk_task_core(const wk_task_ctx *t)
{
    return t->core;
}

const wk_topology *wk_task_topology(const wk_task_ctx *t)
{
    return t->agent->topo;
}

const char *wk_task_functions_dir(const wk_task_ctx *t)
{
    return t->agent->functions_dir;
}

const char *wk_task_data_root(const wk_task_ctx *t)
{
    return t->agent->data_root;
}
