/* Serialized images of the 1.2 workflow objects (src/api/mean.c, src/aggregate/threshold.c):
 * little-endian words, the image checksum and the checks every image opens with (image.c).
 * Nothing here is ABI. */
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

/* What identifies one kind of image, and the words its error messages use. */
typedef struct fi__image_kind {
    const char *magic;   /* the 8 bytes the image starts with */
    unsigned format;     /* the one format version this library reads */
    unsigned head;       /* bytes of the fixed header */
    const char *noun;    /* "mean": "a mean image header", "mean image format version" */
    const char *title;   /* "mean accumulator": "not a mean accumulator image" */
    const char *out;     /* the output parameter's name: "acc (output pointer) is NULL" */
} fi__image_kind;

struct fi_context;

/* The checks that open a deserialize: ctx, buf and out not NULL, a whole header, the magic and
 * the format version. FI_OK, or the status with the message recorded on ctx. */
int fi__image_open(struct fi_context *ctx, const fi__image_kind *kind, const void *buf,
                   size_t size, const void *out);

#endif
