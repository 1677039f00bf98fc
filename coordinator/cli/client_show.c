/* cli/client_show.c - the coordinator commands that print: describe, list
 * and history.
 *
 * Text output is for people: times as ISO 8601 UTC, columns aligned, the
 * JSON-in-a-string fields (input, output, definition) decoded. --json is for
 * programs: the items exactly as the API returned them, every page joined
 * into one array. */
#include "client_commands.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/asl/timestamp.h"

#define CAUSE_SHOWN 160 /* characters of an error's cause on a history line */

void cli_format_time(const json_t *v, char out[40])
{
    if (json_is_number(v)) {
        double s = json_number_value(v);
        /* Beyond about year 190000 the milliseconds would overflow int64. */
        if (isfinite(s) && fabs(s) < 6e12) {
            char buf[32];
            asl_timestamp_format_ms((int64_t)llround(s * 1000.0), buf);
            snprintf(out, 40, "%s", buf);
        } else {
            snprintf(out, 40, "%.17g", s);
        }
    } else if (json_is_string(v)) {
        snprintf(out, 40, "%s", json_string_value(v));
    } else {
        snprintf(out, 40, "-");
    }
}

static void print_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    printf("%s\n", s ? s : "null");
    free(s);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = s ? strlen(s) : 0, k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* ---- describe ---- */

typedef struct arn_kind {
    const char *type; /* the ARN's resource type */
    const char *op, *key;
} arn_kind;

static const arn_kind kinds[] = {
    {"execution", "DescribeExecution", "executionArn"},
    {"express", "DescribeExecution", "executionArn"}, /* an EXPRESS execution */
    {"stateMachine", "DescribeStateMachine", "stateMachineArn"},
    {"activity", "DescribeActivity", "activityArn"},
    {"mapRun", "DescribeMapRun", "mapRunArn"},
};

/* What arn names, from its resource type field
 * (arn:partition:service:region:account:TYPE:...), not from a substring: a
 * state machine may well be called "activity". NULL when unknown. */
static const arn_kind *kind_of(const char *arn)
{
    if (strncmp(arn, "arn:", 4) != 0)
        return NULL;
    const char *p = arn;
    for (int i = 0; i < 5 && p; i++)
        if ((p = strchr(p, ':')))
            p++;
    if (!p)
        return NULL;
    size_t n = strcspn(p, ":");
    if (p[n] != ':')
        return NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strlen(kinds[i].type) == n && strncmp(kinds[i].type, p, n) == 0)
            return &kinds[i];
    return NULL;
}

/* Rewrites a Describe* answer for reading: JSON held in strings becomes
 * JSON, epoch-second dates become ISO 8601. A string that is not JSON (or
 * a redacted field) stays as it came. */
static void make_readable(json_t *resp)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(resp, tmp, k, v) {
        if (json_is_string(v) &&
            (strcmp(k, "input") == 0 || strcmp(k, "output") == 0 || strcmp(k, "definition") == 0)) {
            json_t *d =
                json_loadb(json_string_value(v), json_string_length(v), JSON_DECODE_ANY, NULL);
            if (d)
                json_object_set_new(resp, k, d);
        } else if (json_is_number(v) && ends_with(k, "Date")) {
            char t[40];
            cli_format_time(v, t);
            json_object_set_new(resp, k, json_string(t));
        }
    }
}

int cli_cmd_describe(const cli_ctx *cx, int argc, char **argv)
{
    cli_args a;
    if (!cli_args_parse(cx, argc, argv, NULL, 0, 1, 1, &a))
        return 2;
    const arn_kind *kind = kind_of(a.pos[0]);
    if (!kind) {
        fprintf(stderr,
                "statefleet: not an execution, state machine, activity or map run ARN: %s\n",
                a.pos[0]);
        cli_args_usage(cx);
        return 2;
    }
    cli_client *c = cli_command_connect(&a);
    json_t *req = json_pack("{s:s}", kind->key, a.pos[0]);
    json_t *resp = NULL;
    cli_error err;
    int code = 1;
    if (c && req) {
        if (cli_client_call(c, kind->op, req, &resp, &err) != SF_OK) {
            cli_command_failed(kind->op, &err);
        } else {
            make_readable(resp);
            print_json(resp);
            code = 0;
        }
    }
    json_decref(resp);
    json_decref(req);
    cli_client_destroy(&c);
    return code;
}

/* ---- list ---- */

#define LIST_COLS 4

/* Prints rows of LIST_COLS cells, each column but the last padded to its
 * widest cell so the table reads down; no header, so `awk '{print $2}'`
 * works. */
static void print_table(const char *(*cells)[LIST_COLS], size_t nrows)
{
    int width[LIST_COLS] = {0};
    for (size_t r = 0; r < nrows; r++)
        for (int k = 0; k < LIST_COLS; k++) {
            size_t n = strlen(cells[r][k]);
            if (n > (size_t)width[k])
                width[k] = n > 1000 ? 1000 : (int)n;
        }
    for (size_t r = 0; r < nrows; r++) {
        for (int k = 0; k < LIST_COLS - 1; k++)
            printf("%-*s  ", width[k], cells[r][k]);
        printf("%s\n", cells[r][LIST_COLS - 1]);
    }
}

static const char *str_or_dash(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && *s ? s : "-";
}

/* One row per item: the string fields named in keys, except that a key
 * ending in "Date" is formatted as a time. */
static int print_items(const json_t *items, const char *const keys[LIST_COLS])
{
    size_t n = json_array_size(items);
    const char *(*cells)[LIST_COLS] = calloc(n ? n : 1, sizeof *cells);
    char(*times)[LIST_COLS][40] = calloc(n ? n : 1, sizeof *times);
    if (!cells || !times) {
        free(cells);
        free(times);
        fprintf(stderr, "statefleet: out of memory\n");
        return 1;
    }
    for (size_t r = 0; r < n; r++) {
        json_t *it = json_array_get(items, r);
        for (int k = 0; k < LIST_COLS; k++) {
            json_t *v = json_object_get(it, keys[k]);
            if (ends_with(keys[k], "Date")) {
                cli_format_time(v, times[r][k]);
                cells[r][k] = times[r][k];
            } else {
                cells[r][k] = str_or_dash(v);
            }
        }
    }
    print_table(cells, n);
    free(cells);
    free(times);
    return 0;
}

static bool known_status(const char *s)
{
    static const char *const statuses[] = {"RUNNING",   "SUCCEEDED", "FAILED",
                                           "TIMED_OUT", "ABORTED",   "PENDING_REDRIVE"};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (strcmp(s, statuses[i]) == 0)
            return true;
    return false;
}

int cli_cmd_list(const cli_ctx *cx, int argc, char **argv)
{
    cli_opt o[] = {{"--status", true, NULL}, {"--json", false, NULL}};
    cli_args a;
    if (!cli_args_parse(cx, argc, argv, o, 2, 0, 1, &a))
        return 2;
    const char *status = o[0].value;
    if (status && (a.npos == 0 || !known_status(status))) {
        fprintf(stderr, "statefleet: %s\n",
                a.npos == 0 ? "--status needs a STATE_MACHINE whose executions to list"
                            : "--status is RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or "
                              "PENDING_REDRIVE");
        cli_args_usage(cx);
        return 2;
    }
    cli_client *c = cli_command_connect(&a);
    if (!c)
        return 1;
    const char *op = a.npos ? "ListExecutions" : "ListStateMachines";
    const char *items_key = a.npos ? "executions" : "stateMachines";
    json_t *req = json_object();
    char *arn = NULL;
    if (a.npos) {
        /* A Map Run's child executions list by its ARN, not a machine's. */
        const arn_kind *kind = kind_of(a.pos[0]);
        bool map_run = kind && strcmp(kind->type, "mapRun") == 0;
        arn = cli_command_resolve(c, a.pos[0]);
        if (arn && req)
            json_object_set_new(req, map_run ? "mapRunArn" : "stateMachineArn", json_string(arn));
        if (req && status)
            json_object_set_new(req, "statusFilter", json_string(status));
    }
    json_t *items = NULL;
    cli_error err;
    int code = 1;
    if (req && (arn || !a.npos)) {
        if (cli_client_call_all(c, op, req, items_key, &items, &err) != SF_OK) {
            cli_command_failed(op, &err);
        } else if (o[1].value) {
            print_json(items);
            code = 0;
        } else {
            static const char *const machine_cols[LIST_COLS] = {"name", "stateMachineArn", "type",
                                                                "creationDate"};
            static const char *const exec_cols[LIST_COLS] = {"name", "status", "startDate",
                                                             "stopDate"};
            code = print_items(items, a.npos ? exec_cols : machine_cols);
        }
    }
    json_decref(items);
    json_decref(req);
    free(arn);
    cli_client_destroy(&c);
    return code;
}

/* ---- history ---- */

/* The "<type>EventDetails" object of a history event, or NULL. */
static json_t *details_of(json_t *ev)
{
    const char *k;
    json_t *v;
    json_object_foreach(ev, k, v) {
        if (ends_with(k, "EventDetails") && json_is_object(v))
            return v;
    }
    return NULL;
}

/* The state an event belongs to. Task and Lambda events do not carry it, so
 * follow previousEventId back to the *StateEntered event that began it
 * (whose details AWS names stateEnteredEventDetails; found by the event's
 * type so that a server naming them after the state type works too). */
static const char *state_of(json_t *const *by_id, size_t nid, json_t *ev)
{
    for (int hop = 0; hop < 16 && ev; hop++) {
        const char *type = json_string_value(json_object_get(ev, "type"));
        if (ends_with(type, "StateEntered")) {
            const char *name = json_string_value(json_object_get(details_of(ev), "name"));
            if (name)
                return name;
        }
        json_int_t prev = json_integer_value(json_object_get(ev, "previousEventId"));
        ev = prev > 0 && (size_t)prev < nid ? by_id[prev] : NULL;
    }
    return NULL;
}

typedef struct line {
    char text[512];
    size_t len;
} line;

static void add(line *l, const char *sep, const char *s, size_t max)
{
    if (l->len && sep)
        add(l, NULL, sep, SIZE_MAX);
    size_t room = sizeof l->text - 1 - l->len;
    size_t n = strlen(s);
    if (n > max)
        n = max;
    if (n > room)
        n = room;
    for (size_t i = 0; i < n; i++) /* one event, one line */
        l->text[l->len++] = s[i] == '\n' || s[i] == '\r' || s[i] == '\t' ? ' ' : s[i];
    l->text[l->len] = '\0';
    if (strlen(s) > max && room > n + 3)
        add(l, NULL, "...", SIZE_MAX);
}

/* What is worth a glance about ev: its state (and Map iteration), the
 * resource a task runs, and an error with the start of its cause. */
static void describe_event(json_t *const *by_id, size_t nid, json_t *ev, line *l)
{
    json_t *d = details_of(ev);
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *name = json_string_value(json_object_get(d, "name"));
    if (!name && type && strncmp(type, "Execution", 9) != 0 && strncmp(type, "MapRun", 6) != 0)
        name = state_of(by_id, nid, ev);
    if (name)
        add(l, "  ", name, SIZE_MAX);
    json_t *index = json_object_get(d, "index");
    if (json_is_integer(index)) {
        char ix[32];
        snprintf(ix, sizeof ix, "#%" JSON_INTEGER_FORMAT, json_integer_value(index));
        add(l, " ", ix, SIZE_MAX);
    }
    const char *rtype = json_string_value(json_object_get(d, "resourceType"));
    const char *res = json_string_value(json_object_get(d, "resource"));
    if (rtype && res) {
        add(l, "  ", rtype, SIZE_MAX);
        add(l, ":", res, SIZE_MAX);
    } else if (res) {
        add(l, "  ", res, SIZE_MAX);
    }
    const char *error = json_string_value(json_object_get(d, "error"));
    const char *cause = json_string_value(json_object_get(d, "cause"));
    if (error)
        add(l, "  ", error, SIZE_MAX);
    if (cause)
        add(l, error ? ": " : "  ", cause, CAUSE_SHOWN);
}

static void print_events(json_t *events)
{
    size_t n = json_array_size(events), maxid = 0, typew = 0;
    json_t *ev;
    size_t i;
    json_array_foreach(events, i, ev) {
        json_int_t id = json_integer_value(json_object_get(ev, "id"));
        if (id > 0 && (size_t)id > maxid)
            maxid = (size_t)id;
        const char *type = json_string_value(json_object_get(ev, "type"));
        size_t tl = type ? strlen(type) : 0;
        if (tl > typew)
            typew = tl;
    }
    /* Ids are 1..n in AWS; a sparse or huge id just goes without a state
     * name rather than costing a huge table. */
    size_t nid = maxid < 4 * n + 16 ? maxid + 1 : 0;
    json_t **by_id = nid ? calloc(nid, sizeof *by_id) : NULL;
    if (!by_id)
        nid = 0;
    json_array_foreach(events, i, ev) {
        json_int_t id = json_integer_value(json_object_get(ev, "id"));
        if (id > 0 && (size_t)id < nid)
            by_id[id] = ev;
    }
    int idw = snprintf(NULL, 0, "%zu", maxid);
    json_array_foreach(events, i, ev) {
        char t[40];
        cli_format_time(json_object_get(ev, "timestamp"), t);
        const char *type = json_string_value(json_object_get(ev, "type"));
        line l = {.len = 0};
        describe_event(by_id, nid, ev, &l);
        printf("%*" JSON_INTEGER_FORMAT "  %s  ", idw,
               json_integer_value(json_object_get(ev, "id")), t);
        if (l.len)
            printf("%-*s  %s\n", (int)typew, type ? type : "-", l.text);
        else
            printf("%s\n", type ? type : "-");
    }
    free(by_id);
}

int cli_cmd_history(const cli_ctx *cx, int argc, char **argv)
{
    cli_opt o[] = {{"--reverse", false, NULL}, {"--json", false, NULL}};
    cli_args a;
    if (!cli_args_parse(cx, argc, argv, o, 2, 1, 1, &a))
        return 2;
    cli_client *c = cli_command_connect(&a);
    /* 1000 is the API's largest page: fewest round trips for long runs. */
    json_t *req = json_pack("{s:s, s:b, s:i}", "executionArn", a.pos[0], "reverseOrder",
                            o[0].value != NULL, "maxResults", 1000);
    json_t *events = NULL;
    cli_error err;
    int code = 1;
    if (c && req) {
        if (cli_client_call_all(c, "GetExecutionHistory", req, "events", &events, &err) != SF_OK) {
            cli_command_failed("GetExecutionHistory", &err);
        } else {
            if (o[1].value)
                print_json(events);
            else
                print_events(events);
            code = 0;
        }
    }
    json_decref(events);
    json_decref(req);
    cli_client_destroy(&c);
    return code;
}
