/* worker/agent.h - the worker's side of the fleet: one agent per process.
 *
 * The agent connects a DEALER socket to the coordinator, says hello with
 * what this worker can run, keeps heartbeats both ways, takes tasks, runs
 * each on its NUMA node's executor (or inline, for trivial kernels) and
 * answers with progress and exactly one result or failure. It reconnects
 * with a new hello when the coordinator falls silent, and stops when told.
 *
 * One thread (the caller of wk_agent_run) owns the socket; kernels report
 * back to it through a queue. The agent logs on stderr; it is the daemon
 * side, so it may. */
#ifndef WORKER_AGENT_H
#define WORKER_AGENT_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sf_rc.h"
#include "worker/topology.h"

#define WK_AGENT_VERSION "0.4.0" /* sent in hello, for the coordinator's logs */
#define WK_WELCOME_TIMEOUT_MS 5000
#define WK_BACKOFF_MIN_MS 100
#define WK_BACKOFF_MAX_MS 2000

/* How wk_agent_run ended; main's exit status. */
typedef enum {
    WK_AGENT_STOPPED = 0, /* wk_agent_stop: tasks were answered */
    WK_AGENT_FAILED = 1,  /* could not go on (the socket could not be made) */
    WK_AGENT_REFUSED = 3  /* the coordinator refused this worker */
} wk_agent_exit;

typedef struct wk_agent_config {
    const char *coordinator;     /* endpoint to connect to; required */
    const char *id;              /* worker id; required, at most 128 bytes */
    const char *functions_dir;   /* enables the lambda kernel; NULL: none */
    const char *data_root;       /* NULL: none */
    const wk_topology *topology; /* borrowed; must outlive the agent */
    int numa_node;               /* serve only this node; -1: all of them */
    uint32_t max_tasks;          /* 0: the cores of the nodes served */
    bool bind;                   /* pin executor threads to their cores */
    /* CURVE: both or neither. Borrowed; they must outlive the agent. */
    zcert_t *cert;
    zcert_t *server_cert;
    double progress_hz;       /* reports per second per task; 0: none */
    uint32_t heartbeat_grace; /* silent periods before the coordinator is lost; 0: 3 */
    bool retry_refused;       /* after a refuse, back off and say hello again */
    bool quiet;               /* log only problems */
} wk_agent_config;

typedef struct wk_agent wk_agent;

/* Checks cfg, builds the kernel registry and starts the executors; does
 * not connect yet. Strings in cfg are copied. SF_EINVAL with err saying
 * which setting is wrong, or what the executor refused. */
sf_rc wk_agent_new(const wk_agent_config *cfg, wk_agent **out, char *err, size_t errlen);

/* Runs until stopped or refused (see wk_agent_exit). Call once. */
wk_agent_exit wk_agent_run(wk_agent *a);

/* Asks the agent to stop: take no more tasks, cancel the running ones,
 * answer them and return from wk_agent_run. Async-signal-safe (an atomic
 * store and a write to an eventfd), so a signal handler may call it. */
void wk_agent_stop(wk_agent *a);

/* Stops the executors (waiting for running kernels) and frees; NULL-safe,
 * sets *a to NULL. */
void wk_agent_destroy(wk_agent **a);

/* For the startup log line: the kernels advertised ("noop, spin") and the
 * most tasks run at once. */
void wk_agent_kernels(const wk_agent *a, char *buf, size_t len);
uint32_t wk_agent_max_tasks(const wk_agent *a);

#endif
