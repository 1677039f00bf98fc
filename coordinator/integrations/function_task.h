/* integrations/function_task.h - what a Lambda-style Task state runs.
 *
 * Shared by every shell that runs local functions (statefleet run, the
 * coordinator): which function a Resource and its Parameters name, what
 * payload it gets, and the shape lambda:invoke wraps its result in. */
#ifndef INTEG_FUNCTION_TASK_H
#define INTEG_FUNCTION_TASK_H

#include <stdbool.h>

#include <jansson.h>

#include "../../common/sf_rc.h"
#include "../asl/diag.h"
#include "resource.h"

typedef struct integ_fn_call {
    char name[256];   /* the function's file name */
    json_t *payload;  /* what it reads on stdin (new reference) */
    bool wrap_invoke; /* lambda:invoke: wrap the result in its response shape */
} integ_fn_call;

/* True when r names a local function (a Lambda ARN or lambda:invoke in
 * any pattern). */
bool integ_is_function(const integ_resource *r);

/* Resolves the call for Task state_name with resource r and its effective
 * input. SF_EINVAL with err set (States.Runtime) when Parameters lack a
 * FunctionName. The caller releases out->payload. */
sf_rc integ_fn_call_plan(const integ_resource *r, json_t *input, const char *state_name,
                         integ_fn_call *out, asl_err *err);

/* lambda:invoke's result: the function's output as Payload, in the
 * response shape AWS gives (StatusCode, ExecutedVersion, ...). */
json_t *integ_invoke_response(json_t *payload);

#endif
