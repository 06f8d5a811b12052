/* A small seeded generator (splitmix64): the same numbers on every platform, no global state. */
#ifndef TF_RNG_H
#define TF_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct tf_rng {
    uint64_t state;
} tf_rng;

static inline void tf_rng_seed(tf_rng *r, uint64_t seed)
{
    r->state = seed;
}

/* Next 64 random bits (splitmix64). */
static inline uint64_t tf_rng_u64(tf_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1), 53 bits. */
static inline double tf_rng_uniform(tf_rng *r)
{
    return (double)(tf_rng_u64(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n), n >= 1 (the modulo bias is below 2^-50 for the small n used). */
static inline int tf_rng_int(tf_rng *r, int n)
{
    return (int)(tf_rng_u64(r) % (uint64_t)n);
}

/* Standard normal (Box-Muller, one value per call: simple and reproducible). */
static inline double tf_rng_normal(tf_rng *r)
{
    const double u1 = 1.0 - tf_rng_uniform(r), u2 = tf_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif
