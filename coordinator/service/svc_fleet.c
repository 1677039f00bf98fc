/* service/svc_fleet.c - Task states that run on the worker fleet.
 *
 * Two kinds of Resource go to workers: Lambda-style local functions (the
 * worker runs the executable from its functions directory) and statefleet
 * kernels, `arn:aws:states:::statefleet:runKernel`, whose effective input
 * names the kernel ("Kernel") and what it needs ("Cores", "MemoryMB",
 * "Gpu"); the whole input is what the kernel reads.
 *
 * As with functions run here, a fleet task's Started event is made durable
 * before the task leaves for a worker: after a crash the coordinator then
 * knows it may have run, and fails it (Retry decides) rather than running
 * it twice unknowingly. Progress reports are kept in memory for
 * DescribeExecution and `statefleet watch`, and go into the history as
 * TaskProgress events at most every progress_history_ms (more often when
 * the state's HeartbeatSeconds needs it: a report is its heartbeat). */
#define _GNU_SOURCE
#include "svc_internal.h"

#include <stdlib.h>
#include <string.h>

#include "../integrations/function_task.h"
#include "../integrations/resource.h"

#define KERNEL_ARN_SERVICE "statefleet"
#define KERNEL_ARN_API "runKernel"

static svc_task *find_task(svc *s, fleet_ref ref, svc_exec **xo)
{
    svc_exec *x = sf_hmap_getu(&s->execs, (uint64_t)ref.a);
    svc_task *t = x ? svc_exec_task(x, ref.b) : NULL;
    *xo = x;
    return t && t->kind == TK_FLEET ? t : NULL;
}

/* ---- hooks: the fleet's thread, mu taken here ------------------------------ */

static void on_placed(void *ctx, fleet_ref ref, const char *worker)
{
    svc *s = ctx;
    pthread_mutex_lock(&s->mu);
    svc_exec *x;
    svc_task *t = find_task(s, ref, &x);
    if (t) {
        free(t->worker);
        t->worker = strdup(worker);
    }
    pthread_mutex_unlock(&s->mu);
}

static json_t *progress_json(const fleet_progress *p)
{
    json_t *metrics = json_object();
    for (size_t i = 0; i < p->n_metrics; i++)
        json_object_set_new(metrics, p->metrics[i].name, json_real(p->metrics[i].value));
    return json_pack("{s:f,s:I,s:i,s:o}", "fraction", p->fraction, "records",
                     (json_int_t)p->records, "epoch", (int)p->epoch, "metrics", metrics);
}

static void on_progress(void *ctx, fleet_ref ref, const fleet_progress *p)
{
    svc *s = ctx;
    json_t *j = progress_json(p);
    pthread_mutex_lock(&s->mu);
    svc_exec *x;
    svc_task *t = find_task(s, ref, &x);
    if (t && j) {
        int64_t now = svc_now_ms();
        json_decref(t->progress);
        t->progress = json_incref(j);
        t->progress_ms = now;
        int64_t every = s->cfg.progress_history_ms ? s->cfg.progress_history_ms : 10000;
        if (t->heartbeat_s > 0 && t->heartbeat_s * 500 < every)
            every = t->heartbeat_s * 500; /* twice per heartbeat period */
        if (now - t->progress_saved_ms >= every) {
            t->progress_saved_ms = now;
            svc_drive(s, x,
                      &(svc_input){.kind = STORE_IN_TASK_PROGRESS, .task_id = t->id, .payload = j});
        }
    }
    pthread_mutex_unlock(&s->mu);
    json_decref(j);
}

static void on_result(void *ctx, fleet_ref ref, const char *output)
{
    svc *s = ctx;
    json_error_t jerr;
    json_t *out = json_loads(output, JSON_DECODE_ANY, &jerr);
    pthread_mutex_lock(&s->mu);
    svc_exec *x;
    svc_task *t = find_task(s, ref, &x);
    if (t) {
        t->fleet_id = 0; /* the fleet is done with it: nothing to cancel */
        if (!out) {
            char cause[512];
            snprintf(cause, sizeof cause,
                     "worker '%s' answered with output that is not JSON (line %d, column %d: %s)",
                     t->worker ? t->worker : "?", jerr.line, jerr.column, jerr.text);
            svc_drive(s, x,
                      &(svc_input){.kind = STORE_IN_TASK_FAILED,
                                   .task_id = t->id,
                                   .a = "States.TaskFailed",
                                   .b = cause});
        } else {
            json_t *answer = t->invoke_wrap ? integ_invoke_response(out) : json_incref(out);
            svc_drive(
                s, x,
                &(svc_input){.kind = STORE_IN_TASK_SUCCEEDED, .task_id = t->id, .payload = answer});
            json_decref(answer);
        }
    }
    pthread_mutex_unlock(&s->mu);
    json_decref(out);
}

static void on_failure(void *ctx, fleet_ref ref, const char *error, const char *cause)
{
    svc *s = ctx;
    pthread_mutex_lock(&s->mu);
    svc_exec *x;
    svc_task *t = find_task(s, ref, &x);
    if (t) {
        t->fleet_id = 0;
        svc_drive(
            s, x,
            &(svc_input){.kind = STORE_IN_TASK_FAILED, .task_id = t->id, .a = error, .b = cause});
    }
    pthread_mutex_unlock(&s->mu);
}

/* ---- open, close --------------------------------------------------------------- */

sf_rc svc_fleet_open(svc *s, char *err, size_t errlen)
{
    fleet_config fc = {.endpoint = s->cfg.fleet_endpoint,
                       .heartbeat_ms = s->cfg.heartbeat_ms,
                       .unplaceable_ms = s->cfg.unplaceable_ms,
                       .key_file = s->cfg.fleet_key,
                       .authorised_dir = s->cfg.fleet_authorised,
                       .insecure = s->cfg.fleet_insecure,
                       .local_endpoint = s->cfg.local_workers != 0,
                       .quiet = s->cfg.quiet};
    fleet_hooks hooks = {.ctx = s,
                         .placed = on_placed,
                         .progress = on_progress,
                         .result = on_result,
                         .failure = on_failure};
    return fleet_open(&fc, &hooks, &s->fleet, err, errlen);
}

sf_rc svc_fleet_start_locals(svc *s, char *err, size_t errlen)
{
    if (s->cfg.local_workers == 0)
        return SF_OK;
    fleet_local_config lc = {.endpoint = fleet_local_endpoint(s->fleet),
                             .worker_bin = s->cfg.worker_bin,
                             .functions_dir = s->functions_dir,
                             .data_root = s->data_root,
                             .count = s->cfg.local_workers > 0 ? s->cfg.local_workers : 0,
                             .quiet = s->cfg.quiet};
    return fleet_local_start(&lc, &s->locals, err, errlen);
}

void svc_fleet_close(svc *s)
{
    fleet_local_stop(&s->locals);
    fleet_close(&s->fleet);
}

/* ---- planning and dispatch ------------------------------------------------------- */

/* Failing here would drive the engine from inside its own command loop;
 * the error is kept and the task fails at dispatch instead. */
static bool fail_plan(svc_task *t, const char *error, const char *cause)
{
    free(t->kernel);
    t->kernel = NULL;
    free(t->plan_error);
    free(t->plan_cause);
    t->plan_error = strdup(error);
    t->plan_cause = strdup(cause);
    return false;
}

static bool uint_field(json_t *in, const char *name, uint64_t max, uint64_t dflt, uint64_t *out,
                       char *why, size_t len)
{
    json_t *v = json_object_get(in, name);
    if (!v) {
        *out = dflt;
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max) {
        snprintf(why, len, "'%s' must be an integer from 0 to %llu", name, (unsigned long long)max);
        return false;
    }
    *out = (uint64_t)json_integer_value(v);
    return true;
}

static bool plan_kernel(svc_task *t)
{
    char why[512];
    json_t *in = t->input;
    json_t *k = json_object_get(in, "Kernel");
    uint64_t cores, mem_mb;
    if (!json_is_object(in) || !json_is_string(k) || !json_string_length(k)) {
        snprintf(why, sizeof why,
                 "state '%s': the input of %s:%s must be an object whose 'Kernel' names the "
                 "kernel to run (for example {\"Kernel\": \"spin\", \"Cores\": 1})",
                 t->state_name, KERNEL_ARN_SERVICE, KERNEL_ARN_API);
        return fail_plan(t, "States.Runtime", why);
    }
    char field_why[128];
    if (!uint_field(in, "Cores", UINT32_MAX, 1, &cores, field_why, sizeof field_why) ||
        !uint_field(in, "MemoryMB", UINT64_MAX >> 20, 0, &mem_mb, field_why, sizeof field_why)) {
        snprintf(why, sizeof why, "state '%s': %s", t->state_name, field_why);
        return fail_plan(t, "States.Runtime", why);
    }
    json_t *gpu = json_object_get(in, "Gpu");
    if (gpu && !json_is_boolean(gpu)) {
        snprintf(why, sizeof why, "state '%s': 'Gpu' must be true or false", t->state_name);
        return fail_plan(t, "States.Runtime", why);
    }
    t->kernel = strdup(json_string_value(k));
    t->cores = (uint32_t)cores;
    t->memory_bytes = mem_mb << 20;
    t->gpu = json_is_true(gpu);
    return true;
}

bool svc_fleet_is_kernel(const integ_resource *r)
{
    return r->kind == INTEG_RES_SERVICE && strcmp(r->service, KERNEL_ARN_SERVICE) == 0 &&
           strcmp(r->api, KERNEL_ARN_API) == 0 && r->pattern != INTEG_PATTERN_TOKEN;
}

bool svc_fleet_plan(svc_task *t, const asl_cmd *c)
{
    t->attempt = c->attempt;
    t->timeout_s = c->timeout_s;
    t->heartbeat_s = c->heartbeat_s;
    integ_resource r;
    if (integ_resource_parse(t->resource, &r) != SF_OK)
        return fail_plan(t, "States.Runtime", "the resource does not parse");
    if (svc_fleet_is_kernel(&r))
        return plan_kernel(t);
    integ_fn_call call;
    asl_err err = {0};
    if (integ_fn_call_plan(&r, t->input, t->state_name, &call, &err) != SF_OK) {
        fail_plan(t, err.error ? err.error : "States.Runtime", err.cause ? err.cause : "");
        asl_err_clear(&err);
        return false;
    }
    char kernel[300];
    snprintf(kernel, sizeof kernel, "lambda:%s", call.name);
    t->kernel = strdup(kernel);
    t->invoke_wrap = call.wrap_invoke;
    t->cores = 1;
    /* The worker gets the function's payload, not the state's input. */
    json_decref(t->input);
    t->input = call.payload;
    return true;
}

void svc_fleet_dispatch(svc *s, svc_exec *x, svc_task *t)
{
    if (!t->kernel) {
        svc_drive(s, x,
                  &(svc_input){.kind = STORE_IN_TASK_FAILED,
                               .task_id = t->id,
                               .a = t->plan_error ? t->plan_error : "States.Runtime",
                               .b = t->plan_cause});
        return;
    }
    t->started = true;
    t->started_ms = svc_now_ms();
    svc_drive(s, x, &(svc_input){.kind = STORE_IN_TASK_STARTED, .task_id = t->id});
    svc_act(s, ACT_FLEET, x->id, t->id);
}

void svc_fleet_submit(svc *s, int64_t exec_id, uint64_t task_id)
{
    svc_exec *x = sf_hmap_getu(&s->execs, (uint64_t)exec_id);
    svc_task *t = x ? svc_exec_task(x, task_id) : NULL;
    if (!t || t->kind != TK_FLEET || t->fleet_id)
        return; /* it ended (timed out, stopped) while its Started event was written */
    char *in = json_dumps(t->input, JSON_COMPACT | JSON_ENCODE_ANY);
    char err[600] = "";
    fleet_job j = {.ref = {.a = x->id, .b = t->id},
                   .attempt = (uint32_t)t->attempt,
                   .resource = t->resource,
                   .kernel = t->kernel,
                   .input = in,
                   .timeout_ms = (uint64_t)t->timeout_s * 1000,
                   .heartbeat_ms = (uint64_t)t->heartbeat_s * 1000,
                   .req = {.cores = t->cores, .memory_bytes = t->memory_bytes, .gpu = t->gpu}};
    t->fleet_id = in ? fleet_submit(s->fleet, &j, err, sizeof err) : 0;
    free(in);
    if (!t->fleet_id)
        svc_drive(s, x,
                  &(svc_input){.kind = STORE_IN_TASK_FAILED,
                               .task_id = t->id,
                               .a = "States.TaskFailed",
                               .b = err[0] ? err : "out of memory"});
}

/* ---- what clients see ---------------------------------------------------------- */

json_t *svc_fleet_describe_tasks(svc *s, svc_exec *x)
{
    (void)s;
    json_t *arr = json_array();
    for (size_t i = 0; x && i < x->ntasks; i++) {
        svc_task *t = x->tasks[i];
        if (t->kind != TK_FLEET || !t->started)
            continue;
        json_t *o = json_pack("{s:s,s:s,s:s,s:i,s:o}", "stateName", t->state_name, "resource",
                              t->resource, "kernel", t->kernel ? t->kernel : "", "attempt",
                              t->attempt, "startDate", svc_epoch(t->started_ms));
        if (!o)
            continue;
        if (t->worker)
            json_object_set_new(o, "worker", json_string(t->worker));
        if (t->progress && t->progress_ms) {
            json_t *p = json_deep_copy(t->progress);
            json_object_set_new(p, "updatedDate", svc_epoch(t->progress_ms));
            json_object_set_new(o, "progress", p);
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

json_t *svc_fleet_stats(svc *s)
{
    fleet_stats st;
    fleet_get_stats(s->fleet, &st);
    fleet_worker_info info[256];
    size_t n = fleet_workers(s->fleet, info, 256);
    json_t *workers = json_array();
    for (size_t i = 0; i < n && i < 256; i++)
        json_array_append_new(workers,
                              json_pack("{s:s,s:i,s:i,s:I,s:i,s:i,s:i}", "id", info[i].id, "cores",
                                        (int)info[i].cores, "numaNodes", (int)info[i].numa_nodes,
                                        "memoryBytes", (json_int_t)info[i].memory_bytes, "gpus",
                                        (int)info[i].gpus, "maxTasks", (int)info[i].max_tasks,
                                        "running", (int)info[i].running));
    return json_pack("{s:s,s:b,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "endpoint",
                     fleet_endpoint(s->fleet), "curve", fleet_curve_on(s->fleet), "workers",
                     workers, "submitted", (json_int_t)st.submitted, "placed",
                     (json_int_t)st.placed, "results", (json_int_t)st.results, "failures",
                     (json_int_t)st.failures, "progress", (json_int_t)st.progress, "lostWorkers",
                     (json_int_t)st.lost_workers, "queued", (json_int_t)st.queued);
}
