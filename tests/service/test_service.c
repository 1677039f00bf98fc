/* tests/service/test_service.c - the coordinator in-process: durability
 * across a restart, task tokens, group commit's promise. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coordinator/service/service.h"
#include "coordinator/service/svc_internal.h"

static char dir[256], db[300];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/sf_test_service.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/coordinator.db", dir);
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static svc *open_svc(void)
{
    svc_config cfg = {.db_path = db, .sync = STORE_SYNC_FULL, .quiet = true, .poll_seconds = 1};
    svc *s = NULL;
    char err[512];
    cr_assert_eq(svc_open(&cfg, &s, err, sizeof err), SF_OK, "%s", err);
    return s;
}

/* Calls op with a request built by json_pack; asserts the status. */
static json_t *call(svc *s, int want, const char *op, json_t *req)
{
    json_t *resp = NULL;
    int st = svc_call(s, op, req, &resp);
    char *txt = json_dumps(resp, JSON_COMPACT);
    cr_assert_eq(st, want, "%s answered %d: %s", op, st, txt);
    free(txt);
    json_decref(req);
    return resp;
}

static const char *get(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static char *create(svc *s, const char *name, const char *def)
{
    json_t *r = call(s, 200, "CreateStateMachine",
                     json_pack("{s:s,s:s,s:s}", "name", name, "definition", def, "roleArn",
                               "arn:aws:iam::123456789012:role/r"));
    char *arn = strdup(get(r, "stateMachineArn"));
    json_decref(r);
    return arn;
}

static char *start(svc *s, const char *sm, const char *name, const char *input)
{
    json_t *r = call(s, 200, "StartExecution",
                     json_pack("{s:s,s:s,s:s}", "stateMachineArn", sm, "name", name, "input",
                               input));
    char *arn = strdup(get(r, "executionArn"));
    json_decref(r);
    return arn;
}

static json_t *wait_end(svc *s, const char *arn)
{
    for (int i = 0; i < 500; i++) {
        json_t *d = call(s, 200, "DescribeExecution", json_pack("{s:s}", "executionArn", arn));
        if (strcmp(get(d, "status"), "RUNNING") != 0)
            return d;
        json_decref(d);
        usleep(20000);
    }
    cr_assert_fail("%s did not end", arn);
    return NULL;
}

static char *types(svc *s, const char *arn)
{
    json_t *h = call(s, 200, "GetExecutionHistory",
                     json_pack("{s:s,s:i}", "executionArn", arn, "maxResults", 1000));
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(h, "events"), i, ev) fprintf(f, "%s ", get(ev, "type"));
    fclose(f);
    json_decref(h);
    return out;
}

TestSuite(service, .init = setup, .fini = teardown);

Test(service, a_started_execution_is_on_disk_before_the_answer)
{
    svc *s = open_svc();
    char *sm = create(s, "m", "{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"Seconds\":30,\"End\":true}}}");
    char *x = start(s, sm, "e1", "{\"k\":1}");
    /* A separate connection sees it at once: the answer came after commit. */
    sqlite3 *other;
    cr_assert_eq(sqlite3_open_v2(db, &other, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(other,
                       "SELECT status, (SELECT COUNT(*) FROM events e WHERE e.exec_id=x.id) "
                       "FROM executions x WHERE arn=?",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, x, -1, SQLITE_STATIC);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "RUNNING");
    cr_assert_eq(sqlite3_column_int(st, 1), 2); /* ExecutionStarted, WaitStateEntered */
    sqlite3_finalize(st);
    sqlite3_close(other);
    svc_close(&s);
    free(sm);
    free(x);
}

Test(service, a_wait_and_a_retry_resume_after_a_restart_as_if_nothing_happened)
{
    const char *def =
        "{\"StartAt\":\"W\",\"States\":{"
        "\"W\":{\"Type\":\"Wait\",\"Seconds\":1,\"Next\":\"F\"},"
        "\"F\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::nope:doIt\","
        "\"Retry\":[{\"ErrorEquals\":[\"States.ALL\"],\"IntervalSeconds\":1,\"MaxAttempts\":1}],"
        "\"Catch\":[{\"ErrorEquals\":[\"States.ALL\"],\"Next\":\"Done\"}],\"Next\":\"Done\"},"
        "\"Done\":{\"Type\":\"Pass\",\"End\":true}}}";
    svc *s = open_svc();
    char *sm = create(s, "m", def);
    char *a = start(s, sm, "uninterrupted", "{}");
    char *b = start(s, sm, "interrupted", "{}");
    svc_close(&s); /* b (and a) stop mid-wait */
    usleep(300000);
    s = open_svc();
    json_t *da = wait_end(s, a), *db_ = wait_end(s, b);
    cr_assert_str_eq(get(da, "status"), "SUCCEEDED");
    cr_assert_str_eq(get(db_, "status"), "SUCCEEDED");
    char *ta = types(s, a), *tb = types(s, b);
    cr_assert_str_eq(tb, ta);
    cr_assert(strstr(ta, "TaskFailed TaskScheduled TaskFailed") != NULL, "retried once: %s", ta);
    json_decref(da);
    json_decref(db_);
    free(ta);
    free(tb);
    free(sm);
    free(a);
    free(b);
    svc_close(&s);
}

Test(service, an_activity_task_handed_out_before_a_restart_is_answered_after_it)
{
    svc *s = open_svc();
    json_t *r = call(s, 200, "CreateActivity", json_pack("{s:s}", "name", "work"));
    char *act = strdup(get(r, "activityArn"));
    json_decref(r);
    char def[512];
    snprintf(def, sizeof def,
             "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"%s\","
             "\"End\":true}}}",
             act);
    char *sm = create(s, "m", def);
    char *handed = start(s, sm, "handed", "{\"n\":1}");
    json_t *task = call(s, 200, "GetActivityTask",
                        json_pack("{s:s,s:s}", "activityArn", act, "workerName", "w1"));
    char *token = strdup(get(task, "taskToken"));
    cr_assert_str_eq(get(task, "input"), "{\"n\":1}");
    json_decref(task);
    char *queued = start(s, sm, "queued", "{\"n\":2}");
    svc_close(&s);

    s = open_svc();
    /* The queued one is handed out again; the handed one is not. */
    task = call(s, 200, "GetActivityTask", json_pack("{s:s}", "activityArn", act));
    cr_assert_str_eq(get(task, "input"), "{\"n\":2}");
    char *token2 = strdup(get(task, "taskToken"));
    json_decref(task);
    task = call(s, 200, "GetActivityTask", json_pack("{s:s}", "activityArn", act));
    cr_assert_null(json_object_get(task, "taskToken"), "nothing else is queued");
    json_decref(task);
    json_decref(call(s, 200, "SendTaskSuccess",
                     json_pack("{s:s,s:s}", "taskToken", token, "output", "{\"r\":1}")));
    json_decref(call(s, 200, "SendTaskSuccess",
                     json_pack("{s:s,s:s}", "taskToken", token2, "output", "{\"r\":2}")));
    json_t *d = wait_end(s, handed);
    cr_assert_str_eq(get(d, "output"), "{\"r\":1}");
    json_decref(d);
    d = wait_end(s, queued);
    cr_assert_str_eq(get(d, "output"), "{\"r\":2}");
    json_decref(d);
    /* Each token completes its task once. */
    r = call(s, 400, "SendTaskSuccess", json_pack("{s:s,s:s}", "taskToken", token, "output", "{}"));
    cr_assert_str_eq(get(r, "__type"), "TaskTimedOut");
    json_decref(r);
    char *t = types(s, handed);
    cr_assert_str_eq(t, "ExecutionStarted TaskStateEntered ActivityScheduled ActivityStarted "
                        "ActivitySucceeded TaskStateExited ExecutionSucceeded ");
    free(t);
    free(token);
    free(token2);
    free(act);
    free(sm);
    free(handed);
    free(queued);
    svc_close(&s);
}

Test(service, a_missed_heartbeat_holds_across_a_restart)
{
    svc *s = open_svc();
    json_t *r = call(s, 200, "CreateActivity", json_pack("{s:s}", "name", "hb"));
    char *act = strdup(get(r, "activityArn"));
    json_decref(r);
    char def[512];
    snprintf(def, sizeof def,
             "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"%s\","
             "\"HeartbeatSeconds\":1,\"TimeoutSeconds\":600,\"End\":true}}}",
             act);
    char *sm = create(s, "m", def);
    char *x = start(s, sm, "hb", "{}");
    json_t *task = call(s, 200, "GetActivityTask", json_pack("{s:s}", "activityArn", act));
    char *token = strdup(get(task, "taskToken"));
    json_decref(task);
    json_decref(call(s, 200, "SendTaskHeartbeat", json_pack("{s:s}", "taskToken", token)));
    svc_close(&s); /* down while the heartbeat comes due */
    usleep(1500000);
    s = open_svc();
    json_t *d = wait_end(s, x);
    cr_assert_str_eq(get(d, "status"), "FAILED");
    cr_assert_str_eq(get(d, "error"), "States.Timeout");
    json_decref(d);
    r = call(s, 400, "SendTaskHeartbeat", json_pack("{s:s}", "taskToken", token));
    cr_assert_str_eq(get(r, "__type"), "TaskTimedOut");
    json_decref(r);
    char *t = types(s, x);
    cr_assert_str_eq(t, "ExecutionStarted TaskStateEntered ActivityScheduled ActivityStarted "
                        "ActivityTimedOut ExecutionFailed ");
    free(t);
    free(token);
    free(x);
    free(sm);
    free(act);
    svc_close(&s);
}

Test(service, tokens_refuse_forgery_and_alteration)
{
    unsigned char key[32] = {1, 2, 3}, other[32] = {9};
    char *tok = svc_token_seal(key, 77, "0123456789abcdef0123456789abcdef");
    cr_assert_not_null(tok);
    int64_t id = 0;
    cr_assert_eq(svc_token_open(key, tok, &id), SF_OK);
    cr_assert_eq(id, 77);
    cr_assert_neq(svc_token_open(other, tok, &id), SF_OK, "another coordinator's key");
    for (size_t i = 0; tok[i]; i++) {
        char *bad = strdup(tok);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        cr_assert_neq(svc_token_open(key, bad, &id), SF_OK, "byte %zu altered", i);
        free(bad);
    }
    cr_assert_neq(svc_token_open(key, "", &id), SF_OK);
    cr_assert_neq(svc_token_open(key, "not a token at all, but of some length....................", &id), SF_OK);
    cr_assert_null(svc_token_seal(key, 1, "short"));
    free(tok);
}

Test(service, bad_requests_get_aws_errors_and_change_nothing)
{
    svc *s = open_svc();
    json_t *r = call(s, 400, "CreateStateMachine",
                     json_pack("{s:s,s:s,s:s}", "name", "m", "definition", "{\"StartAt\":\"X\"}",
                               "roleArn", "arn:aws:iam::1:role/r"));
    cr_assert_str_eq(get(r, "__type"), "InvalidDefinition");
    json_decref(r);
    r = call(s, 400, "CreateStateMachine",
             json_pack("{s:s,s:s,s:s}", "name", "bad name", "definition", "{}", "roleArn",
                       "arn:aws:iam::1:role/r"));
    cr_assert_str_eq(get(r, "__type"), "InvalidName");
    json_decref(r);
    r = call(s, 400, "NoSuchThing", json_object());
    cr_assert_str_eq(get(r, "__type"), "UnknownOperationException");
    json_decref(r);
    r = call(s, 400, "DescribeExecution", json_pack("{s:s}", "executionArn", "arn:nope"));
    cr_assert_str_eq(get(r, "__type"), "InvalidArn");
    json_decref(r);
    r = call(s, 400, "StartExecution",
             json_pack("{s:s}", "stateMachineArn",
                       "arn:aws:states:us-east-1:123456789012:stateMachine:none"));
    cr_assert_str_eq(get(r, "__type"), "StateMachineDoesNotExist");
    json_decref(r);
    char *sm = create(s, "m", "{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true}}}");
    char *big = malloc(ASL_PAYLOAD_MAX + 10);
    memset(big, ' ', ASL_PAYLOAD_MAX + 9);
    memcpy(big, "{}", 2);
    big[ASL_PAYLOAD_MAX + 9] = '\0';
    r = call(s, 400, "StartExecution",
             json_pack("{s:s,s:s}", "stateMachineArn", sm, "input", big));
    cr_assert_str_eq(get(r, "__type"), "ValidationException");
    json_decref(r);
    r = call(s, 400, "StartExecution",
             json_pack("{s:s,s:s}", "stateMachineArn", sm, "input", "{nope"));
    cr_assert_str_eq(get(r, "__type"), "InvalidExecutionInput");
    json_decref(r);
    r = call(s, 200, "ListExecutions", json_pack("{s:s}", "stateMachineArn", sm));
    cr_assert_eq(json_array_size(json_object_get(r, "executions")), 0, "nothing was started");
    json_decref(r);
    free(big);
    free(sm);
    svc_close(&s);
}
