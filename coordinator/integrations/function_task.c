/* integrations/function_task.c - see function_task.h. */
#include "function_task.h"

#include <stdio.h>
#include <string.h>

bool integ_is_function(const integ_resource *r)
{
    return r->kind == INTEG_RES_LAMBDA_ARN ||
           (r->kind == INTEG_RES_SERVICE && strcmp(r->service, "lambda") == 0 &&
            strcmp(r->api, "invoke") == 0);
}

json_t *integ_invoke_response(json_t *payload)
{
    return json_pack("{s:s,s:O,s:{s:{},s:i},s:{s:s},s:i}", "ExecutedVersion", "$LATEST",
                     "Payload", payload, "SdkHttpMetadata", "HttpHeaders", "HttpStatusCode", 200,
                     "SdkResponseMetadata", "RequestId", "00000000-0000-0000-0000-000000000000",
                     "StatusCode", 200);
}

/* Strips a Lambda ARN or "name:qualifier" down to the function name. */
static void function_name(const char *s, char *out, size_t len)
{
    const char *p = strstr(s, ":function:");
    p = p ? p + 10 : s;
    const char *q = strchr(p, ':');
    size_t n = q ? (size_t)(q - p) : strlen(p);
    if (n >= len)
        n = len - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

sf_rc integ_fn_call_plan(const integ_resource *r, json_t *input, const char *state_name,
                         integ_fn_call *out, asl_err *err)
{
    *out = (integ_fn_call){0};
    json_t *payload = input;
    if (r->kind == INTEG_RES_LAMBDA_ARN) {
        snprintf(out->name, sizeof out->name, "%s", r->name);
    } else {
        json_t *fnv = json_object_get(input, "FunctionName");
        if (!json_is_string(fnv)) {
            asl_err_set(err, "States.Runtime",
                        "lambda:invoke needs a FunctionName string in Parameters (state '%s')",
                        state_name);
            return SF_EINVAL;
        }
        function_name(json_string_value(fnv), out->name, sizeof out->name);
        payload = json_object_get(input, "Payload");
        if (!payload)
            payload = json_object_get(input, "Input");
        out->wrap_invoke = r->pattern == INTEG_PATTERN_REQUEST;
    }
    out->payload = payload ? json_incref(payload) : json_object();
    return out->payload ? SF_OK : SF_ENOMEM;
}
