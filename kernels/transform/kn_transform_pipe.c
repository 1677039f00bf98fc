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

#define REPORT_NS 250000000LL

typedef struct pipe_state {
    const kn_transform_job *j;
    const char *file;
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
    uint64_t bytes_read; /* by the reader thread; atomic */
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

static bool batch_full(const kn_transform_job *j, const kn_tf_batch *b, size_t next_len)
{
    if (!b || b->nrecs == 0 || j->split == KN_SPLIT_NONE)
        return false; /* None: the file, checked to fit, is one request */
    return j->single || b->in.len + next_len + 1 > j->payload;
}

/* Appends a record to the current batch, publishing the batch first when
 * the record does not fit. */
static sf_rc add_record(reader *r, const kn_record *rec, kn_err *err)
{
    pipe_state *ps = r->ps;
    if (batch_full(ps->j, r->cur, rec->len)) {
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
            return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
        b->recs = recs;
        b->recs_cap = cap;
    }
    /* A newline after each record keeps a batch of lines readable. */
    size_t off = b->in.len;
    if (kn_buf_add(&b->in, rec->p, rec->len) != SF_OK || kn_buf_add(&b->in, "\n", 1) != SF_OK)
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
    b->recs[b->nrecs++] = (kn_tf_rec){.off = off, .len = rec->len, .where = rec->where};
    return SF_OK;
}

static sf_rc too_big(const pipe_state *ps, const kn_record *rec, kn_err *err)
{
    kn_tf_rec r = {.where = rec->where};
    kn_loc at = kn_tf_loc(ps->j, ps->file, &r);
    return kn_loc_fail(&at, err, SF_ELIMIT,
                       "the record is larger than MaxPayloadInMB (%zu MB); raise MaxPayloadInMB "
                       "or split the record",
                       ps->j->payload >> 20);
}

/* Cuts the file into records (the formats layer frames them) and packs
 * them into mini-batches. */
static sf_rc split_file(reader *r, kn_err *err)
{
    pipe_state *ps = r->ps;
    const kn_transform_job *j = ps->j;
    kn_reader *rd = NULL;
    sf_rc rc = kn_reader_open_split(ps->file, j->framing, &rd, err);
    /* Room for the largest record a batch takes, with its line ending and
     * RecordIO's header and padding: a larger one is refused below. */
    size_t limit = j->payload + 16;
    if (rc == SF_OK)
        rc = kn_reader_set_limits(rd, limit < KN_READ_BUFFER ? limit : KN_READ_BUFFER, limit, err);
    while (rc == SF_OK) {
        kn_record rec;
        bool got;
        rc = kn_reader_record(rd, &rec, &got, err);
        __atomic_store_n(&ps->bytes_read, kn_reader_offset(rd), __ATOMIC_RELAXED);
        if (rc == SF_ELIMIT && err) {
            size_t n = strlen(err->msg);
            snprintf(err->msg + n, sizeof err->msg - n,
                     " (MaxPayloadInMB is %zu MB: raise it or split the record)", j->payload >> 20);
        }
        if (rc != SF_OK || !got)
            break;
        if (rec.len > j->payload)
            rc = too_big(ps, &rec, err);
        else
            rc = add_record(r, &rec, err);
        if (rc == SF_OK && kn_cancelled(j->opts.progress))
            rc = kn_fail(err, SF_ESTATE, "the transform was cancelled");
    }
    kn_reader_close(&rd);
    return rc;
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
    if (whole && ps->file_size > j->payload)
        rc = kn_fail(&err, SF_ELIMIT,
                     "ClientError: %s is %llu bytes, larger than MaxPayloadInMB (%zu MB); "
                     "with SplitType None the whole file is one request (use SplitType Line "
                     "or RecordIO)",
                     ps->file, (unsigned long long)ps->file_size, j->payload >> 20);
    else
        rc = split_file(&r, &err);
    if (rc == SF_OK && r.cur)
        slot_publish(ps);
    else if (rc == SF_OK && whole && ps->filled == 0 && (r.cur = slot_acquire(ps)))
        slot_publish(ps); /* an empty file: one empty request, an empty X.out */
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
            return kn_fail(err, SF_EIO, "AlgorithmError: cannot write %s: %s", path,
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
            uint64_t read = __atomic_load_n(&ps->bytes_read, __ATOMIC_RELAXED);
            double frac = ps->file_size ? (double)read / (double)ps->file_size : 1.0;
            kn_report(prog, frac > 1 ? 1 : frac, st->records, 0, NULL, 0);
        }
        if (kn_cancelled(prog)) {
            rc = kn_fail(err, SF_ESTATE, "the transform was cancelled");
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
        return kn_fail(err, SF_ENOTFOUND, "ClientError: cannot open input %s: %s", in_path,
                       strerror(errno));
    struct stat sb;
    /* Checked here, so that the error names the input before any thread
     * starts; the reader thread opens it again through the formats layer. */
    bool regular = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
    close(fd);
    if (!regular)
        return kn_fail(err, SF_EINVAL, "ClientError: input %s is not a regular file", in_path);
    char tmp[4096] = "";
    int out_fd = -1;
    if (out_path) {
        temp_name(out_path, tmp, sizeof tmp);
        out_fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out_fd < 0)
            return kn_fail(err, SF_EIO, "AlgorithmError: cannot create %s: %s", tmp,
                           strerror(errno));
    }

    pipe_state ps = {.j = j, .file = in_path, .file_size = (uint64_t)sb.st_size};
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
        rc = kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
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
        rc = kn_fail(err, SF_ENOMEM, "AlgorithmError: cannot start the reader thread");
        goto done;
    }
    reader_started = true;
    for (; started < j->threads; started++)
        if (pthread_create(&workers[started], NULL, predict_main, &ps) != 0)
            break;
    if (started == 0) {
        rc = kn_fail(err, SF_ENOMEM, "AlgorithmError: cannot start predict threads");
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
        kn_buf_free(&ps.slots[i].in);
        kn_buf_free(&ps.slots[i].out);
        free(ps.slots[i].recs);
    }
    free(ps.slots);
    free(ps.state);
    free(workers);
    pthread_mutex_destroy(&ps.mu);
    pthread_cond_destroy(&ps.cv);
    st->bytes_in += ps.bytes_read;
    if (out_fd >= 0) {
        if (close(out_fd) != 0 && rc == SF_OK)
            rc = kn_fail(err, SF_EIO, "AlgorithmError: cannot write %s: %s", tmp, strerror(errno));
        if (rc == SF_OK && rename(tmp, out_path) != 0)
            rc = kn_fail(err, SF_EIO, "AlgorithmError: cannot rename %s to %s: %s", tmp, out_path,
                         strerror(errno));
        if (rc != SF_OK)
            unlink(tmp);
    }
    if (rc == SF_OK)
        st->files++;
    st->seconds += now_s() - t0;
    return rc;
}
