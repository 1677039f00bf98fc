/* tests/kernels/test_transform.c - batch transform: SageMaker's output
 * shapes, payload limits, filters and joins, files, errors, threads and
 * memory.
 *
 * The model is a tiny algorithm defined here ("sum": score = the sum of
 * the features, predicted_label = score > 0), so that every expected
 * output can be written by hand; test_transform_linear.c runs the real
 * linear-learner. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/transform/kn_transform.h"

/* ---- the "sum" algorithm -------------------------------------------------- */

static void sum_response(const kn_model *m, kn_response *out)
{
    *out = (kn_response){.top = "predictions",
                         .fields = {{.name = "score", .width = 1},
                                    {.name = "predicted_label", .width = 1, .integral = true}},
                         .nfields = 2,
                         .width = 2};
}

static sf_rc sum_predict(const kn_model *m, const kn_matrix *X, float *out, kn_err *err)
{
    for (size_t r = 0; r < X->rows; r++) {
        float s = 0;
        for (size_t c = 0; c < X->cols; c++)
            s += kn_row(X, r)[c];
        out[2 * r] = s;
        out[2 * r + 1] = s > 0 ? 1.0f : 0.0f;
    }
    return SF_OK;
}

static const kn_algo sum_algo = {.name = "sum", .response = sum_response, .predict = sum_predict};

static kn_model sum_model(size_t dim)
{
    return (kn_model){.algo = &sum_algo, .feature_dim = dim};
}

/* ---- helpers ---------------------------------------------------------------- */

static char dir[256];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_transform.%d", getpid());
    mkdir(dir, 0755);
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(transform, .init = setup, .fini = teardown);

static char *path(const char *name)
{
    static char buf[4][512];
    static int i;
    char *p = buf[i++ % 4];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static void put(const char *name, const char *text, size_t len)
{
    char *p = path(name);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", p);
    cr_assert_eq(system(cmd), 0);
    *slash = '/';
    FILE *f = fopen(p, "wb");
    cr_assert(f);
    fwrite(text, 1, len, f);
    fclose(f);
}

static void puts_file(const char *name, const char *text)
{
    put(name, text, strlen(text));
}

static char *slurp(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    if (len)
        *len = got;
    return buf;
}

/* Runs opts over input (a name under dir) into dir/out; returns the rc and
 * leaves the message in err. */
static sf_rc run(size_t dim, kn_transform_opts o, const char *input, kn_transform_stats *st,
                 kn_err *err)
{
    kn_model m = sum_model(dim);
    kn_transform_job *job = NULL;
    if (!o.threads)
        o.threads = 2;
    sf_rc rc = kn_transform_job_new(&m, &o, &job, err);
    if (rc != SF_OK)
        return rc;
    rc = kn_transform_run(job, path(input), path("out"), st, err);
    kn_transform_job_destroy(&job);
    return rc;
}

static void expect_output(size_t dim, kn_transform_opts o, const char *in_name, const char *in,
                          const char *want)
{
    puts_file(in_name, in);
    kn_err err = {{0}};
    sf_rc rc = run(dim, o, in_name, NULL, &err);
    cr_assert_eq(rc, SF_OK, "transform failed: %s", err.msg);
    char out_name[256];
    snprintf(out_name, sizeof out_name, "out/%s.out", in_name);
    char *got = slurp(path(out_name), NULL);
    cr_assert(got, "no %s", out_name);
    cr_expect_str_eq(got, want);
    free(got);
}

static void expect_refused(kn_transform_opts o, const char *field)
{
    kn_model m = sum_model(2);
    kn_transform_job *job = NULL;
    kn_err err = {{0}};
    cr_assert_neq(kn_transform_job_new(&m, &o, &job, &err), SF_OK, "accepted, wanted %s refused",
                  field);
    cr_expect(strstr(err.msg, "ClientError: "), "%s", err.msg);
    cr_expect(strstr(err.msg, field), "the error should name %s: %s", field, err.msg);
    cr_expect_null(job);
}

/* ---- output shapes ---------------------------------------------------------- */

Test(transform, csv_line_multirecord_assembled_with_line)
{
    expect_output(2,
                  (kn_transform_opts){.split_type = "Line",
                                      .batch_strategy = "MultiRecord",
                                      .assemble_with = "Line"},
                  "a.csv", "1,2\n-3,1\n0.5, 0.25\n", "3.0,1\n-2.0,0\n0.75,1\n");
}

Test(transform, single_record_assembled_with_none_concatenates_responses)
{
    /* SageMaker's documented trap: without AssembleWith Line nothing
     * separates one response from the next. */
    expect_output(2,
                  (kn_transform_opts){.split_type = "Line",
                                      .batch_strategy = "SingleRecord",
                                      .assemble_with = "None"},
                  "a.csv", "1,2\n-3,1\n", "3.0,1-2.0,0");
}

Test(transform, multirecord_response_separates_records_with_newlines)
{
    expect_output(2, (kn_transform_opts){.split_type = "Line"}, "a.csv", "1,2\n-3,1\n",
                  "3.0,1\n-2.0,0");
}

Test(transform, split_none_sends_the_whole_file_as_one_request)
{
    expect_output(2,
                  (kn_transform_opts){
                      .split_type = "None", .accept = "application/json", .assemble_with = "Line"},
                  "a.csv", "1,2\r\n-3,1\r\n\r\n",
                  "{\"predictions\": [{\"score\": 3.0, \"predicted_label\": 1.0}, "
                  "{\"score\": -2.0, \"predicted_label\": 0.0}]}\n");
}

Test(transform, json_accept_writes_one_document_per_mini_batch)
{
    expect_output(2,
                  (kn_transform_opts){.split_type = "Line",
                                      .batch_strategy = "SingleRecord",
                                      .accept = "application/json",
                                      .assemble_with = "Line"},
                  "a.csv", "1,2\n-3,1\n",
                  "{\"predictions\": [{\"score\": 3.0, \"predicted_label\": 1.0}]}\n"
                  "{\"predictions\": [{\"score\": -2.0, \"predicted_label\": 0.0}]}\n");
}

Test(transform, jsonlines_in_and_out)
{
    expect_output(2,
                  (kn_transform_opts){.content_type = "application/jsonlines",
                                      .split_type = "Line",
                                      .assemble_with = "Line"},
                  "a.jsonl",
                  "{\"features\": [1, 2]}\n[0.5, 0.5]\n"
                  "{\"data\": {\"features\": {\"values\": [4], \"keys\": [1], \"shape\": [2]}}}\n",
                  "{\"score\": 3.0, \"predicted_label\": 1.0}\n"
                  "{\"score\": 1.0, \"predicted_label\": 1.0}\n"
                  "{\"score\": 4.0, \"predicted_label\": 1.0}\n");
}

Test(transform, json_document_of_instances)
{
    expect_output(
        2,
        (kn_transform_opts){.content_type = "application/json", .accept = "application/jsonlines"},
        "a.json", "{\"instances\": [{\"features\": [1, 2]}, [0.1, 0.2]]}",
        "{\"score\": 3.0, \"predicted_label\": 1.0}\n"
        "{\"score\": 0.3, \"predicted_label\": 1.0}");
}

Test(transform, recordio_in_and_out)
{
    /* facts §5.3: features [1.5, 16, 14, 23], label [1]. */
    static const unsigned char frame[] = {
        0x0a, 0x23, 0xd7, 0xce, 0x34, 0x00, 0x00, 0x00, 0x0a, 0x1e, 0x0a, 0x06, 0x76, 0x61, 0x6c,
        0x75, 0x65, 0x73, 0x12, 0x14, 0x12, 0x12, 0x0a, 0x10, 0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00,
        0x80, 0x41, 0x00, 0x00, 0x60, 0x41, 0x00, 0x00, 0xb8, 0x41, 0x12, 0x12, 0x0a, 0x06, 0x76,
        0x61, 0x6c, 0x75, 0x65, 0x73, 0x12, 0x08, 0x12, 0x06, 0x0a, 0x04, 0x00, 0x00, 0x80, 0x3f};
    char two[sizeof frame * 2];
    memcpy(two, frame, sizeof frame);
    memcpy(two + sizeof frame, frame, sizeof frame);
    put("a.rec", two, sizeof two);
    kn_err err = {{0}};
    kn_transform_opts o = {.content_type = "application/x-recordio-protobuf",
                           .split_type = "RecordIO",
                           .accept = "text/csv",
                           .assemble_with = "Line"};
    cr_assert_eq(run(4, o, "a.rec", NULL, &err), SF_OK, "%s", err.msg);
    char *got = slurp(path("out/a.rec.out"), NULL);
    cr_expect_str_eq(got, "54.5,1\n54.5,1\n");
    free(got);

    /* And answering in RecordIO: one Record per record, the fields in its
     * label map as Float32Tensors. */
    o.accept = "application/x-recordio-protobuf";
    o.assemble_with = NULL;
    cr_assert_eq(run(4, o, "a.rec", NULL, &err), SF_OK, "%s", err.msg);
    size_t len;
    unsigned char *rec = (unsigned char *)slurp(path("out/a.rec.out"), &len);
    cr_assert_gt(len, 8);
    cr_expect_eq(memcmp(rec, "\x0a\x23\xd7\xce", 4), 0);
    uint32_t n;
    memcpy(&n, rec + 4, 4);
    cr_expect_eq(len, 2 * (8 + ((n + 3) & ~3u)));
    float score = 54.5f;
    cr_expect(memmem(rec, len, &score, 4), "the score is in the Record");
    cr_expect(memmem(rec, len, "predicted_label", 15));
    free(rec);
}

/* ---- MaxPayloadInMB --------------------------------------------------------- */

static size_t max_batch_bytes;
static void note_batch(void *ctx, uint64_t records, size_t bytes, double s)
{
    __atomic_fetch_add((uint64_t *)ctx, 1, __ATOMIC_RELAXED);
    size_t cur = __atomic_load_n(&max_batch_bytes, __ATOMIC_RELAXED);
    while (bytes > cur && !__atomic_compare_exchange_n(&max_batch_bytes, &cur, bytes, false,
                                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

/* A CSV of rows lines of dim small numbers. */
static void make_csv(const char *name, size_t rows, size_t dim, unsigned seed)
{
    FILE *f = fopen(path(name), "w");
    cr_assert(f);
    srand(seed);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < dim; c++)
            fprintf(f, "%.4f%c", (rand() % 20000 - 10000) / 1000.0, c + 1 == dim ? '\n' : ',');
    fclose(f);
}

Test(transform, multirecord_packs_batches_up_to_max_payload)
{
    make_csv("big.csv", 60000, 8, 1); /* ~3.6 MB */
    uint64_t batches = 0;
    max_batch_bytes = 0;
    kn_transform_opts o = {.split_type = "Line",
                           .max_payload_mb = 1,
                           .on_batch = note_batch,
                           .on_batch_ctx = &batches};
    kn_transform_stats st = {0};
    kn_err err = {{0}};
    cr_assert_eq(run(8, o, "big.csv", &st, &err), SF_OK, "%s", err.msg);
    cr_expect_eq(st.records, 60000);
    cr_expect(st.batches >= 4 && st.batches <= 6, "%llu batches", (unsigned long long)st.batches);
    cr_expect_eq(batches, st.batches);
    cr_expect_leq(max_batch_bytes, 1u << 20);
    cr_expect_gt(max_batch_bytes, (1u << 20) - 200, "batches are filled: %zu", max_batch_bytes);
}

Test(transform, a_record_larger_than_max_payload_fails_naming_it)
{
    size_t n = (1u << 20) + 100;
    char *big = malloc(n + 16);
    strcpy(big, "1,2\n");
    for (size_t i = 4; i < n; i += 2)
        memcpy(big + i, "1,", 2);
    memcpy(big + n, "1\n", 2);
    put("huge.csv", big, n + 2);
    free(big);
    kn_err err = {{0}};
    kn_transform_opts o = {.split_type = "Line", .max_payload_mb = 1};
    cr_assert_eq(run(2, o, "huge.csv", NULL, &err), SF_ELIMIT);
    cr_expect(strstr(err.msg, "huge.csv line 2"), "%s", err.msg);
    cr_expect(strstr(err.msg, "MaxPayloadInMB"), "%s", err.msg);
    cr_expect_null(slurp(path("out/huge.csv.out"), NULL), "no partial output");
}

Test(transform, split_none_file_larger_than_max_payload_fails)
{
    make_csv("big.csv", 40000, 8, 2);
    kn_err err = {{0}};
    kn_transform_opts o = {.split_type = "None", .max_payload_mb = 1};
    cr_assert_eq(run(8, o, "big.csv", NULL, &err), SF_ELIMIT);
    cr_expect(strstr(err.msg, "big.csv"), "%s", err.msg);
    cr_expect(strstr(err.msg, "SplitType None"), "%s", err.msg);
}

/* ---- DataProcessing ---------------------------------------------------------- */

Test(transform, csv_input_filter_drops_an_id_column)
{
    expect_output(
        2,
        (kn_transform_opts){.split_type = "Line", .assemble_with = "Line", .input_filter = "$[1:]"},
        "a.csv", "id7,1,2\n\"x,y\",-3,1\n", "3.0,1\n-2.0,0\n");
}

Test(transform, csv_join_appends_output_columns_to_input)
{
    expect_output(2,
                  (kn_transform_opts){.split_type = "Line",
                                      .assemble_with = "Line",
                                      .input_filter = "$[1:]",
                                      .join_source = "Input"},
                  "a.csv", "id7,1,2\n\"x,y\",-3,1\n", "id7,1,2,3.0,1\n\"x,y\",-3,1,-2.0,0\n");
}

Test(transform, csv_output_filter_picks_columns_of_the_joined_row)
{
    expect_output(2,
                  (kn_transform_opts){.split_type = "Line",
                                      .assemble_with = "Line",
                                      .input_filter = "$[1:]",
                                      .join_source = "Input",
                                      .output_filter = "$[0,-2:]"},
                  "a.csv", "id7,1,2\nid8,-3,1\n", "id7,3.0,1\nid8,-2.0,0\n");
}

Test(transform, jsonlines_filter_join_and_output_filter)
{
    expect_output(2,
                  (kn_transform_opts){.content_type = "application/jsonlines",
                                      .split_type = "Line",
                                      .assemble_with = "Line",
                                      .input_filter = "$.features",
                                      .join_source = "Input"},
                  "a.jsonl", "{\"id\": 1, \"features\": [1, 2.5]}\n",
                  "{\"id\": 1, \"features\": [1, 2.5], \"SageMakerOutput\": "
                  "{\"score\": 3.5, \"predicted_label\": 1.0}}\n");
    expect_output(2,
                  (kn_transform_opts){.content_type = "application/jsonlines",
                                      .split_type = "Line",
                                      .assemble_with = "Line",
                                      .input_filter = "$.features",
                                      .join_source = "Input",
                                      .output_filter = "$['id','SageMakerOutput']"},
                  "b.jsonl", "{\"id\": 1, \"features\": [1, 2.5]}\n",
                  "{\"id\": 1, \"SageMakerOutput\": {\"score\": 3.5, \"predicted_label\": 1.0}}\n");
    expect_output(2,
                  (kn_transform_opts){.content_type = "application/jsonlines",
                                      .split_type = "Line",
                                      .assemble_with = "Line",
                                      .output_filter = "$.score"},
                  "c.jsonl", "[1, 2.5]\n", "3.5\n");
}

Test(transform, jsonlines_join_wraps_an_input_that_is_not_an_object)
{
    expect_output(2,
                  (kn_transform_opts){.content_type = "application/jsonlines",
                                      .split_type = "Line",
                                      .assemble_with = "Line",
                                      .join_source = "Input"},
                  "a.jsonl", "[1, 2]\n",
                  "{\"SageMakerInput\": [1, 2], \"SageMakerOutput\": "
                  "{\"score\": 3.0, \"predicted_label\": 1.0}}\n");
}

Test(transform, input_filter_missing_key_names_file_and_line)
{
    puts_file("a.jsonl", "{\"features\": [1, 2]}\n{\"feat\": [1, 2]}\n");
    kn_err err = {{0}};
    kn_transform_opts o = {.content_type = "application/jsonlines",
                           .split_type = "Line",
                           .input_filter = "$.features"};
    cr_assert_neq(run(2, o, "a.jsonl", NULL, &err), SF_OK);
    cr_expect(strstr(err.msg, "a.jsonl line 2"), "%s", err.msg);
    cr_expect(strstr(err.msg, "features"), "%s", err.msg);
}

/* ---- refusals ------------------------------------------------------------------ */

Test(transform, refuses_unsupported_requests_naming_the_field)
{
    expect_refused((kn_transform_opts){.split_type = "Lines"}, "SplitType");
    expect_refused((kn_transform_opts){.split_type = "TFRecord"}, "SplitType");
    expect_refused((kn_transform_opts){.batch_strategy = "Multi"}, "BatchStrategy");
    expect_refused((kn_transform_opts){.batch_strategy = "SingleRecord"}, "SingleRecord");
    expect_refused((kn_transform_opts){.max_payload_mb = 101}, "MaxPayloadInMB");
    expect_refused((kn_transform_opts){.content_type = "image/png"}, "ContentType");
    expect_refused((kn_transform_opts){.accept = "text/html"}, "Accept");
    expect_refused((kn_transform_opts){.assemble_with = "Record"}, "AssembleWith");
    expect_refused((kn_transform_opts){.join_source = "Output"}, "JoinSource");
    expect_refused((kn_transform_opts){.input_filter = "$.features"}, "InputFilter");
    expect_refused((kn_transform_opts){.input_filter = "features"}, "InputFilter");
    expect_refused((kn_transform_opts){.output_filter = "$[1:"}, "OutputFilter");
    expect_refused((kn_transform_opts){.split_type = "Line",
                                       .join_source = "Input",
                                       .accept = "application/jsonlines"},
                   "JoinSource");
    expect_refused((kn_transform_opts){.split_type = "RecordIO"}, "SplitType");
    expect_refused((kn_transform_opts){.content_type = "application/x-recordio-protobuf",
                                       .split_type = "RecordIO",
                                       .assemble_with = "Line"},
                   "AssembleWith");
}

/* ---- files ---------------------------------------------------------------------- */

Test(transform, a_directory_gives_one_out_file_per_input_file)
{
    puts_file("in/a.csv", "1,2\n");
    puts_file("in/sub/b.csv", "-3,1\n");
    puts_file("in/.hidden", "x\n");
    kn_err err = {{0}};
    kn_transform_stats st = {0};
    kn_transform_opts o = {.split_type = "Line", .assemble_with = "Line"};
    cr_assert_eq(run(2, o, "in", &st, &err), SF_OK, "%s", err.msg);
    cr_expect_eq(st.files, 2);
    char *a = slurp(path("out/a.csv.out"), NULL), *b = slurp(path("out/sub/b.csv.out"), NULL);
    cr_assert(a && b);
    cr_expect_str_eq(a, "3.0,1\n");
    cr_expect_str_eq(b, "-2.0,0\n");
    free(a);
    free(b);

    /* A prefix: only the names that start with it. */
    puts_file("pre/part-1.csv", "1,1\n");
    puts_file("pre/part-2.csv", "2,2\n");
    puts_file("pre/other.csv", "x\n");
    cr_assert_eq(run(2, o, "pre/part-", NULL, &err), SF_OK, "%s", err.msg);
    char *p2 = slurp(path("out/part-2.csv.out"), NULL);
    cr_expect_str_eq(p2, "4.0,1\n");
    free(p2);
    cr_expect_null(slurp(path("out/other.csv.out"), NULL));
}

Test(transform, bad_data_names_file_line_and_field_and_leaves_no_output)
{
    puts_file("a.csv", "1,2\n\n1,x\n");
    kn_err err = {{0}};
    kn_transform_opts o = {.split_type = "Line"};
    cr_assert_eq(run(2, o, "a.csv", NULL, &err), SF_EINVAL);
    cr_expect(strstr(err.msg, "ClientError: "), "%s", err.msg);
    cr_expect(strstr(err.msg, "a.csv line 3: field 2 is not a number"), "%s", err.msg);
    cr_expect_null(slurp(path("out/a.csv.out"), NULL));
    DIR *d = opendir(path("out"));
    struct dirent *e;
    while (d && (e = readdir(d)))
        cr_expect(e->d_name[0] != '.' || !strstr(e->d_name, "tmp"), "temporary left: %s",
                  e->d_name);
    if (d)
        closedir(d);

    puts_file("b.csv", "1,2\n1,2,3\n");
    cr_assert_eq(run(2, o, "b.csv", NULL, &err), SF_EINVAL);
    cr_expect(strstr(err.msg, "b.csv line 2: 3 features, the model reads 2"), "%s", err.msg);
}

Test(transform, output_is_identical_for_any_thread_count)
{
    make_csv("t.csv", 30000, 10, 3);
    char *first = NULL;
    size_t first_len = 0;
    unsigned threads[] = {1, 2, 3, 8};
    for (size_t i = 0; i < 4; i++) {
        kn_err err = {{0}};
        kn_transform_opts o = {.split_type = "Line",
                               .max_payload_mb = 1,
                               .assemble_with = "Line",
                               .threads = threads[i],
                               .accept = "application/jsonlines"};
        cr_assert_eq(run(10, o, "t.csv", NULL, &err), SF_OK, "%s", err.msg);
        size_t len;
        char *got = slurp(path("out/t.csv.out"), &len);
        if (!first) {
            first = got;
            first_len = len;
            continue;
        }
        cr_expect_eq(len, first_len, "threads %u", threads[i]);
        cr_expect_eq(memcmp(got, first, len), 0, "threads %u", threads[i]);
        free(got);
    }
    free(first);
}

/* A streaming transform grows by a few mini-batches (~13 MB here), not by
 * the input's 50 MB. AddressSanitizer keeps freed memory in quarantine
 * and pads every block, so it gets more room; still under the input. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_LIMIT_MB 40
#else
#define RSS_LIMIT_MB 24
#endif

Test(transform, memory_stays_bounded_on_a_50_mb_input)
{
    make_csv("m.csv", 900000, 8, 4); /* ~50 MB */
    struct stat sb;
    stat(path("m.csv"), &sb);
    cr_assert_gt(sb.st_size, 45 << 20);
    /* In a child, so that the peak RSS is this transform's alone. */
    pid_t pid = fork();
    if (pid == 0) {
        struct rusage before, after;
        getrusage(RUSAGE_SELF, &before);
        kn_err err = {{0}};
        kn_transform_opts o = {.split_type = "Line", .max_payload_mb = 1, .threads = 2};
        if (run(8, o, "m.csv", NULL, &err) != SF_OK)
            _exit(2);
        getrusage(RUSAGE_SELF, &after);
        long grew_kb = after.ru_maxrss - before.ru_maxrss;
        fprintf(stderr, "peak RSS grew by %ld kB\n", grew_kb);
        _exit(grew_kb < RSS_LIMIT_MB * 1024 ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "peak RSS grew by %d MB or more on a 50 MB input with 1 MB payloads (status %d)",
              RSS_LIMIT_MB, status);
}
