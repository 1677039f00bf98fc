/* worker/agent.c - the agent's life: what it is, its loop, how it stops.
 *
 * wk_agent_new settles everything that does not need the coordinator: the
 * nodes served, the kernels, the hello, the executors. wk_agent_run is one
 * thread polling two things, the socket and the queue's eventfd, and
 * waking for the next timer (heartbeat, loss, welcome, back-off). Stopping
 * is a flag and a wake, so a signal handler can ask for it. */
#define _GNU_SOURCE
#include "worker/agent_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/sf_log.h"
#include "worker/kernels_builtin.h"

#define STOP_GRACE_MS 10000 /* how long stopping waits for cancelled kernels */
#define STOP_LINGER_MS 2000 /* how long the last answers may take to leave */

uint64_t wk_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void wk_log(const wk_agent *a, bool always, const char *fmt, ...)
{
    if (!always && a->quiet)
        return;
    char prefix[FLEET_WORKER_ID_MAX + 32];
    snprintf(prefix, sizeof prefix, "statefleet-worker %s", a->id);
    va_list ap;
    va_start(ap, fmt);
    sf_vlog(prefix, fmt, ap);
    va_end(ap);
}

/* The nodes served: all (skipping memory-only nodes, which have no cores
 * to run on) or the one asked for. */
static sf_rc pick_nodes(wk_agent *a, int only, char *err, size_t errlen)
{
    unsigned n = wk_topology_nodes(a->topo);
    const wk_gpu *gpus = NULL;
    size_t n_gpus = wk_topology_gpus(a->topo, &gpus);
    if (only >= 0 && (unsigned)only >= n)
        return sf_errf(err, errlen, SF_EINVAL, "--numa-node %d: this machine has NUMA nodes 0..%u",
                       only, n ? n - 1 : 0);
    a->nodes = calloc(n ? n : 1, sizeof *a->nodes);
    if (!a->nodes)
        return sf_errf(err, errlen, SF_ENOMEM, "out of memory");
    for (unsigned i = 0; i < n; i++) {
        const wk_node *node = wk_topology_node(a->topo, i);
        if (!node || (only >= 0 && (unsigned)only != i) || (only < 0 && node->ncores == 0))
            continue;
        if (node->ncores == 0)
            return sf_errf(err, errlen, SF_EINVAL, "--numa-node %d: that node has no cores", only);
        wk_node_slot *s = &a->nodes[a->n_nodes++];
        *s = (wk_node_slot){.node = i, .ncores = node->ncores, .memory_bytes = node->memory_bytes};
        for (size_t g = 0; g < n_gpus; g++)
            s->gpu |= gpus[g].node < 0 || (unsigned)gpus[g].node == i;
    }
    if (!a->n_nodes)
        return sf_errf(err, errlen, SF_EINVAL, "the topology has no NUMA node with cores");
    return SF_OK;
}

/* The hello, built once. Its strings are the agent's or the topology's and
 * are never freed through the message. */
static sf_rc build_hello(wk_agent *a, int only, char *err, size_t errlen)
{
    fleet_hello *h = &a->hello;
    h->worker_id = a->id;
    h->version = WK_AGENT_VERSION;
    h->n_kernels = wk_registry_count(a->reg);
    h->kernels = calloc(h->n_kernels ? h->n_kernels : 1, sizeof *h->kernels);
    if (!h->kernels)
        return sf_errf(err, errlen, SF_ENOMEM, "out of memory");
    for (size_t i = 0; i < h->n_kernels; i++)
        h->kernels[i] = (char *)wk_registry_at(a->reg, i)->name;
    uint64_t cores = 0;
    for (size_t i = 0; i < a->n_nodes; i++) {
        cores += a->nodes[i].ncores;
        h->memory_bytes += a->nodes[i].memory_bytes;
    }
    h->cores = cores > UINT32_MAX ? UINT32_MAX : (uint32_t)cores;
    h->numa_nodes = (uint32_t)a->n_nodes;
    if (only < 0 && wk_topology_memory(a->topo) > h->memory_bytes)
        h->memory_bytes = wk_topology_memory(a->topo);
    const wk_gpu *gpus = NULL;
    size_t n_gpus = wk_topology_gpus(a->topo, &gpus);
    h->gpus = calloc(n_gpus ? n_gpus : 1, sizeof *h->gpus);
    if (!h->gpus)
        return sf_errf(err, errlen, SF_ENOMEM, "out of memory");
    for (size_t g = 0; g < n_gpus && h->n_gpus < FLEET_GPUS_MAX; g++) {
        if (only >= 0 && gpus[g].node >= 0 && gpus[g].node != only)
            continue;
        h->gpus[h->n_gpus++] = (fleet_gpu){.name = gpus[g].name[0] ? (char *)gpus[g].name : "GPU",
                                           .memory_bytes = gpus[g].memory_bytes};
    }
    if (!a->max_tasks)
        a->max_tasks = h->cores ? h->cores : 1;
    h->max_tasks = a->max_tasks;
    fleet_msg m = {.type = FLEET_HELLO};
    m.u.hello = *h;
    char why[256];
    if (fleet_msg_check(&m, why, sizeof why) != SF_OK)
        return sf_errf(err, errlen, SF_EINVAL, "this worker cannot describe itself: %s", why);
    return SF_OK;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

sf_rc wk_agent_new(const wk_agent_config *cfg, wk_agent **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!cfg->coordinator || !cfg->coordinator[0])
        return sf_errf(err, errlen, SF_EINVAL, "--coordinator is required");
    if (!cfg->id || !cfg->id[0] || strlen(cfg->id) > FLEET_WORKER_ID_MAX)
        return sf_errf(err, errlen, SF_EINVAL, "--id: a worker id is 1 to %u bytes",
                       FLEET_WORKER_ID_MAX);
    if (!cfg->topology)
        return sf_errf(err, errlen, SF_EINVAL, "no topology");
    if (!cfg->cert != !cfg->server_cert)
        return sf_errf(err, errlen, SF_EINVAL, "--key and --server-key go together");
    if (!(cfg->progress_hz >= 0) || !isfinite(cfg->progress_hz))
        return sf_errf(err, errlen, SF_EINVAL, "--progress-hz: a rate of 0 or more");

    wk_agent *a = calloc(1, sizeof *a);
    if (!a)
        return sf_errf(err, errlen, SF_ENOMEM, "out of memory");
    a->queue.fd = -1;
    a->exit = WK_AGENT_STOPPED;
    a->topo = cfg->topology;
    a->cert = cfg->cert;
    a->server_cert = cfg->server_cert;
    a->progress_period_ns = cfg->progress_hz > 0 ? (uint64_t)(1e9 / cfg->progress_hz) : 0;
    if (cfg->progress_hz > 0 && !a->progress_period_ns)
        a->progress_period_ns = 1; /* absurd rates mean "every report" */
    a->grace = cfg->heartbeat_grace ? cfg->heartbeat_grace : 3;
    a->retry_refused = cfg->retry_refused;
    a->quiet = cfg->quiet;
    a->max_tasks = cfg->max_tasks;
    a->endpoint = strdup(cfg->coordinator);
    a->id = strdup(cfg->id);
    a->functions_dir = dup_or_null(cfg->functions_dir);
    a->data_root = dup_or_null(cfg->data_root);
    a->reg = wk_registry_new();
    a->spare = calloc(1, sizeof *a->spare);
    msgpack_sbuffer_init(&a->sbuf);
    zmq_msg_init(&a->rx);
    sf_rc rc = SF_ENOMEM;
    if (!a->endpoint || !a->id || (cfg->functions_dir && !a->functions_dir) ||
        (cfg->data_root && !a->data_root) || !a->reg || !a->spare) {
        sf_errf(err, errlen, rc, "out of memory");
        goto fail;
    }
    a->spare->agent = a;
    a->spare->inline_run = true;
    if ((rc = wk_registry_add_builtin(a->reg, a->functions_dir != NULL)) != SF_OK) {
        sf_errf(err, errlen, rc, "cannot register the built-in kernels: %s", sf_rc_str(rc));
        goto fail;
    }
    if ((rc = pick_nodes(a, cfg->numa_node, err, errlen)) != SF_OK ||
        (rc = build_hello(a, cfg->numa_node, err, errlen)) != SF_OK)
        goto fail;
    if ((rc = wk_queue_init(&a->queue)) != SF_OK) {
        sf_errf(err, errlen, rc, "cannot make an eventfd: %s", strerror(errno));
        goto fail;
    }
    char why[256] = "";
    if ((rc = wk_executor_start(a->topo, cfg->numa_node, cfg->bind, &a->exec, why, sizeof why)) !=
        SF_OK) {
        sf_errf(err, errlen, rc, "cannot start the executors: %s%s", why,
                cfg->bind ? " (--no-bind runs without pinning)" : "");
        goto fail;
    }
    srandom((unsigned)(wk_now_ns() ^ (uint64_t)getpid()));
    *out = a;
    return SF_OK;
fail:
    wk_agent_destroy(&a);
    return rc;
}

void wk_agent_stop(wk_agent *a)
{
    atomic_store(&a->stop, 1);
    if (a->queue.fd >= 0)
        wk_queue_wake(&a->queue);
}

static void begin_stop(wk_agent *a, uint64_t now)
{
    a->stopping = true;
    a->stop_deadline_ns = now + (uint64_t)STOP_GRACE_MS * 1000000u;
    wk_log(a, false, "stopping: cancelling %zu running tasks", a->tasks.live);
    wk_tasks_cancel_all(a, WK_CANCEL_STOPPING);
}

wk_agent_exit wk_agent_run(wk_agent *a)
{
    wk_conn_open(a, wk_now_ns());
    while (!a->done) {
        uint64_t now = wk_now_ns();
        if (atomic_load(&a->stop) && !a->stopping)
            begin_stop(a, now);
        if (a->stopping) {
            /* answered, or no one left to answer */
            if (a->tasks.live == 0 || !wk_conn_ready(a))
                break;
            if (now >= a->stop_deadline_ns) {
                wk_log(a, true, "%zu tasks did not stop within %d ms; leaving without answers",
                       a->tasks.live, STOP_GRACE_MS);
                break;
            }
        }
        zmq_pollitem_t items[2] = {{.socket = NULL, .fd = a->queue.fd, .events = ZMQ_POLLIN},
                                   {.socket = a->raw, .events = ZMQ_POLLIN}};
        int timeout = wk_conn_poll_ms(a, now);
        if (a->stopping && timeout > 100)
            timeout = 100;
        if (zmq_poll(items, a->raw ? 2 : 1, timeout) < 0 && errno != EINTR) {
            wk_log(a, true, "poll failed: %s", zmq_strerror(errno));
            a->exit = WK_AGENT_FAILED;
            break;
        }
        now = wk_now_ns();
        if (a->raw && (items[1].revents & ZMQ_POLLIN))
            wk_conn_recv_all(a, now);
        if (items[0].revents & ZMQ_POLLIN)
            wk_tasks_drain(a);
        wk_conn_timers(a, now);
    }
    /* Let the last answers leave; zmq_ctx_term at exit waits this long. */
    wk_conn_close(a, a->exit == WK_AGENT_STOPPED ? STOP_LINGER_MS : 0);
    return a->exit;
}

void wk_agent_destroy(wk_agent **pa)
{
    wk_agent *a = pa ? *pa : NULL;
    if (!a)
        return;
    wk_conn_close(a, 0);
    /* Kernels still running finish (cancelled) before their tasks are freed
     * with the queue. */
    wk_tasks_cancel_all(a, WK_CANCEL_LOST);
    wk_executor_stop(&a->exec);
    wk_queue_cleanup(&a->queue);
    sf_hmap_free(&a->tasks);
    wk_task_free(a->spare);
    wk_registry_destroy(&a->reg);
    free(a->hello.kernels);
    free(a->hello.gpus);
    free(a->nodes);
    zmq_msg_close(&a->rx);
    msgpack_sbuffer_destroy(&a->sbuf);
    free(a->endpoint);
    free(a->id);
    free(a->functions_dir);
    free(a->data_root);
    free(a);
    *pa = NULL;
}

void wk_agent_kernels(const wk_agent *a, char *buf, size_t len)
{
    wk_registry_list(a->reg, buf, len);
}

uint32_t wk_agent_max_tasks(const wk_agent *a)
{
    return a->max_tasks;
}
