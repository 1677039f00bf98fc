/* kernels/kn_tar.c - gzip'd ustar archives of one file, written and read.
 *
 * The ustar header is POSIX's (IEEE Std 1003.1, "pax" format, ustar
 * interchange format): 512-byte blocks, numbers as octal text, a checksum
 * of the header's bytes. Writing is done here rather than through a
 * library because one member with a fixed header is all a model needs.
 * The mtime is 0 so the same model always makes the same bytes. */
#define _GNU_SOURCE
#include "kn_tar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define BLOCK 512

/* width-1 octal digits, zero padded, then a NUL (callers check v fits) */
static void put_octal(unsigned char *field, size_t width, unsigned long long v)
{
    field[width - 1] = '\0';
    for (size_t i = width - 1; i-- > 0; v >>= 3)
        field[i] = (unsigned char)('0' + (v & 7));
}

static unsigned header_sum(const unsigned char *h)
{
    unsigned sum = 0;
    for (size_t i = 0; i < BLOCK; i++)
        sum += (i >= 148 && i < 156) ? ' ' : h[i];
    return sum;
}

static sf_rc gz_put(gzFile gz, const void *data, size_t len, kn_err *err)
{
    const unsigned char *p = data;
    while (len > 0) {
        unsigned chunk = len > (1u << 30) ? (1u << 30) : (unsigned)len;
        if (gzwrite(gz, p, chunk) != (int)chunk) {
            int zerr;
            const char *why = gzerror(gz, &zerr);
            return kn_fail(err, SF_EIO, "AlgorithmError: cannot write model.tar.gz: %s",
                           zerr == Z_ERRNO ? strerror(errno) : why);
        }
        p += chunk;
        len -= chunk;
    }
    return SF_OK;
}

sf_rc kn_tar_write_gz(int fd, const char *member, const void *data, size_t len, kn_err *err)
{
    if (strlen(member) >= 100)
        return kn_fail(err, SF_EINVAL, "AlgorithmError: tar member name too long: %s", member);
    if ((unsigned long long)len >= 077777777777ULL) /* 11 octal digits */
        return kn_fail(err, SF_ELIMIT, "AlgorithmError: model of %zu bytes is too big", len);

    unsigned char h[BLOCK] = {0};
    memcpy(h, member, strlen(member));
    put_octal(h + 100, 8, 0644);
    put_octal(h + 108, 8, 0);
    put_octal(h + 116, 8, 0);
    put_octal(h + 124, 12, len);
    put_octal(h + 136, 12, 0);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6); /* with its NUL */
    memcpy(h + 263, "00", 2);
    put_octal(h + 148, 7, header_sum(h)); /* six digits, NUL, then a space */
    h[155] = ' ';

    int dupfd = dup(fd); /* gzclose closes what it is given; the caller keeps fd */
    if (dupfd < 0)
        return kn_fail(err, SF_EIO, "AlgorithmError: cannot write model.tar.gz: %s",
                       strerror(errno));
    gzFile gz = gzdopen(dupfd, "wb6");
    if (!gz) {
        close(dupfd);
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: cannot start gzip stream");
    }
    static const unsigned char zeros[2 * BLOCK];
    size_t pad = (BLOCK - len % BLOCK) % BLOCK;
    sf_rc rc = gz_put(gz, h, BLOCK, err);
    if (rc == SF_OK)
        rc = gz_put(gz, data, len, err);
    if (rc == SF_OK)
        rc = gz_put(gz, zeros, pad, err);
    if (rc == SF_OK) /* the end of archive: two zero blocks */
        rc = gz_put(gz, zeros, 2 * BLOCK, err);
    int zrc = gzclose(gz);
    if (rc == SF_OK && zrc != Z_OK)
        rc =
            kn_fail(err, SF_EIO, "AlgorithmError: cannot finish model.tar.gz (zlib error %d)", zrc);
    return rc;
}

sf_rc kn_file_read_gz(const char *path, unsigned char **out, size_t *len, kn_err *err)
{
    *out = NULL;
    *len = 0;
    gzFile gz = gzopen(path, "rb"); /* reads a plain file through as is */
    if (!gz)
        return kn_fail(err, errno == ENOENT ? SF_ENOTFOUND : SF_EIO,
                       "ClientError: cannot open model %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    sf_rc rc = buf ? SF_OK : SF_ENOMEM;
    while (rc == SF_OK) {
        if (n == cap) {
            if (cap >= KN_TAR_MAX) {
                rc = kn_fail(err, SF_ELIMIT, "ClientError: model %s is bigger than %zu bytes", path,
                             KN_TAR_MAX);
                break;
            }
            unsigned char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = SF_ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t want = cap - n > (1u << 30) ? (1u << 30) : cap - n;
        int got = gzread(gz, buf + n, (unsigned)want);
        if (got < 0) {
            int zerr;
            const char *why = gzerror(gz, &zerr);
            rc = kn_fail(err, SF_EINVAL, "ClientError: model %s is not a valid gzip file: %s", path,
                         why);
        } else if (got == 0) {
            break;
        }
        n += got > 0 ? (size_t)got : 0;
    }
    int zerr = Z_OK;
    gzerror(gz, &zerr);
    if (rc == SF_OK && zerr == Z_BUF_ERROR) /* the gzip stream stopped mid-way */
        rc = kn_fail(err, SF_EINVAL, "ClientError: model %s is truncated (gzip stream ends early)",
                     path);
    gzclose(gz);
    if (rc == SF_ENOMEM)
        kn_fail(err, rc, "AlgorithmError: out of memory reading model %s", path);
    if (rc != SF_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return SF_OK;
}

/* An octal field; false when it holds anything else. */
static bool get_octal(const unsigned char *f, size_t width, unsigned long long *out)
{
    unsigned long long v = 0;
    size_t i = 0;
    while (i < width && f[i] == ' ')
        i++;
    bool any = false;
    for (; i < width && f[i] >= '0' && f[i] <= '7'; i++) {
        v = v * 8 + (unsigned)(f[i] - '0');
        any = true;
    }
    for (; i < width; i++)
        if (f[i] != ' ' && f[i] != '\0')
            return false;
    *out = v;
    return any;
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

sf_rc kn_tar_find(const unsigned char *buf, size_t len, const char *member,
                  const unsigned char **data, size_t *n, kn_err *err)
{
    size_t off = 0;
    while (off + BLOCK <= len) {
        const unsigned char *h = buf + off;
        if (all_zero(h, BLOCK))
            break; /* end of archive */
        unsigned long long sum, size;
        if (!get_octal(h + 148, 8, &sum) || sum != header_sum(h))
            return kn_fail(err, SF_EINVAL,
                           "ClientError: model.tar.gz is not a tar archive (bad header "
                           "checksum at byte %zu)",
                           off);
        if (!get_octal(h + 124, 12, &size))
            return kn_fail(err, SF_EINVAL,
                           "ClientError: model.tar.gz has a bad member size at byte %zu",
                           off + 124);
        char name[256 + 2];
        size_t nl = strnlen((const char *)h, 100);
        if (memcmp(h + 257, "ustar", 5) == 0 && h[345]) {
            size_t pl = strnlen((const char *)h + 345, 155);
            snprintf(name, sizeof name, "%.*s/%.*s", (int)pl, h + 345, (int)nl, h);
        } else {
            snprintf(name, sizeof name, "%.*s", (int)nl, h);
        }
        const char *bare = strncmp(name, "./", 2) == 0 ? name + 2 : name;
        bool regular = h[156] == '0' || h[156] == '\0';
        size_t body = off + BLOCK;
        if (size > len - body)
            return kn_fail(err, SF_EINVAL,
                           "ClientError: model.tar.gz is truncated (member '%s' needs %llu "
                           "bytes at byte %zu, %zu there)",
                           bare, size, body, len - body);
        if (regular && strcmp(bare, member) == 0) {
            *data = buf + body;
            *n = (size_t)size;
            return SF_OK;
        }
        off = body + (size_t)((size + BLOCK - 1) / BLOCK * BLOCK);
    }
    return kn_fail(err, SF_ENOTFOUND, "ClientError: model.tar.gz holds no %s", member);
}
