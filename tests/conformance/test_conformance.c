/* tests/conformance/test_conformance.c - every non-JSONata execution that
 * AWS recorded in shared/conformance/executions.jsonl, run in-process on a
 * virtual clock and compared as that folder's README says: status, output
 * (JSON equality), error, and cause where the case is exact. Where AWS's
 * history event types were recorded they must match too. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/asl/exec.h"
#include "coordinator/asl/machine.h"
#include "coordinator/integrations/inproc.h"
#include "json_equiv.h"

#define CASES SF_SHARED_DIR "/conformance/executions.jsonl"

typedef struct tally {
    int run, passed, skipped_jsonata, history_checked, history_passed;
} tally;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Event types in order, except inside a Parallel state: AWS runs branches
 * concurrently and interleaves their events by timing, while the engine
 * runs them one after another, so between ParallelStateStarted and the
 * state's end the two sequences are compared as multisets. */
static bool history_matches(const asl_exec *e, json_t *types)
{
    const asl_history *h = asl_exec_history(e);
    size_t n = h->n;
    if (json_array_size(types) != n)
        return false;
    const char **got = calloc(n ? n : 1, sizeof *got), **want = calloc(n ? n : 1, sizeof *want);
    char (*bufs)[48] = calloc(n ? n : 1, sizeof *bufs);
    for (size_t i = 0; i < n; i++) {
        got[i] = asl_event_type_name(&h->ev[i], bufs[i]);
        want[i] = json_string_value(json_array_get(types, i));
    }
    bool ok = true;
    for (size_t i = 0, start = 0, depth = 0; i < n && ok; i++) {
        if (strcmp(want[i], "ParallelStateStarted") == 0 && depth++ == 0)
            start = i + 1;
        if ((strcmp(want[i], "ParallelStateExited") == 0 || strcmp(want[i], "ParallelStateFailed") == 0 ||
             strcmp(want[i], "ExecutionFailed") == 0) && depth > 0 && --depth == 0) {
            qsort(got + start, i - start, sizeof *got, cmp_str);
            qsort(want + start, i - start, sizeof *want, cmp_str);
        }
    }
    for (size_t i = 0; i < n && ok; i++)
        ok = strcmp(got[i], want[i]) == 0;
    free(got);
    free(want);
    free(bufs);
    return ok;
}

static void print_history(const asl_exec *e)
{
    const asl_history *h = asl_exec_history(e);
    fprintf(stderr, "    got history:");
    for (size_t i = 0; i < h->n; i++) {
        char buf[48];
        fprintf(stderr, " %s", asl_event_type_name(&h->ev[i], buf));
    }
    fprintf(stderr, "\n");
}

/* Runs one case; returns true when it matches AWS. */
static bool run_case(json_t *c, tally *t)
{
    const char *id = json_string_value(json_object_get(c, "id"));
    const char *def = json_string_value(json_object_get(c, "definition"));
    const char *in = json_string_value(json_object_get(c, "input"));
    json_t *exp = json_object_get(c, "expected");
    bool exact = json_is_true(json_object_get(c, "exact"));
    const char *want_status = json_string_value(json_object_get(exp, "status"));

    asl_diag d = {0};
    asl_machine *m = NULL;
    if (asl_machine_parse(def, strlen(def), &m, &d) != SF_OK) {
        fprintf(stderr, "FAIL %s\n    definition refused: %s\n", id, d.n ? d.msg[0] : "?");
        asl_diag_clear(&d);
        return false;
    }
    json_t *input = json_loads(in, JSON_DECODE_ANY, NULL);
    integ_run_opts o = {.virtual_time = true, .seed = 42, .exec_name = "conformance"};
    asl_exec *e = NULL;
    bool ok = integ_run_inprocess(m, input, &o, &e) == SF_OK;
    const char *status = ok ? asl_exec_status_name(asl_exec_get_status(e)) : "ERROR";
    if (ok && strcmp(status, want_status) != 0) {
        fprintf(stderr, "FAIL %s\n    status %s, AWS %s (error %s: %s)\n", id, status, want_status,
                asl_exec_error(e) ? asl_exec_error(e) : "-", asl_exec_cause(e) ? asl_exec_cause(e) : "-");
        ok = false;
    }
    if (ok && strcmp(status, "SUCCEEDED") == 0) {
        json_t *want = json_loads(json_string_value(json_object_get(exp, "output")), JSON_DECODE_ANY, NULL);
        if (!want || !json_equiv(asl_exec_output(e), want, !exact)) {
            char *got = json_dumps(asl_exec_output(e), JSON_COMPACT | JSON_ENCODE_ANY);
            fprintf(stderr, "FAIL %s\n    output %s\n    AWS    %s\n", id, got,
                    json_string_value(json_object_get(exp, "output")));
            free(got);
            ok = false;
        }
        json_decref(want);
    }
    if (ok && strcmp(status, "FAILED") == 0) {
        const char *we = json_string_value(json_object_get(exp, "error"));
        const char *wc = json_string_value(json_object_get(exp, "cause"));
        const char *ge = asl_exec_error(e), *gc = asl_exec_cause(e);
        if (!we != !ge || (we && strcmp(we, ge)) ||
            (exact && (!wc != !gc || (wc && strcmp(wc, gc))))) {
            fprintf(stderr, "FAIL %s\n    error %s / cause %s\n    AWS   %s / cause %s\n", id,
                    ge ? ge : "null", gc ? gc : "null", we ? we : "null", wc ? wc : "null");
            ok = false;
        }
    }
    json_t *types = json_object_get(c, "history_event_types");
    if (ok && json_is_array(types)) {
        t->history_checked++;
        if (history_matches(e, types)) {
            t->history_passed++;
        } else {
            char *w = json_dumps(types, JSON_COMPACT);
            fprintf(stderr, "FAIL %s\n    history differs; AWS: %s\n", id, w);
            print_history(e);
            free(w);
            ok = false;
        }
    }
    asl_exec_destroy(&e);
    json_decref(input);
    asl_machine_destroy(&m);
    return ok;
}

Test(conformance, every_recorded_execution_matches_aws)
{
    FILE *f = fopen(CASES, "r");
    cr_assert_not_null(f, "cannot open %s", CASES);
    char *line = NULL;
    size_t cap = 0;
    tally t = {0};
    while (getline(&line, &cap, f) > 0) {
        json_t *c = json_loads(line, 0, NULL);
        cr_assert_not_null(c, "bad line in %s", CASES);
        if (json_is_true(json_object_get(json_object_get(c, "features"), "jsonata"))) {
            t.skipped_jsonata++;
        } else {
            t.run++;
            if (run_case(c, &t))
                t.passed++;
        }
        json_decref(c);
    }
    free(line);
    fclose(f);
    printf("conformance: %d/%d executions match AWS (%d JSONata cases not run); history "
           "event types %d/%d\n",
           t.passed, t.run, t.skipped_jsonata, t.history_passed, t.history_checked);
    cr_assert_gt(t.run, 400, "expected the whole corpus, ran %d", t.run);
    cr_assert_eq(t.passed, t.run, "%d of %d executions differ from AWS", t.run - t.passed, t.run);
}
