/* asl/history.c - name and render history events in AWS's shape. */
#include "history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"

typedef enum {
    NONE, EXEC_STARTED, EXEC_OUTPUT, EXEC_ERROR, ENTERED, EXITED, TASK_SCHEDULED, TASK_PLAIN,
    TASK_OUTPUT, TASK_ERROR, LAMBDA_SCHEDULED, LAMBDA_OUTPUT, LAMBDA_ERROR, MAP_STARTED,
    MAP_ITER, MAP_RUN, ACTIVITY_SCHEDULED, ACTIVITY_STARTED, ACTIVITY_OUTPUT, ACTIVITY_ERROR,
    TASK_PROGRESS
} detail_kind;

static const struct {
    const char *name;
    detail_kind kind;
} event_info[] = {
#define ASL_EV_INFO(e, name, kind) {name, kind},
    ASL_EVENT_TYPES(ASL_EV_INFO)
#undef ASL_EV_INFO
};

const char *asl_event_type_name(const asl_event *e, char buf[48])
{
    if (e->type == ASL_EV_STATE_ENTERED || e->type == ASL_EV_STATE_EXITED) {
        snprintf(buf, 48, "%s%s", asl_state_type_name((asl_state_type)e->state_type),
                 event_info[e->type].name);
        return buf;
    }
    return event_info[e->type].name;
}

/* AWS's details member name: "taskScheduledEventDetails" and so on. */
static void details_key(const char *type_name, char *buf, size_t len)
{
    snprintf(buf, len, "%c%sEventDetails", type_name[0] + ('a' - 'A'), type_name + 1);
}

static json_t *payload(json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_t *r = json_string(s ? s : "null");
    free(s);
    return r;
}

static json_t *truncated_false(void)
{
    return json_pack("{s:b}", "truncated", 0);
}

/* Splits "arn:aws:states:::lambda:invoke" into ("lambda", "invoke"). */
static void resource_parts(const char *arn, char *type, size_t tlen, const char **res)
{
    const char *p = arn ? strstr(arn, ":::") : NULL;
    *res = arn ? arn : "";
    type[0] = '\0';
    if (!p)
        return;
    p += 3;
    const char *c = strchr(p, ':');
    if (!c)
        return;
    snprintf(type, tlen, "%.*s", (int)(c - p), p);
    *res = c + 1;
}

json_t *asl_event_to_json(const asl_event *e, const char *region, const char *exec_arn)
{
    char tbuf[48], dk[80];
    const char *type = asl_event_type_name(e, tbuf);
    /* AWS's JSON protocols carry timestamps as epoch seconds. */
    json_t *o = json_pack("{s:f,s:s,s:I,s:I}", "timestamp", (double)e->ts_ms / 1000.0, "type",
                          type, "id", (json_int_t)e->id, "previousEventId",
                          (json_int_t)e->prev_id);
    if (!o)
        return NULL;
    json_t *d = NULL;
    char rtype[64];
    const char *res;
    switch (event_info[e->type].kind) {
    case NONE:
        break;
    case EXEC_STARTED:
        d = json_pack("{s:o,s:o,s:s}", "input", payload(e->data), "inputDetails",
                      truncated_false(), "roleArn",
                      e->resource ? e->resource : "arn:aws:iam::000000000000:role/statefleet");
        break;
    case EXEC_OUTPUT:
        d = json_pack("{s:o,s:o}", "output", payload(e->data), "outputDetails", truncated_false());
        break;
    case EXEC_ERROR:
    case LAMBDA_ERROR:
    case ACTIVITY_ERROR:
        d = json_object();
        if (e->error)
            json_object_set_new(d, "error", json_string(e->error));
        if (e->cause)
            json_object_set_new(d, "cause", json_string(e->cause));
        break;
    case ENTERED:
        d = json_pack("{s:s,s:o,s:o}", "name", e->name, "input", payload(e->data),
                      "inputDetails", truncated_false());
        break;
    case EXITED:
        d = json_pack("{s:s,s:o,s:o}", "name", e->name, "output", payload(e->data),
                      "outputDetails", truncated_false());
        if (d && e->vars && json_object_size(e->vars)) {
            json_t *av = json_object();
            const char *k;
            json_t *v;
            json_object_foreach(e->vars, k, v) json_object_set_new(av, k, payload(v));
            json_object_set_new(d, "assignedVariables", av);
            json_object_set_new(d, "assignedVariablesDetails", truncated_false());
        }
        break;
    case TASK_SCHEDULED:
        resource_parts(e->resource, rtype, sizeof rtype, &res);
        d = json_pack("{s:s,s:s,s:s,s:o}", "resourceType", rtype, "resource", res, "region",
                      region ? region : "us-east-1", "parameters", payload(e->data));
        if (d && e->index > 0)
            json_object_set_new(d, "timeoutInSeconds", json_integer(e->index));
        if (d && e->extra > 0)
            json_object_set_new(d, "heartbeatInSeconds", json_integer(e->extra));
        break;
    case TASK_PLAIN:
    case TASK_OUTPUT:
    case TASK_ERROR:
        resource_parts(e->resource, rtype, sizeof rtype, &res);
        d = json_pack("{s:s,s:s}", "resourceType", rtype, "resource", res);
        if (d && event_info[e->type].kind == TASK_OUTPUT) {
            json_object_set_new(d, "output", payload(e->data));
            json_object_set_new(d, "outputDetails", truncated_false());
        }
        if (d && event_info[e->type].kind == TASK_ERROR) {
            if (e->error)
                json_object_set_new(d, "error", json_string(e->error));
            if (e->cause)
                json_object_set_new(d, "cause", json_string(e->cause));
        }
        break;
    case TASK_PROGRESS:
        /* Not an AWS event: statefleet's record of a fleet task's progress.
         * The progress object goes in as JSON, not as AWS's payload text,
         * since readers want its numbers. */
        resource_parts(e->resource, rtype, sizeof rtype, &res);
        d = json_pack("{s:s,s:s,s:O?}", "resourceType", rtype, "resource", res, "progress",
                      e->data);
        break;
    case LAMBDA_SCHEDULED:
    case ACTIVITY_SCHEDULED:
        d = json_pack("{s:s,s:o,s:o}", "resource", e->resource ? e->resource : "", "input",
                      payload(e->data), "inputDetails", truncated_false());
        if (d && e->index > 0)
            json_object_set_new(d, "timeoutInSeconds", json_integer(e->index));
        /* Lambda's scheduled details have no heartbeat; an activity's do. */
        if (d && event_info[e->type].kind == ACTIVITY_SCHEDULED && e->extra > 0)
            json_object_set_new(d, "heartbeatInSeconds", json_integer(e->extra));
        break;
    case ACTIVITY_STARTED:
        /* workerName is optional in GetActivityTask; the member is always there. */
        d = json_object();
        if (d && e->name)
            json_object_set_new(d, "workerName", json_string(e->name));
        break;
    case LAMBDA_OUTPUT:
    case ACTIVITY_OUTPUT:
        d = json_pack("{s:o,s:o}", "output", payload(e->data), "outputDetails", truncated_false());
        break;
    case MAP_STARTED:
        d = json_pack("{s:I}", "length", (json_int_t)e->index);
        break;
    case MAP_ITER:
        d = json_pack("{s:s,s:I}", "name", e->name, "index", (json_int_t)e->index);
        break;
    case MAP_RUN: {
        char arn[512];
        snprintf(arn, sizeof arn, "%s/%s", exec_arn ? exec_arn : "", e->name ? e->name : "");
        d = json_pack("{s:s}", "mapRunArn", arn);
        break;
    }
    }
    if (d) {
        /* Every *StateEntered / *StateExited event shares one member. */
        if (event_info[e->type].kind == ENTERED)
            snprintf(dk, sizeof dk, "stateEnteredEventDetails");
        else if (event_info[e->type].kind == EXITED)
            snprintf(dk, sizeof dk, "stateExitedEventDetails");
        else
            details_key(type, dk, sizeof dk);
        json_object_set_new(o, dk, d);
    }
    return o;
}

void asl_history_cleanup(asl_history *h)
{
    for (size_t i = 0; i < h->n; i++) {
        json_decref(h->ev[i].data);
        json_decref(h->ev[i].vars);
        free(h->ev[i].error);
        free(h->ev[i].cause);
        free(h->ev[i].owned_name);
    }
    free(h->ev);
    h->ev = NULL;
    h->n = h->cap = 0;
}
