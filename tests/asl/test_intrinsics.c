/* tests/asl/test_intrinsics.c - the 18 intrinsic functions, as data.
 *
 * Most cases are (expression, input, expected) triples; error cases name the
 * ASL error and a piece of its cause; compile cases name a piece of the
 * message. One test replays every simple AWS-recorded conformance case that
 * uses intrinsics straight from /work/shared/conformance. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/asl/intrinsics.h"

/* ---- fixture ----------------------------------------------------------- */

/* Variables in scope for every case (as the conformance cases Assign them). */
static const char *const vars_json =
    "{\"name\": \"John\", \"place\": \"LocalStack\", \"rawString\": \"Hello World\","
    " \"encodedString\": \"SGVsbG8gV29ybGQ=\", \"inputString\": \"Hash this string\","
    " \"json1\": {\"a\": 1, \"b\": 2}, \"json2\": {\"c\": 3, \"d\": 4},"
    " \"jsonString\": \"{\\\"key\\\":\\\"value\\\"}\", \"jsonObject\": {\"test\": \"object\"},"
    " \"value1\": 5, \"value2\": 3, \"csvString\": \"a,b,c,d,e\","
    " \"xCurrent\": 9, \"yCurrent\": 44, \"zCurrent\": 6, \"bias\": 4.3,"
    " \"varname\": \"x\", \"PokemonList\": [\"Charizard\", \"Pikachu\"]}";

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    cr_assert_not_null(v, "test data is not JSON: %s (%s)", text, je.text);
    return v;
}

typedef struct run_result {
    sf_rc compile_rc;
    sf_rc eval_rc;
    json_t *value;
    asl_err e;
    char err[256];
} run_result;

/* Compiles expr and evaluates it on input with a context whose
 * Execution.Input is the input, as AWS's is. */
static run_result run_with(const char *expr, const char *input, asl_rng *rng)
{
    run_result r = {0};
    asl_intrinsic *fn = NULL;
    r.compile_rc = asl_intrinsic_compile(expr, &fn, r.err, sizeof r.err);
    if (r.compile_rc != SF_OK) {
        cr_assert_null(fn, "a failed compile must leave *out NULL");
        return r;
    }
    json_t *in = parse(input);
    json_t *ctx = json_pack("{s:{s:s,s:O},s:{s:s},s:{s:{s:i,s:s}}}", "Execution", "Id",
                            "arn:aws:states:us-east-1:111122223333:execution:sm-demo-name:run-1",
                            "Input", in, "StateMachine", "Name", "sm-demo-name", "Map", "Item",
                            "Index", 0, "Value", "Charizard");
    json_t *vars = parse(vars_json);
    cr_assert_not_null(ctx);
    asl_scope s = {.input = in, .context = ctx, .vars = vars};
    r.eval_rc = asl_intrinsic_eval(fn, &s, rng, &r.value, &r.e);
    asl_intrinsic_destroy(&fn);
    cr_assert_null(fn, "destroy must NULL the caller's pointer");
    json_decref(in);
    json_decref(ctx);
    json_decref(vars);
    return r;
}

static run_result run(const char *expr, const char *input)
{
    asl_rng rng = {.s = 42};
    return run_with(expr, input, &rng);
}

static void run_cleanup(run_result *r)
{
    json_decref(r->value);
    asl_err_clear(&r->e);
}

static char *text_of(json_t *v)
{
    return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("(none)");
}

/* Parameterized tests get indexes into the tables, not pointers: Criterion
 * may run each test in a freshly executed process, where the addresses of
 * the string literals differ from the parent's. */
#define INDEXES(table)                                                         \
    static size_t idx[sizeof table / sizeof table[0]];                         \
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++)                    \
        idx[i] = i;                                                            \
    return cr_make_param_array(size_t, idx, sizeof idx / sizeof idx[0])

/* ---- values ------------------------------------------------------------ */

typedef struct value_case {
    const char *expr;
    const char *input;
    const char *expected; /* JSON */
} value_case;

static value_case value_cases[] = {
    /* States.Format */
    {"States.Format('Hello, {}!', 'World')", "{}", "\"Hello, World!\""},
    {"States.Format('no placeholders')", "{}", "\"no placeholders\""},
    {"States.Format('{}{}', 'a', 'b')", "{}", "\"ab\""},
    {"States.Format('{} {} {} {}', 1, 1.5, true, null)", "{}", "\"1 1.5 true null\""},
    {"States.Format('n={}', -2.50)", "{}", "\"n=-2.5\""},
    {"States.Format('{}', 1e10)", "{}", "\"1.0E10\""},
    {"States.Format('{}', 0.0001)", "{}", "\"1.0E-4\""},
    {"States.Format('{}', 100.0)", "{}", "\"100.0\""},
    {"States.Format('x\\{\\}y {}', 'z')", "{}", "\"x{}y z\""},
    {"States.Format('it\\'s {}', 'ok')", "{}", "\"it's ok\""},
    {"States.Format('back\\\\slash {}', 'x')", "{}", "\"back\\\\slash x\""},
    {"States.Format('{{}}', 'x')", "{}", "\"{x}\""},
    {"States.Format('say \"{}\"', 'hi')", "{}", "\"say \\\"hi\\\"\""},
    {"States.Format('line1\nline2 {}', 'x')", "{}", "\"line1\\nline2 x\""},
    {"States.Format('{}', States.Array(1, 'a', States.Array()))", "{}", "\"[1,\\\"a\\\",[]]\""},
    {"States.Format('{}', States.StringToJson('{\"a\": 1.0, \"b\": [true]}'))", "{}",
     "\"{\\\"a\\\":1.0,\\\"b\\\":[true]}\""},
    {"States.Format( 'spaced {}' ,\n 'out'  )  ", "{}", "\"spaced out\""},
    /* States.StringToJson / States.JsonToString */
    {"States.StringToJson('{\"a\": [1, 2]}')", "{}", "{\"a\": [1, 2]}"},
    {"States.StringToJson('')", "{}", "null"},
    {"States.StringToJson('-0')", "{}", "0"},
    {"States.StringToJson('\"s\"')", "{}", "\"s\""},
    {"States.JsonToString(States.StringToJson('{\"Arg1\": 1, \"Arg2\": []}'))", "{}",
     "\"{\\\"Arg1\\\":1,\\\"Arg2\\\":[]}\""},
    {"States.JsonToString('x')", "{}", "\"\\\"x\\\"\""},
    {"States.JsonToString(1.5)", "{}", "\"1.5\""},
    {"States.JsonToString(States.StringToJson('\"a\\\\nb\"'))", "{}", "\"\\\"a\\\\nb\\\"\""},
    /* States.Array and friends */
    {"States.Array()", "{}", "[]"},
    {"States.Array(1, 'two', true, false, null, 2.5, -3)", "{}",
     "[1, \"two\", true, false, null, 2.5, -3]"},
    {"States.Array(States.Array(1))", "{}", "[[1]]"},
    {"States.ArrayPartition(States.ArrayRange(1, 7, 1), 3)", "{}", "[[1,2,3],[4,5,6],[7]]"},
    {"States.ArrayPartition(States.Array(), 2)", "{}", "[]"},
    {"States.ArrayPartition(States.Array(0, 1), 5)", "{}", "[[0,1]]"},
    {"States.ArrayContains(States.Array(1, 'a', States.Array(2)), States.Array(2))", "{}", "true"},
    {"States.ArrayContains(States.Array(1, 'a'), 3)", "{}", "false"},
    {"States.ArrayContains(States.Array(), null)", "{}", "false"},
    {"States.ArrayRange(1, 9, 2)", "{}", "[1,3,5,7,9]"},
    {"States.ArrayRange(0, 3, 1)", "{}", "[0,1,2,3]"},
    {"States.ArrayRange(1, 9, 9)", "{}", "[1]"},
    {"States.ArrayRange(5, 1, -2)", "{}", "[5,3,1]"},
    {"States.ArrayRange(3, 1, 1)", "{}", "[]"},
    {"States.ArrayLength(States.ArrayRange(1, 1000, 1))", "{}", "1000"},
    {"States.ArrayGetItem(States.Array('a', 'b', 'c'), 1)", "{}", "\"b\""},
    {"States.ArrayLength(States.Array())", "{}", "0"},
    {"States.ArrayUnique(States.Array(1, 2, 2, 3, 3, 4, 1))", "{}", "[1,2,3,4]"},
    {"States.ArrayUnique(States.Array(States.StringToJson('{\"a\":1,\"b\":2}'), "
     "States.StringToJson('{\"b\":2,\"a\":1}'), 'x', 'x', null, null, States.Array(), "
     "States.Array()))",
     "{}", "[{\"a\":1,\"b\":2},\"x\",null,[]]"},
    /* encoding, hashing */
    {"States.Base64Encode('Data to encode')", "{}", "\"RGF0YSB0byBlbmNvZGU=\""},
    {"States.Base64Encode('')", "{}", "\"\""},
    {"States.Base64Encode('a')", "{}", "\"YQ==\""},
    {"States.Base64Encode('ab')", "{}", "\"YWI=\""},
    {"States.Base64Encode('\xc3\xa9')", "{}", "\"w6k=\""},
    {"States.Base64Decode('SGVsbG8gV29ybGQ=')", "{}", "\"Hello World\""},
    {"States.Base64Decode('YQ')", "{}", "\"a\""},
    {"States.Base64Decode('')", "{}", "\"\""},
    {"States.Base64Decode('/w==')", "{}", "\"\\ufffd\""},
    {"States.Base64Decode(States.Base64Encode('round \xe2\x86\x92 trip'))", "{}",
     "\"round \\u2192 trip\""},
    {"States.Hash('input data', 'MD5')", "{}", "\"812f45842bc6d66ee14572ce20db8e86\""},
    {"States.Hash('input data', 'SHA-1')", "{}", "\"aaff4a450a104cd177d28d18d74485e8cae074b7\""},
    {"States.Hash('input data', 'SHA-256')", "{}",
     "\"b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3\""},
    {"States.Hash('input data', 'SHA-384')", "{}",
     "\"d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a1"
     "5562\""},
    {"States.Hash('input data', 'SHA-512')", "{}",
     "\"6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283"
     "731a533d30d425402d4f91316d871303aac4\""},
    /* States.JsonMerge */
    {"States.JsonMerge(States.StringToJson('{\"a\":1,\"b\":2}'), "
     "States.StringToJson('{\"b\":3,\"c\":{\"d\":4}}'), false)",
     "{}", "{\"a\":1,\"b\":3,\"c\":{\"d\":4}}"},
    {"States.JsonMerge(States.StringToJson('{\"x\":{\"p\":1}}'), "
     "States.StringToJson('{\"x\":{\"q\":2}}'), false)",
     "{}", "{\"x\":{\"q\":2}}"},
    /* States.MathAdd: Java's Math.round on each argument */
    {"States.MathAdd(1, 2)", "{}", "3"},
    {"States.MathAdd(111, -1)", "{}", "110"},
    {"States.MathAdd(1.49, 1.5)", "{}", "3"},
    {"States.MathAdd(-1.49, -1.5)", "{}", "-2"},
    {"States.MathAdd(-1.5, -1.51)", "{}", "-3"},
    {"States.MathAdd(0.5, 0)", "{}", "1"},
    {"States.MathAdd(-0.5, 0)", "{}", "0"},
    {"States.MathAdd(-2.5, 0)", "{}", "-2"},
    {"States.MathAdd(2.5, 0)", "{}", "3"},
    {"States.MathAdd(2147483647, 1)", "{}", "2147483648"},
    /* States.StringSplit */
    {"States.StringSplit('1,2,3,4,5', ',')", "{}", "[\"1\",\"2\",\"3\",\"4\",\"5\"]"},
    {"States.StringSplit(' , ', ',')", "{}", "[\" \",\" \"]"},
    {"States.StringSplit(' ', ',')", "{}", "[\" \"]"},
    {"States.StringSplit('This.is+a,test=string', '.+,=')", "{}",
     "[\"This\",\"is\",\"a\",\"test\",\"string\"]"},
    {"States.StringSplit('', ',')", "{}", "[]"},
    {"States.StringSplit(',,,', ',')", "{}", "[]"},
    {"States.StringSplit('abc', '')", "{}", "[\"abc\"]"},
    {"States.StringSplit('a\xe2\x86\x92" "b\xe2\x86\x92" "c', '\xe2\x86\x92')", "{}",
     "[\"a\",\"b\",\"c\"]"},
    {"States.StringSplit('Hello\nWorld', '\n')", "{}", "[\"Hello\",\"World\"]"},
    /* nesting */
    {"States.ArrayGetItem(States.StringSplit(States.Format('{}-{}', 'a', 'b'), '-'), "
     "States.MathAdd(States.ArrayLength(States.Array(1, 2)), -1))",
     "{}", "\"b\""},
};

ParameterizedTestParameters(intrinsics, evaluates_literal_arguments)
{
    INDEXES(value_cases);
}

static void check_value(const value_case *c)
{
    run_result r = run(c->expr, c->input);
    cr_assert_eq(r.compile_rc, SF_OK, "%s: compile failed: %s", c->expr, r.err);
    cr_assert_eq(r.eval_rc, SF_OK, "%s: eval failed: %s: %s", c->expr, r.e.error, r.e.cause);
    json_t *want = parse(c->expected);
    char *got = text_of(r.value);
    cr_expect(json_equal(r.value, want), "%s: expected %s, got %s", c->expr, c->expected, got);
    free(got);
    json_decref(want);
    run_cleanup(&r);
}

ParameterizedTest(size_t *i, intrinsics, evaluates_literal_arguments)
{
    check_value(&value_cases[*i]);
}

/* Path arguments: $, $$ and $name, as in the AWS-recorded cases. */
static value_case path_cases[] = {
    {"States.Format('Format Func {}', $.input_value)", "{\"input_value\": \"input_value_literal\"}",
     "\"Format Func input_value_literal\""},
    {"States.Format('Format Func {}', $varname)", "{}", "\"Format Func x\""},
    {"States.Array($)", "{\"a\": 1}", "[{\"a\": 1}]"},
    {"States.Array($$.StateMachine.Name)", "{}", "[\"sm-demo-name\"]"},
    {"States.Format($.AnswerTemplate, $$.Map.Item.Value)", "{\"AnswerTemplate\": \"It's {}!\"}",
     "\"It's Charizard!\""},
    {"States.Format('{}', $.o)", "{\"o\": {\"k\": [1, \"v\"]}}", "\"{\\\"k\\\":[1,\\\"v\\\"]}\""},
    {"States.MathAdd(States.MathAdd(States.MathAdd($yCurrent, $xCurrent), $zCurrent), $bias)", "{}",
     "63"},
    {"States.MathAdd($.Iterations, -1)", "{\"Iterations\": 3}", "2"},
    {"States.Base64Encode($rawString)", "{}", "\"SGVsbG8gV29ybGQ=\""},
    {"States.Base64Decode($encodedString)", "{}", "\"Hello World\""},
    {"States.Hash($inputString, 'SHA-256')", "{}",
     "\"1cac63f39fd68d8c531f27b807610fb3d50f0fc3f186995767fb6316e7200a3e\""},
    {"States.JsonMerge($json1, $json2, false)", "{}", "{\"a\":1,\"b\":2,\"c\":3,\"d\":4}"},
    {"States.StringToJson($jsonString)", "{}", "{\"key\":\"value\"}"},
    {"States.JsonToString($jsonObject)", "{}", "\"{\\\"test\\\":\\\"object\\\"}\""},
    {"States.MathAdd($value1, $value2)", "{}", "8"},
    {"States.StringSplit($csvString, ',')", "{}", "[\"a\",\"b\",\"c\",\"d\",\"e\"]"},
    {"States.Format('Hello {}, welcome to {}!', $name, $place)", "{}",
     "\"Hello John, welcome to LocalStack!\""},
    {"States.JsonMerge(States.StringToJson('{\"constant_in_literal\": \"false\"}'), "
     "$$.Execution.Input.input_field, false)",
     "{\"input_field\": {\"constant_input_field\": \"constant_value\"}}",
     "{\"constant_input_field\":\"constant_value\",\"constant_in_literal\":\"false\"}"},
    {"States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), 0)", "{}", "\"sm\""},
    {"States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), "
     "States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))",
     "{}", "\"name\""},
    {"States.ArrayGetItem($PokemonList, 1)", "{}", "\"Pikachu\""},
    {"States.Array($.a[1], $.b['c d'])", "{\"a\": [0, 10], \"b\": {\"c d\": true}}", "[10, true]"},
};

ParameterizedTestParameters(intrinsics, evaluates_path_arguments)
{
    INDEXES(path_cases);
}

ParameterizedTest(size_t *i, intrinsics, evaluates_path_arguments)
{
    check_value(&path_cases[*i]);
}

/* ---- runtime errors ---------------------------------------------------- */

typedef struct error_case {
    const char *expr;
    const char *input;
    const char *error;
    const char *cause_part;
} error_case;

#define IF "States.IntrinsicFailure"

static error_case error_cases[] = {
    {"States.ArrayGetItem(States.Array(1), 5)", "{}", IF, "States.ArrayGetItem"},
    {"States.ArrayGetItem(States.Array(1), -1)", "{}", IF, "index"},
    {"States.ArrayGetItem('x', 0)", "{}", IF, "argument 1 must be an array"},
    {"States.ArrayLength('x')", "{}", IF, "States.ArrayLength"},
    {"States.ArrayUnique(1)", "{}", IF, "States.ArrayUnique"},
    {"States.ArrayContains(null, 1)", "{}", IF, "States.ArrayContains"},
    {"States.ArrayRange(1, 2000, 1)", "{}", IF, "1000"},
    {"States.ArrayRange(1, 5, 0)", "{}", IF, "step"},
    {"States.ArrayRange(1, 5.5, 1)", "{}", IF, "end"},
    {"States.ArrayRange('1', 5, 1)", "{}", IF, "start"},
    {"States.ArrayPartition(States.Array(1), 0)", "{}", IF, "chunk size"},
    {"States.ArrayPartition(States.Array(1), 1.5)", "{}", IF, "chunk size"},
    {"States.ArrayPartition('a', 1)", "{}", IF, "argument 1 must be an array"},
    {"States.JsonMerge(States.StringToJson('{}'), States.StringToJson('{}'), true)", "{}", IF,
     "shallow"},
    {"States.JsonMerge('a', States.StringToJson('{}'), false)", "{}", IF, "argument 1 must be an object"},
    {"States.JsonMerge(States.StringToJson('{}'), 1, false)", "{}", IF, "argument 2 must be an object"},
    {"States.JsonMerge(States.StringToJson('{}'), States.StringToJson('{}'), 'false')", "{}", IF,
     "argument 3 must be a boolean"},
    {"States.Hash('x', 'SHA-3')", "{}", IF, "algorithm"},
    {"States.Hash('x', 'md5')", "{}", IF, "algorithm"},
    {"States.Hash(1, 'MD5')", "{}", IF, "argument 1 must be a string"},
    {"States.StringToJson('{bad')", "{}", IF, "not valid JSON"},
    {"States.StringToJson(1)", "{}", IF, "argument 1 must be a string"},
    {"States.MathAdd('1', 2)", "{}", IF, "States.MathAdd"},
    {"States.MathAdd(2147483648, 1)", "{}", IF, "2147483647"},
    {"States.MathRandom(5, 5)", "{}", IF, "greater than"},
    {"States.MathRandom('a', 5)", "{}", IF, "start"},
    {"States.MathRandom(1, 5, 'seed')", "{}", IF, "seed"},
    {"States.Base64Decode('!!!!')", "{}", IF, "base64"},
    {"States.Base64Decode('Y')", "{}", IF, "base64"},
    {"States.Base64Decode('YQ==YQ==')", "{}", IF, "base64"},
    {"States.Base64Decode(1)", "{}", IF, "argument 1 must be a string"},
    {"States.Base64Encode(States.Array())", "{}", IF, "argument 1 must be a string"},
    {"States.StringSplit(1, ',')", "{}", IF, "argument 1 must be a string"},
    {"States.StringSplit('a', 1)", "{}", IF, "argument 2 must be a string"},
    {"States.Format($.tmpl, 'a')", "{\"tmpl\": \"{} {}\"}", IF, "placeholders"},
    {"States.Format($.n)", "{\"n\": 5}", IF, "argument 1 must be a string"},
    {"States.Format('{}', $.missing)", "{\"a\": 1}", "States.Runtime",
     "The JSONPath '$.missing' specified for the field 'intrinsic' could not be found in the input "
     "'{\"a\":1}'"},
    {"States.Array($$.Execution.Nope)", "{}", "States.Runtime", "'$$.Execution.Nope'"},
    {"States.Array($noSuchVar)", "{}", "States.Runtime", "noSuchVar"},
    {"States.Array($json1.zzz)", "{}", "States.Runtime", "'{\"a\":1,\"b\":2}'"},
};

ParameterizedTestParameters(intrinsics, fails_at_runtime_as_aws_does)
{
    INDEXES(error_cases);
}

ParameterizedTest(size_t *i, intrinsics, fails_at_runtime_as_aws_does)
{
    const error_case *c = &error_cases[*i];
    run_result r = run(c->expr, c->input);
    cr_assert_eq(r.compile_rc, SF_OK, "%s: compile failed: %s", c->expr, r.err);
    char *got = text_of(r.value);
    cr_expect_eq(r.eval_rc, SF_EINVAL, "%s: expected a failure, got %s", c->expr, got);
    free(got);
    cr_expect_null(r.value, "%s: a failure must leave *out NULL", c->expr);
    cr_assert_not_null(r.e.error, "%s: no error set", c->expr);
    cr_expect_str_eq(r.e.error, c->error, "%s: error", c->expr);
    cr_assert_not_null(r.e.cause, "%s: no cause set", c->expr);
    cr_expect(strstr(r.e.cause, c->cause_part) != NULL, "%s: cause '%s' lacks '%s'", c->expr,
              r.e.cause, c->cause_part);
    run_cleanup(&r);
}

/* ---- compile errors ---------------------------------------------------- */

typedef struct compile_case {
    const char *expr;
    const char *msg_part;
} compile_case;

static compile_case compile_cases[] = {
    {"States.Nope(1)", "unknown intrinsic function 'States.Nope' at byte 0"},
    {"States.Format()", "takes at least 1 argument"},
    {"States.Format('{} {}', 1)", "2 placeholders but 1 argument"},
    {"States.Format('{}')", "1 placeholder but 0 arguments"},
    {"States.Format(1)", "must be a string"},
    {"States.ArrayLength()", "takes 1 argument, got 0"},
    {"States.ArrayRange(1, 2)", "takes 3 arguments, got 2"},
    {"States.MathRandom(1)", "2 to 3 arguments"},
    {"States.UUID(1)", "takes 0 arguments"},
    {"States.JsonMerge(States.Array(), States.Array())", "takes 3 arguments"},
    /* AWS refuses \" inside a literal (definitions.jsonl: ESCAPE_SEQUENCES_ILLEGAL_INTRINSIC_FUNCTION_2) */
    {"States.Format('He said, \\\"Hello, {}!\\\"', 'Test \\\"Name\\\" Here')", "invalid escape"},
    {"States.Format('unterminated", "unterminated string literal at byte 14"},
    {"States.Array(1,)", "unexpected ')'"},
    {"States.Array(1 2)", "expected ',' or ')'"},
    {"States.Array(1) x", "after the call"},
    {"States.Array(1", "missing ')'"},
    {"States.Array(", "end of expression"},
    {"States.Array(tru)", "unexpected 't'"},
    {"States.Array(1.)", "invalid number"},
    {"States.Array(1abc)", "in number"},
    {"States.Array(99999999999999999999)", "out of range"},
    {"States.Array(@)", "unexpected '@'"},
    {"States.Array", "expected '('"},
    {"States.Array(States.Bogus())", "unknown intrinsic function 'States.Bogus' at byte 13"},
    {"States.Array(States.Array(States.Array(States.Array(States.Array(States.Array("
     "States.Array(States.Array(States.Array(States.Array(States.Array(1)))))))))))",
     "nested more than 10"},
    {"$.a", "expected an intrinsic function call"},
};

ParameterizedTestParameters(intrinsics, rejects_invalid_expressions)
{
    INDEXES(compile_cases);
}

ParameterizedTest(size_t *i, intrinsics, rejects_invalid_expressions)
{
    const compile_case *c = &compile_cases[*i];
    asl_intrinsic *fn = NULL;
    char err[256] = "";
    sf_rc rc = asl_intrinsic_compile(c->expr, &fn, err, sizeof err);
    cr_expect_eq(rc, SF_EINVAL, "%s: expected SF_EINVAL, got %d", c->expr, rc);
    cr_expect_null(fn);
    cr_expect(strstr(err, c->msg_part) != NULL, "%s: message '%s' lacks '%s'", c->expr, err,
              c->msg_part);
    asl_intrinsic_destroy(&fn);
}

Test(intrinsics, accepts_ten_levels_of_nesting)
{
    run_result r = run("States.Array(States.Array(States.Array(States.Array(States.Array("
                       "States.Array(States.Array(States.Array(States.Array(States.Array(1))))))))))",
                       "{}");
    cr_assert_eq(r.compile_rc, SF_OK, "%s", r.err);
    cr_assert_eq(r.eval_rc, SF_OK);
    run_cleanup(&r);
}

Test(intrinsics, compile_error_survives_tiny_buffers)
{
    asl_intrinsic *fn = NULL;
    char err[4] = "xyz";
    cr_expect_eq(asl_intrinsic_compile("States.Nope()", &fn, err, sizeof err), SF_EINVAL);
    cr_expect_eq(strlen(err), 3);
    cr_expect_eq(asl_intrinsic_compile("States.Nope()", &fn, NULL, 0), SF_EINVAL);
    cr_expect_null(fn);
}

/* ---- recognising calls ------------------------------------------------- */

Test(intrinsics, recognises_calls_but_not_paths)
{
    cr_expect(asl_intrinsic_is_call("States.Format('x')"));
    cr_expect(asl_intrinsic_is_call("States.UUID()"));
    cr_expect(asl_intrinsic_is_call("States.Unknown(1)"), "unknown names are calls that fail to compile");
    cr_expect(asl_intrinsic_is_call("States.Array (1)"));
    cr_expect_not(asl_intrinsic_is_call("$.a"));
    cr_expect_not(asl_intrinsic_is_call("$$.Execution.Id"));
    cr_expect_not(asl_intrinsic_is_call("States.Format"));
    cr_expect_not(asl_intrinsic_is_call("States.(1)"));
    cr_expect_not(asl_intrinsic_is_call("states.Format('x')"));
    cr_expect_not(asl_intrinsic_is_call(""));
    cr_expect_not(asl_intrinsic_is_call(NULL));
}

/* ---- limits ------------------------------------------------------------ */

static char *repeat_call(const char *fn, size_t n, const char *tail)
{
    size_t len = strlen(fn) + n + strlen(tail) + 8;
    char *s = malloc(len);
    cr_assert_not_null(s);
    size_t o = (size_t)snprintf(s, len, "%s('", fn);
    memset(s + o, 'a', n);
    o += n;
    snprintf(s + o, len - o, "'%s)", tail);
    return s;
}

Test(intrinsics, base64_and_hash_take_up_to_10000_characters)
{
    static const struct {
        const char *fn;
        const char *tail;
    } fns[] = {{"States.Base64Encode", ""}, {"States.Hash", ", 'MD5'"}, {"States.Base64Decode", ""}};
    for (size_t i = 0; i < 3; i++) {
        char *ok = repeat_call(fns[i].fn, 10000, fns[i].tail);
        run_result r = run(ok, "{}");
        cr_expect_eq(r.eval_rc, SF_OK, "%s of 10000 chars: %s", fns[i].fn, r.e.cause);
        run_cleanup(&r);
        free(ok);
        char *big = repeat_call(fns[i].fn, 10001, fns[i].tail);
        r = run(big, "{}");
        cr_expect_eq(r.eval_rc, SF_EINVAL, "%s of 10001 chars must fail", fns[i].fn);
        cr_expect(r.e.cause && strstr(r.e.cause, "10000"), "%s: cause %s", fns[i].fn, r.e.cause);
        run_cleanup(&r);
        free(big);
    }
}

Test(intrinsics, array_range_takes_up_to_1000_elements)
{
    run_result r = run("States.ArrayRange(0, 999, 1)", "{}");
    cr_assert_eq(r.eval_rc, SF_OK);
    cr_expect_eq(json_array_size(r.value), 1000);
    run_cleanup(&r);
    r = run("States.ArrayRange(0, 1000, 1)", "{}");
    cr_expect_eq(r.eval_rc, SF_EINVAL);
    cr_expect_str_eq(r.e.error, IF);
    run_cleanup(&r);
}

/* ---- randomness -------------------------------------------------------- */

static bool is_uuid_v4(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash != (s[i] == '-'))
            return false;
        if (!dash && !strchr("0123456789abcdef", s[i]))
            return false;
    }
    return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

Test(intrinsics, uuid_is_version_4_and_follows_the_rng)
{
    asl_rng a = {.s = 7}, b = {.s = 7};
    run_result r1 = run_with("States.UUID()", "{}", &a);
    run_result r2 = run_with("States.UUID()", "{}", &a);
    run_result r3 = run_with("States.UUID()", "{}", &b);
    cr_assert_eq(r1.eval_rc, SF_OK);
    cr_assert(json_is_string(r1.value));
    cr_expect(is_uuid_v4(json_string_value(r1.value)), "not a v4 UUID: %s", json_string_value(r1.value));
    cr_expect(is_uuid_v4(json_string_value(r2.value)));
    cr_expect_str_neq(json_string_value(r1.value), json_string_value(r2.value));
    cr_expect_str_eq(json_string_value(r1.value), json_string_value(r3.value),
                     "the same seed must give the same UUID");
    run_cleanup(&r1);
    run_cleanup(&r2);
    run_cleanup(&r3);
}

Test(intrinsics, uuid_and_unseeded_random_need_an_rng)
{
    run_result r = run_with("States.UUID()", "{}", NULL);
    cr_expect_eq(r.eval_rc, SF_EINVAL);
    run_cleanup(&r);
    r = run_with("States.MathRandom(1, 5)", "{}", NULL);
    cr_expect_eq(r.eval_rc, SF_EINVAL);
    run_cleanup(&r);
    r = run_with("States.MathRandom(1, 5, 3)", "{}", NULL);
    cr_expect_eq(r.eval_rc, SF_OK, "a seeded call needs no rng");
    run_cleanup(&r);
}

Test(intrinsics, math_random_stays_in_start_inclusive_end_exclusive)
{
    asl_rng rng = {.s = 1};
    bool seen[5] = {false};
    for (int i = 0; i < 400; i++) {
        run_result r = run_with("States.MathRandom(10, 15)", "{}", &rng);
        cr_assert_eq(r.eval_rc, SF_OK);
        cr_assert(json_is_integer(r.value));
        json_int_t v = json_integer_value(r.value);
        cr_assert(v >= 10 && v < 15, "out of range: %lld", (long long)v);
        seen[v - 10] = true;
        run_cleanup(&r);
    }
    for (int i = 0; i < 5; i++)
        cr_expect(seen[i], "%d never drawn", 10 + i);
    /* AWS rounds non-integer bounds: 12.5 -> 13, 44.51 -> 45 */
    for (int i = 0; i < 100; i++) {
        run_result r = run_with("States.MathRandom(12.5, 44.51)", "{}", &rng);
        cr_assert_eq(r.eval_rc, SF_OK);
        json_int_t v = json_integer_value(r.value);
        cr_assert(v >= 13 && v < 45, "out of range: %lld", (long long)v);
        run_cleanup(&r);
    }
}

Test(intrinsics, math_random_with_a_seed_is_deterministic)
{
    asl_rng a = {.s = 1}, b = {.s = 99};
    run_result r1 = run_with("States.MathRandom(0, 1000000, 3)", "{}", &a);
    run_result r2 = run_with("States.MathRandom(0, 1000000, 3)", "{}", &b);
    run_result r3 = run_with("States.MathRandom(0, 1000000, 4)", "{}", &a);
    cr_assert_eq(r1.eval_rc, SF_OK);
    cr_expect(json_equal(r1.value, r2.value), "same seed, different results");
    cr_expect_not(json_equal(r1.value, r3.value), "different seeds gave the same result");
    run_cleanup(&r1);
    run_cleanup(&r2);
    run_cleanup(&r3);
}

/* ---- the AWS-recorded conformance cases -------------------------------- */

/* Values that AWS redacts (UUIDs, random numbers, ARN parts) can only be
 * compared by shape. */
static bool same_shape(json_t *a, json_t *b)
{
    if (json_typeof(a) != json_typeof(b)) {
        /* a redacted value is recorded as a string placeholder */
        return json_is_string(b);
    }
    if (json_is_object(a)) {
        const char *k;
        json_t *v;
        if (json_object_size(a) != json_object_size(b))
            return false;
        json_object_foreach(a, k, v) {
            json_t *w = json_object_get(b, k);
            if (!w || !same_shape(v, w))
                return false;
        }
    }
    return true;
}

/* Every recorded execution whose machine is one Pass state with intrinsic
 * Parameters is evaluated here, expression by expression. */
Test(intrinsics, matches_aws_recorded_executions)
{
    FILE *f = fopen(SF_SHARED_DIR "/conformance/executions.jsonl", "r");
    cr_assert_not_null(f, "cannot open the conformance cases");
    char *line = NULL;
    size_t cap = 0;
    int checked = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *c = parse(line);
        json_t *intr = json_object_get(json_object_get(c, "features"), "intrinsics");
        json_t *def = NULL;
        if (json_array_size(intr) == 0)
            goto next;
        def = parse(json_string_value(json_object_get(c, "definition")));
        json_t *states = json_object_get(def, "States");
        if (json_object_size(states) != 1)
            goto next;
        json_t *st = json_object_iter_value(json_object_iter(states));
        json_t *params = json_object_get(st, "Parameters");
        const char *key;
        json_t *v;
        bool simple = json_is_object(params);
        json_object_foreach(st, key, v) {
            if (strcmp(key, "Type") && strcmp(key, "Parameters") && strcmp(key, "End"))
                simple = false;
        }
        json_object_foreach(params, key, v) {
            size_t kl = strlen(key);
            if (kl < 3 || strcmp(key + kl - 2, ".$") || !json_is_string(v) ||
                !asl_intrinsic_is_call(json_string_value(v)))
                simple = false;
        }
        if (!simple)
            goto next;
        const char *id = json_string_value(json_object_get(c, "id"));
        const char *input = json_string_value(json_object_get(c, "input"));
        json_t *expected = json_object_get(c, "expected");
        cr_assert_str_eq(json_string_value(json_object_get(expected, "status")), "SUCCEEDED", "%s", id);
        json_t *want = parse(json_string_value(json_object_get(expected, "output")));
        json_t *got = json_object();
        json_object_foreach(params, key, v) {
            run_result r = run(json_string_value(v), input);
            cr_assert_eq(r.compile_rc, SF_OK, "%s: %s", id, r.err);
            cr_assert_eq(r.eval_rc, SF_OK, "%s: %s: %s", id, r.e.error, r.e.cause);
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(strlen(key) - 2), key);
            json_object_set_new(got, name, r.value);
            r.value = NULL;
            run_cleanup(&r);
        }
        char *g = text_of(got);
        if (json_is_true(json_object_get(c, "exact")))
            cr_expect(json_equal(got, want), "%s: expected %s, got %s",
                      id, json_string_value(json_object_get(expected, "output")), g);
        else
            cr_expect(same_shape(got, want), "%s: expected the shape of %s, got %s", id,
                      json_string_value(json_object_get(expected, "output")), g);
        free(g);
        json_decref(got);
        json_decref(want);
        checked++;
    next:
        json_decref(def);
        json_decref(c);
    }
    free(line);
    fclose(f);
    cr_log_info("checked %d AWS-recorded executions", checked);
    cr_expect_geq(checked, 60, "only %d conformance cases were checked", checked);
}
