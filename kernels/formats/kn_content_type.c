/* kernels/formats/kn_content_type.c - SageMaker's content type strings.
 *
 * A ContentType or Accept is a media type with parameters ("text/csv;
 * label_size=0", "application/json; charset=utf-8"). Only label_size
 * means anything here; other parameters are ignored, as SageMaker's
 * containers ignore them. Matching is case-insensitive (RFC 9110). */
#define _POSIX_C_SOURCE 200809L /* strncasecmp */
#include "kn_format.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    kn_content_type ct;
} known[] = {
    {"text/csv", KN_CT_CSV},
    {"application/json", KN_CT_JSON},
    {"application/jsonlines", KN_CT_JSONLINES},
    {"application/x-recordio-protobuf", KN_CT_RECORDIO},
};

const char *kn_content_type_name(kn_content_type ct)
{
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i].ct == ct)
            return known[i].name;
    return "unknown";
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* [p, e) with blanks trimmed on both sides. */
static void trim(const char **p, const char **e)
{
    while (*p < *e && is_blank(**p))
        (*p)++;
    while (*e > *p && is_blank((*e)[-1]))
        (*e)--;
}

static sf_rc parse_param(const char *text, const char *p, const char *e, kn_content_type ct,
                         int *label_size, kn_err *err)
{
    trim(&p, &e);
    if (p == e) /* "text/csv;" */
        return SF_OK;
    const char *eq = memchr(p, '=', (size_t)(e - p));
    if (!eq)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: content type '%s': parameter '%.*s' has no value", text,
                       (int)(e - p), p);
    const char *ke = eq, *v = eq + 1;
    trim(&p, &ke);
    trim(&v, &e);
    if ((size_t)(ke - p) != strlen("label_size") || strncasecmp(p, "label_size", 10) != 0)
        return SF_OK;
    if (ct != KN_CT_CSV)
        return kn_fail(err, SF_EINVAL,
                       "ClientError: content type '%s': label_size applies to text/csv only", text);
    if (e - v == 1 && (*v == '0' || *v == '1')) {
        *label_size = *v - '0';
        return SF_OK;
    }
    return kn_fail(err, SF_EINVAL,
                   "ClientError: content type '%s': label_size must be 0 or 1, not '%.*s'", text,
                   (int)(e - v), v);
}

sf_rc kn_content_type_parse(const char *text, kn_content_type *out, int *label_size, kn_err *err)
{
    if (!text)
        return kn_fail(err, SF_EINVAL, "ClientError: no content type");
    const char *p = text, *end = text + strlen(text);
    const char *semi = memchr(p, ';', (size_t)(end - p));
    const char *te = semi ? semi : end;
    trim(&p, &te);
    size_t i = 0, n = sizeof known / sizeof known[0];
    while (i < n && !((size_t)(te - p) == strlen(known[i].name) &&
                      strncasecmp(p, known[i].name, (size_t)(te - p)) == 0))
        i++;
    if (i == n)
        return kn_fail(err, SF_EUNSUPPORTED,
                       "ClientError: unsupported content type '%s' (text/csv, application/json, "
                       "application/jsonlines or application/x-recordio-protobuf)",
                       text);
    int ls = 1;
    while (semi) {
        const char *q = semi + 1;
        semi = memchr(q, ';', (size_t)(end - q));
        sf_rc rc = parse_param(text, q, semi ? semi : end, known[i].ct, &ls, err);
        if (rc != SF_OK)
            return rc;
    }
    *out = known[i].ct;
    if (label_size)
        *label_size = ls;
    return SF_OK;
}
