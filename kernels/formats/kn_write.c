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
 * A row is built in one buffer and written with one fwrite. */
#include <stdlib.h>
#include <string.h>

#include "kn_float.h"
#include "kn_format.h"
#include "kn_protobuf_record.h"
#include "kn_recordio.h"

typedef struct line_buf {
    char *p;
    size_t len, cap;
} line_buf;

static void put(line_buf *b, const char *s, size_t n)
{
    memcpy(b->p + b->len, s, n); /* room was reserved for the whole row */
    b->len += n;
}

static void put_str(line_buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_num(line_buf *b, float v, bool integral, bool json)
{
    if (json && (v != v || v - v != 0)) { /* NaN or infinite */
        put_str(b, "null");
        return;
    }
    b->len += kn_float_format(b->p + b->len, v, integral && !json);
}

static sf_rc check_response(const kn_response *resp, kn_err *err)
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
    return SF_OK;
}

/* One prediction as a JSON object: {"score": 0.4, "predicted_label": 1.0}. */
static void json_object_row(line_buf *b, const kn_response *resp, const float *v)
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

static void csv_row(line_buf *b, const kn_response *resp, const float *v)
{
    for (size_t f = 0; f < resp->nfields; f++)
        for (size_t i = 0; i < resp->fields[f].width; i++) {
            if (f || i)
                put_str(b, ",");
            put_num(b, *v++, resp->fields[f].integral, false);
        }
}

static sf_rc write_buf(FILE *to, const line_buf *b, kn_err *err)
{
    if (fwrite(b->p, 1, b->len, to) != b->len)
        return kn_fail(err, SF_EIO, "cannot write predictions");
    return SF_OK;
}

static sf_rc write_recordio_predictions(const kn_response *resp, const float *out, size_t rows,
                                        FILE *to, kn_err *err)
{
    kn_pb_tensor t[4];
    for (size_t f = 0; f < resp->nfields; f++)
        t[f] = (kn_pb_tensor){.name = resp->fields[f].name, .n = resp->fields[f].width};
    size_t size = kn_record_size(NULL, 0, t, resp->nfields); /* the same for every row */
    uint8_t *rec = malloc(size);
    if (!rec)
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory writing predictions");
    sf_rc rc = SF_OK;
    for (size_t r = 0; r < rows && rc == SF_OK; r++) {
        const float *v = out + r * resp->width;
        for (size_t f = 0; f < resp->nfields; f++) {
            t[f].values = v;
            v += t[f].n;
        }
        size_t n = kn_record_encode(NULL, 0, t, resp->nfields, rec);
        rc = kn_recordio_write(to, rec, n, err);
    }
    free(rec);
    return rc;
}

sf_rc kn_write_predictions(kn_content_type accept, const kn_response *resp, const float *out,
                           size_t rows, FILE *to, kn_err *err)
{
    sf_rc rc = check_response(resp, err);
    if (rc != SF_OK)
        return rc;
    if (accept == KN_CT_RECORDIO)
        return write_recordio_predictions(resp, out, rows, to, err);
    if (accept != KN_CT_CSV && accept != KN_CT_JSON && accept != KN_CT_JSONLINES)
        return kn_fail(err, SF_EINVAL, "unknown accept type %d", (int)accept);

    size_t names = 0;
    for (size_t f = 0; f < resp->nfields; f++)
        names += strlen(resp->fields[f].name) + 8;
    line_buf b = {.cap = resp->width * (KN_FLOAT_TEXT + 2) + names + strlen(resp->top) + 32};
    if (!(b.p = malloc(b.cap)))
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory writing predictions");
    if (accept == KN_CT_JSON) {
        put_str(&b, "{\"");
        put_str(&b, resp->top);
        put_str(&b, "\": [");
        rc = write_buf(to, &b, err);
    }
    for (size_t r = 0; r < rows && rc == SF_OK; r++) {
        b.len = 0;
        const float *v = out + r * resp->width;
        if (accept == KN_CT_CSV) {
            csv_row(&b, resp, v);
            put_str(&b, "\n");
        } else {
            if (accept == KN_CT_JSON && r)
                put_str(&b, ", ");
            json_object_row(&b, resp, v);
            if (accept == KN_CT_JSONLINES)
                put_str(&b, "\n");
        }
        rc = write_buf(to, &b, err);
    }
    if (accept == KN_CT_JSON && rc == SF_OK) {
        b.len = 0;
        put_str(&b, "]}");
        rc = write_buf(to, &b, err);
    }
    free(b.p);
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
    line_buf b = {.cap = (X->cols + 1) * (KN_FLOAT_TEXT + 2) + 64};
    if (!(b.p = malloc(b.cap)))
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory writing records");
    sf_rc rc = SF_OK;
    bool json = ct == KN_CT_JSONLINES;
    for (size_t r = 0; r < X->rows && rc == SF_OK; r++) {
        b.len = 0;
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
        rc = write_buf(to, &b, err);
    }
    free(b.p);
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
