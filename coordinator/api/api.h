/* api/api.h - the Step Functions HTTP front end (libmicrohttpd).
 *
 * Speaks AWS's JSON 1.0 protocol: POST / with X-Amz-Target
 * "AWSStepFunctions.<Operation>" and Content-Type
 * application/x-amz-json-1.0, plus the human approval links
 * GET /approve/{token} and GET /reject/{token}. It only frames requests
 * and responses: what an operation means is the backend's business. */
#ifndef API_API_H
#define API_API_H

#include <stdbool.h>

#include <jansson.h>

#include "../../common/sf_rc.h"

typedef struct api_backend {
    void *ctx;
    /* Runs operation op (e.g. "StartExecution") with request (borrowed).
     * Returns the HTTP status: 200 with *response the result object, or
     * 4xx/5xx with *response an AWS error body {"__type":..., "message":...}.
     * *response is a new reference. Called on a server thread; may block
     * (GetActivityTask long-polls up to 60 s). */
    int (*call)(void *ctx, const char *op, json_t *request, json_t **response);
    /* Completes the task behind token: approve gives {"decision":"Approved"},
     * reject {"decision":"Rejected"}. Returns the HTTP status (200, or 4xx
     * when the token is forged or its task already closed) and in *message
     * (malloc'd) one sentence for a person saying what happened. */
    int (*decide)(void *ctx, const char *token, bool approve, char **message);
} api_backend;

typedef struct api_server api_server;

/* Starts serving on host:port (port 0 picks a free one, returned in
 * *bound_port). backend is copied. On failure err says why. */
sf_rc api_server_start(const char *host, int port, const api_backend *backend,
                       api_server **out, int *bound_port, char *err, size_t errlen);
/* Stops accepting, waits for requests in flight, frees. NULL-safe. */
void api_server_stop(api_server **s);

#endif
