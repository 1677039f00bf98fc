/* kernels/mlp/mlp_idx.c - reading IDX files through zlib.
 *
 * gzread reads plain files as they are, so one path serves both. The
 * header is checked before anything is allocated, against a hard cap, so
 * a corrupt or hostile header cannot ask for gigabytes. */
#include "kernels/mlp/mlp_idx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Reads exactly n bytes; false on a short read (gzip errors included). */
static bool read_all(gzFile f, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? 1u << 30 : (unsigned)n;
        int got = gzread(f, p, chunk);
        if (got <= 0)
            return false;
        p += got;
        n -= (size_t)got;
    }
    return true;
}

static sf_rc fail_read(gzFile f, const char *path, const char *what, kn_err *err)
{
    int code = 0;
    const char *msg = gzerror(f, &code);
    if (code != Z_OK && code != Z_STREAM_END)
        return kn_fail(err, SF_EIO, "ClientError: %s: %s: %s", path, what, msg);
    return kn_fail(err, SF_EINVAL, "ClientError: %s: truncated: %s", path, what);
}

sf_rc kn_idx_load(const char *path, kn_idx **out, kn_err *err)
{
    *out = NULL;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return kn_fail(err, SF_EIO, "ClientError: %s: cannot open", path);
    kn_idx *idx = calloc(1, sizeof *idx);
    sf_rc rc = SF_OK;
    uint8_t magic[4];
    if (!idx) {
        rc = kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory reading %s", path);
        goto done;
    }
    if (!read_all(f, magic, 4)) {
        rc = fail_read(f, path, "the 4-byte IDX magic is missing", err);
        goto done;
    }
    if (magic[0] != 0 || magic[1] != 0 || magic[3] == 0 || magic[3] > KN_IDX_MAX_DIMS) {
        rc = kn_fail(err, SF_EINVAL,
                     "ClientError: %s: not an IDX file (magic %02x %02x %02x %02x; expected "
                     "00 00 <type> <1..%d dimensions>)",
                     path, magic[0], magic[1], magic[2], magic[3], KN_IDX_MAX_DIMS);
        goto done;
    }
    if (magic[2] != 0x08) {
        rc = kn_fail(err, SF_EINVAL,
                     "ClientError: %s: IDX type 0x%02x is not read here (only 0x08, unsigned "
                     "bytes)",
                     path, magic[2]);
        goto done;
    }
    idx->ndims = magic[3];
    size_t total = 1;
    for (size_t d = 0; d < idx->ndims; d++) {
        uint8_t be[4];
        if (!read_all(f, be, 4)) {
            rc = fail_read(f, path, "the dimensions end early", err);
            goto done;
        }
        idx->dims[d] = (size_t)be[0] << 24 | (size_t)be[1] << 16 | (size_t)be[2] << 8 | be[3];
        if (idx->dims[d] == 0 || total > KN_IDX_MAX_BYTES / idx->dims[d]) {
            rc = kn_fail(err, SF_ELIMIT,
                         "ClientError: %s: dimension %zu is %zu: empty, or the file would "
                         "hold more than %zu bytes",
                         path, d, idx->dims[d], KN_IDX_MAX_BYTES);
            goto done;
        }
        total *= idx->dims[d];
    }
    idx->item = total / idx->dims[0];
    idx->data = malloc(total);
    if (!idx->data) {
        rc = kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory for %zu bytes of %s", total,
                     path);
        goto done;
    }
    if (!read_all(f, idx->data, total)) {
        char what[96];
        snprintf(what, sizeof what, "the header promises %zu bytes of data", total);
        rc = fail_read(f, path, what, err);
        goto done;
    }
    uint8_t extra;
    if (gzread(f, &extra, 1) != 0) {
        rc = kn_fail(err, SF_EINVAL,
                     "ClientError: %s: bytes after the %zu the header promises (not IDX, or "
                     "two files joined)",
                     path, total);
        goto done;
    }
done:
    gzclose(f);
    if (rc != SF_OK)
        kn_idx_destroy(&idx);
    *out = idx;
    return rc;
}

void kn_idx_destroy(kn_idx **pidx)
{
    kn_idx *idx = pidx ? *pidx : NULL;
    if (!idx)
        return;
    free(idx->data);
    free(idx);
    *pidx = NULL;
}

static sf_rc cursor_next(void *ctx, kn_matrix *X, float *labels, size_t max, kn_err *err)
{
    kn_idx_cursor *c = ctx;
    size_t n = c->limit - c->pos < max ? c->limit - c->pos : max;
    size_t item = c->images->item;
    X->cols = item;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *src = c->images->data + (c->pos + i) * item;
        float *dst = X->data + i * item;
        for (size_t j = 0; j < item; j++)
            dst[j] = src[j];
        if (labels)
            labels[i] = c->labels->data[c->pos + i];
    }
    c->pos += n;
    X->rows = n;
    return SF_OK;
}

static sf_rc cursor_rewind(void *ctx, kn_err *err)
{
    ((kn_idx_cursor *)ctx)->pos = 0;
    return SF_OK;
}

sf_rc kn_idx_source(kn_idx_cursor *c, const kn_idx *images, const kn_idx *labels, size_t limit,
                    kn_source *out, kn_err *err)
{
    if (labels->item != 1 || labels->dims[0] != images->dims[0])
        return kn_fail(err, SF_EINVAL,
                       "ClientError: %zu images but %zu labels of %zu bytes each (expected one "
                       "byte per image)",
                       images->dims[0], labels->dims[0], labels->item);
    size_t n = images->dims[0];
    *c = (kn_idx_cursor){images, labels, 0, limit && limit < n ? limit : n};
    *out = (kn_source){c, cursor_next, cursor_rewind, images->item};
    return SF_OK;
}
