/* tests/kernels/test_formats_csv.c - content types and text/csv records:
 * labels, widths, errors with their lines, streaming through a small
 * buffer, rewinding, Windows line endings. */
#include "formats_helpers.h"

Test(content_type, parses_csv_with_and_without_label_size)
{
    kn_content_type ct;
    int ls = -1;
    cr_assert_eq(kn_content_type_parse("text/csv", &ct, &ls, NULL), SF_OK);
    cr_assert(ct == KN_CT_CSV && ls == 1);
    cr_assert_eq(kn_content_type_parse("text/csv;label_size=0", &ct, &ls, NULL), SF_OK);
    cr_assert(ct == KN_CT_CSV && ls == 0);
    cr_assert_eq(kn_content_type_parse(" Text/CSV ; charset=utf-8; label_size = 1", &ct, &ls, NULL),
                 SF_OK);
    cr_assert(ct == KN_CT_CSV && ls == 1);
}

Test(content_type, parses_the_other_types)
{
    kn_content_type ct;
    int ls = -1;
    cr_assert_eq(kn_content_type_parse("application/x-recordio-protobuf", &ct, &ls, NULL), SF_OK);
    cr_assert(ct == KN_CT_RECORDIO && ls == 1);
    cr_assert_eq(kn_content_type_parse("application/jsonlines", &ct, NULL, NULL), SF_OK);
    cr_assert(ct == KN_CT_JSONLINES);
    cr_assert_eq(kn_content_type_parse("application/json; charset=utf-8", &ct, NULL, NULL), SF_OK);
    cr_assert(ct == KN_CT_JSON);
    for (int i = KN_CT_CSV; i <= KN_CT_RECORDIO; i++) {
        cr_assert_eq(kn_content_type_parse(kn_content_type_name(i), &ct, NULL, NULL), SF_OK);
        cr_assert_eq((int)ct, i);
    }
}

Test(content_type, rejects_unknown_types_naming_them)
{
    kn_content_type ct;
    kn_err err = {{0}};
    cr_assert_eq(kn_content_type_parse("text/libsvm", &ct, NULL, &err), SF_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "'text/libsvm'"), "%s", err.msg);
    cr_assert_eq(kn_content_type_parse("text/csvx", &ct, NULL, &err), SF_EUNSUPPORTED);
    cr_assert_eq(kn_content_type_parse("text/csv;label_size=2", &ct, NULL, &err), SF_EINVAL);
    cr_assert(strstr(err.msg, "label_size must be 0 or 1"), "%s", err.msg);
    cr_assert_eq(kn_content_type_parse("application/json;label_size=0", &ct, NULL, &err),
                 SF_EINVAL);
    cr_assert_eq(kn_content_type_parse("", &ct, NULL, &err), SF_EUNSUPPORTED);
}

Test(csv, reads_label_first_then_features)
{
    rows r;
    kn_err err = {{0}};
    cr_assert_eq(read_str("1,0.5,2\n0,-3e2,.25\n", "t.csv", KN_CT_CSV, true, &r, &err), SF_OK, "%s",
                 err.msg);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.dim, 2);
    float x[] = {0.5f, 2.0f, -300.0f, 0.25f}, y[] = {1, 0};
    cr_assert_arr_eq(r.x, x, sizeof x);
    cr_assert_arr_eq(r.y, y, sizeof y);
    rows_free(&r);
}

Test(csv, without_label_every_field_is_a_feature)
{
    rows r;
    cr_assert_eq(read_str("1,2,3\n4,5,6", "t.csv", KN_CT_CSV, false, &r, NULL), SF_OK);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.dim, 3);
    cr_assert_float_eq(r.x[5], 6.0f, 0);
    rows_free(&r);
}

Test(csv, accepts_crlf_blank_lines_and_blanks_around_fields)
{
    rows r;
    kn_err err = {{0}};
    cr_assert_eq(
        read_str("\r\n1, 2 ,3\r\n\r\n  \n4,5,\t6\r\n\n", "t.csv", KN_CT_CSV, false, &r, &err),
        SF_OK, "%s", err.msg);
    cr_assert_eq(r.n, 2);
    float x[] = {1, 2, 3, 4, 5, 6};
    cr_assert_arr_eq(r.x, x, sizeof x);
    rows_free(&r);
}

Test(csv, names_line_and_field_of_a_bad_number)
{
    rows r;
    kn_err err = {{0}};
    cr_assert_eq(read_str("1,2,3\n\n1,2,abc\n", "train.csv", KN_CT_CSV, true, &r, &err), SF_EINVAL);
    cr_assert_str_eq(err.msg, "ClientError: train.csv line 3: field 3 is not a number: 'abc'");
    rows_free(&r);
    cr_assert_eq(read_str("1,2,3x\n", "t.csv", KN_CT_CSV, true, &r, &err), SF_EINVAL);
    cr_assert(strstr(err.msg, "line 1: field 3 is not a number: '3x'"), "%s", err.msg);
    cr_assert_eq(read_str("1,,3\n", "t.csv", KN_CT_CSV, true, &r, &err), SF_EINVAL);
    cr_assert(strstr(err.msg, "line 1: field 2 is empty"), "%s", err.msg);
    cr_assert_eq(read_str("1,2,\n", "t.csv", KN_CT_CSV, true, &r, &err), SF_EINVAL);
    cr_assert(strstr(err.msg, "field 3 is empty"), "%s", err.msg);
}

Test(csv, infers_feature_dim_and_names_a_mismatched_line)
{
    kn_reader *rd;
    const char *text = "1,2,3\n4,5,6\n7,8\n";
    kn_err err = {{0}};
    cr_assert_eq(kn_reader_open_mem(text, strlen(text), "train.csv", KN_CT_CSV, true, 0, &rd, &err),
                 SF_OK);
    size_t dim;
    cr_assert_eq(kn_reader_feature_dim(rd, &dim, &err), SF_OK);
    cr_assert_eq(dim, 2);
    float X[20], y[10];
    kn_matrix m = {.data = X};
    cr_assert_eq(kn_reader_next(rd, &m, y, 10, &err), SF_EINVAL);
    cr_assert_str_eq(err.msg, "ClientError: train.csv line 3: 1 features where 2 were expected "
                              "(as line 1 has)");
    kn_reader_close(&rd);
    cr_assert_null(rd);
    kn_reader_close(&rd); /* NULL-safe */
}

Test(csv, a_given_feature_dim_is_checked_from_the_first_line)
{
    kn_reader *rd;
    kn_err err = {{0}};
    cr_assert_eq(kn_reader_open_mem("1,2\n", 4, "t.csv", KN_CT_CSV, false, 3, &rd, &err), SF_OK);
    float X[6];
    kn_matrix m = {.data = X};
    cr_assert_eq(kn_reader_next(rd, &m, NULL, 2, &err), SF_EINVAL);
    cr_assert(strstr(err.msg, "line 1: 2 features where feature_dim is 3"), "%s", err.msg);
    kn_reader_close(&rd);
}

Test(csv, a_labelled_line_without_features_is_an_error)
{
    rows r;
    kn_err err = {{0}};
    cr_assert_eq(read_str("\n1\n", "t.csv", KN_CT_CSV, true, &r, &err), SF_EINVAL);
    cr_assert(strstr(err.msg, "t.csv line 2: the record has no features"), "%s", err.msg);
}

Test(csv, empty_input_has_no_rows)
{
    rows r;
    cr_assert_eq(read_str("\n\r\n", "t.csv", KN_CT_CSV, true, &r, NULL), SF_OK);
    cr_assert_eq(r.n, 0);
    cr_assert_eq(r.dim, 0);
}

Test(csv, labels_from_an_unlabelled_reader_are_refused)
{
    kn_reader *rd;
    kn_err err = {{0}};
    cr_assert_eq(kn_reader_open_mem("1,2\n", 4, "t.csv", KN_CT_CSV, false, 0, &rd, NULL), SF_OK);
    float X[4], y[2];
    kn_matrix m = {.data = X};
    cr_assert_eq(kn_reader_next(rd, &m, y, 2, &err), SF_EINVAL);
    kn_reader_close(&rd);
}

/* n rows of dim features, label first, some lines CRLF, some blank. */
static char *make_csv(size_t n, size_t dim, size_t *len)
{
    size_t cap = n * (dim + 1) * 24 + 16, at = 0;
    char *s = malloc(cap);
    srand(7);
    for (size_t i = 0; i < n; i++) {
        at += (size_t)sprintf(s + at, "%d", (int)(i % 2));
        for (size_t j = 0; j < dim; j++)
            at += (size_t)sprintf(s + at, ",%.7g", (rand() - RAND_MAX / 2) / 1e4);
        at += (size_t)sprintf(s + at, i % 3 ? "\n" : "\r\n");
        if (i % 50 == 0)
            s[at++] = '\n';
    }
    *len = at;
    return s;
}

Test(csv, a_file_bigger_than_the_buffer_streams_to_the_same_rows)
{
    size_t len;
    char *text = make_csv(3000, 9, &len);
    char *path = tmp_file(".csv", text, len);
    rows whole, streamed;
    kn_err err = {{0}};
    cr_assert_eq(read_mem(text, len, "t.csv", KN_CT_CSV, true, &whole, &err), SF_OK, "%s", err.msg);
    cr_assert_eq(whole.n, 3000);

    kn_reader *rd;
    cr_assert_eq(kn_reader_open_file(path, KN_CT_CSV, true, 0, &rd, &err), SF_OK, "%s", err.msg);
    cr_assert_eq(kn_reader_set_limits(rd, 256, 1024, &err), SF_OK, "%s", err.msg);
    cr_assert(len > 100 * 256);
    cr_assert_eq(read_rows(rd, 7, &streamed, &err), SF_OK, "%s", err.msg);
    cr_assert_eq(streamed.n, whole.n);
    cr_assert_eq(streamed.dim, 9);
    cr_assert_arr_eq(streamed.x, whole.x, whole.n * 9 * sizeof(float));
    cr_assert_arr_eq(streamed.y, whole.y, whole.n * sizeof(float));
    cr_assert_eq(kn_reader_records(rd), 3000);

    /* rewind: the same rows again, and the limits cannot change now */
    rows again;
    cr_assert_eq(kn_reader_rewind(rd, &err), SF_OK);
    cr_assert_eq(kn_reader_set_limits(rd, 512, 1024, &err), SF_ESTATE);
    cr_assert_eq(read_rows(rd, 1000, &again, &err), SF_OK, "%s", err.msg);
    cr_assert_eq(again.n, whole.n);
    cr_assert_arr_eq(again.x, whole.x, whole.n * 9 * sizeof(float));
    kn_reader_close(&rd);
    unlink(path);
    free(path);
    free(text);
    rows_free(&whole);
    rows_free(&streamed);
    rows_free(&again);
}

Test(csv, a_line_over_the_record_limit_is_an_error_naming_it)
{
    char text[600];
    memset(text, '1', sizeof text);
    memcpy(text, "1,2\n3,4\n5,", 10);
    text[sizeof text - 1] = '\n';
    char *path = tmp_file(".csv", text, sizeof text);
    kn_reader *rd;
    kn_err err = {{0}};
    cr_assert_eq(kn_reader_open_file(path, KN_CT_CSV, true, 0, &rd, &err), SF_OK);
    cr_assert_eq(kn_reader_set_limits(rd, 64, 256, &err), SF_OK);
    rows r;
    cr_assert_eq(read_rows(rd, 4, &r, &err), SF_ELIMIT);
    cr_assert(strstr(err.msg, "line 3: the line is longer than 256 bytes"), "%s", err.msg);
    kn_reader_close(&rd);
    unlink(path);
    free(path);
    rows_free(&r);
}

Test(csv, a_missing_file_is_named)
{
    kn_reader *rd = (kn_reader *)1;
    kn_err err = {{0}};
    cr_assert_eq(kn_reader_open_file("/nonexistent/x.csv", KN_CT_CSV, true, 0, &rd, &err),
                 SF_ENOTFOUND);
    cr_assert_null(rd);
    cr_assert(strstr(err.msg, "/nonexistent/x.csv"), "%s", err.msg);
}

Test(csv, a_source_reads_like_the_reader)
{
    const char *text = "1,2,3\n0,4,5\n1,6,7\n";
    kn_reader *rd;
    cr_assert_eq(kn_reader_open_mem(text, strlen(text), "t.csv", KN_CT_CSV, true, 0, &rd, NULL),
                 SF_OK);
    kn_source src = kn_reader_source(rd);
    cr_assert_eq(src.feature_dim, 2);
    float X[6], y[3];
    kn_matrix m = {.data = X};
    for (int epoch = 0; epoch < 2; epoch++) {
        cr_assert_eq(src.next(src.ctx, &m, y, 2, NULL), SF_OK);
        cr_assert_eq(m.rows, 2);
        cr_assert_float_eq(X[0], 2.0f, 0);
        cr_assert_eq(src.next(src.ctx, &m, y, 2, NULL), SF_OK);
        cr_assert_eq(m.rows, 1);
        cr_assert_float_eq(X[1], 7.0f, 0);
        cr_assert_float_eq(y[0], 1.0f, 0);
        cr_assert_eq(src.next(src.ctx, &m, y, 2, NULL), SF_OK);
        cr_assert_eq(m.rows, 0);
        cr_assert_eq(src.rewind(src.ctx, NULL), SF_OK);
    }
    kn_reader_close(&rd);
}

Test(csv, a_bad_first_line_is_reported_by_next_and_not_skipped)
{
    const char *text = "1,x\n1,2\n";
    kn_reader *rd;
    kn_err err = {{0}};
    cr_assert_eq(kn_reader_open_mem(text, strlen(text), "t.csv", KN_CT_CSV, true, 0, &rd, NULL),
                 SF_OK);
    kn_source src = kn_reader_source(rd);
    cr_assert_eq(src.feature_dim, 0);
    float X[4];
    kn_matrix m = {.data = X};
    cr_assert_eq(src.next(src.ctx, &m, NULL, 2, &err), SF_EINVAL);
    cr_assert(strstr(err.msg, "line 1: field 2"), "%s", err.msg);
    kn_reader_close(&rd);
}
