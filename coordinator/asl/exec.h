/* asl/exec.h - one execution of a state machine, advanced by events.
 *
 * The engine is a pure function of its inputs: the caller starts it and
 * feeds it what happened (a task succeeded or failed, a task sent a
 * heartbeat, time advanced, someone stopped it); after each call the engine
 * has appended AWS-shaped history events and queued commands for the caller
 * (run this task, cancel that one, read Map items, write Map results). It
 * never performs I/O, never reads a clock and never sleeps: every call
 * carries the caller's `now` in milliseconds since the epoch, and waits and
 * retry delays become deadlines the caller honours by calling
 * asl_exec_tick at or after asl_exec_next_deadline. Feeding the same calls
 * again (same seed) rebuilds the same history, which is how a durable
 * coordinator replays an execution after a crash.
 *
 * Ownership: JSON passed in is borrowed (the engine takes its own
 * references); JSON in commands and history is owned by the engine until
 * asl_cmd_cleanup / asl_exec_destroy. */
#ifndef ASL_EXEC_H
#define ASL_EXEC_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "../../common/sf_rc.h"
#include "history.h"
#include "machine.h"

#define ASL_PAYLOAD_MAX 262144 /* AWS's 256 KiB limit on state input and output */

typedef enum {
    ASL_EXEC_RUNNING,
    ASL_EXEC_SUCCEEDED,
    ASL_EXEC_FAILED,
    ASL_EXEC_TIMED_OUT,
    ASL_EXEC_ABORTED,
} asl_exec_status;

const char *asl_exec_status_name(asl_exec_status s); /* "SUCCEEDED", ... */

typedef struct asl_exec_opts {
    const char *exec_arn;  /* $$.Execution.Id */
    const char *exec_name; /* $$.Execution.Name */
    const char *sm_arn;    /* $$.StateMachine.Id */
    const char *sm_name;   /* $$.StateMachine.Name */
    const char *role_arn;  /* $$.Execution.RoleArn */
    uint64_t seed;         /* for States.UUID, MathRandom, jitter and task tokens */
    bool no_history;       /* keep no history events (benchmarks, huge runs) */
    /* Optional: turns each raw task token the engine mints into the one the
     * world sees ($$.Task.Token, asl_cmd.token, asl_exec_task_by_token), e.g.
     * by appending an HMAC. Returns a malloc'd string the engine then owns and
     * frees, or NULL (treated as out of memory). It is called exactly once
     * per token, in the same order on every run with the same calls, so it
     * must be deterministic for a replay to mint the same tokens. */
    char *(*seal_token)(void *ctx, const char *raw);
    void *seal_ctx;
} asl_exec_opts;

typedef enum {
    ASL_CMD_RUN_TASK,      /* run resource with input; answer with task_* calls */
    ASL_CMD_CANCEL_TASK,   /* the task is no longer wanted; its answer will be ignored */
    ASL_CMD_READ_ITEMS,    /* Map ItemReader: input is the reader spec with Parameters
                              resolved; answer task_succeeded with the items array */
    ASL_CMD_WRITE_RESULTS, /* Map ResultWriter: input is {"ResultWriter":..., "MapRunArn":...,
                              "Results":[...]}; answer task_succeeded with the writer's
                              details, which become the Map's result */
} asl_cmd_type;

typedef struct asl_cmd {
    asl_cmd_type type;
    uint64_t task_id;
    const char *state_name; /* borrowed from the machine */
    const char *resource;   /* RUN_TASK: borrowed from the machine */
    json_t *input;          /* owned reference */
    int64_t timeout_s;      /* RUN_TASK: 0 = none (the engine enforces it too) */
    int64_t heartbeat_s;    /* RUN_TASK: 0 = none */
    char *token;            /* RUN_TASK: the task token (sealed), owned; set for
                               .waitForTaskToken and activity resources, else NULL */
    int attempt;            /* RUN_TASK: 0 for the first try, then retries */
} asl_cmd;

void asl_cmd_cleanup(asl_cmd *c);

typedef struct asl_exec asl_exec;

/* Creates an execution of m (borrowed; must outlive the execution) with
 * input (borrowed). Nothing happens until asl_exec_start. */
sf_rc asl_exec_new(const asl_machine *m, json_t *input, const asl_exec_opts *o, asl_exec **out);
void asl_exec_destroy(asl_exec **e);

sf_rc asl_exec_start(asl_exec *e, int64_t now_ms);
/* The worker picked the task up (TaskStarted, LambdaFunctionStarted, or
 * ActivityStarted with worker_name, which may be NULL, as its workerName).
 * An activity's heartbeat clock starts here, not while it waits for a
 * poller. SF_ESTATE when the task was already started. */
sf_rc asl_exec_task_started(asl_exec *e, uint64_t task_id, const char *worker_name, int64_t now_ms);
sf_rc asl_exec_task_succeeded(asl_exec *e, uint64_t task_id, json_t *output, int64_t now_ms);
sf_rc asl_exec_task_failed(asl_exec *e, uint64_t task_id, const char *error, const char *cause,
                           int64_t now_ms);
sf_rc asl_exec_task_heartbeat(asl_exec *e, uint64_t task_id, int64_t now_ms);
/* A started task reported progress (a statefleet extension, for fleet
 * tasks): records a TaskProgress event holding progress (borrowed; an
 * object such as {"fraction":0.4,"records":1200,"epoch":2,"metrics":{}})
 * and counts as a heartbeat. The caller decides how often: every report
 * would swamp the history. SF_ESTATE when the task has not started. */
sf_rc asl_exec_task_progress(asl_exec *e, uint64_t task_id, json_t *progress, int64_t now_ms);
/* Fires every wait, retry delay and timeout due at now_ms. */
sf_rc asl_exec_tick(asl_exec *e, int64_t now_ms);
/* StopExecution: the execution ends ABORTED; running tasks are cancelled. */
sf_rc asl_exec_stop(asl_exec *e, const char *error, const char *cause, int64_t now_ms);

/* The earliest deadline, or INT64_MAX when nothing waits on time. */
int64_t asl_exec_next_deadline(const asl_exec *e);

/* Moves the queued commands to the caller: *cmds (caller frees the array
 * with free() after asl_cmd_cleanup on each) and returns their count. */
size_t asl_exec_take_commands(asl_exec *e, asl_cmd **cmds);

asl_exec_status asl_exec_get_status(const asl_exec *e);
json_t *asl_exec_output(const asl_exec *e);     /* borrowed; SUCCEEDED only */
const char *asl_exec_error(const asl_exec *e);  /* FAILED/TIMED_OUT/ABORTED, may be NULL */
const char *asl_exec_cause(const asl_exec *e);
const asl_history *asl_exec_history(const asl_exec *e);
/* State transitions so far (each state entered counts one). */
uint64_t asl_exec_transitions(const asl_exec *e);

/* What a coordinator asks after replaying an execution, to know which
 * commands still wait on the world. A task is open from its command
 * (RUN_TASK, READ_ITEMS, WRITE_RESULTS) until it is answered, times out, or
 * is cancelled (which includes the execution ending). */
bool asl_exec_task_is_open(const asl_exec *e, uint64_t task_id);
/* Open, and asl_exec_task_started was called for it. */
bool asl_exec_task_was_started(const asl_exec *e, uint64_t task_id);
/* The open task whose (sealed) token this is, or 0. */
uint64_t asl_exec_task_by_token(const asl_exec *e, const char *token);

#endif
