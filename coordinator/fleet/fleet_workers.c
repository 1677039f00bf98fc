/* fleet/fleet_workers.c - the registry: who is here, who fell silent.
 *
 * A worker exists from its welcomed hello until it is lost: silent for
 * lost_after heartbeat periods, or replaced by a new hello with the same
 * worker id (it reconnected before its silence was noticed). Either way its
 * running tasks fail with States.TaskFailed and a cause naming it, so the
 * state's Retry and Catch decide what happens next; whatever it sends
 * afterwards comes from an unknown routing id and is dropped. */
#define _GNU_SOURCE
#include "fleet_internal.h"

#include "common/sf_log.h"

#include "common/sf_grow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fworker *find(fleet *f, void *sock, const unsigned char *rid, size_t len)
{
    (void)sock; /* one socket today; the key would grow a socket tag with a second */
    return sf_hmap_get(&f->by_rid, rid, len);
}

static void publish(fleet *f)
{
    fleet_worker_info *snap = calloc(f->nworkers ? f->nworkers : 1, sizeof *snap);
    if (!snap)
        return; /* keep the old snapshot */
    for (size_t i = 0; i < f->nworkers; i++) {
        fworker *w = f->workers[i];
        const fleet_hello *h = &w->hello.u.hello;
        fleet_worker_info *o = &snap[i];
        snprintf(o->id, sizeof o->id, "%s", h->worker_id);
        o->cores = h->cores;
        o->numa_nodes = h->numa_nodes;
        o->max_tasks = h->max_tasks;
        o->memory_bytes = h->memory_bytes;
        o->gpus = h->n_gpus;
        o->running = w->running;
        o->cores_used = w->cores_used;
        o->joined_ms = w->joined_ms;
    }
    pthread_mutex_lock(&f->mu);
    free(f->snap);
    f->snap = snap;
    f->nsnap = f->nworkers;
    pthread_mutex_unlock(&f->mu);
}

static void free_worker(fworker *w)
{
    fleet_msg_clear(&w->hello);
    fleet_session_cleanup(&w->session);
    free(w);
}

/* Removes w, failing every task it held. */
static void lose(fleet *f, fworker *w, const char *why)
{
    char cause[1024];
    snprintf(cause, sizeof cause, "worker '%s' was lost (%s) while running this task",
             w->hello.u.hello.worker_id, why);
    fleet_log(f, "worker '%s' lost: %s; %u running task(s) fail", w->hello.u.hello.worker_id, why,
              w->running);
    /* Collect first: failing a job edits the table being walked. */
    size_t i = 0, n = 0, cap = w->running;
    fjob **held = cap ? malloc(cap * sizeof *held) : NULL;
    sf_hmap_slot *slot;
    while (held && (slot = sf_hmap_next(&f->jobs, &i)))
        if (((fjob *)slot->value)->w == w && n < cap)
            held[n++] = slot->value;
    for (size_t k = 0; k < n; k++)
        fleet_job_fail(f, held[k], "States.TaskFailed", cause);
    free(held);
    sf_hmap_del(&f->by_rid, w->rid, w->rid_len);
    for (size_t k = 0; k < f->nworkers; k++)
        if (f->workers[k] == w) {
            f->workers[k] = f->workers[--f->nworkers];
            break;
        }
    f->local.lost_workers++;
    free_worker(w);
    publish(f);
}

static void refuse(fleet *f, void *sock, const unsigned char *rid, size_t len, const char *why)
{
    fworker tmp = {.sock = sock, .rid_len = len};
    memcpy(tmp.rid, rid, len);
    fleet_msg m = {.type = FLEET_REFUSE, .u.refuse.reason = (char *)why};
    fleet_send(f, &tmp, &m);
}

static void hello(fleet *f, void *sock, const unsigned char *rid, size_t len, fleet_msg *m)
{
    const fleet_hello *h = &m->u.hello;
    if (len > sizeof((fworker *)0)->rid) {
        fleet_msg_clear(m);
        return;
    }
    /* The same worker saying hello again has reconnected: its old session
     * and whatever ran in it are gone. */
    for (size_t i = 0; i < f->nworkers; i++)
        if (strcmp(f->workers[i]->hello.u.hello.worker_id, h->worker_id) == 0) {
            lose(f, f->workers[i], "it connected again");
            break;
        }
    fworker *w = calloc(1, sizeof *w);
    if (!w || sf_grow((void **)&f->workers, &f->capworkers, f->nworkers + 1, sizeof *f->workers, 8,
                      SIZE_MAX / 2) != SF_OK) {
        free(w);
        refuse(f, sock, rid, len, "the coordinator is out of memory");
        fleet_msg_clear(m);
        return;
    }
    w->sock = sock;
    memcpy(w->rid, rid, len);
    w->rid_len = len;
    w->hello = *m; /* takes what m owned */
    *m = (fleet_msg){0};
    fleet_session_init(&w->session);
    char err[256];
    fleet_session_accept(&w->session, FLEET_FROM_WORKER, &w->hello, err, sizeof err);
    int64_t now = sf_monotonic_ms();
    w->heard_ms = w->joined_ms = w->sent_hb_ms = now;
    snprintf(w->sid, sizeof w->sid, "%016llx%08x", (unsigned long long)now,
             (unsigned)f->local.lost_workers + (unsigned)f->nworkers);
    fleet_msg welcome = {.type = FLEET_WELCOME,
                         .u.welcome = {.heartbeat_ms = f->cfg.heartbeat_ms, .session_id = w->sid}};
    if (sf_hmap_put(&f->by_rid, w->rid, w->rid_len, w) != SF_OK ||
        fleet_session_accept(&w->session, FLEET_FROM_COORDINATOR, &welcome, err, sizeof err) !=
            SF_OK ||
        !fleet_send(f, w, &welcome)) {
        sf_hmap_del(&f->by_rid, w->rid, w->rid_len);
        free_worker(w);
        return;
    }
    f->workers[f->nworkers++] = w;
    char kernels[512] = "";
    size_t off = 0;
    for (size_t i = 0; i < w->hello.u.hello.n_kernels && off < sizeof kernels; i++)
        off += (size_t)snprintf(kernels + off, sizeof kernels - off, "%s%s", i ? ", " : "",
                                w->hello.u.hello.kernels[i]);
    const fleet_hello *wh = &w->hello.u.hello;
    fleet_log(f,
              "worker '%s' joined (version %s): %u cores, %u NUMA node(s), %.1f GiB, %zu GPU(s), "
              "up to %u tasks; kernels: %s",
              wh->worker_id, wh->version, wh->cores, wh->numa_nodes,
              (double)wh->memory_bytes / (1u << 30), wh->n_gpus, wh->max_tasks, kernels);
    publish(f);
}

/* A task's outcome or progress, from the worker holding it. */
static void task_report(fleet *f, fworker *w, const fleet_msg *m)
{
    uint64_t id = m->type == FLEET_PROGRESS ? m->u.progress.task_id
                  : m->type == FLEET_RESULT ? m->u.result.task_id
                                            : m->u.failure.task_id;
    fjob *j = sf_hmap_getu(&f->jobs, id);
    if (!j || j->w != w)
        return; /* the session knew it, so it is ours, but it was given up */
    if (m->type == FLEET_PROGRESS) {
        f->local.progress++;
        if (!j->cancelled && f->hooks.progress)
            f->hooks.progress(f->hooks.ctx, j->ref, &m->u.progress);
        return;
    }
    fleet_ref ref = j->ref;
    bool wanted = !j->cancelled;
    fleet_job_done(f, j);
    if (!wanted)
        return;
    if (m->type == FLEET_RESULT) {
        f->local.results++;
        f->hooks.result(f->hooks.ctx, ref, m->u.result.output);
    } else {
        f->local.failures++;
        f->hooks.failure(f->hooks.ctx, ref, m->u.failure.error, m->u.failure.cause);
    }
}

void fleet_on_message(fleet *f, void *sock, const unsigned char *rid, size_t rid_len,
                      const void *bytes, size_t len)
{
    fleet_msg m;
    char err[512];
    fworker *w = find(f, sock, rid, rid_len);
    if (fleet_msg_decode(bytes, len, &m, err, sizeof err) != SF_OK) {
        f->local.dropped_messages++;
        fleet_log(f, "dropped a message from %s: %s",
                  w ? w->hello.u.hello.worker_id : "an unknown peer", err);
        return;
    }
    if (!w) {
        if (m.type == FLEET_HELLO)
            hello(f, sock, rid, rid_len, &m);
        else
            f->local.dropped_messages++; /* from a worker given up for lost */
        fleet_msg_clear(&m);
        return;
    }
    if (fleet_session_accept(&w->session, FLEET_FROM_WORKER, &m, err, sizeof err) != SF_OK) {
        f->local.dropped_messages++;
        fleet_log(f, "dropped a message from worker '%s': %s", w->hello.u.hello.worker_id, err);
        fleet_msg_clear(&m);
        return;
    }
    w->heard_ms = f->now_ms;
    switch (m.type) {
    case FLEET_PROGRESS:
    case FLEET_RESULT:
    case FLEET_FAILURE:
        task_report(f, w, &m);
        break;
    default: /* heartbeat: hearing it was the point */
        break;
    }
    fleet_msg_clear(&m);
}

void fleet_tick(fleet *f, int64_t now)
{
    int64_t silent_max = (int64_t)f->cfg.heartbeat_ms * f->cfg.lost_after;
    bool changed = false;
    for (size_t i = 0; i < f->nworkers;) {
        fworker *w = f->workers[i];
        if (now - w->heard_ms > silent_max) {
            char why[128];
            snprintf(why, sizeof why, "nothing heard for %lld ms, %u heartbeat periods of %u ms",
                     (long long)(now - w->heard_ms), f->cfg.lost_after, f->cfg.heartbeat_ms);
            lose(f, w, why); /* swaps the last worker into slot i */
            continue;
        }
        if (now - w->sent_hb_ms >= f->cfg.heartbeat_ms) {
            fleet_msg hb = {.type = FLEET_HEARTBEAT,
                            .u.heartbeat = {.seq = ++w->hb_seq, .load = w->running}};
            char err[128];
            if (fleet_session_accept(&w->session, FLEET_FROM_COORDINATOR, &hb, err, sizeof err) ==
                SF_OK)
                fleet_send(f, w, &hb);
            w->sent_hb_ms = now;
        }
        changed = true;
        i++;
    }
    if (changed)
        publish(f); /* running counts move all the time; a tick's staleness is fine */
}

void fleet_workers_free(fleet *f)
{
    for (size_t i = 0; i < f->nworkers; i++)
        free_worker(f->workers[i]);
    free(f->workers);
    f->workers = NULL;
    f->nworkers = f->capworkers = 0;
    sf_hmap_free(&f->by_rid);
}
