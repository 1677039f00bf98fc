/* tests/api/test_api_server.c - the HTTP front end over real HTTP.
 *
 * Starts the server on 127.0.0.1, port 0, with a fake backend and drives it
 * with libcurl (and, for what curl will not send, a raw socket): operation
 * calls, every framing refusal, backend answers the server must not trust,
 * approval pages, keep-alive reuse of one connection, and requests served
 * at the same time. */
#define _GNU_SOURCE /* strdup, strncasecmp, strcasestr, usleep */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "coordinator/api/api.h"
#include "coordinator/api/request.h"

#define AMZ_JSON "application/x-amz-json-1.0"
#define CONCURRENT 8 /* Block calls that must all be in the backend at once */

/* ---- the fake backend ---- */

static pthread_mutex_t block_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t block_cv = PTHREAD_COND_INITIALIZER;
static int blocked;

/* Waits, up to 5 s, until CONCURRENT Block calls are inside at once: they
 * can only all get there if the server runs them side by side. */
static bool block_together(void)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    pthread_mutex_lock(&block_mu);
    blocked++;
    pthread_cond_broadcast(&block_cv);
    while (blocked < CONCURRENT && pthread_cond_timedwait(&block_cv, &block_mu, &deadline) == 0)
        ;
    bool together = blocked >= CONCURRENT;
    pthread_mutex_unlock(&block_mu);
    return together;
}

static int fake_call(void *ctx, const char *op, json_t *request, json_t **response)
{
    if (strcmp(op, "Null") == 0) {
        *response = NULL;
        return 200;
    }
    if (strcmp(op, "BadStatus") == 0) {
        *response = json_object();
        return 1000;
    }
    if (strcmp(op, "Fail") == 0) {
        *response = json_pack("{s:s,s:s}", "__type", "ExecutionDoesNotExist", "message",
                              "Execution Does Not Exist: 'arn:x'");
        return 400;
    }
    if (strcmp(op, "Slow") == 0) {
        usleep(300 * 1000);
        *response = json_pack("{s:b}", "slow", 1);
        return 200;
    }
    if (strcmp(op, "Block") == 0) {
        *response = json_pack("{s:b}", "together", block_together());
        return 200;
    }
    *response = json_pack("{s:s,s:O}", "op", op, "request", request);
    return 200;
}

static int fake_decide(void *ctx, const char *token, bool approve, char **message)
{
    if (strcmp(token, "good") == 0) {
        *message = strdup(approve ? "Task <b>approved</b> & recorded" : "Task rejected");
        return 200;
    }
    *message = strdup("No task waits on <script>alert(1)</script>");
    return 400;
}

static const api_backend fake = {.ctx = NULL, .call = fake_call, .decide = fake_decide};

static api_server *server;
static int port;

static void start(void)
{
    char err[256];
    cr_assert_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    cr_assert_eq(api_server_start("127.0.0.1", 0, &fake, &server, &port, err, sizeof err), SF_OK,
                 "%s", err);
    cr_assert_gt(port, 0);
}

static void stop(void)
{
    api_server_stop(&server);
    cr_assert_null(server);
    curl_global_cleanup();
}

TestSuite(server, .init = start, .fini = stop, .timeout = 60);

/* ---- an HTTP client on libcurl ---- */

typedef struct reply {
    long status;
    char *body;
    size_t len;
    char content_type[128];
    char request_id[64];
    char allow[32];
    long connects; /* new connections this request opened */
} reply;

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    reply *r = arg;
    char *nb = realloc(r->body, r->len + size * n + 1);
    cr_assert_not_null(nb);
    memcpy(nb + r->len, data, size * n);
    r->body = nb;
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
        return;
    const char *v = line + k + 1;
    while (*v == ' ')
        v++;
    size_t vn = (size_t)(line + n - v);
    while (vn > 0 && (v[vn - 1] == '\r' || v[vn - 1] == '\n'))
        vn--;
    snprintf(out, cap, "%.*s", (int)vn, v);
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
    reply *r = arg;
    header_value(line, size * n, "Content-Type", r->content_type, sizeof r->content_type);
    header_value(line, size * n, "x-amzn-RequestId", r->request_id, sizeof r->request_id);
    header_value(line, size * n, "Allow", r->allow, sizeof r->allow);
    return size * n;
}

/* One request on handle h (kept alive between calls). target or
 * content_type NULL leave that header out; body NULL sends no body. */
static reply send_on(CURL *h, const char *method, const char *path, const char *target,
                     const char *content_type, const char *body, size_t body_len)
{
    reply r = {0};
    char url[256], hdr[2][512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    struct curl_slist *headers = NULL;
    snprintf(hdr[0], sizeof hdr[0], "X-Amz-Target: %s", target ? target : "");
    if (target)
        headers = curl_slist_append(headers, hdr[0]);
    /* "Content-Type:" with no value makes curl leave out its default one. */
    snprintf(hdr[1], sizeof hdr[1], "Content-Type:%s%s", content_type ? " " : "",
             content_type ? content_type : "");
    headers = curl_slist_append(headers, hdr[1]);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    if (strcmp(method, body ? "POST" : "GET") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(h);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &r.connects);
    curl_slist_free_all(headers);
    if (!r.body)
        r.body = calloc(1, 1);
    return r;
}

static reply send_once(const char *method, const char *path, const char *target,
                       const char *content_type, const char *body)
{
    CURL *h = curl_easy_init();
    cr_assert_not_null(h);
    reply r = send_on(h, method, path, target, content_type, body, body ? strlen(body) : 0);
    curl_easy_cleanup(h);
    return r;
}

static reply call_op(const char *op, const char *body)
{
    char target[128];
    snprintf(target, sizeof target, "AWSStepFunctions.%s", op);
    return send_once("POST", "/", target, AMZ_JSON, body);
}

static json_t *body_json(const reply *r)
{
    json_error_t e;
    json_t *v = json_loadb(r->body, r->len, 0, &e);
    cr_assert_not_null(v, "body is not JSON (%s): %.200s", e.text, r->body);
    return v;
}

/* Asserts an AWS-shaped JSON error with this status and __type whose
 * message holds part. */
static void assert_error(reply *r, long status, const char *type, const char *part)
{
    cr_assert_eq(r->status, status, "status %ld, want %ld: %s", r->status, status, r->body);
    cr_assert_str_eq(r->content_type, AMZ_JSON);
    cr_assert_eq(strlen(r->request_id), 36);
    json_t *v = body_json(r);
    cr_assert_str_eq(json_string_value(json_object_get(v, "__type")), type, "%s", r->body);
    const char *m = json_string_value(json_object_get(v, "message"));
    cr_assert(m && strstr(m, part), "message lacks '%s': %s", part, r->body);
    json_decref(v);
    free(r->body);
}

/* ---- operations ---- */

Test(server, answers_an_operation_with_the_backends_json)
{
    reply r = call_op("StartExecution", "{\"stateMachineArn\":\"arn:x\",\"n\":1}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.content_type, AMZ_JSON);
    cr_assert_str_eq(r.body, "{\"op\":\"StartExecution\",\"request\":{\"stateMachineArn\":"
                             "\"arn:x\",\"n\":1}}");
    cr_assert_eq(strlen(r.request_id), 36, "request id '%s'", r.request_id);
    cr_assert_eq(r.request_id[14], '4');
    free(r.body);
}

Test(server, gives_each_request_its_own_id)
{
    reply a = call_op("Echo", "{}"), b = call_op("Echo", "{}");
    cr_assert_str_neq(a.request_id, b.request_id);
    free(a.body);
    free(b.body);
}

Test(server, takes_an_empty_body_as_an_empty_object)
{
    reply r = call_op("ListStateMachines", "");
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{\"op\":\"ListStateMachines\",\"request\":{}}");
    free(r.body);
}

Test(server, accepts_a_body_at_the_limit)
{
    size_t n = API_BODY_MAX;
    char *body = malloc(n + 1);
    memset(body, 'x', n);
    memcpy(body, "{\"p\":\"", 6);
    memcpy(body + n - 2, "\"}", 3);
    CURL *h = curl_easy_init();
    reply r = send_on(h, "POST", "/", "AWSStepFunctions.Echo", AMZ_JSON, body, n);
    cr_assert_eq(r.status, 200, "%.300s", r.body);
    cr_assert_gt(r.len, n);
    curl_easy_cleanup(h);
    free(r.body);
    free(body);
}

Test(server, passes_backend_errors_through)
{
    reply r = call_op("Fail", "{}");
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(r.body, "{\"__type\":\"ExecutionDoesNotExist\",\"message\":\"Execution "
                             "Does Not Exist: 'arn:x'\"}");
    free(r.body);
}

Test(server, turns_a_null_backend_answer_into_500)
{
    reply r = call_op("Null", "{}");
    assert_error(&r, 500, "InternalFailure", "Null");
}

Test(server, turns_a_bogus_backend_status_into_500)
{
    reply r = call_op("BadStatus", "{}");
    assert_error(&r, 500, "InternalFailure", "1000");
}

/* ---- framing refusals ---- */

Test(server, refuses_a_wrong_content_type_naming_it)
{
    reply r = send_once("POST", "/", "AWSStepFunctions.Echo", "text/plain", "{}");
    assert_error(&r, 400, "UnsupportedMediaTypeException", "'text/plain'");
}

Test(server, accepts_json_content_type_with_charset)
{
    reply r =
        send_once("POST", "/", "AWSStepFunctions.Echo", "Application/JSON; charset=UTF-8", "{}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    free(r.body);
}

Test(server, refuses_a_bad_target_naming_it)
{
    reply r = send_once("POST", "/", "Foo.Start-Execution", AMZ_JSON, "{}");
    assert_error(&r, 400, "UnknownOperationException", "'Foo.Start-Execution'");
    r = send_once("POST", "/", NULL, AMZ_JSON, "{}");
    assert_error(&r, 400, "UnknownOperationException", "missing X-Amz-Target");
}

Test(server, says_where_json_is_malformed)
{
    reply r = call_op("Echo", "{\"a\": [1, 2,, 3]}");
    assert_error(&r, 400, "SerializationException", "line 1, column 13");
}

Test(server, refuses_json_that_is_not_an_object)
{
    reply r = call_op("Echo", "[1]");
    assert_error(&r, 400, "SerializationException", "got an array");
}

Test(server, refuses_a_declared_oversize_body_with_413)
{
    size_t n = API_BODY_MAX + 1;
    char *body = malloc(n);
    memset(body, ' ', n);
    CURL *h = curl_easy_init();
    reply r = send_on(h, "POST", "/", "AWSStepFunctions.Echo", AMZ_JSON, body, n);
    assert_error(&r, 413, "RequestEntityTooLarge", "2097153 bytes");
    curl_easy_cleanup(h);
    free(body);
}

typedef struct {
    size_t left;
} stream;

static size_t stream_spaces(char *buf, size_t size, size_t n, void *arg)
{
    stream *s = arg;
    size_t k = size * n < s->left ? size * n : s->left;
    memset(buf, ' ', k);
    s->left -= k;
    return k;
}

Test(server, refuses_a_chunked_oversize_body_with_413)
{
    /* No Content-Length, so the server only learns the size as it reads. */
    stream s = {.left = API_BODY_MAX + 100000};
    reply r = {0};
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    hd = curl_slist_append(hd, "X-Amz-Target: AWSStepFunctions.Echo");
    hd = curl_slist_append(hd, "Content-Type: " AMZ_JSON);
    hd = curl_slist_append(hd, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, stream_spaces);
    curl_easy_setopt(h, CURLOPT_READDATA, &s);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
    cr_assert_eq(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    assert_error(&r, 413, "RequestEntityTooLarge", "2197152 bytes");
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
}

Test(server, operations_are_post_only)
{
    reply r = send_once("GET", "/", NULL, NULL, NULL);
    cr_assert_str_eq(r.allow, "POST");
    assert_error(&r, 405, "MethodNotAllowed", "GET /");
}

Test(server, unknown_paths_are_404)
{
    reply r = send_once("POST", "/nope", "AWSStepFunctions.Echo", AMZ_JSON, "{}");
    assert_error(&r, 404, "UnknownOperationException", "POST /nope");
}

/* ---- approval links ---- */

Test(server, approve_link_answers_a_page)
{
    reply r = send_once("GET", "/approve/good", NULL, NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.content_type, "text/html; charset=utf-8");
    cr_assert(strstr(r.body, "<title>Approved</title>"), "%s", r.body);
    cr_assert(strstr(r.body, "Task &lt;b&gt;approved&lt;/b&gt; &amp; recorded"), "%s", r.body);
    free(r.body);
}

Test(server, decodes_the_token_in_a_link)
{
    reply r = send_once("GET", "/reject/%67oo%64", NULL, NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "Rejected"), "%s", r.body);
    free(r.body);
}

Test(server, reject_with_a_bad_token_answers_a_failure_page)
{
    reply r = send_once("GET", "/reject/bad", NULL, NULL, NULL);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(r.content_type, "text/html; charset=utf-8");
    cr_assert(strstr(r.body, "Could not reject"), "%s", r.body);
    cr_assert(strstr(r.body, "&lt;script&gt;"), "%s", r.body);
    cr_assert_null(strstr(r.body, "<script"), "%s", r.body);
    free(r.body);
}

Test(server, a_link_without_a_token_answers_a_page)
{
    reply r = send_once("GET", "/approve/", NULL, NULL, NULL);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(r.content_type, "text/html; charset=utf-8");
    cr_assert(strstr(r.body, "This link is not valid"), "%s", r.body);
    free(r.body);
}

/* ---- connections ---- */

Test(server, keeps_one_connection_alive_for_many_requests)
{
    CURL *h = curl_easy_init();
    long connects = 0;
    for (int i = 0; i < 100; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"i\":%d}", i);
        reply r = send_on(h, "POST", "/", "AWSStepFunctions.Echo", AMZ_JSON, body, strlen(body));
        cr_assert_eq(r.status, 200);
        connects += r.connects;
        free(r.body);
        if (i % 10 == 0) { /* refusals must not cost the connection either */
            r = send_on(h, "POST", "/", "AWSStepFunctions.Echo", "text/plain", "{}", 2);
            cr_assert_eq(r.status, 400);
            connects += r.connects;
            free(r.body);
        }
    }
    cr_assert_eq(connects, 1, "%ld connections for 110 requests", connects);
    curl_easy_cleanup(h);
}

static void *block_client(void *arg)
{
    reply *r = arg;
    *r = call_op("Block", "{}");
    return NULL;
}

Test(server, serves_requests_at_the_same_time)
{
    pthread_t t[CONCURRENT];
    reply r[CONCURRENT];
    for (int i = 0; i < CONCURRENT; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, block_client, &r[i]), 0);
    for (int i = 0; i < CONCURRENT; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(r[i].status, 200);
        cr_assert_str_eq(r[i].body, "{\"together\":true}");
        free(r[i].body);
    }
}

/* Writes raw bytes on a fresh connection and reads until the server closes
 * it or 2 s pass; returns what came back (malloc'd). */
static char *raw_exchange(const char *bytes, size_t n, bool half_close)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    cr_assert_eq(send(fd, bytes, n, MSG_NOSIGNAL), (ssize_t)n);
    if (half_close)
        shutdown(fd, SHUT_WR);
    char *got = calloc(1, 65536);
    size_t len = 0;
    ssize_t k;
    while (len < 65535 && (k = recv(fd, got + len, 65535 - len, 0)) > 0)
        len += (size_t)k;
    close(fd);
    return got;
}

Test(server, survives_garbage_and_clients_that_leave)
{
    static const char *const junk[] = {
        "GARBAGE\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"a\":",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET /approve/%zz HTTP/1.1\r\nHost: x\r\n\r\n",
        ("POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AWSStepFunctions.Echo\r\n"
         "Content-Type: application/json\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
    };
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++)
        free(raw_exchange(junk[i], strlen(junk[i]), true));
    static const char binary[] = "\x00\x01\x02\xff\r\n\r\n";
    free(raw_exchange(binary, sizeof binary - 1, true));
    reply r = call_op("Echo", "{}");
    cr_assert_eq(r.status, 200);
    free(r.body);
}

Test(server, raw_http_request_is_answered_with_content_length)
{
    const char req[] = "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AWSStepFunctions.Echo\r\n"
                       "Content-Type: application/x-amz-json-1.0\r\nContent-Length: 2\r\n"
                       "Connection: close\r\n\r\n{}";
    char *got = raw_exchange(req, sizeof req - 1, false);
    cr_assert(strncmp(got, "HTTP/1.1 200", 12) == 0, "%s", got);
    cr_assert(strcasestr(got, "\r\nContent-Length: 26\r\n"), "%s", got);
    cr_assert(strstr(got, "\r\n\r\n{\"op\":\"Echo\",\"request\":{}}"), "%s", got);
    free(got);
}

Test(server, stops_with_an_idle_keep_alive_connection_open)
{
    CURL *h = curl_easy_init();
    reply r = send_on(h, "POST", "/", "AWSStepFunctions.Echo", AMZ_JSON, "{}", 2);
    cr_assert_eq(r.status, 200);
    free(r.body);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    api_server_stop(&server);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert_lt(t1.tv_sec - t0.tv_sec, 5);
    curl_easy_cleanup(h);
}

static void *slow_client(void *arg)
{
    reply *r = arg;
    *r = call_op("Slow", "{}");
    return NULL;
}

Test(server, stop_lets_an_answer_in_flight_reach_its_client)
{
    pthread_t t;
    reply r;
    cr_assert_eq(pthread_create(&t, NULL, slow_client, &r), 0);
    usleep(100 * 1000); /* the call is inside the backend by now */
    api_server_stop(&server);
    pthread_join(t, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{\"slow\":true}");
    free(r.body);
}

/* ---- starting ---- */

Test(server, refuses_a_port_in_use)
{
    api_server *other = NULL;
    char err[256];
    cr_assert_eq(api_server_start("127.0.0.1", port, &fake, &other, NULL, err, sizeof err), SF_EIO);
    cr_assert_null(other);
    cr_assert(strstr(err, "bind"), "%s", err);
}

Test(server, refuses_bad_arguments_saying_why)
{
    api_server *other = NULL;
    char err[256];
    cr_assert_eq(api_server_start("example.com", 0, &fake, &other, NULL, err, sizeof err),
                 SF_EINVAL);
    cr_assert(strstr(err, "'example.com'"), "%s", err);
    cr_assert_eq(api_server_start("127.0.0.1", 70000, &fake, &other, NULL, err, sizeof err),
                 SF_EINVAL);
    api_backend none = {0};
    cr_assert_eq(api_server_start("127.0.0.1", 0, &none, &other, NULL, err, sizeof err), SF_EINVAL);
    cr_assert_null(other);
    api_server_stop(&other);
}

Test(server, serves_on_localhost)
{
    api_server *other = NULL;
    int other_port = 0;
    char err[256];
    cr_assert_eq(api_server_start("localhost", 0, &fake, &other, &other_port, err, sizeof err),
                 SF_OK, "%s", err);
    cr_assert_neq(other_port, port);
    int saved = port;
    port = other_port;
    reply r = call_op("Echo", "{}");
    cr_assert_eq(r.status, 200);
    free(r.body);
    port = saved;
    api_server_stop(&other);
}
