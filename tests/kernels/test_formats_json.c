/* tests/kernels/test_formats_json.c - application/json requests
 * ({"instances": [...]}) and application/jsonlines: every instance shape
 * SageMaker documents, sparse ones densified, labels, and errors naming
 * the instance or line. */
#include "formats_helpers.h"

Test(json, reads_the_documented_instance_shapes)
{
    const char *req = "{\"instances\": [{\"features\": [1.5, 16.0, 14.0, 23.0]},\n"
                      " {\"data\": {\"features\": {\"values\": [1.5, 16.0, 14.0, 23.0]}}},\n"
                      " {\"data\": {\"features\": {\"keys\": [0, 3], \"shape\": [4], "
                      "\"values\": [1, 4]}}},\n"
                      " [7, 8, 9, 10]]}\n";
    rows r;
    kn_err err = {{0}};
    cr_assert_eq(read_str(req, "req.json", KN_CT_JSON, false, &r, &err), SF_OK, "%s", err.msg);
    cr_assert_eq(r.n, 4);
    cr_assert_eq(r.dim, 4);
    float x[] = {1.5f, 16, 14, 23, 1.5f, 16, 14, 23, 1, 0, 0, 4, 7, 8, 9, 10};
    cr_assert_arr_eq(r.x, x, sizeof x);
    rows_free(&r);
}

Test(json, the_facts_example_mixes_widths_and_names_the_instance)
{
    /* SageMaker's own example pairs 4-wide rows with a 2000-wide sparse one. */
    const char *req = "{\"instances\": [{\"features\": [1.5, 16.0, 14.0, 23.0]},"
                      "{\"data\": {\"features\": {\"keys\": [26, 182, 232, 243, 431], "
                      "\"shape\": [2000], \"values\": [1, 1, 1, 4, 1]}}}]}";
    rows r;
    kn_err err = {{0}};
    cr_assert_eq(read_str(req, "req.json", KN_CT_JSON, false, &r, &err), SF_EINVAL);
    cr_assert_str_eq(err.msg, "ClientError: req.json instance 2: 2000 features where 4 were "
                              "expected (as instance 1 has)");
    rows_free(&r);

    kn_reader *rd;
    cr_assert_eq(
        kn_reader_open_mem(req, strlen(req), "req.json", KN_CT_JSON, false, 2000, &rd, &err),
        SF_OK);
    float *X = calloc(2 * 2000, sizeof *X);
    kn_matrix m = {.data = X};
    cr_assert_eq(kn_reader_next(rd, &m, NULL, 2, &err), SF_EINVAL);
    cr_assert(strstr(err.msg, "instance 1: 4 features where feature_dim is 2000"), "%s", err.msg);
    kn_reader_close(&rd);
    free(X);
}

Test(json, a_sparse_instance_is_densified)
{
    const char *req = "{\"instances\": [{\"data\": {\"features\": {\"keys\": [26, 182, 1999], "
                      "\"shape\": [2000], \"values\": [1, 2.5, 4]}}}]}";
    rows r;
    kn_err err = {{0}};
    cr_assert_eq(read_str(req, "req.json", KN_CT_JSON, false, &r, &err), SF_OK, "%s", err.msg);
    cr_assert_eq(r.dim, 2000);
    float sum = 0;
    for (size_t i = 0; i < 2000; i++)
        sum += r.x[i];
    cr_assert_float_eq(sum, 7.5f, 0);
    cr_assert_float_eq(r.x[182], 2.5f, 0);
    cr_assert_float_eq(r.x[1999], 4.0f, 0);
    rows_free(&r);
}

Test(json, rejects_bad_requests_saying_why)
{
    struct {
        const char *req, *want;
    } cases[] = {
        {"{\"instances\": [{\"features\": [1, \"a\"]}]}",
         "instance 1: features[1] is not a number"},
        {"{\"instances\": [{\"feature\": [1]}]}", "instance 1: the instance has no \"features\""},
        {"{\"instances\": [1]}", "instance 1: an instance is"},
        {"{\"instance\": []}", "a JSON request is {\"instances\": [...]}"},
        {"{\"instances\": [", "invalid JSON"},
        {"{\"instances\": [{\"data\": {\"features\": {\"keys\": [0], \"values\": [1]}}}]}",
         "has \"keys\" but no \"shape\""},
        {"{\"instances\": [{\"data\": {\"features\": {\"keys\": [4], \"shape\": [4], "
         "\"values\": [1]}}}]}",
         "data.features.keys[0] is not an index below the shape's 4"},
        {"{\"instances\": [{\"data\": {\"features\": {\"keys\": [0, 1], \"shape\": [4], "
         "\"values\": [1]}}}]}",
         "not arrays of the same length"},
        {"{\"instances\": [{\"features\": {\"keys\": [0], \"shape\": [0], \"values\": [1]}}]}",
         "features.shape[0] is not a positive integer"},
        {"{\"instances\": [{\"features\": {\"keys\": [0], \"shape\": [99999999999], "
         "\"values\": [1]}}]}",
         "over 16777216 features"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rows r;
        kn_err err = {{0}};
        sf_rc rc = read_str(cases[i].req, "req.json", KN_CT_JSON, false, &r, &err);
        cr_assert_neq(rc, SF_OK, "%s", cases[i].req);
        cr_assert(strstr(err.msg, cases[i].want), "%s\n  gave: %s", cases[i].req, err.msg);
        cr_assert(strstr(err.msg, "ClientError: req.json"), "%s", err.msg);
    }
}

Test(json, an_empty_body_has_no_instances)
{
    rows r;
    cr_assert_eq(read_str(" \n", "req.json", KN_CT_JSON, false, &r, NULL), SF_OK);
    cr_assert_eq(r.n, 0);
    cr_assert_eq(read_str("{\"instances\": []}", "req.json", KN_CT_JSON, false, &r, NULL), SF_OK);
    cr_assert_eq(r.n, 0);
}

Test(jsonlines, reads_instances_and_labels_line_by_line)
{
    const char *text =
        "{\"features\": [1, 2], \"label\": 1}\r\n"
        "\n"
        "{\"data\": {\"features\": {\"values\": [3, 4]}, \"label\": {\"values\": [0]}}}\n"
        "{\"features\": {\"keys\": [1], \"shape\": [2], \"values\": [5]}, "
        "\"label\": [2]}";
    rows r;
    kn_err err = {{0}};
    cr_assert_eq(read_str(text, "t.jsonl", KN_CT_JSONLINES, true, &r, &err), SF_OK, "%s", err.msg);
    cr_assert_eq(r.n, 3);
    float x[] = {1, 2, 3, 4, 0, 5}, y[] = {1, 0, 2};
    cr_assert_arr_eq(r.x, x, sizeof x);
    cr_assert_arr_eq(r.y, y, sizeof y);
    rows_free(&r);
}

Test(jsonlines, names_the_line_of_bad_json_or_a_missing_label)
{
    rows r;
    kn_err err = {{0}};
    cr_assert_eq(read_str("{\"features\": [1], \"label\": 1}\n\n{\"features\": [1]\n", "t.jsonl",
                          KN_CT_JSONLINES, true, &r, &err),
                 SF_EINVAL);
    cr_assert(strstr(err.msg, "ClientError: t.jsonl line 3: invalid JSON"), "%s", err.msg);
    rows_free(&r);
    cr_assert_eq(read_str("{\"features\": [1], \"label\": 1}\n{\"features\": [1]}\n", "t.jsonl",
                          KN_CT_JSONLINES, true, &r, &err),
                 SF_EINVAL);
    cr_assert(strstr(err.msg, "t.jsonl line 2: the instance has no \"label\""), "%s", err.msg);
    rows_free(&r);
    cr_assert_eq(read_str("{\"features\": [1], \"label\": [1, 2]}\n", "t.jsonl", KN_CT_JSONLINES,
                          true, &r, &err),
                 SF_EINVAL);
    cr_assert(strstr(err.msg, "the label has 2 values"), "%s", err.msg);
    rows_free(&r);
}

Test(jsonlines, a_file_streams_through_a_small_buffer_and_rewinds)
{
    size_t cap = 1 << 20, len = 0;
    char *text = malloc(cap);
    for (int i = 0; i < 2000; i++)
        len += (size_t)sprintf(text + len, "{\"features\": [%d, %g, %g], \"label\": %d}\n", i,
                               i * 0.5, -i / 3.0, i % 2);
    char *path = tmp_file(".jsonl", text, len);
    rows whole, streamed;
    kn_err err = {{0}};
    cr_assert_eq(read_mem(text, len, "t.jsonl", KN_CT_JSONLINES, true, &whole, &err), SF_OK);
    kn_reader *rd;
    cr_assert_eq(kn_reader_open_file(path, KN_CT_JSONLINES, true, 0, &rd, &err), SF_OK);
    cr_assert_eq(kn_reader_set_limits(rd, 100, 200, &err), SF_OK);
    for (int pass = 0; pass < 2; pass++) {
        cr_assert_eq(read_rows(rd, 3, &streamed, &err), SF_OK, "%s", err.msg);
        cr_assert_eq(streamed.n, 2000);
        cr_assert_arr_eq(streamed.x, whole.x, 2000 * 3 * sizeof(float));
        cr_assert_arr_eq(streamed.y, whole.y, 2000 * sizeof(float));
        rows_free(&streamed);
        cr_assert_eq(kn_reader_rewind(rd, &err), SF_OK);
    }
    kn_reader_close(&rd);
    unlink(path);
    free(path);
    free(text);
    rows_free(&whole);
}

Test(json, a_request_file_over_the_limit_is_refused)
{
    char text[300];
    memset(text, ' ', sizeof text);
    memcpy(text, "{\"instances\": [[1]]}", 20);
    char *path = tmp_file(".json", text, sizeof text);
    kn_reader *rd;
    kn_err err = {{0}};
    cr_assert_eq(kn_reader_open_file(path, KN_CT_JSON, false, 0, &rd, &err), SF_OK);
    cr_assert_eq(kn_reader_set_limits(rd, 64, 256, &err), SF_OK);
    rows r;
    cr_assert_eq(read_rows_unlabelled(rd, 4, &r, &err), SF_ELIMIT);
    cr_assert(strstr(err.msg, "larger than 256 bytes"), "%s", err.msg);
    kn_reader_close(&rd);
    cr_assert_eq(kn_reader_open_file(path, KN_CT_JSON, false, 0, &rd, &err), SF_OK);
    cr_assert_eq(read_rows_unlabelled(rd, 4, &r, &err), SF_OK, "%s", err.msg);
    cr_assert_eq(r.n, 1);
    rows_free(&r);
    kn_reader_close(&rd);
    unlink(path);
    free(path);
}
