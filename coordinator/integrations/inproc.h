/* integrations/inproc.h - run one execution to its end inside this process.
 *
 * The shell around the pure engine for `statefleet run` and the
 * conformance tests: it answers the engine's commands (local functions as
 * child processes, Map items and results through the object store) and
 * keeps its clock, real or virtual. Virtual time is real time plus the
 * waits it skipped: whenever nothing runs but a deadline, the clock jumps
 * to it, so Wait states and retry delays cost nothing while task timeouts
 * still hold against tasks that really run. */
#ifndef INTEG_INPROC_H
#define INTEG_INPROC_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "../../common/sf_rc.h"
#include "../asl/exec.h"

typedef struct integ_run_opts {
    const char *functions_dir; /* where Lambda-style functions live; NULL: none */
    const char *data_root;     /* the local object store; NULL: no s3:// access */
    bool virtual_time;
    uint64_t seed;
    const char *exec_name;     /* NULL: derived from the seed */
    const char *sm_name;       /* NULL: "local" */
    bool no_history;
} integ_run_opts;

/* Runs m on input (both borrowed) to the end. *out is the finished
 * execution (status, output, error, history); the caller destroys it.
 * Non-OK only when the run itself could not proceed (out of memory). */
sf_rc integ_run_inprocess(const asl_machine *m, json_t *input, const integ_run_opts *o,
                          asl_exec **out);

#endif
