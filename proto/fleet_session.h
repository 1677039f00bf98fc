/* proto/fleet_session.h - the order fleet messages may come in, per peer.
 *
 * One fleet_session follows one worker's conversation with the coordinator,
 * both directions: feed it every message sent and received, each with the
 * side that sent it, and it refuses what arrives out of order. The
 * coordinator keeps one per worker, a worker one for its coordinator.
 * Pure bookkeeping: no clock (heartbeat timeouts belong to the caller), no
 * I/O. A refused message leaves the session as it was. */
#ifndef FLEET_SESSION_H
#define FLEET_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sf_rc.h"
#include "proto/fleet_msg.h"

/* However many tasks a hello claims to run at once, a session tracks at
 * most this many, so a hostile hello cannot make it grow without bound. */
#define FLEET_SESSION_TASKS_MAX 65536u

typedef struct {
    uint64_t task_id;
    bool used; /* a slot of the table, not a task, when false */
    bool cancelled;
} fleet_open_task;

typedef struct {
    bool hello_seen;
    bool welcomed;
    bool refused;
    uint32_t max_tasks; /* from the hello, capped by FLEET_SESSION_TASKS_MAX */
    bool seq_seen[2];   /* heartbeat sequence per sender: [0] worker, [1] coordinator */
    uint64_t last_seq[2];
    fleet_open_task *open; /* tasks sent and not yet finished: a hash table */
    size_t n_open;
    size_t cap_open;
} fleet_session;

/* A session before any message. Equivalent to zeroing it. */
void fleet_session_init(fleet_session *s);

/* Frees what the session holds and leaves it as after init; NULL-safe. */
void fleet_session_cleanup(fleet_session *s);

/* Takes m, sent by side (FLEET_FROM_WORKER or FLEET_FROM_COORDINATOR), into
 * the session if it may come now; m is borrowed. SF_ESTATE with err naming
 * the rule when it is out of order or sent by the wrong side, SF_ENOMEM,
 * SF_EINVAL for a bad side or message. The rules:
 *   - the worker speaks first, with hello, and only once;
 *   - the coordinator answers it once, with welcome or refuse; after a
 *     refuse nothing more may pass either way;
 *   - the worker's other messages come after its hello; the coordinator's
 *     after its welcome;
 *   - heartbeat seq strictly increases per sender;
 *   - task carries an id not already running, and only while the worker
 *     runs fewer than its hello's max_tasks;
 *   - progress, result and failure name a running task; result or failure
 *     finishes it, so nothing more may name it;
 *   - cancel names a running task not cancelled yet. It does not finish
 *     the task: the worker still answers with result or failure, since its
 *     answer may already be on the wire. */
sf_rc fleet_session_accept(fleet_session *s, fleet_side side, const fleet_msg *m, char *err,
                           size_t errlen);

#endif
