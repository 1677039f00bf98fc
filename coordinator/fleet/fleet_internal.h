/* fleet/fleet_internal.h - the fleet's insides, shared by its files.
 *
 * One thread (fleet_core.c) owns the sockets, the registry of workers and
 * the table of tasks; nothing else touches them. Other threads reach it
 * only through the inbox (submitted tasks and cancels, under mu) and a
 * wake-up eventfd. Snapshots for fleet_workers are published under mu. */
#ifndef FLEET_INTERNAL_H
#define FLEET_INTERNAL_H

#include <czmq.h>
#include <pthread.h>

#include "common/sf_hmap.h"
#include "fleet.h"
#include "proto/fleet_session.h"

/* One task, from submit until its outcome is reported (or it is dropped). */
typedef struct fjob {
    uint64_t id;
    fleet_ref ref;
    fleet_requirements req;
    char family[FLEET_KERNEL_NAME_MAX + 1]; /* the kernel up to ':' */
    unsigned char *wire;                    /* the encoded task message, in the
                                               same allocation, after the job */
    size_t wire_len;
    struct fworker *w; /* NULL while queued */
    bool cancelled;    /* cancel sent: the worker's answer is dropped */
    int64_t queued_ms;
    struct fjob *next; /* inbox and queue link */
} fjob;

typedef struct fworker {
    void *sock; /* the ROUTER it talks through */
    unsigned char rid[256];
    size_t rid_len;
    fleet_msg hello; /* its capabilities */
    fleet_session session;
    char sid[40];
    int64_t heard_ms, joined_ms, sent_hb_ms;
    uint64_t hb_seq;
    uint32_t running, cores_used, gpus_used;
    uint64_t mem_used;
} fworker;

typedef struct fcancel {
    uint64_t id;
    char why[256];
} fcancel;

struct fleet {
    fleet_config cfg;
    char *key_file, *authorised_dir; /* owned copies of cfg's */
    fleet_hooks hooks;
    zsock_t *router;
    void *raw; /* its libzmq socket, for the hot path */
    zactor_t *auth;
    zsock_t *monitor; /* CURVE on: handshake failures, to log them */
    zcert_t *cert;
    char endpoint[512];
    char local_dir[64], local_ep[96]; /* the private endpoint for local workers */
    bool curve;
    int wake_fd;
    pthread_t thread;

    pthread_mutex_t mu; /* the inbox, cancels, snapshots */
    fjob *inbox_head, *inbox_tail;
    fcancel *cancels;
    size_t ncancels, capcancels;
    bool stopping;
    uint64_t next_id;
    fleet_worker_info *snap;
    size_t nsnap;
    fleet_stats stats; /* written by the thread under mu, in batches */

    /* Owned by the fleet's thread. */
    sf_hmap jobs;   /* id -> fjob */
    sf_hmap by_rid; /* routing id -> fworker */
    fworker **workers;
    size_t nworkers, capworkers;
    fjob *queue_head, *queue_tail;
    size_t nqueued;
    msgpack_sbuffer out; /* reused for every message the thread encodes */
    fleet_stats local;   /* counted here, published to stats under mu */
    int64_t now_ms;      /* read once per batch of messages */
};

void fleet_log(fleet *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* fleet_core.c */
/* Encodes m and sends it to w; false when it could not (w is gone). */
bool fleet_send(fleet *f, fworker *w, const fleet_msg *m);
bool fleet_send_bytes(fleet *f, fworker *w, const void *bytes, size_t len);

/* fleet_workers.c: the registry */
void fleet_on_message(fleet *f, void *sock, const unsigned char *rid, size_t rid_len,
                      const void *bytes, size_t len);
/* Heartbeats due, workers lost (their tasks failed), snapshot published. */
void fleet_tick(fleet *f, int64_t now);
void fleet_workers_free(fleet *f);

/* fleet_place.c: the queue and placement */
void fleet_enqueue(fleet *f, fjob *j);
/* Sends queued tasks to workers with room, in order. */
void fleet_place(fleet *f);
/* Fails queued tasks that no registered worker could ever run once they
 * have waited unplaceable_ms. */
void fleet_expire_unplaceable(fleet *f, int64_t now);
/* The job's outcome arrived or it was given up: frees it and its room. */
void fleet_job_done(fleet *f, fjob *j);
/* Drops a queued or running job on the caller's request. */
void fleet_job_cancel(fleet *f, uint64_t id, const char *why);
void fleet_job_fail(fleet *f, fjob *j, const char *error, const char *cause);

#endif
