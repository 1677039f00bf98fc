/* kernels/formats/kn_reader_int.h - what the reader core shares with the
 * format files (kn_lines.c, kn_csv.c, kn_jsonlines.c, kn_recordio.c).
 *
 * A reader is a window over its bytes plus a format. The window is the
 * whole buffer for a memory reader and a refilled buffer for a file. A
 * format frames the next record out of the window (a line, a RecordIO
 * record, an instance of a JSON request) and decodes a framed record into
 * floats. A framed span points into the window and stays valid only until
 * the next call that frames: framing is what refills. Internal: nothing
 * outside kernels/formats/ (and its tests) includes this. */
#ifndef KN_READER_INT_H
#define KN_READER_INT_H

#include <jansson.h>
#include <stdint.h>

#include "kernels/formats/kn_format.h"

/* One framed record. */
typedef struct kn_span {
    const uint8_t *p;
    size_t len;
    uint64_t where; /* line (1-based), byte offset, or instance (1-based) */
    json_t *json;   /* a JSON request's instance (borrowed from the document) */
} kn_span;

typedef struct kn_format_ops {
    /* Frames the next record into *s; *got false at the end. */
    sf_rc (*frame)(kn_reader *r, kn_span *s, bool *got, kn_err *err);
    /* Decodes s into dst (NULL for a reader that only frames) (room for cap floats; a record with
     * more features writes the first cap of them) and sets *n to its feature count; with label not
     * NULL, also its label (an error when it has none). Pure: decoding the same span twice gives
     * the same result. */
    sf_rc (*decode)(kn_reader *r, const kn_span *s, float *dst, size_t cap, size_t *n, float *label,
                    kn_err *err);
    const char *where; /* "line", "byte" or "instance": how errors place a record */
} kn_format_ops;

struct kn_reader {
    const kn_format_ops *ops;
    kn_content_type ct;
    bool labelled;
    size_t dim;        /* 0 until known */
    uint64_t dim_from; /* where the record that set dim was */
    char *name;

    FILE *f;           /* NULL for a memory reader */
    uint8_t *buf;      /* the window; a memory reader's is the caller's bytes */
    size_t cap, limit; /* buffer size now, and the most it may grow to */
    size_t pos, end;   /* unread bytes are buf[pos, end) */
    bool eof;          /* nothing more beyond end */
    uint64_t base;     /* byte offset of buf[0] in the input */
    bool started;      /* a record has been framed: limits are fixed */
    bool frame_only;   /* opened by kn_reader_open_split: records, no rows */

    uint64_t line;    /* lines consumed (line formats) */
    uint64_t records; /* records returned */

    kn_span pending; /* framed ahead by kn_reader_feature_dim */
    bool has_pending;

    float *scratch; /* for decoding a record whose width is not yet known */
    size_t scratch_cap;

    uint8_t *joined; /* a multi-part RecordIO record, put back together */
    size_t joined_cap;

    json_t *doc;   /* a JSON request, parsed whole */
    size_t inst_i; /* next instance */
};

extern const kn_format_ops kn__csv_ops, kn__jsonlines_ops, kn__json_ops, kn__recordio_ops;
/* Framing only, for kn_reader_open_split: a line each, the whole input. */
extern const kn_format_ops kn__lines_ops, kn__whole_ops;

/* Makes more bytes available after end: compacts the window and reads,
 * growing the buffer up to the limit when the unread part fills it.
 * *added 0 means the end of the input (r->eof is then set). SF_ELIMIT
 * (no message) when the unread part is already the limit; SF_EIO with a
 * message on a read error. */
sf_rc kn__reader_more(kn_reader *r, size_t *added, kn_err *err);

/* kn_loc_fail for the record of r at where. */
sf_rc kn__data_fail(const kn_reader *r, kn_err *err, uint64_t where, sf_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Where the record of r at where is. */
kn_loc kn__reader_loc(const kn_reader *r, uint64_t where);

/* Frames the next non-blank line (without its "\n" or "\r\n"); shared by
 * CSV and JSON Lines. */
sf_rc kn__lines_frame(kn_reader *r, kn_span *s, bool *got, kn_err *err);

/* What kn_record_parse runs for each format: the decode ops' bodies. */
sf_rc kn__csv_parse(const uint8_t *p, size_t len, const kn_loc *at, bool labelled, float *dst,
                    size_t cap, size_t *n, float *label, kn_err *err);
sf_rc kn__jsonlines_parse(const uint8_t *p, size_t len, const kn_loc *at, float *dst, size_t cap,
                          size_t *n, float *label, kn_err *err);
sf_rc kn__recordio_parse(const uint8_t *p, size_t len, const kn_loc *at, float *dst, size_t cap,
                         size_t *n, float *label, kn_err *err);

#endif
