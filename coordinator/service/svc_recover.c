/* service/svc_recover.c - loading what the database holds, and resuming
 * every execution that was running by replaying its journal of inputs.
 *
 * Replay feeds the engine exactly what it was fed before (same seed, same
 * clock readings), so it rebuilds the same state, deadlines and open
 * tasks, without writing anything. Then each open task resumes where it
 * was: an activity not yet handed out goes back to its queue, one handed
 * out stays with its worker (its heartbeat and timeout deadlines still
 * hold), a callback keeps waiting for its token, a Map read or write runs
 * again (both are idempotent), and a local function that was running
 * when the coordinator died is failed with a cause saying so: its outcome
 * is unknown, and running it a second time behind the user's back could
 * repeat its side effects. Retry decides what happens next. */
#define _GNU_SOURCE
#include "svc_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/store_read.h"

static sf_rc load_machines(svc *s, sqlite3 *db, char *err, size_t errlen)
{
    json_t *rows = store_all_machines(db);
    if (!rows) {
        snprintf(err, errlen, "%s: cannot read state machines", s->db_path);
        return SF_EIO;
    }
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        svc_machine *m = calloc(1, sizeof *m);
        char why[512];
        if (!m)
            break;
        m->id = svc_row_int(r, "id");
        m->arn = strdup(svc_row_str(r, "arn"));
        m->name = strdup(svc_row_str(r, "name"));
        m->type = strdup(svc_row_str(r, "type"));
        m->created_ms = svc_row_int(r, "created_ms");
        if (svc_version_compile(m->id, svc_row_int(r, "revision"), svc_row_str(r, "definition"),
                                svc_row_str(r, "role_arn"), svc_row_int(r, "updated_ms"), &m->cur,
                                why, sizeof why) != SF_OK) {
            snprintf(err, errlen, "%s: state machine %s no longer compiles: %s", s->db_path, m->arn,
                     why);
            json_decref(rows);
            return SF_EINVAL;
        }
        sf_hmap_put(&s->machines, m->arn, strlen(m->arn), m);
    }
    json_decref(rows);
    return SF_OK;
}

static sf_rc load_activities(svc *s, sqlite3 *db)
{
    json_t *rows = store_all_activities(db);
    if (!rows)
        return SF_EIO;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        svc_activity *a = calloc(1, sizeof *a);
        if (!a)
            break;
        a->id = svc_row_int(r, "id");
        a->arn = strdup(svc_row_str(r, "arn"));
        a->name = strdup(svc_row_str(r, "name"));
        a->created_ms = svc_row_int(r, "created_ms");
        pthread_cond_init(&a->cv, NULL);
        sf_hmap_put(&s->activities, a->arn, strlen(a->arn), a);
    }
    json_decref(rows);
    return SF_OK;
}

/* The revision an execution runs: the machine's current one, or an older
 * one read back from the versions table. */
static svc_version *version_for(svc *s, sqlite3 *db, int64_t machine_id, int64_t revision)
{
    size_t i = 0;
    sf_hmap_slot *sl;
    while ((sl = sf_hmap_next(&s->machines, &i))) {
        svc_machine *m = sl->value;
        if (m->id == machine_id && m->cur->revision == revision) {
            m->cur->refs++;
            return m->cur;
        }
    }
    json_t *row = store_get_version(db, machine_id, revision);
    svc_version *v = NULL;
    char why[512];
    if (json_is_object(row))
        svc_version_compile(machine_id, revision, svc_row_str(row, "definition"),
                            svc_row_str(row, "role_arn"), svc_row_int(row, "updated_ms"), &v, why,
                            sizeof why);
    json_decref(row);
    return v;
}

static void replay(svc *s, svc_exec *x, json_t *inputs)
{
    size_t i;
    json_t *r;
    x->replaying = true;
    json_array_foreach(inputs, i, r)
    {
        json_t *payload = NULL;
        const char *ptext = svc_row_str(r, "payload");
        if (ptext)
            payload = json_loads(ptext, JSON_DECODE_ANY, NULL);
        svc_drive(s, x,
                  &(svc_input){.kind = (store_input_kind)svc_row_int(r, "kind"),
                               .task_id = (uint64_t)svc_row_int(r, "task_id"),
                               .now_ms = svc_row_int(r, "now_ms"),
                               .payload = payload,
                               .a = svc_row_str(r, "a"),
                               .b = svc_row_str(r, "b")});
        json_decref(payload);
    }
    x->replaying = false;
    x->events_saved = asl_exec_history(x->e)->n;
    x->transitions = asl_exec_transitions(x->e);
}

/* Puts an open task back to work after replay (see the top of this file). */
static void resume_task(svc *s, svc_exec *x, svc_task *t)
{
    bool redo = !t->started || t->kind == TK_MAP_IO || t->kind == TK_UNSUPPORTED;
    if ((t->kind == TK_FUNCTION || t->kind == TK_FLEET) && t->started && !t->token) {
        svc_drive(s, x,
                  &(svc_input){.kind = STORE_IN_TASK_FAILED,
                               .task_id = t->id,
                               .a = "States.TaskFailed",
                               .b = t->kind == TK_FLEET
                                        ? "The coordinator restarted while this task was with "
                                          "the fleet; its outcome is unknown, so it was not run "
                                          "again"
                                        : "The coordinator restarted while this function ran; "
                                          "its outcome is unknown, so it was not run again"});
        return;
    }
    if (redo)
        svc_act(s, ACT_DISPATCH, x->id, t->id);
}

static sf_rc resume_executions(svc *s, sqlite3 *db, char *err, size_t errlen)
{
    json_t *rows = store_running_executions(db);
    if (!rows) {
        snprintf(err, errlen, "%s: cannot read executions", s->db_path);
        return SF_EIO;
    }
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        svc_version *v =
            version_for(s, db, svc_row_int(r, "machine_id"), svc_row_int(r, "revision"));
        json_t *input = json_loads(svc_row_str(r, "input"), JSON_DECODE_ANY, NULL);
        json_t *inputs = store_list_inputs(db, svc_row_int(r, "id"));
        svc_exec *x =
            v && input && inputs
                ? svc_exec_new(s, svc_row_int(r, "id"), svc_row_str(r, "arn"),
                               svc_row_str(r, "name"), v, input, (uint64_t)svc_row_int(r, "seed"),
                               svc_row_int(r, "start_ms"))
                : NULL;
        svc_version_release(v);
        json_decref(input);
        if (!x) {
            snprintf(err, errlen, "%s: cannot resume execution %s", s->db_path,
                     svc_row_str(r, "arn"));
            json_decref(inputs);
            json_decref(rows);
            return SF_EIO;
        }
        replay(s, x, inputs);
        json_decref(inputs);
        sf_hmap_putu(&s->execs, (uint64_t)x->id, x);
        sf_hmap_put(&s->exec_arns, x->arn, strlen(x->arn), x);
        if (asl_exec_get_status(x->e) != ASL_EXEC_RUNNING) {
            /* Cannot happen (an execution's end is committed with the input
             * that ended it) unless the engine changed; record it anyway. */
            svc_log(s, "execution %s ended on replay", x->arn);
        }
        /* Resuming may close tasks (and move the array): work on a copy. */
        size_t n = x->ntasks;
        svc_task **open = n ? malloc(n * sizeof *open) : NULL;
        if (open) {
            memcpy(open, x->tasks, n * sizeof *open);
            for (size_t k = 0; k < n; k++)
                if (svc_exec_task(x, open[k]->id) == open[k])
                    resume_task(s, x, open[k]);
            free(open);
        }
        svc_timer_arm(s, x);
    }
    if (json_array_size(rows))
        svc_log(s, "resumed %zu running executions", json_array_size(rows));
    json_decref(rows);
    return SF_OK;
}

sf_rc svc_recover(svc *s, char *err, size_t errlen)
{
    sqlite3 *db = svc_reader(s);
    if (!db) {
        snprintf(err, errlen, "%s: cannot open for reading", s->db_path);
        return SF_EIO;
    }
    sf_rc rc = load_machines(s, db, err, errlen);
    if (rc == SF_OK)
        rc = load_activities(s, db);
    if (rc == SF_OK)
        rc = resume_executions(s, db, err, errlen);
    return rc;
}
