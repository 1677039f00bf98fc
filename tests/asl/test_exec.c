/* tests/asl/test_exec.c - the engine driven by hand on a virtual clock:
 * commands out, events in, as a coordinator would. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/asl/exec.h"
#include "coordinator/asl/machine.h"

#define T0 1700000000000LL /* an arbitrary start, in ms */

static asl_machine *compile(const char *text)
{
    asl_diag d = {0};
    asl_machine *m = NULL;
    sf_rc rc = asl_machine_parse(text, strlen(text), &m, &d);
    cr_assert_eq(rc, SF_OK, "definition refused: %s", d.n ? d.msg[0] : "?");
    asl_diag_clear(&d);
    return m;
}

static asl_exec *start(const asl_machine *m, const char *input)
{
    json_t *in = json_loads(input, JSON_DECODE_ANY, NULL);
    asl_exec_opts o = {.seed = 7, .exec_name = "t"};
    asl_exec *e = NULL;
    cr_assert_eq(asl_exec_new(m, in, &o, &e), SF_OK);
    json_decref(in);
    cr_assert_eq(asl_exec_start(e, T0), SF_OK);
    return e;
}

/* Takes the queued commands; returns how many and copies the first one's
 * type and task id. */
static size_t take(asl_exec *e, asl_cmd_type *type, uint64_t *id, json_t **input)
{
    asl_cmd *c;
    size_t n = asl_exec_take_commands(e, &c);
    if (n > 0) {
        if (type)
            *type = c[0].type;
        if (id)
            *id = c[0].task_id;
        if (input)
            *input = json_incref(c[0].input);
    }
    for (size_t i = 0; i < n; i++)
        asl_cmd_cleanup(&c[i]);
    free(c);
    return n;
}

static void expect_output(asl_exec *e, const char *want)
{
    cr_assert_eq(asl_exec_get_status(e), ASL_EXEC_SUCCEEDED, "status %s (%s: %s)",
                 asl_exec_status_name(asl_exec_get_status(e)),
                 asl_exec_error(e) ? asl_exec_error(e) : "-", asl_exec_cause(e) ? asl_exec_cause(e) : "-");
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    char *got = json_dumps(asl_exec_output(e), JSON_COMPACT | JSON_ENCODE_ANY);
    cr_assert(json_equal(w, asl_exec_output(e)), "output %s, want %s", got, want);
    free(got);
    json_decref(w);
}

static const char *TASK =
    "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:us-east-1:1:function:f\","
    "\"Parameters\":{\"x.$\":\"$.x\"},\"ResultPath\":\"$.r\",\"End\":true}}}";

Test(exec, task_result_flows_through_result_path)
{
    asl_machine *m = compile(TASK);
    asl_exec *e = start(m, "{\"x\":5}");
    asl_cmd_type t;
    uint64_t id = 0;
    json_t *in = NULL;
    cr_assert_eq(take(e, &t, &id, &in), 1);
    cr_assert_eq(t, ASL_CMD_RUN_TASK);
    json_t *want = json_pack("{s:i}", "x", 5);
    cr_assert(json_equal(in, want));
    json_decref(want);
    json_decref(in);
    json_t *out = json_pack("{s:i}", "y", 6);
    cr_assert_eq(asl_exec_task_succeeded(e, id, out, T0 + 5), SF_OK);
    json_decref(out);
    expect_output(e, "{\"x\":5,\"r\":{\"y\":6}}");
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}

static const char *RETRY =
    "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:us-east-1:1:function:f\","
    "\"Retry\":[{\"ErrorEquals\":[\"Boom\"],\"IntervalSeconds\":1,\"BackoffRate\":3,\"MaxAttempts\":3,\"MaxDelaySeconds\":5}],"
    "\"Catch\":[{\"ErrorEquals\":[\"States.ALL\"],\"ResultPath\":\"$.err\",\"Next\":\"C\"}],\"End\":true},"
    "\"C\":{\"Type\":\"Pass\",\"End\":true}}}";

Test(exec, retry_backs_off_caps_delay_then_catches)
{
    asl_machine *m = compile(RETRY);
    asl_exec *e = start(m, "{}");
    uint64_t id = 0;
    int64_t now = T0;
    int64_t want_delays[] = {1000, 3000, 5000}; /* 1, 3, then 9 capped at 5 */
    cr_assert_eq(take(e, NULL, &id, NULL), 1);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(asl_exec_task_failed(e, id, "Boom", "it broke", now), SF_OK);
        cr_assert_eq(take(e, NULL, NULL, NULL), 0, "no task before the delay");
        cr_assert_eq(asl_exec_next_deadline(e), now + want_delays[i], "retry %d", i);
        asl_exec_tick(e, now + want_delays[i] - 1);
        cr_assert_eq(take(e, NULL, NULL, NULL), 0, "not due yet");
        now += want_delays[i];
        asl_exec_tick(e, now);
        cr_assert_eq(take(e, NULL, &id, NULL), 1, "retry %d scheduled", i);
    }
    cr_assert_eq(asl_exec_task_failed(e, id, "Boom", "it broke", now), SF_OK);
    expect_output(e, "{\"err\":{\"Error\":\"Boom\",\"Cause\":\"it broke\"}}");
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}

Test(exec, runtime_errors_escape_states_all)
{
    const char *def =
        "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:us-east-1:1:function:f\","
        "\"InputPath\":\"$.missing\",\"Catch\":[{\"ErrorEquals\":[\"States.ALL\"],\"Next\":\"C\"}],\"End\":true},"
        "\"C\":{\"Type\":\"Pass\",\"End\":true}}}";
    asl_machine *m = compile(def);
    asl_exec *e = start(m, "{}");
    cr_assert_eq(asl_exec_get_status(e), ASL_EXEC_FAILED);
    cr_assert_str_eq(asl_exec_error(e), "States.Runtime");
    cr_assert(strstr(asl_exec_cause(e), "Invalid path '$.missing'"), "%s", asl_exec_cause(e));
    cr_assert(strstr(asl_exec_cause(e), "state 'T'"), "%s", asl_exec_cause(e));
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}

Test(exec, task_timeout_cancels_and_fails_with_states_timeout)
{
    const char *def =
        "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:us-east-1:1:function:f\","
        "\"TimeoutSeconds\":10,\"End\":true}}}";
    asl_machine *m = compile(def);
    asl_exec *e = start(m, "{}");
    uint64_t id = 0;
    cr_assert_eq(take(e, NULL, &id, NULL), 1);
    cr_assert_eq(asl_exec_next_deadline(e), T0 + 10000);
    asl_exec_tick(e, T0 + 10000);
    asl_cmd_type t;
    uint64_t cid = 0;
    cr_assert_geq(take(e, &t, &cid, NULL), 1);
    cr_assert_eq(t, ASL_CMD_CANCEL_TASK);
    cr_assert_eq(cid, id);
    cr_assert_eq(asl_exec_get_status(e), ASL_EXEC_FAILED);
    cr_assert_str_eq(asl_exec_error(e), "States.Timeout");
    /* A result that arrives after the task was given up is ignored. */
    json_t *late = json_object();
    cr_assert_eq(asl_exec_task_succeeded(e, id, late, T0 + 10001), SF_ENOTFOUND);
    json_decref(late);
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}

Test(exec, heartbeats_keep_a_task_alive_until_they_stop)
{
    const char *def =
        "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::lambda:invoke.waitForTaskToken\","
        "\"Parameters\":{\"FunctionName\":\"f\",\"Payload\":{\"token.$\":\"$$.Task.Token\"}},"
        "\"HeartbeatSeconds\":5,\"TimeoutSeconds\":100,\"End\":true}}}";
    asl_machine *m = compile(def);
    asl_exec *e = start(m, "{}");
    uint64_t id = 0;
    json_t *in = NULL;
    cr_assert_eq(take(e, NULL, &id, &in), 1);
    const char *token = json_string_value(json_object_get(json_object_get(in, "Payload"), "token"));
    cr_assert(token && strlen(token) >= 16, "the task sees its token");
    json_decref(in);
    for (int i = 1; i <= 3; i++) {
        asl_exec_tick(e, T0 + i * 4000);
        cr_assert_eq(asl_exec_task_heartbeat(e, id, T0 + i * 4000), SF_OK);
        cr_assert_eq(asl_exec_get_status(e), ASL_EXEC_RUNNING);
    }
    asl_exec_tick(e, T0 + 12000 + 5000);
    cr_assert_eq(asl_exec_get_status(e), ASL_EXEC_FAILED);
    /* AWS fails a missed heartbeat with States.Timeout (States.HeartbeatTimeout
     * is only a name for Retry and Catch to match). */
    cr_assert_str_eq(asl_exec_error(e), "States.Timeout");
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}

Test(exec, map_runs_at_most_max_concurrency_tasks)
{
    const char *def =
        "{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"MaxConcurrency\":2,\"ItemProcessor\":{\"StartAt\":\"T\","
        "\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:us-east-1:1:function:f\",\"End\":true}}},\"End\":true}}}";
    asl_machine *m = compile(def);
    asl_exec *e = start(m, "[1,2,3,4,5]");
    asl_cmd *c;
    size_t n = asl_exec_take_commands(e, &c);
    cr_assert_eq(n, 2, "two tasks at once, got %zu", n);
    uint64_t pending[8];
    json_t *inputs[8];
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        pending[np] = c[i].task_id;
        inputs[np++] = json_incref(c[i].input);
        asl_cmd_cleanup(&c[i]);
    }
    free(c);
    int completed = 0;
    while (np > 0) {
        uint64_t id = pending[0];
        json_t *out = json_pack("{s:O}", "done", inputs[0]);
        json_decref(inputs[0]);
        memmove(pending, pending + 1, --np * sizeof *pending);
        memmove(inputs, inputs + 1, np * sizeof *inputs);
        cr_assert_eq(asl_exec_task_succeeded(e, id, out, T0 + 1), SF_OK);
        json_decref(out);
        completed++;
        n = asl_exec_take_commands(e, &c);
        for (size_t i = 0; i < n; i++) {
            pending[np] = c[i].task_id;
            inputs[np++] = json_incref(c[i].input);
            asl_cmd_cleanup(&c[i]);
        }
        free(c);
        cr_assert_leq(np, 2, "never more than MaxConcurrency running");
    }
    cr_assert_eq(completed, 5);
    expect_output(e, "[{\"done\":1},{\"done\":2},{\"done\":3},{\"done\":4},{\"done\":5}]");
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}

Test(exec, parallel_branch_failure_cancels_the_other_branch)
{
    const char *def =
        "{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\",\"Branches\":["
        "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:us-east-1:1:function:a\",\"End\":true}}},"
        "{\"StartAt\":\"B\",\"States\":{\"B\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:us-east-1:1:function:b\",\"End\":true}}}],"
        "\"Catch\":[{\"ErrorEquals\":[\"Bad\"],\"Next\":\"Done\"}],\"End\":true},\"Done\":{\"Type\":\"Succeed\"}}}";
    asl_machine *m = compile(def);
    asl_exec *e = start(m, "{}");
    asl_cmd *c;
    size_t n = asl_exec_take_commands(e, &c);
    cr_assert_eq(n, 2);
    uint64_t a = c[0].task_id, b = c[1].task_id;
    for (size_t i = 0; i < n; i++)
        asl_cmd_cleanup(&c[i]);
    free(c);
    cr_assert_eq(asl_exec_task_failed(e, a, "Bad", "a failed", T0 + 1), SF_OK);
    asl_cmd_type t;
    uint64_t id = 0;
    cr_assert_eq(take(e, &t, &id, NULL), 1);
    cr_assert_eq(t, ASL_CMD_CANCEL_TASK);
    cr_assert_eq(id, b);
    expect_output(e, "{\"Error\":\"Bad\",\"Cause\":\"a failed\"}");
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}

Test(exec, oversized_task_result_is_data_limit_exceeded)
{
    asl_machine *m = compile(RETRY);
    asl_exec *e = start(m, "{}");
    uint64_t id = 0;
    cr_assert_eq(take(e, NULL, &id, NULL), 1);
    char *big = malloc(ASL_PAYLOAD_MAX + 10);
    memset(big, 'x', ASL_PAYLOAD_MAX + 9);
    big[ASL_PAYLOAD_MAX + 9] = '\0';
    json_t *out = json_pack("{s:s}", "blob", big);
    free(big);
    asl_exec_task_succeeded(e, id, out, T0 + 1);
    json_decref(out);
    /* Terminal: States.ALL in the Catch does not match it. */
    cr_assert_eq(asl_exec_get_status(e), ASL_EXEC_FAILED);
    cr_assert_str_eq(asl_exec_error(e), "States.DataLimitExceeded");
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}

Test(exec, execution_timeout_ends_timed_out)
{
    const char *def = "{\"TimeoutSeconds\":3,\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"Seconds\":60,\"End\":true}}}";
    asl_machine *m = compile(def);
    asl_exec *e = start(m, "{}");
    cr_assert_eq(asl_exec_next_deadline(e), T0 + 3000);
    asl_exec_tick(e, T0 + 3000);
    cr_assert_eq(asl_exec_get_status(e), ASL_EXEC_TIMED_OUT);
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}

Test(exec, stop_aborts_and_cancels_running_tasks)
{
    asl_machine *m = compile(TASK);
    asl_exec *e = start(m, "{\"x\":1}");
    uint64_t id = 0;
    cr_assert_eq(take(e, NULL, &id, NULL), 1);
    cr_assert_eq(asl_exec_stop(e, "User", "stopped by hand", T0 + 2), SF_OK);
    asl_cmd_type t;
    uint64_t cid = 0;
    cr_assert_eq(take(e, &t, &cid, NULL), 1);
    cr_assert_eq(t, ASL_CMD_CANCEL_TASK);
    cr_assert_eq(cid, id);
    cr_assert_eq(asl_exec_get_status(e), ASL_EXEC_ABORTED);
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}

/* The same events in give the same history out: how a coordinator replays. */
static char *run_and_render(const asl_machine *m)
{
    asl_exec *e = start(m, "{}");
    uint64_t id = 0;
    take(e, NULL, &id, NULL);
    asl_exec_task_failed(e, id, "Boom", "x", T0 + 10);
    asl_exec_tick(e, T0 + 1010);
    take(e, NULL, &id, NULL);
    json_t *ok = json_pack("{s:s}", "u", "fine");
    asl_exec_task_succeeded(e, id, ok, T0 + 1500);
    json_decref(ok);
    const asl_history *h = asl_exec_history(e);
    json_t *arr = json_array();
    for (size_t i = 0; i < h->n; i++)
        json_array_append_new(arr, asl_event_to_json(&h->ev[i], "us-east-1", "arn"));
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    asl_exec_destroy(&e);
    return s;
}

Test(exec, replaying_the_same_events_gives_the_same_history)
{
    asl_machine *m = compile(RETRY);
    char *a = run_and_render(m), *b = run_and_render(m);
    cr_assert_str_eq(a, b);
    cr_assert(strstr(a, "\"LambdaFunctionFailed\""), "%s", a);
    cr_assert(strstr(a, "\"LambdaFunctionSucceeded\""), "%s", a);
    free(a);
    free(b);
    asl_machine_destroy(&m);
}

Test(exec, iteration_task_failing_its_input_path_fails_the_map)
{
    /* The failed iteration's frame is freed while its Task fails: nothing
     * may touch it afterwards (run under ASan to see). */
    const char *def = "{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\","
                      "\"ItemProcessor\":{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\","
                      "\"Resource\":\"arn:aws:lambda:us-east-1:1:function:f\","
                      "\"InputPath\":\"$.missing\",\"End\":true}}},\"End\":true}}}";
    asl_machine *m = compile(def);
    asl_exec *e = start(m, "[{\"a\":1}]");
    cr_assert_eq(asl_exec_get_status(e), ASL_EXEC_FAILED);
    cr_assert_str_eq(asl_exec_error(e), "States.Runtime");
    asl_exec_destroy(&e);
    asl_machine_destroy(&m);
}
