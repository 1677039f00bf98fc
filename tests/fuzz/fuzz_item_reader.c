/* tests/fuzz/fuzz_item_reader.c - libFuzzer harness for the Distributed
 * Map ItemReader (and, for JSON arrays, the ResultWriter).
 *
 * Each input is stored as one object in a temporary local store and read
 * as JSON, JSONL, CSV (FIRST_ROW, and GIVEN with PIPE and a MaxItems) and
 * MANIFEST. Nothing may crash or leak, and every outcome must be
 * well-formed: success gives an array and no error, failure gives no items
 * and an ASL error name with a cause. If the input is a JSON array it is
 * also written out as Map results. Links sf_integ as well as sf_asl. */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "coordinator/integrations/map_io.h"

static char root[64];
static integ_objstore *store;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static void cleanup(void)
{
    integ_objstore_destroy(&store);
    if (root[0])
        nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* One store for the whole run, in memory where possible: puts fsync. */
static integ_objstore *the_store(void)
{
    if (store)
        return store;
    struct stat sb;
    strcpy(root, stat("/dev/shm", &sb) == 0 ? "/dev/shm/sf-fuzz-XXXXXX" : "/tmp/sf-fuzz-XXXXXX");
    if (!mkdtemp(root))
        abort();
    store = integ_objstore_local_new(root);
    if (!store)
        abort();
    atexit(cleanup);
    return store;
}

static void read_as(const char *cfg_text, size_t max_items)
{
    json_t *cfg = json_loads(cfg_text, 0, NULL);
    json_t *spec = json_pack("{s:s,s:o,s:{s:s,s:s}}", "Resource", "arn:aws:states:::s3:getObject",
                             "ReaderConfig", cfg, "Parameters", "Bucket", "b", "Key", "in/obj");
    if (!spec)
        abort();
    json_t *items = NULL;
    asl_err err = {0};
    sf_rc rc = integ_read_items(the_store(), spec, &items, &err);
    if (rc == SF_OK) {
        if (!json_is_array(items) || err.error)
            abort();
        if (max_items && json_array_size(items) > max_items)
            abort();
    } else {
        if (items || !err.error || !err.cause)
            abort();
        if (strcmp(err.error, "States.ItemReaderFailed") != 0)
            abort();
    }
    json_decref(items);
    asl_err_clear(&err);
    json_decref(spec);
}

static void write_results(json_t *results)
{
    json_t *req = json_pack("{s:{s:s,s:{s:s,s:s}},s:s,s:O}", "ResultWriter", "Resource",
                            "arn:aws:states:::s3:putObject", "Parameters", "Bucket", "out",
                            "Prefix", "res", "MapRunArn",
                            "arn:aws:states:us-east-1:1:mapRun:sm/Map:f00d", "Results", results);
    if (!req)
        abort();
    json_t *details = NULL;
    asl_err err = {0};
    sf_rc rc = integ_write_results(the_store(), req, &details, &err);
    if ((rc == SF_OK) != (details != NULL) || (rc == SF_OK) == (err.error != NULL))
        abort();
    json_decref(details);
    asl_err_clear(&err);
    json_decref(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (integ_objstore_put(the_store(), "b", "in/obj", data, size) != SF_OK)
        abort();
    read_as("{\"InputType\":\"JSON\"}", 0);
    read_as("{\"InputType\":\"JSONL\"}", 0);
    read_as("{\"InputType\":\"CSV\",\"CSVHeaderLocation\":\"FIRST_ROW\"}", 0);
    read_as("{\"InputType\":\"CSV\",\"CSVHeaderLocation\":\"GIVEN\",\"CSVHeaders\":[\"a\",\"b\"],"
            "\"CSVDelimiter\":\"PIPE\",\"MaxItems\":3}",
            3);
    read_as("{\"InputType\":\"MANIFEST\"}", 0);

    json_t *doc = json_loadb((const char *)data, size, 0, NULL);
    if (json_is_array(doc))
        write_results(doc);
    json_decref(doc);
    return 0;
}
