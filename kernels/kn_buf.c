/* kernels/kn_buf.c - a growable byte buffer with a hard cap. */
#include "kernels/kn_buf.h"

#include <stdlib.h>
#include <string.h>

sf_rc kn_buf_reserve(kn_buf *b, size_t more)
{
    if (b->cap - b->len >= more)
        return SF_OK;
    if (more > b->max - b->len)
        return SF_ELIMIT;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->max && cap - b->len < more)
        cap = cap > b->max / 2 ? b->max : cap * 2;
    if (cap > b->max)
        cap = b->max; /* more fits: it was checked against max above */
    char *p = realloc(b->p, cap);
    if (!p)
        return SF_ENOMEM;
    b->p = p;
    b->cap = cap;
    return SF_OK;
}

sf_rc kn_buf_add(kn_buf *b, const void *data, size_t n)
{
    sf_rc rc = kn_buf_reserve(b, n);
    if (rc != SF_OK)
        return rc;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    return SF_OK;
}

void kn_buf_free(kn_buf *b)
{
    free(b->p);
    *b = (kn_buf){0};
}
