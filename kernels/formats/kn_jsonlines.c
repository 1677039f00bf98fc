/* kernels/formats/kn_jsonlines.c - JSON instances: application/jsonlines
 * (one instance per line) and application/json ({"instances": [...]}).
 *
 * An instance is one of SageMaker's request shapes:
 *   {"features": [1.5, 16.0]}
 *   {"data": {"features": {"values": [1.5, 16.0]}}}
 *   {"data": {"features": {"keys": [0, 3], "shape": [4], "values": [1, 4]}}}  (sparse)
 * or a bare array of numbers. A label, when the reader wants one, is the
 * instance's (or its "data"'s) "label": a number, [number] or
 * {"values": [number]}. A JSON request is one document: it is parsed
 * whole (it is at most the record limit; SageMaker caps a request at 6
 * MiB), JSON Lines a line at a time. jansson parses; this file only
 * walks what it built. */
#include "kn_json.h"
#include "kn_reader_int.h"

#include <string.h>

typedef struct inst_ctx {
    const kn_loc *at;
    kn_err *err;
} inst_ctx;

static sf_rc dense(const inst_ctx *c, json_t *arr, const char *what, float *dst, size_t cap,
                   size_t *n)
{
    if (!json_is_array(arr))
        return kn_loc_fail(c->at, c->err, SF_EINVAL, "%s is not an array", what);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_number(v))
            return kn_loc_fail(c->at, c->err, SF_EINVAL, "%s[%zu] is not a number", what, i);
        if (i < cap)
            dst[i] = (float)json_number_value(v);
    }
    *n = json_array_size(arr);
    return SF_OK;
}

/* The width a sparse tensor's shape gives: the product of its dims. */
static sf_rc shape_width(const inst_ctx *c, json_t *shape, const char *what, size_t *width)
{
    if (!json_is_array(shape) || json_array_size(shape) == 0)
        return kn_loc_fail(c->at, c->err, SF_EINVAL,
                           "%s has \"keys\" but no \"shape\": a sparse tensor needs one", what);
    size_t w = 1, i;
    json_t *d;
    json_array_foreach(shape, i, d)
    {
        json_int_t x = json_is_integer(d) ? json_integer_value(d) : -1;
        if (x <= 0)
            return kn_loc_fail(c->at, c->err, SF_EINVAL, "%s.shape[%zu] is not a positive integer",
                               what, i);
        if ((unsigned long long)x > KN_FEATURE_DIM_MAX / w)
            return kn_loc_fail(c->at, c->err, SF_ELIMIT, "%s.shape is over %zu features", what,
                               KN_FEATURE_DIM_MAX);
        w *= (size_t)x;
    }
    *width = w;
    return SF_OK;
}

/* {"values": [...]} or, sparse, {"keys": [...], "shape": [...], "values": [...]}. */
static sf_rc tensor(const inst_ctx *c, json_t *obj, const char *what, float *dst, size_t cap,
                    size_t *n)
{
    json_t *values = json_object_get(obj, "values"), *keys = json_object_get(obj, "keys");
    if (!values)
        return kn_loc_fail(c->at, c->err, SF_EINVAL, "%s has no \"values\"", what);
    if (!keys)
        return dense(c, values, what, dst, cap, n);
    size_t width = 0;
    sf_rc rc = shape_width(c, json_object_get(obj, "shape"), what, &width);
    if (rc != SF_OK)
        return rc;
    if (!json_is_array(keys) || !json_is_array(values) ||
        json_array_size(keys) != json_array_size(values))
        return kn_loc_fail(c->at, c->err, SF_EINVAL,
                           "%s: \"keys\" and \"values\" are not arrays of the same length", what);
    memset(dst, 0, (width < cap ? width : cap) * sizeof *dst);
    for (size_t i = 0; i < json_array_size(keys); i++) {
        json_t *k = json_array_get(keys, i), *v = json_array_get(values, i);
        json_int_t key = json_is_integer(k) ? json_integer_value(k) : -1;
        if (key < 0 || (unsigned long long)key >= width)
            return kn_loc_fail(c->at, c->err, SF_EINVAL,
                               "%s.keys[%zu] is not an index below the shape's %zu", what, i,
                               width);
        if (!json_is_number(v))
            return kn_loc_fail(c->at, c->err, SF_EINVAL, "%s.values[%zu] is not a number", what, i);
        if ((size_t)key < cap)
            dst[key] = (float)json_number_value(v);
    }
    *n = width;
    return SF_OK;
}

static sf_rc features(const inst_ctx *c, json_t *f, const char *what, float *dst, size_t cap,
                      size_t *n)
{
    return json_is_object(f) ? tensor(c, f, what, dst, cap, n) : dense(c, f, what, dst, cap, n);
}

static sf_rc get_label(const inst_ctx *c, json_t *inst, json_t *data, float *label)
{
    json_t *l = json_object_get(inst, "label");
    if (!l && data)
        l = json_object_get(data, "label");
    if (!l)
        return kn_loc_fail(c->at, c->err, SF_EINVAL, "the instance has no \"label\"");
    if (json_is_number(l)) {
        *label = (float)json_number_value(l);
        return SF_OK;
    }
    size_t n = 0;
    sf_rc rc = features(c, l, "label", label, 1, &n);
    if (rc == SF_OK && n != 1)
        return kn_loc_fail(c->at, c->err, SF_EINVAL, "the label has %zu values; one is expected",
                           n);
    return rc;
}

sf_rc kn_json_instance_decode(json_t *inst, const kn_loc *at, float *dst, size_t cap, size_t *n,
                              float *label, kn_err *err)
{
    inst_ctx c = {.at = at, .err = err};
    if (json_is_array(inst)) {
        if (label)
            return kn_loc_fail(
                at, err, SF_EINVAL,
                "a bare array has no label: use {\"features\": [...], \"label\": x}");
        return dense(&c, inst, "the instance", dst, cap, n);
    }
    if (!json_is_object(inst))
        return kn_loc_fail(at, err, SF_EINVAL,
                           "an instance is {\"features\": [...]} or {\"data\": {\"features\": "
                           "{\"values\": [...]}}}");
    json_t *data = json_object_get(inst, "data");
    if (data && !json_is_object(data))
        return kn_loc_fail(at, err, SF_EINVAL, "\"data\" is not an object");
    sf_rc rc;
    json_t *f = json_object_get(inst, "features");
    if (f)
        rc = features(&c, f, "features", dst, cap, n);
    else if (data && (f = json_object_get(data, "features")))
        rc = features(&c, f, "data.features", dst, cap, n);
    else
        return kn_loc_fail(at, err, SF_EINVAL,
                           "the instance has no \"features\" (nor \"data\": {\"features\": ...})");
    if (rc == SF_OK && label)
        rc = get_label(&c, inst, data, label);
    return rc;
}

static sf_rc jsonlines_frame(kn_reader *r, kn_span *s, bool *got, kn_err *err)
{
    return kn__lines_frame(r, s, got, err);
}

sf_rc kn_json_record_load(const uint8_t *p, size_t len, const kn_loc *at, json_t **out, kn_err *err)
{
    json_error_t jerr;
    *out = json_loadb((const char *)p, len, 0, &jerr);
    if (!*out)
        return kn_loc_fail(at, err, SF_EINVAL, "invalid JSON at column %d: %s", jerr.column,
                           jerr.text);
    return SF_OK;
}

sf_rc kn__jsonlines_parse(const uint8_t *p, size_t len, const kn_loc *at, float *dst, size_t cap,
                          size_t *n, float *label, kn_err *err)
{
    json_t *inst;
    sf_rc rc = kn_json_record_load(p, len, at, &inst, err);
    if (rc != SF_OK)
        return rc;
    rc = kn_json_instance_decode(inst, at, dst, cap, n, label, err);
    json_decref(inst);
    return rc;
}

static sf_rc jsonlines_decode(kn_reader *r, const kn_span *s, float *dst, size_t cap, size_t *n,
                              float *label, kn_err *err)
{
    kn_loc at = kn__reader_loc(r, s->where);
    return kn__jsonlines_parse(s->p, s->len, &at, dst, cap, n, label, err);
}

const kn_format_ops kn__jsonlines_ops = {
    .frame = jsonlines_frame, .decode = jsonlines_decode, .where = "line"};

/* Reads the whole request into the window and parses it. */
static sf_rc json_load_doc(kn_reader *r, kn_err *err)
{
    for (;;) {
        size_t added;
        sf_rc rc = kn__reader_more(r, &added, err);
        if (rc == SF_ELIMIT)
            return kn_fail(err, rc, "ClientError: %s: the JSON request is larger than %zu bytes",
                           r->name, r->limit);
        if (rc != SF_OK)
            return rc;
        if (added == 0)
            break;
    }
    const char *p = (const char *)r->buf + r->pos;
    size_t len = r->end - r->pos;
    while (len > 0 &&
           (p[len - 1] == ' ' || p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == '\t'))
        len--;
    if (len == 0) { /* an empty body: no instances */
        r->doc = json_array();
        return r->doc ? SF_OK : kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
    }
    json_error_t jerr;
    r->doc = json_loadb(p, len, 0, &jerr);
    if (!r->doc)
        return kn_fail(err, SF_EINVAL, "ClientError: %s line %d column %d: invalid JSON: %s",
                       r->name, jerr.line, jerr.column, jerr.text);
    r->pos = r->end; /* the document holds its own copy now */
    json_t *inst = json_object_get(r->doc, "instances");
    if (!json_is_array(inst)) {
        json_decref(r->doc);
        r->doc = NULL;
        return kn_fail(err, SF_EINVAL, "ClientError: %s: a JSON request is {\"instances\": [...]}",
                       r->name);
    }
    json_incref(inst);
    json_decref(r->doc);
    r->doc = inst;
    return SF_OK;
}

static sf_rc json_frame(kn_reader *r, kn_span *s, bool *got, kn_err *err)
{
    if (!r->doc) {
        sf_rc rc = json_load_doc(r, err);
        if (rc != SF_OK)
            return rc;
    }
    *got = r->inst_i < json_array_size(r->doc);
    if (*got) {
        *s = (kn_span){.json = json_array_get(r->doc, r->inst_i), .where = r->inst_i + 1};
        r->inst_i++;
    }
    return SF_OK;
}

static sf_rc json_decode(kn_reader *r, const kn_span *s, float *dst, size_t cap, size_t *n,
                         float *label, kn_err *err)
{
    kn_loc at = kn__reader_loc(r, s->where);
    return kn_json_instance_decode(s->json, &at, dst, cap, n, label, err);
}

const kn_format_ops kn__json_ops = {
    .frame = json_frame, .decode = json_decode, .where = "instance"};
