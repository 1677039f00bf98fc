/* worker/topology.h - the machine a worker runs on, as hwloc sees it.
 *
 * Packages, NUMA nodes, the cores of each node, memory per node, GPUs. A
 * topology is either this machine's or a description for tests (hwloc's
 * synthetic strings, "package:2 numa:2 core:4 pu:2", or an exported XML
 * file); binding decisions are computed the same way for both, so tests
 * can check them, but only this machine's topology can actually bind. */
#ifndef WORKER_TOPOLOGY_H
#define WORKER_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sf_rc.h"

typedef struct wk_node {
    unsigned index;        /* ours: 0 .. nodes-1, in hwloc's logical order */
    unsigned os_index;     /* the kernel's NUMA node number */
    unsigned package;      /* logical index of the package holding it */
    unsigned ncores;       /* physical cores whose PUs lie in this node */
    unsigned npus;         /* hardware threads likewise */
    uint64_t memory_bytes; /* local memory */
} wk_node;

typedef struct wk_gpu {
    char name[256];
    uint64_t memory_bytes; /* 0 when hwloc does not say */
    int node;              /* our index of the nearest NUMA node, -1 unknown */
} wk_gpu;

typedef struct wk_topology wk_topology;

/* spec NULL or "": this machine. "synthetic:DESC": hwloc's synthetic
 * description DESC. A path ending in ".xml": a topology hwloc exported.
 * A machine without NUMA information counts as one node holding every
 * core. SF_EINVAL with err saying what is wrong with spec. */
sf_rc wk_topology_load(const char *spec, wk_topology **out, char *err, size_t errlen);
void wk_topology_free(wk_topology **t);

bool wk_topology_is_this_machine(const wk_topology *t);
unsigned wk_topology_packages(const wk_topology *t);
unsigned wk_topology_nodes(const wk_topology *t);
const wk_node *wk_topology_node(const wk_topology *t, unsigned index);
unsigned wk_topology_cores(const wk_topology *t); /* physical cores, all nodes */
uint64_t wk_topology_memory(const wk_topology *t);
size_t wk_topology_gpus(const wk_topology *t, const wk_gpu **gpus);

/* The PUs a thread placed on core `core` (0 .. ncores-1) of node `node`
 * binds to, as a kernel cpulist ("4-5"); and the whole node's. Both work
 * on any topology: this is the decision, which tests check. */
sf_rc wk_topology_core_cpulist(const wk_topology *t, unsigned node, unsigned core, char *buf,
                               size_t len);
sf_rc wk_topology_node_cpulist(const wk_topology *t, unsigned node, char *buf, size_t len);

/* Binds the calling thread to that core's PUs. SF_EUNSUPPORTED (err says
 * why) when the topology is not this machine's or the OS refuses. */
sf_rc wk_topology_bind_thread(const wk_topology *t, unsigned node, unsigned core, char *err,
                              size_t errlen);

/* size bytes of memory bound to node (first-touch pages are placed there);
 * plain memory where binding is unsupported. NULL when out of memory.
 * Free with wk_node_free and the same size. */
void *wk_node_alloc(const wk_topology *t, unsigned node, size_t size);
void wk_node_free(const wk_topology *t, void *p, size_t size);

/* One line for logs: "2 packages, 4 NUMA nodes, 16 cores, 64.0 GiB, 0 GPUs". */
void wk_topology_describe(const wk_topology *t, char *buf, size_t len);

#endif
