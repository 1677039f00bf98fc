/* worker/kernels_ml.c - train and transform (see kernels_ml.h).
 *
 * Thin: they turn a task's JSON into kernels/ calls and kernels/ results
 * into the task's answer. The kernels library polls cancellation between
 * mini-batches through kn_progress, which maps to wk_cancelled here, so a
 * cancelled or timed-out task stops within a mini-batch. Never prints. */
#define _GNU_SOURCE
#include "worker/kernels_ml.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "kernels/formats/kn_format.h"
#include "kernels/kn_algo.h"
#include "kernels/kn_model.h"
#include "kernels/transform/kn_transform.h"

#define CHANNEL_FILES_MAX 10000
#define METRICS_MAX 32

/* ---- shared ------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* "file:///a/b" and "/a/b" name the same file; other schemes are not ours
 * yet (S3 URIs are mapped before a task reaches the worker). */
static const char *local_path(const char *uri)
{
    return strncmp(uri, "file://", 7) == 0 ? uri + 7 : uri;
}

static sf_rc fail(asl_err *err, sf_rc rc, const char *kernel, const char *cause)
{
    asl_err_set(err, "States.TaskFailed", "%s", cause);
    (void)kernel;
    return rc == SF_OK ? SF_EINVAL : rc;
}

static sf_rc client_error(asl_err *err, const char *fmt, const char *a, const char *b)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a, b);
    asl_err_set(err, "States.TaskFailed", "ClientError: %s", msg);
    return SF_EINVAL;
}

/* An optional string field; NULL when absent. Refuses other kinds. */
static sf_rc opt_string(json_t *obj, const char *key, const char **out, asl_err *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return SF_OK;
    if (!json_is_string(v))
        return client_error(err, "%s must be a string%s", key, "");
    *out = json_string_value(v);
    return SF_OK;
}

/* The last metrics a kernel reported, kept for FinalMetricDataList. */
typedef struct progress_ctx {
    wk_task_ctx *task;
    char names[METRICS_MAX][96];
    double values[METRICS_MAX];
    size_t n;
} progress_ctx;

static void on_report(void *arg, double fraction, uint64_t records, uint32_t epoch,
                      const kn_metric *metrics, size_t n)
{
    progress_ctx *p = arg;
    wk_metric wm[METRICS_MAX];
    if (n > METRICS_MAX)
        n = METRICS_MAX;
    for (size_t i = 0; i < n; i++) {
        wm[i] = (wk_metric){metrics[i].name, metrics[i].value};
        /* Keep the latest value of each metric by name: an epoch may
         * report a subset. */
        size_t k = 0;
        while (k < p->n && strcmp(p->names[k], metrics[i].name) != 0)
            k++;
        if (k == p->n && p->n < METRICS_MAX)
            snprintf(p->names[p->n++], sizeof p->names[0], "%s", metrics[i].name);
        if (k < p->n)
            p->values[k] = metrics[i].value;
    }
    wk_progress(p->task, fraction, records, epoch, wm, n);
}

static bool on_cancelled(void *arg)
{
    return wk_cancelled(((progress_ctx *)arg)->task);
}

/* ---- train: channels ----------------------------------------------------- */

/* A channel: one file or every file below a directory, read in name
 * order as one stream of rows (SageMaker's S3Prefix channel). */
typedef struct channel {
    char **files;
    size_t nfiles, at;
    kn_content_type ct;
    bool labelled;
    size_t dim;
    kn_reader *r;
    char name[32];
} channel;

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static sf_rc channel_list(channel *c, const char *dir, kn_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return kn_fail(err, SF_ENOTFOUND, "ClientError: channel %s: cannot read %s: %s", c->name,
                       dir, strerror(errno));
    struct dirent *e;
    sf_rc rc = SF_OK;
    while (rc == SF_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char full[4096];
        struct stat sb;
        if ((size_t)snprintf(full, sizeof full, "%s/%s", dir, e->d_name) >= sizeof full ||
            stat(full, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            rc = channel_list(c, full, err);
            continue;
        }
        if (!S_ISREG(sb.st_mode))
            continue;
        if (c->nfiles == CHANNEL_FILES_MAX) {
            rc = kn_fail(err, SF_ELIMIT, "ClientError: channel %s: more than %d files", c->name,
                         CHANNEL_FILES_MAX);
            break;
        }
        char **f = realloc(c->files, (c->nfiles + 1) * sizeof *f);
        if (!f || !(f[c->nfiles] = strdup(full))) {
            if (f)
                c->files = f;
            rc = kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
            break;
        }
        c->files = f;
        c->nfiles++;
    }
    closedir(d);
    return rc;
}

static sf_rc channel_open_at(channel *c, size_t i, kn_err *err)
{
    kn_reader_close(&c->r);
    c->at = i;
    if (i >= c->nfiles)
        return SF_OK;
    return kn_reader_open_file(c->files[i], c->ct, c->labelled, c->dim, &c->r, err);
}

static sf_rc channel_next(void *ctx, kn_matrix *X, float *labels, size_t max, kn_err *err)
{
    channel *c = ctx;
    for (;;) {
        X->rows = 0;
        if (!c->r)
            return SF_OK;
        sf_rc rc = kn_reader_next(c->r, X, labels, max, err);
        if (rc != SF_OK || X->rows > 0)
            return rc;
        if ((rc = channel_open_at(c, c->at + 1, err)) != SF_OK)
            return rc;
    }
}

static sf_rc channel_rewind(void *ctx, kn_err *err)
{
    channel *c = ctx;
    if (c->at == 0 && c->r)
        return kn_reader_rewind(c->r, err);
    return channel_open_at(c, 0, err);
}

static void channel_close(channel *c)
{
    kn_reader_close(&c->r);
    for (size_t i = 0; i < c->nfiles; i++)
        free(c->files[i]);
    free(c->files);
    c->files = NULL;
}

/* Opens Channels[name] ({"Path", "ContentType"}); dim 0 learns the
 * feature count from the first file. */
static sf_rc channel_open(json_t *channels, const char *name, const kn_algo *a, size_t dim,
                          channel *c, bool *present, kn_err *err)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    json_t *ch = json_object_get(channels, name);
    *present = ch != NULL;
    if (!ch)
        return SF_OK;
    json_t *p = json_object_get(ch, "Path"), *t = json_object_get(ch, "ContentType");
    if (!json_is_string(p))
        return kn_fail(err, SF_EINVAL, "ClientError: Channels.%s.Path must be a string", name);
    const char *ct_text = json_is_string(t) ? json_string_value(t) : "text/csv";
    int label_size = 1;
    sf_rc rc = kn_content_type_parse(ct_text, &c->ct, &label_size, err);
    if (rc != SF_OK)
        return rc;
    c->labelled = a->supervised && label_size != 0;
    c->dim = dim;
    const char *path = local_path(json_string_value(p));
    struct stat sb;
    if (stat(path, &sb) != 0)
        return kn_fail(err, SF_ENOTFOUND, "ClientError: Channels.%s.Path %s: %s", name, path,
                       strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        if ((rc = channel_list(c, path, err)) != SF_OK)
            return rc;
        qsort(c->files, c->nfiles, sizeof *c->files, by_name);
    } else {
        c->files = malloc(sizeof *c->files);
        if (!c->files || !(c->files[0] = strdup(path)))
            return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
        c->nfiles = 1;
    }
    if (c->nfiles == 0)
        return kn_fail(err, SF_ENOTFOUND, "ClientError: Channels.%s.Path %s holds no files", name,
                       path);
    if ((rc = channel_open_at(c, 0, err)) != SF_OK)
        return rc;
    if (c->dim == 0 && (rc = kn_reader_feature_dim(c->r, &c->dim, err)) != SF_OK)
        return rc;
    return SF_OK;
}

static kn_source channel_source(channel *c)
{
    return (kn_source){
        .ctx = c, .next = channel_next, .rewind = channel_rewind, .feature_dim = c->dim};
}

/* ---- train ---------------------------------------------------------------- */

static json_t *train_answer(const char *out_dir, const progress_ctx *p, double seconds)
{
    char uri[4200];
    snprintf(uri, sizeof uri, "file://%s%smodel.tar.gz", out_dir,
             out_dir[strlen(out_dir) - 1] == '/' ? "" : "/");
    json_t *metrics = json_array();
    for (size_t i = 0; metrics && i < p->n; i++)
        if (isfinite(p->values[i]))
            json_array_append_new(
                metrics, json_pack("{s:s,s:f}", "MetricName", p->names[i], "Value", p->values[i]));
    return json_pack("{s:{s:s},s:o,s:I}", "ModelArtifacts", "S3ModelArtifacts", uri,
                     "FinalMetricDataList", metrics, "TrainingTimeInSeconds",
                     (json_int_t)ceil(seconds));
}

static sf_rc train_run(wk_task_ctx *ctx, json_t *input, json_t **output, asl_err *err)
{
    double t0 = now_s();
    const char *algo_name, *out_dir;
    if (!json_is_object(input))
        return client_error(err, "the input must be an object with %s%s",
                            "Algorithm, HyperParameters, Channels and OutputDir", "");
    if (opt_string(input, "Algorithm", &algo_name, err) ||
        opt_string(input, "OutputDir", &out_dir, err))
        return SF_EINVAL;
    if (!algo_name)
        return client_error(err, "Algorithm is required (an algorithm name such as %s%s)",
                            "linear-learner, or a TrainingImage", "");
    if (!out_dir || !out_dir[0])
        return client_error(err, "OutputDir is required%s%s", "", "");
    out_dir = local_path(out_dir);
    const kn_algo *a = kn_algo_find(algo_name);
    if (!a)
        return client_error(err, "no built-in algorithm %s runs here%s", algo_name, "");
    json_t *channels = json_object_get(input, "Channels");
    if (!json_is_object(channels) || !json_object_get(channels, "train"))
        return client_error(err, "Channels must hold a train channel: %s%s",
                            "{\"train\": {\"Path\": ..., \"ContentType\": \"text/csv\"}}", "");

    kn_err kerr = {{0}};
    kn_hp hp;
    channel tr = {0}, va = {0};
    bool has_tr, has_va;
    kn_model *m = NULL;
    sf_rc rc =
        kn_hp_parse(a->hyper, a->nhyper, json_object_get(input, "HyperParameters"), &hp, &kerr);
    if (rc == SF_OK)
        rc = channel_open(channels, "train", a, 0, &tr, &has_tr, &kerr);
    if (rc == SF_OK)
        rc = channel_open(channels, "validation", a, tr.dim, &va, &has_va, &kerr);
    progress_ctx pc = {.task = ctx};
    if (rc == SF_OK) {
        kn_source ts = channel_source(&tr), vs = channel_source(&va);
        kn_progress prog = {.ctx = &pc, .report = on_report, .cancelled = on_cancelled};
        rc = a->train(&hp, &ts, has_va ? &vs : NULL, &prog, &m, &kerr);
    }
    channel_close(&tr);
    channel_close(&va);
    if (wk_cancelled(ctx)) {
        kn_model_free(&m);
        return wk_fail_cancelled(ctx, err);
    }
    if (rc == SF_OK && !m)
        rc = kn_fail(&kerr, SF_ESTATE, "AlgorithmError: %s trained no model", a->name);
    if (rc == SF_OK)
        rc = kn_model_save(m, out_dir, &kerr);
    kn_model_free(&m);
    if (rc != SF_OK)
        return fail(err, rc, "train", kerr.msg[0] ? kerr.msg : sf_rc_str(rc));
    *output = train_answer(out_dir, &pc, now_s() - t0);
    if (!*output) {
        asl_err_set(err, "States.Runtime", "train: out of memory");
        return SF_ENOMEM;
    }
    return SF_OK;
}

const wk_kernel wk_kernel_train = {.name = "train", .run = train_run, .inline_ok = false};

/* ---- transform ------------------------------------------------------------ */

static sf_rc transform_opts(json_t *in, kn_transform_opts *o, asl_err *err)
{
    json_t *dp = json_object_get(in, "DataProcessing");
    if (dp && !json_is_object(dp) && !json_is_null(dp))
        return client_error(err, "DataProcessing must be an object%s%s", "", "");
    if (opt_string(in, "ContentType", &o->content_type, err) ||
        opt_string(in, "SplitType", &o->split_type, err) ||
        opt_string(in, "BatchStrategy", &o->batch_strategy, err) ||
        opt_string(in, "Accept", &o->accept, err) ||
        opt_string(in, "AssembleWith", &o->assemble_with, err) ||
        opt_string(dp, "InputFilter", &o->input_filter, err) ||
        opt_string(dp, "OutputFilter", &o->output_filter, err) ||
        opt_string(dp, "JoinSource", &o->join_source, err))
        return SF_EINVAL;
    json_t *mp = json_object_get(in, "MaxPayloadInMB");
    if (mp && !json_is_null(mp)) {
        double v = json_number_value(mp);
        if (!json_is_number(mp) || v != floor(v) || v < 0 || v > 100)
            return client_error(err, "MaxPayloadInMB must be a whole number from 0 to 100%s%s", "",
                                "");
        o->max_payload_mb = (int)v;
    }
    return SF_OK;
}

static sf_rc transform_run(wk_task_ctx *ctx, json_t *input, json_t **output, asl_err *err)
{
    if (!json_is_object(input))
        return client_error(err, "the input must be an object with %s%s",
                            "ModelPath, Input and Output", "");
    const char *model_path, *in_path, *out_path;
    if (opt_string(input, "ModelPath", &model_path, err) ||
        opt_string(input, "Input", &in_path, err) || opt_string(input, "Output", &out_path, err))
        return SF_EINVAL;
    if (!model_path || !in_path || !out_path)
        return client_error(err, "ModelPath, Input and Output are required%s%s", "", "");
    kn_transform_opts o = {0};
    if (transform_opts(input, &o, err) != SF_OK)
        return SF_EINVAL;
    progress_ctx pc = {.task = ctx};
    kn_progress prog = {.ctx = &pc, .report = on_report, .cancelled = on_cancelled};
    o.progress = &prog;
    o.threads = wk_task_cores(ctx);

    kn_err kerr = {{0}};
    kn_model *m = NULL;
    kn_transform_job *job = NULL;
    kn_transform_stats st = {0};
    sf_rc rc = kn_model_load(local_path(model_path), &m, &kerr);
    if (rc == SF_OK)
        rc = kn_transform_job_new(m, &o, &job, &kerr);
    if (rc == SF_OK)
        rc = kn_transform_run(job, local_path(in_path), local_path(out_path), &st, &kerr);
    kn_transform_job_destroy(&job);
    kn_model_free(&m);
    if (wk_cancelled(ctx))
        return wk_fail_cancelled(ctx, err);
    if (rc != SF_OK)
        return fail(err, rc, "transform", kerr.msg[0] ? kerr.msg : sf_rc_str(rc));
    *output = json_pack("{s:I,s:I,s:I,s:I,s:I,s:f}", "Records", (json_int_t)st.records, "Files",
                        (json_int_t)st.files, "Batches", (json_int_t)st.batches, "BytesIn",
                        (json_int_t)st.bytes_in, "BytesOut", (json_int_t)st.bytes_out, "Seconds",
                        st.seconds);
    if (!*output) {
        asl_err_set(err, "States.Runtime", "transform: out of memory");
        return SF_ENOMEM;
    }
    return SF_OK;
}

const wk_kernel wk_kernel_transform = {
    .name = "transform", .run = transform_run, .inline_ok = false};

sf_rc wk_register_ml_kernels(wk_registry *r)
{
    sf_rc rc = wk_registry_add(r, &wk_kernel_train);
    if (rc == SF_OK)
        rc = wk_registry_add(r, &wk_kernel_transform);
    return rc;
}
