/* asl/diag.c - located diagnostics and runtime errors (see diag.h). */
#define _GNU_SOURCE
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void asl_diag_add(asl_diag *d, const char *where, const char *fmt, ...)
{
    if (d->n >= ASL_DIAG_MAX) {
        d->dropped++;
        return;
    }
    char *what = NULL;
    va_list ap;
    va_start(ap, fmt);
    int ok = vasprintf(&what, fmt, ap);
    va_end(ap);
    char *line = NULL;
    if (ok < 0 || asprintf(&line, "%s: %s", where && *where ? where : "/", what) < 0) {
        if (ok >= 0)
            free(what);
        d->dropped++;
        return;
    }
    free(what);
    d->msg[d->n++] = line;
}

void asl_diag_clear(asl_diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->msg[i]);
    d->n = 0;
    d->dropped = 0;
}

size_t asl_diag_count(const asl_diag *d)
{
    return d->n + d->dropped;
}

void asl_err_clear(asl_err *e)
{
    free(e->error);
    free(e->cause);
    e->error = NULL;
    e->cause = NULL;
}

void asl_err_set(asl_err *e, const char *error, const char *fmt, ...)
{
    asl_err_clear(e);
    e->error = strdup(error);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&e->cause, fmt, ap) < 0)
            e->cause = NULL;
        va_end(ap);
    }
}

void asl_err_copy(asl_err *e, const char *error, const char *cause)
{
    char *er = error ? strdup(error) : NULL;
    char *ca = cause ? strdup(cause) : NULL;
    asl_err_clear(e);
    e->error = er;
    e->cause = ca;
}
