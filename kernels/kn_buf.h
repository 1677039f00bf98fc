/* kernels/kn_buf.h - a growable byte buffer with a hard cap.
 *
 * For output built in memory before it is written (a transform's
 * response, a row of predictions): it grows by doubling up to max and
 * never past it, so a caller bounds its memory by choosing max. */
#ifndef KN_BUF_H
#define KN_BUF_H

#include <stddef.h>

#include "common/sf_rc.h"

/* Zero-initialise with max set: (kn_buf){.max = N}. p is owned. */
typedef struct kn_buf {
    char *p;
    size_t len, cap, max;
} kn_buf;

/* Makes room for more bytes after len: SF_ELIMIT when that would pass
 * max, SF_ENOMEM when memory runs out; no message either way (the caller
 * knows what the buffer is for). */
sf_rc kn_buf_reserve(kn_buf *b, size_t more);
/* Appends n bytes of data (reserve, then copy). */
sf_rc kn_buf_add(kn_buf *b, const void *data, size_t n);
/* Frees p and zeroes the buffer (max included). */
void kn_buf_free(kn_buf *b);

#endif
