/* p = 1 blocks of any affine layout, scores used as given (strict class mode): the scalar
 * streaming loop behind strided element layouts (contiguous ones take the vector kernels of
 * src/kernels/elements.c). */
#include "solve/strided.h"

#define CHUNK 256 /* coordinates converted to double at a time */

static inline void load_row(fi_dtype dt, const void *base, int64_t off, int64_t len, int64_t inc,
                            double scale, double *dst)
{
    if (dt == FI_F32) {
        const float *x = (const float *)base + off;
        for (int64_t j = 0; j < len; j++) dst[j] = scale * (double)x[j * inc];
    } else if (dt == FI_F64) {
        const double *x = (const double *)base + off;
        for (int64_t j = 0; j < len; j++) dst[j] = scale * x[j * inc];
    } else {
        for (int64_t j = 0; j < len; j++) dst[j] = scale * fi__load(dt, base, off + j * inc);
    }
}

bool fi__stream_supported(const fi_problem *pb, const fi_layout *l)
{
    return !l->indexed && pb->adjust == FI_ADJUST_NONE && pb->k_eff <= FI_GRAM_MAX_K;
}

void fi__stream_elements(const fi_problem *pb, const fi_layout *l, const void *gbase,
                         double rcond, double atol, int64_t first, int64_t last, double *out,
                         bool accumulate)
{
    const int64_t K = pb->k_eff, step = l->affine.step;
    double d[CHUNK], g[CHUNK], x[CHUNK];
    for (int64_t b0 = first; b0 < last; b0 += CHUNK) {
        const int64_t len = last - b0 < CHUNK ? last - b0 : CHUNK;
        for (int64_t j = 0; j < len; j++) d[j] = 0;
        for (int64_t i = 0; i < K; i++) {
            load_row(pb->dtype, pb->scores, i * pb->ld + b0 * step, len, step, 1.0, x);
            const double pi = pb->prob[i];
            for (int64_t j = 0; j < len; j++) d[j] += pi * x[j] * x[j];
        }
        load_row(pb->dtype, gbase, b0 * step, len, step, 1.0, g);
        /* sigma = sqrt(d) counts when sigma > max(atol, rcond*sigma): d > atol^2 and rcond < 1. */
        const double floor2 = rcond < 1 ? atol * atol : INFINITY;
        for (int64_t j = 0; j < len; j++) {
            double fi = (d[j] > 0 && d[j] > floor2) ? g[j] * g[j] / d[j] : 0.0;
            if (!isfinite(fi) || !(d[j] > 1e-280) || !isfinite(d[j])) {
                /* extreme magnitudes: redo this coordinate on rescaled values */
                double s[FI_GRAM_MAX_K];
                const int64_t c = (b0 + j) * step;
                for (int64_t i = 0; i < K; i++) s[i] = fi__load(pb->dtype, pb->scores, i * pb->ld + c);
                const double gj = fi__load(pb->dtype, gbase, c);
                fi = fi__element_fi(pb->prob, s, K, gj, rcond, atol);
            }
            out[b0 + j] = accumulate ? out[b0 + j] + fi : fi;
        }
    }
}

