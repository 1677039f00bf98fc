/* kernels/transform/kn_transform_csv.c - text/csv records through the
 * DataProcessing filters.
 *
 * The formats layer parses and writes (kn_record_parse, kn_csv_split,
 * kn_put_predictions); this file adds what only a transform does with a
 * CSV record: InputFilter picks the columns the model sees, JoinSource
 * appends the prediction's fields to the input's, OutputFilter picks
 * columns of that. Fields the filters pass over are copied as written,
 * quotes included; fields the model reads must be plain numbers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/transform/kn_transform_int.h"

sf_rc kn_tf_wrong_width(const kn_loc *at, size_t got, size_t want, kn_err *err)
{
    return kn_loc_fail(at, err, SF_EINVAL,
                       "%zu features, the model reads %zu (check the record has no label or "
                       "header, or set InputFilter)",
                       got, want);
}

/* s->fields[0, *nf) are the fields of [p, p+n). */
static sf_rc split(kn_tf_scratch *s, const char *p, size_t n, size_t *nf, kn_err *err)
{
    *nf = kn_csv_split(p, n, s->fields, s->fcap);
    if (*nf <= s->fcap)
        return SF_OK;
    kn_text *f = realloc(s->fields, *nf * sizeof *f);
    if (!f)
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
    s->fields = f;
    s->fcap = *nf;
    kn_csv_split(p, n, s->fields, s->fcap);
    return SF_OK;
}

/* Room in s->idx for what a filter picks from n fields. */
static sf_rc need_idx(kn_tf_scratch *s, size_t n, kn_err *err)
{
    size_t want = (n ? n : 1) * KN_JP_ITEMS;
    if (want <= s->icap)
        return SF_OK;
    size_t *idx = realloc(s->idx, want * sizeof *idx);
    if (!idx)
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
    s->idx = idx;
    s->icap = want;
    return SF_OK;
}

sf_rc kn_tf_csv_decode(const kn_transform_job *j, kn_tf_scratch *s, const char *rec, size_t n,
                       float *row, const kn_loc *at, kn_err *err)
{
    size_t got, nf;
    sf_rc rc;
    if (kn_jp_is_root(&j->in_filter)) {
        rc = kn_record_parse(KN_CT_CSV, (const uint8_t *)rec, n, at, false, row, j->dim, &got, NULL,
                             err);
        if (rc == SF_OK && got != j->dim)
            rc = kn_tf_wrong_width(at, got, j->dim, err);
        return rc;
    }
    if ((rc = split(s, rec, n, &nf, err)) != SF_OK || (rc = need_idx(s, nf, err)) != SF_OK)
        return rc;
    got = kn_jp_indexes(&j->in_filter, nf, s->idx, s->icap);
    if (got != j->dim)
        return kn_tf_wrong_width(at, got, j->dim, err);
    for (size_t i = 0; i < got && rc == SF_OK; i++)
        rc = kn_csv_field_parse(&s->fields[s->idx[i]], s->idx[i] + 1, at, &row[i], err);
    return rc;
}

sf_rc kn_tf_csv_put_joined(const kn_transform_job *j, kn_tf_scratch *s, kn_buf *b, const char *rec,
                           size_t n, const float *y, kn_err *err)
{
    /* The prediction's text goes after the record's in b's tail, then the
     * whole row is split into fields for the filter. */
    size_t mark = b->len;
    sf_rc rc = SF_OK;
    if (j->join && (rc = kn_buf_add(b, rec, n)) == SF_OK)
        rc = kn_buf_add(b, ",", 1);
    if (rc == SF_OK && (rc = kn_put_predictions(b, KN_CT_CSV, &j->resp, y, 1, err)) == SF_OK)
        b->len--; /* its "\n": the batch separates results */
    if (rc != SF_OK || kn_jp_is_root(&j->out_filter))
        return rc;
    size_t row_len = b->len - mark, nf;
    char *row = malloc(row_len ? row_len : 1);
    if (!row)
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
    memcpy(row, b->p + mark, row_len);
    b->len = mark;
    if ((rc = split(s, row, row_len, &nf, err)) == SF_OK)
        rc = need_idx(s, nf, err);
    size_t k = rc == SF_OK ? kn_jp_indexes(&j->out_filter, nf, s->idx, s->icap) : 0;
    for (size_t i = 0; rc == SF_OK && i < k; i++) {
        const kn_text *f = &s->fields[s->idx[i]];
        if (i)
            rc = kn_buf_add(b, ",", 1);
        if (rc == SF_OK)
            rc = kn_buf_add(b, f->p, f->len);
    }
    free(row);
    return rc;
}
