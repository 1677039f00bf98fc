/* service/svc_internal.h - the coordinator's insides, shared by its files.
 *
 * One mutex (svc.mu) guards everything in memory: machines, live
 * executions with their engines, activities, the pending write batch and
 * the timer heap. Engines run under it; SQLite writes do not. Batches
 * flow through a two-stage pipeline: the renderer swaps the pending batch
 * out and turns its history events into AWS's JSON, unlocked; the writer
 * commits the rendered batch, unlocked, then, locked again, marks it
 * committed and performs the batch's actions (dispatching tasks, evicting
 * finished executions), which were held back until the events that
 * caused them were durable. While one batch commits, the next renders
 * and a third fills: that is the group commit. */
#ifndef SERVICE_SVC_INTERNAL_H
#define SERVICE_SVC_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "../../common/sf_hmap.h"
#include "../fleet/fleet.h"
#include "../fleet/fleet_local.h"
#include "../asl/exec.h"
#include "../asl/machine.h"
#include "../integrations/objstore.h"
#include "../store/store.h"
#include "service.h"

/* ---- the write batch ------------------------------------------------------ */

typedef enum {
    W_MACHINE,      /* a: id, b: created_ms, c: revision; s1 arn, s2 name, s3 type */
    W_REVISION,     /* a: machine id, c: revision */
    W_MACHINE_DEL,  /* a: machine id */
    W_VERSION,      /* a: machine id, c: revision, b: updated_ms; s1 definition, s2 role */
    W_EXEC,         /* a: id, b: start_ms, c: machine id, d: revision, u: seed;
                       s1 arn, s2 name, s3 input */
    W_EXEC_END,     /* a: id, b: stop_ms; s1 status, s2 output, s3 error, s4 cause */
    W_EVENT,        /* a: exec id; ev, arn: the event, rendered by the writer */
    W_INPUT,        /* a: exec id, b: seq, c: kind, d: now_ms, u: task id;
                       s1 payload, s2 a, s3 b */
    W_TOKEN,        /* a: exec id, u: task id; s1 token */
    W_ACTIVITY,     /* a: id, b: created_ms; s1 arn, s2 name */
    W_ACTIVITY_DEL, /* a: id */
} wop_kind;

typedef struct wop {
    wop_kind kind;
    int64_t a, b, c, d;
    uint64_t u;
    char *s1, *s2, *s3, *s4; /* owned */
    /* W_EVENT: a copy of the engine's event (JSON referenced, strings
     * borrowed from the engine and machine, which outlive the batch: an
     * execution is evicted only after its last batch commits) and the
     * execution's ARN, likewise borrowed. Turning its JSON values into
     * text is the costliest part of recording an event, so the renderer
     * does it, outside the lock, while the engines go on. */
    asl_event *ev;
    const char *arn;
} wop;

typedef enum {
    ACT_DISPATCH, /* hand task (exec, task) to whoever runs it */
    ACT_EVICT,    /* the execution ended: drop it from memory */
    ACT_FLEET,    /* its Started event is durable: send it to the fleet */
} act_kind;

typedef struct action {
    act_kind kind;
    int64_t exec_id;
    uint64_t task_id;
} action;

typedef struct batch {
    uint64_t seq;
    wop *ops;
    size_t n, cap;
    action *acts;
    size_t nacts, capacts;
    uint64_t transitions; /* state transitions this batch makes durable */
    uint64_t events;      /* history events likewise */
} batch;

/* ---- what lives in memory ------------------------------------------------ */

/* One revision of a definition, compiled; executions hold references. */
typedef struct svc_version {
    int refs;
    int64_t machine_id, revision;
    char *definition, *role_arn;
    int64_t updated_ms;
    asl_machine *m;
} svc_version;

typedef struct svc_machine {
    int64_t id;
    char *arn, *name, *type;
    int64_t created_ms;
    svc_version *cur;
    uint64_t seq; /* the batch that wrote its current revision */
} svc_machine;

typedef enum {
    TK_ACTIVITY,    /* waits for a GetActivityTask poller */
    TK_FUNCTION,    /* a Lambda-style local function */
    TK_CALLBACK,    /* .waitForTaskToken: waits for SendTask* or a link */
    TK_MAP_IO,      /* Map ItemReader / ResultWriter */
    TK_FLEET,       /* runs on a worker: a local function or a kernel */
    TK_UNSUPPORTED, /* fails at dispatch with a cause saying why */
} task_kind;

typedef struct svc_task {
    uint64_t id;
    task_kind kind;
    asl_cmd_type cmd;
    char *token;      /* sealed, or NULL */
    char *resource;   /* owned copies: the version may go before the task */
    char *state_name;
    json_t *input;
    bool queued;      /* in its activity's queue */
    bool started;     /* handed to a poller or runner */
    /* TK_FLEET */
    int attempt;
    int64_t timeout_s, heartbeat_s;
    uint64_t fleet_id;      /* while the fleet holds it, else 0 */
    bool invoke_wrap;       /* lambda:invoke: wrap the result */
    char *kernel;           /* what the worker runs: "spin", "lambda:NAME" */
    char *plan_error, *plan_cause; /* why it cannot run (kernel NULL) */
    uint32_t cores;
    uint64_t memory_bytes;
    bool gpu;
    char *worker;           /* where it runs now, or NULL while it waits */
    int64_t started_ms;
    json_t *progress;       /* the last report, or NULL */
    int64_t progress_ms;    /* when it came */
    int64_t progress_saved_ms; /* when one last went into the history */
} svc_task;

typedef struct svc_exec {
    struct svc *owner;
    int64_t id;
    char *arn, *name;
    svc_version *ver;
    asl_exec *e;
    json_t *input; /* for StartExecution's idempotence check */
    uint64_t seed;
    int64_t start_ms;
    int64_t seq;          /* next input's sequence number */
    size_t events_saved;  /* history events already in a batch */
    uint64_t transitions; /* counted so far */
    int64_t last_now;     /* the engine's clock never runs backwards */
    int64_t armed;        /* the deadline in the timer heap, or INT64_MAX */
    bool replaying;
    svc_task **tasks;     /* open tasks */
    size_t ntasks, captasks;
} svc_exec;

typedef struct svc_activity {
    int64_t id;
    char *arn, *name;
    int64_t created_ms;
    struct {
        int64_t exec_id;
        uint64_t task_id;
    } *queue;
    size_t qhead, qlen, qcap;
    pthread_cond_t cv;
    int pollers;
    bool deleted;
} svc_activity;

typedef struct timer_ent {
    int64_t at, exec_id;
} timer_ent;

typedef struct runner_job {
    int64_t exec_id;
    uint64_t task_id;
    struct runner_job *next;
} runner_job;

struct svc {
    svc_config cfg;
    char *db_path, *region, *account, *public_url, *functions_dir, *data_root;
    store *st;
    integ_objstore *objstore;
    unsigned char token_key[32];
    int64_t poll_ms; /* how long GetActivityTask waits */
    pthread_key_t reader_key;

    pthread_mutex_t mu;
    pthread_cond_t committed_cv; /* broadcast after every commit */
    pthread_cond_t render_cv;    /* work for the renderer */
    pthread_cond_t writer_cv;    /* work for the writer */
    pthread_cond_t timer_cv;     /* the earliest deadline moved */
    pthread_cond_t runner_cv;    /* work for the runners */
    bool stopping;      /* threads: finish up */
    bool closing;       /* operations: refuse new work, pollers return */
    bool threads_up;

    /* committed_seq is written under both mu and commit_mu, so either
     * suffices to read it; waiters sleep on commit_cv without holding mu. */
    pthread_mutex_t commit_mu;
    /* One condition per batch in flight (filling, rendering, writing, and
     * one spare), indexed by sequence number: a commit wakes only the
     * waiters of that batch, not those of the batches behind it. */
    pthread_cond_t commit_cv[4];
    batch *pending;  /* filling, under mu */
    batch *ready;    /* rendered, waiting for the writer */
    bool render_done;
    uint64_t committed_seq;
    svc_stats stats;

    sf_hmap machines;       /* arn -> svc_machine */
    sf_hmap execs;          /* id -> svc_exec (running ones) */
    sf_hmap exec_arns;      /* arn -> svc_exec */
    sf_hmap activities;     /* arn -> svc_activity */
    int64_t next_machine_id, next_exec_id, next_activity_id;

    timer_ent *heap;
    size_t nheap, capheap;

    runner_job *jobs_head, *jobs_tail;

    fleet *fleet;
    fleet_local *locals;

    pthread_t renderer, writer, timer;
    pthread_t *runners;
    int nrunners;
};

/* ---- svc_core.c: the batch, the writer, driving engines ------------------ */
int64_t svc_now_ms(void);
/* Appends a write to the pending batch; strings are copied (NULL stays NULL). */
/* Appends a write whose strings the batch now owns. */
void svc_write_take(svc *s, wop op);
void svc_write(svc *s, wop op, const char *s1, const char *s2, const char *s3, const char *s4);
void svc_act(svc *s, act_kind kind, int64_t exec_id, uint64_t task_id);
/* The ticket to wait for: the sequence number of the pending batch. */
uint64_t svc_ticket(svc *s);
/* Waits until ticket is committed: mu held on entry and on return. */
void svc_wait_commit(svc *s, uint64_t ticket);
/* The same, but releases mu first and returns without it: for answers
 * built before waiting, so that woken waiters do not queue for mu. */
void svc_commit_wait_unlock(svc *s, uint64_t ticket);
void svc_log(svc *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What an engine is fed; journalled before anything acts on its results. */
typedef struct svc_input {
    store_input_kind kind;
    uint64_t task_id;
    int64_t now_ms;   /* 0: the clock now */
    json_t *payload;  /* TASK_SUCCEEDED output (borrowed) */
    const char *a, *b;
} svc_input;

/* Feeds x (mu held): runs the engine, journals the input, records the new
 * history events, turns commands into tasks and actions, re-arms the
 * timer. SF_ENOTFOUND when the task named is not open (nothing changes). */
sf_rc svc_drive(svc *s, svc_exec *x, const svc_input *in);
/* Creates a live execution (not yet started) around an engine. */
svc_exec *svc_exec_new(svc *s, int64_t id, const char *arn, const char *name, svc_version *v,
                       json_t *input, uint64_t seed, int64_t start_ms);
void svc_exec_free(svc *s, svc_exec *x);
svc_task *svc_exec_task(svc_exec *x, uint64_t task_id);
void svc_version_release(svc_version *v);
batch *svc_batch_new(uint64_t seq);
void svc_batch_free(batch *b);
sf_rc svc_start_threads(svc *s);
void svc_stop_threads(svc *s);

/* ---- svc_timer.c ---------------------------------------------------------- */
void svc_timer_arm(svc *s, svc_exec *x);
void *svc_timer_main(void *arg);

/* ---- svc_tasks.c: commands and who runs them ------------------------------ */
/* A RUN_TASK or map I/O command becomes an open task (mu held). */
void svc_task_open(svc *s, svc_exec *x, const asl_cmd *c);
void svc_task_close(svc *s, svc_exec *x, uint64_t task_id);
/* After commit: hands the task to its activity queue, runner or waiter. */
void svc_task_dispatch(svc *s, int64_t exec_id, uint64_t task_id);
void *svc_runner_main(void *arg);
/* Logs a callback task's message and its approve/reject links (mu held). */
void svc_announce_callback(svc *s, svc_exec *x, svc_task *t);

void svc_activity_free(svc_activity *a);

/* ---- svc_fleet.c: tasks that run on workers ------------------------------- */
sf_rc svc_fleet_open(svc *s, char *err, size_t errlen);
/* Spawns the local workers (after the threads are up). */
sf_rc svc_fleet_start_locals(svc *s, char *err, size_t errlen);
void svc_fleet_close(svc *s);
/* Plans a fleet task from its command: the kernel, what it needs. False
 * when the parameters are wrong; the task then fails at dispatch. */
bool svc_fleet_plan(svc_task *t, const asl_cmd *c);
struct integ_resource;
bool svc_fleet_is_kernel(const struct integ_resource *r);
/* Marks the task started and queues its submission for after the commit. */
void svc_fleet_dispatch(svc *s, svc_exec *x, svc_task *t);
void svc_fleet_submit(svc *s, int64_t exec_id, uint64_t task_id);
/* The running tasks' statefleet view, for DescribeExecution. */
json_t *svc_fleet_describe_tasks(svc *s, svc_exec *x);
json_t *svc_fleet_stats(svc *s);
void svc_machine_free(svc_machine *m);

/* ---- svc_token.c ----------------------------------------------------------- */
/* Seals an engine's raw token for execution exec_id (the engine's hook). */
char *svc_token_seal(const unsigned char key[32], int64_t exec_id, const char *raw);
/* Checks a token's seal; SF_OK with the execution's id. */
sf_rc svc_token_open(const unsigned char key[32], const char *token, int64_t *exec_id);

/* ---- svc_recover.c --------------------------------------------------------- */
sf_rc svc_recover(svc *s, char *err, size_t errlen);
/* Compiles one revision of a definition. SF_EINVAL with every problem
 * found, joined, in err; SF_ENOMEM. */
sf_rc svc_version_compile(int64_t machine_id, int64_t revision, const char *definition,
                          const char *role_arn, int64_t updated_ms, svc_version **out, char *err,
                          size_t errlen);

/* ---- svc_api.c: shared by the operations ----------------------------------- */
/* Fills *resp with an AWS error body and returns status. */
int svc_error(json_t **resp, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
sqlite3 *svc_reader(svc *s);
sf_rc svc_reader_key_init(svc *s);
/* Reads a string member; NULL when absent. Sets an error when it is there but
 * no string, or too long. */
bool svc_str(json_t *req, const char *field, bool required, size_t max, const char **out,
             json_t **resp, int *status);
bool svc_valid_name(const char *name);
/* arn:aws:states:REGION:ACCOUNT:KIND:NAME[:SUB]: true when it parses and
 * KIND matches; name points into arn. */
bool svc_parse_arn(const char *arn, const char *kind, const char **name);
char *svc_arn(svc *s, const char *kind, const char *name, const char *sub);
json_t *svc_epoch(int64_t ms); /* AWS timestamps: epoch seconds, fractional */
/* The state machine's name in an execution ARN (…:execution:MACHINE:NAME). */
bool svc_machine_name_of(const char *exec_arn, char *buf, size_t len);
/* A store row's column (store_read.h answers rows as objects). */
int64_t svc_row_int(json_t *row, const char *col);
const char *svc_row_str(json_t *row, const char *col);
/* maxResults (1..1000, default 100) and nextToken ("<prefix>:<id>"). */
bool svc_page(json_t *req, const char *prefix, int *limit, int64_t *from, json_t **resp,
              int *status);
/* Answers {member: [item(row) for the first limit rows]} and a nextToken
 * when rows (limit + 1 asked for, consumed here) held more; 500 when rows
 * is NULL (the database could not be read). */
typedef json_t *(*svc_item_fn)(svc *s, json_t *row, void *ctx);
int svc_page_answer(svc *s, json_t **resp, const char *member, const char *prefix, json_t *rows,
                    int limit, svc_item_fn item, void *ctx);
/* Lookups that answer AWS's errors when nothing matches (mu held for the
 * machine; the execution is read from the database, a new reference). */
svc_machine *svc_find_machine(svc *s, const char *arn, json_t **resp, int *status);
json_t *svc_find_execution(svc *s, const char *arn, json_t **resp, int *status);

/* The operations, one group per file. */
typedef int (*svc_op_fn)(svc *s, json_t *req, json_t **resp);
int op_create_state_machine(svc *s, json_t *req, json_t **resp);
int op_describe_state_machine(svc *s, json_t *req, json_t **resp);
int op_update_state_machine(svc *s, json_t *req, json_t **resp);
int op_delete_state_machine(svc *s, json_t *req, json_t **resp);
int op_list_state_machines(svc *s, json_t *req, json_t **resp);
int op_validate_state_machine_definition(svc *s, json_t *req, json_t **resp);
int op_describe_state_machine_for_execution(svc *s, json_t *req, json_t **resp);
int op_start_execution(svc *s, json_t *req, json_t **resp);
int op_start_sync_execution(svc *s, json_t *req, json_t **resp);
int op_describe_execution(svc *s, json_t *req, json_t **resp);
int op_list_executions(svc *s, json_t *req, json_t **resp);
int op_get_execution_history(svc *s, json_t *req, json_t **resp);
int op_stop_execution(svc *s, json_t *req, json_t **resp);
int op_create_activity(svc *s, json_t *req, json_t **resp);
int op_describe_activity(svc *s, json_t *req, json_t **resp);
int op_delete_activity(svc *s, json_t *req, json_t **resp);
int op_list_activities(svc *s, json_t *req, json_t **resp);
int op_get_activity_task(svc *s, json_t *req, json_t **resp);
int op_send_task_success(svc *s, json_t *req, json_t **resp);
int op_send_task_failure(svc *s, json_t *req, json_t **resp);
int op_send_task_heartbeat(svc *s, json_t *req, json_t **resp);
int op_statefleet_get_stats(svc *s, json_t *req, json_t **resp);

#endif
