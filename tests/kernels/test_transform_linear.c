/* tests/kernels/test_transform_linear.c - batch transform with a real
 * linear-learner model: trained here on separable synthetic data, saved
 * and loaded as model.tar.gz, then transformed; the output must be
 * SageMaker's shape and agree with the labels. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/formats/kn_format.h"
#include "kernels/kn_algo.h"
#include "kernels/kn_model.h"
#include "kernels/transform/kn_transform.h"

static char dir[256];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_transform_linear.%d", getpid());
    mkdir(dir, 0755);
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(transform_linear, .init = setup, .fini = teardown);

/* label = x0 + x1 - x2 > 0; the training file has the label first, the
 * transform file does not. */
static void make_data(const char *train, const char *infer, size_t rows)
{
    FILE *t = fopen(train, "w"), *i = fopen(infer, "w");
    cr_assert(t && i);
    srand(7);
    for (size_t r = 0; r < rows; r++) {
        float x[4];
        for (int c = 0; c < 4; c++)
            x[c] = (float)(rand() % 2000 - 1000) / 500.0f;
        int label = x[0] + x[1] - x[2] > 0;
        fprintf(t, "%d,%g,%g,%g,%g\n", label, x[0], x[1], x[2], x[3]);
        fprintf(i, "%g,%g,%g,%g\n", x[0], x[1], x[2], x[3]);
    }
    fclose(t);
    fclose(i);
}

Test(transform_linear, a_trained_binary_classifier_transforms_csv_to_sagemaker_shapes)
{
    char train[300], infer[300], out[300], model_path[320];
    snprintf(train, sizeof train, "%s/train.csv", dir);
    snprintf(infer, sizeof infer, "%s/infer.csv", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    make_data(train, infer, 4000);

    const kn_algo *a = kn_algo_find("linear-learner");
    cr_assert(a, "linear-learner is registered");
    json_t *given = json_pack("{s:s,s:s,s:s}", "predictor_type", "binary_classifier", "epochs", "5",
                              "feature_dim", "4");
    kn_hp hp;
    kn_err err = {{0}};
    cr_assert_eq(kn_hp_parse(a->hyper, a->nhyper, given, &hp, &err), SF_OK, "%s", err.msg);
    json_decref(given);
    kn_reader *r = NULL;
    cr_assert_eq(kn_reader_open_file(train, KN_CT_CSV, true, 4, &r, &err), SF_OK, "%s", err.msg);
    kn_source src = kn_reader_source(r);
    kn_model *m = NULL;
    cr_assert_eq(a->train(&hp, &src, NULL, NULL, &m, &err), SF_OK, "%s", err.msg);
    kn_reader_close(&r);
    cr_assert_eq(kn_model_save(m, dir, &err), SF_OK, "%s", err.msg);
    kn_model_free(&m);
    snprintf(model_path, sizeof model_path, "%s/model.tar.gz", dir);
    cr_assert_eq(kn_model_load(model_path, &m, &err), SF_OK, "%s", err.msg);

    /* CSV in, JSON Lines out, joined to the input. */
    kn_transform_opts o = {.split_type = "Line",
                           .accept = "text/csv",
                           .assemble_with = "Line",
                           .max_payload_mb = 1,
                           .threads = 2};
    kn_transform_job *job = NULL;
    cr_assert_eq(kn_transform_job_new(m, &o, &job, &err), SF_OK, "%s", err.msg);
    kn_transform_stats st = {0};
    cr_assert_eq(kn_transform_run(job, infer, out, &st, &err), SF_OK, "%s", err.msg);
    cr_expect_eq(st.records, 4000);
    kn_transform_job_destroy(&job);

    char res[340];
    snprintf(res, sizeof res, "%s/infer.csv.out", out);
    FILE *f = fopen(res, "r"), *in = fopen(infer, "r");
    cr_assert(f && in);
    char line[256], xline[256];
    size_t n = 0, right = 0;
    while (fgets(line, sizeof line, f) && fgets(xline, sizeof xline, in)) {
        float score, x[4];
        int label;
        cr_assert_eq(sscanf(line, "%f,%d", &score, &label), 2, "line %zu: %s", n + 1, line);
        cr_expect(score >= 0 && score <= 1, "a logistic score: %s", line);
        cr_expect(label == 0 || label == 1);
        sscanf(xline, "%f,%f,%f,%f", &x[0], &x[1], &x[2], &x[3]);
        right += label == (x[0] + x[1] - x[2] > 0);
        n++;
    }
    fclose(f);
    fclose(in);
    cr_expect_eq(n, 4000);
    cr_expect_gt(right, 3600, "accuracy %zu/4000", right);

    /* JSON Lines: {"score": s, "predicted_label": l.0}. */
    o.accept = "application/jsonlines";
    cr_assert_eq(kn_transform_job_new(m, &o, &job, &err), SF_OK, "%s", err.msg);
    cr_assert_eq(kn_transform_run(job, infer, out, NULL, &err), SF_OK, "%s", err.msg);
    kn_transform_job_destroy(&job);
    f = fopen(res, "r");
    cr_assert(fgets(line, sizeof line, f));
    fclose(f);
    json_t *v = json_loads(line, 0, NULL);
    cr_assert(v, "%s", line);
    cr_expect(json_is_number(json_object_get(v, "score")), "%s", line);
    cr_expect(json_is_number(json_object_get(v, "predicted_label")), "%s", line);
    json_decref(v);
    kn_model_free(&m);
}
