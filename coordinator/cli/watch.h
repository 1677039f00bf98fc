/* cli/watch.h - `statefleet watch EXECUTION_ARN [--interval SECONDS]`: an
 * execution's running tasks and their progress, live, until it ends.
 *
 * Exit codes: 0 the execution succeeded; 1 it failed, timed out or was
 * aborted (as `statefleet start --wait`); 2 bad usage, an execution the
 * coordinator does not know (its message is printed), or a coordinator that
 * stayed unreachable through a few retries. Interrupted by SIGINT or
 * SIGTERM, it leaves the terminal clean and dies of that signal, so that a
 * shell loop around it stops too. */
#ifndef CLI_WATCH_H
#define CLI_WATCH_H

#include "client_args.h"

#define CLI_WATCH_SYNOPSIS "watch EXECUTION_ARN [--interval SECONDS]"

/* argv holds the words after "watch"; --endpoint may be among them. */
int cmd_watch(int argc, char **argv);

/* The same, for the coordinator commands' table in client_commands.c,
 * which also passes an --endpoint given before the command's name. */
int cli_cmd_watch(const cli_ctx *cx, int argc, char **argv);

#endif
