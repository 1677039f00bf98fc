/* service/svc_timer.c - waits, retry delays and timeouts come due.
 *
 * A min-heap of (deadline, execution) drives one thread. Entries are not
 * removed when an execution's deadline moves: a stale entry is recognised
 * when it pops (the execution is gone, or armed for another time) and
 * dropped, which keeps re-arming O(log n) and free of searches. */
#include "svc_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "../../common/sf_grow.h"

static void heap_push(svc *s, timer_ent t)
{
    if (sf_grow((void **)&s->heap, &s->capheap, s->nheap + 1, sizeof *s->heap, 64, SIZE_MAX / 64) !=
        SF_OK)
        abort(); /* see svc_core.c: no half-recorded changes */
    size_t i = s->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (s->heap[p].at <= t.at)
            break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = t;
}

static timer_ent heap_pop(svc *s)
{
    timer_ent top = s->heap[0], last = s->heap[--s->nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->nheap)
            break;
        if (c + 1 < s->nheap && s->heap[c + 1].at < s->heap[c].at)
            c++;
        if (s->heap[c].at >= last.at)
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->nheap > 0)
        s->heap[i] = last;
    return top;
}

void svc_timer_arm(svc *s, svc_exec *x)
{
    int64_t at = asl_exec_next_deadline(x->e);
    if (at == x->armed)
        return;
    x->armed = at;
    if (at == INT64_MAX)
        return;
    bool earliest = s->nheap == 0 || at < s->heap[0].at;
    heap_push(s, (timer_ent){.at = at, .exec_id = x->id});
    if (earliest)
        pthread_cond_signal(&s->timer_cv);
}

void *svc_timer_main(void *arg)
{
    svc *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        int64_t now = svc_now_ms();
        if (s->nheap == 0) {
            pthread_cond_wait(&s->timer_cv, &s->mu);
            continue;
        }
        if (s->heap[0].at > now) {
            int64_t at = s->heap[0].at;
            struct timespec ts = {.tv_sec = at / 1000, .tv_nsec = (at % 1000) * 1000000};
            pthread_cond_timedwait(&s->timer_cv, &s->mu, &ts);
            continue;
        }
        timer_ent t = heap_pop(s);
        svc_exec *x = sf_hmap_getu(&s->execs, (uint64_t)t.exec_id);
        if (!x || x->armed != t.at)
            continue; /* stale */
        x->armed = INT64_MAX;
        svc_drive(s, x, &(svc_input){.kind = STORE_IN_TICK, .now_ms = now});
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}
