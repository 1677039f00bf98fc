/* tests/asl/test_exec_activity.c - activity tasks (Activity* history events,
 * workerName, heartbeats), sealed task tokens, and the task queries a
 * durable coordinator asks after replaying an execution. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/asl/exec.h"
#include "coordinator/asl/machine.h"

#define T0 1700000000000LL /* an arbitrary start, in ms */
#define ACT "arn:aws:states:us-east-1:123456789012:activity:train-worker"

static asl_machine *compile(const char *text)
{
    asl_diag d = {0};
    asl_machine *m = NULL;
    sf_rc rc = asl_machine_parse(text, strlen(text), &m, &d);
    cr_assert_eq(rc, SF_OK, "definition refused: %s", d.n ? d.msg[0] : "?");
    asl_diag_clear(&d);
    return m;
}

/* A seal hook in the coordinator's spirit: deterministic, and counted so
 * the tests can see it runs once per token. */
typedef struct sealer {
    int calls;
    bool fail;
} sealer;

static char *seal(void *ctx, const char *raw)
{
    sealer *s = ctx;
    s->calls++;
    if (s->fail)
        return NULL;
    char *out = NULL;
    if (asprintf(&out, "sealed.%s.mac", raw) < 0)
        return NULL;
    return out;
}

static asl_exec *start_with(const asl_machine *m, const char *input, sealer *s)
{
    json_t *in = json_loads(input, JSON_DECODE_ANY, NULL);
    asl_exec_opts o = {.seed = 7, .exec_name = "t"};
    if (s) {
        o.seal_token = seal;
        o.seal_ctx = s;
    }
    asl_exec *e = NULL;
    cr_assert_eq(asl_exec_new(m, in, &o, &e), SF_OK);
    json_decref(in);
    cr_assert_eq(asl_exec_start(e, T0), SF_OK);
    return e;
}

/* The one RUN_TASK queued now (any CANCEL_TASK before it is skipped). */
typedef struct run {
    uint64_t id;
    char *token;
    json_t *input;
    int64_t heartbeat_s, timeout_s;
} run;

static run take_run(asl_exec *e)
{
    asl_cmd *c;
    size_t n = asl_exec_take_commands(e, &c);
    run r = {0};
    size_t runs = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i].type == ASL_CMD_RUN_TASK) {
            runs++;
            r.id = c[i].task_id;
            r.token = c[i].token ? strdup(c[i].token) : NULL;
            r.input = json_incref(c[i].input);
            r.heartbeat_s = c[i].heartbeat_s;
            r.timeout_s = c[i].timeout_s;
        }
        asl_cmd_cleanup(&c[i]);
    }
    free(c);
    cr_assert_eq(runs, 1, "want one RUN_TASK, got %zu", runs);
    return r;
}

static void run_free(run *r)
{
    free(r->token);
    json_decref(r->input);
    memset(r, 0, sizeof *r);
}

/* The history's event types, space-separated. */
static char *types(const asl_exec *e)
{
    const asl_history *h = asl_exec_history(e);
    size_t len = 0;
    char *out = NULL;
    FILE *f = open_memstream(&out, &len);
    for (size_t i = 0; i < h->n; i++) {
        char buf[48];
        fprintf(f, "%s%s", i ? " " : "", asl_event_type_name(&h->ev[i], buf));
    }
    fclose(f);
    return out;
}

/* The JSON of the first event of type `type`, new reference. */
static json_t *event_json(const asl_exec *e, const char *type)
{
    const asl_history *h = asl_exec_history(e);
    for (size_t i = 0; i < h->n; i++) {
        char buf[48];
        if (strcmp(asl_event_type_name(&h->ev[i], buf), type) == 0)
            return asl_event_to_json(&h->ev[i], "us-east-1", "arn");
    }
    cr_assert_fail("no %s event", type);
    return NULL;
}

static char *history_json(const asl_exec *e)
{
    const asl_history *h = asl_exec_history(e);
    json_t *arr = json_array();
    for (size_t i = 0; i < h->n; i++)
        json_array_append_new(arr, asl_event_to_json(&h->ev[i], "us-east-1", "arn"));
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return s;
}

static void expect_types(const asl_exec *e, const char *want)
{
    char *got = types(e);
    cr_assert_str_eq(got, want);
    free(got);
}

static const char *ACTIVITY =
    "{\"StartAt\":\"Train\",\"States\":{\"Train\":{\"Type\":\"Task\",\"Resource\":\"" ACT "\","
    "\"Parameters\":{\"job.$\":\"$.job\"},\"TimeoutSeconds\":300,\"HeartbeatSeconds\":60,"
    "\"End\":true}}}";

Test(activity, success_records_scheduled_started_succeeded)
{
    asl_machine *m = compile(ACTIVITY);
    asl_exec *e = start_with(m, "{\"job\":\"ll-1\"}", NULL);
    run r = take_run(e);
    cr_assert(r.token && strlen(r.token) >= 16, "an activity task carries a token");
    cr_assert_eq(r.timeout_s, 300);
    cr_assert_eq(r.heartbeat_s, 60);
    cr_assert_eq(asl_exec_task_started(e, r.id, "gpu-node-7", T0 + 10), SF_OK);
    cr_assert_eq(asl_exec_task_started(e, r.id, "gpu-node-7", T0 + 11), SF_ESTATE,
                 "a task starts once");
    json_t *out = json_pack("{s:s}", "model", "s3://b/m.tar.gz");
    cr_assert_eq(asl_exec_task_succeeded(e, r.id, out, T0 + 20), SF_OK);
    json_decref(out);
    cr_assert_eq(asl_exec_get_status(e), ASL_EXEC_SUCCEEDED);
    expect_types(e, "ExecutionStarted TaskStateEntered ActivityScheduled ActivityStarted "
                    "ActivitySucceeded TaskStateExited ExecutionSucceeded");

    json_t *sched = event_json(e, "ActivityScheduled");
    json_t *want = json_pack("{s:s,s:s,s:{s:b},s:i,s:i}", "resource", ACT, "input",
                             "{\"job\":\"ll-1\"}", "inputDetails", "truncated", 0,
                             "timeoutInSeconds", 300, "heartbeatInSeconds", 60);
    json_t *got = json_object_get(sched, "activityScheduledEventDetails");
    char *gs = json_dumps(got, JSON_COMPACT);
    cr_assert(json_equal(got, want), "activityScheduledEventDetails %s", gs);
    free(gs);
    json_decref(want);
    json_decref(sched);

    json_t *started = event_json(e, "ActivityStarted");
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(started, "activityStartedEventDetails"), "workerName")),
                     "gpu-node-7");
    json_decref(started);

    json_t *ok = event_json(e, "ActivitySucceeded");
    json_t *d = json_object_get(ok, "activitySucceededEventDetails");
    cr_assert_str_eq(json_string_value(json_object_get(d, "output")),
                     "{\"model\":\"s3://b/m.tar.gz\"}");
    cr_assert(json_is_false(json_object_get(json_object_get(d, "outputDetails"), "truncated")));
    json_decref(ok);
    run_free(&r);
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}

Test(activity, started_without_a_worker_name_has_empty_details)
{
    asl_machine *m = compile(ACTIVITY);
    asl_exec *e = start_with(m, "{\"job\":\"x\"}", NULL);
    run r = take_run(e);
    cr_assert_eq(asl_exec_task_started(e, r.id, NULL, T0 + 1), SF_OK);
    json_t *started = event_json(e, "ActivityStarted");
    json_t *d = json_object_get(started, "activityStartedEventDetails");
    cr_assert(json_is_object(d) && json_object_size(d) == 0);
    json_decref(started);
    run_free(&r);
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}

Test(activity, failure_records_activity_failed)
{
    asl_machine *m = compile(ACTIVITY);
    asl_exec *e = start_with(m, "{\"job\":\"x\"}", NULL);
    run r = take_run(e);
    asl_exec_task_started(e, r.id, "w1", T0 + 1);
    cr_assert_eq(asl_exec_task_failed(e, r.id, "Worker.OOM", "CUDA out of memory", T0 + 2), SF_OK);
    cr_assert_eq(asl_exec_get_status(e), ASL_EXEC_FAILED);
    cr_assert_str_eq(asl_exec_error(e), "Worker.OOM");
    expect_types(e, "ExecutionStarted TaskStateEntered ActivityScheduled ActivityStarted "
                    "ActivityFailed ExecutionFailed");
    json_t *failed = event_json(e, "ActivityFailed");
    json_t *want = json_pack("{s:s,s:s}", "error", "Worker.OOM", "cause", "CUDA out of memory");
    cr_assert(json_equal(json_object_get(failed, "activityFailedEventDetails"), want));
    json_decref(want);
    json_decref(failed);
    run_free(&r);
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}

static const char *ACTIVITY_HB_RETRY =
    "{\"StartAt\":\"Train\",\"States\":{\"Train\":{\"Type\":\"Task\",\"Resource\":\"" ACT "\","
    "\"HeartbeatSeconds\":5,\"TimeoutSeconds\":%d,"
    "\"Retry\":[{\"ErrorEquals\":[\"States.HeartbeatTimeout\"],\"IntervalSeconds\":1,"
    "\"MaxAttempts\":1}],\"End\":true}}}";

Test(activity, heartbeat_timeout_is_states_timeout_and_heartbeat_retry_catches_it)
{
    char def[1024];
    snprintf(def, sizeof def, ACTIVITY_HB_RETRY, 3600);
    asl_machine *m = compile(def);
    asl_exec *e = start_with(m, "{}", NULL);
    run r = take_run(e);
    /* Waiting for a poller is not missing heartbeats: only TimeoutSeconds runs. */
    cr_assert_eq(asl_exec_next_deadline(e), T0 + 3600 * 1000);
    int64_t t = T0 + 60000;
    asl_exec_tick(e, t);
    cr_assert_eq(asl_exec_get_status(e), ASL_EXEC_RUNNING);
    cr_assert_eq(asl_exec_task_started(e, r.id, "w1", t), SF_OK);
    cr_assert_eq(asl_exec_next_deadline(e), t + 5000, "the heartbeat clock starts");
    cr_assert_eq(asl_exec_task_heartbeat(e, r.id, t + 4000), SF_OK);
    cr_assert_eq(asl_exec_next_deadline(e), t + 9000);
    asl_exec_tick(e, t + 9000);
    /* Retried: a fresh attempt with a fresh token. */
    cr_assert_eq(asl_exec_get_status(e), ASL_EXEC_RUNNING);
    cr_assert_eq(asl_exec_next_deadline(e), t + 10000);
    asl_exec_tick(e, t + 10000);
    run r2 = take_run(e);
    cr_assert_neq(r2.id, r.id);
    cr_assert(r2.token && strcmp(r2.token, r.token) != 0, "a retry gets a new token");
    cr_assert_eq(asl_exec_task_by_token(e, r.token), 0, "the old token is dead");
    cr_assert_eq(asl_exec_task_by_token(e, r2.token), r2.id);
    /* The second miss is past MaxAttempts: the execution fails as AWS shows it. */
    asl_exec_task_started(e, r2.id, "w2", t + 11000);
    asl_exec_tick(e, t + 16000);
    cr_assert_eq(asl_exec_get_status(e), ASL_EXEC_FAILED);
    cr_assert_str_eq(asl_exec_error(e), "States.Timeout");
    expect_types(e, "ExecutionStarted TaskStateEntered ActivityScheduled ActivityStarted "
                    "ActivityTimedOut ActivityScheduled ActivityStarted ActivityTimedOut "
                    "ExecutionFailed");
    json_t *to = event_json(e, "ActivityTimedOut");
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(to, "activityTimedOutEventDetails"), "error")),
                     "States.Timeout");
    json_decref(to);
    run_free(&r);
    run_free(&r2);
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}

Test(activity, timeout_seconds_is_not_a_heartbeat_timeout)
{
    char def[1024];
    snprintf(def, sizeof def, ACTIVITY_HB_RETRY, 10);
    asl_machine *m = compile(def);
    asl_exec *e = start_with(m, "{}", NULL);
    run r = take_run(e);
    asl_exec_task_started(e, r.id, "w1", T0 + 1000);
    for (int64_t t = T0 + 4000; t < T0 + 10000; t += 4000)
        asl_exec_task_heartbeat(e, r.id, t);
    asl_exec_tick(e, T0 + 10000);
    /* States.HeartbeatTimeout in the Retry does not match TimeoutSeconds. */
    cr_assert_eq(asl_exec_get_status(e), ASL_EXEC_FAILED);
    cr_assert_str_eq(asl_exec_error(e), "States.Timeout");
    run_free(&r);
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}

static const char *CALLBACK =
    "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\","
    "\"Resource\":\"arn:aws:states:::sqs:sendMessage.waitForTaskToken\","
    "\"Parameters\":{\"tok.$\":\"$$.Task.Token\",\"n.$\":\"$$.State.RetryCount\"},"
    "\"Retry\":[{\"ErrorEquals\":[\"Again\"],\"IntervalSeconds\":1}],\"End\":true}}}";

Test(tokens, the_seal_hook_makes_the_token_everyone_sees)
{
    asl_machine *m = compile(CALLBACK);
    sealer s = {0};
    asl_exec *e = start_with(m, "{}", &s);
    run r = take_run(e);
    cr_assert_eq(s.calls, 1, "one seal per minted token");
    cr_assert(r.token && strncmp(r.token, "sealed.", 7) == 0, "%s", r.token);
    cr_assert_str_eq(json_string_value(json_object_get(r.input, "tok")), r.token);
    cr_assert_eq(asl_exec_task_by_token(e, r.token), r.id);
    /* A retry mints, seals and passes on a new token; Parameters see it. */
    asl_exec_task_failed(e, r.id, "Again", NULL, T0 + 1);
    asl_exec_tick(e, T0 + 1001);
    run r2 = take_run(e);
    cr_assert_eq(s.calls, 2);
    cr_assert_str_eq(json_string_value(json_object_get(r2.input, "tok")), r2.token);
    cr_assert_eq(json_integer_value(json_object_get(r2.input, "n")), 1);
    cr_assert_str_neq(r2.token, r.token);
    run_free(&r);
    run_free(&r2);
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}

Test(tokens, activities_get_a_sealed_token_in_the_context_too)
{
    const char *def =
        "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":\"" ACT "\","
        "\"Parameters\":{\"tok.$\":\"$$.Task.Token\"},\"End\":true}}}";
    asl_machine *m = compile(def);
    sealer s = {0};
    asl_exec *e = start_with(m, "{}", &s);
    run r = take_run(e);
    cr_assert_eq(s.calls, 1);
    cr_assert(r.token && strncmp(r.token, "sealed.", 7) == 0);
    cr_assert_str_eq(json_string_value(json_object_get(r.input, "tok")), r.token);
    run_free(&r);
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}

Test(tokens, plain_tasks_mint_no_token)
{
    const char *def = "{\"StartAt\":\"L\",\"States\":{\"L\":{\"Type\":\"Task\","
                      "\"Resource\":\"arn:aws:lambda:us-east-1:1:function:f\",\"End\":true}}}";
    asl_machine *m = compile(def);
    sealer s = {0};
    asl_exec *e = start_with(m, "{}", &s);
    run r = take_run(e);
    cr_assert_null(r.token);
    cr_assert_eq(s.calls, 0);
    run_free(&r);
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}

Test(tokens, a_failing_seal_hook_is_out_of_memory)
{
    asl_machine *m = compile(CALLBACK);
    sealer s = {.fail = true};
    asl_exec *e = start_with(m, "{}", &s);
    cr_assert_eq(s.calls, 1);
    cr_assert_eq(asl_exec_get_status(e), ASL_EXEC_FAILED);
    cr_assert_str_eq(asl_exec_error(e), "States.Runtime");
    cr_assert_str_eq(asl_exec_cause(e), "out of memory");
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}

/* One scripted life of an activity execution; returns its history JSON
 * and the tokens it saw. */
static char *scripted(const asl_machine *m, char **tok1, char **tok2)
{
    sealer s = {0};
    asl_exec *e = start_with(m, "{}", &s);
    run r = take_run(e);
    asl_exec_task_started(e, r.id, "w1", T0 + 100);
    asl_exec_tick(e, T0 + 5100); /* heartbeat missed: retried after 1 s */
    asl_exec_tick(e, T0 + 6100);
    run r2 = take_run(e);
    asl_exec_task_started(e, r2.id, "w2", T0 + 6200);
    json_t *out = json_pack("{s:b}", "ok", 1);
    asl_exec_task_succeeded(e, r2.id, out, T0 + 7000);
    json_decref(out);
    cr_assert_eq(asl_exec_get_status(e), ASL_EXEC_SUCCEEDED);
    *tok1 = r.token;
    *tok2 = r2.token;
    r.token = r2.token = NULL;
    run_free(&r);
    run_free(&r2);
    char *h = history_json(e);
    asl_exec_destroy(&e);
    return h;
}

Test(tokens, replay_gives_the_same_tokens_and_history)
{
    char def[1024];
    snprintf(def, sizeof def, ACTIVITY_HB_RETRY, 3600);
    asl_machine *m = compile(def);
    char *a1, *a2, *b1, *b2;
    char *a = scripted(m, &a1, &a2), *b = scripted(m, &b1, &b2);
    cr_assert_str_eq(a, b);
    cr_assert_str_eq(a1, b1);
    cr_assert_str_eq(a2, b2);
    cr_assert(strstr(a, "\"workerName\":\"w2\""), "%s", a);
    free(a);
    free(b);
    free(a1);
    free(a2);
    free(b1);
    free(b2);
    asl_machine_destroy(&m);
}

Test(queries, a_task_is_open_then_started_then_closed)
{
    asl_machine *m = compile(ACTIVITY);
    sealer s = {0};
    asl_exec *e = start_with(m, "{\"job\":\"x\"}", &s);
    cr_assert_not(asl_exec_task_is_open(e, 0));
    cr_assert_not(asl_exec_task_is_open(e, 99));
    run r = take_run(e);
    cr_assert(asl_exec_task_is_open(e, r.id));
    cr_assert_not(asl_exec_task_was_started(e, r.id));
    cr_assert_eq(asl_exec_task_by_token(e, r.token), r.id);
    cr_assert_eq(asl_exec_task_by_token(e, "sealed.nope.mac"), 0);
    cr_assert_eq(asl_exec_task_by_token(e, NULL), 0);
    asl_exec_task_started(e, r.id, "w", T0 + 1);
    cr_assert(asl_exec_task_is_open(e, r.id));
    cr_assert(asl_exec_task_was_started(e, r.id));
    json_t *out = json_object();
    asl_exec_task_succeeded(e, r.id, out, T0 + 2);
    json_decref(out);
    cr_assert_not(asl_exec_task_is_open(e, r.id));
    cr_assert_not(asl_exec_task_was_started(e, r.id));
    cr_assert_eq(asl_exec_task_by_token(e, r.token), 0);
    run_free(&r);
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}

Test(queries, timed_out_and_cancelled_tasks_are_closed)
{
    asl_machine *m = compile(ACTIVITY);
    asl_exec *e = start_with(m, "{\"job\":\"x\"}", NULL);
    run r = take_run(e);
    asl_exec_task_started(e, r.id, "w", T0 + 1);
    asl_exec_tick(e, T0 + 1 + 60000); /* HeartbeatSeconds 60 missed */
    cr_assert_not(asl_exec_task_is_open(e, r.id));
    cr_assert_eq(asl_exec_task_by_token(e, r.token), 0);
    run_free(&r);
    asl_exec_destroy(&e);

    e = start_with(m, "{\"job\":\"x\"}", NULL);
    r = take_run(e);
    asl_exec_task_started(e, r.id, "w", T0 + 1);
    cr_assert_eq(asl_exec_stop(e, "User", "stopped", T0 + 2), SF_OK);
    cr_assert_not(asl_exec_task_is_open(e, r.id));
    cr_assert_not(asl_exec_task_was_started(e, r.id));
    cr_assert_eq(asl_exec_task_by_token(e, r.token), 0);
    run_free(&r);
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}
