/* cli/cli_keys.h - `statefleet keys`: CURVE key pairs for the fleet. */
#ifndef CLI_KEYS_H
#define CLI_KEYS_H

#include <stdio.h>

/* Runs `statefleet keys ...`; argv holds the words after "keys" ("new",
 * PATH). Returns the exit code: 0 written, 1 the files could not be
 * written (one already exists, or I/O failed), 2 bad usage. */
int cmd_keys(int argc, char **argv);

/* What keys new does, for `statefleet --help` (after its synopsis line,
 * "statefleet keys new PATH"). */
void cmd_keys_usage(FILE *to);

#endif
