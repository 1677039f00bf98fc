/* asl/intrinsics.h - the 18 intrinsic functions of the Amazon States Language.
 *
 * States.Format, States.StringToJson, States.JsonToString, States.Array,
 * States.ArrayPartition, States.ArrayContains, States.ArrayRange,
 * States.ArrayGetItem, States.ArrayLength, States.ArrayUnique,
 * States.Base64Encode, States.Base64Decode, States.Hash, States.JsonMerge,
 * States.MathRandom, States.MathAdd, States.StringSplit, States.UUID.
 *
 * An expression is what follows a ".$" key: "States.Format('x {}', $.a)".
 * Arguments are string literals in single quotes (with \' \{ \} \\ escapes),
 * numbers, true/false/null, paths ($, $$, $name, with any JSONPath steps) and
 * nested intrinsic calls. Compiled expressions are immutable. */
#ifndef ASL_INTRINSICS_H
#define ASL_INTRINSICS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "../../common/sf_rc.h"
#include "diag.h"
#include "rng.h"
#include "scope.h"

typedef struct asl_intrinsic asl_intrinsic;

/* True when text looks like an intrinsic call ("States." followed by a name
 * and "("), i.e. it should be compiled with asl_intrinsic_compile rather than
 * as a path. */
bool asl_intrinsic_is_call(const char *text);

/* Compiles text. Unknown function names, wrong argument counts where they
 * are known statically, and syntax errors are SF_EINVAL with a message in err
 * naming the function and byte offset. */
sf_rc asl_intrinsic_compile(const char *text, asl_intrinsic **out, char *err, size_t errlen);
void asl_intrinsic_destroy(asl_intrinsic **fn);

/* Evaluates fn. *out receives a new reference. Runtime failures (a path that
 * matches nothing, an argument of the wrong type, a value out of range) are
 * SF_EINVAL with e set to States.IntrinsicFailure or States.Runtime and a
 * cause as AWS words it. rng feeds States.UUID and States.MathRandom. */
sf_rc asl_intrinsic_eval(const asl_intrinsic *fn, const asl_scope *s, asl_rng *rng,
                         json_t **out, asl_err *e);

#endif
