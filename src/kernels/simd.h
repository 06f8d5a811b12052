/* Vector helpers shared by the kernel families of src/kernels/ (each family is one file,
 * compiled once per instruction set; see src/kernels/kernels.h). Written with the GCC/Clang
 * vector extension on 4 doubles: the baseline build lowers a vector to two SSE2 registers, the
 * AVX2 build (-mavx2 -mfma) to one. Scores are converted to double as they are loaded; every
 * sum is accumulated in double. Only static always-inline functions take or return vectors, so
 * no vector crosses a call boundary (hence no -Wpsabi note). */
#ifndef FI_KERNELS_SIMD_H
#define FI_KERNELS_SIMD_H

#include "kernels/kernels.h"

#include <float.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

#ifndef FI_KERNEL_ISA
#define FI_KERNEL_ISA portable
#endif
#define FI_CAT3_(a, b, c) a##b##c
#define FI_CAT3(a, b, c) FI_CAT3_(a, b, c)
/* The name of kernel function `name` in this instruction set's build: fi__<name>_<isa>. */
#define KFN(name) FI_CAT3(fi__, name, FI_CAT3(_, FI_KERNEL_ISA, ))
#define FI_KERNEL_DECLS_(isa) FI_KERNEL_DECLS(isa)
FI_KERNEL_DECLS_(FI_KERNEL_ISA) /* the prototypes of what this build defines */

#define INLINE static inline __attribute__((always_inline))

typedef double v4d __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));
typedef long long v4l __attribute__((vector_size(32)));
enum { W = 4 };

INLINE v4d splat(double x) { return (v4d){x, x, x, x}; }

INLINE double hsum(v4d a) { return (a[0] + a[1]) + (a[2] + a[3]); }

/* a where mask, else b (mask lanes all ones or all zeros) */
INLINE v4d select(v4l mask, v4d a, v4d b) { return (v4d)(((v4l)a & mask) | ((v4l)b & ~mask)); }

typedef uint16_t v4h __attribute__((vector_size(8)));
typedef uint32_t v4u __attribute__((vector_size(16)));

/* x[i] as a double, any dtype (exact: every dtype is a subset of double) */
INLINE double load1(fi_dtype dt, const void *base, int64_t i)
{
    switch (dt) {
    case FI_F64: return ((const double *)base)[i];
    case FI_F32: return (double)((const float *)base)[i];
    default: return fi__load(dt, base, i);
    }
}

/* x[i..i+4) as doubles. bfloat16 is the upper half of a binary32; float16 goes through F16C
 * where the build has it, else through the scalar decoder. */
INLINE v4d load4(fi_dtype dt, const void *base, int64_t i)
{
    if (dt == FI_BF16) {
        v4h h;
        memcpy(&h, (const uint16_t *)base + i, sizeof h);
        const v4u u = __builtin_convertvector(h, v4u) << 16;
        return __builtin_convertvector((v4f)u, v4d);
    }
    if (dt == FI_F16) {
#ifdef __F16C__
        return (v4d)_mm256_cvtps_pd(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)((const uint16_t *)base + i))));
#else
        return (v4d){load1(dt, base, i), load1(dt, base, i + 1), load1(dt, base, i + 2),
                     load1(dt, base, i + 3)};
#endif
    }
#ifdef __AVX2__
    if (dt == FI_F32) return (v4d)_mm256_cvtps_pd(_mm_loadu_ps((const float *)base + i));
    return (v4d)_mm256_loadu_pd((const double *)base + i);
#else
    if (dt == FI_F32) {
        v4f f;
        memcpy(&f, (const float *)base + i, sizeof f);
        return __builtin_convertvector(f, v4d);
    }
    v4d d;
    memcpy(&d, (const double *)base + i, sizeof d);
    return d;
#endif
}

/* x[i..i+n), n < 4, zero padded: tails go through the same vector arithmetic as the body */
INLINE v4d load_part(fi_dtype dt, const void *base, int64_t i, int64_t n)
{
    v4d d = splat(0);
    for (int64_t j = 0; j < n; j++) d[j] = load1(dt, base, i + j);
    return d;
}

INLINE v4d load_n(fi_dtype dt, const void *base, int64_t i, int64_t n)
{
    return n == W ? load4(dt, base, i) : load_part(dt, base, i, n);
}

/* One instantiation per dtype: M(A, dtype) for the problem's dtype. */
#define BY_DTYPE(M, A)                                                                      \
    (pb->dtype == FI_F32    ? M(A, FI_F32)                                                   \
     : pb->dtype == FI_F64  ? M(A, FI_F64)                                                   \
     : pb->dtype == FI_BF16 ? M(A, FI_BF16)                                                  \
                            : M(A, FI_F16))

INLINE void store_n(double *dst, v4d v, int64_t n)
{
    if (n == W) {
        memcpy(dst, &v, sizeof v);
    } else {
        for (int64_t j = 0; j < n; j++) dst[j] = v[j];
    }
}

#endif
