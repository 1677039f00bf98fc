/* integrations/local_function.h - run a Lambda-style function locally.
 *
 * A function is an executable NAME in a functions directory. It gets the
 * task's input JSON on stdin and answers with its result JSON on stdout, as
 * a Lambda handler returns. A non-zero exit, or a result object with
 * "errorType" and "errorMessage", is a failure named by errorType, as
 * Lambda reports unhandled errors. The process runs concurrently: the caller
 * polls its fd and collects it when the fd reaches end of file. */
#ifndef INTEG_LOCAL_FUNCTION_H
#define INTEG_LOCAL_FUNCTION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "../../common/sf_rc.h"
#include "../asl/diag.h"

#define INTEG_FN_OUTPUT_MAX (1024 * 1024) /* more stdout than this fails the task */

typedef struct integ_fn integ_fn;

/* Starts dir/name with input (borrowed) on stdin. name must be a plain file
 * name (no '/', not "." or ".."). On failure err says why (the function does
 * not exist, is not executable, ...). */
sf_rc integ_fn_start(const char *dir, const char *name, json_t *input, integ_fn **out,
                     asl_err *err);
/* The fd to poll for readability (stdout of the function). */
int integ_fn_fd(const integ_fn *fn);
/* Reads what is available. Returns 1 at end of file (the function is
 * done), 0 when more may come, -1 on a read error. */
int integ_fn_read(integ_fn *fn);
/* Collects a finished function: SF_OK with *result (new reference), or
 * non-OK with err set to the failure's error name and cause. */
sf_rc integ_fn_finish(integ_fn *fn, json_t **result, asl_err *err);
/* Kills a running function (SIGKILL) and reaps it. NULL-safe; sets *fn NULL. */
void integ_fn_destroy(integ_fn **fn);

#endif
