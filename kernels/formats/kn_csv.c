/* kernels/formats/kn_csv.c - text/csv records.
 *
 * One record per line, numbers separated by commas, no header; when
 * labelled the first field is the label (SageMaker's label_size=1).
 * Fields are parsed in place from the read buffer with kn_float_parse:
 * no copies, no allocation per field. Blanks around a field are allowed;
 * an empty field or anything that is not wholly a number is an error
 * naming the line, the field (1-based, the label counted) and its text. */
#include "kn_float.h"
#include "kn_reader_int.h"

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static sf_rc bad_field(const kn_reader *r, const kn_span *s, size_t field, const char *f,
                       const char *end, kn_err *err)
{
    const char *e = f;
    while (e < end && *e != ',')
        e++;
    while (e > f && is_blank(e[-1]))
        e--;
    if (e == f)
        return kn__data_fail(r, err, s->where, SF_EINVAL, "field %zu is empty", field);
    int n = e - f > 40 ? 40 : (int)(e - f);
    return kn__data_fail(r, err, s->where, SF_EINVAL, "field %zu is not a number: '%.*s%s'", field,
                         n, f, e - f > 40 ? "..." : "");
}

static sf_rc csv_decode(kn_reader *r, const kn_span *s, float *dst, size_t cap, size_t *n,
                        float *label, kn_err *err)
{
    const char *p = (const char *)s->p, *end = p + s->len;
    size_t field = 0, count = 0;
    bool want_label = r->labelled;
    for (;;) {
        field++;
        while (p < end && is_blank(*p))
            p++;
        const char *f = p;
        float v;
        p = kn_float_parse(f, end, &v);
        if (!p)
            return bad_field(r, s, field, f, end, err);
        while (p < end && is_blank(*p))
            p++;
        if (p < end && *p != ',')
            return bad_field(r, s, field, f, end, err);
        if (want_label) {
            want_label = false;
            if (label)
                *label = v;
        } else {
            if (count < cap)
                dst[count] = v;
            count++;
        }
        if (p == end)
            break;
        p++; /* the comma; a trailing one leaves an empty field: an error */
    }
    *n = count;
    return SF_OK;
}

static sf_rc csv_frame(kn_reader *r, kn_span *s, bool *got, kn_err *err)
{
    return kn__lines_frame(r, s, got, err);
}

const kn_format_ops kn__csv_ops = {.frame = csv_frame, .decode = csv_decode, .where = "line"};
