/* bench/fleet_raw.c - the raw ZeroMQ baselines of bench_fleet (see fleet_raw.h).
 *
 * Sockets are set up as the fleet and the worker set theirs (ROUTER: no
 * high-water marks, ROUTER_MANDATORY; DEALER: high-water marks sized for
 * the tasks in flight) so that the baseline differs from the fleet only in
 * what the fleet adds on top of ZeroMQ. Never used by the fleet itself. */
#define _GNU_SOURCE
#include "fleet_raw.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define RID_MAX 256
#define HELLO_TIMEOUT_MS 10000

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool bench_pin_self(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

pid_t bench_spawn(char *const argv[], int cpu)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* The child of a threaded parent: only async-signal-safe calls here.
     * A bench that dies takes its workers and echo peers with it. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0)
        dup2(null, 0);
    execv(argv[0], argv);
    _exit(127);
}

int bench_stop_child(pid_t pid)
{
    int status = 0;
    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid)
            return status;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return status;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void bench_sort_u64(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u64);
}

uint64_t bench_percentile(const uint64_t *sorted, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

int bench_endpoint_init(bench_endpoint *e, int ipc, const char *name)
{
    memset(e, 0, sizeof *e);
    e->ipc = ipc;
    if (!ipc) {
        snprintf(e->bind, sizeof e->bind, "tcp://127.0.0.1:*");
        return 0;
    }
    char tmpl[] = "/tmp/sf-bench-fleet.XXXXXX";
    if (!mkdtemp(tmpl))
        return -1;
    snprintf(e->dir, sizeof e->dir, "%s", tmpl);
    snprintf(e->bind, sizeof e->bind, "ipc://%s/%s", tmpl, name);
    return 0;
}

void bench_endpoint_cleanup(bench_endpoint *e)
{
    if (!e->dir[0])
        return;
    unlink(e->bind + strlen("ipc://"));
    rmdir(e->dir);
    e->dir[0] = '\0';
}

/* ---- sockets --------------------------------------------------------------- */

static void *router_new(void *ctx, const char *bind, char *bound, size_t boundlen)
{
    void *r = zmq_socket(ctx, ZMQ_ROUTER);
    int zero = 0, one = 1;
    zmq_setsockopt(r, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(r, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(r, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(r, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(r, bind) != 0) {
        fprintf(stderr, "bench: cannot bind %s: %s\n", bind, zmq_strerror(zmq_errno()));
        zmq_close(r);
        return NULL;
    }
    size_t len = boundlen;
    zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, bound, &len);
    return r;
}

/* The worker's sizing (worker/agent_conn.c): twice the tasks in flight plus
 * room for heartbeats and progress. */
static void *dealer_new(void *ctx, const char *endpoint, int max_in_flight)
{
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, hwm = max_in_flight * 2 + 1000;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(d, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_connect(d, endpoint) != 0) {
        zmq_close(d);
        return NULL;
    }
    return d;
}

int bench_raw_echo_main(const char *endpoint, size_t reply_bytes, int max_in_flight)
{
    void *ctx = zmq_ctx_new();
    void *d = dealer_new(ctx, endpoint, max_in_flight);
    unsigned char *reply = calloc(1, reply_bytes ? reply_bytes : 1);
    if (!d || !reply || zmq_send(d, "h", 1, 0) != 1)
        return 1;
    zmq_msg_t in;
    zmq_msg_init(&in);
    for (;;) {
        if (zmq_msg_recv(&in, d, 0) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (zmq_msg_size(&in) == 0)
            break; /* the ROUTER is done */
        if (zmq_send(d, reply, reply_bytes, 0) < 0)
            break;
    }
    zmq_msg_close(&in);
    free(reply);
    zmq_close(d);
    zmq_ctx_term(ctx);
    return 0;
}

typedef struct peer {
    unsigned char rid[RID_MAX];
    size_t len;
} peer;

/* Spawns n echo processes, each pinned to cpu (or not, with -1), and waits
 * for their hellos. */
static int start_echoes(void *router, const char *self, const char *endpoint, int n,
                        size_t reply_bytes, int max_in_flight, int cpu, pid_t *pids, peer *peers)
{
    char rep[32], max[32];
    snprintf(rep, sizeof rep, "%zu", reply_bytes);
    snprintf(max, sizeof max, "%d", max_in_flight);
    char *argv[] = {(char *)self, BENCH_RAW_ECHO_FLAG, (char *)endpoint, rep, max, NULL};
    for (int i = 0; i < n; i++)
        pids[i] = bench_spawn(argv, cpu);
    int timeout = HELLO_TIMEOUT_MS;
    zmq_setsockopt(router, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    for (int i = 0; i < n; i++) {
        char hello[8];
        int len = zmq_recv(router, peers[i].rid, RID_MAX, 0);
        if (len <= 0 || len > RID_MAX || zmq_recv(router, hello, sizeof hello, 0) < 0) {
            fprintf(stderr, "bench: an echo process did not say hello\n");
            return -1;
        }
        peers[i].len = (size_t)len;
    }
    timeout = -1;
    zmq_setsockopt(router, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    return 0;
}

static void stop_echoes(void *router, int n, pid_t *pids, peer *peers)
{
    for (int i = 0; i < n; i++)
        if (zmq_send(router, peers[i].rid, peers[i].len, ZMQ_SNDMORE) >= 0)
            zmq_send(router, "", 0, 0);
    for (int i = 0; i < n; i++) {
        int status = 0;
        pid_t got = 0;
        for (int k = 0; k < 200 && (got = waitpid(pids[i], &status, WNOHANG)) == 0; k++)
            usleep(10000);
        if (got == 0)
            bench_stop_child(pids[i]); /* not reaped yet: still running */
    }
}

static int send_to(void *router, const peer *p, const void *body, size_t len)
{
    if (zmq_send(router, p->rid, p->len, ZMQ_SNDMORE) < 0 || zmq_send(router, body, len, 0) < 0)
        return -1;
    return 0;
}

/* Receives one routed frame; returns the peer's index, or -1. */
static int recv_from(void *router, const peer *peers, int n, void *body, size_t cap)
{
    unsigned char rid[RID_MAX];
    int len = zmq_recv(router, rid, sizeof rid, 0);
    if (len < 0 || zmq_recv(router, body, cap, 0) < 0)
        return -1;
    for (int i = 0; i < n; i++)
        if ((size_t)len == peers[i].len && memcmp(rid, peers[i].rid, (size_t)len) == 0)
            return i;
    return -1;
}

/* ---- (1) pipelined request and answer -------------------------------------- */

#define PEERS_MAX 16

double bench_raw_pipelined(const char *self, int ipc, int npeers, size_t request_bytes,
                           size_t reply_bytes, int window, double seconds)
{
    bench_endpoint ep;
    if (npeers > PEERS_MAX || bench_endpoint_init(&ep, ipc, "raw") != 0)
        return -1;
    double rate = -1;
    void *ctx = zmq_ctx_new();
    char bound[256];
    void *r = router_new(ctx, ep.bind, bound, sizeof bound);
    pid_t pids[PEERS_MAX];
    peer peers[PEERS_MAX];
    unsigned char *req = calloc(1, request_bytes), *rep = calloc(1, reply_bytes + 1);
    if (!r || !req || !rep ||
        start_echoes(r, self, bound, npeers, reply_bytes, window, -1, pids, peers) != 0)
        goto out;
    long in_flight = 0;
    for (int i = 0; i < window; i++, in_flight++)
        if (send_to(r, &peers[i % npeers], req, request_bytes) != 0)
            goto out_echoes;
    uint64_t answered = 0, base = 0, measured = 0, t0 = 0, t1 = 0;
    uint64_t span = (uint64_t)(seconds * 1e9);
    bool started = false, stopping = false;
    while (in_flight > 0) {
        int who = recv_from(r, peers, npeers, rep, reply_bytes + 1);
        if (who < 0)
            goto out_echoes;
        in_flight--;
        answered++;
        /* The clock starts once the first window has come back, so the
         * start-up ramp is not counted. */
        if (!started && answered >= (uint64_t)window) {
            started = true;
            t0 = bench_now_ns();
            base = answered;
        } else if (started && !stopping && (answered & 63) == 0) {
            uint64_t now = bench_now_ns();
            if (now - t0 >= span) {
                stopping = true;
                t1 = now;
                measured = answered - base;
            }
        }
        if (!stopping) {
            if (send_to(r, &peers[who], req, request_bytes) != 0)
                goto out_echoes;
            in_flight++;
        }
    }
    rate = (double)measured / ((double)(t1 - t0) * 1e-9);
out_echoes:
    stop_echoes(r, npeers, pids, peers);
out:
    free(req);
    free(rep);
    if (r)
        zmq_close(r);
    zmq_ctx_term(ctx);
    bench_endpoint_cleanup(&ep);
    return rate;
}

/* ---- (2) ping-pong ---------------------------------------------------------- */

typedef struct pingpong {
    void *router;
    const peer *echo;
    int cpu, warmup;
    size_t request_bytes, reply_bytes;
    uint64_t *rtt_ns;
    size_t samples;
    int rc;
} pingpong;

static void *pingpong_main(void *arg)
{
    pingpong *p = arg;
    bench_pin_self(p->cpu);
    unsigned char *req = calloc(1, p->request_bytes), *rep = calloc(1, p->reply_bytes + 1);
    p->rc = req && rep ? 0 : -1;
    for (size_t i = 0; p->rc == 0 && i < (size_t)p->warmup + p->samples; i++) {
        uint64_t t0 = bench_now_ns();
        if (send_to(p->router, p->echo, req, p->request_bytes) != 0 ||
            recv_from(p->router, p->echo, 1, rep, p->reply_bytes + 1) != 0)
            p->rc = -1;
        uint64_t t1 = bench_now_ns();
        if (i >= (size_t)p->warmup)
            p->rtt_ns[i - (size_t)p->warmup] = t1 - t0;
    }
    free(req);
    free(rep);
    return NULL;
}

int bench_raw_pingpong(const char *self, int ipc, size_t request_bytes, size_t reply_bytes,
                       int ping_cpu, int echo_cpu, int warmup, uint64_t *rtt_ns, size_t samples)
{
    bench_endpoint ep;
    if (bench_endpoint_init(&ep, ipc, "raw") != 0)
        return -1;
    int rc = -1;
    /* The context (and so its I/O thread) is made here, unpinned, as the
     * fleet's is; only the thread that pings is pinned. */
    void *ctx = zmq_ctx_new();
    char bound[256];
    void *r = router_new(ctx, ep.bind, bound, sizeof bound);
    pid_t pid;
    peer echo;
    if (r && start_echoes(r, self, bound, 1, reply_bytes, 1, echo_cpu, &pid, &echo) == 0) {
        pingpong p = {.router = r,
                      .echo = &echo,
                      .cpu = ping_cpu,
                      .warmup = warmup,
                      .request_bytes = request_bytes,
                      .reply_bytes = reply_bytes,
                      .rtt_ns = rtt_ns,
                      .samples = samples};
        pthread_t t;
        if (pthread_create(&t, NULL, pingpong_main, &p) == 0) {
            pthread_join(t, NULL);
            rc = p.rc;
        }
        stop_echoes(r, 1, &pid, &echo);
    }
    if (r)
        zmq_close(r);
    zmq_ctx_term(ctx);
    bench_endpoint_cleanup(&ep);
    return rc;
}

/* ---- (3) one-way stream ------------------------------------------------------ */

typedef struct stream {
    void *sock;
    size_t bytes;
    uint64_t count;
    uint64_t first_ns, last_ns;
    int rc;
} stream;

static void *stream_send(void *arg)
{
    stream *s = arg;
    unsigned char *body = calloc(1, s->bytes);
    s->rc = body ? 0 : -1;
    for (uint64_t i = 0; s->rc == 0 && i < s->count; i++)
        if (zmq_send(s->sock, body, s->bytes, 0) < 0)
            s->rc = -1;
    free(body);
    return NULL;
}

static void *stream_recv(void *arg)
{
    stream *s = arg;
    unsigned char rid[RID_MAX], *body = malloc(s->bytes + 1);
    s->rc = body ? 0 : -1;
    for (uint64_t i = 0; s->rc == 0 && i < s->count; i++) {
        if (zmq_recv(s->sock, rid, sizeof rid, 0) < 0 ||
            zmq_recv(s->sock, body, s->bytes + 1, 0) < 0) {
            s->rc = -1;
            break;
        }
        if (i == 0)
            s->first_ns = bench_now_ns();
    }
    s->last_ns = bench_now_ns();
    free(body);
    return NULL;
}

double bench_raw_stream(int ipc, size_t bytes, uint64_t count)
{
    bench_endpoint ep;
    if (count < 2 || bench_endpoint_init(&ep, ipc, "raw") != 0)
        return -1;
    double rate = -1;
    void *rctx = zmq_ctx_new(), *dctx = zmq_ctx_new();
    char bound[256];
    void *r = router_new(rctx, ep.bind, bound, sizeof bound);
    void *d = r ? dealer_new(dctx, bound, 1) : NULL;
    if (d) {
        stream rx = {.sock = r, .bytes = bytes, .count = count};
        stream tx = {.sock = d, .bytes = bytes, .count = count};
        pthread_t rt;
        if (pthread_create(&rt, NULL, stream_recv, &rx) == 0) {
            stream_send(&tx); /* from this thread, as the fleet's fake worker does */
            pthread_join(rt, NULL);
            if (rx.rc == 0 && tx.rc == 0)
                rate = (double)(count - 1) / ((double)(rx.last_ns - rx.first_ns) * 1e-9);
        }
    }
    if (d)
        zmq_close(d);
    if (r)
        zmq_close(r);
    zmq_ctx_term(dctx);
    zmq_ctx_term(rctx);
    bench_endpoint_cleanup(&ep);
    return rate;
}
