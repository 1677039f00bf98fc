/* api/request.h - what one HTTP request asks for, decided without I/O.
 *
 * The server hands over the method, the raw (still percent-encoded) path,
 * two header values and the body; api_request_parse says whether that is an
 * operation call, a decision on an approval link, or an error ready to send.
 * It never looks at which operations exist: an unknown operation is the
 * backend's call. It is pure so that it can be unit-tested and fuzzed apart
 * from the socket code. */
#ifndef API_REQUEST_H
#define API_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "../../common/sf_rc.h"

/* Framing limits. The operations' own 256 KiB input limits are the
 * backend's to check; these only keep one request from eating the server. */
#define API_BODY_MAX (2u * 1024u * 1024u) /* bytes of request body */
#define API_TOKEN_MAX 2048                /* bytes of decoded task token, as AWS */
#define API_OP_MAX 64                     /* bytes of operation name */
#define API_MESSAGE_MAX 1024              /* bytes of an error message we write */

typedef enum {
    API_REQ_OPERATION, /* POST / with X-Amz-Target: run op with input */
    API_REQ_DECISION,  /* GET /approve/{token} or /reject/{token} */
    API_REQ_ERROR,     /* answer status with the AWS error body in error */
} api_req_kind;

/* The parts of a request that matter here. Strings are borrowed and
 * NUL-terminated; target and content_type are NULL when the header is
 * absent. body may hold NUL bytes and need not be terminated. */
typedef struct api_request_in {
    const char *method;
    const char *path; /* as on the wire, before percent-decoding, no query */
    const char *target;
    const char *content_type;
    const char *body;
    size_t body_len;
} api_request_in;

typedef struct api_request {
    api_req_kind kind;
    /* API_REQ_OPERATION */
    char op[API_OP_MAX + 1]; /* "StartExecution": alphanumeric, non-empty */
    json_t *input;           /* the request object (owned) */
    /* API_REQ_DECISION */
    char *token;  /* percent-decoded, 1..API_TOKEN_MAX bytes, no NUL (owned) */
    bool approve; /* /approve (true) or /reject (false) */
    /* API_REQ_ERROR */
    int status;        /* HTTP status, 4xx */
    json_t *error;     /* {"__type":..., "message":...} (owned) */
    const char *allow; /* for 405: the Allow header's value (static); else NULL */
    bool for_person;   /* the request was an approval link: answer with a page */
} api_request;

/* Decides what in asks for and fills *out (which the caller later passes to
 * api_request_cleanup). Returns SF_OK whatever the verdict, or SF_ENOMEM
 * with *out empty (kind API_REQ_ERROR, error NULL) when memory ran out. */
sf_rc api_request_parse(const api_request_in *in, api_request *out);

/* Frees what parse put in r and zeroes it. NULL-safe. */
void api_request_cleanup(api_request *r);

/* A new AWS error body {"__type": type, "message": printf(fmt, ...)}. The
 * message is cut to API_MESSAGE_MAX bytes and every byte outside printable
 * ASCII is written as \xNN, so whatever a client sent can be quoted in it
 * and it still encodes as JSON. NULL only when out of memory. */
json_t *api_error_new(const char *type, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
