/* tests/integrations/test_objstore.c - the local-directory object store.
 *
 * Each test gets a fresh mkdtemp root with the store at ROOT/data, so that
 * an escape attempt would land in ROOT, where the tests look for it. */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, symlink */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coordinator/integrations/objstore.h"

static char root[256];
static char data_root[300];
static integ_objstore *st;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static void setup(void)
{
    strcpy(root, "/tmp/sf-objstore-XXXXXX");
    cr_assert(mkdtemp(root));
    snprintf(data_root, sizeof data_root, "%s/data/nested", root);
    st = integ_objstore_local_new(data_root); /* also checks mkdir -p of the root */
    cr_assert(st);
}

static void teardown(void)
{
    integ_objstore_destroy(&st);
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(objstore, .init = setup, .fini = teardown);

static bool exists(const char *fmt, const char *a)
{
    char p[1024];
    snprintf(p, sizeof p, fmt, a);
    struct stat sb;
    return lstat(p, &sb) == 0;
}

static size_t count_dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert(d, "cannot open %s", dir);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

Test(objstore, put_is_atomic_and_get_reads_back)
{
    cr_assert_eq(integ_objstore_put(st, "b", "deep/er/obj.json", "[1,2]", 5), SF_OK);
    char *data = NULL;
    size_t len = 0;
    cr_assert_eq(integ_objstore_get(st, "b", "deep/er/obj.json", 100, &data, &len), SF_OK);
    cr_assert_eq(len, 5);
    cr_assert_str_eq(data, "[1,2]");
    free(data);

    /* Replacing leaves exactly one file: the temp file was renamed away. */
    cr_assert_eq(integ_objstore_put(st, "b", "deep/er/obj.json", "{}", 2), SF_OK);
    cr_assert_eq(integ_objstore_get(st, "b", "deep/er/obj.json", 100, &data, &len), SF_OK);
    cr_assert_eq(len, 2);
    cr_assert_str_eq(data, "{}");
    free(data);
    char dir[400];
    snprintf(dir, sizeof dir, "%s/b/deep/er", data_root);
    cr_assert_eq(count_dir_entries(dir), 1);

    /* Empty objects are objects. */
    cr_assert_eq(integ_objstore_put(st, "b", "empty", NULL, 0), SF_OK);
    cr_assert_eq(integ_objstore_get(st, "b", "empty", 100, &data, &len), SF_OK);
    cr_assert_eq(len, 0);
    cr_assert_str_eq(data, "");
    free(data);
}

Test(objstore, get_reports_missing_and_oversized)
{
    char *data = (char *)1;
    size_t len = 7;
    cr_assert_eq(integ_objstore_get(st, "b", "nope", 100, &data, &len), SF_ENOTFOUND);
    cr_assert_null(data);
    cr_assert_eq(integ_objstore_put(st, "b", "dir/x", "x", 1), SF_OK);
    cr_assert_eq(integ_objstore_get(st, "b", "dir", 100, &data, &len), SF_ENOTFOUND);
    cr_assert_eq(integ_objstore_get(st, "b", "dir/x/y", 100, &data, &len), SF_ENOTFOUND);
    cr_assert_eq(integ_objstore_get(st, "other", "dir/x", 100, &data, &len), SF_ENOTFOUND);
    cr_assert_eq(integ_objstore_put(st, "b", "big", "0123456789", 10), SF_OK);
    cr_assert_eq(integ_objstore_get(st, "b", "big", 9, &data, &len), SF_ELIMIT);
    cr_assert_null(data);
    cr_assert_eq(integ_objstore_get(st, "b", "big", 10, &data, &len), SF_OK);
    free(data);
}

Test(objstore, refuses_keys_escaping_root)
{
    static const char *const bad_keys[] = {
        "", "..", "../x", "a/../../x", "../../../x", "/abs", "/tmp/x", "a//b", "a/", ".",
        "./a", "a/./b", ".sf-tmp-1", "a/.sf-tmp-2/b",
    };
    for (size_t i = 0; i < sizeof bad_keys / sizeof *bad_keys; i++) {
        cr_expect_eq(integ_objstore_put(st, "b", bad_keys[i], "x", 1), SF_EINVAL, "put key '%s'",
                     bad_keys[i]);
        char *d = NULL;
        size_t n = 0;
        cr_expect_eq(integ_objstore_get(st, "b", bad_keys[i], 10, &d, &n), SF_EINVAL,
                     "get key '%s'", bad_keys[i]);
    }
    static const char *const bad_buckets[] = {"", ".", "..", "a/b", "../x", "/"};
    for (size_t i = 0; i < sizeof bad_buckets / sizeof *bad_buckets; i++) {
        cr_expect_eq(integ_objstore_put(st, bad_buckets[i], "k", "x", 1), SF_EINVAL,
                     "put bucket '%s'", bad_buckets[i]);
        json_t *l = NULL;
        cr_expect_eq(integ_objstore_list(st, bad_buckets[i], "", 0, &l), SF_EINVAL);
    }
    cr_assert_eq(integ_objstore_put(st, NULL, "k", "x", 1), SF_EINVAL);
    cr_assert_eq(integ_objstore_put(st, "b", NULL, "x", 1), SF_EINVAL);
    /* Nothing landed next to the store or above it. */
    cr_assert_not(exists("%s/x", root));
    cr_assert_not(exists("%s/data/x", root));
    cr_assert_not(exists("%s/k", root));
}

Test(objstore, refuses_symlinks_out_of_root)
{
    char outside[400], link[400];
    snprintf(outside, sizeof outside, "%s/outside", root);
    cr_assert_eq(mkdir(outside, 0755), 0);
    cr_assert_eq(integ_objstore_put(st, "b", "keep", "k", 1), SF_OK);
    snprintf(link, sizeof link, "%s/b/link", data_root);
    cr_assert_eq(symlink(outside, link), 0);
    snprintf(link, sizeof link, "%s/b/filelink", data_root);
    cr_assert_eq(symlink("/etc/hostname", link), 0);

    cr_assert_neq(integ_objstore_put(st, "b", "link/escaped", "x", 1), SF_OK);
    cr_assert_not(exists("%s/outside/escaped", root));
    char *d = NULL;
    size_t n = 0;
    cr_assert_neq(integ_objstore_get(st, "b", "filelink", 1 << 20, &d, &n), SF_OK);
    cr_assert_null(d);
    json_t *l = NULL;
    cr_assert_eq(integ_objstore_list(st, "b", "", 0, &l), SF_OK);
    cr_assert_eq(json_array_size(l), 1, "symlinks are not objects");
    json_decref(l);
}

Test(objstore, put_clashing_with_a_prefix_fails_cleanly)
{
    cr_assert_eq(integ_objstore_put(st, "b", "a/b", "1", 1), SF_OK);
    cr_assert_neq(integ_objstore_put(st, "b", "a", "2", 1), SF_OK);       /* a is a folder */
    cr_assert_neq(integ_objstore_put(st, "b", "a/b/c", "3", 1), SF_OK);   /* a/b is a file */
    char dir[400];
    snprintf(dir, sizeof dir, "%s/b", data_root);
    cr_assert_eq(count_dir_entries(dir), 1, "no temp file is left behind");
}

Test(objstore, list_objects_v2_items_sorted)
{
    static const char *const keys[] = {"z", "a/b/c", "a-b", "a/b", "hello", "a/a", "b/x"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        if (strcmp(keys[i], "a/b") == 0)
            continue; /* a/b is a folder here */
        cr_assert_eq(integ_objstore_put(st, "bk", keys[i], "hello", 5), SF_OK);
    }
    /* A writer's temp file in flight is not an object. */
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%s/bk/a/.sf-tmp-99-0-0", data_root);
    FILE *f = fopen(tmp, "w");
    cr_assert(f);
    fclose(f);

    json_t *l = NULL;
    cr_assert_eq(integ_objstore_list(st, "bk", "", 0, &l), SF_OK);
    static const char *const want[] = {"a-b", "a/a", "a/b/c", "b/x", "hello", "z"};
    cr_assert_eq(json_array_size(l), 6);
    for (size_t i = 0; i < 6; i++) {
        json_t *o = json_array_get(l, i);
        cr_expect_str_eq(json_string_value(json_object_get(o, "Key")), want[i]);
        cr_expect_eq(json_integer_value(json_object_get(o, "Size")), 5);
        cr_expect_str_eq(json_string_value(json_object_get(o, "ETag")),
                         "\"5d41402abc4b2a76b9719d911017c592\""); /* md5("hello") */
        cr_expect_str_eq(json_string_value(json_object_get(o, "StorageClass")), "STANDARD");
        const char *lm = json_string_value(json_object_get(o, "LastModified"));
        cr_assert(lm);
        cr_expect_eq(strlen(lm), 24, "RFC 3339 with ms: %s", lm);
        cr_expect_eq(lm[10], 'T');
        cr_expect_eq(lm[23], 'Z');
    }
    json_decref(l);

    cr_assert_eq(integ_objstore_list(st, "bk", "a/", 0, &l), SF_OK);
    cr_assert_eq(json_array_size(l), 2);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(l, 1), "Key")), "a/b/c");
    json_decref(l);

    cr_assert_eq(integ_objstore_list(st, "bk", "a", 2, &l), SF_OK);
    cr_assert_eq(json_array_size(l), 2, "max_keys bounds the answer");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(l, 0), "Key")), "a-b");
    json_decref(l);

    cr_assert_eq(integ_objstore_list(st, "bk", "a/b/c/d", 0, &l), SF_OK);
    cr_assert_eq(json_array_size(l), 0);
    json_decref(l);

    l = (json_t *)1;
    cr_assert_eq(integ_objstore_list(st, "missing", "", 0, &l), SF_ENOTFOUND);
    cr_assert_null(l);
}

Test(objstore, splits_s3_uris)
{
    char b[16], k[16];
    cr_assert_eq(integ_s3_uri_split("s3://bucket/a/b.json", b, sizeof b, k, sizeof k), SF_OK);
    cr_expect_str_eq(b, "bucket");
    cr_expect_str_eq(k, "a/b.json");
    cr_assert_eq(integ_s3_uri_split("s3://bucket", b, sizeof b, k, sizeof k), SF_OK);
    cr_expect_str_eq(k, "");
    cr_expect_eq(integ_s3_uri_split("s3:///key", b, sizeof b, k, sizeof k), SF_EINVAL);
    cr_expect_eq(integ_s3_uri_split("file:///x", b, sizeof b, k, sizeof k), SF_EINVAL);
    cr_expect_eq(integ_s3_uri_split("S3://b/k", b, sizeof b, k, sizeof k), SF_EINVAL);
    cr_expect_eq(integ_s3_uri_split("s3://0123456789abcdef/k", b, sizeof b, k, sizeof k),
                 SF_EINVAL, "bucket does not fit");
    cr_expect_eq(integ_s3_uri_split("s3://b/0123456789abcdef", b, sizeof b, k, sizeof k),
                 SF_EINVAL, "key does not fit");
}

Test(objstore, destroy_is_null_safe)
{
    integ_objstore *none = NULL;
    integ_objstore_destroy(&none);
    integ_objstore_destroy(NULL);
    integ_objstore *s2 = integ_objstore_local_new(data_root);
    cr_assert(s2);
    integ_objstore_destroy(&s2);
    cr_assert_null(s2);
    cr_assert_null(integ_objstore_local_new(""));
}
