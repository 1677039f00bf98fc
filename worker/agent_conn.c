/* worker/agent_conn.c - the socket and the session with the coordinator.
 *
 * Each connection is a new DEALER socket and a new fleet_session, starting
 * with a hello: the coordinator keys a worker by its socket, so a fresh
 * socket is a fresh registration, and nothing of a lost session (queued
 * frames, task ids) can leak into the next. Every frame in and out passes
 * the session's order checks; a frame that fails to decode or comes out of
 * order is logged and dropped, never acted on.
 *
 * The hot path is wk_conn_recv_all: it drains every frame the socket holds
 * (up to a batch cap, so reports and timers still get their turn) into one
 * reused zmq_msg_t, and answers through one reused msgpack buffer. */
#define _GNU_SOURCE
#include "worker/agent_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sf_curve.h"

#define RECV_BATCH 4096      /* frames handled per wake before looking at the queue */
#define HWM_MAX 1000000      /* frames queued per direction, at most */
#define SEND_TIMEOUT_MS 1000 /* a coordinator that stops reading loses frames, not us */

bool wk_conn_ready(const wk_agent *a)
{
    return a->raw && a->state == WK_CONN_READY;
}

static bool send_frame(wk_agent *a, const fleet_msg *m)
{
    a->sbuf.size = 0;
    if (fleet_msg_encode(m, &a->sbuf) != SF_OK) {
        char err[256];
        fleet_msg_check(m, err, sizeof err);
        wk_log(a, true, "not sending a %s: %s", fleet_msg_type_name(m->type),
               err[0] ? err : "out of memory");
        return false;
    }
    while (zmq_send(a->raw, a->sbuf.data, a->sbuf.size, 0) < 0) {
        if (errno == EINTR)
            continue;
        wk_log(a, true, "could not send a %s to %s: %s", fleet_msg_type_name(m->type), a->endpoint,
               zmq_strerror(errno));
        return false;
    }
    return true;
}

bool wk_conn_send_raw(wk_agent *a, const fleet_msg *m)
{
    return a->raw && send_frame(a, m);
}

bool wk_conn_send(wk_agent *a, const fleet_msg *m)
{
    if (!a->raw)
        return false;
    char err[256];
    if (fleet_session_accept(&a->session, FLEET_FROM_WORKER, m, err, sizeof err) != SF_OK) {
        wk_log(a, true, "not sending a %s: %s", fleet_msg_type_name(m->type), err);
        return false;
    }
    return send_frame(a, m);
}

void wk_conn_close(wk_agent *a, int linger_ms)
{
    if (a->sock) {
        zmq_setsockopt(a->raw, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
        zsock_destroy(&a->sock);
    }
    a->raw = NULL;
    fleet_session_cleanup(&a->session);
    a->state = WK_CONN_BACKOFF;
}

/* A wait drawn from [100 ms, 100 ms * 2^step], capped at 2 s: spread out so
 * that a fleet restarting at once does not knock in step. */
static void back_off(wk_agent *a, uint64_t now)
{
    wk_conn_close(a, 0);
    uint64_t ceiling = (uint64_t)WK_BACKOFF_MIN_MS << (a->backoff_step < 5 ? a->backoff_step : 5);
    if (ceiling > WK_BACKOFF_MAX_MS)
        ceiling = WK_BACKOFF_MAX_MS;
    if (a->backoff_step < 16)
        a->backoff_step++;
    uint64_t wait = WK_BACKOFF_MIN_MS + (uint64_t)random() % (ceiling - WK_BACKOFF_MIN_MS + 1);
    a->until_ns = now + wait * 1000000u;
    wk_log(a, false, "trying %s again in %llu ms", a->endpoint, (unsigned long long)wait);
}

/* A setting that cannot work: retrying would not change it. */
static void fail(wk_agent *a, const char *why)
{
    wk_log(a, true, "%s", why);
    wk_conn_close(a, 0);
    a->exit = WK_AGENT_FAILED;
    a->done = true;
}

void wk_conn_open(wk_agent *a, uint64_t now)
{
    a->sock = zsock_new(ZMQ_DEALER);
    if (!a->sock) {
        wk_log(a, true, "cannot create a socket: %s", zmq_strerror(errno));
        back_off(a, now);
        return;
    }
    a->raw = zsock_resolve(a->sock);
    int zero = 0, timeout = SEND_TIMEOUT_MS;
    zmq_setsockopt(a->raw, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(a->raw, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    /* A pipelining coordinator keeps up to max tasks in flight, each
     * answered once (plus progress and heartbeats): room for that both ways,
     * so a burst is never dropped at a full pipe. */
    uint64_t room = (uint64_t)a->max_tasks * 2 + 1000;
    int hwm = room > HWM_MAX ? HWM_MAX : (int)room;
    zmq_setsockopt(a->raw, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(a->raw, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (a->cert) {
        char err[256], why[320];
        if (sf_curve_client(a->sock, a->cert, a->server_cert, err, sizeof err) != SF_OK) {
            snprintf(why, sizeof why, "cannot set up CURVE: %s", err);
            return fail(a, why);
        }
    }
    if (zsock_connect(a->sock, "%s", a->endpoint) != 0) {
        char why[4200];
        snprintf(why, sizeof why, "cannot connect to --coordinator %s: %s", a->endpoint,
                 zmq_strerror(errno));
        return fail(a, why);
    }
    fleet_session_init(&a->session);
    fleet_msg hello = {.type = FLEET_HELLO};
    hello.u.hello = a->hello;
    if (!wk_conn_send(a, &hello)) {
        back_off(a, now);
        return;
    }
    a->state = WK_CONN_WELCOMING;
    a->until_ns = now + (uint64_t)WK_WELCOME_TIMEOUT_MS * 1000000u;
    a->last_rx_ns = now;
}

void wk_conn_timers(wk_agent *a, uint64_t now)
{
    switch (a->state) {
    case WK_CONN_BACKOFF:
        if (now >= a->until_ns && !a->stopping && !a->done)
            wk_conn_open(a, now);
        break;
    case WK_CONN_WELCOMING:
        if (now >= a->until_ns) {
            wk_log(a, true, "no welcome from %s within %d ms", a->endpoint, WK_WELCOME_TIMEOUT_MS);
            back_off(a, now);
        }
        break;
    case WK_CONN_READY: {
        uint64_t silence = now - a->last_rx_ns, limit = (uint64_t)a->grace * a->hb_ms * 1000000u;
        if (silence >= limit) {
            wk_log(a, true,
                   "coordinator %s lost: nothing from it for %llu ms (%u heartbeats); "
                   "cancelling %zu tasks and saying hello again",
                   a->endpoint, (unsigned long long)(silence / 1000000u), a->grace, a->tasks.live);
            wk_tasks_cancel_all(a, WK_CANCEL_LOST);
            wk_conn_close(a, 0);
            if (!a->stopping)
                wk_conn_open(a, now);
            break;
        }
        if (now >= a->next_hb_ns) {
            fleet_msg hb = {.type = FLEET_HEARTBEAT};
            hb.u.heartbeat = (fleet_heartbeat){.seq = ++a->hb_seq, .load = (uint32_t)a->tasks.live};
            wk_conn_send(a, &hb);
            a->next_hb_ns = now + (uint64_t)a->hb_ms * 1000000u;
        }
        break;
    }
    }
}

int wk_conn_poll_ms(const wk_agent *a, uint64_t now)
{
    uint64_t due = a->until_ns;
    if (a->state == WK_CONN_READY) {
        uint64_t lost = a->last_rx_ns + (uint64_t)a->grace * a->hb_ms * 1000000u;
        due = a->next_hb_ns < lost ? a->next_hb_ns : lost;
    }
    if (due <= now)
        return 0;
    uint64_t ms = (due - now + 999999u) / 1000000u;
    return ms > 1000 ? 1000 : (int)ms;
}

static void on_welcome(wk_agent *a, const fleet_welcome *w, uint64_t now)
{
    a->state = WK_CONN_READY;
    a->backoff_step = 0;
    a->hb_ms = w->heartbeat_ms;
    a->next_hb_ns = now + (uint64_t)a->hb_ms * 1000000u;
    wk_log(a, false, "welcomed by %s: session %s, heartbeat every %u ms", a->endpoint,
           w->session_id, w->heartbeat_ms);
}

static void on_refuse(wk_agent *a, const fleet_refuse *r, uint64_t now)
{
    wk_log(a, true, "the coordinator at %s refused this worker: %s", a->endpoint, r->reason);
    if (a->retry_refused && !a->stopping) {
        back_off(a, now);
        return;
    }
    wk_conn_close(a, 0);
    a->exit = WK_AGENT_REFUSED;
    a->done = true;
}

/* Whether the session refused a task only because the worker is full: the
 * one refusal worth answering, so the coordinator's Retry can act. */
static bool over_capacity(const wk_agent *a, const fleet_msg *m)
{
    return m->type == FLEET_TASK && a->session.welcomed && !a->session.refused &&
           a->session.n_open >= a->session.max_tasks && !sf_hmap_getu(&a->tasks, m->u.task.task_id);
}

static void handle_frame(wk_agent *a, const void *data, size_t len, uint64_t now)
{
    fleet_msg *m = &a->msg;
    char err[256];
    if (fleet_msg_decode(data, len, m, err, sizeof err) != SF_OK) {
        wk_log(a, true, "dropped a malformed frame of %zu bytes from %s: %s", len, a->endpoint,
               err);
        return;
    }
    if (fleet_session_accept(&a->session, FLEET_FROM_COORDINATOR, m, err, sizeof err) != SF_OK) {
        if (over_capacity(a, m))
            wk_tasks_refused(a, &m->u.task, err);
        else if (m->type != FLEET_CANCEL) /* a cancel crossing our answer is normal */
            wk_log(a, true, "dropped a %s from %s: %s", fleet_msg_type_name(m->type), a->endpoint,
                   err);
        fleet_msg_clear(m);
        return;
    }
    switch (m->type) {
    case FLEET_WELCOME:
        on_welcome(a, &m->u.welcome, now);
        break;
    case FLEET_REFUSE:
        on_refuse(a, &m->u.refuse, now);
        break;
    case FLEET_TASK:
        wk_tasks_take(a, &m->u.task);
        break;
    case FLEET_CANCEL:
        wk_tasks_cancel(a, m->u.cancel.task_id, m->u.cancel.reason);
        break;
    default: /* heartbeat: its arrival is all that counts */
        break;
    }
    fleet_msg_clear(m);
}

void wk_conn_recv_all(wk_agent *a, uint64_t now)
{
    for (int i = 0; i < RECV_BATCH && a->raw; i++) {
        if (zmq_msg_recv(&a->rx, a->raw, ZMQ_DONTWAIT) < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                wk_log(a, true, "receive from %s failed: %s", a->endpoint, zmq_strerror(errno));
            break;
        }
        a->last_rx_ns = now;
        handle_frame(a, zmq_msg_data(&a->rx), zmq_msg_size(&a->rx), now);
    }
}
