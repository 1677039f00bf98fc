/* tests/fuzz/fuzz_choice.c - libFuzzer harness for Choice rules and
 * timestamps.
 *
 * Each input is used three ways: as raw bytes for asl_timestamp_parse_parts
 * (and, NUL-terminated, asl_timestamp_parse), checking that an accepted
 * timestamp survives format/parse; and, if it is JSON, as a Choice rule
 * compiled and evaluated against a fixed scope - or, when it is a
 * two-element array, as [rule, input]. Nothing may crash, leak, or break
 * the invariants checked with abort() below. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "coordinator/asl/choice.h"
#include "coordinator/asl/timestamp.h"

static const char fixed_input[] =
    "{\"a\":1,\"f\":1.5,\"b\":\"x\",\"e\":\"\",\"n\":null,\"t\":true,\"fa\":false,"
    "\"ts\":\"2016-03-14T01:59:00Z\",\"ts2\":\"2016-03-14T02:59:00+01:00\","
    "\"arr\":[1,\"2\",{\"c\":3},null],\"o\":{\"k\":\"v\",\"star\":\"a*b\",\"bs\":\"a\\\\b\"},"
    "\"big\":9223372036854775807,\"neg\":-9223372036854775808}";
static const char fixed_vars[] = "{\"x\":1,\"y\":\"2016-03-14T01:59:00Z\",\"z\":{\"k\":[true]}}";
static const char fixed_context[] =
    "{\"Execution\":{\"Name\":\"run\",\"Input\":{\"input-value\":0},"
    "\"StartTime\":\"2024-01-31T12:00:00.123Z\"},\"State\":{\"Name\":\"C\"}}";

static void check_timestamp(const uint8_t *data, size_t size)
{
    int64_t sec;
    int32_t nsec;
    bool ok = asl_timestamp_parse_parts((const char *)data, size, &sec, &nsec);
    if (ok && (nsec < 0 || nsec >= 1000000000))
        abort();

    /* The C-string form sees the bytes up to the first NUL. */
    bool has_nul = memchr(data, '\0', size) != NULL;
    char *z = malloc(size + 1);
    if (!z)
        return;
    memcpy(z, data, size);
    z[size] = '\0';
    int64_t ns;
    bool ok2 = asl_timestamp_parse(z, &ns);
    free(z);
    /* Same grammar: the two agree unless a NUL cut the C string short. */
    if (!has_nul && ok != ok2)
        abort();
    if (!ok2 || has_nul)
        return;

    /* An accepted instant in ms range formats and parses back to itself
     * (to the millisecond, floored). Saturated ends are skipped. */
    if (ns == INT64_MAX || ns == INT64_MIN)
        return;
    int64_t ms = ns / 1000000 - (ns % 1000000 < 0);
    char buf[32];
    asl_timestamp_format_ms(ms, buf);
    int64_t back;
    if (!asl_timestamp_parse(buf, &back) || back != ms * 1000000)
        abort();
}

static void check_rule(json_t *rule, json_t *input)
{
    asl_diag d = {0};
    asl_choice_rule *r = NULL;
    sf_rc rc = asl_choice_compile(rule, "/States/C/Choices/0", &r, &d);
    if ((rc == SF_OK) != (r != NULL))
        abort();
    if (rc == SF_EINVAL && asl_diag_count(&d) == 0)
        abort(); /* a refusal always says why */
    if (r) {
        asl_scope s = {.input = input};
        s.vars = json_loads(fixed_vars, 0, NULL);
        s.context = json_loads(fixed_context, 0, NULL);
        for (int pass = 0; pass < 2; pass++) {
            bool m = false;
            asl_err e = {0};
            rc = asl_choice_eval(r, &s, &m, &e);
            if (rc == SF_EINVAL && !e.error)
                abort(); /* a runtime failure always carries its ASL error */
            if (rc == SF_OK && e.error)
                abort();
            asl_err_clear(&e);
            /* Without context and variables too. */
            json_decref(s.vars);
            json_decref(s.context);
            s.vars = NULL;
            s.context = NULL;
        }
        asl_choice_destroy(&r);
        if (r)
            abort();
    }
    asl_diag_clear(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_timestamp(data, size);

    json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!doc)
        return 0;
    if (json_is_array(doc) && json_array_size(doc) == 2) {
        check_rule(json_array_get(doc, 0), json_array_get(doc, 1));
    } else {
        json_t *input = json_loads(fixed_input, 0, NULL);
        if (input)
            check_rule(doc, input);
        json_decref(input);
    }
    json_decref(doc);
    return 0;
}
