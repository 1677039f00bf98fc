/* tests/fuzz/fuzz_api_request.c - libFuzzer harness for api_request_parse
 * and the approval page.
 *
 * Input: four lines - method, path, X-Amz-Target, Content-Type - then the
 * body (the rest, NUL bytes and all). An empty target or content-type line
 * means the header is absent. A header value stops at a NUL, as it would
 * arriving through libmicrohttpd. Checks the parse contract: exactly one
 * verdict, each with what it promises (an alphanumeric operation and an
 * object; a non-empty NUL-free token within the limit; an error with a 4xx
 * status and an AWS body that encodes), and that an error message renders
 * into a page with nothing left unescaped. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/api/pages.h"
#include "coordinator/api/request.h"

#define FUZZ_MAX_INPUT (64 * 1024) /* the size limit itself is unit-tested */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

/* Copies the next line of [*p, end) into a new string and moves *p past it. */
static char *next_line(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = (size_t)((nl ? nl : end) - *p);
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, *p, n);
    s[n] = '\0';
    *p = nl ? nl + 1 : end;
    return s;
}

static void check_page(const char *message)
{
    size_t len = 0;
    char *page = api_page_render("This link is not valid", message, &len);
    check(page != NULL && strlen(page) == len);
    /* The page's own markup has no '<' inside its one paragraph. */
    const char *para = strstr(page, "<p>");
    check(para != NULL);
    check(strchr(para + 3, '<') == strstr(para, "</p>"));
    free(page);
}

static void check_verdict(const api_request *r)
{
    switch (r->kind) {
    case API_REQ_OPERATION:
        check(r->op[0] != '\0' && strlen(r->op) <= API_OP_MAX);
        for (const char *c = r->op; *c; c++)
            check((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z'));
        check(json_is_object(r->input));
        check(!r->token && !r->error);
        break;
    case API_REQ_DECISION:
        check(r->token && r->token[0] != '\0' && strlen(r->token) <= API_TOKEN_MAX);
        check(!r->input && !r->error);
        break;
    case API_REQ_ERROR: {
        check(r->status >= 400 && r->status < 500);
        check(!r->input && !r->token);
        check(json_object_size(r->error) == 2);
        check(json_is_string(json_object_get(r->error, "__type")));
        const char *m = json_string_value(json_object_get(r->error, "message"));
        check(m != NULL && strlen(m) <= 4 * API_MESSAGE_MAX);
        for (const char *c = m; *c; c++)
            check(*c >= 0x20 && *c < 0x7f);
        char *text = json_dumps(r->error, JSON_COMPACT);
        check(text != NULL);
        free(text);
        check((r->status == 405) == (r->allow != NULL));
        check_page(m);
        break;
    }
    default:
        check(0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    const uint8_t *p = data, *end = data + size;
    char *method = next_line(&p, end);
    char *path = next_line(&p, end);
    char *target = next_line(&p, end);
    char *content_type = next_line(&p, end);

    /* The body gets a buffer of its own size, so any overread is caught. */
    size_t body_len = (size_t)(end - p);
    char *body = malloc(body_len ? body_len : 1);
    if (!body)
        abort();
    memcpy(body, p, body_len);

    api_request_in in = {.method = method,
                         .path = path,
                         .target = target[0] ? target : NULL,
                         .content_type = content_type[0] ? content_type : NULL,
                         .body = body,
                         .body_len = body_len};
    api_request r;
    if (api_request_parse(&in, &r) == SF_OK)
        check_verdict(&r);
    api_request_cleanup(&r);
    check(r.input == NULL && r.error == NULL && r.token == NULL);

    free(method);
    free(path);
    free(target);
    free(content_type);
    free(body);
    return 0;
}
