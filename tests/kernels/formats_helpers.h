/* tests/kernels/formats_helpers.h - shared by the test_formats*.c files:
 * temporary files and reading a whole input back as rows. */
#ifndef FORMATS_HELPERS_H
#define FORMATS_HELPERS_H

#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/formats/kn_format.h"

/* Writes len bytes to a new temporary file named like name; returns its
 * path (static storage for the last few calls' results is avoided: the
 * caller frees). */
static inline char *tmp_file(const char *suffix, const void *data, size_t len)
{
    char *path = NULL;
    cr_assert(asprintf(&path, "/tmp/sf_fmt_test_XXXXXX%s", suffix) > 0);
    int fd = mkstemps(path, (int)strlen(suffix));
    cr_assert(fd >= 0);
    cr_assert(write(fd, data, len) == (ssize_t)len);
    close(fd);
    return path;
}

/* Every row of a reader, read in batches of batch rows. */
typedef struct rows {
    float *x, *y;
    size_t n, dim;
} rows;

static inline sf_rc read_rows(kn_reader *r, size_t batch, rows *out, kn_err *err)
{
    memset(out, 0, sizeof *out);
    size_t dim;
    sf_rc rc = kn_reader_feature_dim(r, &dim, err);
    if (rc != SF_OK)
        return rc;
    out->dim = dim;
    if (dim == 0)
        return SF_OK;
    float *X = malloc(batch * dim * sizeof *X), *y = malloc(batch * sizeof *y);
    for (;;) {
        kn_matrix m = {.data = X};
        rc = kn_reader_next(r, &m, y, batch, err);
        if (rc != SF_OK || m.rows == 0)
            break;
        cr_assert_eq(m.cols, dim);
        out->x = realloc(out->x, (out->n + m.rows) * dim * sizeof *out->x);
        out->y = realloc(out->y, (out->n + m.rows) * sizeof *out->y);
        memcpy(out->x + out->n * dim, X, m.rows * dim * sizeof *X);
        memcpy(out->y + out->n, y, m.rows * sizeof *y);
        out->n += m.rows;
    }
    free(X);
    free(y);
    return rc;
}

/* read_rows for a reader opened without labels. */
static inline sf_rc read_rows_unlabelled(kn_reader *r, size_t batch, rows *out, kn_err *err)
{
    memset(out, 0, sizeof *out);
    size_t dim;
    sf_rc rc = kn_reader_feature_dim(r, &dim, err);
    if (rc != SF_OK || dim == 0)
        return rc;
    out->dim = dim;
    float *X = malloc(batch * dim * sizeof *X);
    for (;;) {
        kn_matrix m = {.data = X};
        rc = kn_reader_next(r, &m, NULL, batch, err);
        if (rc != SF_OK || m.rows == 0)
            break;
        out->x = realloc(out->x, (out->n + m.rows) * dim * sizeof *out->x);
        memcpy(out->x + out->n * dim, X, m.rows * dim * sizeof *X);
        out->n += m.rows;
    }
    free(X);
    return rc;
}

static inline void rows_free(rows *r)
{
    free(r->x);
    free(r->y);
    memset(r, 0, sizeof *r);
}

/* Reads a whole memory buffer of type ct. */
static inline sf_rc read_mem(const char *data, size_t len, const char *name, kn_content_type ct,
                             bool labelled, rows *out, kn_err *err)
{
    kn_reader *r = NULL;
    sf_rc rc = kn_reader_open_mem(data, len, name, ct, labelled, 0, &r, err);
    if (rc != SF_OK)
        return rc;
    rc = labelled ? read_rows(r, 16, out, err) : read_rows_unlabelled(r, 16, out, err);
    kn_reader_close(&r);
    return rc;
}

static inline sf_rc read_str(const char *data, const char *name, kn_content_type ct, bool labelled,
                             rows *out, kn_err *err)
{
    return read_mem(data, strlen(data), name, ct, labelled, out, err);
}

#endif
