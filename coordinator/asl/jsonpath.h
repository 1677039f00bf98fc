/* asl/jsonpath.h - JSONPath as AWS Step Functions evaluates it.
 *
 * AWS runs Jayway JsonPath. A path starts at one of three roots:
 *   "$"      the state's input (or whatever the caller passes as input),
 *   "$$"     the context object,
 *   "$name"  the variable `name` (letters, digits, '_'; not starting with a digit).
 * then steps: ".name", "['name']" / ["name"], "[n]" (n may be negative: from
 * the end), "[*]", ".*", "..name" / "..*" (deep scan), "[a:b]" / "[a:]" / "[:b]"
 * (slices), "[a,b]" (unions of indexes or quoted names) and filters
 * "[?(@.x == 1)]" with ==, !=, <, <=, >, >=, &&, || and existence "[?(@.x)]".
 *
 * A path with none of [*], .*, .., slices, unions or filters is *definite*:
 * it names one value, and evaluating it yields that value. An indefinite path
 * yields a JSON array of every match (possibly empty), as Jayway does. As in
 * Jayway, a union of names as the last step (`$['a','b']`) is definite and
 * yields one object holding just those members.
 *
 * Work is capped (path length and steps at compile time; results, visited
 * nodes and depth while evaluating): past a cap the call returns SF_ELIMIT.
 * A *reference path* (ResultPath, and the like) is a definite path with only
 * ".name", "['name']" and "[n]" steps (n >= 0).
 *
 * Compiled paths are immutable and may be shared between threads. */
#ifndef ASL_JSONPATH_H
#define ASL_JSONPATH_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "../../common/sf_rc.h"
#include "scope.h"

typedef struct asl_path asl_path;

typedef enum {
    ASL_ROOT_INPUT,   /* $ */
    ASL_ROOT_CONTEXT, /* $$ */
    ASL_ROOT_VAR,     /* $name */
} asl_path_root;

/* Compiles text. On SF_EINVAL writes into err (if errlen > 0) a message
 * naming the byte offset, e.g. "unexpected ']' at byte 7". */
sf_rc asl_path_compile(const char *text, asl_path **out, char *err, size_t errlen);
/* NULL-safe; sets *p to NULL. */
void asl_path_destroy(asl_path **p);

asl_path_root asl_path_root_kind(const asl_path *p);
/* The variable name for ASL_ROOT_VAR paths (without '$'), else NULL. Borrowed. */
const char *asl_path_var(const asl_path *p);
/* The source text as given to compile. Borrowed. */
const char *asl_path_text(const asl_path *p);
/* True when the path is just its root ("$", "$$" or "$name"). */
bool asl_path_is_root(const asl_path *p);
bool asl_path_is_definite(const asl_path *p);
bool asl_path_is_reference(const asl_path *p);

/* Writes Jayway's normalized form of the path's steps, as AWS prints it in
 * causes: "$.a.b[0]" -> "$['a']['b'][0]". Always NUL-terminates (truncates). */
void asl_path_normalized(const asl_path *p, char *buf, size_t buflen);

/* Evaluates p against root (borrowed; the value "$"/"$$"/"$name" points at).
 * *out receives a new reference. SF_ENOTFOUND when a definite path matches
 * nothing (a missing key, an index out of range, a step into a non-container).
 * An indefinite path never returns SF_ENOTFOUND: it yields [] instead. */
sf_rc asl_path_eval(const asl_path *p, json_t *root, json_t **out);

/* Picks the root from the scope by p's kind, then evaluates as above.
 * A "$name" whose variable is not in scope is SF_ENOTFOUND. */
sf_rc asl_path_eval_scope(const asl_path *p, const asl_scope *s, json_t **out);

/* For reference paths only: returns in *out (new reference) a copy of doc
 * with value (borrowed; incref'd as needed) placed at p, creating missing
 * objects on the way as AWS's ResultPath does. doc itself is never modified.
 * "$" as p yields value itself. SF_EINVAL when a step meets a value of the
 * wrong kind (e.g. ".a" on a string) or an index past the end; then err says
 * which step. */
sf_rc asl_path_set(const asl_path *p, json_t *doc, json_t *value, json_t **out,
                   char *err, size_t errlen);

#endif
