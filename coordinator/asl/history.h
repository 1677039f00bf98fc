/* asl/history.h - history events, in AWS's types and fields.
 *
 * The engine appends compact events (a type, the state's name, borrowed from
 * the machine, and references to the JSON values involved); turning one into
 * AWS's JSON (GetExecutionHistory's shape) happens only when someone asks,
 * so that recording history costs almost nothing on the hot path. */
#ifndef ASL_HISTORY_H
#define ASL_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../../common/sf_rc.h"

/* X(enum, AWS type name, kind of details) - append only. */
#define ASL_EVENT_TYPES(X)                                            \
    X(ASL_EV_EXECUTION_STARTED, "ExecutionStarted", EXEC_STARTED)     \
    X(ASL_EV_EXECUTION_SUCCEEDED, "ExecutionSucceeded", EXEC_OUTPUT)  \
    X(ASL_EV_EXECUTION_FAILED, "ExecutionFailed", EXEC_ERROR)         \
    X(ASL_EV_EXECUTION_TIMED_OUT, "ExecutionTimedOut", EXEC_ERROR)    \
    X(ASL_EV_EXECUTION_ABORTED, "ExecutionAborted", EXEC_ERROR)       \
    X(ASL_EV_STATE_ENTERED, "StateEntered", ENTERED)                  \
    X(ASL_EV_STATE_EXITED, "StateExited", EXITED)                     \
    X(ASL_EV_TASK_SCHEDULED, "TaskScheduled", TASK_SCHEDULED)         \
    X(ASL_EV_TASK_STARTED, "TaskStarted", TASK_PLAIN)                 \
    X(ASL_EV_TASK_SUCCEEDED, "TaskSucceeded", TASK_OUTPUT)            \
    X(ASL_EV_TASK_FAILED, "TaskFailed", TASK_ERROR)                   \
    X(ASL_EV_TASK_TIMED_OUT, "TaskTimedOut", TASK_ERROR)              \
    X(ASL_EV_TASK_SUBMITTED, "TaskSubmitted", TASK_OUTPUT)            \
    X(ASL_EV_LAMBDA_SCHEDULED, "LambdaFunctionScheduled", LAMBDA_SCHEDULED) \
    X(ASL_EV_LAMBDA_STARTED, "LambdaFunctionStarted", NONE)           \
    X(ASL_EV_LAMBDA_SUCCEEDED, "LambdaFunctionSucceeded", LAMBDA_OUTPUT) \
    X(ASL_EV_LAMBDA_FAILED, "LambdaFunctionFailed", LAMBDA_ERROR)     \
    X(ASL_EV_LAMBDA_TIMED_OUT, "LambdaFunctionTimedOut", LAMBDA_ERROR) \
    X(ASL_EV_PARALLEL_STARTED, "ParallelStateStarted", NONE)          \
    X(ASL_EV_PARALLEL_SUCCEEDED, "ParallelStateSucceeded", NONE)      \
    X(ASL_EV_PARALLEL_FAILED, "ParallelStateFailed", NONE)            \
    X(ASL_EV_PARALLEL_ABORTED, "ParallelStateAborted", NONE)          \
    X(ASL_EV_MAP_STARTED, "MapStateStarted", MAP_STARTED)             \
    X(ASL_EV_MAP_SUCCEEDED, "MapStateSucceeded", NONE)                \
    X(ASL_EV_MAP_FAILED, "MapStateFailed", NONE)                      \
    X(ASL_EV_MAP_ABORTED, "MapStateAborted", NONE)                    \
    X(ASL_EV_MAP_ITERATION_STARTED, "MapIterationStarted", MAP_ITER)  \
    X(ASL_EV_MAP_ITERATION_SUCCEEDED, "MapIterationSucceeded", MAP_ITER) \
    X(ASL_EV_MAP_ITERATION_FAILED, "MapIterationFailed", MAP_ITER)    \
    X(ASL_EV_MAP_ITERATION_ABORTED, "MapIterationAborted", MAP_ITER)  \
    X(ASL_EV_MAP_RUN_STARTED, "MapRunStarted", MAP_RUN)               \
    X(ASL_EV_MAP_RUN_SUCCEEDED, "MapRunSucceeded", NONE)              \
    X(ASL_EV_MAP_RUN_FAILED, "MapRunFailed", EXEC_ERROR)              \
    X(ASL_EV_ACTIVITY_SCHEDULED, "ActivityScheduled", ACTIVITY_SCHEDULED) \
    X(ASL_EV_ACTIVITY_SCHEDULE_FAILED, "ActivityScheduleFailed", ACTIVITY_ERROR) \
    X(ASL_EV_ACTIVITY_STARTED, "ActivityStarted", ACTIVITY_STARTED)   \
    X(ASL_EV_ACTIVITY_SUCCEEDED, "ActivitySucceeded", ACTIVITY_OUTPUT) \
    X(ASL_EV_ACTIVITY_FAILED, "ActivityFailed", ACTIVITY_ERROR)       \
    X(ASL_EV_ACTIVITY_TIMED_OUT, "ActivityTimedOut", ACTIVITY_ERROR)    \
    X(ASL_EV_TASK_PROGRESS, "TaskProgress", TASK_PROGRESS)

typedef enum {
#define ASL_EV_ENUM(e, name, kind) e,
    ASL_EVENT_TYPES(ASL_EV_ENUM)
#undef ASL_EV_ENUM
} asl_event_type;

typedef struct asl_event {
    asl_event_type type;
    int state_type;      /* asl_state_type, for *StateEntered/Exited names */
    int64_t id;          /* 1-based, as AWS numbers them */
    int64_t prev_id;     /* the event that led here, 0 for the first */
    int64_t ts_ms;       /* the caller's clock when it happened */
    const char *name;    /* state name (borrowed from the machine) or owned_name */
    char *owned_name;    /* a name made at run time (a Map Run's, an activity
                            worker's), owned, or NULL */
    const char *resource; /* Task: the Resource ARN; borrowed from the machine.
                             ExecutionStarted: the role ARN; borrowed from the execution */
    json_t *data;        /* input, output or parameters (owned reference), or NULL;
                            TaskProgress: the progress object */
    json_t *vars;        /* StateExited: variables assigned (owned), or NULL */
    char *error, *cause; /* owned, or NULL */
    int64_t index;       /* Map iteration index; Map length; task timeout */
    int64_t extra;       /* task heartbeat seconds */
} asl_event;

/* An execution's events, append-only, with a hard cap. */
typedef struct asl_history {
    asl_event *ev;
    size_t n, cap;
    size_t max; /* refuse past this many (AWS allows 25,000) */
} asl_history;

/* The AWS type name, e.g. "PassStateEntered" for ASL_EV_STATE_ENTERED of a
 * Pass state. buf needs 48 bytes. */
const char *asl_event_type_name(const asl_event *e, char buf[48]);

/* AWS's JSON for one event (id, previousEventId, timestamp, type and the
 * details member). New reference; NULL when out of memory. */
json_t *asl_event_to_json(const asl_event *e, const char *region, const char *exec_arn);

void asl_history_cleanup(asl_history *h);

#endif
