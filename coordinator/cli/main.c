/* cli/main.c - the `statefleet` command line: validate and run here, and
 * the coordinator commands (client_commands.h) that call one over HTTP.
 *
 * Exit codes: 0 success (or, with --json, an execution that ran, whatever
 * its status); 1 an execution that failed, timed out or was aborted, or a
 * coordinator that refused a call or could not be reached; 2 a bad
 * definition, bad input or bad usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coordinator/asl/exec.h"
#include "coordinator/asl/machine.h"
#include "coordinator/integrations/inproc.h"
#include "bench_transform.h"
#include "cli_keys.h"
#include "client_commands.h"
#include "read_file.h"
#include "run_embedded.h"
#include "run_report.h"

#define DEFINITION_MAX (1024 * 1024) /* AWS's limit on a definition's size */

static void usage(FILE *to)
{
    fprintf(to,
            "usage: statefleet validate DEF.json\n"
            "       statefleet run DEF.json [--input JSON | --input @FILE] [--json] [--history]\n"
            "                     [--functions DIR] [--data-root DIR] [--db PATH]\n"
            "                     [--local-workers N] [--verbose] [--in-process | --virtual-time]\n"
            "\n"
            "run executes one execution on a coordinator embedded in this process, with local\n"
            "workers it spawns (--local-workers N; default one per NUMA node) running the Task\n"
            "states; its SQLite database is a temporary file unless --db PATH keeps it.\n"
            "--in-process runs the engine alone, functions as children of this process;\n"
            "--virtual-time does too, with Wait states and retry delays taking no time.\n"
            "Task states run Lambda-style functions: executables in --functions DIR (default:\n"
            "the definition's directory/functions) reading JSON on stdin and writing their\n"
            "result on stdout.\n"
            "s3:// URIs (Map ItemReader/ResultWriter) resolve under --data-root DIR\n"
            "(default: $STATEFLEET_DATA_ROOT, else ./data) as DIR/bucket/key.\n"
            "--history prints the history events (on stderr, one JSON object per line;\n"
            "with --json, as \"events\" in the one object on stdout).\n"
            "\n"
            "       statefleet bench transform --model MODEL.tar.gz --data PATH [--content-type T]\n"
            "                     [--accept T] [--batch-strategy S] [--max-payload MB]\n"
            "                     [--threads N] [--seconds S] [--json]\n"
            "bench transform measures batch transform on this machine: records/s, MB/s,\n"
            "mini-batch latency and per-core figures, beside its memory bandwidth.\n");
    cmd_keys_usage(to);
    cli_command_usage(to);
}

static void print_diag(const char *file, const asl_diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(stderr, "%s: %s\n", file, d->msg[i]);
    if (d->dropped)
        fprintf(stderr, "%s: ... and %zu more problems\n", file, d->dropped);
}

/* Loads and compiles DEF.json; prints located problems. NULL on failure. */
static asl_machine *load_machine(const char *file)
{
    char *text = NULL;
    size_t len = 0;
    char why[256];
    if (sf_read_file(file, DEFINITION_MAX, &text, &len, why, sizeof why) != SF_OK) {
        fprintf(stderr, "statefleet: %s: %s\n", file, why);
        return NULL;
    }
    asl_diag d = {0};
    asl_machine *m = NULL;
    sf_rc rc = asl_machine_parse(text, len, &m, &d);
    free(text);
    if (rc != SF_OK) {
        print_diag(file, &d);
        if (d.n == 0)
            fprintf(stderr, "%s: %s\n", file, sf_rc_str(rc));
    }
    asl_diag_clear(&d);
    return m;
}

static int cmd_validate(int argc, char **argv)
{
    if (argc != 1) {
        usage(stderr);
        return 2;
    }
    asl_machine *m = load_machine(argv[0]);
    if (!m)
        return 2;
    asl_machine_destroy(&m);
    printf("%s: valid\n", argv[0]);
    return 0;
}

/* --input JSON or --input @FILE. NULL (after a message) when bad. */
static json_t *load_input(const char *arg)
{
    char *text = NULL;
    size_t len;
    char why[256];
    const char *src = "--input";
    if (arg[0] == '@') {
        src = arg + 1;
        if (sf_read_file(arg + 1, ASL_PAYLOAD_MAX, &text, &len, why, sizeof why) != SF_OK) {
            fprintf(stderr, "statefleet: input %s: %s\n", arg + 1, why);
            return NULL;
        }
    } else {
        len = strlen(arg);
        if (len > ASL_PAYLOAD_MAX) {
            fprintf(stderr, "statefleet: --input: %zu bytes exceeds the %d byte limit\n", len,
                    ASL_PAYLOAD_MAX);
            return NULL;
        }
        text = strdup(arg);
    }
    json_error_t je;
    json_t *v = text ? json_loadb(text, len, JSON_DECODE_ANY, &je) : NULL;
    if (!v && text)
        fprintf(stderr, "statefleet: %s: invalid JSON at line %d, column %d (byte %d): %s\n", src,
                je.line, je.column, je.position, je.text);
    free(text);
    return v;
}

static json_t *history_json(const asl_exec *e)
{
    const asl_history *h = asl_exec_history(e);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < h->n; i++)
        json_array_append_new(arr, asl_event_to_json(&h->ev[i], "us-east-1", NULL));
    return arr;
}

static char *default_functions_dir(const char *def)
{
    char *copy = strdup(def), *slash = copy ? strrchr(copy, '/') : NULL, *dir = NULL;
    if (slash)
        *slash = '\0';
    if (asprintf(&dir, "%s/functions", slash ? copy : ".") < 0)
        dir = NULL;
    free(copy);
    return dir;
}

static uint64_t fresh_seed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec * 1000000007ULL) ^ (uint64_t)ts.tv_nsec ^
           ((uint64_t)getpid() << 32);
}

/* --local-workers N: a whole number from 1. */
static bool parse_workers(const char *v, int *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 1 || n > 4096)
        return false;
    *out = (int)n;
    return true;
}

/* The engine in this process: functions are this process's children. */
static int run_inprocess(const asl_machine *m, json_t *input, const integ_run_opts *o,
                         const char *def, bool json_out, bool history)
{
    asl_exec *e = NULL;
    sf_rc rc = integ_run_inprocess(m, input, o, &e);
    if (rc != SF_OK) {
        fprintf(stderr, "statefleet: cannot run %s: %s\n", def, sf_rc_str(rc));
        return 2;
    }
    asl_exec_status st = asl_exec_get_status(e);
    json_t *events = history ? history_json(e) : NULL;
    cli_run_result r = {.status = asl_exec_status_name(st),
                        .output = st == ASL_EXEC_SUCCEEDED ? asl_exec_output(e) : NULL,
                        .error = asl_exec_error(e),
                        .cause = asl_exec_cause(e),
                        .events = events};
    int code = cli_run_report(&r, json_out);
    json_decref(events);
    asl_exec_destroy(&e);
    return code;
}

static int cmd_run(int argc, char **argv)
{
    const char *def = NULL, *input_arg = "{}", *functions = NULL, *data_root = NULL, *db = NULL;
    int json_out = 0, history = 0, virt = 0, in_process = 0, verbose = 0, workers = -1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            json_out = 1;
        } else if (strcmp(a, "--history") == 0) {
            history = 1;
        } else if (strcmp(a, "--virtual-time") == 0) {
            virt = 1;
        } else if (strcmp(a, "--in-process") == 0) {
            in_process = 1;
        } else if (strcmp(a, "--verbose") == 0) {
            verbose = 1;
        } else if (strcmp(a, "--input") == 0 || strcmp(a, "--functions") == 0 ||
                   strcmp(a, "--data-root") == 0 || strcmp(a, "--db") == 0 ||
                   strcmp(a, "--local-workers") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "statefleet: %s needs a value\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--local-workers") == 0) {
                if (!parse_workers(v, &workers)) {
                    fprintf(stderr,
                            "statefleet: --local-workers %s: expected a whole number "
                            "from 1\n",
                            v);
                    return 2;
                }
                continue;
            }
            const char **slot = strcmp(a, "--input") == 0       ? &input_arg
                                : strcmp(a, "--functions") == 0 ? &functions
                                : strcmp(a, "--db") == 0        ? &db
                                                                : &data_root;
            *slot = v;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "statefleet: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else if (!def) {
            def = a;
        } else {
            fprintf(stderr, "statefleet: unexpected argument %s\n", a);
            return 2;
        }
    }
    if (!def) {
        usage(stderr);
        return 2;
    }
    /* A durable coordinator keeps real time, so virtual time stays here. */
    bool here = in_process || virt;
    if (here && (db || workers != -1)) {
        fprintf(stderr, "statefleet: --db and --local-workers need the embedded coordinator, "
                        "not --in-process or --virtual-time\n");
        return 2;
    }
    /* Checked here on both paths: the problems come with their locations,
     * and before a database or a worker exists. */
    asl_machine *m = load_machine(def);
    if (!m)
        return 2;
    json_t *input = load_input(input_arg);
    if (!input) {
        asl_machine_destroy(&m);
        return 2;
    }
    char *fdir = functions ? strdup(functions) : default_functions_dir(def);
    if (!data_root)
        data_root = getenv("STATEFLEET_DATA_ROOT") ? getenv("STATEFLEET_DATA_ROOT") : "./data";
    int code;
    if (here) {
        integ_run_opts o = {.functions_dir = fdir,
                            .data_root = data_root,
                            .virtual_time = virt,
                            .seed = fresh_seed()};
        code = run_inprocess(m, input, &o, def, json_out, history);
    } else {
        cli_embedded_opts o = {.def_path = def,
                               .input = input,
                               .functions_dir = fdir,
                               .data_root = data_root,
                               .db_path = db,
                               .local_workers = workers,
                               .json_out = json_out,
                               .history = history,
                               .verbose = verbose};
        code = cli_run_embedded(&o);
    }
    json_decref(input);
    free(fdir);
    asl_machine_destroy(&m);
    return code;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "validate") == 0)
        return cmd_validate(argc - 2, argv + 2);
    if (strcmp(argv[1], "run") == 0)
        return cmd_run(argc - 2, argv + 2);
    if (strcmp(argv[1], "keys") == 0)
        return cmd_keys(argc - 2, argv + 2);
    if (strcmp(argv[1], "bench") == 0)
        return cmd_bench(argc - 2, argv + 2);
    if (cli_command_claims(argv[1]))
        return cli_command_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "statefleet: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
