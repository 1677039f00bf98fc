/* asl/diag.h - located messages for a person, and runtime errors as data.
 *
 * asl_diag collects static problems in a definition ("/States/Check/Choices/0:
 * NumericEquals needs a number"). asl_err carries one ASL runtime error (an
 * error name such as States.Runtime and a cause) out of an evaluation; it is
 * data that ends up in history, never a C return code. Neither ever prints. */
#ifndef ASL_DIAG_H
#define ASL_DIAG_H

#include <stddef.h>

#define ASL_DIAG_MAX 64 /* more than this many messages are counted, not kept */

typedef struct asl_diag {
    char *msg[ASL_DIAG_MAX]; /* owned, "WHERE: WHAT" */
    size_t n;                /* messages kept */
    size_t dropped;          /* messages past ASL_DIAG_MAX */
} asl_diag;

/* Adds "where: <formatted>". where is a JSON-pointer-like location such as
 * "/States/Check/Choices/0" ("/" for the top). Never fails visibly: on
 * allocation failure the message is counted as dropped. */
void asl_diag_add(asl_diag *d, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Frees every message; d may be reused afterwards. */
void asl_diag_clear(asl_diag *d);
/* Total messages added, kept or not. */
size_t asl_diag_count(const asl_diag *d);

typedef struct asl_err {
    char *error; /* owned, e.g. "States.Runtime"; NULL when no error */
    char *cause; /* owned, may be NULL */
} asl_err;

/* Replaces any previous error. */
void asl_err_set(asl_err *e, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Replaces any previous error with copies of error and cause (either may be NULL). */
void asl_err_copy(asl_err *e, const char *error, const char *cause);
void asl_err_clear(asl_err *e);

#endif
