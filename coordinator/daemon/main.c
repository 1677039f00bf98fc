/* daemon/main.c - statefleet-coordinator: the durable coordinator and its
 * Step Functions API.
 *
 *   statefleet-coordinator --db PATH [--http HOST:PORT] [--region R]
 *       [--account A] [--public-url URL] [--functions DIR]
 *       [--data-root DIR] [--synchronous FULL|NORMAL|OFF]
 *       [--ready-file FILE] [--poll-seconds N] [--quiet]
 *
 * Runs until SIGINT or SIGTERM; executions left running resume on the next
 * start from the same database. Exit 0 on a clean stop, 1 when it cannot
 * start, 2 on bad usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../api/api.h"
#include "../service/service.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: statefleet-coordinator --db PATH [--http HOST:PORT] [--region R]\n"
            "         [--account ACCOUNT] [--public-url URL] [--functions DIR]\n"
            "         [--data-root DIR] [--synchronous FULL|NORMAL|OFF] [--ready-file FILE]\n"
            "         [--poll-seconds N] [--quiet]\n"
            "         [--fleet ENDPOINT] [--fleet-key FILE_secret] [--fleet-authorised DIR]\n"
            "         [--fleet-insecure] [--heartbeat-ms N] [--unplaceable-seconds N]\n"
            "         [--local-workers N | --no-local-workers] [--progress-history-seconds N]\n"
            "  --http         where the Step Functions API listens (127.0.0.1:8083; port 0\n"
            "                 picks a free one)\n"
            "  --public-url   base of the approve/reject links (default: the API's URL)\n"
            "  --ready-file   once serving, the API's base URL is written here\n"
            "  --fleet        where workers connect (tcp://127.0.0.1:* : loopback, any port;\n"
            "                 tcp://*:8084 for a fleet, which then needs CURVE keys:\n"
            "                 --fleet-key, and --fleet-authorised with the workers' public keys)\n"
            "  --local-workers  workers to spawn here (default: one per NUMA node)\n");
}

static int backend_call(void *ctx, const char *op, json_t *req, json_t **resp)
{
    return svc_call(ctx, op, req, resp);
}

static int backend_decide(void *ctx, const char *token, bool approve, char **msg)
{
    return svc_decide(ctx, token, approve, msg);
}

/* Writes the URL to path atomically, so a watcher never reads half of it. */
static int write_ready(const char *path, const char *url)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%s\n", url);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return -1;
    return 0;
}

static bool parse_host_port(const char *v, char *host, size_t hlen, int *port)
{
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v || (size_t)(colon - v) >= hlen)
        return false;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535 || end == colon + 1)
        return false;
    memcpy(host, v, (size_t)(colon - v));
    host[colon - v] = '\0';
    *port = (int)p;
    return true;
}

int main(int argc, char **argv)
{
    svc_config cfg = {.sync = STORE_SYNC_FULL, .local_workers = -1};
    const char *http = "127.0.0.1:8083", *ready = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quiet") == 0) {
            cfg.quiet = true;
            continue;
        }
        if (strcmp(a, "--no-local-workers") == 0) {
            cfg.local_workers = 0;
            continue;
        }
        if (strcmp(a, "--fleet-insecure") == 0) {
            cfg.fleet_insecure = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "statefleet-coordinator: %s needs a value\n", a);
            usage(stderr);
            return 2;
        }
        i++;
        if (strcmp(a, "--db") == 0)
            cfg.db_path = v;
        else if (strcmp(a, "--http") == 0)
            http = v;
        else if (strcmp(a, "--region") == 0)
            cfg.region = v;
        else if (strcmp(a, "--account") == 0)
            cfg.account = v;
        else if (strcmp(a, "--public-url") == 0)
            cfg.public_url = v;
        else if (strcmp(a, "--functions") == 0)
            cfg.functions_dir = v;
        else if (strcmp(a, "--data-root") == 0)
            cfg.data_root = v;
        else if (strcmp(a, "--ready-file") == 0)
            ready = v;
        else if (strcmp(a, "--poll-seconds") == 0)
            cfg.poll_seconds = atoi(v);
        else if (strcmp(a, "--fleet") == 0)
            cfg.fleet_endpoint = v;
        else if (strcmp(a, "--fleet-key") == 0)
            cfg.fleet_key = v;
        else if (strcmp(a, "--fleet-authorised") == 0)
            cfg.fleet_authorised = v;
        else if (strcmp(a, "--heartbeat-ms") == 0 || strcmp(a, "--unplaceable-seconds") == 0 ||
                 strcmp(a, "--local-workers") == 0 ||
                 strcmp(a, "--progress-history-seconds") == 0) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || end == v || n < 1 || n > 86400000) {
                fprintf(stderr, "statefleet-coordinator: %s %s: expected a whole number from 1\n",
                        a, v);
                return 2;
            }
            if (strcmp(a, "--heartbeat-ms") == 0)
                cfg.heartbeat_ms = (uint32_t)n;
            else if (strcmp(a, "--unplaceable-seconds") == 0)
                cfg.unplaceable_ms = (uint32_t)n * 1000;
            else if (strcmp(a, "--local-workers") == 0)
                cfg.local_workers = (int)n;
            else
                cfg.progress_history_ms = (uint32_t)n * 1000;
        }
        else if (strcmp(a, "--synchronous") == 0) {
            if (strcmp(v, "FULL") == 0)
                cfg.sync = STORE_SYNC_FULL;
            else if (strcmp(v, "NORMAL") == 0)
                cfg.sync = STORE_SYNC_NORMAL;
            else if (strcmp(v, "OFF") == 0)
                cfg.sync = STORE_SYNC_OFF;
            else {
                fprintf(stderr, "statefleet-coordinator: --synchronous %s: use FULL, NORMAL or OFF\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "statefleet-coordinator: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    char host[256];
    int port;
    if (!cfg.db_path) {
        fprintf(stderr, "statefleet-coordinator: --db PATH is required\n");
        usage(stderr);
        return 2;
    }
    if (!parse_host_port(http, host, sizeof host, &port)) {
        fprintf(stderr, "statefleet-coordinator: --http %s: expected HOST:PORT\n", http);
        return 2;
    }

    /* Signals are taken synchronously by main; every thread inherits the mask. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[1024];
    svc *s = NULL;
    char url[300];
    bool own_url = !cfg.public_url; /* links point at the API unless told otherwise */
    if (svc_open(&cfg, &s, err, sizeof err) != SF_OK) {
        fprintf(stderr, "statefleet-coordinator: %s\n", err);
        return 1;
    }
    api_backend be = {.ctx = s, .call = backend_call, .decide = backend_decide};
    api_server *srv = NULL;
    int bound = 0;
    if (api_server_start(host, port, &be, &srv, &bound, err, sizeof err) != SF_OK) {
        fprintf(stderr, "statefleet-coordinator: cannot serve on %s: %s\n", http, err);
        svc_close(&s);
        return 1;
    }
    snprintf(url, sizeof url, "http://%s:%d", host, bound);
    if (own_url)
        svc_set_public_url(s, url);
    if (!cfg.quiet)
        fprintf(stderr, "statefleet-coordinator: serving the Step Functions API on %s (db %s)\n",
                url, cfg.db_path);
    if (ready && write_ready(ready, url) != 0) {
        fprintf(stderr, "statefleet-coordinator: cannot write %s: %s\n", ready, strerror(errno));
        api_server_stop(&srv);
        svc_close(&s);
        return 1;
    }
    int sig = 0;
    sigwait(&stop, &sig);
    if (!cfg.quiet)
        fprintf(stderr, "statefleet-coordinator: stopping (signal %d)\n", sig);
    svc_begin_shutdown(s);
    api_server_stop(&srv);
    svc_close(&s);
    return 0;
}
