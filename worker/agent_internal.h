/* worker/agent_internal.h - what the agent's files share; not an API.
 *
 *   agent.c         lifecycle, the poll loop, logging
 *   agent_conn.c    the socket and the session: hello, welcome, heartbeats,
 *                   loss, back-off, sending and receiving frames
 *   agent_tasks.c   taking tasks, running them, answering them
 *   agent_admit.c   whether a task can run here, and on which node (pure)
 *   agent_ctx.c     what a kernel may ask of its task (kernel.h)
 *   agent_queue.c   reports from kernel threads to the I/O thread
 *
 * Threads: everything in wk_agent belongs to the I/O thread except the
 * queue (its lock) and `stop` (atomic). A task's fields are the I/O
 * thread's until it is submitted, then the kernel thread's (but `cancel`,
 * atomic, and `why`, see below) until its DONE event is queued, then the
 * I/O thread's again. */
#ifndef WORKER_AGENT_INTERNAL_H
#define WORKER_AGENT_INTERNAL_H

#include <msgpack.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>

#include "common/sf_hmap.h"
#include "coordinator/asl/diag.h"
#include "proto/fleet_msg.h"
#include "proto/fleet_session.h"
#include "worker/agent.h"
#include "worker/agent_admit.h"
#include "worker/executor.h"
#include "worker/kernel.h"

/* Why a task was asked to stop. Set once, from NONE, by compare-and-swap. */
enum {
    WK_CANCEL_NONE = 0,
    WK_CANCEL_COORDINATOR, /* a cancel message; `why` holds its reason */
    WK_CANCEL_TIMEOUT,     /* its tmo passed (set by wk_cancelled) */
    WK_CANCEL_LOST,        /* the coordinator fell silent */
    WK_CANCEL_STOPPING     /* the worker is shutting down */
};

typedef enum { WK_EV_PROGRESS, WK_EV_DONE } wk_event_kind;

/* A report from a kernel thread, as queued. A DONE is embedded in its task;
 * a PROGRESS is the head of a wk_report. */
typedef struct wk_event {
    struct wk_event *next;
    wk_event_kind kind;
    struct wk_task_ctx *task;
} wk_event;

/* A progress report. It owns its metric names in `names`, so it needs no
 * allocation beyond itself. */
typedef struct wk_report {
    wk_event ev;   /* first: a wk_event* of kind PROGRESS points to its report */
    fleet_msg msg; /* u.progress, pointing into the arrays below */
    fleet_metric metrics[FLEET_METRICS_MAX];
    char names[FLEET_METRICS_MAX][FLEET_METRIC_NAME_MAX + 1];
} wk_report;

struct wk_task_ctx {
    wk_agent *agent;
    uint64_t id;
    const wk_kernel *kernel;
    char *kernel_field;     /* owned, except for an inline task */
    const char *kernel_arg; /* inside kernel_field */
    json_t *input;          /* owned */
    unsigned node, slot;    /* node: topology index; slot: index in the agent's nodes */
    unsigned core, cores;
    bool inline_run;
    bool orphan;          /* its session ended: run it out, answer no one */
    uint64_t deadline_ns; /* monotonic; 0: no timeout */
    uint64_t timeout_ms;
    atomic_int cancel; /* a WK_CANCEL_* */
    /* The cancel message's reason: written by the I/O thread only while
     * `cancel` is NONE and before it becomes COORDINATOR, read by the
     * kernel only after it saw COORDINATOR. */
    char why[FLEET_REASON_MAX + 1];
    /* The kernel thread's: progress throttling. */
    uint64_t last_progress_ns;
    wk_report *held; /* the latest report held back by the throttle */
    /* The answer, written by the kernel thread before DONE is queued. */
    sf_rc rc;
    json_t *output;
    asl_err err;
    wk_event done;
};

/* Reports from kernel threads: a FIFO under a mutex, and an eventfd the
 * I/O thread polls, written only when the queue goes from empty to not,
 * so a burst of reports costs one wake. */
typedef struct wk_queue {
    pthread_mutex_t lock;
    wk_event *head, *tail;
    int fd;
} wk_queue;

sf_rc wk_queue_init(wk_queue *q);
/* Frees the events still queued (and their orphaned tasks). */
void wk_queue_cleanup(wk_queue *q);
/* Appends a, then b (either may be NULL) in one critical section. */
void wk_queue_push2(wk_queue *q, wk_event *a, wk_event *b);
/* Clears the wake and takes everything queued, oldest first. */
wk_event *wk_queue_take(wk_queue *q);
/* Wakes the I/O thread without queueing anything; async-signal-safe. */
void wk_queue_wake(wk_queue *q);

typedef enum {
    WK_CONN_BACKOFF,   /* no socket; a new one at `until_ns` */
    WK_CONN_WELCOMING, /* hello sent; a welcome due by `until_ns` */
    WK_CONN_READY      /* welcomed */
} wk_conn_state;

struct wk_agent {
    /* configuration (copied) */
    char *endpoint, *id, *functions_dir, *data_root;
    const wk_topology *topo;
    zcert_t *cert, *server_cert;
    uint64_t progress_period_ns; /* 0: progress off */
    uint32_t grace;
    bool retry_refused, quiet;
    uint32_t max_tasks;

    /* what this worker is */
    wk_registry *reg;
    wk_executor *exec;
    wk_node_slot *nodes; /* the nodes served, with their load */
    size_t n_nodes;
    fleet_hello hello; /* owned strings: built once, sent on every connect */

    /* the connection */
    zsock_t *sock;
    void *raw; /* zsock_resolve(sock), for the hot path */
    fleet_session session;
    wk_conn_state state;
    uint64_t until_ns;
    unsigned backoff_step;
    uint32_t hb_ms;
    uint64_t hb_seq, next_hb_ns, last_rx_ns;
    msgpack_sbuffer sbuf; /* reused for every frame sent */
    zmq_msg_t rx;         /* reused for every frame received */
    fleet_msg msg;        /* the frame being handled */

    /* tasks */
    sf_hmap tasks;      /* id -> wk_task_ctx*, the current session's */
    size_t n_orphans;   /* tasks of past sessions still running */
    wk_task_ctx *spare; /* the inline tasks' context, reused */

    wk_queue queue;
    atomic_int stop; /* wk_agent_stop was called */
    bool stopping;   /* the I/O thread has begun to stop */
    uint64_t stop_deadline_ns;
    wk_agent_exit exit;
    bool done;
};

/* agent.c */
uint64_t wk_now_ns(void);
void wk_log(const wk_agent *a, bool always, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* agent_conn.c */
void wk_conn_open(wk_agent *a, uint64_t now);
void wk_conn_close(wk_agent *a, int linger_ms);
void wk_conn_timers(wk_agent *a, uint64_t now);
int wk_conn_poll_ms(const wk_agent *a, uint64_t now);
void wk_conn_recv_all(wk_agent *a, uint64_t now);
/* Sends m through the session; false (logged) when the session refuses it
 * or the socket does. */
bool wk_conn_send(wk_agent *a, const fleet_msg *m);
/* Sends m without consulting the session: only for answering a task the
 * session refused (over capacity). */
bool wk_conn_send_raw(wk_agent *a, const fleet_msg *m);
/* Whether a session is open to send answers on. */
bool wk_conn_ready(const wk_agent *a);

/* agent_tasks.c */
void wk_tasks_take(wk_agent *a, fleet_task *t);
void wk_tasks_refused(wk_agent *a, const fleet_task *t, const char *why);
void wk_tasks_cancel(wk_agent *a, uint64_t id, const char *why);
/* Cancels every running task with kind (LOST or STOPPING); with LOST they
 * become orphans, whose answers go nowhere. */
void wk_tasks_cancel_all(wk_agent *a, int kind);
void wk_tasks_drain(wk_agent *a);
size_t wk_tasks_running(const wk_agent *a);
void wk_task_free(wk_task_ctx *t);

/* agent_ctx.c */
/* Called by the kernel's thread when the kernel returned: queues the held
 * report and DONE (or, inline, sends them). */
void wk_ctx_finish(wk_task_ctx *t);

#endif
