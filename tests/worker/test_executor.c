/* tests/worker/test_executor.c - per-node pools of (pinned) threads.
 *
 * Jobs run on the pool of the node they were sent to, in the order they
 * were sent, each pool counts what it holds, and stopping runs everything
 * already accepted. On this machine a pinned job sits on its core's CPUs. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_ISSET */
#include <criterion/criterion.h>
#include <hwloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "worker/executor.h"

#define TWO_BY_TWO "synthetic:package:2 numa:2 core:4 pu:2"
/* Two nodes of one single-PU core each: one thread per pool, so the order
 * jobs start in is the order they were taken from the queue. */
#define ONE_CORE_NODES "synthetic:numa:2 core:1 pu:1"

static wk_topology *load_ok(const char *spec)
{
    wk_topology *t = NULL;
    char err[256] = "";
    cr_assert_eq(wk_topology_load(spec, &t, err, sizeof err), SF_OK, "%s", err);
    return t;
}

static wk_executor *start_ok(const wk_topology *t, int only, bool bind)
{
    wk_executor *x = NULL;
    char err[256] = "";
    sf_rc rc = wk_executor_start(t, only, bind, &x, err, sizeof err);
    cr_assert_eq(rc, SF_OK, "%s (%s)", err, sf_rc_str(rc));
    cr_assert_not_null(x);
    return x;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls until node's load is want, for up to five seconds. */
static bool load_becomes(wk_executor *x, unsigned node, size_t want)
{
    for (int i = 0; i < 5000; i++) {
        if (wk_executor_load(x, node) == want)
            return true;
        sleep_ms(1);
    }
    return false;
}

/* Where each job ran, and in what order jobs started. */
typedef struct {
    pthread_mutex_t mu;
    int order[256];
    unsigned nstarted;
} journal;

typedef struct {
    journal *j;
    int id;
    unsigned node, core; /* where it ran */
    char cpus[256];      /* its thread's CPUs, when asked for */
    bool want_cpus;
} job_rec;

static void thread_cpulist(char *buf, size_t len);

static void record(void *arg, unsigned node, unsigned core)
{
    job_rec *r = arg;
    r->node = node;
    r->core = core;
    if (r->want_cpus)
        thread_cpulist(r->cpus, sizeof r->cpus);
    pthread_mutex_lock(&r->j->mu);
    r->j->order[r->j->nstarted++] = r->id;
    pthread_mutex_unlock(&r->j->mu);
}

Test(executor, jobs_run_on_their_nodes_pool)
{
    wk_topology *t = load_ok(TWO_BY_TWO);
    wk_executor *x = start_ok(t, -1, false);
    journal j = {.mu = PTHREAD_MUTEX_INITIALIZER};
    job_rec recs[64];
    for (int i = 0; i < 64; i++) {
        recs[i] = (job_rec){.j = &j, .id = i, .node = 99, .core = 99};
        cr_assert_eq(wk_executor_submit(x, (unsigned)i % 4, record, &recs[i]), SF_OK);
    }
    wk_executor_stop(&x);
    cr_expect_null(x);
    cr_expect_eq(j.nstarted, 64);
    for (int i = 0; i < 64; i++) {
        cr_expect_eq(recs[i].node, (unsigned)i % 4, "job %d ran on node %u", i, recs[i].node);
        cr_expect_lt(recs[i].core, 4, "job %d ran on core %u", i, recs[i].core);
    }
    wk_topology_free(&t);
}

Test(executor, each_node_runs_its_jobs_in_fifo_order)
{
    wk_topology *t = load_ok(ONE_CORE_NODES);
    wk_executor *x = start_ok(t, -1, false);
    journal j[2] = {{.mu = PTHREAD_MUTEX_INITIALIZER}, {.mu = PTHREAD_MUTEX_INITIALIZER}};
    job_rec recs[200];
    for (int i = 0; i < 200; i++) {
        unsigned node = (unsigned)i % 2;
        recs[i] = (job_rec){.j = &j[node], .id = i};
        cr_assert_eq(wk_executor_submit(x, node, record, &recs[i]), SF_OK);
    }
    wk_executor_stop(&x);
    for (unsigned node = 0; node < 2; node++) {
        cr_assert_eq(j[node].nstarted, 100);
        for (int k = 0; k < 100; k++)
            cr_expect_eq(j[node].order[k], 2 * k + (int)node, "node %u's job %d", node, k);
    }
    wk_topology_free(&t);
}

/* A job that holds its thread until the test opens the gate. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    int ran;
} gate;

static void wait_at_gate(void *arg, unsigned node, unsigned core)
{
    gate *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    g->ran++;
    pthread_mutex_unlock(&g->mu);
}

static void open_gate(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

Test(executor, load_counts_queued_and_running_jobs)
{
    wk_topology *t = load_ok(TWO_BY_TWO);
    wk_executor *x = start_ok(t, -1, false);
    gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    /* Node 1 has four threads: four jobs run (blocked), six wait. */
    for (int i = 0; i < 10; i++)
        cr_assert_eq(wk_executor_submit(x, 1, wait_at_gate, &g), SF_OK);
    cr_expect_eq(wk_executor_load(x, 1), 10);
    cr_expect_eq(wk_executor_load(x, 0), 0, "other nodes are untouched");
    cr_expect_eq(wk_executor_load(x, 2), 0);
    open_gate(&g);
    cr_expect(load_becomes(x, 1, 0), "load is %zu", wk_executor_load(x, 1));
    wk_executor_stop(&x);
    cr_expect_eq(g.ran, 10);
    wk_topology_free(&t);
}

static void *open_gate_later(void *arg)
{
    sleep_ms(50);
    open_gate(arg);
    return NULL;
}

Test(executor, stop_runs_every_queued_job_first)
{
    wk_topology *t = load_ok(ONE_CORE_NODES);
    wk_executor *x = start_ok(t, -1, false);
    gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    for (int i = 0; i < 20; i++)
        cr_assert_eq(wk_executor_submit(x, 0, wait_at_gate, &g), SF_OK);
    cr_expect_eq(wk_executor_load(x, 0), 20);
    /* Opened only once stop has begun, so stop itself must wait for all 20. */
    pthread_t opener;
    cr_assert_eq(pthread_create(&opener, NULL, open_gate_later, &g), 0);
    wk_executor_stop(&x);
    cr_expect_eq(g.ran, 20);
    pthread_join(opener, NULL);
    wk_topology_free(&t);
}

/* A job that, while the executor drains, tries to queue another. */
typedef struct {
    wk_executor *x;
    sf_rc rc;
} resubmit;

static void noop(void *arg, unsigned node, unsigned core)
{
}

static void submit_again(void *arg, unsigned node, unsigned core)
{
    resubmit *r = arg;
    /* Accepted until stop begins (it cannot finish while this job runs);
     * the first refusal must say why. */
    for (int i = 0; i < 5000; i++) {
        r->rc = wk_executor_submit(r->x, node, noop, NULL);
        if (r->rc != SF_OK)
            return;
        sleep_ms(1);
    }
}

Test(executor, submitting_while_stopping_is_refused)
{
    wk_topology *t = load_ok(ONE_CORE_NODES);
    wk_executor *x = start_ok(t, -1, false);
    resubmit r = {.x = x, .rc = SF_OK};
    cr_assert_eq(wk_executor_submit(x, 1, submit_again, &r), SF_OK);
    wk_executor_stop(&x);
    cr_expect_eq(r.rc, SF_ESTATE, "got %s", sf_rc_str(r.rc));
    wk_topology_free(&t);
}

Test(executor, only_one_node_gets_a_pool)
{
    wk_topology *t = load_ok(TWO_BY_TWO);
    wk_executor *x = start_ok(t, 2, false);
    journal j = {.mu = PTHREAD_MUTEX_INITIALIZER};
    job_rec rec = {.j = &j, .node = 99};
    cr_expect_eq(wk_executor_submit(x, 0, record, &rec), SF_EINVAL, "node 0 has no pool");
    cr_expect_eq(wk_executor_submit(x, 4, record, &rec), SF_EINVAL, "there is no node 4");
    cr_expect_eq(wk_executor_submit(x, 2, NULL, &rec), SF_EINVAL, "a job needs a function");
    cr_assert_eq(wk_executor_submit(x, 2, record, &rec), SF_OK);
    wk_executor_stop(&x);
    cr_expect_eq(rec.node, 2);
    cr_expect_eq(j.nstarted, 1);
    wk_topology_free(&t);
}

Test(executor, start_refuses_what_it_cannot_do)
{
    wk_topology *t = load_ok(TWO_BY_TWO);
    wk_executor *x = (wk_executor *)&x; /* must come back NULL */
    char err[256] = "";
    cr_expect_eq(wk_executor_start(t, 4, false, &x, err, sizeof err), SF_EINVAL);
    cr_expect_null(x);
    cr_expect(strstr(err, "node 4") != NULL, "err: %s", err);
    cr_expect_eq(wk_executor_start(t, -1, true, &x, err, sizeof err), SF_EUNSUPPORTED);
    cr_expect_null(x);
    cr_expect(strstr(err, "pin") != NULL, "err: %s", err);
    wk_executor_stop(&x); /* NULL-safe */
    wk_topology_free(&t);
}

/* The calling thread's CPUs as a kernel cpulist ("0-3,8"). */
static void thread_cpulist(char *buf, size_t len)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    size_t at = 0;
    buf[0] = '\0';
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &set))
            continue;
        int last = cpu;
        while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, &set))
            last++;
        int n = last == cpu ? snprintf(buf + at, len - at, "%s%d", at ? "," : "", cpu)
                            : snprintf(buf + at, len - at, "%s%d-%d", at ? "," : "", cpu, last);
        if (n < 0 || (size_t)n >= len - at)
            return;
        at += (size_t)n;
        cpu = last;
    }
}

/* Every CPU of the list `part` is in the list `whole` (both cpulists). */
static bool cpulist_within(const char *part, const char *whole)
{
    hwloc_bitmap_t a = hwloc_bitmap_alloc(), b = hwloc_bitmap_alloc();
    bool ok = a && b && hwloc_bitmap_list_sscanf(a, part) == 0 &&
              hwloc_bitmap_list_sscanf(b, whole) == 0 && hwloc_bitmap_isincluded(a, b);
    hwloc_bitmap_free(a);
    hwloc_bitmap_free(b);
    return ok;
}

Test(executor, pinned_jobs_here_run_on_their_cores_cpus)
{
    wk_topology *t = load_ok(NULL);
    wk_executor *x = start_ok(t, -1, true);
    journal j = {.mu = PTHREAD_MUTEX_INITIALIZER};
    job_rec recs[32];
    unsigned nodes = wk_topology_nodes(t), n = 0;
    for (int i = 0; i < 32; i++) {
        unsigned node = (unsigned)i % nodes;
        if (wk_topology_node(t, node)->ncores == 0)
            continue;
        recs[n] = (job_rec){.j = &j, .id = i, .node = 99, .want_cpus = true};
        cr_assert_eq(wk_executor_submit(x, node, record, &recs[n]), SF_OK);
        n++;
    }
    wk_executor_stop(&x);
    cr_assert_eq(j.nstarted, n);
    for (unsigned i = 0; i < n; i++) {
        char core_cpus[256], node_cpus[256];
        cr_assert_eq(
            wk_topology_core_cpulist(t, recs[i].node, recs[i].core, core_cpus, sizeof core_cpus),
            SF_OK);
        cr_assert_eq(wk_topology_node_cpulist(t, recs[i].node, node_cpus, sizeof node_cpus), SF_OK);
        cr_expect_str_eq(recs[i].cpus, core_cpus, "job %d on node %u core %u", recs[i].id,
                         recs[i].node, recs[i].core);
        cr_expect(cpulist_within(recs[i].cpus, node_cpus), "job %d ran on %s, node has %s",
                  recs[i].id, recs[i].cpus, node_cpus);
    }
    wk_topology_free(&t);
}
