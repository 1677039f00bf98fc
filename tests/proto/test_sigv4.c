/* tests/proto/test_sigv4.c - SigV4 signing against the aws-c-auth vectors,
 * and the canonicalisation steps one by one.
 *
 * For each of the 38 cases in shared/sigv4/v4 and each mode (header,
 * query), the canonical request, the string to sign and the signature must
 * match the files byte for byte, and the signed request must match as
 * aws-c-auth compares it: method and path exactly, headers and query
 * parameters as unordered sets (header names ignoring case). */
#define _DEFAULT_SOURCE /* timegm, strcasecmp */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "proto/sigv4.h"
#include "sigv4_http.h"

#define V4_DIR SF_SHARED_DIR "/sigv4/v4"
#define N_CASES 38

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_not_null(s);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return s;
}

/* The case directories, sorted; *n gets their count. */
static char **list_cases(size_t *n)
{
    DIR *d = opendir(V4_DIR);
    cr_assert_not_null(d, "cannot open %s", V4_DIR);
    char **v = calloc(128, sizeof *v);
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && *n < 128)
        if (e->d_name[0] != '.')
            v[(*n)++] = strdup(e->d_name);
    closedir(d);
    for (size_t i = 1; i < *n; i++) /* insertion sort: a stable, readable order */
        for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
            char *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v;
}

typedef struct vcase {
    char dir[1024];
    http_req req;
    sigv4_header headers[HTTP_MAX_HEADERS];
    sigv4_credentials cred;
    sigv4_params params;
    unsigned sign_body;
    json_t *ctx;
} vcase;

static void load_case(vcase *c, const char *name)
{
    memset(c, 0, sizeof *c);
    snprintf(c->dir, sizeof c->dir, "%s/%s", V4_DIR, name);
    size_t len;
    char *text = slurp(c->dir, "request.txt", &len);
    cr_assert_eq(http_req_parse(text, len, &c->req), 0, "%s: request.txt malformed", name);
    free(text);
    for (size_t i = 0; i < c->req.n_headers; i++)
        c->headers[i] = (sigv4_header){c->req.names[i], c->req.values[i]};

    char path[1100];
    snprintf(path, sizeof path, "%s/context.json", c->dir);
    json_error_t je;
    c->ctx = json_load_file(path, 0, &je);
    cr_assert_not_null(c->ctx, "%s: %s", path, je.text);
    json_t *cr = json_object_get(c->ctx, "credentials");
    c->cred.access_key_id = json_string_value(json_object_get(cr, "access_key_id"));
    c->cred.secret_access_key = json_string_value(json_object_get(cr, "secret_access_key"));
    c->cred.session_token = json_string_value(json_object_get(cr, "token"));
    c->params.region = json_string_value(json_object_get(c->ctx, "region"));
    c->params.service = json_string_value(json_object_get(c->ctx, "service"));
    c->params.expires =
        (uint32_t)json_integer_value(json_object_get(c->ctx, "expiration_in_seconds"));
    struct tm tm = {0};
    const char *ts = json_string_value(json_object_get(c->ctx, "timestamp"));
    cr_assert(ts && sscanf(ts, "%d-%d-%dT%d:%d:%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                           &tm.tm_hour, &tm.tm_min, &tm.tm_sec) == 6,
              "%s: bad timestamp", name);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    c->params.time = (int64_t)timegm(&tm);
    /* The harness's "double URI encode" is on for every case. */
    unsigned flags = SIGV4_DOUBLE_ENCODE;
    json_t *norm = json_object_get(c->ctx, "normalize");
    if (!norm || json_is_true(norm))
        flags |= SIGV4_NORMALIZE_PATH;
    if (json_is_true(json_object_get(c->ctx, "sign_body")))
        flags |= SIGV4_SIGN_BODY;
    if (json_is_true(json_object_get(c->ctx, "omit_session_token")))
        flags |= SIGV4_OMIT_SESSION_TOKEN;
    c->params.flags = flags;
}

static void free_case(vcase *c)
{
    http_req_free(&c->req);
    json_decref(c->ctx);
}

static sigv4_request to_request(const vcase *c)
{
    return (sigv4_request){
        .method = c->req.method,
        .path = c->req.path,
        .query = c->req.query,
        .headers = c->headers,
        .n_headers = c->req.n_headers,
        .payload_kind = SIGV4_PAYLOAD_BYTES,
        .payload = c->req.body,
        .payload_len = c->req.body_len,
    };
}

/* Each element of a once-used array matched with one equal element of b. */
static int same_multiset(char **a, size_t na, char **b, size_t nb)
{
    if (na != nb)
        return 0;
    int used[128] = {0};
    for (size_t i = 0; i < na; i++) {
        size_t j = 0;
        while (j < nb && (used[j] || strcmp(a[i], b[j]) != 0))
            j++;
        if (j == nb)
            return 0;
        used[j] = 1;
    }
    return 1;
}

/* "name-lowercased:value" for each header, so names compare ignoring case. */
static size_t header_keys(char **names, char **values, size_t n, char **out)
{
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(names[i]), vl = strlen(values[i]);
        out[i] = malloc(nl + vl + 2);
        for (size_t k = 0; k < nl; k++)
            out[i][k] =
                (char)(names[i][k] >= 'A' && names[i][k] <= 'Z' ? names[i][k] + 32 : names[i][k]);
        out[i][nl] = ':';
        memcpy(out[i] + nl + 1, values[i], vl + 1);
    }
    return n;
}

static size_t split_query(const char *q, char **out, size_t max)
{
    size_t n = 0;
    while (q && *q && n < max) {
        size_t l = strcspn(q, "&");
        out[n++] = strndup(q, l);
        q += l + (q[l] == '&');
    }
    return n;
}

static void free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
}

/* Checks the signed request: the original's headers plus ours, against the
 * file parsed the same way. Returns 1 when it matches. */
static int check_signed_request(const vcase *c, const char *mode, const sigv4_result *r)
{
    char file[64];
    snprintf(file, sizeof file, "%s-signed-request.txt", mode);
    size_t len;
    char *text = slurp(c->dir, file, &len);
    http_req want;
    cr_assert_eq(http_req_parse(text, len, &want), 0);
    free(text);

    char *gn[HTTP_MAX_HEADERS], *gv[HTTP_MAX_HEADERS];
    size_t ng = 0;
    for (size_t i = 0; i < c->req.n_headers; i++, ng++)
        gn[ng] = strdup(c->req.names[i]), gv[ng] = strdup(c->req.values[i]);
    for (size_t i = 0; i < r->n_headers; i++, ng++) {
        const char *colon = strchr(r->headers[i], ':');
        cr_assert(colon && colon[1] == ' ', "added header not \"Name: value\": %s", r->headers[i]);
        gn[ng] = strndup(r->headers[i], (size_t)(colon - r->headers[i]));
        gv[ng] = strdup(colon + 2);
    }
    char *got_h[128], *want_h[128], *got_q[128], *want_q[128];
    header_keys(gn, gv, ng, got_h);
    header_keys(want.names, want.values, want.n_headers, want_h);
    const char *query = r->query ? r->query : c->req.query;
    size_t ngq = split_query(query, got_q, 128);
    size_t nwq = split_query(want.query, want_q, 128);

    int ok = strcmp(want.method, c->req.method) == 0 && strcmp(want.path, c->req.path) == 0 &&
             same_multiset(got_h, ng, want_h, want.n_headers) &&
             same_multiset(got_q, ngq, want_q, nwq) && want.body_len == c->req.body_len &&
             memcmp(want.body, c->req.body, want.body_len) == 0;
    free_strs(gn, ng);
    free_strs(gv, ng);
    free_strs(got_h, ng);
    free_strs(want_h, want.n_headers);
    free_strs(got_q, ngq);
    free_strs(want_q, nwq);
    http_req_free(&want);
    return ok;
}

static int expect_file(const vcase *c, const char *mode, const char *what, const char *got)
{
    char file[64];
    snprintf(file, sizeof file, "%s-%s.txt", mode, what);
    char *want = slurp(c->dir, file, NULL);
    int ok = got && strcmp(want, got) == 0;
    cr_expect(ok, "%s %s: %s differs\n--- want\n%s\n--- got\n%s", c->dir, mode, what, want,
              got ? got : "(null)");
    free(want);
    return ok;
}

/* Signs every case in one mode; every case must pass all four checks. */
static void run_mode(sigv4_mode mode, const char *mode_name)
{
    size_t n;
    char **names = list_cases(&n);
    cr_assert_eq(n, N_CASES, "expected %d cases in %s, found %zu", N_CASES, V4_DIR, n);
    size_t passed = 0;
    for (size_t i = 0; i < n; i++) {
        vcase c;
        load_case(&c, names[i]);
        c.params.mode = mode;
        sigv4_request req = to_request(&c);
        sigv4_result r;
        char err[256];
        sf_rc rc = sigv4_sign(&req, &c.cred, &c.params, NULL, &r, err, sizeof err);
        cr_expect_eq(rc, SF_OK, "%s %s: %s", names[i], mode_name, err);
        if (rc == SF_OK) {
            int ok = expect_file(&c, mode_name, "canonical-request", r.canonical_request);
            ok &= expect_file(&c, mode_name, "string-to-sign", r.string_to_sign);
            ok &= expect_file(&c, mode_name, "signature", r.signature);
            int sr = check_signed_request(&c, mode_name, &r);
            cr_expect(sr, "%s %s: signed request differs", names[i], mode_name);
            passed += ok && sr;
        }
        sigv4_result_clear(&r);
        free_case(&c);
        free(names[i]);
    }
    free(names);
    cr_assert_eq(passed, N_CASES, "%s mode: %zu of %d cases pass", mode_name, passed, N_CASES);
}

Test(sigv4_vectors, header_mode_matches_all_38_cases)
{
    run_mode(SIGV4_MODE_HEADER, "header");
}

Test(sigv4_vectors, query_mode_matches_all_38_cases)
{
    run_mode(SIGV4_MODE_QUERY, "query");
}

/* ---- Unit tests: the canonicalisation steps ---- */

static void expect_encode(const char *in, bool keep_slash, const char *want)
{
    char *out = NULL;
    cr_assert_eq(sigv4_uri_encode(in, strlen(in), keep_slash, &out), SF_OK);
    cr_expect_str_eq(out, want, "encode(%s)", in);
    free(out);
}

Test(sigv4_encode, keeps_unreserved_and_escapes_the_rest_uppercase)
{
    expect_encode("-._~AZaz09", false, "-._~AZaz09");
    expect_encode("a b/c", true, "a%20b/c");
    expect_encode("a b/c", false, "a%20b%2Fc");
    expect_encode("\xe1\x88\xb4", false, "%E1%88%B4");
    expect_encode("%+=&?#", false, "%25%2B%3D%26%3F%23");
    expect_encode("", false, "");
}

Test(sigv4_encode, passes_nul_bytes_through_as_escapes)
{
    char *out = NULL;
    cr_assert_eq(sigv4_uri_encode("a\0b", 3, false, &out), SF_OK);
    cr_expect_str_eq(out, "a%00b");
    free(out);
}

static void expect_norm(const char *in, const char *want)
{
    char *out = NULL;
    cr_assert_eq(sigv4_path_normalize(in, &out, NULL, 0), SF_OK, "normalize(%s)", in);
    cr_expect_str_eq(out, want, "normalize(%s)", in);
    free(out);
}

Test(sigv4_path, normalises_dots_and_empty_segments)
{
    expect_norm("/", "/");
    expect_norm("//", "/");
    expect_norm("/a/./b/../c/", "/a/c/");
    expect_norm("//example//", "/example/");
    expect_norm("/example1/example2/../..", "/");
    expect_norm("/../../a", "/a");
    expect_norm("/a/b/..", "/a/");
    expect_norm("/a/b/.", "/a/b/");
    expect_norm("/a..b/.c/..d", "/a..b/.c/..d");
    expect_norm("/a//b", "/a/b");
}

Test(sigv4_path, refuses_a_path_without_a_leading_slash)
{
    char *out = (char *)1, err[128] = "";
    cr_expect_eq(sigv4_path_normalize("a/b", &out, err, sizeof err), SF_EINVAL);
    cr_expect_null(out);
    cr_expect(strstr(err, "path") != NULL, "%s", err);
    cr_expect_eq(sigv4_canonical_uri("", SIGV4_FLAGS_DEFAULT, &out, err, sizeof err), SF_EINVAL);
}

Test(sigv4_path, double_encoding_escapes_percent_and_single_keeps_escapes)
{
    char *out = NULL;
    cr_assert_eq(sigv4_canonical_uri("/a%20b c", SIGV4_DOUBLE_ENCODE, &out, NULL, 0), SF_OK);
    cr_expect_str_eq(out, "/a%2520b%20c");
    free(out);
    cr_assert_eq(sigv4_canonical_uri("/a%2fb c%zz/./", 0, &out, NULL, 0), SF_OK);
    cr_expect_str_eq(out, "/a%2Fb%20c%25zz/./", "S3: no normalisation, escapes kept");
    free(out);
}

static void expect_query(const char *in, const char *want)
{
    char *out = NULL;
    cr_assert_eq(sigv4_canonical_query(in, &out, NULL, 0), SF_OK, "query(%s)", in);
    cr_expect_str_eq(out, want, "query(%s)", in);
    free(out);
}

Test(sigv4_query, sorts_by_key_then_value_and_reencodes)
{
    expect_query("", "");
    expect_query(NULL, "");
    expect_query("b=2&a=1&a=0&c", "a=0&a=1&b=2&c=");
    expect_query("%e1%88%b4=x&\xe1\x88\xb4=y", "%E1%88%B4=x&%E1%88%B4=y");
    expect_query("a+b=%zz&k=%", "a%2Bb=%25zz&k=%25");
    expect_query("&&x=1&&", "x=1");
    expect_query("k=a=b", "k=a%3Db");
    expect_query("B=1&a=1", "B=1&a=1"); /* byte order: uppercase first */
}

static sf_rc canon_headers(const sigv4_header *h, size_t n, char **c, char **s, char *err)
{
    return sigv4_canonical_headers(h, n, c, s, err, 256);
}

Test(sigv4_headers, lowercases_sorts_trims_and_joins_repeats_in_order)
{
    sigv4_header h[] = {
        {"Zed", "  a   b\t c  "},
        {"host", "h"},
        {"My-H", "2"},
        {"my-h", "1"},
        {"User-Agent", "curl"},
        {"Fold", "x\r\n  y\n\tz"},
        {"Empty", ""},
    };
    char *c = NULL, *s = NULL, err[256];
    cr_assert_eq(canon_headers(h, 7, &c, &s, err), SF_OK, "%s", err);
    cr_expect_str_eq(c, "empty:\nfold:x y z\nhost:h\nmy-h:2,1\nzed:a b c\n");
    cr_expect_str_eq(s, "empty;fold;host;my-h;zed", "User-Agent is left unsigned");
    free(c);
    free(s);
}

Test(sigv4_headers, refuses_bad_names_and_bare_line_breaks)
{
    char *c = NULL, *s = NULL, err[256];
    sigv4_header sp[] = {{"host", "h"}, {"a b", "v"}};
    cr_expect_eq(canon_headers(sp, 2, &c, &s, err), SF_EINVAL);
    cr_expect(strstr(err, "header 1") && strstr(err, "a b"), "%s", err);
    cr_expect_null(c);
    sigv4_header colon[] = {{"a:b", "v"}};
    cr_expect_eq(canon_headers(colon, 1, &c, &s, err), SF_EINVAL);
    sigv4_header empty[] = {{"", "v"}};
    cr_expect_eq(canon_headers(empty, 1, &c, &s, err), SF_EINVAL);
    cr_expect(strstr(err, "empty name"), "%s", err);
    sigv4_header inj[] = {{"a", "v\nX-Evil: 1"}};
    cr_expect_eq(canon_headers(inj, 1, &c, &s, err), SF_EINVAL);
    cr_expect(strstr(err, "line break"), "%s", err);
    sigv4_header trail[] = {{"a", "v\n"}};
    cr_expect_eq(canon_headers(trail, 1, &c, &s, err), SF_EINVAL);
    sigv4_header ctl[] = {{"a", "v\x01"}};
    cr_expect_eq(canon_headers(ctl, 1, &c, &s, err), SF_EINVAL);
    cr_expect(strstr(err, "\\x01"), "%s", err);
}

Test(sigv4_headers, refuses_more_than_the_limit)
{
    sigv4_header *h = calloc(SIGV4_MAX_HEADERS + 1, sizeof *h);
    for (size_t i = 0; i <= SIGV4_MAX_HEADERS; i++)
        h[i] = (sigv4_header){"x", "y"};
    char *c = NULL, *s = NULL, err[256];
    cr_expect_eq(canon_headers(h, SIGV4_MAX_HEADERS + 1, &c, &s, err), SF_ELIMIT);
    free(h);
}

/* ---- Unit tests: signing ---- */

static const sigv4_header vanilla_headers[] = {{"Host", "example.amazonaws.com"}};
static const sigv4_credentials example_cred = {"AKIDEXAMPLE",
                                               "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL};

static sigv4_request vanilla(void)
{
    return (sigv4_request){.method = "GET",
                           .path = "/",
                           .headers = vanilla_headers,
                           .n_headers = 1,
                           .payload_kind = SIGV4_PAYLOAD_BYTES};
}

static sigv4_params example_params(void)
{
    return (sigv4_params){.region = "us-east-1",
                          .service = "service",
                          .time = 1440938160,
                          .flags = SIGV4_FLAGS_DEFAULT,
                          .mode = SIGV4_MODE_HEADER,
                          .expires = 3600};
}

Test(sigv4_sign, gives_the_get_vanilla_signature_and_curl_ready_headers)
{
    sigv4_request req = vanilla();
    sigv4_params p = example_params();
    sigv4_result r;
    char err[256];
    cr_assert_eq(sigv4_sign(&req, &example_cred, &p, NULL, &r, err, sizeof err), SF_OK, "%s", err);
    cr_expect_str_eq(r.signature,
                     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    cr_assert_eq(r.n_headers, 2);
    cr_expect_str_eq(r.headers[0], "X-Amz-Date: 20150830T123600Z");
    cr_expect_str_eq(r.headers[1],
                     "Authorization: AWS4-HMAC-SHA256 "
                     "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                     "SignedHeaders=host;x-amz-date, "
                     "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    cr_expect_null(r.query);
    sigv4_result_clear(&r);
    sigv4_result_clear(&r); /* idempotent */
    sigv4_result_clear(NULL);
}

Test(sigv4_sign, precomputed_and_unsigned_payloads)
{
    sigv4_request req = vanilla();
    req.payload_kind = SIGV4_PAYLOAD_HASH;
    req.payload_hash = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
    sigv4_params p = example_params();
    sigv4_result r;
    char err[256];
    cr_assert_eq(sigv4_sign(&req, &example_cred, &p, NULL, &r, err, sizeof err), SF_OK, "%s", err);
    cr_expect_str_eq(r.signature,
                     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
                     "an uppercase hash is the same hash");
    sigv4_result_clear(&r);

    req.payload_kind = SIGV4_PAYLOAD_UNSIGNED;
    p.flags = SIGV4_FLAGS_S3;
    cr_assert_eq(sigv4_sign(&req, &example_cred, &p, NULL, &r, err, sizeof err), SF_OK, "%s", err);
    cr_expect(strstr(r.canonical_request, "\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n"));
    cr_expect(strstr(r.canonical_request, "\nUNSIGNED-PAYLOAD") != NULL);
    cr_expect_str_eq(r.headers[1], "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    sigv4_result_clear(&r);

    req.payload_kind = SIGV4_PAYLOAD_HASH;
    req.payload_hash = "abc";
    cr_expect_eq(sigv4_sign(&req, &example_cred, &p, NULL, &r, err, sizeof err), SF_EINVAL);
    cr_expect(strstr(err, "payload hash"), "%s", err);
}

/* One bad input per line, each refused with a message naming it. */
Test(sigv4_sign, refuses_bad_input_naming_it)
{
    sigv4_result r;
    char err[256];
    struct {
        const char *method, *path, *query, *region, *service, *hname, *want;
        sigv4_mode mode;
        uint32_t expires;
    } bad[] = {
        {"GET", "x", NULL, "us-east-1", "s", "Host", "path", SIGV4_MODE_HEADER, 0},
        {"GET", "/a?b", NULL, "us-east-1", "s", "Host", "query separately", SIGV4_MODE_HEADER, 0},
        {"GET", "/\n", NULL, "us-east-1", "s", "Host", "path: control", SIGV4_MODE_HEADER, 0},
        {"G T", "/", NULL, "us-east-1", "s", "Host", "method", SIGV4_MODE_HEADER, 0},
        {"GET", "/", NULL, "us/east", "s", "Host", "region", SIGV4_MODE_HEADER, 0},
        {"GET", "/", NULL, "us-east-1", "", "Host", "service: missing", SIGV4_MODE_HEADER, 0},
        {"GET", "/", NULL, "us-east-1", "s", "Accept", "no Host", SIGV4_MODE_HEADER, 0},
        {"GET", "/", NULL, "us-east-1", "s", "Authorization", "signer adds", SIGV4_MODE_HEADER, 0},
        {"GET", "/", NULL, "us-east-1", "s", "x-amz-date", "signer adds", SIGV4_MODE_HEADER, 0},
        {"GET", "/", NULL, "us-east-1", "s", "Host", "expires", SIGV4_MODE_QUERY, 0},
        {"GET", "/", NULL, "us-east-1", "s", "Host", "expires", SIGV4_MODE_QUERY, 604801},
        {"GET", "/", "X-Amz-Signature=1", "us-east-1", "s", "Host", "X-Amz-Signature",
         SIGV4_MODE_QUERY, 60},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* "Host" alone, or Host plus the named header, or ("Accept") no Host. */
        sigv4_header h[] = {{"Host", "example.com"}, {bad[i].hname, "v"}};
        size_t first = strcmp(bad[i].hname, "Accept") == 0;
        size_t n = strcmp(bad[i].hname, "Host") == 0 ? 1 : 2 - first;
        sigv4_request req = {.method = bad[i].method,
                             .path = bad[i].path,
                             .query = bad[i].query,
                             .headers = h + first,
                             .n_headers = n};
        sigv4_params p = example_params();
        p.region = bad[i].region;
        p.service = bad[i].service;
        p.mode = bad[i].mode;
        p.expires = bad[i].expires;
        err[0] = '\0';
        cr_expect_eq(sigv4_sign(&req, &example_cred, &p, NULL, &r, err, sizeof err), SF_EINVAL,
                     "case %zu", i);
        cr_expect(strstr(err, bad[i].want) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, err,
                  bad[i].want);
        cr_expect_null(r.canonical_request, "case %zu: result left empty", i);
    }
    sigv4_request req = vanilla();
    sigv4_params p = example_params();
    p.time = -1;
    cr_expect_eq(sigv4_sign(&req, &example_cred, &p, NULL, &r, err, sizeof err), SF_EINVAL);
    cr_expect(strstr(err, "time"), "%s", err);
    sigv4_credentials nosecret = {"AKID", "", NULL};
    p = example_params();
    cr_expect_eq(sigv4_sign(&req, &nosecret, &p, NULL, &r, err, sizeof err), SF_EINVAL);
    cr_expect(strstr(err, "secret"), "%s", err);
}

Test(sigv4_cache, derives_once_per_day_region_service_and_secret)
{
    sigv4_key_cache cache = {0};
    unsigned char k1[32], k2[32], plain[32];
    const char *secret = example_cred.secret_access_key;
    cr_assert_eq(sigv4_signing_key(secret, "20150830", "us-east-1", "service", &cache, k1), SF_OK);
    cr_assert_eq(sigv4_signing_key(secret, "20150830", "us-east-1", "service", &cache, k2), SF_OK);
    cr_assert_eq(sigv4_signing_key(secret, "20150830", "us-east-1", "service", NULL, plain), SF_OK);
    cr_expect_eq(cache.misses, 1);
    cr_expect_eq(cache.hits, 1);
    cr_expect(memcmp(k1, k2, 32) == 0 && memcmp(k1, plain, 32) == 0);

    cr_assert_eq(sigv4_signing_key(secret, "20150831", "us-east-1", "service", &cache, k2), SF_OK);
    cr_expect_eq(cache.misses, 2, "a new day misses");
    cr_expect(memcmp(k1, k2, 32) != 0);
    cr_assert_eq(sigv4_signing_key("other", "20150831", "us-east-1", "service", &cache, k2), SF_OK);
    cr_expect_eq(cache.misses, 3, "a rotated secret misses");
    cr_assert_eq(sigv4_signing_key("other", "20150831", "us-west-2", "service", &cache, k2), SF_OK);
    cr_expect_eq(cache.misses, 4, "another region misses");
    cr_assert_eq(sigv4_signing_key("other", "20150831", "us-west-2", "s3", &cache, k2), SF_OK);
    cr_expect_eq(cache.misses, 5, "another service misses");

    /* Through sigv4_sign: the second request of the day reuses the key. */
    sigv4_key_cache c2 = {0};
    sigv4_request req = vanilla();
    sigv4_params p = example_params();
    sigv4_result r;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sigv4_sign(&req, &example_cred, &p, &c2, &r, NULL, 0), SF_OK);
        cr_expect_str_eq(r.signature,
                         "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
        sigv4_result_clear(&r);
    }
    cr_expect_eq(c2.misses, 1);
    cr_expect_eq(c2.hits, 2);
    sigv4_key_cache_clear(&c2);
    cr_expect(!c2.valid);
    sigv4_key_cache_clear(NULL);
}

/* aws-c-auth's other check: signing the expected canonical request as given
 * gives the expected string to sign's hash line and signature. */
Test(sigv4_vectors, signing_key_and_hash_reproduce_each_string_to_sign)
{
    size_t n;
    char **names = list_cases(&n);
    unsigned char key[32];
    cr_assert_eq(sigv4_signing_key(example_cred.secret_access_key, "20150830", "us-east-1",
                                   "service", NULL, key),
                 SF_OK);
    for (size_t i = 0; i < n; i++) {
        char dir[1100];
        snprintf(dir, sizeof dir, "%s/%s", V4_DIR, names[i]);
        const char *modes[] = {"header", "query"};
        for (int m = 0; m < 2; m++) {
            char f[64], hex[65];
            snprintf(f, sizeof f, "%s-canonical-request.txt", modes[m]);
            size_t len;
            char *creq = slurp(dir, f, &len);
            snprintf(f, sizeof f, "%s-string-to-sign.txt", modes[m]);
            char *sts = slurp(dir, f, NULL);
            cr_assert_eq(sigv4_sha256_hex(creq, len, hex), SF_OK);
            cr_expect(strlen(sts) >= 64 && strcmp(sts + strlen(sts) - 64, hex) == 0, "%s %s",
                      names[i], modes[m]);
            free(creq);
            free(sts);
        }
        free(names[i]);
    }
    free(names);
}
