/* cli/run_report.h - what `statefleet run` prints when an execution ends.
 *
 * Both ways of running (the engine in this process, or the embedded
 * coordinator) end here, so that what a person or a script sees does not
 * depend on where the execution ran. */
#ifndef CLI_RUN_REPORT_H
#define CLI_RUN_REPORT_H

#include <stdbool.h>

#include <jansson.h>

/* An ended execution; everything borrowed. */
typedef struct cli_run_result {
    const char *status; /* "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED" */
    json_t *output;     /* SUCCEEDED: the output; NULL otherwise */
    const char *error;  /* NULL: none */
    const char *cause;  /* NULL: none */
    json_t *events;     /* AWS's history events, an array; NULL: not asked for */
} cli_run_result;

/* Prints r and returns the exit code. Without json_out: the output on
 * stdout (exit 0), or "STATUS: error: cause" on stderr (exit 1), the
 * events first on stderr, one per line. With json_out: one object on
 * stdout, {"status":..., "output"|"error","cause", "events"}, exit 0.
 * stdout carries nothing else, so that it can be piped. */
int cli_run_report(const cli_run_result *r, bool json_out);

#endif
