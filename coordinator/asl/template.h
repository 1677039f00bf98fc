/* asl/template.h - payload templates: Parameters, ResultSelector,
 * ItemSelector, Assign and Catch's Assign.
 *
 * A template is JSON whose keys ending in ".$" take their value from a path
 * or an intrinsic call. Compiled once; a subtree with no ".$" key anywhere is
 * kept as one shared literal so that evaluating it costs one incref. */
#ifndef ASL_TEMPLATE_H
#define ASL_TEMPLATE_H

#include <jansson.h>

#include "../../common/sf_rc.h"
#include "diag.h"
#include "expr.h"
#include "rng.h"
#include "scope.h"

typedef struct asl_tmpl asl_tmpl;

/* Compiles v (borrowed). Bad ".$" values are added to d under where. */
sf_rc asl_tmpl_compile(json_t *v, const char *where, asl_tmpl **out, asl_diag *d);
void asl_tmpl_destroy(asl_tmpl **t);

/* Builds the payload in s; *out receives a new reference. Values taken from
 * the scope are shared (incref), never copied: treat them as immutable. */
sf_rc asl_tmpl_eval(const asl_tmpl *t, const asl_scope *s, asl_rng *rng, json_t **out,
                    asl_err *e);

#endif
