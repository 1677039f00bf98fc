/* tests/fleet/test_fleet.c - the coordinator's fleet against scripted workers.
 *
 * Each fake worker is a real DEALER socket speaking the wire protocol
 * through proto/'s codec, so registry, placement, heartbeats, loss,
 * cancels and late answers are tested over real ZeroMQ without depending
 * on the worker program's behaviour. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "coordinator/fleet/fleet.h"

/* ---- what the hooks saw ---------------------------------------------------- */

typedef struct seen {
    char kind; /* 'p' placed, 'g' progress, 'r' result, 'f' failure */
    fleet_ref ref;
    char text[1024]; /* worker, output, or error + " | " + cause */
} seen;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static seen log_[4096];
static size_t nlog;

static void record(char kind, fleet_ref ref, const char *a, const char *b)
{
    pthread_mutex_lock(&mu);
    if (nlog < sizeof log_ / sizeof *log_) {
        seen *s = &log_[nlog++];
        s->kind = kind;
        s->ref = ref;
        snprintf(s->text, sizeof s->text, "%s%s%s", a, b ? " | " : "", b ? b : "");
    }
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}
static void on_placed(void *c, fleet_ref r, const char *w)
{
    record('p', r, w, NULL);
}
static void on_progress(void *c, fleet_ref r, const fleet_progress *p)
{
    record('g', r, "", NULL);
}
static void on_result(void *c, fleet_ref r, const char *out)
{
    record('r', r, out, NULL);
}
static void on_failure(void *c, fleet_ref r, const char *e, const char *cause)
{
    record('f', r, e, cause);
}

/* Waits up to ms for an entry of kind for ref b; returns it or NULL. */
static seen *await(char kind, uint64_t b, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&mu);
    for (;;) {
        for (size_t i = 0; i < nlog; i++)
            if (log_[i].kind == kind && log_[i].ref.b == b) {
                pthread_mutex_unlock(&mu);
                return &log_[i];
            }
        if (pthread_cond_timedwait(&cv, &mu, &until) != 0) {
            pthread_mutex_unlock(&mu);
            return NULL;
        }
    }
}

static size_t count(char kind, uint64_t b)
{
    size_t n = 0;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nlog; i++)
        n += log_[i].kind == kind && log_[i].ref.b == b;
    pthread_mutex_unlock(&mu);
    return n;
}

/* ---- the fleet and fake workers ------------------------------------------ */

static void *ctx;
static fleet *F;

static void open_fleet(uint32_t hb_ms, uint32_t unplaceable_ms)
{
    nlog = 0;
    fleet_config cfg = {.endpoint = "tcp://127.0.0.1:*",
                        .heartbeat_ms = hb_ms,
                        .unplaceable_ms = unplaceable_ms,
                        .quiet = true};
    fleet_hooks hooks = {
        .placed = on_placed, .progress = on_progress, .result = on_result, .failure = on_failure};
    char err[256];
    cr_assert_eq(fleet_open(&cfg, &hooks, &F, err, sizeof err), SF_OK, "%s", err);
    ctx = zmq_ctx_new();
}

static void close_fleet(void)
{
    fleet_close(&F);
    zmq_ctx_term(ctx);
}

typedef struct fake {
    void *sock;
    uint64_t hb_seq;
} fake;

static void send_msg(fake *w, const fleet_msg *m)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(fleet_msg_encode(m, &sb), SF_OK);
    cr_assert(zmq_send(w->sock, sb.data, sb.size, 0) >= 0);
    msgpack_sbuffer_destroy(&sb);
}

/* Receives the next message other than a heartbeat, within ms; false on timeout. */
static bool recv_msg(fake *w, fleet_msg *m, int ms)
{
    for (;;) {
        zmq_pollitem_t it = {.socket = w->sock, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, ms) <= 0)
            return false;
        char buf[FLEET_FRAME_MAX];
        int n = zmq_recv(w->sock, buf, sizeof buf, 0);
        cr_assert(n > 0);
        char err[256];
        cr_assert_eq(fleet_msg_decode(buf, (size_t)n, m, err, sizeof err), SF_OK, "%s", err);
        if (m->type != FLEET_HEARTBEAT)
            return true;
        fleet_msg_clear(m);
    }
}

static fake join(const char *id, const char *kernel, uint32_t cores, uint32_t max)
{
    fake w = {.sock = zmq_socket(ctx, ZMQ_DEALER)};
    int zero = 0;
    zmq_setsockopt(w.sock, ZMQ_LINGER, &zero, sizeof zero);
    cr_assert_eq(zmq_connect(w.sock, fleet_endpoint(F)), 0);
    char *kernels[] = {(char *)kernel};
    fleet_msg hello = {.type = FLEET_HELLO,
                       .u.hello = {.worker_id = (char *)id,
                                   .version = "test",
                                   .kernels = kernels,
                                   .n_kernels = 1,
                                   .cores = cores,
                                   .numa_nodes = 1,
                                   .memory_bytes = 1ull << 30,
                                   .max_tasks = max}};
    send_msg(&w, &hello);
    fleet_msg m;
    cr_assert(recv_msg(&w, &m, 2000), "no welcome for %s", id);
    cr_assert_eq(m.type, FLEET_WELCOME);
    fleet_msg_clear(&m);
    return w;
}

/* The registry's snapshot follows the fleet's thread a moment behind its
 * hooks: waits up to a second for it to count n workers; returns its count. */
static size_t await_workers(size_t n)
{
    fleet_worker_info info[4];
    size_t got = fleet_workers(F, info, 4);
    for (int i = 0; i < 100 && got != n; i++) {
        usleep(10000);
        got = fleet_workers(F, info, 4);
    }
    return got;
}

static void heartbeat(fake *w)
{
    fleet_msg hb = {.type = FLEET_HEARTBEAT, .u.heartbeat = {.seq = ++w->hb_seq}};
    send_msg(w, &hb);
}

static void leave(fake *w)
{
    zmq_close(w->sock);
}

static uint64_t submit(uint64_t ref, const char *kernel, uint32_t cores)
{
    fleet_job j = {.ref = {.a = 1, .b = ref},
                   .resource = "arn:aws:states:::statefleet:runKernel",
                   .kernel = kernel,
                   .input = "{\"n\":1}",
                   .req = {.cores = cores}};
    char err[256];
    uint64_t id = fleet_submit(F, &j, err, sizeof err);
    cr_assert_neq(id, 0, "%s", err);
    return id;
}

static uint64_t expect_task(fake *w, int ms)
{
    fleet_msg m;
    cr_assert(recv_msg(w, &m, ms), "no task arrived");
    cr_assert_eq(m.type, FLEET_TASK, "got %s", fleet_msg_type_name(m.type));
    uint64_t id = m.u.task.task_id;
    fleet_msg_clear(&m);
    return id;
}

static void answer(fake *w, uint64_t id, const char *out)
{
    fleet_msg r = {.type = FLEET_RESULT, .u.result = {.task_id = id, .output = (char *)out}};
    send_msg(w, &r);
}

/* ---- tests ------------------------------------------------------------------ */

TestSuite(fleet, .init = NULL, .fini = NULL);

Test(fleet, places_by_kernel_and_reports_once)
{
    open_fleet(1000, 30000);
    fake a = join("wa", "alpha", 4, 4), b = join("wb", "beta", 4, 4);
    submit(1, "beta:x", 1);
    submit(2, "alpha", 1);
    uint64_t tb = expect_task(&b, 2000), ta = expect_task(&a, 2000);
    cr_assert(strstr(await('p', 1, 1000)->text, "wb"));
    cr_assert(strstr(await('p', 2, 1000)->text, "wa"));
    answer(&b, tb, "{\"from\":\"b\"}");
    answer(&a, ta, "{\"from\":\"a\"}");
    cr_assert_str_eq(await('r', 1, 2000)->text, "{\"from\":\"b\"}");
    cr_assert_str_eq(await('r', 2, 2000)->text, "{\"from\":\"a\"}");
    /* A second answer for a finished task is refused and never reported. */
    answer(&b, tb, "{\"again\":true}");
    usleep(200000);
    cr_assert_eq(count('r', 1), 1);
    leave(&a);
    leave(&b);
    close_fleet();
}

Test(fleet, spreads_load_and_waits_for_room)
{
    open_fleet(1000, 30000);
    fake a = join("wa", "k", 2, 8), b = join("wb", "k", 2, 8);
    for (uint64_t i = 1; i <= 5; i++)
        submit(i, "k", 1);
    /* Two cores each: four run, two per worker, the fifth waits. */
    uint64_t a1 = expect_task(&a, 2000), a2 = expect_task(&a, 2000);
    expect_task(&b, 2000);
    expect_task(&b, 2000);
    fleet_msg m;
    cr_assert_not(recv_msg(&a, &m, 200), "a task beyond the cores was sent");
    cr_assert_not(recv_msg(&b, &m, 50));
    answer(&a, a1, "1");
    uint64_t a3 = expect_task(&a, 2000);
    cr_assert_neq(a3, a2);
    cr_assert(await('p', 5, 1000));
    leave(&a);
    leave(&b);
    close_fleet();
}

Test(fleet, silent_worker_is_lost_and_its_task_fails)
{
    open_fleet(100, 30000);
    fake a = join("quiet-one", "k", 1, 1);
    submit(7, "k", 1);
    uint64_t id = expect_task(&a, 2000);
    /* Say nothing: 3 periods of 100 ms later the worker is lost. */
    seen *f = await('f', 7, 3000);
    cr_assert(f, "the task did not fail");
    cr_assert(strstr(f->text, "States.TaskFailed"), "%s", f->text);
    cr_assert(strstr(f->text, "quiet-one"), "the cause names the worker: %s", f->text);
    /* Its late answer is ignored. */
    answer(&a, id, "{}");
    usleep(200000);
    cr_assert_eq(count('r', 7), 0);
    cr_assert_eq(await_workers(0), 0);
    leave(&a);
    close_fleet();
}

Test(fleet, heartbeats_keep_a_worker)
{
    open_fleet(100, 30000);
    fake a = join("chatty", "k", 1, 1);
    for (int i = 0; i < 8; i++) {
        heartbeat(&a);
        usleep(80000);
    }
    fleet_worker_info info[4];
    cr_assert_eq(fleet_workers(F, info, 4), 1);
    cr_assert_str_eq(info[0].id, "chatty");
    leave(&a);
    close_fleet();
}

Test(fleet, unplaceable_task_fails_naming_kernel)
{
    open_fleet(1000, 300);
    fake a = join("wa", "k", 1, 1);
    submit(3, "nobody-runs-this", 1);
    seen *f = await('f', 3, 3000);
    cr_assert(f);
    cr_assert(strstr(f->text, "nobody-runs-this"), "%s", f->text);
    cr_assert(strstr(f->text, "wa"), "the cause lists the workers: %s", f->text);
    leave(&a);
    close_fleet();
}

Test(fleet, cancel_queued_and_running)
{
    open_fleet(1000, 30000);
    fake a = join("wa", "k", 1, 1);
    uint64_t run = submit(1, "k", 1);
    uint64_t queued = submit(2, "k", 1);
    uint64_t id = expect_task(&a, 2000);
    cr_assert_eq(id, run);
    fleet_withdraw(F, queued, "not needed");
    fleet_withdraw(F, run, "timed out");
    fleet_msg m;
    cr_assert(recv_msg(&a, &m, 2000));
    cr_assert_eq(m.type, FLEET_CANCEL);
    cr_assert_eq(m.u.cancel.task_id, run);
    cr_assert_str_eq(m.u.cancel.reason, "timed out");
    fleet_msg_clear(&m);
    /* The worker finished first: its answer is dropped, and the queued
     * task, cancelled, is never sent. */
    answer(&a, run, "{}");
    cr_assert_not(recv_msg(&a, &m, 300));
    cr_assert_eq(count('r', 1), 0);
    cr_assert_eq(count('p', 2), 0);
    leave(&a);
    close_fleet();
}

Test(fleet, garbage_is_dropped_and_the_fleet_goes_on)
{
    open_fleet(1000, 30000);
    fake a = join("wa", "k", 1, 1);
    zmq_send(a.sock, "\xc1\xff garbage", 10, 0);
    zmq_send(a.sock, "", 0, 0);
    submit(1, "k", 1);
    uint64_t id = expect_task(&a, 2000);
    answer(&a, id, "\"ok\"");
    cr_assert(await('r', 1, 2000));
    fleet_stats st;
    fleet_get_stats(F, &st);
    cr_assert_geq(st.dropped_messages, 2);
    leave(&a);
    close_fleet();
}

Test(fleet, same_worker_again_replaces_the_old_session)
{
    open_fleet(1000, 30000);
    fake a = join("twice", "k", 1, 1);
    submit(9, "k", 1);
    expect_task(&a, 2000);
    fake again = join("twice", "k", 1, 1);
    seen *f = await('f', 9, 2000);
    cr_assert(f);
    cr_assert(strstr(f->text, "connected again"), "%s", f->text);
    /* The old session goes, then the new one comes. */
    cr_assert_eq(await_workers(1), 1);
    leave(&a);
    leave(&again);
    close_fleet();
}

Test(fleet, non_local_endpoint_needs_keys)
{
    fleet_config cfg = {.endpoint = "tcp://*:0", .quiet = true};
    fleet_hooks hooks = {.result = on_result, .failure = on_failure};
    fleet *f = NULL;
    char err[512];
    cr_assert_eq(fleet_open(&cfg, &hooks, &f, err, sizeof err), SF_EINVAL);
    cr_assert(strstr(err, "--fleet-key"), "%s", err);
}
