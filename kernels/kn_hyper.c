/* kernels/kn_hyper.c - checking a job's hyperparameters against a table.
 *
 * SageMaker fails a job before training starts when a hyperparameter is
 * unknown, missing, of the wrong type or out of range, with a message that
 * names it and says what it accepts; we do the same, so a pipeline that
 * fails there fails here with the same kind of reason.
 *
 * One extension of the table's meaning: for KN_HP_INT and KN_HP_FLOAT,
 * `choices` (when set) lists words accepted besides numbers, the way
 * linear-learner's positive_example_weight_mult takes "balanced" or a
 * number. Such a word is kept in text with num 0.
 *
 * This file never prints; every failure is a kn_err. */
#include "kn_hyper.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- did you mean ---- */

/* Levenshtein distance, capped: names are short (< 64 chars), so one row
 * of 64 ints on the stack is enough. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return (size_t)-1;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The closest known name when it is close enough to be a likely typo:
 * at most a third of the name's length (and at least 2) edits away. */
static const char *closest_name(const kn_hp_spec *specs, size_t n, const char *name)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(name, specs[i].name);
        if (d < best_d) {
            best_d = d;
            best = specs[i].name;
        }
    }
    size_t limit = strlen(name) / 3;
    if (limit < 2)
        limit = 2;
    return best_d <= limit ? best : NULL;
}

/* ---- what a spec accepts, in words ---- */

static void fmt_num(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, "%.10g", v);
}

/* "an integer greater than 0", "'auto' or a number in [0, 1)". */
static void describe(const kn_hp_spec *s, char *buf, size_t cap)
{
    char lo[32], hi[32];
    fmt_num(lo, sizeof lo, s->min);
    fmt_num(hi, sizeof hi, s->max);
    const char *what = "";
    char range[96] = "";
    switch (s->type) {
    case KN_HP_INT:
    case KN_HP_FLOAT:
        what = s->type == KN_HP_INT ? "an integer" : "a number";
        if (s->has_min && s->has_max)
            snprintf(range, sizeof range, " in %c%s, %s%c", s->min_open ? '(' : '[', lo, hi,
                     s->max_open ? ')' : ']');
        else if (s->has_min)
            snprintf(range, sizeof range, " %s %s",
                     s->min_open ? "greater than" : "greater than or equal to", lo);
        else if (s->has_max)
            snprintf(range, sizeof range, " %s %s",
                     s->max_open ? "less than" : "less than or equal to", hi);
        break;
    case KN_HP_BOOL:
        what = "'true' or 'false'";
        break;
    case KN_HP_JSON:
        what = "valid JSON";
        break;
    case KN_HP_STRING:
        what = "non-empty text of at most 255 bytes";
        break;
    case KN_HP_CHOICE:
        break;
    }
    size_t off = 0;
    buf[0] = '\0';
    if (s->allow_auto)
        off += (size_t)snprintf(buf + off, cap - off, "'auto' or ");
    if (s->type == KN_HP_CHOICE ||
        (s->choices && s->type != KN_HP_JSON && s->type != KN_HP_STRING)) {
        /* "one of 'sgd', 'adam', 'rmsprop'", or the words before a number */
        const char *c = s->choices ? s->choices : "";
        if (s->type == KN_HP_CHOICE)
            off += (size_t)snprintf(buf + off, cap - off, "one of ");
        while (*c && off < cap) {
            size_t len = strcspn(c, "|");
            off +=
                (size_t)snprintf(buf + off, cap - off, "'%.*s'%s", (int)len, c, c[len] ? ", " : "");
            c += len + (c[len] ? 1 : 0);
        }
        if (s->type != KN_HP_CHOICE && off < cap)
            off += (size_t)snprintf(buf + off, cap - off, " or ");
    }
    if (off < cap)
        snprintf(buf + off, cap - off, "%s%s", what, range);
}

/* ---- parsing one value ---- */

static bool in_choices(const char *choices, const char *v)
{
    size_t vl = strlen(v);
    for (const char *c = choices; c && *c;) {
        size_t len = strcspn(c, "|");
        if (len == vl && strncmp(c, v, len) == 0)
            return true;
        c += len + (c[len] ? 1 : 0);
    }
    return false;
}

static bool in_range(const kn_hp_spec *s, double v)
{
    if (s->has_min && (s->min_open ? !(v > s->min) : !(v >= s->min)))
        return false;
    if (s->has_max && (s->max_open ? !(v < s->max) : !(v <= s->max)))
        return false;
    return true;
}

/* Whole text as a number; no leading space, no trailing junk. */
static bool parse_number(const char *t, double *out)
{
    if (!*t || isspace((unsigned char)*t))
        return false;
    char *end;
    errno = 0;
    double v = strtod(t, &end);
    if (*end || errno == ERANGE || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* Checks text against s; fills v. false: it is not acceptable. */
static bool parse_value(const kn_hp_spec *s, const char *text, kn_hp_value *v)
{
    v->is_auto = false;
    v->num = 0;
    if (s->allow_auto && strcmp(text, "auto") == 0) {
        v->is_auto = true;
        return true;
    }
    switch (s->type) {
    case KN_HP_INT: {
        double d;
        if (in_choices(s->choices, text))
            return true;
        /* "10" and "10.0" (a float the SDK may print) both mean ten */
        if (!parse_number(text, &d) || d != floor(d) || fabs(d) > 9007199254740992.0)
            return false;
        v->num = d;
        return in_range(s, d);
    }
    case KN_HP_FLOAT: {
        double d;
        if (in_choices(s->choices, text))
            return true;
        if (!parse_number(text, &d))
            return false;
        v->num = d;
        return in_range(s, d);
    }
    case KN_HP_BOOL:
        if (strcasecmp(text, "true") == 0)
            v->num = 1;
        else if (strcasecmp(text, "false") == 0)
            v->num = 0;
        else
            return false;
        return true;
    case KN_HP_CHOICE:
        return in_choices(s->choices, text);
    case KN_HP_JSON: {
        json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
        if (!j)
            return false;
        json_decref(j);
        return true;
    }
    case KN_HP_STRING: /* what it means is the algorithm's to check */
        return text[0] != '\0';
    }
    return false;
}

/* The SDK stringifies what it is given; a JSON number or boolean in the
 * map is read as that string. */
static bool value_text(json_t *j, char *buf, size_t cap)
{
    if (json_is_string(j))
        return (size_t)snprintf(buf, cap, "%s", json_string_value(j)) < cap;
    if (json_is_integer(j))
        return (size_t)snprintf(buf, cap, "%lld", (long long)json_integer_value(j)) < cap;
    if (json_is_real(j))
        return (size_t)snprintf(buf, cap, "%.17g", json_real_value(j)) < cap;
    if (json_is_boolean(j))
        return (size_t)snprintf(buf, cap, "%s", json_is_true(j) ? "true" : "false") < cap;
    return false;
}

sf_rc kn_hp_parse(const kn_hp_spec *specs, size_t nspecs, json_t *given, kn_hp *out, kn_err *err)
{
    memset(out, 0, sizeof *out);
    if (nspecs > KN_HP_MAX)
        return kn_fail(err, SF_ELIMIT, "AlgorithmError: %zu hyperparameters declared; at most %d",
                       nspecs, KN_HP_MAX);
    if (given && !json_is_object(given))
        return kn_fail(err, SF_EINVAL, "ClientError: HyperParameters must be a map of strings");

    /* Unknown names first: a typo is the likeliest mistake, and its
     * message is the most useful one. */
    const char *key;
    json_t *val;
    if (given) {
        json_object_foreach(given, key, val)
        {
            size_t i;
            for (i = 0; i < nspecs; i++)
                if (strcmp(specs[i].name, key) == 0)
                    break;
            if (i < nspecs)
                continue;
            const char *near = closest_name(specs, nspecs, key);
            if (near)
                return kn_fail(err, SF_EINVAL,
                               "ClientError: Unknown hyperparameter '%s' (did you mean '%s'?)", key,
                               near);
            return kn_fail(err, SF_EINVAL, "ClientError: Unknown hyperparameter '%s'", key);
        }
    }

    for (size_t i = 0; i < nspecs; i++) {
        const kn_hp_spec *s = &specs[i];
        kn_hp_value *v = &out->v[i];
        v->name = s->name;
        json_t *j = given ? json_object_get(given, s->name) : NULL;
        const char *text;
        if (j) {
            if (!value_text(j, v->text, sizeof v->text))
                return kn_fail(err, SF_EINVAL,
                               "ClientError: Hyperparameter '%s' must be a string of at most %zu "
                               "characters",
                               s->name, sizeof v->text - 1);
            text = v->text;
        } else if (s->required) {
            return kn_fail(err, SF_EINVAL, "ClientError: Missing required hyperparameter '%s'",
                           s->name);
        } else if (s->dflt) {
            snprintf(v->text, sizeof v->text, "%s", s->dflt);
            text = v->text;
        } else {
            continue; /* optional, no default: not set */
        }
        if (!parse_value(s, text, v)) {
            char accepts[512];
            describe(s, accepts, sizeof accepts);
            if (!j) /* a default the table itself gets wrong */
                return kn_fail(err, SF_EINVAL,
                               "AlgorithmError: default '%s' of hyperparameter '%s' is not %s",
                               text, s->name, accepts);
            return kn_fail(err, SF_EINVAL, "ClientError: Hyperparameter '%s' must be %s; got '%s'",
                           s->name, accepts, text);
        }
        v->set = true;
    }
    out->n = nspecs;
    return SF_OK;
}

/* ---- lookups ---- */

static const kn_hp_value *find(const kn_hp *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i].name && strcmp(h->v[i].name, name) == 0)
            return &h->v[i];
    /* A name the algorithm's own table lacks is a bug in that algorithm,
     * not something a job can cause: stop loudly. */
    abort();
}

bool kn_hp_is_set(const kn_hp *h, const char *name)
{
    return find(h, name)->set;
}

bool kn_hp_is_auto(const kn_hp *h, const char *name)
{
    return find(h, name)->is_auto;
}

int64_t kn_hp_int(const kn_hp *h, const char *name)
{
    return (int64_t)find(h, name)->num;
}

double kn_hp_num(const kn_hp *h, const char *name)
{
    return find(h, name)->num;
}

bool kn_hp_bool(const kn_hp *h, const char *name)
{
    return find(h, name)->num != 0;
}

const char *kn_hp_str(const kn_hp *h, const char *name)
{
    return find(h, name)->text;
}

json_t *kn_hp_to_json(const kn_hp *h)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (size_t i = 0; i < h->n; i++) {
        if (!h->v[i].set)
            continue;
        if (json_object_set_new(o, h->v[i].name, json_string(h->v[i].text)) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}
