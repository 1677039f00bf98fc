/* cli/client_commands.c - dispatch of the coordinator commands, and those
 * that change things: create, start, stop, send-task-*.
 *
 * Everything local (arguments, files, JSON typed on the command line) is
 * checked before the first call, so a usage problem exits 2 having changed
 * nothing on the coordinator. */
#define _POSIX_C_SOURCE 200809L /* strdup, nanosleep */
#include "client_commands.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "read_file.h"
#include "watch.h"

#define DEFAULT_ROLE_ARN "arn:aws:iam::123456789012:role/statefleet"

/* --wait polls DescribeExecution from this interval, doubling up to the cap:
 * short executions answer quickly, long ones cost one call a second. */
#define POLL_FIRST_MS 50
#define POLL_MAX_MS 1000

cli_client *cli_command_connect(const cli_args *a)
{
    cli_client *c = cli_client_new(a->endpoint);
    if (!c)
        fprintf(stderr, "statefleet: cannot start an HTTP client for %s\n", a->endpoint);
    return c;
}

int cli_command_failed(const char *op, const cli_error *err)
{
    cli_error_print(stderr, op, err);
    return 1;
}

char *cli_command_resolve(cli_client *c, const char *name_or_arn)
{
    if (strncmp(name_or_arn, "arn:", 4) == 0)
        return strdup(name_or_arn);
    json_t *machines = NULL;
    cli_error err;
    if (cli_client_call_all(c, "ListStateMachines", NULL, "stateMachines", &machines, &err) !=
        SF_OK) {
        cli_command_failed("ListStateMachines", &err);
        return NULL;
    }
    char *arn = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(machines, i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        const char *a = json_string_value(json_object_get(m, "stateMachineArn"));
        if (name && a && strcmp(name, name_or_arn) == 0) {
            arn = strdup(a);
            break;
        }
    }
    json_decref(machines);
    if (!arn) /* in AWS's words, so scripts can match either */
        fprintf(stderr,
                "statefleet: ListStateMachines: StateMachineDoesNotExist: no state machine named "
                "'%s' at %s\n",
                name_or_arn, cli_client_endpoint(c));
    return arn;
}

/* Calls op for its effect: 0, or 1 after printing the error. */
static int call_for_effect(cli_client *c, const char *op, json_t *req)
{
    json_t *resp = NULL;
    cli_error err;
    if (cli_client_call(c, op, req, &resp, &err) != SF_OK)
        return cli_command_failed(op, &err);
    json_decref(resp);
    return 0;
}

/* create --update, once CreateStateMachine said the name is taken: give
 * that state machine def, and role only when the person named one. Its ARN
 * is looked up, as the error names it only in prose. */
static int update_existing(cli_client *c, const char *name, const char *def, const char *role)
{
    char *arn = cli_command_resolve(c, name);
    json_t *req = arn ? json_pack("{s:s, s:s}", "stateMachineArn", arn, "definition", def) : NULL;
    if (req && role)
        json_object_set_new(req, "roleArn", json_string(role));
    int code = req ? call_for_effect(c, "UpdateStateMachine", req) : 1;
    if (code == 0)
        printf("%s\n", arn);
    json_decref(req);
    free(arn);
    return code;
}

static int cmd_create(const cli_ctx *cx, int argc, char **argv)
{
    cli_opt o[] = {{"--role-arn", true, NULL}, {"--type", true, NULL}, {"--update", false, NULL}};
    cli_args a;
    if (!cli_args_parse(cx, argc, argv, o, 3, 2, 2, &a))
        return 2;
    const char *role = o[0].value, *type = o[1].value;
    if (type && strcmp(type, "STANDARD") != 0 && strcmp(type, "EXPRESS") != 0) {
        fprintf(stderr, "statefleet: --type is STANDARD or EXPRESS, not %s\n", type);
        cli_args_usage(cx);
        return 2;
    }
    char *def = NULL, why[256];
    size_t len;
    if (sf_read_file(a.pos[1], CLI_DEFINITION_MAX, &def, &len, why, sizeof why) != SF_OK) {
        fprintf(stderr, "statefleet: %s: %s\n", a.pos[1], why);
        return 2;
    }
    json_t *text = json_stringn(def, len); /* NULL unless UTF-8 without NULs */
    if (!text || strlen(def) != len) {
        fprintf(stderr, "statefleet: %s: not UTF-8 text\n", a.pos[1]);
        json_decref(text);
        free(def);
        return 2;
    }
    json_decref(text);
    cli_client *c = cli_command_connect(&a);
    json_t *req = json_pack("{s:s, s:s, s:s}", "name", a.pos[0], "definition", def, "roleArn",
                            role ? role : DEFAULT_ROLE_ARN);
    if (req && type)
        json_object_set_new(req, "type", json_string(type));
    int code = 1;
    if (c && req) {
        json_t *resp = NULL;
        cli_error err;
        sf_rc rc = cli_client_call(c, "CreateStateMachine", req, &resp, &err);
        if (rc == SF_OK) {
            const char *arn = json_string_value(json_object_get(resp, "stateMachineArn"));
            printf("%s\n", arn ? arn : "");
            code = 0;
        } else if (rc == SF_EINVAL && o[2].value &&
                   strcmp(err.type, "StateMachineAlreadyExists") == 0) {
            code = update_existing(c, a.pos[0], def, role);
        } else {
            cli_command_failed("CreateStateMachine", &err);
        }
        json_decref(resp);
    } else if (c) {
        fprintf(stderr, "statefleet: out of memory\n");
    }
    json_decref(req);
    cli_client_destroy(&c);
    free(def);
    return code;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ; /* interrupted: sleep the rest */
}

/* Polls executionArn until it stops running; prints its output (exit 0)
 * or, like `statefleet run`, its status, error and cause (exit 1). */
static int wait_for(cli_client *c, const char *arn)
{
    json_t *req = json_pack("{s:s}", "executionArn", arn);
    long delay = POLL_FIRST_MS;
    int code = -1;
    while (req && code < 0) {
        json_t *resp = NULL;
        cli_error err;
        if (cli_client_call(c, "DescribeExecution", req, &resp, &err) != SF_OK) {
            code = cli_command_failed("DescribeExecution", &err);
            break;
        }
        const char *status = json_string_value(json_object_get(resp, "status"));
        if (!status) {
            fprintf(stderr, "statefleet: DescribeExecution: the answer from %s has no status\n",
                    cli_client_endpoint(c));
            code = 1;
        } else if (strcmp(status, "RUNNING") == 0 || strcmp(status, "PENDING_REDRIVE") == 0) {
            sleep_ms(delay);
            delay = delay * 2 > POLL_MAX_MS ? POLL_MAX_MS : delay * 2;
        } else if (strcmp(status, "SUCCEEDED") == 0) {
            const char *out = json_string_value(json_object_get(resp, "output"));
            printf("%s\n", out ? out : "null");
            code = 0;
        } else {
            const char *error = json_string_value(json_object_get(resp, "error"));
            const char *cause = json_string_value(json_object_get(resp, "cause"));
            fprintf(stderr, "%s%s%s%s%s\n", status, error ? ": " : "", error ? error : "",
                    cause ? ": " : "", cause ? cause : "");
            code = 1;
        }
        json_decref(resp);
    }
    json_decref(req);
    return code < 0 ? 1 : code;
}

static int cmd_start(const cli_ctx *cx, int argc, char **argv)
{
    cli_opt o[] = {{"--input", true, NULL}, {"--name", true, NULL}, {"--wait", false, NULL}};
    cli_args a;
    if (!cli_args_parse(cx, argc, argv, o, 3, 1, 1, &a))
        return 2;
    char *input = o[0].value ? cli_args_json("--input", o[0].value) : NULL;
    if (o[0].value && !input)
        return 2;
    cli_client *c = cli_command_connect(&a);
    char *sm = c ? cli_command_resolve(c, a.pos[0]) : NULL;
    int code = 1;
    json_t *req = sm ? json_pack("{s:s}", "stateMachineArn", sm) : NULL;
    if (req && input)
        json_object_set_new(req, "input", json_string(input));
    if (req && o[1].value)
        json_object_set_new(req, "name", json_string(o[1].value));
    json_t *resp = NULL;
    cli_error err;
    if (req && cli_client_call(c, "StartExecution", req, &resp, &err) != SF_OK) {
        cli_command_failed("StartExecution", &err);
    } else if (req) {
        const char *arn = json_string_value(json_object_get(resp, "executionArn"));
        printf("%s\n", arn ? arn : "");
        fflush(stdout); /* the ARN is worth having while --wait waits */
        code = o[2].value && arn ? wait_for(c, arn) : 0;
    }
    json_decref(resp);
    json_decref(req);
    free(sm);
    free(input);
    cli_client_destroy(&c);
    return code;
}

/* A command whose request is the positional word under key plus string
 * options under their own keys; answers only "done" or an error. */
static int simple_call(const cli_ctx *cx, int argc, char **argv, const char *op, const char *key,
                       cli_opt *o, const char *const *keys, size_t nopts)
{
    cli_args a;
    if (!cli_args_parse(cx, argc, argv, o, nopts, 1, 1, &a))
        return 2;
    json_t *req = json_pack("{s:s}", key, a.pos[0]);
    for (size_t i = 0; req && i < nopts; i++)
        if (o[i].value)
            json_object_set_new(req, keys[i], json_string(o[i].value));
    cli_client *c = req ? cli_command_connect(&a) : NULL;
    int code = c ? call_for_effect(c, op, req) : 1;
    cli_client_destroy(&c);
    json_decref(req);
    return code;
}

static int cmd_stop(const cli_ctx *cx, int argc, char **argv)
{
    cli_opt o[] = {{"--error", true, NULL}, {"--cause", true, NULL}};
    const char *const keys[] = {"error", "cause"};
    return simple_call(cx, argc, argv, "StopExecution", "executionArn", o, keys, 2);
}

static int cmd_task_failure(const cli_ctx *cx, int argc, char **argv)
{
    cli_opt o[] = {{"--error", true, NULL}, {"--cause", true, NULL}};
    const char *const keys[] = {"error", "cause"};
    return simple_call(cx, argc, argv, "SendTaskFailure", "taskToken", o, keys, 2);
}

static int cmd_task_heartbeat(const cli_ctx *cx, int argc, char **argv)
{
    return simple_call(cx, argc, argv, "SendTaskHeartbeat", "taskToken", NULL, NULL, 0);
}

static int cmd_task_success(const cli_ctx *cx, int argc, char **argv)
{
    cli_opt o[] = {{"--output", true, NULL}};
    cli_args a;
    if (!cli_args_parse(cx, argc, argv, o, 1, 1, 1, &a))
        return 2;
    if (!o[0].value) {
        fprintf(stderr, "statefleet: --output is required\n");
        cli_args_usage(cx);
        return 2;
    }
    char *output = cli_args_json("--output", o[0].value);
    if (!output)
        return 2;
    json_t *req = json_pack("{s:s, s:s}", "taskToken", a.pos[0], "output", output);
    cli_client *c = req ? cli_command_connect(&a) : NULL;
    int code = c ? call_for_effect(c, "SendTaskSuccess", req) : 1;
    cli_client_destroy(&c);
    json_decref(req);
    free(output);
    return code;
}

typedef struct command {
    const char *name;
    const char *synopsis;
    int (*run)(const cli_ctx *cx, int argc, char **argv);
} command;

static const command commands[] = {
    {"create", "create NAME DEFINITION_FILE [--role-arn ARN] [--type STANDARD|EXPRESS] [--update]",
     cmd_create},
    {"start", "start STATE_MACHINE [--input JSON | --input @FILE] [--name NAME] [--wait]",
     cmd_start},
    {"describe", "describe ARN", cli_cmd_describe},
    {"list", "list [STATE_MACHINE] [--status STATUS] [--json]", cli_cmd_list},
    {"history", "history EXECUTION_ARN [--reverse] [--json]", cli_cmd_history},
    {"watch", CLI_WATCH_SYNOPSIS, cli_cmd_watch},
    {"stop", "stop EXECUTION_ARN [--error ERROR] [--cause CAUSE]", cmd_stop},
    {"send-task-success", "send-task-success TOKEN --output JSON|@FILE", cmd_task_success},
    {"send-task-failure", "send-task-failure TOKEN [--error ERROR] [--cause CAUSE]",
     cmd_task_failure},
    {"send-task-heartbeat", "send-task-heartbeat TOKEN", cmd_task_heartbeat},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static bool is_endpoint_opt(const char *w)
{
    return strcmp(w, "--endpoint") == 0 || strncmp(w, "--endpoint=", 11) == 0;
}

bool cli_command_claims(const char *arg)
{
    return find_command(arg) || is_endpoint_opt(arg);
}

void cli_command_usage(FILE *to)
{
    fprintf(to, "\nCoordinator commands (the AWS Step Functions API at --endpoint URL, given\n"
                "before or after the command, else $STATEFLEET_ENDPOINT, else " CLI_DEFAULT_ENDPOINT
                "):\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(to, "       statefleet %s\n", commands[i].synopsis);
    fprintf(to, "\nSTATE_MACHINE is an ARN or a name. start --wait prints the output once the\n"
                "execution ends (exit 1 unless it succeeded). describe takes an execution, state\n"
                "machine, activity or map run ARN. list --status is one of RUNNING, SUCCEEDED,\n"
                "FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE.\n");
}

int cli_command_main(int argc, char **argv)
{
    const char *endpoint = NULL;
    int i = 0;
    while (i < argc && is_endpoint_opt(argv[i])) {
        if (argv[i][10] == '=') {
            endpoint = argv[i] + 11;
        } else if (i + 1 < argc) {
            endpoint = argv[++i];
        } else {
            fprintf(stderr, "statefleet: a value is missing after --endpoint\n");
            cli_command_usage(stderr);
            return 2;
        }
        i++;
    }
    const command *cmd = i < argc ? find_command(argv[i]) : NULL;
    if (!cmd) {
        if (i < argc)
            fprintf(stderr, "statefleet: --endpoint is for the coordinator commands, not '%s'\n",
                    argv[i]);
        else
            fprintf(stderr, "statefleet: a command is missing after --endpoint\n");
        cli_command_usage(stderr);
        return 2;
    }
    cli_ctx cx = {endpoint, cmd->synopsis};
    return cmd->run(&cx, argc - i - 1, argv + i + 1);
}
