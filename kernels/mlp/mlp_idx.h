/* kernels/mlp/mlp_idx.h - IDX files (MNIST, Fashion-MNIST), gzipped or not.
 *
 * IDX is LeCun's format for the MNIST family: a magic (two zero bytes, a
 * type byte, a dimension count), the dimensions as big-endian 32-bit
 * integers, then the values. Only unsigned bytes (type 0x08) are read:
 * that is what image and label files hold. Unlike kernels/formats/,
 * a file is read whole; it is for data sets that fit in memory, which is
 * what the MNIST family is (tests and the bench train on it). */
#ifndef KN_MLP_IDX_H
#define KN_MLP_IDX_H

#include "kernels/kn_algo.h"

#define KN_IDX_MAX_DIMS 4
#define KN_IDX_MAX_BYTES ((size_t)1 << 31) /* refuse a header that asks for more */

typedef struct kn_idx {
    size_t ndims;
    size_t dims[KN_IDX_MAX_DIMS]; /* dims[0] is the item count */
    size_t item;                  /* bytes per item: the product of dims[1..] */
    uint8_t *data;                /* dims[0] × item bytes, owned */
} kn_idx;

/* Reads path (gzip or plain). Errors name the file and what is wrong: not
 * IDX, a type other than unsigned bytes, truncated, trailing bytes, a bad
 * gzip stream. */
sf_rc kn_idx_load(const char *path, kn_idx **out, kn_err *err);
void kn_idx_destroy(kn_idx **idx);

/* A kn_source over images (N items) and labels (N single bytes), both
 * borrowed: rows of item floats, the raw byte values (0..255). */
typedef struct kn_idx_cursor {
    const kn_idx *images, *labels;
    size_t pos, limit;
} kn_idx_cursor;

/* limit 0: every item; else at most the first limit items. */
sf_rc kn_idx_source(kn_idx_cursor *c, const kn_idx *images, const kn_idx *labels, size_t limit,
                    kn_source *out, kn_err *err);

#endif
