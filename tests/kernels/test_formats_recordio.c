/* tests/kernels/test_formats_recordio.c - application/x-recordio-protobuf:
 * the facts file's test vectors (§5.3) byte for byte, sparse records
 * densified, labels, the other tensor types and unpacked encodings,
 * multi-part records, and framing errors by byte offset. */
#include "formats_helpers.h"

#include "kernels/formats/kn_protobuf_record.h"
#include "kernels/formats/kn_recordio.h"

static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    for (; hex[0] && hex[1]; hex += 2) {
        unsigned b;
        sscanf(hex, "%2x", &b);
        out[n++] = (uint8_t)b;
    }
    return n;
}

static const char *dense_record =
    "0a1e0a0676616c756573121412120a100000c03f00008041000060410000b84112120a0676616c7565731208"
    "12060a040000803f";
static const char *sparse_record =
    "0a220a0676616c756573121812160a0c0000803f000080400000803f12030001031a0104";

Test(recordio, decodes_the_dense_test_vector)
{
    uint8_t rec[64];
    size_t len = unhex(dense_record, rec);
    cr_assert_eq(len, 52);
    float x[4], y = 0;
    size_t n = 0;
    char why[128];
    cr_assert_eq(kn_record_decode(rec, len, x, 4, &n, &y, why, sizeof why, NULL), SF_OK, "%s", why);
    float want[] = {1.5f, 16.0f, 14.0f, 23.0f};
    cr_assert_eq(n, 4);
    cr_assert_arr_eq(x, want, sizeof want);
    cr_assert_float_eq(y, 1.0f, 0);
}

Test(recordio, decodes_the_sparse_test_vector_densified)
{
    uint8_t rec[64];
    size_t len = unhex(sparse_record, rec);
    cr_assert_eq(len, 36);
    float x[4] = {9, 9, 9, 9};
    size_t n = 0;
    char why[128];
    cr_assert_eq(kn_record_decode(rec, len, x, 4, &n, NULL, why, sizeof why, NULL), SF_OK, "%s",
                 why);
    float want[] = {1, 4, 0, 1};
    cr_assert_eq(n, 4);
    cr_assert_arr_eq(x, want, sizeof want);
    float y;
    cr_assert_eq(kn_record_decode(rec, len, x, 4, &n, &y, why, sizeof why, NULL), SF_EINVAL);
    cr_assert(strstr(why, "no label[\"values\"]"), "%s", why);
}

Test(recordio, writes_the_test_vectors_byte_for_byte)
{
    uint8_t want[64], got[64];
    size_t len = unhex(dense_record, want);
    float x[] = {1.5f, 16.0f, 14.0f, 23.0f}, y = 1.0f;
    kn_pb_tensor f = {.name = "values", .values = x, .n = 4};
    kn_pb_tensor l = {.name = "values", .values = &y, .n = 1};
    cr_assert_eq(kn_record_size(&f, 1, &l, 1), len);
    cr_assert_eq(kn_record_encode(&f, 1, &l, 1, got), len);
    cr_assert_arr_eq(got, want, len);

    len = unhex(sparse_record, want);
    float v[] = {1, 4, 1};
    uint64_t keys[] = {0, 1, 3};
    kn_pb_tensor s = {.name = "values", .values = v, .n = 3, .keys = keys, .shape = 4};
    cr_assert_eq(kn_record_size(&s, 1, NULL, 0), len);
    cr_assert_eq(kn_record_encode(&s, 1, NULL, 0, got), len);
    cr_assert_arr_eq(got, want, len);
}

Test(recordio, frames_the_test_vectors_as_the_facts_show)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    float x[] = {1.5f, 16.0f, 14.0f, 23.0f}, y = 1.0f;
    kn_matrix X = {.rows = 1, .cols = 4, .data = x};
    cr_assert_eq(kn_write_records(KN_CT_RECORDIO, &X, &y, f, NULL), SF_OK);
    float v[] = {1, 4, 1};
    uint64_t keys[] = {0, 1, 3};
    cr_assert_eq(kn_write_record_sparse(v, keys, 3, 4, NULL, f, NULL), SF_OK);
    fclose(f);
    uint8_t want[128];
    size_t n = unhex("0a23d7ce34000000", want);
    n += unhex(dense_record, want + n);
    n += unhex("0a23d7ce24000000", want + n);
    n += unhex(sparse_record, want + n);
    cr_assert_eq(len, 60 + 44);
    cr_assert_eq(n, len);
    cr_assert_arr_eq(buf, want, n);

    rows r;
    kn_err err = {{0}};
    cr_assert_eq(read_mem(buf, len, "t.rec", KN_CT_RECORDIO, false, &r, &err), SF_OK, "%s",
                 err.msg);
    cr_assert_eq(r.n, 2);
    float all[] = {1.5f, 16.0f, 14.0f, 23.0f, 1, 4, 0, 1};
    cr_assert_arr_eq(r.x, all, sizeof all);
    rows_free(&r);
    free(buf);
}

/* A tensor message in the other encodings: Float64, Int32, unpacked. */
Test(recordio, reads_float64_int32_and_unpacked_tensors)
{
    uint8_t rec[128];
    /* features: values -> Value{float64_tensor{values packed [2.5, -1]}} */
    size_t n = unhex("0a1e"
                     "0a0676616c756573"
                     "1214"
                     "1a12"
                     "0a10"
                     "0000000000000440"
                     "000000000000f0bf",
                     rec);
    /* label: values -> Value{int32_tensor{values unpacked 1 = -3}} */
    n += unhex("1217"
               "0a0676616c756573"
               "120d"
               "3a0b"
               "08fdffffffffffffffff01",
               rec + n);
    float x[2], y = 0;
    size_t dim = 0;
    char why[128];
    cr_assert_eq(kn_record_decode(rec, n, x, 2, &dim, &y, why, sizeof why, NULL), SF_OK, "%s", why);
    cr_assert_eq(dim, 2);
    cr_assert_float_eq(x[0], 2.5f, 0);
    cr_assert_float_eq(x[1], -1.0f, 0);
    cr_assert_float_eq(y, -3.0f, 0);

    /* float32 values unpacked (wire type 5), keys unpacked, shape packed; an
     * unknown field (uid = 3) before it all is skipped */
    n = unhex("1a03616263"
              "0a1f"
              "0a0676616c756573"
              "1215"
              "1213"
              "0d0000803f"
              "0d00004040"
              "1001"
              "1003"
              "1a0105"
              "2000",
              rec);
    cr_assert_eq(kn_record_decode(rec, n, x, 0, &dim, NULL, why, sizeof why, NULL), SF_OK, "%s",
                 why);
    cr_assert_eq(dim, 5);
    float d[5];
    cr_assert_eq(kn_record_decode(rec, n, d, 5, &dim, NULL, why, sizeof why, NULL), SF_OK);
    float want[] = {0, 1, 0, 3, 0};
    cr_assert_arr_eq(d, want, sizeof want);
}

Test(recordio, rejects_bad_records_saying_why)
{
    struct {
        const char *hex, *want;
    } cases[] = {
        {"", "no features[\"values\"]"},
        {"0a", "truncated length"},
        {"0a05", "length 5 but 0 bytes left"},
        {"0b", "wire type 3 is not supported"},
        {"0a080a06706172616d73", "no features[\"values\"]"},
        {"0a0a0a0676616c7565731200", "holds no tensor"},
        {"0a0e0a0676616c75657312044a020a00", "is a Bytes value"},
        {"0a100a0676616c756573120612040a02abcd", "packed length 2 is not a multiple of 4"},
        {"0a110a0676616c756573120712051201001a00", "is sparse (has keys) but has no shape"},
        {"0a18"
         "0a0676616c756573"
         "120e"
         "120c"
         "0a040000803f"
         "12010a"
         "1a0104",
         "key 10 is not below the shape's 4"},
        {"0a15"
         "0a0676616c756573"
         "120b"
         "1209"
         "0a040000803f"
         "1a0100",
         "shape dim 0"},
        {"0a140a0676616c756573120a12080a040000803f12", "length 20 but 19 bytes left"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t rec[128];
        size_t n = unhex(cases[i].hex, rec);
        float x[16];
        size_t dim;
        char why[256] = "";
        cr_assert_eq(kn_record_decode(rec, n, x, 16, &dim, NULL, why, sizeof why, NULL), SF_EINVAL,
                     "%s", cases[i].hex);
        cr_assert(strstr(why, cases[i].want), "%s\n  gave: %s", cases[i].hex, why);
    }
}

/* Frames data as a dmlc writer does when it holds the magic at an
 * aligned offset: split there, the magic dropped, cflag 1, 2..., 3. */
static size_t frame_split(const uint8_t *data, size_t len, uint8_t *out)
{
    static const uint8_t magic[4] = {0x0a, 0x23, 0xd7, 0xce};
    size_t o = 0, start = 0, parts = 0;
    for (size_t i = 0; i <= len; i += 4) {
        bool cut = i + 4 <= len && memcmp(data + i, magic, 4) == 0;
        if (!cut && i < len)
            continue;
        size_t plen = (i < len ? i : len) - start;
        uint32_t cflag = cut ? (parts == 0 ? 1 : 2) : (parts == 0 ? 0 : 3);
        uint32_t lrec = cflag << 29 | (uint32_t)plen;
        memcpy(out + o, magic, 4);
        for (int k = 0; k < 4; k++)
            out[o + 4 + k] = (uint8_t)(lrec >> (8 * k));
        memcpy(out + o + 8, data + start, plen);
        o += 8 + plen;
        while (o % 4)
            out[o++] = 0;
        parts++;
        start = i + 4;
        if (!cut)
            break;
    }
    return o;
}

Test(recordio, puts_multi_part_records_back_together)
{
    /* A dense record whose values hold the magic word, twice, aligned. */
    float x[6];
    uint32_t m = KN_RECORDIO_MAGIC;
    memcpy(&x[0], &m, 4);
    x[1] = 2.0f;
    memcpy(&x[2], &m, 4);
    x[3] = 4.0f;
    x[4] = 5.0f;
    x[5] = 6.0f;
    kn_pb_tensor f = {.name = "values", .values = x, .n = 6};
    uint8_t rec[128], framed[256];
    size_t len = kn_record_encode(&f, 1, NULL, 0, rec);
    /* the values start 16 bytes in: aligned */
    cr_assert_eq(memcmp(rec + 16, &m, 4), 0);
    size_t flen = frame_split(rec, len, framed);
    cr_assert_eq(framed[7] >> 5, 1); /* it was split */
    /* a whole record after it, then the split one again */
    memcpy(framed + flen, framed, flen);
    uint8_t two[512];
    memcpy(two, framed, flen);
    float y[6] = {1, 2, 3, 4, 5, 6};
    kn_pb_tensor g = {.name = "values", .values = y, .n = 6};
    uint8_t rec2[128];
    size_t len2 = kn_record_encode(&g, 1, NULL, 0, rec2);
    size_t at = flen;
    memcpy(two + at, (uint8_t[]){0x0a, 0x23, 0xd7, 0xce, (uint8_t)len2, 0, 0, 0}, 8);
    memcpy(two + at + 8, rec2, len2);
    at += 8 + len2;
    memcpy(two + at, framed, flen);
    at += flen;

    rows r;
    kn_err err = {{0}};
    cr_assert_eq(read_mem((char *)two, at, "t.rec", KN_CT_RECORDIO, false, &r, &err), SF_OK, "%s",
                 err.msg);
    cr_assert_eq(r.n, 3);
    cr_assert_arr_eq(r.x, x, sizeof x);
    cr_assert_arr_eq(r.x + 6, y, sizeof y);
    cr_assert_arr_eq(r.x + 12, x, sizeof x);
    rows_free(&r);

    /* through a small file buffer too */
    char *path = tmp_file(".rec", two, at);
    kn_reader *rd;
    cr_assert_eq(kn_reader_open_file(path, KN_CT_RECORDIO, false, 0, &rd, &err), SF_OK);
    cr_assert_eq(kn_reader_set_limits(rd, 32, 128, &err), SF_OK);
    cr_assert_eq(read_rows_unlabelled(rd, 2, &r, &err), SF_OK, "%s", err.msg);
    cr_assert_eq(r.n, 3);
    cr_assert_arr_eq(r.x + 12, x, sizeof x);
    rows_free(&r);
    kn_reader_close(&rd);
    unlink(path);
    free(path);

    /* a last part missing: the error names the first part's byte */
    cr_assert_eq(read_mem((char *)two, flen - 20, "t.rec", KN_CT_RECORDIO, false, &r, &err),
                 SF_EINVAL);
    cr_assert(strstr(err.msg, "t.rec byte 0: the multi-part record has no last part"), "%s",
              err.msg);
}

static char *labelled_file(size_t n, size_t dim, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    float *x = malloc(n * dim * sizeof *x), *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n * dim; i++)
        x[i] = (float)i / 7.0f - 3.0f;
    for (size_t i = 0; i < n; i++)
        y[i] = (float)(i % 3);
    kn_matrix X = {.rows = n, .cols = dim, .data = x};
    cr_assert_eq(kn_write_records(KN_CT_RECORDIO, &X, y, f, NULL), SF_OK);
    fclose(f);
    free(x);
    free(y);
    return buf;
}

Test(recordio, a_file_streams_with_labels_through_a_small_buffer)
{
    size_t len;
    char *data = labelled_file(500, 13, &len);
    char *path = tmp_file(".rec", data, len);
    rows whole, streamed;
    kn_err err = {{0}};
    cr_assert_eq(read_mem(data, len, "t.rec", KN_CT_RECORDIO, true, &whole, &err), SF_OK, "%s",
                 err.msg);
    cr_assert_eq(whole.n, 500);
    cr_assert_eq(whole.dim, 13);
    cr_assert_float_eq(whole.x[13 * 499 + 12], (float)(13 * 499 + 12) / 7.0f - 3.0f, 0);
    cr_assert_float_eq(whole.y[499], 1.0f, 0);
    kn_reader *rd;
    cr_assert_eq(kn_reader_open_file(path, KN_CT_RECORDIO, true, 0, &rd, &err), SF_OK);
    cr_assert_eq(kn_reader_set_limits(rd, 100, 200, &err), SF_OK);
    for (int pass = 0; pass < 2; pass++) {
        cr_assert_eq(read_rows(rd, 9, &streamed, &err), SF_OK, "%s", err.msg);
        cr_assert_eq(streamed.n, 500);
        cr_assert_arr_eq(streamed.x, whole.x, 500 * 13 * sizeof(float));
        cr_assert_arr_eq(streamed.y, whole.y, 500 * sizeof(float));
        rows_free(&streamed);
        cr_assert_eq(kn_reader_rewind(rd, &err), SF_OK);
    }
    kn_reader_close(&rd);
    unlink(path);
    free(path);
    free(data);
    rows_free(&whole);
}

Test(recordio, framing_errors_name_the_byte)
{
    size_t len;
    char *data = labelled_file(3, 2, &len); /* 3 records of 44 bytes, 52 framed */
    cr_assert_eq(len, 3 * 52);
    rows r;
    kn_err err = {{0}};
    data[52] = 0x0b;
    cr_assert_eq(read_mem(data, len, "data.rec", KN_CT_RECORDIO, true, &r, &err), SF_EINVAL);
    cr_assert_str_eq(err.msg, "ClientError: data.rec byte 52: bad RecordIO magic 0xced7230b "
                              "(expected 0xced7230a)");
    rows_free(&r);
    data[52] = 0x0a;
    cr_assert_eq(read_mem(data, len - 5, "data.rec", KN_CT_RECORDIO, true, &r, &err), SF_EINVAL);
    cr_assert(strstr(err.msg, "data.rec byte 104: truncated record: the header says 44 bytes, 39"),
              "%s", err.msg);
    rows_free(&r);
    cr_assert_eq(read_mem(data, len - 48, "data.rec", KN_CT_RECORDIO, true, &r, &err), SF_EINVAL);
    cr_assert(strstr(err.msg, "byte 104: truncated RecordIO header: 4 bytes of 8"), "%s", err.msg);
    rows_free(&r);
    data[104 + 7] = 0x40; /* cflag 2 with no first part */
    cr_assert_eq(read_mem(data, len, "data.rec", KN_CT_RECORDIO, true, &r, &err), SF_EINVAL);
    cr_assert(strstr(err.msg, "byte 104: a continuation part (flag 2) with no first part"), "%s",
              err.msg);
    rows_free(&r);
    data[104 + 7] = 0;
    data[52 + 8] = 0x7f; /* the second record's first tag: field 15, wire type 7 */
    cr_assert_eq(read_mem(data, len, "data.rec", KN_CT_RECORDIO, true, &r, &err), SF_EINVAL);
    cr_assert(strstr(err.msg, "data.rec byte 52: bad Record (its byte 0): field 15: wire type 7"),
              "%s", err.msg);
    rows_free(&r);
    free(data);
}

Test(recordio, a_missing_label_is_named)
{
    uint8_t frame[64];
    size_t n = unhex("0a23d7ce24000000", frame);
    n += unhex(sparse_record, frame + n);
    rows r;
    kn_err err = {{0}};
    cr_assert_eq(read_mem((char *)frame, n, "t.rec", KN_CT_RECORDIO, true, &r, &err), SF_EINVAL);
    cr_assert(strstr(err.msg, "t.rec byte 0: bad Record"), "%s", err.msg);
    cr_assert(strstr(err.msg, "no label[\"values\"]"), "%s", err.msg);
}

Test(recordio, the_last_record_may_lack_its_padding)
{
    float v = 7; /* sparse [0,0,0,7,0]: a record of 26 bytes, padded by 2 */
    uint64_t key = 3;
    float x[] = {0, 0, 0, 7, 0};
    kn_pb_tensor f = {.name = "values", .values = &v, .n = 1, .keys = &key, .shape = 5};
    uint8_t rec[64], frame[64];
    size_t len = kn_record_encode(&f, 1, NULL, 0, rec);
    cr_assert_neq(len % 4, 0);
    memcpy(frame, (uint8_t[]){0x0a, 0x23, 0xd7, 0xce, (uint8_t)len, 0, 0, 0}, 8);
    memcpy(frame + 8, rec, len);
    rows r;
    kn_err err = {{0}};
    cr_assert_eq(read_mem((char *)frame, 8 + len, "t.rec", KN_CT_RECORDIO, false, &r, &err), SF_OK,
                 "%s", err.msg);
    cr_assert_eq(r.n, 1);
    cr_assert_arr_eq(r.x, x, sizeof x);
    rows_free(&r);
}

Test(recordio, a_record_over_the_limit_is_refused_before_reading_it)
{
    size_t len;
    char *data = labelled_file(2, 64, &len); /* records of ~280 bytes */
    char *path = tmp_file(".rec", data, len);
    kn_reader *rd;
    kn_err err = {{0}};
    cr_assert_eq(kn_reader_open_file(path, KN_CT_RECORDIO, true, 0, &rd, &err), SF_OK);
    cr_assert_eq(kn_reader_set_limits(rd, 64, 128, &err), SF_OK);
    rows r;
    cr_assert_eq(read_rows(rd, 2, &r, &err), SF_ELIMIT);
    cr_assert(strstr(err.msg, "byte 0: a record of"), "%s", err.msg);
    cr_assert(strstr(err.msg, "over the limit of 128"), "%s", err.msg);
    kn_reader_close(&rd);
    unlink(path);
    free(path);
    free(data);
}
