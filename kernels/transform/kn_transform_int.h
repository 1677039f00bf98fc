/* kernels/transform/kn_transform_int.h - what the transform's files share.
 *
 * Not a public header: the job, mini-batches, per-thread scratch and the
 * codecs (CSV, JSON, RecordIO) that turn a mini-batch's records into rows
 * and predictions into its response. */
#ifndef KN_TRANSFORM_INT_H
#define KN_TRANSFORM_INT_H

#include <jansson.h>

#include "kernels/formats/kn_format.h"
#include "kernels/transform/kn_transform.h"
#include "kernels/transform/kn_transform_jsonpath.h"

/* kn_fail's twin: formats into err and returns rc. Kept here so that the
 * transform links on its own. */
sf_rc kn_tf_fail(kn_err *err, sf_rc rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

typedef enum { KN_SPLIT_NONE, KN_SPLIT_LINE, KN_SPLIT_RECORDIO } kn_split;

struct kn_transform_job {
    const kn_model *model;
    kn_response resp;
    size_t dim; /* features per row */
    kn_content_type ct, accept;
    kn_split split;
    bool single;        /* BatchStrategy SingleRecord */
    size_t payload;     /* MaxPayloadInMB in bytes */
    bool assemble_line; /* AssembleWith Line */
    bool join;          /* JoinSource Input */
    kn_jpath in_filter, out_filter;
    unsigned threads;
    kn_transform_opts opts; /* callbacks */
};

/* A growable byte buffer with a hard cap. */
typedef struct kn_tf_buf {
    char *p;
    size_t len, cap, max;
} kn_tf_buf;

sf_rc kn_tf_buf_reserve(kn_tf_buf *b, size_t more);
sf_rc kn_tf_buf_add(kn_tf_buf *b, const void *data, size_t n);
void kn_tf_buf_free(kn_tf_buf *b);

/* One input record inside a mini-batch's bytes. */
typedef struct kn_tf_rec {
    size_t off, len;    /* in the batch's in buffer, without its line ending */
    uint64_t where;     /* line number (1-based), or byte offset for RecordIO */
    size_t row0, nrows; /* rows it decoded into (JSON documents may hold several) */
} kn_tf_rec;

typedef struct kn_tf_batch {
    uint64_t seq;
    kn_tf_buf in;
    kn_tf_rec *recs;
    size_t nrecs, recs_cap;
    kn_tf_buf out; /* the response */
    sf_rc rc;
    kn_err err;
} kn_tf_batch;

/* What one predict thread reuses from batch to batch. */
typedef struct kn_tf_scratch {
    float *X, *Y;
    size_t xcap, ycap, rows; /* floats allocated; rows decoded */
    json_t **vals;           /* JSON records, kept for JoinSource */
    size_t vcap;
    size_t *idx; /* column indexes for CSV filters */
    size_t icap;
    struct kn_tf_span *spans;
    size_t scap;
} kn_tf_scratch;

typedef struct kn_tf_span {
    const char *p;
    size_t n;
} kn_tf_span;

void kn_tf_scratch_free(kn_tf_scratch *s);
/* Room for rows more rows of X (dim floats each); s->rows counts them. */
sf_rc kn_tf_scratch_rows(kn_tf_scratch *s, size_t dim, size_t rows, kn_err *err);

/* ---- codecs --------------------------------------------------------------- */

/* Where a record is, for errors: "FILE line N" or "FILE byte N". */
void kn_tf_where(const kn_transform_job *j, const char *file, const kn_tf_rec *r, char *buf,
                 size_t len);

/* A float from text [p, end) (spaces around allowed); NULL when it is not
 * one, else the end of what was read. Within an ulp of strtof. */
const char *kn_tf_parse_float(const char *p, const char *end, float *out);
/* Appends v in the shortest of %.7g / %.9g that reads back as v;
 * integral values without a fraction when as_int. */
sf_rc kn_tf_put_float(kn_tf_buf *b, float v, bool as_int);

/* CSV: splits a record into fields (quotes kept, commas inside quotes
 * respected). Returns the count; grows s->spans. */
sf_rc kn_tf_csv_split(kn_tf_scratch *s, const char *p, size_t n, size_t *count, kn_err *err);
/* Decodes record r of a CSV batch into row (dim floats). */
sf_rc kn_tf_csv_decode(const kn_transform_job *j, kn_tf_scratch *s, const char *rec, size_t n,
                       float *row, const char *where, kn_err *err);
/* Appends prediction y (resp width floats) as CSV fields, no newline. */
sf_rc kn_tf_csv_put_pred(const kn_transform_job *j, kn_tf_buf *b, const float *y);
/* Appends the joined / filtered CSV record: input fields then prediction. */
sf_rc kn_tf_csv_put_joined(const kn_transform_job *j, kn_tf_scratch *s, kn_tf_buf *b,
                           const char *rec, size_t n, const float *y, kn_err *err);

/* JSON: decodes one record's JSON (after InputFilter) into rows appended
 * to s; *value keeps the parsed record (for JoinSource; caller frees). */
sf_rc kn_tf_json_decode(const kn_transform_job *j, kn_tf_scratch *s, const char *rec, size_t n,
                        const char *where, json_t **value, size_t *rows, kn_err *err);
/* The prediction y as an object {field: value}. */
json_t *kn_tf_json_pred(const kn_transform_job *j, const float *y);
/* Appends v compactly. */
sf_rc kn_tf_json_put(kn_tf_buf *b, json_t *v);

/* RecordIO-protobuf: frames in [p, p+n) at file offset base. */
sf_rc kn_tf_recordio_decode(const kn_transform_job *j, kn_tf_scratch *s, const char *rec, size_t n,
                            const char *where, size_t *rows, kn_err *err);
sf_rc kn_tf_recordio_put_pred(const kn_transform_job *j, kn_tf_buf *b, const float *y);
/* The length of the RecordIO frame at p (header, data, padding), 0 when
 * more bytes are needed, or an error for a bad frame. */
sf_rc kn_tf_recordio_frame(const char *p, size_t avail, size_t *frame, kn_err *err,
                           const char *file, uint64_t at);

/* Decodes, predicts and encodes one mini-batch into b->out. */
sf_rc kn_tf_batch_run(const kn_transform_job *j, kn_tf_batch *b, kn_tf_scratch *s, const char *file,
                      kn_err *err);

#endif
