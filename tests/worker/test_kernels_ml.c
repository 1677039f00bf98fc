/* tests/worker/test_kernels_ml.c - the train and transform kernels, run by
 * the real statefleet-worker against a test ROUTER: training streams
 * metrics and writes model.tar.gz, transform predicts with it, and bad
 * requests fail with ClientError causes naming the field. */
#include "agent_router.h"

#include <jansson.h>
#include <sys/stat.h>

static char dir[256];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_kernels_ml.%d", getpid());
    mkdir(dir, 0755);
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(kernels_ml, .init = setup, .fini = teardown);

static void make_csv(const char *path, size_t rows, bool labelled)
{
    FILE *f = fopen(path, "w");
    cr_assert(f);
    srand(11);
    for (size_t r = 0; r < rows; r++) {
        float x0 = (float)(rand() % 2000 - 1000) / 500.0f,
              x1 = (float)(rand() % 2000 - 1000) / 500.0f;
        if (labelled)
            fprintf(f, "%d,", x0 - x1 > 0);
        fprintf(f, "%g,%g\n", x0, x1);
    }
    fclose(f);
}

static void start(rt *r)
{
    rt_start(r);
    rt_spawn(r, "--id", "ml-w", "--quiet", "--progress-hz", "50");
    rt_handshake(r, 1000, NULL);
}

/* Sends a task and returns its result's output (parsed), collecting
 * progress metric names into seen_metric. */
static json_t *run_task(rt *r, uint64_t id, const char *kernel, json_t *input, bool *seen_metric)
{
    char *text = json_dumps(input, JSON_COMPACT);
    rt_task(r, id, kernel, text, 0);
    free(text);
    fleet_msg m;
    for (;;) {
        cr_assert(rt_recv(r, &m, 60000), "%s went silent", kernel);
        if (m.type == FLEET_PROGRESS && seen_metric)
            for (size_t i = 0; i < m.u.progress.n_metrics; i++)
                *seen_metric |= strncmp(m.u.progress.metrics[i].name, "train:", 6) == 0;
        if (m.type == FLEET_FAILURE)
            cr_assert_fail("%s failed: %s: %s", kernel, m.u.failure.error, m.u.failure.cause);
        if (m.type == FLEET_RESULT)
            break;
        fleet_msg_clear(&m);
    }
    json_t *out = json_loads(m.u.result.output, 0, NULL);
    fleet_msg_clear(&m);
    cr_assert(out);
    return out;
}

static void expect_failure(rt *r, uint64_t id, const char *kernel, json_t *input,
                           const char *needle)
{
    char *text = json_dumps(input, JSON_COMPACT);
    rt_task(r, id, kernel, text, 0);
    free(text);
    fleet_msg m;
    rt_expect(r, FLEET_FAILURE, 30000, &m);
    cr_expect_str_eq(m.u.failure.error, "States.TaskFailed");
    cr_expect(strncmp(m.u.failure.cause, "ClientError: ", 13) == 0, "cause: %s", m.u.failure.cause);
    cr_expect(strstr(m.u.failure.cause, needle), "cause should name %s: %s", needle,
              m.u.failure.cause);
    fleet_msg_clear(&m);
}

Test(kernels_ml, train_then_transform_on_the_worker)
{
    char train[300], infer[300], model_dir[300], out_dir[300], model[340];
    snprintf(train, sizeof train, "%s/train.csv", dir);
    snprintf(infer, sizeof infer, "%s/in/infer.csv", dir);
    snprintf(model_dir, sizeof model_dir, "%s/model", dir);
    snprintf(out_dir, sizeof out_dir, "%s/out", dir);
    snprintf(model, sizeof model, "file://%s/model.tar.gz", model_dir);
    char in_dir[300];
    snprintf(in_dir, sizeof in_dir, "%s/in", dir);
    mkdir(in_dir, 0755);
    make_csv(train, 3000, true);
    make_csv(infer, 500, false);

    rt r;
    start(&r);
    json_t *in = json_pack("{s:s,s:{s:s,s:s},s:{s:{s:s,s:s}},s:s}", "Algorithm",
                           "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1",
                           "HyperParameters", "predictor_type", "binary_classifier", "epochs", "3",
                           "Channels", "train", "Path", train, "ContentType", "text/csv",
                           "OutputDir", model_dir);
    bool metric = false;
    json_t *out = run_task(&r, 1, "train", in, &metric);
    json_decref(in);
    cr_expect(metric, "train:... metrics were streamed");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(out, "ModelArtifacts"),
                                                       "S3ModelArtifacts")),
                     model);
    cr_expect_gt(json_array_size(json_object_get(out, "FinalMetricDataList")), 0);
    cr_expect(json_is_integer(json_object_get(out, "TrainingTimeInSeconds")));
    json_decref(out);

    in = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ModelPath", model, "Input", in_dir, "Output",
                   out_dir, "ContentType", "text/csv", "SplitType", "Line", "Accept",
                   "application/jsonlines", "AssembleWith", "Line");
    out = run_task(&r, 2, "transform", in, NULL);
    json_decref(in);
    cr_expect_eq(json_integer_value(json_object_get(out, "Records")), 500);
    cr_expect_eq(json_integer_value(json_object_get(out, "Files")), 1);
    json_decref(out);
    char res[340];
    snprintf(res, sizeof res, "%s/infer.csv.out", out_dir);
    FILE *f = fopen(res, "r");
    cr_assert(f, "no %s", res);
    char line[256];
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *v = json_loads(line, 0, NULL);
        cr_expect(v && json_object_get(v, "score") && json_object_get(v, "predicted_label"), "%s",
                  line);
        json_decref(v);
        n++;
    }
    fclose(f);
    cr_expect_eq(n, 500);
    cr_expect_eq(rt_stop(&r), 0);
}

Test(kernels_ml, bad_requests_fail_with_client_errors_naming_the_field)
{
    char train[300];
    snprintf(train, sizeof train, "%s/train.csv", dir);
    make_csv(train, 100, true);
    rt r;
    start(&r);
    json_t *in = json_pack("{s:s,s:{s:s},s:{s:{s:s}},s:s}", "Algorithm", "linear-learner",
                           "HyperParameters", "predictor_type", "psychic", "Channels", "train",
                           "Path", train, "OutputDir", dir);
    expect_failure(&r, 1, "train", in, "predictor_type");
    json_decref(in);
    in = json_pack("{s:s,s:{},s:{s:{s:s}},s:s}", "Algorithm", "no-such-algo", "HyperParameters",
                   "Channels", "train", "Path", train, "OutputDir", dir);
    expect_failure(&r, 2, "train", in, "no-such-algo");
    json_decref(in);
    in = json_pack("{s:s,s:s,s:s,s:s}", "ModelPath", "/nonexistent/model.tar.gz", "Input", train,
                   "Output", dir, "SplitType", "Lines");
    expect_failure(&r, 3, "transform", in, "model");
    json_decref(in);
    cr_expect_eq(rt_stop(&r), 0);
}
