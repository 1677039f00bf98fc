/* asl/rng.h - the engine's only source of randomness (UUIDs, MathRandom,
 * retry jitter). Seeded by the caller so that replaying an execution's events
 * gives the same history. splitmix64: tiny, fast, good enough for these uses;
 * not for secrets. */
#ifndef ASL_RNG_H
#define ASL_RNG_H

#include <stdint.h>

typedef struct asl_rng {
    uint64_t s;
} asl_rng;

static inline uint64_t asl_rng_next(asl_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform double in [0, 1). */
static inline double asl_rng_unit(asl_rng *r)
{
    return (double)(asl_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

#endif
