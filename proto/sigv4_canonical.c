/* proto/sigv4_canonical.c - the canonical URI, query string and headers of
 * a SigV4 canonical request.
 *
 * These functions take any bytes: they are what the fuzzer drives. They
 * refuse only what cannot be canonicalised (a path without a leading '/',
 * a header name outside the HTTP token characters, a bare line break in a
 * value); everything else has exactly one canonical form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sf_hex.h"
#include "proto/sigv4.h"
#include "proto/sigv4_internal.h"

/* A byte for an error message: printable as itself, else as \xHH. */
static const char *show_byte(unsigned char c, char buf[8])
{
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, 8, "'%c'", c);
    else
        snprintf(buf, 8, "\\x%02X", c);
    return buf;
}

/* ---- Path ---- */

sf_rc sigv4_path_normalize(const char *path, char **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!path || path[0] != '/')
        return sigv4__fail(err, errlen, SF_EINVAL, "path: must start with '/'");
    size_t n = strlen(path);
    if (n > SIGV4_MAX_TEXT)
        return sigv4__fail(err, errlen, SF_ELIMIT, "path: longer than %u bytes", SIGV4_MAX_TEXT);

    /* Kept segments are written straight into the output; ".." backs the
     * output up to the '/' before the last kept segment. The output never
     * outgrows the input, so one allocation of n + 2 bytes does. */
    char *o = malloc(n + 2);
    if (!o)
        return SF_ENOMEM;
    size_t len = 0;
    int trailing = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *seg = p;
        while (*p && *p != '/')
            p++;
        size_t sl = (size_t)(p - seg);
        if (sl == 0) {
            trailing = 1; /* the path ended in '/' */
            break;
        }
        /* A final "." or ".." names a directory: keep the trailing '/'. */
        trailing = (*p == '/') || (sl == 1 && seg[0] == '.') ||
                   (sl == 2 && seg[0] == '.' && seg[1] == '.');
        if (sl == 1 && seg[0] == '.')
            continue;
        if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
            while (len > 0 && o[len - 1] != '/')
                len--;
            if (len > 0)
                len--; /* the '/' before the dropped segment */
            continue;
        }
        o[len++] = '/';
        memcpy(o + len, seg, sl);
        len += sl;
    }
    if (len == 0 || trailing)
        o[len++] = '/';
    o[len] = '\0';
    *out = o;
    return SF_OK;
}

sf_rc sigv4_canonical_uri(const char *path, unsigned flags, char **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!path || path[0] != '/')
        return sigv4__fail(err, errlen, SF_EINVAL, "path: must start with '/'");
    char *norm = NULL;
    if (flags & SIGV4_NORMALIZE_PATH) {
        sf_rc rc = sigv4_path_normalize(path, &norm, err, errlen);
        if (rc != SF_OK)
            return rc;
        path = norm;
    }
    sigv4__buf b = {0};
    size_t n = strlen(path);
    if (flags & SIGV4_DOUBLE_ENCODE) {
        sigv4__buf_encode(&b, path, n, 1);
    } else {
        /* Encode once: the path is already encoded on the wire, so a valid
         * escape stays (its hex uppercased, as the canonical form wants) and
         * only bytes that should have been escaped are. */
        static const char hex[] = "0123456789ABCDEF";
        for (size_t i = 0; i < n; i++) {
            int hi, lo;
            if (path[i] == '%' && i + 2 < n && (hi = sf_hex_digit(path[i + 1])) >= 0 &&
                (lo = sf_hex_digit(path[i + 2])) >= 0) {
                char esc[3] = {'%', hex[hi], hex[lo]};
                sigv4__buf_add(&b, esc, 3);
                i += 2;
            } else {
                sigv4__buf_encode(&b, path + i, 1, 1);
            }
        }
    }
    free(norm);
    sf_rc rc = sigv4__buf_take(&b, out);
    if (rc != SF_OK)
        return sigv4__fail(err, errlen, rc, "path: canonical form over %u bytes", SIGV4_MAX_TEXT);
    return SF_OK;
}

/* ---- Query ---- */

typedef struct query_param {
    char *key, *value; /* encoded, owned */
} query_param;

/* Appends s[0..n) decoded (%XX to its byte; a '%' that starts no valid
 * escape is itself) and then re-encoded, so "%E1%88%B4", raw UTF-8 and
 * "%e1%88%b4" all come out as "%E1%88%B4". '+' is a plus sign, not a space:
 * AWS reads queries per RFC 3986, not as HTML forms. */
static void add_reencoded(sigv4__buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        char c = s[i];
        if (c == '%' && i + 2 < n && (hi = sf_hex_digit(s[i + 1])) >= 0 &&
            (lo = sf_hex_digit(s[i + 2])) >= 0) {
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        sigv4__buf_encode(b, &c, 1, 0);
    }
}

static int param_cmp(const void *a, const void *b)
{
    const query_param *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

static void params_free(query_param *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].value);
    }
    free(v);
}

sf_rc sigv4_canonical_query(const char *query, char **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!query)
        query = "";
    size_t qn = strlen(query);
    if (qn > SIGV4_MAX_TEXT)
        return sigv4__fail(err, errlen, SF_ELIMIT, "query: longer than %u bytes", SIGV4_MAX_TEXT);

    /* One parameter per '&'-separated piece at most. */
    size_t maxp = 1;
    for (size_t i = 0; i < qn; i++)
        maxp += query[i] == '&';
    query_param *v = calloc(maxp, sizeof *v);
    if (!v)
        return SF_ENOMEM;
    size_t np = 0;
    sf_rc rc = SF_OK;
    const char *p = query, *end = query + qn;
    while (p < end && rc == SF_OK) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        if (pe > p) { /* "a&&b": an empty piece is no parameter */
            const char *eq = memchr(p, '=', (size_t)(pe - p));
            const char *ke = eq ? eq : pe;
            sigv4__buf k = {0}, val = {0};
            add_reencoded(&k, p, (size_t)(ke - p));
            if (eq)
                add_reencoded(&val, eq + 1, (size_t)(pe - eq - 1));
            rc = sigv4__buf_take(&k, &v[np].key);
            if (rc == SF_OK)
                rc = sigv4__buf_take(&val, &v[np].value);
            else
                sigv4__buf_free(&val);
            np++;
        }
        p = amp ? amp + 1 : end;
    }
    sigv4__buf b = {0};
    if (rc == SF_OK) {
        qsort(v, np, sizeof *v, param_cmp);
        for (size_t i = 0; i < np; i++) {
            if (i > 0)
                sigv4__buf_char(&b, '&');
            sigv4__buf_str(&b, v[i].key);
            sigv4__buf_char(&b, '=');
            sigv4__buf_str(&b, v[i].value);
        }
        rc = b.rc;
    }
    params_free(v, maxp);
    if (rc != SF_OK) {
        sigv4__buf_free(&b);
        return sigv4__fail(err, errlen, rc, "query: canonical form over %u bytes", SIGV4_MAX_TEXT);
    }
    return sigv4__buf_take(&b, out);
}

/* ---- Headers ---- */

/* RFC 9110 token characters, the only ones a header name may hold. */
static int is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Headers a proxy or the HTTP library may add, drop or rewrite on the way:
 * signing them would break the signature for no gain. */
static const char *const unsigned_headers[] = {
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
};

static int is_unsigned(const char *lname)
{
    for (size_t i = 0; i < sizeof unsigned_headers / sizeof unsigned_headers[0]; i++)
        if (strcmp(lname, unsigned_headers[i]) == 0)
            return 1;
    return 0;
}

typedef struct canon_header {
    char *name;   /* lowercased, owned */
    char *value;  /* trimmed and collapsed, owned */
    size_t index; /* position in the input: ties keep it, so repeats keep their order */
} canon_header;

static int header_cmp(const void *a, const void *b)
{
    const canon_header *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Checks value and appends it trimmed, each run of spaces, tabs and folded
 * line breaks becoming one space. A CR or LF must be a fold (followed by a
 * space or tab): anything else would let a value smuggle in a header. */
static sf_rc add_value(sigv4__buf *b, const char *v, size_t idx, const char *name, char *err,
                       size_t errlen)
{
    int pending_space = 0;
    for (size_t i = 0; v[i]; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '\r' || c == '\n') {
            size_t j = i + (c == '\r' && v[i + 1] == '\n');
            if (v[j + 1] != ' ' && v[j + 1] != '\t')
                return sigv4__fail(err, errlen, SF_EINVAL,
                                   "header %zu (%.64s): line break in the value not followed by "
                                   "a space or tab",
                                   idx, name);
        } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
            char sb[8];
            return sigv4__fail(err, errlen, SF_EINVAL,
                               "header %zu (%.64s): control character %s in the value", idx, name,
                               show_byte(c, sb));
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            pending_space = b->len > 0; /* leading whitespace is dropped */
            continue;
        }
        if (pending_space)
            sigv4__buf_char(b, ' ');
        pending_space = 0;
        sigv4__buf_add(b, (const char *)&v[i], 1);
    }
    return SF_OK;
}

static void headers_free(canon_header *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
}

/* Lowercases, checks and normalises one header into *h; h->name is NULL
 * (and SF_OK returned) for a header left unsigned. */
static sf_rc canon_one(const sigv4_header *in, size_t idx, canon_header *h, char *err,
                       size_t errlen)
{
    const char *name = in->name ? in->name : "";
    if (!name[0])
        return sigv4__fail(err, errlen, SF_EINVAL, "header %zu: empty name", idx);
    size_t nl = strlen(name);
    if (nl > 1024)
        return sigv4__fail(err, errlen, SF_ELIMIT, "header %zu: name over 1024 bytes", idx);
    for (size_t i = 0; i < nl; i++)
        if (!is_tchar((unsigned char)name[i])) {
            char sb[8];
            return sigv4__fail(err, errlen, SF_EINVAL,
                               "header %zu name \"%.64s\": invalid character %s", idx, name,
                               show_byte((unsigned char)name[i], sb));
        }
    sigv4__buf lb = {0}, vb = {0};
    sigv4__buf_add(&lb, name, nl);
    for (size_t i = 0; i < lb.len; i++)
        if (lb.p[i] >= 'A' && lb.p[i] <= 'Z')
            lb.p[i] = (char)(lb.p[i] - 'A' + 'a');
    sf_rc rc = add_value(&vb, in->value ? in->value : "", idx, name, err, errlen);
    if (rc == SF_OK && lb.rc == SF_OK && is_unsigned(lb.p)) {
        sigv4__buf_free(&lb);
        sigv4__buf_free(&vb);
        h->name = NULL;
        return SF_OK;
    }
    if (rc == SF_OK)
        rc = sigv4__buf_take(&lb, &h->name);
    if (rc == SF_OK)
        rc = sigv4__buf_take(&vb, &h->value);
    sigv4__buf_free(&lb);
    sigv4__buf_free(&vb);
    h->index = idx;
    return rc;
}

sf_rc sigv4_canonical_headers(const sigv4_header *headers, size_t n, char **canonical,
                              char **signed_names, char *err, size_t errlen)
{
    *canonical = NULL;
    *signed_names = NULL;
    if (n > SIGV4_MAX_HEADERS)
        return sigv4__fail(err, errlen, SF_ELIMIT, "headers: %zu, over the %d limit", n,
                           SIGV4_MAX_HEADERS);
    canon_header *h = calloc(n ? n : 1, sizeof *h);
    if (!h)
        return SF_ENOMEM;
    size_t m = 0;
    sf_rc rc = SF_OK;
    for (size_t i = 0; i < n && rc == SF_OK; i++) {
        rc = canon_one(&headers[i], i, &h[m], err, errlen);
        if (rc == SF_OK && h[m].name)
            m++;
    }
    if (rc != SF_OK) {
        headers_free(h, n);
        return rc;
    }
    qsort(h, m, sizeof *h, header_cmp);

    sigv4__buf cb = {0}, sb = {0};
    for (size_t i = 0; i < m; i++) {
        int first = i == 0 || strcmp(h[i].name, h[i - 1].name) != 0;
        if (first) {
            if (i > 0) {
                sigv4__buf_char(&cb, '\n');
                sigv4__buf_char(&sb, ';');
            }
            sigv4__buf_str(&cb, h[i].name);
            sigv4__buf_char(&cb, ':');
            sigv4__buf_str(&sb, h[i].name);
        } else {
            sigv4__buf_char(&cb, ','); /* repeats joined in the order given */
        }
        sigv4__buf_str(&cb, h[i].value);
    }
    if (m > 0)
        sigv4__buf_char(&cb, '\n');
    headers_free(h, n);
    if (cb.rc != SF_OK || sb.rc != SF_OK) {
        rc = cb.rc != SF_OK ? cb.rc : sb.rc;
        sigv4__buf_free(&cb);
        sigv4__buf_free(&sb);
        return sigv4__fail(err, errlen, rc, "headers: canonical form over %u bytes",
                           SIGV4_MAX_TEXT);
    }
    rc = sigv4__buf_take(&cb, canonical);
    if (rc == SF_OK)
        rc = sigv4__buf_take(&sb, signed_names);
    if (rc != SF_OK) {
        free(*canonical);
        *canonical = NULL;
        sigv4__buf_free(&sb);
    }
    return rc;
}
