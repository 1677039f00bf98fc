/* asl/exec_fanout.c - Parallel branches and Map iterations.
 *
 * A fanned-out state owns a table of children and launches them one at a
 * time: the parent goes back on the run stack under its child, so a child
 * runs until it waits or ends before the next one starts. That keeps
 * history in item order and memory proportional to MaxConcurrency, not to
 * the number of items. Inline Map and Parallel fail on the first child
 * failure; a distributed Map counts failures against its tolerance. */
#define _GNU_SOURCE
#include "exec_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fanout_free(fanout **p)
{
    fanout *fan = *p;
    if (!fan)
        return;
    json_decref(fan->items);
    json_decref(fan->results);
    free(fan->live);
    asl_err_clear(&fan->err);
    free(fan->run_name);
    free(fan);
    *p = NULL;
}

/* Removes f from the run stack, if it is there. */
static void unqueue(asl_exec *e, frame *f)
{
    if (!f->queued)
        return;
    for (size_t i = e->n_stack; i-- > 0;)
        if (e->stack[i] == f) {
            memmove(&e->stack[i], &e->stack[i + 1], (e->n_stack - i - 1) * sizeof *e->stack);
            e->n_stack--;
            break;
        }
    f->queued = false;
}

/* Ends every running child (their tasks are cancelled) and frees the table. */
void fanout_abort(asl_exec *e, frame *f)
{
    fanout *fan = f->fan;
    if (!fan)
        return;
    for (size_t i = 0; i < fan->n; i++) {
        frame *c = fan->live[i];
        if (!c)
            continue;
        fan->live[i] = NULL;
        if (c->task_id && c->task_id < e->cap_tasks && e->tasks[c->task_id] == c)
            exec_command(e, ASL_CMD_CANCEL_TASK, c->task_id, NULL, NULL, NULL);
        unqueue(e, c);
        exec_frame_free(e, c);
    }
    fanout_free(&f->fan);
}

static fanout *fanout_new(size_t n)
{
    fanout *fan = calloc(1, sizeof *fan);
    if (!fan)
        return NULL;
    fan->n = n;
    fan->results = json_array();
    fan->live = calloc(n ? n : 1, sizeof *fan->live);
    if (!fan->results || !fan->live) {
        fanout_free(&fan);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(fan->results, json_null())) {
            fanout_free(&fan);
            return NULL;
        }
    return fan;
}

static void runtime_fail(asl_exec *e, frame *f, const char *what)
{
    state_runtime_error(e, f, "States.Runtime", "%s", what);
}

static void oom(asl_exec *e, frame *f)
{
    runtime_fail(e, f, "out of memory");
}

void fanout_start_parallel(asl_exec *e, frame *f)
{
    const asl_state *s = frame_state(f);
    json_t *ctx = NULL;
    json_decref(f->effective);
    f->effective = state_effective_input(e, f, &ctx);
    json_decref(ctx);
    if (!f->effective)
        return;
    exec_event(e, f, ASL_EV_PARALLEL_STARTED, 0, NULL, NULL);
    fanout_free(&f->fan);
    f->fan = fanout_new(s->n_branches);
    if (!f->fan) {
        oom(e, f);
        return;
    }
    f->wait = F_CHILDREN;
    exec_push(e, f);
}

/* Reads a number that AWS also accepts as a numeric string ("1"). */
static bool number_value(json_t *v, double *out, bool integer)
{
    if (json_is_integer(v) || (!integer && json_is_real(v))) {
        *out = json_number_value(v);
        return true;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    char *end;
    double d = strtod(s, &end);
    if (end == s || *end)
        return false;
    if (integer && d != floor(d))
        return false;
    *out = d;
    return true;
}

/* MaxConcurrency(Path), ToleratedFailureCount(Path), ToleratedFailurePercentage(Path). */
static bool map_limits(asl_exec *e, frame *f, fanout *fan, json_t *ctx)
{
    const asl_state *s = frame_state(f);
    asl_scope sc = {.input = f->effective, .context = ctx, .vars = f->vars};
    struct {
        const asl_num_field *n;
        const char *name;
        bool integer;
        double *out;
        double dflt;
    } fields[] = {
        {&s->max_concurrency, "MaxConcurrencyPath", true, NULL, 0},
        {&s->tolerated_count, "ToleratedFailureCountPath", true, &fan->tolerated_count, 0},
        {&s->tolerated_percent, "ToleratedFailurePercentagePath", false, &fan->tolerated_percent, 0},
    };
    double maxc = 0;
    fields[0].out = &maxc;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const asl_num_field *n = fields[i].n;
        if (!n->set)
            continue;
        if (!n->path) {
            *fields[i].out = n->value;
            continue;
        }
        json_t *v = NULL;
        double d;
        if (asl_path_eval_scope(n->path, &sc, &v) != SF_OK ||
            !number_value(v, &d, fields[i].integer)) {
            char *t = v ? (json_is_string(v) ? strdup(json_string_value(v)) : asl_json_text(v))
                        : NULL;
            char what[1024];
            snprintf(what, sizeof what,
                     "The %s field refers to value \"%s\" which is not a valid %s: %s",
                     fields[i].name, t ? t : "null", fields[i].integer ? "integer" : "float",
                     asl_path_text(n->path));
            free(t);
            json_decref(v);
            runtime_fail(e, f, what);
            return false;
        }
        json_decref(v);
        *fields[i].out = d;
    }
    fan->has_tolerated_count = s->tolerated_count.set;
    fan->has_tolerated_percent = s->tolerated_percent.set;
    if (fan->has_tolerated_percent &&
        (fan->tolerated_percent < 0 || fan->tolerated_percent > 100)) {
        runtime_fail(e, f, "ToleratedFailurePercentage must be between 0 and 100.");
        return false;
    }
    if (fan->has_tolerated_count && fan->tolerated_count < 0) {
        runtime_fail(e, f, "ToleratedFailureCount must be a non-negative integer.");
        return false;
    }
    if (maxc < 0) {
        runtime_fail(e, f, "MaxConcurrency must be a non-negative integer.");
        return false;
    }
    fan->max_running = (size_t)maxc;
    return true;
}

/* Groups items into batches as ItemBatcher says: {"Items":[...]} (plus
 * BatchInput). Returns the new item array (new reference) or NULL. */
static json_t *make_batches(asl_exec *e, frame *f, json_t *items, json_t **ctx)
{
    const asl_state *s = frame_state(f);
    asl_scope sc = {.input = f->effective, .context = *ctx, .vars = f->vars};
    double max_items = 0, max_bytes = 0;
    const asl_num_field *nf[2] = {&s->max_items_per_batch, &s->max_bytes_per_batch};
    double *outs[2] = {&max_items, &max_bytes};
    for (int i = 0; i < 2; i++) {
        if (!nf[i]->set)
            continue;
        if (!nf[i]->path) {
            *outs[i] = nf[i]->value;
            continue;
        }
        json_t *v = NULL;
        if (asl_path_eval_scope(nf[i]->path, &sc, &v) != SF_OK || !number_value(v, outs[i], true) ||
            *outs[i] < 1) {
            json_decref(v);
            runtime_fail(e, f, "The ItemBatcher limits must reference positive integers.");
            return NULL;
        }
        json_decref(v);
    }
    json_t *batch_input = NULL;
    if (s->batch_input && !(batch_input = state_apply_tmpl(e, f, s->batch_input, f->effective, ctx)))
        return NULL;
    if (max_bytes <= 0 || max_bytes > ASL_PAYLOAD_MAX)
        max_bytes = ASL_PAYLOAD_MAX;
    json_t *batches = json_array(), *cur_items = NULL;
    size_t cur_bytes = 0;
    for (size_t i = 0; batches && i < json_array_size(items); i++) {
        json_t *it = json_array_get(items, i);
        size_t sz = json_dumpb(it, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY) + 1;
        if (cur_items && ((max_items > 0 && json_array_size(cur_items) >= (size_t)max_items) ||
                          cur_bytes + sz > (size_t)max_bytes))
            cur_items = NULL;
        if (!cur_items) {
            json_t *b = json_object();
            cur_items = json_array();
            if (batch_input)
                json_object_set(b, "BatchInput", batch_input);
            json_object_set_new(b, "Items", cur_items);
            json_array_append_new(batches, b);
            cur_bytes = 0;
        }
        json_array_append(cur_items, it);
        cur_bytes += sz;
    }
    json_decref(batch_input);
    return batches;
}

/* A copy of an ItemReader or ResultWriter with its Parameters resolved.
 * NULL means the state has failed. */
static json_t *resolved_spec(asl_exec *e, frame *f, json_t *spec, const asl_tmpl *params)
{
    json_t *copy = json_deep_copy(spec);
    if (!copy) {
        oom(e, f);
        return NULL;
    }
    if (!params)
        return copy;
    json_t *ctx = NULL;
    json_t *p = state_apply_tmpl(e, f, params, f->effective, &ctx);
    json_decref(ctx);
    if (!p) {
        json_decref(copy);
        return NULL;
    }
    json_object_set_new(copy, "Parameters", p);
    return copy;
}

static void map_run_arn(const asl_exec *e, const frame *f, char *buf, size_t len)
{
    const char *run = f->fan && f->fan->run_name ? f->fan->run_name : frame_state(f)->name;
    snprintf(buf, len, "%s/%s", e->s_exec_arn, run);
}

/* Items are known: set up the children and start launching. */
static void map_begin(asl_exec *e, frame *f, json_t *items)
{
    const asl_state *s = frame_state(f);
    json_t *ctx = s->uses_context ? exec_context(e, f, s, NULL) : NULL;
    json_t *owned = json_incref(items);
    if (s->item_batcher) {
        json_t *b = make_batches(e, f, items, &ctx);
        json_decref(owned);
        owned = b;
        if (!owned) {
            json_decref(ctx);
            return;
        }
    }
    fanout *fan = fanout_new(json_array_size(owned));
    if (!fan) {
        json_decref(owned);
        json_decref(ctx);
        oom(e, f);
        return;
    }
    fan->items = owned;
    fan->distributed = s->distributed;
    fanout_free(&f->fan);
    f->fan = fan;
    bool ok = map_limits(e, f, fan, ctx);
    json_decref(ctx);
    if (!ok)
        return;
    if (fan->distributed) {
        char name[96];
        snprintf(name, sizeof name, "%s:%08llx", s->label ? s->label : s->name,
                 (unsigned long long)(asl_rng_next(&e->rng) & 0xffffffffULL));
        fan->run_name = strdup(name);
        asl_event *ev = exec_event(e, f, ASL_EV_MAP_RUN_STARTED, 0, NULL, NULL);
        if (ev && fan->run_name) {
            /* The fan-out (and its run name) ends before the history does. */
            ev->owned_name = strdup(fan->run_name);
            ev->name = ev->owned_name;
        }
    }
    f->wait = F_CHILDREN;
    exec_push(e, f);
}

void fanout_start_map(asl_exec *e, frame *f)
{
    const asl_state *s = frame_state(f);
    json_t *ctx = NULL;
    json_decref(f->effective);
    f->effective = state_effective_input(e, f, &ctx);
    if (!f->effective) {
        json_decref(ctx);
        return;
    }
    if (s->item_reader) {
        /* The caller reads the items (object store); we wait for them. */
        json_decref(ctx);
        json_t *spec = resolved_spec(e, f, s->item_reader, s->reader_params);
        if (!spec)
            return;
        if (!exec_new_task(e, f)) {
            json_decref(spec);
            oom(e, f);
            return;
        }
        /* MapStateStarted waits for the items: it records their count, and
         * an event, once recorded, is never changed (a durable coordinator
         * has already written it). */
        exec_command(e, ASL_CMD_READ_ITEMS, f->task_id, s->name, NULL, spec);
        json_decref(spec);
        f->wait = F_TASK;
        return;
    }
    json_t *items = NULL;
    if (s->items_path.path) {
        if (s->uses_context && !ctx)
            ctx = exec_context(e, f, s, NULL);
        asl_scope sc = {.input = f->effective, .context = ctx, .vars = f->vars};
        if (asl_path_eval_scope(s->items_path.path, &sc, &items) != SF_OK)
            items = NULL;
    } else {
        items = json_incref(s->items ? s->items : f->effective);
    }
    json_decref(ctx);
    asl_event *ev = exec_event(e, f, ASL_EV_MAP_STARTED, 0, NULL, NULL);
    if (ev)
        ev->index = json_is_array(items) ? (int64_t)json_array_size(items) : 0;
    if (!json_is_array(items)) {
        char what[600];
        snprintf(what, sizeof what, "Items of Map state '%s' must be a JSON array (ItemsPath '%s')",
                 s->name, s->items_path.path ? asl_path_text(s->items_path.path) : "$");
        json_decref(items);
        runtime_fail(e, f, what);
        return;
    }
    map_begin(e, f, items);
    json_decref(items);
}

void fanout_items_read(asl_exec *e, frame *f, json_t *items)
{
    if (!json_is_array(items)) {
        runtime_fail(e, f, "The ItemReader did not produce a JSON array of items.");
        return;
    }
    asl_event *ev = exec_event(e, f, ASL_EV_MAP_STARTED, 0, NULL, NULL);
    if (ev)
        ev->index = (int64_t)json_array_size(items);
    map_begin(e, f, items);
}

/* The input of iteration i: ItemSelector applied with $$.Map.Item, or the item. */
static json_t *iteration_input(asl_exec *e, frame *f, size_t i, json_t **item_ctx)
{
    const asl_state *s = frame_state(f);
    json_t *item = json_array_get(f->fan->items, i);
    if (!s->parameters)
        return json_incref(item);
    json_t *mi = json_pack("{s:I,s:O}", "Index", (json_int_t)i, "Value", item);
    *item_ctx = exec_context(e, f, s, mi);
    json_decref(mi);
    return state_apply_tmpl(e, f, s->parameters, f->effective, item_ctx);
}

static void map_complete(asl_exec *e, frame *f);

void fanout_launch(asl_exec *e, frame *f)
{
    fanout *fan = f->fan;
    const asl_state *s = frame_state(f);
    if (!fan || fan->writing)
        return;
    if (fan->launched == fan->n) {
        if (fan->finished + fan->failed == fan->n)
            map_complete(e, f);
        return;
    }
    if (fan->max_running && fan->running >= fan->max_running)
        return;
    size_t i = fan->launched++;
    json_t *input, *ctx = NULL;
    const asl_sm *sm;
    if (s->type == ASL_PARALLEL) {
        input = json_incref(f->effective);
        sm = &s->branches[i];
    } else {
        input = iteration_input(e, f, i, &ctx);
        json_decref(ctx);
        if (!input)
            return;
        sm = s->iterator;
        if (!fan->distributed) {
            /* A distributed Map's iterations are child executions with
             * histories of their own; only the Map Run shows here. */
            asl_event *ev = exec_event(e, f, ASL_EV_MAP_ITERATION_STARTED, 0, s->name, NULL);
            if (ev)
                ev->index = (int64_t)i;
        }
    }
    frame *c = exec_frame_new(e, sm, f, i, input, f->vars);
    json_decref(input);
    if (!c) {
        oom(e, f);
        return;
    }
    fan->live[i] = c;
    fan->running++;
    /* Parent first, then the child on top: the child runs before the next launch. */
    exec_push(e, f);
    exec_push(e, c);
}

/* Every child has ended: write results if asked, then leave the state. */
static void map_complete(asl_exec *e, frame *f)
{
    const asl_state *s = frame_state(f);
    fanout *fan = f->fan;
    if (s->type == ASL_MAP && s->result_writer && !fan->writing) {
        json_t *spec = resolved_spec(e, f, s->result_writer, s->writer_params);
        if (!spec)
            return;
        char arn[600];
        map_run_arn(e, f, arn, sizeof arn);
        json_t *req = json_pack("{s:o,s:s,s:O}", "ResultWriter", spec, "MapRunArn", arn,
                                "Results", fan->results);
        if (!req || !exec_new_task(e, f)) {
            json_decref(req);
            oom(e, f);
            return;
        }
        fan->writing = true;
        exec_command(e, ASL_CMD_WRITE_RESULTS, f->task_id, s->name, NULL, req);
        json_decref(req);
        f->wait = F_TASK;
        return;
    }
    json_t *results = json_incref(fan->results);
    /* AWS records MapStateSucceeded but no ParallelStateSucceeded. */
    if (s->type == ASL_MAP) {
        if (fan->distributed)
            exec_event(e, f, ASL_EV_MAP_RUN_SUCCEEDED, 0, NULL, NULL);
        exec_event(e, f, ASL_EV_MAP_SUCCEEDED, 0, NULL, NULL);
    }
    fanout_free(&f->fan);
    f->wait = F_RUN; /* leaving the state sets what comes next */
    state_succeed(e, f, results);
    json_decref(results);
}

void fanout_results_written(asl_exec *e, frame *f, json_t *details)
{
    fanout *fan = f->fan;
    char arn[600];
    map_run_arn(e, f, arn, sizeof arn);
    json_t *out = json_pack("{s:s,s:O}", "MapRunArn", arn, "ResultWriterDetails",
                            details ? details : json_null());
    if (fan && fan->distributed)
        exec_event(e, f, ASL_EV_MAP_RUN_SUCCEEDED, 0, NULL, NULL);
    exec_event(e, f, ASL_EV_MAP_SUCCEEDED, 0, NULL, NULL);
    fanout_free(&f->fan);
    f->wait = F_RUN;
    if (!out) {
        oom(e, f);
        return;
    }
    state_succeed(e, f, out);
    json_decref(out);
}

void fanout_child_done(asl_exec *e, frame *c, json_t *output)
{
    frame *f = c->parent;
    fanout *fan = f->fan;
    size_t i = c->index;
    json_array_set(fan->results, i, output);
    fan->live[i] = NULL;
    fan->running--;
    fan->finished++;
    /* Keep the parent's event chain going from its child's last event. */
    if (c->prev_event > f->prev_event)
        f->prev_event = c->prev_event;
    if (frame_state(f)->type == ASL_MAP && !fan->distributed) {
        asl_event *ev = exec_event(e, f, ASL_EV_MAP_ITERATION_SUCCEEDED, 0, frame_state(f)->name, NULL);
        if (ev)
            ev->index = (int64_t)i;
    }
    exec_frame_free(e, c);
    exec_push(e, f);
}

/* Has a distributed Map failed more than it tolerates? */
static bool over_tolerance(const fanout *fan)
{
    if (!fan->has_tolerated_count && !fan->has_tolerated_percent)
        return fan->failed > 0;
    if (fan->has_tolerated_count && (double)fan->failed > fan->tolerated_count)
        return true;
    if (fan->has_tolerated_percent && fan->n > 0 &&
        100.0 * (double)fan->failed / (double)fan->n > fan->tolerated_percent)
        return true;
    return false;
}

void fanout_child_failed(asl_exec *e, frame *c, const char *error, const char *cause)
{
    frame *f = c->parent;
    fanout *fan = f->fan;
    const asl_state *s = frame_state(f);
    size_t i = c->index;
    fan->live[i] = NULL;
    fan->running--;
    fan->failed++;
    if (c->prev_event > f->prev_event)
        f->prev_event = c->prev_event;
    if (s->type == ASL_MAP && !fan->distributed) {
        asl_event *ev = exec_event(e, f, ASL_EV_MAP_ITERATION_FAILED, 0, s->name, NULL);
        if (ev)
            ev->index = (int64_t)i;
    }
    if (fan->distributed) {
        json_t *eo = json_pack("{s:s?,s:s?}", "Error", error, "Cause", cause);
        json_array_set_new(fan->results, i, eo ? eo : json_null());
    }
    char *er = strdup(error ? error : "");
    char *ca = cause ? strdup(cause) : NULL;
    exec_frame_free(e, c);
    if (fan->distributed && !over_tolerance(fan)) {
        free(er);
        free(ca);
        exec_push(e, f);
        return;
    }
    /* The state fails: stop every other child. */
    fanout_abort(e, f);
    if (s->distributed)
        exec_event(e, f, ASL_EV_MAP_RUN_FAILED, 0, NULL, NULL);
    /* state_fail records MapStateFailed / ParallelStateFailed unless a
     * retry follows: AWS shows only the final failure. */
    f->wait = F_RUN;
    f->children_failed = true;
    if (s->distributed)
        state_fail(e, f, "States.ExceedToleratedFailureThreshold",
                   "The specified tolerance threshold was exceeded.");
    else
        state_fail(e, f, er, ca);
    free(er);
    free(ca);
}
