/* asl/exec.c - executions: frames, the run stack, timers, history events and
 * the public calls of exec.h.
 *
 * An execution is a tree of frames: the top frame runs the machine; each
 * Parallel branch and Map iteration runs in a child frame. Runnable frames
 * sit on a stack; the engine pops one, lets its current state act, and goes
 * on until every frame waits on a task, a deadline or its children. Nothing
 * here blocks or reads a clock: time is whatever the caller last said. */
#define _GNU_SOURCE
#include "exec_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sf_grow.h"
#include "timestamp.h"


const char *asl_exec_status_name(asl_exec_status s)
{
    static const char *const n[] = {"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"};
    return n[s];
}

void asl_cmd_cleanup(asl_cmd *c)
{
    json_decref(c->input);
    free(c->token);
    c->input = NULL;
    c->token = NULL;
}

/* ---- history ---------------------------------------------------------- */

asl_event *exec_event(asl_exec *e, frame *f, asl_event_type type, int state_type,
                      const char *name, json_t *data)
{
    if (e->opts.no_history || (f && !f->history))
        return NULL;
    asl_history *h = &e->hist;
    if (h->n >= ASL_HISTORY_MAX) {
        if (e->status == ASL_EXEC_RUNNING) {
            /* Ending here appends one more event past the cap, as AWS does. */
            h->max = ASL_HISTORY_MAX + 1;
            exec_end(e, ASL_EXEC_FAILED, NULL, "States.Runtime",
                     "The execution reached the maximum number of history events (25000).");
        }
        if (h->n >= h->max)
            return NULL;
    }
    if (sf_grow((void **)&h->ev, &h->cap, h->n + 1, sizeof *h->ev, 64, ASL_HISTORY_MAX + 1))
        return NULL; /* history is lost before the execution is: it still ends correctly */
    asl_event *ev = &h->ev[h->n++];
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    ev->state_type = state_type;
    ev->id = (int64_t)h->n;
    ev->prev_id = f ? f->prev_event : (int64_t)h->n - 1;
    ev->ts_ms = e->now;
    ev->name = name;
    ev->data = json_incref(data);
    if (f)
        f->prev_event = ev->id;
    return ev;
}

/* ---- run stack and timers --------------------------------------------- */

void exec_push(asl_exec *e, frame *f)
{
    if (f->queued)
        return;
    if (sf_grow((void **)&e->stack, &e->cap_stack, e->n_stack + 1, sizeof *e->stack, 32,
                SIZE_MAX / sizeof *e->stack)) {
        exec_end(e, ASL_EXEC_FAILED, NULL, "States.Runtime", "out of memory");
        return;
    }
    f->queued = true;
    e->stack[e->n_stack++] = f;
}

void exec_set_timer(asl_exec *e, frame *f)
{
    if (f->timed)
        return;
    f->timed = true;
    f->timed_prev = NULL;
    f->timed_next = e->timed;
    if (e->timed)
        e->timed->timed_prev = f;
    e->timed = f;
}

void exec_clear_timer(asl_exec *e, frame *f)
{
    if (!f->timed)
        return;
    if (f->timed_prev)
        f->timed_prev->timed_next = f->timed_next;
    else
        e->timed = f->timed_next;
    if (f->timed_next)
        f->timed_next->timed_prev = f->timed_prev;
    f->timed = false;
    f->timed_prev = f->timed_next = NULL;
}

/* The earliest moment this frame must be woken, or INT64_MAX. */
static int64_t frame_deadline(const frame *f)
{
    int64_t d = INT64_MAX;
    if (f->wait == F_TIMER)
        d = f->wake_at;
    if (f->wait == F_TASK) {
        if (f->timeout_at && f->timeout_at < d)
            d = f->timeout_at;
        if (f->heartbeat_at && f->heartbeat_at < d)
            d = f->heartbeat_at;
    }
    return d;
}

/* ---- tasks and commands ----------------------------------------------- */

uint64_t exec_new_task(asl_exec *e, frame *f)
{
    uint64_t id = ++e->next_task_id;
    size_t old = e->cap_tasks;
    if (sf_grow((void **)&e->tasks, &e->cap_tasks, id + 1, sizeof *e->tasks, 64,
                SIZE_MAX / sizeof *e->tasks))
        return 0;
    memset(e->tasks + old, 0, (e->cap_tasks - old) * sizeof *e->tasks);
    e->tasks[id] = f;
    f->task_id = id;
    return id;
}

void exec_forget_task(asl_exec *e, frame *f)
{
    if (f->task_id && f->task_id < e->cap_tasks && e->tasks[f->task_id] == f)
        e->tasks[f->task_id] = NULL;
    f->task_id = 0;
    f->started = false;
    f->timeout_at = f->heartbeat_at = 0;
    free(f->token);
    f->token = NULL;
    exec_clear_timer(e, f);
}

sf_rc exec_command(asl_exec *e, asl_cmd_type type, uint64_t id, const char *state_name,
                   const char *resource, json_t *input)
{
    if (sf_grow((void **)&e->cmds, &e->cap_cmds, e->n_cmds + 1, sizeof *e->cmds, 16,
                SIZE_MAX / sizeof *e->cmds))
        return SF_ENOMEM;
    asl_cmd *c = &e->cmds[e->n_cmds++];
    memset(c, 0, sizeof *c);
    c->type = type;
    c->task_id = id;
    c->state_name = state_name;
    c->resource = resource;
    c->input = json_incref(input);
    return SF_OK;
}

/* ---- frames ------------------------------------------------------------ */

frame *exec_frame_new(asl_exec *e, const asl_sm *sm, frame *parent, size_t index, json_t *input,
                      json_t *vars)
{
    frame *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->sm = sm;
    f->state = sm->start;
    f->input = json_incref(input);
    f->vars = json_incref(vars);
    f->parent = parent;
    f->index = index;
    f->wait = F_RUN;
    f->history = parent ? parent->history && !(parent->fan && parent->fan->distributed) : true;
    f->prev_event = parent ? parent->prev_event : 0;
    return f;
}

void exec_frame_free(asl_exec *e, frame *f)
{
    if (!f)
        return;
    if (f->fan)
        fanout_abort(e, f);
    exec_forget_task(e, f);
    exec_clear_timer(e, f);
    /* A queued frame cannot be freed: the stack would dangle. Callers only
     * free frames that are not queued (children that ended, or at teardown). */
    json_decref(f->input);
    json_decref(f->effective);
    json_decref(f->vars);
    free(f->retry_count);
    free(f);
}

/* ---- the context object ($$) ------------------------------------------ */

json_t *exec_context(asl_exec *e, frame *f, const asl_state *s, json_t *map_item)
{
    char entered[32];
    asl_timestamp_format_ms(f->entered_ms, entered);
    json_t *state = json_pack("{s:s,s:s}", "Name", s->name, "EnteredTime", entered);
    if (state && s->type == ASL_TASK)
        json_object_set_new(state, "RetryCount", json_integer(f->retry_total));
    json_t *ctx = json_pack(
        "{s:{s:s,s:O,s:s,s:s,s:s,s:i},s:{s:s,s:s},s:o}", "Execution", "Id", e->s_exec_arn,
        "Input", e->input, "StartTime", e->start_time, "Name", e->s_exec_name, "RoleArn",
        e->s_role_arn, "RedriveCount", 0, "StateMachine", "Id", e->s_sm_arn, "Name",
        e->s_sm_name, "State", state);
    if (ctx && f->token)
        json_object_set_new(ctx, "Task", json_pack("{s:s}", "Token", f->token));
    if (ctx && map_item)
        json_object_set_new(ctx, "Map", json_pack("{s:O}", "Item", map_item));
    return ctx;
}

/* ---- the end of an execution ------------------------------------------ */

void exec_end(asl_exec *e, asl_exec_status st, json_t *output, const char *error,
              const char *cause)
{
    if (e->status != ASL_EXEC_RUNNING)
        return;
    e->status = st;
    if (st == ASL_EXEC_SUCCEEDED) {
        e->output = json_incref(output);
        exec_event(e, NULL, ASL_EV_EXECUTION_SUCCEEDED, 0, NULL, output);
    } else {
        asl_err_copy(&e->err, error, cause);
        asl_event_type t = st == ASL_EXEC_FAILED      ? ASL_EV_EXECUTION_FAILED
                           : st == ASL_EXEC_TIMED_OUT ? ASL_EV_EXECUTION_TIMED_OUT
                                                      : ASL_EV_EXECUTION_ABORTED;
        asl_event *ev = exec_event(e, NULL, t, 0, NULL, NULL);
        if (ev) {
            ev->error = error ? strdup(error) : NULL;
            ev->cause = cause ? strdup(cause) : NULL;
        }
    }
    /* Whatever still runs is no longer wanted. */
    for (uint64_t id = 1; id <= e->next_task_id && id < e->cap_tasks; id++) {
        if (e->tasks[id]) {
            exec_command(e, ASL_CMD_CANCEL_TASK, id, NULL, NULL, NULL);
            e->tasks[id] = NULL;
        }
    }
}

/* ---- the run loop ------------------------------------------------------- */

static void run(asl_exec *e)
{
    while (e->n_stack > 0 && e->status == ASL_EXEC_RUNNING) {
        frame *f = e->stack[--e->n_stack];
        f->queued = false;
        if (f->wait == F_RUN)
            state_enter(e, f);
        else if (f->wait == F_CHILDREN)
            fanout_launch(e, f);
    }
}

/* Frees the frame tree once the execution has ended. Frames are only ever
 * freed between calls, never while a state's code might still hold one. */
static void teardown(asl_exec *e)
{
    if (e->status == ASL_EXEC_RUNNING || !e->top)
        return;
    e->n_stack = 0;
    exec_frame_free(e, e->top);
    e->top = NULL;
}

static sf_rc after(asl_exec *e)
{
    run(e);
    teardown(e);
    return SF_OK;
}

/* ---- public calls ------------------------------------------------------- */

static char *dup_or(const char *s, const char *dflt)
{
    return strdup(s ? s : dflt);
}

sf_rc asl_exec_new(const asl_machine *m, json_t *input, const asl_exec_opts *o, asl_exec **out)
{
    *out = NULL;
    asl_exec *e = calloc(1, sizeof *e);
    if (!e)
        return SF_ENOMEM;
    static const asl_exec_opts none;
    e->opts = o ? *o : none;
    e->m = m;
    e->input = input ? json_incref(input) : json_object();
    e->s_exec_name = dup_or(e->opts.exec_name, "local");
    e->s_sm_name = dup_or(e->opts.sm_name, "local");
    char buf[512];
    snprintf(buf, sizeof buf, "arn:aws:states:us-east-1:000000000000:execution:%s:%s",
             e->s_sm_name, e->s_exec_name);
    e->s_exec_arn = dup_or(e->opts.exec_arn, buf);
    snprintf(buf, sizeof buf, "arn:aws:states:us-east-1:000000000000:stateMachine:%s",
             e->s_sm_name);
    e->s_sm_arn = dup_or(e->opts.sm_arn, buf);
    e->s_role_arn = dup_or(e->opts.role_arn, "arn:aws:iam::000000000000:role/statefleet");
    e->opts.exec_arn = e->s_exec_arn;
    e->opts.exec_name = e->s_exec_name;
    e->opts.sm_arn = e->s_sm_arn;
    e->opts.sm_name = e->s_sm_name;
    e->opts.role_arn = e->s_role_arn;
    e->rng.s = e->opts.seed;
    e->hist.max = ASL_HISTORY_MAX;
    if (!e->input || !e->s_exec_name || !e->s_sm_name || !e->s_exec_arn || !e->s_sm_arn ||
        !e->s_role_arn) {
        asl_exec_destroy(&e);
        return SF_ENOMEM;
    }
    *out = e;
    return SF_OK;
}

void asl_exec_destroy(asl_exec **pe)
{
    asl_exec *e = pe ? *pe : NULL;
    if (!e)
        return;
    e->n_stack = 0;
    exec_frame_free(e, e->top);
    for (size_t i = 0; i < e->n_cmds; i++)
        asl_cmd_cleanup(&e->cmds[i]);
    free(e->cmds);
    free(e->stack);
    free(e->tasks);
    asl_history_cleanup(&e->hist);
    json_decref(e->input);
    json_decref(e->output);
    asl_err_clear(&e->err);
    free(e->s_exec_arn);
    free(e->s_exec_name);
    free(e->s_sm_arn);
    free(e->s_sm_name);
    free(e->s_role_arn);
    free(e);
    *pe = NULL;
}

sf_rc asl_exec_start(asl_exec *e, int64_t now_ms)
{
    if (e->top || e->status != ASL_EXEC_RUNNING)
        return SF_ESTATE;
    e->now = now_ms;
    asl_timestamp_format_ms(now_ms, e->start_time);
    if (e->m->timeout_s > 0)
        e->exec_deadline = now_ms + e->m->timeout_s * 1000;
    e->top = exec_frame_new(e, &e->m->top, NULL, 0, e->input, NULL);
    if (!e->top)
        return SF_ENOMEM;
    e->top->vars = json_object();
    asl_event *started = exec_event(e, e->top, ASL_EV_EXECUTION_STARTED, 0, NULL, e->input);
    if (started)
        started->resource = e->s_role_arn; /* the role it runs as, for its details */
    if (state_check_size(e, e->top, e->input, "input"))
        exec_push(e, e->top);
    return after(e);
}

static frame *task_frame(asl_exec *e, uint64_t id)
{
    if (e->status != ASL_EXEC_RUNNING || id == 0 || id >= e->cap_tasks)
        return NULL;
    return e->tasks[id];
}

/* arn:<partition>:states:<region>:<account>:activity:<name> */
static bool is_activity_arn(const char *r)
{
    const char *field[7];
    int n = 0;
    field[n++] = r;
    for (const char *p = r; *p && n < 7; p++)
        if (*p == ':')
            field[n++] = p + 1;
    return n == 7 && strncmp(field[0], "arn:", 4) == 0 && strncmp(field[2], "states:", 7) == 0 &&
           strncmp(field[5], "activity:", 9) == 0 && field[6][0] != '\0';
}

/* AWS names a task's events LambdaFunction* for a legacy Lambda ARN,
 * Activity* for an activity ARN and Task* (with the resource) for every
 * service integration. */
resource_kind exec_resource_kind(const char *resource)
{
    if (!resource)
        return RES_TASK;
    if (strncmp(resource, "arn:aws:lambda:", 15) == 0)
        return RES_LAMBDA;
    return is_activity_arn(resource) ? RES_ACTIVITY : RES_TASK;
}

asl_event *exec_task_event(asl_exec *e, frame *f, task_phase phase, json_t *data, const char *error,
                           const char *cause)
{
    static const asl_event_type types[][5] = {
        [RES_TASK] = {ASL_EV_TASK_SCHEDULED, ASL_EV_TASK_STARTED, ASL_EV_TASK_SUCCEEDED,
                      ASL_EV_TASK_FAILED, ASL_EV_TASK_TIMED_OUT},
        [RES_LAMBDA] = {ASL_EV_LAMBDA_SCHEDULED, ASL_EV_LAMBDA_STARTED, ASL_EV_LAMBDA_SUCCEEDED,
                        ASL_EV_LAMBDA_FAILED, ASL_EV_LAMBDA_TIMED_OUT},
        [RES_ACTIVITY] = {ASL_EV_ACTIVITY_SCHEDULED, ASL_EV_ACTIVITY_STARTED,
                          ASL_EV_ACTIVITY_SUCCEEDED, ASL_EV_ACTIVITY_FAILED,
                          ASL_EV_ACTIVITY_TIMED_OUT},
    };
    const asl_state *s = frame_state(f);
    asl_event *ev = exec_event(e, f, types[exec_resource_kind(s->resource)][phase], 0, NULL, data);
    if (!ev)
        return NULL;
    ev->resource = s->resource;
    ev->error = error ? strdup(error) : NULL;
    ev->cause = cause ? strdup(cause) : NULL;
    return ev;
}

sf_rc asl_exec_task_started(asl_exec *e, uint64_t id, const char *worker_name, int64_t now_ms)
{
    frame *f = task_frame(e, id);
    if (!f)
        return SF_ENOTFOUND;
    if (f->started)
        return SF_ESTATE; /* a second Started event would corrupt the history */
    e->now = now_ms;
    f->started = true;
    const asl_state *s = frame_state(f);
    if (s->type != ASL_TASK)
        return SF_OK;
    bool activity = exec_resource_kind(s->resource) == RES_ACTIVITY;
    asl_event *ev = exec_task_event(e, f, TP_STARTED, NULL, NULL, NULL);
    if (ev && activity && worker_name) {
        ev->owned_name = strdup(worker_name);
        ev->name = ev->owned_name;
    }
    /* An activity may wait long for a poller; its heartbeat clock runs from
     * the moment GetActivityTask hands out its token. */
    if (activity && f->heartbeat_s > 0) {
        f->heartbeat_at = e->now + f->heartbeat_s * 1000;
        exec_set_timer(e, f);
    }
    return SF_OK;
}

sf_rc asl_exec_task_succeeded(asl_exec *e, uint64_t id, json_t *output, int64_t now_ms)
{
    frame *f = task_frame(e, id);
    if (!f)
        return SF_ENOTFOUND;
    e->now = now_ms;
    exec_forget_task(e, f);
    const asl_state *s = frame_state(f);
    if (s->type == ASL_MAP) {
        /* An item read or a result write finished. */
        if (f->fan && f->fan->writing)
            fanout_results_written(e, f, output);
        else
            fanout_items_read(e, f, output);
        return after(e);
    }
    exec_task_event(e, f, TP_SUCCEEDED, output, NULL, NULL);
    state_succeed(e, f, output);
    return after(e);
}

sf_rc asl_exec_task_failed(asl_exec *e, uint64_t id, const char *error, const char *cause,
                           int64_t now_ms)
{
    frame *f = task_frame(e, id);
    if (!f)
        return SF_ENOTFOUND;
    e->now = now_ms;
    exec_forget_task(e, f);
    const asl_state *s = frame_state(f);
    if (s->type == ASL_TASK)
        exec_task_event(e, f, TP_FAILED, NULL, error, cause);
    state_fail(e, f, error ? error : "States.TaskFailed", cause);
    return after(e);
}

sf_rc asl_exec_task_heartbeat(asl_exec *e, uint64_t id, int64_t now_ms)
{
    frame *f = task_frame(e, id);
    if (!f)
        return SF_ENOTFOUND;
    e->now = now_ms;
    if (f->heartbeat_s > 0) {
        f->heartbeat_at = now_ms + f->heartbeat_s * 1000;
        exec_set_timer(e, f); /* an activity's clock may not have run yet */
    }
    return SF_OK;
}

sf_rc asl_exec_task_progress(asl_exec *e, uint64_t id, json_t *progress, int64_t now_ms)
{
    frame *f = task_frame(e, id);
    if (!f)
        return SF_ENOTFOUND;
    if (!f->started || frame_state(f)->type != ASL_TASK)
        return SF_ESTATE;
    e->now = now_ms;
    asl_event *ev = exec_event(e, f, ASL_EV_TASK_PROGRESS, 0, NULL, progress);
    if (ev)
        ev->resource = frame_state(f)->resource;
    return asl_exec_task_heartbeat(e, id, now_ms);
}

/* Times a task out: the worker is told to stop and the state fails. AWS
 * records a missed heartbeat as States.Timeout, like TimeoutSeconds, yet a
 * Retry or Catch naming States.HeartbeatTimeout matches it too. */
static void task_timed_out(asl_exec *e, frame *f, bool heartbeat)
{
    uint64_t id = f->task_id;
    const asl_state *s = frame_state(f);
    exec_forget_task(e, f);
    exec_command(e, ASL_CMD_CANCEL_TASK, id, s->name, s->resource, NULL);
    exec_task_event(e, f, TP_TIMED_OUT, NULL, "States.Timeout", NULL);
    state_fail_as(e, f, "States.Timeout", NULL, heartbeat ? "States.HeartbeatTimeout" : NULL);
}

sf_rc asl_exec_tick(asl_exec *e, int64_t now_ms)
{
    if (e->status != ASL_EXEC_RUNNING || !e->top)
        return SF_ESTATE;
    if (now_ms > e->now)
        e->now = now_ms;
    if (e->exec_deadline && e->now >= e->exec_deadline) {
        exec_end(e, ASL_EXEC_TIMED_OUT, NULL, "States.Timeout",
                 "The execution timed out (TimeoutSeconds).");
        return after(e);
    }
    /* One due frame at a time: handling one may free others. */
    for (;;) {
        frame *due = NULL;
        for (frame *f = e->timed; f; f = f->timed_next)
            if (frame_deadline(f) <= e->now) {
                due = f;
                break;
            }
        if (!due || e->status != ASL_EXEC_RUNNING)
            break;
        if (due->wait == F_TIMER) {
            exec_clear_timer(e, due);
            state_timer(e, due);
        } else if (due->timeout_at && due->timeout_at <= e->now) {
            task_timed_out(e, due, false);
        } else {
            task_timed_out(e, due, true);
        }
        run(e);
    }
    return after(e);
}

sf_rc asl_exec_stop(asl_exec *e, const char *error, const char *cause, int64_t now_ms)
{
    if (e->status != ASL_EXEC_RUNNING)
        return SF_ESTATE;
    e->now = now_ms;
    exec_end(e, ASL_EXEC_ABORTED, NULL, error, cause);
    return after(e);
}

int64_t asl_exec_next_deadline(const asl_exec *e)
{
    if (e->status != ASL_EXEC_RUNNING)
        return INT64_MAX;
    int64_t d = e->exec_deadline ? e->exec_deadline : INT64_MAX;
    for (const frame *f = e->timed; f; f = f->timed_next) {
        int64_t fd = frame_deadline(f);
        if (fd < d)
            d = fd;
    }
    return d;
}

size_t asl_exec_take_commands(asl_exec *e, asl_cmd **cmds)
{
    size_t n = e->n_cmds;
    *cmds = e->cmds;
    e->cmds = NULL;
    e->n_cmds = e->cap_cmds = 0;
    return n;
}

asl_exec_status asl_exec_get_status(const asl_exec *e)
{
    return e->status;
}

json_t *asl_exec_output(const asl_exec *e)
{
    return e->output;
}

const char *asl_exec_error(const asl_exec *e)
{
    return e->err.error;
}

const char *asl_exec_cause(const asl_exec *e)
{
    return e->err.cause;
}

const asl_history *asl_exec_history(const asl_exec *e)
{
    return &e->hist;
}

uint64_t asl_exec_transitions(const asl_exec *e)
{
    return e->transitions;
}

bool asl_exec_task_is_open(const asl_exec *e, uint64_t id)
{
    /* exec_forget_task and exec_end clear the slot when a task closes. */
    return id > 0 && id < e->cap_tasks && e->tasks[id] != NULL;
}

bool asl_exec_task_was_started(const asl_exec *e, uint64_t id)
{
    return asl_exec_task_is_open(e, id) && e->tasks[id]->started;
}

uint64_t asl_exec_task_by_token(const asl_exec *e, const char *token)
{
    if (!token)
        return 0;
    /* A linear scan: tokens are looked up once per SendTask* call, and an
     * index would cost every task on the hot path. */
    for (uint64_t id = 1; id <= e->next_task_id && id < e->cap_tasks; id++) {
        const frame *f = e->tasks[id];
        if (f && f->token && strcmp(f->token, token) == 0)
            return id;
    }
    return 0;
}
