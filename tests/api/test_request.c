/* tests/api/test_request.c - what api_request_parse makes of one request:
 * operation calls, approval links, and each refusal with its status, AWS
 * error name and a message that says what was wrong. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/api/request.h"

#define TARGET "AWSStepFunctions.StartExecution"
#define AMZ_JSON "application/x-amz-json-1.0"

static api_request req;

static void parse_full(const char *method, const char *path, const char *target,
                       const char *content_type, const char *body, size_t body_len)
{
    api_request_in in = {.method = method,
                         .path = path,
                         .target = target,
                         .content_type = content_type,
                         .body = body,
                         .body_len = body_len};
    cr_assert_eq(api_request_parse(&in, &req), SF_OK);
}

static void parse(const char *method, const char *path, const char *target,
                  const char *content_type, const char *body)
{
    parse_full(method, path, target, content_type, body, body ? strlen(body) : 0);
}

static void post(const char *target, const char *content_type, const char *body)
{
    parse("POST", "/", target, content_type, body);
}

static const char *message(void)
{
    return json_string_value(json_object_get(req.error, "message"));
}

/* Asserts an error with this status and __type whose message holds part. */
static void assert_refused(int status, const char *type, const char *part)
{
    cr_assert_eq(req.kind, API_REQ_ERROR);
    cr_assert_eq(req.status, status, "status %d, want %d", req.status, status);
    cr_assert_str_eq(json_string_value(json_object_get(req.error, "__type")), type);
    cr_assert_not_null(message());
    cr_assert(strstr(message(), part), "message '%s' lacks '%s'", message(), part);
    cr_assert_eq(json_object_size(req.error), 2);
}

static void teardown(void)
{
    api_request_cleanup(&req);
}

TestSuite(request, .fini = teardown);

Test(request, accepts_an_operation_with_its_input)
{
    post(TARGET, AMZ_JSON, "{\"stateMachineArn\":\"arn:x\",\"input\":\"{}\"}");
    cr_assert_eq(req.kind, API_REQ_OPERATION);
    cr_assert_str_eq(req.op, "StartExecution");
    cr_assert_str_eq(json_string_value(json_object_get(req.input, "stateMachineArn")), "arn:x");
    cr_assert_null(req.error);
}

Test(request, empty_body_is_an_empty_object)
{
    post("AWSStepFunctions.ListStateMachines", AMZ_JSON, "");
    cr_assert_eq(req.kind, API_REQ_OPERATION);
    cr_assert(json_is_object(req.input));
    cr_assert_eq(json_object_size(req.input), 0);
}

Test(request, leaves_unknown_operations_to_the_backend)
{
    post("AWSStepFunctions.NoSuchOperation2", AMZ_JSON, "{}");
    cr_assert_eq(req.kind, API_REQ_OPERATION);
    cr_assert_str_eq(req.op, "NoSuchOperation2");
}

Test(request, accepts_json_media_types_in_any_case_with_utf8_charset)
{
    static const char *const ok[] = {
        "application/x-amz-json-1.0",
        "application/x-amz-json-1.1",
        "application/json",
        "Application/JSON",
        "APPLICATION/X-AMZ-JSON-1.0",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        "application/x-amz-json-1.0 ; charset=\"utf-8\"",
        "  application/json  ",
        "application/json;",
        "application/json; boundary=x; charset=utf-8",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        post(TARGET, ok[i], "{}");
        cr_assert_eq(req.kind, API_REQ_OPERATION, "refused '%s': %s", ok[i],
                     req.error ? message() : "");
        api_request_cleanup(&req);
    }
}

Test(request, refuses_other_media_types_naming_them)
{
    static const char *const bad[] = {
        "text/plain",
        "",
        "application/jsonx",
        "application/x-amz-json-1.2",
        "application/json, text/plain",
        "application/x-www-form-urlencoded",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        post(TARGET, bad[i], "{}");
        char quoted[128];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        assert_refused(400, "UnsupportedMediaTypeException", quoted);
        cr_assert(strstr(message(), "application/x-amz-json-1.0"));
        api_request_cleanup(&req);
    }
}

Test(request, refuses_a_charset_other_than_utf8)
{
    post(TARGET, "application/json; charset=latin1", "{}");
    assert_refused(400, "UnsupportedMediaTypeException", "utf-8");
}

Test(request, refuses_malformed_media_type_parameters)
{
    static const char *const bad[] = {"application/json; charset", "application/json; =x",
                                      "application/json; charset=\"utf-8", "application/json x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        post(TARGET, bad[i], "{}");
        cr_assert_eq(req.kind, API_REQ_ERROR, "accepted '%s'", bad[i]);
        cr_assert_eq(req.status, 400);
        api_request_cleanup(&req);
    }
}

Test(request, refuses_a_missing_content_type)
{
    post(TARGET, NULL, "{}");
    assert_refused(400, "UnsupportedMediaTypeException", "missing Content-Type");
}

Test(request, refuses_a_missing_target)
{
    post(NULL, AMZ_JSON, "{}");
    assert_refused(400, "UnknownOperationException", "missing X-Amz-Target");
}

Test(request, refuses_bad_targets_naming_them)
{
    static const char *const bad[] = {
        "",
        "AWSStepFunctions.",
        "AWSStepFunctions",
        "StartExecution",
        "awsstepfunctions.StartExecution",
        "AWSStepFunctions.Start-Execution",
        "AWSStepFunctions.Start Execution",
        "AWSStepFunctions.StartExecution ",
        "AWSStepFunctions.Start.Execution",
        "AmazonStates.StartExecution",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        post(bad[i], AMZ_JSON, "{}");
        char quoted[128];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        assert_refused(400, "UnknownOperationException", quoted);
        api_request_cleanup(&req);
    }
}

Test(request, refuses_an_operation_name_past_the_limit)
{
    char target[256] = "AWSStepFunctions.";
    size_t n = strlen(target);
    memset(target + n, 'A', API_OP_MAX);
    target[n + API_OP_MAX] = '\0';
    post(target, AMZ_JSON, "{}");
    cr_assert_eq(req.kind, API_REQ_OPERATION);
    cr_assert_eq(strlen(req.op), API_OP_MAX);
    api_request_cleanup(&req);

    strcat(target, "A");
    post(target, AMZ_JSON, "{}");
    assert_refused(400, "UnknownOperationException", "at most 64 bytes");
}

Test(request, malformed_json_says_where)
{
    post(TARGET, AMZ_JSON, "{\n  \"name\": \"x\",\n  \"input\": oops\n}");
    assert_refused(400, "SerializationException", "line 3, column");
    cr_assert(strstr(message(), "(byte "), "%s", message());
}

Test(request, truncated_json_says_where)
{
    post(TARGET, AMZ_JSON, "{\"a\":");
    assert_refused(400, "SerializationException", "line 1, column");
}

Test(request, refuses_json_that_is_not_an_object)
{
    static const struct {
        const char *body, *kind;
    } cases[] = {
        {"[1,2]", "an array"}, {"\"s\"", "a string"}, {"3", "a number"},
        {"1.5", "a number"},   {"true", "a boolean"}, {"null", "null"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        post(TARGET, AMZ_JSON, cases[i].body);
        assert_refused(400, "SerializationException", cases[i].kind);
        cr_assert(strstr(message(), "must be a JSON object"));
        api_request_cleanup(&req);
    }
}

Test(request, refuses_duplicate_keys)
{
    post(TARGET, AMZ_JSON, "{\"name\":\"a\",\"name\":\"b\"}");
    assert_refused(400, "SerializationException", "name");
}

Test(request, refuses_nul_bytes_in_the_body)
{
    parse_full("POST", "/", TARGET, AMZ_JSON, "{\"a\":\"x\0y\"}", 11);
    assert_refused(400, "SerializationException", "byte");
    api_request_cleanup(&req);
    post(TARGET, AMZ_JSON, "{\"a\":\"\\u0000\"}");
    assert_refused(400, "SerializationException", "line 1");
}

Test(request, refuses_a_body_past_the_limit_with_413)
{
    size_t n = API_BODY_MAX + 1;
    char *body = malloc(n);
    cr_assert_not_null(body);
    memset(body, ' ', n);
    body[0] = '{';
    body[n - 1] = '}';
    parse_full("POST", "/", TARGET, AMZ_JSON, body, n);
    assert_refused(413, "RequestEntityTooLarge", "2097153 bytes");
    api_request_cleanup(&req);

    /* Exactly at the limit is fine. */
    parse_full("POST", "/", TARGET, AMZ_JSON, body + 1, n - 1);
    cr_assert_eq(req.kind, API_REQ_ERROR); /* "   }" is not JSON... */
    cr_assert_eq(req.status, 400);         /* ...but it was read, not refused */
    api_request_cleanup(&req);
    body[1] = '{';
    parse_full("POST", "/", TARGET, AMZ_JSON, body + 1, n - 1);
    cr_assert_eq(req.kind, API_REQ_OPERATION);
    free(body);
}

Test(request, operations_are_post_only)
{
    parse("GET", "/", TARGET, AMZ_JSON, "");
    assert_refused(405, "MethodNotAllowed", "GET /");
    cr_assert_str_eq(req.allow, "POST");
    cr_assert_not(req.for_person);
}

Test(request, unknown_paths_are_404_naming_the_path)
{
    parse("POST", "/2016-11-23/executions", TARGET, AMZ_JSON, "{}");
    assert_refused(404, "UnknownOperationException", "POST /2016-11-23/executions");
    api_request_cleanup(&req);
    parse("GET", "/approvex/good", NULL, NULL, NULL);
    assert_refused(404, "UnknownOperationException", "/approvex/good");
    api_request_cleanup(&req);
    parse("GET", "", NULL, NULL, NULL);
    assert_refused(404, "UnknownOperationException", "GET");
}

Test(request, approve_link_gives_the_decoded_token)
{
    parse("GET", "/approve/abc%2Fdef%3d%3D+x", NULL, NULL, NULL);
    cr_assert_eq(req.kind, API_REQ_DECISION);
    cr_assert(req.approve);
    cr_assert_str_eq(req.token, "abc/def==+x");
}

Test(request, reject_link_gives_the_token)
{
    parse("GET", "/reject/tok", NULL, NULL, NULL);
    cr_assert_eq(req.kind, API_REQ_DECISION);
    cr_assert_not(req.approve);
    cr_assert_str_eq(req.token, "tok");
}

Test(request, keeps_a_slash_inside_the_token)
{
    parse("GET", "/approve/a/b", NULL, NULL, NULL);
    cr_assert_eq(req.kind, API_REQ_DECISION);
    cr_assert_str_eq(req.token, "a/b");
}

Test(request, approval_links_are_get_only)
{
    parse("POST", "/approve/tok", TARGET, AMZ_JSON, "{}");
    assert_refused(405, "MethodNotAllowed", "POST");
    cr_assert_str_eq(req.allow, "GET");
    cr_assert(req.for_person);
}

Test(request, refuses_a_link_without_a_token)
{
    static const char *const paths[] = {"/approve", "/approve/", "/reject/"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        parse("GET", paths[i], NULL, NULL, NULL);
        assert_refused(400, "InvalidToken", "no task token");
        cr_assert(req.for_person);
        api_request_cleanup(&req);
    }
}

Test(request, refuses_broken_escapes_in_a_token)
{
    static const char *const paths[] = {"/approve/ab%", "/approve/ab%4", "/approve/ab%zz",
                                        "/reject/%g0"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        parse("GET", paths[i], NULL, NULL, NULL);
        assert_refused(400, "InvalidToken", "%-escape");
        api_request_cleanup(&req);
    }
}

Test(request, refuses_a_nul_in_a_token)
{
    parse("GET", "/approve/ab%00cd", NULL, NULL, NULL);
    assert_refused(400, "InvalidToken", "NUL");
}

Test(request, token_length_is_counted_after_decoding)
{
    char path[16 + 3 * (API_TOKEN_MAX + 1)];
    strcpy(path, "/approve/");
    char *p = path + strlen(path);
    for (int i = 0; i < API_TOKEN_MAX; i++, p += 3)
        memcpy(p, "%41", 3);
    *p = '\0';
    parse("GET", path, NULL, NULL, NULL);
    cr_assert_eq(req.kind, API_REQ_DECISION);
    cr_assert_eq(strlen(req.token), API_TOKEN_MAX);
    api_request_cleanup(&req);

    strcpy(p, "B");
    parse("GET", path, NULL, NULL, NULL);
    assert_refused(400, "InvalidToken", "longer than 2048 bytes");
}

Test(request, quotes_client_bytes_as_printable_ascii)
{
    post("AWSStepFunctions.\x01\xc3\xa9\"x", AMZ_JSON, "{}");
    assert_refused(400, "UnknownOperationException", "\\x01\\xc3\\xa9\"x");
    for (const char *m = message(); *m; m++)
        cr_assert(*m >= 0x20 && *m < 0x7f);
}

Test(request, clips_long_quotes)
{
    char target[4096];
    memset(target, 'T', sizeof target - 1);
    target[sizeof target - 1] = '\0';
    post(target, AMZ_JSON, "{}");
    assert_refused(400, "UnknownOperationException", "TTT...'");
    cr_assert_lt(strlen(message()), 400);
}

Test(request, error_body_escapes_and_caps_its_message)
{
    char big[3 * API_MESSAGE_MAX];
    memset(big, '\x7f', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    json_t *e = api_error_new("X", "%s", big);
    cr_assert_not_null(e);
    const char *m = json_string_value(json_object_get(e, "message"));
    cr_assert_eq(strlen(m), 4 * API_MESSAGE_MAX);
    cr_assert_eq(strncmp(m, "\\x7f\\x7f", 8), 0);
    json_decref(e);
}

Test(request, cleanup_is_null_safe_and_clears)
{
    api_request_cleanup(NULL);
    parse("GET", "/approve/tok", NULL, NULL, NULL);
    api_request_cleanup(&req);
    cr_assert_null(req.token);
    cr_assert_null(req.input);
    cr_assert_null(req.error);
    api_request_cleanup(&req);
}
