/* asl/validate.c - static checks on a state machine definition (see validate.h).
 *
 * One walk over the definition, judging it as AWS's CreateStateMachine does
 * for the JSONPath query language: the field set of the machine and of each
 * state type, required and mutually exclusive fields, value types and ranges,
 * transitions (every Next names a state of the same States object, every state
 * is reachable from StartAt), state names (at most 80 characters, unique in
 * the whole definition, nested bodies included), paths, intrinsic calls,
 * Choice rules, Retry/Catch, and Parallel and Map bodies, recursively.
 *
 * Every problem found is reported, each as "LOCATION: WHAT" with a JSON
 * pointer to the offending value, so a person can fix a definition in one go.
 * States in the JSONata query language get their structure checked (fields,
 * transitions, names) but not their expressions; a definition that is fine
 * apart from using JSONata is SF_EUNSUPPORTED, not SF_EINVAL.
 *
 * Never modifies def and never prints. Nesting of Parallel/Map bodies is
 * capped (VA_DEPTH_MAX) so that a hostile definition cannot exhaust the
 * stack, and so are payload templates (VA_TMPL_DEPTH_MAX) for values built
 * in memory rather than parsed (jansson's parser stops at 2048 anyway).
 *
 * Duplicate keys inside one JSON object cannot be seen here (jansson keeps
 * the last); callers that care parse with JSON_REJECT_DUPLICATES. */
#include "validate.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "choice.h"
#include "intrinsics.h"
#include "jsonpath.h"
#include "timestamp.h"

#define VA_LOC_MAX 1024           /* longest location kept; longer ones are cut */
#define VA_MSG_MAX 512            /* longest message text */
#define VA_DEPTH_MAX 32           /* Parallel/Map bodies nested deeper are refused */
#define VA_TMPL_DEPTH_MAX 1024    /* payload templates nested deeper are refused */
#define VA_NAME_MAX 80            /* state and variable names, in characters */
#define VA_LABEL_MAX 40           /* Map Label, in characters */
#define VA_SECONDS_MAX 99999999   /* AWS's bound on every "...Seconds" field */
#define VA_MAX_DELAY_MAX 31622400 /* MaxDelaySeconds: one year */

typedef enum { QL_JSONPATH, QL_JSONATA } va_ql;

typedef enum { BODY_TOP, BODY_BRANCH, BODY_PROCESSOR } va_body;

typedef struct va {
    asl_diag *d;
    size_t errors;      /* problems that make the definition invalid */
    size_t unsupported; /* valid uses of what we do not run yet (JSONata) */
    json_t *names;      /* every state name seen: a set, for uniqueness */
    va_ql top_ql;       /* the machine's QueryLanguage; states inherit it */
    char loc[VA_LOC_MAX];
    size_t loc_len;
} va;

/* ---- locations and messages ------------------------------------------- */

/* Appends "/" and seg (escaped as a JSON pointer: "~" as "~0", "/" as "~1")
 * to the location; returns the length to give loc_pop. Cuts silently at
 * VA_LOC_MAX, which only shortens messages. */
static size_t loc_push(va *v, const char *seg)
{
    size_t old = v->loc_len, n = v->loc_len;
    if (n + 1 < VA_LOC_MAX)
        v->loc[n++] = '/';
    for (const char *p = seg; *p && n + 2 < VA_LOC_MAX; p++) {
        if (*p == '~' || *p == '/') {
            v->loc[n++] = '~';
            v->loc[n++] = *p == '~' ? '0' : '1';
        } else {
            v->loc[n++] = *p;
        }
    }
    v->loc[n] = '\0';
    v->loc_len = n;
    return old;
}

static size_t loc_push_index(va *v, size_t i)
{
    char seg[32];
    snprintf(seg, sizeof seg, "%zu", i);
    return loc_push(v, seg);
}

static void loc_pop(va *v, size_t old)
{
    v->loc_len = old;
    v->loc[old] = '\0';
}

static void vreport(va *v, bool hard, const char *fmt, va_list ap)
{
    char msg[VA_MSG_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    asl_diag_add(v->d, v->loc, "%s", msg);
    if (hard)
        v->errors++;
    else
        v->unsupported++;
}

/* A problem at the current location. */
__attribute__((format(printf, 2, 3))) static void err(va *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(v, true, fmt, ap);
    va_end(ap);
}

/* A problem at field `field` below the current location. */
__attribute__((format(printf, 3, 4))) static void err_at(va *v, const char *field,
                                                         const char *fmt, ...)
{
    size_t old = loc_push(v, field);
    va_list ap;
    va_start(ap, fmt);
    vreport(v, true, fmt, ap);
    va_end(ap);
    loc_pop(v, old);
}

/* JSONata is valid ASL that we cannot run yet: reported, but not an error. */
static void unsupported_jsonata(va *v, const char *field)
{
    size_t old = loc_push(v, field);
    asl_diag_add(v->d, v->loc, "QueryLanguage JSONata is not supported yet");
    v->unsupported++;
    loc_pop(v, old);
}

/* ---- small value helpers ---------------------------------------------- */

static bool in_list(const char *key, const char *const *list)
{
    for (; list && *list; list++)
        if (strcmp(key, *list) == 0)
            return true;
    return false;
}

/* Characters (code points) in UTF-8 text of n bytes: bytes that do not
 * continue a sequence. jansson has already checked the encoding. */
static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            c++;
    return c;
}

/* Decodes one code point at s[*i] (valid UTF-8 assumed, as jansson checks);
 * advances *i. */
static uint32_t utf8_next(const char *s, size_t n, size_t *i)
{
    unsigned char c = (unsigned char)s[*i];
    int more = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
    uint32_t cp = more == 0 ? c : more == 1 ? (c & 0x1Fu) : more == 2 ? (c & 0x0Fu) : (c & 0x07u);
    (*i)++;
    for (; more > 0 && *i < n; more--, (*i)++)
        cp = (cp << 6) | ((unsigned char)s[*i] & 0x3Fu);
    return cp;
}

static bool is_unicode_space(uint32_t cp)
{
    return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

static const char *json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

/* ---- field checks ----------------------------------------------------- */

/* Refuses every key of obj that is in neither list. */
static void check_fields(va *v, json_t *obj, const char *const *allowed,
                         const char *const *allowed2, const char *what)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        if (!in_list(key, allowed) && !in_list(key, allowed2))
            err_at(v, key, "field '%.100s' is not supported in %s", key, what);
    }
}

static void check_exclusive(va *v, json_t *obj, const char *a, const char *b)
{
    if (json_object_get(obj, a) && json_object_get(obj, b))
        err(v, "fields '%s' and '%s' are mutually exclusive", a, b);
}

static void check_string_field(va *v, json_t *obj, const char *key)
{
    json_t *x = json_object_get(obj, key);
    if (x && !json_is_string(x))
        err_at(v, key, "'%s' must be a string, not %s", key, json_kind(x));
}

/* An integer field in [lo, hi]; absent is fine. Returns true when present and valid. */
static bool check_int_field(va *v, json_t *obj, const char *key, json_int_t lo, json_int_t hi,
                            json_int_t *out)
{
    json_t *x = json_object_get(obj, key);
    if (!x)
        return false;
    if (!json_is_integer(x)) {
        err_at(v, key, "'%s' must be an integer, not %s", key, json_kind(x));
        return false;
    }
    json_int_t n = json_integer_value(x);
    if (n < lo || n > hi) {
        err_at(v, key, "'%s' must be between %lld and %lld, not %lld", key, (long long)lo,
               (long long)hi, (long long)n);
        return false;
    }
    if (out)
        *out = n;
    return true;
}

/* A JSONPath in field key. want_ref: must be a reference path. null_ok: JSON
 * null is allowed (InputPath, OutputPath, ResultPath). */
static void check_path_field(va *v, json_t *obj, const char *key, bool want_ref, bool null_ok)
{
    json_t *x = json_object_get(obj, key);
    if (!x)
        return;
    if (json_is_null(x) && null_ok)
        return;
    if (!json_is_string(x)) {
        err_at(v, key, "'%s' must be a %s%s, not %s", key, want_ref ? "reference path" : "path",
               null_ok ? " or null" : "", json_kind(x));
        return;
    }
    const char *text = json_string_value(x);
    asl_path *p = NULL;
    char why[256] = "";
    if (asl_path_compile(text, &p, why, sizeof why) != SF_OK) {
        err_at(v, key, "'%.200s' is not a valid JSONPath: %s", text, why);
    } else if (want_ref && !asl_path_is_reference(p)) {
        err_at(v, key, "'%.200s' must be a reference path (only .name, ['name'] and [n] steps)",
               text);
    }
    asl_path_destroy(&p);
}

/* The value of a ".$" field (or ErrorPath/CausePath): a path or an intrinsic
 * call. The location is that of the field; field names it in the message. */
static void check_expr(va *v, const char *field, json_t *x)
{
    if (!json_is_string(x)) {
        err(v, "the value for the field '%.100s' must be a valid JSONPath or a valid "
               "intrinsic function call, not %s", field, json_kind(x));
        return;
    }
    const char *text = json_string_value(x);
    char why[256] = "";
    sf_rc rc;
    if (asl_intrinsic_is_call(text)) {
        asl_intrinsic *fn = NULL;
        rc = asl_intrinsic_compile(text, &fn, why, sizeof why);
        asl_intrinsic_destroy(&fn);
    } else {
        asl_path *p = NULL;
        rc = asl_path_compile(text, &p, why, sizeof why);
        asl_path_destroy(&p);
    }
    if (rc != SF_OK)
        err(v, "the value for the field '%.100s' must be a valid JSONPath or a valid "
               "intrinsic function call: %s", field, why);
}

static bool ends_with_dollar(const char *key)
{
    size_t n = strlen(key);
    return n >= 2 && key[n - 2] == '.' && key[n - 1] == '$';
}

/* A payload template: every key ending in ".$", at any depth (inside arrays
 * too), must hold a path or an intrinsic call. */
static void check_template_at(va *v, json_t *t, int depth)
{
    if (depth > VA_TMPL_DEPTH_MAX && (json_is_object(t) || json_is_array(t))) {
        err(v, "values are nested more than %d deep", VA_TMPL_DEPTH_MAX);
        return;
    }
    if (json_is_object(t)) {
        const char *key;
        json_t *val;
        json_object_foreach(t, key, val) {
            size_t old = loc_push(v, key);
            if (ends_with_dollar(key))
                check_expr(v, key, val);
            else
                check_template_at(v, val, depth + 1);
            loc_pop(v, old);
        }
    } else if (json_is_array(t)) {
        size_t i;
        json_t *val;
        json_array_foreach(t, i, val) {
            if (!json_is_object(val) && !json_is_array(val))
                continue;
            size_t old = loc_push_index(v, i);
            check_template_at(v, val, depth + 1);
            loc_pop(v, old);
        }
    }
}

static void check_template(va *v, json_t *t)
{
    check_template_at(v, t, 0);
}

/* A field holding a payload template; must_object for those AWS types as
 * objects (ResultSelector, ItemSelector). */
static void check_template_field(va *v, json_t *obj, const char *key, bool must_object)
{
    json_t *x = json_object_get(obj, key);
    if (!x)
        return;
    size_t old = loc_push(v, key);
    if (must_object && !json_is_object(x))
        err(v, "'%s' must be an object, not %s", key, json_kind(x));
    else
        check_template(v, x);
    loc_pop(v, old);
}

/* A variable name: letters, digits and '_', not starting with a digit, as
 * "$name" paths can name it; at most VA_NAME_MAX characters. */
static bool var_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > VA_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

/* Assign: an object of variable names; "name.$" values are expressions
 * (JSONPath only), other values templates. */
static void check_assign(va *v, json_t *obj, va_ql ql)
{
    json_t *x = json_object_get(obj, "Assign");
    if (!x)
        return;
    size_t old = loc_push(v, "Assign");
    if (!json_is_object(x)) {
        err(v, "'Assign' must be an object, not %s", json_kind(x));
        loc_pop(v, old);
        return;
    }
    const char *key;
    json_t *val;
    json_object_foreach(x, key, val) {
        size_t old2 = loc_push(v, key);
        bool dollar = ql == QL_JSONPATH && ends_with_dollar(key);
        size_t n = strlen(key) - (dollar ? 2 : 0);
        if (!var_name_ok(key, n))
            err(v, "'%.100s' is not a valid variable name (letters, digits and '_', not "
                   "starting with a digit, at most %d characters)", key, VA_NAME_MAX);
        if (ql == QL_JSONPATH) {
            if (dollar)
                check_expr(v, key, val);
            else
                check_template(v, val);
        }
        loc_pop(v, old2);
    }
    loc_pop(v, old);
}

/* A field naming a state of the same States object. */
static void check_target(va *v, json_t *obj, const char *key, json_t *states)
{
    json_t *x = json_object_get(obj, key);
    if (!x)
        return;
    if (!json_is_string(x)) {
        err_at(v, key, "'%s' must be a string naming a state, not %s", key, json_kind(x));
        return;
    }
    if (json_is_object(states) && !json_object_get(states, json_string_value(x)))
        err_at(v, key, "'%s' target '%.100s' is not a state of this machine", key,
               json_string_value(x));
}

/* Next/End for the states that transition: exactly one of them. */
static void check_next_end(va *v, json_t *s, json_t *states)
{
    json_t *next = json_object_get(s, "Next");
    json_t *end = json_object_get(s, "End");
    if (end && !json_is_boolean(end))
        err_at(v, "End", "'End' must be a boolean, not %s", json_kind(end));
    bool ends = json_is_true(end);
    if (next && ends)
        err(v, "only one of 'Next' and 'End' may be given");
    else if (!next && !ends)
        err(v, "one of 'Next' or 'End' is required");
    check_target(v, s, "Next", states);
}

/* ErrorEquals of one retrier or catcher; returns whether it holds States.ALL. */
static bool check_error_equals(va *v, json_t *r)
{
    json_t *ee = json_object_get(r, "ErrorEquals");
    if (!ee) {
        err(v, "the field 'ErrorEquals' is required");
        return false;
    }
    size_t old = loc_push(v, "ErrorEquals");
    bool all = false;
    if (!json_is_array(ee) || json_array_size(ee) == 0) {
        err(v, "'ErrorEquals' must be a non-empty array of error names");
    } else {
        size_t i;
        json_t *e;
        json_array_foreach(ee, i, e) {
            if (!json_is_string(e) || json_string_length(e) == 0) {
                size_t o2 = loc_push_index(v, i);
                err(v, "error names must be non-empty strings");
                loc_pop(v, o2);
            } else if (strcmp(json_string_value(e), "States.ALL") == 0) {
                all = true;
            }
        }
        if (all && json_array_size(ee) > 1)
            err(v, "'States.ALL' must appear alone in 'ErrorEquals'");
    }
    loc_pop(v, old);
    return all;
}

static const char *const retry_fields[] = {
    "ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate",
    "MaxDelaySeconds", "JitterStrategy", "Comment", NULL};

static void check_retry(va *v, json_t *s)
{
    json_t *arr = json_object_get(s, "Retry");
    if (!arr)
        return;
    size_t old = loc_push(v, "Retry");
    if (!json_is_array(arr)) {
        err(v, "'Retry' must be an array, not %s", json_kind(arr));
        loc_pop(v, old);
        return;
    }
    size_t i, n = json_array_size(arr);
    json_t *r;
    json_array_foreach(arr, i, r) {
        size_t o2 = loc_push_index(v, i);
        if (!json_is_object(r)) {
            err(v, "a retrier must be an object, not %s", json_kind(r));
            loc_pop(v, o2);
            continue;
        }
        check_fields(v, r, retry_fields, NULL, "a retrier");
        check_string_field(v, r, "Comment");
        if (check_error_equals(v, r) && i + 1 < n)
            err(v, "a retrier with 'States.ALL' must be the last one");
        check_int_field(v, r, "IntervalSeconds", 1, VA_SECONDS_MAX, NULL);
        check_int_field(v, r, "MaxAttempts", 0, VA_SECONDS_MAX, NULL);
        check_int_field(v, r, "MaxDelaySeconds", 1, VA_MAX_DELAY_MAX, NULL);
        json_t *b = json_object_get(r, "BackoffRate");
        if (b && (!json_is_number(b) || json_number_value(b) < 1.0))
            err_at(v, "BackoffRate", "'BackoffRate' must be a number >= 1.0");
        json_t *j = json_object_get(r, "JitterStrategy");
        if (j && (!json_is_string(j) || (strcmp(json_string_value(j), "FULL") != 0 &&
                                         strcmp(json_string_value(j), "NONE") != 0)))
            err_at(v, "JitterStrategy", "'JitterStrategy' must be \"FULL\" or \"NONE\"");
        loc_pop(v, o2);
    }
    loc_pop(v, old);
}

static const char *const catch_fields_path[] = {"ErrorEquals", "Next", "ResultPath", "Assign",
                                                "Comment", NULL};
static const char *const catch_fields_ata[] = {"ErrorEquals", "Next", "Output", "Assign",
                                               "Comment", NULL};

static void check_catch(va *v, json_t *s, json_t *states, va_ql ql)
{
    json_t *arr = json_object_get(s, "Catch");
    if (!arr)
        return;
    size_t old = loc_push(v, "Catch");
    if (!json_is_array(arr)) {
        err(v, "'Catch' must be an array, not %s", json_kind(arr));
        loc_pop(v, old);
        return;
    }
    size_t i, n = json_array_size(arr);
    json_t *c;
    json_array_foreach(arr, i, c) {
        size_t o2 = loc_push_index(v, i);
        if (!json_is_object(c)) {
            err(v, "a catcher must be an object, not %s", json_kind(c));
            loc_pop(v, o2);
            continue;
        }
        check_fields(v, c, ql == QL_JSONATA ? catch_fields_ata : catch_fields_path, NULL,
                     "a catcher");
        check_string_field(v, c, "Comment");
        if (check_error_equals(v, c) && i + 1 < n)
            err(v, "a catcher with 'States.ALL' must be the last one");
        if (!json_object_get(c, "Next"))
            err(v, "the field 'Next' is required");
        check_target(v, c, "Next", states);
        if (ql == QL_JSONPATH)
            check_path_field(v, c, "ResultPath", true, true);
        check_assign(v, c, ql);
        loc_pop(v, o2);
    }
    loc_pop(v, old);
}

/* ---- states ----------------------------------------------------------- */

#define VA_STATE_TYPES(X) \
    X(PASS, "Pass") X(TASK, "Task") X(CHOICE, "Choice") X(WAIT, "Wait") \
    X(SUCCEED, "Succeed") X(FAIL, "Fail") X(PARALLEL, "Parallel") X(MAP, "Map")

typedef enum {
#define VA_ST_ENUM(e, s) ST_##e,
    VA_STATE_TYPES(VA_ST_ENUM)
#undef VA_ST_ENUM
    ST_COUNT
} va_type;

static const char *const type_names[] = {
#define VA_ST_NAME(e, s) s,
    VA_STATE_TYPES(VA_ST_NAME)
#undef VA_ST_NAME
};

static const char *const common_fields[] = {"Type", "Comment", "QueryLanguage", NULL};

/* The fields each state type accepts, besides common_fields, per query
 * language. Lists that must match AWS's schema; one place to change them. */
static const char *const path_fields[ST_COUNT][32] = {
    [ST_PASS] = {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters",
                 "Result", "Assign", NULL},
    [ST_TASK] = {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters",
                 "ResultSelector", "Retry", "Catch", "Resource", "TimeoutSeconds",
                 "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath",
                 "Credentials", "Assign", NULL},
    [ST_CHOICE] = {"InputPath", "OutputPath", "Choices", "Default", "Assign", NULL},
    [ST_WAIT] = {"Next", "End", "InputPath", "OutputPath", "Seconds", "SecondsPath",
                 "Timestamp", "TimestampPath", "Assign", NULL},
    [ST_SUCCEED] = {"InputPath", "OutputPath", NULL},
    [ST_FAIL] = {"Error", "ErrorPath", "Cause", "CausePath", NULL},
    [ST_PARALLEL] = {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters",
                     "ResultSelector", "Retry", "Catch", "Branches", "Assign", NULL},
    [ST_MAP] = {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters",
                "ItemSelector", "ResultSelector", "Retry", "Catch", "Iterator",
                "ItemProcessor", "ItemsPath", "ItemReader", "ItemBatcher", "ResultWriter",
                "MaxConcurrency", "MaxConcurrencyPath", "ToleratedFailureCount",
                "ToleratedFailureCountPath", "ToleratedFailurePercentage",
                "ToleratedFailurePercentagePath", "Label", "Assign", NULL},
};

static const char *const ata_fields[ST_COUNT][32] = {
    [ST_PASS] = {"Next", "End", "Output", "Assign", NULL},
    [ST_TASK] = {"Next", "End", "Arguments", "Output", "Assign", "Retry", "Catch", "Resource",
                 "TimeoutSeconds", "HeartbeatSeconds", "Credentials", NULL},
    [ST_CHOICE] = {"Choices", "Default", "Output", "Assign", NULL},
    [ST_WAIT] = {"Next", "End", "Seconds", "Timestamp", "Output", "Assign", NULL},
    [ST_SUCCEED] = {"Output", NULL},
    [ST_FAIL] = {"Error", "Cause", NULL},
    [ST_PARALLEL] = {"Next", "End", "Arguments", "Output", "Assign", "Retry", "Catch",
                     "Branches", NULL},
    [ST_MAP] = {"Next", "End", "Arguments", "Output", "Assign", "Retry", "Catch", "Items",
                "ItemSelector", "ItemProcessor", "Iterator", "ItemReader", "ItemBatcher",
                "ResultWriter", "MaxConcurrency", "ToleratedFailureCount",
                "ToleratedFailurePercentage", "Label", NULL},
};

static void check_body(va *v, json_t *m, va_body kind, int depth);

/* In JSONata a number field may instead hold a "{% ... %}" expression. */
static bool is_jsonata_expr(json_t *x)
{
    if (!json_is_string(x))
        return false;
    const char *s = json_string_value(x);
    size_t n = json_string_length(x);
    return n >= 4 && strncmp(s, "{%", 2) == 0 && strcmp(s + n - 2, "%}") == 0;
}

static void check_seconds_pair(va *v, json_t *s, const char *lit, const char *path, va_ql ql,
                               json_int_t *out)
{
    check_exclusive(v, s, lit, path);
    json_t *x = json_object_get(s, lit);
    if (ql == QL_JSONATA && is_jsonata_expr(x))
        return;
    check_int_field(v, s, lit, 1, VA_SECONDS_MAX, out);
    if (ql == QL_JSONPATH)
        check_path_field(v, s, path, true, false);
}

static void check_credentials(va *v, json_t *s, va_ql ql)
{
    json_t *c = json_object_get(s, "Credentials");
    if (!c)
        return;
    size_t old = loc_push(v, "Credentials");
    if (!json_is_object(c)) {
        err(v, "'Credentials' must be an object, not %s", json_kind(c));
    } else {
        static const char *const path_f[] = {"RoleArn", "RoleArn.$", NULL};
        static const char *const ata_f[] = {"RoleArn", NULL};
        check_fields(v, c, ql == QL_JSONATA ? ata_f : path_f, NULL, "Credentials");
        json_t *arn = json_object_get(c, "RoleArn");
        json_t *arn_path = ql == QL_JSONPATH ? json_object_get(c, "RoleArn.$") : NULL;
        if (!arn && !arn_path)
            err(v, "the field 'RoleArn' is required but was missing");
        if (arn && arn_path)
            err(v, "fields 'RoleArn' and 'RoleArn.$' are mutually exclusive");
        check_string_field(v, c, "RoleArn");
        if (arn_path) {
            size_t o2 = loc_push(v, "RoleArn.$");
            check_expr(v, "RoleArn.$", arn_path);
            loc_pop(v, o2);
        }
    }
    loc_pop(v, old);
}

static void check_task(va *v, json_t *s, va_ql ql)
{
    json_t *res = json_object_get(s, "Resource");
    if (!res) {
        err(v, "the field 'Resource' is required");
    } else if (!json_is_string(res)) {
        err_at(v, "Resource", "'Resource' must be a string, not %s", json_kind(res));
    } else {
        const char *r = json_string_value(res);
        size_t colons = 0;
        for (const char *p = r; *p; p++)
            colons += *p == ':';
        size_t n = strlen(r);
        static const char wait_token[] = ".waitForTaskToken";
        if (strncmp(r, "arn:", 4) != 0 || colons < 5)
            err_at(v, "Resource", "'%.200s' is not a valid resource ARN", r);
        else if (strstr(r, ":sagemaker:") && n >= sizeof wait_token - 1 &&
                 strcmp(r + n - (sizeof wait_token - 1), wait_token) == 0)
            err_at(v, "Resource",
                   "'%.200s': SageMaker does not support the .waitForTaskToken pattern", r);
    }
    json_int_t timeout = 0, heartbeat = 0;
    check_seconds_pair(v, s, "TimeoutSeconds", "TimeoutSecondsPath", ql, &timeout);
    check_seconds_pair(v, s, "HeartbeatSeconds", "HeartbeatSecondsPath", ql, &heartbeat);
    if (timeout > 0 && heartbeat > 0 && heartbeat >= timeout)
        err_at(v, "HeartbeatSeconds", "'HeartbeatSeconds' (%lld) must be smaller than "
               "'TimeoutSeconds' (%lld)", (long long)heartbeat, (long long)timeout);
    check_credentials(v, s, ql);
}

static void check_choice(va *v, json_t *s, json_t *states, va_ql ql)
{
    json_t *choices = json_object_get(s, "Choices");
    check_target(v, s, "Default", states);
    if (!choices) {
        err(v, "the field 'Choices' is required");
        return;
    }
    size_t old = loc_push(v, "Choices");
    if (!json_is_array(choices) || json_array_size(choices) == 0) {
        err(v, "'Choices' must be a non-empty array");
        loc_pop(v, old);
        return;
    }
    size_t i;
    json_t *c;
    json_array_foreach(choices, i, c) {
        size_t o2 = loc_push_index(v, i);
        if (!json_is_object(c)) {
            err(v, "a choice rule must be an object, not %s", json_kind(c));
            loc_pop(v, o2);
            continue;
        }
        if (!json_object_get(c, "Next"))
            err(v, "the field 'Next' is required in each choice rule");
        check_target(v, c, "Next", states);
        check_assign(v, c, ql);
        if (ql == QL_JSONATA) {
            static const char *const f[] = {"Condition", "Next", "Assign", "Output",
                                            "Comment", NULL};
            check_fields(v, c, f, NULL, "a JSONata choice rule");
            if (!json_object_get(c, "Condition"))
                err(v, "the field 'Condition' is required");
        } else {
            /* choice.c judges the rule itself; Next and Assign are ours. */
            json_t *rule = json_copy(c);
            if (!rule) {
                err(v, "out of memory");
            } else {
                json_object_del(rule, "Next");
                json_object_del(rule, "Assign");
                asl_choice_rule *compiled = NULL;
                size_t before = asl_diag_count(v->d);
                if (asl_choice_compile(rule, v->loc, &compiled, v->d) != SF_OK) {
                    if (asl_diag_count(v->d) == before)
                        err(v, "invalid choice rule");
                    else
                        v->errors++;
                }
                asl_choice_destroy(&compiled);
                json_decref(rule);
            }
        }
        loc_pop(v, o2);
    }
    loc_pop(v, old);
}

static void check_wait(va *v, json_t *s, va_ql ql)
{
    static const char *const path_keys[] = {"Seconds", "SecondsPath", "Timestamp",
                                            "TimestampPath"};
    size_t given = 0;
    for (size_t i = 0; i < 4; i++) {
        if (ql == QL_JSONATA && i % 2 == 1)
            continue;
        given += json_object_get(s, path_keys[i]) != NULL;
    }
    if (given != 1)
        err(v, ql == QL_JSONATA ? "exactly one of 'Seconds' or 'Timestamp' is required"
                                : "exactly one of 'Seconds', 'SecondsPath', 'Timestamp' or "
                                  "'TimestampPath' is required");
    json_t *secs = json_object_get(s, "Seconds");
    if (!(ql == QL_JSONATA && is_jsonata_expr(secs)))
        check_int_field(v, s, "Seconds", 0, VA_SECONDS_MAX, NULL);
    json_t *ts = json_object_get(s, "Timestamp");
    if (ts && !(ql == QL_JSONATA && is_jsonata_expr(ts))) {
        int64_t ns;
        if (!json_is_string(ts) || !asl_timestamp_parse(json_string_value(ts), &ns))
            err_at(v, "Timestamp", "String does not match RFC3339 timestamp");
    }
    if (ql == QL_JSONPATH) {
        check_path_field(v, s, "SecondsPath", true, false);
        check_path_field(v, s, "TimestampPath", true, false);
    }
}

static void check_fail(va *v, json_t *s, va_ql ql)
{
    check_exclusive(v, s, "Error", "ErrorPath");
    check_exclusive(v, s, "Cause", "CausePath");
    check_string_field(v, s, "Error");
    check_string_field(v, s, "Cause");
    if (ql == QL_JSONATA)
        return;
    static const char *const pk[] = {"ErrorPath", "CausePath"};
    for (size_t i = 0; i < 2; i++) {
        json_t *x = json_object_get(s, pk[i]);
        if (!x)
            continue;
        size_t old = loc_push(v, pk[i]);
        check_expr(v, pk[i], x);
        loc_pop(v, old);
    }
}

static void check_parallel(va *v, json_t *s, int depth)
{
    json_t *br = json_object_get(s, "Branches");
    if (!br) {
        err(v, "the field 'Branches' is required");
        return;
    }
    size_t old = loc_push(v, "Branches");
    if (!json_is_array(br) || json_array_size(br) == 0) {
        err(v, "'Branches' must be a non-empty array of state machines");
    } else {
        size_t i;
        json_t *b;
        json_array_foreach(br, i, b) {
            size_t o2 = loc_push_index(v, i);
            check_body(v, b, BODY_BRANCH, depth + 1);
            loc_pop(v, o2);
        }
    }
    loc_pop(v, old);
}

/* Map's Label: what AWS allows in a Map Run's name. */
static void check_label(va *v, json_t *s)
{
    json_t *x = json_object_get(s, "Label");
    if (!x)
        return;
    size_t old = loc_push(v, "Label");
    if (!json_is_string(x)) {
        err(v, "'Label' must be a string, not %s", json_kind(x));
        loc_pop(v, old);
        return;
    }
    const char *t = json_string_value(x);
    size_t n = json_string_length(x);
    if (n == 0) {
        err(v, "'Label' cannot be empty");
    } else if (utf8_chars(t, n) > VA_LABEL_MAX) {
        err(v, "'Label' cannot exceed %d characters", VA_LABEL_MAX);
    } else {
        static const char specials[] = "<>{}[]?*\"#%\\^|~`$&,;:/";
        size_t i = 0;
        while (i < n) {
            uint32_t cp = utf8_next(t, n, &i);
            bool bad = cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || is_unicode_space(cp) ||
                       (cp < 0x80 && strchr(specials, (int)cp) != NULL);
            if (bad) {
                if (cp >= 0x21 && cp < 0x7F)
                    err(v, "'Label' contains invalid character: '%c'", (char)cp);
                else
                    err(v, "'Label' contains invalid character: U+%04X", (unsigned)cp);
                break;
            }
        }
    }
    loc_pop(v, old);
}

static void check_map_object(va *v, json_t *s, const char *key, const char *const *fields,
                             bool need_resource, va_ql ql)
{
    json_t *x = json_object_get(s, key);
    if (!x)
        return;
    size_t old = loc_push(v, key);
    if (!json_is_object(x)) {
        err(v, "'%s' must be an object, not %s", key, json_kind(x));
        loc_pop(v, old);
        return;
    }
    check_fields(v, x, fields, NULL, key);
    json_t *res = json_object_get(x, "Resource");
    if (need_resource && !res)
        err(v, "the field 'Resource' is required");
    if (res && !json_is_string(res))
        err_at(v, "Resource", "'Resource' must be a string, not %s", json_kind(res));
    if (ql == QL_JSONPATH)
        check_template_field(v, x, "Parameters", false);
    loc_pop(v, old);
}

static void check_map(va *v, json_t *s, va_ql ql, int depth)
{
    json_t *it = json_object_get(s, "Iterator");
    json_t *ip = json_object_get(s, "ItemProcessor");
    const char *body_key = ip ? "ItemProcessor" : "Iterator";
    json_t *body = ip ? ip : it;
    if (it && ip)
        err(v, "fields 'Iterator' and 'ItemProcessor' are mutually exclusive");
    else if (!body)
        err(v, "one of 'ItemProcessor' or 'Iterator' is required");

    bool distributed = false;
    json_t *pc = json_is_object(body) ? json_object_get(body, "ProcessorConfig") : NULL;
    if (pc) {
        size_t old = loc_push(v, body_key);
        size_t o2 = loc_push(v, "ProcessorConfig");
        if (!json_is_object(pc)) {
            err(v, "'ProcessorConfig' must be an object, not %s", json_kind(pc));
        } else {
            static const char *const f[] = {"Mode", "ExecutionType", NULL};
            check_fields(v, pc, f, NULL, "ProcessorConfig");
            json_t *mode = json_object_get(pc, "Mode");
            json_t *et = json_object_get(pc, "ExecutionType");
            const char *m = json_is_string(mode) ? json_string_value(mode) : NULL;
            if (mode && (!m || (strcmp(m, "INLINE") != 0 && strcmp(m, "DISTRIBUTED") != 0)))
                err_at(v, "Mode", "'Mode' must be \"INLINE\" or \"DISTRIBUTED\"");
            distributed = m && strcmp(m, "DISTRIBUTED") == 0;
            const char *e = json_is_string(et) ? json_string_value(et) : NULL;
            if (et && (!e || (strcmp(e, "STANDARD") != 0 && strcmp(e, "EXPRESS") != 0)))
                err_at(v, "ExecutionType", "'ExecutionType' must be \"STANDARD\" or \"EXPRESS\"");
            else if (et && !distributed)
                err_at(v, "ExecutionType", "'ExecutionType' is only valid with Mode DISTRIBUTED");
            else if (!et && distributed)
                err(v, "the field 'ExecutionType' is required with Mode DISTRIBUTED");
        }
        loc_pop(v, o2);
        loc_pop(v, old);
    }
    if (body) {
        size_t old = loc_push(v, body_key);
        check_body(v, body, BODY_PROCESSOR, depth + 1);
        loc_pop(v, old);
    }

    check_exclusive(v, s, "Parameters", "ItemSelector");
    check_exclusive(v, s, "MaxConcurrency", "MaxConcurrencyPath");
    check_exclusive(v, s, "ToleratedFailureCount", "ToleratedFailureCountPath");
    check_exclusive(v, s, "ToleratedFailurePercentage", "ToleratedFailurePercentagePath");
    if (ql == QL_JSONPATH) {
        check_template_field(v, s, "ItemSelector", true);
        check_path_field(v, s, "ItemsPath", true, false);
        check_path_field(v, s, "MaxConcurrencyPath", true, false);
        check_path_field(v, s, "ToleratedFailureCountPath", true, false);
        check_path_field(v, s, "ToleratedFailurePercentagePath", true, false);
    }
    json_t *mc = json_object_get(s, "MaxConcurrency");
    if (!(ql == QL_JSONATA && is_jsonata_expr(mc)))
        check_int_field(v, s, "MaxConcurrency", 0, INT32_MAX, NULL);
    json_t *tc = json_object_get(s, "ToleratedFailureCount");
    if (!(ql == QL_JSONATA && is_jsonata_expr(tc)))
        check_int_field(v, s, "ToleratedFailureCount", 0, INT32_MAX, NULL);
    json_t *tp = json_object_get(s, "ToleratedFailurePercentage");
    if (tp && !(ql == QL_JSONATA && is_jsonata_expr(tp)) &&
        (!json_is_number(tp) || json_number_value(tp) < 0 || json_number_value(tp) > 100))
        err_at(v, "ToleratedFailurePercentage",
               "'ToleratedFailurePercentage' must be a number between 0 and 100");
    /* No mode check for the ToleratedFailure* fields: AWS accepts them on an
     * INLINE Map too (it ran test_base_map[TOLERATED_FAILURE_COUNT]). */
    static const char *const reader_f[] = {"Resource", "ReaderConfig", "Parameters",
                                           "Arguments", NULL};
    static const char *const writer_f[] = {"Resource", "Parameters", "Arguments",
                                           "WriterConfig", NULL};
    static const char *const batcher_f[] = {"MaxItemsPerBatch", "MaxItemsPerBatchPath",
                                            "MaxInputBytesPerBatch",
                                            "MaxInputBytesPerBatchPath", "BatchInput", NULL};
    check_map_object(v, s, "ItemReader", reader_f, true, ql);
    check_map_object(v, s, "ResultWriter", writer_f, false, ql);
    check_map_object(v, s, "ItemBatcher", batcher_f, false, ql);
    json_t *ib = json_object_get(s, "ItemBatcher");
    if (json_is_object(ib)) {
        size_t old = loc_push(v, "ItemBatcher");
        check_exclusive(v, ib, "MaxItemsPerBatch", "MaxItemsPerBatchPath");
        check_exclusive(v, ib, "MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath");
        check_int_field(v, ib, "MaxItemsPerBatch", 1, INT32_MAX, NULL);
        check_int_field(v, ib, "MaxInputBytesPerBatch", 1, 262144, NULL);
        if (ql == QL_JSONPATH) {
            check_path_field(v, ib, "MaxItemsPerBatchPath", true, false);
            check_path_field(v, ib, "MaxInputBytesPerBatchPath", true, false);
            check_template_field(v, ib, "BatchInput", false);
        }
        loc_pop(v, old);
    }
    check_label(v, s);
}

/* One state, at the current location (".../States/<name>"). */
static void check_state(va *v, json_t *s, json_t *states, int depth)
{
    if (!json_is_object(s)) {
        err(v, "a state must be an object, not %s", json_kind(s));
        return;
    }
    json_t *type = json_object_get(s, "Type");
    if (!type) {
        err(v, "the field 'Type' is required");
        return;
    }
    const char *tn = json_is_string(type) ? json_string_value(type) : "";
    va_type t = ST_COUNT;
    for (int i = 0; i < ST_COUNT; i++)
        if (strcmp(tn, type_names[i]) == 0)
            t = (va_type)i;
    if (t == ST_COUNT) {
        err_at(v, "Type", "'Type' must be one of Pass, Task, Choice, Wait, Succeed, Fail, "
                          "Parallel or Map");
        return;
    }

    va_ql ql = v->top_ql;
    json_t *qlv = json_object_get(s, "QueryLanguage");
    if (qlv) {
        const char *q = json_is_string(qlv) ? json_string_value(qlv) : "";
        if (strcmp(q, "JSONPath") == 0) {
            if (v->top_ql == QL_JSONATA)
                err(v, "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole "
                       "state machine");
            ql = QL_JSONPATH;
        } else if (strcmp(q, "JSONata") == 0) {
            if (v->top_ql != QL_JSONATA)
                unsupported_jsonata(v, "QueryLanguage");
            ql = QL_JSONATA;
        } else {
            err_at(v, "QueryLanguage", "'QueryLanguage' must be \"JSONPath\" or \"JSONata\"");
        }
    }

    char what[32];
    snprintf(what, sizeof what, "a %s state", type_names[t]);
    check_fields(v, s, common_fields, ql == QL_JSONATA ? ata_fields[t] : path_fields[t], what);
    check_string_field(v, s, "Comment");

    if (t == ST_PASS || t == ST_TASK || t == ST_WAIT || t == ST_PARALLEL || t == ST_MAP)
        check_next_end(v, s, states);

    if (ql == QL_JSONPATH) {
        check_path_field(v, s, "InputPath", false, true);
        check_path_field(v, s, "OutputPath", false, true);
        check_path_field(v, s, "ResultPath", true, true);
        check_template_field(v, s, "Parameters", false);
        check_template_field(v, s, "ResultSelector", true);
    }
    check_assign(v, s, ql);
    check_retry(v, s);
    check_catch(v, s, states, ql);

    switch (t) {
    case ST_TASK: check_task(v, s, ql); break;
    case ST_CHOICE: check_choice(v, s, states, ql); break;
    case ST_WAIT: check_wait(v, s, ql); break;
    case ST_FAIL: check_fail(v, s, ql); break;
    case ST_PARALLEL: check_parallel(v, s, depth); break;
    case ST_MAP: check_map(v, s, ql, depth); break;
    default: break;
    }
}

/* ---- machines --------------------------------------------------------- */

static void add_target(json_t *states, json_t *seen, const char **stack, size_t *n, json_t *x)
{
    if (!json_is_string(x))
        return;
    const char *name = json_string_value(x);
    if (!json_object_get(states, name) || json_object_get(seen, name))
        return;
    json_object_set(seen, name, json_true());
    stack[(*n)++] = name;
}

/* Every state must be reachable from StartAt through Next, Default,
 * Choices[].Next and Catch[].Next: AWS refuses dead states. */
static void check_reachable(va *v, json_t *states, json_t *start)
{
    size_t total = json_object_size(states);
    json_t *seen = json_object();
    const char **stack = calloc(total ? total : 1, sizeof *stack);
    if (!seen || !stack) {
        json_decref(seen);
        free(stack);
        err(v, "out of memory");
        return;
    }
    size_t n = 0;
    add_target(states, seen, stack, &n, start);
    while (n > 0) {
        json_t *s = json_object_get(states, stack[--n]);
        if (!json_is_object(s))
            continue;
        add_target(states, seen, stack, &n, json_object_get(s, "Next"));
        add_target(states, seen, stack, &n, json_object_get(s, "Default"));
        static const char *const lists[] = {"Choices", "Catch"};
        for (size_t k = 0; k < 2; k++) {
            json_t *arr = json_object_get(s, lists[k]);
            size_t i;
            json_t *c;
            if (json_is_array(arr))
                json_array_foreach(arr, i, c)
                    if (json_is_object(c))
                        add_target(states, seen, stack, &n, json_object_get(c, "Next"));
        }
    }
    /* Only worth reporting when StartAt itself is sound. */
    if (json_object_size(seen) > 0) {
        const char *name;
        json_t *s;
        json_object_foreach(states, name, s) {
            if (!json_object_get(seen, name))
                err_at(v, name, "state '%.100s' is not reachable from StartAt", name);
        }
    }
    json_decref(seen);
    free(stack);
}

static void check_body(va *v, json_t *m, va_body kind, int depth)
{
    if (!json_is_object(m)) {
        if (kind == BODY_TOP)
            err(v, "Definition must be a valid JSON object");
        else
            err(v, "a state machine body must be an object, not %s", json_kind(m));
        return;
    }
    if (depth > VA_DEPTH_MAX) {
        err(v, "Parallel and Map bodies are nested more than %d deep", VA_DEPTH_MAX);
        return;
    }
    static const char *const top_f[] = {"Comment", "StartAt", "States", "Version",
                                        "TimeoutSeconds", "QueryLanguage", NULL};
    static const char *const branch_f[] = {"Comment", "StartAt", "States", NULL};
    static const char *const proc_f[] = {"Comment", "StartAt", "States", "ProcessorConfig",
                                         NULL};
    check_fields(v, m, kind == BODY_TOP ? top_f : kind == BODY_BRANCH ? branch_f : proc_f, NULL,
                 kind == BODY_TOP ? "a state machine" : kind == BODY_BRANCH ? "a Parallel branch"
                                                                            : "a Map processor");
    check_string_field(v, m, "Comment");
    if (kind == BODY_TOP) {
        check_string_field(v, m, "Version");
        check_int_field(v, m, "TimeoutSeconds", 1, VA_SECONDS_MAX, NULL);
    }

    json_t *start = json_object_get(m, "StartAt");
    json_t *states = json_object_get(m, "States");
    if (!start || !states)
        err(v, "These fields are required: [%s%s%s]", states ? "" : "States",
            !states && !start ? ", " : "", start ? "" : "StartAt");
    if (start && !json_is_string(start))
        err_at(v, "StartAt", "'StartAt' must be a string, not %s", json_kind(start));
    if (!states)
        return;
    if (!json_is_object(states) || json_object_size(states) == 0) {
        err_at(v, "States", "'States' must be a non-empty object");
        return;
    }
    if (json_is_string(start) && !json_object_get(states, json_string_value(start)))
        err_at(v, "StartAt", "'StartAt' target '%.100s' is not a state of this machine",
               json_string_value(start));

    size_t old = loc_push(v, "States");
    const char *name;
    json_t *s;
    json_object_foreach(states, name, s) {
        size_t o2 = loc_push(v, name);
        size_t len = strlen(name);
        if (len == 0)
            err(v, "state names cannot be empty");
        else if (utf8_chars(name, len) > VA_NAME_MAX)
            err(v, "state name '%.100s' is longer than %d characters", name, VA_NAME_MAX);
        if (json_object_get(v->names, name))
            err(v, "duplicate state name '%.100s' (names must be unique in the whole "
                   "definition, nested bodies included)", name);
        else
            json_object_set(v->names, name, json_true());
        check_state(v, s, states, depth);
        loc_pop(v, o2);
    }
    if (json_is_string(start) && json_object_get(states, json_string_value(start)))
        check_reachable(v, states, start);
    loc_pop(v, old);
}

sf_rc asl_validate(json_t *def, asl_diag *d)
{
    va v = {.d = d, .top_ql = QL_JSONPATH};
    v.loc[0] = '\0';
    v.names = json_object();
    if (!v.names) {
        asl_diag_add(d, "/", "out of memory");
        return SF_ENOMEM;
    }
    if (json_is_object(def)) {
        json_t *q = json_object_get(def, "QueryLanguage");
        if (q) {
            const char *qs = json_is_string(q) ? json_string_value(q) : "";
            if (strcmp(qs, "JSONata") == 0) {
                v.top_ql = QL_JSONATA;
                unsupported_jsonata(&v, "QueryLanguage");
            } else if (strcmp(qs, "JSONPath") != 0) {
                err_at(&v, "QueryLanguage", "'QueryLanguage' must be \"JSONPath\" or \"JSONata\"");
            }
        }
    }
    check_body(&v, def, BODY_TOP, 0);
    json_decref(v.names);
    if (v.errors > 0)
        return SF_EINVAL;
    return v.unsupported > 0 ? SF_EUNSUPPORTED : SF_OK;
}
