/* asl/machine.h - a state machine compiled for execution.
 *
 * asl_machine_compile validates a definition (validate.h) and then turns it
 * into arrays of states whose transitions are indexes, paths and templates
 * precompiled, so that the engine never looks up a name or parses a string
 * while it runs. A compiled machine is immutable and may be shared by any
 * number of executions. */
#ifndef ASL_MACHINE_H
#define ASL_MACHINE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "../../common/sf_rc.h"
#include "choice.h"
#include "diag.h"
#include "expr.h"
#include "jsonpath.h"
#include "template.h"

#define ASL_STATE_TYPES(X) \
    X(ASL_PASS, "Pass") X(ASL_TASK, "Task") X(ASL_CHOICE, "Choice") X(ASL_WAIT, "Wait") \
    X(ASL_SUCCEED, "Succeed") X(ASL_FAIL, "Fail") X(ASL_PARALLEL, "Parallel") X(ASL_MAP, "Map")

typedef enum {
#define ASL_ST_ENUM(e, s) e,
    ASL_STATE_TYPES(ASL_ST_ENUM)
#undef ASL_ST_ENUM
} asl_state_type;

const char *asl_state_type_name(asl_state_type t);

/* An optional path field. AWS distinguishes absent ("$") from null. */
typedef struct asl_opt_path {
    asl_path *path; /* NULL when absent (the default "$") or null */
    bool is_null;   /* the field was JSON null */
} asl_opt_path;

/* An integer field that may come from a "...Path" twin instead. */
typedef struct asl_num_field {
    bool set;         /* either form given */
    double value;     /* the literal */
    asl_path *path;   /* the Path form, when given */
} asl_num_field;

typedef struct asl_retrier {
    char **errors;
    size_t n_errors;
    double interval_s;   /* IntervalSeconds, default 1 */
    int max_attempts;    /* MaxAttempts, default 3 */
    double backoff;      /* BackoffRate, default 2.0 */
    double max_delay_s;  /* MaxDelaySeconds, 0 = none */
    bool jitter_full;    /* JitterStrategy FULL */
} asl_retrier;

typedef struct asl_catcher {
    char **errors;
    size_t n_errors;
    int next;                 /* state index */
    asl_opt_path result_path; /* default "$" */
    asl_tmpl *assign;
} asl_catcher;

typedef struct asl_choice_branch {
    asl_choice_rule *rule;
    int next;
    asl_tmpl *assign;
} asl_choice_branch;

typedef struct asl_sm asl_sm;

typedef struct asl_state {
    char *name;
    asl_state_type type;
    int next;   /* index of Next, -1 when End (or none, for Choice/Succeed/Fail) */
    bool uses_context; /* some field mentions "$$": build the context object */

    asl_opt_path input_path, output_path, result_path;
    asl_tmpl *parameters;       /* Parameters (ItemSelector for Map) */
    asl_tmpl *result_selector;
    asl_tmpl *assign;
    json_t *result;             /* Pass: Result */

    /* Task */
    char *resource;
    asl_num_field timeout, heartbeat;
    /* Task, Parallel, Map */
    asl_retrier *retry;
    size_t n_retry;
    asl_catcher *catch_;
    size_t n_catch;

    /* Choice */
    asl_choice_branch *choices;
    size_t n_choices;
    int default_next; /* -1 when no Default */

    /* Wait */
    asl_num_field seconds;
    bool has_timestamp;
    int64_t timestamp_ns;
    asl_path *timestamp_path;

    /* Fail */
    char *error, *cause;
    asl_expr error_path, cause_path; /* text NULL when absent */

    /* Parallel */
    asl_sm *branches;
    size_t n_branches;

    /* Map */
    asl_sm *iterator;
    asl_opt_path items_path;
    json_t *items;            /* Items: a literal array */
    asl_num_field max_concurrency;
    bool distributed;
    asl_num_field tolerated_count, tolerated_percent;
    char *label;
    json_t *item_reader;      /* ItemReader as written (its Parameters may use paths) */
    asl_tmpl *reader_params;  /* ItemReader.Parameters */
    json_t *item_batcher;
    asl_tmpl *batch_input;    /* ItemBatcher.BatchInput */
    asl_num_field max_items_per_batch, max_bytes_per_batch;
    json_t *result_writer;
    asl_tmpl *writer_params;  /* ResultWriter.Parameters */
    asl_num_field max_items;  /* ItemReader.ReaderConfig.MaxItems */
} asl_state;

struct asl_sm {
    asl_state *states;
    size_t n_states;
    int start;
};

typedef struct asl_machine {
    asl_sm top;
    json_t *definition; /* the source, owned */
    int64_t timeout_s;  /* TimeoutSeconds, 0 = none */
} asl_machine;

/* Validates and compiles def (borrowed). On SF_EINVAL/SF_EUNSUPPORTED the
 * located messages are in d and *out is NULL. */
sf_rc asl_machine_compile(json_t *def, asl_machine **out, asl_diag *d);
/* The same from JSON text; a JSON syntax error is reported with its line and
 * column. */
sf_rc asl_machine_parse(const char *text, size_t len, asl_machine **out, asl_diag *d);
void asl_machine_destroy(asl_machine **m);

/* Index of state name in sm, or -1. */
int asl_sm_find(const asl_sm *sm, const char *name);

#endif
