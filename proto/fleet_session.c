/* proto/fleet_session.c - the order checker for one worker's conversation.
 *
 * Every rule is checked before anything changes, so a refused message
 * leaves the session exactly as it was. */
#include "fleet_session.h"

#include <stdlib.h>
#include <string.h>

#include "fleet_wire.h"

void fleet_session_init(fleet_session *s)
{
    memset(s, 0, sizeof *s);
}

void fleet_session_cleanup(fleet_session *s)
{
    if (!s)
        return;
    free(s->open);
    memset(s, 0, sizeof *s);
}

/* The running tasks: an open-addressing table (linear probing, capacity a
 * power of two, at most half full), since a pipelining coordinator keeps
 * thousands in flight per worker and every message names one. */
static size_t slot_of(const fleet_session *s, uint64_t task_id)
{
    uint64_t h = task_id * 0x9e3779b97f4a7c15ull; /* Fibonacci hashing spreads sequential ids */
    return (size_t)(h >> 32) & (s->cap_open - 1);
}

static fleet_open_task *find_open(fleet_session *s, uint64_t task_id)
{
    if (!s->cap_open)
        return NULL;
    for (size_t i = slot_of(s, task_id);; i = (i + 1) & (s->cap_open - 1)) {
        if (!s->open[i].used)
            return NULL;
        if (s->open[i].task_id == task_id)
            return &s->open[i];
    }
}

static void put_slot(fleet_session *s, fleet_open_task t)
{
    size_t i = slot_of(s, t.task_id);
    while (s->open[i].used)
        i = (i + 1) & (s->cap_open - 1);
    s->open[i] = t;
}

static sf_rc add_open(fleet_session *s, uint64_t task_id)
{
    if ((s->n_open + 1) * 2 > s->cap_open) {
        size_t cap = s->cap_open ? s->cap_open * 2 : 16;
        fleet_open_task *old = s->open, *grown = calloc(cap, sizeof *grown);
        if (!grown)
            return SF_ENOMEM;
        size_t oldcap = s->cap_open;
        s->open = grown;
        s->cap_open = cap;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i].used)
                put_slot(s, old[i]);
        free(old);
    }
    put_slot(s, (fleet_open_task){.task_id = task_id, .used = true});
    s->n_open++;
    return SF_OK;
}

/* Removes t and shifts later entries of its probe run back, so lookups
 * never stop early at the hole (no tombstones to accumulate). */
static void finish_open(fleet_session *s, fleet_open_task *t)
{
    size_t mask = s->cap_open - 1, hole = (size_t)(t - s->open);
    s->open[hole].used = false;
    s->n_open--;
    for (size_t i = (hole + 1) & mask; s->open[i].used; i = (i + 1) & mask) {
        size_t home = slot_of(s, s->open[i].task_id);
        /* Move i into the hole unless its home lies cyclically in (hole, i]. */
        bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!stays) {
            s->open[hole] = s->open[i];
            s->open[i].used = false;
            hole = i;
        }
    }
}

static uint64_t task_id_of(const fleet_msg *m)
{
    switch (m->type) {
    case FLEET_TASK:
        return m->u.task.task_id;
    case FLEET_PROGRESS:
        return m->u.progress.task_id;
    case FLEET_RESULT:
        return m->u.result.task_id;
    case FLEET_FAILURE:
        return m->u.failure.task_id;
    case FLEET_CANCEL:
        return m->u.cancel.task_id;
    default:
        return 0;
    }
}

static sf_rc accept_heartbeat(fleet_session *s, fleet_side side, const fleet_msg *m, char *err,
                              size_t errlen)
{
    int who = side == FLEET_FROM_WORKER ? 0 : 1;
    uint64_t seq = m->u.heartbeat.seq;
    if (s->seq_seen[who] && seq <= s->last_seq[who])
        return fleet__fail(err, errlen, SF_ESTATE,
                           "heartbeat.%s: %llu from the %s does not increase on %llu",
                           FLEET_KEY_SEQ, (unsigned long long)seq, who ? "coordinator" : "worker",
                           (unsigned long long)s->last_seq[who]);
    s->seq_seen[who] = true;
    s->last_seq[who] = seq;
    return SF_OK;
}

static sf_rc accept_from_worker(fleet_session *s, const fleet_msg *m, char *err, size_t errlen)
{
    const char *type = fleet_msg_type_name(m->type);
    if (m->type == FLEET_HELLO) {
        if (s->hello_seen)
            return fleet__fail(err, errlen, SF_ESTATE, "hello: sent twice");
        s->hello_seen = true;
        s->max_tasks = m->u.hello.max_tasks < FLEET_SESSION_TASKS_MAX ? m->u.hello.max_tasks
                                                                      : FLEET_SESSION_TASKS_MAX;
        return SF_OK;
    }
    if (!s->hello_seen)
        return fleet__fail(err, errlen, SF_ESTATE, "%s: before the worker's hello", type);
    if (m->type == FLEET_HEARTBEAT)
        return accept_heartbeat(s, FLEET_FROM_WORKER, m, err, errlen);
    uint64_t id = task_id_of(m);
    fleet_open_task *t = find_open(s, id);
    if (!t)
        return fleet__fail(err, errlen, SF_ESTATE,
                           "%s: task %llu is not running on this worker (never sent, or finished)",
                           type, (unsigned long long)id);
    if (m->type == FLEET_RESULT || m->type == FLEET_FAILURE)
        finish_open(s, t);
    return SF_OK;
}

static sf_rc accept_from_coordinator(fleet_session *s, const fleet_msg *m, char *err, size_t errlen)
{
    const char *type = fleet_msg_type_name(m->type);
    if (m->type == FLEET_WELCOME || m->type == FLEET_REFUSE) {
        if (!s->hello_seen)
            return fleet__fail(err, errlen, SF_ESTATE, "%s: before the worker's hello", type);
        if (s->welcomed)
            return fleet__fail(err, errlen, SF_ESTATE, "%s: the hello was already answered", type);
        if (m->type == FLEET_WELCOME)
            s->welcomed = true;
        else
            s->refused = true;
        return SF_OK;
    }
    if (!s->welcomed)
        return fleet__fail(err, errlen, SF_ESTATE, "%s: before the coordinator's welcome", type);
    if (m->type == FLEET_HEARTBEAT)
        return accept_heartbeat(s, FLEET_FROM_COORDINATOR, m, err, errlen);
    uint64_t id = task_id_of(m);
    fleet_open_task *t = find_open(s, id);
    if (m->type == FLEET_TASK) {
        if (t)
            return fleet__fail(err, errlen, SF_ESTATE, "task: task %llu is already running",
                               (unsigned long long)id);
        if (s->n_open >= s->max_tasks)
            return fleet__fail(err, errlen, SF_ESTATE,
                               "task: the worker already runs %zu tasks, its most", s->n_open);
        return add_open(s, id) == SF_OK ? SF_OK
                                        : fleet__fail(err, errlen, SF_ENOMEM, "out of memory");
    }
    /* cancel */
    if (!t)
        return fleet__fail(err, errlen, SF_ESTATE,
                           "cancel: task %llu is not running on this worker",
                           (unsigned long long)id);
    if (t->cancelled)
        return fleet__fail(err, errlen, SF_ESTATE, "cancel: task %llu was already cancelled",
                           (unsigned long long)id);
    t->cancelled = true;
    return SF_OK;
}

sf_rc fleet_session_accept(fleet_session *s, fleet_side side, const fleet_msg *m, char *err,
                           size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!s || !m)
        return fleet__fail(err, errlen, SF_EINVAL, "no session or message");
    if (side != FLEET_FROM_WORKER && side != FLEET_FROM_COORDINATOR)
        return fleet__fail(err, errlen, SF_EINVAL,
                           "the sender must be the worker or the coordinator");
    fleet_side allowed = fleet_msg_type_sender(m->type);
    if (!allowed)
        return fleet__fail(err, errlen, SF_EINVAL, "not a message type: %d", (int)m->type);
    const char *type = fleet_msg_type_name(m->type);
    if (!(allowed & side))
        return fleet__fail(err, errlen, SF_ESTATE, "%s: only the %s sends it", type,
                           allowed == FLEET_FROM_WORKER ? "worker" : "coordinator");
    if (s->refused)
        return fleet__fail(err, errlen, SF_ESTATE,
                           "%s: the worker was refused; the session is over", type);
    return side == FLEET_FROM_WORKER ? accept_from_worker(s, m, err, errlen)
                                     : accept_from_coordinator(s, m, err, errlen);
}
