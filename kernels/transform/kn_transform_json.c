/* kernels/transform/kn_transform_json.c - JSON and JSON Lines records
 * through the DataProcessing filters.
 *
 * A record is a JSON value, parsed and decoded by the formats layer
 * (kn_json.h). What a transform adds: InputFilter picks the instance out
 * of the record, an application/json record may be a document of several
 * ({"instances": [...]}), JoinSource puts the prediction beside the input
 * under "SageMakerOutput", and OutputFilter picks from that. A joined or
 * filtered result is written by jansson, with the formats layer's spacing
 * (", ", ": ") and its numbers read back from the formats layer's text,
 * so a prediction reads the same joined or not. */
#include <stdint.h>
#include <string.h>

#include "kernels/formats/kn_json.h"
#include "kernels/transform/kn_transform_int.h"

/* Not compact: ", " and ": ", as kn_put_predictions spaces JSON. 15
 * digits print a float's shortest text (at most 9) as it was. */
#define JSON_FLAGS (JSON_ENCODE_ANY | JSON_REAL_PRECISION(15))

sf_rc kn_tf_json_decode(const kn_transform_job *j, kn_tf_scratch *s, const char *rec, size_t n,
                        const kn_loc *at, json_t **value, size_t *rows, kn_err *err)
{
    *value = NULL;
    *rows = 0;
    json_t *v;
    sf_rc rc = kn_json_record_load((const uint8_t *)rec, n, at, &v, err);
    if (rc != SF_OK)
        return rc;
    char why[160];
    json_t *in = kn_jp_apply(&j->in_filter, v, why, sizeof why);
    if (!in) {
        json_decref(v);
        return kn_loc_fail(at, err, SF_EINVAL, "InputFilter %s", why);
    }
    /* A document of several instances: application/json only, as JSON
     * Lines holds one instance per line. */
    json_t *list = j->ct == KN_CT_JSON ? json_object_get(in, "instances") : NULL;
    if (!json_is_array(list))
        list = NULL;
    size_t count = list ? json_array_size(list) : 1;
    rc = kn_tf_scratch_rows(s, j->dim, count, err);
    for (size_t i = 0; rc == SF_OK && i < count; i++) {
        float *row = s->X + (s->rows + i) * j->dim;
        size_t got;
        rc = kn_json_instance_decode(list ? json_array_get(list, i) : in, at, row, j->dim, &got,
                                     NULL, err);
        if (rc == SF_OK && got != j->dim)
            rc = kn_tf_wrong_width(at, got, j->dim, err);
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

/* Prediction y as a value: the formats layer's text, read back. */
static sf_rc prediction(const kn_transform_job *j, kn_buf *b, const float *y, json_t **out,
                        kn_err *err)
{
    size_t mark = b->len;
    sf_rc rc = kn_put_predictions(b, KN_CT_JSONLINES, &j->resp, y, 1, err);
    if (rc != SF_OK)
        return rc;
    *out = json_loadb(b->p + mark, b->len - mark, 0, NULL);
    b->len = mark;
    return *out ? SF_OK : kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
}

sf_rc kn_tf_json_put_joined(const kn_transform_job *j, kn_buf *b, json_t *in, const float *y,
                            const kn_loc *at, kn_err *err)
{
    json_t *pred, *v;
    sf_rc rc = prediction(j, b, y, &pred, err);
    if (rc != SF_OK)
        return rc;
    v = pred;
    if (in) {
        /* SageMaker adds the output under SageMakerOutput, wrapping an
         * input that is not an object. */
        if (json_is_object(in)) {
            v = json_copy(in);
            if (v)
                json_object_set_new(v, "SageMakerOutput", pred);
            else
                json_decref(pred);
        } else {
            v = json_pack("{s:O,s:o}", "SageMakerInput", in, "SageMakerOutput", pred);
        }
        if (!v)
            return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
    }
    char why[160];
    json_t *out = kn_jp_apply(&j->out_filter, v, why, sizeof why);
    json_decref(v);
    if (!out)
        return kn_loc_fail(at, err, SF_EINVAL, "OutputFilter %s", why);
    size_t n = json_dumpb(out, NULL, 0, JSON_FLAGS);
    rc = n ? kn_buf_reserve(b, n) : SF_ENOMEM;
    if (rc == SF_OK)
        b->len += json_dumpb(out, b->p + b->len, n, JSON_FLAGS);
    json_decref(out);
    return rc;
}
