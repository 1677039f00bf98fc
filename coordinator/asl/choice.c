/* asl/choice.c - Choice rules: compile once, evaluate per input.
 *
 * A rule compiles into a small tree: And/Or/Not nodes over comparison
 * leaves. Every path is compiled, every literal operand checked and
 * pre-digested (timestamps parsed, StringMatches patterns split at their
 * wildcards) at compile time, so evaluation allocates nothing beyond what
 * asl_path_eval_scope hands back, and never prints.
 *
 * Runtime semantics, as AWS recorded them (shared/conformance):
 *   - a Variable whose value has the wrong type for the operator makes the
 *     comparison false, never an error ("42" NumericEquals 42 is false;
 *     " " TimestampEquals ... is false; an unparsable timestamp is false);
 *   - integers compare exactly, anything else numeric as doubles
 *     (0 NumericEquals 0.0 is true);
 *   - strings compare by Java's String.compareTo, that is by UTF-16 code
 *     units, which differs from UTF-8 byte order above U+FFFF;
 *   - a Variable that does not resolve fails with States.Runtime, except for
 *     IsPresent, which is exactly the test for it;
 *   - a ...Path operand that does not resolve fails with States.Runtime;
 *   - And/Or evaluate left to right and stop at the first decisive rule, so
 *     {"And": [IsPresent, NumericEquals]} guards the comparison. */
#include "choice.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpath.h"
#include "timestamp.h"

/* Deeper nesting than this is refused at compile time: it bounds the
 * recursion of compile, eval and destroy (AWS has no documented limit). */
#define CHOICE_MAX_DEPTH 64
/* Child locations longer than this are truncated (messages only). */
#define CHOICE_WHERE_MAX 512

typedef enum {
    K_STRING,
    K_MATCH,
    K_NUMERIC,
    K_BOOLEAN,
    K_TIMESTAMP,
    K_IS,
} cmp_kind;

typedef enum { C_EQ, C_LT, C_GT, C_LE, C_GE } cmp_rel;

typedef enum {
    IS_NULL,
    IS_PRESENT,
    IS_NUMERIC,
    IS_STRING,
    IS_BOOLEAN,
    IS_TIMESTAMP,
} is_test;

/* Every comparison operator: name, kind, relation (or Is* test), and
 * whether a "...Path" twin exists. One list so names cannot drift. */
#define CHOICE_OPS(X)                                                    \
    X("StringEquals", K_STRING, C_EQ, true)                              \
    X("StringLessThan", K_STRING, C_LT, true)                            \
    X("StringGreaterThan", K_STRING, C_GT, true)                         \
    X("StringLessThanEquals", K_STRING, C_LE, true)                      \
    X("StringGreaterThanEquals", K_STRING, C_GE, true)                   \
    X("StringMatches", K_MATCH, C_EQ, false)                             \
    X("NumericEquals", K_NUMERIC, C_EQ, true)                            \
    X("NumericLessThan", K_NUMERIC, C_LT, true)                          \
    X("NumericGreaterThan", K_NUMERIC, C_GT, true)                       \
    X("NumericLessThanEquals", K_NUMERIC, C_LE, true)                    \
    X("NumericGreaterThanEquals", K_NUMERIC, C_GE, true)                 \
    X("BooleanEquals", K_BOOLEAN, C_EQ, true)                            \
    X("TimestampEquals", K_TIMESTAMP, C_EQ, true)                        \
    X("TimestampLessThan", K_TIMESTAMP, C_LT, true)                      \
    X("TimestampGreaterThan", K_TIMESTAMP, C_GT, true)                   \
    X("TimestampLessThanEquals", K_TIMESTAMP, C_LE, true)                \
    X("TimestampGreaterThanEquals", K_TIMESTAMP, C_GE, true)             \
    X("IsNull", K_IS, IS_NULL, false)                                    \
    X("IsPresent", K_IS, IS_PRESENT, false)                              \
    X("IsNumeric", K_IS, IS_NUMERIC, false)                              \
    X("IsString", K_IS, IS_STRING, false)                                \
    X("IsBoolean", K_IS, IS_BOOLEAN, false)                              \
    X("IsTimestamp", K_IS, IS_TIMESTAMP, false)

typedef struct cmp_op {
    const char *name;
    cmp_kind kind;
    int rel; /* cmp_rel, or is_test for K_IS */
    bool has_path;
} cmp_op;

static const cmp_op cmp_ops[] = {
#define CHOICE_OP_ROW(name, kind, rel, has_path) {name, kind, rel, has_path},
    CHOICE_OPS(CHOICE_OP_ROW)
#undef CHOICE_OP_ROW
};
#define N_CMP_OPS (sizeof cmp_ops / sizeof *cmp_ops)

typedef enum { N_AND, N_OR, N_NOT, N_CMP } node_kind;

struct asl_choice_rule {
    node_kind kind;
    const cmp_op *op;  /* N_CMP */
    asl_path *var;     /* N_CMP: Variable */
    asl_path *operand; /* N_CMP, Path form: the operand's path; else NULL */
    json_t *literal;   /* N_CMP, literal form: the operand (owned reference) */
    int64_t ts_sec;    /* K_TIMESTAMP literal, parsed */
    int32_t ts_nsec;
    bool flag;         /* K_IS: the boolean operand */
    /* K_MATCH: the pattern unescaped into pat, split at its wildcards into
     * n_seg segments (n_seg - 1 wildcards); seg[i] is the end of segment i. */
    char *pat;
    size_t *seg;
    size_t n_seg;
    /* N_AND, N_OR: n_kids children; N_NOT: one. */
    asl_choice_rule **kids;
    size_t n_kids;
};

/* ---- destroy ---- */

void asl_choice_destroy(asl_choice_rule **r)
{
    if (!r || !*r)
        return;
    asl_choice_rule *n = *r;
    for (size_t i = 0; i < n->n_kids; i++)
        asl_choice_destroy(&n->kids[i]);
    free(n->kids);
    asl_path_destroy(&n->var);
    asl_path_destroy(&n->operand);
    json_decref(n->literal);
    free(n->pat);
    free(n->seg);
    free(n);
    *r = NULL;
}

/* ---- compile ---- */

typedef struct cc {
    asl_diag *d;
    sf_rc rc; /* first hard failure (SF_ENOMEM) or SF_EINVAL */
} cc;

static void problem(cc *c, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records a problem at where. Messages are capped at 256 bytes: they name
 * a field and a path, never echo a whole value. */
static void problem(cc *c, const char *where, const char *fmt, ...)
{
    if (c->d) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        asl_diag_add(c->d, where, "%s", msg);
    }
    if (c->rc == SF_OK)
        c->rc = SF_EINVAL;
}

static void oom(cc *c)
{
    c->rc = SF_ENOMEM;
}

/* Which operator field a key names; *is_path set for the "...Path" twin. */
static const cmp_op *find_op(const char *key, bool *is_path)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i < N_CMP_OPS; i++) {
        size_t n = strlen(cmp_ops[i].name);
        if (klen < n || memcmp(key, cmp_ops[i].name, n) != 0)
            continue;
        if (klen == n) {
            *is_path = false;
            return &cmp_ops[i];
        }
        if (cmp_ops[i].has_path && strcmp(key + n, "Path") == 0) {
            *is_path = true;
            return &cmp_ops[i];
        }
    }
    return NULL;
}

static asl_path *compile_path(cc *c, json_t *v, const char *field, const char *where)
{
    if (!json_is_string(v)) {
        problem(c, where, "%s must be a string path", field);
        return NULL;
    }
    const char *text = json_string_value(v);
    if (strlen(text) != json_string_length(v)) {
        problem(c, where, "%s: path contains a NUL character", field);
        return NULL;
    }
    asl_path *p = NULL;
    char err[160] = "";
    sf_rc rc = asl_path_compile(text, &p, err, sizeof err);
    if (rc == SF_ENOMEM) {
        oom(c);
        return NULL;
    }
    if (rc != SF_OK) {
        problem(c, where, "%s: invalid path: %s", field, err[0] ? err : "not a path");
        return NULL;
    }
    return p;
}

/* Splits a StringMatches pattern at its unescaped '*'. "\*" is a literal
 * star, "\\" a literal backslash; a backslash before any other character
 * (or at the end) stands for itself, as AWS documents escapes only for
 * those two. */
static bool compile_pattern(asl_choice_rule *n, const char *p, size_t len)
{
    size_t stars = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\\' && i + 1 < len && (p[i + 1] == '*' || p[i + 1] == '\\'))
            i++;
        else if (p[i] == '*')
            stars++;
    }
    n->pat = malloc(len + 1);
    n->seg = malloc((stars + 1) * sizeof *n->seg);
    if (!n->pat || !n->seg)
        return false;
    size_t o = 0;
    n->n_seg = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\\' && i + 1 < len && (p[i + 1] == '*' || p[i + 1] == '\\'))
            n->pat[o++] = p[++i];
        else if (p[i] == '*')
            n->seg[n->n_seg++] = o;
        else
            n->pat[o++] = p[i];
    }
    n->seg[n->n_seg++] = o;
    n->pat[o] = '\0';
    return true;
}

static asl_choice_rule *compile_rule(cc *c, json_t *rule, const char *where, bool top, int depth);

static void child_where(char *buf, const char *where, const char *field, size_t idx, bool indexed)
{
    if (indexed)
        snprintf(buf, CHOICE_WHERE_MAX, "%s/%s/%zu", where, field, idx);
    else
        snprintf(buf, CHOICE_WHERE_MAX, "%s/%s", where, field);
}

static void compile_bool_node(cc *c, asl_choice_rule *n, const char *name, json_t *v,
                              const char *where, int depth)
{
    char w[CHOICE_WHERE_MAX];
    if (n->kind == N_NOT) {
        if (!json_is_object(v)) {
            problem(c, where, "%s must be a rule object", name);
            return;
        }
        n->kids = calloc(1, sizeof *n->kids);
        if (!n->kids) {
            oom(c);
            return;
        }
        n->n_kids = 1;
        child_where(w, where, name, 0, false);
        n->kids[0] = compile_rule(c, v, w, false, depth + 1);
        return;
    }
    if (!json_is_array(v) || json_array_size(v) == 0) {
        problem(c, where, "%s must be a non-empty array of rules", name);
        return;
    }
    size_t k = json_array_size(v);
    n->kids = calloc(k, sizeof *n->kids);
    if (!n->kids) {
        oom(c);
        return;
    }
    n->n_kids = k;
    for (size_t i = 0; i < k && c->rc != SF_ENOMEM; i++) {
        child_where(w, where, name, i, true);
        n->kids[i] = compile_rule(c, json_array_get(v, i), w, false, depth + 1);
    }
}

/* Checks the operand's type for the operator and keeps it, digested. */
static void compile_operand(cc *c, asl_choice_rule *n, const char *name, bool is_path, json_t *v,
                            const char *where)
{
    if (is_path) {
        n->operand = compile_path(c, v, name, where);
        return;
    }
    const char *need = NULL;
    switch (n->op->kind) {
    case K_STRING:
        if (!json_is_string(v))
            need = "a string";
        break;
    case K_MATCH:
        if (!json_is_string(v))
            need = "a string pattern";
        else if (!compile_pattern(n, json_string_value(v), json_string_length(v)))
            oom(c);
        break;
    case K_NUMERIC:
        if (!json_is_number(v))
            need = "a number";
        break;
    case K_BOOLEAN:
    case K_IS:
        if (!json_is_boolean(v))
            need = "a boolean";
        n->flag = json_is_true(v);
        break;
    case K_TIMESTAMP:
        if (!json_is_string(v) || !asl_timestamp_parse_parts(json_string_value(v),
                                                             json_string_length(v), &n->ts_sec,
                                                             &n->ts_nsec))
            need = "an RFC 3339 timestamp string";
        break;
    }
    if (need) {
        problem(c, where, "%s needs %s", name, need);
        return;
    }
    n->literal = json_incref(v);
}

static asl_choice_rule *compile_rule(cc *c, json_t *rule, const char *where, bool top, int depth)
{
    if (!json_is_object(rule)) {
        problem(c, where, "a Choice rule must be an object");
        return NULL;
    }
    if (depth > CHOICE_MAX_DEPTH) {
        problem(c, where, "rules nested more than %d deep", CHOICE_MAX_DEPTH);
        return NULL;
    }

    /* First pass: classify every field, so that all problems of this rule
     * are reported together. */
    const char *op_name = NULL;   /* the operator field's name */
    json_t *op_val = NULL;
    const cmp_op *op = NULL;
    bool is_path = false;
    node_kind kind = N_CMP;
    json_t *var = NULL;
    int n_ops = 0;
    const char *key;
    json_t *val;
    json_object_foreach(rule, key, val) {
        bool p = false;
        const cmp_op *o = NULL;
        node_kind k = N_CMP;
        if (strcmp(key, "And") == 0)
            k = N_AND;
        else if (strcmp(key, "Or") == 0)
            k = N_OR;
        else if (strcmp(key, "Not") == 0)
            k = N_NOT;
        else if ((o = find_op(key, &p)) == NULL) {
            if (strcmp(key, "Variable") == 0) {
                var = val;
            } else if (strcmp(key, "Comment") == 0) {
                /* allowed anywhere */
            } else if (strcmp(key, "Next") == 0 || strcmp(key, "Assign") == 0 ||
                       strcmp(key, "Output") == 0) {
                /* The caller owns these on top-level rules. */
                if (!top) {
                    problem(c, where, "%s is only allowed in a top-level Choices rule", key);
                }
            } else if (strcmp(key, "Condition") == 0) {
                problem(c, where, "Condition is only allowed with QueryLanguage JSONata");
            } else {
                problem(c, where, "unknown field '%s'", key);
            }
            continue;
        }
        if (n_ops++ == 0) {
            op_name = key;
            op_val = val;
            op = o;
            is_path = p;
            kind = k;
        } else {
            problem(c, where, "more than one comparison operator ('%s' and '%s')", op_name, key);
        }
    }
    if (n_ops == 0) {
        problem(c, where, "no comparison operator (or And, Or, Not)");
        return NULL;
    }
    if (kind != N_CMP && var) {
        problem(c, where, "Variable is not allowed with %s", op_name);
    }
    if (kind == N_CMP && !var) {
        problem(c, where, "%s needs a Variable", op_name);
    }

    asl_choice_rule *n = calloc(1, sizeof *n);
    if (!n) {
        oom(c);
        return NULL;
    }
    n->kind = kind;
    n->op = op;
    if (kind == N_CMP) {
        if (var)
            n->var = compile_path(c, var, "Variable", where);
        compile_operand(c, n, op_name, is_path, op_val, where);
    } else {
        compile_bool_node(c, n, op_name, op_val, where, depth);
    }
    /* Any problem anywhere below leaves c->rc set; asl_choice_compile then
     * throws the whole tree away, so partial nodes are fine here. */
    return n;
}

sf_rc asl_choice_compile(json_t *rule, const char *where, asl_choice_rule **out, asl_diag *d)
{
    cc c = {.d = d, .rc = SF_OK};
    *out = NULL;
    if (!where)
        where = "";
    asl_choice_rule *r = compile_rule(&c, rule, where, true, 0);
    if (c.rc != SF_OK) {
        asl_choice_destroy(&r);
        return c.rc;
    }
    if (!r)
        return SF_EINVAL;
    *out = r;
    return SF_OK;
}

/* ---- evaluate ---- */

/* Decodes the UTF-8 sequence at s[i] (i < n); an invalid byte reads as itself. */
static uint32_t utf8_at(const unsigned char *s, size_t n, size_t i)
{
    unsigned char b = s[i];
    int len;
    uint32_t cp;
    if (b < 0x80)
        return b;
    if ((b & 0xE0) == 0xC0) {
        len = 2;
        cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
        len = 3;
        cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
        len = 4;
        cp = b & 0x07;
    } else {
        return b;
    }
    if (n - i < (size_t)len)
        return b;
    for (int k = 1; k < len; k++) {
        if ((s[i + (size_t)k] & 0xC0) != 0x80)
            return b;
        cp = cp << 6 | (s[i + (size_t)k] & 0x3F);
    }
    return cp;
}

/* Java's String.compareTo on UTF-8 text: order by UTF-16 code units. Equal
 * prefixes are skipped bytewise; only the first differing code point is
 * decoded. Below U+10000 code point order is code unit order; a
 * supplementary character's first unit is a high surrogate (D800-DBFF),
 * which sorts below U+E000-U+FFFF although its UTF-8 bytes sort above. */
static int utf16_cmp(const char *as, size_t na, const char *bs, size_t nb)
{
    const unsigned char *a = (const unsigned char *)as, *b = (const unsigned char *)bs;
    size_t n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i])
        i++;
    if (i == n)
        return na < nb ? -1 : na > nb;
    while (i > 0 && (a[i] & 0xC0) == 0x80 && (b[i] & 0xC0) == 0x80)
        i--;
    uint32_t ca = utf8_at(a, na, i), cb = utf8_at(b, nb, i);
    uint32_t ua = ca >= 0x10000 ? 0xD800 + ((ca - 0x10000) >> 10) : ca;
    uint32_t ub = cb >= 0x10000 ? 0xD800 + ((cb - 0x10000) >> 10) : cb;
    if (ua != ub)
        return ua < ub ? -1 : 1;
    return ca < cb ? -1 : ca > cb;
}

static bool rel_holds(cmp_rel rel, int cmp)
{
    switch (rel) {
    case C_EQ:
        return cmp == 0;
    case C_LT:
        return cmp < 0;
    case C_GT:
        return cmp > 0;
    case C_LE:
        return cmp <= 0;
    case C_GE:
        return cmp >= 0;
    }
    return false;
}

static bool find_at(const char *s, size_t n, size_t from, const char *w, size_t wn, size_t *at)
{
    if (wn == 0) {
        *at = from;
        return true;
    }
    if (n < wn)
        return false;
    for (size_t i = from; i + wn <= n; i++) {
        if (s[i] == w[0] && memcmp(s + i, w, wn) == 0) {
            *at = i;
            return true;
        }
    }
    return false;
}

/* Glob with '*' only: the first segment anchors the start, the last the
 * end, and the ones between are taken leftmost-first, which is optimal
 * when the only wildcard matches any run. Bytewise is exact for UTF-8:
 * a valid segment can only match at code point boundaries. */
static bool pattern_matches(const asl_choice_rule *r, const char *s, size_t n)
{
    const char *p = r->pat;
    size_t first_end = r->seg[0];
    if (r->n_seg == 1)
        return n == first_end && memcmp(s, p, n) == 0;
    size_t last_start = r->seg[r->n_seg - 2], last_len = r->seg[r->n_seg - 1] - last_start;
    if (n < first_end + last_len || memcmp(s, p, first_end) != 0 ||
        memcmp(s + n - last_len, p + last_start, last_len) != 0)
        return false;
    size_t pos = first_end, lim = n - last_len;
    for (size_t k = 1; k + 1 < r->n_seg; k++) {
        size_t start = r->seg[k - 1], len = r->seg[k] - start, at;
        if (!find_at(s, lim, pos, p + start, len, &at))
            return false;
        pos = at + len;
    }
    return true;
}

static bool as_timestamp(const json_t *v, int64_t *sec, int32_t *nsec)
{
    return json_is_string(v) &&
           asl_timestamp_parse_parts(json_string_value(v), json_string_length(v), sec, nsec);
}

static int cmp_i64(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b;
}

/* The comparison itself, once both values are known. A Variable (or a
 * ...Path operand) of the wrong type is simply false. */
static bool compare(const asl_choice_rule *r, const json_t *v, const json_t *operand)
{
    const cmp_op *op = r->op;
    cmp_rel rel = (cmp_rel)op->rel;
    switch (op->kind) {
    case K_STRING:
        if (!json_is_string(v) || !json_is_string(operand))
            return false;
        if (rel == C_EQ)
            return json_string_length(v) == json_string_length(operand) &&
                   memcmp(json_string_value(v), json_string_value(operand),
                          json_string_length(v)) == 0;
        return rel_holds(rel, utf16_cmp(json_string_value(v), json_string_length(v),
                                        json_string_value(operand),
                                        json_string_length(operand)));
    case K_MATCH:
        return json_is_string(v) && pattern_matches(r, json_string_value(v), json_string_length(v));
    case K_NUMERIC: {
        if (!json_is_number(v) || !json_is_number(operand))
            return false;
        int c;
        if (json_is_integer(v) && json_is_integer(operand)) {
            c = cmp_i64(json_integer_value(v), json_integer_value(operand));
        } else {
            double a = json_number_value(v), b = json_number_value(operand);
            if (a != a || b != b) /* NaN: unordered, never equal */
                return false;
            c = a < b ? -1 : a > b;
        }
        return rel_holds(rel, c);
    }
    case K_BOOLEAN:
        return json_is_boolean(v) && json_is_boolean(operand) &&
               json_is_true(v) == json_is_true(operand);
    case K_TIMESTAMP: {
        int64_t as, bs;
        int32_t an, bn;
        if (!as_timestamp(v, &as, &an))
            return false;
        if (r->operand) {
            if (!as_timestamp(operand, &bs, &bn))
                return false;
        } else {
            bs = r->ts_sec;
            bn = r->ts_nsec;
        }
        int c = as != bs ? cmp_i64(as, bs) : cmp_i64(an, bn);
        return rel_holds(rel, c);
    }
    case K_IS: {
        bool t = false;
        int64_t s;
        int32_t ns;
        switch ((is_test)op->rel) {
        case IS_NULL:
            t = json_is_null(v);
            break;
        case IS_PRESENT:
            t = true;
            break;
        case IS_NUMERIC:
            t = json_is_number(v);
            break;
        case IS_STRING:
            t = json_is_string(v);
            break;
        case IS_BOOLEAN:
            t = json_is_boolean(v);
            break;
        case IS_TIMESTAMP:
            t = as_timestamp(v, &s, &ns);
            break;
        }
        return t == r->flag;
    }
    }
    return false;
}

static sf_rc invalid_path(const asl_path *p, asl_err *e)
{
    if (e)
        asl_err_set(e, "States.Runtime",
                    "Invalid path '%s': The choice state's condition path references an invalid "
                    "value.",
                    asl_path_text(p));
    return SF_EINVAL;
}

static sf_rc eval_cmp(const asl_choice_rule *r, const asl_scope *s, bool *match, asl_err *e)
{
    json_t *v = NULL, *operand = NULL;
    sf_rc rc = asl_path_eval_scope(r->var, s, &v);
    if (rc == SF_ENOMEM)
        return rc;
    if (rc != SF_OK) {
        if (r->op->kind == K_IS && r->op->rel == IS_PRESENT) {
            *match = !r->flag;
            return SF_OK;
        }
        return invalid_path(r->var, e);
    }
    if (r->operand) {
        rc = asl_path_eval_scope(r->operand, s, &operand);
        if (rc != SF_OK) {
            json_decref(v);
            return rc == SF_ENOMEM ? rc : invalid_path(r->operand, e);
        }
    }
    *match = compare(r, v, r->operand ? operand : r->literal);
    json_decref(operand);
    json_decref(v);
    return SF_OK;
}

sf_rc asl_choice_eval(const asl_choice_rule *r, const asl_scope *s, bool *match, asl_err *e)
{
    sf_rc rc;
    bool m = false;
    switch (r->kind) {
    case N_CMP:
        rc = eval_cmp(r, s, &m, e);
        break;
    case N_NOT:
        rc = asl_choice_eval(r->kids[0], s, &m, e);
        m = !m;
        break;
    case N_AND:
    case N_OR:
        /* And stops at the first false, Or at the first true. */
        rc = SF_OK;
        m = r->kind == N_AND;
        for (size_t i = 0; i < r->n_kids && rc == SF_OK; i++) {
            bool k = false;
            rc = asl_choice_eval(r->kids[i], s, &k, e);
            if (rc == SF_OK && k != m) {
                m = k;
                break;
            }
        }
        break;
    default:
        rc = SF_EINVAL;
    }
    if (rc == SF_OK)
        *match = m;
    return rc;
}
