/* kernels/transform/kn_transform_job.c - checking a transform request.
 *
 * Every field is checked before any data is read, the way SageMaker
 * refuses a CreateTransformJob: a wrong value or an unsupported
 * combination is a ClientError that names the field and says what it
 * accepts. What passes here runs to the end unless the data is bad. */
#define _POSIX_C_SOURCE 200809L /* strncasecmp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "kernels/transform/kn_transform_int.h"

#define PAYLOAD_MAX_MB 100 /* SageMaker's limit */

/* The media type as the formats layer reads it, the error prefixed with
 * the request field. Parameters are checked (label_size 0 or 1, for CSV
 * only) but a transform's records carry no label whatever they say. */
static sf_rc parse_media(const char *field, const char *text, kn_content_type *out, kn_err *err)
{
    sf_rc rc = kn_content_type_parse(text, out, NULL, err);
    if (rc != SF_OK && err) {
        const char *why = strncmp(err->msg, "ClientError: ", 13) == 0 ? err->msg + 13 : err->msg;
        char tmp[sizeof err->msg];
        snprintf(tmp, sizeof tmp, "%s", why);
        kn_fail(err, SF_EINVAL, "ClientError: %s: %s", field, tmp);
    }
    return rc == SF_OK ? rc : SF_EINVAL;
}

/* text among the '|'-separated choices (exact case, as the API is);
 * NULL takes the first. Returns the index or -1. */
static int pick(const char *text, const char *choices)
{
    if (!text)
        return 0;
    int i = 0;
    for (const char *p = choices;; i++) {
        size_t n = strcspn(p, "|");
        if (strlen(text) == n && strncmp(text, p, n) == 0)
            return i;
        if (!p[n])
            return -1;
        p += n + 1;
    }
}

static sf_rc bad_choice(const char *field, const char *text, const char *choices, kn_err *err)
{
    return kn_fail(err, SF_EINVAL, "ClientError: %s \"%s\" is not one of %s", field, text, choices);
}

static kn_content_type default_accept(kn_content_type ct)
{
    return ct; /* each family answers in its own kind */
}

static bool json_family(kn_content_type ct)
{
    return ct == KN_CT_JSON || ct == KN_CT_JSONLINES;
}

static sf_rc check_combination(kn_transform_job *j, const kn_transform_opts *o, kn_err *err)
{
    if (j->split == KN_SPLIT_RECORDIO && j->ct != KN_CT_RECORDIO)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: SplitType RecordIO needs ContentType "
                       "application/x-recordio-protobuf, not %s",
                       kn_content_type_name(j->ct));
    if (j->ct == KN_CT_RECORDIO && j->split == KN_SPLIT_LINE)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: SplitType Line cannot split "
                       "application/x-recordio-protobuf; use RecordIO");
    if (j->single && j->split == KN_SPLIT_NONE && o->batch_strategy)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: BatchStrategy SingleRecord needs SplitType Line or "
                       "RecordIO (with SplitType None the whole file is one request)");
    if (j->accept == KN_CT_RECORDIO && j->assemble_line)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: AssembleWith Line would break "
                       "application/x-recordio-protobuf responses; use None");
    if (j->ct == KN_CT_CSV && !kn_jp_fits_csv(&j->in_filter))
        return kn_fail(err, SF_EINVAL,
                       "ClientError: DataProcessing.InputFilter \"%s\": a CSV record is an "
                       "array of its columns; use \"$\" or an index list such as \"$[1:]\"",
                       j->in_filter.text);
    if (j->ct == KN_CT_RECORDIO && !kn_jp_is_root(&j->in_filter))
        return kn_fail(err, SF_EINVAL,
                       "ClientError: DataProcessing.InputFilter applies to CSV and JSON "
                       "records, not application/x-recordio-protobuf; use \"$\"");
    if (j->join) {
        if (j->ct == KN_CT_RECORDIO || j->accept == KN_CT_RECORDIO)
            return kn_fail(err, SF_EINVAL,
                           "ClientError: DataProcessing.JoinSource Input joins CSV or JSON "
                           "records, not application/x-recordio-protobuf");
        if (j->ct == KN_CT_CSV ? j->accept != KN_CT_CSV : !json_family(j->accept))
            return kn_fail(err, SF_EINVAL,
                           "ClientError: DataProcessing.JoinSource Input needs Accept in the "
                           "input's format (%s input, %s output)",
                           kn_content_type_name(j->ct), kn_content_type_name(j->accept));
        if (j->ct == KN_CT_JSON && j->split == KN_SPLIT_NONE)
            return kn_fail(err, SF_EINVAL,
                           "ClientError: DataProcessing.JoinSource Input needs SplitType "
                           "Line for application/json, so that each record is one instance");
    }
    if (j->accept == KN_CT_CSV && !kn_jp_fits_csv(&j->out_filter))
        return kn_fail(err, SF_EINVAL,
                       "ClientError: DataProcessing.OutputFilter \"%s\": a CSV result is an "
                       "array of its columns; use \"$\" or an index list such as \"$[0,5:]\"",
                       j->out_filter.text);
    if (j->accept == KN_CT_RECORDIO && !kn_jp_is_root(&j->out_filter))
        return kn_fail(err, SF_EINVAL,
                       "ClientError: DataProcessing.OutputFilter cannot filter "
                       "application/x-recordio-protobuf; use \"$\"");
    return SF_OK;
}

sf_rc kn_transform_job_new(const kn_model *m, const kn_transform_opts *o, kn_transform_job **out,
                           kn_err *err)
{
    *out = NULL;
    if (!m || !m->algo || !m->algo->predict || !m->algo->response)
        return kn_fail(err, SF_EINVAL, "ClientError: the model cannot predict");
    kn_transform_job *j = calloc(1, sizeof *j);
    if (!j)
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
    j->model = m;
    j->opts = *o;
    m->algo->response(m, &j->resp);
    j->dim = m->feature_dim;
    sf_rc rc = SF_EINVAL;
    int split = pick(o->split_type, "None|Line|RecordIO");
    int batch = pick(o->batch_strategy, "MultiRecord|SingleRecord");
    int assemble = pick(o->assemble_with, "None|Line");
    int join = pick(o->join_source, "None|Input");
    if (split < 0) {
        rc = bad_choice("SplitType", o->split_type, "None, Line, RecordIO", err);
        if (strcmp(o->split_type, "TFRecord") == 0)
            rc = kn_fail(err, SF_EINVAL,
                         "ClientError: SplitType TFRecord is not supported by the built-in "
                         "algorithms; use None, Line or RecordIO");
    } else if (batch < 0) {
        rc = bad_choice("BatchStrategy", o->batch_strategy, "MultiRecord, SingleRecord", err);
    } else if (assemble < 0) {
        rc = bad_choice("TransformOutput.AssembleWith", o->assemble_with, "None, Line", err);
    } else if (join < 0) {
        rc = bad_choice("DataProcessing.JoinSource", o->join_source, "Input, None", err);
    } else if (o->max_payload_mb < 0 || o->max_payload_mb > PAYLOAD_MAX_MB) {
        rc = kn_fail(err, SF_EINVAL, "ClientError: MaxPayloadInMB %d is outside 1 to %d",
                     o->max_payload_mb, PAYLOAD_MAX_MB);
    } else if ((rc = parse_media("ContentType", o->content_type ? o->content_type : "text/csv",
                                 &j->ct, err)) != SF_OK) {
    } else if (o->accept &&
               (rc = parse_media("TransformOutput.Accept", o->accept, &j->accept, err)) != SF_OK) {
    } else if ((rc = kn_jp_parse(o->input_filter, "InputFilter", &j->in_filter, err)) != SF_OK ||
               (rc = kn_jp_parse(o->output_filter, "OutputFilter", &j->out_filter, err)) != SF_OK) {
    } else {
        if (!o->accept)
            j->accept = default_accept(j->ct);
        j->split = (kn_split)split;
        /* RecordIO is always cut into its records and JSON with SplitType
         * None is one document; every other split reads lines (with None
         * they all go into one request). */
        j->framing = j->ct == KN_CT_RECORDIO                            ? KN_SPLIT_RECORDIO
                     : j->ct == KN_CT_JSON && j->split == KN_SPLIT_NONE ? KN_SPLIT_NONE
                                                                        : KN_SPLIT_LINE;
        j->single = batch == 1;
        j->assemble_line = assemble == 1;
        j->join = join == 1;
        /* 0 means chunked encoding on SageMaker, which the built-in
         * algorithms do not support: the default stands in for it here. */
        j->payload = (size_t)(o->max_payload_mb ? o->max_payload_mb : 6) << 20;
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        j->threads = o->threads ? o->threads : (unsigned)(cores > 0 ? cores : 1);
        if (j->threads > 256)
            j->threads = 256;
        if (j->dim == 0)
            rc = kn_fail(err, SF_EINVAL, "ClientError: the model does not say its feature_dim");
        else if (j->resp.width == 0 || j->resp.nfields == 0)
            rc = kn_fail(err, SF_EINVAL, "AlgorithmError: the model has no response fields");
        else
            rc = check_combination(j, o, err);
    }
    if (rc != SF_OK) {
        free(j);
        return rc;
    }
    *out = j;
    return SF_OK;
}

void kn_transform_job_destroy(kn_transform_job **job)
{
    if (!job || !*job)
        return;
    free(*job);
    *job = NULL;
}
