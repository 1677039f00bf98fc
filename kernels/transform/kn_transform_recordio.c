/* kernels/transform/kn_transform_recordio.c - application/x-recordio-protobuf.
 *
 * Framing (facts §5.1): magic 0xCED7230A, a u32 whose low 29 bits are the
 * length and top 3 a continuation flag, the data, zero padding to 4 bytes.
 * dmlc's writer splits a record at every aligned magic word inside it
 * (flags 1, 2, 3); we put the magic back between parts. A record is an
 * aialgs.data.Record (facts §5.2): we read features["values"] (any one
 * feature when it has another name), dense or sparse, as float32, float64
 * or int32, and write predictions as one Record per record with each
 * response field a Float32Tensor in the label map, as the built-in
 * algorithms answer. Hand-decoded: there is no protobuf runtime here. */
#include <stdlib.h>
#include <string.h>

#include "kernels/transform/kn_transform_int.h"

#define RIO_MAGIC 0xCED7230Au
#define RIO_LEN_MASK ((1u << 29) - 1)

static uint32_t le32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

sf_rc kn_tf_recordio_frame(const char *p, size_t avail, size_t *frame, kn_err *err,
                           const char *file, uint64_t at)
{
    size_t off = 0;
    *frame = 0;
    for (;;) {
        if (avail - off < 8)
            return SF_OK; /* need more */
        if (le32(p + off) != RIO_MAGIC)
            return kn_tf_fail(err, SF_EINVAL,
                              "ClientError: %s byte %llu: not a RecordIO frame (bad magic)", file,
                              (unsigned long long)(at + off));
        uint32_t l = le32(p + off + 4);
        uint32_t flag = l >> 29, len = l & RIO_LEN_MASK;
        size_t whole = 8 + (((size_t)len + 3) & ~(size_t)3);
        if (flag > 3)
            return kn_tf_fail(err, SF_EINVAL,
                              "ClientError: %s byte %llu: bad RecordIO continuation flag %u", file,
                              (unsigned long long)(at + off), flag);
        if (avail - off < whole)
            return SF_OK;
        off += whole;
        if (flag == 0 || flag == 3) {
            *frame = off;
            return SF_OK;
        }
    }
}

/* The record's payload, parts joined with the magic they were split at.
 * *owned is set when a new buffer was needed. */
static const char *payload(const char *p, size_t n, size_t *len, char **owned)
{
    *owned = NULL;
    uint32_t l = le32(p + 4);
    if ((l >> 29) == 0) {
        *len = l & RIO_LEN_MASK;
        return p + 8;
    }
    char *buf = malloc(n);
    if (!buf)
        return NULL;
    size_t out = 0;
    for (size_t off = 0; off < n;) {
        uint32_t part = le32(p + off + 4);
        size_t plen = part & RIO_LEN_MASK;
        if (off) {
            uint32_t m = RIO_MAGIC;
            memcpy(buf + out, &m, 4); /* little-endian hosts only, as SageMaker's */
            out += 4;
        }
        memcpy(buf + out, p + off + 8, plen);
        out += plen;
        off += 8 + ((plen + 3) & ~(size_t)3);
    }
    *len = out;
    *owned = buf;
    return buf;
}

/* ---- protobuf, the little we need ------------------------------------- */

typedef struct pb {
    const unsigned char *p, *end;
} pb;

static bool pb_varint(pb *b, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && b->p < b->end; shift += 7) {
        unsigned char c = *b->p++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return true;
    }
    return false;
}

/* The next field: its number, wire type, and for length-delimited ones
 * the bytes. Skips nothing: the caller ignores what it does not want. */
static bool pb_field(pb *b, uint32_t *num, uint32_t *type, pb *sub, uint64_t *val)
{
    uint64_t key;
    if (!pb_varint(b, &key))
        return false;
    *num = (uint32_t)(key >> 3);
    *type = (uint32_t)(key & 7);
    switch (*type) {
    case 0:
        return pb_varint(b, val);
    case 1:
        if (b->end - b->p < 8)
            return false;
        sub->p = b->p;
        b->p += 8;
        return true;
    case 5:
        if (b->end - b->p < 4)
            return false;
        sub->p = b->p;
        b->p += 4;
        return true;
    case 2: {
        uint64_t len;
        if (!pb_varint(b, &len) || len > (uint64_t)(b->end - b->p))
            return false;
        sub->p = b->p;
        sub->end = b->p + len;
        b->p += len;
        return true;
    }
    default:
        return false;
    }
}

typedef struct tensor {
    int kind; /* 2 float32, 3 float64, 7 int32 */
    pb values, keys;
    bool have_keys, packed;
} tensor;

static float tensor_value(const tensor *t, const unsigned char *p)
{
    if (t->kind == 2) {
        float f;
        memcpy(&f, p, 4);
        return f;
    }
    double d;
    memcpy(&d, p, 8);
    return (float)d;
}

/* Fills row from a tensor's values (and keys when sparse). Unpacked
 * repeated values are accepted too, as proto2 allows. */
static const char *tensor_row(const tensor *t, size_t dim, float *row)
{
    pb body = t->values;
    size_t w = t->kind == 3 ? 8 : 4;
    size_t n = 0;
    /* Every value is at least one byte on the wire: this holds them all. */
    float *vals = malloc(((size_t)(body.end - body.p) + 1) * sizeof *vals);
    if (!vals)
        return "out of memory";
    if (t->kind == 7) {
        uint64_t v;
        while (body.p < body.end && pb_varint(&body, &v))
            vals[n++] = (float)(int32_t)v;
    } else {
        while (body.end - body.p >= (long)w) {
            vals[n++] = tensor_value(t, body.p);
            body.p += w;
        }
    }
    const char *why = NULL;
    if (!t->have_keys) {
        if (n != dim)
            why = "the number of features is not the model's";
        else
            memcpy(row, vals, dim * sizeof *row);
    } else {
        memset(row, 0, dim * sizeof *row);
        pb k = t->keys;
        for (size_t i = 0; i < n && !why; i++) {
            uint64_t key;
            if (!pb_varint(&k, &key) || key >= dim)
                why = "a sparse key is outside the model's features";
            else
                row[key] = vals[i];
        }
    }
    free(vals);
    return why;
}

/* Value { float32_tensor = 2; float64_tensor = 3; int32_tensor = 7 } */
static bool read_value(pb v, tensor *t)
{
    uint32_t num, type;
    pb sub = {0};
    uint64_t x;
    while (v.p < v.end) {
        if (!pb_field(&v, &num, &type, &sub, &x))
            return false;
        if (type == 2 && (num == 2 || num == 3 || num == 7)) {
            t->kind = (int)num;
            pb body = sub;
            while (body.p < body.end) {
                pb s2 = {0};
                uint32_t n2, t2;
                if (!pb_field(&body, &n2, &t2, &s2, &x))
                    return false;
                if (n2 == 1 && t2 == 2)
                    t->values = s2;
                else if (n2 == 2 && t2 == 2) {
                    t->keys = s2;
                    t->have_keys = s2.end > s2.p;
                }
            }
            return true;
        }
    }
    return false;
}

sf_rc kn_tf_recordio_decode(const kn_transform_job *j, kn_tf_scratch *s, const char *rec, size_t n,
                            const char *where, size_t *rows, kn_err *err)
{
    size_t len;
    char *owned;
    const char *data = payload(rec, n, &len, &owned);
    if (!data)
        return kn_tf_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
    pb b = {(const unsigned char *)data, (const unsigned char *)data + len};
    tensor t = {0};
    bool found = false;
    const char *why = "no features in the Record";
    while (b.p < b.end && !found) {
        uint32_t num, type;
        pb sub = {0};
        uint64_t x;
        if (!pb_field(&b, &num, &type, &sub, &x)) {
            why = "not a protobuf Record";
            break;
        }
        if (num != 1 || type != 2)
            continue;
        /* map entry { key = 1; value = 2 } */
        pb val = {0};
        while (sub.p < sub.end) {
            uint32_t n2, t2;
            pb s2 = {0};
            if (!pb_field(&sub, &n2, &t2, &s2, &x))
                break;
            if (n2 == 2 && t2 == 2)
                val = s2;
        }
        /* "values" by convention; a feature of another name is taken too. */
        found = val.p && read_value(val, &t);
    }
    sf_rc rc = SF_OK;
    if (!found) {
        rc = kn_tf_fail(err, SF_EINVAL, "ClientError: %s: %s", where, why);
    } else if ((rc = kn_tf_scratch_rows(s, j->dim, 1, err)) == SF_OK) {
        why = tensor_row(&t, j->dim, s->X + s->rows * j->dim);
        if (why)
            rc = kn_tf_fail(err, SF_EINVAL, "ClientError: %s: %s", where, why);
        else {
            s->rows++;
            *rows = 1;
        }
    }
    free(owned);
    return rc;
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static char *put_varint(char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (char)v;
    return p;
}

sf_rc kn_tf_recordio_put_pred(const kn_transform_job *j, kn_tf_buf *b, const float *y)
{
    /* Sizes inside out: tensor, Value, map entry, Record. */
    size_t entry_len[4], value_len[4], tensor_len[4], rec_len = 0;
    for (size_t f = 0; f < j->resp.nfields; f++) {
        size_t w = j->resp.fields[f].width, name = strlen(j->resp.fields[f].name);
        tensor_len[f] = 1 + varint_len(4 * w) + 4 * w;
        value_len[f] = 1 + varint_len(tensor_len[f]) + tensor_len[f];
        entry_len[f] = 1 + varint_len(name) + name + 1 + varint_len(value_len[f]) + value_len[f];
        rec_len += 1 + varint_len(entry_len[f]) + entry_len[f];
    }
    size_t pad = (4 - rec_len % 4) % 4;
    sf_rc rc = kn_tf_buf_reserve(b, 8 + rec_len + pad);
    if (rc != SF_OK)
        return rc;
    char *p = b->p + b->len;
    uint32_t hdr[2] = {RIO_MAGIC, (uint32_t)rec_len};
    memcpy(p, hdr, 8); /* little-endian hosts, as SageMaker's */
    p += 8;
    size_t at = 0;
    for (size_t f = 0; f < j->resp.nfields; f++) {
        const kn_field *fd = &j->resp.fields[f];
        size_t name = strlen(fd->name);
        *p++ = 0x12; /* Record.label */
        p = put_varint(p, entry_len[f]);
        *p++ = 0x0A; /* entry key */
        p = put_varint(p, name);
        memcpy(p, fd->name, name);
        p += name;
        *p++ = 0x12; /* entry value */
        p = put_varint(p, value_len[f]);
        *p++ = 0x12; /* Value.float32_tensor */
        p = put_varint(p, tensor_len[f]);
        *p++ = 0x0A; /* Float32Tensor.values, packed */
        p = put_varint(p, 4 * fd->width);
        memcpy(p, y + at, 4 * fd->width);
        p += 4 * fd->width;
        at += fd->width;
    }
    memset(p, 0, pad);
    b->len += 8 + rec_len + pad;
    return SF_OK;
}
