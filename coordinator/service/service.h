/* service/service.h - the coordinator: durable executions behind the
 * Step Functions operations.
 *
 * Every operation takes the request object of AWS's JSON API and answers
 * its response object, so the HTTP front end, the benchmarks and the tests
 * all drive the same code. Operations are thread-safe. A change is
 * answered only after it is committed to SQLite: nothing a client was told
 * can be lost by a crash, and nothing acts on an event before it is on
 * disk. Commits are grouped: whatever happened while the previous commit
 * was being written shares the next fsync. */
#ifndef SERVICE_SERVICE_H
#define SERVICE_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "../../common/sf_rc.h"
#include "../store/store.h"

typedef struct svc_config {
    const char *db_path;
    store_sync sync;           /* STORE_SYNC_FULL unless told otherwise */
    const char *region;        /* "us-east-1" */
    const char *account;       /* "123456789012" */
    const char *public_url;    /* base of approve/reject links; NULL: none */
    const char *functions_dir; /* Lambda-style local functions; NULL: none */
    const char *data_root;     /* the local object store for s3://; NULL: none */
    bool quiet;                /* no log lines on stderr */
    int poll_seconds;          /* GetActivityTask long poll; 0: 55 (AWS holds up to 60) */
    /* The worker fleet (coordinator/fleet/fleet.h). */
    const char *fleet_endpoint;   /* NULL: tcp://127.0.0.1:* (loopback, any port) */
    const char *fleet_key;        /* CURVE: the coordinator's secret key file */
    const char *fleet_authorised; /* CURVE: directory of workers' public keys */
    bool fleet_insecure;          /* a non-local endpoint without CURVE */
    uint32_t heartbeat_ms;        /* 0: 1000 */
    uint32_t unplaceable_ms;      /* 0: 30000 */
    int local_workers;            /* workers to spawn: 0 none, -1 one per NUMA node, or N */
    const char *worker_bin;       /* NULL: statefleet-worker beside this program */
    uint32_t progress_history_ms; /* least time between TaskProgress events; 0: 10000 */
} svc_config;

typedef struct svc svc;

/* Opens the database and resumes every execution that was running. */
sf_rc svc_open(const svc_config *cfg, svc **out, char *err, size_t errlen);
/* Stops timers and runners; executions stay RUNNING in the database and
 * resume on the next open. */
void svc_close(svc **s);

/* The base of approve/reject links, once the API knows its address. */
void svc_set_public_url(svc *s, const char *url);

/* Wakes long polls (they answer with no task) and refuses new work with
 * 503, so that a front end can drain before svc_close. */
void svc_begin_shutdown(svc *s);

/* Runs one operation ("StartExecution", ...). Returns the HTTP status:
 * 200 with *response the result, or 4xx/5xx with *response an AWS error
 * body {"__type":..., "message":...}. May block: until the change is
 * committed, and GetActivityTask for up to 60 s. */
int svc_call(svc *s, const char *op, json_t *request, json_t **response);

/* The approval links: completes the task behind token with
 * {"decision":"Approved"} or {"decision":"Rejected"}; *message says what
 * happened, for a person. */
int svc_decide(svc *s, const char *token, bool approve, char **message);

/* Counters for benchmarks: commits (fsyncs) and transitions so far. */
typedef struct svc_stats {
    uint64_t commits, transitions, events;
    uint64_t running; /* executions in memory (running, or ending) */
} svc_stats;
void svc_get_stats(svc *s, svc_stats *out);

#endif
