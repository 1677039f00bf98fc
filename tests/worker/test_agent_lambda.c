/* tests/worker/test_agent_lambda.c - the lambda kernel through the real
 * worker: Lambda-style functions written by the test into a temporary
 * --functions directory, answering, failing, and killed when cancelled. */
#include "agent_router.h"

#include <jansson.h>

static void write_function(const rt *r, const char *name, const char *body)
{
    char path[256];
    snprintf(path, sizeof path, "%s/fns/%s", r->dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    cr_assert_eq(chmod(path, 0755), 0);
}

/* A worker with a functions directory holding a few functions. */
static void start(rt *r)
{
    rt_start(r);
    char fns[128];
    snprintf(fns, sizeof fns, "%s/fns", r->dir);
    cr_assert_eq(mkdir(fns, 0755), 0);
    write_function(r, "wrap", "x=$(cat); printf '{\"got\":%s}\\n' \"$x\"");
    write_function(r, "broken", "echo 'something broke' >&2; exit 3");
    write_function(r, "typed", "echo '{\"errorType\":\"Bad.Input\",\"errorMessage\":\"no\"}'");
    write_function(r, "slow", "exec sleep 60");
    rt_spawn(r, "--id", "lambda-w", "--quiet", "--functions", fns);
    rt_handshake(r, 1000, NULL);
}

Test(agent_lambda, a_function_answers_with_its_output)
{
    rt r;
    start(&r);
    rt_task(&r, 1, "lambda:wrap", "{\"n\":[1,2]}", 0);
    fleet_msg m;
    rt_expect(&r, FLEET_RESULT, 5000, &m);
    json_t *got = json_loads(m.u.result.output, 0, NULL);
    json_t *want = json_loads("{\"got\":{\"n\":[1,2]}}", 0, NULL);
    cr_expect(json_equal(got, want), "output: %s", m.u.result.output);
    json_decref(got);
    json_decref(want);
    fleet_msg_clear(&m);
    cr_expect_eq(rt_stop(&r), 0);
}

Test(agent_lambda, a_function_that_exits_non_zero_fails_with_its_error)
{
    rt r;
    start(&r);
    rt_task(&r, 2, "lambda:broken", "{}", 0);
    fleet_msg m;
    rt_expect(&r, FLEET_FAILURE, 5000, &m);
    cr_expect_str_eq(m.u.failure.error, "Runtime.ExitError");
    cr_expect(strstr(m.u.failure.cause, "status 3"), "cause: %s", m.u.failure.cause);
    fleet_msg_clear(&m);
    rt_task(&r, 3, "lambda:typed", "{}", 0);
    rt_expect(&r, FLEET_FAILURE, 5000, &m);
    cr_expect_str_eq(m.u.failure.error, "Bad.Input");
    fleet_msg_clear(&m);
    cr_expect_eq(rt_stop(&r), 0);
}

Test(agent_lambda, a_missing_function_fails_naming_it)
{
    rt r;
    start(&r);
    rt_task(&r, 4, "lambda:nowhere", "{}", 0);
    fleet_msg m;
    rt_expect(&r, FLEET_FAILURE, 5000, &m);
    cr_expect_str_eq(m.u.failure.error, "Lambda.ResourceNotFoundException");
    cr_expect(strstr(m.u.failure.cause, "nowhere"), "cause: %s", m.u.failure.cause);
    fleet_msg_clear(&m);
    cr_expect_eq(rt_stop(&r), 0);
}

Test(agent_lambda, a_cancelled_function_is_killed_at_once)
{
    rt r;
    start(&r);
    rt_task(&r, 5, "lambda:slow", "{}", 0);
    usleep(200000); /* let it start */
    fleet_msg c = {.type = FLEET_CANCEL};
    c.u.cancel = (fleet_cancel){.task_id = 5, .reason = "aborted"};
    uint64_t sent = rt_now_ms();
    rt_send(&r, &c);
    fleet_msg m;
    rt_expect(&r, FLEET_FAILURE, 3000, &m);
    cr_expect_lt(rt_now_ms() - sent, 500);
    cr_expect_str_eq(m.u.failure.error, "Worker.Cancelled");
    fleet_msg_clear(&m);
    rt_task(&r, 6, "lambda:slow", "{}", 300);
    rt_expect(&r, FLEET_FAILURE, 3000, &m);
    cr_expect_str_eq(m.u.failure.error, "States.Timeout");
    fleet_msg_clear(&m);
    cr_expect_eq(rt_stop(&r), 0);
}
