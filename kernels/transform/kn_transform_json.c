/* kernels/transform/kn_transform_json.c - JSON and JSON Lines records.
 *
 * A record is a JSON value. After InputFilter it must be an instance as
 * SageMaker's built-in algorithms read them: an array of numbers,
 * {"features": [...]}, or {"data": {"features": {"values": [...]}}}
 * (with "keys" and "shape" when sparse); or, for application/json, a
 * document holding several: {"instances": [...]} or an array of
 * instances. Predictions become {field: value} objects; numbers are
 * written in the shortest form that reads back the same (the input's with
 * 15 significant digits, so a joined record keeps what it said). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/transform/kn_transform_int.h"

#define JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

static sf_rc bad_instance(const char *where, const char *why, kn_err *err)
{
    return kn_tf_fail(err, SF_EINVAL,
                      "ClientError: %s: %s (an instance is an array of numbers, "
                      "{\"features\": [...]} or {\"data\": {\"features\": {\"values\": [...]}}})",
                      where, why);
}

/* A dense array of numbers into row. */
static sf_rc dense_row(const kn_transform_job *j, json_t *a, float *row, const char *where,
                       kn_err *err)
{
    size_t n = json_array_size(a);
    if (n != j->dim) {
        char why[96];
        snprintf(why, sizeof why, "%zu features, the model reads %zu", n, j->dim);
        return bad_instance(where, why, err);
    }
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(a, i);
        if (!json_is_number(x)) {
            char why[64];
            snprintf(why, sizeof why, "feature %zu is not a number", i);
            return bad_instance(where, why, err);
        }
        row[i] = (float)json_number_value(x);
    }
    return SF_OK;
}

/* {"values": [...], "keys": [...], "shape": [dim]}: the sparse form. */
static sf_rc sparse_row(const kn_transform_job *j, json_t *t, float *row, const char *where,
                        kn_err *err)
{
    json_t *values = json_object_get(t, "values"), *keys = json_object_get(t, "keys");
    if (!json_is_array(values))
        return bad_instance(where, "features has no \"values\" array", err);
    if (!keys)
        return dense_row(j, values, row, where, err);
    if (!json_is_array(keys) || json_array_size(keys) != json_array_size(values))
        return bad_instance(where, "\"keys\" must be an array as long as \"values\"", err);
    memset(row, 0, j->dim * sizeof *row);
    for (size_t i = 0; i < json_array_size(keys); i++) {
        json_t *k = json_array_get(keys, i), *v = json_array_get(values, i);
        if (!json_is_integer(k) || json_integer_value(k) < 0 ||
            (size_t)json_integer_value(k) >= j->dim || !json_is_number(v))
            return bad_instance(where, "a sparse key is outside the model's features", err);
        row[json_integer_value(k)] = (float)json_number_value(v);
    }
    return SF_OK;
}

static sf_rc instance_row(const kn_transform_job *j, json_t *v, float *row, const char *where,
                          kn_err *err)
{
    if (json_is_array(v))
        return dense_row(j, v, row, where, err);
    json_t *f = json_object_get(v, "features");
    if (json_is_array(f))
        return dense_row(j, f, row, where, err);
    json_t *d = json_object_get(v, "data");
    f = json_object_get(d, "features");
    if (json_is_object(f))
        return sparse_row(j, f, row, where, err);
    return bad_instance(where, "not an instance", err);
}

static bool is_number_array(json_t *v)
{
    return json_is_array(v) && json_array_size(v) > 0 && json_is_number(json_array_get(v, 0));
}

sf_rc kn_tf_json_decode(const kn_transform_job *j, kn_tf_scratch *s, const char *rec, size_t n,
                        const char *where, json_t **value, size_t *rows, kn_err *err)
{
    json_error_t je;
    *value = NULL;
    *rows = 0;
    json_t *v = json_loadb(rec, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v)
        return kn_tf_fail(err, SF_EINVAL, "ClientError: %s: not JSON: %s (at character %d)", where,
                          je.text, je.position);
    char why[160];
    json_t *in = kn_jp_apply(&j->in_filter, v, why, sizeof why);
    if (!in) {
        json_decref(v);
        return kn_tf_fail(err, SF_EINVAL, "ClientError: %s: InputFilter %s", where, why);
    }
    /* A document of several instances: application/json only, as JSON
     * Lines holds one instance per line. */
    json_t *list = NULL;
    if (j->ct == KN_CT_JSON) {
        json_t *inst = json_object_get(in, "instances");
        if (json_is_array(inst))
            list = inst;
        else if (json_is_array(in) && !is_number_array(in) && json_array_size(in) > 0)
            list = in;
    }
    size_t count = list ? json_array_size(list) : 1;
    sf_rc rc = kn_tf_scratch_rows(s, j->dim, count, err);
    for (size_t i = 0; rc == SF_OK && i < count; i++) {
        float *row = s->X + (s->rows + i) * j->dim;
        rc = instance_row(j, list ? json_array_get(list, i) : in, row, where, err);
    }
    json_decref(in);
    if (rc != SF_OK) {
        json_decref(v);
        return rc;
    }
    s->rows += count;
    *rows = count;
    if (j->join)
        *value = v;
    else
        json_decref(v);
    return SF_OK;
}

/* The double whose shortest text is the float's, so that JSON shows 0.4,
 * not 0.4000000059604645. */
static double shortest(float v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.7g", (double)v);
    if (strtof(buf, NULL) != v)
        snprintf(buf, sizeof buf, "%.9g", (double)v);
    return strtod(buf, NULL);
}

static json_t *number(float v)
{
    /* Non-finite values have no JSON form; null says so without failing
     * the job (SageMaker's containers write NaN, which no parser reads). */
    return isfinite(v) ? json_real(shortest(v)) : json_null();
}

json_t *kn_tf_json_pred(const kn_transform_job *j, const float *y)
{
    json_t *o = json_object();
    size_t at = 0;
    for (size_t f = 0; o && f < j->resp.nfields; f++) {
        const kn_field *fd = &j->resp.fields[f];
        json_t *v;
        if (fd->vector || fd->width != 1) {
            v = json_array();
            for (size_t i = 0; v && i < fd->width; i++)
                json_array_append_new(v, number(y[at + i]));
        } else {
            v = number(y[at]);
        }
        at += fd->width;
        if (!v || json_object_set_new(o, fd->name, v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

sf_rc kn_tf_json_put(kn_tf_buf *b, json_t *v)
{
    size_t n = json_dumpb(v, NULL, 0, JSON_FLAGS | JSON_ENCODE_ANY);
    if (n == 0)
        return SF_ENOMEM;
    sf_rc rc = kn_tf_buf_reserve(b, n);
    if (rc != SF_OK)
        return rc;
    b->len += json_dumpb(v, b->p + b->len, n, JSON_FLAGS | JSON_ENCODE_ANY);
    return SF_OK;
}
