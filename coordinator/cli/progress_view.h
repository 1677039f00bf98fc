/* cli/progress_view.h - what `statefleet watch` shows of an execution's
 * running tasks, as lines of text.
 *
 * A sample is one DescribeExecution answer's statefleetTasks, decoded, plus
 * what only successive samples tell: each task's rate (an exponential moving
 * average over the worker's updatedDate deltas) and ETA. The view turns
 * samples into lines, either a block redrawn in place on a terminal or plain
 * lines, one per change, for a log or a pipe.
 *
 * Pure: nothing here reads a clock, the terminal or the network, or prints.
 * The caller passes the time and the width and gets lines through a sink, so
 * the tests can drive it with made-up samples. */
#ifndef CLI_PROGRESS_VIEW_H
#define CLI_PROGRESS_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/sf_rc.h"

#define CLI_PROGRESS_NAME_MAX 128   /* bytes of a state, worker or kernel name kept */
#define CLI_PROGRESS_METRICS_MAX 8  /* metrics kept per task, in the order reported */
#define CLI_PROGRESS_TASKS_MAX 4096 /* tasks kept per sample; the rest are counted */
#define CLI_PROGRESS_LINE_MAX 1024  /* bytes of one rendered line, NUL included */

typedef struct cli_progress_metric {
    char name[64]; /* "train:objective_loss" */
    double value;
} cli_progress_metric;

/* One running task. Absent numbers are NAN (fraction, dates) or -1
 * (records, epoch); absent names are "". */
typedef struct cli_progress_task {
    char state[CLI_PROGRESS_NAME_MAX];
    char kernel[CLI_PROGRESS_NAME_MAX];
    char worker[CLI_PROGRESS_NAME_MAX]; /* "" while it waits for a worker */
    long long attempt;
    double start_date;
    bool has_progress; /* false until the worker's first report */
    double fraction;   /* 0..1 */
    long long records;
    long long epoch;
    cli_progress_metric metrics[CLI_PROGRESS_METRICS_MAX];
    size_t nmetrics;
    double updated_date;
    /* Derived by cli_progress_derive from the previous sample. */
    double record_rate;   /* records per second, NAN until two reports */
    double fraction_rate; /* fraction per second, NAN until two reports */
    double eta;           /* seconds left as of updated_date, NAN when unknown */
} cli_progress_task;

typedef struct cli_progress_sample {
    char name[CLI_PROGRESS_NAME_MAX]; /* the execution's name */
    char status[32];                  /* "RUNNING" */
    double start_date;                /* the execution's, NAN when absent */
    double taken;                     /* when the caller took it, epoch seconds */
    cli_progress_task *tasks;         /* owned */
    size_t n;
    size_t dropped; /* tasks past CLI_PROGRESS_TASKS_MAX, not kept */
} cli_progress_sample;

/* Where lines go: called once per line, without its newline; line is only
 * valid during the call. */
typedef void cli_progress_sink(void *ctx, const char *line);

/* Decodes a DescribeExecution answer (borrowed) taken at time taken into *s,
 * which must be zeroed or cleaned up. Fields of the wrong type count as
 * absent: a coordinator a version ahead must not stop the watch. SF_ENOMEM
 * leaves *s empty. */
sf_rc cli_progress_decode(const json_t *describe, double taken, cli_progress_sample *s);
/* Frees what s holds and zeroes it. NULL-safe. */
void cli_progress_cleanup(cli_progress_sample *s);

/* Fills cur's rates and ETAs from prev (NULL for the first sample): a task
 * is the same one when its state name, attempt and start date match. */
void cli_progress_derive(const cli_progress_sample *prev, cli_progress_sample *cur);

/* The terminal view of cur: a header line, then one line per task, each at
 * most width - 1 columns (the last column would make some terminals wrap),
 * and at most height lines in all ("... and N more" closes a cut list). The
 * bar shrinks first, then the least useful fields go. */
void cli_progress_render_tty(const cli_progress_sample *cur, int width, int height,
                             cli_progress_sink *sink, void *ctx);

/* The plain view of what changed from prev (NULL: nothing seen yet) to cur:
 * a line for each task that started (stamped with its startDate) or ended,
 * one for each task whose progress changed (stamped with the report's
 * updatedDate), and one when a waiting task got its worker. Lines without a
 * date of their own carry cur->taken. */
void cli_progress_render_plain(const cli_progress_sample *prev, const cli_progress_sample *cur,
                               cli_progress_sink *sink, void *ctx);

/* t (epoch seconds) as "2026-11-25T10:00:05Z" into out (at least 32
 * bytes); "-" when t is not a representable time. */
void cli_progress_format_time(double t, char *out, size_t outlen);

/* seconds as "0:07", "12:05" or "3:04:05". */
void cli_progress_format_duration(double seconds, char *out, size_t outlen);

#endif
