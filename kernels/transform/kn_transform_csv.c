/* kernels/transform/kn_transform_csv.c - text/csv records in, CSV out.
 *
 * The hot path of a CSV transform: numbers are parsed here without
 * strtof (which costs several times the rest of the pipeline) and
 * predictions formatted in the shortest text that reads back the same.
 * A record is an array of fields for the filters: InputFilter picks the
 * columns the model sees, JoinSource appends the prediction's fields to the
 * input's, OutputFilter picks columns of that. Fields are kept as written
 * (quotes included) when copied to the output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/transform/kn_transform_int.h"

/* Powers of ten a double holds exactly: mantissa * 10^e is then correctly
 * rounded in one operation. */
static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static inline bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* The rare forms (nan, inf, long mantissas, huge exponents): strtof on a
 * bounded copy. */
static const char *parse_float_slow(const char *p, const char *end, float *out)
{
    char tmp[64];
    size_t n = (size_t)(end - p);
    if (n >= sizeof tmp)
        n = sizeof tmp - 1;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    char *stop;
    float v = strtof(tmp, &stop);
    if (stop == tmp)
        return NULL;
    const char *q = p + (stop - tmp);
    while (q < end && is_space(*q))
        q++;
    *out = v;
    return q;
}

const char *kn_tf_parse_float(const char *p, const char *end, float *out)
{
    const char *start = p;
    while (p < end && is_space(*p))
        p++;
    const char *num = p;
    bool neg = false;
    if (p < end && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    /* Digits straight into one integer; more than 19 of them (leading
     * zeros included) could overflow it and go the slow way. */
    uint64_t mant = 0;
    int exp10 = 0;
    const char *d0 = p;
    while (p < end && (unsigned)(*p - '0') < 10)
        mant = mant * 10 + (uint64_t)(*p++ - '0');
    int digits = (int)(p - d0);
    bool any = digits > 0;
    if (p < end && *p == '.') {
        const char *f0 = ++p;
        while (p < end && (unsigned)(*p - '0') < 10)
            mant = mant * 10 + (uint64_t)(*p++ - '0');
        exp10 = -(int)(p - f0);
        digits -= exp10;
        any = any || p > f0;
    }
    if (!any)
        return start < end ? parse_float_slow(num, end, out) : NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        const char *e = p++;
        bool eneg = false;
        if (p < end && (*p == '-' || *p == '+'))
            eneg = *p++ == '-';
        int ev = 0;
        const char *e0 = p;
        while (p < end && (unsigned)(*p - '0') < 10 && ev < 100000)
            ev = ev * 10 + (*p++ - '0');
        if (p == e0)
            p = e; /* "1e" : the e is not ours; the caller sees junk after */
        else
            exp10 += eneg ? -ev : ev;
    }
    if (digits > 19 || mant >= (1ull << 53) || exp10 < -22 || exp10 > 22)
        return parse_float_slow(num, end, out);
    double v = (double)mant;
    v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
    *out = (float)(neg ? -v : v);
    while (p < end && is_space(*p))
        p++;
    return p;
}

sf_rc kn_tf_put_float(kn_tf_buf *b, float v, bool as_int)
{
    sf_rc rc = kn_tf_buf_reserve(b, 32);
    if (rc != SF_OK)
        return rc;
    char *at = b->p + b->len;
    int n;
    if (as_int && isfinite(v) && v == floorf(v) && fabsf(v) < 1e15f) {
        n = snprintf(at, 32, "%lld", (long long)v);
    } else {
        n = snprintf(at, 32, "%.7g", (double)v);
        if (strtof(at, NULL) != v)
            n = snprintf(at, 32, "%.9g", (double)v);
    }
    b->len += (size_t)n;
    return SF_OK;
}

sf_rc kn_tf_csv_split(kn_tf_scratch *s, const char *p, size_t n, size_t *count, kn_err *err)
{
    const char *end = p + n;
    size_t k = 0;
    for (;;) {
        if (k == s->scap) {
            size_t cap = s->scap ? s->scap * 2 : 64;
            kn_tf_span *sp = realloc(s->spans, cap * sizeof *sp);
            if (!sp)
                return kn_tf_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
            s->spans = sp;
            s->scap = cap;
        }
        const char *f = p;
        bool quoted = false;
        while (p < end && (quoted || *p != ',')) {
            if (*p == '"')
                quoted = !quoted;
            p++;
        }
        s->spans[k++] = (kn_tf_span){f, (size_t)(p - f)};
        if (p == end)
            break;
        p++; /* the comma */
    }
    *count = k;
    return SF_OK;
}

/* A field's number, quotes around it allowed. */
static bool field_float(const kn_tf_span *f, float *v)
{
    const char *p = f->p, *end = f->p + f->n;
    while (p < end && is_space(*p))
        p++;
    while (end > p && is_space(end[-1]))
        end--;
    if (end - p >= 2 && *p == '"' && end[-1] == '"') {
        p++;
        end--;
    }
    const char *q = p < end ? kn_tf_parse_float(p, end, v) : NULL;
    return q == end;
}

static sf_rc not_a_number(const char *where, size_t col, const char *p, size_t n, kn_err *err)
{
    int show = n > 40 ? 40 : (int)n;
    return kn_tf_fail(err, SF_EINVAL, "ClientError: %s column %zu: \"%.*s%s\" is not a number",
                      where, col + 1, show, p, n > 40 ? "..." : "");
}

static sf_rc wrong_width(const char *where, size_t got, size_t want, kn_err *err)
{
    return kn_tf_fail(err, SF_EINVAL,
                      "ClientError: %s: %zu features, the model reads %zu (check the CSV has no "
                      "label or header, or set InputFilter)",
                      where, got, want);
}

/* The fast path: InputFilter "$", no quotes. */
static sf_rc decode_plain(const char *rec, size_t n, float *row, size_t dim, const char *where,
                          kn_err *err)
{
    const char *p = rec, *end = rec + n;
    size_t col = 0;
    for (;;) {
        if (col >= dim) {
            size_t extra = 1;
            for (const char *q = p; (q = memchr(q, ',', (size_t)(end - q))) != NULL; q++)
                extra++;
            return wrong_width(where, dim + extra, dim, err);
        }
        float v;
        const char *q = kn_tf_parse_float(p, end, &v);
        if (!q || (q != end && *q != ',')) {
            const char *fend = memchr(p, ',', (size_t)(end - p));
            return not_a_number(where, col, p, (size_t)((fend ? fend : end) - p), err);
        }
        row[col++] = v;
        if (q == end)
            break;
        p = q + 1;
    }
    if (col != dim)
        return wrong_width(where, col, dim, err);
    return SF_OK;
}

static sf_rc need_idx(kn_tf_scratch *s, size_t n, kn_err *err)
{
    size_t want = (n ? n : 1) * KN_JP_ITEMS;
    if (want <= s->icap)
        return SF_OK;
    size_t *idx = realloc(s->idx, want * sizeof *idx);
    if (!idx)
        return kn_tf_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
    s->idx = idx;
    s->icap = want;
    return SF_OK;
}

sf_rc kn_tf_csv_decode(const kn_transform_job *j, kn_tf_scratch *s, const char *rec, size_t n,
                       float *row, const char *where, kn_err *err)
{
    if (kn_jp_is_root(&j->in_filter) && !memchr(rec, '"', n))
        return decode_plain(rec, n, row, j->dim, where, err);
    size_t nf;
    sf_rc rc = kn_tf_csv_split(s, rec, n, &nf, err);
    if (rc == SF_OK)
        rc = need_idx(s, nf, err);
    if (rc != SF_OK)
        return rc;
    size_t k = kn_jp_indexes(&j->in_filter, nf, s->idx, s->icap);
    if (k != j->dim)
        return wrong_width(where, k, j->dim, err);
    for (size_t i = 0; i < k; i++) {
        const kn_tf_span *f = &s->spans[s->idx[i]];
        if (!field_float(f, &row[i]))
            return not_a_number(where, s->idx[i], f->p, f->n, err);
    }
    return SF_OK;
}

sf_rc kn_tf_csv_put_pred(const kn_transform_job *j, kn_tf_buf *b, const float *y)
{
    size_t at = 0;
    for (size_t f = 0; f < j->resp.nfields; f++) {
        const kn_field *fd = &j->resp.fields[f];
        for (size_t i = 0; i < fd->width; i++, at++) {
            sf_rc rc = (at ? kn_tf_buf_add(b, ",", 1) : SF_OK);
            if (rc == SF_OK)
                rc = kn_tf_put_float(b, y[at], fd->integral);
            if (rc != SF_OK)
                return rc;
        }
    }
    return SF_OK;
}

sf_rc kn_tf_csv_put_joined(const kn_transform_job *j, kn_tf_scratch *s, kn_tf_buf *b,
                           const char *rec, size_t n, const float *y, kn_err *err)
{
    /* The prediction's text goes after the record's in a scratch buffer
     * (b's tail), then the whole row is split into fields for the filter. */
    size_t mark = b->len;
    sf_rc rc = SF_OK;
    if (j->join) {
        rc = kn_tf_buf_add(b, rec, n);
        if (rc == SF_OK)
            rc = kn_tf_buf_add(b, ",", 1);
    }
    if (rc == SF_OK)
        rc = kn_tf_csv_put_pred(j, b, y);
    if (rc != SF_OK)
        return kn_tf_fail(err, rc, "AlgorithmError: a response exceeds %zu bytes", b->max);
    if (kn_jp_is_root(&j->out_filter))
        return SF_OK;
    size_t row_len = b->len - mark;
    char *row = malloc(row_len ? row_len : 1);
    if (!row)
        return kn_tf_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
    memcpy(row, b->p + mark, row_len);
    b->len = mark;
    size_t nf;
    rc = kn_tf_csv_split(s, row, row_len, &nf, err);
    if (rc == SF_OK)
        rc = need_idx(s, nf, err);
    size_t k = rc == SF_OK ? kn_jp_indexes(&j->out_filter, nf, s->idx, s->icap) : 0;
    for (size_t i = 0; rc == SF_OK && i < k; i++) {
        const kn_tf_span *f = &s->spans[s->idx[i]];
        if (i)
            rc = kn_tf_buf_add(b, ",", 1);
        if (rc == SF_OK)
            rc = kn_tf_buf_add(b, f->p, f->n);
    }
    free(row);
    if (rc == SF_ELIMIT)
        return kn_tf_fail(err, rc, "AlgorithmError: a response exceeds %zu bytes", b->max);
    return rc;
}
