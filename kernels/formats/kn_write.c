/* kernels/formats/kn_write.c - predictions and records, written in
 * SageMaker's shapes.
 *
 * Predictions follow the model's kn_response: JSON {"<top>": [{field:
 * value}, ...]}, JSON Lines one {field: value} per line, CSV the fields'
 * values in order, RecordIO one Record per prediction with each field a
 * Float32Tensor in its label map. Numbers are the shortest text that
 * reads back as the same float32, in Python's style ("0.4", "1.0") as
 * SageMaker's containers write them; integral fields are integers in CSV.
 * JSON has no NaN or Infinity: a non-finite value is written as null.
 * A row is built in a kn_buf: appended to the caller's
 * (kn_put_predictions) or written with one fwrite. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kn_float.h"
#include "kn_format.h"
#include "kn_protobuf_record.h"
#include "kn_recordio.h"

/* Appends after a kn_buf_reserve that made room for the whole row. */
static void put(kn_buf *b, const char *s, size_t n)
{
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void put_str(kn_buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_num(kn_buf *b, float v, bool integral, bool json)
{
    if (json && (v != v || v - v != 0)) { /* NaN or infinite */
        put_str(b, "null");
        return;
    }
    b->len += kn_float_format(b->p + b->len, v, integral && !json);
}

static sf_rc check_response(kn_content_type accept, const kn_response *resp, kn_err *err)
{
    size_t w = 0;
    if (resp->nfields == 0 || resp->nfields > 4)
        return kn_fail(err, SF_EINVAL, "AlgorithmError: a response has 1 to 4 fields, not %zu",
                       resp->nfields);
    for (size_t i = 0; i < resp->nfields; i++)
        w += resp->fields[i].width;
    if (w != resp->width || w == 0)
        return kn_fail(err, SF_EINVAL,
                       "AlgorithmError: the response's fields are %zu floats wide, not %zu", w,
                       resp->width);
    if (accept != KN_CT_CSV && accept != KN_CT_JSON && accept != KN_CT_JSONLINES &&
        accept != KN_CT_RECORDIO)
        return kn_fail(err, SF_EINVAL, "unknown accept type %d", (int)accept);
    return SF_OK;
}

/* One prediction as a JSON object: {"score": 0.4, "predicted_label": 1.0}. */
static void json_object_row(kn_buf *b, const kn_response *resp, const float *v)
{
    put_str(b, "{");
    for (size_t f = 0; f < resp->nfields; f++) {
        const kn_field *fd = &resp->fields[f];
        if (f)
            put_str(b, ", ");
        put_str(b, "\"");
        put_str(b, fd->name);
        put_str(b, "\": ");
        bool arr = fd->vector || fd->width != 1;
        if (arr)
            put_str(b, "[");
        for (size_t i = 0; i < fd->width; i++) {
            if (i)
                put_str(b, ", ");
            put_num(b, *v++, fd->integral, true);
        }
        if (arr)
            put_str(b, "]");
    }
    put_str(b, "}");
}

static void csv_row(kn_buf *b, const kn_response *resp, const float *v)
{
    for (size_t f = 0; f < resp->nfields; f++)
        for (size_t i = 0; i < resp->fields[f].width; i++) {
            if (f || i)
                put_str(b, ",");
            put_num(b, *v++, resp->fields[f].integral, false);
        }
}

/* What every row of one response shares: its shape and bounds. */
typedef struct pred_shape {
    kn_content_type accept;
    const kn_response *resp;
    kn_pb_tensor t[4]; /* RecordIO: the label map, values set per row */
    size_t rec_size;   /* RecordIO: a Record's size, the same for every row */
    size_t text_max;   /* text shapes: the most bytes a row takes */
} pred_shape;

static pred_shape shape_of(kn_content_type accept, const kn_response *resp)
{
    pred_shape ps = {.accept = accept, .resp = resp};
    size_t names = 0;
    for (size_t f = 0; f < resp->nfields; f++) {
        ps.t[f] = (kn_pb_tensor){.name = resp->fields[f].name, .n = resp->fields[f].width};
        names += strlen(resp->fields[f].name) + 8;
    }
    if (accept == KN_CT_RECORDIO)
        ps.rec_size = kn_record_size(NULL, 0, ps.t, resp->nfields);
    ps.text_max = resp->width * (KN_FLOAT_TEXT + 2) + names + strlen(resp->top) + 32;
    return ps;
}

/* JSON's document opens and closes around the rows; nothing for the others. */
static sf_rc put_head(kn_buf *b, const pred_shape *ps)
{
    sf_rc rc = SF_OK;
    if (ps->accept == KN_CT_JSON && (rc = kn_buf_reserve(b, ps->text_max)) == SF_OK) {
        put_str(b, "{\"");
        put_str(b, ps->resp->top);
        put_str(b, "\": [");
    }
    return rc;
}

static sf_rc put_tail(kn_buf *b, const pred_shape *ps)
{
    return ps->accept == KN_CT_JSON ? kn_buf_add(b, "]}", 2) : SF_OK;
}

static sf_rc put_row(kn_buf *b, pred_shape *ps, const float *v, bool first)
{
    const kn_response *resp = ps->resp;
    if (ps->accept == KN_CT_RECORDIO) {
        uint8_t h[8];
        size_t pad = kn_recordio_header(h, ps->rec_size);
        sf_rc rc = kn_buf_reserve(b, 8 + ps->rec_size + pad);
        if (rc != SF_OK)
            return rc;
        for (size_t f = 0; f < resp->nfields; f++) {
            ps->t[f].values = v;
            v += ps->t[f].n;
        }
        put(b, (const char *)h, 8);
        b->len += kn_record_encode(NULL, 0, ps->t, resp->nfields, (uint8_t *)b->p + b->len);
        put(b, "\0\0\0", pad);
        return SF_OK;
    }
    sf_rc rc = kn_buf_reserve(b, ps->text_max);
    if (rc != SF_OK)
        return rc;
    if (ps->accept == KN_CT_CSV) {
        csv_row(b, resp, v);
        put_str(b, "\n");
    } else {
        if (ps->accept == KN_CT_JSON && !first)
            put_str(b, ", ");
        json_object_row(b, resp, v);
        if (ps->accept == KN_CT_JSONLINES)
            put_str(b, "\n");
    }
    return SF_OK;
}

static sf_rc put_fail(const kn_buf *b, sf_rc rc, kn_err *err)
{
    if (rc == SF_ELIMIT)
        return kn_fail(err, rc, "AlgorithmError: predictions exceed %zu bytes", b->max);
    return kn_fail(err, rc, "AlgorithmError: out of memory writing predictions");
}

sf_rc kn_put_predictions(kn_buf *b, kn_content_type accept, const kn_response *resp,
                         const float *out, size_t rows, kn_err *err)
{
    sf_rc rc = check_response(accept, resp, err);
    if (rc != SF_OK)
        return rc;
    pred_shape ps = shape_of(accept, resp);
    rc = put_head(b, &ps);
    for (size_t r = 0; r < rows && rc == SF_OK; r++)
        rc = put_row(b, &ps, out + r * resp->width, r == 0);
    if (rc == SF_OK)
        rc = put_tail(b, &ps);
    return rc == SF_OK ? rc : put_fail(b, rc, err);
}

static sf_rc flush(FILE *to, kn_buf *b, const char *what, kn_err *err)
{
    size_t n = b->len;
    b->len = 0;
    if (n > 0 && fwrite(b->p, 1, n, to) != n)
        return kn_fail(err, SF_EIO, "cannot write %s", what);
    return SF_OK;
}

sf_rc kn_write_predictions(kn_content_type accept, const kn_response *resp, const float *out,
                           size_t rows, FILE *to, kn_err *err)
{
    sf_rc rc = check_response(accept, resp, err);
    if (rc != SF_OK)
        return rc;
    /* A row at a time through one buffer, one fwrite each. */
    pred_shape ps = shape_of(accept, resp);
    kn_buf b = {.max = SIZE_MAX};
    rc = put_head(&b, &ps);
    if (rc == SF_OK)
        rc = flush(to, &b, "predictions", err);
    for (size_t r = 0; r < rows && rc == SF_OK; r++) {
        rc = put_row(&b, &ps, out + r * resp->width, r == 0);
        if (rc == SF_OK)
            rc = flush(to, &b, "predictions", err);
    }
    if (rc == SF_OK && (rc = put_tail(&b, &ps)) == SF_OK)
        rc = flush(to, &b, "predictions", err);
    if (rc == SF_ENOMEM || rc == SF_ELIMIT)
        rc = put_fail(&b, rc, err);
    kn_buf_free(&b);
    return rc;
}

sf_rc kn_write_records(kn_content_type ct, const kn_matrix *X, const float *labels, FILE *to,
                       kn_err *err)
{
    if (ct == KN_CT_JSON)
        return kn_fail(err, SF_EUNSUPPORTED,
                       "records are written as JSON Lines, not one JSON request");
    if (ct == KN_CT_RECORDIO) {
        sf_rc rc = SF_OK;
        for (size_t r = 0; r < X->rows && rc == SF_OK; r++) {
            kn_pb_tensor f = {.name = "values", .values = kn_row(X, r), .n = X->cols};
            kn_pb_tensor l = {.name = "values", .values = labels ? &labels[r] : NULL, .n = 1};
            size_t nl = labels ? 1 : 0, size = kn_record_size(&f, 1, &l, nl);
            uint8_t *rec = malloc(size);
            if (!rec)
                return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory writing records");
            kn_record_encode(&f, 1, &l, nl, rec);
            rc = kn_recordio_write(to, rec, size, err);
            free(rec);
        }
        return rc;
    }
    if (ct != KN_CT_CSV && ct != KN_CT_JSONLINES)
        return kn_fail(err, SF_EINVAL, "unknown content type %d", (int)ct);
    kn_buf b = {.max = SIZE_MAX};
    if (kn_buf_reserve(&b, (X->cols + 1) * (KN_FLOAT_TEXT + 2) + 64) != SF_OK)
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory writing records");
    sf_rc rc = SF_OK;
    bool json = ct == KN_CT_JSONLINES;
    for (size_t r = 0; r < X->rows && rc == SF_OK; r++) {
        const float *v = kn_row(X, r);
        if (json)
            put_str(&b, "{\"features\": [");
        else if (labels)
            put_num(&b, labels[r], false, false);
        for (size_t c = 0; c < X->cols; c++) {
            if (c || (labels && !json))
                put_str(&b, json ? ", " : ",");
            put_num(&b, v[c], false, json);
        }
        if (json && labels) {
            put_str(&b, "], \"label\": ");
            put_num(&b, labels[r], false, true);
            put_str(&b, "}");
        } else if (json) {
            put_str(&b, "]}");
        }
        put_str(&b, "\n");
        rc = flush(to, &b, "records", err);
    }
    kn_buf_free(&b);
    return rc;
}

sf_rc kn_write_record_sparse(const float *values, const uint64_t *keys, size_t nnz, size_t dim,
                             const float *label, FILE *to, kn_err *err)
{
    for (size_t i = 0; i < nnz; i++)
        if (keys[i] >= dim)
            return kn_fail(err, SF_EINVAL, "key %llu at %zu is not below dim %zu",
                           (unsigned long long)keys[i], i, dim);
    kn_pb_tensor f = {.name = "values", .values = values, .n = nnz, .keys = keys, .shape = dim};
    kn_pb_tensor l = {.name = "values", .values = label, .n = 1};
    size_t nl = label ? 1 : 0, size = kn_record_size(&f, 1, &l, nl);
    uint8_t *rec = malloc(size);
    if (!rec)
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory writing a record");
    kn_record_encode(&f, 1, &l, nl, rec);
    sf_rc rc = kn_recordio_write(to, rec, size, err);
    free(rec);
    return rc;
}
