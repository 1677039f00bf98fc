/* worker/kernel_registry.c - kernels by name (see kernel.h).
 *
 * A fixed array searched linearly: a worker runs a handful of kernels, and
 * a lookup of a few short names beats hashing them. The registry is filled
 * before the agent starts and only read afterwards, so it needs no lock. */
#include "worker/kernel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wk_registry {
    const wk_kernel *kernels[WK_KERNELS_MAX];
    size_t n;
};

wk_registry *wk_registry_new(void)
{
    return calloc(1, sizeof(wk_registry));
}

void wk_registry_destroy(wk_registry **r)
{
    if (!r || !*r)
        return;
    free(*r);
    *r = NULL;
}

sf_rc wk_registry_add(wk_registry *r, const wk_kernel *k)
{
    if (!r || !k || !k->name || !k->name[0] || strchr(k->name, ':') || !k->run)
        return SF_EINVAL;
    if (wk_registry_find(r, k->name))
        return SF_ESTATE;
    if (r->n >= WK_KERNELS_MAX)
        return SF_ELIMIT;
    r->kernels[r->n++] = k;
    return SF_OK;
}

const wk_kernel *wk_registry_find(const wk_registry *r, const char *kernel_field)
{
    if (!r || !kernel_field)
        return NULL;
    const char *colon = strchr(kernel_field, ':');
    size_t len = colon ? (size_t)(colon - kernel_field) : strlen(kernel_field);
    for (size_t i = 0; i < r->n; i++) {
        const char *name = r->kernels[i]->name;
        if (strncmp(name, kernel_field, len) == 0 && name[len] == '\0')
            return r->kernels[i];
    }
    return NULL;
}

size_t wk_registry_count(const wk_registry *r)
{
    return r ? r->n : 0;
}

const wk_kernel *wk_registry_at(const wk_registry *r, size_t i)
{
    return r && i < r->n ? r->kernels[i] : NULL;
}

void wk_registry_list(const wk_registry *r, char *buf, size_t len)
{
    if (!len)
        return;
    buf[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; r && i < r->n && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", r->kernels[i]->name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}
