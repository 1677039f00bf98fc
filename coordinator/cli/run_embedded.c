/* cli/run_embedded.c - `statefleet run` through a coordinator opened in
 * this process.
 *
 * Everything goes through svc_call with AWS's request and response
 * objects, as a remote client's calls would: CreateStateMachine,
 * StartExecution, DescribeExecution until the execution ends, then
 * GetExecutionHistory. The coordinator spawns the local workers and
 * svc_close stops them, so nothing outlives the command. The database is
 * a temporary file removed at the end unless --db names one to keep.
 *
 * It must never print anything on stdout but the report (run_report.h),
 * and must not leave the temporary database behind on any path that
 * returns, an interrupt included. */
#define _GNU_SOURCE
#include "run_embedded.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coordinator/service/service.h"
#include "read_file.h"
#include "run_report.h"

#define DEFINITION_MAX (1024 * 1024) /* AWS's limit on a definition's size */
#define NAME_MAX_LEN 80              /* AWS's limit on a state machine's name */
#define POLL_FIRST_MS 20             /* short executions answer quickly... */
#define POLL_MAX_MS 200              /* ...long ones cost little to watch */
#define HISTORY_PAGE 1000            /* GetExecutionHistory's largest page */
#define REGION "us-east-1"
#define ACCOUNT "123456789012"
#define ROLE_ARN "arn:aws:iam::" ACCOUNT ":role/statefleet-run"

/* The signal that asked us to stop, 0 while none has. Set from a handler
 * on whichever thread took it; the waiting loop reads it between polls. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

/* Catches SIGINT and SIGTERM, saving what was there when old_* are given.
 * A signal ignored when we started stays ignored (a background job's
 * SIGINT, nohup's), as the shell meant it. */
static void catch_stop_signals(struct sigaction *old_int, struct sigaction *old_term)
{
    static bool ignored[2];
    const int sigs[2] = {SIGINT, SIGTERM};
    struct sigaction *old[2] = {old_int, old_term};
    struct sigaction sa = {.sa_handler = on_stop_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 2; i++) {
        if (old[i]) {
            sigaction(sigs[i], NULL, old[i]);
            ignored[i] = old[i]->sa_handler == SIG_IGN;
        }
        if (!ignored[i])
            sigaction(sigs[i], &sa, NULL);
    }
}

/* ---- the database file ----------------------------------------------------- */

/* A fresh empty file under $TMPDIR (SQLite takes an empty file as a new
 * database). NULL after a message. */
static char *temp_db(void)
{
    const char *dir = getenv("TMPDIR");
    char *path = NULL;
    if (asprintf(&path, "%s/statefleet-run-XXXXXX", dir && *dir ? dir : "/tmp") < 0)
        return NULL;
    int fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "statefleet: cannot make a temporary database %s: %s\n", path,
                strerror(errno));
        free(path);
        return NULL;
    }
    close(fd);
    return path;
}

/* The database and the files SQLite keeps beside it in WAL mode. */
static void remove_db(const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        char *p = NULL;
        if (asprintf(&p, "%s%s", path, suffixes[i]) >= 0)
            unlink(p);
        free(p);
    }
}

/* The workers are other processes: give them paths that do not depend on
 * where they happen to run from. */
static char *absolute(const char *path)
{
    char *out = NULL, *cwd;
    if (!path || path[0] == '/')
        return path ? strdup(path) : NULL;
    if (!(cwd = getcwd(NULL, 0)))
        return strdup(path);
    if (asprintf(&out, "%s/%s", cwd, path) < 0)
        out = NULL;
    free(cwd);
    return out;
}

/* The state machine's name: the definition's file name without ".json",
 * with what AWS's names may not hold turned into '-'. */
static void machine_name(const char *def_path, char out[NAME_MAX_LEN + 1])
{
    const char *base = strrchr(def_path, '/');
    base = base ? base + 1 : def_path;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".json") == 0)
        n -= 5;
    if (n > NAME_MAX_LEN)
        n = NAME_MAX_LEN;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)base[i];
        bool ok = c > 0x20 && c < 0x7f && !strchr("<>{}[]?*\"#%\\^|~`$&,;:/", c);
        out[i] = ok ? (char)c : '-';
    }
    out[n] = '\0';
    if (n == 0)
        snprintf(out, NAME_MAX_LEN + 1, "run");
}

/* ---- calls ------------------------------------------------------------------- */

/* svc_call that takes the request (stolen) and prints a refusal as
 * "statefleet: OP: Type: message". Returns the HTTP status. */
static int call(svc *s, const char *op, json_t *req, json_t **resp, bool quiet_refusal)
{
    *resp = NULL;
    int status = req ? svc_call(s, op, req, resp) : 500;
    json_decref(req);
    if (status != 200 && !quiet_refusal) {
        const char *type = json_string_value(json_object_get(*resp, "__type"));
        const char *msg = json_string_value(json_object_get(*resp, "message"));
        fprintf(stderr, "statefleet: %s: %s: %s\n", op, type ? type : "error",
                msg ? msg : "no answer");
    }
    return status;
}

/* A string member of an answer, copied; NULL when absent. */
static char *dup_member(json_t *resp, const char *key)
{
    const char *v = json_string_value(json_object_get(resp, key));
    return v ? strdup(v) : NULL;
}

static const char *error_type(json_t *resp)
{
    const char *t = json_string_value(json_object_get(resp, "__type"));
    return t ? t : "";
}

/* Creates the machine, or with a kept --db that already holds one under
 * this name, updates it to this definition. The ARN (malloc'd), or NULL
 * after a message with *code set. */
static char *create_machine(svc *s, const char *def_path, int *code)
{
    char *text = NULL, why[256], name[NAME_MAX_LEN + 1];
    size_t len = 0;
    *code = 2;
    if (sf_read_file(def_path, DEFINITION_MAX, &text, &len, why, sizeof why) != SF_OK) {
        fprintf(stderr, "statefleet: %s: %s\n", def_path, why);
        return NULL;
    }
    machine_name(def_path, name);
    json_t *resp;
    int st = call(s, "CreateStateMachine",
                  json_pack("{s:s,s:s,s:s,s:s}", "name", name, "definition", text, "roleArn",
                            ROLE_ARN, "type", "STANDARD"),
                  &resp, true);
    char *arn = NULL;
    if (st == 200) {
        arn = dup_member(resp, "stateMachineArn");
        *code = 1; /* should that copy fail */
    } else if (strcmp(error_type(resp), "StateMachineAlreadyExists") == 0) {
        /* An earlier run on this --db, of an older version of the file. */
        json_decref(resp);
        resp = NULL;
        if (asprintf(&arn, "arn:aws:states:%s:%s:stateMachine:%s", REGION, ACCOUNT, name) < 0)
            arn = NULL;
        else if (call(s, "UpdateStateMachine",
                      json_pack("{s:s,s:s}", "stateMachineArn", arn, "definition", text), &resp,
                      false) != 200) {
            *code = strcmp(error_type(resp), "InvalidDefinition") == 0 ? 2 : 1;
            free(arn);
            arn = NULL;
        }
    } else {
        /* A definition the coordinator refuses names its problems. */
        const char *msg = json_string_value(json_object_get(resp, "message"));
        fprintf(stderr, "statefleet: %s: %s\n", def_path, msg ? msg : error_type(resp));
        *code = strcmp(error_type(resp), "InvalidDefinition") == 0 ? 2 : 1;
    }
    json_decref(resp);
    free(text);
    return arn;
}

/* StartExecution; the execution's ARN (malloc'd), or NULL after a message
 * with *code set. */
static char *start_execution(svc *s, const char *sm_arn, json_t *input, int *code)
{
    char *text = json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY);
    json_t *resp = NULL;
    int st =
        text ? call(s, "StartExecution",
                    json_pack("{s:s,s:s}", "stateMachineArn", sm_arn, "input", text), &resp, false)
             : 500;
    free(text);
    char *arn = NULL;
    if (st == 200)
        arn = dup_member(resp, "executionArn");
    else
        *code = strcmp(error_type(resp), "InvalidExecutionInput") == 0 ? 2 : 1;
    json_decref(resp);
    return arn;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* a signal cuts it short, which is what we want */
}

/* Polls DescribeExecution until the execution ends; stops it on SIGINT or
 * SIGTERM (once: it then ends ABORTED). The final description, or NULL
 * after a message. */
static json_t *wait_end(svc *s, const char *arn)
{
    int every = POLL_FIRST_MS;
    bool stopped = false;
    for (;;) {
        if (stop_signal && !stopped) {
            stopped = true;
            char cause[96];
            snprintf(cause, sizeof cause, "statefleet run was interrupted (%s)",
                     stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
            json_t *resp;
            call(s, "StopExecution",
                 json_pack("{s:s,s:s,s:s}", "executionArn", arn, "error", "statefleet.Interrupted",
                           "cause", cause),
                 &resp, false);
            json_decref(resp);
        }
        json_t *d;
        if (call(s, "DescribeExecution", json_pack("{s:s}", "executionArn", arn), &d, false) !=
            200) {
            json_decref(d);
            return NULL;
        }
        const char *st = json_string_value(json_object_get(d, "status"));
        if (st && strcmp(st, "RUNNING") != 0)
            return d;
        json_decref(d);
        sleep_ms(every);
        every = every * 3 / 2 < POLL_MAX_MS ? every * 3 / 2 : POLL_MAX_MS;
    }
}

/* Every history event, following nextToken; NULL after a message. */
static json_t *history(svc *s, const char *arn)
{
    json_t *all = json_array(), *token = NULL;
    while (all) {
        json_t *req = json_pack("{s:s,s:i}", "executionArn", arn, "maxResults", HISTORY_PAGE);
        if (req && token)
            json_object_set(req, "nextToken", token);
        json_decref(token);
        token = NULL;
        json_t *resp;
        if (call(s, "GetExecutionHistory", req, &resp, false) != 200) {
            json_decref(resp);
            json_decref(all);
            return NULL;
        }
        json_array_extend(all, json_object_get(resp, "events"));
        token = json_incref(json_object_get(resp, "nextToken"));
        json_decref(resp);
        if (!json_is_string(token))
            break;
    }
    json_decref(token);
    return all;
}

/* Reports a described execution; returns the exit code. */
static int report(json_t *d, json_t *events, bool json_out)
{
    const char *out_text = json_string_value(json_object_get(d, "output"));
    json_t *output = out_text ? json_loads(out_text, JSON_DECODE_ANY, NULL) : NULL;
    cli_run_result r = {.status = json_string_value(json_object_get(d, "status")),
                        .output = output,
                        .error = json_string_value(json_object_get(d, "error")),
                        .cause = json_string_value(json_object_get(d, "cause")),
                        .events = events};
    int code = cli_run_report(&r, json_out);
    json_decref(output);
    return code;
}

/* ---- the run ---------------------------------------------------------------- */

static int run(svc *s, const cli_embedded_opts *o)
{
    int code = 1;
    char *sm_arn = create_machine(s, o->def_path, &code);
    if (!sm_arn)
        return code;
    char *arn = NULL;
    if (!stop_signal) /* not interrupted while the workers started */
        arn = start_execution(s, sm_arn, o->input, &code);
    free(sm_arn);
    if (!arn)
        return code;
    if (o->verbose)
        fprintf(stderr, "statefleet: started %s\n", arn);
    json_t *d = wait_end(s, arn);
    json_t *events = d && o->history ? history(s, arn) : NULL;
    if (d && (!o->history || events))
        code = report(d, events, o->json_out);
    json_decref(events);
    json_decref(d);
    free(arn);
    return code;
}

int cli_run_embedded(const cli_embedded_opts *o)
{
    char *db = o->db_path ? strdup(o->db_path) : temp_db();
    char *functions = absolute(o->functions_dir), *data_root = absolute(o->data_root);
    if (!db || !functions || !data_root) {
        if (db && !o->db_path)
            remove_db(db);
        free(db);
        free(functions);
        free(data_root);
        return 1;
    }
    svc_config cfg = {.db_path = db,
                      /* A throwaway database need not survive a power cut. */
                      .sync = o->db_path ? STORE_SYNC_FULL : STORE_SYNC_NORMAL,
                      .region = REGION,
                      .account = ACCOUNT,
                      .functions_dir = functions,
                      .data_root = data_root,
                      .quiet = !o->verbose,
                      .local_workers = o->local_workers};

    /* Taken before the workers start, so that an early interrupt still
     * stops cleanly (they get the default actions back when they exec). */
    struct sigaction old_int, old_term;
    stop_signal = 0;
    catch_stop_signals(&old_int, &old_term);
    int code = 1;
    char err[1024] = "";
    svc *s = NULL;
    if (svc_open(&cfg, &s, err, sizeof err) != SF_OK) {
        fprintf(stderr,
                "statefleet: cannot start the embedded coordinator (db %s): %s\n"
                "statefleet: --in-process runs without it\n",
                db, err);
    } else {
        /* Again: CZMQ's set-up, when the fleet opens its first socket,
         * puts in handlers of its own that only raise CZMQ's flag. */
        catch_stop_signals(NULL, NULL);
        if (o->verbose)
            fprintf(stderr, "statefleet: embedded coordinator on %s\n", db);
        code = run(s, o);
        svc_close(&s); /* stops the local workers too */
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (!o->db_path)
        remove_db(db);
    free(db);
    free(functions);
    free(data_root);
    return code;
}
