/* proto/sigv4.c - AWS Signature Version 4: the signing key, the string to
 * sign, the signature, and what to add to the request.
 *
 * Pure: the caller passes the time; nothing here reads a clock, a file or
 * the environment, so a signature is a function of its inputs alone and the
 * test vectors pin it down. OpenSSL provides SHA-256 and HMAC. The
 * canonicalisation steps live in sigv4_canonical.c. */
#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "proto/sigv4.h"
#include "proto/sigv4_internal.h"

#define SCOPE_TERMINATOR "aws4_request"

/* 9999-12-31T23:59:59Z: X-Amz-Date has room for four year digits. */
#define MAX_TIME INT64_C(253402300799)

static void to_hex(const unsigned char *d, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[2 * n] = '\0';
}

static sf_rc sha256(const void *data, size_t len, unsigned char md[32])
{
    unsigned int mdlen = 0;
    if (!EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return SF_EIO; /* OpenSSL failed: no provider, no memory */
    return SF_OK;
}

sf_rc sigv4_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[32];
    sf_rc rc = sha256(data, len, md);
    if (rc == SF_OK)
        to_hex(md, 32, hex);
    return rc;
}

static sf_rc hmac(const void *key, size_t klen, const char *msg, size_t mlen, unsigned char out[32])
{
    unsigned int olen = 0;
    if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, out, &olen) ||
        olen != 32)
        return SF_EIO;
    return SF_OK;
}

static int cache_matches(const sigv4_key_cache *c, const char *date, const char *region,
                         const char *service, const unsigned char secret_hash[32])
{
    return c->valid && strcmp(c->date, date) == 0 && strcmp(c->region, region) == 0 &&
           strcmp(c->service, service) == 0 && CRYPTO_memcmp(c->secret_hash, secret_hash, 32) == 0;
}

sf_rc sigv4_signing_key(const char *secret, const char *date, const char *region,
                        const char *service, sigv4_key_cache *cache, unsigned char key[32])
{
    if (!secret || !date || !region || !service)
        return SF_EINVAL;
    size_t sl = strlen(secret);
    unsigned char secret_hash[32];
    sf_rc rc = SF_OK;
    if (cache) {
        /* Keyed on a hash of the secret so a rotated secret misses. */
        if ((rc = sha256(secret, sl, secret_hash)) != SF_OK)
            return rc;
        if (cache_matches(cache, date, region, service, secret_hash)) {
            memcpy(key, cache->key, 32);
            cache->hits++;
            return SF_OK;
        }
    }

    char *k0 = malloc(sl + 5);
    if (!k0)
        return SF_ENOMEM;
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, sl + 1);
    unsigned char a[32], b[32];
    rc = hmac(k0, sl + 4, date, strlen(date), a);
    OPENSSL_cleanse(k0, sl + 4);
    free(k0);
    if (rc == SF_OK)
        rc = hmac(a, 32, region, strlen(region), b);
    if (rc == SF_OK)
        rc = hmac(b, 32, service, strlen(service), a);
    if (rc == SF_OK)
        rc = hmac(a, 32, SCOPE_TERMINATOR, strlen(SCOPE_TERMINATOR), key);
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(b, sizeof b);
    if (rc != SF_OK)
        return rc;

    if (cache) {
        cache->misses++;
        /* A region or service too long for the cache is simply not cached. */
        if (strlen(date) < sizeof cache->date && strlen(region) < sizeof cache->region &&
            strlen(service) < sizeof cache->service) {
            strcpy(cache->date, date);
            strcpy(cache->region, region);
            strcpy(cache->service, service);
            memcpy(cache->secret_hash, secret_hash, 32);
            memcpy(cache->key, key, 32);
            cache->valid = true;
        } else {
            sigv4_key_cache_clear(cache);
        }
    }
    return SF_OK;
}

void sigv4_key_cache_clear(sigv4_key_cache *cache)
{
    if (!cache)
        return;
    uint64_t hits = cache->hits, misses = cache->misses;
    OPENSSL_cleanse(cache, sizeof *cache);
    cache->hits = hits;
    cache->misses = misses;
}

void sigv4_result_clear(sigv4_result *r)
{
    if (!r)
        return;
    free(r->canonical_request);
    free(r->string_to_sign);
    for (size_t i = 0; i < r->n_headers; i++)
        free(r->headers[i]);
    free(r->query);
    memset(r, 0, sizeof *r);
}

/* ---- Input checks ---- */

/* A credential-scope part (access key id, region, service) goes between
 * '/' in the scope and into a header unquoted: letters, digits, '-', '_'
 * and '.' are all AWS uses. */
static sf_rc check_scope_part(const char *what, const char *s, char *err, size_t errlen)
{
    if (!s || !s[0])
        return sigv4__fail(err, errlen, SF_EINVAL, "%s: missing", what);
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return sigv4__fail(err, errlen, SF_EINVAL, "%s: invalid character at byte %zu", what,
                               n);
        if (n >= 256)
            return sigv4__fail(err, errlen, SF_ELIMIT, "%s: over 256 bytes", what);
    }
    return SF_OK;
}

/* No control characters (and so no line breaks): path, query and token go
 * onto the wire as they are. */
static sf_rc check_printable(const char *what, const char *s, char *err, size_t errlen)
{
    for (size_t i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return sigv4__fail(err, errlen, SF_EINVAL, "%s: control character \\x%02X at byte %zu",
                               what, c, i);
    }
    return SF_OK;
}

static sf_rc check_method(const char *m, char *err, size_t errlen)
{
    if (!m || !m[0])
        return sigv4__fail(err, errlen, SF_EINVAL, "method: missing");
    for (size_t i = 0; m[i]; i++)
        if (!((m[i] >= 'A' && m[i] <= 'Z') || (m[i] >= 'a' && m[i] <= 'z') || m[i] == '-' ||
              m[i] == '_') ||
            i >= 32)
            return sigv4__fail(err, errlen, SF_EINVAL, "method \"%.32s\": not an HTTP method", m);
    return SF_OK;
}

static int ascii_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

/* The caller must name Host (SigV4 signs it) and must not set what the
 * signer sets: two Authorization or X-Amz-Date headers would not verify. */
static sf_rc check_headers(const sigv4_request *req, const sigv4_params *p, char *err,
                           size_t errlen)
{
    if (req->n_headers > 0 && !req->headers)
        return sigv4__fail(err, errlen, SF_EINVAL, "headers: NULL with a count of %zu",
                           req->n_headers);
    int host = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *n = req->headers[i].name ? req->headers[i].name : "";
        host |= ascii_ieq(n, "host");
        if (ascii_ieq(n, "authorization") || ascii_ieq(n, "x-amz-date") ||
            ascii_ieq(n, "x-amz-security-token") ||
            (ascii_ieq(n, "x-amz-content-sha256") && p->mode == SIGV4_MODE_HEADER &&
             (p->flags & SIGV4_SIGN_BODY)))
            return sigv4__fail(err, errlen, SF_EINVAL, "header %zu (%s): the signer adds it", i, n);
    }
    if (!host)
        return sigv4__fail(err, errlen, SF_EINVAL, "headers: no Host (SigV4 signs it)");
    return SF_OK;
}

/* Query mode: the request's own query may not already carry the
 * parameters the signer appends. */
static sf_rc check_query_keys(const char *q, char *err, size_t errlen)
{
    static const char *const ours[] = {
        "X-Amz-Algorithm",     "X-Amz-Credential",     "X-Amz-Date",      "X-Amz-Expires",
        "X-Amz-SignedHeaders", "X-Amz-Security-Token", "X-Amz-Signature",
    };
    while (*q) {
        size_t kl = strcspn(q, "=&");
        for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
            if (strlen(ours[i]) == kl && strncmp(q, ours[i], kl) == 0)
                return sigv4__fail(err, errlen, SF_EINVAL, "query: already holds %s", ours[i]);
        q += strcspn(q, "&");
        if (*q)
            q++;
    }
    return SF_OK;
}

static sf_rc check_inputs(const sigv4_request *req, const sigv4_credentials *cred,
                          const sigv4_params *p, char *err, size_t errlen)
{
    sf_rc rc;
    if (!req || !cred || !p)
        return sigv4__fail(err, errlen, SF_EINVAL, "request, credentials and params: required");
    if ((rc = check_method(req->method, err, errlen)) != SF_OK)
        return rc;
    if (!req->path || req->path[0] != '/')
        return sigv4__fail(err, errlen, SF_EINVAL, "path \"%.64s\": must start with '/'",
                           req->path ? req->path : "(null)");
    if (strpbrk(req->path, "?#"))
        return sigv4__fail(err, errlen, SF_EINVAL,
                           "path: holds '?' or '#'; pass the query separately");
    if ((rc = check_printable("path", req->path, err, errlen)) != SF_OK)
        return rc;
    if (req->query && (rc = check_printable("query", req->query, err, errlen)) != SF_OK)
        return rc;
    if ((rc = check_scope_part("access key id", cred->access_key_id, err, errlen)) != SF_OK)
        return rc;
    if (!cred->secret_access_key || !cred->secret_access_key[0])
        return sigv4__fail(err, errlen, SF_EINVAL, "secret access key: missing");
    if (cred->session_token &&
        (rc = check_printable("session token", cred->session_token, err, errlen)) != SF_OK)
        return rc;
    if ((rc = check_scope_part("region", p->region, err, errlen)) != SF_OK)
        return rc;
    if ((rc = check_scope_part("service", p->service, err, errlen)) != SF_OK)
        return rc;
    if (p->time < 0 || p->time > MAX_TIME)
        return sigv4__fail(err, errlen, SF_EINVAL, "time %lld: outside years 1970..9999",
                           (long long)p->time);
    if (p->mode != SIGV4_MODE_HEADER && p->mode != SIGV4_MODE_QUERY)
        return sigv4__fail(err, errlen, SF_EINVAL, "mode %d: unknown", (int)p->mode);
    if (p->mode == SIGV4_MODE_QUERY) {
        if (p->expires < 1 || p->expires > SIGV4_MAX_EXPIRES)
            return sigv4__fail(err, errlen, SF_EINVAL, "expires %u: must be 1..%d seconds",
                               (unsigned)p->expires, SIGV4_MAX_EXPIRES);
        if (req->query && (rc = check_query_keys(req->query, err, errlen)) != SF_OK)
            return rc;
    }
    return check_headers(req, p, err, errlen);
}

/* The payload hash as lowercase hex, or UNSIGNED-PAYLOAD. */
static sf_rc payload_hash(const sigv4_request *req, char out[65], char *err, size_t errlen)
{
    switch (req->payload_kind) {
    case SIGV4_PAYLOAD_BYTES:
        if (!req->payload && req->payload_len > 0)
            return sigv4__fail(err, errlen, SF_EINVAL, "payload: NULL with %zu bytes",
                               req->payload_len);
        return sigv4_sha256_hex(req->payload, req->payload_len, out);
    case SIGV4_PAYLOAD_HASH: {
        const char *h = req->payload_hash ? req->payload_hash : "";
        size_t i = 0;
        for (; i < 64 && h[i]; i++) {
            char c = h[i];
            if (c >= 'A' && c <= 'F')
                c = (char)(c - 'A' + 'a');
            else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                break;
            out[i] = c;
        }
        if (i != 64 || h[64] != '\0')
            return sigv4__fail(err, errlen, SF_EINVAL, "payload hash: not 64 hex digits");
        out[64] = '\0';
        return SF_OK;
    }
    case SIGV4_PAYLOAD_UNSIGNED:
        strcpy(out, SIGV4_UNSIGNED_PAYLOAD);
        return SF_OK;
    }
    return sigv4__fail(err, errlen, SF_EINVAL, "payload kind %d: unknown", (int)req->payload_kind);
}

/* ---- Signing ---- */

typedef struct sign_ctx {
    char amz_date[17]; /* YYYYMMDDTHHMMSSZ */
    char date[9];      /* YYYYMMDD */
    char hash[65];     /* payload hash */
    char *scope;       /* date/region/service/aws4_request */
    const char *token; /* NULL when none */
} sign_ctx;

static char *format_header(const char *name, const char *value)
{
    sigv4__buf b = {0};
    sigv4__buf_str(&b, name);
    sigv4__buf_str(&b, ": ");
    sigv4__buf_str(&b, value);
    char *s = NULL;
    sigv4__buf_take(&b, &s);
    return s;
}

/* The query parameters signed in query mode, pre-encoded; the canonical
 * query of "request query & these" is then what the server computes. */
static void add_query_auth(sigv4__buf *b, const sigv4_credentials *cred, const sigv4_params *p,
                           const sign_ctx *c, const char *signed_names, int with_token)
{
    char expires[16];
    snprintf(expires, sizeof expires, "%u", (unsigned)p->expires);
    sigv4__buf_str(b, "X-Amz-Algorithm=" SIGV4_ALGORITHM "&X-Amz-Credential=");
    sigv4__buf_encode(b, cred->access_key_id, strlen(cred->access_key_id), 0);
    sigv4__buf_str(b, "%2F");
    sigv4__buf_encode(b, c->scope, strlen(c->scope), 0);
    sigv4__buf_str(b, "&X-Amz-Date=");
    sigv4__buf_str(b, c->amz_date);
    sigv4__buf_str(b, "&X-Amz-SignedHeaders=");
    sigv4__buf_encode(b, signed_names, strlen(signed_names), 0);
    sigv4__buf_str(b, "&X-Amz-Expires=");
    sigv4__buf_str(b, expires);
    if (with_token && c->token) {
        sigv4__buf_str(b, "&X-Amz-Security-Token=");
        sigv4__buf_encode(b, c->token, strlen(c->token), 0);
    }
}

/* The headers to sign: the request's, plus (header mode) those the signer
 * adds and signs; *n gets the count. */
static sigv4_header *headers_to_sign(const sigv4_request *req, const sigv4_params *p,
                                     const sign_ctx *c, size_t *n)
{
    sigv4_header *h = malloc((req->n_headers + 3) * sizeof *h);
    if (!h)
        return NULL;
    if (req->n_headers > 0)
        memcpy(h, req->headers, req->n_headers * sizeof *h);
    *n = req->n_headers;
    if (p->mode == SIGV4_MODE_HEADER) {
        h[(*n)++] = (sigv4_header){"X-Amz-Date", c->amz_date};
        if (p->flags & SIGV4_SIGN_BODY)
            h[(*n)++] = (sigv4_header){"x-amz-content-sha256", c->hash};
        if (c->token && !(p->flags & SIGV4_OMIT_SESSION_TOKEN))
            h[(*n)++] = (sigv4_header){"X-Amz-Security-Token", c->token};
    }
    return h;
}

static sf_rc build_canonical(const sigv4_request *req, const sigv4_credentials *cred,
                             const sigv4_params *p, const sign_ctx *c, char **creq,
                             char **signed_out, char *err, size_t errlen)
{
    char *uri = NULL, *query = NULL, *canon_h = NULL, *signed_names = NULL;
    *creq = NULL;
    *signed_out = NULL;
    size_t nh = 0;
    sigv4_header *h = headers_to_sign(req, p, c, &nh);
    if (!h)
        return SF_ENOMEM;
    sf_rc rc = sigv4_canonical_headers(h, nh, &canon_h, &signed_names, err, errlen);
    free(h);
    if (rc == SF_OK)
        rc = sigv4_canonical_uri(req->path, p->flags, &uri, err, errlen);
    if (rc == SF_OK) {
        sigv4__buf q = {0};
        if (req->query)
            sigv4__buf_str(&q, req->query);
        if (p->mode == SIGV4_MODE_QUERY) {
            if (q.len > 0)
                sigv4__buf_char(&q, '&');
            add_query_auth(&q, cred, p, c, signed_names, !(p->flags & SIGV4_OMIT_SESSION_TOKEN));
        }
        char *raw = NULL;
        rc = sigv4__buf_take(&q, &raw);
        if (rc == SF_OK)
            rc = sigv4_canonical_query(raw, &query, err, errlen);
        free(raw);
    }
    if (rc == SF_OK) {
        sigv4__buf b = {0};
        const char *parts[] = {req->method, uri, query, canon_h, signed_names, c->hash};
        for (size_t i = 0; i < 6; i++) {
            sigv4__buf_str(&b, parts[i]);
            if (i < 5)
                sigv4__buf_char(&b, '\n');
        }
        rc = sigv4__buf_take(&b, creq);
        if (rc != SF_OK)
            sigv4__fail(err, errlen, rc, "canonical request: over %u bytes", SIGV4_MAX_TEXT);
    }
    free(uri);
    free(query);
    free(canon_h);
    if (rc == SF_OK)
        *signed_out = signed_names;
    else
        free(signed_names);
    return rc;
}

static sf_rc build_string_to_sign(const sign_ctx *c, const char *creq, char **sts)
{
    char creq_hash[65];
    sf_rc rc = sigv4_sha256_hex(creq, strlen(creq), creq_hash);
    if (rc != SF_OK)
        return rc;
    sigv4__buf b = {0};
    sigv4__buf_str(&b, SIGV4_ALGORITHM "\n");
    sigv4__buf_str(&b, c->amz_date);
    sigv4__buf_char(&b, '\n');
    sigv4__buf_str(&b, c->scope);
    sigv4__buf_char(&b, '\n');
    sigv4__buf_str(&b, creq_hash);
    return sigv4__buf_take(&b, sts);
}

/* Fills out's headers (header mode) or query (query mode) once the
 * signature is known. */
static sf_rc attach(const sigv4_request *req, const sigv4_credentials *cred, const sigv4_params *p,
                    const sign_ctx *c, const char *signed_names, sigv4_result *out)
{
    if (p->mode == SIGV4_MODE_QUERY) {
        sigv4__buf q = {0};
        if (req->query && req->query[0]) {
            sigv4__buf_str(&q, req->query);
            sigv4__buf_char(&q, '&');
        }
        add_query_auth(&q, cred, p, c, signed_names, 1);
        sigv4__buf_str(&q, "&X-Amz-Signature=");
        sigv4__buf_str(&q, out->signature);
        return sigv4__buf_take(&q, &out->query);
    }
    sigv4__buf a = {0};
    sigv4__buf_str(&a, SIGV4_ALGORITHM " Credential=");
    sigv4__buf_str(&a, cred->access_key_id);
    sigv4__buf_char(&a, '/');
    sigv4__buf_str(&a, c->scope);
    sigv4__buf_str(&a, ", SignedHeaders=");
    sigv4__buf_str(&a, signed_names);
    sigv4__buf_str(&a, ", Signature=");
    sigv4__buf_str(&a, out->signature);
    char *auth = NULL;
    sf_rc rc = sigv4__buf_take(&a, &auth);
    if (rc != SF_OK)
        return rc;
    const char *names[SIGV4_MAX_ADDED_HEADERS], *values[SIGV4_MAX_ADDED_HEADERS];
    size_t n = 0;
    names[n] = "X-Amz-Date", values[n++] = c->amz_date;
    if (p->flags & SIGV4_SIGN_BODY)
        names[n] = "x-amz-content-sha256", values[n++] = c->hash;
    if (c->token) /* sent even when SIGV4_OMIT_SESSION_TOKEN leaves it unsigned */
        names[n] = "X-Amz-Security-Token", values[n++] = c->token;
    names[n] = "Authorization", values[n++] = auth;
    for (size_t i = 0; i < n; i++) {
        out->headers[i] = format_header(names[i], values[i]);
        if (!out->headers[i]) {
            free(auth);
            return SF_ENOMEM;
        }
        out->n_headers = i + 1;
    }
    free(auth);
    return SF_OK;
}

sf_rc sigv4_sign(const sigv4_request *req, const sigv4_credentials *cred,
                 const sigv4_params *params, sigv4_key_cache *cache, sigv4_result *out, char *err,
                 size_t errlen)
{
    if (err && errlen > 0)
        err[0] = '\0';
    if (!out)
        return sigv4__fail(err, errlen, SF_EINVAL, "result: required");
    memset(out, 0, sizeof *out);
    sf_rc rc = check_inputs(req, cred, params, err, errlen);
    if (rc != SF_OK)
        return rc;

    sign_ctx c = {0};
    time_t t = (time_t)params->time;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return sigv4__fail(err, errlen, SF_EINVAL, "time %lld: not representable",
                           (long long)params->time);
    /* Four year digits: check_inputs bounds the time to years 1970..9999. */
    if (strftime(c.amz_date, sizeof c.amz_date, "%Y%m%dT%H%M%SZ", &tm) != 16)
        return sigv4__fail(err, errlen, SF_EINVAL, "time %lld: not representable",
                           (long long)params->time);
    memcpy(c.date, c.amz_date, 8);
    c.date[8] = '\0';
    c.token = cred->session_token && cred->session_token[0] ? cred->session_token : NULL;
    if ((rc = payload_hash(req, c.hash, err, errlen)) != SF_OK)
        return rc;
    sigv4__buf sb = {0};
    sigv4__buf_str(&sb, c.date);
    sigv4__buf_char(&sb, '/');
    sigv4__buf_str(&sb, params->region);
    sigv4__buf_char(&sb, '/');
    sigv4__buf_str(&sb, params->service);
    sigv4__buf_str(&sb, "/" SCOPE_TERMINATOR);
    if ((rc = sigv4__buf_take(&sb, &c.scope)) != SF_OK)
        return rc;

    char *signed_names = NULL;
    unsigned char key[32], sig[32];
    rc =
        build_canonical(req, cred, params, &c, &out->canonical_request, &signed_names, err, errlen);
    if (rc == SF_OK)
        rc = build_string_to_sign(&c, out->canonical_request, &out->string_to_sign);
    if (rc == SF_OK)
        rc = sigv4_signing_key(cred->secret_access_key, c.date, params->region, params->service,
                               cache, key);
    if (rc == SF_OK)
        rc = hmac(key, 32, out->string_to_sign, strlen(out->string_to_sign), sig);
    OPENSSL_cleanse(key, sizeof key);
    if (rc == SF_OK) {
        to_hex(sig, 32, out->signature);
        rc = attach(req, cred, params, &c, signed_names, out);
    }
    free(signed_names);
    free(c.scope);
    if (rc != SF_OK) {
        sigv4_result_clear(out);
        if (err && errlen > 0 && !err[0])
            sigv4__fail(err, errlen, rc, "signing: %s", sf_rc_str(rc));
    }
    return rc;
}
