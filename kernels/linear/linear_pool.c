/* kernels/linear/linear_pool.c - threads that split each mini-batch.
 *
 * A mini-batch is too small (1000 × 100 floats by default) for a thread
 * per batch to pay off, and OpenBLAS does not split products that small
 * among its own threads. So a few threads are started once per training
 * job and woken per batch; each computes the gradient of its share of the
 * rows, and the caller sums them. Waking takes microseconds; the batch
 * takes tens of them. */
#include <pthread.h>
#include <stdlib.h>

#include "linear.h"

#define POOL_MAX 16

struct ll_pool {
    pthread_t th[POOL_MAX];
    size_t threads; /* workers + the caller */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint64_t gen;   /* bumped per run; a worker runs once per value */
    size_t pending; /* workers still running this generation */
    bool stop;
    void (*fn)(void *arg, size_t part);
    void *arg;
};

typedef struct pool_worker {
    ll_pool *p;
    size_t part;
} pool_worker;

static void *worker(void *a)
{
    pool_worker *w = a;
    ll_pool *p = w->p;
    size_t part = w->part;
    free(w);
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->stop)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->stop)
            break;
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        p->fn(p->arg, part);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

ll_pool *ll_pool_new(size_t threads)
{
    if (threads < 2)
        return NULL;
    if (threads > POOL_MAX)
        threads = POOL_MAX;
    ll_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = 1;
    for (size_t i = 1; i < threads; i++) {
        pool_worker *w = malloc(sizeof *w);
        if (!w)
            break;
        w->p = p;
        w->part = i;
        if (pthread_create(&p->th[i], NULL, worker, w) != 0) {
            free(w);
            break;
        }
        p->threads++;
    }
    if (p->threads < 2)
        ll_pool_destroy(&p);
    return p;
}

void ll_pool_run(ll_pool *p, void (*fn)(void *arg, size_t part), void *arg)
{
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->pending = p->threads - 1;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    fn(arg, 0);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void ll_pool_destroy(ll_pool **pp)
{
    if (!pp || !*pp)
        return;
    ll_pool *p = *pp;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 1; i < p->threads; i++)
        pthread_join(p->th[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    free(p);
    *pp = NULL;
}
