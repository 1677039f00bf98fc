/* worker/agent_admit.c - whether a task can run here, and on which node.
 *
 * The checks go from what can never work on this worker (no such kernel,
 * more cores than any node has, no GPU) to what is true only now (full),
 * so the cause names the deepest reason: a coordinator may retry "at
 * capacity" elsewhere or later, but not "no such kernel". */
#include "worker/agent_admit.h"

#include <stdio.h>
#include <string.h>

const char *wk_admit_kernel_field(const fleet_task *t)
{
    return t->kernel && t->kernel[0] ? t->kernel : t->resource ? t->resource : "";
}

static double gib(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0 * 1024.0);
}

/* Whether node s could ever hold the task, whatever else runs there. */
static bool fits(const wk_node_slot *s, const fleet_requirements *req, unsigned cores)
{
    return cores <= s->ncores && (!req->gpu || s->gpu) &&
           (!s->memory_bytes || req->memory_bytes <= s->memory_bytes);
}

/* Names the first requirement no node meets. */
static void explain_misfit(const wk_caps *c, const fleet_requirements *req, unsigned cores,
                           asl_err *err)
{
    unsigned most_cores = 0;
    uint64_t most_mem = 0;
    bool any_gpu = false, mem_known = true;
    for (size_t i = 0; i < c->n_nodes; i++) {
        const wk_node_slot *s = &c->nodes[i];
        most_cores = s->ncores > most_cores ? s->ncores : most_cores;
        most_mem = s->memory_bytes > most_mem ? s->memory_bytes : most_mem;
        any_gpu |= s->gpu;
        mem_known &= s->memory_bytes != 0;
    }
    if (cores > most_cores)
        asl_err_set(err, "States.TaskFailed",
                    "the task needs %u cores on one NUMA node, and worker %s has at most %u "
                    "per node",
                    cores, c->worker_id, most_cores);
    else if (req->gpu && !any_gpu)
        asl_err_set(err, "States.TaskFailed", "the task needs a GPU, and worker %s has none",
                    c->worker_id);
    else if (mem_known && req->memory_bytes > most_mem)
        asl_err_set(err, "States.TaskFailed",
                    "the task needs %.1f GiB of memory on one NUMA node, and worker %s has at "
                    "most %.1f GiB per node",
                    gib(req->memory_bytes), c->worker_id, gib(most_mem));
    else
        asl_err_set(err, "States.TaskFailed", "no NUMA node of worker %s has %u cores%s%s together",
                    c->worker_id, cores, req->gpu ? ", a GPU" : "",
                    req->memory_bytes ? " and the memory asked" : "");
}

/* The fitting node with the most free cores; ties: fewest tasks, then the
 * lowest index. Free cores may be negative when a node is oversubscribed. */
static size_t place(const wk_caps *c, const fleet_requirements *req, unsigned cores)
{
    size_t best = SIZE_MAX;
    long best_free = 0;
    for (size_t i = 0; i < c->n_nodes; i++) {
        const wk_node_slot *s = &c->nodes[i];
        if (!fits(s, req, cores))
            continue;
        long free_cores = (long)s->ncores - (long)s->used_cores;
        if (best == SIZE_MAX || free_cores > best_free ||
            (free_cores == best_free && s->running < c->nodes[best].running)) {
            best = i;
            best_free = free_cores;
        }
    }
    return best;
}

sf_rc wk_admit(const wk_caps *c, const fleet_task *t, wk_admission *out, asl_err *err)
{
    *out = (wk_admission){.slot = SIZE_MAX};
    if (c->stopping) {
        asl_err_set(err, "States.TaskFailed", "worker %s is shutting down", c->worker_id);
        return SF_EINVAL;
    }
    const char *field = wk_admit_kernel_field(t);
    const wk_kernel *k = wk_registry_find(c->reg, field);
    if (!k) {
        char names[1024];
        wk_registry_list(c->reg, names, sizeof names);
        int len = (int)(strchr(field, ':') ? (size_t)(strchr(field, ':') - field) : strlen(field));
        asl_err_set(err, "States.TaskFailed", "worker %s has no kernel '%.*s' (it runs: %s)",
                    c->worker_id, len, field, names);
        return SF_EINVAL;
    }
    unsigned cores = t->requirements.cores ? t->requirements.cores : 1;
    size_t slot = place(c, &t->requirements, cores);
    if (slot == SIZE_MAX) {
        explain_misfit(c, &t->requirements, cores, err);
        return SF_EINVAL;
    }
    if (c->running >= c->max_tasks) {
        asl_err_set(err, "States.TaskFailed",
                    "worker at capacity: %s runs %zu tasks, its most (--max %u)", c->worker_id,
                    c->running, c->max_tasks);
        return SF_EINVAL;
    }
    json_error_t je;
    json_t *input = json_loads(t->input ? t->input : "", JSON_DECODE_ANY, &je);
    if (!input) {
        asl_err_set(err, "States.TaskFailed", "the task input is not JSON (line %d, column %d: %s)",
                    je.line, je.column, je.text);
        return SF_EINVAL;
    }
    *out = (wk_admission){.kernel = k, .input = input, .slot = slot, .cores = cores};
    return SF_OK;
}
