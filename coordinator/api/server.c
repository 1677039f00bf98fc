/* api/server.c - the Step Functions HTTP front end on libmicrohttpd.
 *
 * One thread per connection: a backend call may block for a minute
 * (GetActivityTask long-polls), and that must stall only its own
 * connection. Keep-alive stays on, since SDK clients and the throughput
 * benchmark reuse connections. Bodies are gathered here up to API_BODY_MAX,
 * request.c decides what they ask for, and the backend answers. Whatever a
 * client sends or a backend returns, the server answers something and does
 * not crash: a NULL or malformed backend answer becomes 500 InternalFailure.
 * Never prints: it is a library inside the coordinator daemon. */
#define _DEFAULT_SOURCE /* getrandom, inet_pton, strerror */
#include "api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "../../common/sf_grow.h"
#include "pages.h"
#include "request.h"

#define CONNECTION_TIMEOUT_S 120u      /* idle keep-alive; outlasts a 60 s long poll */
#define CONNECTION_MEMORY (128u << 10) /* MHD's per-connection pool: headers, buffers */
#define CONNECTION_LIMIT 2048u         /* one thread each */
#define LISTEN_BACKLOG 1024
/* A chunked upload past API_BODY_MAX is read and dropped so that the client
 * hears 413 instead of a reset; past this much more, it is cut off. */
#define DISCARD_MAX (64ull << 20)
/* How long stop waits for answers in flight: past the longest long poll. */
#define DRAIN_MAX_S 90

#define JSON_TYPE "application/x-amz-json-1.0"
#define HTML_TYPE "text/html; charset=utf-8"

struct api_server {
    struct MHD_Daemon *daemon;
    api_backend backend;
    unsigned char id_seed[16];
    atomic_uint_fast64_t next_id;
    atomic_int answering; /* requests between "answer begun" and "sent" */
};

/* What MHD keeps for us between the calls that make up one request. */
typedef struct upload {
    char *buf;
    size_t len, cap;
    unsigned long long seen; /* bytes received, kept or not */
    bool over;               /* past API_BODY_MAX: nothing more is kept */
    bool nomem;
    bool answered; /* an answer is under way (maybe before the body came) */
} upload;

/* A UUID-shaped id, unique within this server: a random seed with the
 * request counter folded into its last 48 bits. The counter is scrambled
 * first (odd multiplies and xorshifts are one-to-one mod 2^48, so ids stay
 * unique) only so that neighbouring ids do not look alike in logs. */
static void request_id(api_server *s, char out[37])
{
    const uint64_t mask = (1ull << 48) - 1;
    uint64_t x = atomic_fetch_add(&s->next_id, 1) & mask;
    x = (x * 0x9e3779b97f4bull) & mask;
    x ^= x >> 23;
    x = (x * 0xc2b2ae3d27d5ull) & mask;
    x ^= x >> 25;
    unsigned char b[16];
    memcpy(b, s->id_seed, sizeof b);
    for (int i = 0; i < 6; i++)
        b[10 + i] ^= (unsigned char)(x >> (8 * i));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* Sends body (taken: MHD frees it with free()) with status and headers. */
static enum MHD_Result send_body(api_server *s, struct MHD_Connection *c, int status,
                                 const char *type, char *body, size_t len, const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    char id[37];
    request_id(s, id);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "x-amzn-RequestId", id);
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    if (strcmp(type, HTML_TYPE) == 0) {
        /* The page may carry a token's fate; keep it out of caches and
         * referrers, and let it run nothing. */
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'none'; style-src 'unsafe-inline'");
    }
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

/* What is sent when even building an error failed (out of memory). */
static enum MHD_Result send_last_resort(api_server *s, struct MHD_Connection *c)
{
    static const char text[] =
        "{\"__type\":\"InternalFailure\",\"message\":\"the server ran out of memory\"}";
    char *body = malloc(sizeof text);
    if (!body)
        return MHD_NO;
    memcpy(body, text, sizeof text);
    return send_body(s, c, 500, JSON_TYPE, body, sizeof text - 1, NULL);
}

/* Sends v (borrowed) as compact JSON. */
static enum MHD_Result send_json(api_server *s, struct MHD_Connection *c, int status,
                                 const json_t *v, const char *allow)
{
    /* json_dumps allocates with jansson's allocator, which is malloc here:
     * nothing in statefleet installs another, so MHD may free() it. */
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (!text)
        return send_last_resort(s, c);
    return send_body(s, c, status, JSON_TYPE, text, strlen(text), allow);
}

static enum MHD_Result send_error(api_server *s, struct MHD_Connection *c, int status,
                                  const char *type, const char *message)
{
    json_t *e = api_error_new(type, "%s", message);
    enum MHD_Result ok = e ? send_json(s, c, status, e, NULL) : send_last_resort(s, c);
    json_decref(e);
    return ok;
}

static enum MHD_Result send_page(api_server *s, struct MHD_Connection *c, int status,
                                 const char *title, const char *message, const char *allow)
{
    size_t len;
    char *page = api_page_render(title, message, &len);
    if (!page)
        return send_last_resort(s, c);
    return send_body(s, c, status, HTML_TYPE, page, len, allow);
}

/* Statuses a backend may answer with a body; anything else is its bug. */
static bool status_sendable(int status)
{
    return status >= 200 && status <= 599 && status != 204 && status != 205 && status != 304;
}

static enum MHD_Result run_operation(api_server *s, struct MHD_Connection *c, api_request *req)
{
    json_t *response = NULL;
    int status = s->backend.call(s->backend.ctx, req->op, req->input, &response);
    enum MHD_Result ok;
    if (!response) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s failed inside the server: it gave no answer (status %d)",
                 req->op, status);
        ok = send_error(s, c, 500, "InternalFailure", msg);
    } else if (!status_sendable(status)) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s failed inside the server: it answered HTTP status %d",
                 req->op, status);
        ok = send_error(s, c, 500, "InternalFailure", msg);
    } else {
        ok = send_json(s, c, status, response, NULL);
    }
    json_decref(response);
    return ok;
}

static enum MHD_Result run_decision(api_server *s, struct MHD_Connection *c, api_request *req)
{
    if (!s->backend.decide)
        return send_page(s, c, 404, "Not available",
                         "This server does not take decisions on approval links.", NULL);
    char *message = NULL;
    int status = s->backend.decide(s->backend.ctx, req->token, req->approve, &message);
    if (!status_sendable(status))
        status = 500;
    bool done = status >= 200 && status < 300;
    const char *title = done ? (req->approve ? "Approved" : "Rejected")
                             : (req->approve ? "Could not approve" : "Could not reject");
    const char *fallback = done ? "Your decision was recorded." : "Your decision was not recorded.";
    enum MHD_Result ok = send_page(s, c, status, title, message ? message : fallback, NULL);
    free(message);
    return ok;
}

static enum MHD_Result answer(api_server *s, struct MHD_Connection *c, const char *url,
                              const char *method, upload *u)
{
    if (u->nomem)
        return send_error(s, c, 500, "InternalFailure", "the server ran out of memory");
    if (u->over) {
        char msg[128];
        snprintf(msg, sizeof msg, "request body of %llu bytes is over the %u-byte limit", u->seen,
                 API_BODY_MAX);
        return send_error(s, c, 413, "RequestEntityTooLarge", msg);
    }
    api_request_in in = {
        .method = method,
        .path = url,
        .target = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Target"),
        .content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"),
        .body = u->buf,
        .body_len = u->len,
    };
    api_request req;
    if (api_request_parse(&in, &req) != SF_OK) {
        api_request_cleanup(&req);
        return send_last_resort(s, c);
    }
    enum MHD_Result ok;
    switch (req.kind) {
    case API_REQ_OPERATION:
        ok = run_operation(s, c, &req);
        break;
    case API_REQ_DECISION:
        ok = run_decision(s, c, &req);
        break;
    default:
        if (req.for_person) {
            const char *msg = json_string_value(json_object_get(req.error, "message"));
            ok = send_page(s, c, req.status, "This link is not valid", msg, req.allow);
        } else {
            ok = send_json(s, c, req.status, req.error, req.allow);
        }
        break;
    }
    api_request_cleanup(&req);
    return ok;
}

/* From here until on_completed, stop waits for this request. */
static void begin_answer(api_server *s, upload *u)
{
    u->answered = true;
    atomic_fetch_add(&s->answering, 1);
}

/* Keeps what fits under API_BODY_MAX; past it, only counts. */
static void take(upload *u, const char *data, size_t n)
{
    u->seen += n;
    if (!u->over && n > API_BODY_MAX - u->len) {
        u->over = true;
        free(u->buf);
        u->buf = NULL;
        u->len = u->cap = 0;
    }
    if (u->over || u->nomem)
        return;
    void *p = u->buf;
    if (sf_grow(&p, &u->cap, u->len + n, 1, 4096, API_BODY_MAX) != SF_OK) {
        u->nomem = true;
        return;
    }
    u->buf = p;
    memcpy(u->buf + u->len, data, n);
    u->len += n;
}

/* First sight of a request: refuses a declared oversize body before it is
 * sent (the client, waiting on "Expect: 100-continue", never sends it), and
 * sizes the buffer once for a declared fitting one. */
static enum MHD_Result begin(api_server *s, struct MHD_Connection *c, upload *u)
{
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return MHD_YES;
    char *end;
    errno = 0;
    unsigned long long declared = strtoull(cl, &end, 10);
    if (end == cl || errno != 0)
        return MHD_YES; /* MHD itself refuses a malformed Content-Length */
    if (declared > API_BODY_MAX) {
        begin_answer(s, u);
        char msg[128];
        snprintf(msg, sizeof msg, "request body of %llu bytes is over the %u-byte limit", declared,
                 API_BODY_MAX);
        return send_error(s, c, 413, "RequestEntityTooLarge", msg);
    }
    if (declared > 0) {
        u->buf = malloc((size_t)declared);
        u->cap = u->buf ? (size_t)declared : 0;
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **req_cls)
{
    api_server *s = cls;
    upload *u = *req_cls;
    if (!u) {
        u = calloc(1, sizeof *u);
        if (!u)
            return MHD_NO; /* drops the connection: nothing better to do */
        *req_cls = u;
        return begin(s, c, u);
    }
    if (*upload_size > 0) {
        if (!u->answered)
            take(u, upload_data, *upload_size);
        *upload_size = 0;
        return u->seen - u->len > DISCARD_MAX ? MHD_NO : MHD_YES;
    }
    if (u->answered)
        return MHD_YES;
    begin_answer(s, u);
    return answer(s, c, url, method, u);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    api_server *s = cls;
    upload *u = *req_cls;
    if (u) {
        if (u->answered)
            atomic_fetch_sub(&s->answering, 1);
        free(u->buf);
        free(u);
    }
    *req_cls = NULL;
}

/* MHD would percent-decode the path before we see it; request.c wants it as
 * sent, so that an encoded '/' or '%' in a token is not decoded twice. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
    return strlen(s);
}

static void seed_ids(api_server *s)
{
    if (getrandom(s->id_seed, sizeof s->id_seed, 0) == (ssize_t)sizeof s->id_seed)
        return;
    /* No entropy yet (early boot): ids need only be unique, not secret. */
    uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    for (size_t i = 0; i < sizeof s->id_seed; i++)
        s->id_seed[i] = (unsigned char)(t >> (8 * (i % 8))) ^ (unsigned char)(i * 0x9d);
}

/* Opens a listening TCP socket on host:port into *fd. Bound here rather
 * than by MHD so that a failure can say which call failed and why. */
static sf_rc listen_on(const char *host, int port, int *fd, int *bound_port, char *err,
                       size_t errlen)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    const char *ip = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
    if (inet_pton(AF_INET, ip, &addr.sin_addr) != 1) {
        snprintf(err, errlen, "host '%s' is not an IPv4 address (dotted quad) or localhost", host);
        return SF_EINVAL;
    }
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return SF_EIO;
    }
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t alen = sizeof addr;
    const char *failed = NULL;
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) != 0)
        failed = "bind";
    else if (listen(s, LISTEN_BACKLOG) != 0)
        failed = "listen on";
    else if (getsockname(s, (struct sockaddr *)&addr, &alen) != 0)
        failed = "read the port of";
    if (failed) {
        snprintf(err, errlen, "cannot %s %s:%d: %s", failed, host, port, strerror(errno));
        close(s);
        return SF_EIO;
    }
    /* MHD polls before it accepts; a client that leaves in between must not
     * block the accepting thread. */
    fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
    *fd = s;
    *bound_port = ntohs(addr.sin_port);
    return SF_OK;
}

sf_rc api_server_start(const char *host, int port, const api_backend *backend, api_server **out,
                       int *bound_port, char *err, size_t errlen)
{
    char scratch[8];
    if (!err || errlen == 0) {
        err = scratch;
        errlen = sizeof scratch;
    }
    err[0] = '\0';
    if (out)
        *out = NULL;
    if (!host || !backend || !backend->call || !out) {
        snprintf(err, errlen, "host, backend, backend->call and out are required");
        return SF_EINVAL;
    }
    if (port < 0 || port > 65535) {
        snprintf(err, errlen, "port %d is not in 0..65535", port);
        return SF_EINVAL;
    }
    api_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return SF_ENOMEM;
    }
    s->backend = *backend;
    seed_ids(s);
    atomic_init(&s->next_id, 0);
    atomic_init(&s->answering, 0);

    int fd = -1, actual_port = 0;
    sf_rc rc = listen_on(host, port, &fd, &actual_port, err, errlen);
    if (rc != SF_OK) {
        free(s);
        return rc;
    }
    s->daemon = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC, 0, NULL, NULL,
        on_request, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_TIMEOUT,
        CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, errlen, "libmicrohttpd could not start serving on %s:%d", host, actual_port);
        close(fd);
        free(s);
        return SF_EIO;
    }
    if (bound_port)
        *bound_port = actual_port;
    *out = s;
    return SF_OK;
}

void api_server_stop(api_server **s)
{
    if (!s || !*s)
        return;
    api_server *srv = *s;
    /* Stop accepting first, then let answers under way reach their clients:
     * MHD_stop_daemon shuts every connection's socket at once, which would
     * cut off a response still being computed. A request that arrives on a
     * kept-alive connection meanwhile is served too; one still uploading is
     * not waited for (its client may never finish). */
    MHD_socket listen_fd = MHD_quiesce_daemon(srv->daemon);
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd);
    struct timespec tick = {.tv_nsec = 1000000};
    for (long waited = 0; atomic_load(&srv->answering) > 0 && waited < DRAIN_MAX_S * 1000L;
         waited++)
        nanosleep(&tick, NULL);
    /* Closes the idle connections and joins every connection's thread. */
    MHD_stop_daemon(srv->daemon);
    free(srv);
    *s = NULL;
}
