/* worker/executor.h - one pool of threads per NUMA node.
 *
 * Each node's pool has one thread per core of that node, each bound to its
 * core (when the topology is this machine's and binding is asked for), so
 * a job submitted to node N runs on N's cores and what it allocates with
 * wk_node_alloc is local to it. Jobs wait in a FIFO per node. */
#ifndef WORKER_EXECUTOR_H
#define WORKER_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/sf_rc.h"
#include "worker/topology.h"

typedef struct wk_executor wk_executor;

/* Runs on a pool thread: node is the pool's node index, core the core
 * (0 .. ncores-1 of that node) the thread sits on. */
typedef void (*wk_job_fn)(void *arg, unsigned node, unsigned core);

/* Starts a pool for every node of t (borrowed: it must outlive the
 * executor), or only for node `only` when only >= 0. bind: pin threads
 * (refused with SF_EUNSUPPORTED when t is not this machine's). */
sf_rc wk_executor_start(const wk_topology *t, int only, bool bind, wk_executor **out, char *err,
                        size_t errlen);

/* Queues fn(arg) on node's pool; thread-safe. SF_EINVAL for a node without
 * a pool, SF_ESTATE once stopping. */
sf_rc wk_executor_submit(wk_executor *x, unsigned node, wk_job_fn fn, void *arg);

/* Jobs queued or running on node now. */
size_t wk_executor_load(wk_executor *x, unsigned node);

/* Stops taking jobs, runs what is queued, joins the threads, frees. */
void wk_executor_stop(wk_executor **x);

#endif
