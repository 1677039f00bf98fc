/* worker/executor.c - see executor.h.
 *
 * Each pool is a mutex, a condition variable and a singly linked FIFO; its
 * threads take jobs from the head in turn. A job counts towards the load
 * from submit until its function returns: it moves from queued to running
 * under the pool's lock, so the sum never dips in between.
 *
 * Threads bind themselves (binding is per thread) and report to the
 * starter before taking any job, so a refused binding fails the start
 * instead of leaving an unpinned thread behind. Nodes that own no cores
 * (CPU-less memory nodes) get no pool: nothing could run their jobs.
 *
 * Stopping lets every queued job run: a job accepted by submit always runs.
 * No submit may start once wk_executor_stop has returned (the executor is
 * gone); one racing with stop, or made from a draining job, gets SF_ESTATE. */
#include "worker/executor.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* A hard cap on each node's queue, so a flood of submissions fails fast
 * with SF_ELIMIT instead of exhausting memory. */
#define WK_QUEUE_MAX 65536

typedef struct wk_job {
    wk_job_fn fn;
    void *arg;
    struct wk_job *next;
} wk_job;

typedef struct wk_pool wk_pool;

typedef struct wk_thread {
    wk_pool *pool;
    unsigned core;
    pthread_t id;
} wk_thread;

struct wk_pool {
    wk_executor *x;
    unsigned node;
    pthread_mutex_t mu;
    pthread_cond_t work; /* a job was queued, or stopping was set */
    wk_job *head, *tail;
    size_t queued, running;
    bool stopping;
    wk_thread *threads;
    unsigned nthreads; /* started, hence to be joined */
};

struct wk_executor {
    const wk_topology *t;
    bool bind;
    wk_pool *pools; /* one per node; those with no threads take no jobs */
    unsigned npools;
    /* Start-up handshake: each thread reports its binding here once. */
    pthread_mutex_t start_mu;
    pthread_cond_t started;
    unsigned reported;
    sf_rc start_rc;
    char start_err[256];
};

static void report_start(wk_executor *x, sf_rc rc, const char *err)
{
    pthread_mutex_lock(&x->start_mu);
    if (rc != SF_OK && x->start_rc == SF_OK) {
        x->start_rc = rc;
        snprintf(x->start_err, sizeof x->start_err, "%s", err);
    }
    x->reported++;
    pthread_cond_signal(&x->started);
    pthread_mutex_unlock(&x->start_mu);
}

static void *pool_main(void *arg)
{
    wk_thread *self = arg;
    wk_pool *pool = self->pool;
    wk_executor *x = pool->x;
    char err[256] = "";
    sf_rc rc = SF_OK;
    if (x->bind)
        rc = wk_topology_bind_thread(x->t, pool->node, self->core, err, sizeof err);
    report_start(x, rc, err);

    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (!pool->head && !pool->stopping)
            pthread_cond_wait(&pool->work, &pool->mu);
        wk_job *job = pool->head;
        if (!job)
            break; /* stopping, and the queue is drained */
        pool->head = job->next;
        if (!pool->head)
            pool->tail = NULL;
        pool->queued--;
        pool->running++;
        pthread_mutex_unlock(&pool->mu);

        job->fn(job->arg, pool->node, self->core);
        free(job);

        pthread_mutex_lock(&pool->mu);
        pool->running--;
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

/* Sets every pool stopping, joins whatever threads started, frees all.
 * Works on a half-started executor: pools past the first failure have no
 * threads and were never initialised (x->npools counts those that were). */
static void teardown(wk_executor *x)
{
    for (unsigned i = 0; i < x->npools; i++) {
        wk_pool *pool = &x->pools[i];
        pthread_mutex_lock(&pool->mu);
        pool->stopping = true;
        pthread_cond_broadcast(&pool->work);
        pthread_mutex_unlock(&pool->mu);
    }
    for (unsigned i = 0; i < x->npools; i++) {
        wk_pool *pool = &x->pools[i];
        for (unsigned k = 0; k < pool->nthreads; k++)
            pthread_join(pool->threads[k].id, NULL);
        /* Threads exit only with the queue empty, so nothing is left. */
        pthread_cond_destroy(&pool->work);
        pthread_mutex_destroy(&pool->mu);
        free(pool->threads);
    }
    pthread_cond_destroy(&x->started);
    pthread_mutex_destroy(&x->start_mu);
    free(x->pools);
    free(x);
}

static sf_rc pool_start(wk_executor *x, wk_pool *pool, char *err, size_t errlen)
{
    const wk_node *node = wk_topology_node(x->t, pool->node);
    if (node->ncores == 0)
        return SF_OK;
    pool->threads = calloc(node->ncores, sizeof *pool->threads);
    if (!pool->threads) {
        snprintf(err, errlen, "out of memory for node %u's %u threads", pool->node, node->ncores);
        return SF_ENOMEM;
    }
    for (unsigned c = 0; c < node->ncores; c++) {
        wk_thread *th = &pool->threads[c];
        th->pool = pool;
        th->core = c;
        if (pthread_create(&th->id, NULL, pool_main, th) != 0) {
            snprintf(err, errlen, "cannot start the thread for node %u core %u", pool->node, c);
            return SF_ENOMEM;
        }
        pool->nthreads++;
    }
    return SF_OK;
}

sf_rc wk_executor_start(const wk_topology *t, int only, bool bind, wk_executor **out, char *err,
                        size_t errlen)
{
    char scratch[1];
    if (!err || errlen == 0) {
        err = scratch;
        errlen = sizeof scratch;
    }
    if (!t || !out) {
        snprintf(err, errlen, "wk_executor_start needs a topology and a place for the executor");
        return SF_EINVAL;
    }
    *out = NULL;
    unsigned nnodes = wk_topology_nodes(t);
    if (only >= 0 && (unsigned)only >= nnodes) {
        snprintf(err, errlen, "no node %d: the topology has %u nodes", only, nnodes);
        return SF_EINVAL;
    }
    if (only >= 0 && wk_topology_node(t, (unsigned)only)->ncores == 0) {
        snprintf(err, errlen, "node %d has no cores to run jobs on", only);
        return SF_EINVAL;
    }
    if (bind && !wk_topology_is_this_machine(t)) {
        snprintf(err, errlen, "cannot pin threads on a topology that is not this machine's");
        return SF_EUNSUPPORTED;
    }

    wk_executor *x = calloc(1, sizeof *x);
    wk_pool *pools = calloc(nnodes, sizeof *pools);
    if (!x || !pools) {
        free(x);
        free(pools);
        snprintf(err, errlen, "out of memory for an executor of %u nodes", nnodes);
        return SF_ENOMEM;
    }
    x->t = t;
    x->bind = bind;
    x->pools = pools;
    pthread_mutex_init(&x->start_mu, NULL);
    pthread_cond_init(&x->started, NULL);

    sf_rc rc = SF_OK;
    unsigned expected = 0;
    for (unsigned i = 0; i < nnodes && rc == SF_OK; i++) {
        wk_pool *pool = &pools[i];
        pool->x = x;
        pool->node = i;
        pthread_mutex_init(&pool->mu, NULL);
        pthread_cond_init(&pool->work, NULL);
        x->npools++;
        if (only < 0 || (unsigned)only == i)
            rc = pool_start(x, pool, err, errlen);
        expected += pool->nthreads;
    }

    pthread_mutex_lock(&x->start_mu);
    while (x->reported < expected)
        pthread_cond_wait(&x->started, &x->start_mu);
    if (rc == SF_OK && x->start_rc != SF_OK) {
        rc = x->start_rc;
        snprintf(err, errlen, "%s", x->start_err);
    }
    pthread_mutex_unlock(&x->start_mu);
    if (rc == SF_OK && expected == 0) {
        snprintf(err, errlen, "no node of the topology has a core to run jobs on");
        rc = SF_EINVAL;
    }
    if (rc != SF_OK) {
        teardown(x);
        return rc;
    }
    *out = x;
    return SF_OK;
}

sf_rc wk_executor_submit(wk_executor *x, unsigned node, wk_job_fn fn, void *arg)
{
    if (!x || !fn || node >= x->npools || x->pools[node].nthreads == 0)
        return SF_EINVAL;
    wk_pool *pool = &x->pools[node];
    wk_job *job = malloc(sizeof *job);
    if (!job)
        return SF_ENOMEM;
    job->fn = fn;
    job->arg = arg;
    job->next = NULL;

    sf_rc rc = SF_OK;
    pthread_mutex_lock(&pool->mu);
    if (pool->stopping) {
        rc = SF_ESTATE;
    } else if (pool->queued >= WK_QUEUE_MAX) {
        rc = SF_ELIMIT;
    } else {
        if (pool->tail)
            pool->tail->next = job;
        else
            pool->head = job;
        pool->tail = job;
        pool->queued++;
        pthread_cond_signal(&pool->work);
    }
    pthread_mutex_unlock(&pool->mu);
    if (rc != SF_OK)
        free(job);
    return rc;
}

size_t wk_executor_load(wk_executor *x, unsigned node)
{
    if (!x || node >= x->npools)
        return 0;
    wk_pool *pool = &x->pools[node];
    pthread_mutex_lock(&pool->mu);
    size_t load = pool->queued + pool->running;
    pthread_mutex_unlock(&pool->mu);
    return load;
}

void wk_executor_stop(wk_executor **xp)
{
    if (!xp || !*xp)
        return;
    teardown(*xp);
    *xp = NULL;
}
