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

#define DRAIN_MAX 4096 /* messages handled between looks at the inbox */

int64_t fleet_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fleet_log(fleet *f, const char *fmt, ...)
{
    if (f->cfg.quiet)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "statefleet-coordinator: fleet: %s\n", line);
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

static void *fleet_main(void *arg)
{
    fleet *f = arg;
    zmq_pollitem_t items[2] = {{.socket = f->raw, .events = ZMQ_POLLIN},
                               {.fd = f->wake_fd, .events = ZMQ_POLLIN}};
    int64_t period = f->cfg.heartbeat_ms / 2 ? f->cfg.heartbeat_ms / 2 : 1;
    int64_t next_tick = fleet_now_ms() + period;
    for (;;) {
        int64_t now = fleet_now_ms();
        long timeout = next_tick > now ? (long)(next_tick - now) : 0;
        if (zmq_poll(items, 2, timeout) < 0 && errno != EINTR)
            break;
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
        now = fleet_now_ms();
        if (now >= next_tick) {
            fleet_tick(f, now);
            fleet_expire_unplaceable(f, now);
            fleet_place(f);
            next_tick = now + period;
        }
        publish_stats(f);
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
        snprintf(err, errlen, "CURVE needs both the coordinator's secret key file and the "
                              "directory of authorised worker keys");
        return SF_EINVAL;
    }
    sf_rc rc = sf_curve_load_secret(f->cfg.key_file, &f->cert, err, errlen);
    if (rc != SF_OK)
        return rc;
    rc = sf_curve_server(f->router, f->cert, f->cfg.authorised_dir, &f->auth, err, errlen);
    if (rc == SF_OK)
        f->curve = true;
    return rc;
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
    free(j->wire);
    free(j);
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

static fjob *make_job(const fleet_job *j, uint64_t id, char *err, size_t errlen)
{
    fjob *fj = calloc(1, sizeof *fj);
    if (!fj)
        return NULL;
    fj->id = id;
    fj->ref = j->ref;
    fj->req = j->req;
    const char *kernel = j->kernel ? j->kernel : "";
    size_t flen = strcspn(kernel, ":");
    snprintf(fj->family, sizeof fj->family, "%.*s", (int)flen, kernel);
    fleet_msg m = {.type = FLEET_TASK,
                   .u.task = {.task_id = id,
                              .attempt = j->attempt,
                              .resource = (char *)(j->resource ? j->resource : ""),
                              .kernel = (char *)kernel,
                              .input = (char *)(j->input ? j->input : ""),
                              .timeout_ms = j->timeout_ms,
                              .heartbeat_ms = j->heartbeat_ms,
                              .requirements = j->req}};
    if (fleet_msg_check(&m, err, errlen) != SF_OK)
        return fj; /* no wire: refused below */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (fleet_msg_encode(&m, &sb) != SF_OK) {
        msgpack_sbuffer_destroy(&sb);
        free(fj);
        return NULL;
    }
    fj->wire = (unsigned char *)sb.data; /* the job owns the buffer now */
    fj->wire_len = sb.size;
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
    fjob *fj = make_job(j, id, why, sizeof why);
    if (!fj || !fj->wire) {
        snprintf(err, errlen, "the task cannot be sent to a worker: %s",
                 fj ? why : "out of memory");
        free(fj);
        return 0;
    }
    fj->queued_ms = fleet_now_ms();
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
