/* kernels/transform/kn_transform_jsonpath.c - the filters' JSONPath subset.
 *
 * Parsed once per job; applied per record. Never allocates while parsing,
 * so a bad filter costs nothing to refuse. */
#include "kernels/transform/kn_transform_jsonpath.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kn_types.h"

static sf_rc bad(const char *field, const char *text, const char *why, kn_err *err)
{
    return kn_fail(err, SF_EINVAL,
                   "ClientError: DataProcessing.%s \"%s\" is not a JSONPath we support (%s); "
                   "use \"$\", \"$.key\", \"$['a','b']\" or \"$[0,2:]\"",
                   field, text, why);
}

/* A quoted key 'name' or "name" at *pp; advances past it. */
static bool parse_quoted(const char **pp, char *name)
{
    const char *p = *pp;
    char q = *p;
    if (q != '\'' && q != '"')
        return false;
    const char *end = strchr(p + 1, q);
    if (!end || end == p + 1 || (size_t)(end - p - 1) >= KN_JP_NAME)
        return false;
    memcpy(name, p + 1, (size_t)(end - p - 1));
    name[end - p - 1] = '\0';
    *pp = end + 1;
    return true;
}

static bool parse_long(const char **pp, long *v)
{
    char *end;
    const char *p = *pp;
    if (!(isdigit((unsigned char)*p) || (*p == '-' && isdigit((unsigned char)p[1]))))
        return false;
    *v = strtol(p, &end, 10);
    *pp = end;
    return true;
}

/* One index or slice of an index list. */
static bool parse_item(const char **pp, kn_jp_item *it)
{
    *it = (kn_jp_item){0};
    it->has_lo = parse_long(pp, &it->lo);
    if (**pp == ':') {
        (*pp)++;
        it->slice = true;
        it->has_hi = parse_long(pp, &it->hi);
        return true;
    }
    return it->has_lo;
}

sf_rc kn_jp_parse(const char *text, const char *field, kn_jpath *out, kn_err *err)
{
    *out = (kn_jpath){0};
    if (!text || !text[0])
        text = "$";
    if (strlen(text) >= sizeof out->text)
        return bad(field, text, "longer than 63 characters", err);
    strcpy(out->text, text);
    const char *p = text;
    if (*p++ != '$')
        return bad(field, text, "it must start with $", err);
    while (*p) {
        if (out->select != KN_JP_NONE)
            return bad(field, text, "nothing may follow a list selector", err);
        if (out->nsteps >= KN_JP_STEPS)
            return bad(field, text, "too many steps", err);
        if (*p == '.') {
            p++;
            size_t n = 0;
            while (p[n] && p[n] != '.' && p[n] != '[')
                n++;
            if (n == 0 || n >= KN_JP_NAME || (n == 1 && p[0] == '*'))
                return bad(field, text, "a key after '.' must be a name", err);
            memcpy(out->steps[out->nsteps], p, n);
            out->steps[out->nsteps++][n] = '\0';
            p += n;
            continue;
        }
        if (*p != '[')
            return bad(field, text, "expected '.' or '['", err);
        p++;
        if (*p == '\'' || *p == '"') {
            char names[KN_JP_ITEMS][KN_JP_NAME];
            size_t n = 0;
            for (;;) {
                if (n == KN_JP_ITEMS || !parse_quoted(&p, names[n]))
                    return bad(field, text, "expected a quoted key", err);
                n++;
                if (*p == ',') {
                    p++;
                    continue;
                }
                break;
            }
            if (*p++ != ']')
                return bad(field, text, "expected ']'", err);
            if (n == 1 && *p) { /* ['a'] followed by more: a step */
                strcpy(out->steps[out->nsteps++], names[0]);
                continue;
            }
            out->select = KN_JP_KEYS;
            memcpy(out->keys, names, sizeof names);
            out->nitems = n;
            continue;
        }
        for (;;) {
            if (out->nitems == KN_JP_ITEMS || !parse_item(&p, &out->items[out->nitems]))
                return bad(field, text, "expected an index or a slice such as 1: or 0:3", err);
            out->nitems++;
            if (*p == ',') {
                p++;
                continue;
            }
            break;
        }
        if (*p++ != ']')
            return bad(field, text, "expected ']'", err);
        out->select = KN_JP_INDEXES;
    }
    return SF_OK;
}

bool kn_jp_is_root(const kn_jpath *p)
{
    return p->nsteps == 0 && p->select == KN_JP_NONE;
}

bool kn_jp_fits_csv(const kn_jpath *p)
{
    return p->nsteps == 0 && p->select != KN_JP_KEYS;
}

static long clamp_index(long i, size_t n)
{
    if (i < 0)
        i += (long)n;
    if (i < 0)
        return 0;
    return i > (long)n ? (long)n : i;
}

size_t kn_jp_indexes(const kn_jpath *p, size_t n, size_t *idx, size_t max)
{
    size_t k = 0;
    if (p->select != KN_JP_INDEXES) {
        for (size_t i = 0; i < n && k < max; i++)
            idx[k++] = i;
        return k;
    }
    for (size_t j = 0; j < p->nitems; j++) {
        const kn_jp_item *it = &p->items[j];
        if (!it->slice) {
            long i = it->lo < 0 ? it->lo + (long)n : it->lo;
            if (i >= 0 && i < (long)n && k < max)
                idx[k++] = (size_t)i; /* out of range selects nothing, as in JSONPath */
            continue;
        }
        long lo = it->has_lo ? clamp_index(it->lo, n) : 0;
        long hi = it->has_hi ? clamp_index(it->hi, n) : (long)n;
        for (long i = lo; i < hi && k < max; i++)
            idx[k++] = (size_t)i;
    }
    return k;
}

json_t *kn_jp_apply(const kn_jpath *p, json_t *v, char *why, size_t whylen)
{
    for (size_t i = 0; i < p->nsteps; i++) {
        json_t *next = json_is_object(v) ? json_object_get(v, p->steps[i]) : NULL;
        if (!next) {
            snprintf(why, whylen, "%s: the record has no \"%s\"", p->text, p->steps[i]);
            return NULL;
        }
        v = next;
    }
    if (p->select == KN_JP_KEYS) {
        if (!json_is_object(v)) {
            snprintf(why, whylen, "%s: keys select from an object, the record is not one", p->text);
            return NULL;
        }
        json_t *o = json_object();
        for (size_t i = 0; o && i < p->nitems; i++) {
            json_t *x = json_object_get(v, p->keys[i]);
            if (x)
                json_object_set(o, p->keys[i], x);
        }
        return o;
    }
    if (p->select == KN_JP_INDEXES) {
        if (!json_is_array(v)) {
            snprintf(why, whylen, "%s: indexes select from an array, the record is not one",
                     p->text);
            return NULL;
        }
        size_t n = json_array_size(v);
        size_t *idx = malloc((n ? n : 1) * KN_JP_ITEMS * sizeof *idx);
        json_t *a = idx ? json_array() : NULL;
        size_t k = a ? kn_jp_indexes(p, n, idx, n * KN_JP_ITEMS) : 0;
        for (size_t i = 0; i < k; i++)
            json_array_append(a, json_array_get(v, idx[i]));
        free(idx);
        return a;
    }
    return json_incref(v);
}
