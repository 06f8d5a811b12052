/* Applying metric factors to a target in the target's memory order (the fast path of
 * fi_compute): p = 1 as one product per coordinate, block-major rows as dot products of
 * contiguous rows, column blocks row by row across a chunk of blocks. Each block's sums run in
 * a fixed order whatever the chunk or thread, so results are bitwise reproducible. */
#include "solve/metric_build.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE void single_body(fi_dtype dt, const void *g, int64_t step, const double *w,
                               int64_t first, int64_t last, double *out, bool accumulate)
{
    if (accumulate) {
        for (int64_t b = first; b < last; b++) {
            const double x = w[b] * fi__load(dt, g, b * step);
            out[b] += x * x;
        }
    } else {
        for (int64_t b = first; b < last; b++) {
            const double x = w[b] * fi__load(dt, g, b * step);
            out[b] = x * x;
        }
    }
}

void fi__apply_single(fi_dtype dt, const void *g, int64_t step, const double *w, int64_t first,
                      int64_t last, double *out, bool accumulate)
{
    switch (dt) {
    case FI_F32: single_body(FI_F32, g, step, w, first, last, out, accumulate); break;
    case FI_F64: single_body(FI_F64, g, step, w, first, last, out, accumulate); break;
    case FI_BF16: single_body(FI_BF16, g, step, w, first, last, out, accumulate); break;
    default: single_body(FI_F16, g, step, w, first, last, out, accumulate); break;
    }
}

/* Eight independent partial sums (vectorizable without reassociating any one of them), then
 * added in a fixed tree. */
ALWAYS_INLINE double dot_body(fi_dtype dt, const void *g, int64_t c0, int64_t p, const double *w)
{
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= p; j += 8)
        for (int l = 0; l < 8; l++) acc[l] += w[j + l] * fi__load(dt, g, c0 + j + l);
    for (; j < p; j++) acc[j % 8] += w[j] * fi__load(dt, g, c0 + j);
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

ALWAYS_INLINE double row_body(fi_dtype dt, const void *g, int64_t c0, int64_t p, int64_t r,
                              const double *W)
{
    double fi = 0;
    for (int64_t q = 0; q < r; q++) {
        const double x = dot_body(dt, g, c0, p, W + q * p);
        fi += x * x;
    }
    return fi;
}

double fi__apply_row(fi_dtype dt, const void *g, int64_t c0, int64_t p, int64_t r,
                     const double *W)
{
    switch (dt) {
    case FI_F32: return row_body(FI_F32, g, c0, p, r, W);
    case FI_F64: return row_body(FI_F64, g, c0, p, r, W);
    case FI_BF16: return row_body(FI_BF16, g, c0, p, r, W);
    default: return row_body(FI_F16, g, c0, p, r, W);
    }
}

ALWAYS_INLINE void columns_body(fi_dtype dt, const void *g, int64_t b0, int64_t nb, int64_t p,
                                int64_t stride, int64_t count, int64_t cap, const double *W,
                                double (*x)[FI_METRIC_CHUNK])
{
    for (int64_t j = 0; j < p; j++) {
        double gj[FI_METRIC_CHUNK];
        for (int64_t b = 0; b < nb; b++) gj[b] = fi__load(dt, g, b0 + b + j * stride);
        for (int64_t q = 0; q < cap; q++) {
            const double *w = W + (j * cap + q) * count + b0;
            for (int64_t b = 0; b < nb; b++) x[q][b] += w[b] * gj[b];
        }
    }
}

void fi__apply_columns(fi_dtype dt, const void *g, int64_t b0, int64_t nb, int64_t p,
                       int64_t stride, int64_t count, int64_t cap, const double *W,
                       double *out, bool accumulate)
{
    double x[FI_GRAM_MAX_K][FI_METRIC_CHUNK];
    for (int64_t q = 0; q < cap; q++)
        for (int64_t b = 0; b < nb; b++) x[q][b] = 0;
    switch (dt) {
    case FI_F32: columns_body(FI_F32, g, b0, nb, p, stride, count, cap, W, x); break;
    case FI_F64: columns_body(FI_F64, g, b0, nb, p, stride, count, cap, W, x); break;
    case FI_BF16: columns_body(FI_BF16, g, b0, nb, p, stride, count, cap, W, x); break;
    default: columns_body(FI_F16, g, b0, nb, p, stride, count, cap, W, x); break;
    }
    for (int64_t b = 0; b < nb; b++) {
        double fi = 0;
        for (int64_t q = 0; q < cap; q++) fi += x[q][b] * x[q][b];
        out[b0 + b] = accumulate ? out[b0 + b] + fi : fi;
    }
}
