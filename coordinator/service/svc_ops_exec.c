/* service/svc_ops_exec.c - execution operations. */
#define _GNU_SOURCE
#include "svc_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "../store/store_read.h"

json_t *svc_find_execution(svc *s, const char *arn, json_t **resp, int *status)
{
    const char *name;
    if (!svc_parse_arn(arn, "execution", &name) || !strchr(name, ':')) {
        *status = svc_error(resp, 400, "InvalidArn", "Invalid Arn: '%s'", arn);
        return NULL;
    }
    json_t *x = store_get_execution(svc_reader(s), arn);
    if (!x) {
        *status = svc_error(resp, 500, "InternalFailure", "cannot read %s", s->db_path);
        return NULL;
    }
    if (json_is_null(x)) {
        json_decref(x);
        *status =
            svc_error(resp, 400, "ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn);
        return NULL;
    }
    return x;
}

static char *machine_arn_of(svc *s, const char *exec_arn)
{
    char name[256];
    return svc_machine_name_of(exec_arn, name, sizeof name) ? svc_arn(s, "stateMachine", name, NULL)
                                                            : NULL;
}

static void uuid(char out[37])
{
    unsigned char b[16];
    RAND_bytes(b, sizeof b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* Starts an execution and waits for its start to be committed. On success
 * *id is its id, for StartSyncExecution to wait on. */
static int start(svc *s, json_t *req, json_t **resp, bool sync, int64_t *id)
{
    int status = 200;
    const char *sm_arn, *name, *input_text;
    if (!svc_str(req, "stateMachineArn", true, 2048, &sm_arn, resp, &status) ||
        !svc_str(req, "name", false, 80, &name, resp, &status) ||
        !svc_str(req, "input", false, ASL_PAYLOAD_MAX, &input_text, resp, &status))
        return status;
    char generated[37];
    if (!name) {
        uuid(generated);
        name = generated;
    }
    if (!svc_valid_name(name))
        return svc_error(resp, 400, "InvalidName", "Invalid Name: '%s'", name);
    input_text = input_text ? input_text : "{}";
    json_error_t jerr;
    json_t *input = json_loads(input_text, JSON_DECODE_ANY, &jerr);
    if (!input)
        return svc_error(resp, 400, "InvalidExecutionInput",
                         "Invalid State Machine Execution Input: '%s at line %d, column %d'",
                         jerr.text, jerr.line, jerr.column);
    uint64_t seed;
    RAND_bytes((unsigned char *)&seed, sizeof seed);

    pthread_mutex_lock(&s->mu);
    svc_machine *m = svc_find_machine(s, sm_arn, resp, &status);
    char *arn = m ? svc_arn(s, "execution", m->name, name) : NULL;
    if (!m || !arn) {
        pthread_mutex_unlock(&s->mu);
        json_decref(input);
        free(arn);
        return m ? svc_error(resp, 500, "InternalFailure", "out of memory") : status;
    }
    if (s->closing) {
        status = svc_error(resp, 503, "ServiceUnavailable", "the coordinator is shutting down");
        goto out;
    }
    if (sync && strcmp(m->type, "EXPRESS") != 0) {
        status = svc_error(resp, 400, "StateMachineTypeNotSupported",
                           "This operation is not supported by this type of state machine");
        goto out;
    }
    /* Starting the same name with the same input while it runs is
     * idempotent; anything else under a used name is refused. */
    svc_exec *live = sf_hmap_gets(&s->exec_arns, arn);
    sqlite3 *db = svc_reader(s);
    bool used = live || !db || store_execution_exists(db, arn) != 0; /* errors count as used */
    if (used && live && !sync && json_equal(live->input, input)) {
        /* Its start may still be committing: answer once it is durable. */
        *resp = json_pack("{s:s,s:o}", "executionArn", arn, "startDate", svc_epoch(live->start_ms));
        svc_commit_wait_unlock(s, svc_ticket(s));
        json_decref(input);
        free(arn);
        return status;
    }
    if (used) {
        status =
            svc_error(resp, 400, "ExecutionAlreadyExists", "Execution Already Exists: '%s'", arn);
        goto out;
    }
    int64_t now = svc_now_ms();
    svc_exec *x = svc_exec_new(s, s->next_exec_id, arn, name, m->cur, input, seed, now);
    if (!x) {
        status = svc_error(resp, 500, "InternalFailure", "cannot create execution %s", arn);
        goto out;
    }
    s->next_exec_id++;
    sf_hmap_putu(&s->execs, (uint64_t)x->id, x);
    sf_hmap_put(&s->exec_arns, x->arn, strlen(x->arn), x);
    svc_write(
        s,
        (wop){.kind = W_EXEC, .a = x->id, .b = now, .c = m->id, .d = m->cur->revision, .u = seed},
        arn, name, input_text, NULL);
    svc_drive(s, x, &(svc_input){.kind = STORE_IN_START, .now_ms = now});
    *id = x->id;
    *resp = json_pack("{s:s,s:o}", "executionArn", arn, "startDate", svc_epoch(now));
    svc_commit_wait_unlock(s, svc_ticket(s));
    json_decref(input);
    free(arn);
    return status;
out:
    pthread_mutex_unlock(&s->mu);
    json_decref(input);
    free(arn);
    return status;
}

int op_start_execution(svc *s, json_t *req, json_t **resp)
{
    int64_t id = 0;
    return start(s, req, resp, false, &id);
}

static void put_time(json_t *o, const char *k, json_t *row, const char *col)
{
    json_t *v = json_object_get(row, col);
    if (json_is_integer(v))
        json_object_set_new(o, k, svc_epoch(json_integer_value(v)));
}

static void put_str(json_t *o, const char *k, json_t *row, const char *col)
{
    json_t *v = json_object_get(row, col);
    if (json_is_string(v))
        json_object_set(o, k, v);
}

/* DescribeExecution's shape, from an executions row. */
static json_t *describe(svc *s, json_t *row)
{
    char *sm = machine_arn_of(s, json_string_value(json_object_get(row, "arn")));
    json_t *o = json_pack("{s:O,s:s?,s:O,s:O}", "executionArn", json_object_get(row, "arn"),
                          "stateMachineArn", sm, "name", json_object_get(row, "name"), "status",
                          json_object_get(row, "status"));
    free(sm);
    put_time(o, "startDate", row, "start_ms");
    put_time(o, "stopDate", row, "stop_ms");
    put_str(o, "input", row, "input");
    json_object_set_new(o, "inputDetails", json_pack("{s:b}", "included", 1));
    if (json_is_string(json_object_get(row, "output"))) {
        put_str(o, "output", row, "output");
        json_object_set_new(o, "outputDetails", json_pack("{s:b}", "included", 1));
    }
    put_str(o, "error", row, "error");
    put_str(o, "cause", row, "cause");
    json_object_set_new(o, "redriveCount", json_integer(0));
    return o;
}

int op_start_sync_execution(svc *s, json_t *req, json_t **resp)
{
    int64_t id = 0;
    int status = start(s, req, resp, true, &id);
    if (status != 200)
        return status;
    /* Express executions answer when they end (AWS allows 5 minutes). */
    pthread_mutex_lock(&s->mu);
    while (sf_hmap_getu(&s->execs, (uint64_t)id) && !s->closing)
        pthread_cond_wait(&s->committed_cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    json_t *row = store_get_execution_by_id(svc_reader(s), id);
    if (!json_is_object(row)) {
        json_decref(row);
        return status;
    }
    json_decref(*resp);
    *resp = describe(s, row);
    json_object_del(*resp, "redriveCount");
    int64_t ms = svc_row_int(row, "stop_ms") - svc_row_int(row, "start_ms");
    json_object_set_new(*resp, "billingDetails",
                        json_pack("{s:i,s:I}", "billedMemoryUsedInMB", 64,
                                  "billedDurationInMilliseconds",
                                  (json_int_t)(ms > 100 ? ms : 100)));
    json_decref(row);
    return 200;
}

int op_describe_execution(svc *s, json_t *req, json_t **resp)
{
    int status = 200;
    const char *arn;
    if (!svc_str(req, "executionArn", true, 2048, &arn, resp, &status))
        return status;
    json_t *row = svc_find_execution(s, arn, resp, &status);
    if (!row)
        return status;
    *resp = describe(s, row);
    json_decref(row);
    /* statefleet's extension: what its fleet tasks are doing now. Clients
     * that follow AWS's model (boto3, the AWS CLI) skip members they do
     * not know. */
    const char *st = *resp ? json_string_value(json_object_get(*resp, "status")) : NULL;
    if (st && strcmp(st, "RUNNING") == 0) {
        pthread_mutex_lock(&s->mu);
        svc_exec *x = sf_hmap_get(&s->exec_arns, arn, strlen(arn));
        json_t *tasks = svc_fleet_describe_tasks(s, x);
        pthread_mutex_unlock(&s->mu);
        json_object_set_new(*resp, "statefleetTasks", tasks);
    }
    return 200;
}

static json_t *execution_item(svc *s, json_t *r, void *sm_arn)
{
    json_t *o = json_pack("{s:O,s:s,s:O,s:O}", "executionArn", json_object_get(r, "arn"),
                          "stateMachineArn", (const char *)sm_arn, "name",
                          json_object_get(r, "name"), "status", json_object_get(r, "status"));
    put_time(o, "startDate", r, "start_ms");
    put_time(o, "stopDate", r, "stop_ms");
    return o;
}

int op_list_executions(svc *s, json_t *req, json_t **resp)
{
    int status = 200, limit;
    int64_t before;
    const char *sm_arn, *filter;
    if (!svc_str(req, "stateMachineArn", true, 2048, &sm_arn, resp, &status) ||
        !svc_str(req, "statusFilter", false, 16, &filter, resp, &status) ||
        !svc_page(req, "ex", &limit, &before, resp, &status))
        return status;
    static const char *const statuses[] = {"RUNNING",   "SUCCEEDED", "FAILED",
                                           "TIMED_OUT", "ABORTED",   "PENDING_REDRIVE"};
    bool known = !filter;
    for (size_t i = 0; filter && i < sizeof statuses / sizeof *statuses; i++)
        known = known || strcmp(filter, statuses[i]) == 0;
    if (!known)
        return svc_error(resp, 400, "ValidationException",
                         "1 validation error detected: Value '%s' at 'statusFilter' failed to "
                         "satisfy constraint: Member must satisfy enum value set: [RUNNING, "
                         "SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]",
                         filter);
    pthread_mutex_lock(&s->mu);
    svc_machine *m = svc_find_machine(s, sm_arn, resp, &status);
    int64_t machine_id = m ? m->id : 0;
    pthread_mutex_unlock(&s->mu);
    if (!m)
        return status;
    return svc_page_answer(
        s, resp, "executions", "ex",
        store_list_executions(svc_reader(s), machine_id, filter, before, limit + 1), limit,
        execution_item, (void *)sm_arn);
}

/* AWS's JSON for one stored event row. */
static json_t *event_json(svc *s, json_t *row, const char *exec_arn)
{
    const char *data = json_string_value(json_object_get(row, "data"));
    const char *vars = json_string_value(json_object_get(row, "vars"));
    asl_event ev = {
        .type = (asl_event_type)svc_row_int(row, "type"),
        .state_type = (int)svc_row_int(row, "state_type"),
        .id = svc_row_int(row, "id"),
        .prev_id = svc_row_int(row, "prev_id"),
        .ts_ms = svc_row_int(row, "ts_ms"),
        .name = json_string_value(json_object_get(row, "name")),
        .resource = json_string_value(json_object_get(row, "resource")),
        .data = data ? json_loads(data, JSON_DECODE_ANY, NULL) : NULL,
        .vars = vars ? json_loads(vars, 0, NULL) : NULL,
        .error = (char *)json_string_value(json_object_get(row, "error")),
        .cause = (char *)json_string_value(json_object_get(row, "cause")),
        .index = svc_row_int(row, "idx"),
        .extra = svc_row_int(row, "extra"),
    };
    json_t *out = asl_event_to_json(&ev, s->region, exec_arn);
    json_decref(ev.data);
    json_decref(ev.vars);
    return out;
}

/* includeExecutionData=false: the events keep their shape (inputDetails
 * and outputDetails included), without the input, output and parameters
 * they carried. */
static void strip_data(json_t *ev)
{
    const char *k;
    json_t *details;
    json_object_foreach(ev, k, details)
    {
        if (!json_is_object(details))
            continue;
        json_object_del(details, "input");
        json_object_del(details, "output");
        json_object_del(details, "parameters");
    }
}

struct history_ctx {
    const char *arn;
    bool with_data;
};

static json_t *history_item(svc *s, json_t *r, void *ctx)
{
    struct history_ctx *hc = ctx;
    json_t *ev = event_json(s, r, hc->arn);
    if (ev && !hc->with_data)
        strip_data(ev);
    return ev;
}

int op_get_execution_history(svc *s, json_t *req, json_t **resp)
{
    int status = 200, limit;
    int64_t from;
    const char *arn;
    if (!svc_str(req, "executionArn", true, 2048, &arn, resp, &status) ||
        !svc_page(req, "ev", &limit, &from, resp, &status))
        return status;
    bool reverse = json_is_true(json_object_get(req, "reverseOrder"));
    json_t *inc = json_object_get(req, "includeExecutionData");
    bool with_data = !json_is_false(inc);
    json_t *row = svc_find_execution(s, arn, resp, &status);
    if (!row)
        return status;
    struct history_ctx hc = {.arn = arn, .with_data = with_data};
    int st = svc_page_answer(
        s, resp, "events", "ev",
        store_list_events(svc_reader(s), svc_row_int(row, "id"), from, reverse, limit + 1), limit,
        history_item, &hc);
    json_decref(row);
    return st;
}

int op_stop_execution(svc *s, json_t *req, json_t **resp)
{
    int status = 200;
    const char *arn, *error, *cause;
    if (!svc_str(req, "executionArn", true, 2048, &arn, resp, &status) ||
        !svc_str(req, "error", false, 256, &error, resp, &status) ||
        !svc_str(req, "cause", false, 32768, &cause, resp, &status))
        return status;
    json_t *row = svc_find_execution(s, arn, resp, &status);
    if (!row)
        return status;
    pthread_mutex_lock(&s->mu);
    svc_exec *x = sf_hmap_gets(&s->exec_arns, arn);
    int64_t now = svc_now_ms();
    if (x &&
        svc_drive(s, x,
                  &(svc_input){.kind = STORE_IN_STOP, .now_ms = now, .a = error, .b = cause}) ==
            SF_OK) {
        svc_wait_commit(s, svc_ticket(s));
        *resp = json_pack("{s:o}", "stopDate", svc_epoch(now));
    } else {
        /* It had already ended: stopping it again changes nothing. */
        json_t *fresh = store_get_execution(svc_reader(s), arn);
        int64_t stop = json_is_object(fresh) ? svc_row_int(fresh, "stop_ms") : now;
        json_decref(fresh);
        *resp = json_pack("{s:o}", "stopDate", svc_epoch(stop ? stop : now));
    }
    pthread_mutex_unlock(&s->mu);
    json_decref(row);
    return 200;
}
