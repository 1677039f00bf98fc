/* asl/expr.h - the value of a ".$" field: a path or an intrinsic call.
 *
 * Both are compiled once with the machine; evaluating one never changes the
 * scope. Used by payload templates and by fields such as ErrorPath. */
#ifndef ASL_EXPR_H
#define ASL_EXPR_H

#include <jansson.h>

#include "../../common/sf_rc.h"
#include "diag.h"
#include "intrinsics.h"
#include "jsonpath.h"
#include "rng.h"
#include "scope.h"

typedef struct asl_expr {
    asl_path *path;       /* exactly one of path and fn is set */
    asl_intrinsic *fn;
    char *text;           /* owned source, for causes */
} asl_expr;

/* Compiles text as an intrinsic call when it is one, else as a path. On
 * failure adds "where: ..." to d and returns SF_EINVAL. */
sf_rc asl_expr_compile(const char *text, const char *where, asl_expr *out, asl_diag *d);
void asl_expr_cleanup(asl_expr *x);

/* Evaluates x; *out receives a new reference. field names the field for
 * AWS's cause ("The JSONPath '$.a' specified for the field 'x.$' could not
 * be found in the input '...'"). On failure e holds the ASL error. */
sf_rc asl_expr_eval(const asl_expr *x, const char *field, const asl_scope *s, asl_rng *rng,
                    json_t **out, asl_err *e);

/* The text of v as the JSON AWS prints inside causes (compact). Owned by the
 * caller; never NULL unless out of memory. */
char *asl_json_text(const json_t *v);

#endif
