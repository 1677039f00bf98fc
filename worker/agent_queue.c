/* worker/agent_queue.c - reports from kernel threads to the I/O thread.
 *
 * A mutex-protected FIFO and an eventfd. The eventfd is written only when
 * the queue goes from empty to not empty: the I/O thread clears it before
 * taking the whole queue, so a report queued after the take finds the
 * queue empty and wakes it again, and a burst costs one wake. */
#define _GNU_SOURCE
#include "worker/agent_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

sf_rc wk_queue_init(wk_queue *q)
{
    q->head = q->tail = NULL;
    q->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->fd < 0)
        return SF_EIO;
    if (pthread_mutex_init(&q->lock, NULL) != 0) {
        close(q->fd);
        q->fd = -1;
        return SF_ENOMEM;
    }
    return SF_OK;
}

void wk_queue_cleanup(wk_queue *q)
{
    if (q->fd < 0)
        return;
    for (wk_event *e = wk_queue_take(q), *next; e; e = next) {
        next = e->next;
        if (e->kind == WK_EV_DONE)
            wk_task_free(e->task); /* the event is inside the task */
        else
            free((wk_report *)e); /* e is the report's first member */
    }
    pthread_mutex_destroy(&q->lock);
    close(q->fd);
    q->fd = -1;
}

void wk_queue_wake(wk_queue *q)
{
    uint64_t one = 1;
    int saved = errno; /* may run in a signal handler */
    ssize_t w = write(q->fd, &one, sizeof one);
    (void)w; /* EAGAIN: the counter is already set, which is all we need */
    errno = saved;
}

static void append(wk_queue *q, wk_event *e)
{
    e->next = NULL;
    if (q->tail)
        q->tail->next = e;
    else
        q->head = e;
    q->tail = e;
}

void wk_queue_push2(wk_queue *q, wk_event *a, wk_event *b)
{
    pthread_mutex_lock(&q->lock);
    bool was_empty = q->head == NULL;
    if (a)
        append(q, a);
    if (b)
        append(q, b);
    pthread_mutex_unlock(&q->lock);
    if (was_empty && (a || b))
        wk_queue_wake(q);
}

wk_event *wk_queue_take(wk_queue *q)
{
    uint64_t count;
    ssize_t r = read(q->fd, &count, sizeof count);
    (void)r; /* EAGAIN: no wake pending */
    pthread_mutex_lock(&q->lock);
    wk_event *all = q->head;
    q->head = q->tail = NULL;
    pthread_mutex_unlock(&q->lock);
    return all;
}
