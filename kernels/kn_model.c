/* kernels/kn_model.c - model_algo-1: our versioned model format, in model.tar.gz.
 *
 * The layout (kernels/README.md has the same table) is little-endian:
 *
 *   "SFMODEL\0"  u32 version  u32+bytes algorithm  u32+bytes hyperparameters
 *   JSON  u64 feature_dim  u32 entry count  entries...  u32 CRC-32
 *
 * an entry being u8 kind (1 floats, 2 int64, 3 string), u16+bytes name,
 * then u64 count + float32s, or an i64, or u32+bytes. Every read is
 * bounds-checked before it happens, so a short or corrupt file is refused
 * with the byte where it went wrong, never read past. A file of a newer
 * version is refused rather than guessed at: the version only goes up
 * when an older reader would misread the file. */
#define _GNU_SOURCE
#include "kn_model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "kn_algo.h"
#include "kn_tar.h"

#define MAGIC "SFMODEL" /* with its NUL: 8 bytes */
#define FORMAT_VERSION 1u
#define MEMBER "model_algo-1"

enum { ENTRY_FLOATS = 1, ENTRY_INT = 2, ENTRY_STR = 3 };

static const char *kind_name(int kind)
{
    return kind == ENTRY_FLOATS ? "floats" : kind == ENTRY_INT ? "an int64" : "a string";
}

void kn_model_free(kn_model **m)
{
    if (!m || !*m)
        return;
    if ((*m)->state && (*m)->algo && (*m)->algo->free_state)
        (*m)->algo->free_state((*m)->state);
    free(*m);
    *m = NULL;
}

/* ---- writing ---- */

struct kn_model_writer {
    unsigned char *buf;
    size_t len, cap;
    uint32_t count;
    size_t count_at; /* where the entry count goes once known */
    char **names;    /* to refuse a name written twice */
    size_t nnames;
};

static sf_rc put(kn_model_writer *w, const void *p, size_t n, kn_err *err)
{
    if (n > KN_TAR_MAX - w->len)
        return kn_fail(err, SF_ELIMIT, "AlgorithmError: model is bigger than %zu bytes",
                       KN_TAR_MAX);
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n)
            cap *= 2;
        unsigned char *nb = realloc(w->buf, cap);
        if (!nb)
            return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory writing the model");
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
    return SF_OK;
}

static sf_rc put_u(kn_model_writer *w, uint64_t v, size_t bytes, kn_err *err)
{
    unsigned char b[8];
    for (size_t i = 0; i < bytes; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    return put(w, b, bytes, err);
}

static sf_rc put_bytes32(kn_model_writer *w, const char *s, size_t n, kn_err *err)
{
    sf_rc rc = put_u(w, n, 4, err);
    return rc ? rc : put(w, s, n, err);
}

static sf_rc entry_start(kn_model_writer *w, int kind, const char *name, kn_err *err)
{
    size_t nl = strlen(name);
    if (nl == 0 || nl > 255)
        return kn_fail(err, SF_EINVAL, "AlgorithmError: bad model entry name '%s'", name);
    for (size_t i = 0; i < w->nnames; i++)
        if (strcmp(w->names[i], name) == 0)
            return kn_fail(err, SF_EINVAL, "AlgorithmError: model entry '%s' written twice", name);
    char **nn = realloc(w->names, (w->nnames + 1) * sizeof *nn);
    if (!nn)
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory writing the model");
    w->names = nn;
    if (!(w->names[w->nnames] = strdup(name)))
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory writing the model");
    w->nnames++;
    w->count++;
    sf_rc rc = put_u(w, (uint64_t)kind, 1, err);
    if (rc == SF_OK)
        rc = put_u(w, nl, 2, err);
    return rc ? rc : put(w, name, nl, err);
}

sf_rc kn_mw_floats(kn_model_writer *w, const char *name, const float *data, size_t n, kn_err *err)
{
    sf_rc rc = entry_start(w, ENTRY_FLOATS, name, err);
    if (rc == SF_OK)
        rc = put_u(w, n, 8, err);
    for (size_t i = 0; rc == SF_OK && i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &data[i], 4);
        rc = put_u(w, bits, 4, err);
    }
    return rc;
}

sf_rc kn_mw_int(kn_model_writer *w, const char *name, int64_t v, kn_err *err)
{
    sf_rc rc = entry_start(w, ENTRY_INT, name, err);
    return rc ? rc : put_u(w, (uint64_t)v, 8, err);
}

sf_rc kn_mw_str(kn_model_writer *w, const char *name, const char *v, kn_err *err)
{
    sf_rc rc = entry_start(w, ENTRY_STR, name, err);
    return rc ? rc : put_bytes32(w, v, strlen(v), err);
}

static void writer_cleanup(kn_model_writer *w)
{
    for (size_t i = 0; i < w->nnames; i++)
        free(w->names[i]);
    free(w->names);
    free(w->buf);
}

/* The whole model_algo-1 in w->buf. */
static sf_rc encode(const kn_model *m, kn_model_writer *w, kn_err *err)
{
    json_t *hp = kn_hp_to_json(&m->hp);
    char *hp_text = hp ? json_dumps(hp, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    json_decref(hp);
    if (!hp_text)
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory writing the model");
    sf_rc rc = put(w, MAGIC, 8, err);
    if (rc == SF_OK)
        rc = put_u(w, FORMAT_VERSION, 4, err);
    if (rc == SF_OK)
        rc = put_bytes32(w, m->algo->name, strlen(m->algo->name), err);
    if (rc == SF_OK)
        rc = put_bytes32(w, hp_text, strlen(hp_text), err);
    free(hp_text);
    if (rc == SF_OK)
        rc = put_u(w, m->feature_dim, 8, err);
    w->count_at = w->len;
    if (rc == SF_OK)
        rc = put_u(w, 0, 4, err);
    if (rc == SF_OK)
        rc = m->algo->save(m, w, err);
    if (rc != SF_OK)
        return rc;
    for (size_t i = 0; i < 4; i++)
        w->buf[w->count_at + i] = (unsigned char)(w->count >> (8 * i));
    uint32_t crc = (uint32_t)crc32(0L, w->buf, (uInt)0);
    for (size_t off = 0; off < w->len;) { /* crc32 takes uInt lengths */
        size_t chunk = w->len - off > (1u << 30) ? (1u << 30) : w->len - off;
        crc = (uint32_t)crc32(crc, w->buf + off, (uInt)chunk);
        off += chunk;
    }
    return put_u(w, crc, 4, err);
}

/* mkdir -p: the job's output folder may not exist yet. */
static sf_rc make_dirs(const char *dir, kn_err *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return kn_fail(err, SF_ELIMIT, "AlgorithmError: model path too long: %s", dir);
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST)
                return kn_fail(err, SF_EIO, "AlgorithmError: cannot create %s: %s", path,
                               strerror(errno));
            *p = c;
            if (!c)
                break;
        }
    }
    return SF_OK;
}

sf_rc kn_model_save(const kn_model *m, const char *dir, kn_err *err)
{
    sf_rc rc = make_dirs(dir, err);
    if (rc != SF_OK)
        return rc;
    kn_model_writer w = {0};
    rc = encode(m, &w, err);
    char tmp[4096], final[4096];
    if (rc == SF_OK &&
        (snprintf(tmp, sizeof tmp, "%s/.model.tar.gz.XXXXXX", dir) >= (int)sizeof tmp ||
         snprintf(final, sizeof final, "%s/model.tar.gz", dir) >= (int)sizeof final))
        rc = kn_fail(err, SF_ELIMIT, "AlgorithmError: model path too long: %s", dir);
    int fd = -1;
    if (rc == SF_OK && (fd = mkstemp(tmp)) < 0)
        rc = kn_fail(err, SF_EIO, "AlgorithmError: cannot create %s: %s", tmp, strerror(errno));
    if (rc == SF_OK)
        rc = kn_tar_write_gz(fd, MEMBER, w.buf, w.len, err);
    /* fsync before rename: otherwise a crash can leave the new name on
     * an empty file, which is worse than no model at all. */
    if (rc == SF_OK && (fchmod(fd, 0644) != 0 || fsync(fd) != 0))
        rc = kn_fail(err, SF_EIO, "AlgorithmError: cannot write %s: %s", tmp, strerror(errno));
    if (fd >= 0)
        close(fd);
    if (rc == SF_OK && rename(tmp, final) != 0)
        rc = kn_fail(err, SF_EIO, "AlgorithmError: cannot rename %s to %s: %s", tmp, final,
                     strerror(errno));
    if (rc != SF_OK && fd >= 0)
        unlink(tmp);
    if (rc == SF_OK) { /* and the rename itself, durable */
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    writer_cleanup(&w);
    return rc;
}

/* ---- reading ---- */

typedef struct entry {
    char name[256];
    int kind;
    uint64_t count;          /* floats: how many; string: bytes */
    const unsigned char *at; /* the payload, in the file's buffer */
    int64_t i;
    float *floats; /* decoded on first use, owned */
    char *str;     /* NUL-terminated copy, owned */
} entry;

struct kn_model_reader {
    entry *entries;
    size_t n;
};

typedef struct cursor {
    const unsigned char *p;
    size_t len, off;
    kn_err *err;
} cursor;

static sf_rc need(cursor *c, size_t n, const char *what)
{
    if (n > c->len - c->off)
        return kn_fail(c->err, SF_EINVAL,
                       "ClientError: model_algo-1 is truncated at byte %zu (reading %s: needs "
                       "%zu bytes, %zu left)",
                       c->off, what, n, c->len - c->off);
    return SF_OK;
}

static sf_rc get_u(cursor *c, size_t bytes, uint64_t *v, const char *what)
{
    sf_rc rc = need(c, bytes, what);
    if (rc)
        return rc;
    uint64_t x = 0;
    for (size_t i = 0; i < bytes; i++)
        x |= (uint64_t)c->p[c->off + i] << (8 * i);
    c->off += bytes;
    *v = x;
    return SF_OK;
}

static entry *find_entry(kn_model_reader *r, const char *name, int kind, sf_rc *rc, kn_err *err)
{
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->entries[i].name, name) != 0)
            continue;
        if (r->entries[i].kind != kind) {
            *rc = kn_fail(err, SF_EINVAL, "ClientError: model_algo-1 entry '%s' is %s, not %s",
                          name, kind_name(r->entries[i].kind), kind_name(kind));
            return NULL;
        }
        return &r->entries[i];
    }
    *rc = kn_fail(err, SF_ENOTFOUND, "ClientError: model_algo-1 has no entry '%s'", name);
    return NULL;
}

sf_rc kn_mr_floats(kn_model_reader *r, const char *name, size_t n_expected, const float **data,
                   size_t *n, kn_err *err)
{
    sf_rc rc = SF_OK;
    entry *e = find_entry(r, name, ENTRY_FLOATS, &rc, err);
    if (!e)
        return rc;
    if (n_expected && e->count != n_expected)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: model_algo-1 entry '%s' has %llu floats, expected %zu", name,
                       (unsigned long long)e->count, n_expected);
    if (!e->floats && e->count) {
        if (!(e->floats = malloc(e->count * sizeof(float))))
            return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory reading the model");
        for (uint64_t i = 0; i < e->count; i++) {
            const unsigned char *b = e->at + 4 * i;
            uint32_t bits =
                (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
            memcpy(&e->floats[i], &bits, 4);
        }
    }
    *data = e->floats;
    if (n)
        *n = (size_t)e->count;
    return SF_OK;
}

sf_rc kn_mr_int(kn_model_reader *r, const char *name, int64_t *v, kn_err *err)
{
    sf_rc rc = SF_OK;
    entry *e = find_entry(r, name, ENTRY_INT, &rc, err);
    if (!e)
        return rc;
    *v = e->i;
    return SF_OK;
}

sf_rc kn_mr_str(kn_model_reader *r, const char *name, const char **v, kn_err *err)
{
    sf_rc rc = SF_OK;
    entry *e = find_entry(r, name, ENTRY_STR, &rc, err);
    if (!e)
        return rc;
    if (!e->str) {
        if (!(e->str = strndup((const char *)e->at, (size_t)e->count)))
            return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory reading the model");
    }
    *v = e->str;
    return SF_OK;
}

static void reader_cleanup(kn_model_reader *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->entries[i].floats);
        free(r->entries[i].str);
    }
    free(r->entries);
}

/* Parses the entries after the header into r; pointers into c's buffer. */
static sf_rc read_entries(cursor *c, uint64_t count, kn_model_reader *r)
{
    /* Each entry takes at least 12 bytes: a count bigger than the file
     * allows is corruption, not a reason to allocate. */
    if (count > (c->len - c->off) / 12)
        return kn_fail(c->err, SF_EINVAL,
                       "ClientError: model_algo-1 is truncated at byte %zu (%llu entries "
                       "announced, room for %zu at most)",
                       c->len, (unsigned long long)count, (c->len - c->off) / 12);
    if (count && !(r->entries = calloc((size_t)count, sizeof *r->entries)))
        return kn_fail(c->err, SF_ENOMEM, "AlgorithmError: out of memory reading the model");
    sf_rc rc = SF_OK;
    for (uint64_t i = 0; i < count && rc == SF_OK; i++) {
        entry *e = &r->entries[r->n];
        uint64_t kind, nl;
        if ((rc = get_u(c, 1, &kind, "an entry's kind")) ||
            (rc = get_u(c, 2, &nl, "an entry's name")) ||
            (rc = need(c, (size_t)nl, "an entry's name")))
            break;
        if (kind < ENTRY_FLOATS || kind > ENTRY_STR || nl == 0 || nl > 255)
            return kn_fail(c->err, SF_EINVAL,
                           "ClientError: model_algo-1 is corrupt (bad entry header at byte %zu)",
                           c->off - 3);
        memcpy(e->name, c->p + c->off, (size_t)nl);
        c->off += (size_t)nl;
        e->kind = (int)kind;
        r->n++;
        char what[300];
        snprintf(what, sizeof what, "entry '%s'", e->name);
        if (kind == ENTRY_FLOATS) {
            if ((rc = get_u(c, 8, &e->count, what)))
                break;
            if (e->count > (c->len - c->off) / 4) {
                rc = kn_fail(c->err, SF_EINVAL,
                             "ClientError: model_algo-1 is truncated at byte %zu (entry '%s' "
                             "announces %llu floats, room for %zu)",
                             c->len, e->name, (unsigned long long)e->count, (c->len - c->off) / 4);
                break;
            }
            e->at = c->p + c->off;
            c->off += (size_t)e->count * 4;
        } else if (kind == ENTRY_INT) {
            uint64_t v;
            if ((rc = get_u(c, 8, &v, what)))
                break;
            e->i = (int64_t)v;
        } else {
            if ((rc = get_u(c, 4, &e->count, what)) || (rc = need(c, (size_t)e->count, what)))
                break;
            e->at = c->p + c->off;
            c->off += (size_t)e->count;
        }
    }
    return rc;
}

/* A tar archive has "ustar" at byte 257 (POSIX), or at least a header
 * whose checksum field is octal digits; anything else is read as a bare
 * model_algo-1, whose own magic then decides. */
static bool looks_like_tar(const unsigned char *b, size_t len)
{
    return len >= 512 && (memcmp(b + 257, "ustar", 5) == 0 || (b[148] >= '0' && b[148] <= '7'));
}

static sf_rc decode(const unsigned char *p, size_t len, kn_model **out, kn_err *err)
{
    cursor c = {p, len, 0, err};
    kn_model_reader r = {0};
    kn_model *m = NULL;
    char *hp_text = NULL;
    uint64_t version, n, dim, count;
    sf_rc rc = need(&c, 8, "the magic");
    if (rc)
        return rc;
    if (memcmp(p, MAGIC, 8) != 0)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: model_algo-1 is not a statefleet model (bad magic; "
                       "SageMaker's own MXNet models cannot be served here)");
    c.off = 8;
    if ((rc = get_u(&c, 4, &version, "the format version")))
        return rc;
    if (version > FORMAT_VERSION)
        return kn_fail(err, SF_EUNSUPPORTED,
                       "ClientError: model_algo-1 has format version %llu, newer than this "
                       "build reads (%u)",
                       (unsigned long long)version, FORMAT_VERSION);
    if (version == 0)
        return kn_fail(err, SF_EINVAL, "ClientError: model_algo-1 has format version 0");

    char algo_name[128];
    if ((rc = get_u(&c, 4, &n, "the algorithm name")) ||
        (rc = need(&c, (size_t)n, "the algorithm name")))
        return rc;
    if (n == 0 || n >= sizeof algo_name)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: model_algo-1 is corrupt (algorithm name of "
                       "%llu bytes)",
                       (unsigned long long)n);
    memcpy(algo_name, p + c.off, (size_t)n);
    algo_name[n] = '\0';
    c.off += (size_t)n;
    if ((rc = get_u(&c, 4, &n, "the hyperparameters")) ||
        (rc = need(&c, (size_t)n, "the hyperparameters")))
        return rc;
    if (!(hp_text = strndup((const char *)p + c.off, (size_t)n)))
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory reading the model");
    c.off += (size_t)n;
    if ((rc = get_u(&c, 8, &dim, "feature_dim")) ||
        (rc = get_u(&c, 4, &count, "the entry count")) || (rc = read_entries(&c, count, &r)))
        goto done;
    uint64_t crc_stored;
    if ((rc = get_u(&c, 4, &crc_stored, "the checksum")))
        goto done;
    if (c.off != len) {
        rc = kn_fail(err, SF_EINVAL, "ClientError: model_algo-1 has %zu stray bytes after byte %zu",
                     len - c.off, c.off);
        goto done;
    }
    uint32_t crc = (uint32_t)crc32(0L, NULL, 0);
    for (size_t off = 0; off < len - 4;) {
        size_t chunk = len - 4 - off > (1u << 30) ? (1u << 30) : len - 4 - off;
        crc = (uint32_t)crc32(crc, p + off, (uInt)chunk);
        off += chunk;
    }
    if (crc != crc_stored) {
        rc = kn_fail(err, SF_EINVAL,
                     "ClientError: model_algo-1 is corrupt (checksum %08x, expected %08x)", crc,
                     (unsigned)crc_stored);
        goto done;
    }

    const kn_algo *algo = kn_algo_find(algo_name);
    if (!algo || !algo->load) {
        rc = kn_fail(err, SF_EUNSUPPORTED,
                     "ClientError: model_algo-1 is a '%s' model, an algorithm this build does "
                     "not have",
                     algo_name);
        goto done;
    }
    if (!(m = calloc(1, sizeof *m))) {
        rc = kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory reading the model");
        goto done;
    }
    m->algo = algo;
    m->feature_dim = (size_t)dim;
    json_t *hp = json_loads(hp_text, 0, NULL);
    if (!hp) {
        rc = kn_fail(err, SF_EINVAL, "ClientError: model_algo-1 hyperparameters are not JSON");
        goto done;
    }
    kn_err sub;
    rc = kn_hp_parse(algo->hyper, algo->nhyper, hp, &m->hp, &sub);
    json_decref(hp);
    if (rc != SF_OK) {
        kn_fail(err, rc, "ClientError: model_algo-1 hyperparameters: %s", sub.msg);
        goto done;
    }
    rc = algo->load(&r, m, err);

done:
    free(hp_text);
    reader_cleanup(&r);
    if (rc != SF_OK)
        kn_model_free(&m);
    *out = m;
    return rc;
}

sf_rc kn_model_load(const char *path, kn_model **out, kn_err *err)
{
    *out = NULL;
    unsigned char *buf;
    size_t len;
    sf_rc rc = kn_file_read_gz(path, &buf, &len, err);
    if (rc != SF_OK)
        return rc;
    const unsigned char *p = buf;
    size_t n = len;
    if (!(len >= 8 && memcmp(buf, MAGIC, 8) == 0) && looks_like_tar(buf, len))
        rc = kn_tar_find(buf, len, MEMBER, &p, &n, err);
    if (rc == SF_OK)
        rc = decode(p, n, out, err);
    free(buf);
    return rc;
}
