/* integrations/objstore_local.c - the local-directory object store backend.
 *
 * Bucket b, key k is the file DATA_ROOT/b/k. Every path is walked one
 * segment at a time with openat(O_NOFOLLOW | O_DIRECTORY), so a key can
 * never leave the root: "..", ".", empty segments, absolute keys and
 * symbolic links on the way are all refused. A put writes a temporary file
 * in the object's own directory, fsyncs it and renames it into place, so a
 * reader sees the old object or the new one, never half of one.
 *
 * Must never: print, follow a symlink inside the root, or list a temporary
 * file as an object. */
#define _POSIX_C_SOURCE 200809L /* openat, mkdirat, renameat, fdopendir */
#include "objstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../asl/timestamp.h"

#define OBJ_BUCKET_MAX 255   /* S3 allows 63; local names may be longer */
#define OBJ_KEY_MAX 1024     /* S3's limit, in bytes */
#define OBJ_LIST_WALK_MAX (4u * 1000 * 1000) /* matching files kept while listing */
#define OBJ_LIST_DEFAULT 1000000
#define OBJ_TMP_PREFIX ".sf-tmp-" /* temp files; never objects (keys refuse it) */

struct integ_objstore {
    int root_fd; /* O_DIRECTORY of DATA_ROOT */
};

/* Temp names need only be unique among concurrent writers of one
 * directory: pid + a process-wide counter + the clock does it. */
static atomic_ulong tmp_counter;

/* ---- names ---- */

static bool seg_ok(const char *s, size_t n)
{
    if (n == 0 || n > 255)
        return false;
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    if (n >= sizeof OBJ_TMP_PREFIX - 1 && memcmp(s, OBJ_TMP_PREFIX, sizeof OBJ_TMP_PREFIX - 1) == 0)
        return false;
    return true;
}

static bool bucket_ok(const char *b)
{
    if (!b)
        return false;
    size_t n = strlen(b);
    return n <= OBJ_BUCKET_MAX && !memchr(b, '/', n) && seg_ok(b, n);
}

/* Keys are "/"-separated segments, each a valid file name. S3 would allow
 * "a//b" or "dir/", but on a filesystem those alias other names, so they
 * are refused rather than silently merged. */
static bool key_ok(const char *k)
{
    if (!k)
        return false;
    size_t n = strlen(k);
    if (n == 0 || n > OBJ_KEY_MAX)
        return false;
    const char *s = k;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s);
        if (!seg_ok(s, len))
            return false;
        if (!slash)
            return true;
        s = slash + 1;
    }
}

/* ---- directory walking ---- */

/* Opens the directory that holds key's last segment, creating directories
 * when create is set. *leaf points into key. Returns an fd or -1 with an
 * sf_rc in *rc. */
static int open_parent(integ_objstore *st, const char *bucket, const char *key, bool create,
                       const char **leaf, sf_rc *rc)
{
    const int dflags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(st->root_fd, bucket, dflags);
    if (fd < 0 && errno == ENOENT && create) {
        if (mkdirat(st->root_fd, bucket, 0755) != 0 && errno != EEXIST) {
            *rc = SF_EIO;
            return -1;
        }
        fd = openat(st->root_fd, bucket, dflags);
    }
    if (fd < 0) {
        *rc = (errno == ENOENT || errno == ENOTDIR) && !create ? SF_ENOTFOUND : SF_EIO;
        return -1;
    }
    const char *s = key;
    const char *slash;
    char seg[256];
    while ((slash = strchr(s, '/'))) {
        size_t n = (size_t)(slash - s); /* key_ok bounds n by 255 */
        memcpy(seg, s, n);
        seg[n] = '\0';
        int next = openat(fd, seg, dflags);
        if (next < 0 && errno == ENOENT && create) {
            if (mkdirat(fd, seg, 0755) != 0 && errno != EEXIST) {
                close(fd);
                *rc = SF_EIO;
                return -1;
            }
            next = openat(fd, seg, dflags);
        }
        if (next < 0) {
            /* A missing directory or a file where one is wanted: no such key
             * to read; for a write the key clashes with an existing object. */
            *rc = (errno == ENOENT || errno == ENOTDIR) && !create ? SF_ENOTFOUND : SF_EIO;
            close(fd);
            return -1;
        }
        close(fd);
        fd = next;
        s = slash + 1;
    }
    *leaf = s;
    return fd;
}

/* Creates every component of path (like mkdir -p). */
static int mkdir_p(const char *path)
{
    size_t n = strlen(path);
    if (n == 0 || n >= 4096)
        return -1;
    char buf[4096];
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        buf[i] = c;
    }
    return 0;
}

integ_objstore *integ_objstore_local_new(const char *data_root)
{
    if (!data_root || !*data_root || mkdir_p(data_root) != 0)
        return NULL;
    integ_objstore *st = malloc(sizeof *st);
    if (!st)
        return NULL;
    st->root_fd = open(data_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (st->root_fd < 0) {
        free(st);
        return NULL;
    }
    return st;
}

void integ_objstore_destroy(integ_objstore **st)
{
    if (!st || !*st)
        return;
    close((*st)->root_fd);
    free(*st);
    *st = NULL;
}

/* ---- get / put ---- */

sf_rc integ_objstore_get(integ_objstore *st, const char *bucket, const char *key, size_t max,
                         char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    if (!st || !bucket_ok(bucket) || !key_ok(key))
        return SF_EINVAL;
    const char *leaf;
    sf_rc rc = SF_OK;
    int dfd = open_parent(st, bucket, key, false, &leaf, &rc);
    if (dfd < 0)
        return rc;
    int fd = openat(dfd, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    close(dfd);
    if (fd < 0)
        return errno == ENOENT ? SF_ENOTFOUND : SF_EIO;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return SF_EIO;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd); /* a "directory" is only a key prefix, not an object */
        return SF_ENOTFOUND;
    }
    if ((uint64_t)sb.st_size > (uint64_t)max) {
        close(fd);
        return SF_ELIMIT;
    }
    size_t size = (size_t)sb.st_size;
    char *buf = malloc(size + 1);
    if (!buf) {
        close(fd);
        return SF_ENOMEM;
    }
    /* Objects are replaced by rename, never rewritten in place, so the
     * open file keeps the size fstat saw; a short read is an I/O error. */
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            close(fd);
            free(buf);
            return SF_EIO;
        }
        got += (size_t)r;
    }
    close(fd);
    buf[size] = '\0';
    *data = buf;
    *len = size;
    return SF_OK;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

sf_rc integ_objstore_put(integ_objstore *st, const char *bucket, const char *key,
                         const void *data, size_t len)
{
    if (!st || !bucket_ok(bucket) || !key_ok(key) || (!data && len))
        return SF_EINVAL;
    const char *leaf;
    sf_rc rc = SF_OK;
    int dfd = open_parent(st, bucket, key, true, &leaf, &rc);
    if (dfd < 0)
        return rc;
    char tmp[96];
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 16; tries++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(tmp, sizeof tmp, OBJ_TMP_PREFIX "%ld-%lu-%ld", (long)getpid(),
                 (unsigned long)atomic_fetch_add(&tmp_counter, 1), (long)ts.tv_nsec);
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        close(dfd);
        return SF_EIO;
    }
    if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        close(fd);
        unlinkat(dfd, tmp, 0);
        close(dfd);
        return SF_EIO;
    }
    if (close(fd) != 0 || renameat(dfd, tmp, dfd, leaf) != 0) {
        unlinkat(dfd, tmp, 0); /* e.g. leaf is a directory: key clashes with a prefix */
        close(dfd);
        return SF_EIO;
    }
    /* The rename itself is durable only once the directory is synced (best
     * effort: a few filesystems refuse fsync on a directory). */
    fsync(dfd);
    close(dfd);
    return SF_OK;
}

/* ---- list ---- */

typedef struct obj_entry {
    char *key;
    int64_t size;
    int64_t mtime_ms;
} obj_entry;

typedef struct obj_walk {
    obj_entry *v;
    size_t n, cap;
    const char *prefix;
    size_t plen;
    sf_rc rc;
} obj_walk;

static void walk_push(obj_walk *w, const char *key, const struct stat *sb)
{
    if (w->n == OBJ_LIST_WALK_MAX) {
        w->rc = SF_ELIMIT;
        return;
    }
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 64;
        obj_entry *nv = realloc(w->v, nc * sizeof *nv);
        if (!nv) {
            w->rc = SF_ENOMEM;
            return;
        }
        w->v = nv;
        w->cap = nc;
    }
    char *k = strdup(key);
    if (!k) {
        w->rc = SF_ENOMEM;
        return;
    }
    w->v[w->n].key = k;
    w->v[w->n].size = (int64_t)sb->st_size;
    w->v[w->n].mtime_ms = (int64_t)sb->st_mtim.tv_sec * 1000 + sb->st_mtim.tv_nsec / 1000000;
    w->n++;
}

/* Walks directory fd (taken: closed here) whose keys start with path
 * (plen bytes, "" or ending in "/"). Only descends where the prefix can
 * still match. */
static void walk_dir(obj_walk *w, int fd, char *path, size_t plen, int depth)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        w->rc = SF_EIO;
        return;
    }
    struct dirent *de;
    while (w->rc == SF_OK && (de = readdir(d))) {
        const char *name = de->d_name;
        size_t nlen = strlen(name);
        if (!seg_ok(name, nlen))
            continue; /* ".", "..", temp files */
        if (plen + nlen + 1 > OBJ_KEY_MAX)
            continue; /* could never be a key */
        memcpy(path + plen, name, nlen + 1);
        size_t klen = plen + nlen;
        struct stat sb;
        if (fstatat(dirfd(d), name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* vanished meanwhile */
        if (S_ISREG(sb.st_mode)) {
            if (klen >= w->plen && memcmp(path, w->prefix, w->plen) == 0)
                walk_push(w, path, &sb);
        } else if (S_ISDIR(sb.st_mode) && depth < OBJ_KEY_MAX / 2) {
            path[klen] = '/';
            path[klen + 1] = '\0';
            size_t m = klen + 1 < w->plen ? klen + 1 : w->plen;
            if (memcmp(path, w->prefix, m) != 0)
                continue;
            int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                walk_dir(w, sub, path, klen + 1, depth + 1);
        }
        /* symlinks, sockets and the like are not objects */
    }
    closedir(d);
}

static int entry_cmp(const void *a, const void *b)
{
    /* S3 orders keys by their UTF-8 bytes; strcmp compares as unsigned char. */
    return strcmp(((const obj_entry *)a)->key, ((const obj_entry *)b)->key);
}

/* "\"<hex md5>\"" of the file at key, like S3's ETag of a single-part
 * upload. Streams the file, so large objects cost no memory. */
static sf_rc etag_of(int bucket_fd, const char *key, char out[35])
{
    int fd = openat(bucket_fd, key, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return SF_EIO;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    sf_rc rc = SF_EIO;
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1)
        goto out;
    unsigned char buf[65536];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto out;
        if (r == 0)
            break;
        if (EVP_DigestUpdate(ctx, buf, (size_t)r) != 1)
            goto out;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 16)
        goto out;
    static const char hex[] = "0123456789abcdef";
    out[0] = '"';
    for (unsigned i = 0; i < 16; i++) {
        out[1 + 2 * i] = hex[md[i] >> 4];
        out[2 + 2 * i] = hex[md[i] & 15];
    }
    out[33] = '"';
    out[34] = '\0';
    rc = SF_OK;
out:
    EVP_MD_CTX_free(ctx);
    close(fd);
    return rc;
}

sf_rc integ_objstore_list(integ_objstore *st, const char *bucket, const char *prefix,
                          size_t max_keys, json_t **out)
{
    *out = NULL;
    if (!st || !bucket_ok(bucket))
        return SF_EINVAL;
    if (!prefix)
        prefix = "";
    if (max_keys == 0 || max_keys > OBJ_LIST_DEFAULT)
        max_keys = OBJ_LIST_DEFAULT;
    int bfd = openat(st->root_fd, bucket, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (bfd < 0)
        return errno == ENOENT || errno == ENOTDIR ? SF_ENOTFOUND : SF_EIO;
    int wfd = dup(bfd); /* the walk closes its fd; keep one for the ETags */
    if (wfd < 0) {
        close(bfd);
        return SF_EIO;
    }
    obj_walk w = {.prefix = prefix, .plen = strlen(prefix), .rc = SF_OK};
    char path[OBJ_KEY_MAX + 2] = "";
    walk_dir(&w, wfd, path, 0, 0);
    sf_rc rc = w.rc;
    json_t *arr = NULL;
    if (rc == SF_OK) {
        if (w.n > 1)
            qsort(w.v, w.n, sizeof *w.v, entry_cmp);
        arr = json_array();
        if (!arr)
            rc = SF_ENOMEM;
    }
    for (size_t i = 0; rc == SF_OK && i < w.n && i < max_keys; i++) {
        char etag[35], when[32];
        rc = etag_of(bfd, w.v[i].key, etag);
        if (rc != SF_OK)
            break;
        asl_timestamp_format_ms(w.v[i].mtime_ms, when);
        json_t *o = json_pack("{s:s,s:I,s:s,s:s,s:s}", "Key", w.v[i].key, "Size",
                              (json_int_t)w.v[i].size, "ETag", etag, "LastModified", when,
                              "StorageClass", "STANDARD");
        if (!o || json_array_append_new(arr, o) != 0)
            rc = SF_ENOMEM;
    }
    for (size_t i = 0; i < w.n; i++)
        free(w.v[i].key);
    free(w.v);
    close(bfd);
    if (rc != SF_OK) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return SF_OK;
}

/* ---- URIs ---- */

sf_rc integ_s3_uri_split(const char *uri, char *bucket, size_t blen, char *key, size_t klen)
{
    if (!uri || strncmp(uri, "s3://", 5) != 0)
        return SF_EINVAL;
    const char *b = uri + 5;
    const char *slash = strchr(b, '/');
    size_t bn = slash ? (size_t)(slash - b) : strlen(b);
    const char *k = slash ? slash + 1 : "";
    size_t kn = strlen(k);
    if (bn == 0 || bn >= blen || kn >= klen)
        return SF_EINVAL;
    memcpy(bucket, b, bn);
    bucket[bn] = '\0';
    memcpy(key, k, kn + 1);
    return SF_OK;
}
