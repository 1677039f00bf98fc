/* cli/client_args.h - the command line of the coordinator commands.
 *
 * One parser for all of them, so every command takes options in any order,
 * as "--name VALUE" or "--name=VALUE", ends options at "--", and accepts the
 * global --endpoint anywhere. Problems are printed here (this is the CLI)
 * with the command's synopsis; the caller just exits 2. */
#ifndef CLI_CLIENT_ARGS_H
#define CLI_CLIENT_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#define CLI_PAYLOAD_MAX 262144           /* AWS's 256 KiB limit on input and output */
#define CLI_DEFINITION_MAX (1024 * 1024) /* AWS's limit on a definition */
#define CLI_POSITIONAL_MAX 4

/* One option a command takes. The parser fills value: the text after it,
 * or "" for a flag; it stays NULL when the option was not given. */
typedef struct cli_opt {
    const char *name; /* "--input" */
    bool takes_value;
    const char *value;
} cli_opt;

typedef struct cli_args {
    const char *endpoint; /* --endpoint, else $STATEFLEET_ENDPOINT, else the default */
    const char *pos[CLI_POSITIONAL_MAX];
    size_t npos;
} cli_args;

/* What a command is called with: the endpoint given before its name (NULL
 * if none) and its synopsis for usage errors ("start STATE_MACHINE ..."). */
typedef struct cli_ctx {
    const char *endpoint;
    const char *synopsis;
} cli_ctx;

/* Parses argv (the words after the command's name) against opts (nopts
 * entries; values point into argv). Between min_pos and max_pos positional
 * words are required (max_pos <= CLI_POSITIONAL_MAX), and every word must
 * be UTF-8. False after printing the problem and the synopsis to stderr. */
bool cli_args_parse(const cli_ctx *cx, int argc, char **argv, cli_opt *opts, size_t nopts,
                    size_t min_pos, size_t max_pos, cli_args *out);

/* Prints "usage: statefleet <synopsis>" and where the endpoint comes from. */
void cli_args_usage(const cli_ctx *cx);

/* The value of "--input JSON" / "--input @FILE" as JSON text: the literal,
 * or the file's contents, checked to be JSON and at most CLI_PAYLOAD_MAX
 * bytes. malloc'd; NULL after printing why (with what, e.g. "--input"). */
char *cli_args_json(const char *what, const char *arg);

#endif
