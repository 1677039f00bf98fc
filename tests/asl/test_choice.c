/* tests/asl/test_choice.c - Choice rules: static checks and evaluation.
 *
 * Three layers: a table of (rule, input, outcome) triples covering every
 * operator in both forms, type mismatches, missing paths and StringMatches
 * escapes; a table of invalid rules with the located message each must
 * produce; and a replay of every AWS-recorded conformance execution whose
 * Choice is the one-rule "CheckValues" template, compared with AWS's answer. */
#define _POSIX_C_SOURCE 200809L /* getline, strdup */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/asl/choice.h"

/* ---- helpers ---- */

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    cr_assert(v, "bad JSON in test: %s (%s)", text, err.text);
    return v;
}

typedef enum { F = 0, T = 1, E = 2 } outcome;

static const char *outcome_name(outcome o)
{
    return o == T ? "true" : o == F ? "false" : "States.Runtime";
}

/* Compiles rule, evaluates it against input (and vars, context), and
 * returns the outcome; the error, if any, goes to *cause (owned). */
static outcome run_rule(const char *rule, const char *input, const char *vars, const char *context,
                        char **cause)
{
    json_t *r = parse(rule);
    asl_diag d = {0};
    asl_choice_rule *cr = NULL;
    sf_rc rc = asl_choice_compile(r, "/States/C/Choices/0", &cr, &d);
    cr_assert_eq(rc, SF_OK, "rule %s should compile: %s", rule, d.n ? d.msg[0] : "(no message)");
    cr_assert_not_null(cr);
    cr_assert_eq(asl_diag_count(&d), 0);
    json_decref(r);

    asl_scope s = {.input = parse(input),
                   .context = context ? parse(context) : NULL,
                   .vars = vars ? parse(vars) : NULL};
    asl_err e = {0};
    bool m = false;
    rc = asl_choice_eval(cr, &s, &m, &e);
    outcome o;
    if (rc == SF_OK) {
        cr_assert_null(e.error, "no error on success");
        o = m ? T : F;
    } else {
        cr_assert_eq(rc, SF_EINVAL);
        cr_assert_str_eq(e.error, "States.Runtime");
        o = E;
    }
    if (cause)
        *cause = e.cause ? strdup(e.cause) : NULL;
    asl_err_clear(&e);
    json_decref(s.input);
    json_decref(s.context);
    json_decref(s.vars);
    asl_choice_destroy(&cr);
    cr_assert_null(cr, "destroy sets the pointer to NULL");
    return o;
}

typedef struct eval_case {
    const char *rule;
    const char *input;
    outcome want;
} eval_case;

static void run_table(const eval_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        outcome got = run_rule(cases[i].rule, cases[i].input, NULL, NULL, NULL);
        cr_expect_eq(got, cases[i].want, "rule %s on %s: got %s, want %s", cases[i].rule,
                     cases[i].input, outcome_name(got), outcome_name(cases[i].want));
    }
}

#define RUN(table) run_table(table, sizeof table / sizeof *table)

/* ---- strings ---- */

static const eval_case strings[] = {
    {"{\"Variable\":\"$.v\",\"StringEquals\":\"Hello\"}", "{\"v\":\"Hello\"}", T},
    {"{\"Variable\":\"$.v\",\"StringEquals\":\"Hello\"}", "{\"v\":\"hello\"}", F},
    {"{\"Variable\":\"$.v\",\"StringEquals\":\"\\t\\r\\n\"}", "{\"v\":\"\\t\\n\"}", F}, /* AWS */
    {"{\"Variable\":\"$.v\",\"StringEquals\":\"     \"}", "{\"v\":\" \"}", F},           /* AWS */
    {"{\"Variable\":\"$.v\",\"StringEquals\":\"a\\u0000b\"}", "{\"v\":\"a\\u0000c\"}", F},
    {"{\"Variable\":\"$.v\",\"StringEquals\":\"a\\u0000b\"}", "{\"v\":\"a\\u0000b\"}", T},
    {"{\"Variable\":\"$.v\",\"StringEquals\":\"1\"}", "{\"v\":1}", F},
    {"{\"Variable\":\"$.v\",\"StringEquals\":\"null\"}", "{\"v\":null}", F},
    {"{\"Variable\":\"$.v\",\"StringEquals\":\"true\"}", "{\"v\":true}", F},
    {"{\"Variable\":\"$.v\",\"StringEquals\":\"[]\"}", "{\"v\":[]}", F},
    {"{\"Variable\":\"$.v\",\"StringLessThan\":\"B\"}", "{\"v\":\"A\"}", T},
    {"{\"Variable\":\"$.v\",\"StringLessThan\":\"A\"}", "{\"v\":\"AB\"}", F},  /* AWS */
    {"{\"Variable\":\"$.v\",\"StringLessThan\":\"\"}", "{\"v\":\"\"}", F},     /* AWS */
    {"{\"Variable\":\"$.v\",\"StringLessThan\":\"AB\"}", "{\"v\":\"A\"}", T},
    {"{\"Variable\":\"$.v\",\"StringLessThan\":\"a\"}", "{\"v\":\"Z\"}", T},
    {"{\"Variable\":\"$.v\",\"StringLessThan\":\"B\"}", "{\"v\":2}", F},
    {"{\"Variable\":\"$.v\",\"StringGreaterThan\":\"A \"}", "{\"v\":\"A\"}", F}, /* AWS */
    {"{\"Variable\":\"$.v\",\"StringGreaterThan\":\"A\"}", "{\"v\":\"A \"}", T},
    {"{\"Variable\":\"$.v\",\"StringGreaterThan\":\"\"}", "{\"v\":\"\"}", F},
    {"{\"Variable\":\"$.v\",\"StringLessThanEquals\":\"\"}", "{\"v\":\"\"}", T},
    {"{\"Variable\":\"$.v\",\"StringLessThanEquals\":\"A\"}", "{\"v\":\"AB\"}", F},
    {"{\"Variable\":\"$.v\",\"StringLessThanEquals\":\"AB\"}", "{\"v\":\"AB\"}", T},
    {"{\"Variable\":\"$.v\",\"StringGreaterThanEquals\":\"\"}", "{\"v\":\"\"}", T},
    {"{\"Variable\":\"$.v\",\"StringGreaterThanEquals\":\"B\"}", "{\"v\":\"A\"}", F},
    {"{\"Variable\":\"$.v\",\"StringGreaterThanEquals\":\"A\"}", "{\"v\":\"B\"}", T},
    /* Java orders by UTF-16 units: U+1F600 (a surrogate pair, D83D...) sorts
     * below U+FF21 although its UTF-8 bytes (F0...) sort above (EF...). */
    {"{\"Variable\":\"$.v\",\"StringLessThan\":\"\\uff21\"}", "{\"v\":\"\\ud83d\\ude00\"}", T},
    {"{\"Variable\":\"$.v\",\"StringGreaterThan\":\"\\uff21\"}", "{\"v\":\"\\ud83d\\ude00\"}", F},
    {"{\"Variable\":\"$.v\",\"StringLessThan\":\"x\\u00e9\"}", "{\"v\":\"x\\u00e8\"}", T},
    {"{\"Variable\":\"$.v\",\"StringLessThan\":\"\\ud83d\\ude01\"}", "{\"v\":\"\\ud83d\\ude00\"}", T},
    {"{\"Variable\":\"$.v\",\"StringGreaterThan\":\"\\u00e9\"}", "{\"v\":\"\\u0800\"}", T},
};

Test(choice, compares_strings_by_utf16_order)
{
    RUN(strings);
}

static const eval_case string_paths[] = {
    {"{\"Variable\":\"$.v\",\"StringEqualsPath\":\"$.w\"}", "{\"v\":\"a\",\"w\":\"a\"}", T},
    {"{\"Variable\":\"$.v\",\"StringEqualsPath\":\"$.w\"}", "{\"v\":\"\\t\\n\",\"w\":\"\\t\\r\\n\"}", F},
    {"{\"Variable\":\"$.v\",\"StringEqualsPath\":\"$.w\"}", "{\"v\":\"1\",\"w\":1}", F},
    {"{\"Variable\":\"$.v\",\"StringLessThanPath\":\"$.w\"}", "{\"v\":\"A\",\"w\":\"AB\"}", T},
    {"{\"Variable\":\"$.v\",\"StringLessThanPath\":\"$.w\"}", "{\"v\":\"AB\",\"w\":\"A\"}", F},
    {"{\"Variable\":\"$.v\",\"StringGreaterThanPath\":\"$.w\"}", "{\"v\":\"A\",\"w\":\"A\\t\\n\\r\"}", F},
    {"{\"Variable\":\"$.v\",\"StringGreaterThanPath\":\"$.w\"}", "{\"v\":\"B\",\"w\":\"A\"}", T},
    {"{\"Variable\":\"$.v\",\"StringLessThanEqualsPath\":\"$.w\"}", "{\"v\":\"\",\"w\":\"\"}", T},
    {"{\"Variable\":\"$.v\",\"StringGreaterThanEqualsPath\":\"$.w\"}", "{\"v\":\"AB\",\"w\":\"A\"}", T},
    {"{\"Variable\":\"$.v\",\"StringGreaterThanEqualsPath\":\"$.w\"}", "{\"v\":\"A\",\"w\":\"AB\"}", F},
    {"{\"Variable\":\"$.v\",\"StringEqualsPath\":\"$.missing\"}", "{\"v\":\"a\"}", E},
    /* The operand path is resolved even when the Variable has the wrong type. */
    {"{\"Variable\":\"$.v\",\"StringEqualsPath\":\"$.missing\"}", "{\"v\":1}", E},
    {"{\"Variable\":\"$.v\",\"StringEqualsPath\":\"$\"}", "\"x\"", E}, /* .v of a string */
    {"{\"Variable\":\"$\",\"StringEqualsPath\":\"$\"}", "\"x\"", T},
};

Test(choice, compares_strings_with_path_operands)
{
    RUN(string_paths);
}

/* ---- StringMatches ---- */

static const eval_case matches[] = {
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"log-*.txt\"}", "{\"v\":\"log-2024.txt\"}", T},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"log-*.txt\"}", "{\"v\":\"log-.txt\"}", T},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"log-*.txt\"}", "{\"v\":\"log-2024.txt.gz\"}", F},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"log-*.txt\"}", "{\"v\":\"xlog-1.txt\"}", F},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"*\"}", "{\"v\":\"\"}", T},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"*\"}", "{\"v\":\"anything\"}", T},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"\"}", "{\"v\":\"\"}", T},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"\"}", "{\"v\":\"a\"}", F},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"abc\"}", "{\"v\":\"abc\"}", T},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"abc\"}", "{\"v\":\"abcd\"}", F},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"*a*b*c*\"}", "{\"v\":\"xxaxxbxxcxx\"}", T},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"*a*b*c*\"}", "{\"v\":\"cba\"}", F},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"a*a\"}", "{\"v\":\"a\"}", F}, /* no overlap */
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"a*a\"}", "{\"v\":\"aa\"}", T},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"ab*ba*ab\"}", "{\"v\":\"abab\"}", F},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"ab*ba*ab\"}", "{\"v\":\"abbaab\"}", T},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"**\"}", "{\"v\":\"x\"}", T},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"?\"}", "{\"v\":\"x\"}", F}, /* only '*' is special */
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"?\"}", "{\"v\":\"?\"}", T},
    /* Escapes: \* is a literal star, \\ a literal backslash. */
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"a\\\\*b\"}", "{\"v\":\"a*b\"}", T},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"a\\\\*b\"}", "{\"v\":\"axb\"}", F},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"a\\\\\\\\b\"}", "{\"v\":\"a\\\\b\"}", T},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"a\\\\\\\\*\"}", "{\"v\":\"a\\\\xyz\"}", T},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"a\\\\\\\\*\"}", "{\"v\":\"a*\"}", F},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"*\\\\*\"}", "{\"v\":\"2*\"}", T},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"*\\\\*\"}", "{\"v\":\"2\"}", F},
    /* A backslash before anything else stands for itself. */
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"a\\\\b\"}", "{\"v\":\"a\\\\b\"}", T},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"a\\\\\"}", "{\"v\":\"a\\\\\"}", T},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"*\\u00e9*\"}", "{\"v\":\"caf\\u00e9s\"}", T},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"*\"}", "{\"v\":1}", F},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"*\"}", "{\"v\":null}", F},
    {"{\"Variable\":\"$.v\",\"StringMatches\":\"*\"}", "{}", E},
};

Test(choice, matches_wildcards_and_escapes)
{
    RUN(matches);
}

/* ---- numbers ---- */

static const eval_case numbers[] = {
    {"{\"Variable\":\"$.v\",\"NumericEquals\":0.0}", "{\"v\":0}", T}, /* AWS */
    {"{\"Variable\":\"$.v\",\"NumericEquals\":0}", "{\"v\":0.0}", T}, /* AWS */
    {"{\"Variable\":\"$.v\",\"NumericEquals\":1.0}", "{\"v\":1}", T},
    {"{\"Variable\":\"$.v\",\"NumericEquals\":1}", "{\"v\":1.1}", F},
    {"{\"Variable\":\"$.v\",\"NumericEquals\":42}", "{\"v\":\"42\"}", F}, /* AWS */
    {"{\"Variable\":\"$.v\",\"NumericEquals\":0}", "{\"v\":null}", F},
    {"{\"Variable\":\"$.v\",\"NumericEquals\":0}", "{\"v\":false}", F},
    {"{\"Variable\":\"$.v\",\"NumericEquals\":1}", "{\"v\":true}", F},
    {"{\"Variable\":\"$.v\",\"NumericEquals\":0}", "{\"v\":[]}", F},
    {"{\"Variable\":\"$.v\",\"NumericEquals\":0}", "{\"v\":{}}", F},
    /* Integers compare exactly: these differ by one beyond double precision. */
    {"{\"Variable\":\"$.v\",\"NumericEquals\":9007199254740993}", "{\"v\":9007199254740992}", F},
    {"{\"Variable\":\"$.v\",\"NumericLessThan\":9007199254740993}", "{\"v\":9007199254740992}", T},
    {"{\"Variable\":\"$.v\",\"NumericEquals\":9223372036854775807}", "{\"v\":9223372036854775807}", T},
    {"{\"Variable\":\"$.v\",\"NumericEquals\":-9223372036854775808}", "{\"v\":-9223372036854775807}", F},
    {"{\"Variable\":\"$.v\",\"NumericLessThan\":1}", "{\"v\":0}", T},
    {"{\"Variable\":\"$.v\",\"NumericLessThan\":0}", "{\"v\":0.0}", F},
    {"{\"Variable\":\"$.v\",\"NumericLessThan\":0}", "{\"v\":-0.5}", T},
    {"{\"Variable\":\"$.v\",\"NumericLessThan\":1e3}", "{\"v\":999}", T},
    {"{\"Variable\":\"$.v\",\"NumericGreaterThan\":0}", "{\"v\":1}", T},
    {"{\"Variable\":\"$.v\",\"NumericGreaterThan\":1}", "{\"v\":1}", F},
    {"{\"Variable\":\"$.v\",\"NumericGreaterThan\":1.5}", "{\"v\":2}", T},
    {"{\"Variable\":\"$.v\",\"NumericLessThanEquals\":0}", "{\"v\":0.0}", T},
    {"{\"Variable\":\"$.v\",\"NumericLessThanEquals\":0}", "{\"v\":1}", F},
    {"{\"Variable\":\"$.v\",\"NumericGreaterThanEquals\":1}", "{\"v\":1}", T},
    {"{\"Variable\":\"$.v\",\"NumericGreaterThanEquals\":1}", "{\"v\":0}", F},
    {"{\"Variable\":\"$.v\",\"NumericGreaterThanEquals\":-1e308}", "{\"v\":-1.7e308}", F},
    {"{\"Variable\":\"$.v\",\"NumericEqualsPath\":\"$.w\"}", "{\"v\":1,\"w\":1.0}", T},
    {"{\"Variable\":\"$.v\",\"NumericEqualsPath\":\"$.w\"}", "{\"v\":1,\"w\":0.0}", F},
    {"{\"Variable\":\"$.v\",\"NumericEqualsPath\":\"$.w\"}", "{\"v\":null,\"w\":0}", F},
    {"{\"Variable\":\"$.v\",\"NumericEqualsPath\":\"$.w\"}", "{\"v\":1,\"w\":\"1\"}", F},
    {"{\"Variable\":\"$.v\",\"NumericLessThanPath\":\"$.w\"}", "{\"v\":0,\"w\":1}", T},
    {"{\"Variable\":\"$.v\",\"NumericGreaterThanPath\":\"$.w\"}", "{\"v\":1,\"w\":0}", T},
    {"{\"Variable\":\"$.v\",\"NumericLessThanEqualsPath\":\"$.w\"}", "{\"v\":1,\"w\":0}", F},
    {"{\"Variable\":\"$.v\",\"NumericGreaterThanEqualsPath\":\"$.w\"}", "{\"v\":0.0,\"w\":0}", T},
    {"{\"Variable\":\"$.v\",\"NumericEqualsPath\":\"$.nope\"}", "{\"v\":1}", E},
    {"{\"Variable\":\"$.v\",\"NumericEquals\":1}", "{\"w\":1}", E},
};

Test(choice, compares_numbers_integers_exactly)
{
    RUN(numbers);
}

/* ---- booleans ---- */

static const eval_case booleans[] = {
    {"{\"Variable\":\"$.v\",\"BooleanEquals\":true}", "{\"v\":true}", T},
    {"{\"Variable\":\"$.v\",\"BooleanEquals\":true}", "{\"v\":false}", F},
    {"{\"Variable\":\"$.v\",\"BooleanEquals\":false}", "{\"v\":false}", T},
    {"{\"Variable\":\"$.v\",\"BooleanEquals\":false}", "{\"v\":0}", F},
    {"{\"Variable\":\"$.v\",\"BooleanEquals\":false}", "{\"v\":null}", F},
    {"{\"Variable\":\"$.v\",\"BooleanEquals\":true}", "{\"v\":\"true\"}", F},
    {"{\"Variable\":\"$.v\",\"BooleanEquals\":false}", "{\"v\":\"\"}", F},
    {"{\"Variable\":\"$.v\",\"BooleanEqualsPath\":\"$.w\"}", "{\"v\":false,\"w\":false}", T},
    {"{\"Variable\":\"$.v\",\"BooleanEqualsPath\":\"$.w\"}", "{\"v\":false,\"w\":true}", F},
    {"{\"Variable\":\"$.v\",\"BooleanEqualsPath\":\"$.w\"}", "{\"v\":1,\"w\":true}", F},
    {"{\"Variable\":\"$.v\",\"BooleanEqualsPath\":\"$.w\"}", "{\"v\":true,\"w\":\"true\"}", F},
    {"{\"Variable\":\"$.v\",\"BooleanEqualsPath\":\"$.w\"}", "{\"v\":true}", E},
    {"{\"Variable\":\"$.result.done\",\"BooleanEquals\":true}", "{\"result\":{\"done\":true}}", T},
};

Test(choice, compares_booleans)
{
    RUN(booleans);
}

/* ---- timestamps ---- */

static const eval_case timestamps[] = {
    {"{\"Variable\":\"$.v\",\"TimestampEquals\":\"2012-10-09T19:00:55Z\"}", "{\"v\":\"2012-10-09T19:00:55Z\"}", T},
    {"{\"Variable\":\"$.v\",\"TimestampEquals\":\"2012-10-09T19:00:55Z\"}", "{\"v\":\"2012-10-09T20:00:55+01:00\"}", T},
    {"{\"Variable\":\"$.v\",\"TimestampEquals\":\"2012-10-09T19:00:55Z\"}", "{\"v\":\"2012-10-09T19:00:55.000000000Z\"}", T},
    {"{\"Variable\":\"$.v\",\"TimestampEquals\":\"2012-10-09T19:00:55Z\"}", "{\"v\":\"2012-10-09T19:00:55.000000001Z\"}", F},
    {"{\"Variable\":\"$.v\",\"TimestampEquals\":\"2012-10-09T19:00:55Z\"}", "{\"v\":\"2012-10-09T19:00:55+01:00\"}", F},
    {"{\"Variable\":\"$.v\",\"TimestampEquals\":\"2012-10-09T19:00:55Z\"}", "{\"v\":\"2012-10-09T19:00:55\"}", F},
    {"{\"Variable\":\"$.v\",\"TimestampEquals\":\"2012-10-09T19:00:55Z\"}", "{\"v\":\" \"}", F},  /* AWS */
    {"{\"Variable\":\"$.v\",\"TimestampEquals\":\"2012-10-09T19:00:55Z\"}", "{\"v\":null}", F}, /* AWS */
    {"{\"Variable\":\"$.v\",\"TimestampEquals\":\"2012-10-09T19:00:55Z\"}", "{\"v\":1.1}", F},  /* AWS */
    {"{\"Variable\":\"$.v\",\"TimestampEquals\":\"2012-10-09T19:00:55Z\"}", "{\"v\":[\"\"]}", F},
    {"{\"Variable\":\"$.v\",\"TimestampEquals\":\"2012-10-09T19:00:55Z\"}", "{\"v\":true}", F},
    {"{\"Variable\":\"$.v\",\"TimestampLessThan\":\"2012-10-09T19:00:56Z\"}", "{\"v\":\"2012-10-09T19:00:55Z\"}", T},
    {"{\"Variable\":\"$.v\",\"TimestampLessThan\":\"2012-10-09T19:00:55Z\"}", "{\"v\":\"2012-10-09T19:00:55Z\"}", F},
    {"{\"Variable\":\"$.v\",\"TimestampLessThan\":\"2012-10-09T19:00:55Z\"}", "{\"v\":\"2012-10-09T19:00:54.999Z\"}", T},
    {"{\"Variable\":\"$.v\",\"TimestampLessThan\":\"2012-10-09T19:00:55Z\"}", "{\"v\":\"2012-10-09T20:00:54+01:00\"}", T},
    {"{\"Variable\":\"$.v\",\"TimestampGreaterThan\":\"2012-10-09T19:00:55Z\"}", "{\"v\":\"2012-10-09T19:00:56Z\"}", T},
    {"{\"Variable\":\"$.v\",\"TimestampGreaterThan\":\"2012-10-09T19:00:55Z\"}", "{\"v\":\"2012-10-09T19:00:55-00:01\"}", T},
    {"{\"Variable\":\"$.v\",\"TimestampLessThanEquals\":\"2012-10-09T19:00:55Z\"}", "{\"v\":\"2012-10-09T19:00:55Z\"}", T},
    {"{\"Variable\":\"$.v\",\"TimestampLessThanEquals\":\"2012-10-09T19:00:55Z\"}", "{\"v\":\"2012-10-09T19:00:56Z\"}", F},
    {"{\"Variable\":\"$.v\",\"TimestampGreaterThanEquals\":\"2012-10-09T19:00:56Z\"}", "{\"v\":\"2012-10-09T19:00:55Z\"}", F},
    {"{\"Variable\":\"$.v\",\"TimestampGreaterThanEquals\":\"2012-10-09T19:00:55Z\"}", "{\"v\":\"2012-10-09T19:00:55Z\"}", T},
    /* Years past 2262 (beyond int64 nanoseconds) still order correctly. */
    {"{\"Variable\":\"$.v\",\"TimestampLessThan\":\"3000-01-01T00:00:01Z\"}", "{\"v\":\"3000-01-01T00:00:00Z\"}", T},
    {"{\"Variable\":\"$.v\",\"TimestampGreaterThan\":\"0001-01-01T00:00:00Z\"}", "{\"v\":\"0001-01-01T00:00:00.000000001Z\"}", T},
    {"{\"Variable\":\"$.v\",\"TimestampEqualsPath\":\"$.w\"}", "{\"v\":\"2012-10-09T19:00:55Z\",\"w\":\"2012-10-09T19:00:55Z\"}", T},
    {"{\"Variable\":\"$.v\",\"TimestampEqualsPath\":\"$.w\"}", "{\"v\":\"2012-10-09T19:00:55Z\",\"w\":\"2012-10-09T19:00:56Z\"}", F},
    {"{\"Variable\":\"$.v\",\"TimestampEqualsPath\":\"$.w\"}", "{\"v\":\"2012-10-09T19:00:55Z\",\"w\":\"2012-10-09 19:00:55Z\"}", F},
    {"{\"Variable\":\"$.v\",\"TimestampEqualsPath\":\"$.w\"}", "{\"v\":\"2012-10-09T19:00:55Z\",\"w\":5}", F},
    {"{\"Variable\":\"$.v\",\"TimestampLessThanPath\":\"$.w\"}", "{\"v\":\"2012-10-09T19:00:55Z\",\"w\":\"2012-10-09T19:00:56Z\"}", T},
    {"{\"Variable\":\"$.v\",\"TimestampGreaterThanPath\":\"$.w\"}", "{\"v\":\"2012-10-09T19:00:55Z\",\"w\":\"2012-10-09T19:00:56Z\"}", F},
    {"{\"Variable\":\"$.v\",\"TimestampLessThanEqualsPath\":\"$.w\"}", "{\"v\":\"2012-10-09T19:00:55Z\",\"w\":\"2012-10-09T19:00:55Z\"}", T},
    {"{\"Variable\":\"$.v\",\"TimestampGreaterThanEqualsPath\":\"$.w\"}", "{\"v\":\"2012-10-09T19:00:55Z\",\"w\":\"2012-10-09T19:00:56Z\"}", F},
    {"{\"Variable\":\"$.v\",\"TimestampGreaterThanEqualsPath\":\"$.w\"}", "{\"v\":\"2012-10-09T19:00:55Z\"}", E},
    {"{\"Variable\":\"$.v\",\"TimestampEquals\":\"2012-10-09T19:00:55Z\"}", "{}", E},
};

Test(choice, compares_timestamps_as_instants)
{
    RUN(timestamps);
}

/* ---- type tests ---- */

static const eval_case type_tests[] = {
    {"{\"Variable\":\"$.v\",\"IsNull\":true}", "{\"v\":null}", T},
    {"{\"Variable\":\"$.v\",\"IsNull\":true}", "{\"v\":0}", F},
    {"{\"Variable\":\"$.v\",\"IsNull\":false}", "{\"v\":null}", F},
    {"{\"Variable\":\"$.v\",\"IsNull\":false}", "{\"v\":{}}", T},
    {"{\"Variable\":\"$.v\",\"IsPresent\":true}", "{\"v\":null}", T},
    {"{\"Variable\":\"$.v\",\"IsPresent\":false}", "{\"v\":null}", F},
    {"{\"Variable\":\"$.v\",\"IsPresent\":true}", "{}", F},
    {"{\"Variable\":\"$.v\",\"IsPresent\":false}", "{}", T},
    {"{\"Variable\":\"$.a.b.c\",\"IsPresent\":false}", "{\"a\":1}", T},
    {"{\"Variable\":\"$.a[3]\",\"IsPresent\":true}", "{\"a\":[1]}", F},
    {"{\"Variable\":\"$.a[0]\",\"IsPresent\":true}", "{\"a\":[1]}", T},
    {"{\"Variable\":\"$.v\",\"IsNumeric\":true}", "{\"v\":0}", T},
    {"{\"Variable\":\"$.v\",\"IsNumeric\":true}", "{\"v\":1.1}", T},
    {"{\"Variable\":\"$.v\",\"IsNumeric\":true}", "{\"v\":\"1\"}", F},
    {"{\"Variable\":\"$.v\",\"IsNumeric\":false}", "{\"v\":\"1\"}", T},
    {"{\"Variable\":\"$.v\",\"IsNumeric\":false}", "{\"v\":false}", T},
    {"{\"Variable\":\"$.v\",\"IsString\":true}", "{\"v\":\"\"}", T},
    {"{\"Variable\":\"$.v\",\"IsString\":true}", "{\"v\":[\"\"]}", F},
    {"{\"Variable\":\"$.v\",\"IsString\":false}", "{\"v\":\"HelloWorld\"}", F},
    {"{\"Variable\":\"$.v\",\"IsBoolean\":true}", "{\"v\":false}", T},
    {"{\"Variable\":\"$.v\",\"IsBoolean\":false}", "{\"v\":false}", F},
    {"{\"Variable\":\"$.v\",\"IsBoolean\":true}", "{\"v\":\"true\"}", F},
    {"{\"Variable\":\"$.v\",\"IsTimestamp\":true}", "{\"v\":\"2016-03-14T01:59:00Z\"}", T},
    {"{\"Variable\":\"$.v\",\"IsTimestamp\":true}", "{\"v\":\"2016-03-14T01:59:00.123456789+05:30\"}", T},
    {"{\"Variable\":\"$.v\",\"IsTimestamp\":true}", "{\"v\":\"2016-12-05 21:29:29Z\"}", F},
    {"{\"Variable\":\"$.v\",\"IsTimestamp\":true}", "{\"v\":\"2016-12-05T21:29:29\"}", F},
    {"{\"Variable\":\"$.v\",\"IsTimestamp\":true}", "{\"v\":\"2023-02-24\"}", F},
    {"{\"Variable\":\"$.v\",\"IsTimestamp\":false}", "{\"v\":\"2016-02-30T00:00:00Z\"}", T},
    {"{\"Variable\":\"$.v\",\"IsTimestamp\":true}", "{\"v\":1457920740}", F},
    {"{\"Variable\":\"$.v\",\"IsTimestamp\":true}", "{\"v\":\"2016-03-14T01:59:00Z\\u0000\"}", F},
    /* Everything but IsPresent fails on a Variable that does not resolve. */
    {"{\"Variable\":\"$.v\",\"IsNull\":true}", "{}", E},
    {"{\"Variable\":\"$.v\",\"IsNull\":false}", "{}", E},
    {"{\"Variable\":\"$.v\",\"IsNumeric\":false}", "{}", E},
    {"{\"Variable\":\"$.v\",\"IsString\":false}", "{}", E},
    {"{\"Variable\":\"$.v\",\"IsBoolean\":false}", "{}", E},
    {"{\"Variable\":\"$.v\",\"IsTimestamp\":false}", "{}", E},
    {"{\"Variable\":\"$\",\"IsPresent\":true}", "null", T},
    {"{\"Variable\":\"$\",\"IsNull\":true}", "null", T},
    {"{\"Variable\":\"$\",\"IsNumeric\":true}", "3", T},
};

Test(choice, tests_types_and_presence)
{
    RUN(type_tests);
}

/* ---- And, Or, Not ---- */

static const eval_case logic[] = {
    /* The AWS documentation scenario (recorded: ValueInTwenties). */
    {"{\"Not\":{\"Variable\":\"$.type\",\"StringEquals\":\"Private\"}}", "{\"type\":\"Private\",\"value\":22}", F},
    {"{\"And\":[{\"Variable\":\"$.value\",\"NumericGreaterThanEquals\":20},"
     "{\"Variable\":\"$.value\",\"NumericLessThan\":30}]}", "{\"type\":\"Private\",\"value\":22}", T},
    {"{\"And\":[{\"Variable\":\"$.value\",\"NumericGreaterThanEquals\":20},"
     "{\"Variable\":\"$.value\",\"NumericLessThan\":30}]}", "{\"value\":30}", F},
    {"{\"Or\":[{\"Variable\":\"$.a\",\"BooleanEquals\":true},{\"Variable\":\"$.b\",\"BooleanEquals\":true}]}",
     "{\"a\":false,\"b\":true}", T},
    {"{\"Or\":[{\"Variable\":\"$.a\",\"BooleanEquals\":true},{\"Variable\":\"$.b\",\"BooleanEquals\":true}]}",
     "{\"a\":false,\"b\":false}", F},
    {"{\"Not\":{\"Not\":{\"Variable\":\"$.a\",\"IsNull\":true}}}", "{\"a\":null}", T},
    /* Short-circuits guard later rules, as in the recorded Map break condition. */
    {"{\"And\":[{\"IsPresent\":true,\"Variable\":\"$\"},{\"And\":[{\"IsNumeric\":true,\"Variable\":\"$\"},"
     "{\"NumericEquals\":3,\"Variable\":\"$\"}]}]}", "3", T},
    {"{\"And\":[{\"IsPresent\":true,\"Variable\":\"$\"},{\"And\":[{\"IsNumeric\":true,\"Variable\":\"$\"},"
     "{\"NumericEquals\":3,\"Variable\":\"$\"}]}]}", "3.3", F},
    {"{\"And\":[{\"IsPresent\":true,\"Variable\":\"$\"},{\"And\":[{\"IsNumeric\":true,\"Variable\":\"$\"},"
     "{\"NumericEquals\":3,\"Variable\":\"$\"}]}]}", "\"Hello\"", F},
    {"{\"And\":[{\"Variable\":\"$.x\",\"IsPresent\":true},{\"Variable\":\"$.x\",\"NumericEquals\":1}]}", "{}", F},
    {"{\"Or\":[{\"Variable\":\"$.x\",\"IsPresent\":false},{\"Variable\":\"$.x\",\"IsNull\":true}]}", "{}", T},
    {"{\"Or\":[{\"Variable\":\"$.y\",\"IsPresent\":true},{\"Variable\":\"$.x\",\"IsNull\":true}]}", "{}", E},
    {"{\"And\":[{\"Variable\":\"$.y\",\"IsPresent\":false},{\"Variable\":\"$.x\",\"IsNull\":true}]}", "{}", E},
    {"{\"Not\":{\"Variable\":\"$.x\",\"IsNull\":true}}", "{}", E},
    {"{\"Not\":{\"Variable\":\"$.x\",\"IsPresent\":true}}", "{}", T},
    {"{\"And\":[{\"Variable\":\"$.a\",\"IsNull\":false}]}", "{\"a\":1}", T},
};

Test(choice, combines_with_and_or_not_short_circuiting)
{
    RUN(logic);
}

/* ---- roots: $, $$, $var ---- */

Test(choice, reads_context_and_variables)
{
    cr_expect_eq(run_rule("{\"Variable\":\"$guess\",\"StringEqualsPath\":\"$answer\"}", "{}",
                          "{\"guess\":\"the_answer\",\"answer\":\"the_answer\"}", NULL, NULL),
                 T);
    cr_expect_eq(run_rule("{\"Variable\":\"$guess\",\"StringEqualsPath\":\"$answer\"}", "{}",
                          "{\"guess\":\"the_guess\",\"answer\":\"the_answer\"}", NULL, NULL),
                 F);
    cr_expect_eq(run_rule("{\"Variable\":\"$nope\",\"IsPresent\":true}", "{}", "{\"x\":1}", NULL, NULL),
                 F);
    cr_expect_eq(run_rule("{\"Variable\":\"$nope\",\"IsPresent\":false}", "{}", NULL, NULL, NULL), T);
    cr_expect_eq(run_rule("{\"Variable\":\"$nope\",\"StringEquals\":\"x\"}", "{}", NULL, NULL, NULL), E);
    cr_expect_eq(run_rule("{\"Variable\":\"$x\",\"NumericEqualsPath\":\"$.y\"}", "{\"y\":2}",
                          "{\"x\":2}", NULL, NULL),
                 T);
    cr_expect_eq(run_rule("{\"Variable\":\"$$.Execution.Name\",\"StringEquals\":\"run\"}", "{}", NULL,
                          "{\"Execution\":{\"Name\":\"run\"}}", NULL),
                 T);
    cr_expect_eq(run_rule("{\"Variable\":\"$.n\",\"NumericLessThanEqualsPath\":\"$$.Limit\"}",
                          "{\"n\":3}", NULL, "{\"Limit\":3}", NULL),
                 T);
    /* A NULL context reads as {}. */
    cr_expect_eq(run_rule("{\"Variable\":\"$$.Execution\",\"IsPresent\":true}", "{}", NULL, NULL, NULL),
                 F);
}

Test(choice, names_the_path_in_the_runtime_cause)
{
    char *cause = NULL;
    cr_assert_eq(run_rule("{\"Variable\":\"$.value\",\"NumericEquals\":0}", "{}", NULL, NULL, &cause), E);
    cr_assert_not_null(cause);
    cr_expect_str_eq(cause, "Invalid path '$.value': The choice state's condition path references "
                            "an invalid value.");
    free(cause);
    cause = NULL;
    cr_assert_eq(run_rule("{\"Variable\":\"$.v\",\"NumericEqualsPath\":\"$.lim\"}", "{\"v\":1}", NULL,
                          NULL, &cause),
                 E);
    cr_assert_not_null(cause);
    cr_expect(strstr(cause, "'$.lim'") != NULL, "cause names the operand path: %s", cause);
    free(cause);
}

Test(choice, evaluates_repeatedly_without_state)
{
    json_t *r = parse("{\"Variable\":\"$.v\",\"NumericGreaterThan\":10}");
    asl_diag d = {0};
    asl_choice_rule *cr = NULL;
    cr_assert_eq(asl_choice_compile(r, "/", &cr, &d), SF_OK);
    json_decref(r); /* the compiled rule keeps what it needs */
    for (int i = 0; i < 1000; i++) {
        json_t *in = json_pack("{s:i}", "v", i % 20);
        asl_scope s = {.input = in};
        bool m = false;
        asl_err e = {0};
        cr_assert_eq(asl_choice_eval(cr, &s, &m, &e), SF_OK);
        cr_assert_eq(m, i % 20 > 10);
        json_decref(in);
    }
    asl_choice_destroy(&cr);
    asl_choice_destroy(&cr); /* NULL-safe */
    asl_choice_destroy(NULL);
}

/* ---- static validation ---- */

typedef struct bad_case {
    const char *rule;
    const char *message; /* the full first message, "where: what" */
} bad_case;

static const bad_case bad_rules[] = {
    {"[]", "/States/C/Choices/0: a Choice rule must be an object"},
    {"{\"Variable\":\"$.a\",\"Next\":\"X\"}", "/States/C/Choices/0: no comparison operator (or And, Or, Not)"},
    {"{\"Variable\":\"$.a\",\"NumericEquals\":1,\"StringEquals\":\"x\"}",
     "/States/C/Choices/0: more than one comparison operator ('NumericEquals' and 'StringEquals')"},
    {"{\"NumericEquals\":1}", "/States/C/Choices/0: NumericEquals needs a Variable"},
    {"{\"Variable\":\"$.a\",\"NumericEquals\":\"1\"}", "/States/C/Choices/0: NumericEquals needs a number"},
    {"{\"Variable\":\"$.a\",\"NumericLessThan\":true}", "/States/C/Choices/0: NumericLessThan needs a number"},
    {"{\"Variable\":\"$.a\",\"StringEquals\":1}", "/States/C/Choices/0: StringEquals needs a string"},
    {"{\"Variable\":\"$.a\",\"StringGreaterThanEquals\":null}",
     "/States/C/Choices/0: StringGreaterThanEquals needs a string"},
    {"{\"Variable\":\"$.a\",\"StringMatches\":[\"*\"]}", "/States/C/Choices/0: StringMatches needs a string pattern"},
    {"{\"Variable\":\"$.a\",\"BooleanEquals\":\"true\"}", "/States/C/Choices/0: BooleanEquals needs a boolean"},
    {"{\"Variable\":\"$.a\",\"IsNull\":1}", "/States/C/Choices/0: IsNull needs a boolean"},
    {"{\"Variable\":\"$.a\",\"IsPresent\":\"true\"}", "/States/C/Choices/0: IsPresent needs a boolean"},
    {"{\"Variable\":\"$.a\",\"IsTimestamp\":null}", "/States/C/Choices/0: IsTimestamp needs a boolean"},
    {"{\"Variable\":\"$.a\",\"TimestampEquals\":\"2016-12-05 21:29:29Z\"}",
     "/States/C/Choices/0: TimestampEquals needs an RFC 3339 timestamp string"},
    {"{\"Variable\":\"$.a\",\"TimestampLessThan\":\"2016-12-05T21:29:29\"}",
     "/States/C/Choices/0: TimestampLessThan needs an RFC 3339 timestamp string"},
    {"{\"Variable\":\"$.a\",\"TimestampGreaterThan\":1}",
     "/States/C/Choices/0: TimestampGreaterThan needs an RFC 3339 timestamp string"},
    {"{\"Variable\":\"$.a\",\"NumericEqualsPath\":1}", "/States/C/Choices/0: NumericEqualsPath must be a string path"},
    {"{\"Variable\":1,\"IsNull\":true}", "/States/C/Choices/0: Variable must be a string path"},
    {"{\"Variable\":\"a.b\",\"IsNull\":true}", NULL}, /* message text is jsonpath's */
    {"{\"Variable\":\"$.a\",\"NumericEqualsPath\":\"x\"}", NULL},
    {"{\"Variable\":\"$.a\",\"StringMatchesPath\":\"$.b\"}", "/States/C/Choices/0: unknown field 'StringMatchesPath'"},
    {"{\"Variable\":\"$.a\",\"IsNullPath\":\"$.b\"}", "/States/C/Choices/0: unknown field 'IsNullPath'"},
    {"{\"Variable\":\"$.a\",\"NumericEqual\":1}", "/States/C/Choices/0: unknown field 'NumericEqual'"},
    {"{\"Condition\":\"{% true %}\",\"Next\":\"X\"}",
     "/States/C/Choices/0: Condition is only allowed with QueryLanguage JSONata"},
    {"{\"And\":[]}", "/States/C/Choices/0: And must be a non-empty array of rules"},
    {"{\"Or\":{}}", "/States/C/Choices/0: Or must be a non-empty array of rules"},
    {"{\"Not\":[]}", "/States/C/Choices/0: Not must be a rule object"},
    {"{\"Variable\":\"$.a\",\"And\":[{\"Variable\":\"$.a\",\"IsNull\":true}]}",
     "/States/C/Choices/0: Variable is not allowed with And"},
    {"{\"And\":[{\"Variable\":\"$.a\",\"IsNull\":true},{\"Variable\":\"$.b\",\"NumericEquals\":\"x\"}]}",
     "/States/C/Choices/0/And/1: NumericEquals needs a number"},
    {"{\"Or\":[{\"Not\":{\"Variable\":\"$.b\",\"BooleanEquals\":0}}]}",
     "/States/C/Choices/0/Or/0/Not: BooleanEquals needs a boolean"},
    {"{\"And\":[{\"Variable\":\"$.a\",\"IsNull\":true,\"Next\":\"X\"}]}",
     "/States/C/Choices/0/And/0: Next is only allowed in a top-level Choices rule"},
    {"{\"Not\":{\"Variable\":\"$.a\",\"IsNull\":true,\"Assign\":{}}}",
     "/States/C/Choices/0/Not: Assign is only allowed in a top-level Choices rule"},
    {"{\"And\":[1]}", "/States/C/Choices/0/And/0: a Choice rule must be an object"},
};

Test(choice, refuses_invalid_rules_with_located_messages)
{
    for (size_t i = 0; i < sizeof bad_rules / sizeof *bad_rules; i++) {
        json_t *r = parse(bad_rules[i].rule);
        asl_diag d = {0};
        asl_choice_rule *cr = (asl_choice_rule *)&d; /* must be overwritten */
        sf_rc rc = asl_choice_compile(r, "/States/C/Choices/0", &cr, &d);
        cr_expect_eq(rc, SF_EINVAL, "rule %s should be refused", bad_rules[i].rule);
        cr_expect_null(cr, "no rule on failure: %s", bad_rules[i].rule);
        cr_expect_geq(asl_diag_count(&d), 1, "a message for %s", bad_rules[i].rule);
        if (d.n > 0 && bad_rules[i].message)
            cr_expect_str_eq(d.msg[0], bad_rules[i].message, "for rule %s", bad_rules[i].rule);
        else if (d.n > 0)
            cr_expect(strncmp(d.msg[0], "/States/C/Choices/0: ", 21) == 0, "located: %s", d.msg[0]);
        asl_diag_clear(&d);
        json_decref(r);
    }
}

Test(choice, reports_every_problem_in_a_rule)
{
    json_t *r = parse("{\"And\":[{\"Variable\":\"$.a\",\"NumericEquals\":\"1\"},"
                      "{\"Variable\":\"$.b\",\"BooleanEquals\":1},{\"Bogus\":1,\"IsNull\":true}]}");
    asl_diag d = {0};
    asl_choice_rule *cr = NULL;
    cr_assert_eq(asl_choice_compile(r, "/S", &cr, &d), SF_EINVAL);
    cr_assert_eq(asl_diag_count(&d), 4);
    cr_expect_str_eq(d.msg[0], "/S/And/0: NumericEquals needs a number");
    cr_expect_str_eq(d.msg[1], "/S/And/1: BooleanEquals needs a boolean");
    asl_diag_clear(&d);
    json_decref(r);
}

Test(choice, accepts_top_level_fields_owned_by_the_caller)
{
    json_t *r = parse("{\"Variable\":\"$.a\",\"IsNull\":true,\"Next\":\"X\",\"Assign\":{\"k\":1},"
                      "\"Comment\":\"c\"}");
    asl_diag d = {0};
    asl_choice_rule *cr = NULL;
    cr_expect_eq(asl_choice_compile(r, "/S", &cr, &d), SF_OK);
    cr_expect_eq(asl_diag_count(&d), 0);
    asl_choice_destroy(&cr);
    json_decref(r);
}

Test(choice, refuses_rules_nested_too_deeply)
{
    char buf[4096] = "";
    for (int i = 0; i < 100; i++)
        strcat(buf, "{\"Not\":");
    strcat(buf, "{\"Variable\":\"$\",\"IsNull\":true}");
    for (int i = 0; i < 100; i++)
        strcat(buf, "}");
    json_t *r = parse(buf);
    asl_diag d = {0};
    asl_choice_rule *cr = NULL;
    cr_expect_eq(asl_choice_compile(r, "", &cr, &d), SF_EINVAL);
    cr_expect_null(cr);
    cr_expect_eq(asl_diag_count(&d), 1);
    asl_diag_clear(&d);
    json_decref(r);

    /* 60 levels are fine. */
    buf[0] = '\0';
    for (int i = 0; i < 60; i++)
        strcat(buf, "{\"Not\":");
    strcat(buf, "{\"Variable\":\"$\",\"IsNull\":true}");
    for (int i = 0; i < 60; i++)
        strcat(buf, "}");
    r = parse(buf);
    cr_expect_eq(asl_choice_compile(r, "", &cr, &d), SF_OK);
    asl_scope s = {.input = json_null()};
    bool m = false;
    asl_err e = {0};
    cr_expect_eq(asl_choice_eval(cr, &s, &m, &e), SF_OK);
    cr_expect(m, "an even number of Nots over a true rule is true");
    asl_choice_destroy(&cr);
    json_decref(r);
}

/* ---- AWS conformance replay ---- */

/* Every recorded execution whose only Choice is the "CheckValues" template
 * with one rule routes to ConditionTrue or ConditionFalse; AWS's output
 * names which. */
Test(choice, agrees_with_aws_recorded_executions)
{
    FILE *f = fopen(SF_SHARED_DIR "/conformance/executions.jsonl", "r");
    cr_assert_not_null(f, "cannot open conformance file");
    char *line = NULL;
    size_t cap = 0;
    int checked = 0, failed = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *c = json_loads(line, 0, NULL);
        cr_assert_not_null(c);
        json_t *def = json_loads(json_string_value(json_object_get(c, "definition")), 0, NULL);
        json_t *cv = json_object_get(json_object_get(def, "States"), "CheckValues");
        json_t *choices = json_object_get(cv, "Choices");
        json_t *exp = json_object_get(c, "expected");
        if (!cv || json_array_size(choices) != 1 ||
            strcmp(json_string_value(json_object_get(exp, "status")), "SUCCEEDED") != 0) {
            json_decref(def);
            json_decref(c);
            continue;
        }
        json_t *out = json_loads(json_string_value(json_object_get(exp, "output")), JSON_DECODE_ANY, NULL);
        const char *want = json_string_value(json_object_get(out, "TestResult.$"));
        json_t *input = json_loads(json_string_value(json_object_get(c, "input")), JSON_DECODE_ANY, NULL);
        cr_assert(want && input);

        asl_diag d = {0};
        asl_choice_rule *cr = NULL;
        sf_rc rc = asl_choice_compile(json_array_get(choices, 0), "/States/CheckValues/Choices/0", &cr, &d);
        cr_expect_eq(rc, SF_OK, "%s: %s", json_string_value(json_object_get(c, "id")), d.n ? d.msg[0] : "");
        if (rc == SF_OK) {
            asl_scope s = {.input = input};
            bool m = false;
            asl_err e = {0};
            rc = asl_choice_eval(cr, &s, &m, &e);
            const char *got = rc != SF_OK ? "error" : m ? "ConditionTrue" : "ConditionFalse";
            if (strcmp(got, want) != 0)
                failed++;
            cr_expect_str_eq(got, want, "%s (input %s)", json_string_value(json_object_get(c, "id")),
                             json_string_value(json_object_get(c, "input")));
            asl_err_clear(&e);
        }
        checked++;
        asl_choice_destroy(&cr);
        asl_diag_clear(&d);
        json_decref(input);
        json_decref(out);
        json_decref(def);
        json_decref(c);
    }
    free(line);
    fclose(f);
    cr_expect_geq(checked, 290, "expected ~299 recorded CheckValues cases, found %d", checked);
    cr_expect_eq(failed, 0);
}
