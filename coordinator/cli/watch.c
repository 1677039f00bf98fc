/* cli/watch.c - `statefleet watch`: polls DescribeExecution and shows the
 * statefleetTasks it lists (see watch.h), until the execution ends.
 *
 * On a terminal the view is a block of lines redrawn in place; anywhere else
 * it is plain lines, one per change, that a log keeps. What the lines say is
 * progress_view.c's business; this file owns the clock, the terminal, the
 * signals and the calls. It never changes the terminal's modes (no raw
 * mode, no hidden cursor), so however it ends there is nothing to restore:
 * between frames the cursor always rests on a fresh line below the block. */
#define _POSIX_C_SOURCE 200809L /* sigaction, nanosleep, clock_gettime */
#include "watch.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "client_commands.h"
#include "progress_view.h"

#define INTERVAL_DEFAULT_S 0.5
#define INTERVAL_MIN_S 0.05 /* faster only loads the coordinator */
#define INTERVAL_MAX_S 3600.0

/* A coordinator restarting, or a moment of network trouble, should not end
 * a watch of a long execution; one that stays away for this many calls a
 * second apart is gone. */
#define CALL_TRIES 5
#define RETRY_DELAY_S 1.0

static volatile sig_atomic_t interrupted; /* the signal that asked us to stop */

static void on_signal(int sig)
{
    interrupted = sig;
}

typedef struct watch {
    cli_client *c;
    json_t *req; /* {"executionArn": ...} */
    double interval;
    bool tty;
    int drawn; /* lines of the block now on the terminal, under which the cursor rests */
    cli_progress_sample prev;
    bool have_prev;
} watch;

static double now_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleeps s seconds, or less when a stop signal comes. */
static void pause_s(double s)
{
    if (!(s > 0))
        return;
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (!interrupted && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ; /* another signal (SIGWINCH): sleep the rest */
}

/* ---- output ---- */

static void emit_plain(void *ctx, const char *line)
{
    (void)ctx;
    printf("%s\n", line);
}

static void emit_tty(void *ctx, const char *line)
{
    watch *w = ctx;
    /* \r and erase-line first: the line below the block may hold "^C" or
     * the start of a message. */
    printf("\r\x1b[2K%s\n", line);
    w->drawn++;
}

/* The terminal's size, re-read every frame so a resize takes effect. */
static void term_size(int *width, int *height)
{
    struct winsize ws;
    *width = 80;
    *height = 24;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        *width = ws.ws_col;
        *height = ws.ws_row > 0 ? ws.ws_row : *height;
    } else {
        const char *c = getenv("COLUMNS");
        if (c && atoi(c) > 0)
            *width = atoi(c);
    }
}

/* Replaces the block on the terminal with the view of s. */
static void draw(watch *w, const cli_progress_sample *s)
{
    int width, height;
    term_size(&width, &height);
    /* Up to the block's first line and clear everything below. */
    if (w->drawn > 0)
        printf("\x1b[%dA\r\x1b[J", w->drawn);
    w->drawn = 0;
    /* One row stays free for the cursor: a block that filled the screen
     * would scroll, and cursor-up could no longer reach its top. */
    cli_progress_render_tty(s, width, height - 1, emit_tty, w);
    fflush(stdout);
}

/* Removes the block (before the final status line replaces it). */
static void erase_block(watch *w)
{
    if (w->drawn > 0)
        printf("\x1b[%dA\r\x1b[J", w->drawn);
    w->drawn = 0;
}

/* Before a message on stderr: the block is left as it is and the next
 * frame starts below the message. */
static void before_message(watch *w)
{
    fflush(stdout);
    w->drawn = 0;
}

/* "2026-11-25T10:00:09Z run-42 FAILED after 1:02", then error and cause. */
static int print_final(watch *w, const json_t *resp, const cli_progress_sample *s)
{
    const json_t *stop = json_object_get(resp, "stopDate");
    double stopped = json_is_number(stop) ? json_number_value(stop) : s->taken;
    char ts[32], ran[32];
    cli_progress_format_time(stopped, ts, sizeof ts);
    if (w->tty)
        erase_block(w);
    printf("%s %s %s", ts, s->name, s->status);
    if (!isnan(s->start_date)) {
        cli_progress_format_duration(stopped - s->start_date, ran, sizeof ran);
        printf(" after %s", ran);
    }
    printf("\n");
    bool ok = strcmp(s->status, "SUCCEEDED") == 0;
    const char *error = json_string_value(json_object_get(resp, "error"));
    const char *cause = json_string_value(json_object_get(resp, "cause"));
    if (!ok && error)
        printf("  error: %s\n", error);
    if (!ok && cause)
        printf("  cause: %s\n", cause);
    fflush(stdout);
    return ok ? 0 : 1;
}

/* ---- the loop ---- */

/* Worth another try: the coordinator could not be reached, or said it is
 * overloaded or broken for now. Anything else it says stands. */
static bool transient(sf_rc rc, const cli_error *err)
{
    if (rc == SF_EIO)
        return true;
    return rc == SF_EINVAL &&
           (err->http_status >= 500 || strcmp(err->type, "ThrottlingException") == 0);
}

/* One DescribeExecution, retried while the trouble looks transient. 0 with
 * *resp (a new reference), or the exit code after saying why. */
static int describe(watch *w, json_t **resp)
{
    for (int tries = 1;; tries++) {
        cli_error err;
        sf_rc rc = cli_client_call(w->c, "DescribeExecution", w->req, resp, &err);
        if (rc == SF_OK)
            return 0;
        if (interrupted)
            return 2;
        if (w->tty)
            before_message(w);
        if (!transient(rc, &err) || tries == CALL_TRIES) {
            cli_error_print(stderr, "DescribeExecution", &err);
            return 2;
        }
        fprintf(stderr, "statefleet: DescribeExecution: %s%s%s (retrying, %d of %d)\n", err.type,
                *err.type ? ": " : "", err.message, tries, CALL_TRIES - 1);
        pause_s(RETRY_DELAY_S);
        if (interrupted)
            return 2;
    }
}

/* Polls until the execution ends; returns the exit code. */
static int run(watch *w)
{
    for (;;) {
        double began = now_s(CLOCK_MONOTONIC);
        json_t *resp = NULL;
        int code = describe(w, &resp);
        if (code != 0 || interrupted) {
            json_decref(resp);
            return code;
        }
        cli_progress_sample cur;
        if (cli_progress_decode(resp, now_s(CLOCK_REALTIME), &cur) != SF_OK) {
            json_decref(resp);
            if (w->tty)
                before_message(w);
            fprintf(stderr, "statefleet: out of memory\n");
            return 2;
        }
        cli_progress_derive(w->have_prev ? &w->prev : NULL, &cur);
        bool running =
            strcmp(cur.status, "RUNNING") == 0 || strcmp(cur.status, "PENDING_REDRIVE") == 0;
        if (!json_is_string(json_object_get(resp, "status"))) {
            if (w->tty)
                before_message(w);
            fprintf(stderr, "statefleet: DescribeExecution: the answer from %s has no status\n",
                    cli_client_endpoint(w->c));
            code = 2;
        } else if (w->tty && running) {
            draw(w, &cur);
        } else if (!w->tty) {
            if (!w->have_prev && running) {
                char ts[32];
                cli_progress_format_time(cur.taken, ts, sizeof ts);
                printf("%s %s %s\n", ts, cur.name, cur.status);
            }
            cli_progress_render_plain(w->have_prev ? &w->prev : NULL, &cur, emit_plain, NULL);
            fflush(stdout);
        }
        if (code == 0 && !running)
            code = print_final(w, resp, &cur);
        json_decref(resp);
        cli_progress_cleanup(&w->prev);
        w->prev = cur;
        w->have_prev = true;
        if (code != 0 || !running)
            return code;
        pause_s(w->interval - (now_s(CLOCK_MONOTONIC) - began));
        if (interrupted)
            return 2;
    }
}

static bool parse_interval(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < INTERVAL_MIN_S || v > INTERVAL_MAX_S)
        return false;
    *out = v;
    return true;
}

/* Catches sig unless it was ignored when we started (nohup, a background
 * job of a non-interactive shell): that choice was not ours to undo. */
static void catch_signal(int sig, struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a sleep must end at once. A second ^C falls to the
     * default and kills us, for a call stuck on a silent coordinator. */
    sa.sa_flags = SA_RESETHAND;
    if (sigaction(sig, NULL, old) == 0 && old->sa_handler != SIG_IGN)
        sigaction(sig, &sa, NULL);
}

int cli_cmd_watch(const cli_ctx *cx, int argc, char **argv)
{
    cli_opt o[] = {{"--interval", true, NULL}};
    cli_args a;
    if (!cli_args_parse(cx, argc, argv, o, 1, 1, 1, &a))
        return 2;
    watch w = {.interval = INTERVAL_DEFAULT_S};
    if (o[0].value && !parse_interval(o[0].value, &w.interval)) {
        fprintf(stderr, "statefleet: --interval is a number of seconds from %g to %g, not %s\n",
                INTERVAL_MIN_S, INTERVAL_MAX_S, o[0].value);
        cli_args_usage(cx);
        return 2;
    }
    if (strncmp(a.pos[0], "arn:", 4) != 0) {
        fprintf(stderr, "statefleet: not an execution ARN: %s\n", a.pos[0]);
        cli_args_usage(cx);
        return 2;
    }
    const char *term = getenv("TERM");
    w.tty = isatty(STDOUT_FILENO) && !(term && strcmp(term, "dumb") == 0);
    /* A whole frame in one write, so the redraw does not flicker. */
    static char frame[1 << 16];
    if (w.tty)
        setvbuf(stdout, frame, _IOFBF, sizeof frame);
    w.req = json_pack("{s:s}", "executionArn", a.pos[0]);
    w.c = w.req ? cli_command_connect(&a) : NULL;
    if (!w.c) {
        json_decref(w.req);
        return 2;
    }

    struct sigaction old_int, old_term;
    interrupted = 0;
    catch_signal(SIGINT, &old_int);
    catch_signal(SIGTERM, &old_term);
    int code = run(&w);
    int sig = interrupted;
    if (sig && w.tty)
        printf("\r\x1b[2K"); /* the "^C" the terminal echoed below the block */
    fflush(stdout);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    cli_progress_cleanup(&w.prev);
    cli_client_destroy(&w.c);
    json_decref(w.req);
    if (sig) {
        /* Die of the signal, as the shell expects of an interrupted job. */
        signal(sig, SIG_DFL);
        raise(sig);
        return 128 + sig;
    }
    return code;
}

int cmd_watch(int argc, char **argv)
{
    cli_ctx cx = {NULL, CLI_WATCH_SYNOPSIS};
    return cli_cmd_watch(&cx, argc, argv);
}
