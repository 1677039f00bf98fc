/* common/sf_hmap.h - a hash map from byte strings to pointers.
 *
 * Open addressing with linear probing and tombstones, FNV-1a hashing.
 * Keys are copied into the map; values are the caller's. Not thread-safe:
 * the owner serialises access. */
#ifndef SF_HMAP_H
#define SF_HMAP_H

#include <stddef.h>
#include <stdint.h>

#include "sf_rc.h"

typedef struct sf_hmap_slot {
    char *key; /* NULL: empty; SF_HMAP_TOMBSTONE: deleted */
    size_t klen;
    uint64_t hash;
    void *value;
} sf_hmap_slot;

typedef struct sf_hmap {
    sf_hmap_slot *slots;
    size_t cap;  /* a power of two, or 0 */
    size_t used; /* live keys plus tombstones */
    size_t live;
} sf_hmap;

void *sf_hmap_get(const sf_hmap *m, const void *key, size_t klen);
/* Sets key to value, replacing any earlier value. */
sf_rc sf_hmap_put(sf_hmap *m, const void *key, size_t klen, void *value);
/* Removes key; returns its value or NULL. */
void *sf_hmap_del(sf_hmap *m, const void *key, size_t klen);
void sf_hmap_free(sf_hmap *m);

/* Conveniences for NUL-terminated strings and 64-bit ids. */
static inline void *sf_hmap_gets(const sf_hmap *m, const char *k)
{
    return sf_hmap_get(m, k, __builtin_strlen(k));
}
static inline void *sf_hmap_getu(const sf_hmap *m, uint64_t k)
{
    return sf_hmap_get(m, &k, sizeof k);
}
static inline sf_rc sf_hmap_putu(sf_hmap *m, uint64_t k, void *v)
{
    return sf_hmap_put(m, &k, sizeof k, v);
}
static inline void *sf_hmap_delu(sf_hmap *m, uint64_t k)
{
    return sf_hmap_del(m, &k, sizeof k);
}

/* Iterates: i starts at 0; returns the next live slot or NULL at the end. */
sf_hmap_slot *sf_hmap_next(const sf_hmap *m, size_t *i);

#endif
