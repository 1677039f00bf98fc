/* kernels/kmeans/kmeans_blas.c - nearest-centre assignment on OpenBLAS.
 *
 * ||x - c||² = ||x||² - 2 x·c + ||c||²: the middle term for a tile of
 * rows against every centre is one SGEMM, (T,d) · (d,k); the argmin then
 * adds ||c||² (||x||² does not change which centre wins, so it is added
 * to the winner only, and only then is the tile's ||x||² computed, while
 * the tile is still in cache).
 *
 * Both cores: the rows are split into one contiguous shard per core, each
 * run by its own thread. Each thread's SGEMM calls are kept small enough
 * (T·k·d <= 2^18) that OpenBLAS runs them on the calling thread instead
 * of waking its pool: OpenBLAS serialises level-3 calls that would each
 * use its pool, and one (T,d)·(d,k) product with a small k is too thin
 * for the pool to pay anyway. When k·d is so large that such a tile would
 * be a handful of rows, one thread runs big tiles and OpenBLAS threads
 * each product instead.
 *
 * Float32 throughout: the expansion cancels when points lie far from the
 * origin relative to their spread, so distances carry an absolute error
 * of about 1e-6·(||x||² + ||c||²); they are clamped at 0. */
#define _GNU_SOURCE
#include "kmeans.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

enum {
    SMALL_GEMM = 1 << 18,      /* T·k·d at or below which OpenBLAS stays on our thread */
    MIN_SHARD_TILE = 128,      /* fewer rows than this per tile: let OpenBLAS thread it */
    WIDE_TILE = 1024,          /* rows per tile for wide centres, OpenBLAS at one thread */
    BIG_TILE_FLOATS = 1 << 20, /* the T×k scratch when OpenBLAS threads (4 MiB) */
    MAX_THREADS = 64,
};

typedef struct shard {
    const kn_matrix *X, *C;
    const float *c_norm; /* k */
    size_t r0, r1, tile;
    uint32_t *closest;
    float *dist2;
    bool ok;
} shard;

static void assign_tiles(shard *s)
{
    const size_t k = s->C->rows, d = s->X->cols;
    float *dot = malloc(s->tile * k * sizeof *dot);
    if (!dot) {
        s->ok = false;
        return;
    }
    for (size_t r = s->r0; r < s->r1; r += s->tile) {
        size_t m = s->r1 - r < s->tile ? s->r1 - r : s->tile;
        const float *x = kn_row(s->X, r);
        /* dot = -2 · X_tile · Cᵀ, (m,k) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)k, (int)d, -2.0f, x,
                    (int)d, s->C->data, (int)d, 0.0f, dot, (int)k);
        for (size_t i = 0; i < m; i++) {
            const float *row = dot + i * k;
            float best = row[0] + s->c_norm[0];
            uint32_t best_j = 0;
            for (size_t j = 1; j < k; j++) {
                float v = row[j] + s->c_norm[j];
                if (v < best) {
                    best = v;
                    best_j = (uint32_t)j;
                }
            }
            const float *xi = x + i * d;
            float xx = 0;
            for (size_t f = 0; f < d; f++)
                xx += xi[f] * xi[f];
            float d2 = xx + best;
            s->closest[r + i] = best_j;
            s->dist2[r + i] = d2 > 0 ? d2 : 0;
        }
    }
    free(dot);
    s->ok = true;
}

static void *shard_main(void *arg)
{
    assign_tiles(arg);
    return NULL;
}

static size_t cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (size_t)n;
}

sf_rc kn_kmeans_assign_blas(const kn_matrix *X, const kn_matrix *C, uint32_t *closest, float *dist2,
                            kn_err *err)
{
    const size_t n = X->rows, d = X->cols, k = C->rows;
    if (d != C->cols || k == 0)
        return kn_fail(err, SF_EINVAL,
                       "AlgorithmError: kmeans.assign: %zu columns against %zu "
                       "centres of %zu",
                       d, k, C->cols);
    if (n == 0)
        return SF_OK;
    float *c_norm = malloc(k * sizeof *c_norm);
    if (!c_norm)
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory for %zu centres", k);
    for (size_t j = 0; j < k; j++) {
        const float *c = kn_row(C, j);
        float s = 0;
        for (size_t f = 0; f < d; f++)
            s += c[f] * c[f];
        c_norm[j] = s;
    }

    size_t small_tile = SMALL_GEMM / (k * d > 0 ? k * d : 1);
    size_t nthreads = cores();
    shard sh[MAX_THREADS];
    size_t used = 1;
    int blas_before = -1;
    if (small_tile < MIN_SHARD_TILE && nthreads > 1 && n >= 2 * WIDE_TILE) {
        /* Wide centres: tiles big enough for GEMM to run near its peak,
         * one shard per core, each GEMM on its own thread. OpenBLAS would
         * send calls this big to its shared pool, where the two shards'
         * calls queue behind each other; with it at one thread they run
         * side by side, and the argmin after each is parallel too. The
         * setting is process-wide (OpenBLAS has no per-call one), so it
         * is restored at once. */
        blas_before = openblas_get_num_threads();
        openblas_set_num_threads(1);
        small_tile = WIDE_TILE;
    }
    if (small_tile >= MIN_SHARD_TILE && nthreads > 1 && n >= 2 * small_tile) {
        used = nthreads;
        if (used > n / small_tile)
            used = n / small_tile;
        for (size_t t = 0; t < used; t++)
            sh[t] = (shard){X,          C,       c_norm, n * t / used, n * (t + 1) / used,
                            small_tile, closest, dist2,  false};
    } else {
        size_t tile = small_tile >= MIN_SHARD_TILE ? small_tile : BIG_TILE_FLOATS / k;
        sh[0] = (shard){X, C, c_norm, 0, n, tile ? tile : 1, closest, dist2, false};
    }

    pthread_t th[MAX_THREADS];
    size_t started = 1; /* shard 0 runs on this thread */
    for (size_t t = 1; t < used; t++, started++)
        if (pthread_create(&th[t], NULL, shard_main, &sh[t]) != 0)
            break;
    assign_tiles(&sh[0]);
    for (size_t t = 1; t < started; t++)
        pthread_join(th[t], NULL);
    for (size_t t = started; t < used; t++) /* threads we could not start */
        assign_tiles(&sh[t]);
    if (blas_before > 0)
        openblas_set_num_threads(blas_before);
    free(c_norm);
    for (size_t t = 0; t < used; t++)
        if (!sh[t].ok)
            return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory assigning %zu rows", n);
    return SF_OK;
}
