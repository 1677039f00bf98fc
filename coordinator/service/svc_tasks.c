/* service/svc_tasks.c - turning the engine's commands into work.
 *
 * A task opens when the engine asks for it and is dispatched only after
 * the batch holding its Scheduled event commits. Activities wait in their
 * activity's queue for a GetActivityTask poller; local functions and Map
 * item reads and result writes go to a fixed pool of runner threads;
 * callback tasks wait for their token. Runners check every so often that
 * their task is still wanted, so a timeout or a stop kills the function. */
#define _GNU_SOURCE
#include "svc_internal.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/sf_grow.h"
#include "../integrations/function_task.h"
#include "../integrations/local_function.h"
#include "../integrations/map_io.h"
#include "../integrations/resource.h"

static task_kind classify(const asl_cmd *c)
{
    if (c->type == ASL_CMD_READ_ITEMS || c->type == ASL_CMD_WRITE_RESULTS)
        return TK_MAP_IO;
    integ_resource r;
    if (!c->resource || integ_resource_parse(c->resource, &r) != SF_OK)
        return TK_UNSUPPORTED;
    if (r.kind == INTEG_RES_ACTIVITY)
        return TK_ACTIVITY;
    /* Functions run on the fleet; only a callback's (which just hands its
     * token on) stays here. */
    if (integ_is_function(&r))
        return r.pattern == INTEG_PATTERN_TOKEN ? TK_FUNCTION : TK_FLEET;
    if (svc_fleet_is_kernel(&r))
        return TK_FLEET;
    if (r.pattern == INTEG_PATTERN_TOKEN)
        return TK_CALLBACK;
    return TK_UNSUPPORTED;
}

void svc_task_open(svc *s, svc_exec *x, const asl_cmd *c)
{
    svc_task *t = calloc(1, sizeof *t);
    if (!t || sf_grow((void **)&x->tasks, &x->captasks, x->ntasks + 1, sizeof *x->tasks, 4,
                      SIZE_MAX / 2) != SF_OK)
        abort(); /* no half-recorded changes; see svc_core.c */
    t->id = c->task_id;
    t->cmd = c->type;
    t->kind = classify(c);
    t->token = c->token ? strdup(c->token) : NULL;
    t->resource = c->resource ? strdup(c->resource) : NULL;
    t->state_name = c->state_name ? strdup(c->state_name) : NULL;
    t->input = json_incref(c->input);
    x->tasks[x->ntasks++] = t;
    if (t->kind == TK_FLEET)
        svc_fleet_plan(t, c);
    if (x->replaying)
        return;
    if (t->token)
        svc_write(s, (wop){.kind = W_TOKEN, .a = x->id, .u = t->id}, t->token, NULL, NULL, NULL);
    svc_act(s, ACT_DISPATCH, x->id, t->id);
}

static void fail(svc *s, svc_exec *x, svc_task *t, const char *error, const char *cause)
{
    svc_drive(s, x, &(svc_input){.kind = STORE_IN_TASK_FAILED, .task_id = t->id, .a = error,
                                 .b = cause});
}

static void enqueue_activity(svc *s, svc_exec *x, svc_task *t)
{
    svc_activity *a = sf_hmap_gets(&s->activities, t->resource);
    if (!a) {
        char cause[600];
        snprintf(cause, sizeof cause, "Activity '%s' of state '%s' does not exist", t->resource,
                 t->state_name);
        fail(s, x, t, "States.TaskFailed", cause);
        return;
    }
    if (a->qhead > 0 && a->qhead + a->qlen == a->qcap) { /* reuse the popped front */
        memmove(a->queue, a->queue + a->qhead, a->qlen * sizeof *a->queue);
        a->qhead = 0;
    }
    if (sf_grow((void **)&a->queue, &a->qcap, a->qhead + a->qlen + 1, sizeof *a->queue, 16,
                SIZE_MAX / 64) != SF_OK)
        abort();
    a->queue[a->qhead + a->qlen].exec_id = x->id;
    a->queue[a->qhead + a->qlen].task_id = t->id;
    a->qlen++;
    t->queued = true;
    pthread_cond_signal(&a->cv);
}

static void push_job(svc *s, svc_exec *x, svc_task *t)
{
    runner_job *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    j->exec_id = x->id;
    j->task_id = t->id;
    if (s->jobs_tail)
        s->jobs_tail->next = j;
    else
        s->jobs_head = j;
    s->jobs_tail = j;
    pthread_cond_signal(&s->runner_cv);
}

void svc_announce_callback(svc *s, svc_exec *x, svc_task *t)
{
    char *in = json_dumps(t->input, JSON_COMPACT | JSON_ENCODE_ANY);
    svc_log(s, "execution %s, state '%s' waits for its task token (%s); message: %s", x->arn,
            t->state_name, t->resource, in ? in : "?");
    free(in);
    if (s->public_url)
        svc_log(s, "approve: %s/approve/%s  reject: %s/reject/%s", s->public_url, t->token,
                s->public_url, t->token);
}

void svc_task_dispatch(svc *s, int64_t exec_id, uint64_t task_id)
{
    svc_exec *x = sf_hmap_getu(&s->execs, (uint64_t)exec_id);
    svc_task *t = x ? svc_exec_task(x, task_id) : NULL;
    if (!t)
        return; /* it ended (timed out, cancelled) before its turn */
    switch (t->kind) {
    case TK_ACTIVITY:
        enqueue_activity(s, x, t);
        break;
    case TK_FUNCTION:
    case TK_MAP_IO:
        push_job(s, x, t);
        break;
    case TK_FLEET:
        svc_fleet_dispatch(s, x, t);
        break;
    case TK_CALLBACK:
        svc_announce_callback(s, x, t);
        svc_drive(s, x, &(svc_input){.kind = STORE_IN_TASK_STARTED, .task_id = t->id});
        break;
    case TK_UNSUPPORTED: {
        char cause[700];
        snprintf(cause, sizeof cause,
                 "Resource '%s' of state '%s' is not one this coordinator runs (activities, "
                 "Lambda-style local functions, statefleet:runKernel and .waitForTaskToken "
                 "callbacks)",
                 t->resource ? t->resource : "?", t->state_name ? t->state_name : "?");
        fail(s, x, t, "States.TaskFailed", cause);
        break;
    }
    }
}

/* ---- runners ------------------------------------------------------------- */

/* What a runner needs, copied out so it can work unlocked. */
typedef struct job_work {
    task_kind kind;
    asl_cmd_type cmd;
    integ_fn_call call;
    bool callback; /* lambda:invoke.waitForTaskToken: only failures answer */
    json_t *input;
    char state_name[256];
} job_work;

static bool still_open(svc *s, const runner_job *j)
{
    svc_exec *x = sf_hmap_getu(&s->execs, (uint64_t)j->exec_id);
    return x && svc_exec_task(x, j->task_id);
}

/* Reports a runner's outcome (mu held). A task that ended meanwhile
 * (timeout, stop) ignores it. */
static void report(svc *s, const runner_job *j, json_t *out, asl_err *err)
{
    svc_exec *x = sf_hmap_getu(&s->execs, (uint64_t)j->exec_id);
    if (!x)
        return;
    if (out)
        svc_drive(s, x, &(svc_input){.kind = STORE_IN_TASK_SUCCEEDED, .task_id = j->task_id,
                                     .payload = out});
    else
        svc_drive(s, x, &(svc_input){.kind = STORE_IN_TASK_FAILED, .task_id = j->task_id,
                                     .a = err->error ? err->error : "States.TaskFailed",
                                     .b = err->cause});
}

static json_t *run_function(svc *s, const runner_job *j, job_work *w, asl_err *err)
{
    if (!s->functions_dir) {
        asl_err_set(err, "Lambda.ResourceNotFoundException",
                    "the coordinator has no functions directory (--functions DIR) for function %s",
                    w->call.name);
        return NULL;
    }
    integ_fn *fn = NULL;
    if (integ_fn_start(s->functions_dir, w->call.name, w->call.payload, &fn, err) != SF_OK)
        return NULL;
    for (;;) {
        struct pollfd pf = {.fd = integ_fn_fd(fn), .events = POLLIN};
        int n = poll(&pf, 1, 100);
        if (n > 0 && integ_fn_read(fn) != 0)
            break;
        pthread_mutex_lock(&s->mu);
        bool open = still_open(s, j) && !s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (!open) {
            integ_fn_destroy(&fn); /* kills it: nobody wants its answer */
            return NULL;
        }
    }
    json_t *result = NULL;
    sf_rc rc = integ_fn_finish(fn, &result, err);
    integ_fn_destroy(&fn);
    if (rc != SF_OK)
        return NULL;
    if (!w->call.wrap_invoke)
        return result;
    json_t *wrapped = integ_invoke_response(result);
    json_decref(result);
    return wrapped;
}

static json_t *run_map_io(svc *s, job_work *w, asl_err *err)
{
    bool reading = w->cmd == ASL_CMD_READ_ITEMS;
    if (!s->objstore) {
        asl_err_set(err, reading ? "States.ItemReaderFailed" : "States.ResultWriterFailed",
                    "the coordinator has no object store (--data-root DIR) for state '%s'",
                    w->state_name);
        return NULL;
    }
    json_t *out = NULL;
    sf_rc rc = reading ? integ_read_items(s->objstore, w->input, &out, err)
                       : integ_write_results(s->objstore, w->input, &out, err);
    return rc == SF_OK ? out : NULL;
}

/* Takes the job's task (mu held): marks it started and copies its work. */
static bool claim(svc *s, const runner_job *j, job_work *w)
{
    svc_exec *x = sf_hmap_getu(&s->execs, (uint64_t)j->exec_id);
    svc_task *t = x ? svc_exec_task(x, j->task_id) : NULL;
    if (!t)
        return false;
    *w = (job_work){.kind = t->kind, .cmd = t->cmd, .input = json_incref(t->input)};
    snprintf(w->state_name, sizeof w->state_name, "%s", t->state_name ? t->state_name : "");
    if (t->kind == TK_MAP_IO)
        return true;
    integ_resource r;
    asl_err err = {0};
    if (integ_resource_parse(t->resource, &r) != SF_OK ||
        integ_fn_call_plan(&r, t->input, w->state_name, &w->call, &err) != SF_OK) {
        report(s, j, NULL, &err);
        asl_err_clear(&err);
        json_decref(w->input);
        return false;
    }
    w->callback = r.pattern == INTEG_PATTERN_TOKEN;
    t->started = true;
    svc_drive(s, x, &(svc_input){.kind = STORE_IN_TASK_STARTED, .task_id = t->id});
    return true;
}

void *svc_runner_main(void *arg)
{
    svc *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->stopping && !s->jobs_head)
            pthread_cond_wait(&s->runner_cv, &s->mu);
        if (s->stopping)
            break;
        runner_job *j = s->jobs_head;
        s->jobs_head = j->next;
        if (!s->jobs_head)
            s->jobs_tail = NULL;
        job_work w;
        if (!claim(s, j, &w)) {
            free(j);
            continue;
        }
        /* A function runs only once its Started event is durable: after a
         * crash it is then known to have (maybe) run, and is not run a
         * second time (see svc_recover.c). */
        if (w.kind == TK_FUNCTION)
            svc_wait_commit(s, svc_ticket(s));
        pthread_mutex_unlock(&s->mu);
        asl_err err = {0};
        json_t *out = w.kind == TK_MAP_IO ? run_map_io(s, &w, &err) : run_function(s, j, &w, &err);
        pthread_mutex_lock(&s->mu);
        /* A callback's function only hands the token on; its result is not
         * the task's, but its failure is. */
        if (!(w.callback && out) && !s->stopping)
            report(s, j, out, &err);
        json_decref(out);
        json_decref(w.call.payload);
        json_decref(w.input);
        asl_err_clear(&err);
        free(j);
    }
    while (s->jobs_head) {
        runner_job *j = s->jobs_head;
        s->jobs_head = j->next;
        free(j);
    }
    s->jobs_tail = NULL;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}
