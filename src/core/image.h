/* Serialized images of the 1.2 workflow objects (src/api/mean.c, src/aggregate/threshold.c):
 * little-endian words and the image checksum. Nothing here is ABI. */
#ifndef FI_CORE_IMAGE_H
#define FI_CORE_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void fi__image_put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t fi__image_get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline void fi__image_put_f64(unsigned char *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    fi__image_put_u64(p, v);
}

static inline double fi__image_get_f64(const unsigned char *p)
{
    const uint64_t v = fi__image_get_u64(p);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

/* The checksum of the accumulator's format 2 (src/accumulator.c), seeded with the image's
 * magic: h = (h ^ word) * P, h ^= h >> 32 over little-endian words. */
static inline uint64_t fi__image_checksum(uint64_t seed, const unsigned char *p, size_t n)
{
    uint64_t h = seed;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        h = (h ^ fi__image_get_u64(p + i)) * UINT64_C(0x9e3779b97f4a7c15);
        h ^= h >> 32;
    }
    return h;
}

#endif
