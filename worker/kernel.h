/* worker/kernel.h - what a kernel is, what it may ask of the task it runs,
 * and the registry that names kernels.
 *
 * A kernel is one function: it takes the task's input (JSON), answers with
 * an output (JSON) or an ASL error (a name and a cause), and may report
 * progress and watch for cancellation while it works. It runs on a thread
 * of its NUMA node's executor, or, when it is trivial (inline_ok), directly
 * on the agent's I/O thread so that a stream of tiny tasks is not dominated
 * by thread handoffs. An inline kernel must return at once: it blocks every
 * other task and the heartbeats while it runs.
 *
 * A kernel never prints, never touches the socket, and never keeps a
 * pointer it was given past its return. */
#ifndef WORKER_KERNEL_H
#define WORKER_KERNEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sf_rc.h"
#include "coordinator/asl/diag.h"
#include "worker/topology.h"

/* The task a kernel runs; the agent owns it. Every accessor below is
 * thread-safe for the kernel running the task. */
typedef struct wk_task_ctx wk_task_ctx;

/* Runs the task. input is borrowed. On SF_OK *output is a new reference
 * (the agent sends it and drops it; NULL counts as JSON null). On any other
 * code err names the failure: an ASL error name ("States.TaskFailed", or a
 * kernel's own such as "Lambda.Unknown") and a cause a person can act on;
 * an err left empty becomes States.TaskFailed. */
typedef sf_rc (*wk_kernel_fn)(wk_task_ctx *ctx, json_t *input, json_t **output, asl_err *err);

typedef struct wk_kernel {
    const char *name; /* what a task's kernel field names, before any ':' */
    wk_kernel_fn run;
    bool inline_ok; /* returns at once: run it on the I/O thread */
} wk_kernel;

/* A named value in a progress report ("train:objective_loss"). */
typedef struct wk_metric {
    const char *name; /* borrowed for the call */
    double value;     /* finite; others are dropped */
} wk_metric;

/* ---- what a running kernel may ask ---------------------------------- */

/* Whether the kernel should stop now: the coordinator cancelled the task,
 * its timeout passed, the coordinator was lost, or the worker is stopping.
 * Cheap (an atomic load and a clock read): call it every few milliseconds. */
bool wk_cancelled(wk_task_ctx *ctx);

/* After wk_cancelled said true: sets err to the failure to answer with
 * (Worker.Cancelled naming the reason, or States.Timeout) and returns the
 * code to return from the kernel. */
sf_rc wk_fail_cancelled(wk_task_ctx *ctx, asl_err *err);

/* Reports progress: fraction done (clamped to 0..1), records processed,
 * the epoch, and up to 32 metrics (borrowed for the call). The agent sends
 * at most --progress-hz reports a second per task, keeping the latest one
 * it held back, and always sends that last one before the task's answer;
 * so call it as often as is convenient. */
void wk_progress(wk_task_ctx *ctx, double fraction, uint64_t records, uint32_t epoch,
                 const wk_metric *metrics, size_t n_metrics);

uint64_t wk_task_id(const wk_task_ctx *ctx);
/* The whole kernel field ("lambda:prep") and what follows its first ':'
 * ("prep", or "" when there is no ':'). */
const char *wk_task_kernel(const wk_task_ctx *ctx);
const char *wk_task_kernel_arg(const wk_task_ctx *ctx);
/* Cores the task asked for (at least 1), the node it was placed on (our
 * index, see topology.h) and the core of that node its thread sits on. */
unsigned wk_task_cores(const wk_task_ctx *ctx);
unsigned wk_task_node(const wk_task_ctx *ctx);
unsigned wk_task_core(const wk_task_ctx *ctx);
/* The worker's topology, for wk_node_alloc on wk_task_node. */
const wk_topology *wk_task_topology(const wk_task_ctx *ctx);
/* --functions and --data-root; NULL when not given. */
const char *wk_task_functions_dir(const wk_task_ctx *ctx);
const char *wk_task_data_root(const wk_task_ctx *ctx);

/* ---- the registry ----------------------------------------------------- */

#define WK_KERNELS_MAX 64 /* the most a hello can advertise */

typedef struct wk_registry wk_registry;

/* An empty registry; NULL when out of memory. */
wk_registry *wk_registry_new(void);
/* NULL-safe; sets *r to NULL. The kernels themselves are static. */
void wk_registry_destroy(wk_registry **r);

/* Adds k (borrowed: it must outlive the registry, kernels are static).
 * SF_EINVAL for a nameless kernel or one whose name holds ':', SF_ESTATE
 * when the name is taken, SF_ELIMIT past WK_KERNELS_MAX. */
sf_rc wk_registry_add(wk_registry *r, const wk_kernel *k);

/* The kernel a task's kernel field names: the part before the first ':'
 * ("lambda:prep" names "lambda"). NULL when none has that name. */
const wk_kernel *wk_registry_find(const wk_registry *r, const char *kernel_field);

size_t wk_registry_count(const wk_registry *r);
const wk_kernel *wk_registry_at(const wk_registry *r, size_t i);

/* The names, ", "-separated, in the order added ("noop, spin"); for logs
 * and causes. Truncated to fit len. */
void wk_registry_list(const wk_registry *r, char *buf, size_t len);

#endif
