/* fleet/fleet_place.c - which worker runs a task, and the queue before it.
 *
 * Capability first: the worker must run the task's kernel and have, in
 * all, the cores, memory and GPU the task asks for. Among capable workers
 * with room now (fewer tasks than its max, and the cores, memory and GPU
 * still free) the least loaded wins, by the share of its cores in use,
 * then of its task slots. Tasks wait in submit order; one that no worker
 * has room for does not hold back those behind it that another could
 * take, and one that no registered worker could ever run fails after
 * unplaceable_ms rather than waiting forever for a worker that may never
 * come. */
#define _GNU_SOURCE
#include "fleet_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool runs_kernel(const fworker *w, const char *family)
{
    const fleet_hello *h = &w->hello.u.hello;
    for (size_t i = 0; i < h->n_kernels; i++)
        if (strcmp(h->kernels[i], family) == 0)
            return true;
    return false;
}

static bool capable(const fworker *w, const fjob *j)
{
    const fleet_hello *h = &w->hello.u.hello;
    return runs_kernel(w, j->family) && j->req.cores <= h->cores &&
           (!h->memory_bytes || j->req.memory_bytes <= h->memory_bytes) &&
           (!j->req.gpu || h->n_gpus > 0);
}

static bool has_room(const fworker *w, const fjob *j)
{
    const fleet_hello *h = &w->hello.u.hello;
    return w->running < h->max_tasks && w->cores_used + j->req.cores <= h->cores &&
           (!h->memory_bytes || w->mem_used + j->req.memory_bytes <= h->memory_bytes) &&
           (!j->req.gpu || w->gpus_used < h->n_gpus);
}

/* Load as a fraction, cores first, task slots to break ties. */
static double load(const fworker *w)
{
    const fleet_hello *h = &w->hello.u.hello;
    double cores = h->cores ? (double)w->cores_used / h->cores : 0;
    return cores + (double)w->running / h->max_tasks / 1024.0;
}

static fworker *choose(fleet *f, const fjob *j, bool *any_capable)
{
    fworker *best = NULL;
    double best_load = 0;
    *any_capable = false;
    for (size_t i = 0; i < f->nworkers; i++) {
        fworker *w = f->workers[i];
        if (!capable(w, j))
            continue;
        *any_capable = true;
        if (!has_room(w, j))
            continue;
        double l = load(w);
        if (!best || l < best_load) {
            best = w;
            best_load = l;
        }
    }
    return best;
}

void fleet_enqueue(fleet *f, fjob *j)
{
    j->next = NULL;
    if (f->queue_tail)
        f->queue_tail->next = j;
    else
        f->queue_head = j;
    f->queue_tail = j;
    f->nqueued++;
}

static void unlink_queued(fleet *f, fjob *prev, fjob *j)
{
    if (prev)
        prev->next = j->next;
    else
        f->queue_head = j->next;
    if (f->queue_tail == j)
        f->queue_tail = prev;
    j->next = NULL;
    f->nqueued--;
}

static bool send_task(fleet *f, fworker *w, fjob *j)
{
    /* The session checks the coordinator's side too: a task beyond the
     * worker's max or with a duplicate id never leaves. */
    fleet_msg probe = {.type = FLEET_TASK, .u.task = {.task_id = j->id}};
    char err[256];
    if (fleet_session_accept(&w->session, FLEET_FROM_COORDINATOR, &probe, err, sizeof err) != SF_OK)
        return false;
    if (!fleet_send_bytes(f, w, j->wire, j->wire_len)) {
        /* Gone between heartbeats: forget the task on it and keep the
         * job for another worker; the silence will retire the worker. */
        fleet_msg undo = {.type = FLEET_FAILURE, .u.failure = {.task_id = j->id}};
        fleet_session_accept(&w->session, FLEET_FROM_WORKER, &undo, err, sizeof err);
        return false;
    }
    j->w = w;
    w->running++;
    w->cores_used += j->req.cores;
    w->mem_used += j->req.memory_bytes;
    w->gpus_used += j->req.gpu;
    f->local.placed++;
    if (f->hooks.placed)
        f->hooks.placed(f->hooks.ctx, j->ref, w->hello.u.hello.worker_id);
    return true;
}

static bool any_slot(const fleet *f)
{
    for (size_t i = 0; i < f->nworkers; i++)
        if (f->workers[i]->running < f->workers[i]->hello.u.hello.max_tasks)
            return true;
    return false;
}

/* How many unplaceable tasks placement looks past before it gives up for
 * now: enough that one kernel's backlog does not starve another's, few
 * enough that a long queue costs little while the fleet is full. */
#define LOOK_PAST 64

void fleet_place(fleet *f)
{
    fjob *prev = NULL, *j = f->queue_head;
    int skipped = 0;
    while (j && skipped < LOOK_PAST && any_slot(f)) {
        bool any;
        fworker *w = choose(f, j, &any);
        if (!w || !send_task(f, w, j)) {
            prev = j;
            j = j->next;
            skipped++;
            continue;
        }
        fjob *next = j->next;
        unlink_queued(f, prev, j);
        j = next;
    }
}

void fleet_expire_unplaceable(fleet *f, int64_t now)
{
    fjob *prev = NULL, *j = f->queue_head;
    while (j) {
        bool any;
        choose(f, j, &any);
        if (any || now - j->queued_ms < f->cfg.unplaceable_ms) {
            prev = j;
            j = j->next;
            continue;
        }
        fjob *next = j->next;
        unlink_queued(f, prev, j);
        char cause[1024];
        int off = snprintf(cause, sizeof cause,
                           "no worker of the fleet runs kernel '%s' with %u core(s), %llu bytes "
                           "of memory%s (waited %u ms); workers:",
                           j->family, j->req.cores, (unsigned long long)j->req.memory_bytes,
                           j->req.gpu ? " and a GPU" : "", f->cfg.unplaceable_ms);
        if (!f->nworkers)
            snprintf(cause + off, sizeof cause - (size_t)off, " none connected");
        for (size_t i = 0; i < f->nworkers && off > 0 && (size_t)off < sizeof cause; i++) {
            const fleet_hello *h = &f->workers[i]->hello.u.hello;
            off += snprintf(cause + off, sizeof cause - (size_t)off, " %s (%u cores)", h->worker_id,
                            h->cores);
        }
        fleet_job_fail(f, j, "States.TaskFailed", cause);
        j = next;
    }
}

void fleet_job_done(fleet *f, fjob *j)
{
    if (j->w) {
        fworker *w = j->w;
        w->running--;
        w->cores_used -= j->req.cores;
        w->mem_used -= j->req.memory_bytes;
        w->gpus_used -= j->req.gpu;
    }
    sf_hmap_delu(&f->jobs, j->id);
    free(j); /* with its wire bytes */
}

void fleet_job_fail(fleet *f, fjob *j, const char *error, const char *cause)
{
    fleet_ref ref = j->ref;
    bool wanted = !j->cancelled;
    fleet_job_done(f, j);
    if (wanted) {
        f->local.failures++;
        f->hooks.failure(f->hooks.ctx, ref, error, cause);
    }
}

void fleet_job_cancel(fleet *f, uint64_t id, const char *why)
{
    fjob *j = sf_hmap_getu(&f->jobs, id);
    if (!j || j->cancelled)
        return;
    if (!j->w) {
        fjob *prev = NULL;
        for (fjob *q = f->queue_head; q; prev = q, q = q->next)
            if (q == j) {
                unlink_queued(f, prev, j);
                break;
            }
        fleet_job_done(f, j);
        return;
    }
    /* It runs: ask the worker to stop, and keep its room taken until the
     * worker answers, since it may still be running. */
    j->cancelled = true;
    fleet_msg m = {.type = FLEET_CANCEL, .u.cancel = {.task_id = id, .reason = (char *)why}};
    char err[256];
    if (fleet_session_accept(&j->w->session, FLEET_FROM_COORDINATOR, &m, err, sizeof err) == SF_OK)
        fleet_send(f, j->w, &m);
}
