/* worker/agent_tasks.c - taking tasks, running them, answering them.
 *
 * Every task the session accepted gets exactly one answer, a result or a
 * failure, unless its session ends first: then it is an orphan, cancelled
 * and run out without an answer (the coordinator has already failed it).
 * Inline kernels run here, on the I/O thread, with one reused context, so
 * a no-op task costs a decode, a JSON parse and an encode, and no thread
 * handoff or allocation of its own. */
#define _GNU_SOURCE
#include "worker/agent_internal.h"

#include <stdlib.h>
#include <string.h>

void wk_task_free(wk_task_ctx *t)
{
    if (!t)
        return;
    json_decref(t->input);
    json_decref(t->output);
    asl_err_clear(&t->err);
    free(t->held);
    if (!t->inline_run)
        free(t->kernel_field);
    free(t);
}

size_t wk_tasks_running(const wk_agent *a)
{
    return a->tasks.live + a->n_orphans;
}

/* Cuts s to at most max bytes, not inside a UTF-8 sequence; s is owned. */
static void cut_utf8(char *s, size_t max)
{
    if (strlen(s) <= max)
        return;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    s[max] = '\0';
}

static void send_failure(wk_agent *a, uint64_t id, const char *error, const char *cause, bool raw)
{
    /* The protocol's limits, applied here so an overlong cause from a
     * kernel shortens the message instead of losing it. */
    char name[FLEET_ERROR_MAX + 1];
    snprintf(name, sizeof name, "%s", error && error[0] ? error : "States.TaskFailed");
    cut_utf8(name, FLEET_ERROR_MAX);
    char *why = strdup(cause ? cause : "");
    if (why)
        cut_utf8(why, FLEET_CAUSE_MAX);
    fleet_msg m = {.type = FLEET_FAILURE};
    m.u.failure = (fleet_failure){.task_id = id, .error = name, .cause = why ? why : ""};
    if (raw)
        wk_conn_send_raw(a, &m);
    else
        wk_conn_send(a, &m);
    free(why);
}

/* The one answer of a task whose kernel returned. */
static void answer(wk_agent *a, wk_task_ctx *t)
{
    int cancel = atomic_load_explicit(&t->cancel, memory_order_acquire);
    if (cancel == WK_CANCEL_TIMEOUT) {
        /* whatever the kernel said: see wk_ctx_finish */
        wk_fail_cancelled(t, &t->err);
        send_failure(a, t->id, t->err.error, t->err.cause, false);
        return;
    }
    if (t->rc != SF_OK) {
        if (!t->err.error && cancel != WK_CANCEL_NONE)
            wk_fail_cancelled(t, &t->err);
        send_failure(a, t->id, t->err.error,
                     t->err.cause ? t->err.cause : "the kernel failed without saying why", false);
        return;
    }
    char *out = json_dumps(t->output ? t->output : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
    if (!out) {
        send_failure(a, t->id, "States.Runtime", "out of memory serialising the output", false);
        return;
    }
    size_t len = strlen(out);
    if (len > FLEET_PAYLOAD_MAX) {
        char cause[256];
        snprintf(cause, sizeof cause,
                 "the %s kernel's output is %zu bytes, over the %u-byte limit of a payload",
                 t->kernel->name, len, FLEET_PAYLOAD_MAX);
        send_failure(a, t->id, "States.DataLimitExceeded", cause, false);
    } else {
        fleet_msg m = {.type = FLEET_RESULT};
        m.u.result = (fleet_result){.task_id = t->id, .output = out};
        wk_conn_send(a, &m);
    }
    free(out);
}

static void send_report(wk_agent *a, wk_report *r)
{
    if (!r->ev.task->orphan)
        wk_conn_send(a, &r->msg);
    free(r);
}

static uint64_t deadline_of(uint64_t timeout_ms)
{
    if (!timeout_ms)
        return 0;
    uint64_t now = wk_now_ns();
    if (timeout_ms > (UINT64_MAX - now) / 1000000u)
        return 0; /* centuries away: none */
    return now + timeout_ms * 1000000u;
}

static void run_inline(wk_agent *a, const fleet_task *ft, const wk_admission *ad)
{
    wk_task_ctx *t = a->spare;
    const char *field = wk_admit_kernel_field(ft);
    const char *colon = strchr(field, ':');
    t->id = ft->task_id;
    t->kernel = ad->kernel;
    t->kernel_field = (char *)field; /* borrowed from the message for the call */
    t->kernel_arg = colon ? colon + 1 : "";
    t->input = ad->input;
    t->slot = (unsigned)ad->slot;
    t->node = a->nodes[ad->slot].node;
    t->core = 0;
    t->cores = ad->cores;
    t->inline_run = true;
    t->orphan = false;
    t->timeout_ms = ft->timeout_ms;
    t->deadline_ns = deadline_of(ft->timeout_ms);
    atomic_store_explicit(&t->cancel, WK_CANCEL_NONE, memory_order_relaxed);
    t->last_progress_ns = 0;
    t->output = NULL;
    t->rc = t->kernel->run(t, t->input, &t->output, &t->err);
    if (t->deadline_ns && wk_now_ns() >= t->deadline_ns)
        atomic_store_explicit(&t->cancel, WK_CANCEL_TIMEOUT, memory_order_relaxed);
    if (t->held) {
        send_report(a, t->held);
        t->held = NULL;
    }
    answer(a, t);
    json_decref(t->input);
    json_decref(t->output);
    t->input = t->output = NULL;
    t->kernel_field = NULL;
    asl_err_clear(&t->err);
}

static void job_run(void *arg, unsigned node, unsigned core)
{
    wk_task_ctx *t = arg;
    t->core = core;
    t->rc = t->kernel->run(t, t->input, &t->output, &t->err);
    wk_ctx_finish(t);
}

static void unplace(wk_agent *a, wk_task_ctx *t)
{
    wk_node_slot *s = &a->nodes[t->slot];
    s->used_cores -= t->cores;
    s->running--;
}

static void run_on_executor(wk_agent *a, const fleet_task *ft, wk_admission *ad)
{
    wk_task_ctx *t = calloc(1, sizeof *t);
    char *field = strdup(wk_admit_kernel_field(ft));
    if (!t || !field || sf_hmap_putu(&a->tasks, ft->task_id, t) != SF_OK) {
        free(t);
        free(field);
        json_decref(ad->input);
        send_failure(a, ft->task_id, "States.Runtime", "worker out of memory taking the task",
                     false);
        return;
    }
    const char *colon = strchr(field, ':');
    t->agent = a;
    t->id = ft->task_id;
    t->kernel = ad->kernel;
    t->kernel_field = field;
    t->kernel_arg = colon ? colon + 1 : "";
    t->input = ad->input;
    t->slot = (unsigned)ad->slot;
    t->node = a->nodes[ad->slot].node;
    t->cores = ad->cores;
    t->timeout_ms = ft->timeout_ms;
    t->deadline_ns = deadline_of(ft->timeout_ms);
    atomic_init(&t->cancel, WK_CANCEL_NONE);
    a->nodes[t->slot].used_cores += t->cores;
    a->nodes[t->slot].running++;
    sf_rc rc = wk_executor_submit(a->exec, t->node, job_run, t);
    if (rc != SF_OK) {
        sf_hmap_delu(&a->tasks, t->id);
        unplace(a, t);
        char cause[256];
        snprintf(cause, sizeof cause, "worker %s could not queue the task on NUMA node %u: %s",
                 a->id, t->node, sf_rc_str(rc));
        send_failure(a, t->id, "States.Runtime", cause, false);
        wk_task_free(t);
    }
}

void wk_tasks_take(wk_agent *a, fleet_task *ft)
{
    wk_caps caps = {.worker_id = a->id,
                    .reg = a->reg,
                    .nodes = a->nodes,
                    .n_nodes = a->n_nodes,
                    .max_tasks = a->max_tasks,
                    .running = wk_tasks_running(a),
                    .stopping = a->stopping};
    wk_admission ad;
    asl_err err = {0};
    if (wk_admit(&caps, ft, &ad, &err) != SF_OK) {
        send_failure(a, ft->task_id, err.error, err.cause, false);
        asl_err_clear(&err);
        return;
    }
    if (ad.kernel->inline_ok)
        run_inline(a, ft, &ad);
    else
        run_on_executor(a, ft, &ad);
}

void wk_tasks_refused(wk_agent *a, const fleet_task *ft, const char *why)
{
    char cause[512];
    snprintf(cause, sizeof cause, "worker at capacity: %s already runs %u tasks, its most (%s)",
             a->id, a->max_tasks, why);
    send_failure(a, ft->task_id, "States.TaskFailed", cause, true);
}

/* Sets why, once: only while no cancel is set, and before the flag. */
static bool cancel_task(wk_task_ctx *t, int kind, const char *why)
{
    if (atomic_load_explicit(&t->cancel, memory_order_acquire) != WK_CANCEL_NONE)
        return false;
    if (why)
        snprintf(t->why, sizeof t->why, "%s", why);
    int none = WK_CANCEL_NONE;
    return atomic_compare_exchange_strong(&t->cancel, &none, kind);
}

void wk_tasks_cancel(wk_agent *a, uint64_t id, const char *why)
{
    wk_task_ctx *t = sf_hmap_getu(&a->tasks, id);
    if (t) /* absent: it already finished, and its answer crossed the cancel */
        cancel_task(t, WK_CANCEL_COORDINATOR, why && why[0] ? why : "no reason given");
}

void wk_tasks_cancel_all(wk_agent *a, int kind)
{
    size_t i = 0;
    for (sf_hmap_slot *s; (s = sf_hmap_next(&a->tasks, &i));) {
        wk_task_ctx *t = s->value;
        cancel_task(t, kind, NULL);
        if (kind == WK_CANCEL_LOST) {
            t->orphan = true;
            a->n_orphans++;
        }
    }
    if (kind == WK_CANCEL_LOST)
        sf_hmap_free(&a->tasks); /* the tasks live on as orphans */
}

static void task_done(wk_agent *a, wk_task_ctx *t)
{
    unplace(a, t);
    if (t->orphan) {
        a->n_orphans--;
    } else {
        sf_hmap_delu(&a->tasks, t->id);
        answer(a, t);
    }
    wk_task_free(t);
}

void wk_tasks_drain(wk_agent *a)
{
    for (wk_event *e = wk_queue_take(&a->queue), *next; e; e = next) {
        next = e->next;
        if (e->kind == WK_EV_DONE)
            task_done(a, e->task);
        else
            send_report(a, (wk_report *)e);
    }
}
