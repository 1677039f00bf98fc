/* cli/client.h - one call of the Step Functions JSON API, as a client.
 *
 * Speaks AWS's JSON 1.0 protocol over libcurl: POST / with Content-Type
 * application/x-amz-json-1.0 and X-Amz-Target AWSStepFunctions.<Operation>,
 * unsigned (the coordinator, like moto's server, checks no signatures).
 * Errors are values: a failed call fills a cli_error that says whether the
 * coordinator answered with an AWS error or could not be reached. Nothing
 * here prints except cli_error_print, which the commands call.
 *
 * Ownership: requests are borrowed; responses are new references. */
#ifndef CLI_CLIENT_H
#define CLI_CLIENT_H

#include <stdio.h>

#include <jansson.h>

#include "common/sf_rc.h"

#define CLI_DEFAULT_ENDPOINT "http://127.0.0.1:8083"

/* Past this a response is refused: one page of history events with their
 * payloads (AWS caps each at 256 KiB) fits many times over. */
#define CLI_RESPONSE_MAX (64 * 1024 * 1024)

typedef struct cli_client cli_client;

/* Why a call failed. type is "" when the coordinator gave no AWS error
 * (unreachable, a malformed answer): message then says what happened. */
typedef struct cli_error {
    long http_status; /* 0 when no HTTP answer came back */
    char type[128];   /* "ExecutionDoesNotExist": __type without its prefix */
    char message[1024];
} cli_error;

/* A client for the coordinator at endpoint (copied), e.g.
 * "http://127.0.0.1:8083". NULL when out of memory or libcurl fails to
 * start. */
cli_client *cli_client_new(const char *endpoint);
/* Frees c and sets *c to NULL. NULL-safe. */
void cli_client_destroy(cli_client **c);
/* The endpoint this client calls (borrowed from c). */
const char *cli_client_endpoint(const cli_client *c);

/* Calls operation op ("StartExecution") with request (borrowed; NULL sends
 * {}). SF_OK: *response is the answer object (a new reference; {} for an
 * empty body). Otherwise *response is NULL, err says why, and the rc is
 * SF_EIO for a transport failure or a malformed answer, SF_EINVAL for an
 * AWS error, SF_ELIMIT for an oversized answer, SF_ENOMEM. */
sf_rc cli_client_call(cli_client *c, const char *op, json_t *request, json_t **response,
                      cli_error *err);

/* Calls a paginated operation until its nextToken runs out, appending every
 * page's items_key array into *items (a new array). request is borrowed and
 * left as it was. Errors as cli_client_call. */
sf_rc cli_client_call_all(cli_client *c, const char *op, json_t *request, const char *items_key,
                          json_t **items, cli_error *err);

/* Prints "statefleet: <op>: <Type>: <message>" for an AWS error, or
 * "statefleet: <op>: <message>" (which names the endpoint) otherwise. */
void cli_error_print(FILE *to, const char *op, const cli_error *err);

#endif
