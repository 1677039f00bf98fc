/* integrations/resource.h - what a Task state's Resource ARN names.
 *
 * Pure string work: no I/O. Recognises the forms statefleet runs today:
 *   arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]  (legacy Lambda)
 *   arn:aws:states:::lambda:invoke[.waitForTaskToken]        (FunctionName in Parameters)
 *   arn:aws:states:::SERVICE:API[.sync|.sync:2|.waitForTaskToken]
 *   arn:aws:states:REGION:ACCOUNT:activity:NAME */
#ifndef INTEG_RESOURCE_H
#define INTEG_RESOURCE_H

#include <stdbool.h>

#include "../../common/sf_rc.h"

typedef enum {
    INTEG_RES_LAMBDA_ARN,  /* arn:aws:lambda:...:function:NAME */
    INTEG_RES_SERVICE,     /* arn:aws:states:::SERVICE:API */
    INTEG_RES_ACTIVITY,    /* arn:aws:states:...:activity:NAME */
} integ_res_kind;

typedef enum {
    INTEG_PATTERN_REQUEST, /* request-response */
    INTEG_PATTERN_SYNC,    /* .sync or .sync:2 */
    INTEG_PATTERN_TOKEN,   /* .waitForTaskToken */
} integ_pattern;

typedef struct integ_resource {
    integ_res_kind kind;
    integ_pattern pattern;
    char service[64]; /* "lambda", "sagemaker", ... (INTEG_RES_SERVICE) */
    char api[128];    /* "invoke", "createTrainingJob", ... (INTEG_RES_SERVICE) */
    char name[256];   /* function or activity name */
} integ_resource;

/* Parses arn. SF_EINVAL for anything that is none of the forms above. */
sf_rc integ_resource_parse(const char *arn, integ_resource *out);

#endif
