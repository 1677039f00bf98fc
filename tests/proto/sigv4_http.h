/* tests/proto/sigv4_http.h - a small raw HTTP/1.1 request parser for the
 * SigV4 test vectors (request.txt, *-signed-request.txt).
 *
 * Layout: "METHOD SP target SP HTTP/1.1", then "Name:Value" lines split at
 * the first ':' (the value kept as it is, leading space included), a line
 * that starts with a space or tab continuing the previous value (kept with
 * its "\n"), an empty line, and the body. The target may hold spaces
 * ("/example space/"), so it runs to the last " HTTP/". Test code only. */
#ifndef TESTS_SIGV4_HTTP_H
#define TESTS_SIGV4_HTTP_H

#include <stdlib.h>
#include <string.h>

#define HTTP_MAX_HEADERS 64

typedef struct http_req {
    char *method, *path, *query; /* query NULL when the target has no '?' */
    char *names[HTTP_MAX_HEADERS], *values[HTTP_MAX_HEADERS];
    size_t n_headers;
    char *body;
    size_t body_len;
} http_req;

static char *http_dup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static void http_req_free(http_req *r)
{
    free(r->method);
    free(r->path);
    free(r->query);
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->names[i]);
        free(r->values[i]);
    }
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* 0 on success, -1 on a malformed request. */
static int http_req_parse(const char *text, size_t len, http_req *r)
{
    memset(r, 0, sizeof *r);
    const char *end = text + len;
    const char *eol = memchr(text, '\n', len);
    const char *line_end = eol ? eol : end;
    const char *sp = memchr(text, ' ', (size_t)(line_end - text));
    const char *ver = NULL;
    for (const char *p = line_end; p - 6 >= text; p--)
        if (memcmp(p - 6, " HTTP/", 6) == 0) {
            ver = p - 6;
            break;
        }
    if (!sp || !ver || ver <= sp)
        return -1;
    r->method = http_dup(text, (size_t)(sp - text));
    const char *target = sp + 1;
    const char *q = memchr(target, '?', (size_t)(ver - target));
    r->path = http_dup(target, (size_t)((q ? q : ver) - target));
    if (q)
        r->query = http_dup(q + 1, (size_t)(ver - q - 1));

    const char *p = eol ? eol + 1 : end;
    while (p < end) {
        eol = memchr(p, '\n', (size_t)(end - p));
        line_end = eol ? eol : end;
        if (line_end == p) { /* the empty line: the body follows */
            p = eol ? eol + 1 : end;
            r->body_len = (size_t)(end - p);
            r->body = http_dup(p, r->body_len);
            return 0;
        }
        if (*p == ' ' || *p == '\t') { /* a folded continuation line */
            if (r->n_headers == 0)
                return -1;
            char **v = &r->values[r->n_headers - 1];
            size_t ol = strlen(*v), add = (size_t)(line_end - p);
            char *nv = realloc(*v, ol + 1 + add + 1);
            if (!nv)
                return -1;
            nv[ol] = '\n';
            memcpy(nv + ol + 1, p, add);
            nv[ol + 1 + add] = '\0';
            *v = nv;
        } else {
            const char *colon = memchr(p, ':', (size_t)(line_end - p));
            if (!colon || r->n_headers == HTTP_MAX_HEADERS)
                return -1;
            r->names[r->n_headers] = http_dup(p, (size_t)(colon - p));
            r->values[r->n_headers] = http_dup(colon + 1, (size_t)(line_end - colon - 1));
            r->n_headers++;
        }
        p = eol ? eol + 1 : end;
    }
    r->body = http_dup("", 0);
    return 0;
}

#endif
