/* proto/sigv4_internal.h - internal to the SigV4 files: a capped string
 * builder and the error helper. Not for use outside proto/sigv4*.c. */
#ifndef PROTO_SIGV4_INTERNAL_H
#define PROTO_SIGV4_INTERNAL_H

#include <stddef.h>

#include "common/sf_rc.h"

/* A growing NUL-terminated string, never longer than SIGV4_MAX_TEXT. Once an
 * append fails, rc keeps the first error and later appends do nothing, so a
 * builder can append a run of pieces and check once at the end. */
typedef struct sigv4__buf {
    char *p;
    size_t len, cap;
    sf_rc rc;
} sigv4__buf;

void sigv4__buf_add(sigv4__buf *b, const char *s, size_t n);
void sigv4__buf_str(sigv4__buf *b, const char *s);
void sigv4__buf_char(sigv4__buf *b, char c);
/* Appends s percent-encoded (see sigv4_uri_encode). */
void sigv4__buf_encode(sigv4__buf *b, const char *s, size_t n, int keep_slash);
/* Hands the string to the caller (never NULL when rc is SF_OK, "" for an
 * empty one) or frees it and returns its error. */
sf_rc sigv4__buf_take(sigv4__buf *b, char **out);
void sigv4__buf_free(sigv4__buf *b);

/* Formats a message into err (when err is non-NULL and errlen > 0) and
 * returns rc, so a failing path reads `return sigv4__fail(...)`. */
sf_rc sigv4__fail(char *err, size_t errlen, sf_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
