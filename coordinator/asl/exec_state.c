/* asl/exec_state.c - what each state does, and the data flow around it.
 *
 * For every state AWS applies, in order: InputPath, Parameters, the state's
 * own work, ResultSelector, ResultPath, OutputPath; Assign is evaluated
 * against the result (after ResultSelector) with the variables as they were
 * when the state was entered, and takes effect only after OutputPath. Errors
 * go through Retry, then Catch, then up to the parent frame. */
#define _GNU_SOURCE
#include "exec_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timestamp.h"

void state_runtime_error(asl_exec *e, frame *f, const char *error, const char *fmt, ...)
{
    char *what = NULL, *cause = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&what, fmt, ap) < 0)
        what = NULL;
    va_end(ap);
    if (asprintf(&cause,
                 "An error occurred while executing the state '%s' (entered at the event id #%lld). %s",
                 frame_state(f)->name, (long long)f->entered_event, what ? what : "") < 0)
        cause = NULL;
    state_fail(e, f, error, cause);
    free(what);
    free(cause);
}

static void fail_with(asl_exec *e, frame *f, asl_err *err)
{
    state_runtime_error(e, f, err->error ? err->error : "States.Runtime", "%s",
                  err->cause ? err->cause : "");
    asl_err_clear(err);
}

bool state_check_size(asl_exec *e, frame *f, json_t *v, const char *what)
{
    size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    if (n <= ASL_PAYLOAD_MAX)
        return true;
    char cause[160];
    snprintf(cause, sizeof cause,
             "The state/task returned a result with a size exceeding the maximum number of "
             "bytes service limit (%s: %zu bytes, limit %d).", what, n, ASL_PAYLOAD_MAX);
    if (!f->parent && f->wait == F_RUN && e->transitions == 0)
        exec_end(e, ASL_EXEC_FAILED, NULL, "States.DataLimitExceeded", cause);
    else
        state_fail(e, f, "States.DataLimitExceeded", cause);
    return false;
}

/* The scope a state's fields see: $ = input, $$ when needed, variables. */
static asl_scope scope_of(asl_exec *e, frame *f, json_t *input, json_t **ctx)
{
    const asl_state *s = frame_state(f);
    if (s->uses_context && !*ctx)
        *ctx = exec_context(e, f, s, NULL);
    asl_scope sc = {.input = input, .context = *ctx, .vars = f->vars};
    return sc;
}

/* Applies InputPath or OutputPath. NULL return means the state failed. */
static json_t *apply_path(asl_exec *e, frame *f, const asl_opt_path *p, json_t *v, json_t **ctx)
{
    if (p->is_null)
        return json_object();
    if (!p->path)
        return json_incref(v);
    asl_scope sc = scope_of(e, f, v, ctx);
    json_t *out = NULL;
    if (asl_path_eval_scope(p->path, &sc, &out) == SF_OK)
        return out;
    char norm[512];
    asl_path_normalized(p->path, norm, sizeof norm);
    if (asl_path_root_kind(p->path) == ASL_ROOT_VAR && asl_path_is_root(p->path))
        state_runtime_error(e, f, "States.Runtime", "The variable '%s' is not defined",
                      asl_path_var(p->path));
    else
        state_runtime_error(e, f, "States.Runtime", "Invalid path '%s' : No results for path: %s",
                      asl_path_text(p->path), norm);
    return NULL;
}

json_t *state_apply_tmpl(asl_exec *e, frame *f, const asl_tmpl *t, json_t *input, json_t **ctx)
{
    asl_scope sc = scope_of(e, f, input, ctx);
    asl_err err = {0};
    json_t *out = NULL;
    if (asl_tmpl_eval(t, &sc, &e->rng, &out, &err) == SF_OK)
        return out;
    fail_with(e, f, &err);
    return NULL;
}

json_t *state_effective_input(asl_exec *e, frame *f, json_t **ctx)
{
    const asl_state *s = frame_state(f);
    json_t *v = apply_path(e, f, &s->input_path, f->input, ctx);
    if (!v || !s->parameters || s->type == ASL_MAP)
        return v;
    json_t *p = state_apply_tmpl(e, f, s->parameters, v, ctx);
    json_decref(v);
    return p;
}

/* Ends this frame with output: the execution succeeds, or a branch or
 * iteration reports to its parent. */
static void frame_finish(asl_exec *e, frame *f, json_t *output)
{
    f->wait = F_DONE;
    if (!f->parent)
        exec_end(e, ASL_EXEC_SUCCEEDED, output, NULL, NULL);
    else
        fanout_child_done(e, f, output);
}

static void frame_fail(asl_exec *e, frame *f, const char *error, const char *cause)
{
    f->wait = F_DONE;
    if (!f->parent)
        exec_end(e, ASL_EXEC_FAILED, NULL, error, cause);
    else
        fanout_child_failed(e, f, error, cause);
}

/* Variables are shared between frames until one writes: copy on write. */
static void commit_assign(frame *f, json_t *assigned)
{
    if (!assigned || json_object_size(assigned) == 0)
        return;
    if (!f->vars) {
        f->vars = json_object();
    } else if (f->vars->refcount > 1) {
        json_t *copy = json_copy(f->vars);
        json_decref(f->vars);
        f->vars = copy;
    }
    json_object_update(f->vars, assigned);
}

/* Leaves the state with output and goes to next (-1: the frame ends). */
static void leave(asl_exec *e, frame *f, json_t *output, json_t *assigned, int next)
{
    const asl_state *s = frame_state(f);
    if (output != f->input && !state_check_size(e, f, output, "output")) {
        json_decref(output);
        json_decref(assigned);
        return;
    }
    commit_assign(f, assigned);
    asl_event *ev = exec_event(e, f, ASL_EV_STATE_EXITED, s->type, s->name, output);
    if (ev && assigned)
        ev->vars = json_incref(assigned);
    json_decref(assigned);
    json_decref(f->effective);
    f->effective = NULL;
    if (next < 0) {
        frame_finish(e, f, output);
        json_decref(output);
        return;
    }
    json_decref(f->input);
    f->input = output;
    f->state = next;
    f->wait = F_RUN;
    exec_push(e, f);
}

/* ResultSelector, Assign, ResultPath, OutputPath, then on to next. result
 * is borrowed. */
static void finish(asl_exec *e, frame *f, json_t *result, const asl_tmpl *assign, int next)
{
    const asl_state *s = frame_state(f);
    json_t *ctx = NULL, *sel = NULL, *assigned = NULL, *merged = NULL, *out = NULL;
    if (s->result_selector) {
        sel = state_apply_tmpl(e, f, s->result_selector, result, &ctx);
        if (!sel)
            goto done;
        result = sel;
    }
    if (assign && !(assigned = state_apply_tmpl(e, f, assign, result, &ctx)))
        goto done;
    if (s->result_path.is_null) {
        merged = json_incref(f->input);
    } else if (!s->result_path.path) {
        merged = json_incref(result);
    } else {
        char err[256] = "";
        if (asl_path_set(s->result_path.path, f->input, result, &merged, err, sizeof err) != SF_OK) {
            char *in = asl_json_text(f->input);
            char cause[1024];
            snprintf(cause, sizeof cause, "Unable to apply ReferencePath %s to input %.700s",
                     asl_path_text(s->result_path.path), in ? in : "");
            free(in);
            state_fail(e, f, "States.ResultPathMatchFailure", cause);
            goto done;
        }
    }
    if (!(out = apply_path(e, f, &s->output_path, merged, &ctx)))
        goto done;
    json_decref(ctx);
    json_decref(sel);
    json_decref(merged);
    leave(e, f, out, assigned, next);
    return;
done:
    json_decref(ctx);
    json_decref(sel);
    json_decref(assigned);
    json_decref(merged);
}

void state_succeed(asl_exec *e, frame *f, json_t *result)
{
    const asl_state *s = frame_state(f);
    if (s->type == ASL_TASK && !state_check_size(e, f, result, "task result"))
        return;
    finish(e, f, result, s->assign, s->next);
}

/* ---- errors: Retry, Catch ---------------------------------------------- */

static bool error_matches(char **names, size_t n, const char *error, const char *alias)
{
    /* States.Runtime and States.DataLimitExceeded are terminal: the
     * wildcards do not match them. States.TaskFailed matches every error
     * but States.Timeout. */
    bool terminal = strcmp(error, "States.Runtime") == 0 ||
                    strcmp(error, "States.DataLimitExceeded") == 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], error) == 0 || (alias && strcmp(names[i], alias) == 0))
            return true;
        if (!terminal && strcmp(names[i], "States.ALL") == 0)
            return true;
        if (!terminal && strcmp(names[i], "States.TaskFailed") == 0 &&
            strcmp(error, "States.Timeout") != 0)
            return true;
    }
    return false;
}

static bool try_retry(asl_exec *e, frame *f, const char *error, const char *alias)
{
    const asl_state *s = frame_state(f);
    for (size_t i = 0; i < s->n_retry; i++) {
        const asl_retrier *r = &s->retry[i];
        if (!error_matches(r->errors, r->n_errors, error, alias))
            continue;
        if (!f->retry_count || f->retry_count[i] >= r->max_attempts)
            return false; /* the first matching retrier decides */
        double delay = r->interval_s * pow(r->backoff, f->retry_count[i]);
        if (r->max_delay_s > 0 && delay > r->max_delay_s)
            delay = r->max_delay_s;
        if (r->jitter_full)
            delay *= asl_rng_unit(&e->rng);
        f->retry_count[i]++;
        f->retry_total++;
        f->retrying = true;
        f->wait = F_TIMER;
        f->wake_at = e->now + (int64_t)llround(delay * 1000.0);
        exec_set_timer(e, f);
        return true;
    }
    return false;
}

static bool try_catch(asl_exec *e, frame *f, const char *error, const char *cause,
                      const char *alias)
{
    const asl_state *s = frame_state(f);
    for (size_t i = 0; i < s->n_catch; i++) {
        const asl_catcher *c = &s->catch_[i];
        if (!error_matches(c->errors, c->n_errors, error, alias))
            continue;
        json_t *eo = json_pack("{s:s}", "Error", error);
        if (!eo)
            return false;
        if (cause)
            json_object_set_new(eo, "Cause", json_string(cause));
        json_t *ctx = NULL, *assigned = NULL, *out = NULL;
        if (c->assign && !(assigned = state_apply_tmpl(e, f, c->assign, eo, &ctx))) {
            json_decref(eo);
            json_decref(ctx);
            return true; /* the state failed again, with the Assign error */
        }
        json_decref(ctx);
        if (c->result_path.is_null) {
            out = json_incref(f->input);
        } else if (!c->result_path.path) {
            out = json_incref(eo);
        } else if (asl_path_set(c->result_path.path, f->input, eo, &out, NULL, 0) != SF_OK) {
            json_decref(eo);
            json_decref(assigned);
            frame_fail(e, f, "States.ResultPathMatchFailure",
                       "Unable to apply the Catch ResultPath to the state input");
            return true;
        }
        json_decref(eo);
        leave(e, f, out, assigned, c->next);
        return true;
    }
    return false;
}

void state_fail(asl_exec *e, frame *f, const char *error, const char *cause)
{
    state_fail_as(e, f, error, cause, NULL);
}

void state_fail_as(asl_exec *e, frame *f, const char *error, const char *cause, const char *alias)
{
    const asl_state *s = frame_state(f);
    if (s->type == ASL_TASK || s->type == ASL_PARALLEL || s->type == ASL_MAP) {
        bool children_failed = f->children_failed;
        f->children_failed = false;
        if (try_retry(e, f, error, alias))
            return;
        /* AWS records the fan-out's failure only when its children failed
         * and no retry follows. */
        if (children_failed)
            exec_event(e, f, s->type == ASL_PARALLEL ? ASL_EV_PARALLEL_FAILED : ASL_EV_MAP_FAILED,
                       0, NULL, NULL);
        if (try_catch(e, f, error, cause, alias))
            return;
    }
    frame_fail(e, f, error, cause);
}

/* ---- Task ------------------------------------------------------------- */

/* Reads TimeoutSeconds/HeartbeatSeconds or their Path forms. -1: failed. */
static int64_t seconds_field(asl_exec *e, frame *f, const asl_num_field *n, const char *name,
                             json_t **ctx)
{
    if (!n->set)
        return 0;
    if (!n->path)
        return (int64_t)n->value;
    json_t *v = NULL;
    asl_scope sc = scope_of(e, f, f->input, ctx);
    if (asl_path_eval_scope(n->path, &sc, &v) != SF_OK || !json_is_integer(v) ||
        json_integer_value(v) <= 0) {
        json_decref(v);
        state_runtime_error(e, f, "States.Runtime",
                      "The %sPath field '%s' must reference a positive integer", name,
                      asl_path_text(n->path));
        return -1;
    }
    int64_t r = json_integer_value(v);
    json_decref(v);
    return r;
}

static void schedule_task(asl_exec *e, frame *f)
{
    const asl_state *s = frame_state(f);
    json_t *ctx = NULL;
    int64_t timeout = seconds_field(e, f, &s->timeout, "TimeoutSeconds", &ctx);
    int64_t heartbeat = timeout < 0 ? -1 : seconds_field(e, f, &s->heartbeat, "HeartbeatSeconds", &ctx);
    json_decref(ctx);
    if (timeout < 0 || heartbeat < 0)
        return;
    if (!exec_new_task(e, f)) {
        frame_fail(e, f, "States.Runtime", "out of memory");
        return;
    }
    asl_event *ev = exec_task_event(e, f, TP_SCHEDULED, f->effective, NULL, NULL);
    if (ev) {
        ev->index = timeout;
        ev->extra = heartbeat;
    }
    /* Without its token the task could never be answered: out of memory. */
    char *token = f->token ? strdup(f->token) : NULL;
    if ((f->token && !token) || exec_command(e, ASL_CMD_RUN_TASK, f->task_id, s->name, s->resource,
                                             f->effective) != SF_OK) {
        free(token);
        exec_forget_task(e, f);
        frame_fail(e, f, "States.Runtime", "out of memory");
        return;
    }
    asl_cmd *c = &e->cmds[e->n_cmds - 1];
    c->timeout_s = timeout;
    c->heartbeat_s = heartbeat;
    c->attempt = f->retry_total;
    c->token = token;
    f->wait = F_TASK;
    f->timeout_at = timeout > 0 ? e->now + timeout * 1000 : 0;
    f->heartbeat_s = heartbeat;
    /* An activity's heartbeat clock starts with ActivityStarted. */
    bool waits_for_poller = exec_resource_kind(s->resource) == RES_ACTIVITY;
    f->heartbeat_at = heartbeat > 0 && !waits_for_poller ? e->now + heartbeat * 1000 : 0;
    if (f->timeout_at || f->heartbeat_at)
        exec_set_timer(e, f);
}

/* A task token: unique per execution and task, derived from the seeded
 * generator so that replay reproduces it, then sealed by the coordinator's
 * hook (deterministic too), called once per token. NULL: out of memory. */
static char *new_token(asl_exec *e)
{
    char *t = NULL;
    uint64_t a = asl_rng_next(&e->rng), b = asl_rng_next(&e->rng);
    if (asprintf(&t, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b) < 0)
        return NULL;
    if (!e->opts.seal_token)
        return t;
    char *sealed = e->opts.seal_token(e->opts.seal_ctx, t);
    free(t);
    return sealed;
}

/* A .waitForTaskToken task hands its token on in $$.Task.Token; an activity
 * hands it to the worker that polls GetActivityTask. */
static bool wants_token(const char *resource)
{
    size_t rl = strlen(resource);
    return (rl > 17 && strcmp(resource + rl - 17, ".waitForTaskToken") == 0) ||
           exec_resource_kind(resource) == RES_ACTIVITY;
}

/* One attempt of a Task: a fresh token, then InputPath and Parameters
 * evaluated again (they may read $$.Task.Token and $$.State.RetryCount),
 * then the task itself. */
static void run_task(asl_exec *e, frame *f)
{
    const asl_state *s = frame_state(f);
    free(f->token);
    f->token = NULL;
    if (wants_token(s->resource) && !(f->token = new_token(e))) {
        frame_fail(e, f, "States.Runtime", "out of memory");
        return;
    }
    json_decref(f->effective);
    f->effective = NULL;
    json_t *ctx = NULL;
    /* On failure the state has failed and f may be gone: do not touch it. */
    json_t *eff = state_effective_input(e, f, &ctx);
    json_decref(ctx);
    if (!eff)
        return;
    f->effective = eff;
    if (!state_check_size(e, f, eff, "task input"))
        return;
    schedule_task(e, f);
}

void state_retry_now(asl_exec *e, frame *f)
{
    const asl_state *s = frame_state(f);
    if (s->type == ASL_TASK) {
        run_task(e, f);
    } else if (s->type == ASL_PARALLEL) {
        fanout_start_parallel(e, f);
    } else {
        fanout_start_map(e, f);
    }
}

/* ---- Choice, Wait, Succeed, Fail, Pass --------------------------------- */

static void enter_choice(asl_exec *e, frame *f)
{
    const asl_state *s = frame_state(f);
    json_t *ctx = NULL;
    json_t *in = apply_path(e, f, &s->input_path, f->input, &ctx);
    if (!in)
        goto out;
    asl_scope sc = scope_of(e, f, in, &ctx);
    int next = -1;
    const asl_tmpl *assign = s->assign;
    for (size_t i = 0; i < s->n_choices && next < 0; i++) {
        bool match = false;
        asl_err err = {0};
        if (asl_choice_eval(s->choices[i].rule, &sc, &match, &err) != SF_OK) {
            fail_with(e, f, &err);
            goto out;
        }
        if (match) {
            next = s->choices[i].next;
            assign = s->choices[i].assign;
        }
    }
    if (next < 0)
        next = s->default_next;
    if (next < 0) {
        state_fail(e, f, "States.NoChoiceMatched", "No Choice Rules matched and no Default was specified");
        goto out;
    }
    json_decref(ctx);
    ctx = NULL;
    /* A Choice has no ResultPath: its result is its (filtered) input. */
    finish(e, f, in, assign, next);
out:
    json_decref(ctx);
    json_decref(in);
}

/* Parses a SecondsPath value: AWS wants a long (an integer, never a float). */
static bool wait_seconds(json_t *v, int64_t *out)
{
    if (!json_is_integer(v))
        return false;
    *out = json_integer_value(v);
    return true;
}

static void enter_wait(asl_exec *e, frame *f)
{
    const asl_state *s = frame_state(f);
    json_t *ctx = NULL, *v = NULL;
    f->effective = apply_path(e, f, &s->input_path, f->input, &ctx);
    if (!f->effective)
        goto out;
    asl_scope sc = scope_of(e, f, f->effective, &ctx);
    int64_t at;
    if (s->has_timestamp) {
        at = s->timestamp_ns / 1000000;
    } else if (s->timestamp_path) {
        int64_t ns;
        if (asl_path_eval_scope(s->timestamp_path, &sc, &v) != SF_OK || !json_is_string(v) ||
            !asl_timestamp_parse(json_string_value(v), &ns)) {
            char *t = v ? (json_is_string(v) ? strdup(json_string_value(v)) : asl_json_text(v)) : NULL;
            state_runtime_error(e, f, "States.Runtime",
                          "The TimestampPath parameter does not reference a valid ISO-8601 "
                          "extended offset date-time format string: %s == %s",
                          asl_path_text(s->timestamp_path), t ? t : "null");
            free(t);
            goto out;
        }
        at = ns / 1000000;
    } else if (s->seconds.path) {
        int64_t secs;
        if (asl_path_eval_scope(s->seconds.path, &sc, &v) != SF_OK || !wait_seconds(v, &secs)) {
            char *t = v ? asl_json_text(v) : NULL;
            state_runtime_error(e, f, "States.Runtime",
                          "The SecondsPath parameter cannot be parsed as a long value: %s == %s",
                          asl_path_text(s->seconds.path), t ? t : "null");
            free(t);
            goto out;
        }
        if (secs < 0) {
            state_runtime_error(e, f, "States.Runtime",
                          "The SecondsPath parameter references a negative value: %s == %lld",
                          asl_path_text(s->seconds.path), (long long)secs);
            goto out;
        }
        at = e->now + secs * 1000;
    } else {
        at = e->now + (int64_t)s->seconds.value * 1000;
    }
    f->retrying = false;
    f->wait = F_TIMER;
    f->wake_at = at;
    exec_set_timer(e, f);
out:
    json_decref(ctx);
    json_decref(v);
}

static void enter_fail(asl_exec *e, frame *f)
{
    const asl_state *s = frame_state(f);
    json_t *ctx = NULL, *ev = NULL, *cv = NULL;
    asl_scope sc = scope_of(e, f, f->input, &ctx);
    asl_err err = {0};
    const char *error = s->error, *cause = s->cause;
    if (s->error_path.text) {
        if (asl_expr_eval(&s->error_path, "ErrorPath", &sc, &e->rng, &ev, &err) != SF_OK)
            goto bad;
        error = json_string_value(ev);
    }
    if (s->cause_path.text) {
        if (asl_expr_eval(&s->cause_path, "CausePath", &sc, &e->rng, &cv, &err) != SF_OK)
            goto bad;
        cause = json_string_value(cv);
    }
    /* A Fail state ends its frame: no Retry or Catch applies to it. */
    frame_fail(e, f, error, cause);
    goto out;
bad:
    state_runtime_error(e, f, err.error ? err.error : "States.Runtime", "%s", err.cause ? err.cause : "");
    asl_err_clear(&err);
out:
    json_decref(ctx);
    json_decref(ev);
    json_decref(cv);
}

static void enter_pass(asl_exec *e, frame *f)
{
    const asl_state *s = frame_state(f);
    /* Fast path: a Pass that only moves its input on. */
    if (!s->input_path.path && !s->input_path.is_null && !s->parameters && !s->result &&
        !s->result_path.path && !s->result_path.is_null && !s->output_path.path &&
        !s->output_path.is_null && !s->assign) {
        leave(e, f, json_incref(f->input), NULL, s->next);
        return;
    }
    json_t *ctx = NULL;
    json_t *eff = state_effective_input(e, f, &ctx);
    json_decref(ctx);
    if (!eff)
        return;
    finish(e, f, s->result ? s->result : eff, s->assign, s->next);
    json_decref(eff);
}

void state_timer(asl_exec *e, frame *f)
{
    if (f->retrying) {
        f->retrying = false;
        state_retry_now(e, f);
        return;
    }
    /* A Wait state's time has come. */
    json_t *eff = f->effective;
    f->effective = NULL;
    finish(e, f, eff, frame_state(f)->assign, frame_state(f)->next);
    json_decref(eff);
}

void state_enter(asl_exec *e, frame *f)
{
    const asl_state *s = frame_state(f);
    e->transitions++;
    /* Without a history to fill, a loop of Pass and Choice states would
     * run forever inside one call. AWS bounds every execution (a
     * distributed Map's iterations too) at 25,000 events, about two per
     * state; the same bound holds here. */
    if ((e->opts.no_history || !f->history) && ++f->steps > ASL_HISTORY_MAX / 2) {
        frame_fail(e, f, "States.Runtime",
                   "The execution reached the maximum number of history events (25000).");
        return;
    }
    f->entered_ms = e->now;
    f->retry_total = 0;
    /* A token minted by a Task that failed before its task was scheduled
     * must not show up in a later state's $$.Task. */
    free(f->token);
    f->token = NULL;
    if (s->n_retry) {
        free(f->retry_count);
        f->retry_count = calloc(s->n_retry, sizeof *f->retry_count);
    }
    asl_event *entered = exec_event(e, f, ASL_EV_STATE_ENTERED, s->type, s->name, f->input);
    f->entered_event = entered ? entered->id : 0;
    switch (s->type) {
    case ASL_PASS:
        enter_pass(e, f);
        break;
    case ASL_TASK:
        run_task(e, f);
        break;
    case ASL_CHOICE:
        enter_choice(e, f);
        break;
    case ASL_WAIT:
        enter_wait(e, f);
        break;
    case ASL_SUCCEED: {
        json_t *ctx = NULL;
        json_t *in = apply_path(e, f, &s->input_path, f->input, &ctx);
        json_t *out = in ? apply_path(e, f, &s->output_path, in, &ctx) : NULL;
        json_decref(ctx);
        json_decref(in);
        if (out)
            leave(e, f, out, NULL, -1);
        break;
    }
    case ASL_FAIL:
        enter_fail(e, f);
        break;
    case ASL_PARALLEL:
        fanout_start_parallel(e, f);
        break;
    case ASL_MAP:
        fanout_start_map(e, f);
        break;
    }
}
