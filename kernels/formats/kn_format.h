/* kernels/formats/kn_format.h - SageMaker's data formats, both ways.
 *
 * Readers stream records from a file or a buffer into batches of rows with
 * bounded memory: they never hold a whole file, and bad data is reported
 * with the file and the line (CSV, JSON Lines) or byte offset (RecordIO)
 * where it is. Writers put predictions into SageMaker's response shapes
 * (kn_response in kernels/kn_algo.h). */
#ifndef KN_FORMAT_H
#define KN_FORMAT_H

#include <stdio.h>

#include "kernels/kn_algo.h"
#include "kernels/kn_buf.h"

typedef enum {
    KN_CT_CSV,       /* text/csv: one record per line, no header */
    KN_CT_JSON,      /* application/json: {"instances": [...]} (inference) */
    KN_CT_JSONLINES, /* application/jsonlines: one instance per line */
    KN_CT_RECORDIO,  /* application/x-recordio-protobuf: Record messages, RecordIO framing */
} kn_content_type;

/* "text/csv", "text/csv;label_size=0", "application/x-recordio-protobuf",
 * ... *label_size: 1 unless the type says 0 (CSV only). */
sf_rc kn_content_type_parse(const char *text, kn_content_type *out, int *label_size, kn_err *err);
const char *kn_content_type_name(kn_content_type ct);

typedef struct kn_reader kn_reader;

/* labelled: the records carry a label (training with label_size 1: CSV's
 * first column; RecordIO's label "values"; JSON Lines' "label").
 * feature_dim 0: taken from the first record; every later record must
 * match (RecordIO sparse records: their shape). name is used in errors. */
sf_rc kn_reader_open_file(const char *path, kn_content_type ct, bool labelled, size_t feature_dim,
                          kn_reader **out, kn_err *err);
sf_rc kn_reader_open_mem(const void *data, size_t len, const char *name, kn_content_type ct,
                         bool labelled, size_t feature_dim, kn_reader **out, kn_err *err);
/* Fills up to max rows (X must have room for max × feature_dim floats;
 * X->cols is set); X->rows 0 at the end. Before the first record is read,
 * feature_dim may be 0: kn_reader_feature_dim reads ahead to learn it. */
sf_rc kn_reader_next(kn_reader *r, kn_matrix *X, float *labels, size_t max, kn_err *err);
sf_rc kn_reader_feature_dim(kn_reader *r, size_t *dim, kn_err *err);
sf_rc kn_reader_rewind(kn_reader *r, kn_err *err);
void kn_reader_close(kn_reader **r);

/* The bounds a reader keeps. A file reader reads through a buffer of
 * KN_READ_BUFFER bytes, refilled; a record (a CSV or JSON Lines line, a
 * RecordIO record, a whole JSON request) that does not fit grows it up to
 * KN_RECORD_MAX, and a larger one is an error naming where it starts.
 * Records have at most KN_FEATURE_DIM_MAX features (a sparse record's
 * shape included). */
#define KN_READ_BUFFER ((size_t)1 << 20)
#define KN_RECORD_MAX ((size_t)64 << 20)
#define KN_FEATURE_DIM_MAX ((size_t)1 << 24)

/* Changes the buffer and record limits (buffer <= record_max, both >= 16
 * bytes); only before the first record is read. For tests and callers
 * that know their data (an inference request: 6 MiB). */
sf_rc kn_reader_set_limits(kn_reader *r, size_t buffer, size_t record_max, kn_err *err);

/* Records read since the start (or the last rewind). */
uint64_t kn_reader_records(const kn_reader *r);
/* A kn_source over the reader (borrowed: it must outlive the source). */
kn_source kn_reader_source(kn_reader *r);

/* ---- records, one at a time ---------------------------------------------
 *
 * For a caller that handles records itself (batch transform packs them
 * into mini-batches, joins them to their predictions): the readers' own
 * framing and parsing, a record at a time. */

/* Where a record is, for errors: "<name> <unit> <at>", unit "line",
 * "byte" or "instance". Borrowed strings. */
typedef struct kn_loc {
    const char *name;
    const char *unit;
    uint64_t at;
} kn_loc;

/* Formats "ClientError: <name> <unit> <at>: <detail>" into err (when not
 * NULL) and returns rc: how every data error names its record. */
sf_rc kn_loc_fail(const kn_loc *at, kn_err *err, sf_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* SageMaker's SplitType: how an input is cut into records. */
typedef enum {
    KN_SPLIT_NONE,     /* the whole input is one record */
    KN_SPLIT_LINE,     /* a line each, as the CSV and JSON Lines readers frame them */
    KN_SPLIT_RECORDIO, /* a RecordIO record each (multi-part ones joined): its payload */
} kn_split;

/* One framed record: its bytes (a line without its ending, a RecordIO
 * payload, the whole input) and where it starts (line, or byte offset for
 * RecordIO). p points into the reader's buffer: valid until the next call
 * on the reader. */
typedef struct kn_record {
    const uint8_t *p;
    size_t len;
    uint64_t where;
} kn_record;

/* A reader that only frames, cutting path into records by split; its
 * records come from kn_reader_record (kn_reader_next refuses). Blank lines
 * are skipped but counted, as the CSV reader skips them. Limits as for any
 * reader (kn_reader_set_limits); a record over the limit is SF_ELIMIT,
 * naming where it starts. */
sf_rc kn_reader_open_split(const char *path, kn_split split, kn_reader **out, kn_err *err);
/* Frames the next record into *rec; *got false at the end. */
sf_rc kn_reader_record(kn_reader *r, kn_record *rec, bool *got, kn_err *err);
/* Bytes of the input consumed so far (for progress). */
uint64_t kn_reader_offset(const kn_reader *r);

/* Parses one record's bytes, as framed for ct (a CSV line, a JSON Lines
 * line or one JSON instance's text, a RecordIO payload), as the readers
 * do: into dst (room for cap floats; a wider record writes the first cap)
 * with *n its feature count, and, when labelled, its label into *label
 * (may be NULL to drop it). Errors are ClientErrors naming at. */
sf_rc kn_record_parse(kn_content_type ct, const uint8_t *p, size_t len, const kn_loc *at,
                      bool labelled, float *dst, size_t cap, size_t *n, float *label, kn_err *err);

/* One CSV field as written, quotes and blanks kept. */
typedef struct kn_text {
    const char *p;
    size_t len;
} kn_text;

/* Cuts a CSV record into fields at the commas outside double quotes (an
 * id column "x,y" stays one field). Writes the first cap fields; returns
 * how many there are. */
size_t kn_csv_split(const char *p, size_t len, kn_text *fields, size_t cap);
/* Parses a field as the CSV reader does (blanks around it allowed,
 * nothing else): field is its 1-based number, for the error. */
sf_rc kn_csv_field_parse(const kn_text *f, size_t field, const kn_loc *at, float *out, kn_err *err);

/* ---- writing -------------------------------------------------------------- */

/* Appends rows predictions (rows × resp->width floats) to out in accept's
 * shape: JSON a whole {"predictions": [...]} document, JSON Lines and CSV
 * one line per record, RecordIO one Record per record with the fields in
 * its label map. */
sf_rc kn_write_predictions(kn_content_type accept, const kn_response *resp, const float *out,
                           size_t rows, FILE *to, kn_err *err);
/* The same bytes appended to b. SF_ELIMIT (with a message) when they
 * would pass b->max. */
sf_rc kn_put_predictions(kn_buf *b, kn_content_type accept, const kn_response *resp,
                         const float *out, size_t rows, kn_err *err);

/* Appends X's rows as training records in ct's shape, as SageMaker's SDK
 * writes them: CSV the label (when labels is not NULL) then the features;
 * JSON Lines {"features": [...], "label": l}; RecordIO one dense Record
 * per row, features["values"] and label["values"] as Float32Tensor. JSON
 * (a request document) is refused: write JSON Lines. */
sf_rc kn_write_records(kn_content_type ct, const kn_matrix *X, const float *labels, FILE *to,
                       kn_err *err);

/* Appends one sparse RecordIO Record: features["values"] with values,
 * keys (column indices, each < dim) and shape [dim]; label["values"] when
 * label is not NULL. */
sf_rc kn_write_record_sparse(const float *values, const uint64_t *keys, size_t nnz, size_t dim,
                             const float *label, FILE *to, kn_err *err);

#endif
