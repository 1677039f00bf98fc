/* asl/validate.h - static checks on a state machine definition.
 *
 * Judges a definition as AWS's CreateStateMachine / ValidateStateMachineDefinition
 * do: required and unknown fields, field types, state names and transitions
 * (Next targets exist, every state is reachable, terminal states end), paths
 * and intrinsic syntax, Choice rules, Retry/Catch, Map and Parallel bodies,
 * and the mutually exclusive field pairs (Seconds/SecondsPath/..., Error/
 * ErrorPath, Parameters vs ItemSelector, Iterator vs ItemProcessor, ...).
 * Every problem is added to d with its location. */
#ifndef ASL_VALIDATE_H
#define ASL_VALIDATE_H

#include <jansson.h>

#include "../../common/sf_rc.h"
#include "diag.h"

/* SF_OK when the definition is valid; SF_EINVAL with one or more messages in
 * d otherwise; SF_EUNSUPPORTED (with a message) for QueryLanguage JSONata.
 * def is borrowed. */
sf_rc asl_validate(json_t *def, asl_diag *d);

#endif
