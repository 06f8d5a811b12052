/* Applying the metric to a target in the target's memory order (the fast path of fi_compute):
 * p = 1 as one product per coordinate, a block's own factor rows as dot products, Gram blocks
 * as K dot products of the stored scores with g (rows: contiguous; columns: row by row across
 * a chunk of blocks). Each block's sums run in a fixed order whatever the chunk or thread, so
 * results are bitwise reproducible. */
#include "solve/metric_build.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* c > 0: c x^2; c < 0: (c x)^2 (store_block in src/api/metric.c); c = 0 is rank 0, FI 0
 * for any finite x (0 * (x * x) would be NaN once x * x overflows). */
ALWAYS_INLINE double single_fi(double c, double x)
{
    const double y = c * x;
    return c > 0 ? c * (x * x) : c < 0 ? y * y : 0.0;
}

ALWAYS_INLINE void single_body(fi_dtype dt, const void *g, int64_t step, const double *c,
                               int64_t first, int64_t last, double *out, bool accumulate)
{
    if (accumulate) {
        for (int64_t b = first; b < last; b++) out[b] += single_fi(c[b], fi__load(dt, g, b * step));
    } else {
        for (int64_t b = first; b < last; b++) out[b] = single_fi(c[b], fi__load(dt, g, b * step));
    }
}

void fi__apply_single(fi_dtype dt, const void *g, int64_t step, const double *c, int64_t first,
                      int64_t last, double *out, bool accumulate)
{
    switch (dt) {
    case FI_F32: single_body(FI_F32, g, step, c, first, last, out, accumulate); break;
    case FI_F64: single_body(FI_F64, g, step, c, first, last, out, accumulate); break;
    case FI_BF16: single_body(FI_BF16, g, step, c, first, last, out, accumulate); break;
    default: single_body(FI_F16, g, step, c, first, last, out, accumulate); break;
    }
}

/* Eight independent partial sums (vectorizable without reassociating any one of them), added
 * in a fixed tree. */
ALWAYS_INLINE double dot_body(fi_dtype wt, const void *w, fi_dtype dt, const void *g, int64_t c0,
                              int64_t p)
{
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= p; j += 8)
        for (int l = 0; l < 8; l++) acc[l] += fi__load(wt, w, j + l) * fi__load(dt, g, c0 + j + l);
    for (; j < p; j++) acc[j % 8] += fi__load(wt, w, j) * fi__load(dt, g, c0 + j);
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

#define DISPATCH_DT(dt, call)                                                                  \
    switch (dt) {                                                                              \
    case FI_F32: call(FI_F32); break;                                                          \
    case FI_F64: call(FI_F64); break;                                                          \
    case FI_BF16: call(FI_BF16); break;                                                        \
    default: call(FI_F16); break;                                                              \
    }

/* The same switch for the inner dtype of a nested dispatch (a macro cannot expand itself). */
#define DISPATCH_DT2(dt, call)                                                                 \
    switch (dt) {                                                                              \
    case FI_F32: call(FI_F32); break;                                                          \
    case FI_F64: call(FI_F64); break;                                                          \
    case FI_BF16: call(FI_BF16); break;                                                        \
    default: call(FI_F16); break;                                                              \
    }

double fi__apply_row(fi_dtype dt, const void *g, int64_t c0, int64_t p, int64_t r,
                     const double *W)
{
    double fi = 0;
    for (int64_t q = 0; q < r; q++) {
        double x = 0;
#define ROW(D) x = dot_body(FI_F64, W + q * p, D, g, c0, p)
        DISPATCH_DT(dt, ROW)
#undef ROW
        fi += x * x;
    }
    return fi;
}

ALWAYS_INLINE void copy_row_body(fi_dtype st, const void *copy, int64_t K, fi_dtype dt,
                                 const void *g, int64_t c0, int64_t p, double *t)
{
    const size_t e = fi__dtype_bytes(st);
    for (int64_t i = 0; i < K; i++)
        t[i] = dot_body(st, (const char *)copy + (size_t)(i * p) * e, dt, g, c0, p);
}

double fi__coef_fi(const double *A, int64_t rank, int64_t K, const double *t, int64_t tstride)
{
    double tmax = 0;
    for (int64_t i = 0; i < K; i++) {
        const double a = fabs(t[i * tstride]);
        tmax = a > tmax ? a : tmax;
    }
    if (rank == 0 || tmax == 0) return 0.0;
    if (!isfinite(tmax)) return INFINITY; /* B^T g overflowed: scores times target beyond range */
    double fi = 0;
    for (int64_t q = 0; q < rank; q++) {
        double x = 0;
        for (int64_t i = 0; i < K; i++) x += A[q * K + i] * t[i * tstride];
        fi += x * x;
    }
    if (isfinite(fi)) return fi;
    /* a product overflowed (and may have met another of opposite sign): t / 2^e is at most 1,
     * so A t / 2^e overflows only if A does */
    int e;
    frexp(tmax, &e);
    fi = 0;
    for (int64_t q = 0; q < rank; q++) {
        double x = 0;
        for (int64_t i = 0; i < K; i++) x += A[q * K + i] * ldexp(t[i * tstride], -e);
        fi += x * x;
    }
    return ldexp(fi, 2 * e);
}

double fi__apply_copy_row(fi_dtype sdt, const void *copy, int64_t K, const double *A,
                          int64_t rank, fi_dtype dt, const void *g, int64_t c0, int64_t p)
{
    double t[FI_GRAM_MAX_K];
#define INNER(D) copy_row_body(S_, copy, K, D, g, c0, p, t)
#define OUTER(S)                                                                               \
    {                                                                                          \
        const fi_dtype S_ = S;                                                                 \
        DISPATCH_DT2(dt, INNER)                                                                \
    }
    DISPATCH_DT(sdt, OUTER)
#undef INNER
#undef OUTER
    return fi__coef_fi(A, rank, K, t, 1);
}

ALWAYS_INLINE void copy_columns_body(fi_dtype st, const void *copy, int64_t K, int64_t count,
                                     fi_dtype dt, const void *g, int64_t b0, int64_t nb,
                                     int64_t p, int64_t stride, double *t)
{
    for (int64_t i = 0; i < K * nb; i++) t[i] = 0;
    for (int64_t j = 0; j < p; j++) {
        const int64_t grow = b0 + j * stride;
        for (int64_t i = 0; i < K; i++) {
            const int64_t base = (j * K + i) * count + b0;
            double *ti = t + i * nb;
            for (int64_t b = 0; b < nb; b++)
                ti[b] += fi__load(st, copy, base + b) * fi__load(dt, g, grow + b);
        }
    }
}

void fi__apply_copy_columns(fi_dtype sdt, const void *copy, int64_t K, int64_t count,
                            fi_dtype dt, const void *g, int64_t b0, int64_t nb, int64_t p,
                            int64_t stride, double *t)
{
#define INNER(D) copy_columns_body(S_, copy, K, count, D, g, b0, nb, p, stride, t)
#define OUTER(S)                                                                               \
    {                                                                                          \
        const fi_dtype S_ = S;                                                                 \
        DISPATCH_DT2(dt, INNER)                                                                \
    }
    DISPATCH_DT(sdt, OUTER)
#undef INNER
#undef OUTER
}
