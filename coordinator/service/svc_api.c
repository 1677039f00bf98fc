/* service/svc_api.c - the operation table and what every operation shares:
 * AWS error bodies, field checks, names, ARNs, timestamps. */
#define _GNU_SOURCE
#include "svc_internal.h"

#include "../store/store_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int svc_error(json_t **resp, int status, const char *type, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    *resp = json_pack("{s:s,s:s}", "__type", type, "message", msg);
    if (!*resp) {
        /* A message quoting a caller's bytes may not be UTF-8: keep ASCII. */
        for (char *p = msg; *p; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        *resp = json_pack("{s:s,s:s}", "__type", type, "message", msg);
    }
    return status;
}

static void close_reader(void *db)
{
    store_close_reader(db);
}

sqlite3 *svc_reader(svc *s)
{
    sqlite3 *db = pthread_getspecific(s->reader_key);
    if (!db && store_open_reader(s->db_path, &db) == SF_OK)
        pthread_setspecific(s->reader_key, db);
    return db;
}

sf_rc svc_reader_key_init(svc *s)
{
    return pthread_key_create(&s->reader_key, close_reader) == 0 ? SF_OK : SF_EIO;
}

bool svc_str(json_t *req, const char *field, bool required, size_t max, const char **out,
             json_t **resp, int *status)
{
    json_t *v = json_object_get(req, field);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!required)
            return true;
        *status = svc_error(resp, 400, "ValidationException",
                            "1 validation error detected: Value null at '%s' failed to satisfy "
                            "constraint: Member must not be null",
                            field);
        return false;
    }
    if (!json_is_string(v)) {
        *status = svc_error(resp, 400, "ValidationException",
                            "1 validation error detected: Value at '%s' failed to satisfy "
                            "constraint: Member must be a string",
                            field);
        return false;
    }
    if (json_string_length(v) > max) {
        *status = svc_error(resp, 400, "ValidationException",
                            "1 validation error detected: Value at '%s' failed to satisfy "
                            "constraint: Member must have length less than or equal to %zu",
                            field, max);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

/* AWS's rule for names of state machines, executions and activities. */
bool svc_valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > 80)
        return false;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p <= 0x20 || *p == 0x7f || (*p >= 0x7f && *p <= 0x9f))
            return false;
        if (strchr("<>{}[]?*\"#%\\^|~`$&,;:/", *p))
            return false;
    }
    return true;
}

bool svc_parse_arn(const char *arn, const char *kind, const char **name)
{
    /* arn:PARTITION:states:REGION:ACCOUNT:KIND:NAME */
    const char *p = arn;
    if (strncmp(p, "arn:", 4) != 0)
        return false;
    p += 4;
    for (int field = 0; field < 4; field++) {
        const char *c = strchr(p, ':');
        if (!c || c == p)
            return false;
        if (field == 1 && (size_t)(c - p) != 6)
            return false; /* "states" */
        if (field == 1 && strncmp(p, "states", 6) != 0)
            return false;
        p = c + 1;
    }
    size_t kl = strlen(kind);
    if (strncmp(p, kind, kl) != 0 || p[kl] != ':' || !p[kl + 1])
        return false;
    *name = p + kl + 1;
    return true;
}

char *svc_arn(svc *s, const char *kind, const char *name, const char *sub)
{
    char *a = NULL;
    if (asprintf(&a, "arn:aws:states:%s:%s:%s:%s%s%s", s->region, s->account, kind, name,
                 sub ? ":" : "", sub ? sub : "") < 0)
        return NULL;
    return a;
}

json_t *svc_epoch(int64_t ms)
{
    return json_real((double)ms / 1000.0);
}

bool svc_machine_name_of(const char *exec_arn, char *buf, size_t len)
{
    const char *rest;
    if (!svc_parse_arn(exec_arn, "execution", &rest))
        return false;
    const char *colon = strchr(rest, ':');
    size_t n = colon ? (size_t)(colon - rest) : strlen(rest);
    if (n >= len)
        return false;
    memcpy(buf, rest, n);
    buf[n] = '\0';
    return true;
}

int64_t svc_row_int(json_t *row, const char *col)
{
    return json_integer_value(json_object_get(row, col));
}

const char *svc_row_str(json_t *row, const char *col)
{
    return json_string_value(json_object_get(row, col));
}

/* ---- the table ------------------------------------------------------------ */

static const struct {
    const char *name;
    svc_op_fn fn;
} OPS[] = {
    {"CreateStateMachine", op_create_state_machine},
    {"DescribeStateMachine", op_describe_state_machine},
    {"UpdateStateMachine", op_update_state_machine},
    {"DeleteStateMachine", op_delete_state_machine},
    {"ListStateMachines", op_list_state_machines},
    {"ValidateStateMachineDefinition", op_validate_state_machine_definition},
    {"DescribeStateMachineForExecution", op_describe_state_machine_for_execution},
    {"StartExecution", op_start_execution},
    {"StartSyncExecution", op_start_sync_execution},
    {"DescribeExecution", op_describe_execution},
    {"ListExecutions", op_list_executions},
    {"GetExecutionHistory", op_get_execution_history},
    {"StopExecution", op_stop_execution},
    {"CreateActivity", op_create_activity},
    {"DescribeActivity", op_describe_activity},
    {"DeleteActivity", op_delete_activity},
    {"ListActivities", op_list_activities},
    {"GetActivityTask", op_get_activity_task},
    {"SendTaskSuccess", op_send_task_success},
    {"SendTaskFailure", op_send_task_failure},
    {"SendTaskHeartbeat", op_send_task_heartbeat},
    {"StatefleetGetStats", op_statefleet_get_stats},
};

int svc_call(svc *s, const char *op, json_t *request, json_t **response)
{
    *response = NULL;
    if (!json_is_object(request))
        return svc_error(response, 400, "SerializationException",
                         "the request body must be a JSON object");
    for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
        if (strcmp(OPS[i].name, op) == 0) {
            int status = OPS[i].fn(s, request, response);
            if (!*response)
                return svc_error(response, 500, "InternalFailure",
                                 "%s could not build its answer (out of memory)", op);
            return status;
        }
    return svc_error(response, 400, "UnknownOperationException",
                     "Operation AWSStepFunctions.%s is not one this coordinator serves", op);
}

bool svc_page(json_t *req, const char *prefix, int *limit, int64_t *from, json_t **resp,
              int *status)
{
    *limit = 100;
    *from = 0;
    json_t *mr = json_object_get(req, "maxResults");
    if (mr && !json_is_null(mr)) {
        if (!json_is_integer(mr) || json_integer_value(mr) < 0 || json_integer_value(mr) > 1000) {
            *status = svc_error(resp, 400, "ValidationException",
                                "1 validation error detected: Value at 'maxResults' failed to "
                                "satisfy constraint: Member must be between 0 and 1000");
            return false;
        }
        if (json_integer_value(mr) > 0) /* 0 means the default, as AWS reads it */
            *limit = (int)json_integer_value(mr);
    }
    const char *tok;
    if (!svc_str(req, "nextToken", false, 1024, &tok, resp, status))
        return false;
    if (tok) {
        size_t pl = strlen(prefix);
        char *end = NULL;
        long long v = -1;
        if (strncmp(tok, prefix, pl) == 0 && tok[pl] == ':')
            v = strtoll(tok + pl + 1, &end, 10);
        if (v <= 0 || !end || *end) {
            *status = svc_error(resp, 400, "InvalidToken", "Invalid Token: '%s'", tok);
            return false;
        }
        *from = v;
    }
    return true;
}

int svc_page_answer(svc *s, json_t **resp, const char *member, const char *prefix, json_t *rows,
                    int limit, svc_item_fn item, void *ctx)
{
    if (!rows)
        return svc_error(resp, 500, "InternalFailure", "cannot read %s", s->db_path);
    json_t *list = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        if ((int)i == limit)
            break;
        json_t *one = item(s, r, ctx);
        if (one)
            json_array_append_new(list, one);
    }
    *resp = json_pack("{s:o}", member, list);
    if (*resp && json_array_size(rows) > (size_t)limit) {
        /* The next page starts after the last row of this one. */
        char tok[64];
        json_int_t id = json_integer_value(json_object_get(json_array_get(rows, limit - 1), "id"));
        snprintf(tok, sizeof tok, "%s:%lld", prefix, (long long)id);
        json_object_set_new(*resp, "nextToken", json_string(tok));
    }
    json_decref(rows);
    return 200;
}

/* Not an AWS operation: the coordinator's counters since it started, for
 * benchmarks (commits are fsyncs at synchronous=FULL). */
int op_statefleet_get_stats(svc *s, json_t *req, json_t **resp)
{
    svc_stats st;
    svc_get_stats(s, &st);
    *resp = json_pack("{s:I,s:I,s:I,s:I,s:o}", "commits", (json_int_t)st.commits, "transitions",
                      (json_int_t)st.transitions, "events", (json_int_t)st.events, "running",
                      (json_int_t)st.running, "fleet", svc_fleet_stats(s));
    return 200;
}
