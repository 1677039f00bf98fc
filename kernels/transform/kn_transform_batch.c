/* kernels/transform/kn_transform_batch.c - one mini-batch: decode, predict,
 * encode.
 *
 * Runs on a predict thread with that thread's scratch; touches nothing
 * shared but the model, which it only reads (kn_transform.h states the
 * requirement on kn_algo.predict). A response is the batch's records'
 * results separated by newlines with none after the last (CSV, JSON
 * Lines), one {"predictions": [...]} document (JSON) or Records
 * (RecordIO); AssembleWith, applied by the writer, decides what goes
 * between responses. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/transform/kn_transform_int.h"

sf_rc kn_tf_fail(kn_err *err, sf_rc rc, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return rc;
}

sf_rc kn_tf_buf_reserve(kn_tf_buf *b, size_t more)
{
    if (b->cap - b->len >= more)
        return SF_OK;
    if (more > b->max - b->len)
        return SF_ELIMIT;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < more)
        cap *= 2;
    if (cap > b->max)
        cap = b->max;
    char *p = realloc(b->p, cap);
    if (!p)
        return SF_ENOMEM;
    b->p = p;
    b->cap = cap;
    return SF_OK;
}

sf_rc kn_tf_buf_add(kn_tf_buf *b, const void *data, size_t n)
{
    sf_rc rc = kn_tf_buf_reserve(b, n);
    if (rc != SF_OK)
        return rc;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return SF_OK;
}

void kn_tf_buf_free(kn_tf_buf *b)
{
    free(b->p);
    *b = (kn_tf_buf){0};
}

void kn_tf_scratch_free(kn_tf_scratch *s)
{
    free(s->X);
    free(s->Y);
    free(s->vals);
    free(s->idx);
    free(s->spans);
    *s = (kn_tf_scratch){0};
}

static sf_rc grow_floats(float **p, size_t *cap, size_t want, kn_err *err)
{
    if (want <= *cap)
        return SF_OK;
    size_t c = *cap ? *cap : 1024;
    while (c < want)
        c *= 2;
    float *q = realloc(*p, c * sizeof *q);
    if (!q)
        return kn_tf_fail(err, SF_ENOMEM, "AlgorithmError: out of memory for %zu floats", c);
    *p = q;
    *cap = c;
    return SF_OK;
}

sf_rc kn_tf_scratch_rows(kn_tf_scratch *s, size_t dim, size_t rows, kn_err *err)
{
    return grow_floats(&s->X, &s->xcap, (s->rows + rows) * (dim ? dim : 1), err);
}

void kn_tf_where(const kn_transform_job *j, const char *file, const kn_tf_rec *r, char *buf,
                 size_t len)
{
    snprintf(buf, len, "%s %s %llu", file, j->split == KN_SPLIT_RECORDIO ? "byte" : "line",
             (unsigned long long)r->where);
}

/* Decodes record r into rows of s; JSON values kept in s->vals[i]. */
static sf_rc decode_one(const kn_transform_job *j, kn_tf_batch *b, size_t i, kn_tf_scratch *s,
                        const char *where, kn_err *err)
{
    kn_tf_rec *r = &b->recs[i];
    const char *rec = b->in.p + r->off;
    r->row0 = s->rows;
    r->nrows = 0;
    sf_rc rc;
    switch (j->ct) {
    case KN_CT_CSV:
        rc = kn_tf_scratch_rows(s, j->dim, 1, err);
        if (rc == SF_OK)
            rc = kn_tf_csv_decode(j, s, rec, r->len, s->X + s->rows * j->dim, where, err);
        if (rc == SF_OK) {
            s->rows++;
            r->nrows = 1;
        }
        return rc;
    case KN_CT_JSON:
    case KN_CT_JSONLINES:
        return kn_tf_json_decode(j, s, rec, r->len, where, &s->vals[i], &r->nrows, err);
    case KN_CT_RECORDIO:
        return kn_tf_recordio_decode(j, s, rec, r->len, where, &r->nrows, err);
    }
    return SF_EINVAL;
}

static sf_rc decode(const kn_transform_job *j, kn_tf_batch *b, kn_tf_scratch *s, const char *file,
                    kn_err *err)
{
    s->rows = 0;
    bool json = j->ct == KN_CT_JSON || j->ct == KN_CT_JSONLINES;
    if (json && b->nrecs > s->vcap) {
        json_t **v = realloc(s->vals, b->nrecs * sizeof *v);
        if (!v)
            return kn_tf_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
        s->vals = v;
        s->vcap = b->nrecs;
    }
    if (json)
        memset(s->vals, 0, b->nrecs * sizeof *s->vals);
    for (size_t i = 0; i < b->nrecs; i++) {
        /* The location is only formatted when there is an error: decoding
         * again with it costs nothing on the good path. */
        if (decode_one(j, b, i, s, "", err) == SF_OK) {
            if (j->join && b->recs[i].nrows != 1) {
                char where[512];
                kn_tf_where(j, file, &b->recs[i], where, sizeof where);
                return kn_tf_fail(err, SF_EINVAL,
                                  "ClientError: %s: JoinSource Input joins one prediction to "
                                  "each record, and this record holds %zu instances",
                                  where, b->recs[i].nrows);
            }
            continue;
        }
        char where[512];
        kn_tf_where(j, file, &b->recs[i], where, sizeof where);
        s->rows = b->recs[i].row0;
        return decode_one(j, b, i, s, where, err);
    }
    return SF_OK;
}

/* The JSON result of row y for record value in (NULL without a join),
 * after OutputFilter. */
static sf_rc json_result(const kn_transform_job *j, json_t *in, const float *y, json_t **out,
                         const char *where, kn_err *err)
{
    json_t *pred = kn_tf_json_pred(j, y);
    if (!pred)
        return kn_tf_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
    json_t *v = pred;
    if (in) {
        /* SageMaker adds the output under SageMakerOutput, wrapping an
         * input that is not an object. */
        if (json_is_object(in)) {
            v = json_copy(in);
            if (v)
                json_object_set_new(v, "SageMakerOutput", pred);
        } else {
            v = json_pack("{s:O,s:o}", "SageMakerInput", in, "SageMakerOutput", pred);
        }
        if (!v)
            return kn_tf_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
    }
    char why[160];
    *out = kn_jp_apply(&j->out_filter, v, why, sizeof why);
    json_decref(v);
    if (!*out)
        return kn_tf_fail(err, SF_EINVAL, "ClientError: %s: OutputFilter %s", where, why);
    return SF_OK;
}

static sf_rc encode(const kn_transform_job *j, kn_tf_batch *b, kn_tf_scratch *s, const char *file,
                    kn_err *err)
{
    kn_tf_buf *o = &b->out;
    const size_t width = j->resp.width;
    bool document = j->accept == KN_CT_JSON && !j->join;
    sf_rc rc = SF_OK;
    if (document) {
        const char *top = j->resp.top ? j->resp.top : "predictions";
        rc = kn_tf_buf_add(o, "{\"", 2);
        if (rc == SF_OK)
            rc = kn_tf_buf_add(o, top, strlen(top));
        if (rc == SF_OK)
            rc = kn_tf_buf_add(o, "\":[", 3);
    }
    bool first = true;
    for (size_t i = 0; rc == SF_OK && i < b->nrecs; i++) {
        const kn_tf_rec *r = &b->recs[i];
        for (size_t k = 0; rc == SF_OK && k < r->nrows; k++, first = false) {
            const float *y = s->Y + (r->row0 + k) * width;
            if (!first && j->accept != KN_CT_RECORDIO)
                rc = kn_tf_buf_add(o, document ? "," : "\n", 1);
            if (rc != SF_OK)
                break;
            if (j->accept == KN_CT_RECORDIO) {
                rc = kn_tf_recordio_put_pred(j, o, y);
            } else if (j->accept == KN_CT_CSV) {
                if (!j->join && kn_jp_is_root(&j->out_filter))
                    rc = kn_tf_csv_put_pred(j, o, y);
                else
                    rc = kn_tf_csv_put_joined(j, s, o, b->in.p + r->off, r->len, y, err);
            } else {
                char where[512] = "";
                if (!kn_jp_is_root(&j->out_filter))
                    kn_tf_where(j, file, r, where, sizeof where);
                json_t *v = NULL;
                rc = json_result(j, j->join ? s->vals[i] : NULL, y, &v, where, err);
                if (rc == SF_OK) {
                    rc = kn_tf_json_put(o, v);
                    json_decref(v);
                }
            }
        }
    }
    if (rc == SF_OK && document)
        rc = kn_tf_buf_add(o, "]}", 2);
    if (rc == SF_ELIMIT)
        return kn_tf_fail(err, rc, "AlgorithmError: %s: a mini-batch's response exceeds %zu MB",
                          file, o->max >> 20);
    if (rc == SF_ENOMEM)
        return kn_tf_fail(err, rc, "AlgorithmError: out of memory");
    return rc;
}

sf_rc kn_tf_batch_run(const kn_transform_job *j, kn_tf_batch *b, kn_tf_scratch *s, const char *file,
                      kn_err *err)
{
    b->out.len = 0;
    sf_rc rc = decode(j, b, s, file, err);
    if (rc == SF_OK && s->rows > 0) {
        rc = grow_floats(&s->Y, &s->ycap, s->rows * j->resp.width, err);
        if (rc == SF_OK) {
            kn_matrix X = {.rows = s->rows, .cols = j->dim, .data = s->X};
            kn_err perr = {{0}};
            rc = j->model->algo->predict(j->model, &X, s->Y, &perr);
            if (rc != SF_OK)
                rc = kn_tf_fail(err, rc, "%s%s (mini-batch from %s line/byte %llu)",
                                strncmp(perr.msg, "ClientError", 11) &&
                                        strncmp(perr.msg, "AlgorithmError", 14)
                                    ? "AlgorithmError: "
                                    : "",
                                perr.msg[0] ? perr.msg : sf_rc_str(rc), file,
                                (unsigned long long)b->recs[0].where);
        }
    }
    if (rc == SF_OK && s->rows > 0)
        rc = encode(j, b, s, file, err);
    if (j->ct == KN_CT_JSON || j->ct == KN_CT_JSONLINES)
        for (size_t i = 0; i < b->nrecs && i < s->vcap; i++)
            json_decref(s->vals[i]);
    return rc;
}
