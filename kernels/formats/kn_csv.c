/* kernels/formats/kn_csv.c - text/csv records.
 *
 * One record per line, numbers separated by commas, no header; when
 * labelled the first field is the label (SageMaker's label_size=1).
 * Fields are parsed in place from the read buffer with kn_float_parse:
 * no copies, no allocation per field. Blanks around a field are allowed;
 * an empty field or anything that is not wholly a number is an error
 * naming the line, the field (1-based, the label counted) and its text.
 * A quoted field is not a number; kn_csv_split keeps one whole for a
 * caller that only picks columns around it (a transform's InputFilter). */
#include "kn_float.h"
#include "kn_reader_int.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static sf_rc bad_field(const kn_loc *at, size_t field, const char *f, const char *end, kn_err *err)
{
    while (f < end && is_blank(*f))
        f++;
    const char *e = f;
    while (e < end && *e != ',')
        e++;
    while (e > f && is_blank(e[-1]))
        e--;
    if (e == f)
        return kn_loc_fail(at, err, SF_EINVAL, "field %zu is empty", field);
    int n = e - f > 40 ? 40 : (int)(e - f);
    return kn_loc_fail(at, err, SF_EINVAL, "field %zu is not a number: '%.*s%s'", field, n, f,
                       e - f > 40 ? "..." : "");
}

/* The number at [p, end) after blanks, and the blanks after it: NULL when
 * there is none, else where it stops (a comma or end when the field is
 * good). */
static const char *field_number(const char *p, const char *end, float *v)
{
    while (p < end && is_blank(*p))
        p++;
    p = kn_float_parse(p, end, v);
    while (p && p < end && is_blank(*p))
        p++;
    return p;
}

/* Bit i set when p[i] is a comma, for the up to 16 bytes of [p, end). */
static unsigned comma_mask(const char *p, const char *end)
{
#ifdef __SSE2__
    if (end - p >= 16)
        return (unsigned)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), _mm_set1_epi8(',')));
#endif
    unsigned m = 0;
    for (int i = 0; i < 16 && p + i < end; i++)
        m |= (unsigned)(p[i] == ',') << i;
    return m;
}

sf_rc kn__csv_parse(const uint8_t *rec, size_t len, const kn_loc *at, bool labelled, float *dst,
                    size_t cap, size_t *n, float *label, kn_err *err)
{
    /* The commas are found first, 16 bytes at a time, so that where a
     * field starts does not wait on parsing the one before it: the
     * processor overlaps the fields' number parsing. */
    const char *p = (const char *)rec, *end = p + len, *blk = p;
    unsigned mask = comma_mask(blk, end);
    size_t field = 0, count = 0;
    bool want_label = labelled;
    for (;;) {
        field++;
        const char *f = p, *fe = end;
        while (mask == 0 && (blk += 16) < end)
            mask = comma_mask(blk, end);
        if (mask) {
            fe = blk + __builtin_ctz(mask);
            mask &= mask - 1;
        }
        float v;
        /* The inline fast path first (it may decline: NULL); [f, end), not
         * [f, fe): the number stops at the comma anyway, and
         * the parser reads 8 bytes at a time only where 8 remain. */
        const char *q = kn__float_scan(f, end, &v);
        if (q != fe && field_number(f, fe, &v) != fe)
            return bad_field(at, field, f, end, err);
        if (want_label) {
            want_label = false;
            if (label)
                *label = v;
        } else {
            if (count < cap)
                dst[count] = v;
            count++;
        }
        if (fe == end)
            break;
        p = fe + 1; /* a trailing comma leaves an empty field: an error */
    }
    *n = count;
    return SF_OK;
}

sf_rc kn_csv_field_parse(const kn_text *f, size_t field, const kn_loc *at, float *out, kn_err *err)
{
    const char *end = f->p + f->len, *p = field_number(f->p, end, out);
    return p == end ? SF_OK : bad_field(at, field, f->p, end, err);
}

size_t kn_csv_split(const char *p, size_t len, kn_text *fields, size_t cap)
{
    const char *end = p + len;
    size_t k = 0;
    for (;;) {
        const char *f = p;
        bool quoted = false;
        while (p < end && (quoted || *p != ',')) {
            if (*p == '"')
                quoted = !quoted;
            p++;
        }
        if (k < cap)
            fields[k] = (kn_text){f, (size_t)(p - f)};
        k++;
        if (p == end)
            return k;
        p++; /* the comma */
    }
}

static sf_rc csv_decode(kn_reader *r, const kn_span *s, float *dst, size_t cap, size_t *n,
                        float *label, kn_err *err)
{
    kn_loc at = kn__reader_loc(r, s->where);
    return kn__csv_parse(s->p, s->len, &at, r->labelled, dst, cap, n, label, err);
}

static sf_rc csv_frame(kn_reader *r, kn_span *s, bool *got, kn_err *err)
{
    return kn__lines_frame(r, s, got, err);
}

const kn_format_ops kn__csv_ops = {.frame = csv_frame, .decode = csv_decode, .where = "line"};
