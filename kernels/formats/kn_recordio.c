/* kernels/formats/kn_recordio.c - application/x-recordio-protobuf: RecordIO
 * framing around protobuf Records (kn_protobuf_record.c).
 *
 * Frames are read in place from the window. A record split by a dmlc
 * writer (cflag 1, 2..., 3: it cuts at each aligned occurrence of the
 * magic in the data and drops it) is put back together in r->joined with
 * the magic re-inserted between parts. The padding after the last record
 * may be missing: a transform's SingleRecord split strips it. Errors name
 * the byte offset where the frame starts. */
#include "kn_recordio.h"

#include <string.h>

#include "kn_protobuf_record.h"
#include "kn_reader_int.h"

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Makes n unread bytes available, or all that are left at the end. */
static sf_rc need(kn_reader *r, size_t n, uint64_t at, kn_err *err)
{
    while (r->end - r->pos < n && !r->eof) {
        size_t added;
        sf_rc rc = kn__reader_more(r, &added, err);
        if (rc == SF_ELIMIT)
            return kn__data_fail(r, err, at, rc, "the record is over the limit of %zu bytes",
                                 r->limit);
        if (rc != SF_OK)
            return rc;
    }
    return SF_OK;
}

static sf_rc join(kn_reader *r, size_t *jlen, const uint8_t *data, size_t len, bool magic,
                  uint64_t at, kn_err *err)
{
    size_t want = *jlen + (magic ? 4 : 0) + len;
    if (want > r->limit)
        return kn__data_fail(r, err, at, SF_ELIMIT,
                             "the multi-part record is over the limit of %zu bytes", r->limit);
    if (want > r->joined_cap) {
        size_t ncap = r->joined_cap ? r->joined_cap : 4096;
        while (ncap < want)
            ncap *= 2;
        uint8_t *nj = realloc(r->joined, ncap);
        if (!nj)
            return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory reading %s", r->name);
        r->joined = nj;
        r->joined_cap = ncap;
    }
    if (magic) {
        const uint8_t m[4] = {0x0a, 0x23, 0xd7, 0xce};
        memcpy(r->joined + *jlen, m, 4);
        *jlen += 4;
    }
    if (len)
        memcpy(r->joined + *jlen, data, len);
    *jlen += len;
    return SF_OK;
}

static sf_rc recordio_frame(kn_reader *r, kn_span *s, bool *got, kn_err *err)
{
    bool multi = false;
    size_t jlen = 0;
    uint64_t first_at = 0;
    sf_rc rc;
    for (;;) {
        uint64_t at = r->base + r->pos;
        if ((rc = need(r, 8, at, err)) != SF_OK)
            return rc;
        size_t avail = r->end - r->pos;
        if (avail == 0) {
            if (multi)
                return kn__data_fail(r, err, first_at, SF_EINVAL,
                                     "the multi-part record has no last part");
            *got = false;
            return SF_OK;
        }
        if (avail < 8)
            return kn__data_fail(r, err, at, SF_EINVAL, "truncated RecordIO header: %zu bytes of 8",
                                 avail);
        const uint8_t *h = r->buf + r->pos;
        uint32_t magic = le32(h), lrec = le32(h + 4);
        if (magic != KN_RECORDIO_MAGIC)
            return kn__data_fail(r, err, at, SF_EINVAL,
                                 "bad RecordIO magic 0x%08x (expected 0x%08x)", magic,
                                 KN_RECORDIO_MAGIC);
        uint32_t cflag = lrec >> 29, len = lrec & KN_RECORDIO_LEN_MAX;
        size_t pad = (4 - len % 4) % 4;
        if (cflag > 3)
            return kn__data_fail(r, err, at, SF_EINVAL, "bad RecordIO continuation flag %u", cflag);
        if (r->f && (size_t)len + 8 > r->limit) /* a memory reader: truncated, below */
            return kn__data_fail(r, err, at, SF_ELIMIT,
                                 "a record of %u bytes is over the limit of %zu", len, r->limit);
        if ((rc = need(r, (size_t)len + 8 + pad, at, err)) != SF_OK)
            return rc;
        avail = r->end - r->pos;
        if (avail < (size_t)len + 8)
            return kn__data_fail(r, err, at, SF_EINVAL,
                                 "truncated record: the header says %u bytes, %zu are there", len,
                                 avail - 8);
        const uint8_t *data = r->buf + r->pos + 8;
        r->pos += avail < (size_t)len + 8 + pad ? avail : (size_t)len + 8 + pad;
        if (cflag == 0) {
            if (multi)
                return kn__data_fail(r, err, at, SF_EINVAL,
                                     "a whole record inside the multi-part record at byte %llu",
                                     (unsigned long long)first_at);
            *s = (kn_span){.p = data, .len = len, .where = at};
            *got = true;
            return SF_OK;
        }
        if (cflag == 1) {
            if (multi)
                return kn__data_fail(r, err, at, SF_EINVAL,
                                     "a first part inside the multi-part record at byte %llu",
                                     (unsigned long long)first_at);
            multi = true;
            first_at = at;
        } else if (!multi) {
            return kn__data_fail(r, err, at, SF_EINVAL,
                                 "a continuation part (flag %u) with no first part", cflag);
        }
        if ((rc = join(r, &jlen, data, len, cflag != 1, first_at, err)) != SF_OK)
            return rc;
        if (cflag == 3) {
            *s = (kn_span){.p = r->joined, .len = jlen, .where = first_at};
            *got = true;
            return SF_OK;
        }
    }
}

sf_rc kn__recordio_parse(const uint8_t *p, size_t len, const kn_loc *at, float *dst, size_t cap,
                         size_t *n, float *label, kn_err *err)
{
    char why[256];
    size_t byte = 0;
    sf_rc rc = kn_record_decode(p, len, dst, cap, n, label, why, sizeof why, &byte);
    if (rc != SF_OK)
        return kn_loc_fail(at, err, rc, "bad Record (its byte %zu): %s", byte, why);
    return SF_OK;
}

static sf_rc recordio_decode(kn_reader *r, const kn_span *s, float *dst, size_t cap, size_t *n,
                             float *label, kn_err *err)
{
    kn_loc at = kn__reader_loc(r, s->where);
    return kn__recordio_parse(s->p, s->len, &at, dst, cap, n, label, err);
}

const kn_format_ops kn__recordio_ops = {
    .frame = recordio_frame, .decode = recordio_decode, .where = "byte"};

size_t kn_recordio_header(uint8_t h[8], size_t len)
{
    uint32_t words[2] = {KN_RECORDIO_MAGIC, (uint32_t)len};
    for (int w = 0; w < 2; w++)
        for (int k = 0; k < 4; k++)
            h[4 * w + k] = (uint8_t)(words[w] >> (8 * k));
    return (4 - len % 4) % 4;
}

sf_rc kn_recordio_write(FILE *to, const uint8_t *data, size_t len, kn_err *err)
{
    if (len > KN_RECORDIO_LEN_MAX)
        return kn_fail(err, SF_ELIMIT, "a record of %zu bytes is too long for RecordIO", len);
    uint8_t h[8];
    static const uint8_t zeros[4] = {0};
    size_t pad = kn_recordio_header(h, len);
    if (fwrite(h, 1, 8, to) != 8 || fwrite(data, 1, len, to) != len ||
        fwrite(zeros, 1, pad, to) != pad)
        return kn_fail(err, SF_EIO, "cannot write a RecordIO record");
    return SF_OK;
}
