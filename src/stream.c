/* Streaming kernels of fi_direct for the layouts that dominate real use, float32/float64
 * scores used as given (strict class mode): elements, contiguous blocks (rows, pixels) and
 * strided blocks (columns), the latter streamed row by row for a chunk of columns at a time.
 * Loops are written with fixed-order partial sums so that the compiler can vectorize them
 * and results stay bitwise identical for any thread count. */
#include "stream.h"

#define CHUNK 256 /* coordinates converted to double at a time */
#define COLS 32   /* column blocks streamed together */

static inline void load_row(fi_dtype dt, const void *base, int64_t off, int64_t len, int64_t inc,
                            double scale, double *dst)
{
    if (dt == FI_F32) {
        const float *x = (const float *)base + off;
        for (int64_t j = 0; j < len; j++) dst[j] = scale * (double)x[j * inc];
    } else {
        const double *x = (const double *)base + off;
        for (int64_t j = 0; j < len; j++) dst[j] = scale * x[j * inc];
    }
}

bool fi__stream_supported(const fi_problem *pb, const fi_layout *l)
{
    return !l->indexed && pb->adjust == FI_ADJUST_NONE &&
           (pb->dtype == FI_F32 || pb->dtype == FI_F64) && pb->k_eff <= FI_GRAM_MAX_K;
}

void fi__stream_elements(const fi_problem *pb, const fi_layout *l, const void *target, int64_t k,
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
            if (!target && i == k)
                for (int64_t j = 0; j < len; j++) g[j] = x[j];
        }
        if (target) load_row(pb->dtype, target, b0 * step, len, step, 1.0, g);
        /* sigma = sqrt(d) counts when sigma > max(atol, rcond*sigma): d > atol^2 and rcond < 1. */
        const double floor2 = rcond < 1 ? atol * atol : INFINITY;
        for (int64_t j = 0; j < len; j++) {
            double fi = (d[j] > 0 && d[j] > floor2) ? g[j] * g[j] / d[j] : 0.0;
            if (!isfinite(fi) || !(d[j] > 1e-280) || !isfinite(d[j])) {
                /* extreme magnitudes: redo this coordinate on rescaled values */
                double s[FI_GRAM_MAX_K];
                const int64_t c = (b0 + j) * step;
                for (int64_t i = 0; i < K; i++) s[i] = fi__load(pb->dtype, pb->scores, i * pb->ld + c);
                const double gj = target ? fi__load(pb->dtype, target, c) : s[k];
                fi = fi__element_fi(pb->prob, s, K, gj, rcond, atol);
            }
            out[b0 + j] = accumulate ? out[b0 + j] + fi : fi;
        }
    }
}

/* Sums of one block of contiguous (stride 1) or strided coordinates, chunk by chunk. */
void fi__stream_block_sums(const fi_problem *pb, const fi_layout *l, int64_t b, const void *target,
                           int64_t k, fi_gram *gm)
{
    const int64_t K = pb->k_eff, p = l->affine.size, inc = l->affine.stride;
    double x[FI_GRAM_MAX_K][CHUNK], g[CHUNK], m[CHUNK];
    memset(gm, 0, sizeof *gm);
    for (int64_t j0 = 0; j0 < p; j0 += CHUNK) {
        const int64_t len = p - j0 < CHUNK ? p - j0 : CHUNK;
        const int64_t off = b * l->affine.step + j0 * inc;
        for (int64_t j = 0; j < len; j++) m[j] = 0;
        for (int64_t i = 0; i < K; i++) {
            load_row(pb->dtype, pb->scores, i * pb->ld + off, len, inc, pb->sqrt_prob[i], x[i]);
            for (int64_t j = 0; j < len; j++) m[j] += pb->sqrt_prob[i] * x[i][j];
        }
        if (target) load_row(pb->dtype, target, off, len, inc, 1.0, g);
        else
            for (int64_t j = 0; j < len; j++) g[j] = x[k][j] / pb->sqrt_prob[k];
        for (int64_t i = 0; i < K; i++) {
            for (int64_t c = i; c < K; c++) {
                double acc[8] = {0};
                int64_t j = 0;
                for (; j + 8 <= len; j += 8)
                    for (int u = 0; u < 8; u++) acc[u] += x[i][j + u] * x[c][j + u];
                for (; j < len; j++) acc[0] += x[i][j] * x[c][j];
                gm->c[i * K + c] += ((acc[0] + acc[4]) + (acc[1] + acc[5])) +
                                    ((acc[2] + acc[6]) + (acc[3] + acc[7]));
            }
            double acc[8] = {0};
            int64_t j = 0;
            for (; j + 8 <= len; j += 8)
                for (int u = 0; u < 8; u++) acc[u] += x[i][j + u] * g[j + u];
            for (; j < len; j++) acc[0] += x[i][j] * g[j];
            gm->t[i] += ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        }
        double acc = 0;
        for (int64_t j = 0; j < len; j++) acc += m[j] * m[j];
        gm->mean2 += acc;
    }
}

/* Sums of COLS strided blocks b0.. at once, streaming the coordinates j in order: for each j
 * the blocks' coordinates b*step + j*stride are contiguous when step == 1 (columns of a
 * row-major matrix), so every cache line read is used whole. */
void fi__stream_column_sums(const fi_problem *pb, const fi_layout *l, int64_t b0, int64_t nb,
                            const void *target, int64_t k, fi_gram *gm)
{
    const int64_t K = pb->k_eff, p = l->affine.size, step = l->affine.step, inc = l->affine.stride;
    double x[FI_GRAM_MAX_K][COLS], g[COLS];
    for (int64_t b = 0; b < nb; b++) memset(&gm[b], 0, sizeof gm[b]);
    for (int64_t j = 0; j < p; j++) {
        const int64_t off = b0 * step + j * inc;
        for (int64_t i = 0; i < K; i++)
            load_row(pb->dtype, pb->scores, i * pb->ld + off, nb, step, pb->sqrt_prob[i], x[i]);
        if (target) load_row(pb->dtype, target, off, nb, step, 1.0, g);
        else
            for (int64_t b = 0; b < nb; b++) g[b] = x[k][b] / pb->sqrt_prob[k];
        for (int64_t b = 0; b < nb; b++) {
            double m = 0;
            for (int64_t i = 0; i < K; i++) m += pb->sqrt_prob[i] * x[i][b];
            gm[b].mean2 += m * m;
        }
        for (int64_t i = 0; i < K; i++) {
            for (int64_t c = i; c < K; c++)
                for (int64_t b = 0; b < nb; b++) gm[b].c[i * K + c] += x[i][b] * x[c][b];
            for (int64_t b = 0; b < nb; b++) gm[b].t[i] += x[i][b] * g[b];
        }
    }
}

int64_t fi__stream_columns_per_pass(void) { return COLS; }
