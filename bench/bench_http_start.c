/* bench/bench_http_start.c - StartExecution calls per second over HTTP.
 *
 * Opens N keep-alive connections to a running coordinator, one thread
 * each, and sends StartExecution requests back to back, every one with a
 * new execution name; counts 200s and times each round trip. With
 * --target-op it then runs another operation (say DescribeStateMachine, a
 * read that writes nothing) the same way in the same run, as the baseline
 * that shows what durability costs over the bare HTTP and JSON path.
 *
 * The client is plain sockets and hand-built HTTP/1.1 so that it costs the
 * machine as little as possible and measures the server, not itself. It
 * spawns nothing: start the coordinator and create the state machine first.
 *
 *   bench_http_start --endpoint http://127.0.0.1:8080 \
 *       --state-machine-arn arn:aws:states:us-east-1:123456789012:stateMachine:m \
 *       [--connections 32] [--seconds 10 | --requests 100000] \
 *       [--target-op DescribeStateMachine]
 *
 * Prints one line per phase (requests/s, p50/p99 latency, errors) and exits
 * non-zero when any request failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNECTIONS 4096
#define RESPONSE_MAX (8u << 20)         /* bytes of one response we will hold */
#define LATENCY_SAMPLES_MAX (16u << 20) /* per connection; later ones are not kept */
#define IO_TIMEOUT_S 90                 /* outlasts a server's 60 s long poll */

typedef struct config {
    char host[256], port[16];
    const char *arn;
    int connections;
    double seconds; /* used when requests == 0 */
    long requests;  /* total per phase, or 0 */
    const char *baseline_op;
    struct addrinfo *addr;
    unsigned run_id; /* keeps names unique across runs */
} config;

/* One timed run of one operation over all connections. */
typedef struct phase {
    const config *cfg;
    const char *op;
    bool start_execution; /* body names a new execution per request */
    atomic_long issued;   /* requests claimed, in --requests mode */
    atomic_bool stop;     /* set when --seconds are up */
} phase;

typedef struct worker {
    phase *ph;
    int id;
    pthread_t thread;
    long ok, failed, connection_errors;
    double *latency_ms;
    size_t samples, cap;
    char first_failure[200];
    char *buf; /* response bytes */
    size_t buf_len, buf_cap;
} worker;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage(const char *why)
{
    if (why)
        fprintf(stderr, "bench_http_start: %s\n", why);
    fprintf(stderr, "usage: bench_http_start --endpoint http://HOST:PORT --state-machine-arn ARN\n"
                    "         [--connections N] [--seconds S | --requests N] [--target-op OP]\n");
    exit(2);
}

static int connect_to(const config *cfg)
{
    for (struct addrinfo *a = cfg->addr; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            return fd;
        }
        close(fd);
    }
    return -1;
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        p += k;
        n -= (size_t)k;
    }
    return true;
}

/* Reads more bytes into w->buf; false on close, error or a response past
 * RESPONSE_MAX. */
static bool read_more(worker *w, int fd)
{
    if (w->buf_cap - w->buf_len < 4096) {
        size_t cap = w->buf_cap ? w->buf_cap * 2 : 65536;
        if (cap > RESPONSE_MAX)
            return false;
        char *nb = realloc(w->buf, cap);
        if (!nb)
            return false;
        w->buf = nb;
        w->buf_cap = cap;
    }
    ssize_t k;
    do
        k = recv(fd, w->buf + w->buf_len, w->buf_cap - w->buf_len - 1, 0);
    while (k < 0 && errno == EINTR);
    if (k <= 0)
        return false;
    w->buf_len += (size_t)k;
    w->buf[w->buf_len] = '\0';
    return true;
}

/* The value of header name in the header block [h, end), or NULL. */
static const char *find_header(const char *h, const char *end, const char *name)
{
    size_t n = strlen(name);
    for (const char *line = strstr(h, "\r\n"); line && line + 2 < end;
         line = strstr(line + 2, "\r\n")) {
        const char *l = line + 2;
        if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
            l += n + 1;
            while (*l == ' ' || *l == '\t')
                l++;
            return l;
        }
    }
    return NULL;
}

/* Reads one response; returns its status (0 when the connection failed)
 * and whether the server will keep the connection open. */
static int read_response(worker *w, int fd, bool *keep_alive)
{
    char *end = NULL;
    if (w->buf)
        w->buf[w->buf_len] = '\0'; /* what a previous response left is gone */
    while (!(w->buf && (end = strstr(w->buf, "\r\n\r\n"))))
        if (!read_more(w, fd))
            return 0;
    int status = 0;
    if (sscanf(w->buf, "HTTP/1.%*d %d", &status) != 1)
        return 0;
    const char *cl = find_header(w->buf, end, "Content-Length");
    if (!cl)
        return 0; /* this server always sends one; anything else is a failure */
    size_t body = strtoul(cl, NULL, 10);
    const char *conn = find_header(w->buf, end, "Connection");
    *keep_alive = !(conn && strncasecmp(conn, "close", 5) == 0);
    size_t total = (size_t)(end + 4 - w->buf) + body;
    if (total > RESPONSE_MAX)
        return 0;
    while (w->buf_len < total)
        if (!read_more(w, fd))
            return 0;
    if (status != 200 && w->first_failure[0] == '\0')
        snprintf(w->first_failure, sizeof w->first_failure, "HTTP %d %.*s", status,
                 (int)(body < 150 ? body : 150), end + 4);
    memmove(w->buf, w->buf + total, w->buf_len - total);
    w->buf_len -= total;
    return status;
}

/* Writes the JSON string s with its quotes; ARNs need no escaping, but a
 * typo with a quote in it should not break the request. */
static size_t json_quote(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    if (n < cap)
        out[n++] = '"';
    for (; *s && n + 3 < cap; s++) {
        if (*s == '"' || *s == '\\')
            out[n++] = '\\';
        out[n++] = *s;
    }
    if (n < cap)
        out[n++] = '"';
    return n;
}

static size_t build_request(worker *w, long seq, char *out, size_t cap)
{
    const config *cfg = w->ph->cfg;
    char arn[1100], body[1400];
    size_t alen = json_quote(arn, sizeof arn, cfg->arn);
    int blen;
    if (w->ph->start_execution)
        blen =
            snprintf(body, sizeof body,
                     "{\"stateMachineArn\":%.*s,\"name\":\"bench-%08x-%d-%ld\",\"input\":\"{}\"}",
                     (int)alen, arn, cfg->run_id, w->id, seq);
    else
        blen = snprintf(body, sizeof body, "{\"stateMachineArn\":%.*s}", (int)alen, arn);
    int n = snprintf(out, cap,
                     "POST / HTTP/1.1\r\nHost: %s:%s\r\n"
                     "Content-Type: application/x-amz-json-1.0\r\n"
                     "X-Amz-Target: AWSStepFunctions.%s\r\nContent-Length: %d\r\n\r\n%s",
                     cfg->host, cfg->port, w->ph->op, blen, body);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void record(worker *w, double ms)
{
    if (w->samples == w->cap) {
        if (w->cap >= LATENCY_SAMPLES_MAX)
            return;
        size_t cap = w->cap ? w->cap * 2 : 4096;
        double *nl = realloc(w->latency_ms, cap * sizeof *nl);
        if (!nl)
            return;
        w->latency_ms = nl;
        w->cap = cap;
    }
    w->latency_ms[w->samples++] = ms;
}

static bool claim(phase *ph)
{
    if (atomic_load(&ph->stop))
        return false;
    return ph->cfg->requests == 0 || atomic_fetch_add(&ph->issued, 1) < ph->cfg->requests;
}

static void *run_connection(void *arg)
{
    worker *w = arg;
    char req[4096];
    int fd = -1;
    for (long seq = 0; claim(w->ph); seq++) {
        if (fd < 0 && (fd = connect_to(w->ph->cfg)) < 0) {
            w->connection_errors++;
            w->failed++;
            usleep(10000);
            continue;
        }
        size_t n = build_request(w, seq, req, sizeof req);
        double t0 = now_s();
        bool keep = false;
        int status = n && send_all(fd, req, n) ? read_response(w, fd, &keep) : 0;
        double t1 = now_s();
        if (status == 200) {
            w->ok++;
            record(w, (t1 - t0) * 1e3);
        } else {
            w->failed++;
            if (status == 0)
                w->connection_errors++;
        }
        if (status == 0 || !keep) {
            close(fd);
            fd = -1;
            w->buf_len = 0;
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i];
}

/* Runs one phase; returns requests per second (0 when none succeeded). */
static double run_phase(const config *cfg, const char *op, bool start_execution, long *failures)
{
    phase ph = {.cfg = cfg, .op = op, .start_execution = start_execution};
    atomic_init(&ph.issued, 0);
    atomic_init(&ph.stop, false);
    worker *w = calloc((size_t)cfg->connections, sizeof *w);
    if (!w) {
        fprintf(stderr, "bench_http_start: out of memory\n");
        exit(1);
    }
    double t0 = now_s();
    for (int i = 0; i < cfg->connections; i++) {
        w[i].ph = &ph;
        w[i].id = i;
        if (pthread_create(&w[i].thread, NULL, run_connection, &w[i]) != 0) {
            fprintf(stderr, "bench_http_start: cannot start thread %d\n", i);
            exit(1);
        }
    }
    if (cfg->requests == 0) {
        struct timespec ts = {.tv_sec = (time_t)cfg->seconds,
                              .tv_nsec =
                                  (long)((cfg->seconds - (double)(time_t)cfg->seconds) * 1e9)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        atomic_store(&ph.stop, true);
    }
    long ok = 0, failed = 0, conn_errors = 0;
    size_t samples = 0;
    for (int i = 0; i < cfg->connections; i++) {
        pthread_join(w[i].thread, NULL);
        ok += w[i].ok;
        failed += w[i].failed;
        conn_errors += w[i].connection_errors;
        samples += w[i].samples;
    }
    double elapsed = now_s() - t0;

    double *all = malloc((samples ? samples : 1) * sizeof *all);
    size_t k = 0;
    const char *first_failure = NULL;
    for (int i = 0; i < cfg->connections; i++) {
        if (all)
            memcpy(all + k, w[i].latency_ms, w[i].samples * sizeof *all);
        k += w[i].samples;
        if (!first_failure && w[i].first_failure[0])
            first_failure = w[i].first_failure;
    }
    if (all)
        qsort(all, samples, sizeof *all, by_value);
    double rps = (double)ok / elapsed;
    printf("%-24s %d connections, %.2f s: %ld ok, %ld failed (%ld connection), %.0f req/s, "
           "p50 %.3f ms, p99 %.3f ms\n",
           op, cfg->connections, elapsed, ok, failed, conn_errors, rps,
           all ? percentile(all, samples, 0.50) : 0, all ? percentile(all, samples, 0.99) : 0);
    if (first_failure)
        printf("%-24s first failure: %s\n", "", first_failure);
    fflush(stdout);
    for (int i = 0; i < cfg->connections; i++) {
        free(w[i].latency_ms);
        free(w[i].buf);
    }
    free(all);
    free(w);
    *failures += failed;
    return rps;
}

/* "http://HOST:PORT" with an optional trailing '/'. */
static void parse_endpoint(const char *url, config *cfg)
{
    const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
    const char *colon = p ? strrchr(p, ':') : NULL;
    if (!p || !colon || colon == p || (size_t)(colon - p) >= sizeof cfg->host)
        usage("--endpoint must be http://HOST:PORT");
    memcpy(cfg->host, p, (size_t)(colon - p));
    cfg->host[colon - p] = '\0';
    size_t n = strcspn(colon + 1, "/");
    if (n == 0 || n >= sizeof cfg->port)
        usage("--endpoint must be http://HOST:PORT");
    memcpy(cfg->port, colon + 1, n);
    cfg->port[n] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = getaddrinfo(cfg->host, cfg->port, &hints, &cfg->addr);
    if (rc != 0) {
        fprintf(stderr, "bench_http_start: %s:%s: %s\n", cfg->host, cfg->port, gai_strerror(rc));
        exit(2);
    }
}

static const char *value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc)
        usage("an option is missing its value");
    return argv[++*i];
}

int main(int argc, char **argv)
{
    config cfg = {.connections = 32, .seconds = 10};
    const char *endpoint = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--endpoint") == 0)
            endpoint = value(argc, argv, &i);
        else if (strcmp(a, "--state-machine-arn") == 0)
            cfg.arn = value(argc, argv, &i);
        else if (strcmp(a, "--connections") == 0)
            cfg.connections = atoi(value(argc, argv, &i));
        else if (strcmp(a, "--seconds") == 0)
            cfg.seconds = atof(value(argc, argv, &i));
        else if (strcmp(a, "--requests") == 0)
            cfg.requests = atol(value(argc, argv, &i));
        else if (strcmp(a, "--target-op") == 0)
            cfg.baseline_op = value(argc, argv, &i);
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            usage(NULL);
        else
            usage("unknown option");
    }
    if (!endpoint || !cfg.arn)
        usage("--endpoint and --state-machine-arn are required");
    if (strlen(cfg.arn) > 1000)
        usage("--state-machine-arn is too long");
    if (cfg.connections < 1 || cfg.connections > MAX_CONNECTIONS)
        usage("--connections must be 1..4096");
    if (cfg.requests < 0 || (cfg.requests == 0 && !(cfg.seconds > 0)))
        usage("--seconds must be positive, or --requests given");
    if (cfg.baseline_op) {
        for (const char *c = cfg.baseline_op; *c; c++)
            if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')))
                usage("--target-op must be an operation name like DescribeStateMachine");
    }
    parse_endpoint(endpoint, &cfg);
    cfg.run_id = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);

    long failures = 0;
    double start_rps = run_phase(&cfg, "StartExecution", true, &failures);
    if (cfg.baseline_op) {
        double base_rps = run_phase(&cfg, cfg.baseline_op, false, &failures);
        if (base_rps > 0)
            printf("StartExecution runs at %.2fx the rate of %s (the non-durable baseline)\n",
                   start_rps / base_rps, cfg.baseline_op);
    }
    freeaddrinfo(cfg.addr);
    return failures ? 1 : 0;
}
