/* worker/agent_admit.h - whether a task can run on this worker, and where.
 *
 * Pure: no socket, no clock, no threads. Given what the worker has (its
 * kernels, the NUMA nodes it serves and what runs on them) and a task as
 * decoded from the wire, it answers with the kernel, the parsed input and
 * the node to run on, or with the failure to send back: an ASL error name
 * and a cause a person can act on ("worker w1 has no kernel 'x' (it runs:
 * noop, spin)"). The fuzz harness drives it with arbitrary frames. */
#ifndef WORKER_AGENT_ADMIT_H
#define WORKER_AGENT_ADMIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sf_rc.h"
#include "coordinator/asl/diag.h"
#include "proto/fleet_msg.h"
#include "worker/kernel.h"

/* One NUMA node the worker serves, and its load. */
typedef struct wk_node_slot {
    unsigned node;         /* topology index */
    unsigned ncores;       /* physical cores */
    uint64_t memory_bytes; /* 0: unknown */
    bool gpu;              /* a GPU sits near it (or anywhere, when unknown) */
    unsigned used_cores;   /* cores asked for by the tasks placed here */
    unsigned running;      /* tasks placed here */
} wk_node_slot;

typedef struct wk_caps {
    const char *worker_id;
    const wk_registry *reg;
    const wk_node_slot *nodes;
    size_t n_nodes; /* at least 1 */
    uint32_t max_tasks;
    size_t running; /* tasks running now, of any session */
    bool stopping;  /* the worker is shutting down */
} wk_caps;

typedef struct wk_admission {
    const wk_kernel *kernel;
    json_t *input;  /* new reference, the parsed task input */
    size_t slot;    /* index into caps->nodes */
    unsigned cores; /* what the task asked for, at least 1 */
} wk_admission;

/* The kernel field that names what runs: t->kernel, or t->resource when
 * the kernel field is empty (the resource alone says). */
const char *wk_admit_kernel_field(const fleet_task *t);

/* SF_OK with out filled, or SF_EINVAL with err set (States.TaskFailed for
 * anything about this worker or the task's requirements, with the cause
 * naming it; "worker at capacity: ..." when full). */
sf_rc wk_admit(const wk_caps *caps, const fleet_task *t, wk_admission *out, asl_err *err);

#endif
