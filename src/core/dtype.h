/* Element types of scores and targets: loads widened to double (exact: every dtype is a
 * subset of double), sizes, and the one non-finite scan (src/core/dtype.c). */
#ifndef FI_CORE_DTYPE_H
#define FI_CORE_DTYPE_H

#include "core/core.h"

double fi__half_to_double(uint16_t h);

static inline double fi__bf16_to_double(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return (double)f;
}

static inline double fi__load(fi_dtype dtype, const void *base, int64_t i)
{
    switch (dtype) {
    case FI_F64: return ((const double *)base)[i];
    case FI_F32: return (double)((const float *)base)[i];
    case FI_BF16: return fi__bf16_to_double(((const uint16_t *)base)[i]);
    default: return fi__half_to_double(((const uint16_t *)base)[i]);
    }
}

static inline bool fi__dtype_valid(int dtype)
{
    return dtype == FI_F64 || dtype == FI_F32 || dtype == FI_BF16 || dtype == FI_F16;
}

/* Bytes of one value of a valid dtype. */
static inline int64_t fi__dtype_bytes(fi_dtype dtype)
{
    return dtype == FI_F64 ? 8 : dtype == FI_F32 ? 4 : 2;
}

/* Index of the first non-finite value of x[0..n) of dtype, or -1. */
int64_t fi__first_nonfinite(fi_dtype dtype, const void *x, int64_t n);

#endif
