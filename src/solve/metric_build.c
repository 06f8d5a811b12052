/* Streaming construction of the metric: p = 1 by its closed form over a chunk of coordinates,
 * Gram blocks (p >= K) as W = A S^T with A = diag(1/lambda) U^T diag(sqrt(P)) from the K x K
 * Gram factor (U, lambda) of src/solve/eigen.c. With B = S diag(sqrt(P)) = U_B Sigma V^T and
 * B^T B = V Sigma^2 V^T = U diag(lambda) U^T, U_B^T = Sigma^-1 V^T B^T, so
 * diag(1/sigma) U_B^T = diag(1/lambda) U^T B^T exactly: the factor the SVD gives, up to the
 * signs of its rows, which FI = |W g|^2 and the projections never see. */
#include "solve/metric_build.h"
#include "solve/eigen.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Every Gram sum finite: x * 0 is NaN exactly for non-finite x, and every score reaches a
 * diagonal sum of squares, where inf and NaN cannot cancel. */
static bool sums_finite(const fi_gram *gm, int64_t K)
{
    double acc = gm->mean2 * 0;
    for (int64_t i = 0; i < K; i++)
        for (int64_t c = i; c < K; c++) acc += gm->c[i * K + c] * 0;
    return acc == 0;
}

ALWAYS_INLINE void single_body(fi_dtype dt, const fi_problem *pb, int64_t step, int64_t first,
                               int64_t nb, double *d)
{
    const int64_t K = pb->k_eff;
    for (int64_t b = 0; b < nb; b++) d[b] = 0;
    for (int64_t i = 0; i < K; i++) {
        const double P = pb->prob[i];
        const int64_t base = i * pb->ld + first * step;
        for (int64_t b = 0; b < nb; b++) {
            const double s = fi__load(dt, pb->scores, base + b * step);
            d[b] += P * s * s;
        }
    }
}

void fi__metric_single(const fi_problem *pb, int64_t step, double rcond, double atol,
                       int64_t first, int64_t nb, double *c, unsigned char *ok)
{
    double d[FI_METRIC_CHUNK];
    switch (pb->dtype) {
    case FI_F32: single_body(FI_F32, pb, step, first, nb, d); break;
    case FI_F64: single_body(FI_F64, pb, step, first, nb, d); break;
    case FI_BF16: single_body(FI_BF16, pb, step, first, nb, d); break;
    default: single_body(FI_F16, pb, step, first, nb, d); break;
    }
    /* Within [2^-900, 2^900] no term of d underflowed to matter or overflowed, and 1/d is the
     * closed form of fact 1 (the rank is 1 unless sigma <= atol or rcond >= 1); outside, or
     * for NaN, the scaled scalar form decides. */
    for (int64_t b = 0; b < nb; b++) {
        const bool safe = d[b] >= 0x1p-900 && d[b] <= 0x1p900; /* and so is 1/d */
        ok[b] = safe;
        c[first + b] = safe && sqrt(d[b]) > atol && rcond < 1 ? 1.0 / d[b] : 0.0;
    }
}

bool fi__metric_coefficients(const fi_gram *gm, const fi_problem *pb, int64_t p, double psum,
                             double rcond, double atol, double *A, double *sigma, int64_t *rank)
{
    const int64_t K = pb->k_eff;
    double lam[FI_GRAM_MAX_K], U[FI_GRAM_MAX_K * FI_GRAM_MAX_K];
    double gw[7 * FI_GRAM_MAX_K * FI_GRAM_MAX_K]; /* fi__gram_work_doubles(K), K <= 16 here */
    int64_t r = 0;
    if (K > FI_GRAM_MAX_K || !sums_finite(gm, K) ||
        !fi__gram_factor(gm, K, pb->sqrt_prob, psum, rcond, atol, p, pb->dtype != FI_F64, lam,
                         U, &r, gw))
        return false;
    for (int64_t q = 0; q < K; q++) {
        if (q < r && !(lam[q] > 0 && isfinite(1.0 / lam[q]))) return false;
        for (int64_t i = 0; i < K; i++)
            A[q * K + i] = q < r ? U[i * K + q] * pb->sqrt_prob[i] / lam[q] : 0.0;
    }
    for (int64_t q = 0; q < r; q++) sigma[q] = sqrt(lam[q]);
    *rank = r;
    return true;
}

void fi__metric_copy_columns(const fi_problem *pb, int64_t b0, int64_t nb, int64_t p,
                             int64_t stride, int64_t count, void *copy)
{
    const int64_t K = pb->k_eff;
    const size_t e = fi__dtype_bytes(pb->dtype);
    const char *src = pb->scores;
    char *dst = copy;
    for (int64_t j = 0; j < p; j++)
        for (int64_t i = 0; i < K; i++)
            memcpy(dst + (size_t)((j * K + i) * count + b0) * e,
                   src + (size_t)(i * pb->ld + b0 + j * stride) * e, (size_t)nb * e);
}

/* Cholesky factor of a block's p x p metric and its inverse; false unless every pivot is
 * positive and every entry finite (the kernel's test already proved the block well
 * conditioned, so this only guards the arithmetic). */
static bool inverse_cholesky(const fi_problem *pb, const fi_blocks *bl, int64_t b, double *W)
{
    const int64_t p = bl->size, K = pb->k_eff;
    double s[4][FI_GRAM_MAX_K], G[4][4], L[4][4];
    for (int64_t j = 0; j < p; j++)
        for (int64_t i = 0; i < K; i++)
            s[j][i] = fi__load(pb->dtype, pb->scores, i * pb->ld + b * bl->step + j * bl->stride);
    for (int64_t a = 0; a < p; a++)
        for (int64_t c = 0; c <= a; c++) {
            double x = 0;
            for (int64_t i = 0; i < K; i++) x += pb->prob[i] * s[a][i] * s[c][i];
            G[a][c] = x;
        }
    for (int64_t a = 0; a < p; a++) {
        for (int64_t c = 0; c <= a; c++) {
            double x = G[a][c];
            for (int64_t e = 0; e < c; e++) x -= L[a][e] * L[c][e];
            if (a == c) {
                if (!(x > 0)) return false;
                L[a][a] = sqrt(x);
            } else {
                L[a][c] = x / L[c][c];
            }
        }
    }
    /* W = L^-1 by forward substitution, column by column (lower triangular) */
    bool finite = true;
    for (int64_t c = 0; c < p; c++)
        for (int64_t a = 0; a < p; a++) {
            double x = a == c ? 1.0 : 0.0;
            for (int64_t e = c; e < a; e++) x -= L[a][e] * W[e * p + c];
            W[a * p + c] = a < c ? 0.0 : x / L[a][a];
            finite = finite && isfinite(W[a * p + c]);
        }
    return finite;
}

void fi__metric_pixels(const fi_kernels *kern, const fi_problem *pb, const fi_blocks *bl,
                       int64_t b0, int64_t nb, double rcond, double atol, double *W,
                       unsigned char *ok)
{
    double fi[FI_PIXEL_CHUNK];
    const int64_t p = bl->size;
    kern->pixels(pb, bl, b0, nb, pb->scores, 0, rcond, atol, fi, ok);
    for (int64_t j = 0; j < nb; j++)
        if (ok[j]) ok[j] = inverse_cholesky(pb, bl, b0 + j, W + (b0 + j) * p * p);
}
