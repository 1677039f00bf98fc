/* cli/run_embedded.h - `statefleet run` on the embedded coordinator.
 *
 * The default way to run: a coordinator (service.h) opened inside this
 * process on a SQLite file, with local workers it spawns (one per NUMA
 * node) running the Task states' functions and kernels, driven through
 * the same operations a remote client would call. The execution is as
 * durable, and runs where, a served one would; only the HTTP is missing.
 * The engine in this process (inproc.h) stays for --virtual-time and
 * --in-process. */
#ifndef CLI_RUN_EMBEDDED_H
#define CLI_RUN_EMBEDDED_H

#include <stdbool.h>

#include <jansson.h>

typedef struct cli_embedded_opts {
    const char *def_path;      /* the definition file, already validated */
    json_t *input;             /* borrowed */
    const char *functions_dir; /* where Lambda-style functions live */
    const char *data_root;     /* the local object store for s3:// */
    const char *db_path;       /* kept afterwards; NULL: a temporary file, removed */
    int local_workers;         /* -1: one per NUMA node; N: N */
    bool json_out, history;
    bool verbose; /* the coordinator's and workers' log lines on stderr */
} cli_embedded_opts;

/* Runs one execution to its end and prints it (run_report.h). Returns the
 * exit code: 0, 1 (failed, timed out, aborted, or the coordinator could
 * not start), 2 (the coordinator refused the definition or the input).
 * SIGINT or SIGTERM while it runs stops the execution (StopExecution),
 * which then ends ABORTED and is reported as such. */
int cli_run_embedded(const cli_embedded_opts *o);

#endif
