/* kernels/transform/kn_transform_pipe.c - one file through the pipeline.
 *
 * reader thread -> N predict threads -> the caller's thread, writing.
 *
 * Mini-batches live in a ring of threads + 3 slots, each FREE, FILLED (by
 * the reader), TAKEN (by a predict thread), DONE (response ready), then
 * FREE again once written. The reader fills slots in sequence, predict
 * threads take them in sequence and finish in any order, and the writer
 * writes them in sequence, so the output is the same for any thread
 * count and memory is bounded by the ring whatever the file's size. One
 * mutex and one condition variable: mini-batches are megabytes, so the
 * lock is taken a few thousand times a second at most.
 *
 * Errors are reported in file order: a predict thread's failure stops the
 * run when the writer reaches that batch; a reader failure (a record too
 * big, a bad frame, an I/O error) after every batch before it is written.
 * The output is written to a temporary name beside out_path and renamed
 * only when the whole file succeeded. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kernels/transform/kn_transform_int.h"

enum { SLOT_FREE, SLOT_FILLED, SLOT_TAKEN, SLOT_DONE };

#define READ_SLACK 65536 /* staging beyond the payload, so reads stay large */
#define REPORT_NS 250000000LL

typedef struct pipe_state {
    const kn_transform_job *j;
    const char *file;
    int fd;
    uint64_t file_size;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    kn_tf_batch *slots;
    int *state;
    size_t nslots;
    uint64_t filled, taken, written; /* sequence numbers */
    bool eof, stop;
    sf_rc reader_rc;
    kn_err reader_err;
    uint64_t bytes_read;
} pipe_state;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- reader ----------------------------------------------------------- */

typedef struct reader {
    pipe_state *ps;
    char *stage;
    size_t cap, pos, have; /* stage[pos, have) is unread */
    uint64_t stage_at;     /* file offset of stage[0] */
    uint64_t line;         /* lines consumed so far */
    bool eof;
    kn_tf_batch *cur; /* the slot being filled, NULL when none */
} reader;

/* Waits for the next slot to be free; NULL when the run stopped. */
static kn_tf_batch *slot_acquire(pipe_state *ps)
{
    pthread_mutex_lock(&ps->mu);
    size_t i = ps->filled % ps->nslots;
    while (!ps->stop && ps->state[i] != SLOT_FREE)
        pthread_cond_wait(&ps->cv, &ps->mu);
    kn_tf_batch *b = ps->stop ? NULL : &ps->slots[i];
    pthread_mutex_unlock(&ps->mu);
    if (b) {
        b->seq = ps->filled;
        b->nrecs = 0;
        b->in.len = 0;
        b->rc = SF_OK;
    }
    return b;
}

static void slot_publish(pipe_state *ps)
{
    pthread_mutex_lock(&ps->mu);
    ps->state[ps->filled % ps->nslots] = SLOT_FILLED;
    ps->filled++;
    pthread_cond_broadcast(&ps->cv);
    pthread_mutex_unlock(&ps->mu);
}

static sf_rc read_more(reader *r, kn_err *err)
{
    if (r->pos > 0) {
        memmove(r->stage, r->stage + r->pos, r->have - r->pos);
        r->stage_at += r->pos;
        r->have -= r->pos;
        r->pos = 0;
    }
    while (r->have < r->cap && !r->eof) {
        ssize_t n = read(r->ps->fd, r->stage + r->have, r->cap - r->have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kn_tf_fail(err, SF_EIO, "ClientError: %s: cannot read: %s", r->ps->file,
                              strerror(errno));
        if (n == 0)
            r->eof = true;
        r->have += (size_t)n;
        r->ps->bytes_read += (uint64_t)n;
        if (n > 0)
            break; /* one read at a time keeps the pipeline fed early */
    }
    return SF_OK;
}

static bool batch_full(const kn_transform_job *j, const kn_tf_batch *b, size_t next_len)
{
    if (!b || b->nrecs == 0 || j->split == KN_SPLIT_NONE)
        return false; /* None: the file, checked to fit, is one request */
    return j->single || b->in.len + next_len + 1 > j->payload;
}

/* Appends a record to the current batch, publishing the batch first when
 * the record does not fit. */
static sf_rc add_record(reader *r, const char *p, size_t n, uint64_t where, kn_err *err)
{
    pipe_state *ps = r->ps;
    if (batch_full(ps->j, r->cur, n)) {
        slot_publish(ps);
        r->cur = NULL;
    }
    if (!r->cur && !(r->cur = slot_acquire(ps)))
        return SF_ESTATE;
    kn_tf_batch *b = r->cur;
    if (b->nrecs == b->recs_cap) {
        size_t cap = b->recs_cap ? b->recs_cap * 2 : 1024;
        kn_tf_rec *recs = realloc(b->recs, cap * sizeof *recs);
        if (!recs)
            return kn_tf_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
        b->recs = recs;
        b->recs_cap = cap;
    }
    if (kn_tf_buf_add(&b->in, p, n) != SF_OK || kn_tf_buf_add(&b->in, "\n", 1) != SF_OK)
        return kn_tf_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
    b->recs[b->nrecs++] = (kn_tf_rec){.off = b->in.len - n - 1, .len = n, .where = where};
    return SF_OK;
}

static sf_rc too_big(reader *r, const char *unit, uint64_t where, kn_err *err)
{
    return kn_tf_fail(err, SF_ELIMIT,
                      "ClientError: %s %s %llu: the record is larger than MaxPayloadInMB (%zu MB); "
                      "raise MaxPayloadInMB or split the record",
                      r->ps->file, unit, (unsigned long long)where, r->ps->j->payload >> 20);
}

/* SplitType Line (and None for CSV and JSON Lines): one record a line;
 * "\r\n" endings accepted, blank lines skipped but counted. */
static sf_rc split_lines(reader *r, kn_err *err)
{
    for (;;) {
        char *p = r->stage + r->pos, *end = r->stage + r->have;
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl && !r->eof) {
            if (r->pos == 0 && r->have == r->cap)
                return too_big(r, "line", r->line + 1, err);
            sf_rc rc = read_more(r, err);
            if (rc != SF_OK)
                return rc;
            continue;
        }
        if (!nl && p == end)
            return SF_OK;
        char *rec_end = nl ? nl : end;
        size_t n = (size_t)(rec_end - p);
        if (n && p[n - 1] == '\r')
            n--;
        r->line++;
        r->pos = (size_t)(rec_end - r->stage) + (nl ? 1 : 0);
        if (n > r->ps->j->payload)
            return too_big(r, "line", r->line, err);
        if (n == 0)
            continue;
        sf_rc rc = add_record(r, p, n, r->line, err);
        if (rc != SF_OK)
            return rc;
        if (kn_cancelled(r->ps->j->opts.progress))
            return kn_tf_fail(err, SF_ESTATE, "the transform was cancelled");
    }
}

static sf_rc split_recordio(reader *r, kn_err *err)
{
    for (;;) {
        size_t frame;
        uint64_t at = r->stage_at + r->pos;
        sf_rc rc =
            kn_tf_recordio_frame(r->stage + r->pos, r->have - r->pos, &frame, err, r->ps->file, at);
        if (rc != SF_OK)
            return rc;
        if (frame == 0) {
            if (r->eof) {
                if (r->pos == r->have)
                    return SF_OK;
                return kn_tf_fail(err, SF_EINVAL,
                                  "ClientError: %s byte %llu: a truncated "
                                  "RecordIO record at the end of the file",
                                  r->ps->file, (unsigned long long)at);
            }
            if (r->pos == 0 && r->have == r->cap)
                return too_big(r, "byte", at, err);
            if ((rc = read_more(r, err)) != SF_OK)
                return rc;
            continue;
        }
        if (frame > r->ps->j->payload)
            return too_big(r, "byte", at, err);
        rc = add_record(r, r->stage + r->pos, frame, at, err);
        r->pos += frame;
        if (rc != SF_OK)
            return rc;
        if (kn_cancelled(r->ps->j->opts.progress))
            return kn_tf_fail(err, SF_ESTATE, "the transform was cancelled");
    }
}

/* SplitType None for application/json: the whole file, one record. */
static sf_rc split_whole(reader *r, kn_err *err)
{
    while (!r->eof) {
        if (r->have == r->cap)
            return kn_tf_fail(err, SF_ELIMIT,
                              "ClientError: %s is larger than MaxPayloadInMB (%zu MB); with "
                              "SplitType None the whole file is one request",
                              r->ps->file, r->ps->j->payload >> 20);
        sf_rc rc = read_more(r, err);
        if (rc != SF_OK)
            return rc;
    }
    if (r->have == 0)
        return SF_OK;
    return add_record(r, r->stage, r->have, 1, err);
}

static void *reader_main(void *arg)
{
    pipe_state *ps = arg;
    const kn_transform_job *j = ps->j;
    reader r = {.ps = ps};
    kn_err err = {{0}};
    sf_rc rc = SF_OK;
    /* With SplitType None the file is one request: it must fit the
     * payload, and every record goes into one batch. */
    bool whole = j->split == KN_SPLIT_NONE;
    if (whole && ps->file_size > j->payload) {
        rc = kn_tf_fail(&err, SF_ELIMIT,
                        "ClientError: %s is %llu bytes, larger than MaxPayloadInMB (%zu MB); "
                        "with SplitType None the whole file is one request (use SplitType Line "
                        "or RecordIO)",
                        ps->file, (unsigned long long)ps->file_size, j->payload >> 20);
        goto out;
    }
    r.cap = j->payload + READ_SLACK;
    r.stage = malloc(r.cap);
    if (!r.stage) {
        rc = kn_tf_fail(&err, SF_ENOMEM, "AlgorithmError: out of memory");
        goto out;
    }
    if (whole && j->ct == KN_CT_JSON)
        rc = split_whole(&r, &err);
    else if (j->ct == KN_CT_RECORDIO)
        rc = split_recordio(&r, &err);
    else
        rc = split_lines(&r, &err);
    if (rc == SF_OK && r.cur)
        slot_publish(ps);
    else if (rc == SF_OK && whole && ps->filled == 0 && (r.cur = slot_acquire(ps)))
        slot_publish(ps); /* an empty file: one empty request, an empty X.out */
out:
    free(r.stage);
    pthread_mutex_lock(&ps->mu);
    ps->eof = true;
    if (rc != SF_OK && rc != SF_ESTATE) {
        ps->reader_rc = rc;
        ps->reader_err = err;
    } else if (rc == SF_ESTATE && err.msg[0]) {
        ps->reader_rc = rc;
        ps->reader_err = err;
    }
    pthread_cond_broadcast(&ps->cv);
    pthread_mutex_unlock(&ps->mu);
    return NULL;
}

/* ---- predict threads ---------------------------------------------------- */

static void *predict_main(void *arg)
{
    pipe_state *ps = arg;
    const kn_transform_job *j = ps->j;
    kn_tf_scratch s = {0};
    for (;;) {
        pthread_mutex_lock(&ps->mu);
        while (!ps->stop && ps->taken == ps->filled && !ps->eof)
            pthread_cond_wait(&ps->cv, &ps->mu);
        if (ps->stop || ps->taken == ps->filled) {
            pthread_mutex_unlock(&ps->mu);
            break;
        }
        size_t i = ps->taken++ % ps->nslots;
        ps->state[i] = SLOT_TAKEN;
        pthread_mutex_unlock(&ps->mu);

        kn_tf_batch *b = &ps->slots[i];
        double t0 = now_s();
        b->err.msg[0] = '\0';
        b->rc = kn_tf_batch_run(j, b, &s, ps->file, &b->err);
        if (j->opts.on_batch && b->rc == SF_OK)
            j->opts.on_batch(j->opts.on_batch_ctx, b->nrecs, b->in.len, now_s() - t0);

        pthread_mutex_lock(&ps->mu);
        ps->state[i] = SLOT_DONE;
        pthread_cond_broadcast(&ps->cv);
        pthread_mutex_unlock(&ps->mu);
    }
    kn_tf_scratch_free(&s);
    return NULL;
}

/* ---- the writer (the caller's thread) ------------------------------------ */

static sf_rc write_all(int fd, const char *p, size_t n, const char *path, kn_err *err)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return kn_tf_fail(err, SF_EIO, "AlgorithmError: cannot write %s: %s", path,
                              strerror(errno));
        p += w;
        n -= (size_t)w;
    }
    return SF_OK;
}

static sf_rc writer_loop(pipe_state *ps, int out_fd, const char *out_path, kn_transform_stats *st,
                         kn_err *err)
{
    const kn_transform_job *j = ps->j;
    const kn_progress *prog = j->opts.progress;
    double last_report = 0;
    sf_rc rc = SF_OK;
    for (;;) {
        pthread_mutex_lock(&ps->mu);
        size_t i = ps->written % ps->nslots;
        while (ps->state[i] != SLOT_DONE && !(ps->eof && ps->written == ps->filled))
            pthread_cond_wait(&ps->cv, &ps->mu);
        bool done = ps->state[i] != SLOT_DONE;
        pthread_mutex_unlock(&ps->mu);
        if (done) {
            if (ps->reader_rc != SF_OK) {
                *err = ps->reader_err;
                rc = ps->reader_rc;
            }
            break;
        }
        kn_tf_batch *b = &ps->slots[i];
        if (b->rc != SF_OK) {
            *err = b->err;
            rc = b->rc;
            break;
        }
        if (out_fd >= 0 && b->out.len) {
            rc = write_all(out_fd, b->out.p, b->out.len, out_path, err);
            if (rc == SF_OK && j->assemble_line)
                rc = write_all(out_fd, "\n", 1, out_path, err);
            if (rc != SF_OK)
                break;
        }
        st->records += b->nrecs;
        st->batches++;
        st->bytes_out += b->out.len + (j->assemble_line && b->out.len ? 1 : 0);
        pthread_mutex_lock(&ps->mu);
        ps->state[i] = SLOT_FREE;
        ps->written++;
        pthread_cond_broadcast(&ps->cv);
        pthread_mutex_unlock(&ps->mu);
        double t = now_s();
        if (prog && t - last_report > REPORT_NS * 1e-9) {
            last_report = t;
            double frac = ps->file_size ? (double)ps->bytes_read / (double)ps->file_size : 1.0;
            kn_report(prog, frac > 1 ? 1 : frac, st->records, 0, NULL, 0);
        }
        if (kn_cancelled(prog)) {
            rc = kn_tf_fail(err, SF_ESTATE, "the transform was cancelled");
            break;
        }
    }
    pthread_mutex_lock(&ps->mu);
    ps->stop = true;
    pthread_cond_broadcast(&ps->cv);
    pthread_mutex_unlock(&ps->mu);
    return rc;
}

/* A temporary name beside path, unique to this process and call. */
static void temp_name(const char *path, char *buf, size_t len)
{
    static unsigned long counter;
    unsigned long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    const char *slash = strrchr(path, '/');
    int dir = slash ? (int)(slash - path + 1) : 0;
    snprintf(buf, len, "%.*s.%s.tmp.%ld.%lu", dir, path, path + dir, (long)getpid(), n);
}

sf_rc kn_transform_file(kn_transform_job *j, const char *in_path, const char *out_path,
                        kn_transform_stats *stats, kn_err *err)
{
    kn_transform_stats local = {0};
    kn_transform_stats *st = stats ? stats : &local;
    double t0 = now_s();
    int fd = open(in_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kn_tf_fail(err, SF_ENOTFOUND, "ClientError: cannot open input %s: %s", in_path,
                          strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return kn_tf_fail(err, SF_EINVAL, "ClientError: input %s is not a regular file", in_path);
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    char tmp[4096] = "";
    int out_fd = -1;
    if (out_path) {
        temp_name(out_path, tmp, sizeof tmp);
        out_fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out_fd < 0) {
            close(fd);
            return kn_tf_fail(err, SF_EIO, "AlgorithmError: cannot create %s: %s", tmp,
                              strerror(errno));
        }
    }

    pipe_state ps = {.j = j, .file = in_path, .fd = fd, .file_size = (uint64_t)sb.st_size};
    pthread_mutex_init(&ps.mu, NULL);
    pthread_cond_init(&ps.cv, NULL);
    ps.nslots = j->threads + 3;
    ps.slots = calloc(ps.nslots, sizeof *ps.slots);
    ps.state = calloc(ps.nslots, sizeof *ps.state);
    pthread_t *workers = calloc(j->threads, sizeof *workers);
    pthread_t rd;
    unsigned started = 0;
    bool reader_started = false;
    sf_rc rc = SF_OK;
    if (!ps.slots || !ps.state || !workers) {
        rc = kn_tf_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
        goto done;
    }
    for (size_t i = 0; i < ps.nslots; i++) {
        /* A batch holds at most payload bytes of records plus their
         * newlines; a response may be several times its input (JoinSource,
         * JSON), never unbounded. */
        ps.slots[i].in.max = j->payload + 2;
        ps.slots[i].out.max = 16 * j->payload + (16u << 20);
    }
    if (pthread_create(&rd, NULL, reader_main, &ps) != 0) {
        rc = kn_tf_fail(err, SF_ENOMEM, "AlgorithmError: cannot start the reader thread");
        goto done;
    }
    reader_started = true;
    for (; started < j->threads; started++)
        if (pthread_create(&workers[started], NULL, predict_main, &ps) != 0)
            break;
    if (started == 0) {
        rc = kn_tf_fail(err, SF_ENOMEM, "AlgorithmError: cannot start predict threads");
        pthread_mutex_lock(&ps.mu);
        ps.stop = true;
        pthread_cond_broadcast(&ps.cv);
        pthread_mutex_unlock(&ps.mu);
        goto done;
    }
    rc = writer_loop(&ps, out_fd, tmp, st, err);
done:
    if (reader_started)
        pthread_join(rd, NULL);
    for (unsigned i = 0; i < started; i++)
        pthread_join(workers[i], NULL);
    for (size_t i = 0; ps.slots && i < ps.nslots; i++) {
        kn_tf_buf_free(&ps.slots[i].in);
        kn_tf_buf_free(&ps.slots[i].out);
        free(ps.slots[i].recs);
    }
    free(ps.slots);
    free(ps.state);
    free(workers);
    pthread_mutex_destroy(&ps.mu);
    pthread_cond_destroy(&ps.cv);
    close(fd);
    st->bytes_in += ps.bytes_read;
    if (out_fd >= 0) {
        if (close(out_fd) != 0 && rc == SF_OK)
            rc = kn_tf_fail(err, SF_EIO, "AlgorithmError: cannot write %s: %s", tmp,
                            strerror(errno));
        if (rc == SF_OK && rename(tmp, out_path) != 0)
            rc = kn_tf_fail(err, SF_EIO, "AlgorithmError: cannot rename %s to %s: %s", tmp,
                            out_path, strerror(errno));
        if (rc != SF_OK)
            unlink(tmp);
    }
    if (rc == SF_OK)
        st->files++;
    st->seconds += now_s() - t0;
    return rc;
}
