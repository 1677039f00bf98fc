/* service/svc_ops_machines.c - state machine operations. */
#define _GNU_SOURCE
#include "svc_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../asl/validate.h"
#include "../store/store_read.h"

#define DEFINITION_MAX 1048576 /* AWS's limit on a definition's size */

/* Compiles a definition, or answers InvalidDefinition naming each problem. */
static svc_version *compile(const char *definition, const char *role, int64_t now, json_t **resp,
                            int *status)
{
    char why[900];
    svc_version *v = NULL;
    sf_rc rc = svc_version_compile(0, 0, definition, role, now, &v, why, sizeof why);
    if (rc == SF_EINVAL)
        *status = svc_error(resp, 400, "InvalidDefinition",
                            "Invalid State Machine Definition: '%s'", why);
    else if (rc != SF_OK)
        *status = svc_error(resp, 500, "InternalFailure", "out of memory");
    return v;
}

static bool check_role(const char *role, json_t **resp, int *status)
{
    if (strncmp(role, "arn:", 4) != 0 || !strstr(role, ":iam:")) {
        *status = svc_error(resp, 400, "InvalidArn",
                            "Invalid Arn: 'Resource type not valid in this context: %s'", role);
        return false;
    }
    return true;
}

/* Finds the machine named by field `field` (mu held); answers InvalidArn or
 * StateMachineDoesNotExist when there is none. */
static svc_machine *find_machine(svc *s, const char *arn, json_t **resp, int *status)
{
    const char *name;
    if (!svc_parse_arn(arn, "stateMachine", &name)) {
        *status = svc_error(resp, 400, "InvalidArn", "Invalid Arn: '%s'", arn);
        return NULL;
    }
    svc_machine *m = sf_hmap_gets(&s->machines, arn);
    if (!m)
        *status = svc_error(resp, 400, "StateMachineDoesNotExist",
                            "State Machine Does Not Exist: '%s'", arn);
    return m;
}

svc_machine *svc_find_machine(svc *s, const char *arn, json_t **resp, int *status)
{
    return find_machine(s, arn, resp, status);
}

int op_create_state_machine(svc *s, json_t *req, json_t **resp)
{
    int status = 200;
    const char *name, *definition, *role, *type;
    if (!svc_str(req, "name", true, 80, &name, resp, &status) ||
        !svc_str(req, "definition", true, DEFINITION_MAX, &definition, resp, &status) ||
        !svc_str(req, "roleArn", true, 256, &role, resp, &status) ||
        !svc_str(req, "type", false, 16, &type, resp, &status))
        return status;
    type = type ? type : "STANDARD";
    if (strcmp(type, "STANDARD") != 0 && strcmp(type, "EXPRESS") != 0)
        return svc_error(resp, 400, "ValidationException",
                         "1 validation error detected: Value '%s' at 'type' failed to satisfy "
                         "constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]",
                         type);
    if (!svc_valid_name(name))
        return svc_error(resp, 400, "InvalidName", "Invalid Name: '%s'", name);
    if (!check_role(role, resp, &status))
        return status;
    int64_t now = svc_now_ms();
    svc_version *v = compile(definition, role, now, resp, &status);
    if (!v)
        return status;
    char *arn = svc_arn(s, "stateMachine", name, NULL);
    pthread_mutex_lock(&s->mu);
    svc_machine *m = arn ? sf_hmap_gets(&s->machines, arn) : NULL;
    if (m) {
        /* Creating the same machine again is idempotent; anything else
         * under its name is a conflict. */
        bool same = strcmp(m->cur->definition, definition) == 0 &&
                    strcmp(m->cur->role_arn, role) == 0 && strcmp(m->type, type) == 0;
        if (same) {
            *resp = json_pack("{s:s,s:o}", "stateMachineArn", m->arn, "creationDate",
                              svc_epoch(m->created_ms));
            svc_wait_commit(s, m->seq); /* it may still be committing */
        } else
            status = svc_error(resp, 400, "StateMachineAlreadyExists",
                               "State Machine Already Exists: '%s'", arn);
        pthread_mutex_unlock(&s->mu);
        svc_version_release(v);
        free(arn);
        return status;
    }
    m = calloc(1, sizeof *m);
    if (!m || !arn || s->closing) {
        pthread_mutex_unlock(&s->mu);
        free(m);
        free(arn);
        svc_version_release(v);
        return svc_error(resp, 503, "ServiceUnavailable", "the coordinator is shutting down");
    }
    m->id = s->next_machine_id++;
    m->arn = arn;
    m->name = strdup(name);
    m->type = strdup(type);
    m->created_ms = now;
    v->machine_id = m->id;
    v->revision = 1;
    m->cur = v;
    sf_hmap_put(&s->machines, m->arn, strlen(m->arn), m);
    svc_write(s, (wop){.kind = W_MACHINE, .a = m->id, .b = now, .c = 1}, m->arn, name, type, NULL);
    svc_write(s, (wop){.kind = W_VERSION, .a = m->id, .c = 1, .b = now}, definition, role, NULL,
              NULL);
    m->seq = svc_ticket(s);
    svc_wait_commit(s, m->seq);
    *resp = json_pack("{s:s,s:o}", "stateMachineArn", m->arn, "creationDate", svc_epoch(now));
    pthread_mutex_unlock(&s->mu);
    return 200;
}

static json_t *describe(const svc_machine *m)
{
    return json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:{s:s,s:b},s:{s:b},s:s}", "stateMachineArn", m->arn, "name",
        m->name, "status", "ACTIVE", "definition", m->cur->definition, "roleArn", m->cur->role_arn,
        "type", m->type, "creationDate", svc_epoch(m->created_ms), "loggingConfiguration", "level",
        "OFF", "includeExecutionData", 0, "tracingConfiguration", "enabled", 0, "revisionId", "");
}

int op_describe_state_machine(svc *s, json_t *req, json_t **resp)
{
    int status = 200;
    const char *arn;
    if (!svc_str(req, "stateMachineArn", true, 2048, &arn, resp, &status))
        return status;
    pthread_mutex_lock(&s->mu);
    svc_machine *m = find_machine(s, arn, resp, &status);
    if (m) {
        svc_wait_commit(s, m->seq); /* say only what is durable */
        m = find_machine(s, arn, resp, &status);
    }
    if (m) {
        *resp = describe(m);
        char rev[32];
        snprintf(rev, sizeof rev, "%lld", (long long)m->cur->revision);
        json_object_set_new(*resp, "revisionId", json_string(rev));
    }
    pthread_mutex_unlock(&s->mu);
    return status;
}

int op_update_state_machine(svc *s, json_t *req, json_t **resp)
{
    int status = 200;
    const char *arn, *definition, *role;
    if (!svc_str(req, "stateMachineArn", true, 2048, &arn, resp, &status) ||
        !svc_str(req, "definition", false, DEFINITION_MAX, &definition, resp, &status) ||
        !svc_str(req, "roleArn", false, 256, &role, resp, &status))
        return status;
    if (!definition && !role)
        return svc_error(resp, 400, "MissingRequiredParameter",
                         "Either the definition or the roleArn must be specified");
    if (role && !check_role(role, resp, &status))
        return status;
    pthread_mutex_lock(&s->mu);
    svc_machine *m = find_machine(s, arn, resp, &status);
    if (!m) {
        pthread_mutex_unlock(&s->mu);
        return status;
    }
    char *def_copy = strdup(definition ? definition : m->cur->definition);
    char *role_copy = strdup(role ? role : m->cur->role_arn);
    pthread_mutex_unlock(&s->mu);
    int64_t now = svc_now_ms();
    svc_version *v =
        def_copy && role_copy ? compile(def_copy, role_copy, now, resp, &status) : NULL;
    free(def_copy);
    free(role_copy);
    if (!v)
        return *resp ? status : svc_error(resp, 500, "InternalFailure", "out of memory");
    pthread_mutex_lock(&s->mu);
    m = find_machine(s, arn, resp, &status); /* it may have gone meanwhile */
    if (!m) {
        pthread_mutex_unlock(&s->mu);
        svc_version_release(v);
        return status;
    }
    v->machine_id = m->id;
    v->revision = m->cur->revision + 1;
    svc_version_release(m->cur);
    m->cur = v;
    svc_write(s, (wop){.kind = W_VERSION, .a = m->id, .c = v->revision, .b = now}, v->definition,
              v->role_arn, NULL, NULL);
    svc_write(s, (wop){.kind = W_REVISION, .a = m->id, .c = v->revision}, NULL, NULL, NULL, NULL);
    m->seq = svc_ticket(s);
    svc_wait_commit(s, m->seq);
    char rev[32];
    snprintf(rev, sizeof rev, "%lld", (long long)v->revision);
    *resp = json_pack("{s:o,s:s}", "updateDate", svc_epoch(now), "revisionId", rev);
    pthread_mutex_unlock(&s->mu);
    return 200;
}

int op_delete_state_machine(svc *s, json_t *req, json_t **resp)
{
    int status = 200;
    const char *arn, *name;
    if (!svc_str(req, "stateMachineArn", true, 2048, &arn, resp, &status))
        return status;
    if (!svc_parse_arn(arn, "stateMachine", &name))
        return svc_error(resp, 400, "InvalidArn", "Invalid Arn: '%s'", arn);
    pthread_mutex_lock(&s->mu);
    /* Running executions keep their revision (they hold a reference). */
    svc_machine *m = sf_hmap_del(&s->machines, arn, strlen(arn));
    if (m) {
        svc_write(s, (wop){.kind = W_MACHINE_DEL, .a = m->id}, NULL, NULL, NULL, NULL);
        svc_wait_commit(s, svc_ticket(s));
        svc_machine_free(m);
    }
    pthread_mutex_unlock(&s->mu);
    *resp = json_object();
    return 200;
}

static json_t *machine_item(svc *s, json_t *r, void *ctx)
{
    return json_pack("{s:O,s:O,s:O,s:o}", "stateMachineArn", json_object_get(r, "arn"), "name",
                     json_object_get(r, "name"), "type", json_object_get(r, "type"), "creationDate",
                     svc_epoch(json_integer_value(json_object_get(r, "created_ms"))));
}

int op_list_state_machines(svc *s, json_t *req, json_t **resp)
{
    int status = 200, limit;
    int64_t after;
    if (!svc_page(req, "sm", &limit, &after, resp, &status))
        return status;
    return svc_page_answer(s, resp, "stateMachines", "sm",
                           store_list_machines(svc_reader(s), after, limit + 1), limit,
                           machine_item, NULL);
}

int op_validate_state_machine_definition(svc *s, json_t *req, json_t **resp)
{
    int status = 200;
    const char *definition;
    if (!svc_str(req, "definition", true, DEFINITION_MAX, &definition, resp, &status))
        return status;
    asl_machine *m = NULL;
    asl_diag d = {0};
    asl_machine_parse(definition, strlen(definition), &m, &d);
    asl_machine_destroy(&m);
    json_t *diags = json_array();
    for (size_t i = 0; i < d.n; i++) {
        /* Messages read "WHERE: WHAT"; AWS splits them. */
        const char *sep = strstr(d.msg[i], ": ");
        json_t *one = json_pack("{s:s,s:s,s:s}", "severity", "ERROR", "code",
                                "SCHEMA_VALIDATION_FAILED", "message", sep ? sep + 2 : d.msg[i]);
        if (sep)
            json_object_set_new(one, "location", json_stringn(d.msg[i], (size_t)(sep - d.msg[i])));
        json_array_append_new(diags, one);
    }
    *resp = json_pack("{s:s,s:o,s:b}", "result", d.n ? "FAIL" : "OK", "diagnostics", diags,
                      "truncated", d.dropped > 0);
    asl_diag_clear(&d);
    return 200;
}

int op_describe_state_machine_for_execution(svc *s, json_t *req, json_t **resp)
{
    int status = 200;
    const char *arn;
    if (!svc_str(req, "executionArn", true, 2048, &arn, resp, &status))
        return status;
    json_t *x = svc_find_execution(s, arn, resp, &status);
    if (!x)
        return status;
    json_t *v =
        store_get_version(svc_reader(s), json_integer_value(json_object_get(x, "machine_id")),
                          json_integer_value(json_object_get(x, "revision")));
    if (!json_is_object(v)) {
        json_decref(x);
        json_decref(v);
        return svc_error(resp, 500, "InternalFailure", "the definition of %s is missing", arn);
    }
    char sm_name[256] = "";
    svc_machine_name_of(arn, sm_name, sizeof sm_name);
    char *sm_arn = svc_arn(s, "stateMachine", sm_name, NULL);
    char rev[32];
    snprintf(rev, sizeof rev, "%lld",
             (long long)json_integer_value(json_object_get(x, "revision")));
    *resp = json_pack(
        "{s:s?,s:s?,s:O,s:O,s:o,s:s}", "stateMachineArn", sm_arn, "name", sm_name, "definition",
        json_object_get(v, "definition"), "roleArn", json_object_get(v, "role_arn"), "updateDate",
        svc_epoch(json_integer_value(json_object_get(v, "updated_ms"))), "revisionId", rev);
    free(sm_arn);
    json_decref(v);
    json_decref(x);
    return 200;
}
