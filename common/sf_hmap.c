/* common/sf_hmap.c - see sf_hmap.h. */
#include "sf_hmap.h"

#include <stdlib.h>
#include <string.h>

static char tombstone;
#define SF_HMAP_TOMBSTONE (&tombstone)

static uint64_t fnv1a(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* The slot holding key, or the empty slot where it would go (the first
 * tombstone on the way, when there is one). NULL only when cap is 0. */
static sf_hmap_slot *find(const sf_hmap *m, const void *key, size_t klen, uint64_t h)
{
    if (m->cap == 0)
        return NULL;
    sf_hmap_slot *grave = NULL;
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        sf_hmap_slot *s = &m->slots[i];
        if (!s->key)
            return grave ? grave : s;
        if (s->key == SF_HMAP_TOMBSTONE) {
            if (!grave)
                grave = s;
        } else if (s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0) {
            return s;
        }
    }
}

static int is_live(const sf_hmap_slot *s)
{
    return s && s->key && s->key != SF_HMAP_TOMBSTONE;
}

void *sf_hmap_get(const sf_hmap *m, const void *key, size_t klen)
{
    sf_hmap_slot *s = find(m, key, klen, fnv1a(key, klen));
    return is_live(s) ? s->value : NULL;
}

static sf_rc rehash(sf_hmap *m, size_t cap)
{
    sf_hmap_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return SF_ENOMEM;
    sf_hmap old = *m;
    m->slots = slots;
    m->cap = cap;
    m->used = m->live = 0;
    for (size_t i = 0; i < old.cap; i++) {
        sf_hmap_slot *o = &old.slots[i];
        if (!is_live(o))
            continue;
        sf_hmap_slot *s = find(m, o->key, o->klen, o->hash);
        *s = *o;
        m->used++;
        m->live++;
    }
    free(old.slots);
    return SF_OK;
}

sf_rc sf_hmap_put(sf_hmap *m, const void *key, size_t klen, void *value)
{
    /* Keep at most half the slots taken so probes stay short. */
    if ((m->used + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap : 16;
        while ((m->live + 1) * 2 > cap)
            cap *= 2;
        if (rehash(m, cap) != SF_OK)
            return SF_ENOMEM;
    }
    uint64_t h = fnv1a(key, klen);
    sf_hmap_slot *s = find(m, key, klen, h);
    if (is_live(s)) {
        s->value = value;
        return SF_OK;
    }
    char *k = malloc(klen + 1);
    if (!k)
        return SF_ENOMEM;
    memcpy(k, key, klen);
    k[klen] = '\0';
    if (!s->key)
        m->used++;
    *s = (sf_hmap_slot){.key = k, .klen = klen, .hash = h, .value = value};
    m->live++;
    return SF_OK;
}

void *sf_hmap_del(sf_hmap *m, const void *key, size_t klen)
{
    sf_hmap_slot *s = find(m, key, klen, fnv1a(key, klen));
    if (!is_live(s))
        return NULL;
    void *v = s->value;
    free(s->key);
    s->key = SF_HMAP_TOMBSTONE;
    s->value = NULL;
    m->live--;
    return v;
}

sf_hmap_slot *sf_hmap_next(const sf_hmap *m, size_t *i)
{
    while (*i < m->cap) {
        sf_hmap_slot *s = &m->slots[(*i)++];
        if (is_live(s))
            return s;
    }
    return NULL;
}

void sf_hmap_free(sf_hmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (is_live(&m->slots[i]))
            free(m->slots[i].key);
    free(m->slots);
    *m = (sf_hmap){0};
}
