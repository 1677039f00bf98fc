/* proto/sigv4_buf.c - the capped string builder and the percent-encoder
 * shared by the SigV4 files.
 *
 * Every string the signer builds grows here, so the one cap
 * (SIGV4_MAX_TEXT) bounds them all whatever a caller passes in. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sf_grow.h"
#include "proto/sigv4.h"
#include "proto/sigv4_internal.h"

sf_rc sigv4__fail(char *err, size_t errlen, sf_rc rc, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

void sigv4__buf_add(sigv4__buf *b, const char *s, size_t n)
{
    if (b->rc != SF_OK)
        return;
    if (n > SIGV4_MAX_TEXT - b->len) {
        b->rc = SF_ELIMIT;
        return;
    }
    /* +1 for the terminating NUL, which the cap does not count. */
    sf_rc rc = sf_grow((void **)&b->p, &b->cap, b->len + n + 1, 1, 256, SIGV4_MAX_TEXT + 1);
    if (rc != SF_OK) {
        b->rc = rc;
        return;
    }
    if (n > 0)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sigv4__buf_str(sigv4__buf *b, const char *s)
{
    sigv4__buf_add(b, s, strlen(s));
}

void sigv4__buf_char(sigv4__buf *b, char c)
{
    sigv4__buf_add(b, &c, 1);
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

void sigv4__buf_encode(sigv4__buf *b, const char *s, size_t n, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i = 0;
    while (i < n) {
        /* Copy a run of bytes that stay as they are in one append. */
        size_t j = i;
        while (j < n && (is_unreserved((unsigned char)s[j]) || (keep_slash && s[j] == '/')))
            j++;
        sigv4__buf_add(b, s + i, j - i);
        if (j == n)
            break;
        unsigned char c = (unsigned char)s[j];
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
        sigv4__buf_add(b, esc, 3);
        i = j + 1;
    }
}

sf_rc sigv4__buf_take(sigv4__buf *b, char **out)
{
    *out = NULL;
    if (b->rc == SF_OK && !b->p)
        sigv4__buf_add(b, "", 0); /* an empty result is "", not NULL */
    if (b->rc != SF_OK) {
        sf_rc rc = b->rc;
        sigv4__buf_free(b);
        return rc;
    }
    *out = b->p;
    b->p = NULL;
    b->len = b->cap = 0;
    return SF_OK;
}

void sigv4__buf_free(sigv4__buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

sf_rc sigv4_uri_encode(const char *s, size_t len, bool keep_slash, char **out)
{
    sigv4__buf b = {0};
    sigv4__buf_encode(&b, s, len, keep_slash);
    return sigv4__buf_take(&b, out);
}
