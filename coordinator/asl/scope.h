/* asl/scope.h - what a path, an intrinsic or a Choice rule can see.
 *
 * All three roots are borrowed for the duration of one evaluation. */
#ifndef ASL_SCOPE_H
#define ASL_SCOPE_H

#include <jansson.h>

typedef struct asl_scope {
    json_t *input;   /* "$": the value being processed; never NULL */
    json_t *context; /* "$$": the context object; NULL reads as {} */
    json_t *vars;    /* "$name": object of variables in scope; may be NULL */
} asl_scope;

#endif
