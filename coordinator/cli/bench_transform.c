/* cli/bench_transform.c - `statefleet bench transform` (see bench_transform.h).
 *
 * Runs kernels/transform over one data file with the responses computed
 * and discarded (so the disk is not measured), repeating it for --seconds,
 * and prints records/s, MB/s of input, mini-batch latency percentiles and
 * per-core figures, together with the machine's memory bandwidth (a STREAM
 * triad over buffers far larger than any cache, on as many threads) taken
 * in the same run: a transform near that bandwidth is as fast as this
 * machine can go. */
#define _GNU_SOURCE
#include "bench_transform.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <jansson.h>

#include "kernels/kn_model.h"
#include "kernels/transform/kn_transform.h"

#define LATENCIES_MAX (1u << 22) /* mini-batches kept for percentiles */
#define TRIAD_BYTES (64u << 20)  /* per array: three of them, 192 MiB */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: statefleet bench transform --model PATH --data FILE\n"
                "           [--content-type T] [--accept T] [--split-type S]\n"
                "           [--batch-strategy S] [--max-payload MB] [--threads N]\n"
                "           [--seconds S] [--json]\n"
                "Runs batch transform over FILE (responses discarded), for S seconds when\n"
                "given, and prints its throughput next to this machine's memory bandwidth.\n");
}

/* ---- memory bandwidth: a STREAM triad ------------------------------------ */

typedef struct triad_part {
    double *a, *b, *c;
    size_t lo, hi;
} triad_part;

static void *triad_main(void *arg)
{
    triad_part *p = arg;
    for (size_t i = p->lo; i < p->hi; i++)
        p->a[i] = p->b[i] + 3.0 * p->c[i];
    return NULL;
}

/* a = b + s*c on threads threads, best of 5: bytes moved (24 per element,
 * STREAM's count) per second. 0 when memory is short. */
static double triad_gbps(unsigned threads)
{
    size_t n = TRIAD_BYTES / sizeof(double);
    double *a = malloc(TRIAD_BYTES), *b = malloc(TRIAD_BYTES), *c = malloc(TRIAD_BYTES);
    triad_part *parts = calloc(threads, sizeof *parts);
    pthread_t *tid = calloc(threads, sizeof *tid);
    double best = 0;
    if (a && b && c && parts && tid) {
        for (size_t i = 0; i < n; i++) { /* touch every page before timing */
            a[i] = 0;
            b[i] = 1;
            c[i] = 2;
        }
        for (unsigned t = 0; t < threads; t++)
            parts[t] = (triad_part){a, b, c, n * t / threads, n * (t + 1) / threads};
        for (int rep = 0; rep < 5; rep++) {
            double t0 = now_s();
            unsigned started = 0;
            for (; started < threads; started++)
                if (pthread_create(&tid[started], NULL, triad_main, &parts[started]) != 0)
                    break;
            for (unsigned t = 0; t < started; t++)
                pthread_join(tid[t], NULL);
            for (unsigned t = started; t < threads; t++)
                triad_main(&parts[t]);
            double gbps = 3.0 * TRIAD_BYTES / (now_s() - t0) / 1e9;
            if (gbps > best)
                best = gbps;
        }
    }
    free(a);
    free(b);
    free(c);
    free(parts);
    free(tid);
    return best;
}

/* ---- mini-batch latencies ---------------------------------------------------- */

typedef struct latencies {
    pthread_mutex_t mu;
    double *s;
    size_t n;
} latencies;

static void on_batch(void *ctx, uint64_t records, size_t bytes, double seconds)
{
    latencies *l = ctx;
    pthread_mutex_lock(&l->mu);
    if (l->n < LATENCIES_MAX)
        l->s[l->n++] = seconds;
    pthread_mutex_unlock(&l->mu);
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const latencies *l, double q)
{
    if (l->n == 0)
        return 0;
    size_t i = (size_t)ceil(q * (double)l->n) - 1;
    return l->s[i < l->n ? i : l->n - 1];
}

/* ---- the command ------------------------------------------------------------------ */

typedef struct bench_args {
    const char *model, *data;
    kn_transform_opts o;
    double seconds;
    bool json;
} bench_args;

static int parse_args(int argc, char **argv, bench_args *a)
{
    if (argc < 1 || strcmp(argv[0], "transform") != 0) {
        fprintf(stderr, "statefleet bench: the only bench is 'transform'\n");
        usage(stderr);
        return 2;
    }
    a->o.split_type = "Line";
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (strcmp(k, "--json") == 0) {
            a->json = true;
            continue;
        }
        if (strcmp(k, "--help") == 0) {
            usage(stdout);
            return -1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "statefleet bench transform: %s needs a value\n", k);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(k, "--model") == 0)
            a->model = v;
        else if (strcmp(k, "--data") == 0)
            a->data = v;
        else if (strcmp(k, "--content-type") == 0)
            a->o.content_type = v;
        else if (strcmp(k, "--accept") == 0)
            a->o.accept = v;
        else if (strcmp(k, "--split-type") == 0)
            a->o.split_type = v;
        else if (strcmp(k, "--batch-strategy") == 0)
            a->o.batch_strategy = v;
        else if (strcmp(k, "--max-payload") == 0)
            a->o.max_payload_mb = atoi(v);
        else if (strcmp(k, "--threads") == 0)
            a->o.threads = (unsigned)atoi(v);
        else if (strcmp(k, "--seconds") == 0)
            a->seconds = atof(v);
        else {
            fprintf(stderr, "statefleet bench transform: unknown option %s\n", k);
            usage(stderr);
            return 2;
        }
    }
    if (!a->model || !a->data) {
        fprintf(stderr, "statefleet bench transform: --model and --data are required\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

static void print_text(const bench_args *a, const kn_transform_stats *st, unsigned threads,
                       const latencies *l, double triad1, double triadn)
{
    double rps = (double)st->records / st->seconds, mbps = (double)st->bytes_in / st->seconds / 1e6;
    printf("transform %s (%llu records, %.1f MB, %u predict threads, %llu mini-batches, "
           "%.2f s)\n",
           a->data, (unsigned long long)st->records, (double)st->bytes_in / 1e6, threads,
           (unsigned long long)st->batches, st->seconds);
    printf("  throughput        %12.0f records/s  %9.1f MB/s\n", rps, mbps);
    printf("  per core          %12.0f records/s  %9.1f MB/s\n", rps / threads, mbps / threads);
    printf("  mini-batch        p50 %.2f ms  p99 %.2f ms\n", percentile(l, 0.50) * 1e3,
           percentile(l, 0.99) * 1e3);
    printf("  memory bandwidth  %.1f GB/s (STREAM triad, %u threads); %.1f GB/s on 1 thread\n",
           triadn, threads, triad1);
    printf("  transform / bandwidth  %.1f%%\n", triadn > 0 ? 100.0 * mbps / 1e3 / triadn : 0.0);
}

static void print_json(const bench_args *a, const kn_transform_stats *st, unsigned threads,
                       const latencies *l, double triad1, double triadn)
{
    double rps = (double)st->records / st->seconds, mbps = (double)st->bytes_in / st->seconds / 1e6;
    json_t *o = json_pack(
        "{s:s,s:s,s:I,s:I,s:I,s:f,s:i,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "model", a->model, "data",
        a->data, "records", (json_int_t)st->records, "bytes", (json_int_t)st->bytes_in, "batches",
        (json_int_t)st->batches, "seconds", st->seconds, "threads", (int)threads, "records_per_s",
        rps, "mb_per_s", mbps, "records_per_s_per_core", rps / threads, "mb_per_s_per_core",
        mbps / threads, "batch_p50_ms", percentile(l, 0.50) * 1e3, "batch_p99_ms",
        percentile(l, 0.99) * 1e3, "memory_gb_per_s", triadn, "memory_gb_per_s_1thread", triad1);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(o);
}

int cmd_bench(int argc, char **argv)
{
    bench_args a = {0};
    int code = parse_args(argc, argv, &a);
    if (code)
        return code < 0 ? 0 : code;
    kn_err err = {{0}};
    kn_model *m = NULL;
    /* The transform's predict threads are the parallelism: BLAS threads
     * inside each would only fight them for the same cores. */
    openblas_set_num_threads(1);
    if (kn_model_load(a.model, &m, &err) != SF_OK) {
        fprintf(stderr, "statefleet bench transform: %s: %s\n", a.model, err.msg);
        return 1;
    }
    latencies lat = {.s = malloc(LATENCIES_MAX * sizeof(double))};
    pthread_mutex_init(&lat.mu, NULL);
    a.o.on_batch = on_batch;
    a.o.on_batch_ctx = &lat;
    kn_transform_job *job = NULL;
    kn_transform_stats st = {0};
    sf_rc rc = lat.s ? kn_transform_job_new(m, &a.o, &job, &err) : SF_ENOMEM;
    unsigned threads = a.o.threads;
    if (!threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    /* Once, then again until --seconds have passed. */
    double t0 = now_s();
    while (rc == SF_OK) {
        rc = kn_transform_file(job, a.data, NULL, &st, &err);
        if (now_s() - t0 >= a.seconds)
            break;
    }
    kn_transform_job_destroy(&job);
    kn_model_free(&m);
    if (rc != SF_OK) {
        fprintf(stderr, "statefleet bench transform: %s\n", err.msg[0] ? err.msg : sf_rc_str(rc));
        free(lat.s);
        return 1;
    }
    qsort(lat.s, lat.n, sizeof *lat.s, by_value);
    double triad1 = triad_gbps(1), triadn = threads > 1 ? triad_gbps(threads) : triad1;
    if (a.json)
        print_json(&a, &st, threads, &lat, triad1, triadn);
    else
        print_text(&a, &st, threads, &lat, triad1, triadn);
    free(lat.s);
    pthread_mutex_destroy(&lat.mu);
    return 0;
}
