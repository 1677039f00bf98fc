/* tests/worker/agent_router.h - a stand-in coordinator for the worker tests.
 *
 * A ROUTER socket on loopback speaking the fleet protocol through the real
 * codec, and the real statefleet-worker binary started against it as a
 * child process (its stderr goes to a log file the test may read). Each
 * Criterion test runs in its own process, so one router per test. */
#ifndef TESTS_WORKER_AGENT_ROUTER_H
#define TESTS_WORKER_AGENT_ROUTER_H

#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "proto/fleet_msg.h"

/* A small machine whatever runs the tests: 2 NUMA nodes of 2 cores. */
#define RT_TOPOLOGY "synthetic:package:1 numa:2 core:2 pu:1"

typedef struct rt {
    void *ctx, *router;
    char endpoint[256];
    char dir[64];            /* a temporary directory: the log, functions */
    char log[128];           /* the worker's stderr */
    pid_t pid;               /* the worker; 0 once reaped */
    int status;              /* its wait status once reaped */
    unsigned char peer[256]; /* routing id of the last frame received */
    size_t peer_len;
    bool keepalive;  /* answer each worker heartbeat with one */
    uint64_t hb_seq; /* ours */
} rt;

static inline uint64_t rt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Starts the router; a CURVE server with that secret key when curve_secret
 * is not NULL (32 bytes). */
static inline void rt_start_with(rt *r, const unsigned char *curve_secret)
{
    memset(r, 0, sizeof *r);
    r->keepalive = true;
    snprintf(r->dir, sizeof r->dir, "/tmp/sf-agent-test-XXXXXX");
    cr_assert_not_null(mkdtemp(r->dir));
    snprintf(r->log, sizeof r->log, "%s/worker.log", r->dir);
    r->ctx = zmq_ctx_new();
    r->router = zmq_socket(r->ctx, ZMQ_ROUTER);
    int zero = 0, one = 1;
    zmq_setsockopt(r->router, ZMQ_LINGER, &zero, sizeof zero);
    /* a lost frame must fail the test loudly, not vanish at a full pipe */
    zmq_setsockopt(r->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(r->router, ZMQ_SNDHWM, &zero, sizeof zero);
    if (curve_secret) {
        cr_assert_eq(zmq_setsockopt(r->router, ZMQ_CURVE_SERVER, &one, sizeof one), 0);
        cr_assert_eq(zmq_setsockopt(r->router, ZMQ_CURVE_SECRETKEY, curve_secret, 32), 0);
    }
    cr_assert_eq(zmq_bind(r->router, "tcp://127.0.0.1:*"), 0);
    size_t len = sizeof r->endpoint;
    zmq_getsockopt(r->router, ZMQ_LAST_ENDPOINT, r->endpoint, &len);
}

static inline void rt_start(rt *r)
{
    rt_start_with(r, NULL);
}

/* Starts the worker with the common flags and then extra (NULL-ended). */
static inline void rt_spawn_argv(rt *r, const char *const *extra)
{
    const char *argv[64];
    size_t n = 0;
    argv[n++] = SF_WORKER_BIN;
    argv[n++] = "--coordinator";
    argv[n++] = r->endpoint;
    argv[n++] = "--topology";
    argv[n++] = RT_TOPOLOGY;
    for (size_t i = 0; extra && extra[i] && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    /* fork and exec rather than posix_spawn: the child asks to die with
     * its parent, so a test that fails half way leaves no worker behind. */
    pid_t parent = getpid();
    r->pid = fork();
    cr_assert_geq(r->pid, 0, "fork: %s", strerror(errno));
    if (r->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        int fd = open(r->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0)
            dup2(fd, 2);
        execv(SF_WORKER_BIN, (char *const *)argv);
        _exit(127);
    }
}

#define rt_spawn(r, ...)                                                                           \
    do {                                                                                           \
        const char *rt_extra_[] = {__VA_ARGS__, NULL};                                             \
        rt_spawn_argv((r), rt_extra_);                                                             \
    } while (0)

static inline void rt_send_bytes(rt *r, const void *data, size_t len)
{
    cr_assert(r->peer_len > 0, "no worker has spoken yet");
    cr_assert_geq(zmq_send(r->router, r->peer, r->peer_len, ZMQ_SNDMORE), 0);
    cr_assert_geq(zmq_send(r->router, data, len, 0), 0);
}

static inline void rt_send(rt *r, const fleet_msg *m)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    char err[256];
    cr_assert_eq(fleet_msg_check(m, err, sizeof err), SF_OK, "test message: %s", err);
    cr_assert_eq(fleet_msg_encode(m, &sb), SF_OK);
    rt_send_bytes(r, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* One message from the worker within timeout_ms: true with *m decoded
 * (the caller clears it), false on timeout. A frame that does not decode
 * fails the test: the worker must never send one. */
static inline bool rt_recv(rt *r, fleet_msg *m, int timeout_ms)
{
    zmq_pollitem_t item = {.socket = r->router, .events = ZMQ_POLLIN};
    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return false;
    int n = zmq_recv(r->router, r->peer, sizeof r->peer, 0);
    cr_assert_gt(n, 0);
    r->peer_len = (size_t)n;
    int more = 0;
    size_t ml = sizeof more;
    zmq_getsockopt(r->router, ZMQ_RCVMORE, &more, &ml);
    cr_assert(more, "a worker frame without its body");
    zmq_msg_t body;
    zmq_msg_init(&body);
    cr_assert_geq(zmq_msg_recv(&body, r->router, 0), 0);
    char err[256];
    sf_rc rc = fleet_msg_decode(zmq_msg_data(&body), zmq_msg_size(&body), m, err, sizeof err);
    zmq_msg_close(&body);
    cr_assert_eq(rc, SF_OK, "the worker sent a frame that does not decode: %s", err);
    if (m->type == FLEET_HEARTBEAT && r->keepalive) {
        fleet_msg hb = {.type = FLEET_HEARTBEAT};
        hb.u.heartbeat.seq = ++r->hb_seq;
        rt_send(r, &hb);
    }
    return true;
}

/* The next message of type, skipping heartbeats and progress (unless type
 * is one of them); anything else fails the test. */
static inline void rt_expect(rt *r, fleet_msg_type type, int timeout_ms, fleet_msg *m)
{
    uint64_t until = rt_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        uint64_t now = rt_now_ms();
        cr_assert(now < until, "no %s from the worker within %d ms (log: %s)",
                  fleet_msg_type_name(type), timeout_ms, r->log);
        cr_assert(rt_recv(r, m, (int)(until - now)), "no %s from the worker within %d ms",
                  fleet_msg_type_name(type), timeout_ms);
        if (m->type == type)
            return;
        cr_assert(m->type == FLEET_HEARTBEAT || m->type == FLEET_PROGRESS,
                  "expected a %s, got a %s", fleet_msg_type_name(type),
                  fleet_msg_type_name(m->type));
        fleet_msg_clear(m);
    }
}

static inline void rt_welcome(rt *r, uint32_t hb_ms)
{
    fleet_msg w = {.type = FLEET_WELCOME};
    w.u.welcome = (fleet_welcome){.heartbeat_ms = hb_ms, .session_id = "s-test"};
    rt_send(r, &w);
}

/* Waits for the hello (returned in *hello unless NULL) and welcomes it. */
static inline void rt_handshake(rt *r, uint32_t hb_ms, fleet_msg *hello)
{
    fleet_msg h;
    rt_expect(r, FLEET_HELLO, 10000, &h);
    rt_welcome(r, hb_ms);
    if (hello)
        *hello = h;
    else
        fleet_msg_clear(&h);
}

static inline void rt_task(rt *r, uint64_t id, const char *kernel, const char *input,
                           uint64_t timeout_ms)
{
    fleet_msg t = {.type = FLEET_TASK};
    t.u.task = (fleet_task){.task_id = id,
                            .resource = "arn:aws:states:::statefleet:task",
                            .kernel = (char *)kernel,
                            .input = (char *)input,
                            .timeout_ms = timeout_ms,
                            .requirements = {.cores = 1}};
    rt_send(r, &t);
}

/* Waits up to timeout_ms for the worker to exit; true with r->status. */
static inline bool rt_wait_exit(rt *r, int timeout_ms)
{
    uint64_t until = rt_now_ms() + (uint64_t)timeout_ms;
    while (r->pid) {
        pid_t p = waitpid(r->pid, &r->status, WNOHANG);
        if (p == r->pid) {
            r->pid = 0;
            return true;
        }
        if (rt_now_ms() >= until)
            return false;
        usleep(10000);
    }
    return true;
}

/* Whether the worker's log holds text. */
static inline bool rt_log_has(const rt *r, const char *text)
{
    FILE *f = fopen(r->log, "r");
    if (!f)
        return false;
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

/* Stops the worker (SIGTERM, then SIGKILL) and the router. Returns the
 * worker's exit status, or -1 if it had to be killed or died of a signal. */
static inline int rt_stop(rt *r)
{
    int result = -1;
    if (r->pid) {
        kill(r->pid, SIGTERM);
        if (!rt_wait_exit(r, 15000)) {
            kill(r->pid, SIGKILL);
            rt_wait_exit(r, 5000);
            r->status = -1;
        }
    }
    if (r->status >= 0 && WIFEXITED(r->status))
        result = WEXITSTATUS(r->status);
    zmq_close(r->router);
    zmq_ctx_term(r->ctx);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", r->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", r->dir);
    return result;
}

#endif
