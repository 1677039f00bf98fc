/* api/request.c - what one HTTP request asks for, decided without I/O.
 *
 * Checks in the order a client would want to hear about them: the body's
 * size (the server cannot even hold a larger one), where it was sent, which
 * operation, how the body is encoded, and finally the JSON itself. Every
 * refusal names what was wrong and quotes what was sent, escaped, so that a
 * hand-written curl command can be fixed from the message alone. Must never
 * crash or leak on any input: it is fed straight from the network. */
#define _POSIX_C_SOURCE 200809L /* strncasecmp */
#include "request.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../common/sf_hex.h"
#include "../../common/sf_json_kind.h"

#define TARGET_PREFIX "AWSStepFunctions."
#define QUOTE_MAX 120 /* bytes of client input quoted in a message */

json_t *api_error_new(const char *type, const char *fmt, ...)
{
    char raw[API_MESSAGE_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);

    /* Four bytes out for each byte in at worst: "\xNN". */
    char safe[4 * API_MESSAGE_MAX + 1];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)raw; *p; p++) {
        if (*p >= 0x20 && *p < 0x7f) {
            safe[n++] = (char)*p;
        } else {
            snprintf(safe + n, sizeof safe - n, "\\x%02x", *p);
            n += 4;
        }
    }
    safe[n] = '\0';
    return json_pack("{s:s,s:s}", "__type", type, "message", safe);
}

/* s cut to QUOTE_MAX bytes with "..." when longer, for quoting in messages. */
static const char *clip(const char *s, char *buf, size_t cap)
{
    size_t n = strlen(s);
    if (n <= QUOTE_MAX && n < cap)
        return s;
    snprintf(buf, cap, "%.*s...", QUOTE_MAX, s);
    return buf;
}

static sf_rc refuse(api_request *out, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static sf_rc refuse(api_request *out, int status, const char *type, const char *fmt, ...)
{
    char msg[API_MESSAGE_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    out->kind = API_REQ_ERROR;
    out->status = status;
    out->error = api_error_new(type, "%s", msg);
    return out->error ? SF_OK : SF_ENOMEM;
}

/* The approval link's token: everything after the prefix, percent-decoded.
 * '+' stays '+': this is a path, not a form. A '/' inside is kept too, so a
 * base64 token whose link was not encoded still arrives whole. */
static sf_rc parse_decision(const char *rest, bool approve, api_request *out)
{
    out->for_person = true;
    if (*rest == '/')
        rest++;
    if (*rest == '\0')
        return refuse(out, 400, "InvalidToken",
                      "the approval link has no task token: expected /%s/{token}",
                      approve ? "approve" : "reject");
    char *tok = malloc(API_TOKEN_MAX + 1);
    if (!tok)
        return SF_ENOMEM;
    size_t n = 0;
    for (const char *p = rest; *p; p++) {
        char c = *p;
        if (c == '%') {
            int hi = sf_hex_digit(p[1]), lo = hi < 0 ? -1 : sf_hex_digit(p[2]);
            if (hi < 0 || lo < 0) {
                free(tok);
                return refuse(out, 400, "InvalidToken",
                              "the task token in the link has a broken %%-escape at byte %zu: "
                              "expected two hex digits after '%%'",
                              (size_t)(p - rest));
            }
            c = (char)(hi * 16 + lo);
            p += 2;
            if (c == '\0') {
                free(tok);
                return refuse(out, 400, "InvalidToken",
                              "the task token in the link holds a NUL byte (%%00)");
            }
        }
        if (n == API_TOKEN_MAX) {
            free(tok);
            return refuse(out, 400, "InvalidToken",
                          "the task token in the link is longer than %d bytes", API_TOKEN_MAX);
        }
        tok[n++] = c;
    }
    tok[n] = '\0';
    out->kind = API_REQ_DECISION;
    out->token = tok;
    out->approve = approve;
    return SF_OK;
}

/* "AWSStepFunctions.<Op>" with Op alphanumeric; copies Op into out->op. */
static sf_rc parse_target(const char *target, api_request *out)
{
    char q[QUOTE_MAX + 4];
    if (!target)
        return refuse(out, 400, "UnknownOperationException",
                      "missing X-Amz-Target header: expected " TARGET_PREFIX "<Operation>");
    size_t plen = strlen(TARGET_PREFIX);
    const char *op = target + plen;
    size_t n = strncmp(target, TARGET_PREFIX, plen) == 0 ? strlen(op) : 0;
    bool ok = n > 0 && n <= API_OP_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)op[i]) != 0;
    if (!ok)
        return refuse(out, 400, "UnknownOperationException",
                      "X-Amz-Target '%s' is not " TARGET_PREFIX
                      "<Operation> with an alphanumeric operation name of at most %d bytes",
                      clip(target, q, sizeof q), API_OP_MAX);
    memcpy(out->op, op, n + 1);
    return SF_OK;
}

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* RFC 9110 token characters: what names and unquoted values are made of. */
static bool is_tchar(char c)
{
    return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool span_equals(const char *s, size_t n, const char *lower)
{
    return strlen(lower) == n && strncasecmp(s, lower, n) == 0;
}

/* Accepts the JSON media types AWS SDKs send, any case, with parameters;
 * a charset, where given, must be UTF-8 since JSON is. On refusal *why says
 * what is wrong. */
static bool content_type_ok(const char *ct, const char **why)
{
    static const char *const accepted[] = {"application/x-amz-json-1.0",
                                           "application/x-amz-json-1.1", "application/json"};
    const char *p = skip_ows(ct), *start = p;
    while (*p && *p != ';' && *p != ' ' && *p != '\t')
        p++;
    bool known = false;
    for (size_t i = 0; i < sizeof accepted / sizeof *accepted; i++)
        known |= span_equals(start, (size_t)(p - start), accepted[i]);
    if (!known) {
        *why = "is not a JSON media type: send application/x-amz-json-1.0";
        return false;
    }
    *why = "has malformed parameters after the media type";
    for (p = skip_ows(p); *p; p = skip_ows(p)) {
        if (*p++ != ';')
            return false;
        p = skip_ows(p);
        if (*p == '\0')
            break; /* a trailing ';' harms no one */
        const char *name = p;
        while (is_tchar(*p))
            p++;
        size_t name_len = (size_t)(p - name);
        if (name_len == 0 || *p++ != '=')
            return false;
        const char *value = p;
        size_t value_len;
        if (*p == '"') {
            value = ++p;
            while (*p && *p != '"')
                p += (*p == '\\' && p[1]) ? 2 : 1;
            if (*p != '"')
                return false;
            value_len = (size_t)(p++ - value);
        } else {
            while (is_tchar(*p))
                p++;
            value_len = (size_t)(p - value);
            if (value_len == 0)
                return false;
        }
        if (span_equals(name, name_len, "charset") && !span_equals(value, value_len, "utf-8")) {
            *why = "names a charset other than utf-8; JSON is UTF-8";
            return false;
        }
    }
    return true;
}

static sf_rc parse_operation(const api_request_in *in, api_request *out)
{
    char q[QUOTE_MAX + 4];
    sf_rc rc = parse_target(in->target, out);
    if (rc != SF_OK || out->error)
        return rc;
    if (!in->content_type)
        return refuse(out, 400, "UnsupportedMediaTypeException",
                      "missing Content-Type header: send application/x-amz-json-1.0");
    const char *why = NULL;
    if (!content_type_ok(in->content_type, &why))
        return refuse(out, 400, "UnsupportedMediaTypeException", "Content-Type '%s' %s",
                      clip(in->content_type, q, sizeof q), why);

    if (in->body_len == 0) {
        out->input = json_object();
        if (!out->input)
            return SF_ENOMEM;
        out->kind = API_REQ_OPERATION;
        return SF_OK;
    }
    /* Duplicate keys are refused: which one wins would be a guess. NUL in
     * strings (\u0000) is refused by jansson's default: the backend deals in
     * C strings. Nesting is capped by jansson itself. */
    json_error_t je;
    json_t *v = json_loadb(in->body ? in->body : "", in->body_len,
                           JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!v)
        return refuse(out, 400, "SerializationException",
                      "request body is not valid JSON at line %d, column %d (byte %d): %s", je.line,
                      je.column, je.position, je.text);
    if (!json_is_object(v)) {
        const char *kind = sf_json_kind(v);
        json_decref(v);
        return refuse(out, 400, "SerializationException",
                      "request body must be a JSON object, got %s", kind);
    }
    out->kind = API_REQ_OPERATION;
    out->input = v;
    return SF_OK;
}

/* Whether path is prefix itself or prefix followed by '/'. */
static bool path_under(const char *path, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(path, prefix, n) != 0 || (path[n] != '\0' && path[n] != '/'))
        return false;
    *rest = path + n;
    return true;
}

sf_rc api_request_parse(const api_request_in *in, api_request *out)
{
    memset(out, 0, sizeof *out);
    out->kind = API_REQ_ERROR;
    char q1[QUOTE_MAX + 4], q2[QUOTE_MAX + 4];
    const char *method = in->method ? in->method : "";
    const char *path = in->path ? in->path : "";

    const char *rest = NULL;
    bool approve = path_under(path, "/approve", &rest);
    bool link = approve || path_under(path, "/reject", &rest);
    out->for_person = link;

    if (in->body_len > API_BODY_MAX)
        return refuse(out, 413, "RequestEntityTooLarge",
                      "request body of %zu bytes is over the %u-byte limit", in->body_len,
                      API_BODY_MAX);
    if (strcmp(path, "/") == 0) {
        if (strcmp(method, "POST") != 0) {
            out->allow = "POST";
            return refuse(
                out, 405, "MethodNotAllowed",
                "%s / is not served: operations are POST / with X-Amz-Target " TARGET_PREFIX
                "<Operation>",
                clip(method, q1, sizeof q1));
        }
        return parse_operation(in, out);
    }
    if (link) {
        if (strcmp(method, "GET") != 0) {
            out->allow = "GET";
            return refuse(out, 405, "MethodNotAllowed",
                          "approval links are followed with GET, not %s",
                          clip(method, q1, sizeof q1));
        }
        return parse_decision(rest, approve, out);
    }
    return refuse(
        out, 404, "UnknownOperationException",
        "nothing is served at %s %s: operations are POST / with X-Amz-Target " TARGET_PREFIX
        "<Operation>; approval links are GET /approve/{token} and "
        "GET /reject/{token}",
        clip(method, q1, sizeof q1), clip(path, q2, sizeof q2));
}

void api_request_cleanup(api_request *r)
{
    if (!r)
        return;
    json_decref(r->input);
    json_decref(r->error);
    free(r->token);
    memset(r, 0, sizeof *r);
}
