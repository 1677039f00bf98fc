/* tests/kernels/test_formats_write.c - predictions in SageMaker's response
 * shapes (JSON, JSON Lines, CSV, RecordIO) and training records written
 * then read back the same, in every format. */
#include "formats_helpers.h"

#include <math.h>

#include "kernels/formats/kn_protobuf_record.h"

static const kn_response binary = {
    .top = "predictions",
    .fields = {{.name = "score", .width = 1},
               {.name = "predicted_label", .width = 1, .integral = true}},
    .nfields = 2,
    .width = 2,
};
static const kn_response pca = {
    .top = "projections",
    .fields = {{.name = "projection", .width = 3, .vector = true}},
    .nfields = 1,
    .width = 3,
};

/* Writes predictions into a string (the caller frees). */
static char *write_str(kn_content_type ct, const kn_response *resp, const float *out, size_t nrows,
                       size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    kn_err err = {{0}};
    cr_assert_eq(kn_write_predictions(ct, resp, out, nrows, f, &err), SF_OK, "%s", err.msg);
    fclose(f);
    if (len)
        *len = n;
    return buf;
}

Test(write, json_predictions_in_sagemakers_shape)
{
    float out[] = {0.4f, 0.0f, 0.9f, 1.0f};
    char *s = write_str(KN_CT_JSON, &binary, out, 2, NULL);
    cr_assert_str_eq(s, "{\"predictions\": [{\"score\": 0.4, \"predicted_label\": 0.0}, "
                        "{\"score\": 0.9, \"predicted_label\": 1.0}]}");
    free(s);
    float proj[] = {1, 2, 3, 6, 7, 0.5f};
    s = write_str(KN_CT_JSON, &pca, proj, 2, NULL);
    cr_assert_str_eq(s, "{\"projections\": [{\"projection\": [1.0, 2.0, 3.0]}, "
                        "{\"projection\": [6.0, 7.0, 0.5]}]}");
    free(s);
    s = write_str(KN_CT_JSON, &pca, proj, 0, NULL);
    cr_assert_str_eq(s, "{\"projections\": []}");
    free(s);
}

Test(write, a_one_wide_vector_field_is_still_an_array)
{
    kn_response r = {.top = "predictions",
                     .fields = {{.name = "score", .width = 1, .vector = true}},
                     .nfields = 1,
                     .width = 1};
    float out[] = {0.25f};
    char *s = write_str(KN_CT_JSONLINES, &r, out, 1, NULL);
    cr_assert_str_eq(s, "{\"score\": [0.25]}\n");
    free(s);
}

Test(write, jsonlines_and_csv_predictions)
{
    kn_response km = {.top = "predictions",
                      .fields = {{.name = "closest_cluster", .width = 1, .integral = true},
                                 {.name = "distance_to_cluster", .width = 1}},
                      .nfields = 2,
                      .width = 2};
    float out[] = {1, 3, 2, 23.40593910217285f};
    char *s = write_str(KN_CT_JSONLINES, &km, out, 2, NULL);
    cr_assert_str_eq(s, "{\"closest_cluster\": 1.0, \"distance_to_cluster\": 3.0}\n"
                        "{\"closest_cluster\": 2.0, \"distance_to_cluster\": 23.40594}\n");
    free(s);
    size_t len;
    s = write_str(KN_CT_CSV, &km, out, 2, &len);
    cr_assert_str_eq(s, "1,3.0\n2,23.40594\n");
    /* and back: the same floats */
    rows r;
    cr_assert_eq(read_mem(s, len, "out.csv", KN_CT_CSV, false, &r, NULL), SF_OK);
    cr_assert_eq(r.n, 2);
    cr_assert_arr_eq(r.x, out, sizeof out);
    rows_free(&r);
    free(s);
}

Test(write, json_has_null_for_non_finite_values)
{
    float out[] = {NAN, INFINITY};
    char *s = write_str(KN_CT_JSONLINES, &binary, out, 1, NULL);
    cr_assert_str_eq(s, "{\"score\": null, \"predicted_label\": null}\n");
    free(s);
}

Test(write, recordio_predictions_are_records_with_the_fields_as_labels)
{
    float out[] = {0.4f, 0.0f, 0.9f, 1.0f};
    size_t len;
    char *s = write_str(KN_CT_RECORDIO, &binary, out, 2, &len);
    /* label{score: Float32Tensor [0.4]} 19 bytes, {predicted_label: [0.0]} 29 */
    cr_assert_eq(len, 2 * (8 + 48));
    const uint8_t *p = (const uint8_t *)s;
    for (size_t row = 0; row < 2; row++, p += 56) {
        cr_assert_eq(p[0], 0x0a);
        cr_assert_eq(p[4], 48);
        float v[2];
        size_t n;
        char why[128];
        cr_assert_eq(kn_record_tensor(p + 8, 48, true, "score", v, 2, &n, why, sizeof why, NULL),
                     SF_OK, "%s", why);
        cr_assert_eq(n, 1);
        cr_assert_float_eq(v[0], out[2 * row], 0);
        cr_assert_eq(
            kn_record_tensor(p + 8, 48, true, "predicted_label", v, 2, &n, why, sizeof why, NULL),
            SF_OK);
        cr_assert_float_eq(v[0], out[2 * row + 1], 0);
        cr_assert_eq(kn_record_tensor(p + 8, 48, false, "values", v, 2, &n, why, sizeof why, NULL),
                     SF_EINVAL);
    }
    free(s);
}

Test(write, refuses_a_response_whose_widths_do_not_add_up)
{
    kn_response bad = binary;
    bad.width = 3;
    kn_err err = {{0}};
    float out[3] = {0};
    cr_assert_eq(kn_write_predictions(KN_CT_JSON, &bad, out, 1, stdout, &err), SF_EINVAL);
    cr_assert(strstr(err.msg, "AlgorithmError"), "%s", err.msg);
}

/* Random rows with awkward floats: tiny, huge, negative, integral. */
static void random_rows(float *x, float *y, size_t n, size_t dim)
{
    uint32_t s = 12345;
    for (size_t i = 0; i < n * dim; i++) {
        s = s * 1103515245u + 12345u;
        float v = (float)((int32_t)s) / 65536.0f;
        x[i] = i % 5 == 0 ? v * 1e-30f : i % 7 == 0 ? v * 1e25f : i % 3 == 0 ? roundf(v) : v;
    }
    for (size_t i = 0; i < n; i++)
        y[i] = (float)(i % 4);
}

Test(write, records_round_trip_in_every_format)
{
    enum { N = 300, D = 11 };
    static float x[N * D], y[N];
    random_rows(x, y, N, D);
    kn_matrix X = {.rows = N, .cols = D, .data = x};
    kn_content_type cts[] = {KN_CT_CSV, KN_CT_JSONLINES, KN_CT_RECORDIO};
    for (size_t c = 0; c < 3; c++) {
        for (int labelled = 0; labelled < 2; labelled++) {
            char *buf = NULL;
            size_t len = 0;
            FILE *f = open_memstream(&buf, &len);
            kn_err err = {{0}};
            cr_assert_eq(kn_write_records(cts[c], &X, labelled ? y : NULL, f, &err), SF_OK, "%s",
                         err.msg);
            fclose(f);
            rows r;
            cr_assert_eq(read_mem(buf, len, "t", cts[c], labelled, &r, &err), SF_OK, "%s: %s",
                         kn_content_type_name(cts[c]), err.msg);
            cr_assert_eq(r.n, N);
            cr_assert_eq(r.dim, D);
            cr_assert_arr_eq(r.x, x, sizeof x, "%s", kn_content_type_name(cts[c]));
            if (labelled)
                cr_assert_arr_eq(r.y, y, sizeof y);
            rows_free(&r);
            free(buf);
        }
    }
}

Test(write, records_are_not_written_as_one_json_request)
{
    float x[1] = {1};
    kn_matrix X = {.rows = 1, .cols = 1, .data = x};
    cr_assert_eq(kn_write_records(KN_CT_JSON, &X, NULL, stdout, NULL), SF_EUNSUPPORTED);
}

Test(write, sparse_records_read_back_densified_with_labels)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    float v1[] = {1, 2}, v2[] = {3}, l1 = 1, l2 = 0;
    uint64_t k1[] = {0, 5}, k2[] = {2};
    cr_assert_eq(kn_write_record_sparse(v1, k1, 2, 6, &l1, f, NULL), SF_OK);
    cr_assert_eq(kn_write_record_sparse(v2, k2, 1, 6, &l2, f, NULL), SF_OK);
    cr_assert_eq(kn_write_record_sparse(NULL, NULL, 0, 6, &l2, f, NULL), SF_OK); /* all zeros */
    cr_assert_eq(kn_write_record_sparse(v2, k1 + 1, 1, 5, NULL, f, NULL), SF_EINVAL);
    fclose(f);
    rows r;
    kn_err err = {{0}};
    cr_assert_eq(read_mem(buf, len, "t.rec", KN_CT_RECORDIO, true, &r, &err), SF_OK, "%s", err.msg);
    cr_assert_eq(r.n, 3);
    cr_assert_eq(r.dim, 6);
    float want[] = {1, 0, 0, 0, 0, 2, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}, wy[] = {1, 0, 0};
    cr_assert_arr_eq(r.x, want, sizeof want);
    cr_assert_arr_eq(r.y, wy, sizeof wy);
    rows_free(&r);
    free(buf);
}
