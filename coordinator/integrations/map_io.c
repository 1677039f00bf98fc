/* integrations/map_io.c - a distributed Map's ItemReader and ResultWriter
 * (see map_io.h), with AWS's formats and error names.
 *
 * The reader fetches one object (capped at MAPIO_OBJECT_MAX) and parses it
 * in place, line by line or record by record, stopping at MaxItems; the
 * items array is the only other thing it builds. The writer lays results
 * out as AWS does under Prefix/<map run id>/ and writes the manifest last,
 * so a manifest that exists always names files that exist.
 *
 * Must never: print, or fail without an ASL error name and a cause that
 * names the object and, for bad data, the line or byte. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "map_io.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../asl/timestamp.h"

#define MAPIO_OBJECT_MAX ((size_t)256 << 20)      /* bytes of one object read */
#define MAPIO_MANIFEST_TOTAL_MAX ((size_t)1 << 30) /* bytes over all inventory files */
#define MAPIO_MANIFEST_FILES_MAX 10000             /* data files one manifest may name */
#define MAPIO_ITEMS_MAX 100000000                  /* AWS's largest MaxItems */
#define MAPIO_LIST_MAX 1000000                     /* objects one listing returns */
#define MAPIO_CSV_HEADER_MAX 10240                 /* AWS: CSV headers up to 10 KB */
#define MAPIO_RESULT_FILE_MAX ((size_t)256 << 20)  /* bytes of one result file */
#define MAPIO_RUN_ID_MAX 128

static const char READER_FAILED[] = "States.ItemReaderFailed";
static const char WRITER_FAILED[] = "States.ResultWriterFailed";

/* ---- small helpers ---- */

/* A JSON string without embedded NULs (which would cut a C path short). */
static const char *plain_string(json_t *v)
{
    if (!json_is_string(v))
        return NULL;
    const char *s = json_string_value(v);
    return strlen(s) == json_string_length(v) ? s : NULL;
}

/* Does an ARN end in ":states:::<api>" (any partition)? */
static bool resource_is(const char *res, const char *api)
{
    if (!res || strncmp(res, "arn:", 4) != 0)
        return false;
    char tail[64];
    snprintf(tail, sizeof tail, ":states:::%s", api);
    size_t n = strlen(res), t = strlen(tail);
    return n > t && strcmp(res + n - t, tail) == 0;
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF),
 * the same rule jansson applies to strings. */
static bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t k;
        unsigned cp, min;
        if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if ((size_t)(end - p) <= k)
            return false;
        for (size_t i = 1; i <= k; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        p += k + 1;
    }
    return true;
}

/* Skips a UTF-8 byte order mark, which spreadsheet exports often carry. */
static size_t bom_len(const char *d, size_t n)
{
    return n >= 3 && (unsigned char)d[0] == 0xef && (unsigned char)d[1] == 0xbb &&
                   (unsigned char)d[2] == 0xbf
               ? 3
               : 0;
}

/* ---- item sink: the array being built and the MaxItems limit ---- */

typedef struct item_sink {
    json_t *arr;
    size_t max; /* stop after this many */
} item_sink;

static bool sink_full(const item_sink *s)
{
    return json_array_size(s->arr) >= s->max;
}

/* Appends item (stolen). */
static sf_rc sink_add(item_sink *s, json_t *item)
{
    if (!item)
        return SF_ENOMEM;
    return json_array_append_new(s->arr, item) == 0 ? SF_OK : SF_ENOMEM;
}

/* ---- JSON and JSONL ---- */

static sf_rc read_json(const char *where, const char *d, size_t n, item_sink *s, asl_err *err)
{
    size_t bom = bom_len(d, n);
    json_error_t je;
    json_t *doc = json_loadb(d + bom, n - bom, JSON_ALLOW_NUL, &je);
    if (!doc) {
        asl_err_set(err, READER_FAILED,
                    "%s: invalid JSON at line %d, column %d (byte %zu): %s", where, je.line,
                    je.column, (size_t)(je.position < 0 ? 0 : je.position) + bom, je.text);
        return SF_EINVAL;
    }
    if (!json_is_array(doc)) {
        asl_err_set(err, READER_FAILED, "%s: the object must contain a JSON array, found an object",
                    where);
        json_decref(doc);
        return SF_EINVAL;
    }
    size_t i;
    json_t *v;
    sf_rc rc = SF_OK;
    json_array_foreach(doc, i, v) {
        if (sink_full(s) || rc != SF_OK)
            break;
        rc = sink_add(s, json_incref(v));
    }
    json_decref(doc);
    return rc;
}

static bool blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    return true;
}

static sf_rc read_jsonl(const char *where, const char *d, size_t n, item_sink *s, asl_err *err)
{
    size_t off = bom_len(d, n);
    for (size_t line = 1; off < n && !sink_full(s); line++) {
        const char *p = d + off;
        const char *nl = memchr(p, '\n', n - off);
        size_t len = nl ? (size_t)(nl - p) : n - off;
        if (!blank(p, len)) {
            json_error_t je;
            json_t *v = json_loadb(p, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
            if (!v) {
                asl_err_set(err, READER_FAILED,
                            "%s: invalid JSON on line %zu, column %d (byte %zu of the object): %s",
                            where, line, je.column,
                            off + (size_t)(je.position < 0 ? 0 : je.position), je.text);
                return SF_EINVAL;
            }
            sf_rc rc = sink_add(s, v);
            if (rc != SF_OK)
                return rc;
        }
        off += len + 1;
    }
    return SF_OK;
}

/* ---- CSV ----
 *
 * RFC 4180 plus the rules AWS documents for Distributed Map: fields may be
 * quoted to hold delimiters, quotes ("" inside quotes) and newlines; a
 * backslash escapes the character after it (the backslash is dropped);
 * "" stands for one quote inside or outside quotes (AWS's example relies
 * on it); LF or CRLF ends a record; blank lines are skipped. A row with fewer
 * fields than the header gets "" for the rest; extra fields are ignored. */

typedef struct csv_rec {
    char *text;   /* every field's bytes, back to back */
    size_t len, cap;
    size_t *ends; /* ends[i]: offset in text where field i stops */
    size_t nf, capf;
    size_t line;  /* line the record starts on, for messages */
} csv_rec;

typedef struct csv_rd {
    const char *p, *end;
    const char *start; /* of the object, for byte offsets */
    char delim;
    size_t line;
} csv_rd;

static void csv_rec_free(csv_rec *r)
{
    free(r->text);
    free(r->ends);
    memset(r, 0, sizeof *r);
}

/* Both buffers are bounded by the object (itself capped): a record can
 * never hold more bytes or fields than the object has bytes. */
static bool csv_putc(csv_rec *r, char c)
{
    if (r->len == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 256;
        char *nt = realloc(r->text, nc);
        if (!nt)
            return false;
        r->text = nt;
        r->cap = nc;
    }
    r->text[r->len++] = c;
    return true;
}

static bool csv_end_field(csv_rec *r)
{
    if (r->nf == r->capf) {
        size_t nc = r->capf ? r->capf * 2 : 16;
        size_t *ne = realloc(r->ends, nc * sizeof *ne);
        if (!ne)
            return false;
        r->ends = ne;
        r->capf = nc;
    }
    r->ends[r->nf++] = r->len;
    return true;
}

static void csv_field(const csv_rec *r, size_t i, const char **p, size_t *n)
{
    size_t b = i ? r->ends[i - 1] : 0;
    *p = r->text ? r->text + b : ""; /* no text yet: every field is empty */
    *n = r->ends[i] - b;
}

/* Reads the next record into r. *got is false at the end of the object.
 * Blank lines are skipped. */
static sf_rc csv_next(csv_rd *rd, csv_rec *r, bool *got, const char *where, asl_err *err)
{
    *got = false;
    for (;;) {
        if (rd->p >= rd->end)
            return SF_OK;
        r->len = 0;
        r->nf = 0;
        r->line = rd->line;
        bool quoted_any = false;
        bool done = false;
        while (!done) {
            /* One field. */
            if (rd->p < rd->end && *rd->p == '"') {
                quoted_any = true;
                const char *open = rd->p;
                size_t open_line = rd->line;
                rd->p++;
                for (;;) {
                    if (rd->p >= rd->end) {
                        asl_err_set(err, READER_FAILED,
                                    "%s: CSV quote opened on line %zu (byte %zu) is never closed",
                                    where, open_line, (size_t)(open - rd->start));
                        return SF_EINVAL;
                    }
                    char c = *rd->p;
                    if (c == '"') {
                        if (rd->p + 1 < rd->end && rd->p[1] == '"') {
                            if (!csv_putc(r, '"'))
                                return SF_ENOMEM;
                            rd->p += 2;
                            continue;
                        }
                        rd->p++;
                        break;
                    }
                    if (c == '\\' && rd->p + 1 < rd->end) {
                        c = rd->p[1];
                        rd->p++;
                    }
                    if (c == '\n')
                        rd->line++;
                    if (!csv_putc(r, c))
                        return SF_ENOMEM;
                    rd->p++;
                }
                /* Anything between the closing quote and the delimiter is
                 * kept as text, as most readers do, rather than failing. */
            }
            for (;;) {
                if (rd->p >= rd->end) {
                    done = true;
                    break;
                }
                char c = *rd->p;
                if (c == rd->delim) {
                    rd->p++;
                    break;
                }
                if (c == '\n' || (c == '\r' && rd->p + 1 < rd->end && rd->p[1] == '\n')) {
                    rd->p += c == '\r' ? 2 : 1;
                    rd->line++;
                    done = true;
                    break;
                }
                if (c == '\\' && rd->p + 1 < rd->end) {
                    c = rd->p[1];
                    if (c == '\n')
                        rd->line++;
                    rd->p++;
                } else if (c == '"' && rd->p + 1 < rd->end && rd->p[1] == '"') {
                    rd->p++; /* "" is a quote even unquoted, as in AWS's own example */
                }
                if (!csv_putc(r, c))
                    return SF_ENOMEM;
                rd->p++;
            }
            if (!csv_end_field(r))
                return SF_ENOMEM;
        }
        if (r->nf == 1 && r->len == 0 && !quoted_any)
            continue; /* a blank line */
        *got = true;
        return SF_OK;
    }
}

static char csv_delim(const char *name)
{
    if (!name || strcmp(name, "COMMA") == 0)
        return ',';
    if (strcmp(name, "PIPE") == 0)
        return '|';
    if (strcmp(name, "SEMICOLON") == 0)
        return ';';
    if (strcmp(name, "SPACE") == 0)
        return ' ';
    if (strcmp(name, "TAB") == 0)
        return '\t';
    return 0;
}

typedef struct csv_header {
    char **name;
    size_t n;
} csv_header;

static void csv_header_free(csv_header *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->name[i]);
    free(h->name);
    h->name = NULL;
    h->n = 0;
}

/* Copies one header name, refusing what cannot be a JSON object key. */
static sf_rc header_add(csv_header *h, size_t i, const char *p, size_t n)
{
    if (memchr(p, '\0', n) || !utf8_valid(p, n))
        return SF_EINVAL;
    h->name[i] = malloc(n + 1);
    if (!h->name[i])
        return SF_ENOMEM;
    memcpy(h->name[i], p, n);
    h->name[i][n] = '\0';
    h->n = i + 1;
    return SF_OK;
}

static sf_rc header_from_given(json_t *given, csv_header *h, const char *where, asl_err *err)
{
    if (!json_is_array(given) || json_array_size(given) == 0) {
        asl_err_set(err, READER_FAILED,
                    "%s: CSVHeaderLocation GIVEN needs CSVHeaders, a non-empty array of strings",
                    where);
        return SF_EINVAL;
    }
    size_t total = 0, n = json_array_size(given);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(given, i);
        if (!json_is_string(v)) {
            asl_err_set(err, READER_FAILED, "%s: CSVHeaders[%zu] is not a string", where, i);
            return SF_EINVAL;
        }
        total += json_string_length(v) + 1;
    }
    if (total > MAPIO_CSV_HEADER_MAX) {
        asl_err_set(err, READER_FAILED, "%s: CSVHeaders exceed %d bytes", where,
                    MAPIO_CSV_HEADER_MAX);
        return SF_ELIMIT;
    }
    h->name = calloc(n, sizeof *h->name);
    if (!h->name)
        return SF_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(given, i);
        sf_rc rc = header_add(h, i, json_string_value(v), json_string_length(v));
        if (rc == SF_EINVAL)
            asl_err_set(err, READER_FAILED, "%s: CSVHeaders[%zu] contains a NUL", where, i);
        if (rc != SF_OK)
            return rc;
    }
    return SF_OK;
}

static sf_rc header_from_record(const csv_rec *r, csv_header *h, const char *where, asl_err *err)
{
    if (r->len + r->nf > MAPIO_CSV_HEADER_MAX) {
        asl_err_set(err, READER_FAILED, "%s: the CSV header on line %zu exceeds %d bytes", where,
                    r->line, MAPIO_CSV_HEADER_MAX);
        return SF_ELIMIT;
    }
    h->name = calloc(r->nf, sizeof *h->name);
    if (!h->name)
        return SF_ENOMEM;
    for (size_t i = 0; i < r->nf; i++) {
        const char *p;
        size_t n;
        csv_field(r, i, &p, &n);
        sf_rc rc = header_add(h, i, p, n);
        if (rc == SF_EINVAL)
            asl_err_set(err, READER_FAILED,
                        "%s: CSV header field %zu on line %zu is not valid UTF-8 text", where,
                        i + 1, r->line);
        if (rc != SF_OK)
            return rc;
    }
    return SF_OK;
}

/* One data row as {header: "value"}. */
static sf_rc csv_row_item(const csv_rec *r, const csv_header *h, json_t **out, const char *where,
                          asl_err *err)
{
    json_t *o = json_object();
    if (!o)
        return SF_ENOMEM;
    for (size_t i = 0; i < h->n; i++) {
        const char *p = "";
        size_t n = 0;
        if (i < r->nf)
            csv_field(r, i, &p, &n);
        if (!utf8_valid(p, n)) {
            asl_err_set(err, READER_FAILED,
                        "%s: CSV field %zu of the record on line %zu is not valid UTF-8", where,
                        i + 1, r->line);
            json_decref(o);
            return SF_EINVAL;
        }
        if (json_object_set_new(o, h->name[i], json_stringn(p, n)) != 0) {
            json_decref(o);
            return SF_ENOMEM;
        }
    }
    *out = o;
    return SF_OK;
}

static sf_rc read_csv(const char *where, const char *d, size_t n, json_t *cfg, item_sink *s,
                      asl_err *err)
{
    json_t *dv = json_object_get(cfg, "CSVDelimiter");
    char delim = csv_delim(dv ? json_string_value(dv) : NULL);
    if (!delim || (dv && !json_is_string(dv))) {
        asl_err_set(err, READER_FAILED,
                    "%s: CSVDelimiter must be COMMA, PIPE, SEMICOLON, SPACE or TAB", where);
        return SF_EINVAL;
    }
    json_t *lv = json_object_get(cfg, "CSVHeaderLocation");
    const char *loc = lv ? json_string_value(lv) : "FIRST_ROW";
    bool given;
    if (loc && strcmp(loc, "FIRST_ROW") == 0) {
        given = false;
    } else if (loc && strcmp(loc, "GIVEN") == 0) {
        given = true;
    } else {
        asl_err_set(err, READER_FAILED, "%s: CSVHeaderLocation must be FIRST_ROW or GIVEN", where);
        return SF_EINVAL;
    }

    size_t bom = bom_len(d, n);
    csv_rd rd = {.p = d + bom, .end = d + n, .start = d, .delim = delim, .line = 1};
    csv_rec r = {0};
    csv_header h = {0};
    sf_rc rc = SF_OK;
    bool got;
    if (given) {
        rc = header_from_given(json_object_get(cfg, "CSVHeaders"), &h, where, err);
    } else {
        rc = csv_next(&rd, &r, &got, where, err);
        if (rc == SF_OK && !got) {
            asl_err_set(err, READER_FAILED, "%s: the CSV object is empty: no header row", where);
            rc = SF_EINVAL;
        }
        if (rc == SF_OK)
            rc = header_from_record(&r, &h, where, err);
    }
    while (rc == SF_OK && !sink_full(s)) {
        rc = csv_next(&rd, &r, &got, where, err);
        if (rc != SF_OK || !got)
            break;
        json_t *item = NULL;
        rc = csv_row_item(&r, &h, &item, where, err);
        if (rc == SF_OK)
            rc = sink_add(s, item);
    }
    csv_rec_free(&r);
    csv_header_free(&h);
    return rc;
}

/* ---- MANIFEST ----
 *
 * Kept simple: an S3 Inventory CSV (bucket,key[,more columns]) yields
 * {"Bucket","Key"} per row. The object may be that CSV itself, or an
 * inventory manifest.json whose "files" name uncompressed CSV data files
 * (in its destinationBucket, else the same bucket). Keys are taken as
 * written; inventory's URL-encoding of keys is not undone. */

static sf_rc manifest_csv(const char *where, const char *d, size_t n, item_sink *s, asl_err *err)
{
    csv_rd rd = {.p = d + bom_len(d, n), .end = d + n, .start = d, .delim = ',', .line = 1};
    csv_rec r = {0};
    sf_rc rc = SF_OK;
    bool got;
    while (rc == SF_OK && !sink_full(s)) {
        rc = csv_next(&rd, &r, &got, where, err);
        if (rc != SF_OK || !got)
            break;
        const char *b, *k;
        size_t bn, kn;
        if (r.nf < 2) {
            asl_err_set(err, READER_FAILED, "%s: line %zu is not an inventory row (bucket,key)",
                        where, r.line);
            rc = SF_EINVAL;
            break;
        }
        csv_field(&r, 0, &b, &bn);
        csv_field(&r, 1, &k, &kn);
        if (!utf8_valid(b, bn) || !utf8_valid(k, kn)) {
            asl_err_set(err, READER_FAILED, "%s: line %zu is not valid UTF-8", where, r.line);
            rc = SF_EINVAL;
            break;
        }
        json_t *o = json_object();
        if (!o || json_object_set_new(o, "Bucket", json_stringn(b, bn)) != 0 ||
            json_object_set_new(o, "Key", json_stringn(k, kn)) != 0) {
            json_decref(o);
            rc = SF_ENOMEM;
            break;
        }
        rc = sink_add(s, o);
    }
    csv_rec_free(&r);
    return rc;
}

static sf_rc get_object(integ_objstore *st, const char *bucket, const char *key, size_t max,
                        char **data, size_t *len, const char *failure, asl_err *err)
{
    sf_rc rc = integ_objstore_get(st, bucket, key, max, data, len);
    if (rc == SF_ENOTFOUND)
        asl_err_set(err, failure, "s3://%s/%s: the object does not exist", bucket, key);
    else if (rc == SF_ELIMIT)
        asl_err_set(err, failure, "s3://%s/%s: the object is larger than the %zu MiB allowed",
                    bucket, key, max >> 20);
    else if (rc == SF_EINVAL)
        asl_err_set(err, failure, "s3://%s/%s: invalid bucket or key", bucket, key);
    else if (rc != SF_OK)
        asl_err_set(err, failure, "s3://%s/%s: %s", bucket, key, sf_rc_str(rc));
    return rc;
}

static sf_rc read_manifest(integ_objstore *st, const char *bucket, const char *where,
                           const char *d, size_t n, item_sink *s, asl_err *err)
{
    size_t i = bom_len(d, n);
    while (i < n && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n'))
        i++;
    if (i == n || d[i] != '{')
        return manifest_csv(where, d, n, s, err);

    json_error_t je;
    json_t *m = json_loadb(d, n, 0, &je);
    json_t *files = m ? json_object_get(m, "files") : NULL;
    if (!json_is_array(files)) {
        asl_err_set(err, READER_FAILED, "%s: not an S3 Inventory manifest (%s)", where,
                    m ? "no \"files\" array" : je.text);
        json_decref(m);
        return SF_EINVAL;
    }
    if (json_array_size(files) > MAPIO_MANIFEST_FILES_MAX) {
        asl_err_set(err, READER_FAILED, "%s: the manifest names more than %d files", where,
                    MAPIO_MANIFEST_FILES_MAX);
        json_decref(m);
        return SF_ELIMIT;
    }
    /* destinationBucket is an ARN, "arn:aws:s3:::name". */
    const char *dest = plain_string(json_object_get(m, "destinationBucket"));
    const char *colons = dest ? strstr(dest, ":::") : NULL;
    const char *data_bucket = colons ? colons + 3 : dest ? dest : bucket;
    size_t total = 0;
    sf_rc rc = SF_OK;
    size_t fi;
    json_t *f;
    json_array_foreach(files, fi, f) {
        if (rc != SF_OK || sink_full(s))
            break;
        const char *key = plain_string(json_object_get(f, "key"));
        if (!key) {
            asl_err_set(err, READER_FAILED, "%s: files[%zu] has no \"key\"", where, fi);
            rc = SF_EINVAL;
            break;
        }
        size_t kl = strlen(key);
        if (kl >= 3 && strcmp(key + kl - 3, ".gz") == 0) {
            asl_err_set(err, READER_FAILED,
                        "%s: files[%zu] s3://%s/%s is compressed; only plain CSV inventory files "
                        "are supported",
                        where, fi, data_bucket, key);
            rc = SF_EUNSUPPORTED;
            break;
        }
        char *data = NULL;
        size_t len = 0;
        rc = get_object(st, data_bucket, key, MAPIO_OBJECT_MAX, &data, &len, READER_FAILED, err);
        if (rc != SF_OK)
            break;
        total += len;
        if (total > MAPIO_MANIFEST_TOTAL_MAX) {
            asl_err_set(err, READER_FAILED, "%s: the inventory files exceed %zu MiB in all", where,
                        MAPIO_MANIFEST_TOTAL_MAX >> 20);
            free(data);
            rc = SF_ELIMIT;
            break;
        }
        char fwhere[2200];
        snprintf(fwhere, sizeof fwhere, "s3://%s/%s", data_bucket, key);
        rc = manifest_csv(fwhere, data, len, s, err);
        free(data);
    }
    json_decref(m);
    return rc;
}

/* ---- listObjectsV2 ---- */

static sf_rc read_listing(integ_objstore *st, const char *bucket, json_t *params, item_sink *s,
                          asl_err *err)
{
    json_t *pv = json_object_get(params, "Prefix");
    const char *prefix = pv ? plain_string(pv) : "";
    if (!prefix) {
        asl_err_set(err, READER_FAILED, "s3://%s: Prefix must be a string", bucket);
        return SF_EINVAL;
    }
    size_t max = s->max < MAPIO_LIST_MAX ? s->max : MAPIO_LIST_MAX;
    json_t *list = NULL;
    sf_rc rc = integ_objstore_list(st, bucket, prefix, max, &list);
    if (rc == SF_ENOTFOUND) {
        asl_err_set(err, READER_FAILED, "s3://%s: the bucket does not exist", bucket);
        return rc;
    }
    if (rc != SF_OK) {
        asl_err_set(err, READER_FAILED, "s3://%s/%s: listing failed: %s", bucket, prefix,
                    sf_rc_str(rc));
        return rc;
    }
    /* Distributed Map hands each object over as S3 does in its own event
     * shapes: "Etag", and LastModified in epoch seconds. */
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o) {
        if (rc != SF_OK || sink_full(s))
            break;
        int64_t ns = 0;
        asl_timestamp_parse(json_string_value(json_object_get(o, "LastModified")), &ns);
        int64_t sec = ns / 1000000000 - (ns % 1000000000 < 0);
        rc = sink_add(s, json_pack("{s:O,s:O,s:I,s:O,s:O}", "Etag", json_object_get(o, "ETag"),
                                   "Key", json_object_get(o, "Key"), "LastModified",
                                   (json_int_t)sec, "Size", json_object_get(o, "Size"),
                                   "StorageClass", json_object_get(o, "StorageClass")));
    }
    json_decref(list);
    return rc;
}

/* ---- the reader ---- */

sf_rc integ_read_items(integ_objstore *st, json_t *spec, json_t **items, asl_err *err)
{
    *items = NULL;
    asl_err_clear(err); /* so that a message set below is known to be ours */
    const char *res = json_string_value(json_object_get(spec, "Resource"));
    json_t *params = json_object_get(spec, "Parameters");
    json_t *cfg = json_object_get(spec, "ReaderConfig");
    const char *bucket = plain_string(json_object_get(params, "Bucket"));
    bool get = resource_is(res, "s3:getObject");
    bool list = resource_is(res, "s3:listObjectsV2");
    if (!get && !list) {
        asl_err_set(err, READER_FAILED, "ItemReader Resource '%s' is not supported",
                    res ? res : "(missing)");
        return SF_EUNSUPPORTED;
    }
    if (!bucket || !*bucket) {
        asl_err_set(err, READER_FAILED, "ItemReader Parameters need a Bucket string");
        return SF_EINVAL;
    }
    if (cfg && !json_is_object(cfg)) {
        asl_err_set(err, READER_FAILED, "ItemReader ReaderConfig must be an object");
        return SF_EINVAL;
    }
    item_sink s = {.max = MAPIO_ITEMS_MAX};
    json_t *mv = json_object_get(cfg, "MaxItems");
    if (mv) {
        json_int_t m = json_integer_value(mv);
        if (!json_is_integer(mv) || m < 0 || m > MAPIO_ITEMS_MAX) {
            asl_err_set(err, READER_FAILED, "MaxItems must be an integer from 0 to %d",
                        MAPIO_ITEMS_MAX);
            return SF_EINVAL;
        }
        if (m > 0) /* 0, like absence, means no limit */
            s.max = (size_t)m;
    }
    s.arr = json_array();
    if (!s.arr)
        return SF_ENOMEM;

    sf_rc rc;
    if (list) {
        rc = read_listing(st, bucket, params, &s, err);
    } else {
        const char *key = plain_string(json_object_get(params, "Key"));
        const char *type = json_string_value(json_object_get(cfg, "InputType"));
        if (!type)
            type = "JSON";
        char where[1400];
        snprintf(where, sizeof where, "s3://%s/%s", bucket, key ? key : "");
        char *data = NULL;
        size_t len = 0;
        if (!key || !*key) {
            asl_err_set(err, READER_FAILED, "ItemReader Parameters need a Key string");
            rc = SF_EINVAL;
        } else if (strcmp(type, "JSON") && strcmp(type, "JSONL") && strcmp(type, "CSV") &&
                   strcmp(type, "MANIFEST")) {
            asl_err_set(err, READER_FAILED, "InputType '%s' is not JSON, JSONL, CSV or MANIFEST",
                        type);
            rc = SF_EINVAL;
        } else {
            rc = get_object(st, bucket, key, MAPIO_OBJECT_MAX, &data, &len, READER_FAILED, err);
        }
        if (rc == SF_OK) {
            if (strcmp(type, "JSON") == 0)
                rc = read_json(where, data, len, &s, err);
            else if (strcmp(type, "JSONL") == 0)
                rc = read_jsonl(where, data, len, &s, err);
            else if (strcmp(type, "CSV") == 0)
                rc = read_csv(where, data, len, cfg, &s, err);
            else
                rc = read_manifest(st, bucket, where, data, len, &s, err);
        }
        free(data);
    }
    if (rc != SF_OK) {
        if (!err->error) /* allocation failures land here without a message */
            asl_err_set(err, READER_FAILED, "reading items failed: %s", sf_rc_str(rc));
        json_decref(s.arr);
        return rc;
    }
    *items = s.arr;
    return SF_OK;
}

/* ---- the writer ---- */

/* A growable buffer for json_dump_callback with a hard cap. */
typedef struct cap_buf {
    char *s;
    size_t n, cap, max;
    bool over;
} cap_buf;

static int cap_buf_add(const char *buf, size_t size, void *data)
{
    cap_buf *b = data;
    if (size == 0)
        return 0;
    if (size > b->max - b->n) {
        b->over = true;
        return -1;
    }
    if (b->n + size > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->n + size)
            nc *= 2;
        if (nc > b->max)
            nc = b->max;
        char *ns = realloc(b->s, nc);
        if (!ns)
            return -1;
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->n, buf, size);
    b->n += size;
    return 0;
}

/* Serialises v and stores it at bucket/key; *size gets its length. */
static sf_rc put_json(integ_objstore *st, const char *bucket, const char *key, json_t *v,
                      size_t *size, asl_err *err)
{
    cap_buf b = {.max = MAPIO_RESULT_FILE_MAX};
    sf_rc rc = SF_OK;
    if (json_dump_callback(v, cap_buf_add, &b, JSON_COMPACT | JSON_ENCODE_ANY) != 0) {
        rc = b.over ? SF_ELIMIT : SF_ENOMEM;
        if (b.over)
            asl_err_set(err, WRITER_FAILED, "s3://%s/%s: the result file would exceed %zu MiB",
                        bucket, key, MAPIO_RESULT_FILE_MAX >> 20);
    } else {
        rc = integ_objstore_put(st, bucket, key, b.s ? b.s : "", b.n);
        if (rc == SF_EINVAL)
            asl_err_set(err, WRITER_FAILED, "s3://%s/%s: invalid bucket, Prefix or key", bucket,
                        key);
        else if (rc != SF_OK)
            asl_err_set(err, WRITER_FAILED, "s3://%s/%s: writing failed: %s", bucket, key,
                        sf_rc_str(rc));
    }
    free(b.s);
    *size = b.n;
    return rc;
}

/* The directory name of a map run: AWS uses the run's id, the part after
 * the last ':' of a MapRunArn ("...:mapRun:sm/Label:<id>"); failing that,
 * the last path segment. Anything but [A-Za-z0-9._-] becomes '_', and a
 * leading '.' too, so it is always one safe path segment. */
static void run_id(const char *arn, char out[MAPIO_RUN_ID_MAX + 1])
{
    const char *s = strrchr(arn, ':');
    s = s && s[1] ? s + 1 : arn;
    const char *slash = strrchr(s, '/');
    if (slash && slash[1])
        s = slash + 1;
    size_t n = 0;
    for (; s[n] && n < MAPIO_RUN_ID_MAX; n++) {
        char c = s[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || (c == '.' && n > 0);
        out[n] = ok ? c : '_';
    }
    out[n] = '\0';
    if (n == 0)
        strcpy(out, "map-run");
}

/* The engine marks a failed iteration by putting {"Error","Cause"} (either
 * may be null) where its output would be. A successful output of exactly
 * that shape is indistinguishable and is reported as a failure. */
static bool is_failure(json_t *r)
{
    json_t *e = json_object_get(r, "Error");
    json_t *c = json_object_get(r, "Cause");
    return json_object_size(r) == 2 && e && c && (json_is_string(e) || json_is_null(e)) &&
           (json_is_string(c) || json_is_null(c));
}

/* One entry of SUCCEEDED_0.json or FAILED_0.json. What the engine gives is
 * each iteration's result (or error) only: there is no child execution, so
 * ExecutionArn and Name are made from the map run and the index, both
 * dates are the time of writing, and Input is what the request's optional
 * "Inputs" array holds at that index, else null with Included false. */
static json_t *result_entry(const char *arn, size_t i, json_t *result, json_t *input,
                            const char *now)
{
    char name[32], exec_arn[700];
    snprintf(name, sizeof name, "%zu", i);
    snprintf(exec_arn, sizeof exec_arn, "%s:%s", arn, name);
    char *in = input ? json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (input && !in)
        return NULL;
    json_t *o = NULL;
    if (is_failure(result)) {
        o = json_pack("{s:O,s:O,s:s,s:s?,s:{s:b},s:s,s:i,s:s,s:s,s:s,s:s}", "Cause",
                      json_object_get(result, "Cause"), "Error", json_object_get(result, "Error"),
                      "ExecutionArn", exec_arn, "Input", in, "InputDetails", "Included", in != NULL,
                      "Name", name, "RedriveCount", 0, "RedriveStatus", "NOT_REDRIVABLE",
                      "StartDate", now, "StopDate", now, "Status", "FAILED");
    } else {
        char *out = json_dumps(result ? result : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
        if (out)
            o = json_pack("{s:s,s:s?,s:{s:b},s:s,s:s,s:{s:b},s:i,s:s,s:s,s:s,s:s}", "ExecutionArn",
                          exec_arn, "Input", in, "InputDetails", "Included", in != NULL, "Name",
                          name, "Output", out, "OutputDetails", "Included", 1, "RedriveCount", 0,
                          "RedriveStatus", "NOT_REDRIVABLE", "StartDate", now, "StopDate", now,
                          "Status", "SUCCEEDED");
        free(out);
    }
    free(in);
    return o;
}

sf_rc integ_write_results(integ_objstore *st, json_t *req, json_t **details, asl_err *err)
{
    *details = NULL;
    asl_err_clear(err);
    json_t *rw = json_object_get(req, "ResultWriter");
    const char *res = json_string_value(json_object_get(rw, "Resource"));
    json_t *params = json_object_get(rw, "Parameters");
    const char *bucket = plain_string(json_object_get(params, "Bucket"));
    json_t *pv = json_object_get(params, "Prefix");
    const char *prefix = pv ? plain_string(pv) : "";
    const char *arn = plain_string(json_object_get(req, "MapRunArn"));
    json_t *results = json_object_get(req, "Results");
    json_t *inputs = json_object_get(req, "Inputs");
    if (!resource_is(res, "s3:putObject")) {
        asl_err_set(err, WRITER_FAILED, "ResultWriter Resource '%s' is not supported",
                    res ? res : "(missing)");
        return SF_EUNSUPPORTED;
    }
    if (!bucket || !*bucket || !prefix) {
        asl_err_set(err, WRITER_FAILED,
                    "ResultWriter Parameters need a Bucket string (and a Prefix string, if any)");
        return SF_EINVAL;
    }
    if (!arn || !json_is_array(results) || (inputs && !json_is_array(inputs))) {
        asl_err_set(err, WRITER_FAILED, "the result-writing request lacks MapRunArn or Results");
        return SF_EINVAL;
    }

    char id[MAPIO_RUN_ID_MAX + 1];
    run_id(arn, id);
    size_t plen = strlen(prefix);
    while (plen > 0 && prefix[plen - 1] == '/')
        plen--; /* "out/" and "out" mean the same folder */
    char base[1200];
    int bn = plen ? snprintf(base, sizeof base, "%.*s/%s/", (int)plen, prefix, id)
                  : snprintf(base, sizeof base, "%s/", id);
    if (bn < 0 || (size_t)bn >= sizeof base - 32) {
        asl_err_set(err, WRITER_FAILED, "ResultWriter Prefix is too long");
        return SF_ELIMIT;
    }

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char now[32];
    asl_timestamp_format_ms((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, now);

    sf_rc rc = SF_OK;
    json_t *succ = json_array(), *fail = json_array();
    json_t *files_s = json_array(), *files_f = json_array();
    json_t *manifest = NULL;
    if (!succ || !fail || !files_s || !files_f) {
        rc = SF_ENOMEM;
        goto out;
    }
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r) {
        json_t *e = result_entry(arn, i, r, json_array_get(inputs, i), now);
        if (!e || json_array_append_new(is_failure(r) ? fail : succ, e) != 0) {
            rc = SF_ENOMEM;
            goto out;
        }
    }
    /* AWS writes a result file only for a status that has entries; PENDING
     * never has any here, because the writer runs once every child ended. */
    struct {
        json_t *entries, *files;
        const char *name;
    } out_files[2] = {{fail, files_f, "FAILED_0.json"}, {succ, files_s, "SUCCEEDED_0.json"}};
    char key[1300];
    for (int k = 0; k < 2; k++) {
        if (json_array_size(out_files[k].entries) == 0)
            continue;
        snprintf(key, sizeof key, "%s%s", base, out_files[k].name);
        size_t size = 0;
        rc = put_json(st, bucket, key, out_files[k].entries, &size, err);
        if (rc != SF_OK)
            goto out;
        if (json_array_append_new(out_files[k].files,
                                  json_pack("{s:s,s:I}", "Key", key, "Size", (json_int_t)size))) {
            rc = SF_ENOMEM;
            goto out;
        }
    }
    manifest = json_pack("{s:s,s:s,s:{s:O,s:[],s:O}}", "DestinationBucket", bucket, "MapRunArn",
                         arn, "ResultFiles", "FAILED", files_f, "PENDING", "SUCCEEDED", files_s);
    if (!manifest) {
        rc = SF_ENOMEM;
        goto out;
    }
    snprintf(key, sizeof key, "%smanifest.json", base);
    size_t msize = 0;
    rc = put_json(st, bucket, key, manifest, &msize, err);
    if (rc == SF_OK) {
        *details = json_pack("{s:s,s:s}", "Bucket", bucket, "Key", key);
        if (!*details)
            rc = SF_ENOMEM;
    }
out:
    if (rc != SF_OK && !err->error)
        asl_err_set(err, WRITER_FAILED, "writing results failed: %s", sf_rc_str(rc));
    json_decref(succ);
    json_decref(fail);
    json_decref(files_s);
    json_decref(files_f);
    json_decref(manifest);
    return rc;
}
