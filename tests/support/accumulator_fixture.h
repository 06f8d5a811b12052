/* The fixture of the accumulator suites (tests/check_accumulator.c,
 * tests/check_accumulator_format.c): a context, seeded numbers, serialized images and their
 * byte-level decoding after the spec of docs/aggregation.md, and an exact expansion sum. Each
 * including file has its own copy. */
#ifndef FI_TEST_ACCUMULATOR_FIXTURE_H
#define FI_TEST_ACCUMULATOR_FIXTURE_H

#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fi.h"

static fi_context *ctx;
static inline void setup(void) { ck_assert_int_eq(fi_context_create(&ctx), FI_OK); }
static inline void teardown(void) { fi_context_free(ctx); }

/* ---- helpers ---- */

static inline uint64_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t z = *s;
    z ^= z >> 33;
    z *= 0xff51afd7ed558ccdull;
    return z ^ (z >> 33);
}
static inline double rng_unif(uint64_t *s) { return (double)(rng_next(s) >> 11) * 0x1p-53; }
static inline double rng_normal(uint64_t *s)
{
    return sqrt(-2 * log(rng_unif(s) + 1e-300)) * cos(6.283185307179586 * rng_unif(s));
}

/* Serialized image of acc (malloc'd), its size in *size. */
static inline unsigned char *image_of(const fi_accumulator *acc, size_t *size)
{
    *size = fi_accumulator_serialized_size(acc);
    ck_assert_uint_gt(*size, 0);
    unsigned char *buf = malloc(*size);
    ck_assert_int_eq(fi_accumulator_serialize(ctx, acc, buf, *size), FI_OK);
    return buf;
}

static inline void ck_same_image(const fi_accumulator *a, const fi_accumulator *b)
{
    size_t na, nb;
    unsigned char *x = image_of(a, &na), *y = image_of(b, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(x, y, na) == 0, "images differ");
    free(x);
    free(y);
}

static inline void le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint64_t rd64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* The checksum of docs/aggregation.md, written from the spec. */
static inline uint64_t spec_checksum(const unsigned char *p, size_t n)
{
    uint64_t h = 0x4c49424649414343ull;
    for (size_t i = 0; i < n; i += 8) {
        h = (h ^ rd64(p + i)) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 32;
    }
    return h;
}
static inline void reseal(unsigned char *img, size_t size) { le64(img + size - 8, spec_checksum(img, size - 8)); }

/* Value of the sum stored at q in a format-2 image: sum_i c_i 2^(30 (top - i) - 1074). */
static inline long double spec_value(const unsigned char *q)
{
    const int64_t top = (int64_t)rd64(q);
    long double v = 0;
    if (top < 0) return 0;
    for (int i = 0; i < 4; i++)
        v += ldexpl((long double)(int64_t)rd64(q + 8 + 8 * i), (int)(30 * (top - i) - 1074));
    return v;
}

/* Exact sum of doubles as a nonoverlapping expansion (Shewchuk's GROW-EXPANSION with
 * TwoSum), then the components added smallest first: an independent reference. */
static inline double expansion_sum(const double *t, int n)
{
    double *e = calloc((size_t)n + 1, sizeof *e);
    int m = 0;
    for (int k = 0; k < n; k++) {
        double q = t[k];
        int mm = 0;
        for (int i = 0; i < m; i++) {
            const double s = q + e[i], bv = s - q, err = (q - (s - bv)) + (e[i] - bv);
            if (err != 0) e[mm++] = err;
            q = s;
        }
        e[mm++] = q;
        m = mm;
    }
    long double r = 0;
    for (int i = 0; i < m; i++) r += e[i];
    free(e);
    return (double)r;
}

#endif
