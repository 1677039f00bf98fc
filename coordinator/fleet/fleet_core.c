/* fleet/fleet_core.c - the fleet's socket, its thread and its inbox.
 *
 * Submitting threads never touch the socket: a task is encoded in the
 * caller's thread (spreading the cost), put in the inbox under mu, and the
 * thread is woken through an eventfd only when the inbox was empty, so a
 * burst of submits costs one wake-up. The thread drains everything
 * readable before it polls again. */
#define _GNU_SOURCE
#include "fleet_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/sf_curve.h"
#include "common/sf_log.h"

#define DRAIN_MAX 4096 /* messages handled between looks at the inbox */
#define SPIN_POLLS 64  /* non-blocking looks after work before sleeping (~20 us) */

void fleet_log(fleet *f, const char *fmt, ...)
{
    if (f->cfg.quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    sf_vlog("statefleet-coordinator: fleet", fmt, ap);
    va_end(ap);
}

bool fleet_send_bytes(fleet *f, fworker *w, const void *bytes, size_t len)
{
    /* The send high-water mark is off and a worker never holds more tasks
     * than its hello allows, so these never block; ROUTER_MANDATORY turns
     * a vanished peer into EHOSTUNREACH instead of a silent drop. */
    if (zmq_send(w->sock, w->rid, w->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(w->sock, bytes, len, ZMQ_DONTWAIT) < 0)
        return false;
    return true;
}

bool fleet_send(fleet *f, fworker *w, const fleet_msg *m)
{
    f->out.size = 0;
    if (fleet_msg_encode(m, &f->out) != SF_OK)
        return false;
    return fleet_send_bytes(f, w, f->out.data, f->out.size);
}

static void wake(fleet *f)
{
    uint64_t one = 1;
    ssize_t n = write(f->wake_fd, &one, sizeof one);
    (void)n; /* the counter cannot overflow in practice; a wake is a wake */
}

/* ---- the thread ------------------------------------------------------------ */

static void take_inbox(fleet *f)
{
    uint64_t v;
    ssize_t n = read(f->wake_fd, &v, sizeof v);
    (void)n;
    pthread_mutex_lock(&f->mu);
    fjob *head = f->inbox_head;
    f->inbox_head = f->inbox_tail = NULL;
    fcancel *cancels = f->cancels;
    size_t ncancels = f->ncancels;
    f->cancels = NULL;
    f->ncancels = f->capcancels = 0;
    pthread_mutex_unlock(&f->mu);
    while (head) {
        fjob *j = head;
        head = head->next;
        j->next = NULL;
        if (sf_hmap_putu(&f->jobs, j->id, j) != SF_OK)
            abort(); /* out of memory: the fleet cannot account for its tasks */
        fleet_enqueue(f, j);
    }
    /* Cancels after submits: one submitted and cancelled in the same
     * batch is then found and dropped. */
    for (size_t i = 0; i < ncancels; i++)
        fleet_job_cancel(f, cancels[i].id, cancels[i].why);
    free(cancels);
}

static void drain(fleet *f, void *sock)
{
    f->now_ms = sf_monotonic_ms();
    for (int i = 0; i < DRAIN_MAX; i++) {
        zmq_msg_t rid, body;
        zmq_msg_init(&rid);
        if (zmq_msg_recv(&rid, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&rid);
            return;
        }
        zmq_msg_init(&body);
        bool more = zmq_msg_more(&rid);
        if (more && zmq_msg_recv(&body, sock, 0) >= 0) {
            if (zmq_msg_more(&body)) {
                /* A DEALER speaks in single frames: more is someone else. */
                f->local.dropped_messages++;
                int m = 1;
                while (m) {
                    zmq_msg_t extra;
                    zmq_msg_init(&extra);
                    m = zmq_msg_recv(&extra, sock, 0) >= 0 && zmq_msg_more(&extra);
                    zmq_msg_close(&extra);
                }
            } else {
                fleet_on_message(f, sock, zmq_msg_data(&rid), zmq_msg_size(&rid),
                                 zmq_msg_data(&body), zmq_msg_size(&body));
            }
        }
        zmq_msg_close(&body);
        zmq_msg_close(&rid);
    }
}

static void publish_stats(fleet *f)
{
    pthread_mutex_lock(&f->mu);
    f->local.queued = f->nqueued;
    uint64_t submitted = f->stats.submitted; /* counted by submitters */
    f->stats = f->local;
    f->stats.submitted = submitted;
    pthread_mutex_unlock(&f->mu);
}

/* The authenticator logs a key it does not know; a peer that offers no
 * CURVE at all (a worker started without keys) fails earlier, in the
 * handshake, where only a socket monitor sees it. The event names the
 * endpoint, not the peer: that is all ZeroMQ says. */
static void log_handshake_failure(fleet *f)
{
    zmsg_t *ev = zmsg_recv(f->monitor);
    zframe_t *head = ev ? zmsg_first(ev) : NULL;
    zframe_t *addr = ev ? zmsg_next(ev) : NULL;
    if (head && zframe_size(head) == 6) {
        uint16_t event;
        uint32_t value;
        memcpy(&event, zframe_data(head), 2);
        memcpy(&value, zframe_data(head) + 2, 4);
        char *where = addr ? zframe_strdup(addr) : NULL;
        const char *at = where ? where : f->endpoint;
        /* A peer without keys shows as a mechanism mismatch, or, when it
         * hangs up first, as a handshake that failed with an errno. */
        if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
            fleet_log(f,
                      "refused a connection on %s: the peer offered no CURVE keys (a worker "
                      "needs --key and --server-key here)",
                      at);
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            fleet_log(f,
                      "refused a connection on %s: its CURVE handshake failed (%s; a worker "
                      "without --key and --server-key?)",
                      at, strerror((int)value));
        else if (event != ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) /* the authenticator logs those */
            fleet_log(f, "refused a connection on %s: its CURVE handshake failed (ZMTP error 0x%x)",
                      at, value);
        free(where);
    }
    zmsg_destroy(&ev);
}

static void *fleet_main(void *arg)
{
    fleet *f = arg;
    zmq_pollitem_t items[3] = {
        {.socket = f->raw, .events = ZMQ_POLLIN},
        {.fd = f->wake_fd, .events = ZMQ_POLLIN},
        {.socket = f->monitor ? zsock_resolve(f->monitor) : NULL, .events = ZMQ_POLLIN}};
    int nitems = f->monitor ? 3 : 2;
    int64_t period = f->cfg.heartbeat_ms / 2 ? f->cfg.heartbeat_ms / 2 : 1;
    int64_t next_tick = sf_monotonic_ms() + period;
    int idle_spins = 0;
    for (;;) {
        int64_t now = sf_monotonic_ms();
        long timeout = next_tick > now ? (long)(next_tick - now) : 0;
        /* Right after work, look again without sleeping a few times: the
         * next submit or answer often follows within microseconds, and
         * catching it awake saves a wake-up (the larger part of the
         * fleet's own share of a round trip). */
        int n = zmq_poll(items, nitems, idle_spins < SPIN_POLLS ? 0 : timeout);
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0 && idle_spins < SPIN_POLLS) {
            idle_spins++;
            continue;
        }
        if (nitems == 3 && (items[2].revents & ZMQ_POLLIN))
            log_handshake_failure(f);
        if (items[1].revents & ZMQ_POLLIN)
            take_inbox(f);
        pthread_mutex_lock(&f->mu);
        bool stopping = f->stopping;
        pthread_mutex_unlock(&f->mu);
        if (stopping)
            break;
        if (items[0].revents & ZMQ_POLLIN)
            drain(f, f->raw);
        fleet_place(f);
        now = sf_monotonic_ms();
        if (now >= next_tick) {
            fleet_tick(f, now);
            fleet_expire_unplaceable(f, now);
            fleet_place(f);
            next_tick = now + period;
        }
        publish_stats(f);
        idle_spins = 0;
    }
    return NULL;
}

/* ---- open and close ---------------------------------------------------------- */

static sf_rc setup_curve(fleet *f, char *err, size_t errlen)
{
    bool local = sf_endpoint_is_local(f->cfg.endpoint);
    if (!f->cfg.key_file && !f->cfg.authorised_dir) {
        if (local || f->cfg.insecure)
            return SF_OK;
        snprintf(err, errlen,
                 "fleet endpoint %s is reachable from other machines: give the coordinator a "
                 "key (--fleet-key FILE_secret) and the workers' public keys "
                 "(--fleet-authorised DIR), or say --fleet-insecure",
                 f->cfg.endpoint);
        return SF_EINVAL;
    }
    if (!f->cfg.key_file || !f->cfg.authorised_dir) {
        snprintf(err, errlen,
                 "CURVE needs both the coordinator's secret key file and the "
                 "directory of authorised worker keys");
        return SF_EINVAL;
    }
    sf_rc rc = sf_curve_load_secret(f->cfg.key_file, &f->cert, err, errlen);
    if (rc != SF_OK)
        return rc;
    rc = sf_curve_server(f->router, f->cert, f->cfg.authorised_dir, &f->auth, err, errlen);
    if (rc != SF_OK)
        return rc;
    f->curve = true;
    char mon[80];
    snprintf(mon, sizeof mon, "inproc://statefleet-fleet-monitor-%p", (void *)f);
    if (zmq_socket_monitor(f->raw, mon,
                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) == 0) {
        char connect[84];
        snprintf(connect, sizeof connect, ">%s", mon);
        f->monitor = zsock_new_pair(connect); /* NULL: refusals go unlogged, nothing worse */
    }
    return SF_OK;
}

static void stop_monitor(fleet *f)
{
    if (!f->monitor)
        return;
    zmq_socket_monitor(f->raw, NULL, 0);
    zsock_destroy(&f->monitor);
}

static void remove_local_dir(fleet *f)
{
    if (!f->local_dir[0])
        return;
    char path[sizeof f->local_dir + 16];
    snprintf(path, sizeof path, "%s/workers", f->local_dir);
    unlink(path);
    rmdir(f->local_dir);
}

sf_rc fleet_open(const fleet_config *cfg, const fleet_hooks *hooks, fleet **out, char *err,
                 size_t errlen)
{
    *out = NULL;
    fleet *f = calloc(1, sizeof *f);
    if (!f)
        return SF_ENOMEM;
    f->cfg = *cfg;
    if (!f->cfg.endpoint)
        f->cfg.endpoint = "tcp://127.0.0.1:*";
    if (!f->cfg.heartbeat_ms)
        f->cfg.heartbeat_ms = 1000;
    if (!f->cfg.lost_after)
        f->cfg.lost_after = 3;
    if (!f->cfg.unplaceable_ms)
        f->cfg.unplaceable_ms = 30000;
    f->hooks = *hooks;
    f->next_id = 1;
    f->wake_fd = -1;
    pthread_mutex_init(&f->mu, NULL);
    msgpack_sbuffer_init(&f->out);
    sf_rc rc = SF_EIO;
    f->router = zsock_new(ZMQ_ROUTER);
    if (!f->router) {
        snprintf(err, errlen, "cannot create the fleet socket");
        goto fail;
    }
    f->raw = zsock_resolve(f->router);
    int zero = 0, one = 1;
    zmq_setsockopt(f->raw, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(f->raw, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(f->raw, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(f->raw, ZMQ_LINGER, &zero, sizeof zero);
    /* Security options apply to the binds that follow them, so the private
     * local endpoint, bound first, stays plain; the directory's 0700 mode
     * is what keeps other users off it. */
    if (f->cfg.local_endpoint) {
        char tmpl[] = "/tmp/statefleet-fleet.XXXXXX";
        if (!mkdtemp(tmpl) || zsock_bind(f->router, "ipc://%s/workers", tmpl) < 0) {
            snprintf(err, errlen, "cannot make the local workers' endpoint in /tmp: %s",
                     strerror(errno));
            if (tmpl[0])
                rmdir(tmpl);
            rc = SF_EIO;
            goto fail;
        }
        snprintf(f->local_dir, sizeof f->local_dir, "%s", tmpl);
        snprintf(f->local_ep, sizeof f->local_ep, "ipc://%s/workers", tmpl);
    }
    rc = setup_curve(f, err, errlen);
    if (rc != SF_OK)
        goto fail;
    if (zsock_bind(f->router, "%s", f->cfg.endpoint) < 0) {
        snprintf(err, errlen, "cannot listen for workers on %s: %s", f->cfg.endpoint,
                 zmq_strerror(zmq_errno()));
        rc = SF_EIO;
        goto fail;
    }
    snprintf(f->endpoint, sizeof f->endpoint, "%s", zsock_endpoint(f->router));
    f->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (f->wake_fd < 0 || pthread_create(&f->thread, NULL, fleet_main, f) != 0) {
        snprintf(err, errlen, "cannot start the fleet's thread");
        rc = SF_EIO;
        goto fail;
    }
    fleet_log(f, "listening for workers on %s%s", f->endpoint,
              f->curve ? " (CURVE: encrypted, workers authenticated by key)" : "");
    *out = f;
    return SF_OK;
fail:
    if (f->wake_fd >= 0)
        close(f->wake_fd);
    stop_monitor(f);
    zsock_destroy(&f->router);
    remove_local_dir(f);
    zactor_destroy(&f->auth);
    zcert_destroy(&f->cert);
    msgpack_sbuffer_destroy(&f->out);
    pthread_mutex_destroy(&f->mu);
    free(f);
    return rc;
}

static void free_job(fjob *j)
{
    free(j); /* its wire bytes live in the same allocation */
}

void fleet_close(fleet **fp)
{
    fleet *f = *fp;
    if (!f)
        return;
    *fp = NULL;
    pthread_mutex_lock(&f->mu);
    f->stopping = true;
    pthread_mutex_unlock(&f->mu);
    wake(f);
    pthread_join(f->thread, NULL);
    size_t i = 0;
    sf_hmap_slot *slot;
    while ((slot = sf_hmap_next(&f->jobs, &i)))
        free_job(slot->value);
    sf_hmap_free(&f->jobs);
    for (fjob *j = f->inbox_head, *next; j; j = next) {
        next = j->next;
        free_job(j);
    }
    free(f->cancels);
    fleet_workers_free(f);
    free(f->snap);
    stop_monitor(f);
    zsock_destroy(&f->router);
    zactor_destroy(&f->auth);
    zcert_destroy(&f->cert);
    remove_local_dir(f);
    close(f->wake_fd);
    msgpack_sbuffer_destroy(&f->out);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

const char *fleet_endpoint(const fleet *f)
{
    return f->endpoint;
}

const char *fleet_local_endpoint(const fleet *f)
{
    return f->local_ep[0] ? f->local_ep : NULL;
}

bool fleet_curve_on(const fleet *f)
{
    return f->curve;
}

/* ---- what other threads call -------------------------------------------------- */

/* Encodes into a buffer the calling thread keeps (msgpack's first growth
 * of a fresh buffer is 8 KiB, for a message of ~100 bytes), then makes
 * one exact allocation for the job with its wire bytes behind it: one
 * malloc per task, freed by the fleet's thread. */
static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;

static void buf_free(void *b)
{
    msgpack_sbuffer_free(b);
}

static void buf_key_make(void)
{
    pthread_key_create(&buf_key, buf_free);
}

static msgpack_sbuffer *thread_buf(void)
{
    pthread_once(&buf_once, buf_key_make);
    msgpack_sbuffer *b = pthread_getspecific(buf_key);
    if (!b && (b = msgpack_sbuffer_new()) && pthread_setspecific(buf_key, b) != 0) {
        msgpack_sbuffer_free(b);
        b = NULL;
    }
    return b;
}

static fjob *make_job(const fleet_job *j, uint64_t id, char *err, size_t errlen, bool *refused)
{
    *refused = false;
    msgpack_sbuffer *buf = thread_buf();
    if (!buf)
        return NULL;
    const char *kernel = j->kernel ? j->kernel : "";
    fleet_msg m = {.type = FLEET_TASK,
                   .u.task = {.task_id = id,
                              .attempt = j->attempt,
                              .resource = (char *)(j->resource ? j->resource : ""),
                              .kernel = (char *)kernel,
                              .input = (char *)(j->input ? j->input : ""),
                              .timeout_ms = j->timeout_ms,
                              .heartbeat_ms = j->heartbeat_ms,
                              .requirements = j->req}};
    buf->size = 0;
    sf_rc rc = fleet_msg_encode(&m, buf); /* checks every limit first */
    if (rc != SF_OK) {
        *refused = rc != SF_ENOMEM;
        if (*refused)
            fleet_msg_check(&m, err, errlen);
        return NULL;
    }
    fjob *fj = malloc(sizeof *fj + buf->size);
    if (!fj)
        return NULL;
    memset(fj, 0, sizeof *fj);
    fj->id = id;
    fj->ref = j->ref;
    fj->req = j->req;
    size_t flen = strcspn(kernel, ":");
    if (flen >= sizeof fj->family)
        flen = sizeof fj->family - 1; /* the encoder refused longer kernels already */
    memcpy(fj->family, kernel, flen);
    fj->family[flen] = '\0';
    fj->wire = (unsigned char *)(fj + 1);
    fj->wire_len = buf->size;
    memcpy(fj->wire, buf->data, buf->size);
    return fj;
}

uint64_t fleet_submit(fleet *f, const fleet_job *j, char *err, size_t errlen)
{
    pthread_mutex_lock(&f->mu);
    uint64_t id = f->stopping ? 0 : f->next_id++;
    pthread_mutex_unlock(&f->mu);
    if (!id) {
        snprintf(err, errlen, "the fleet is shutting down");
        return 0;
    }
    char why[512] = "";
    bool refused;
    fjob *fj = make_job(j, id, why, sizeof why, &refused);
    if (!fj) {
        snprintf(err, errlen, "the task cannot be sent to a worker: %s",
                 refused ? why : "out of memory");
        return 0;
    }
    fj->queued_ms = sf_monotonic_ms();
    pthread_mutex_lock(&f->mu);
    bool was_empty = !f->inbox_head;
    if (f->inbox_tail)
        f->inbox_tail->next = fj;
    else
        f->inbox_head = fj;
    f->inbox_tail = fj;
    f->stats.submitted++;
    pthread_mutex_unlock(&f->mu);
    if (was_empty)
        wake(f);
    return id;
}

void fleet_withdraw(fleet *f, uint64_t id, const char *why)
{
    if (!id)
        return;
    pthread_mutex_lock(&f->mu);
    if (f->ncancels == f->capcancels) {
        size_t cap = f->capcancels ? f->capcancels * 2 : 16;
        fcancel *grown = realloc(f->cancels, cap * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&f->mu);
            return; /* the task runs on; its answer is ignored by the caller */
        }
        f->cancels = grown;
        f->capcancels = cap;
    }
    fcancel *c = &f->cancels[f->ncancels++];
    c->id = id;
    snprintf(c->why, sizeof c->why, "%s", why ? why : "cancelled");
    bool first = f->ncancels == 1 && !f->inbox_head;
    pthread_mutex_unlock(&f->mu);
    if (first)
        wake(f);
}

size_t fleet_workers(fleet *f, fleet_worker_info *out, size_t max)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->nsnap;
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = f->snap[i];
    pthread_mutex_unlock(&f->mu);
    return n;
}

void fleet_get_stats(fleet *f, fleet_stats *out)
{
    pthread_mutex_lock(&f->mu);
    *out = f->stats;
    pthread_mutex_unlock(&f->mu);
}
