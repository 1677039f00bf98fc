/* integrations/resource.c - parse Task Resource ARNs (see resource.h). */
#include "resource.h"

#include <stdio.h>
#include <string.h>

/* Copies [s, s+n) into dst (cap bytes) and refuses empty or oversized parts. */
static int copy_part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n == 0 || n >= cap)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* Splits a trailing ".sync", ".sync:2" or ".waitForTaskToken" off api. */
static integ_pattern split_pattern(char *api)
{
    char *dot = strchr(api, '.');
    if (!dot)
        return INTEG_PATTERN_REQUEST;
    integ_pattern p = INTEG_PATTERN_REQUEST;
    if (strcmp(dot, ".sync") == 0 || strcmp(dot, ".sync:2") == 0)
        p = INTEG_PATTERN_SYNC;
    else if (strcmp(dot, ".waitForTaskToken") == 0)
        p = INTEG_PATTERN_TOKEN;
    else
        return (integ_pattern)-1;
    *dot = '\0';
    return p;
}

sf_rc integ_resource_parse(const char *arn, integ_resource *out)
{
    memset(out, 0, sizeof *out);
    /* arn:PARTITION:SERVICE:REGION:ACCOUNT:REST */
    const char *f[6];
    size_t len[6];
    const char *p = arn;
    for (int i = 0; i < 5; i++) {
        const char *c = strchr(p, ':');
        if (!c)
            return SF_EINVAL;
        f[i] = p;
        len[i] = (size_t)(c - p);
        p = c + 1;
    }
    f[5] = p;
    len[5] = strlen(p);
    if (len[0] != 3 || memcmp(f[0], "arn", 3) != 0 || len[1] == 0)
        return SF_EINVAL;

    if (len[2] == 6 && memcmp(f[2], "lambda", 6) == 0) {
        /* function:NAME[:QUALIFIER] */
        if (strncmp(f[5], "function:", 9) != 0)
            return SF_EINVAL;
        const char *name = f[5] + 9;
        const char *q = strchr(name, ':');
        size_t n = q ? (size_t)(q - name) : strlen(name);
        out->kind = INTEG_RES_LAMBDA_ARN;
        return copy_part(out->name, sizeof out->name, name, n) ? SF_EINVAL : SF_OK;
    }
    if (len[2] != 6 || memcmp(f[2], "states", 6) != 0)
        return SF_EINVAL;
    if (strncmp(f[5], "activity:", 9) == 0) {
        out->kind = INTEG_RES_ACTIVITY;
        return copy_part(out->name, sizeof out->name, f[5] + 9, strlen(f[5] + 9)) ? SF_EINVAL
                                                                                 : SF_OK;
    }
    /* arn:aws:states:::SERVICE:API[.pattern] : region and account are empty. */
    if (len[3] != 0 || len[4] != 0)
        return SF_EINVAL;
    const char *c = strchr(f[5], ':');
    if (!c || copy_part(out->service, sizeof out->service, f[5], (size_t)(c - f[5])) ||
        copy_part(out->api, sizeof out->api, c + 1, strlen(c + 1)))
        return SF_EINVAL;
    int pat = (int)split_pattern(out->api);
    if (pat < 0 || out->api[0] == '\0')
        return SF_EINVAL;
    out->pattern = (integ_pattern)pat;
    out->kind = INTEG_RES_SERVICE;
    return SF_OK;
}
