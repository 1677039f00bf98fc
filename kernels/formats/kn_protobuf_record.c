/* kernels/formats/kn_protobuf_record.c - the Record message on the wire.
 *
 * Protobuf's wire format, as much as record.proto needs: a field is a
 * varint tag (number << 3 | wire type) then its value: 0 a varint, 1 eight
 * bytes, 2 a varint length then that many bytes (messages, strings,
 * packed repeated fields), 5 four bytes; little-endian throughout. A map
 * is a repeated message {key = 1; value = 2}; a oneof is whichever of its
 * fields came last. Decoding checks every length against the bytes left
 * before reading, and a tensor is walked twice: once to check and count,
 * once to copy, so nothing is allocated. */
#include "kn_protobuf_record.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kn_format.h"

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };
enum { T_F32 = 2, T_F64 = 3, T_I32 = 7, T_BYTES = 9 }; /* Value's oneof fields */

typedef struct pb_cur {
    const uint8_t *p, *end;
} pb_cur;

typedef struct pb_field {
    uint32_t num;
    int wt;
    uint64_t v;       /* a scalar's value (varint, I64, I32) */
    const uint8_t *p; /* a LEN field's bytes */
    size_t len;
} pb_field;

typedef struct pb_err {
    const uint8_t *start; /* of the record, for offsets */
    char *why;
    size_t whylen;
    size_t at;
} pb_err;

static sf_rc fail(pb_err *e, const uint8_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static sf_rc fail(pb_err *e, const uint8_t *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->why, e->whylen, fmt, ap);
    va_end(ap);
    e->at = (size_t)(at - e->start);
    return SF_EINVAL;
}

static bool get_varint(pb_cur *c, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64 && c->p < c->end; shift += 7) {
        uint8_t b = *c->p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false; /* truncated, or more than 10 bytes */
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--)
        x = x << 8 | p[i];
    return x;
}

/* The next field of the message at c: 1, 0 at its end, or an error. */
static int next_field(pb_cur *c, pb_field *f, pb_err *e, sf_rc *rc)
{
    if (c->p == c->end)
        return 0;
    const uint8_t *at = c->p;
    uint64_t tag;
    if (!get_varint(c, &tag)) {
        *rc = fail(e, at, "truncated field tag");
        return -1;
    }
    f->num = (uint32_t)(tag >> 3);
    f->wt = (int)(tag & 7);
    if (f->num == 0 || tag >> 3 > 0x1fffffff) {
        *rc = fail(e, at, "bad field number %llu", (unsigned long long)(tag >> 3));
        return -1;
    }
    size_t left;
    switch (f->wt) {
    case WT_VARINT:
        if (!get_varint(c, &f->v)) {
            *rc = fail(e, at, "field %u: truncated varint", f->num);
            return -1;
        }
        return 1;
    case WT_I64:
    case WT_I32: {
        size_t n = f->wt == WT_I64 ? 8 : 4;
        if ((size_t)(c->end - c->p) < n) {
            *rc = fail(e, at, "field %u: truncated %zu-byte value", f->num, n);
            return -1;
        }
        f->v = get_le(c->p, (int)n);
        c->p += n;
        return 1;
    }
    case WT_LEN:
        if (!get_varint(c, &f->v)) {
            *rc = fail(e, at, "field %u: truncated length", f->num);
            return -1;
        }
        left = (size_t)(c->end - c->p);
        if (f->v > left) {
            *rc = fail(e, at, "field %u: length %llu but %zu bytes left", f->num,
                       (unsigned long long)f->v, left);
            return -1;
        }
        f->p = c->p;
        f->len = (size_t)f->v;
        c->p += f->len;
        return 1;
    default:
        *rc = fail(e, at, "field %u: wire type %d is not supported", f->num, f->wt);
        return -1;
    }
}

/* What an element of a repeated field is on the wire. */
typedef enum { EL_VARINT, EL_I32, EL_I64 } el_kind;

static int el_wire(el_kind k)
{
    return k == EL_VARINT ? WT_VARINT : k == EL_I32 ? WT_I32 : WT_I64;
}

/* Counts the elements of a packed chunk, checking it is whole. */
static sf_rc count_packed(const pb_field *f, el_kind k, size_t *count, pb_err *e)
{
    if (k != EL_VARINT) {
        size_t w = k == EL_I32 ? 4 : 8;
        if (f->len % w)
            return fail(e, f->p, "field %u: packed length %zu is not a multiple of %zu", f->num,
                        f->len, w);
        *count += f->len / w;
        return SF_OK;
    }
    pb_cur c = {f->p, f->p + f->len};
    uint64_t v;
    while (c.p < c.end) {
        if (!get_varint(&c, &v))
            return fail(e, c.p, "field %u: truncated packed varint", f->num);
        (*count)++;
    }
    return SF_OK;
}

/* Walks the elements of repeated field num in a message already checked
 * by scan_tensor, packed chunks and unpacked elements alike. */
typedef struct rep_iter {
    pb_cur msg, chunk;
    uint32_t num;
    el_kind kind;
} rep_iter;

static uint64_t rep_next(rep_iter *it)
{
    while (it->chunk.p == it->chunk.end) {
        pb_field f;
        pb_err e = {0};
        char why[8];
        sf_rc rc;
        e.why = why;
        e.whylen = sizeof why;
        e.start = it->msg.p;
        if (next_field(&it->msg, &f, &e, &rc) != 1)
            return 0; /* cannot happen: counted before */
        if (f.num != it->num)
            continue;
        if (f.wt != WT_LEN)
            return f.v;
        it->chunk = (pb_cur){f.p, f.p + f.len};
    }
    if (it->kind == EL_VARINT) {
        uint64_t v = 0;
        get_varint(&it->chunk, &v);
        return v;
    }
    int n = it->kind == EL_I32 ? 4 : 8;
    uint64_t v = get_le(it->chunk.p, n);
    it->chunk.p += n;
    return v;
}

typedef struct tensor_info {
    el_kind kind; /* of values */
    int type;     /* T_F32, T_F64, T_I32 */
    size_t nvalues, nkeys, nshape;
    uint64_t width; /* shape product (nshape > 0) */
} tensor_info;

static sf_rc scan_tensor(pb_cur msg, tensor_info *t, const char *what, pb_err *e)
{
    pb_field f;
    sf_rc rc = SF_OK;
    int got;
    t->width = 1;
    while ((got = next_field(&msg, &f, e, &rc)) == 1) {
        if (f.num < 1 || f.num > 3)
            continue;
        el_kind k = f.num == 1 ? t->kind : EL_VARINT;
        size_t *count = f.num == 1 ? &t->nvalues : f.num == 2 ? &t->nkeys : &t->nshape;
        size_t before = *count;
        if (f.wt == WT_LEN)
            rc = count_packed(&f, k, count, e);
        else if (f.wt == el_wire(k))
            (*count)++;
        else
            rc = fail(e, msg.p, "%s: field %u has wire type %d", what, f.num, f.wt);
        if (rc != SF_OK)
            return rc;
        if (f.num != 3 || *count == before)
            continue;
        /* The shape's dims, multiplied now, bounded as they come. */
        rep_iter it = {.chunk = {NULL, NULL}, .num = 3, .kind = EL_VARINT};
        if (f.wt == WT_LEN)
            it.chunk = (pb_cur){f.p, f.p + f.len};
        for (size_t i = before; i < *count; i++) {
            uint64_t d = f.wt == WT_LEN ? rep_next(&it) : f.v;
            if (d == 0 || d > KN_FEATURE_DIM_MAX / t->width)
                return fail(e, msg.p, "%s: shape dim %llu is 0 or makes the shape over %zu", what,
                            (unsigned long long)d, KN_FEATURE_DIM_MAX);
            t->width *= d;
        }
    }
    return rc;
}

static float value_at(const tensor_info *t, uint64_t bits)
{
    if (t->type == T_F32) {
        uint32_t b = (uint32_t)bits;
        float v;
        memcpy(&v, &b, sizeof v);
        return v;
    }
    if (t->type == T_F64) {
        double v;
        memcpy(&v, &bits, sizeof v);
        return (float)v;
    }
    return (float)(int32_t)(uint32_t)bits; /* int32: sign-extended varint */
}

/* Decodes a Value (one of the tensors) into dst, as kn_record_decode. */
static sf_rc decode_value(pb_cur val, const char *what, float *dst, size_t cap, size_t *n,
                          pb_err *e)
{
    pb_field f;
    sf_rc rc = SF_OK;
    int got;
    tensor_info t = {.type = 0};
    pb_cur msg = {NULL, NULL};
    while ((got = next_field(&val, &f, e, &rc)) == 1) {
        if (f.num == T_BYTES)
            return fail(e, val.p, "%s is a Bytes value; tensors only are read", what);
        if (f.num != T_F32 && f.num != T_F64 && f.num != T_I32)
            continue;
        if (f.wt != WT_LEN)
            return fail(e, val.p, "%s: tensor field %u has wire type %d", what, f.num, f.wt);
        t.type = (int)f.num;
        msg = (pb_cur){f.p, f.p + f.len};
    }
    if (got < 0)
        return rc;
    if (!t.type)
        return fail(e, val.p, "%s holds no tensor", what);
    t.kind = t.type == T_F32 ? EL_I32 : t.type == T_F64 ? EL_I64 : EL_VARINT;
    if ((rc = scan_tensor(msg, &t, what, e)) != SF_OK)
        return rc;

    rep_iter vals = {.msg = msg, .num = 1, .kind = t.kind};
    if (t.nkeys == 0 && t.nvalues == 0 && t.nshape) { /* sparse, all zeros */
        size_t width = (size_t)t.width;
        if (cap > 0)
            memset(dst, 0, (width < cap ? width : cap) * sizeof *dst);
        *n = width;
        return SF_OK;
    }
    if (t.nkeys == 0) { /* dense */
        if (t.nshape && t.width != t.nvalues)
            return fail(e, msg.p, "%s: shape holds %llu values but %zu are given", what,
                        (unsigned long long)t.width, t.nvalues);
        if (t.nvalues > KN_FEATURE_DIM_MAX)
            return fail(e, msg.p, "%s: %zu values, over %zu", what, t.nvalues, KN_FEATURE_DIM_MAX);
        for (size_t i = 0; i < t.nvalues && i < cap; i++)
            dst[i] = value_at(&t, rep_next(&vals));
        *n = t.nvalues;
        return SF_OK;
    }
    if (!t.nshape)
        return fail(e, msg.p, "%s is sparse (has keys) but has no shape", what);
    if (t.nkeys != t.nvalues)
        return fail(e, msg.p, "%s: %zu keys but %zu values", what, t.nkeys, t.nvalues);
    size_t width = (size_t)t.width;
    if (cap > 0)
        memset(dst, 0, (width < cap ? width : cap) * sizeof *dst);
    rep_iter keys = {.msg = msg, .num = 2, .kind = EL_VARINT};
    for (size_t i = 0; i < t.nkeys; i++) {
        uint64_t k = rep_next(&keys);
        float v = value_at(&t, rep_next(&vals));
        if (k >= width)
            return fail(e, msg.p, "%s: key %llu is not below the shape's %zu", what,
                        (unsigned long long)k, width);
        if (k < cap)
            dst[k] = v;
    }
    *n = width;
    return SF_OK;
}

/* Finds map<string, Value> entry name among fields num of the Record;
 * the last one wins, as for any repeated key. */
static sf_rc find_entry(pb_cur rec, uint32_t num, const char *name, pb_cur *value, bool *found,
                        pb_err *e)
{
    size_t name_len = strlen(name);
    pb_field f, g;
    sf_rc rc = SF_OK;
    int got;
    *found = false;
    while ((got = next_field(&rec, &f, e, &rc)) == 1) {
        if (f.num != num)
            continue;
        if (f.wt != WT_LEN)
            return fail(e, rec.p, "Record field %u has wire type %d", num, f.wt);
        pb_cur entry = {f.p, f.p + f.len}, v = {NULL, NULL};
        bool match = name_len == 0; /* a missing key is "" */
        while ((got = next_field(&entry, &g, e, &rc)) == 1) {
            if ((g.num == 1 || g.num == 2) && g.wt != WT_LEN)
                return fail(e, entry.p, "map entry field %u has wire type %d", g.num, g.wt);
            if (g.num == 1)
                match = g.len == name_len && memcmp(g.p, name, name_len) == 0;
            else if (g.num == 2)
                v = (pb_cur){g.p, g.p + g.len};
        }
        if (got < 0)
            return rc;
        if (match) {
            *value = v; /* a missing value is an empty Value */
            if (!value->p)
                *value = (pb_cur){entry.end, entry.end};
            *found = true;
        }
    }
    return got < 0 ? rc : SF_OK;
}

sf_rc kn_record_tensor(const uint8_t *p, size_t len, bool label_map, const char *name, float *dst,
                       size_t cap, size_t *n, char *why, size_t whylen, size_t *at)
{
    pb_err e = {.start = p, .why = why, .whylen = whylen};
    pb_cur rec = {p, p + len}, v;
    bool found;
    char what[96];
    snprintf(what, sizeof what, "%s[\"%.64s\"]", label_map ? "label" : "features", name);
    sf_rc rc = find_entry(rec, label_map ? 2 : 1, name, &v, &found, &e);
    if (rc == SF_OK && !found)
        rc = fail(&e, p, "the Record has no %s", what);
    if (rc == SF_OK)
        rc = decode_value(v, what, dst, cap, n, &e);
    if (at)
        *at = e.at;
    return rc;
}

sf_rc kn_record_decode(const uint8_t *p, size_t len, float *dst, size_t cap, size_t *n,
                       float *label, char *why, size_t whylen, size_t *at)
{
    sf_rc rc = kn_record_tensor(p, len, false, "values", dst, cap, n, why, whylen, at);
    if (rc != SF_OK || !label)
        return rc;
    size_t ln = 0;
    rc = kn_record_tensor(p, len, true, "values", label, 1, &ln, why, whylen, at);
    if (rc == SF_OK && ln != 1) {
        snprintf(why, whylen, "label[\"values\"] has %zu values; one is expected", ln);
        if (at)
            *at = 0;
        return SF_EINVAL;
    }
    return rc;
}

/* Encoding: sizes first, bottom up, since every length precedes its bytes. */

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t len_field_size(size_t len)
{
    return 1 + varint_size(len) + len; /* all our tags are one byte */
}

static size_t keys_size(const kn_pb_tensor *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += varint_size(t->keys[i]);
    return n;
}

static size_t tensor_size(const kn_pb_tensor *t)
{
    size_t n = t->n ? len_field_size(4 * t->n) : 0;
    if (t->keys && t->n)
        n += len_field_size(keys_size(t));
    if (t->shape)
        n += len_field_size(varint_size(t->shape));
    return n;
}

static size_t entry_size(const kn_pb_tensor *t)
{
    return len_field_size(strlen(t->name)) + len_field_size(len_field_size(tensor_size(t)));
}

size_t kn_record_size(const kn_pb_tensor *f, size_t nf, const kn_pb_tensor *l, size_t nl)
{
    size_t n = 0;
    for (size_t i = 0; i < nf; i++)
        n += len_field_size(entry_size(&f[i]));
    for (size_t i = 0; i < nl; i++)
        n += len_field_size(entry_size(&l[i]));
    return n;
}

static uint8_t *put_varint(uint8_t *o, uint64_t v)
{
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    return o;
}

static uint8_t *put_len(uint8_t *o, uint32_t num, size_t len)
{
    *o++ = (uint8_t)(num << 3 | WT_LEN);
    return put_varint(o, len);
}

static uint8_t *put_entry(uint8_t *o, uint32_t map, const kn_pb_tensor *t)
{
    size_t klen = strlen(t->name), ts = tensor_size(t);
    o = put_len(o, map, entry_size(t));
    o = put_len(o, 1, klen);
    memcpy(o, t->name, klen);
    o += klen;
    o = put_len(o, 2, len_field_size(ts)); /* Value */
    o = put_len(o, T_F32, ts);             /* Float32Tensor */
    if (t->n) {
        o = put_len(o, 1, 4 * t->n);
        for (size_t i = 0; i < t->n; i++) {
            uint32_t b;
            memcpy(&b, &t->values[i], sizeof b);
            for (int k = 0; k < 4; k++)
                *o++ = (uint8_t)(b >> (8 * k));
        }
    }
    if (t->keys && t->n) {
        o = put_len(o, 2, keys_size(t));
        for (size_t i = 0; i < t->n; i++)
            o = put_varint(o, t->keys[i]);
    }
    if (t->shape) {
        o = put_len(o, 3, varint_size(t->shape));
        o = put_varint(o, t->shape);
    }
    return o;
}

size_t kn_record_encode(const kn_pb_tensor *f, size_t nf, const kn_pb_tensor *l, size_t nl,
                        uint8_t *out)
{
    uint8_t *o = out;
    for (size_t i = 0; i < nf; i++)
        o = put_entry(o, 1, &f[i]);
    for (size_t i = 0; i < nl; i++)
        o = put_entry(o, 2, &l[i]);
    return (size_t)(o - out);
}
