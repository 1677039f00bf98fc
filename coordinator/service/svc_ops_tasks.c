/* service/svc_ops_tasks.c - activities, their pollers, and answers sent
 * with task tokens (SendTask*, and the approval links). */
#define _GNU_SOURCE
#include "svc_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../store/store_read.h"

#define POLLERS_MAX 1000 /* per activity, as AWS allows */
#define TOKEN_MAX 2048

void svc_activity_free(svc_activity *a)
{
    pthread_cond_destroy(&a->cv);
    free(a->queue);
    free(a->arn);
    free(a->name);
    free(a);
}

static svc_activity *find_activity(svc *s, const char *arn, json_t **resp, int *status)
{
    const char *name;
    if (!svc_parse_arn(arn, "activity", &name)) {
        *status = svc_error(resp, 400, "InvalidArn", "Invalid Arn: '%s'", arn);
        return NULL;
    }
    svc_activity *a = sf_hmap_gets(&s->activities, arn);
    if (!a)
        *status = svc_error(resp, 400, "ActivityDoesNotExist", "Activity Does Not Exist: '%s'",
                            arn);
    return a;
}

int op_create_activity(svc *s, json_t *req, json_t **resp)
{
    int status = 200;
    const char *name;
    if (!svc_str(req, "name", true, 80, &name, resp, &status))
        return status;
    if (!svc_valid_name(name))
        return svc_error(resp, 400, "InvalidName", "Invalid Name: '%s'", name);
    char *arn = svc_arn(s, "activity", name, NULL);
    if (!arn)
        return svc_error(resp, 500, "InternalFailure", "out of memory");
    pthread_mutex_lock(&s->mu);
    svc_activity *a = sf_hmap_gets(&s->activities, arn);
    if (!a) { /* idempotent by name */
        a = calloc(1, sizeof *a);
        if (!a || s->closing) {
            pthread_mutex_unlock(&s->mu);
            free(a);
            free(arn);
            return svc_error(resp, 503, "ServiceUnavailable", "the coordinator is shutting down");
        }
        a->id = s->next_activity_id++;
        a->arn = arn;
        arn = NULL;
        a->name = strdup(name);
        a->created_ms = svc_now_ms();
        pthread_cond_init(&a->cv, NULL);
        sf_hmap_put(&s->activities, a->arn, strlen(a->arn), a);
        svc_write(s, (wop){.kind = W_ACTIVITY, .a = a->id, .b = a->created_ms}, a->arn, name,
                  NULL, NULL);
    }
    svc_wait_commit(s, svc_ticket(s));
    *resp = json_pack("{s:s,s:o}", "activityArn", a->arn, "creationDate",
                      svc_epoch(a->created_ms));
    pthread_mutex_unlock(&s->mu);
    free(arn);
    return 200;
}

int op_describe_activity(svc *s, json_t *req, json_t **resp)
{
    int status = 200;
    const char *arn;
    if (!svc_str(req, "activityArn", true, 256, &arn, resp, &status))
        return status;
    pthread_mutex_lock(&s->mu);
    svc_activity *a = find_activity(s, arn, resp, &status);
    if (a)
        *resp = json_pack("{s:s,s:s,s:o}", "activityArn", a->arn, "name", a->name,
                          "creationDate", svc_epoch(a->created_ms));
    pthread_mutex_unlock(&s->mu);
    return status;
}

int op_delete_activity(svc *s, json_t *req, json_t **resp)
{
    int status = 200;
    const char *arn, *name;
    if (!svc_str(req, "activityArn", true, 256, &arn, resp, &status))
        return status;
    if (!svc_parse_arn(arn, "activity", &name))
        return svc_error(resp, 400, "InvalidArn", "Invalid Arn: '%s'", arn);
    pthread_mutex_lock(&s->mu);
    svc_activity *a = sf_hmap_gets(&s->activities, arn);
    if (a && !a->deleted) {
        /* Pollers may still hold it: then it stays in memory, marked, and
         * the last poller to leave frees it. Decided here, before waiting
         * for the commit lets pollers run. Its queued tasks wait until
         * their timeouts end them. */
        a->deleted = true;
        sf_hmap_del(&s->activities, arn, strlen(arn));
        svc_write(s, (wop){.kind = W_ACTIVITY_DEL, .a = a->id}, NULL, NULL, NULL, NULL);
        pthread_cond_broadcast(&a->cv);
        if (a->pollers == 0)
            svc_activity_free(a);
        svc_wait_commit(s, svc_ticket(s));
    }
    pthread_mutex_unlock(&s->mu);
    *resp = json_object();
    return 200;
}

static json_t *activity_item(svc *s, json_t *r, void *ctx)
{
    return json_pack("{s:O,s:O,s:o}", "activityArn", json_object_get(r, "arn"), "name",
                     json_object_get(r, "name"), "creationDate",
                     svc_epoch(json_integer_value(json_object_get(r, "created_ms"))));
}

int op_list_activities(svc *s, json_t *req, json_t **resp)
{
    int status = 200, limit;
    int64_t after;
    if (!svc_page(req, "act", &limit, &after, resp, &status))
        return status;
    return svc_page_answer(s, resp, "activities", "act",
                           store_list_activities(svc_reader(s), after, limit + 1), limit,
                           activity_item, NULL);
}

/* The next queued task that is still waiting for a worker (mu held). */
static svc_task *pop_task(svc *s, svc_activity *a, svc_exec **xo)
{
    while (a->qlen > 0) {
        int64_t exec_id = a->queue[a->qhead].exec_id;
        uint64_t task_id = a->queue[a->qhead].task_id;
        a->qhead++;
        a->qlen--;
        svc_exec *x = sf_hmap_getu(&s->execs, (uint64_t)exec_id);
        svc_task *t = x ? svc_exec_task(x, task_id) : NULL;
        if (t && t->queued && !t->started) {
            t->queued = false;
            *xo = x;
            return t;
        }
    }
    a->qhead = 0;
    return NULL;
}

int op_get_activity_task(svc *s, json_t *req, json_t **resp)
{
    int status = 200;
    const char *arn, *worker;
    if (!svc_str(req, "activityArn", true, 256, &arn, resp, &status) ||
        !svc_str(req, "workerName", false, 80, &worker, resp, &status))
        return status;
    pthread_mutex_lock(&s->mu);
    svc_activity *a = find_activity(s, arn, resp, &status);
    if (!a) {
        pthread_mutex_unlock(&s->mu);
        return status;
    }
    if (a->pollers >= POLLERS_MAX) {
        pthread_mutex_unlock(&s->mu);
        return svc_error(resp, 400, "ActivityWorkerLimitExceeded",
                         "The maximum number of workers concurrently polling for activity tasks "
                         "has been reached.");
    }
    int64_t until = svc_now_ms() + s->poll_ms;
    struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (until % 1000) * 1000000};
    a->pollers++;
    svc_exec *x = NULL;
    svc_task *t = NULL;
    while (!(t = pop_task(s, a, &x)) && !a->deleted && !s->closing) {
        if (pthread_cond_timedwait(&a->cv, &s->mu, &ts) == ETIMEDOUT) {
            t = pop_task(s, a, &x);
            break;
        }
    }
    a->pollers--;
    if (a->deleted && a->pollers == 0)
        svc_activity_free(a); /* the last poller of a deleted activity */
    if (!t) {
        pthread_mutex_unlock(&s->mu);
        *resp = json_object(); /* no task: taskToken absent, as AWS answers */
        return 200;
    }
    svc_drive(s, x, &(svc_input){.kind = STORE_IN_TASK_STARTED, .task_id = t->id, .a = worker});
    char *input = json_dumps(t->input, JSON_COMPACT | JSON_ENCODE_ANY);
    *resp = json_pack("{s:s,s:s}", "taskToken", t->token ? t->token : "", "input",
                      input ? input : "{}");
    free(input);
    /* The worker gets the task only once ActivityStarted is durable: after
     * a crash it is then known to be the worker's, and never handed out
     * twice. */
    svc_commit_wait_unlock(s, svc_ticket(s));
    return 200;
}

/* ---- answers by token ----------------------------------------------------- */

/* Finds the open task behind token (mu held), or answers InvalidToken
 * (forged, altered, malformed) or TaskTimedOut (real, but closed). */
static svc_exec *token_task(svc *s, const char *token, uint64_t *task_id, json_t **resp,
                            int *status)
{
    int64_t exec_id;
    if (svc_token_open(s->token_key, token, &exec_id) != SF_OK) {
        *status = svc_error(resp, 400, "InvalidToken", "Invalid Token: 'Invalid token'");
        return NULL;
    }
    svc_exec *x = sf_hmap_getu(&s->execs, (uint64_t)exec_id);
    *task_id = x ? asl_exec_task_by_token(x->e, token) : 0;
    if (!*task_id) {
        *status = svc_error(resp, 400, "TaskTimedOut",
                            "Task Timed Out: 'Provided task does not exist anymore'");
        return NULL;
    }
    return x;
}

/* Drives x with in for the task behind in->task_id and waits for it to be
 * durable (mu held). */
static int answer(svc *s, const char *token, svc_input *in, json_t **resp)
{
    int status = 200;
    pthread_mutex_lock(&s->mu);
    svc_exec *x = token_task(s, token, &in->task_id, resp, &status);
    if (x) {
        if (svc_drive(s, x, in) == SF_OK) {
            *resp = json_object();
            svc_commit_wait_unlock(s, svc_ticket(s));
            return status;
        } else {
            status = svc_error(resp, 400, "TaskTimedOut",
                               "Task Timed Out: 'Provided task does not exist anymore'");
        }
    }
    pthread_mutex_unlock(&s->mu);
    return status;
}

int op_send_task_success(svc *s, json_t *req, json_t **resp)
{
    int status = 200;
    const char *token, *output;
    if (!svc_str(req, "taskToken", true, TOKEN_MAX, &token, resp, &status) ||
        !svc_str(req, "output", true, ASL_PAYLOAD_MAX, &output, resp, &status))
        return status;
    json_error_t jerr;
    json_t *out = json_loads(output, JSON_DECODE_ANY, &jerr);
    if (!out)
        return svc_error(resp, 400, "InvalidOutput",
                         "Invalid Output: '%s at line %d, column %d'", jerr.text, jerr.line,
                         jerr.column);
    status = answer(s, token, &(svc_input){.kind = STORE_IN_TASK_SUCCEEDED, .payload = out}, resp);
    json_decref(out);
    return status;
}

int op_send_task_failure(svc *s, json_t *req, json_t **resp)
{
    int status = 200;
    const char *token, *error, *cause;
    if (!svc_str(req, "taskToken", true, TOKEN_MAX, &token, resp, &status) ||
        !svc_str(req, "error", false, 256, &error, resp, &status) ||
        !svc_str(req, "cause", false, 32768, &cause, resp, &status))
        return status;
    return answer(s, token,
                  &(svc_input){.kind = STORE_IN_TASK_FAILED, .a = error ? error : "", .b = cause},
                  resp);
}

int op_send_task_heartbeat(svc *s, json_t *req, json_t **resp)
{
    int status = 200;
    const char *token;
    if (!svc_str(req, "taskToken", true, TOKEN_MAX, &token, resp, &status))
        return status;
    return answer(s, token, &(svc_input){.kind = STORE_IN_TASK_HEARTBEAT}, resp);
}

int svc_decide(svc *s, const char *token, bool approve, char **message)
{
    json_t *out = json_pack("{s:s}", "decision", approve ? "Approved" : "Rejected");
    json_t *resp = NULL;
    int status = out ? answer(s, token,
                              &(svc_input){.kind = STORE_IN_TASK_SUCCEEDED, .payload = out}, &resp)
                     : 500;
    json_decref(out);
    const char *type = json_string_value(json_object_get(resp, "__type"));
    const char *text;
    if (status == 200)
        text = approve ? "Approved. The workflow goes on with this decision."
                       : "Rejected. The workflow goes on with this decision.";
    else if (type && strcmp(type, "TaskTimedOut") == 0)
        text = "This link was already used, or the step it decides has ended.";
    else if (type && strcmp(type, "InvalidToken") == 0)
        text = "This link is not valid: it was not made by this coordinator, or it was altered.";
    else
        text = "The decision could not be recorded.";
    *message = strdup(text);
    json_decref(resp);
    return status;
}
