/* worker/topology.c - see topology.h; hwloc does the discovery.
 *
 * Loading flattens what the worker needs out of hwloc's tree once: the NUMA
 * nodes in logical order, and for each node the cores whose PUs it holds.
 * Every later question (cpulists, binding, allocation) is answered from that
 * table and the hwloc objects it points into, which live as long as the
 * topology. Synthetic and XML topologies are answered exactly like this
 * machine's, so tests see the same decisions; they must never bind threads
 * or memory, because their CPU numbers are not this machine's.
 *
 * Synthetic descriptions are hwloc 2.9's: "package:2 numa:2 core:4 pu:2"
 * (hwloc turns "numa:2" into a Group level with one NUMA node attached to
 * each group, 1 GiB apiece), or the attached form with explicit memory,
 * "package:2 [numa(memory=2GiB)] core:4 pu:2" (one node per package).
 * Type names are case-insensitive and may be abbreviated ("pack").
 *
 * Never prints: what goes wrong goes into err. */
#define _POSIX_C_SOURCE 200809L /* strerror_r (XSI form) */
#include "worker/topology.h"

#include <errno.h>
#include <hwloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNTHETIC_PREFIX "synthetic:"

typedef enum { FROM_THIS_MACHINE, FROM_SYNTHETIC, FROM_XML } origin;

struct wk_topology {
    hwloc_topology_t hw;
    origin from;
    unsigned npackages;
    unsigned nnodes;
    wk_node *nodes;
    /* Borrowed from hwloc objects; for a machine hwloc gives no NUMA node,
     * the root's sets. */
    hwloc_const_cpuset_t *node_cpusets;
    hwloc_const_nodeset_t *node_nodesets;
    /* The cores of node n are cores[first_core[n] .. first_core[n] +
     * nodes[n].ncores - 1], in hwloc's logical order. */
    hwloc_obj_t *cores;
    unsigned *first_core;
    unsigned ncores;
    wk_gpu *gpus;
    size_t ngpus;
};

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* strerror is not thread-safe, and executor threads bind concurrently. */
static const char *errno_text(int e, char *buf, size_t len)
{
    if (strerror_r(e, buf, len) != 0)
        snprintf(buf, len, "errno %d", e);
    return buf;
}

static const char *origin_name(origin from)
{
    switch (from) {
    case FROM_THIS_MACHINE:
        return "this machine's";
    case FROM_SYNTHETIC:
        return "a synthetic";
    case FROM_XML:
        return "an XML";
    }
    return "an unknown";
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Points hwloc at what spec names, before hwloc_topology_load. */
static sf_rc choose_source(wk_topology *t, const char *spec, char *err, size_t errlen)
{
    char why[128];
    if (!spec || spec[0] == '\0') {
        t->from = FROM_THIS_MACHINE;
        /* GPUs are PCI OS devices; only this machine has any to find, and
         * I/O discovery costs time, so ask for it here alone. */
        if (hwloc_topology_set_io_types_filter(t->hw, HWLOC_TYPE_FILTER_KEEP_IMPORTANT) != 0) {
            errf(err, errlen, "hwloc refused to enable I/O device discovery: %s",
                 errno_text(errno, why, sizeof why));
            return SF_EIO;
        }
        return SF_OK;
    }
    if (strncmp(spec, SYNTHETIC_PREFIX, strlen(SYNTHETIC_PREFIX)) == 0) {
        const char *desc = spec + strlen(SYNTHETIC_PREFIX);
        t->from = FROM_SYNTHETIC;
        if (desc[0] == '\0') {
            errf(err, errlen, "topology spec '%s' has no description after 'synthetic:'", spec);
            return SF_EINVAL;
        }
        if (hwloc_topology_set_synthetic(t->hw, desc) != 0) {
            errf(err, errlen,
                 "hwloc refused synthetic topology '%s' (expected levels like "
                 "'package:2 numa:2 core:4 pu:2', ending with pu)",
                 desc);
            return SF_EINVAL;
        }
        return SF_OK;
    }
    if (ends_with(spec, ".xml")) {
        t->from = FROM_XML;
        /* hwloc reads the file here, so a missing or malformed file fails
         * now, with errno saying which. */
        if (hwloc_topology_set_xml(t->hw, spec) != 0) {
            int e = errno;
            errf(err, errlen, "cannot load XML topology '%s': %s", spec,
                 e == EINVAL ? "not a topology hwloc exported" : errno_text(e, why, sizeof why));
            return SF_EINVAL;
        }
        return SF_OK;
    }
    errf(err, errlen,
         "topology spec '%s' is neither empty (this machine), 'synthetic:DESC' nor a path "
         "ending in .xml",
         spec);
    return SF_EINVAL;
}

static unsigned package_of(hwloc_topology_t hw, hwloc_obj_t numa, hwloc_const_cpuset_t cpus)
{
    hwloc_obj_t pkg = hwloc_get_ancestor_obj_by_type(hw, HWLOC_OBJ_PACKAGE, numa);
    if (pkg)
        return pkg->logical_index;
    /* A node attached above the packages (one node for the whole machine)
     * is said to be in the first package it shares CPUs with. */
    pkg = NULL;
    while ((pkg = hwloc_get_next_obj_by_type(hw, HWLOC_OBJ_PACKAGE, pkg)))
        if (hwloc_bitmap_intersects(pkg->cpuset, cpus))
            return pkg->logical_index;
    return 0;
}

static sf_rc find_nodes(wk_topology *t, char *err, size_t errlen)
{
    int n = hwloc_get_nbobjs_by_type(t->hw, HWLOC_OBJ_NUMANODE);
    int npkg = hwloc_get_nbobjs_by_type(t->hw, HWLOC_OBJ_PACKAGE);
    if (n < 0 || npkg < 0) {
        errf(err, errlen, "hwloc found NUMA nodes or packages at several depths");
        return SF_EIO;
    }
    /* A machine with no NUMA or package information is still one of each. */
    t->npackages = npkg > 0 ? (unsigned)npkg : 1;
    t->nnodes = n > 0 ? (unsigned)n : 1;
    t->nodes = calloc(t->nnodes, sizeof *t->nodes);
    t->node_cpusets = calloc(t->nnodes, sizeof *t->node_cpusets);
    t->node_nodesets = calloc(t->nnodes, sizeof *t->node_nodesets);
    if (!t->nodes || !t->node_cpusets || !t->node_nodesets) {
        errf(err, errlen, "out of memory for %u NUMA nodes", t->nnodes);
        return SF_ENOMEM;
    }
    hwloc_obj_t root = hwloc_get_root_obj(t->hw);
    if (n == 0) {
        t->nodes[0].memory_bytes = root->total_memory;
        t->node_cpusets[0] = root->cpuset;
        t->node_nodesets[0] = root->nodeset;
        return SF_OK;
    }
    for (unsigned i = 0; i < t->nnodes; i++) {
        hwloc_obj_t numa = hwloc_get_obj_by_type(t->hw, HWLOC_OBJ_NUMANODE, i);
        if (!numa || !numa->cpuset || !numa->nodeset) {
            errf(err, errlen, "hwloc lists %u NUMA nodes but node L#%u is incomplete", t->nnodes,
                 i);
            return SF_EIO;
        }
        wk_node *node = &t->nodes[i];
        node->index = i;
        node->os_index = numa->os_index;
        node->package = package_of(t->hw, numa, numa->cpuset);
        node->memory_bytes = numa->attr ? numa->attr->numanode.local_memory : 0;
        t->node_cpusets[i] = numa->cpuset;
        t->node_nodesets[i] = numa->nodeset;
    }
    return SF_OK;
}

/* The node a core belongs to: the first whose CPUs contain all the core's
 * PUs (nodes sharing CPUs, like KNL's DDR and MCDRAM, leave the second with
 * no cores), else the first sharing any; -1 for a core in no node. */
static int node_of_core(const wk_topology *t, hwloc_obj_t core)
{
    for (unsigned i = 0; i < t->nnodes; i++)
        if (hwloc_bitmap_isincluded(core->cpuset, t->node_cpusets[i]))
            return (int)i;
    for (unsigned i = 0; i < t->nnodes; i++)
        if (hwloc_bitmap_intersects(core->cpuset, t->node_cpusets[i]))
            return (int)i;
    return -1;
}

static sf_rc find_cores(wk_topology *t, char *err, size_t errlen)
{
    /* hwloc does not promise Core objects (some platforms and synthetic
     * descriptions have none); then each PU is a core. */
    hwloc_obj_type_t type = HWLOC_OBJ_CORE;
    int n = hwloc_get_nbobjs_by_type(t->hw, type);
    if (n <= 0) {
        type = HWLOC_OBJ_PU;
        n = hwloc_get_nbobjs_by_type(t->hw, type);
    }
    if (n <= 0) {
        errf(err, errlen, "hwloc found no cores and no processing units");
        return SF_EIO;
    }
    int *owner = calloc((size_t)n, sizeof *owner);
    t->cores = calloc((size_t)n, sizeof *t->cores);
    t->first_core = calloc(t->nnodes, sizeof *t->first_core);
    if (!owner || !t->cores || !t->first_core) {
        free(owner);
        errf(err, errlen, "out of memory for %d cores", n);
        return SF_ENOMEM;
    }
    for (int c = 0; c < n; c++) {
        hwloc_obj_t core = hwloc_get_obj_by_type(t->hw, type, (unsigned)c);
        owner[c] = core && core->cpuset ? node_of_core(t, core) : -1;
        if (owner[c] >= 0)
            t->nodes[owner[c]].ncores++;
    }
    /* Counting sort: each node's cores stay in logical order. */
    unsigned next = 0;
    for (unsigned i = 0; i < t->nnodes; i++) {
        t->first_core[i] = next;
        next += t->nodes[i].ncores;
        t->nodes[i].ncores = 0;
    }
    for (int c = 0; c < n; c++) {
        if (owner[c] < 0)
            continue;
        wk_node *node = &t->nodes[owner[c]];
        hwloc_obj_t core = hwloc_get_obj_by_type(t->hw, type, (unsigned)c);
        t->cores[t->first_core[node->index] + node->ncores++] = core;
        node->npus += (unsigned)hwloc_bitmap_weight(core->cpuset);
    }
    t->ncores = next;
    free(owner);
    return SF_OK;
}

/* How much an OS device says about its GPU: CUDA's with its memory best,
 * then one naming the model (NVML, RSMI), then a bare DRM card. */
static int gpu_rank(hwloc_obj_t os)
{
    if (hwloc_obj_get_info_by_name(os, "CUDAGlobalMemorySize"))
        return 3;
    if (hwloc_obj_get_info_by_name(os, "OpenCLGlobalMemorySize"))
        return 2;
    return hwloc_obj_get_info_by_name(os, "GPUModel") ? 1 : 0;
}

static uint64_t gpu_memory(hwloc_obj_t os)
{
    const char *kib = hwloc_obj_get_info_by_name(os, "CUDAGlobalMemorySize");
    if (!kib)
        kib = hwloc_obj_get_info_by_name(os, "OpenCLGlobalMemorySize");
    return kib ? strtoull(kib, NULL, 10) * 1024 : 0;
}

static void gpu_describe(const wk_topology *t, hwloc_obj_t os, wk_gpu *gpu)
{
    const char *model = hwloc_obj_get_info_by_name(os, "GPUModel");
    if (model)
        snprintf(gpu->name, sizeof gpu->name, "%s (%s)", os->name ? os->name : "gpu", model);
    else
        snprintf(gpu->name, sizeof gpu->name, "%s", os->name ? os->name : "gpu");
    gpu->memory_bytes = gpu_memory(os);
    gpu->node = -1;
    hwloc_obj_t near = hwloc_get_non_io_ancestor_obj(t->hw, os);
    if (near && near->nodeset && hwloc_bitmap_weight(near->nodeset) == 1) {
        unsigned os_index = (unsigned)hwloc_bitmap_first(near->nodeset);
        for (unsigned i = 0; i < t->nnodes; i++)
            if (t->nodes[i].os_index == os_index)
                gpu->node = (int)i;
    }
}

/* One GPU per PCI device: a single card shows up as several OS devices
 * (card0, renderD128, nvml0, cuda0), and the most telling one names it. */
static sf_rc find_gpus(wk_topology *t, char *err, size_t errlen)
{
    size_t n = 0;
    hwloc_obj_t os = NULL;
    while ((os = hwloc_get_next_osdev(t->hw, os)))
        if (os->attr->osdev.type == HWLOC_OBJ_OSDEV_GPU ||
            os->attr->osdev.type == HWLOC_OBJ_OSDEV_COPROC)
            n++;
    if (n == 0)
        return SF_OK;
    hwloc_obj_t *best = calloc(n, sizeof *best);
    t->gpus = calloc(n, sizeof *t->gpus);
    if (!best || !t->gpus) {
        free(best);
        errf(err, errlen, "out of memory for %zu GPU devices", n);
        return SF_ENOMEM;
    }
    while ((os = hwloc_get_next_osdev(t->hw, os))) {
        if (os->attr->osdev.type != HWLOC_OBJ_OSDEV_GPU &&
            os->attr->osdev.type != HWLOC_OBJ_OSDEV_COPROC)
            continue;
        size_t g = 0;
        bool pci = os->parent && os->parent->type == HWLOC_OBJ_PCI_DEVICE;
        while (g < t->ngpus && !(pci && best[g]->parent == os->parent))
            g++;
        if (g == t->ngpus)
            best[t->ngpus++] = os;
        else if (gpu_rank(os) > gpu_rank(best[g]))
            best[g] = os;
    }
    for (size_t g = 0; g < t->ngpus; g++)
        gpu_describe(t, best[g], &t->gpus[g]);
    free(best);
    return SF_OK;
}

sf_rc wk_topology_load(const char *spec, wk_topology **out, char *err, size_t errlen)
{
    char why[128];
    if (!out) {
        errf(err, errlen, "no place to put the topology");
        return SF_EINVAL;
    }
    *out = NULL;
    wk_topology *t = calloc(1, sizeof *t);
    if (!t) {
        errf(err, errlen, "out of memory for a topology");
        return SF_ENOMEM;
    }
    if (hwloc_topology_init(&t->hw) != 0) {
        errf(err, errlen, "hwloc_topology_init failed: %s", errno_text(errno, why, sizeof why));
        free(t);
        return SF_ENOMEM;
    }
    sf_rc rc = choose_source(t, spec, err, errlen);
    if (rc == SF_OK && hwloc_topology_load(t->hw) != 0) {
        errf(err, errlen, "hwloc could not load %s topology: %s", origin_name(t->from),
             errno_text(errno, why, sizeof why));
        rc = t->from == FROM_THIS_MACHINE ? SF_EIO : SF_EINVAL;
    }
    if (rc == SF_OK)
        rc = find_nodes(t, err, errlen);
    if (rc == SF_OK)
        rc = find_cores(t, err, errlen);
    if (rc == SF_OK)
        rc = find_gpus(t, err, errlen);
    if (rc != SF_OK) {
        wk_topology_free(&t);
        return rc;
    }
    *out = t;
    return SF_OK;
}

void wk_topology_free(wk_topology **tp)
{
    if (!tp || !*tp)
        return;
    wk_topology *t = *tp;
    free(t->gpus);
    free(t->first_core);
    free(t->cores);
    free(t->node_nodesets);
    free(t->node_cpusets);
    free(t->nodes);
    hwloc_topology_destroy(t->hw);
    free(t);
    *tp = NULL;
}

bool wk_topology_is_this_machine(const wk_topology *t)
{
    return t->from == FROM_THIS_MACHINE;
}

unsigned wk_topology_packages(const wk_topology *t)
{
    return t->npackages;
}

unsigned wk_topology_nodes(const wk_topology *t)
{
    return t->nnodes;
}

const wk_node *wk_topology_node(const wk_topology *t, unsigned index)
{
    return index < t->nnodes ? &t->nodes[index] : NULL;
}

unsigned wk_topology_cores(const wk_topology *t)
{
    return t->ncores;
}

uint64_t wk_topology_memory(const wk_topology *t)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < t->nnodes; i++)
        sum += t->nodes[i].memory_bytes;
    return sum;
}

size_t wk_topology_gpus(const wk_topology *t, const wk_gpu **gpus)
{
    if (gpus)
        *gpus = t->gpus;
    return t->ngpus;
}

/* The PUs of core `core` of node `node`, or NULL when either is out of range. */
static hwloc_const_cpuset_t core_cpuset(const wk_topology *t, unsigned node, unsigned core)
{
    if (node >= t->nnodes || core >= t->nodes[node].ncores)
        return NULL;
    return t->cores[t->first_core[node] + core]->cpuset;
}

static sf_rc print_cpulist(hwloc_const_bitmap_t set, char *buf, size_t len)
{
    if (!buf || len == 0)
        return SF_EINVAL;
    int n = hwloc_bitmap_list_snprintf(buf, len, set);
    if (n < 0)
        return SF_EIO;
    return (size_t)n < len ? SF_OK : SF_ELIMIT;
}

sf_rc wk_topology_core_cpulist(const wk_topology *t, unsigned node, unsigned core, char *buf,
                               size_t len)
{
    hwloc_const_cpuset_t set = core_cpuset(t, node, core);
    return set ? print_cpulist(set, buf, len) : SF_EINVAL;
}

sf_rc wk_topology_node_cpulist(const wk_topology *t, unsigned node, char *buf, size_t len)
{
    return node < t->nnodes ? print_cpulist(t->node_cpusets[node], buf, len) : SF_EINVAL;
}

sf_rc wk_topology_bind_thread(const wk_topology *t, unsigned node, unsigned core, char *err,
                              size_t errlen)
{
    hwloc_const_cpuset_t set = core_cpuset(t, node, core);
    if (!set) {
        errf(err, errlen, "no core %u on node %u (the topology has %u nodes)", core, node,
             t->nnodes);
        return SF_EINVAL;
    }
    if (t->from != FROM_THIS_MACHINE) {
        errf(err, errlen,
             "cannot bind to node %u core %u of %s topology: its CPUs are not this machine's", node,
             core, origin_name(t->from));
        return SF_EUNSUPPORTED;
    }
    if (hwloc_set_cpubind(t->hw, set, HWLOC_CPUBIND_THREAD) != 0) {
        int e = errno;
        char list[64], why[128];
        if (hwloc_bitmap_list_snprintf(list, sizeof list, set) < 0)
            snprintf(list, sizeof list, "?");
        errf(err, errlen, "binding this thread to node %u core %u (CPUs %s) failed: %s", node, core,
             list, errno_text(e, why, sizeof why));
        return SF_EUNSUPPORTED;
    }
    return SF_OK;
}

void *wk_node_alloc(const wk_topology *t, unsigned node, size_t size)
{
    if (node >= t->nnodes || size == 0)
        return NULL;
    /* Another topology's node numbers mean nothing to this kernel. Without
     * HWLOC_MEMBIND_STRICT hwloc itself falls back to plain memory where
     * binding is unsupported; ENOMEM is the one real failure. */
    if (t->from == FROM_THIS_MACHINE) {
        void *p = hwloc_alloc_membind(t->hw, size, t->node_nodesets[node], HWLOC_MEMBIND_BIND,
                                      HWLOC_MEMBIND_BYNODESET);
        if (p || errno == ENOMEM)
            return p;
    }
    /* hwloc_alloc and hwloc_alloc_membind both pair with hwloc_free on the
     * same topology, which is why wk_node_free takes it. */
    return hwloc_alloc(t->hw, size);
}

void wk_node_free(const wk_topology *t, void *p, size_t size)
{
    if (p)
        hwloc_free(t->hw, p, size);
}

void wk_topology_describe(const wk_topology *t, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    double gib = (double)wk_topology_memory(t) / (1024.0 * 1024.0 * 1024.0);
    snprintf(buf, len, "%u package%s, %u NUMA node%s, %u core%s, %.1f GiB, %zu GPU%s", t->npackages,
             t->npackages == 1 ? "" : "s", t->nnodes, t->nnodes == 1 ? "" : "s", t->ncores,
             t->ncores == 1 ? "" : "s", gib, t->ngpus, t->ngpus == 1 ? "" : "s");
}
