/* common/sf_grow.h - make room in a growable array, with a hard cap.
 *
 * Doubles *cap (from `first`) until it holds need elements of size elem,
 * never past max. On failure *p and *cap are unchanged. */
#ifndef SF_GROW_H
#define SF_GROW_H

#include <stddef.h>
#include <stdlib.h>

#include "sf_rc.h"

static inline sf_rc sf_grow(void **p, size_t *cap, size_t need, size_t elem, size_t first,
                            size_t max)
{
    if (need <= *cap)
        return SF_OK;
    if (need > max)
        return SF_ELIMIT;
    size_t c = *cap ? *cap : first;
    while (c < need)
        c = c > max / 2 ? max : c * 2;
    void *np = realloc(*p, c * elem);
    if (!np)
        return SF_ENOMEM;
    *p = np;
    *cap = c;
    return SF_OK;
}

#endif
