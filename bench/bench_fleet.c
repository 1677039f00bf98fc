/* bench/bench_fleet.c - the coordinator's worker fleet: tasks/s, round trip,
 * progress/s.
 *
 * Drives coordinator/fleet through its public API (fleet.h) against real
 * statefleet-worker processes started here, and prints each figure as a
 * ratio against a raw ZeroMQ baseline measured in the same run with the
 * same frame sizes, transport, processes and threads (fleet_raw.c), which
 * is the most this machine's ZeroMQ could give:
 *
 *   (1) pipelined noop tasks: a window of W tasks kept in flight over two
 *       workers, results counted per second once the window is full.
 *       Baseline: a ROUTER thread and two DEALER echo processes.
 *   (2) one task's round trip, one at a time, fleet_submit to the result
 *       hook: min, p50, p99, p999. The submitting thread is pinned to the
 *       first CPU this process may use, the worker process (every thread
 *       of it) to the last; the fleet's thread and ZeroMQ's I/O threads
 *       float. Baseline: ROUTER ping thread and DEALER echo process, pinned
 *       the same way.
 *   (3) progress reports ingested: this program plays a worker through
 *       proto's codec (hello, welcome, one task) and streams progress for
 *       that task as fast as ZeroMQ takes it; the fleet's progress hooks
 *       are counted per second. Baseline: a DEALER streaming frames of the
 *       same size into a ROUTER thread.
 *
 * Correctness is checked (every task answered once, every progress report
 * delivered); speed is only printed, never asserted. Exit 1 when a phase
 * went wrong, 2 on bad usage.
 *
 * Transport: tcp on 127.0.0.1 by default, ipc with --ipc; either way the
 * same for the fleet and its baseline. About 10 s by default; --smoke runs
 * tiny sizes (the ctest entry bench_fleet_smoke); bench/fleet.sh repeats
 * runs and prints the spread.
 *
 *   bench_fleet [--seconds S] [--window W] [--samples N] [--progress N]
 *       [--ipc] [--feed thread|hook] [--input JSON] [--worker PATH]
 *       [--only 1|2|3] [--no-baselines] [--smoke] */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "coordinator/fleet/fleet.h"
#include "fleet_raw.h"

#ifndef SF_WORKER_BIN
#define SF_WORKER_BIN "statefleet-worker"
#endif

#define RESOURCE "arn:aws:states:::statefleet:runKernel"
#define WORKERS 2
#define JOIN_TIMEOUT_MS 10000
#define WAIT_TIMEOUT_S 60 /* a phase that has heard nothing for this long is broken */

/* Goals from the issue. */
#define GOAL_TASKS_PER_S 500000.0
#define GOAL_P50_NS 25000.0
#define GOAL_PROGRESS_PER_S 1000000.0

typedef struct options {
    double seconds;    /* (1) measured span */
    int window;        /* (1) tasks in flight */
    size_t samples;    /* (2) round trips recorded */
    uint64_t progress; /* (3) reports streamed */
    int ipc;           /* ipc sockets instead of tcp loopback */
    bool feed_hook;    /* (1) submit from the result hook, not from a thread */
    const char *input; /* each task's input, JSON text */
    const char *worker;
    char self[PATH_MAX]; /* this binary, re-executed as the raw echo peer */
    int first_cpu, last_cpu;
    int only;       /* run one phase, 1..3 (for profiling), or 0 for all */
    bool baselines; /* false: the fleet alone (for profiling) */
} options;

/* What the hooks (on the fleet's thread) and the measuring thread share. */
typedef struct run {
    fleet *f;
    fleet_job job;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint_fast64_t submitted, done, failures, progress;
    atomic_uint_fast64_t wait_for; /* wake the waiter once done reaches it */
    atomic_bool waiting;
    atomic_bool feed_from_hook;     /* the result hook submits the next task */
    atomic_uint_fast64_t result_ns; /* when the last result hook ran */
    uint64_t progress_expected;     /* (3): reports to be streamed */
    uint64_t progress_first_ns, progress_last_ns;
    char first_failure[256];
    bool submit_failed;
} run;

static void run_init(run *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void run_cleanup(run *r)
{
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

static bool submit(run *r)
{
    char err[256];
    atomic_fetch_add(&r->submitted, 1);
    if (fleet_submit(r->f, &r->job, err, sizeof err) != 0)
        return true;
    atomic_fetch_sub(&r->submitted, 1);
    if (!r->submit_failed)
        fprintf(stderr, "bench: fleet_submit: %s\n", err);
    r->submit_failed = true;
    return false;
}

/* A task finished: wake the waiter when it waits for this many. */
static void finished(run *r)
{
    uint64_t done = atomic_fetch_add(&r->done, 1) + 1;
    if (atomic_load(&r->waiting) && done >= atomic_load(&r->wait_for)) {
        pthread_mutex_lock(&r->mu);
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
}

static void on_result(void *ctx, fleet_ref ref, const char *output)
{
    run *r = ctx;
    atomic_store(&r->result_ns, bench_now_ns());
    if (atomic_load_explicit(&r->feed_from_hook, memory_order_relaxed))
        submit(r);
    finished(r);
}

static void on_failure(void *ctx, fleet_ref ref, const char *error, const char *cause)
{
    run *r = ctx;
    if (atomic_fetch_add(&r->failures, 1) == 0)
        snprintf(r->first_failure, sizeof r->first_failure, "%s: %s", error, cause);
    atomic_store(&r->result_ns, bench_now_ns());
    finished(r);
}

static void on_progress(void *ctx, fleet_ref ref, const fleet_progress *p)
{
    run *r = ctx;
    /* The clock only at the first and the last, so the hook costs the
     * fleet next to nothing. */
    uint64_t n = atomic_fetch_add_explicit(&r->progress, 1, memory_order_relaxed) + 1;
    if (n == 1)
        r->progress_first_ns = bench_now_ns();
    if (n == r->progress_expected)
        r->progress_last_ns = bench_now_ns();
}

/* Blocks until `target` tasks have finished; false after WAIT_TIMEOUT_S
 * with none finishing. The seq_cst order of waiting/done makes sure either
 * this side sees the count or the hook sees the flag. */
static bool wait_done(run *r, uint64_t target)
{
    pthread_mutex_lock(&r->mu);
    atomic_store(&r->wait_for, target);
    atomic_store(&r->waiting, true);
    uint64_t last = atomic_load(&r->done);
    while (atomic_load(&r->done) < target) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += WAIT_TIMEOUT_S;
        if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) == ETIMEDOUT) {
            if (atomic_load(&r->done) == last)
                break;
            last = atomic_load(&r->done);
        }
    }
    atomic_store(&r->waiting, false);
    pthread_mutex_unlock(&r->mu);
    return atomic_load(&r->done) >= target;
}

/* ---- fleet and workers -------------------------------------------------------- */

typedef struct rig {
    fleet *f;
    bench_endpoint ep;
    pid_t pids[WORKERS];
    int nworkers;
} rig;

static void rig_close(rig *g)
{
    bool ok = true;
    for (int i = 0; i < g->nworkers; i++) {
        int status = bench_stop_child(g->pids[i]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            ok = false;
    }
    if (!ok)
        fprintf(stderr, "bench: a worker did not exit cleanly after SIGTERM\n");
    g->nworkers = 0;
    fleet_close(&g->f);
    bench_endpoint_cleanup(&g->ep);
}

/* Opens a fleet on a fresh endpoint and, unless nworkers is 0, starts that
 * many statefleet-workers (pinned to cpu, or not with -1) and waits until
 * all have joined. */
static bool rig_open(rig *g, const options *o, run *r, int nworkers, int cpu)
{
    memset(g, 0, sizeof *g);
    fleet_hooks hooks = {
        .ctx = r, .progress = on_progress, .result = on_result, .failure = on_failure};
    char err[512];
    if (bench_endpoint_init(&g->ep, o->ipc, "fleet") != 0) {
        fprintf(stderr, "bench: cannot make an ipc directory: %s\n", strerror(errno));
        return false;
    }
    fleet_config cfg = {.endpoint = g->ep.bind, .quiet = true};
    if (fleet_open(&cfg, &hooks, &g->f, err, sizeof err) != SF_OK) {
        fprintf(stderr, "bench: fleet_open: %s\n", err);
        bench_endpoint_cleanup(&g->ep);
        return false;
    }
    r->f = g->f;
    char max[32];
    snprintf(max, sizeof max, "%d", o->window > 0 ? o->window : 1);
    for (int i = 0; i < nworkers; i++) {
        char id[32];
        snprintf(id, sizeof id, "bench-w%d", i);
        /* No progress from noop anyway; --no-bind: the bench pins, if anyone. */
        char *argv[] = {(char *)o->worker,
                        "--coordinator",
                        (char *)fleet_endpoint(g->f),
                        "--id",
                        id,
                        "--max",
                        max,
                        "--no-bind",
                        "--quiet",
                        "--progress-hz",
                        "0",
                        NULL};
        g->pids[g->nworkers] = bench_spawn(argv, cpu);
        if (g->pids[g->nworkers] < 0) {
            rig_close(g);
            return false;
        }
        g->nworkers++;
    }
    for (int ms = 0; (int)fleet_workers(g->f, NULL, 0) < nworkers; ms += 10) {
        int status;
        for (int i = 0; i < g->nworkers; i++)
            if (waitpid(g->pids[i], &status, WNOHANG) == g->pids[i]) {
                fprintf(stderr, "bench: %s exited (status %d) before joining\n", o->worker,
                        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
                g->pids[i] = g->pids[--g->nworkers];
                rig_close(g);
                return false;
            }
        if (ms >= JOIN_TIMEOUT_MS) {
            fprintf(stderr, "bench: workers did not join within %d ms\n", JOIN_TIMEOUT_MS);
            rig_close(g);
            return false;
        }
        usleep(10000);
    }
    return true;
}

static fleet_job noop_job(const options *o)
{
    return (fleet_job){.ref = {.a = 1, .b = 1},
                       .resource = RESOURCE,
                       .kernel = "noop",
                       .input = o->input,
                       .req = {.cores = 0}}; /* cores 0: the fleet may pipeline W per worker */
}

/* ---- (1) pipelined tasks -------------------------------------------------------- */

/* Tasks per second over o->seconds once the first window is back; -1 on
 * failure. */
static double fleet_pipelined(const options *o)
{
    run r;
    run_init(&r);
    rig g;
    double rate = -1;
    if (!rig_open(&g, o, &r, WORKERS, -1))
        goto out;
    r.job = noop_job(o);
    uint64_t w = (uint64_t)o->window, t0 = 0, base = 0, measured = 0, t1 = 0;
    uint64_t span = (uint64_t)(o->seconds * 1e9);
    atomic_store(&r.feed_from_hook, o->feed_hook);
    for (uint64_t i = 0; i < w; i++)
        if (!submit(&r))
            goto close;
    bool ok = true;
    while (ok && !t1) {
        if (o->feed_hook) {
            /* The hooks keep the window full; look at the clock every ms. */
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        } else {
            /* Refill in bursts of half a window: one wake-up per burst. */
            for (uint64_t k = atomic_load(&r.submitted) - atomic_load(&r.done); ok && k < w; k++)
                ok = submit(&r);
            ok = ok && wait_done(&r, atomic_load(&r.submitted) - w / 2);
        }
        uint64_t done = atomic_load(&r.done), now = bench_now_ns();
        if (!t0 && done >= w) {
            t0 = now;
            base = done;
        } else if (t0 && now - t0 >= span) {
            t1 = now;
            measured = done - base;
        }
    }
    atomic_store(&r.feed_from_hook, false);
    /* Drain: a hook may be submitting as the flag drops, so wait twice. */
    ok = ok && wait_done(&r, atomic_load(&r.submitted)) && wait_done(&r, atomic_load(&r.submitted));
    if (!ok || r.submit_failed || atomic_load(&r.failures)) {
        fprintf(stderr, "bench: (1) %llu of %llu tasks answered, %llu failed%s%s\n",
                (unsigned long long)atomic_load(&r.done),
                (unsigned long long)atomic_load(&r.submitted),
                (unsigned long long)atomic_load(&r.failures), r.first_failure[0] ? ": " : "",
                r.first_failure);
        goto close;
    }
    /* The fleet publishes its counters after the hooks of a batch ran. */
    fleet_stats st;
    for (int ms = 0; ms < 1000; ms++) {
        fleet_get_stats(g.f, &st);
        if (st.results == atomic_load(&r.submitted))
            break;
        usleep(1000);
    }
    if (st.results != atomic_load(&r.submitted) || st.dropped_messages) {
        fprintf(stderr, "bench: (1) fleet counted %llu results for %llu tasks, %llu dropped\n",
                (unsigned long long)st.results, (unsigned long long)atomic_load(&r.submitted),
                (unsigned long long)st.dropped_messages);
        goto close;
    }
    rate = (double)measured / ((double)(t1 - t0) * 1e-9);
close:
    rig_close(&g);
out:
    run_cleanup(&r);
    return rate;
}

/* ---- (2) round trip ------------------------------------------------------------- */

typedef struct rtt_job {
    run *r;
    int cpu, warmup;
    uint64_t *rtt_ns;
    size_t samples;
    bool ok;
} rtt_job;

static void *rtt_main(void *arg)
{
    rtt_job *j = arg;
    bench_pin_self(j->cpu);
    j->ok = true;
    for (size_t i = 0; j->ok && i < (size_t)j->warmup + j->samples; i++) {
        uint64_t t0 = bench_now_ns();
        j->ok = submit(j->r) && wait_done(j->r, i + 1);
        /* Submit to the hook, not to this thread waking up again. */
        uint64_t t1 = atomic_load(&j->r->result_ns);
        if (i >= (size_t)j->warmup)
            j->rtt_ns[i - (size_t)j->warmup] = t1 - t0;
    }
    return NULL;
}

static bool fleet_round_trips(const options *o, int warmup, uint64_t *rtt_ns)
{
    run r;
    run_init(&r);
    rig g;
    bool ok = false;
    if (rig_open(&g, o, &r, 1, o->last_cpu)) {
        r.job = noop_job(o);
        rtt_job j = {.r = &r,
                     .cpu = o->first_cpu,
                     .warmup = warmup,
                     .rtt_ns = rtt_ns,
                     .samples = o->samples};
        pthread_t t;
        if (pthread_create(&t, NULL, rtt_main, &j) == 0) {
            pthread_join(t, NULL);
            ok = j.ok && !atomic_load(&r.failures);
        }
        if (!ok)
            fprintf(stderr, "bench: (2) a round trip failed%s%s\n", r.first_failure[0] ? ": " : "",
                    r.first_failure);
        rig_close(&g);
    }
    run_cleanup(&r);
    return ok;
}

/* ---- (3) progress ingestion ----------------------------------------------------- */

static bool send_msg(void *sock, const fleet_msg *m, msgpack_sbuffer *sb)
{
    sb->size = 0;
    return fleet_msg_encode(m, sb) == SF_OK && zmq_send(sock, sb->data, sb->size, 0) >= 0;
}

/* Receives until a message of `type` comes (heartbeats may come first);
 * the message is decoded into m. */
static bool recv_type(void *sock, fleet_msg_type type, fleet_msg *m)
{
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    bool got = false;
    while (!got && zmq_msg_recv(&frame, sock, 0) >= 0) {
        char err[256];
        if (fleet_msg_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), m, err, sizeof err) ==
            SF_OK) {
            got = m->type == type;
            if (!got)
                fleet_msg_clear(m);
        }
    }
    zmq_msg_close(&frame);
    return got;
}

#define PROGRESS_RING 64 /* distinct encoded reports sent in turn */

static fleet_metric loss_metric = {.name = "train:objective_loss", .value = 0.5};

static fleet_msg progress_msg(uint64_t task_id, uint64_t i, uint64_t n)
{
    return (fleet_msg){.type = FLEET_PROGRESS,
                       .u.progress = {.task_id = task_id,
                                      .fraction = (double)i / (double)n,
                                      .records = i,
                                      .epoch = 1,
                                      .metrics = &loss_metric,
                                      .n_metrics = 1}};
}

/* This thread is the worker: a DEALER on its own ZeroMQ context, as a
 * worker process would have. Returns reports per second, or -1. */
static double fleet_progress_rate(const options *o)
{
    run r;
    run_init(&r);
    rig g;
    double rate = -1;
    if (!rig_open(&g, o, &r, 0, -1)) {
        run_cleanup(&r);
        return -1;
    }
    r.job = noop_job(o);
    r.progress_expected = o->progress;
    void *ctx = zmq_ctx_new(), *d = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, hwm = 1 * 2 + 1000, timeout = 10000; /* the worker's sizing for --max 1 */
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(d, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(d, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    char *kernels[] = {"noop"};
    fleet_msg hello = {.type = FLEET_HELLO,
                       .u.hello = {.worker_id = "bench-progress",
                                   .version = "bench",
                                   .kernels = kernels,
                                   .n_kernels = 1,
                                   .cores = 1,
                                   .numa_nodes = 1,
                                   .max_tasks = 1}};
    fleet_msg m = {0}, ring[PROGRESS_RING];
    unsigned char *frames[PROGRESS_RING] = {0};
    size_t lens[PROGRESS_RING];
    bool ok = zmq_connect(d, fleet_endpoint(g.f)) == 0 && send_msg(d, &hello, &sb) &&
              recv_type(d, FLEET_WELCOME, &m);
    fleet_msg_clear(&m);
    ok = ok && submit(&r) && recv_type(d, FLEET_TASK, &m);
    uint64_t id = m.u.task.task_id;
    fleet_msg_clear(&m);
    for (size_t i = 0; ok && i < PROGRESS_RING; i++) {
        ring[i] = progress_msg(id, i, PROGRESS_RING);
        sb.size = 0;
        ok = fleet_msg_encode(&ring[i], &sb) == SF_OK && (frames[i] = malloc(sb.size));
        if (ok) {
            memcpy(frames[i], sb.data, sb.size);
            lens[i] = sb.size;
        }
    }
    for (uint64_t i = 0; ok && i < o->progress; i++)
        ok = zmq_send(d, frames[i % PROGRESS_RING], lens[i % PROGRESS_RING], 0) >= 0;
    fleet_msg result = {.type = FLEET_RESULT, .u.result = {.task_id = id, .output = "{}"}};
    ok = ok && send_msg(d, &result, &sb) && wait_done(&r, 1);
    uint64_t got = atomic_load(&r.progress);
    if (!ok || got != o->progress || atomic_load(&r.failures))
        fprintf(stderr, "bench: (3) %llu of %llu progress reports arrived%s%s\n",
                (unsigned long long)got, (unsigned long long)o->progress,
                r.first_failure[0] ? "; " : "", r.first_failure);
    else
        rate = (double)(got - 1) / ((double)(r.progress_last_ns - r.progress_first_ns) * 1e-9);
    for (size_t i = 0; i < PROGRESS_RING; i++)
        free(frames[i]);
    msgpack_sbuffer_destroy(&sb);
    zmq_close(d);
    zmq_ctx_term(ctx);
    rig_close(&g);
    run_cleanup(&r);
    return rate;
}

/* ---- sizes, the machine, the report --------------------------------------------- */

static size_t encoded_size(const fleet_msg *m)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    size_t n = fleet_msg_encode(m, &sb) == SF_OK ? sb.size : 0;
    msgpack_sbuffer_destroy(&sb);
    return n;
}

static void cpu_model(char *out, size_t len)
{
    snprintf(out, len, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0) {
            char *v = strchr(line, ':');
            if (v) {
                v += strspn(v + 1, " \t") + 1;
                v[strcspn(v, "\n")] = '\0';
                snprintf(out, len, "%s", v);
            }
            break;
        }
    if (f)
        fclose(f);
}

static void load_average(char *out, size_t len)
{
    snprintf(out, len, "?");
    FILE *f = fopen("/proc/loadavg", "r");
    double a, b, c;
    if (f && fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
        snprintf(out, len, "%.2f %.2f %.2f", a, b, c);
    if (f)
        fclose(f);
}

static const char *verdict(bool met)
{
    return met ? "met" : "NOT met";
}

/* One rate next to its baseline; a phase that failed says so instead. */
static void report_rate(const char *who, double rate, const char *unit, double base, double goal)
{
    if (rate < 0) {
        printf("    %-44s failed (see above)\n", who);
        return;
    }
    if (goal <= 0) {
        printf("    %-44s %9.0f %s\n", who, rate, unit);
        return;
    }
    printf("    %-44s %9.0f %s  %5.2fx baseline  (goal %.0f/s: %s)\n", who, rate, unit,
           base > 0 ? rate / base : 0, goal, verdict(rate >= goal));
}

static void report_rtt(const char *who, uint64_t *v, size_t n)
{
    bench_sort_u64(v, n);
    printf("    %-44s min %6.1f  p50 %6.1f  p99 %6.1f  p999 %7.1f us\n", who, (double)v[0] / 1e3,
           (double)bench_percentile(v, n, 0.50) / 1e3, (double)bench_percentile(v, n, 0.99) / 1e3,
           (double)bench_percentile(v, n, 0.999) / 1e3);
}

static int usage(const char *why)
{
    if (why)
        fprintf(stderr, "bench_fleet: %s\n", why);
    fprintf(stderr,
            "usage: bench_fleet [--seconds S] [--window W] [--samples N] [--progress N]\n"
            "                   [--ipc] [--feed thread|hook] [--input JSON] [--worker PATH]\n"
            "                   [--only N] [--no-baselines] [--smoke]\n"
            "  --seconds S    (1) measured span, default 2\n"
            "  --window W     (1) tasks in flight, default 4096\n"
            "  --samples N    (2) round trips recorded, default 20000\n"
            "  --progress N   (3) progress reports streamed, default 500000\n"
            "  --ipc          ipc sockets instead of tcp on 127.0.0.1\n"
            "  --feed hook    (1) submit each next task from the result hook\n"
            "  --input JSON   each task's input, default {}\n"
            "  --worker PATH  statefleet-worker, default %s\n"
            "  --only N       run phase N (1, 2 or 3) alone\n"
            "  --no-baselines skip the raw ZeroMQ runs (to profile the fleet alone)\n"
            "  --smoke        tiny sizes: proves the bench runs, measures nothing\n",
            SF_WORKER_BIN);
    return 2;
}

static bool parse_options(int argc, char **argv, options *o)
{
    *o = (options){.seconds = 2,
                   .window = 4096,
                   .samples = 20000,
                   .progress = 500000,
                   .input = "{}",
                   .worker = SF_WORKER_BIN,
                   .baselines = true};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (strcmp(a, "--seconds") == 0 && v)
            o->seconds = atof(v);
        else if (strcmp(a, "--window") == 0 && v)
            o->window = atoi(v);
        else if (strcmp(a, "--samples") == 0 && v)
            o->samples = strtoull(v, NULL, 10);
        else if (strcmp(a, "--progress") == 0 && v)
            o->progress = strtoull(v, NULL, 10);
        else if (strcmp(a, "--feed") == 0 && v && (!strcmp(v, "thread") || !strcmp(v, "hook")))
            o->feed_hook = strcmp(v, "hook") == 0;
        else if (strcmp(a, "--input") == 0 && v)
            o->input = v;
        else if (strcmp(a, "--worker") == 0 && v)
            o->worker = v;
        else if (strcmp(a, "--only") == 0 && v)
            o->only = atoi(v);
        else if ((takes = false), strcmp(a, "--ipc") == 0)
            o->ipc = 1;
        else if (strcmp(a, "--no-baselines") == 0)
            o->baselines = false;
        else if (strcmp(a, "--smoke") == 0) {
            o->seconds = 0.05;
            o->window = 64;
            o->samples = 50;
            o->progress = 2000;
        } else
            return false;
        i += takes;
    }
    /* The session tracks at most 65536 tasks per worker. */
    return o->only >= 0 && o->only <= 3 && o->seconds > 0 && o->window >= 2 && o->window <= 65536 &&
           o->samples >= 1 && o->progress >= 2;
}

/* ---- the three phases, each baseline first ------------------------------------- */

static bool phase_pipelined(const options *o, size_t task_b, size_t result_b)
{
    printf("(1) pipelined noop tasks, %d workers, %d in flight, %.2f s, submitted from %s\n",
           WORKERS, o->window, o->seconds,
           o->feed_hook ? "the result hook" : "one thread (bursts of half the window)");
    double raw = o->baselines ? bench_raw_pipelined(o->self, o->ipc, WORKERS, task_b, result_b,
                                                    o->window, o->seconds)
                              : 0;
    double ours = fleet_pipelined(o);
    if (o->baselines)
        report_rate("raw ZeroMQ: ROUTER thread, 2 echo processes", raw, "frames/s", 0, 0);
    report_rate("fleet: 2 statefleet-worker processes", ours, "tasks/s", raw, GOAL_TASKS_PER_S);
    return raw >= 0 && ours >= 0;
}

static bool phase_round_trip(const options *o, size_t task_b, size_t result_b)
{
    int warmup = o->samples < 1000 ? (int)o->samples : 1000;
    uint64_t *raw = calloc(o->samples, sizeof *raw), *ours = calloc(o->samples, sizeof *ours);
    printf("(2) one task's round trip, one at a time, %zu samples after %d; submitter pinned to "
           "CPU %d, worker process to CPU %d\n",
           o->samples, warmup, o->first_cpu, o->last_cpu);
    bool ok = raw && ours &&
              (!o->baselines || bench_raw_pingpong(o->self, o->ipc, task_b, result_b, o->first_cpu,
                                                   o->last_cpu, warmup, raw, o->samples) == 0) &&
              fleet_round_trips(o, warmup, ours);
    if (ok) {
        if (o->baselines)
            report_rtt("raw ZeroMQ: ROUTER thread, 1 echo process", raw, o->samples);
        report_rtt("fleet: submit to result hook, 1 worker", ours, o->samples);
        double p50 = (double)bench_percentile(ours, o->samples, 0.5);
        double base = o->baselines ? (double)bench_percentile(raw, o->samples, 0.5) : 0;
        printf("    p50 %5.2fx baseline  (goal p50 <= %.0f us: %s)\n", base > 0 ? p50 / base : 0,
               GOAL_P50_NS / 1e3, verdict(p50 <= GOAL_P50_NS));
    }
    free(raw);
    free(ours);
    return ok;
}

static bool phase_progress(const options *o, size_t progress_b)
{
    printf("(3) progress reports ingested, %llu streamed by one DEALER thread (this program "
           "playing a worker)\n",
           (unsigned long long)o->progress);
    double raw = o->baselines ? bench_raw_stream(o->ipc, progress_b, o->progress) : 0;
    double ours = fleet_progress_rate(o);
    if (o->baselines)
        report_rate("raw ZeroMQ: DEALER thread into ROUTER thread", raw, "frames/s", 0, 0);
    report_rate("fleet: progress hooks", ours, "reports/s", raw, GOAL_PROGRESS_PER_S);
    return raw >= 0 && ours >= 0;
}

/* The first and last CPU this process may run on. */
static int allowed_cpus(int *first, int *last)
{
    cpu_set_t set;
    int n = 0;
    *first = *last = 0;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set)) {
            if (!n++)
                *first = c;
            *last = c;
        }
    return n;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], BENCH_RAW_ECHO_FLAG) == 0)
        return bench_raw_echo_main(argv[2], strtoull(argv[3], NULL, 10), atoi(argv[4]));
    options o;
    if (!parse_options(argc, argv, &o))
        return usage("bad or unknown flag");
    if (access(o.worker, X_OK) != 0) {
        fprintf(stderr, "bench_fleet: cannot run %s (give --worker PATH)\n", o.worker);
        return 2;
    }
    ssize_t n = readlink("/proc/self/exe", o.self, sizeof o.self - 1);
    if (n <= 0)
        return usage("cannot find this program through /proc/self/exe");
    o.self[n] = '\0';
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines in order with the children's stderr */

    char model[256], load[64];
    cpu_model(model, sizeof model);
    load_average(load, sizeof load);
    int ncpu = allowed_cpus(&o.first_cpu, &o.last_cpu);
    const char *transport = o.ipc ? "ipc" : "tcp on 127.0.0.1";
    printf("statefleet fleet benchmark: %d CPUs usable of %ld online (%s), load %s; %s\n", ncpu,
           sysconf(_SC_NPROCESSORS_ONLN), model, load, transport);

    fleet_msg task = {
        .type = FLEET_TASK,
        .u.task = {
            .task_id = 1000000, .resource = RESOURCE, .kernel = "noop", .input = (char *)o.input}};
    fleet_msg result = {.type = FLEET_RESULT,
                        .u.result = {.task_id = 1000000, .output = (char *)o.input}};
    fleet_msg progress = progress_msg(1000000, 1, 3);
    size_t task_b = encoded_size(&task), result_b = encoded_size(&result),
           progress_b = encoded_size(&progress);
    if (!task_b || !result_b || !progress_b)
        return usage("--input is over the protocol's limits");
    printf("frames (proto's codec, baselines use the same sizes): task %zu B, result %zu B, "
           "progress %zu B\n",
           task_b, result_b, progress_b);

    bool ok = true;
    if (!o.only || o.only == 1)
        ok &= phase_pipelined(&o, task_b, result_b);
    if (!o.only || o.only == 2)
        ok &= phase_round_trip(&o, task_b, result_b);
    if (!o.only || o.only == 3)
        ok &= phase_progress(&o, progress_b);
    return ok ? 0 : 1;
}
