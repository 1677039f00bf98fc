/* asl/choice.h - Choice rules: compile once, evaluate per input.
 *
 * A rule is a boolean expression over And, Or, Not and the comparison
 * operators (StringEquals, StringLessThan, ..., StringMatches, NumericEquals,
 * ..., BooleanEquals, TimestampEquals, ..., each with its "Path" form whose
 * operand is a path evaluated in the same scope) and the type tests IsNull,
 * IsPresent, IsNumeric, IsString, IsBoolean, IsTimestamp. */
#ifndef ASL_CHOICE_H
#define ASL_CHOICE_H

#include <stdbool.h>

#include <jansson.h>

#include "../../common/sf_rc.h"
#include "diag.h"
#include "scope.h"

typedef struct asl_choice_rule asl_choice_rule;

/* Compiles one rule (a member of Choices, without its Next/Assign, or a
 * nested rule inside And/Or/Not). top is true for the members of Choices
 * (which need Next; nested rules must not have it, and the caller checks
 * Next itself). Problems are added to d at `where` (e.g.
 * "/States/Check/Choices/0") and return SF_EINVAL. */
sf_rc asl_choice_compile(json_t *rule, const char *where, asl_choice_rule **out, asl_diag *d);
void asl_choice_destroy(asl_choice_rule **r);

/* Evaluates r in s. SF_EINVAL with e set (States.Runtime and AWS's cause)
 * when a Variable or a ...Path operand does not resolve where AWS fails. */
sf_rc asl_choice_eval(const asl_choice_rule *r, const asl_scope *s, bool *match, asl_err *e);

#endif
