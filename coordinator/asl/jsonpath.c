/* asl/jsonpath.c - JSONPath compiled to an array of steps, evaluated the way
 * Jayway JsonPath (and so AWS Step Functions) evaluates it.
 *
 * A path compiles once into a chain of steps; a filter's operands are chains
 * of their own. Evaluating a definite path walks borrowed pointers and only
 * increfs the value it lands on: it must never allocate, because every state
 * transition runs several of these. Indefinite paths collect matches into a
 * JSON array, in Jayway's order (its deep scan visits a node before its
 * children, and object members in insertion order).
 *
 * Where Jayway has a quirk that a state machine could observe (leaf unions of
 * names merge into one object; "..[n].x" applies ".x" to every element of
 * every array; slices with a negative start count from the end element by
 * element), this file reproduces it and says so where it happens.
 *
 * Never prints, never mutates a document it is given, and every growth it
 * allows (steps, results, work, recursion) has a cap. */
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include "jsonpath.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/sf_hex.h"
#include "../../common/sf_json_kind.h"

#define PATH_TEXT_MAX 65536         /* bytes of path text */
#define PATH_STEPS_MAX 4096         /* steps in all chains of one path */
#define PATH_NEST_MAX 48            /* parentheses, '!' and nested filters */
#define PATH_UNION_MAX 1024         /* names or indexes in one [a,b,...] */
#define EVAL_RESULTS_MAX (1u << 20) /* matches of one indefinite path */
#define EVAL_VISITS_MAX (1u << 23)  /* nodes visited by one evaluation */
#define EVAL_DEPTH_MAX 4096         /* recursion of one evaluation */

typedef enum {
    STEP_NAME,    /* .a  ['a'] */
    STEP_NAMES,   /* ['a','b']: one merged object as a leaf, else each name */
    STEP_INDEX,   /* [n] */
    STEP_INDEXES, /* [n,m] */
    STEP_SLICE,   /* [a:b]  [a:]  [:b] */
    STEP_WILD,    /* .*  [*] */
    STEP_FILTER,  /* [?(...)] */
} step_kind;

typedef struct name {
    char *s; /* owned, NUL-terminated, may hold NULs from \u0000 */
    size_t len;
} name;

struct expr;

typedef struct step {
    uint8_t kind;
    bool scan;  /* preceded by "..": applies wherever the deep scan finds a match */
    char quote; /* NAME(S): the quote the source used, kept for the normalized form */
    bool has_from, has_to;
    int32_t index; /* INDEX; SLICE from */
    int32_t to;    /* SLICE */
    uint32_t n;    /* NAMES, INDEXES: entries */
    const char *key; /* NAME: names[0].s, inline for the hot path */
    size_t keylen;
    name *names;     /* NAME(S), owned */
    int32_t *idx;    /* INDEXES, owned */
    struct expr *filter; /* FILTER, owned */
} step;

typedef struct chain {
    step *v;
    uint32_t n, cap;
    bool definite;
} chain;

typedef enum { EX_OR, EX_AND, EX_NOT, EX_CMP, EX_EXISTS } expr_kind;
typedef enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE } cmp_op;

typedef struct operand {
    bool is_path;
    bool from_root; /* "$..." rather than "@..." */
    chain path;
    json_t *lit; /* owned; never incref'd during evaluation (threads share it) */
} operand;

typedef struct expr {
    uint8_t kind, op;
    struct expr *a, *b; /* OR, AND: both; NOT: a */
    operand l, r;       /* CMP: both; EXISTS: l */
} expr;

struct asl_path {
    char *text;
    char *var;
    asl_path_root root;
    chain main;
    bool definite;
    bool reference;
};

/* ---- small helpers ---------------------------------------------------- */

typedef struct wbuf {
    char *b;
    size_t cap, n;
} wbuf;

/* Appends while there is room and keeps b NUL-terminated: truncates silently. */
static void w_put(wbuf *w, const char *s, size_t len)
{
    if (w->cap == 0)
        return;
    size_t room = w->cap - 1 - w->n;
    if (len > room)
        len = room;
    memcpy(w->b + w->n, s, len);
    w->n += len;
    w->b[w->n] = '\0';
}

static void w_str(wbuf *w, const char *s) { w_put(w, s, strlen(s)); }

static void w_int(wbuf *w, long long v)
{
    char tmp[32];
    int k = snprintf(tmp, sizeof tmp, "%lld", v);
    w_put(w, tmp, (size_t)k);
}

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void expr_free(expr *e);

static void chain_cleanup(chain *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        step *s = &c->v[i];
        if (s->names) {
            uint32_t k = s->kind == STEP_NAMES ? s->n : 1;
            for (uint32_t j = 0; j < k; j++)
                free(s->names[j].s);
            free(s->names);
        }
        free(s->idx);
        expr_free(s->filter);
    }
    free(c->v);
    c->v = NULL;
    c->n = c->cap = 0;
}

static void operand_cleanup(operand *o)
{
    chain_cleanup(&o->path);
    json_decref(o->lit);
    o->lit = NULL;
}

static void expr_free(expr *e)
{
    if (!e)
        return;
    expr_free(e->a);
    expr_free(e->b);
    operand_cleanup(&e->l);
    operand_cleanup(&e->r);
    free(e);
}

static bool step_is_definite(const step *s, bool leaf)
{
    if (s->scan)
        return false;
    return s->kind == STEP_NAME || s->kind == STEP_INDEX || (s->kind == STEP_NAMES && leaf);
}

static void chain_finish(chain *c)
{
    c->definite = true;
    for (uint32_t i = 0; i < c->n; i++)
        if (!step_is_definite(&c->v[i], i + 1 == c->n))
            c->definite = false;
}

/* ---- compiling -------------------------------------------------------- */

typedef struct parser {
    const char *text; /* as given, for byte offsets */
    const char *s;    /* cursor */
    const char *end;  /* end of the trimmed text */
    char *err;
    size_t errlen;
    sf_rc rc;
    unsigned nest;
    unsigned steps;
} parser;

static sf_rc fail(parser *ps, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static sf_rc fail(parser *ps, const char *at, const char *fmt, ...)
{
    if (ps->rc != SF_OK)
        return ps->rc;
    ps->rc = SF_EINVAL;
    if (ps->err && ps->errlen > 0) {
        char what[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        snprintf(ps->err, ps->errlen, "%s at byte %zu", what, (size_t)(at - ps->text));
    }
    return ps->rc;
}

static sf_rc fail_rc(parser *ps, sf_rc rc, const char *msg)
{
    if (ps->rc != SF_OK)
        return ps->rc;
    ps->rc = rc;
    errf(ps->err, ps->errlen, "%s", msg);
    return rc;
}

/* Describes the byte at p for a message: "']'" or "end of path". */
static const char *show(parser *ps, const char *p, char tmp[16])
{
    if (p >= ps->end)
        return "end of path";
    unsigned char c = (unsigned char)*p;
    if (c >= 0x20 && c < 0x7f)
        snprintf(tmp, 16, "'%c'", c);
    else
        snprintf(tmp, 16, "byte 0x%02x", c);
    return tmp;
}

static sf_rc unexpected(parser *ps, const char *p)
{
    char tmp[16];
    return fail(ps, p, "unexpected %s", show(ps, p, tmp));
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static void skip_ws(parser *ps)
{
    while (ps->s < ps->end && is_ws(*ps->s))
        ps->s++;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Ends an operand path inside a filter: "@.a==1", "@.a )", "@.a&&@.b". */
static bool ends_filter_path(char c)
{
    return is_ws(c) || c == ')' || c == '<' || c == '>' || c == '=' || c == '!' || c == '~' ||
           c == '&' || c == '|' || c == ',';
}

static step *chain_push(parser *ps, chain *c, step_kind kind, bool scan)
{
    if (++ps->steps > PATH_STEPS_MAX) {
        fail_rc(ps, SF_ELIMIT, "path has too many steps");
        return NULL;
    }
    if (c->n == c->cap) {
        uint32_t ncap = c->cap ? c->cap * 2 : 4;
        step *nv = realloc(c->v, ncap * sizeof *nv);
        if (!nv) {
            fail_rc(ps, SF_ENOMEM, "out of memory");
            return NULL;
        }
        c->v = nv;
        c->cap = ncap;
    }
    step *s = &c->v[c->n++];
    memset(s, 0, sizeof *s);
    s->kind = (uint8_t)kind;
    s->scan = scan;
    s->quote = '\'';
    return s;
}

static bool read_hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = sf_hex_digit(p[i]);
        if (h < 0)
            return false;
        v = v * 16 + (unsigned)h;
    }
    *out = v;
    return true;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Reads a 'quoted' or "quoted" string at ps->s into a new buffer. Escapes
 * follow JSON (\n, \uXXXX...); any other escaped character stands for itself,
 * which is how \' and \" work. */
static sf_rc read_quoted(parser *ps, name *out, char *quote)
{
    const char *open = ps->s;
    char q = *ps->s++;
    const char *p = ps->s;
    while (p < ps->end && *p != q) {
        if (*p == '\\')
            p++;
        p++;
    }
    if (p >= ps->end)
        return fail(ps, open, "unterminated string");
    /* Unescaping never grows the text: \uXXXX (6 bytes) is at most 3 bytes
     * and a surrogate pair (12 bytes) is 4. */
    char *buf = malloc((size_t)(p - ps->s) + 1);
    if (!buf)
        return fail_rc(ps, SF_ENOMEM, "out of memory");
    size_t n = 0;
    const char *r = ps->s;
    while (r < p) {
        if (*r != '\\') {
            buf[n++] = *r++;
            continue;
        }
        const char *esc = r++;
        char c = *r++;
        switch (c) {
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (!read_hex4(r, p, &cp)) {
                free(buf);
                return fail(ps, esc, "bad \\u escape");
            }
            r += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && p - r >= 6 && r[0] == '\\' && r[1] == 'u' &&
                read_hex4(r + 2, p, &lo) && lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                r += 6;
            } else if (cp >= 0xd800 && cp < 0xe000) {
                free(buf);
                return fail(ps, esc, "lone surrogate in \\u escape");
            }
            n += put_utf8(buf + n, cp);
            break;
        }
        default: buf[n++] = c; break;
        }
    }
    buf[n] = '\0';
    out->s = buf;
    out->len = n;
    *quote = q;
    ps->s = p + 1;
    return SF_OK;
}

/* An int32 index: -?digits. */
static sf_rc read_int(parser *ps, int32_t *out)
{
    const char *start = ps->s;
    bool neg = false;
    if (ps->s < ps->end && *ps->s == '-') {
        neg = true;
        ps->s++;
    }
    if (ps->s >= ps->end || !is_digit(*ps->s))
        return unexpected(ps, ps->s);
    long long v = 0;
    while (ps->s < ps->end && is_digit(*ps->s)) {
        v = v * 10 + (*ps->s++ - '0');
        if (v > (long long)INT32_MAX + 1)
            return fail(ps, start, "index out of range");
    }
    if (neg)
        v = -v;
    if (v > INT32_MAX || v < INT32_MIN)
        return fail(ps, start, "index out of range");
    *out = (int32_t)v;
    return SF_OK;
}

static sf_rc parse_expr_or(parser *ps, expr **out);

/* "[" ... "]" with ps->s on the '['. */
static sf_rc parse_bracket(parser *ps, chain *c, bool scan)
{
    const char *open = ps->s++;
    skip_ws(ps);
    if (ps->s >= ps->end)
        return fail(ps, open, "unterminated '['");
    char ch = *ps->s;
    if (ch == '\'' || ch == '"') {
        name *names = NULL;
        uint32_t n = 0, cap = 0;
        char quote = '\'';
        for (;;) {
            if (n == cap) {
                uint32_t ncap = cap ? cap * 2 : 2;
                if (ncap > PATH_UNION_MAX) {
                    fail_rc(ps, SF_ELIMIT, "too many names in a union");
                    goto names_fail;
                }
                name *nn = realloc(names, ncap * sizeof *nn);
                if (!nn) {
                    fail_rc(ps, SF_ENOMEM, "out of memory");
                    goto names_fail;
                }
                names = nn;
                cap = ncap;
            }
            if (read_quoted(ps, &names[n], &quote) != SF_OK)
                goto names_fail;
            n++;
            skip_ws(ps);
            if (ps->s < ps->end && *ps->s == ',') {
                ps->s++;
                skip_ws(ps);
                if (ps->s >= ps->end || (*ps->s != '\'' && *ps->s != '"')) {
                    unexpected(ps, ps->s);
                    goto names_fail;
                }
                continue;
            }
            if (ps->s < ps->end && *ps->s == ']') {
                ps->s++;
                break;
            }
            unexpected(ps, ps->s);
            goto names_fail;
        }
        step *s = chain_push(ps, c, n == 1 ? STEP_NAME : STEP_NAMES, scan);
        if (!s)
            goto names_fail;
        s->names = names;
        s->n = n;
        s->quote = quote;
        s->key = names[0].s;
        s->keylen = names[0].len;
        return SF_OK;
    names_fail:
        for (uint32_t i = 0; i < n; i++)
            free(names[i].s);
        free(names);
        return ps->rc;
    }
    if (ch == '*') {
        ps->s++;
        skip_ws(ps);
        if (ps->s >= ps->end || *ps->s != ']')
            return unexpected(ps, ps->s);
        ps->s++;
        return chain_push(ps, c, STEP_WILD, scan) ? SF_OK : ps->rc;
    }
    if (ch == '?') {
        ps->s++;
        skip_ws(ps);
        if (ps->s >= ps->end || *ps->s != '(')
            return unexpected(ps, ps->s);
        ps->s++;
        if (++ps->nest > PATH_NEST_MAX)
            return fail(ps, open, "filters nested too deeply");
        expr *e = NULL;
        if (parse_expr_or(ps, &e) != SF_OK)
            return ps->rc;
        ps->nest--;
        skip_ws(ps);
        if (ps->s >= ps->end || *ps->s != ')') {
            expr_free(e);
            return unexpected(ps, ps->s);
        }
        ps->s++;
        skip_ws(ps);
        if (ps->s >= ps->end || *ps->s != ']') {
            expr_free(e);
            return unexpected(ps, ps->s);
        }
        ps->s++;
        step *s = chain_push(ps, c, STEP_FILTER, scan);
        if (!s) {
            expr_free(e);
            return ps->rc;
        }
        s->filter = e;
        return SF_OK;
    }
    if (is_digit(ch) || ch == '-' || ch == ':') {
        int32_t first = 0;
        bool has_first = ch != ':';
        if (has_first && read_int(ps, &first) != SF_OK)
            return ps->rc;
        skip_ws(ps);
        if (ps->s < ps->end && *ps->s == ':') {
            ps->s++;
            skip_ws(ps);
            int32_t to = 0;
            bool has_to = ps->s < ps->end && (is_digit(*ps->s) || *ps->s == '-');
            if (has_to && read_int(ps, &to) != SF_OK)
                return ps->rc;
            skip_ws(ps);
            if (ps->s < ps->end && *ps->s == ':')
                return fail(ps, ps->s, "slice steps are not supported");
            if (ps->s >= ps->end || *ps->s != ']')
                return unexpected(ps, ps->s);
            if (!has_first && !has_to)
                return fail(ps, open, "slice needs a start or an end");
            ps->s++;
            step *s = chain_push(ps, c, STEP_SLICE, scan);
            if (!s)
                return ps->rc;
            s->has_from = has_first;
            s->has_to = has_to;
            s->index = first;
            s->to = to;
            return SF_OK;
        }
        if (ps->s < ps->end && *ps->s == ']') {
            ps->s++;
            step *s = chain_push(ps, c, STEP_INDEX, scan);
            if (!s)
                return ps->rc;
            s->index = first;
            return SF_OK;
        }
        if (ps->s >= ps->end || *ps->s != ',')
            return unexpected(ps, ps->s);
        int32_t *idx = NULL;
        uint32_t n = 0, cap = 0;
        for (;;) {
            if (n == cap) {
                uint32_t ncap = cap ? cap * 2 : 4;
                if (ncap > PATH_UNION_MAX) {
                    free(idx);
                    return fail_rc(ps, SF_ELIMIT, "too many indexes in a union");
                }
                int32_t *ni = realloc(idx, ncap * sizeof *ni);
                if (!ni) {
                    free(idx);
                    return fail_rc(ps, SF_ENOMEM, "out of memory");
                }
                idx = ni;
                cap = ncap;
            }
            idx[n++] = first;
            skip_ws(ps);
            if (ps->s < ps->end && *ps->s == ']') {
                ps->s++;
                break;
            }
            if (ps->s >= ps->end || *ps->s != ',') {
                free(idx);
                return unexpected(ps, ps->s);
            }
            ps->s++;
            skip_ws(ps);
            if (read_int(ps, &first) != SF_OK) {
                free(idx);
                return ps->rc;
            }
        }
        step *s = chain_push(ps, c, STEP_INDEXES, scan);
        if (!s) {
            free(idx);
            return ps->rc;
        }
        s->idx = idx;
        s->n = n;
        return SF_OK;
    }
    return unexpected(ps, ps->s);
}

/* A dot-notation name. Jayway takes anything up to '.' or '[' (so "a-b",
 * "a:b" and "a$" are names), refuses blanks, and treats '(' as a function
 * call, which Step Functions paths do not have. */
static sf_rc parse_name(parser *ps, chain *c, bool scan, bool in_filter)
{
    const char *start = ps->s;
    /* Jayway would even take "]" as a name, making "$.a[0]]" valid; a
     * stray bracket is far likelier a typo, so a name may not start with one. */
    if (ps->s < ps->end && *ps->s == ']')
        return unexpected(ps, ps->s);
    while (ps->s < ps->end && *ps->s != '.' && *ps->s != '[') {
        char ch = *ps->s;
        if (in_filter && (ends_filter_path(ch) || ch == ']'))
            break;
        if (is_ws(ch))
            return fail(ps, ps->s, "blank in a name (use ['a b'])");
        if (ch == '(')
            return fail(ps, ps->s, "path functions are not supported");
        ps->s++;
    }
    if (ps->s == start)
        return unexpected(ps, start);
    size_t len = (size_t)(ps->s - start);
    char *copy = malloc(len + 1);
    name *names = malloc(sizeof *names);
    step *s = copy && names ? chain_push(ps, c, STEP_NAME, scan) : NULL;
    if (!s) {
        free(copy);
        free(names);
        return ps->rc != SF_OK ? ps->rc : fail_rc(ps, SF_ENOMEM, "out of memory");
    }
    memcpy(copy, start, len);
    copy[len] = '\0';
    names[0].s = copy;
    names[0].len = len;
    s->names = names;
    s->n = 1;
    s->key = copy;
    s->keylen = len;
    return SF_OK;
}

/* Steps after a root, following Jayway's token reader: the first token must
 * be '.' or '['; later ones may also be a bare '*' or name (so "$[0]a" is
 * "$[0].a"). Inside a filter the chain ends at an operator, blank or ')'. */
static sf_rc parse_steps(parser *ps, chain *c, bool in_filter)
{
    bool first = true;
    while (ps->s < ps->end) {
        char ch = *ps->s;
        if (in_filter && (ends_filter_path(ch) || ch == ']'))
            break;
        if (ch == '[') {
            if (parse_bracket(ps, c, false) != SF_OK)
                return ps->rc;
        } else if (ch == '.') {
            const char *dot = ps->s;
            bool scan = ps->s + 1 < ps->end && ps->s[1] == '.';
            ps->s += scan ? 2 : 1;
            if (ps->s >= ps->end || (in_filter && (ends_filter_path(*ps->s) || *ps->s == ']')))
                return fail(ps, dot, "path must not end with '%s'", scan ? ".." : ".");
            if (*ps->s == '.')
                return unexpected(ps, ps->s);
            if (*ps->s == '[') {
                if (parse_bracket(ps, c, scan) != SF_OK)
                    return ps->rc;
            } else if (*ps->s == '*') {
                ps->s++;
                if (!chain_push(ps, c, STEP_WILD, scan))
                    return ps->rc;
            } else if (parse_name(ps, c, scan, in_filter) != SF_OK) {
                return ps->rc;
            }
        } else if (first) {
            char tmp[16];
            return fail(ps, ps->s, "expected '.' or '[' after the root, not %s",
                        show(ps, ps->s, tmp));
        } else if (ch == '*') {
            ps->s++;
            if (!chain_push(ps, c, STEP_WILD, false))
                return ps->rc;
        } else if (parse_name(ps, c, false, in_filter) != SF_OK) {
            return ps->rc;
        }
        first = false;
    }
    chain_finish(c);
    return SF_OK;
}

static bool is_ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' ||
           (unsigned char)c >= 0x80;
}

/* A number literal in a filter: JSON's grammar. */
static sf_rc parse_number(parser *ps, json_t **out)
{
    const char *start = ps->s, *p = ps->s;
    bool real = false;
    if (p < ps->end && *p == '-')
        p++;
    if (p >= ps->end || !is_digit(*p))
        return unexpected(ps, p);
    while (p < ps->end && is_digit(*p))
        p++;
    if (p < ps->end && *p == '.') {
        real = true;
        p++;
        if (p >= ps->end || !is_digit(*p))
            return unexpected(ps, p);
        while (p < ps->end && is_digit(*p))
            p++;
    }
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        real = true;
        p++;
        if (p < ps->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= ps->end || !is_digit(*p))
            return unexpected(ps, p);
        while (p < ps->end && is_digit(*p))
            p++;
    }
    size_t len = (size_t)(p - start);
    if (len > 64)
        return fail(ps, start, "number literal too long");
    char tmp[72];
    memcpy(tmp, start, len);
    tmp[len] = '\0';
    if (!real) {
        errno = 0;
        long long v = strtoll(tmp, NULL, 10);
        if (errno == 0) {
            *out = json_integer((json_int_t)v);
            ps->s = p;
            return *out ? SF_OK : fail_rc(ps, SF_ENOMEM, "out of memory");
        }
    }
    double d = strtod(tmp, NULL);
    if (!isfinite(d))
        return fail(ps, start, "number literal out of range");
    *out = json_real(d);
    ps->s = p;
    return *out ? SF_OK : fail_rc(ps, SF_ENOMEM, "out of memory");
}

static sf_rc parse_operand(parser *ps, operand *o)
{
    skip_ws(ps);
    if (ps->s >= ps->end)
        return unexpected(ps, ps->s);
    char ch = *ps->s;
    const char *start = ps->s;
    if (ch == '@' || ch == '$') {
        ps->s++;
        if (ch == '$' && ps->s < ps->end && (*ps->s == '$' || is_ident(*ps->s)))
            return fail(ps, start, "only '@' and '$' paths are allowed in a filter");
        o->is_path = true;
        o->from_root = ch == '$';
        return parse_steps(ps, &o->path, true);
    }
    if (ch == '\'' || ch == '"') {
        name n;
        char q;
        if (read_quoted(ps, &n, &q) != SF_OK)
            return ps->rc;
        o->lit = json_stringn_nocheck(n.s, n.len);
        free(n.s);
        return o->lit ? SF_OK : fail_rc(ps, SF_ENOMEM, "out of memory");
    }
    if (is_digit(ch) || ch == '-')
        return parse_number(ps, &o->lit);
    static const struct {
        const char *word;
        size_t len;
    } words[] = {{"true", 4}, {"false", 5}, {"null", 4}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t len = words[i].len;
        if ((size_t)(ps->end - ps->s) >= len && memcmp(ps->s, words[i].word, len) == 0 &&
            (ps->s + len == ps->end || !is_ident(ps->s[len]))) {
            ps->s += len;
            o->lit = i == 0 ? json_true() : i == 1 ? json_false() : json_null();
            return SF_OK;
        }
    }
    if (ch == '[' || ch == '{' || ch == '/')
        return fail(ps, start, "JSON and regex literals are not supported in filters");
    return unexpected(ps, start);
}

static expr *expr_new(parser *ps, expr_kind kind)
{
    expr *e = calloc(1, sizeof *e);
    if (!e)
        fail_rc(ps, SF_ENOMEM, "out of memory");
    else
        e->kind = (uint8_t)kind;
    return e;
}

static sf_rc parse_unary(parser *ps, expr **out)
{
    skip_ws(ps);
    if (ps->s >= ps->end)
        return unexpected(ps, ps->s);
    const char *at = ps->s;
    if (*ps->s == '!' || *ps->s == '(') {
        bool negate = *ps->s == '!';
        if (++ps->nest > PATH_NEST_MAX)
            return fail(ps, at, "filter nested too deeply");
        ps->s++;
        expr *inner = NULL;
        sf_rc rc = negate ? parse_unary(ps, &inner) : parse_expr_or(ps, &inner);
        if (rc != SF_OK)
            return rc;
        ps->nest--;
        if (!negate) {
            skip_ws(ps);
            if (ps->s >= ps->end || *ps->s != ')') {
                expr_free(inner);
                return unexpected(ps, ps->s);
            }
            ps->s++;
            *out = inner;
            return SF_OK;
        }
        expr *e = expr_new(ps, EX_NOT);
        if (!e) {
            expr_free(inner);
            return ps->rc;
        }
        e->a = inner;
        *out = e;
        return SF_OK;
    }
    expr *e = expr_new(ps, EX_EXISTS);
    if (!e)
        return ps->rc;
    if (parse_operand(ps, &e->l) != SF_OK) {
        expr_free(e);
        return ps->rc;
    }
    skip_ws(ps);
    const char *op = ps->s;
    size_t left = (size_t)(ps->end - op);
    int kind = -1;
    size_t oplen = 0;
    if (left >= 3 && (memcmp(op, "===", 3) == 0 || memcmp(op, "!==", 3) == 0)) {
        kind = -2;
    } else if (left >= 2 && memcmp(op, "==", 2) == 0) {
        kind = OP_EQ, oplen = 2;
    } else if (left >= 2 && memcmp(op, "!=", 2) == 0) {
        kind = OP_NE, oplen = 2;
    } else if (left >= 2 && memcmp(op, "<=", 2) == 0) {
        kind = OP_LE, oplen = 2;
    } else if (left >= 2 && memcmp(op, ">=", 2) == 0) {
        kind = OP_GE, oplen = 2;
    } else if (left >= 2 && memcmp(op, "=~", 2) == 0) {
        kind = -2;
    } else if (left >= 1 && *op == '<') {
        kind = OP_LT, oplen = 1;
    } else if (left >= 1 && *op == '>') {
        kind = OP_GT, oplen = 1;
    } else if (left >= 1 && (*op == '=' || (is_ident(*op) && !is_digit(*op)))) {
        kind = -2; /* "in", "nin", "subsetof", "size", ... */
    }
    if (kind == -2) {
        expr_free(e);
        return fail(ps, op, "unsupported filter operator");
    }
    if (kind >= 0) {
        ps->s += oplen;
        e->kind = EX_CMP;
        e->op = (uint8_t)kind;
        if (parse_operand(ps, &e->r) != SF_OK) {
            expr_free(e);
            return ps->rc;
        }
    } else if (!e->l.is_path) {
        expr_free(e);
        return fail(ps, at, "a filter needs a path or a comparison");
    }
    *out = e;
    return SF_OK;
}

/* Parses `sub (op sub)*` into a left-leaning chain of `kind` nodes: the one
 * shape of both && (over unary terms) and || (over && chains). */
static sf_rc parse_chain(parser *ps, expr **out, sf_rc (*sub)(parser *, expr **),
                         const char op[2], expr_kind kind)
{
    expr *left = NULL;
    if (sub(ps, &left) != SF_OK)
        return ps->rc;
    for (;;) {
        skip_ws(ps);
        if (ps->end - ps->s < 2 || memcmp(ps->s, op, 2) != 0)
            break;
        ps->s += 2;
        expr *right = NULL, *e = NULL;
        if (sub(ps, &right) != SF_OK || !(e = expr_new(ps, kind))) {
            expr_free(left);
            expr_free(right);
            return ps->rc;
        }
        e->a = left;
        e->b = right;
        left = e;
    }
    *out = left;
    return SF_OK;
}

static sf_rc parse_expr_and(parser *ps, expr **out)
{
    return parse_chain(ps, out, parse_unary, "&&", EX_AND);
}

static sf_rc parse_expr_or(parser *ps, expr **out)
{
    return parse_chain(ps, out, parse_expr_and, "||", EX_OR);
}

/* Length of the valid UTF-8 prefix of s[0..n): names from the path become
 * JSON keys, and jansson refuses keys that are not UTF-8. */
static size_t utf8_valid_prefix(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, min = 0x10000, c &= 0x07;
        } else {
            return i;
        }
        if (n - i <= k)
            return i;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return i;
            c = (c << 6) | (s[i + j] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c < 0xe000))
            return i;
        i += k + 1;
    }
    return n;
}

sf_rc asl_path_compile(const char *text, asl_path **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen > 0)
        err[0] = '\0';
    if (!text) {
        errf(err, errlen, "no path");
        return SF_EINVAL;
    }
    size_t len = strnlen(text, PATH_TEXT_MAX + 1);
    if (len > PATH_TEXT_MAX) {
        errf(err, errlen, "path longer than %d bytes", PATH_TEXT_MAX);
        return SF_ELIMIT;
    }
    asl_path *p = calloc(1, sizeof *p);
    if (!p || !(p->text = malloc(len + 1))) {
        free(p);
        errf(err, errlen, "out of memory");
        return SF_ENOMEM;
    }
    memcpy(p->text, text, len + 1);

    /* Jayway trims the path before reading it. */
    parser ps = {.text = text, .s = text, .end = text + len, .err = err, .errlen = errlen};
    size_t good = utf8_valid_prefix((const unsigned char *)text, len);
    if (good < len) {
        fail(&ps, text + good, "invalid UTF-8");
        goto fail;
    }
    skip_ws(&ps);
    while (ps.end > ps.s && is_ws(ps.end[-1]))
        ps.end--;
    if (ps.s >= ps.end || *ps.s != '$') {
        char tmp[16];
        fail(&ps, ps.s, "path must start with '$', not %s", show(&ps, ps.s, tmp));
        goto fail;
    }
    ps.s++;
    p->root = ASL_ROOT_INPUT;
    if (ps.s < ps.end && *ps.s == '$') {
        p->root = ASL_ROOT_CONTEXT;
        ps.s++;
    } else if (ps.s < ps.end && is_ident(*ps.s)) {
        const char *v = ps.s;
        if (is_digit(*v)) {
            fail(&ps, v, "variable name must not start with a digit");
            goto fail;
        }
        while (ps.s < ps.end && is_ident(*ps.s))
            ps.s++;
        p->root = ASL_ROOT_VAR;
        size_t vlen = (size_t)(ps.s - v);
        if (!(p->var = malloc(vlen + 1))) {
            fail_rc(&ps, SF_ENOMEM, "out of memory");
            goto fail;
        }
        memcpy(p->var, v, vlen);
        p->var[vlen] = '\0';
    }
    if (parse_steps(&ps, &p->main, false) != SF_OK)
        goto fail;
    if (ps.s != ps.end) {
        unexpected(&ps, ps.s);
        goto fail;
    }
    p->definite = p->main.definite;
    p->reference = true;
    for (uint32_t i = 0; i < p->main.n; i++) {
        const step *s = &p->main.v[i];
        if (s->scan || !(s->kind == STEP_NAME || (s->kind == STEP_INDEX && s->index >= 0)))
            p->reference = false;
    }
    *out = p;
    return SF_OK;
fail:
    asl_path_destroy(&p);
    return ps.rc;
}

void asl_path_destroy(asl_path **pp)
{
    if (!pp || !*pp)
        return;
    asl_path *p = *pp;
    chain_cleanup(&p->main);
    free(p->var);
    free(p->text);
    free(p);
    *pp = NULL;
}

asl_path_root asl_path_root_kind(const asl_path *p) { return p->root; }
const char *asl_path_var(const asl_path *p) { return p->root == ASL_ROOT_VAR ? p->var : NULL; }
const char *asl_path_text(const asl_path *p) { return p->text; }
bool asl_path_is_root(const asl_path *p) { return p->main.n == 0; }
bool asl_path_is_definite(const asl_path *p) { return p->definite; }
bool asl_path_is_reference(const asl_path *p) { return p->reference; }

/* ---- the normalized form ---------------------------------------------- */

/* Jayway's PropertyPathToken fragment: the source's quote, with '\' and '\''
 * escaped (always '\'', even inside double quotes, as Jayway does). */
static void w_name(wbuf *w, const name *n, char quote)
{
    w_put(w, &quote, 1);
    for (size_t i = 0; i < n->len; i++) {
        char ch = n->s[i];
        if (ch == '\\' || ch == '\'')
            w_put(w, "\\", 1);
        w_put(w, &ch, 1);
    }
    w_put(w, &quote, 1);
}

static void w_steps(wbuf *w, const chain *c, uint32_t upto)
{
    for (uint32_t i = 0; i < upto && i < c->n; i++) {
        const step *s = &c->v[i];
        if (s->scan)
            w_str(w, "..");
        switch ((step_kind)s->kind) {
        case STEP_NAME:
        case STEP_NAMES:
            w_str(w, "[");
            for (uint32_t j = 0; j < (s->kind == STEP_NAMES ? s->n : 1); j++) {
                if (j)
                    w_str(w, ",");
                w_name(w, &s->names[j], s->quote);
            }
            w_str(w, "]");
            break;
        case STEP_INDEX:
            w_str(w, "[");
            w_int(w, s->index);
            w_str(w, "]");
            break;
        case STEP_INDEXES:
            w_str(w, "[");
            for (uint32_t j = 0; j < s->n; j++) {
                if (j)
                    w_str(w, ",");
                w_int(w, s->idx[j]);
            }
            w_str(w, "]");
            break;
        case STEP_SLICE:
            w_str(w, "[");
            if (s->has_from)
                w_int(w, s->index);
            w_str(w, ":");
            if (s->has_to)
                w_int(w, s->to);
            w_str(w, "]");
            break;
        case STEP_WILD:
            w_str(w, "[*]");
            break;
        case STEP_FILTER:
            w_str(w, "[?]"); /* Jayway prints a placeholder, not the filter */
            break;
        }
    }
}

static void w_root(wbuf *w, const asl_path *p)
{
    w_str(w, p->root == ASL_ROOT_CONTEXT ? "$$" : "$");
    if (p->root == ASL_ROOT_VAR)
        w_str(w, p->var);
}

void asl_path_normalized(const asl_path *p, char *buf, size_t buflen)
{
    wbuf w = {buf, buflen, 0};
    if (buflen == 0)
        return;
    buf[0] = '\0';
    w_root(&w, p);
    w_steps(&w, &p->main, p->main.n);
}

/* ---- evaluating ------------------------------------------------------- */

/* One definite step on borrowed values: the child, or NULL for no match. */
static inline json_t *step_get(const step *s, json_t *v)
{
    if (s->kind == STEP_NAME)
        return json_is_object(v) ? json_object_getn(v, s->key, s->keylen) : NULL;
    /* STEP_INDEX */
    if (!json_is_array(v))
        return NULL;
    long long len = (long long)json_array_size(v);
    long long i = s->index < 0 ? len + s->index : s->index;
    return i >= 0 && i < len ? json_array_get(v, (size_t)i) : NULL;
}

/* Jayway's leaf union of names: one new object with the names present. */
static sf_rc merge_names(const step *s, json_t *v, json_t **out)
{
    json_t *m = json_object();
    if (!m)
        return SF_ENOMEM;
    for (uint32_t j = 0; j < s->n; j++) {
        json_t *x = json_object_getn(v, s->names[j].s, s->names[j].len);
        if (x && json_object_setn(m, s->names[j].s, s->names[j].len, x) != 0) {
            json_decref(m);
            return SF_ENOMEM;
        }
    }
    *out = m;
    return SF_OK;
}

/* Follows a definite chain from v. *out is a new reference, or NULL with
 * SF_ENOTFOUND when the chain matches nothing. */
static sf_rc chain_get_definite(const chain *c, json_t *v, json_t **out)
{
    *out = NULL;
    uint32_t n = c->n;
    bool merge = n > 0 && c->v[n - 1].kind == STEP_NAMES;
    if (merge)
        n--;
    for (uint32_t i = 0; v && i < n; i++)
        v = step_get(&c->v[i], v);
    if (!v)
        return SF_ENOTFOUND;
    if (merge) {
        if (!json_is_object(v))
            return SF_ENOTFOUND;
        return merge_names(&c->v[n], v, out);
    }
    *out = json_incref(v);
    return SF_OK;
}

typedef struct ev {
    json_t *root; /* what '$' means inside a filter */
    json_t *out;  /* the matches */
    size_t visits;
    unsigned depth;
} ev;

static sf_rc run(ev *e, const chain *c, uint32_t i, json_t *node);

static sf_rc emit(ev *e, json_t *v)
{
    if (json_array_size(e->out) >= EVAL_RESULTS_MAX)
        return SF_ELIMIT;
    return json_array_append(e->out, v) == 0 ? SF_OK : SF_ENOMEM;
}

static bool is_number(const json_t *v) { return json_is_integer(v) || json_is_real(v); }

/* -1, 0, 1 for two numbers; exact for two integers. */
static int num_cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    double x = json_number_value(a), y = json_number_value(b);
    return x < y ? -1 : x > y;
}

/* Jayway compares a number with a string as numbers when the string reads
 * as one ("1" == 1). */
static bool string_as_number(const json_t *s, double *out)
{
    const char *t = json_string_value(s);
    size_t n = json_string_length(s);
    if (n == 0 || n > 64 || strlen(t) != n)
        return false;
    char *end = NULL;
    errno = 0;
    double d = strtod(t, &end);
    if (end != t + n || errno != 0 || !isfinite(d) || is_ws(t[0]))
        return false;
    *out = d;
    return true;
}

static bool values_equal(const json_t *a, const json_t *b)
{
    if (!a || !b)
        return false; /* a missing value equals nothing, so "!=" holds */
    if (is_number(a) && is_number(b))
        return num_cmp(a, b) == 0;
    if (is_number(a) && json_is_string(b)) {
        double d;
        return string_as_number(b, &d) && json_number_value(a) == d;
    }
    if (json_is_string(a) && is_number(b)) {
        double d;
        return string_as_number(a, &d) && json_number_value(b) == d;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

/* Orders two numbers or two strings; false for anything else, as Jayway. */
static bool values_order(const json_t *a, const json_t *b, int want_lo, int want_hi)
{
    int c;
    if (!a || !b)
        return false;
    if (is_number(a) && is_number(b)) {
        c = num_cmp(a, b);
    } else if (json_is_string(a) && json_is_string(b)) {
        size_t la = json_string_length(a), lb = json_string_length(b);
        int m = memcmp(json_string_value(a), json_string_value(b), la < lb ? la : lb);
        c = m != 0 ? (m < 0 ? -1 : 1) : (la < lb ? -1 : la > lb);
    } else {
        return false;
    }
    return c >= want_lo && c <= want_hi;
}

/* An operand's value: borrowed (*owned false), new (*owned true) or NULL
 * when its path matches nothing. */
static sf_rc operand_value(ev *e, const operand *o, json_t *node, json_t **val, bool *owned)
{
    *val = NULL;
    *owned = false;
    if (!o->is_path) {
        *val = o->lit;
        return SF_OK;
    }
    json_t *base = o->from_root ? e->root : node;
    if (o->path.definite) {
        /* The common case "@.x": borrowed pointers, no allocation. */
        uint32_t n = o->path.n;
        if (n > 0 && o->path.v[n - 1].kind == STEP_NAMES) {
            sf_rc rc = chain_get_definite(&o->path, base, val);
            *owned = rc == SF_OK;
            return rc == SF_ENOTFOUND ? SF_OK : rc;
        }
        json_t *v = base;
        for (uint32_t i = 0; v && i < n; i++)
            v = step_get(&o->path.v[i], v);
        *val = v;
        return SF_OK;
    }
    json_t *saved = e->out;
    e->out = json_array();
    if (!e->out) {
        e->out = saved;
        return SF_ENOMEM;
    }
    sf_rc rc = run(e, &o->path, 0, base);
    json_t *res = e->out;
    e->out = saved;
    if (rc != SF_OK) {
        json_decref(res);
        return rc;
    }
    *val = res;
    *owned = true;
    return SF_OK;
}

static sf_rc test(ev *e, const expr *x, json_t *node, bool *res)
{
    sf_rc rc;
    switch ((expr_kind)x->kind) {
    case EX_OR:
        if ((rc = test(e, x->a, node, res)) != SF_OK || *res)
            return rc;
        return test(e, x->b, node, res);
    case EX_AND:
        if ((rc = test(e, x->a, node, res)) != SF_OK || !*res)
            return rc;
        return test(e, x->b, node, res);
    case EX_NOT:
        rc = test(e, x->a, node, res);
        *res = !*res;
        return rc;
    case EX_EXISTS: {
        json_t *v;
        bool owned;
        if ((rc = operand_value(e, &x->l, node, &v, &owned)) != SF_OK)
            return rc;
        /* An indefinite path "exists" when it matches something. */
        *res = v && (x->l.path.definite || json_array_size(v) > 0);
        if (owned)
            json_decref(v);
        return SF_OK;
    }
    case EX_CMP: {
        json_t *l, *r;
        bool lo, ro;
        if ((rc = operand_value(e, &x->l, node, &l, &lo)) != SF_OK)
            return rc;
        if ((rc = operand_value(e, &x->r, node, &r, &ro)) != SF_OK) {
            if (lo)
                json_decref(l);
            return rc;
        }
        switch ((cmp_op)x->op) {
        case OP_EQ: *res = values_equal(l, r); break;
        case OP_NE: *res = !values_equal(l, r); break;
        case OP_LT: *res = values_order(l, r, -1, -1); break;
        case OP_LE: *res = values_order(l, r, -1, 0); break;
        case OP_GT: *res = values_order(l, r, 1, 1); break;
        case OP_GE: *res = values_order(l, r, 0, 1); break;
        }
        if (lo)
            json_decref(l);
        if (ro)
            json_decref(r);
        return SF_OK;
    }
    }
    *res = false;
    return SF_OK;
}

static sf_rc run_index(ev *e, const chain *c, uint32_t i, json_t *arr, long long idx)
{
    long long len = (long long)json_array_size(arr);
    if (idx < 0)
        idx += len;
    if (idx < 0 || idx >= len)
        return SF_OK;
    return run(e, c, i + 1, json_array_get(arr, (size_t)idx));
}

/* Applies step i to node (ignoring its scan flag) and runs the rest of the
 * chain on each match. Mismatches yield nothing: this is only reached for
 * indefinite chains, where Jayway skips them silently. */
static sf_rc apply(ev *e, const chain *c, uint32_t i, json_t *node)
{
    const step *s = &c->v[i];
    bool leaf = i + 1 == c->n;
    sf_rc rc = SF_OK;
    switch ((step_kind)s->kind) {
    case STEP_NAME:
    case STEP_INDEX: {
        json_t *v = step_get(s, node);
        return v ? run(e, c, i + 1, v) : SF_OK;
    }
    case STEP_NAMES:
        if (!json_is_object(node))
            return SF_OK;
        if (leaf) {
            json_t *m = NULL;
            if ((rc = merge_names(s, node, &m)) != SF_OK)
                return rc;
            rc = emit(e, m);
            json_decref(m);
            return rc;
        }
        for (uint32_t j = 0; j < s->n && rc == SF_OK; j++) {
            json_t *v = json_object_getn(node, s->names[j].s, s->names[j].len);
            if (v)
                rc = run(e, c, i + 1, v);
        }
        return rc;
    case STEP_INDEXES:
        if (!json_is_array(node))
            return SF_OK;
        for (uint32_t j = 0; j < s->n && rc == SF_OK; j++)
            rc = run_index(e, c, i, node, s->idx[j]);
        return rc;
    case STEP_SLICE: {
        if (!json_is_array(node))
            return SF_OK;
        long long len = (long long)json_array_size(node);
        long long from, to;
        if (len == 0)
            return SF_OK;
        if (s->has_from && s->has_to) {
            /* Jayway's [a:b] does not resolve a negative a against the
             * length; it walks a..b and lets each negative index count from
             * the end, so [-1:2] is last, first, second. Indexes before -len
             * match nothing and are skipped without a loop. */
            from = s->index;
            to = s->to < len ? s->to : len;
            if (from < -len)
                from = -len;
        } else if (s->has_from) {
            from = s->index < 0 ? len + s->index : s->index;
            if (from < 0)
                from = 0;
            to = len;
        } else {
            from = 0;
            to = s->to < 0 ? len + s->to : s->to;
            if (to > len)
                to = len;
        }
        for (long long k = from; k < to && rc == SF_OK; k++)
            rc = run_index(e, c, i, node, k);
        return rc;
    }
    case STEP_WILD:
        if (json_is_object(node)) {
            const char *key;
            json_t *v;
            json_object_foreach(node, key, v)
            {
                if ((rc = run(e, c, i + 1, v)) != SF_OK)
                    return rc;
            }
        } else if (json_is_array(node)) {
            size_t k;
            json_t *v;
            json_array_foreach(node, k, v)
            {
                if ((rc = run(e, c, i + 1, v)) != SF_OK)
                    return rc;
            }
        }
        return SF_OK;
    case STEP_FILTER: {
        bool ok = false;
        if (json_is_object(node)) {
            /* A filter on an object tests the object itself. */
            if ((rc = test(e, s->filter, node, &ok)) != SF_OK || !ok)
                return rc;
            return run(e, c, i + 1, node);
        }
        if (json_is_array(node)) {
            size_t k;
            json_t *v;
            json_array_foreach(node, k, v)
            {
                if ((rc = test(e, s->filter, v, &ok)) != SF_OK)
                    return rc;
                if (ok && (rc = run(e, c, i + 1, v)) != SF_OK)
                    return rc;
            }
        }
        return SF_OK;
    }
    }
    return SF_OK;
}

/* Jayway's test for where a deep scan applies its next step. */
static sf_rc scan_matches(ev *e, const step *s, bool leaf, json_t *node, bool *ok)
{
    *ok = false;
    switch ((step_kind)s->kind) {
    case STEP_NAME:
        *ok = json_is_object(node) && json_object_getn(node, s->key, s->keylen);
        return SF_OK;
    case STEP_NAMES:
        if (!json_is_object(node))
            return SF_OK;
        *ok = true;
        if (leaf) /* only the merge case needs every name */
            for (uint32_t j = 0; j < s->n && *ok; j++)
                *ok = json_object_getn(node, s->names[j].s, s->names[j].len) != NULL;
        return SF_OK;
    case STEP_INDEX:
    case STEP_INDEXES:
    case STEP_SLICE:
        *ok = json_is_array(node);
        return SF_OK;
    case STEP_WILD:
        *ok = true;
        return SF_OK;
    case STEP_FILTER:
        return test(e, s->filter, node, ok);
    }
    return SF_OK;
}

/* The deep scan "..X": visits node and everything under it, before children. */
static sf_rc walk(ev *e, const chain *c, uint32_t i, json_t *node)
{
    if (++e->visits > EVAL_VISITS_MAX || ++e->depth > EVAL_DEPTH_MAX)
        return SF_ELIMIT;
    const step *s = &c->v[i];
    bool leaf = i + 1 == c->n, ok = false;
    sf_rc rc = SF_OK;
    if (json_is_object(node)) {
        if ((rc = scan_matches(e, s, leaf, node, &ok)) == SF_OK && ok)
            rc = apply(e, c, i, node);
        const char *key;
        json_t *v;
        json_object_foreach(node, key, v)
        {
            if (rc != SF_OK)
                break;
            rc = walk(e, c, i, v);
        }
    } else if (json_is_array(node)) {
        size_t k;
        json_t *v;
        if ((rc = scan_matches(e, s, leaf, node, &ok)) == SF_OK && ok) {
            if (leaf) {
                rc = apply(e, c, i, node);
            } else {
                /* Jayway's quirk: on an array that matches, a non-leaf scan
                 * step is skipped and the step after it runs on every
                 * element, so "$..[0].x" reads x from all elements. */
                json_array_foreach(node, k, v)
                {
                    if (rc != SF_OK)
                        break;
                    rc = run(e, c, i + 1, v);
                }
            }
        }
        json_array_foreach(node, k, v)
        {
            if (rc != SF_OK)
                break;
            rc = walk(e, c, i, v);
        }
    }
    e->depth--;
    return rc;
}

static sf_rc run(ev *e, const chain *c, uint32_t i, json_t *node)
{
    if (++e->visits > EVAL_VISITS_MAX)
        return SF_ELIMIT;
    if (i == c->n)
        return emit(e, node);
    if (++e->depth > EVAL_DEPTH_MAX)
        return SF_ELIMIT;
    sf_rc rc = c->v[i].scan ? walk(e, c, i, node) : apply(e, c, i, node);
    e->depth--;
    return rc;
}

sf_rc asl_path_eval(const asl_path *p, json_t *root, json_t **out)
{
    *out = NULL;
    if (p->definite) {
        if (p->main.n == 0) {
            if (!root)
                return SF_ENOTFOUND;
            *out = json_incref(root);
            return SF_OK;
        }
        return chain_get_definite(&p->main, root, out);
    }
    ev e = {.root = root, .out = json_array()};
    if (!e.out)
        return SF_ENOMEM;
    sf_rc rc = root ? run(&e, &p->main, 0, root) : SF_OK;
    if (rc != SF_OK) {
        json_decref(e.out);
        return rc;
    }
    *out = e.out;
    return SF_OK;
}

sf_rc asl_path_eval_scope(const asl_path *p, const asl_scope *s, json_t **out)
{
    *out = NULL;
    switch (p->root) {
    case ASL_ROOT_INPUT:
        return asl_path_eval(p, s->input, out);
    case ASL_ROOT_CONTEXT:
        if (s->context)
            return asl_path_eval(p, s->context, out);
        {
            /* NULL reads as {}: rare enough to pay for a temporary. */
            json_t *empty = json_object();
            if (!empty)
                return SF_ENOMEM;
            sf_rc rc = asl_path_eval(p, empty, out);
            json_decref(empty);
            return rc;
        }
    case ASL_ROOT_VAR: {
        json_t *v = json_is_object(s->vars) ? json_object_get(s->vars, p->var) : NULL;
        if (!v)
            return SF_ENOTFOUND;
        return asl_path_eval(p, v, out);
    }
    }
    return SF_EINVAL;
}

/* ---- ResultPath ------------------------------------------------------- */

/* "cannot set ['b'] in $['a']: it is a string, not an object". */
static void set_error(const asl_path *p, uint32_t i, const char *why, const json_t *found,
                      char *err, size_t errlen)
{
    char where[256], frag[256];
    wbuf w = {where, sizeof where, 0}, f = {frag, sizeof frag, 0};
    where[0] = frag[0] = '\0';
    w_root(&w, p);
    w_steps(&w, &p->main, i);
    chain one = {.v = &p->main.v[i], .n = 1};
    w_steps(&f, &one, 1);
    if (found)
        errf(err, errlen, "cannot set %s in %s: it is %s, %s", frag, where, sf_json_kind(found),
             why);
    else
        errf(err, errlen, "cannot set %s in %s: %s", frag, where, why);
}

sf_rc asl_path_set(const asl_path *p, json_t *doc, json_t *value, json_t **out, char *err,
                   size_t errlen)
{
    *out = NULL;
    if (err && errlen > 0)
        err[0] = '\0';
    if (!p->reference) {
        errf(err, errlen, "%s is not a reference path", p->text);
        return SF_EINVAL;
    }
    if (!value) {
        errf(err, errlen, "no value to set");
        return SF_EINVAL;
    }
    if (p->main.n == 0) {
        *out = json_incref(value);
        return SF_OK;
    }
    json_t *top = NULL, *parent = NULL;
    const step *at = NULL;
    json_t *cur = doc; /* the original at this depth; NULL when missing */
    for (uint32_t i = 0; i < p->main.n; i++) {
        const step *s = &p->main.v[i];
        json_t *copy, *next;
        if (s->kind == STEP_NAME) {
            if (cur && !json_is_object(cur)) {
                set_error(p, i, "not an object", cur, err, errlen);
                json_decref(top);
                return SF_EINVAL;
            }
            /* Shallow: only the objects along the path are new. */
            copy = cur ? json_copy(cur) : json_object();
            next = cur ? json_object_getn(cur, s->key, s->keylen) : NULL;
        } else {
            if (!cur || !json_is_array(cur)) {
                set_error(p, i, "not an array", cur, err, errlen);
                json_decref(top);
                return SF_EINVAL;
            }
            if ((size_t)s->index >= json_array_size(cur)) {
                set_error(p, i, "the index is past the end", NULL, err, errlen);
                json_decref(top);
                return SF_EINVAL;
            }
            copy = json_copy(cur);
            next = json_array_get(cur, (size_t)s->index);
        }
        int bad = !copy;
        if (!bad && parent)
            bad = at->kind == STEP_NAME ? json_object_setn_new(parent, at->key, at->keylen, copy)
                                        : json_array_set_new(parent, (size_t)at->index, copy);
        else if (!bad)
            top = copy;
        if (bad) {
            json_decref(top);
            errf(err, errlen, "out of memory");
            return SF_ENOMEM;
        }
        parent = copy;
        at = s;
        cur = next;
    }
    int bad = at->kind == STEP_NAME ? json_object_setn(parent, at->key, at->keylen, value)
                                    : json_array_set(parent, (size_t)at->index, value);
    if (bad) {
        json_decref(top);
        errf(err, errlen, "out of memory");
        return SF_ENOMEM;
    }
    *out = top;
    return SF_OK;
}
