/* tests/integrations/test_map_io.c - Distributed Map ItemReader and
 * ResultWriter over the local object store.
 *
 * Each test stores objects in a fresh mkdtemp store, runs the reader or
 * writer with an AWS-shaped spec and compares items, files and error names
 * with what AWS documents. */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coordinator/integrations/map_io.h"

static char root[256];
static integ_objstore *st;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static void setup(void)
{
    strcpy(root, "/tmp/sf-mapio-XXXXXX");
    cr_assert(mkdtemp(root));
    st = integ_objstore_local_new(root);
    cr_assert(st);
}

static void teardown(void)
{
    integ_objstore_destroy(&st);
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(map_io, .init = setup, .fini = teardown);

/* ---- helpers ---- */

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    cr_assert(v, "bad JSON in test: %s (%s)", text, e.text);
    return v;
}

static void put(const char *key, const char *text)
{
    cr_assert_eq(integ_objstore_put(st, "b", key, text, strlen(text)), SF_OK);
}

/* Reads with ReaderConfig cfg (JSON text) from s3://b/key; returns the
 * items or NULL with *err set. */
static json_t *read_items(const char *key, const char *cfg, asl_err *err, sf_rc *rc_out)
{
    json_t *spec = json_pack("{s:s,s:o,s:{s:s,s:s}}", "Resource", "arn:aws:states:::s3:getObject",
                             "ReaderConfig", parse(cfg), "Parameters", "Bucket", "b", "Key", key);
    json_t *items = (json_t *)1;
    sf_rc rc = integ_read_items(st, spec, &items, err);
    json_decref(spec);
    if (rc_out)
        *rc_out = rc;
    if (rc != SF_OK) {
        cr_assert_null(items);
        cr_assert_str_eq(err->error, "States.ItemReaderFailed");
        cr_assert(err->cause);
        return NULL;
    }
    cr_assert_null(err->error);
    return items;
}

/* Items must equal want (JSON text). */
static void expect_items(const char *key, const char *cfg, const char *want)
{
    asl_err err = {0};
    json_t *items = read_items(key, cfg, &err, NULL);
    cr_assert(items, "read failed: %s", err.cause);
    json_t *w = parse(want);
    char *got = json_dumps(items, JSON_COMPACT | JSON_ENCODE_ANY);
    cr_expect(json_equal(items, w), "got %s\nwant %s", got, want);
    free(got);
    json_decref(w);
    json_decref(items);
}

/* The read must fail with a cause containing each of the strings. */
static void expect_failure(const char *key, const char *cfg, const char *sub1, const char *sub2)
{
    asl_err err = {0};
    json_t *items = read_items(key, cfg, &err, NULL);
    cr_assert_null(items);
    cr_expect(strstr(err.cause, sub1), "cause '%s' lacks '%s'", err.cause, sub1);
    if (sub2)
        cr_expect(strstr(err.cause, sub2), "cause '%s' lacks '%s'", err.cause, sub2);
    asl_err_clear(&err);
}

/* ---- JSON, JSONL ---- */

Test(map_io, reads_json_array)
{
    put("in/items.json", "\xef\xbb\xbf [ {\"a\":1}, \"two\", 3, null ]");
    expect_items("in/items.json", "{\"InputType\":\"JSON\"}", "[{\"a\":1},\"two\",3,null]");
    expect_items("in/items.json", "{\"InputType\":\"JSON\",\"MaxItems\":2}", "[{\"a\":1},\"two\"]");
    expect_items("in/items.json", "{}", "[{\"a\":1},\"two\",3,null]"); /* JSON by default */
}

Test(map_io, rejects_json_that_is_not_an_array)
{
    put("obj.json", "{\"Items\":[1]}");
    expect_failure("obj.json", "{\"InputType\":\"JSON\"}", "s3://b/obj.json", "JSON array");
    put("bad.json", "[1,\n2,\n oops]");
    expect_failure("bad.json", "{\"InputType\":\"JSON\"}", "line 3", "byte");
}

Test(map_io, reads_jsonl_skipping_blank_lines)
{
    put("x.jsonl", "{\"n\":1}\n\n  \r\n[2]\r\n\"three\"\n4");
    expect_items("x.jsonl", "{\"InputType\":\"JSONL\"}", "[{\"n\":1},[2],\"three\",4]");
    expect_items("x.jsonl", "{\"InputType\":\"JSONL\",\"MaxItems\":1}", "[{\"n\":1}]");
}

Test(map_io, reports_line_of_bad_jsonl)
{
    put("bad.jsonl", "{\"n\":1}\n\n{\"n\":2}\n{\"n\":}\n{\"n\":4}\n");
    expect_failure("bad.jsonl", "{\"InputType\":\"JSONL\"}", "line 4", "s3://b/bad.jsonl");
    /* Two values on one line are not one JSON value. */
    put("two.jsonl", "1 2\n");
    expect_failure("two.jsonl", "{\"InputType\":\"JSONL\"}", "line 1", NULL);
    /* MaxItems stops before a bad line is ever read. */
    expect_items("bad.jsonl", "{\"InputType\":\"JSONL\",\"MaxItems\":2}", "[{\"n\":1},{\"n\":2}]");
}

/* ---- CSV ---- */

Test(map_io, reads_csv_with_quoted_commas)
{
    put("r.csv", "name,quote,n\r\n"
                 "alice,\"Hello, world\",1\r\n"
                 "bob,\"He said \"\"hi\"\"\",2\n"
                 "\n"
                 "carol,\"two\nlines\",3\n");
    expect_items("r.csv", "{\"InputType\":\"CSV\",\"CSVHeaderLocation\":\"FIRST_ROW\"}",
                 "[{\"name\":\"alice\",\"quote\":\"Hello, world\",\"n\":\"1\"},"
                 "{\"name\":\"bob\",\"quote\":\"He said \\\"hi\\\"\",\"n\":\"2\"},"
                 "{\"name\":\"carol\",\"quote\":\"two\\nlines\",\"n\":\"3\"}]");
}

Test(map_io, reads_csv_like_aws_example)
{
    /* The example of AWS's "How Step Functions parses input CSV files". */
    put("my.csv", "abc,123,\"This string contains commas, a double quotation marks (\"\"), and a "
                  "newline (\n)\",{\"\"MyKey\"\":\"\"MyValue\"\"},\"[1,2,3]\"\n");
    expect_items("my.csv",
                 "{\"InputType\":\"CSV\",\"CSVHeaderLocation\":\"GIVEN\",\"CSVHeaders\":"
                 "[\"MyLetters\",\"MyNumbers\",\"MyString\",\"MyObject\",\"MyArray\"]}",
                 "[{\"MyLetters\":\"abc\",\"MyNumbers\":\"123\",\"MyString\":\"This string "
                 "contains commas, a double quotation marks (\\\"), and a newline (\\n)\","
                 "\"MyObject\":\"{\\\"MyKey\\\":\\\"MyValue\\\"}\",\"MyArray\":\"[1,2,3]\"}]");
}

Test(map_io, csv_short_rows_fill_and_long_rows_drop)
{
    put("s.csv", "a|b|c\n1\n1|2|3|4|5\n|x|\n");
    expect_items("s.csv", "{\"InputType\":\"CSV\",\"CSVDelimiter\":\"PIPE\"}",
                 "[{\"a\":\"1\",\"b\":\"\",\"c\":\"\"},{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"},"
                 "{\"a\":\"\",\"b\":\"x\",\"c\":\"\"}]");
    put("t.tsv", "x\ty\n1\t2\n");
    expect_items("t.tsv", "{\"InputType\":\"CSV\",\"CSVDelimiter\":\"TAB\",\"MaxItems\":1}",
                 "[{\"x\":\"1\",\"y\":\"2\"}]");
    /* GIVEN headers: the first row is data. */
    expect_items("t.tsv",
                 "{\"InputType\":\"CSV\",\"CSVDelimiter\":\"TAB\",\"CSVHeaderLocation\":\"GIVEN\","
                 "\"CSVHeaders\":[\"p\",\"q\"]}",
                 "[{\"p\":\"x\",\"q\":\"y\"},{\"p\":\"1\",\"q\":\"2\"}]");
}

Test(map_io, csv_empty_quoted_fields_are_empty_strings)
{
    /* A record of empty quoted fields holds no bytes at all. */
    put("q.csv", "\"\",\"\"\n\"\"\n");
    expect_items("q.csv", "{\"InputType\":\"CSV\"}", "[{\"\":\"\"}]");
}

Test(map_io, csv_backslash_escapes_like_aws)
{
    put("p.csv", "path,size\nC:\\\\Program Files\\\\MyApp.exe,6534512\na\\,b,\\\"q\\\"\n");
    expect_items("p.csv", "{\"InputType\":\"CSV\"}",
                 "[{\"path\":\"C:\\\\Program Files\\\\MyApp.exe\",\"size\":\"6534512\"},"
                 "{\"path\":\"a,b\",\"size\":\"\\\"q\\\"\"}]");
}

Test(map_io, csv_errors_name_the_line)
{
    put("u.csv", "a,b\n1,2\n3,\"never closed\n4,5\n");
    expect_failure("u.csv", "{\"InputType\":\"CSV\"}", "line 3", "never closed");
    put("e.csv", "");
    expect_failure("e.csv", "{\"InputType\":\"CSV\"}", "empty", NULL);
    put("ok.csv", "a\n1\n");
    expect_failure("ok.csv", "{\"InputType\":\"CSV\",\"CSVDelimiter\":\"COLON\"}", "CSVDelimiter",
                   NULL);
    expect_failure("ok.csv", "{\"InputType\":\"CSV\",\"CSVHeaderLocation\":\"GIVEN\"}",
                   "CSVHeaders", NULL);
    put("bin.csv", "a\n\xff\xfe\n");
    expect_failure("bin.csv", "{\"InputType\":\"CSV\"}", "line 2", "UTF-8");
    /* AWS accepts CSV headers up to 10 KB. */
    char big[12000];
    memset(big, 'h', sizeof big - 2);
    big[sizeof big - 2] = '\n';
    big[sizeof big - 1] = '\0';
    put("wide.csv", big);
    expect_failure("wide.csv", "{\"InputType\":\"CSV\"}", "header", NULL);
}

/* ---- MANIFEST, listObjectsV2, failures ---- */

Test(map_io, reads_inventory_manifest)
{
    put("inv.csv", "\"b\",\"photos/1.jpg\",\"123\"\n\"b\",\"photos/2.jpg\",\"456\"\n");
    expect_items("inv.csv", "{\"InputType\":\"MANIFEST\"}",
                 "[{\"Bucket\":\"b\",\"Key\":\"photos/1.jpg\"},{\"Bucket\":\"b\",\"Key\":"
                 "\"photos/2.jpg\"}]");
    put("inv/manifest.json", "{\"sourceBucket\":\"src\",\"destinationBucket\":\"arn:aws:s3:::b\","
                             "\"fileFormat\":\"CSV\",\"files\":[{\"key\":\"inv.csv\"},"
                             "{\"key\":\"inv.csv\"}]}");
    expect_items("inv/manifest.json", "{\"InputType\":\"MANIFEST\",\"MaxItems\":3}",
                 "[{\"Bucket\":\"b\",\"Key\":\"photos/1.jpg\"},{\"Bucket\":\"b\",\"Key\":"
                 "\"photos/2.jpg\"},{\"Bucket\":\"b\",\"Key\":\"photos/1.jpg\"}]");
    put("gz/manifest.json", "{\"files\":[{\"key\":\"data/x.csv.gz\"}]}");
    expect_failure("gz/manifest.json", "{\"InputType\":\"MANIFEST\"}", "compressed", NULL);
    put("short.csv", "onlybucket\n");
    expect_failure("short.csv", "{\"InputType\":\"MANIFEST\"}", "line 1", NULL);
}

Test(map_io, list_objects_v2_items_sorted)
{
    put("data/2.txt", "22");
    put("data/10.txt", "1");
    put("data/sub/1.txt", "333");
    put("other.txt", "x");
    json_t *spec = parse("{\"Resource\":\"arn:aws:states:::s3:listObjectsV2\","
                         "\"Parameters\":{\"Bucket\":\"b\",\"Prefix\":\"data/\"}}");
    json_t *items = NULL;
    asl_err err = {0};
    cr_assert_eq(integ_read_items(st, spec, &items, &err), SF_OK, "%s", err.cause);
    cr_assert_eq(json_array_size(items), 3);
    static const char *const want[] = {"data/10.txt", "data/2.txt", "data/sub/1.txt"};
    static const int sizes[] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        json_t *o = json_array_get(items, (size_t)i);
        cr_expect_str_eq(json_string_value(json_object_get(o, "Key")), want[i]);
        cr_expect_eq(json_integer_value(json_object_get(o, "Size")), sizes[i]);
        cr_expect(json_is_string(json_object_get(o, "Etag")));
        cr_expect_gt(json_integer_value(json_object_get(o, "LastModified")), 1600000000);
        cr_expect_str_eq(json_string_value(json_object_get(o, "StorageClass")), "STANDARD");
    }
    json_decref(items);

    json_object_set_new(spec, "ReaderConfig", json_pack("{s:i}", "MaxItems", 1));
    cr_assert_eq(integ_read_items(st, spec, &items, &err), SF_OK);
    cr_assert_eq(json_array_size(items), 1);
    json_decref(items);

    json_object_set_new(json_object_get(spec, "Parameters"), "Bucket", json_string("nobucket"));
    cr_assert_neq(integ_read_items(st, spec, &items, &err), SF_OK);
    cr_expect_str_eq(err.error, "States.ItemReaderFailed");
    asl_err_clear(&err);
    json_decref(spec);
}

Test(map_io, missing_or_huge_object_is_item_reader_failed)
{
    sf_rc rc;
    asl_err err = {0};
    cr_assert_null(read_items("absent.json", "{\"InputType\":\"JSON\"}", &err, &rc));
    cr_expect_eq(rc, SF_ENOTFOUND);
    cr_expect(strstr(err.cause, "s3://b/absent.json"), "%s", err.cause);
    asl_err_clear(&err);

    /* A sparse 300 MiB file: refused by size, never read. */
    put("huge.json", "[]");
    char path[400];
    snprintf(path, sizeof path, "%s/b/huge.json", root);
    int fd = open(path, O_WRONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, (off_t)300 << 20), 0);
    close(fd);
    cr_assert_null(read_items("huge.json", "{\"InputType\":\"JSON\"}", &err, &rc));
    cr_expect_eq(rc, SF_ELIMIT);
    cr_expect(strstr(err.cause, "MiB"), "%s", err.cause);
    asl_err_clear(&err);

    put("ok.json", "[1]");
    cr_assert_null(read_items("ok.json", "{\"InputType\":\"XML\"}", &err, &rc));
    asl_err_clear(&err);
    cr_assert_null(read_items("ok.json", "{\"InputType\":\"JSON\",\"MaxItems\":-1}", &err, &rc));
    asl_err_clear(&err);
    cr_assert_null(read_items("../../etc/passwd", "{\"InputType\":\"JSON\"}", &err, &rc));
    cr_expect_eq(rc, SF_EINVAL);
    asl_err_clear(&err);

    json_t *spec = parse("{\"Resource\":\"arn:aws:states:::s3:getObjectAttributes\","
                         "\"Parameters\":{\"Bucket\":\"b\",\"Key\":\"ok.json\"}}");
    json_t *items = NULL;
    cr_assert_neq(integ_read_items(st, spec, &items, &err), SF_OK);
    cr_expect_str_eq(err.error, "States.ItemReaderFailed");
    asl_err_clear(&err);
    json_decref(spec);
}

/* ---- ResultWriter ---- */

static json_t *get_json(const char *bucket, const char *key, size_t *size)
{
    char *data = NULL;
    size_t len = 0;
    cr_assert_eq(integ_objstore_get(st, bucket, key, 1 << 20, &data, &len), SF_OK, "get %s", key);
    json_t *v = parse(data);
    free(data);
    if (size)
        *size = len;
    return v;
}

static json_t *write_req(const char *prefix, const char *results)
{
    return json_pack("{s:{s:s,s:{s:s,s:s}},s:s,s:o}", "ResultWriter", "Resource",
                     "arn:aws:states:::s3:putObject", "Parameters", "Bucket", "out", "Prefix",
                     prefix, "MapRunArn",
                     "arn:aws:states:us-east-1:123456789012:execution:sm:run1/Map:0a1b2c3d",
                     "Results", parse(results));
}

Test(map_io, writer_writes_manifest_and_result_files)
{
    json_t *req = write_req("results/", "[{\"v\":1},{\"Error\":\"Boom\",\"Cause\":\"bad\"},\"s\","
                                        "{\"Error\":\"X\",\"Cause\":null,\"more\":1}]");
    json_t *details = NULL;
    asl_err err = {0};
    cr_assert_eq(integ_write_results(st, req, &details, &err), SF_OK, "%s", err.cause);
    cr_assert_null(err.error);
    json_t *want = parse("{\"Bucket\":\"out\",\"Key\":\"results/0a1b2c3d/manifest.json\"}");
    cr_assert(json_equal(details, want));
    json_decref(want);

    json_t *m = get_json("out", "results/0a1b2c3d/manifest.json", NULL);
    cr_expect_str_eq(json_string_value(json_object_get(m, "DestinationBucket")), "out");
    cr_expect_str_eq(json_string_value(json_object_get(m, "MapRunArn")),
                     json_string_value(json_object_get(req, "MapRunArn")));
    json_t *rf = json_object_get(m, "ResultFiles");
    cr_assert_eq(json_array_size(json_object_get(rf, "PENDING")), 0);
    json_t *sf = json_array_get(json_object_get(rf, "SUCCEEDED"), 0);
    json_t *ff = json_array_get(json_object_get(rf, "FAILED"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(sf, "Key")),
                     "results/0a1b2c3d/SUCCEEDED_0.json");
    cr_assert_str_eq(json_string_value(json_object_get(ff, "Key")),
                     "results/0a1b2c3d/FAILED_0.json");

    size_t size = 0;
    json_t *succ = get_json("out", "results/0a1b2c3d/SUCCEEDED_0.json", &size);
    cr_expect_eq((json_int_t)size, json_integer_value(json_object_get(sf, "Size")));
    cr_assert_eq(json_array_size(succ), 3, "the extra-key object is an output, not a failure");
    json_t *e0 = json_array_get(succ, 0);
    cr_expect_str_eq(json_string_value(json_object_get(e0, "Output")), "{\"v\":1}");
    cr_expect_str_eq(json_string_value(json_object_get(e0, "Status")), "SUCCEEDED");
    cr_expect_str_eq(json_string_value(json_object_get(e0, "RedriveStatus")), "NOT_REDRIVABLE");
    cr_expect_eq(json_integer_value(json_object_get(e0, "RedriveCount")), 0);
    cr_expect(json_is_true(json_object_get(json_object_get(e0, "OutputDetails"), "Included")));
    cr_expect(json_is_null(json_object_get(e0, "Input")));
    cr_expect(json_is_string(json_object_get(e0, "ExecutionArn")));
    cr_expect(json_is_string(json_object_get(e0, "StartDate")));
    cr_expect(json_is_string(json_object_get(e0, "StopDate")));
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(succ, 1), "Output")),
                     "\"s\"");
    json_decref(succ);

    json_t *fail = get_json("out", "results/0a1b2c3d/FAILED_0.json", &size);
    cr_expect_eq((json_int_t)size, json_integer_value(json_object_get(ff, "Size")));
    cr_assert_eq(json_array_size(fail), 1);
    json_t *f0 = json_array_get(fail, 0);
    cr_expect_str_eq(json_string_value(json_object_get(f0, "Error")), "Boom");
    cr_expect_str_eq(json_string_value(json_object_get(f0, "Cause")), "bad");
    cr_expect_str_eq(json_string_value(json_object_get(f0, "Status")), "FAILED");
    cr_expect_null(json_object_get(f0, "Output"));
    json_decref(fail);
    json_decref(m);
    json_decref(details);
    json_decref(req);
}

Test(map_io, writer_uses_inputs_when_given_and_skips_empty_statuses)
{
    json_t *req = write_req("", "[1,2]");
    json_object_set_new(req, "Inputs", parse("[{\"i\":0},{\"i\":1}]"));
    json_t *details = NULL;
    asl_err err = {0};
    cr_assert_eq(integ_write_results(st, req, &details, &err), SF_OK, "%s", err.cause);
    cr_expect_str_eq(json_string_value(json_object_get(details, "Key")), "0a1b2c3d/manifest.json");
    json_t *m = get_json("out", "0a1b2c3d/manifest.json", NULL);
    cr_expect_eq(json_array_size(json_object_get(json_object_get(m, "ResultFiles"), "FAILED")), 0);
    char *d = NULL;
    size_t n = 0;
    cr_expect_eq(integ_objstore_get(st, "out", "0a1b2c3d/FAILED_0.json", 100, &d, &n),
                 SF_ENOTFOUND);
    json_t *succ = get_json("out", "0a1b2c3d/SUCCEEDED_0.json", NULL);
    json_t *e1 = json_array_get(succ, 1);
    cr_expect_str_eq(json_string_value(json_object_get(e1, "Input")), "{\"i\":1}");
    cr_expect(json_is_true(json_object_get(json_object_get(e1, "InputDetails"), "Included")));
    json_decref(succ);
    json_decref(m);
    json_decref(details);
    json_decref(req);
}

Test(map_io, writer_sanitises_run_id_and_refuses_bad_prefix)
{
    json_t *req = write_req("p", "[]");
    json_object_set_new(req, "MapRunArn", json_string("arn:x:states:::mapRun:sm/../..:.."));
    json_t *details = NULL;
    asl_err err = {0};
    cr_assert_eq(integ_write_results(st, req, &details, &err), SF_OK, "%s", err.cause);
    const char *key = json_string_value(json_object_get(details, "Key"));
    cr_assert(key);
    cr_expect_str_eq(key, "p/_./manifest.json");
    json_decref(details);

    json_object_set_new(json_object_get(json_object_get(req, "ResultWriter"), "Parameters"),
                        "Prefix", json_string("../escape"));
    cr_assert_neq(integ_write_results(st, req, &details, &err), SF_OK);
    cr_assert_null(details);
    cr_expect_str_eq(err.error, "States.ResultWriterFailed");
    asl_err_clear(&err);

    json_object_del(req, "Results");
    cr_assert_neq(integ_write_results(st, req, &details, &err), SF_OK);
    cr_expect_str_eq(err.error, "States.ResultWriterFailed");
    asl_err_clear(&err);
    json_decref(req);
}
