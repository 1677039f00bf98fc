/* integrations/inproc.c - the in-process shell around the engine (see inproc.h). */
#define _GNU_SOURCE
#include "inproc.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "local_function.h"
#include "function_task.h"
#include "map_io.h"
#include "objstore.h"
#include "resource.h"

#define MAX_RUNNING 256 /* concurrent local functions */

typedef struct running {
    integ_fn *fn;
    uint64_t task_id;
    bool wrap_invoke; /* lambda:invoke wraps the result in its response shape */
} running;

typedef struct shell {
    asl_exec *e;
    const integ_run_opts *o;
    integ_objstore *store;
    int64_t offset; /* virtual time skipped so far */
    running run[MAX_RUNNING];
    size_t n_run;
} shell;

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ms(const shell *sh)
{
    return real_ms() + sh->offset;
}

static void fail_task(shell *sh, uint64_t id, asl_err *err)
{
    asl_exec_task_failed(sh->e, id, err->error ? err->error : "States.TaskFailed", err->cause,
                         now_ms(sh));
    asl_err_clear(err);
}

static void start_task(shell *sh, const asl_cmd *c)
{
    asl_err err = {0};
    integ_resource r;
    if (integ_resource_parse(c->resource, &r) != SF_OK) {
        asl_err_set(&err, "States.Runtime", "Resource '%s' is not a valid ARN", c->resource);
        fail_task(sh, c->task_id, &err);
        return;
    }
    if (!integ_is_function(&r) || r.pattern != INTEG_PATTERN_REQUEST) {
        asl_err_set(&err, "States.TaskFailed",
                    "statefleet run executes Lambda-style functions only; Resource '%s' of state "
                    "'%s' needs a coordinator and its fleet",
                    c->resource, c->state_name);
        fail_task(sh, c->task_id, &err);
        return;
    }
    integ_fn_call call;
    if (integ_fn_call_plan(&r, c->input, c->state_name, &call, &err) != SF_OK) {
        fail_task(sh, c->task_id, &err);
        return;
    }
    if (!sh->o->functions_dir) {
        asl_err_set(&err, "Lambda.ResourceNotFoundException",
                    "no functions directory given (--functions DIR) for function %s", call.name);
    } else if (sh->n_run == MAX_RUNNING) {
        asl_err_set(&err, "States.TaskFailed", "too many functions running at once (%d)",
                    MAX_RUNNING);
    }
    integ_fn *fn = NULL;
    if (!err.error)
        integ_fn_start(sh->o->functions_dir, call.name, call.payload, &fn, &err);
    json_decref(call.payload);
    if (!fn) {
        fail_task(sh, c->task_id, &err);
        return;
    }
    sh->run[sh->n_run++] = (running){.fn = fn, .task_id = c->task_id, .wrap_invoke = call.wrap_invoke};
    asl_exec_task_started(sh->e, c->task_id, NULL, now_ms(sh));
}

static void cancel_task(shell *sh, uint64_t id)
{
    for (size_t i = 0; i < sh->n_run; i++)
        if (sh->run[i].task_id == id) {
            integ_fn_destroy(&sh->run[i].fn);
            sh->run[i] = sh->run[--sh->n_run];
            return;
        }
}

static void map_io(shell *sh, const asl_cmd *c)
{
    asl_err err = {0};
    json_t *out = NULL;
    sf_rc rc;
    if (!sh->store) {
        asl_err_set(&err, c->type == ASL_CMD_READ_ITEMS ? "States.ItemReaderFailed"
                                                        : "States.ResultWriterFailed",
                    "no object store configured (--data-root DIR) for state '%s'", c->state_name);
        rc = SF_EINVAL;
    } else if (c->type == ASL_CMD_READ_ITEMS) {
        rc = integ_read_items(sh->store, c->input, &out, &err);
    } else {
        rc = integ_write_results(sh->store, c->input, &out, &err);
    }
    if (rc == SF_OK)
        asl_exec_task_succeeded(sh->e, c->task_id, out, now_ms(sh));
    else
        fail_task(sh, c->task_id, &err);
    json_decref(out);
}

/* Answers every queued command; answering may queue more. */
static void drain(shell *sh)
{
    asl_cmd *cmds;
    size_t n;
    while ((n = asl_exec_take_commands(sh->e, &cmds)) > 0) {
        for (size_t i = 0; i < n; i++) {
            switch (cmds[i].type) {
            case ASL_CMD_RUN_TASK:
                start_task(sh, &cmds[i]);
                break;
            case ASL_CMD_CANCEL_TASK:
                cancel_task(sh, cmds[i].task_id);
                break;
            case ASL_CMD_READ_ITEMS:
            case ASL_CMD_WRITE_RESULTS:
                map_io(sh, &cmds[i]);
                break;
            }
            asl_cmd_cleanup(&cmds[i]);
        }
        free(cmds);
    }
}

static void collect(shell *sh, size_t i)
{
    running r = sh->run[i];
    sh->run[i] = sh->run[--sh->n_run];
    json_t *result = NULL;
    asl_err err = {0};
    if (integ_fn_finish(r.fn, &result, &err) == SF_OK) {
        json_t *out = r.wrap_invoke ? integ_invoke_response(result) : json_incref(result);
        asl_exec_task_succeeded(sh->e, r.task_id, out, now_ms(sh));
        json_decref(out);
    } else {
        fail_task(sh, r.task_id, &err);
    }
    json_decref(result);
    integ_fn_destroy(&r.fn);
}

/* Waits for function output or the next deadline, whichever comes first. */
static void wait_some(shell *sh)
{
    int64_t deadline = asl_exec_next_deadline(sh->e);
    if (sh->n_run == 0) {
        if (deadline == INT64_MAX) {
            /* Nothing runs and nothing is due: only a task token could move
             * this execution, and nobody here can send one. */
            asl_exec_stop(sh->e, "States.Runtime",
                          "The execution waits for a callback (task token) that statefleet run "
                          "cannot receive; run it on a coordinator",
                          now_ms(sh));
            return;
        }
        int64_t now = now_ms(sh);
        if (deadline > now) {
            if (sh->o->virtual_time) {
                sh->offset += deadline - now;
            } else {
                int64_t d = deadline - now;
                struct timespec ts = {.tv_sec = d / 1000, .tv_nsec = (d % 1000) * 1000000};
                while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                    ;
            }
        }
        asl_exec_tick(sh->e, now_ms(sh) < deadline ? deadline : now_ms(sh));
        return;
    }
    struct pollfd pf[MAX_RUNNING];
    for (size_t i = 0; i < sh->n_run; i++)
        pf[i] = (struct pollfd){.fd = integ_fn_fd(sh->run[i].fn), .events = POLLIN};
    int timeout = -1;
    if (deadline != INT64_MAX) {
        int64_t d = deadline - now_ms(sh);
        timeout = d < 0 ? 0 : d > 60000 ? 60000 : (int)d;
    }
    int n = poll(pf, sh->n_run, timeout);
    if (n > 0) {
        /* Backwards: collect() moves the last entry into slot i. */
        for (size_t i = sh->n_run; i-- > 0;) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            int r = integ_fn_read(sh->run[i].fn);
            if (r != 0)
                collect(sh, i);
            if (asl_exec_get_status(sh->e) != ASL_EXEC_RUNNING)
                return;
        }
        /* Commands these answers queued (cancels among them) are drained by
         * the caller, so the running table stays as poll saw it. */
    }
    if (deadline != INT64_MAX && now_ms(sh) >= deadline)
        asl_exec_tick(sh->e, now_ms(sh));
}

sf_rc integ_run_inprocess(const asl_machine *m, json_t *input, const integ_run_opts *o,
                          asl_exec **out)
{
    *out = NULL;
    shell sh = {.o = o};
    char exec_name[64];
    snprintf(exec_name, sizeof exec_name, "%016llx", (unsigned long long)o->seed);
    asl_exec_opts eo = {.exec_name = o->exec_name ? o->exec_name : exec_name,
                        .sm_name = o->sm_name,
                        .seed = o->seed,
                        .no_history = o->no_history};
    sf_rc rc = asl_exec_new(m, input, &eo, &sh.e);
    if (rc != SF_OK)
        return rc;
    if (o->data_root && !(sh.store = integ_objstore_local_new(o->data_root))) {
        asl_exec_destroy(&sh.e);
        return SF_EIO;
    }
    asl_exec_start(sh.e, now_ms(&sh));
    for (;;) {
        drain(&sh);
        if (asl_exec_get_status(sh.e) != ASL_EXEC_RUNNING)
            break;
        wait_some(&sh);
    }
    drain(&sh); /* the final cancels */
    while (sh.n_run > 0)
        integ_fn_destroy(&sh.run[--sh.n_run].fn);
    integ_objstore_destroy(&sh.store);
    *out = sh.e;
    return SF_OK;
}
