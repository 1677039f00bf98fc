/* asl/template.c - compile and evaluate payload templates (see template.h). */
#define _GNU_SOURCE
#include "template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { TMPL_LITERAL, TMPL_OBJECT, TMPL_ARRAY, TMPL_EXPR } tmpl_kind;

struct asl_tmpl {
    tmpl_kind kind;
    json_t *literal;      /* TMPL_LITERAL */
    asl_expr expr;        /* TMPL_EXPR */
    char *field;          /* TMPL_EXPR: the key as written ("a.$"), for causes */
    size_t n;             /* TMPL_OBJECT / TMPL_ARRAY children */
    char **keys;          /* TMPL_OBJECT: output keys (".$" stripped) */
    asl_tmpl **kids;
};

static int has_dollar_key(json_t *v)
{
    const char *k;
    json_t *c;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach(v, k, c) {
            size_t len = strlen(k);
            if ((len >= 2 && strcmp(k + len - 2, ".$") == 0) || has_dollar_key(c))
                return 1;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, c) {
            if (has_dollar_key(c))
                return 1;
        }
    }
    return 0;
}

void asl_tmpl_destroy(asl_tmpl **pt)
{
    asl_tmpl *t = pt ? *pt : NULL;
    if (!t)
        return;
    json_decref(t->literal);
    asl_expr_cleanup(&t->expr);
    free(t->field);
    for (size_t i = 0; i < t->n; i++) {
        if (t->keys)
            free(t->keys[i]);
        asl_tmpl_destroy(&t->kids[i]);
    }
    free(t->keys);
    free(t->kids);
    free(t);
    *pt = NULL;
}

static sf_rc compile_node(json_t *v, const char *where, asl_tmpl **out, asl_diag *d);

static sf_rc compile_object(json_t *v, const char *where, asl_tmpl *t, asl_diag *d)
{
    size_t n = json_object_size(v);
    t->kind = TMPL_OBJECT;
    t->keys = calloc(n ? n : 1, sizeof *t->keys);
    t->kids = calloc(n ? n : 1, sizeof *t->kids);
    if (!t->keys || !t->kids)
        return SF_ENOMEM;
    const char *k;
    json_t *c;
    sf_rc rc = SF_OK;
    json_object_foreach(v, k, c) {
        char *sub = NULL;
        if (asprintf(&sub, "%s/%s", where, k) < 0)
            return SF_ENOMEM;
        size_t len = strlen(k);
        size_t i = t->n++;
        if (len >= 2 && strcmp(k + len - 2, ".$") == 0) {
            t->keys[i] = strndup(k, len - 2);
            asl_tmpl *x = calloc(1, sizeof *x);
            t->kids[i] = x;
            if (!t->keys[i] || !x) {
                free(sub);
                return SF_ENOMEM;
            }
            x->kind = TMPL_EXPR;
            x->field = strdup(k);
            if (!json_is_string(c)) {
                asl_diag_add(d, sub, "the value of a field ending in '.$' must be a path or intrinsic function string");
                rc = SF_EINVAL;
            } else if (asl_expr_compile(json_string_value(c), sub, &x->expr, d) != SF_OK) {
                rc = SF_EINVAL;
            }
        } else {
            t->keys[i] = strdup(k);
            if (!t->keys[i]) {
                free(sub);
                return SF_ENOMEM;
            }
            sf_rc r = compile_node(c, sub, &t->kids[i], d);
            if (r != SF_OK)
                rc = r;
        }
        free(sub);
    }
    return rc;
}

static sf_rc compile_node(json_t *v, const char *where, asl_tmpl **out, asl_diag *d)
{
    asl_tmpl *t = calloc(1, sizeof *t);
    if (!t)
        return SF_ENOMEM;
    *out = t;
    if (!has_dollar_key(v)) {
        t->kind = TMPL_LITERAL;
        t->literal = json_incref(v);
        return SF_OK;
    }
    if (json_is_object(v))
        return compile_object(v, where, t, d);
    /* An array holding objects with ".$" keys. */
    size_t n = json_array_size(v);
    t->kind = TMPL_ARRAY;
    t->kids = calloc(n ? n : 1, sizeof *t->kids);
    if (!t->kids)
        return SF_ENOMEM;
    sf_rc rc = SF_OK;
    for (size_t i = 0; i < n; i++) {
        char *sub = NULL;
        if (asprintf(&sub, "%s/%zu", where, i) < 0)
            return SF_ENOMEM;
        t->n++;
        sf_rc r = compile_node(json_array_get(v, i), sub, &t->kids[i], d);
        free(sub);
        if (r != SF_OK)
            rc = r;
    }
    return rc;
}

sf_rc asl_tmpl_compile(json_t *v, const char *where, asl_tmpl **out, asl_diag *d)
{
    *out = NULL;
    sf_rc rc = compile_node(v, where, out, d);
    if (rc != SF_OK)
        asl_tmpl_destroy(out);
    return rc;
}

sf_rc asl_tmpl_eval(const asl_tmpl *t, const asl_scope *s, asl_rng *rng, json_t **out,
                    asl_err *e)
{
    json_t *r = NULL;
    switch (t->kind) {
    case TMPL_LITERAL:
        *out = json_incref(t->literal);
        return SF_OK;
    case TMPL_EXPR:
        return asl_expr_eval(&t->expr, t->field, s, rng, out, e);
    case TMPL_OBJECT:
        r = json_object();
        break;
    case TMPL_ARRAY:
        r = json_array();
        break;
    }
    if (!r)
        return SF_ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        json_t *c = NULL;
        sf_rc rc = asl_tmpl_eval(t->kids[i], s, rng, &c, e);
        if (rc == SF_OK)
            rc = (t->kind == TMPL_OBJECT ? json_object_set_new(r, t->keys[i], c)
                                         : json_array_append_new(r, c))
                     ? SF_ENOMEM
                     : SF_OK;
        if (rc != SF_OK) {
            json_decref(r);
            return rc;
        }
    }
    *out = r;
    return SF_OK;
}
