/* The examples' only source of randomness: a seeded splitmix64 stream, so every run of the
 * demo and the tests sees the same initialization, minibatches and shuffles. */
#ifndef MLP_RNG_H
#define MLP_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct rng {
    uint64_t state;
} rng;

/* Next 64 random bits. */
static inline uint64_t rng_next(rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1): never exactly 0, so log() of it is finite. */
static inline double rng_uniform(rng *r)
{
    return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

/* Uniform integer in [0, n) (n small: the modulo bias is below 2^-40). */
static inline int rng_below(rng *r, int n)
{
    return (int)(rng_next(r) % (uint64_t)n);
}

/* Standard normal (Box-Muller; one of the pair is dropped, simplicity over speed). */
static inline double rng_gauss(rng *r)
{
    const double u = rng_uniform(r), v = rng_uniform(r);
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

#endif
