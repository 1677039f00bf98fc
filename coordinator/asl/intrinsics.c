/* asl/intrinsics.c - compile and evaluate the 18 intrinsic functions of the
 * Amazon States Language (see intrinsics.h).
 *
 * An expression is parsed once into a tree of calls whose arguments are
 * literals, compiled paths or nested calls; evaluation walks that tree and
 * never changes the scope. Behaviour follows what AWS Step Functions returns
 * (its runtime is Java: numbers are rounded with Math.round, strings are
 * counted in UTF-16 units, doubles print as Double.toString does).
 *
 * This file never prints and never reads the clock: randomness comes only
 * from the caller's asl_rng (or from the seed a call names). Every buffer it
 * grows is capped at INTR_MAX_TEXT bytes. */
#define _POSIX_C_SOURCE 200809L
#include "intrinsics.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "jsonpath.h"
#include "../../common/sf_json_kind.h"

/* AWS's documented limits. */
#define INTR_MAX_NESTING 10      /* "You can nest up to 10 intrinsic functions" */
#define INTR_MAX_RANGE 1000      /* States.ArrayRange: at most 1000 elements */
#define INTR_MAX_CODEC_CHARS 10000 /* Base64Encode/Base64Decode/Hash input */

/* Our own caps. Far above AWS's 256 KiB payload limit, so anything an
 * execution may legally carry fits, and the engine's payload check reports
 * States.DataLimitExceeded before this one ever matters. */
#define INTR_MAX_TEXT (1u << 20) /* any string built here */
#define INTR_MAX_ARGS 1000       /* arguments of one call */
#define INTR_MAX_JSON_DEPTH 2048 /* as jansson's parser */

/* ---- the function table ------------------------------------------------ */

typedef struct call call;
typedef struct eval_ctx eval_ctx;
typedef sf_rc (*intr_impl)(const call *c, json_t **argv, size_t argc, eval_ctx *x, json_t **out);

#define INTR_LIST(X)                                   \
    X(Format, "States.Format", 1, -1)                  \
    X(StringToJson, "States.StringToJson", 1, 1)       \
    X(JsonToString, "States.JsonToString", 1, 1)       \
    X(Array, "States.Array", 0, -1)                    \
    X(ArrayPartition, "States.ArrayPartition", 2, 2)   \
    X(ArrayContains, "States.ArrayContains", 2, 2)     \
    X(ArrayRange, "States.ArrayRange", 3, 3)           \
    X(ArrayGetItem, "States.ArrayGetItem", 2, 2)       \
    X(ArrayLength, "States.ArrayLength", 1, 1)         \
    X(ArrayUnique, "States.ArrayUnique", 1, 1)         \
    X(Base64Encode, "States.Base64Encode", 1, 1)       \
    X(Base64Decode, "States.Base64Decode", 1, 1)       \
    X(Hash, "States.Hash", 2, 2)                       \
    X(JsonMerge, "States.JsonMerge", 3, 3)             \
    X(MathRandom, "States.MathRandom", 2, 3)           \
    X(MathAdd, "States.MathAdd", 2, 2)                 \
    X(StringSplit, "States.StringSplit", 2, 2)         \
    X(UUID, "States.UUID", 0, 0)

#define INTR_DECL(id, name, lo, hi) \
    static sf_rc fn_##id(const call *c, json_t **argv, size_t argc, eval_ctx *x, json_t **out);
INTR_LIST(INTR_DECL)
#undef INTR_DECL

typedef struct fn_spec {
    const char *name;
    int min_args;
    int max_args; /* -1: any number */
    intr_impl impl;
} fn_spec;

static const fn_spec fn_specs[] = {
#define INTR_SPEC(id, name, lo, hi) {name, lo, hi, fn_##id},
    INTR_LIST(INTR_SPEC)
#undef INTR_SPEC
};

static const fn_spec *fn_lookup(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof fn_specs / sizeof fn_specs[0]; i++)
        if (strlen(fn_specs[i].name) == len && memcmp(fn_specs[i].name, name, len) == 0)
            return &fn_specs[i];
    return NULL;
}

/* ---- compiled form ----------------------------------------------------- */

typedef enum { ARG_LITERAL, ARG_PATH, ARG_CALL } arg_kind;

typedef struct arg {
    arg_kind kind;
    json_t *literal; /* ARG_LITERAL, owned */
    char *raw;       /* string literals: the text between the quotes, escapes
                      * kept, so Format can tell "\{\}" from "{}"; owned */
    asl_path *path;  /* ARG_PATH, owned */
    call *fn;        /* ARG_CALL, owned */
} arg;

struct call {
    const fn_spec *spec;
    arg *args;
    size_t nargs;
};

struct asl_intrinsic {
    call *root;
    char *text; /* the source, for causes */
};

static void call_free(call *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nargs; i++) {
        json_decref(c->args[i].literal);
        free(c->args[i].raw);
        asl_path_destroy(&c->args[i].path);
        call_free(c->args[i].fn);
    }
    free(c->args);
    free(c);
}

void asl_intrinsic_destroy(asl_intrinsic **pfn)
{
    asl_intrinsic *fn = pfn ? *pfn : NULL;
    if (!fn)
        return;
    call_free(fn->root);
    free(fn->text);
    free(fn);
    *pfn = NULL;
}

/* ---- parser ------------------------------------------------------------ */

typedef struct parser {
    const char *s;
    size_t pos;
    char *err;
    size_t errlen;
    bool oom;
} parser;

static void perr(parser *p, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void perr(parser *p, size_t at, const char *fmt, ...)
{
    if (!p->err || p->errlen == 0 || p->err[0])
        return; /* keep the first, innermost message */
    char what[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "%s at byte %zu", what, at);
}

static bool is_ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(parser *p)
{
    while (is_ws(p->s[p->pos]))
        p->pos++;
}

/* Length of "States.Name" at s, or 0. */
static size_t call_name_len(const char *s)
{
    if (strncmp(s, "States.", 7) != 0 || !is_ident(s[7]))
        return 0;
    size_t n = 7;
    while (is_ident(s[n]))
        n++;
    return n;
}

bool asl_intrinsic_is_call(const char *text)
{
    if (!text)
        return false;
    size_t n = call_name_len(text);
    if (n == 0)
        return false;
    while (is_ws(text[n]))
        n++;
    return text[n] == '(';
}

static call *parse_call(parser *p, int depth);

/* A quoted literal: the escapes AWS accepts are \' \{ \} and \\; anything
 * else after a backslash is a syntax error, as it is for AWS. */
static bool parse_string(parser *p, arg *a)
{
    size_t start = ++p->pos; /* after the opening quote */
    for (;;) {
        char c = p->s[p->pos];
        if (c == '\0') {
            perr(p, start - 1, "unterminated string literal");
            return false;
        }
        if (c == '\'')
            break;
        if (c == '\\') {
            char e = p->s[p->pos + 1];
            if (e != '\'' && e != '{' && e != '}' && e != '\\') {
                perr(p, p->pos, "invalid escape sequence in string literal");
                return false;
            }
            p->pos += 2;
        } else {
            p->pos++;
        }
    }
    size_t rawlen = p->pos - start;
    p->pos++; /* closing quote */
    a->raw = strndup(p->s + start, rawlen);
    char *val = malloc(rawlen + 1);
    if (!a->raw || !val) {
        free(val);
        p->oom = true;
        return false;
    }
    size_t j = 0;
    for (size_t i = 0; i < rawlen; i++) {
        if (a->raw[i] == '\\')
            i++;
        val[j++] = a->raw[i];
    }
    a->literal = json_stringn(val, j);
    free(val);
    if (!a->literal) {
        perr(p, start - 1, "string literal is not valid UTF-8");
        return false;
    }
    a->kind = ARG_LITERAL;
    return true;
}

static bool parse_number(parser *p, arg *a)
{
    const char *s = p->s;
    size_t i = p->pos, start = i;
    bool real = false;
    if (s[i] == '-')
        i++;
    if (!(s[i] >= '0' && s[i] <= '9')) {
        perr(p, start, "invalid number");
        return false;
    }
    while (s[i] >= '0' && s[i] <= '9')
        i++;
    if (s[i] == '.') {
        real = true;
        i++;
        if (!(s[i] >= '0' && s[i] <= '9')) {
            perr(p, start, "invalid number");
            return false;
        }
        while (s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (s[i] == 'e' || s[i] == 'E') {
        real = true;
        i++;
        if (s[i] == '+' || s[i] == '-')
            i++;
        if (!(s[i] >= '0' && s[i] <= '9')) {
            perr(p, start, "invalid number");
            return false;
        }
        while (s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (is_ident(s[i]) || s[i] == '.') {
        perr(p, i, "unexpected '%c' in number", s[i]);
        return false;
    }
    char buf[64];
    if (i - start >= sizeof buf) {
        perr(p, start, "number too long");
        return false;
    }
    memcpy(buf, s + start, i - start);
    buf[i - start] = '\0';
    char *end;
    if (real) {
        double d = strtod(buf, &end);
        if (!isfinite(d)) {
            perr(p, start, "number out of range");
            return false;
        }
        a->literal = json_real(d);
    } else {
        errno = 0;
        long long v = strtoll(buf, &end, 10);
        if (errno == ERANGE) {
            perr(p, start, "number out of range");
            return false;
        }
        a->literal = json_integer(v);
    }
    if (!a->literal) {
        p->oom = true;
        return false;
    }
    a->kind = ARG_LITERAL;
    p->pos = i;
    return true;
}

/* A path runs to the next ',' or ')' outside brackets, parentheses and
 * quotes, so unions ("$.a[0,1]") and filters ("$[?(@.x == 'a,b')]") stay
 * whole. jsonpath.c does the real parsing. */
static bool parse_path(parser *p, arg *a)
{
    const char *s = p->s;
    size_t start = p->pos, i = p->pos;
    int brackets = 0, parens = 0;
    char quote = 0;
    for (; s[i]; i++) {
        char c = s[i];
        if (quote) {
            if (c == '\\' && s[i + 1])
                i++;
            else if (c == quote)
                quote = 0;
        } else if ((c == '\'' || c == '"') && brackets > 0) {
            quote = c;
        } else if (c == '[') {
            brackets++;
        } else if (c == ']') {
            if (brackets > 0)
                brackets--;
        } else if (c == '(') {
            parens++;
        } else if (c == ')') {
            if (parens == 0 && brackets == 0)
                break;
            if (parens > 0)
                parens--;
        } else if (c == ',' && brackets == 0 && parens == 0) {
            break;
        }
    }
    size_t end = i;
    while (end > start && is_ws(s[end - 1]))
        end--;
    char *text = strndup(s + start, end - start);
    if (!text) {
        p->oom = true;
        return false;
    }
    char perrbuf[160] = "";
    sf_rc rc = asl_path_compile(text, &a->path, perrbuf, sizeof perrbuf);
    free(text);
    if (rc == SF_ENOMEM) {
        p->oom = true;
        return false;
    }
    if (rc != SF_OK) {
        perr(p, start, "invalid path argument (%s)", perrbuf[0] ? perrbuf : sf_rc_str(rc));
        return false;
    }
    a->kind = ARG_PATH;
    p->pos = end;
    return true;
}

static bool keyword_at(const char *s, const char *kw)
{
    size_t n = strlen(kw);
    return strncmp(s, kw, n) == 0 && !is_ident(s[n]) && s[n] != '.';
}

static bool parse_arg(parser *p, arg *a, int depth)
{
    skip_ws(p);
    const char *s = p->s + p->pos;
    if (*s == '\'')
        return parse_string(p, a);
    if (*s == '-' || (*s >= '0' && *s <= '9'))
        return parse_number(p, a);
    if (*s == '$')
        return parse_path(p, a);
    if (keyword_at(s, "true") || keyword_at(s, "false") || keyword_at(s, "null")) {
        a->kind = ARG_LITERAL;
        a->literal = *s == 't' ? json_true() : *s == 'f' ? json_false() : json_null();
        p->pos += *s == 'f' ? 5 : 4;
        return true;
    }
    if (call_name_len(s) > 0) {
        a->kind = ARG_CALL;
        a->fn = parse_call(p, depth + 1);
        return a->fn != NULL;
    }
    if (*s == '\0')
        perr(p, p->pos, "unexpected end of expression");
    else
        perr(p, p->pos, "unexpected '%c'", *s);
    return false;
}

/* The placeholders ("{}") in a Format string literal, escapes honoured. */
static size_t format_literal_holes(const char *raw)
{
    size_t n = 0;
    for (size_t i = 0; raw[i]; i++) {
        if (raw[i] == '\\' && raw[i + 1])
            i++;
        else if (raw[i] == '{' && raw[i + 1] == '}')
            n++, i++;
    }
    return n;
}

/* Says which function and argument a message from deeper down is about,
 * unless a nested call has already said so. */
static void perr_in(parser *p, const char *fn, size_t argn)
{
    if (!p->err || p->errlen == 0 || !p->err[0] || strncmp(p->err, "States.", 7) == 0)
        return;
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s argument %zu: %s", fn, argn, p->err);
    snprintf(p->err, p->errlen, "%s", tmp);
}

static call *parse_call(parser *p, int depth)
{
    size_t at = p->pos;
    size_t n = call_name_len(p->s + at);
    if (n == 0) {
        perr(p, at, "expected an intrinsic function call");
        return NULL;
    }
    if (depth > INTR_MAX_NESTING) {
        perr(p, at, "intrinsic functions nested more than %d deep", INTR_MAX_NESTING);
        return NULL;
    }
    const fn_spec *spec = fn_lookup(p->s + at, n);
    if (!spec) {
        perr(p, at, "unknown intrinsic function '%.*s'", (int)(n > 64 ? 64 : n), p->s + at);
        return NULL;
    }
    p->pos += n;
    skip_ws(p);
    if (p->s[p->pos] != '(') {
        perr(p, p->pos, "%s: expected '('", spec->name);
        return NULL;
    }
    p->pos++;
    call *c = calloc(1, sizeof *c);
    if (!c) {
        p->oom = true;
        return NULL;
    }
    c->spec = spec;
    size_t cap = 0;
    skip_ws(p);
    if (p->s[p->pos] == ')') {
        p->pos++;
    } else {
        for (;;) {
            if (c->nargs == INTR_MAX_ARGS) {
                perr(p, p->pos, "%s: more than %d arguments", spec->name, INTR_MAX_ARGS);
                goto fail;
            }
            if (c->nargs == cap) {
                size_t ncap = cap ? cap * 2 : 4;
                arg *na = realloc(c->args, ncap * sizeof *na);
                if (!na) {
                    p->oom = true;
                    goto fail;
                }
                c->args = na;
                cap = ncap;
            }
            arg *a = &c->args[c->nargs++];
            memset(a, 0, sizeof *a);
            if (!parse_arg(p, a, depth)) {
                if (!p->oom)
                    perr_in(p, spec->name, c->nargs);
                goto fail;
            }
            skip_ws(p);
            char ch = p->s[p->pos];
            if (ch == ',') {
                p->pos++;
                continue;
            }
            if (ch == ')') {
                p->pos++;
                break;
            }
            if (ch == '\0')
                perr(p, p->pos, "%s: missing ')'", spec->name);
            else
                perr(p, p->pos, "%s: expected ',' or ')' but found '%c'", spec->name, ch);
            goto fail;
        }
    }
    if ((int)c->nargs < spec->min_args || (spec->max_args >= 0 && (int)c->nargs > spec->max_args)) {
        if (spec->max_args < 0)
            perr(p, at, "%s takes at least %d argument%s, got %zu", spec->name, spec->min_args,
                 spec->min_args == 1 ? "" : "s", c->nargs);
        else if (spec->min_args == spec->max_args)
            perr(p, at, "%s takes %d argument%s, got %zu", spec->name, spec->min_args,
                 spec->min_args == 1 ? "" : "s", c->nargs);
        else
            perr(p, at, "%s takes %d to %d arguments, got %zu", spec->name, spec->min_args,
                 spec->max_args, c->nargs);
        goto fail;
    }
    if (spec->impl == fn_Format && c->args[0].kind == ARG_LITERAL) {
        if (!c->args[0].raw) {
            perr(p, at, "States.Format: the first argument must be a string");
            goto fail;
        }
        size_t holes = format_literal_holes(c->args[0].raw);
        if (holes != c->nargs - 1) {
            perr(p, at, "States.Format: the format string has %zu placeholder%s but %zu argument%s follow%s",
                 holes, holes == 1 ? "" : "s", c->nargs - 1, c->nargs - 1 == 1 ? "" : "s",
                 c->nargs - 1 == 1 ? "s" : "");
            goto fail;
        }
    }
    return c;
fail:
    call_free(c);
    return NULL;
}

sf_rc asl_intrinsic_compile(const char *text, asl_intrinsic **out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (out)
        *out = NULL;
    if (!text || !out) {
        if (err && errlen)
            snprintf(err, errlen, "no expression");
        return SF_EINVAL;
    }
    parser p = {.s = text, .err = err, .errlen = err ? errlen : 0};
    call *root = parse_call(&p, 1);
    if (root) {
        skip_ws(&p);
        if (p.s[p.pos] != '\0') {
            perr(&p, p.pos, "unexpected '%c' after the call", p.s[p.pos]);
            call_free(root);
            root = NULL;
        }
    }
    if (!root) {
        if (p.oom && err && errlen)
            snprintf(err, errlen, "out of memory");
        return p.oom ? SF_ENOMEM : SF_EINVAL;
    }
    asl_intrinsic *fn = calloc(1, sizeof *fn);
    char *copy = strdup(text);
    if (!fn || !copy) {
        free(fn);
        free(copy);
        call_free(root);
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return SF_ENOMEM;
    }
    fn->root = root;
    fn->text = copy;
    *out = fn;
    return SF_OK;
}

/* ---- capped text buffer ------------------------------------------------ */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    sf_rc rc; /* SF_OK, or the first failure: SF_ENOMEM or SF_ELIMIT */
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->rc != SF_OK)
        return;
    if (n > INTR_MAX_TEXT - b->n) {
        b->rc = SF_ELIMIT;
        return;
    }
    if (b->n + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 64;
        while (ncap < b->n + n + 1)
            ncap *= 2;
        if (ncap > INTR_MAX_TEXT + 1)
            ncap = INTR_MAX_TEXT + 1;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->rc = SF_ENOMEM;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_free(sbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

/* ---- JSON text as AWS prints it ---------------------------------------- */

/* A double the way Java's Double.toString prints it: the shortest digits
 * that read back to the same value, plain between 1e-3 and 1e7, otherwise
 * "d.dddE[-]n"; always with a fraction ("3.0"). */
static void fmt_double(double d, char *out, size_t outlen)
{
    if (d == 0) {
        snprintf(out, outlen, "%s", signbit(d) ? "-0.0" : "0.0");
        return;
    }
    char e[40];
    for (int prec = 0; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec, d);
        if (strtod(e, NULL) == d)
            break;
    }
    /* e is "[-]D[.DDD]e[+-]XX" */
    char digits[24];
    size_t nd = 0;
    const char *q = e;
    bool neg = *q == '-';
    if (neg)
        q++;
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9' && nd < sizeof digits - 1)
            digits[nd++] = *q;
    digits[nd] = '\0';
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = '\0';
    int exp10 = *q == 'e' ? atoi(q + 1) : 0;
    double mag = fabs(d);
    char buf[64];
    size_t o = 0;
    if (neg)
        buf[o++] = '-';
    if (mag >= 1e-3 && mag < 1e7) {
        if (exp10 >= 0) {
            for (int i = 0; i <= exp10; i++)
                buf[o++] = (size_t)i < nd ? digits[i] : '0';
            buf[o++] = '.';
            if ((size_t)exp10 + 1 < nd)
                for (size_t i = (size_t)exp10 + 1; i < nd; i++)
                    buf[o++] = digits[i];
            else
                buf[o++] = '0';
        } else {
            buf[o++] = '0';
            buf[o++] = '.';
            for (int i = 0; i < -exp10 - 1; i++)
                buf[o++] = '0';
            for (size_t i = 0; i < nd; i++)
                buf[o++] = digits[i];
        }
        buf[o] = '\0';
    } else {
        buf[o++] = digits[0];
        buf[o++] = '.';
        if (nd > 1)
            for (size_t i = 1; i < nd; i++)
                buf[o++] = digits[i];
        else
            buf[o++] = '0';
        snprintf(buf + o, sizeof buf - o, "E%d", exp10);
    }
    snprintf(out, outlen, "%s", buf);
}

static void put_json_string(sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sb_add(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c == '\b')
            esc = "\\b";
        else if (c == '\f')
            esc = "\\f";
        else if (c < 0x20) {
            memcpy(u, "\\u00", 4);
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
            u[6] = '\0';
            esc = u;
        }
        if (esc) {
            sb_add(b, s + run, i - run);
            sb_str(b, esc);
            run = i + 1;
        }
    }
    sb_add(b, s + run, n - run);
    sb_add(b, "\"", 1);
}

static void put_json(sbuf *b, json_t *v, int depth)
{
    if (b->rc != SF_OK)
        return;
    if (depth > INTR_MAX_JSON_DEPTH) {
        b->rc = SF_ELIMIT;
        return;
    }
    char num[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *c;
        bool first = true;
        sb_add(b, "{", 1);
        json_object_foreach(v, k, c) {
            if (!first)
                sb_add(b, ",", 1);
            first = false;
            put_json_string(b, k, strlen(k));
            sb_add(b, ":", 1);
            put_json(b, c, depth + 1);
        }
        sb_add(b, "}", 1);
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *c;
        sb_add(b, "[", 1);
        json_array_foreach(v, i, c) {
            if (i)
                sb_add(b, ",", 1);
            put_json(b, c, depth + 1);
        }
        sb_add(b, "]", 1);
        break;
    }
    case JSON_STRING:
        put_json_string(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        sb_str(b, num);
        break;
    case JSON_REAL:
        fmt_double(json_real_value(v), num, sizeof num);
        sb_str(b, num);
        break;
    case JSON_TRUE:
        sb_str(b, "true");
        break;
    case JSON_FALSE:
        sb_str(b, "false");
        break;
    case JSON_NULL:
        sb_str(b, "null");
        break;
    }
}

/* ---- evaluation -------------------------------------------------------- */

struct eval_ctx {
    const asl_intrinsic *fn;
    const asl_scope *s;
    asl_rng *rng;
    asl_err *e;
};

static sf_rc fail(eval_ctx *x, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static sf_rc fail(eval_ctx *x, const char *error, const char *fmt, ...)
{
    if (x->e) {
        char cause[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cause, sizeof cause, fmt, ap);
        va_end(ap);
        asl_err_copy(x->e, error, cause);
    }
    return SF_EINVAL;
}

static sf_rc oom(eval_ctx *x)
{
    if (x->e)
        asl_err_copy(x->e, "States.Runtime", "out of memory while evaluating an intrinsic function");
    return SF_ENOMEM;
}

#define INTRINSIC_FAILURE "States.IntrinsicFailure"

/* The failure of a capped buffer, as the result of call c. */
static sf_rc sb_fail(eval_ctx *x, const call *c, const sbuf *b)
{
    if (b->rc == SF_ENOMEM)
        return oom(x);
    return fail(x, INTRINSIC_FAILURE, "The result of %s exceeds %u bytes", c->spec->name,
                INTR_MAX_TEXT);
}

static sf_rc bad_type(eval_ctx *x, const call *c, size_t argn, const char *want, const json_t *got)
{
    return fail(x, INTRINSIC_FAILURE, "Invalid arguments in %s: argument %zu must be %s, but got %s",
                c->spec->name, argn, want, sf_json_kind(got));
}

static sf_rc eval_call(const call *c, eval_ctx *x, json_t **out);

static sf_rc path_missing(eval_ctx *x, const asl_path *path)
{
    const asl_scope *s = x->s;
    json_t *root = NULL;
    switch (asl_path_root_kind(path)) {
    case ASL_ROOT_INPUT:
        root = s->input;
        break;
    case ASL_ROOT_CONTEXT:
        root = s->context;
        break;
    case ASL_ROOT_VAR: {
        const char *name = asl_path_var(path);
        root = s->vars && name ? json_object_get(s->vars, name) : NULL;
        if (!root)
            return fail(x, "States.Runtime",
                        "The variable '%s' referenced in the field 'intrinsic' is not defined",
                        name ? name : "");
        break;
    }
    }
    sbuf b = {0};
    if (root)
        put_json(&b, root, 0);
    else
        sb_str(&b, "{}");
    sf_rc rc;
    if (x->e) {
        /* asl_err_set, not fail(): the input may be long and belongs whole in the cause */
        asl_err_set(x->e, "States.Runtime",
                    "The JSONPath '%s' specified for the field 'intrinsic' could not be found in the input '%s'",
                    asl_path_text(path), b.rc == SF_OK && b.p ? b.p : "");
    }
    rc = SF_EINVAL;
    sb_free(&b);
    return rc;
}

static sf_rc eval_arg(const arg *a, eval_ctx *x, json_t **out)
{
    switch (a->kind) {
    case ARG_LITERAL:
        *out = json_incref(a->literal);
        return SF_OK;
    case ARG_PATH: {
        sf_rc rc = asl_path_eval_scope(a->path, x->s, out);
        if (rc == SF_OK)
            return SF_OK;
        if (rc == SF_ENOMEM)
            return oom(x);
        return path_missing(x, a->path);
    }
    case ARG_CALL:
        return eval_call(a->fn, x, out);
    }
    return SF_EINVAL;
}

static sf_rc eval_call(const call *c, eval_ctx *x, json_t **out)
{
    json_t *small[8];
    json_t **argv = c->nargs <= 8 ? small : calloc(c->nargs, sizeof *argv);
    if (!argv)
        return oom(x);
    size_t got = 0;
    sf_rc rc = SF_OK;
    for (; got < c->nargs; got++) {
        rc = eval_arg(&c->args[got], x, &argv[got]);
        if (rc != SF_OK)
            break;
    }
    if (rc == SF_OK) {
        *out = NULL;
        rc = c->spec->impl(c, argv, c->nargs, x, out);
        if (rc == SF_OK && !*out)
            rc = oom(x);
    }
    for (size_t i = 0; i < got; i++)
        json_decref(argv[i]);
    if (argv != small)
        free(argv);
    return rc;
}

sf_rc asl_intrinsic_eval(const asl_intrinsic *fn, const asl_scope *s, asl_rng *rng, json_t **out,
                         asl_err *e)
{
    if (out)
        *out = NULL;
    if (!fn || !s || !out)
        return SF_EINVAL;
    eval_ctx x = {.fn = fn, .s = s, .rng = rng, .e = e};
    json_t *v = NULL;
    sf_rc rc = eval_call(fn->root, &x, &v);
    if (rc != SF_OK) {
        json_decref(v);
        return rc;
    }
    *out = v;
    return SF_OK;
}

/* ---- numbers ----------------------------------------------------------- */

/* Java's Math.round: halves go up (towards +inf). */
static double java_round(double d)
{
    double f = floor(d);
    return d - f >= 0.5 ? f + 1 : f;
}

/* v as a whole number, reals rounded as AWS rounds them for MathAdd and
 * MathRandom. False when v is not a number or the result leaves [lo, hi]. */
static bool num_rounded(const json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < lo || i > hi)
            return false;
        *out = i;
        return true;
    }
    if (!json_is_real(v))
        return false;
    double r = java_round(json_real_value(v));
    if (!(r >= (double)lo && r <= (double)hi))
        return false;
    *out = (int64_t)r;
    return true;
}

/* v as a whole number where AWS wants an integer: an integer, or a real
 * with no fraction ("3.0"), within [lo, hi]. */
static bool num_whole(const json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (json_is_real(v) && json_real_value(v) != floor(json_real_value(v)))
        return false;
    return num_rounded(v, lo, hi, out);
}

/* ---- UTF-8 helpers ----------------------------------------------------- */

/* Decodes one code point of valid UTF-8 at s (jansson keeps strings valid). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (len > n)
        len = n;
    uint32_t v = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t i = 1; i < len; i++)
        v = (v << 6) | (s[i] & 0x3F);
    *cp = v;
    return len ? len : 1;
}

/* Length in UTF-16 units, as Java's String.length() counts. */
static size_t utf16_length(const char *s, size_t n)
{
    size_t units = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xC0) != 0x80)
            units += c >= 0xF0 ? 2 : 1;
    }
    return units;
}

/* Length of a valid UTF-8 sequence at s, or 0. */
static size_t utf8_valid_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t min;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    uint32_t v = c & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    return len;
}

/* ---- the functions ----------------------------------------------------- */

static sf_rc fn_Format(const call *c, json_t **argv, size_t argc, eval_ctx *x, json_t **out)
{
    /* A literal template keeps its escapes, so "\{\}" stays text; a template
     * read from a path has no escapes and every "{}" is a placeholder. */
    const char *tmpl;
    size_t tlen;
    bool escapes = c->args[0].kind == ARG_LITERAL && c->args[0].raw;
    if (escapes) {
        tmpl = c->args[0].raw;
        tlen = strlen(tmpl);
    } else {
        if (!json_is_string(argv[0]))
            return bad_type(x, c, 1, "a string", argv[0]);
        tmpl = json_string_value(argv[0]);
        tlen = json_string_length(argv[0]);
    }
    size_t holes = 0;
    for (size_t i = 0; i + 1 < tlen; i++) {
        if (escapes && tmpl[i] == '\\')
            i++;
        else if (tmpl[i] == '{' && tmpl[i + 1] == '}')
            holes++, i++;
    }
    if (holes != argc - 1)
        return fail(x, INTRINSIC_FAILURE,
                    "Invalid arguments in States.Format: the format string has %zu placeholder%s but "
                    "%zu argument%s were given",
                    holes, holes == 1 ? "" : "s", argc - 1, argc - 1 == 1 ? "" : "s");
    sbuf b = {0};
    size_t next = 1, run = 0;
    for (size_t i = 0; i < tlen; i++) {
        if (escapes && tmpl[i] == '\\' && i + 1 < tlen) {
            sb_add(&b, tmpl + run, i - run);
            run = i + 1; /* keep the escaped character */
            i++;
        } else if (tmpl[i] == '{' && i + 1 < tlen && tmpl[i + 1] == '}') {
            sb_add(&b, tmpl + run, i - run);
            json_t *v = argv[next++];
            if (json_is_string(v))
                sb_add(&b, json_string_value(v), json_string_length(v));
            else
                put_json(&b, v, 0);
            i++;
            run = i + 1;
        }
    }
    sb_add(&b, tmpl + run, tlen - run);
    if (b.rc != SF_OK) {
        sf_rc rc = sb_fail(x, c, &b);
        sb_free(&b);
        return rc;
    }
    *out = json_stringn(b.p ? b.p : "", b.n);
    sb_free(&b);
    return SF_OK;
}

static sf_rc fn_StringToJson(const call *c, json_t **argv, size_t argc, eval_ctx *x, json_t **out)
{
    if (!json_is_string(argv[0]))
        return bad_type(x, c, 1, "a string", argv[0]);
    const char *s = json_string_value(argv[0]);
    size_t n = json_string_length(argv[0]);
    size_t i = 0;
    while (i < n && is_ws(s[i]))
        i++;
    if (i == n) { /* AWS reads "" (and blank text) as null */
        *out = json_null();
        return SF_OK;
    }
    json_error_t je;
    json_t *v = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v)
        return fail(x, INTRINSIC_FAILURE,
                    "Invalid arguments in States.StringToJson: argument 1 is not valid JSON (%s at "
                    "position %d)",
                    je.text, je.position);
    *out = v;
    return SF_OK;
}

static sf_rc fn_JsonToString(const call *c, json_t **argv, size_t argc, eval_ctx *x, json_t **out)
{
    sbuf b = {0};
    put_json(&b, argv[0], 0);
    if (b.rc != SF_OK) {
        sf_rc rc = sb_fail(x, c, &b);
        sb_free(&b);
        return rc;
    }
    *out = json_stringn(b.p, b.n);
    sb_free(&b);
    return SF_OK;
}

static sf_rc fn_Array(const call *c, json_t **argv, size_t argc, eval_ctx *x, json_t **out)
{
    json_t *a = json_array();
    if (!a)
        return oom(x);
    for (size_t i = 0; i < argc; i++) {
        if (json_array_append(a, argv[i]) != 0) {
            json_decref(a);
            return oom(x);
        }
    }
    *out = a;
    return SF_OK;
}

static sf_rc fn_ArrayPartition(const call *c, json_t **argv, size_t argc, eval_ctx *x, json_t **out)
{
    if (!json_is_array(argv[0]))
        return bad_type(x, c, 1, "an array", argv[0]);
    int64_t size;
    if (!num_whole(argv[1], 1, INT32_MAX, &size))
        return fail(x, INTRINSIC_FAILURE,
                    "Invalid arguments in States.ArrayPartition: argument 2 (chunk size) must be a "
                    "positive integer");
    json_t *res = json_array();
    if (!res)
        return oom(x);
    size_t n = json_array_size(argv[0]);
    for (size_t i = 0; i < n; i += (size_t)size) {
        json_t *chunk = json_array();
        if (!chunk || json_array_append_new(res, chunk) != 0) {
            json_decref(res);
            return oom(x);
        }
        for (size_t j = i; j < n && j - i < (size_t)size; j++) {
            if (json_array_append(chunk, json_array_get(argv[0], j)) != 0) {
                json_decref(res);
                return oom(x);
            }
        }
    }
    *out = res;
    return SF_OK;
}

static sf_rc fn_ArrayContains(const call *c, json_t **argv, size_t argc, eval_ctx *x, json_t **out)
{
    if (!json_is_array(argv[0]))
        return bad_type(x, c, 1, "an array", argv[0]);
    size_t i;
    json_t *v;
    bool found = false;
    json_array_foreach(argv[0], i, v) {
        if (json_equal(v, argv[1])) {
            found = true;
            break;
        }
    }
    *out = json_boolean(found);
    return SF_OK;
}

static sf_rc fn_ArrayRange(const call *c, json_t **argv, size_t argc, eval_ctx *x, json_t **out)
{
    static const char *const what[] = {"start", "end", "step"};
    int64_t v[3];
    for (size_t i = 0; i < 3; i++)
        if (!num_whole(argv[i], INT32_MIN, INT32_MAX, &v[i]))
            return fail(x, INTRINSIC_FAILURE,
                        "Invalid arguments in States.ArrayRange: argument %zu (%s) must be an integer",
                        i + 1, what[i]);
    if (v[2] == 0)
        return fail(x, INTRINSIC_FAILURE,
                    "Invalid arguments in States.ArrayRange: argument 3 (step) must not be 0");
    int64_t count = 0;
    if ((v[2] > 0 && v[1] >= v[0]) || (v[2] < 0 && v[1] <= v[0]))
        count = (v[1] - v[0]) / v[2] + 1;
    if (count > INTR_MAX_RANGE)
        return fail(x, INTRINSIC_FAILURE,
                    "Invalid arguments in States.ArrayRange: the range has %lld elements, more than "
                    "the limit of %d",
                    (long long)count, INTR_MAX_RANGE);
    json_t *res = json_array();
    if (!res)
        return oom(x);
    for (int64_t i = 0; i < count; i++) {
        if (json_array_append_new(res, json_integer(v[0] + i * v[2])) != 0) {
            json_decref(res);
            return oom(x);
        }
    }
    *out = res;
    return SF_OK;
}

static sf_rc fn_ArrayGetItem(const call *c, json_t **argv, size_t argc, eval_ctx *x, json_t **out)
{
    if (!json_is_array(argv[0]))
        return bad_type(x, c, 1, "an array", argv[0]);
    int64_t idx;
    if (!num_whole(argv[1], 0, INT64_MAX, &idx))
        return fail(x, INTRINSIC_FAILURE,
                    "Invalid arguments in States.ArrayGetItem: argument 2 (index) must be a "
                    "non-negative integer");
    size_t n = json_array_size(argv[0]);
    if ((uint64_t)idx >= n)
        return fail(x, INTRINSIC_FAILURE,
                    "Invalid arguments in States.ArrayGetItem: index %lld is out of bounds for an "
                    "array of %zu item%s",
                    (long long)idx, n, n == 1 ? "" : "s");
    *out = json_incref(json_array_get(argv[0], (size_t)idx));
    return SF_OK;
}

static sf_rc fn_ArrayLength(const call *c, json_t **argv, size_t argc, eval_ctx *x, json_t **out)
{
    if (!json_is_array(argv[0]))
        return bad_type(x, c, 1, "an array", argv[0]);
    *out = json_integer((json_int_t)json_array_size(argv[0]));
    return SF_OK;
}

/* A hash consistent with json_equal: object members combine without regard
 * to order, -0.0 hashes as 0.0. */
static uint64_t json_hash(const json_t *v, int depth)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)json_typeof(v);
    if (depth > INTR_MAX_JSON_DEPTH)
        return h;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *c;
        uint64_t sum = 0;
        json_object_foreach((json_t *)v, k, c) {
            uint64_t kh = 0xcbf29ce484222325ULL;
            for (const char *q = k; *q; q++)
                kh = (kh ^ (unsigned char)*q) * 0x100000001b3ULL;
            sum += kh * 31 + json_hash(c, depth + 1);
        }
        return h ^ sum;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *c;
        json_array_foreach((json_t *)v, i, c) h = (h ^ json_hash(c, depth + 1)) * 0x100000001b3ULL;
        return h;
    }
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        for (size_t i = 0; i < n; i++)
            h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
        return h;
    }
    case JSON_INTEGER:
        return (h ^ (uint64_t)json_integer_value(v)) * 0x100000001b3ULL;
    case JSON_REAL: {
        double d = json_real_value(v);
        uint64_t bits;
        if (d == 0)
            d = 0; /* -0.0 equals 0.0 */
        memcpy(&bits, &d, sizeof bits);
        return (h ^ bits) * 0x100000001b3ULL;
    }
    default:
        return h;
    }
}

static sf_rc fn_ArrayUnique(const call *c, json_t **argv, size_t argc, eval_ctx *x, json_t **out)
{
    if (!json_is_array(argv[0]))
        return bad_type(x, c, 1, "an array", argv[0]);
    size_t n = json_array_size(argv[0]);
    /* Open addressing over indexes of kept items; a power of two at least
     * twice n, so lookups stay short and the walk always ends. */
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    size_t *slot = malloc(cap * sizeof *slot);
    json_t *res = json_array();
    if (!slot || !res) {
        free(slot);
        json_decref(res);
        return oom(x);
    }
    for (size_t i = 0; i < cap; i++)
        slot[i] = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(argv[0], i);
        size_t at = (size_t)json_hash(v, 0) & (cap - 1);
        bool dup = false;
        while (slot[at] != SIZE_MAX) {
            if (json_equal(json_array_get(argv[0], slot[at]), v)) {
                dup = true;
                break;
            }
            at = (at + 1) & (cap - 1);
        }
        if (dup)
            continue;
        slot[at] = i;
        if (json_array_append(res, v) != 0) {
            free(slot);
            json_decref(res);
            return oom(x);
        }
    }
    free(slot);
    *out = res;
    return SF_OK;
}

static sf_rc fn_Base64Encode(const call *c, json_t **argv, size_t argc, eval_ctx *x, json_t **out)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!json_is_string(argv[0]))
        return bad_type(x, c, 1, "a string", argv[0]);
    const unsigned char *s = (const unsigned char *)json_string_value(argv[0]);
    size_t n = json_string_length(argv[0]);
    size_t chars = utf16_length((const char *)s, n);
    if (chars > INTR_MAX_CODEC_CHARS)
        return fail(x, INTRINSIC_FAILURE,
                    "Invalid arguments in States.Base64Encode: the input has %zu characters, more "
                    "than the limit of %d",
                    chars, INTR_MAX_CODEC_CHARS);
    size_t olen = (n + 2) / 3 * 4;
    char *o = malloc(olen + 1);
    if (!o)
        return oom(x);
    size_t j = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            w |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n)
            w |= s[i + 2];
        o[j++] = alphabet[(w >> 18) & 63];
        o[j++] = alphabet[(w >> 12) & 63];
        o[j++] = i + 1 < n ? alphabet[(w >> 6) & 63] : '=';
        o[j++] = i + 2 < n ? alphabet[w & 63] : '=';
    }
    *out = json_stringn(o, j);
    free(o);
    return SF_OK;
}

static int b64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

static sf_rc fn_Base64Decode(const call *c, json_t **argv, size_t argc, eval_ctx *x, json_t **out)
{
    if (!json_is_string(argv[0]))
        return bad_type(x, c, 1, "a string", argv[0]);
    const unsigned char *s = (const unsigned char *)json_string_value(argv[0]);
    size_t n = json_string_length(argv[0]);
    size_t chars = utf16_length((const char *)s, n);
    if (chars > INTR_MAX_CODEC_CHARS)
        return fail(x, INTRINSIC_FAILURE,
                    "Invalid arguments in States.Base64Decode: the input has %zu characters, more "
                    "than the limit of %d",
                    chars, INTR_MAX_CODEC_CHARS);
    /* Like Java's basic decoder: the standard alphabet only, '=' padding
     * optional but, when present, only at the end and never too much. */
    size_t data = n;
    size_t pad = 0;
    while (data > 0 && s[data - 1] == '=' && pad < 2)
        data--, pad++;
    bool ok = data % 4 != 1 && (pad == 0 || (data + pad) % 4 == 0);
    unsigned char *bytes = malloc(data / 4 * 3 + 3);
    if (!bytes)
        return oom(x);
    size_t nb = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; ok && i < data; i++) {
        int v = b64_value(s[i]);
        if (v < 0) {
            ok = false;
            break;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            bytes[nb++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (!ok) {
        free(bytes);
        return fail(x, INTRINSIC_FAILURE,
                    "Invalid arguments in States.Base64Decode: argument 1 is not valid base64");
    }
    /* Java decodes the bytes as UTF-8, putting U+FFFD for what is not. */
    sbuf b = {0};
    size_t run = 0;
    for (size_t i = 0; i < nb;) {
        size_t len = utf8_valid_len(bytes + i, nb - i);
        if (len) {
            i += len;
            continue;
        }
        sb_add(&b, (const char *)bytes + run, i - run);
        sb_str(&b, "\xEF\xBF\xBD");
        i++;
        run = i;
    }
    sb_add(&b, (const char *)bytes + run, nb - run);
    free(bytes);
    if (b.rc != SF_OK) {
        sf_rc rc = sb_fail(x, c, &b);
        sb_free(&b);
        return rc;
    }
    *out = json_stringn(b.p ? b.p : "", b.n);
    sb_free(&b);
    return SF_OK;
}

static sf_rc fn_Hash(const call *c, json_t **argv, size_t argc, eval_ctx *x, json_t **out)
{
    static const struct {
        const char *aws;
        const char *evp;
    } algs[] = {{"MD5", "MD5"}, {"SHA-1", "SHA1"}, {"SHA-256", "SHA256"},
                {"SHA-384", "SHA384"}, {"SHA-512", "SHA512"}};
    if (!json_is_string(argv[0]))
        return bad_type(x, c, 1, "a string", argv[0]);
    if (!json_is_string(argv[1]))
        return bad_type(x, c, 2, "a string", argv[1]);
    const char *name = json_string_value(argv[1]);
    const EVP_MD *md = NULL;
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
        if (strcmp(name, algs[i].aws) == 0 && strlen(name) == json_string_length(argv[1]))
            md = EVP_get_digestbyname(algs[i].evp);
    if (!md)
        return fail(x, INTRINSIC_FAILURE,
                    "Invalid arguments in States.Hash: argument 2 (algorithm) must be one of MD5, "
                    "SHA-1, SHA-256, SHA-384, SHA-512");
    const char *s = json_string_value(argv[0]);
    size_t n = json_string_length(argv[0]);
    size_t chars = utf16_length(s, n);
    if (chars > INTR_MAX_CODEC_CHARS)
        return fail(x, INTRINSIC_FAILURE,
                    "Invalid arguments in States.Hash: the input has %zu characters, more than the "
                    "limit of %d",
                    chars, INTR_MAX_CODEC_CHARS);
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (EVP_Digest(s, n, dig, &dlen, md, NULL) != 1)
        return fail(x, "States.Runtime", "States.Hash: the digest could not be computed");
    static const char hex[] = "0123456789abcdef";
    char text[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned int i = 0; i < dlen; i++) {
        text[2 * i] = hex[dig[i] >> 4];
        text[2 * i + 1] = hex[dig[i] & 15];
    }
    text[2 * dlen] = '\0';
    *out = json_string(text);
    return SF_OK;
}

static sf_rc fn_JsonMerge(const call *c, json_t **argv, size_t argc, eval_ctx *x, json_t **out)
{
    if (!json_is_object(argv[0]))
        return bad_type(x, c, 1, "an object", argv[0]);
    if (!json_is_object(argv[1]))
        return bad_type(x, c, 2, "an object", argv[1]);
    if (!json_is_boolean(argv[2]))
        return bad_type(x, c, 3, "a boolean", argv[2]);
    if (json_is_true(argv[2]))
        return fail(x, INTRINSIC_FAILURE,
                    "Invalid arguments in States.JsonMerge: argument 3 must be false; only shallow "
                    "merging is supported");
    json_t *res = json_copy(argv[0]);
    if (!res || json_object_update(res, argv[1]) != 0) {
        json_decref(res);
        return oom(x);
    }
    *out = res;
    return SF_OK;
}

/* Uniform in [0, span) without modulo bias. */
static uint64_t rng_below(asl_rng *r, uint64_t span)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    uint64_t v;
    do
        v = asl_rng_next(r);
    while (v >= limit);
    return v % span;
}

static sf_rc fn_MathRandom(const call *c, json_t **argv, size_t argc, eval_ctx *x, json_t **out)
{
    int64_t start, end, seed = 0;
    if (!num_rounded(argv[0], INT32_MIN, INT32_MAX, &start))
        return fail(x, INTRINSIC_FAILURE,
                    "Invalid arguments in States.MathRandom: argument 1 (start) must be an integer "
                    "between -2147483648 and 2147483647");
    if (!num_rounded(argv[1], INT32_MIN, INT32_MAX, &end))
        return fail(x, INTRINSIC_FAILURE,
                    "Invalid arguments in States.MathRandom: argument 2 (end) must be an integer "
                    "between -2147483648 and 2147483647");
    if (argc == 3 && !num_rounded(argv[2], INT64_MIN, INT64_MAX, &seed))
        return fail(x, INTRINSIC_FAILURE,
                    "Invalid arguments in States.MathRandom: argument 3 (seed) must be an integer");
    if (end <= start)
        return fail(x, INTRINSIC_FAILURE,
                    "Invalid arguments in States.MathRandom: the end (%lld) must be greater than the "
                    "start (%lld)",
                    (long long)end, (long long)start);
    asl_rng seeded = {.s = (uint64_t)seed ^ 0x5eed5eed5eed5eedULL};
    asl_rng *r = argc == 3 ? &seeded : x->rng;
    if (!r)
        return fail(x, "States.Runtime", "States.MathRandom: no random source was given");
    uint64_t span = (uint64_t)(end - start);
    *out = json_integer((json_int_t)(start + (int64_t)rng_below(r, span)));
    return SF_OK;
}

static sf_rc fn_MathAdd(const call *c, json_t **argv, size_t argc, eval_ctx *x, json_t **out)
{
    int64_t v[2];
    for (size_t i = 0; i < 2; i++)
        if (!num_rounded(argv[i], INT32_MIN, INT32_MAX, &v[i]))
            return fail(x, INTRINSIC_FAILURE,
                        "Invalid arguments in States.MathAdd: argument %zu must be a number between "
                        "-2147483648 and 2147483647",
                        i + 1);
    *out = json_integer(v[0] + v[1]);
    return SF_OK;
}

static sf_rc fn_StringSplit(const call *c, json_t **argv, size_t argc, eval_ctx *x, json_t **out)
{
    if (!json_is_string(argv[0]))
        return bad_type(x, c, 1, "a string", argv[0]);
    if (!json_is_string(argv[1]))
        return bad_type(x, c, 2, "a string", argv[1]);
    const unsigned char *s = (const unsigned char *)json_string_value(argv[0]);
    size_t n = json_string_length(argv[0]);
    const unsigned char *d = (const unsigned char *)json_string_value(argv[1]);
    size_t dn = json_string_length(argv[1]);
    json_t *res = json_array();
    if (!res)
        return oom(x);
    size_t part = 0;
    for (size_t i = 0; i <= n;) {
        uint32_t cp = 0;
        size_t len = 1;
        bool cut = i == n;
        if (!cut) {
            len = utf8_next(s + i, n - i, &cp);
            for (size_t j = 0; j < dn && !cut;) {
                uint32_t dcp;
                j += utf8_next(d + j, dn - j, &dcp);
                cut = dcp == cp;
            }
        }
        if (cut) {
            /* AWS drops the empty parts between adjacent delimiters */
            if (i > part && json_array_append_new(res, json_stringn((const char *)s + part, i - part))) {
                json_decref(res);
                return oom(x);
            }
            part = i + len;
        }
        i += len;
    }
    *out = res;
    return SF_OK;
}

static sf_rc fn_UUID(const call *c, json_t **argv, size_t argc, eval_ctx *x, json_t **out)
{
    if (!x->rng)
        return fail(x, "States.Runtime", "States.UUID: no random source was given");
    unsigned char u[16];
    for (int i = 0; i < 2; i++) {
        uint64_t w = asl_rng_next(x->rng);
        for (int j = 0; j < 8; j++)
            u[8 * i + j] = (unsigned char)(w >> (8 * j));
    }
    u[6] = (unsigned char)((u[6] & 0x0F) | 0x40); /* version 4 */
    u[8] = (unsigned char)((u[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    static const char hex[] = "0123456789abcdef";
    char text[37];
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            text[o++] = '-';
        text[o++] = hex[u[i] >> 4];
        text[o++] = hex[u[i] & 15];
    }
    text[o] = '\0';
    *out = json_string(text);
    return SF_OK;
}
