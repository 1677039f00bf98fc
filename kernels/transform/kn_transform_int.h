/* kernels/transform/kn_transform_int.h - what the transform's files share.
 *
 * Not a public header: the job, mini-batches, per-thread scratch and the
 * steps that turn a mini-batch's records into rows and predictions into
 * its response. Every parse and write goes through kernels/formats/: the
 * transform only adds what SageMaker's transform adds (filters, joins,
 * documents of several instances). */
#ifndef KN_TRANSFORM_INT_H
#define KN_TRANSFORM_INT_H

#include <jansson.h>

#include "kernels/formats/kn_format.h"
#include "kernels/kn_buf.h"
#include "kernels/transform/kn_transform.h"
#include "kernels/transform/kn_transform_jsonpath.h"

struct kn_transform_job {
    const kn_model *model;
    kn_response resp;
    size_t dim; /* features per row */
    kn_content_type ct, accept;
    kn_split split;     /* SplitType, as asked */
    kn_split framing;   /* how records are cut from a file (see kn_tf_framing) */
    bool single;        /* BatchStrategy SingleRecord */
    size_t payload;     /* MaxPayloadInMB in bytes */
    bool assemble_line; /* AssembleWith Line */
    bool join;          /* JoinSource Input */
    kn_jpath in_filter, out_filter;
    unsigned threads;
    kn_transform_opts opts; /* callbacks */
};

/* One input record inside a mini-batch's bytes. */
typedef struct kn_tf_rec {
    size_t off, len;    /* in the batch's in buffer, as framed */
    uint64_t where;     /* line number (1-based), or byte offset for RecordIO */
    size_t row0, nrows; /* rows it decoded into (JSON documents may hold several) */
} kn_tf_rec;

typedef struct kn_tf_batch {
    uint64_t seq;
    kn_buf in;
    kn_tf_rec *recs;
    size_t nrecs, recs_cap;
    kn_buf out; /* the response */
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
    kn_text *fields; /* a CSV record's fields, for filters */
    size_t fcap;
} kn_tf_scratch;

void kn_tf_scratch_free(kn_tf_scratch *s);
/* Room for rows more rows of X (dim floats each); s->rows counts them. */
sf_rc kn_tf_scratch_rows(kn_tf_scratch *s, size_t dim, size_t rows, kn_err *err);

/* Where record r of file is, for errors. */
kn_loc kn_tf_loc(const kn_transform_job *j, const char *file, const kn_tf_rec *r);

/* The error for a record whose width is not the model's. */
sf_rc kn_tf_wrong_width(const kn_loc *at, size_t got, size_t want, kn_err *err);

/* CSV: decodes one record into row (dim floats), through InputFilter. */
sf_rc kn_tf_csv_decode(const kn_transform_job *j, kn_tf_scratch *s, const char *rec, size_t n,
                       float *row, const kn_loc *at, kn_err *err);
/* Appends the joined / filtered CSV result: input fields then the
 * prediction y, through OutputFilter; no newline. */
sf_rc kn_tf_csv_put_joined(const kn_transform_job *j, kn_tf_scratch *s, kn_buf *b, const char *rec,
                           size_t n, const float *y, kn_err *err);

/* JSON: decodes one record's JSON (after InputFilter) into rows appended
 * to s; *value keeps the parsed record for JoinSource (caller frees). */
sf_rc kn_tf_json_decode(const kn_transform_job *j, kn_tf_scratch *s, const char *rec, size_t n,
                        const kn_loc *at, json_t **value, size_t *rows, kn_err *err);
/* Appends the JSON result of prediction y for record value in (NULL
 * without a join), through OutputFilter; no newline. */
sf_rc kn_tf_json_put_joined(const kn_transform_job *j, kn_buf *b, json_t *in, const float *y,
                            const kn_loc *at, kn_err *err);

/* Decodes, predicts and encodes one mini-batch into b->out. */
sf_rc kn_tf_batch_run(const kn_transform_job *j, kn_tf_batch *b, kn_tf_scratch *s, const char *file,
                      kn_err *err);

#endif
