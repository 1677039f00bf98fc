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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/transform/kn_transform_int.h"

void kn_tf_scratch_free(kn_tf_scratch *s)
{
    free(s->X);
    free(s->Y);
    free(s->vals);
    free(s->idx);
    free(s->fields);
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
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory for %zu floats", c);
    *p = q;
    *cap = c;
    return SF_OK;
}

sf_rc kn_tf_scratch_rows(kn_tf_scratch *s, size_t dim, size_t rows, kn_err *err)
{
    return grow_floats(&s->X, &s->xcap, (s->rows + rows) * (dim ? dim : 1), err);
}

kn_loc kn_tf_loc(const kn_transform_job *j, const char *file, const kn_tf_rec *r)
{
    return (kn_loc){
        .name = file, .unit = j->framing == KN_SPLIT_RECORDIO ? "byte" : "line", .at = r->where};
}

/* Decodes record i into rows of s; JSON values kept in s->vals[i]. */
static sf_rc decode_one(const kn_transform_job *j, kn_tf_batch *b, size_t i, kn_tf_scratch *s,
                        const char *file, kn_err *err)
{
    kn_tf_rec *r = &b->recs[i];
    const char *rec = b->in.p + r->off;
    kn_loc at = kn_tf_loc(j, file, r);
    r->row0 = s->rows;
    r->nrows = 0;
    if (j->ct == KN_CT_JSON || j->ct == KN_CT_JSONLINES)
        return kn_tf_json_decode(j, s, rec, r->len, &at, &s->vals[i], &r->nrows, err);
    sf_rc rc = kn_tf_scratch_rows(s, j->dim, 1, err);
    float *row = s->X + s->rows * j->dim;
    size_t got;
    if (rc == SF_OK && j->ct == KN_CT_CSV)
        rc = kn_tf_csv_decode(j, s, rec, r->len, row, &at, err);
    else if (rc == SF_OK) {
        rc = kn_record_parse(j->ct, (const uint8_t *)rec, r->len, &at, false, row, j->dim, &got,
                             NULL, err);
        if (rc == SF_OK && got != j->dim)
            rc = kn_tf_wrong_width(&at, got, j->dim, err);
    }
    if (rc == SF_OK) {
        s->rows++;
        r->nrows = 1;
    }
    return rc;
}

static sf_rc decode(const kn_transform_job *j, kn_tf_batch *b, kn_tf_scratch *s, const char *file,
                    kn_err *err)
{
    s->rows = 0;
    bool json = j->ct == KN_CT_JSON || j->ct == KN_CT_JSONLINES;
    if (json && b->nrecs > s->vcap) {
        json_t **v = realloc(s->vals, b->nrecs * sizeof *v);
        if (!v)
            return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
        s->vals = v;
        s->vcap = b->nrecs;
    }
    if (json)
        memset(s->vals, 0, b->nrecs * sizeof *s->vals);
    for (size_t i = 0; i < b->nrecs; i++) {
        sf_rc rc = decode_one(j, b, i, s, file, err);
        if (rc != SF_OK)
            return rc;
        if (j->join && b->recs[i].nrows != 1) {
            kn_loc at = kn_tf_loc(j, file, &b->recs[i]);
            return kn_loc_fail(&at, err, SF_EINVAL,
                               "JoinSource Input joins one prediction to each record, and this "
                               "record holds %zu instances",
                               b->recs[i].nrows);
        }
    }
    return SF_OK;
}

/* Each row's result through JoinSource and OutputFilter, one per line
 * (inside a {"predictions": [...]} document for application/json). */
static sf_rc encode_joined(const kn_transform_job *j, kn_tf_batch *b, kn_tf_scratch *s,
                           const char *file, kn_err *err)
{
    kn_buf *o = &b->out;
    bool document = j->accept == KN_CT_JSON && !j->join;
    const char *top = j->resp.top ? j->resp.top : "predictions";
    sf_rc rc = SF_OK;
    if (document && (rc = kn_buf_add(o, "{\"", 2)) == SF_OK &&
        (rc = kn_buf_add(o, top, strlen(top))) == SF_OK)
        rc = kn_buf_add(o, "\": [", 4);
    bool first = true;
    for (size_t i = 0; rc == SF_OK && i < b->nrecs; i++) {
        const kn_tf_rec *r = &b->recs[i];
        kn_loc at = kn_tf_loc(j, file, r);
        for (size_t k = 0; rc == SF_OK && k < r->nrows; k++, first = false) {
            const float *y = s->Y + (r->row0 + k) * j->resp.width;
            if (!first)
                rc = document ? kn_buf_add(o, ", ", 2) : kn_buf_add(o, "\n", 1);
            if (rc == SF_OK && j->accept == KN_CT_CSV)
                rc = kn_tf_csv_put_joined(j, s, o, b->in.p + r->off, r->len, y, err);
            else if (rc == SF_OK)
                rc = kn_tf_json_put_joined(j, o, j->join ? s->vals[i] : NULL, y, &at, err);
        }
    }
    if (rc == SF_OK && document)
        rc = kn_buf_add(o, "]}", 2);
    return rc;
}

/* The response: the formats layer's predictions for the whole batch, or
 * each through the filters. Records are separated by newlines with none
 * after the last: AssembleWith decides what goes between responses. */
static sf_rc encode(const kn_transform_job *j, kn_tf_batch *b, kn_tf_scratch *s, const char *file,
                    kn_err *err)
{
    kn_buf *o = &b->out;
    sf_rc rc;
    if (j->join || !kn_jp_is_root(&j->out_filter)) {
        rc = encode_joined(j, b, s, file, err);
    } else {
        rc = kn_put_predictions(o, j->accept, &j->resp, s->Y, s->rows, err);
        if (rc == SF_OK && (j->accept == KN_CT_CSV || j->accept == KN_CT_JSONLINES))
            o->len--;
    }
    if (rc == SF_ELIMIT)
        return kn_fail(err, rc, "AlgorithmError: %s: a mini-batch's response exceeds %zu MB", file,
                       o->max >> 20);
    if (rc == SF_ENOMEM)
        return kn_fail(err, rc, "AlgorithmError: out of memory");
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
                rc = kn_fail(err, rc, "%s%s (mini-batch from %s line/byte %llu)",
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
