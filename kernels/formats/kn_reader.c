/* kernels/formats/kn_reader.c - the reader core: opening, the buffer
 * window, batches of rows, rewinding.
 *
 * Formats frame and decode (kn_reader_int.h); this file owns the bytes.
 * A file is read through one buffer, refilled as records are consumed and
 * grown only for a record that does not fit, never past the record limit:
 * memory stays bounded whatever the file's size. It never prints. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "kn_reader_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const kn_format_ops *ops_for(kn_content_type ct)
{
    switch (ct) {
    case KN_CT_CSV:
        return &kn__csv_ops;
    case KN_CT_JSON:
        return &kn__json_ops;
    case KN_CT_JSONLINES:
        return &kn__jsonlines_ops;
    case KN_CT_RECORDIO:
        return &kn__recordio_ops;
    }
    return NULL;
}

static sf_rc reader_new(const char *name, const kn_format_ops *ops, kn_content_type ct,
                        bool labelled, size_t feature_dim, kn_reader **out, kn_err *err)
{
    *out = NULL;
    if (!ops)
        return kn_fail(err, SF_EINVAL, "ClientError: %s: unknown content type %d", name, (int)ct);
    if (feature_dim > KN_FEATURE_DIM_MAX)
        return kn_fail(err, SF_ELIMIT, "ClientError: %s: feature_dim %zu is over the limit %zu",
                       name, feature_dim, KN_FEATURE_DIM_MAX);
    kn_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->name = strdup(name))) {
        free(r);
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory opening %s", name);
    }
    r->ops = ops;
    r->ct = ct;
    r->labelled = labelled;
    r->dim = feature_dim;
    r->limit = KN_RECORD_MAX;
    *out = r;
    return SF_OK;
}

static sf_rc open_file(const char *path, kn_reader **out, kn_err *err);

sf_rc kn_reader_open_file(const char *path, kn_content_type ct, bool labelled, size_t feature_dim,
                          kn_reader **out, kn_err *err)
{
    sf_rc rc = reader_new(path, ops_for(ct), ct, labelled, feature_dim, out, err);
    return rc == SF_OK ? open_file(path, out, err) : rc;
}

sf_rc kn_reader_open_split(const char *path, kn_split split, kn_reader **out, kn_err *err)
{
    const kn_format_ops *ops = split == KN_SPLIT_LINE       ? &kn__lines_ops
                               : split == KN_SPLIT_RECORDIO ? &kn__recordio_ops
                                                            : &kn__whole_ops;
    /* ct is only what the reader says it frames; nothing decodes. */
    kn_content_type ct = split == KN_SPLIT_RECORDIO ? KN_CT_RECORDIO : KN_CT_CSV;
    sf_rc rc = reader_new(path, ops, ct, false, 0, out, err);
    if (rc == SF_OK && split != KN_SPLIT_NONE && split != KN_SPLIT_LINE &&
        split != KN_SPLIT_RECORDIO) {
        kn_reader_close(out);
        return kn_fail(err, SF_EINVAL, "ClientError: %s: unknown split type %d", path, (int)split);
    }
    if (rc != SF_OK)
        return rc;
    (*out)->frame_only = true;
    return open_file(path, out, err);
}

/* Opens the file of a new reader *out (closing it on failure). */
static sf_rc open_file(const char *path, kn_reader **out, kn_err *err)
{
    kn_reader *r = *out;
    r->f = fopen(path, "rb");
    if (!r->f) {
        int e = errno;
        kn_reader_close(out);
        return kn_fail(err, e == ENOENT ? SF_ENOTFOUND : SF_EIO, "ClientError: cannot open %s: %s",
                       path, strerror(e));
    }
    r->cap = KN_READ_BUFFER;
    r->buf = malloc(r->cap);
    if (!r->buf) {
        kn_reader_close(out);
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory opening %s", path);
    }
    return SF_OK;
}

sf_rc kn_reader_open_mem(const void *data, size_t len, const char *name, kn_content_type ct,
                         bool labelled, size_t feature_dim, kn_reader **out, kn_err *err)
{
    sf_rc rc =
        reader_new(name ? name : "(memory)", ops_for(ct), ct, labelled, feature_dim, out, err);
    if (rc != SF_OK)
        return rc;
    kn_reader *r = *out;
    /* The caller's bytes are the window, whole: never written, never
     * compacted (kn__reader_more returns at once at eof). */
    r->buf = (uint8_t *)data;
    r->cap = r->end = len;
    r->limit = len;
    r->eof = true;
    return SF_OK;
}

sf_rc kn_reader_set_limits(kn_reader *r, size_t buffer, size_t record_max, kn_err *err)
{
    if (r->started)
        return kn_fail(err, SF_ESTATE, "%s: limits are set before the first record is read",
                       r->name);
    if (buffer < 16 || record_max < buffer)
        return kn_fail(err, SF_EINVAL, "%s: bad limits: buffer %zu, record_max %zu", r->name,
                       buffer, record_max);
    if (!r->f)
        return SF_OK; /* a memory reader has no buffer of its own */
    uint8_t *nb = realloc(r->buf, buffer);
    if (!nb)
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
    r->buf = nb;
    r->cap = buffer;
    r->limit = record_max;
    return SF_OK;
}

void kn_reader_close(kn_reader **rp)
{
    if (!rp || !*rp)
        return;
    kn_reader *r = *rp;
    if (r->f) {
        fclose(r->f);
        free(r->buf);
    }
    json_decref(r->doc);
    free(r->scratch);
    free(r->joined);
    free(r->name);
    free(r);
    *rp = NULL;
}

uint64_t kn_reader_records(const kn_reader *r)
{
    return r->records;
}

sf_rc kn__reader_more(kn_reader *r, size_t *added, kn_err *err)
{
    *added = 0;
    if (r->eof)
        return SF_OK;
    if (r->pos > 0) { /* keep only the unread part, at the front */
        memmove(r->buf, r->buf + r->pos, r->end - r->pos);
        r->end -= r->pos;
        r->base += r->pos;
        r->pos = 0;
    }
    if (r->end == r->cap) {
        if (r->cap >= r->limit)
            return SF_ELIMIT;
        size_t ncap = r->cap * 2 < r->limit ? r->cap * 2 : r->limit;
        uint8_t *nb = realloc(r->buf, ncap);
        if (!nb)
            return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory reading %s", r->name);
        r->buf = nb;
        r->cap = ncap;
    }
    size_t got = fread(r->buf + r->end, 1, r->cap - r->end, r->f);
    if (got == 0) {
        if (ferror(r->f))
            return kn_fail(err, SF_EIO, "ClientError: %s byte %llu: read error: %s", r->name,
                           (unsigned long long)(r->base + r->end), strerror(errno));
        r->eof = true;
    }
    r->end += got;
    *added = got;
    return SF_OK;
}

uint64_t kn_reader_offset(const kn_reader *r)
{
    return r->base + r->pos;
}

kn_loc kn__reader_loc(const kn_reader *r, uint64_t where)
{
    return (kn_loc){.name = r->name, .unit = r->ops->where, .at = where};
}

static sf_rc loc_vfail(const kn_loc *at, kn_err *err, sf_rc rc, const char *fmt, va_list ap)
{
    if (!err)
        return rc;
    int n = snprintf(err->msg, sizeof err->msg, "ClientError: %s %s %llu: ", at->name, at->unit,
                     (unsigned long long)at->at);
    if (n > 0 && (size_t)n < sizeof err->msg)
        vsnprintf(err->msg + n, sizeof err->msg - (size_t)n, fmt, ap);
    return rc;
}

sf_rc kn_loc_fail(const kn_loc *at, kn_err *err, sf_rc rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    loc_vfail(at, err, rc, fmt, ap);
    va_end(ap);
    return rc;
}

sf_rc kn__data_fail(const kn_reader *r, kn_err *err, uint64_t where, sf_rc rc, const char *fmt, ...)
{
    kn_loc at = kn__reader_loc(r, where);
    va_list ap;
    va_start(ap, fmt);
    loc_vfail(&at, err, rc, fmt, ap);
    va_end(ap);
    return rc;
}

static sf_rc frame(kn_reader *r, kn_span *s, bool *got, kn_err *err)
{
    r->started = true;
    if (r->has_pending) {
        *s = r->pending;
        r->has_pending = false;
        *got = true;
        return SF_OK;
    }
    return r->ops->frame(r, s, got, err);
}

/* Decodes s into the scratch row, growing it to the record's width. */
static sf_rc decode_scratch(kn_reader *r, const kn_span *s, size_t *n, float *label, kn_err *err)
{
    if (!r->scratch) {
        r->scratch_cap = 1024;
        if (!(r->scratch = malloc(r->scratch_cap * sizeof *r->scratch)))
            return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory reading %s", r->name);
    }
    for (;;) {
        sf_rc rc = r->ops->decode(r, s, r->scratch, r->scratch_cap, n, label, err);
        if (rc != SF_OK || *n <= r->scratch_cap)
            return rc;
        if (*n > KN_FEATURE_DIM_MAX)
            return kn__data_fail(r, err, s->where, SF_ELIMIT, "%zu features, over the limit %zu",
                                 *n, KN_FEATURE_DIM_MAX);
        float *ns = realloc(r->scratch, *n * sizeof *ns);
        if (!ns)
            return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory reading %s", r->name);
        r->scratch = ns;
        r->scratch_cap = *n;
    }
}

sf_rc kn_reader_record(kn_reader *r, kn_record *rec, bool *got, kn_err *err)
{
    kn_span s;
    sf_rc rc = frame(r, &s, got, err);
    if (rc == SF_OK && *got) {
        *rec = (kn_record){.p = s.p, .len = s.len, .where = s.where};
        r->records++;
    }
    return rc;
}

/* The whole input as one record (SplitType None), read up to the limit. */
static sf_rc whole_frame(kn_reader *r, kn_span *s, bool *got, kn_err *err)
{
    *got = false;
    if (r->eof && r->pos == r->end)
        return SF_OK;
    for (size_t added = 1; added > 0;) {
        sf_rc rc = kn__reader_more(r, &added, err);
        if (rc == SF_ELIMIT)
            return kn_fail(err, rc, "ClientError: %s is larger than %zu bytes", r->name, r->limit);
        if (rc != SF_OK)
            return rc;
    }
    *s = (kn_span){.p = r->buf + r->pos, .len = r->end - r->pos, .where = 1};
    *got = s->len > 0;
    r->pos = r->end;
    return SF_OK;
}

const kn_format_ops kn__whole_ops = {.frame = whole_frame, .where = "line"};

static sf_rc frame_only(const kn_reader *r, kn_err *err)
{
    return kn_fail(err, SF_EINVAL, "%s: a reader opened to split records has no rows", r->name);
}

sf_rc kn_reader_feature_dim(kn_reader *r, size_t *dim, kn_err *err)
{
    *dim = r->dim;
    if (r->dim)
        return SF_OK;
    if (r->frame_only)
        return frame_only(r, err);
    /* The first record stays pending, even when it is bad: next() then
     * reads it (or reports it) again, and nothing is skipped. */
    if (!r->has_pending) {
        bool got;
        sf_rc rc = frame(r, &r->pending, &got, err);
        if (rc != SF_OK || !got)
            return rc;
        r->has_pending = true;
    }
    size_t n;
    float label;
    sf_rc rc = decode_scratch(r, &r->pending, &n, r->labelled ? &label : NULL, err);
    if (rc != SF_OK)
        return rc;
    if (n == 0)
        return kn__data_fail(r, err, r->pending.where, SF_EINVAL, "the record has no features");
    r->dim = n;
    r->dim_from = r->pending.where;
    *dim = n;
    return SF_OK;
}

sf_rc kn_reader_next(kn_reader *r, kn_matrix *X, float *labels, size_t max, kn_err *err)
{
    X->rows = 0;
    if (r->frame_only)
        return frame_only(r, err);
    if (labels && !r->labelled)
        return kn_fail(err, SF_EINVAL, "%s: labels asked of a reader opened without them", r->name);
    size_t dim;
    sf_rc rc = kn_reader_feature_dim(r, &dim, err);
    X->cols = dim;
    if (rc != SF_OK || dim == 0)
        return rc;
    float discard;
    while (X->rows < max) {
        kn_span s;
        bool got;
        if ((rc = frame(r, &s, &got, err)) != SF_OK || !got)
            return rc;
        size_t n;
        float *label = labels ? &labels[X->rows] : r->labelled ? &discard : NULL;
        rc = r->ops->decode(r, &s, kn_row(X, X->rows), dim, &n, label, err);
        if (rc != SF_OK)
            return rc;
        if (n != dim && r->dim_from)
            return kn__data_fail(r, err, s.where, SF_EINVAL,
                                 "%zu features where %zu were expected (as %s %llu has)", n, dim,
                                 r->ops->where, (unsigned long long)r->dim_from);
        if (n != dim)
            return kn__data_fail(r, err, s.where, SF_EINVAL,
                                 "%zu features where feature_dim is %zu", n, dim);
        X->rows++;
        r->records++;
    }
    return SF_OK;
}

sf_rc kn_reader_rewind(kn_reader *r, kn_err *err)
{
    if (r->f) {
        if (fseek(r->f, 0, SEEK_SET) != 0)
            return kn_fail(err, SF_EUNSUPPORTED, "ClientError: cannot rewind %s: %s", r->name,
                           strerror(errno));
        clearerr(r->f);
        r->end = 0;
        r->eof = false;
    }
    r->pos = 0;
    r->base = 0;
    r->line = 0;
    r->records = 0;
    r->has_pending = false;
    r->inst_i = 0;
    json_decref(r->doc);
    r->doc = NULL;
    return SF_OK;
}

static sf_rc source_next(void *ctx, kn_matrix *X, float *labels, size_t max, kn_err *err)
{
    return kn_reader_next(ctx, X, labels, max, err);
}

static sf_rc source_rewind(void *ctx, kn_err *err)
{
    return kn_reader_rewind(ctx, err);
}

kn_source kn_reader_source(kn_reader *r)
{
    size_t dim = 0;
    /* The width is learnt now when it can be; an error here comes back
     * from the source's first next(), the bad record being kept pending. */
    (void)kn_reader_feature_dim(r, &dim, NULL);
    return (kn_source){.ctx = r, .next = source_next, .rewind = source_rewind, .feature_dim = dim};
}

sf_rc kn_record_parse(kn_content_type ct, const uint8_t *p, size_t len, const kn_loc *at,
                      bool labelled, float *dst, size_t cap, size_t *n, float *label, kn_err *err)
{
    float discard;
    float *l = labelled ? (label ? label : &discard) : NULL;
    switch (ct) {
    case KN_CT_CSV:
        return kn__csv_parse(p, len, at, labelled, dst, cap, n, l, err);
    case KN_CT_JSON: /* one instance's text, as a JSON Lines line */
    case KN_CT_JSONLINES:
        return kn__jsonlines_parse(p, len, at, dst, cap, n, l, err);
    case KN_CT_RECORDIO:
        return kn__recordio_parse(p, len, at, dst, cap, n, l, err);
    }
    return kn_fail(err, SF_EINVAL, "ClientError: %s: unknown content type %d", at->name, (int)ct);
}
