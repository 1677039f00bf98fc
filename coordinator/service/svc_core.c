/* service/svc_core.c - the write batch, group commit, and feeding engines. */
#define _GNU_SOURCE
#include "svc_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../common/sf_grow.h"
#include "../../common/sf_log.h"

int64_t svc_now_ms(void)
{
    return sf_realtime_ms();
}

void svc_log(svc *s, const char *fmt, ...)
{
    if (s->cfg.quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    sf_vlog("statefleet-coordinator", fmt, ap);
    va_end(ap);
}

/* ---- the batch ----------------------------------------------------------- */

batch *svc_batch_new(uint64_t seq)
{
    batch *b = calloc(1, sizeof *b);
    if (!b) {
        fprintf(stderr, "statefleet-coordinator: out of memory for a write batch\n");
        abort();
    }
    b->seq = seq;
    return b;
}

void svc_batch_free(batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        if (b->ops[i].ev) {
            json_decref(b->ops[i].ev->data);
            json_decref(b->ops[i].ev->vars);
            free(b->ops[i].ev);
        }
        free(b->ops[i].s1);
        free(b->ops[i].s2);
        free(b->ops[i].s3);
        free(b->ops[i].s4);
    }
    free(b->ops);
    free(b->acts);
    free(b);
}

/* Out of memory in the middle of recording a change cannot be answered
 * with a half-written batch: the process stops, and the restart replays
 * only what was committed. */
static void oom(void)
{
    fprintf(stderr, "statefleet-coordinator: out of memory while recording a change\n");
    abort();
}

static char *dup_or_null(const char *v)
{
    if (!v)
        return NULL;
    char *d = strdup(v);
    if (!d)
        oom();
    return d;
}

void svc_write_take(svc *s, wop op)
{
    batch *b = s->pending;
    if (sf_grow((void **)&b->ops, &b->cap, b->n + 1, sizeof *b->ops, 256, SIZE_MAX / 64) != SF_OK)
        oom();
    b->ops[b->n++] = op;
    pthread_cond_signal(&s->render_cv);
}

void svc_write(svc *s, wop op, const char *s1, const char *s2, const char *s3, const char *s4)
{
    op.s1 = dup_or_null(s1);
    op.s2 = dup_or_null(s2);
    op.s3 = dup_or_null(s3);
    op.s4 = dup_or_null(s4);
    svc_write_take(s, op);
}

void svc_act(svc *s, act_kind kind, int64_t exec_id, uint64_t task_id)
{
    batch *b = s->pending;
    if (sf_grow((void **)&b->acts, &b->capacts, b->nacts + 1, sizeof *b->acts, 64, SIZE_MAX / 64) !=
        SF_OK)
        oom();
    b->acts[b->nacts++] = (action){.kind = kind, .exec_id = exec_id, .task_id = task_id};
    pthread_cond_signal(&s->render_cv);
}

uint64_t svc_ticket(svc *s)
{
    /* With nothing pending, what the caller saw may still be rendering or
     * committing in the batch before: wait for that one. */
    const batch *b = s->pending;
    return b->n || b->nacts ? b->seq : b->seq - 1;
}

void svc_commit_wait_unlock(svc *s, uint64_t ticket)
{
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_lock(&s->commit_mu);
    while (s->committed_seq < ticket)
        pthread_cond_wait(&s->commit_cv[ticket & 3], &s->commit_mu);
    pthread_mutex_unlock(&s->commit_mu);
}

void svc_wait_commit(svc *s, uint64_t ticket)
{
    if (s->committed_seq >= ticket)
        return;
    svc_commit_wait_unlock(s, ticket);
    pthread_mutex_lock(&s->mu);
}

/* Renders a W_EVENT's JSON values as text (s1 data, s2 variables).
 * Consecutive events often carry the same value (a state's output is the
 * next one's input), so the last rendering is reused. */
static void render_event(wop *o, const json_t **last, const char **last_text)
{
    json_t *d = o->ev->data;
    if (d && d == *last && *last_text) {
        o->s1 = strdup(*last_text);
    } else if (d) {
        o->s1 = json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY);
        *last = d;
        *last_text = o->s1;
    }
    if (o->ev->vars)
        o->s2 = json_dumps(o->ev->vars, JSON_COMPACT);
}

static sf_rc put_event(store *st, const wop *o)
{
    const asl_event *e = o->ev;
    if ((e->data && !o->s1) || (e->vars && !o->s2))
        return SF_ENOMEM;
    return store_put_event(st, &(store_event){.exec_id = o->a,
                                              .id = e->id,
                                              .prev_id = e->prev_id,
                                              .ts_ms = e->ts_ms,
                                              .type = (int)e->type,
                                              .state_type = e->state_type,
                                              .name = e->name,
                                              .resource = e->resource,
                                              .data = o->s1,
                                              .vars = o->s2,
                                              .error = e->error,
                                              .cause = e->cause,
                                              .index = e->index,
                                              .extra = e->extra});
}

static sf_rc apply(svc *s, const wop *o)
{
    store *st = s->st;
    switch (o->kind) {
    case W_MACHINE:
        return store_put_machine(st, &(store_machine){.id = o->a,
                                                      .arn = o->s1,
                                                      .name = o->s2,
                                                      .type = o->s3,
                                                      .created_ms = o->b,
                                                      .revision = o->c});
    case W_REVISION:
        return store_set_machine_revision(st, o->a, o->c);
    case W_MACHINE_DEL:
        return store_delete_machine(st, o->a);
    case W_VERSION:
        return store_put_version(st, &(store_version){.machine_id = o->a,
                                                      .revision = o->c,
                                                      .definition = o->s1,
                                                      .role_arn = o->s2,
                                                      .updated_ms = o->b});
    case W_EXEC:
        return store_put_execution(st, &(store_execution){.id = o->a,
                                                          .arn = o->s1,
                                                          .name = o->s2,
                                                          .machine_id = o->c,
                                                          .revision = o->d,
                                                          .input = o->s3,
                                                          .seed = o->u,
                                                          .start_ms = o->b});
    case W_EXEC_END:
        return store_end_execution(st, o->a, o->s1, o->s2, o->s3, o->s4, o->b);
    case W_EVENT:
        return put_event(st, o);
    case W_INPUT:
        return store_put_input(st, &(store_input){.exec_id = o->a,
                                                  .seq = o->b,
                                                  .kind = (store_input_kind)o->c,
                                                  .task_id = o->u,
                                                  .now_ms = o->d,
                                                  .payload = o->s1,
                                                  .a = o->s2,
                                                  .b = o->s3});
    case W_TOKEN:
        return store_put_token(st, o->s1, o->a, o->u);
    case W_ACTIVITY:
        return store_put_activity(st, o->a, o->s1, o->s2, o->b);
    case W_ACTIVITY_DEL:
        return store_delete_activity(st, o->a);
    }
    return SF_EINVAL;
}

static void run_actions(svc *s, batch *b)
{
    for (size_t i = 0; i < b->nacts; i++) {
        const action *a = &b->acts[i];
        if (a->kind == ACT_DISPATCH) {
            svc_task_dispatch(s, a->exec_id, a->task_id);
        } else if (a->kind == ACT_FLEET) {
            svc_fleet_submit(s, a->exec_id, a->task_id);
        } else {
            svc_exec *x = sf_hmap_delu(&s->execs, (uint64_t)a->exec_id);
            if (x) {
                sf_hmap_del(&s->exec_arns, x->arn, strlen(x->arn));
                svc_exec_free(s, x);
            }
        }
    }
}

static bool batch_empty(const batch *b)
{
    return b->n == 0 && b->nacts == 0;
}

/* Stage one: takes the pending batch and renders its events. */
static void *renderer_main(void *arg)
{
    svc *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!(s->stopping && batch_empty(s->pending)) && (batch_empty(s->pending) || s->ready))
            pthread_cond_wait(&s->render_cv, &s->mu);
        if (s->stopping && batch_empty(s->pending))
            break;
        batch *b = s->pending;
        s->pending = svc_batch_new(b->seq + 1);
        pthread_mutex_unlock(&s->mu);
        const json_t *last = NULL;
        const char *last_text = NULL;
        for (size_t i = 0; i < b->n; i++)
            if (b->ops[i].ev)
                render_event(&b->ops[i], &last, &last_text);
        pthread_mutex_lock(&s->mu);
        s->ready = b;
        pthread_cond_signal(&s->writer_cv);
    }
    s->render_done = true;
    pthread_cond_signal(&s->writer_cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Stage two: commits rendered batches in order, then lets their effects
 * happen. Everything that piled up while a commit was being written goes
 * into the next one, so one fsync serves many changes. */
static void *writer_main(void *arg)
{
    svc *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->ready && !s->render_done)
            pthread_cond_wait(&s->writer_cv, &s->mu);
        if (!s->ready)
            break;
        batch *b = s->ready;
        s->ready = NULL;
        pthread_cond_signal(&s->render_cv);
        pthread_mutex_unlock(&s->mu);

        sf_rc rc = SF_OK;
        if (b->n > 0) {
            rc = store_begin(s->st);
            for (size_t i = 0; rc == SF_OK && i < b->n; i++)
                rc = apply(s, &b->ops[i]);
            if (rc == SF_OK)
                rc = store_commit(s->st);
        }
        if (rc != SF_OK) {
            /* Memory and disk now disagree; carrying on would act on
             * changes that are not durable. Stop; a restart replays what
             * was committed. */
            fprintf(stderr, "statefleet-coordinator: cannot commit to %s: %s; stopping\n",
                    s->db_path, store_errmsg(s->st));
            abort();
        }

        pthread_mutex_lock(&s->mu);
        pthread_mutex_lock(&s->commit_mu);
        s->committed_seq = b->seq;
        pthread_cond_broadcast(&s->commit_cv[b->seq & 3]);
        pthread_mutex_unlock(&s->commit_mu);
        if (b->n > 0)
            s->stats.commits++;
        s->stats.transitions += b->transitions;
        s->stats.events += b->events;
        run_actions(s, b);
        pthread_cond_broadcast(&s->committed_cv);
        svc_batch_free(b);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- executions ------------------------------------------------------------ */

void svc_version_release(svc_version *v)
{
    if (!v || --v->refs > 0)
        return;
    asl_machine_destroy(&v->m);
    free(v->definition);
    free(v->role_arn);
    free(v);
}

/* The engine mints a raw token; the coordinator seals it with its key and
 * the execution's id, so a token names its execution and cannot be forged. */
sf_rc svc_version_compile(int64_t machine_id, int64_t revision, const char *definition,
                          const char *role_arn, int64_t updated_ms, svc_version **out, char *err,
                          size_t errlen)
{
    *out = NULL;
    err[0] = '\0';
    asl_machine *m = NULL;
    asl_diag d = {0};
    sf_rc rc = asl_machine_parse(definition, strlen(definition), &m, &d);
    if (rc != SF_OK) {
        size_t k = 0;
        for (size_t i = 0; i < d.n && k < errlen - 1; i++)
            k += (size_t)snprintf(err + k, errlen - k, "%s%s", i ? "; " : "", d.msg[i]);
        bool told = d.n > 0;
        if (!told)
            snprintf(err, errlen, "unreadable");
        asl_diag_clear(&d);
        return rc == SF_ENOMEM && !told ? SF_ENOMEM : SF_EINVAL;
    }
    asl_diag_clear(&d);
    svc_version *v = calloc(1, sizeof *v);
    if (!v) {
        asl_machine_destroy(&m);
        return SF_ENOMEM;
    }
    *v = (svc_version){.refs = 1,
                       .machine_id = machine_id,
                       .revision = revision,
                       .definition = strdup(definition),
                       .role_arn = strdup(role_arn),
                       .updated_ms = updated_ms,
                       .m = m};
    if (!v->definition || !v->role_arn) {
        svc_version_release(v);
        return SF_ENOMEM;
    }
    *out = v;
    return SF_OK;
}

static char *seal_hook(void *ctx, const char *raw)
{
    svc_exec *x = ctx;
    return svc_token_seal(x->owner->token_key, x->id, raw);
}

svc_exec *svc_exec_new(svc *s, int64_t id, const char *arn, const char *name, svc_version *v,
                       json_t *input, uint64_t seed, int64_t start_ms)
{
    svc_exec *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->owner = s;
    x->id = id;
    x->arn = strdup(arn);
    x->name = strdup(name);
    x->seed = seed;
    x->input = json_incref(input);
    x->start_ms = start_ms;
    x->last_now = start_ms;
    x->armed = INT64_MAX;
    x->ver = v;
    v->refs++;
    char smn[256] = ""; /* $$.StateMachine.Name */
    svc_machine_name_of(arn, smn, sizeof smn);
    char *sm_arn = svc_arn(s, "stateMachine", smn, NULL);
    asl_exec_opts o = {.exec_arn = arn,
                       .exec_name = name,
                       .sm_arn = sm_arn,
                       .sm_name = smn,
                       .role_arn = v->role_arn,
                       .seed = seed,
                       .seal_token = seal_hook,
                       .seal_ctx = x};
    sf_rc rc = x->arn && x->name && sm_arn ? asl_exec_new(v->m, input, &o, &x->e) : SF_ENOMEM;
    free(sm_arn);
    if (rc != SF_OK) {
        svc_exec_free(s, x);
        return NULL;
    }
    return x;
}

static void task_free(svc_task *t)
{
    free(t->kernel);
    free(t->worker);
    free(t->plan_error);
    free(t->plan_cause);
    json_decref(t->progress);
    free(t->token);
    free(t->resource);
    free(t->state_name);
    json_decref(t->input);
    free(t);
}

void svc_exec_free(svc *s, svc_exec *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->ntasks; i++)
        task_free(x->tasks[i]);
    free(x->tasks);
    asl_exec_destroy(&x->e);
    json_decref(x->input);
    svc_version_release(x->ver);
    free(x->arn);
    free(x->name);
    free(x);
}

svc_task *svc_exec_task(svc_exec *x, uint64_t task_id)
{
    for (size_t i = 0; i < x->ntasks; i++)
        if (x->tasks[i]->id == task_id)
            return x->tasks[i];
    return NULL;
}

void svc_task_close(svc *s, svc_exec *x, uint64_t task_id)
{
    for (size_t i = 0; i < x->ntasks; i++)
        if (x->tasks[i]->id == task_id) {
            if (x->tasks[i]->fleet_id) /* ended here (timeout, stop): stop the worker */
                fleet_withdraw(s->fleet, x->tasks[i]->fleet_id, "the task is no longer wanted");
            task_free(x->tasks[i]);
            x->tasks[i] = x->tasks[--x->ntasks];
            return;
        }
}

/* ---- driving an engine ----------------------------------------------------- */

static sf_rc feed(svc_exec *x, const svc_input *in, int64_t now)
{
    switch (in->kind) {
    case STORE_IN_START:
        return asl_exec_start(x->e, now);
    case STORE_IN_TASK_STARTED:
        return asl_exec_task_started(x->e, in->task_id, in->a, now);
    case STORE_IN_TASK_SUCCEEDED:
        return asl_exec_task_succeeded(x->e, in->task_id, in->payload, now);
    case STORE_IN_TASK_FAILED:
        return asl_exec_task_failed(x->e, in->task_id, in->a, in->b, now);
    case STORE_IN_TASK_HEARTBEAT:
        return asl_exec_task_heartbeat(x->e, in->task_id, now);
    case STORE_IN_TICK:
        return asl_exec_tick(x->e, now);
    case STORE_IN_STOP:
        return asl_exec_stop(x->e, in->a, in->b, now);
    case STORE_IN_TASK_PROGRESS:
        return asl_exec_task_progress(x->e, in->task_id, in->payload, now);
    }
    return SF_EINVAL;
}

static char *dump(json_t *v)
{
    if (!v)
        return NULL;
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t)
        oom();
    return t;
}

static void journal(svc *s, svc_exec *x, const svc_input *in, int64_t now)
{
    svc_write_take(s, (wop){.kind = W_INPUT,
                            .a = x->id,
                            .b = x->seq++,
                            .c = in->kind,
                            .d = now,
                            .u = in->task_id,
                            .s1 = dump(in->payload),
                            .s2 = dup_or_null(in->a),
                            .s3 = dup_or_null(in->b)});
}

static void record_events(svc *s, svc_exec *x)
{
    const asl_history *h = asl_exec_history(x->e);
    for (size_t i = x->events_saved; i < h->n; i++) {
        asl_event *ev = malloc(sizeof *ev);
        if (!ev)
            oom();
        *ev = h->ev[i]; /* the history array moves as it grows; the strings do not */
        json_incref(ev->data);
        json_incref(ev->vars);
        svc_write_take(s, (wop){.kind = W_EVENT, .a = x->id, .ev = ev, .arn = x->arn});
        s->pending->events++;
    }
    x->events_saved = h->n;
}

static void record_end(svc *s, svc_exec *x, int64_t now)
{
    asl_exec_status st = asl_exec_get_status(x->e);
    svc_write_take(s, (wop){.kind = W_EXEC_END,
                            .a = x->id,
                            .b = now,
                            .s1 = dup_or_null(asl_exec_status_name(st)),
                            .s2 = st == ASL_EXEC_SUCCEEDED ? dump(asl_exec_output(x->e)) : NULL,
                            .s3 = dup_or_null(asl_exec_error(x->e)),
                            .s4 = dup_or_null(asl_exec_cause(x->e))});
    svc_act(s, ACT_EVICT, x->id, 0);
}

static void take_commands(svc *s, svc_exec *x)
{
    asl_cmd *cmds;
    size_t n;
    while ((n = asl_exec_take_commands(x->e, &cmds)) > 0) {
        for (size_t i = 0; i < n; i++) {
            if (cmds[i].type == ASL_CMD_CANCEL_TASK)
                svc_task_close(s, x, cmds[i].task_id);
            else
                svc_task_open(s, x, &cmds[i]);
            asl_cmd_cleanup(&cmds[i]);
        }
        free(cmds);
    }
}

sf_rc svc_drive(svc *s, svc_exec *x, const svc_input *in)
{
    int64_t now = in->now_ms ? in->now_ms : svc_now_ms();
    if (now < x->last_now)
        now = x->last_now;
    /* An execution that ended takes nothing more: a late answer, tick or
     * stop changes nothing and is not journalled. */
    if (asl_exec_get_status(x->e) != ASL_EXEC_RUNNING)
        return SF_ENOTFOUND;
    sf_rc rc = feed(x, in, now);
    if (rc == SF_ENOTFOUND)
        return rc;
    x->last_now = now;
    /* A finished task's record goes; its outcome is now in the engine. */
    if (in->kind == STORE_IN_TASK_SUCCEEDED || in->kind == STORE_IN_TASK_FAILED) {
        svc_task_close(s, x, in->task_id);
    } else if (in->kind == STORE_IN_TASK_STARTED) {
        svc_task *t = svc_exec_task(x, in->task_id);
        if (t)
            t->started = true;
    }
    if (x->replaying) {
        x->seq++;
        take_commands(s, x);
        return SF_OK;
    }
    journal(s, x, in, now);
    uint64_t t = asl_exec_transitions(x->e);
    s->pending->transitions += t - x->transitions;
    x->transitions = t;
    record_events(s, x);
    take_commands(s, x);
    if (asl_exec_get_status(x->e) != ASL_EXEC_RUNNING)
        record_end(s, x, now);
    else
        svc_timer_arm(s, x);
    return SF_OK;
}

/* ---- threads ------------------------------------------------------------- */

sf_rc svc_start_threads(svc *s)
{
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0)
        return SF_EIO;
    if (pthread_create(&s->renderer, NULL, renderer_main, s) != 0) {
        pthread_mutex_lock(&s->mu);
        s->render_done = true;
        pthread_cond_broadcast(&s->writer_cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->writer, NULL);
        return SF_EIO;
    }
    if (pthread_create(&s->timer, NULL, svc_timer_main, s) != 0) {
        pthread_mutex_lock(&s->mu);
        s->stopping = true;
        pthread_cond_broadcast(&s->render_cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->renderer, NULL);
        pthread_join(s->writer, NULL);
        return SF_EIO;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s->nrunners = cores < 4 ? 8 : (int)cores * 2;
    s->threads_up = true; /* from here on, stopping joins what did start */
    s->runners = calloc((size_t)s->nrunners, sizeof *s->runners);
    if (!s->runners) {
        s->nrunners = 0;
        return SF_ENOMEM;
    }
    for (int i = 0; i < s->nrunners; i++)
        if (pthread_create(&s->runners[i], NULL, svc_runner_main, s) != 0) {
            s->nrunners = i;
            return SF_EIO;
        }
    return SF_OK;
}

void svc_stop_threads(svc *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->render_cv);
    pthread_cond_broadcast(&s->timer_cv);
    pthread_cond_broadcast(&s->runner_cv);
    size_t i = 0;
    sf_hmap_slot *sl;
    while ((sl = sf_hmap_next(&s->activities, &i)))
        pthread_cond_broadcast(&((svc_activity *)sl->value)->cv);
    pthread_mutex_unlock(&s->mu);
    for (int k = 0; k < s->nrunners; k++)
        pthread_join(s->runners[k], NULL);
    pthread_join(s->timer, NULL);
    pthread_join(s->renderer, NULL);
    pthread_join(s->writer, NULL);
    s->threads_up = false;
    free(s->runners);
    s->runners = NULL;
    s->nrunners = 0;
}

void svc_get_stats(svc *s, svc_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    out->running = s->execs.live;
    pthread_mutex_unlock(&s->mu);
}

void svc_begin_shutdown(svc *s)
{
    pthread_mutex_lock(&s->mu);
    s->closing = true;
    size_t i = 0;
    sf_hmap_slot *sl;
    while ((sl = sf_hmap_next(&s->activities, &i)))
        pthread_cond_broadcast(&((svc_activity *)sl->value)->cv);
    pthread_cond_broadcast(&s->committed_cv);
    pthread_mutex_unlock(&s->mu);
}
