/* tests/fuzz/formats_fuzz.h - what the format harnesses (fuzz_csv.c,
 * fuzz_jsonlines.c, fuzz_recordio.c) check of any reader on any bytes:
 * it ends; an error says why, naming the input; rows are as wide as the
 * reader says; a rewind reads the same rows again, bit for bit; and rows
 * read back written out in ct (when it can be written) read back the same. */
#ifndef FORMATS_FUZZ_H
#define FORMATS_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/formats/kn_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

/* All rows of r, batch at a time; *x (and *y) malloc'd, NULL when none. */
static sf_rc fuzz_drain(kn_reader *r, bool labelled, size_t batch, float **x, float **y, size_t *n,
                        size_t *dim, kn_err *err)
{
    *x = *y = NULL;
    *n = 0;
    sf_rc rc = kn_reader_feature_dim(r, dim, err);
    if (rc != SF_OK || *dim == 0)
        return rc;
    check(*dim <= KN_FEATURE_DIM_MAX);
    if (*dim > (1u << 16))
        return SF_ELIMIT; /* a sparse shape this wide: fine, but too slow to fuzz */
    float *bx = malloc(batch * *dim * sizeof *bx), *by = malloc(batch * sizeof *by);
    check(bx && by);
    for (;;) {
        kn_matrix m = {.data = bx};
        rc = kn_reader_next(r, &m, labelled ? by : NULL, batch, err);
        if (rc != SF_OK || m.rows == 0)
            break;
        check(m.rows <= batch && m.cols == *dim);
        *x = realloc(*x, (*n + m.rows) * *dim * sizeof **x);
        *y = realloc(*y, (*n + m.rows) * sizeof **y);
        check(*x && *y);
        memcpy(*x + *n * *dim, bx, m.rows * *dim * sizeof *bx);
        memcpy(*y + *n, by, m.rows * sizeof *by);
        *n += m.rows;
    }
    free(bx);
    free(by);
    return rc;
}

static bool same_float(float a, float b)
{
    return a == b || (a != a && b != b); /* any NaN is NaN */
}

static bool all_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] - v[i] != 0)
            return false;
    return true;
}

/* Writes rows as records of type ct and reads them back: the same rows.
 * JSON has no NaN or Infinity, so JSON Lines round-trips finite rows only. */
static void round_trip(const char *name, kn_content_type ct, bool labelled, size_t batch,
                       const float *x, const float *y, size_t n, size_t dim)
{
    if (ct == KN_CT_JSONLINES && (!all_finite(x, n * dim) || (labelled && !all_finite(y, n))))
        return;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    check(f != NULL);
    kn_err err;
    kn_matrix X = {.rows = n, .cols = dim, .data = (float *)x};
    check(kn_write_records(ct, &X, labelled ? y : NULL, f, &err) == SF_OK);
    fclose(f);
    kn_reader *r;
    check(kn_reader_open_mem(buf, len, name, ct, labelled, 0, &r, &err) == SF_OK);
    float *x2, *y2;
    size_t n2, dim2;
    check(fuzz_drain(r, labelled, batch, &x2, &y2, &n2, &dim2, &err) == SF_OK);
    check(n2 == n && dim2 == dim);
    for (size_t i = 0; i < n * dim; i++)
        check(same_float(x[i], x2[i]));
    for (size_t i = 0; labelled && i < n; i++)
        check(same_float(y[i], y2[i]));
    kn_reader_close(&r);
    free(x2);
    free(y2);
    free(buf);
}

static void fuzz_reader(const uint8_t *data, size_t size, const char *name, kn_content_type ct,
                        bool labelled, size_t batch)
{
    kn_reader *r;
    kn_err err;
    memset(err.msg, 0, sizeof err.msg);
    check(kn_reader_open_mem(data, size, name, ct, labelled, 0, &r, &err) == SF_OK);
    float *x, *y, *x2, *y2;
    size_t n, dim, n2, dim2;
    sf_rc rc = fuzz_drain(r, labelled, batch, &x, &y, &n, &dim, &err);
    if (rc != SF_OK && rc != SF_ELIMIT) {
        check(strncmp(err.msg, "ClientError: ", 13) == 0 && strstr(err.msg, name));
        check(memchr(err.msg, '\0', sizeof err.msg) != NULL);
    }
    check(kn_reader_rewind(r, &err) == SF_OK);
    sf_rc rc2 = fuzz_drain(r, labelled, batch + 1, &x2, &y2, &n2, &dim2, &err);
    check(rc2 == rc && dim2 == dim);
    /* the batch sizes differ, so an error may come a batch later or
     * sooner: only the rows read without error must agree */
    if (rc == SF_OK) {
        check(n2 == n);
        check(n == 0 || memcmp(x, x2, n * dim * sizeof *x) == 0);
        check(!labelled || n == 0 || memcmp(y, y2, n * sizeof *y) == 0);
    }
    kn_reader_close(&r);
    check(r == NULL);

    free(x2);
    free(y2);
    if (rc == SF_OK && n > 0 && ct != KN_CT_JSON)
        round_trip(name, ct, labelled, batch, x, y, n, dim);
    free(x);
    free(y);
}

#endif
