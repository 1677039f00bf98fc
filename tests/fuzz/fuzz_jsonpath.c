/* tests/fuzz/fuzz_jsonpath.c - libFuzzer harness for asl/jsonpath.
 *
 * Input: a path, a NUL byte (or the first newline when there is no NUL),
 * then a JSON document. Compiles the path, evaluates it, writes its
 * normalized form into buffers of several sizes, and for reference paths
 * sets a value into the document and checks that the document is unchanged.
 * Any crash, leak or failed check is a finding; errors returned as values
 * are not. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/asl/jsonpath.h"

#define FUZZ_MAX_INPUT 8192 /* larger inputs only slow the search down */

static void check(int ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    const uint8_t *cut = memchr(data, '\0', size);
    if (!cut)
        cut = memchr(data, '\n', size);
    size_t plen = cut ? (size_t)(cut - data) : size;
    char *path = malloc(plen + 1);
    if (!path)
        return 0;
    memcpy(path, data, plen);
    path[plen] = '\0';
    const char *doc_text = cut ? (const char *)cut + 1 : "";
    size_t doc_len = cut ? size - plen - 1 : 0;

    asl_path *p = NULL;
    char err[128];
    sf_rc rc = asl_path_compile(path, &p, err, sizeof err);
    check(rc == SF_OK ? p != NULL : p == NULL);
    check(memchr(err, '\0', sizeof err) != NULL);
    if (rc != SF_OK) {
        free(path);
        return 0;
    }
    check(strcmp(asl_path_text(p), path) == 0);
    check(!asl_path_is_reference(p) || asl_path_is_definite(p));

    char norm[256], tiny[3];
    asl_path_normalized(p, norm, sizeof norm);
    asl_path_normalized(p, tiny, sizeof tiny);
    check(strlen(norm) < sizeof norm && strlen(tiny) < sizeof tiny);

    json_error_t je;
    json_t *doc = json_loadb(doc_text, doc_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!doc)
        doc = json_object();
    char *before = json_dumps(doc, JSON_ENCODE_ANY | JSON_COMPACT);

    json_t *got = NULL;
    rc = asl_path_eval(p, doc, &got);
    check(rc == SF_OK ? got != NULL : got == NULL);
    if (rc == SF_ENOTFOUND)
        check(asl_path_is_definite(p));
    if (rc == SF_OK && !asl_path_is_definite(p))
        check(json_is_array(got));
    json_decref(got);

    json_t *vars = json_pack("{s:O}", "v", doc);
    asl_scope scope = {.input = doc, .context = NULL, .vars = vars};
    got = NULL;
    rc = asl_path_eval_scope(p, &scope, &got);
    check(rc == SF_OK ? got != NULL : got == NULL);
    json_decref(got);
    json_decref(vars);

    if (asl_path_is_reference(p)) {
        json_t *val = json_string("fuzz");
        got = NULL;
        rc = asl_path_set(p, doc, val, &got, err, sizeof err);
        check(rc == SF_OK ? got != NULL : got == NULL);
        if (rc == SF_OK && asl_path_root_kind(p) == ASL_ROOT_INPUT) {
            /* What was set reads back. */
            json_t *back = NULL;
            check(asl_path_eval(p, got, &back) == SF_OK && back == val);
            json_decref(back);
        }
        json_decref(got);
        json_decref(val);
    }

    char *after = json_dumps(doc, JSON_ENCODE_ANY | JSON_COMPACT);
    check((!before && !after) || (before && after && strcmp(before, after) == 0));
    free(before);
    free(after);
    json_decref(doc);
    asl_path_destroy(&p);
    check(p == NULL);
    free(path);
    return 0;
}
