/* Helpers shared by the 1.2 workflow objects (src/accumulator_mean.c, src/select_threshold.c,
 * src/class_stream.c): image encoding, the image checksum, finiteness scans, the default rank
 * tolerance per dtype. Nothing here is ABI. */
#ifndef FI_WORKFLOW_H
#define FI_WORKFLOW_H

#include "internal.h"

/* Unit roundoff of a dtype's storage (main's fi__unit_roundoff). */
static inline double fi__wf_unit_roundoff(fi_dtype dtype) { return fi__unit_roundoff(dtype); }

/* The default rank tolerance of fi_direct for a p x K block of scores stored in dtype
 * (FI_OPT_RCOND, else FI_OPT_RANK_RULE's default), so that the workflow objects decide ranks
 * exactly as fi_direct does. */
static inline double fi__wf_rcond(const fi_context *ctx, fi_dtype dtype, int64_t p, int64_t k)
{
    return fi__rcond(ctx, dtype, p, k);
}

static inline void fi__wf_put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t fi__wf_get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline void fi__wf_put_f64(unsigned char *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    fi__wf_put_u64(p, v);
}

static inline double fi__wf_get_f64(const unsigned char *p)
{
    const uint64_t v = fi__wf_get_u64(p);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

/* The checksum of the accumulator's format 2 (src/accumulator.c), seeded with the image's
 * magic: h = (h ^ word) * P, h ^= h >> 32 over little-endian words. */
static inline uint64_t fi__wf_checksum(uint64_t seed, const unsigned char *p, size_t n)
{
    uint64_t h = seed;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        h = (h ^ fi__wf_get_u64(p + i)) * UINT64_C(0x9e3779b97f4a7c15);
        h ^= h >> 32;
    }
    return h;
}

/* Index of the first non-finite value of x[0..n) in dtype (exponent bit tests), or -1. */
int64_t fi__wf_first_nonfinite(fi_dtype dtype, const void *x, int64_t n);

#endif
