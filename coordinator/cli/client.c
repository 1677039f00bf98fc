/* cli/client.c - one call of the Step Functions JSON API over libcurl (see
 * client.h).
 *
 * One easy handle per client, so the calls of one command (pages of a
 * listing, polls of --wait) reuse a single kept-alive connection. It never
 * signs requests and never retries: a command that failed says so once and
 * the person decides. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "client.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

/* Generous: nothing we call long-polls (GetActivityTask is not a command),
 * so a coordinator silent this long is stuck, not busy. */
#define CALL_TIMEOUT_S 120L
#define CONNECT_TIMEOUT_S 10L

struct cli_client {
    char *endpoint;
    CURL *curl;
};

typedef struct body {
    char *data;
    size_t len, cap;
    bool too_big;
} body;

cli_client *cli_client_new(const char *endpoint)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return NULL;
    cli_client *c = calloc(1, sizeof *c);
    if (c) {
        c->endpoint = strdup(endpoint);
        c->curl = curl_easy_init();
    }
    if (!c || !c->endpoint || !c->curl) {
        cli_client_destroy(&c);
        if (!c)
            curl_global_cleanup();
        return NULL;
    }
    return c;
}

void cli_client_destroy(cli_client **pc)
{
    if (!pc || !*pc)
        return;
    cli_client *c = *pc;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->endpoint);
    free(c);
    curl_global_cleanup();
    *pc = NULL;
}

const char *cli_client_endpoint(const cli_client *c)
{
    return c->endpoint;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    body *b = userdata;
    size_t n = size * nmemb;
    if (n > CLI_RESPONSE_MAX - b->len) {
        b->too_big = true;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* The error's name as a person knows it: AWS sends "prefix#Name", and some
 * servers append ":http://..." to it as in the X-Amzn-ErrorType header. */
static void error_name(const char *type, char *out, size_t outlen)
{
    const char *hash = strrchr(type, '#');
    const char *name = hash ? hash + 1 : type;
    size_t n = strcspn(name, ":");
    snprintf(out, outlen, "%.*s", (int)n, name);
}

/* A short, printable excerpt of a body that was not what we expected. */
static void excerpt(const body *b, char *out, size_t outlen)
{
    size_t n = 0;
    for (size_t i = 0; i < b->len && n + 1 < outlen && i < 200; i++) {
        unsigned char ch = (unsigned char)b->data[i];
        out[n++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    out[n] = '\0';
}

/* Fills err from a non-2xx answer: {"__type":..., "message":...} when the
 * server speaks the protocol, else the status and what it sent. */
static void decode_error(const cli_client *c, long status, const body *b, cli_error *err)
{
    json_t *v = b->len ? json_loadb(b->data, b->len, 0, NULL) : NULL;
    const char *type = json_string_value(json_object_get(v, "__type"));
    if (!type)
        type = json_string_value(json_object_get(v, "code"));
    const char *msg = json_string_value(json_object_get(v, "message"));
    if (!msg) /* some AWS services capitalize it */
        msg = json_string_value(json_object_get(v, "Message"));
    if (type && *type) {
        error_name(type, err->type, sizeof err->type);
        snprintf(err->message, sizeof err->message, "%s", msg ? msg : "(no message)");
    } else {
        char ex[256];
        excerpt(b, ex, sizeof ex);
        snprintf(err->message, sizeof err->message, "HTTP %ld from %s%s%s", status, c->endpoint,
                 *ex ? ": " : "", ex);
    }
    json_decref(v);
}

sf_rc cli_client_call(cli_client *c, const char *op, json_t *request, json_t **response,
                      cli_error *err)
{
    *response = NULL;
    memset(err, 0, sizeof *err);
    char *payload = request ? json_dumps(request, JSON_COMPACT) : strdup("{}");
    char target[128];
    snprintf(target, sizeof target, "X-Amz-Target: AWSStepFunctions.%s", op);
    struct curl_slist *h = NULL, *t;
    const char *lines[] = {"Content-Type: application/x-amz-json-1.0", target,
                           /* no "100-continue" round trip before large bodies */
                           "Expect:"};
    for (size_t i = 0; payload && i < sizeof lines / sizeof lines[0]; i++) {
        if (!(t = curl_slist_append(h, lines[i]))) {
            curl_slist_free_all(h);
            h = NULL;
            break;
        }
        h = t;
    }
    if (!payload || !h) {
        free(payload);
        snprintf(err->message, sizeof err->message, "out of memory");
        return SF_ENOMEM;
    }

    body b = {0};
    char curl_why[CURL_ERROR_SIZE] = "";
    CURL *e = c->curl;
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, c->endpoint);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, payload);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(payload));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, curl_why);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, CALL_TIMEOUT_S);
    CURLcode cc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    free(payload);

    sf_rc rc = SF_OK;
    err->http_status = status;
    if (b.too_big) {
        snprintf(err->message, sizeof err->message, "the answer from %s exceeds %d bytes",
                 c->endpoint, CLI_RESPONSE_MAX);
        rc = SF_ELIMIT;
    } else if (cc != CURLE_OK) {
        snprintf(err->message, sizeof err->message, "cannot reach the coordinator at %s: %s",
                 c->endpoint, *curl_why ? curl_why : curl_easy_strerror(cc));
        rc = cc == CURLE_WRITE_ERROR || cc == CURLE_OUT_OF_MEMORY ? SF_ENOMEM : SF_EIO;
    } else if (status < 200 || status > 299) {
        decode_error(c, status, &b, err);
        rc = *err->type ? SF_EINVAL : SF_EIO;
    } else {
        json_error_t je;
        json_t *v = b.len ? json_loadb(b.data, b.len, 0, &je) : json_object();
        if (!json_is_object(v)) {
            snprintf(err->message, sizeof err->message,
                     "the answer from %s is not a JSON object%s%s", c->endpoint, v ? "" : ": ",
                     v ? "" : je.text);
            json_decref(v);
            rc = SF_EIO;
        } else {
            *response = v;
        }
    }
    free(b.data);
    return rc;
}

sf_rc cli_client_call_all(cli_client *c, const char *op, json_t *request, const char *items_key,
                          json_t **items, cli_error *err)
{
    *items = NULL;
    memset(err, 0, sizeof *err);
    /* A shallow copy: only nextToken changes between pages. */
    json_t *req = request ? json_copy(request) : json_object();
    json_t *all = json_array();
    char *prev_token = NULL;
    sf_rc rc = req && all ? SF_OK : SF_ENOMEM;
    if (rc == SF_ENOMEM)
        snprintf(err->message, sizeof err->message, "out of memory");
    while (rc == SF_OK) {
        json_t *page = NULL;
        if ((rc = cli_client_call(c, op, req, &page, err)) != SF_OK)
            break;
        json_t *list = json_object_get(page, items_key);
        const char *token = json_string_value(json_object_get(page, "nextToken"));
        if (list && !json_is_array(list)) {
            snprintf(err->message, sizeof err->message, "the answer from %s has no %s array",
                     c->endpoint, items_key);
            rc = SF_EIO;
        } else if (list && json_array_extend(all, list) != 0) {
            snprintf(err->message, sizeof err->message, "out of memory");
            rc = SF_ENOMEM;
        } else if (token && prev_token && strcmp(token, prev_token) == 0) {
            /* A server handing back the token it was given would loop us
             * forever. */
            snprintf(err->message, sizeof err->message,
                     "the coordinator at %s handed back the nextToken it was given", c->endpoint);
            rc = SF_EIO;
        } else if (token && *token) {
            free(prev_token);
            prev_token = strdup(token);
            if (!prev_token || json_object_set_new(req, "nextToken", json_string(token)) != 0) {
                snprintf(err->message, sizeof err->message, "out of memory");
                rc = SF_ENOMEM;
            }
        } else {
            json_decref(page);
            break;
        }
        json_decref(page);
    }
    free(prev_token);
    json_decref(req);
    if (rc == SF_OK)
        *items = all;
    else
        json_decref(all);
    return rc;
}

void cli_error_print(FILE *to, const char *op, const cli_error *err)
{
    if (*err->type)
        fprintf(to, "statefleet: %s: %s: %s\n", op, err->type, err->message);
    else
        fprintf(to, "statefleet: %s: %s\n", op, err->message);
}
