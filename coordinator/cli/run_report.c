/* cli/run_report.c - the end of `statefleet run`: output or failure.
 *
 * stdout is flushed at once: whoever reads it need not wait for the
 * coordinator and its workers to wind down, and gets it even if that
 * goes wrong. */
#include "run_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_json(FILE *to, json_t *v, const char *dflt)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    fprintf(to, "%s\n", s ? s : dflt);
    free(s);
}

static json_t *string_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

int cli_run_report(const cli_run_result *r, bool json_out)
{
    bool succeeded = strcmp(r->status, "SUCCEEDED") == 0;
    if (json_out) {
        json_t *o = json_pack("{s:s}", "status", r->status);
        if (succeeded && r->output) {
            json_object_set(o, "output", r->output);
        } else if (strcmp(r->status, "FAILED") == 0 || strcmp(r->status, "ABORTED") == 0) {
            /* TIMED_OUT carries no error: its status says it all, as AWS's does. */
            json_object_set_new(o, "error", string_or_null(r->error));
            json_object_set_new(o, "cause", string_or_null(r->cause));
        }
        if (r->events)
            json_object_set(o, "events", r->events);
        print_json(stdout, o, "{}");
        fflush(stdout);
        json_decref(o);
        return 0; /* the run itself worked; its status is in the object */
    }
    size_t i;
    json_t *ev;
    json_array_foreach(r->events, i, ev)
    {
        print_json(stderr, ev, "{}");
    }
    if (succeeded) {
        print_json(stdout, r->output, "null");
        fflush(stdout);
        return 0;
    }
    fprintf(stderr, "%s", r->status);
    if (r->error)
        fprintf(stderr, ": %s", r->error);
    if (r->cause)
        fprintf(stderr, ": %s", r->cause);
    fprintf(stderr, "\n");
    return 1;
}
