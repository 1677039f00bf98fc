/* cli/client_commands.h - the commands that talk to a coordinator.
 *
 * create, start, stop and send-task-* (client_commands.c) change things;
 * describe, list and history (client_show.c) print them. Each returns the
 * process's exit code as main.c documents it: 0 done, 1 the coordinator
 * refused or could not be reached (or, with start --wait, the execution did
 * not succeed), 2 bad usage or bad local input. */
#ifndef CLI_CLIENT_COMMANDS_H
#define CLI_CLIENT_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "client.h"
#include "client_args.h"

/* For main.c. */

/* True when arg, the word after "statefleet", starts a coordinator command:
 * one of their names, or the global --endpoint before one. */
bool cli_command_claims(const char *arg);
/* Runs the command in argv (argv[0] is its name or --endpoint); returns the
 * exit code. */
int cli_command_main(int argc, char **argv);
/* The coordinator commands' part of `statefleet --help`. */
void cli_command_usage(FILE *to);

/* Between the command files. */

/* A client for a's endpoint; NULL after printing. */
cli_client *cli_command_connect(const cli_args *a);
/* Prints err for op and returns 1, the exit code of a failed call. */
int cli_command_failed(const char *op, const cli_error *err);
/* The ARN of name_or_arn: itself when it starts with "arn:", else the state
 * machine of that name, looked up through every page of ListStateMachines.
 * malloc'd; NULL after printing why. */
char *cli_command_resolve(cli_client *c, const char *name_or_arn);
/* v, epoch seconds as a JSON number (maybe fractional), as ISO 8601 UTC
 * ("2024-01-31T12:00:00.123Z"); a string is copied, anything else is "-". */
void cli_format_time(const json_t *v, char out[40]);

int cli_cmd_describe(const cli_ctx *cx, int argc, char **argv);
int cli_cmd_list(const cli_ctx *cx, int argc, char **argv);
int cli_cmd_history(const cli_ctx *cx, int argc, char **argv);

#endif
