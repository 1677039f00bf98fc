/* fleet/fleet.h - the coordinator's side of the worker fleet.
 *
 * One ZeroMQ ROUTER socket, owned by one thread, talks to every worker
 * (each a DEALER; proto/README.md has the messages). The fleet keeps the
 * registry of workers and what they can run, places each submitted task
 * on a capable worker with room (kernel, cores, memory, GPU, then the
 * least loaded), sends heartbeats and declares a worker lost when it falls
 * silent, failing its running tasks with States.TaskFailed and a cause
 * naming it. It knows nothing of executions: a task carries the caller's
 * reference, and what happens to it comes back through hooks.
 *
 * Every outcome is reported at most once per task: a result that arrives
 * after the task was cancelled, given up or failed is dropped, so a task
 * that reported success is never run or reported again. */
#ifndef FLEET_FLEET_H
#define FLEET_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sf_rc.h"
#include "proto/fleet_msg.h"

typedef struct fleet fleet;

/* The caller's name for a task: an execution and its task, say. */
typedef struct fleet_ref {
    int64_t a;
    uint64_t b;
} fleet_ref;

/* Called on the fleet's thread, one at a time, never with the fleet's
 * lock held, so a hook may call fleet_submit and fleet_withdraw. Each task
 * gets `placed` (once per worker it is sent to), any number of
 * `progress`, then exactly one of `result` or `failure`, unless it was
 * cancelled first. */
typedef struct fleet_hooks {
    void *ctx;
    void (*placed)(void *ctx, fleet_ref ref, const char *worker_id);
    void (*progress)(void *ctx, fleet_ref ref, const fleet_progress *p);
    void (*result)(void *ctx, fleet_ref ref, const char *output_json);
    void (*failure)(void *ctx, fleet_ref ref, const char *error, const char *cause);
} fleet_hooks;

typedef struct fleet_config {
    /* Where workers connect, in ZeroMQ's form: tcp on 127.0.0.1 with the
     * port "*" picks a free port (fleet_endpoint tells which); the host
     * "*" listens on every address; ipc names a socket file. */
    const char *endpoint;
    uint32_t heartbeat_ms;   /* period both ways; 0: 1000 */
    uint32_t lost_after;     /* silent periods before a worker is lost; 0: 3 */
    uint32_t unplaceable_ms; /* a task no worker could ever run fails after
                                this long with no such worker; 0: 30000 */
    /* CURVE: on whenever the endpoint is not loopback or ipc. key_file is
     * the coordinator's secret key file, authorised_dir holds the public
     * key files of the workers it accepts. insecure allows a non-local
     * endpoint without CURVE, for networks that are already private. */
    const char *key_file;
    const char *authorised_dir;
    bool insecure;
    /* Also listen on a private ipc endpoint (a socket file in a fresh 0700
     * directory) without CURVE, for the workers this coordinator spawns:
     * only its own user can reach it, so it needs no keys. */
    bool local_endpoint;
    bool quiet; /* no log lines on stderr */
} fleet_config;

/* What a task needs; see fleet_task in proto/fleet_msg.h. */
typedef struct fleet_job {
    fleet_ref ref;
    uint32_t attempt;
    const char *resource; /* the Task state's Resource */
    const char *kernel;   /* "spin", "lambda:NAME": the part before ':' must
                             be among a worker's kernels */
    const char *input;    /* JSON text */
    uint64_t timeout_ms, heartbeat_ms;
    fleet_requirements req;
} fleet_job;

/* Binds the endpoint and starts the fleet's thread. SF_EINVAL with err
 * saying why (a bad endpoint, a non-local one without keys, a key file
 * readable by others), SF_EIO when the address cannot be bound. */
sf_rc fleet_open(const fleet_config *cfg, const fleet_hooks *hooks, fleet **out, char *err,
                 size_t errlen);

/* Stops the thread, tells no one: running tasks are simply dropped (the
 * workers notice the silence and cancel them). */
void fleet_close(fleet **f);

/* The bound endpoint, with the port a wildcard picked ("tcp://127.0.0.1:41234"). */
const char *fleet_endpoint(const fleet *f);

/* The private endpoint for local workers, or NULL without one. */
const char *fleet_local_endpoint(const fleet *f);

/* Whether the main endpoint requires CURVE. */
bool fleet_curve_on(const fleet *f);

/* Queues a task for placement; thread-safe; everything in j is copied.
 * Returns the fleet's id for it (never 0), for fleet_withdraw; 0 with err
 * saying why when it cannot go (over a protocol limit, the fleet closing);
 * no hook is called then. */
uint64_t fleet_submit(fleet *f, const fleet_job *j, char *err, size_t errlen);

/* The task is no longer wanted: a queued one is dropped, a running one
 * is cancelled on its worker. No hook follows. Unknown ids are ignored;
 * thread-safe. */
void fleet_withdraw(fleet *f, uint64_t id, const char *why);

/* One worker, as fleet_workers reports it. */
typedef struct fleet_worker_info {
    char id[FLEET_WORKER_ID_MAX + 1];
    uint32_t cores, numa_nodes, max_tasks, running, cores_used;
    uint64_t memory_bytes;
    size_t gpus;
    int64_t joined_ms;
} fleet_worker_info;

/* Copies up to max workers now registered into out; returns how many are
 * registered (which may exceed max). Thread-safe. */
size_t fleet_workers(fleet *f, fleet_worker_info *out, size_t max);

/* Counters since open, for benchmarks and stats. */
typedef struct fleet_stats {
    uint64_t submitted, placed, results, failures, progress, lost_workers, dropped_messages;
    uint64_t queued; /* waiting for a worker now */
} fleet_stats;
void fleet_get_stats(fleet *f, fleet_stats *out);

#endif
