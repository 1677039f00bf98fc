/* tests/fuzz/fuzz_sigv4.c - libFuzzer harness for the SigV4 canonicaliser
 * and signer.
 *
 * Input: a raw HTTP request (the seeds are the 38 request.txt files of the
 * aws-c-auth suite); bytes that do not parse as one are split into lines
 * instead: path, query, then "name:value" headers. The flags come from the
 * bytes' sum, so every seed also runs under other flag sets.
 *
 * Checks (abort on failure): nothing crashes or leaks; every step gives
 * the same answer twice; canonicalisation is idempotent (normalising or
 * canonicalising a canonical form changes nothing); a canonical URI or
 * query holds only unreserved characters and escapes; a signature is 64
 * lowercase hex digits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/sigv4_http.h"
#include "proto/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int only(const char *s, const char *extra)
{
    for (; *s; s++) {
        char c = *s;
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 strchr("-._~%", c) || (extra && strchr(extra, c));
        if (!ok)
            return 0;
    }
    return 1;
}

/* Bytes that are no HTTP request: line 1 is the path, line 2 the query,
 * the rest "name:value" headers. */
static void split_lines(const char *text, size_t len, http_req *r)
{
    memset(r, 0, sizeof *r);
    const char *p = text, *end = text + len;
    for (int line = 0; p <= end; line++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        if (line == 0) {
            r->path = http_dup(p, (size_t)(le - p));
        } else if (line == 1) {
            r->query = http_dup(p, (size_t)(le - p));
        } else if (r->n_headers < HTTP_MAX_HEADERS) {
            const char *colon = memchr(p, ':', (size_t)(le - p));
            const char *ne = colon ? colon : le;
            r->names[r->n_headers] = http_dup(p, (size_t)(ne - p));
            r->values[r->n_headers] =
                colon ? http_dup(colon + 1, (size_t)(le - colon - 1)) : http_dup("", 0);
            r->n_headers++;
        }
        if (!eol)
            break;
        p = eol + 1;
    }
    r->method = http_dup("POST", 4);
    r->body = http_dup("", 0);
}

static void fuzz_uri(const char *path, unsigned flags)
{
    char *a = NULL, *b = NULL;
    sf_rc ra = sigv4_canonical_uri(path, flags, &a, NULL, 0);
    sf_rc rb = sigv4_canonical_uri(path, flags, &b, NULL, 0);
    check(ra == rb && same(a, b));
    check(ra == SF_OK ? a && only(a, "/") : !a);
    free(a);
    free(b);

    char *n1 = NULL, *n2 = NULL;
    if (sigv4_path_normalize(path, &n1, NULL, 0) == SF_OK) {
        check(sigv4_path_normalize(n1, &n2, NULL, 0) == SF_OK);
        check(strcmp(n1, n2) == 0 && n1[0] == '/');
        check(!strstr(n1, "//") && !strstr(n1, "/./") && !strstr(n1, "/../"));
    }
    free(n1);
    free(n2);
}

static void fuzz_query(const char *q)
{
    char *a = NULL, *b = NULL, *c = NULL;
    sf_rc ra = sigv4_canonical_query(q, &a, NULL, 0);
    sf_rc rb = sigv4_canonical_query(q, &b, NULL, 0);
    check(ra == rb && same(a, b));
    if (ra == SF_OK) {
        check(only(a, "=&"));
        check(sigv4_canonical_query(a, &c, NULL, 0) == SF_OK && strcmp(a, c) == 0);
    }
    free(a);
    free(b);
    free(c);
}

static void fuzz_headers(const sigv4_header *h, size_t n)
{
    char *c1 = NULL, *s1 = NULL, *c2 = NULL, *s2 = NULL;
    sf_rc r1 = sigv4_canonical_headers(h, n, &c1, &s1, NULL, 0);
    sf_rc r2 = sigv4_canonical_headers(h, n, &c2, &s2, NULL, 0);
    check(r1 == r2 && same(c1, c2) && same(s1, s2));
    check(r1 == SF_OK ? c1 && s1 : !c1 && !s1);
    free(c1);
    free(s1);
    free(c2);
    free(s2);
}

static void fuzz_sign(const http_req *r, const sigv4_header *h, unsigned flags, sigv4_mode mode)
{
    static const sigv4_credentials cred = {"AKIDEXAMPLE", "secret", "token/+="};
    sigv4_request req = {.method = r->method,
                         .path = r->path,
                         .query = r->query,
                         .headers = h,
                         .n_headers = r->n_headers,
                         .payload_kind = SIGV4_PAYLOAD_BYTES,
                         .payload = r->body,
                         .payload_len = r->body_len};
    sigv4_params p = {.region = "us-east-1",
                      .service = "service",
                      .time = 1440938160,
                      .flags = flags,
                      .mode = mode,
                      .expires = 3600};
    sigv4_key_cache cache = {0};
    sigv4_result a, b;
    sf_rc ra = sigv4_sign(&req, &cred, &p, &cache, &a, NULL, 0);
    sf_rc rb = sigv4_sign(&req, &cred, &p, &cache, &b, NULL, 0);
    check(ra == rb);
    if (ra == SF_OK) {
        check(same(a.canonical_request, b.canonical_request));
        check(same(a.string_to_sign, b.string_to_sign) && same(a.query, b.query));
        check(strcmp(a.signature, b.signature) == 0 && strlen(a.signature) == 64);
        check(strspn(a.signature, "0123456789abcdef") == 64);
        check(a.n_headers == b.n_headers && cache.hits == 1 && cache.misses == 1);
        check(mode == SIGV4_MODE_QUERY ? a.query != NULL : a.n_headers >= 2);
    } else {
        check(!a.canonical_request && !b.canonical_request);
    }
    sigv4_result_clear(&a);
    sigv4_result_clear(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    unsigned sum = 0;
    for (size_t i = 0; i < size; i++)
        sum += data[i];
    /* The seeds' own flags (normalise, double-encode) come first. */
    unsigned flags = (sum & 15) ^ SIGV4_FLAGS_DEFAULT;

    http_req r;
    if (http_req_parse((const char *)data, size, &r) != 0) {
        http_req_free(&r);
        split_lines((const char *)data, size, &r);
    }
    if (!r.path || !r.method || !r.body) { /* out of memory in the helper */
        http_req_free(&r);
        return 0;
    }
    sigv4_header h[HTTP_MAX_HEADERS];
    for (size_t i = 0; i < r.n_headers; i++)
        h[i] = (sigv4_header){r.names[i], r.values[i]};

    fuzz_uri(r.path, flags);
    fuzz_query(r.query);
    fuzz_headers(h, r.n_headers);
    fuzz_sign(&r, h, flags, SIGV4_MODE_HEADER);
    fuzz_sign(&r, h, flags, SIGV4_MODE_QUERY);
    http_req_free(&r);
    return 0;
}
