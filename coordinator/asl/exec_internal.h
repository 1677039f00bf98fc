/* asl/exec_internal.h - the engine's private structures, shared by exec.c
 * (frames, events, timers, the public calls), exec_state.c (what each state
 * does) and exec_fanout.c (Parallel and Map). Not for use outside asl/. */
#ifndef ASL_EXEC_INTERNAL_H
#define ASL_EXEC_INTERNAL_H

#include "exec.h"
#include "rng.h"

typedef enum {
    F_RUN,      /* on the run stack: enter f->state */
    F_TASK,     /* waiting for a task (or an item read / result write) */
    F_TIMER,    /* Wait state, or a retry delay */
    F_CHILDREN, /* Parallel / Map: waiting for branches or iterations */
    F_DONE,
} frame_wait;

typedef struct frame frame;
typedef struct fanout fanout;

struct frame {
    const asl_sm *sm;
    int state;           /* index into sm->states */
    json_t *input;       /* the state's raw input (owned) */
    json_t *effective;   /* after InputPath/Parameters (owned): Task, Parallel, Map */
    json_t *vars;        /* variables in scope (owned object); copied on write */
    frame *parent;       /* NULL for the top frame */
    size_t index;        /* iteration or branch index in the parent */
    frame_wait wait;
    bool queued;         /* on the run stack */
    bool history;        /* record events for this frame */
    bool retrying;       /* F_TIMER is a retry delay, not a Wait state */
    bool children_failed; /* the Parallel/Map state fails because a child did */
    int64_t prev_event;  /* previousEventId for this frame's next event */
    uint32_t steps;      /* states entered, for the history bound without history */
    int64_t entered_event;
    int64_t entered_ms;
    int *retry_count;    /* per retrier of the current state */
    int retry_total;     /* $$.State.RetryCount */
    uint64_t task_id;    /* F_TASK */
    bool started;        /* F_TASK: the worker picked it up (asl_exec_task_started) */
    char *token;         /* F_TASK with .waitForTaskToken or an activity */
    int64_t wake_at;     /* F_TIMER */
    int64_t timeout_at;  /* F_TASK: 0 = none */
    int64_t heartbeat_at;
    int64_t heartbeat_s;
    frame *timed_prev, *timed_next; /* on the list of frames with a deadline */
    bool timed;
    fanout *fan;         /* F_CHILDREN */
};

/* What a Parallel or Map state waits for. */
struct fanout {
    size_t n;            /* branches or items */
    size_t launched, running, finished, failed;
    size_t max_running;  /* 0 = unlimited */
    json_t *items;       /* Map: the item array (owned); NULL for Parallel */
    json_t *results;     /* array of n results (owned) */
    frame **live;        /* n slots: running children */
    bool distributed;
    bool has_tolerated_count, has_tolerated_percent;
    double tolerated_count, tolerated_percent;
    asl_err err;         /* the first failure */
    bool writing;        /* waiting for ResultWriter */
    char *run_name;      /* distributed: Map Run name */
};

struct asl_exec {
    const asl_machine *m;
    asl_exec_opts opts;  /* strings copied */
    char *s_exec_arn, *s_exec_name, *s_sm_arn, *s_sm_name, *s_role_arn;
    json_t *input;
    char start_time[32];
    int64_t now;
    asl_rng rng;
    asl_exec_status status;
    json_t *output;
    asl_err err;
    asl_history hist;
    uint64_t transitions;
    int64_t exec_deadline; /* TimeoutSeconds; 0 = none */

    frame *top;
    frame **stack;       /* runnable frames */
    size_t n_stack, cap_stack;
    frame *timed;        /* frames with a deadline */
    frame **tasks;       /* task id -> frame; ids are dense from 1 */
    size_t cap_tasks;
    uint64_t next_task_id;
    asl_cmd *cmds;
    size_t n_cmds, cap_cmds;
};

#define ASL_HISTORY_MAX 25000 /* AWS fails an execution whose history would grow past this */

/* The state a frame is in. */
static inline const asl_state *frame_state(const frame *f)
{
    return &f->sm->states[f->state];
}

/* What a Task's Resource names: AWS records each kind's life under its own
 * event types (Task*, LambdaFunction*, Activity*). */
typedef enum { RES_TASK, RES_LAMBDA, RES_ACTIVITY } resource_kind;

/* A moment in a task's life, recorded by exec_task_event. */
typedef enum { TP_SCHEDULED, TP_STARTED, TP_SUCCEEDED, TP_FAILED, TP_TIMED_OUT } task_phase;

/* exec.c */
/* Appends an event and returns it (valid until the next append), or NULL
 * when this frame keeps no history. */
asl_event *exec_event(asl_exec *e, frame *f, asl_event_type type, int state_type,
                      const char *name, json_t *data);
resource_kind exec_resource_kind(const char *resource);
/* Records a phase of the frame's task under the event type its Resource's
 * kind calls for; error and cause are copied. */
asl_event *exec_task_event(asl_exec *e, frame *f, task_phase phase, json_t *data, const char *error,
                           const char *cause);
void exec_push(asl_exec *e, frame *f);
void exec_set_timer(asl_exec *e, frame *f);
void exec_clear_timer(asl_exec *e, frame *f);
uint64_t exec_new_task(asl_exec *e, frame *f);
void exec_forget_task(asl_exec *e, frame *f);
sf_rc exec_command(asl_exec *e, asl_cmd_type type, uint64_t id, const char *state_name,
                   const char *resource, json_t *input);
frame *exec_frame_new(asl_exec *e, const asl_sm *sm, frame *parent, size_t index, json_t *input,
                      json_t *vars);
void exec_frame_free(asl_exec *e, frame *f);
void exec_end(asl_exec *e, asl_exec_status st, json_t *output, const char *error,
              const char *cause);
json_t *exec_context(asl_exec *e, frame *f, const asl_state *s, json_t *map_item);

/* exec_state.c */
/* Fails the current state with `error` and AWS's cause prefix naming the
 * state and the event that entered it. */
void state_runtime_error(asl_exec *e, frame *f, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A template evaluated with $ = input (the context built into *ctx on first
 * need; the caller releases it). NULL means the state has failed. */
json_t *state_apply_tmpl(asl_exec *e, frame *f, const asl_tmpl *t, json_t *input, json_t **ctx);
/* InputPath, then Parameters (not for Map, whose Parameters is its
 * ItemSelector): the state's effective input. NULL means the state failed. */
json_t *state_effective_input(asl_exec *e, frame *f, json_t **ctx);
void state_enter(asl_exec *e, frame *f);
void state_succeed(asl_exec *e, frame *f, json_t *result);
void state_fail(asl_exec *e, frame *f, const char *error, const char *cause);
/* state_fail, where a Retry or Catch naming `alias` (NULL: none) matches
 * too: a missed heartbeat fails as States.Timeout, yet States.HeartbeatTimeout
 * catches it. */
void state_fail_as(asl_exec *e, frame *f, const char *error, const char *cause, const char *alias);
void state_timer(asl_exec *e, frame *f);
void state_retry_now(asl_exec *e, frame *f);
bool state_check_size(asl_exec *e, frame *f, json_t *v, const char *what);

/* exec_fanout.c */
void fanout_start_parallel(asl_exec *e, frame *f);
void fanout_start_map(asl_exec *e, frame *f);
void fanout_items_read(asl_exec *e, frame *f, json_t *items);
void fanout_results_written(asl_exec *e, frame *f, json_t *details);
void fanout_launch(asl_exec *e, frame *f);
void fanout_child_done(asl_exec *e, frame *child, json_t *output);
void fanout_child_failed(asl_exec *e, frame *child, const char *error, const char *cause);
void fanout_abort(asl_exec *e, frame *f);
void fanout_free(fanout **p);

#endif
