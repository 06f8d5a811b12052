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

bool fi__metric_coefficients(const fi_gram *gm, const fi_problem *pb, double psum, double rcond,
                             double atol, double *A, double *sigma, int64_t *rank)
{
    const int64_t K = pb->k_eff;
    double lam[FI_GRAM_MAX_K], U[FI_GRAM_MAX_K * FI_GRAM_MAX_K];
    int64_t r = 0;
    if (!sums_finite(gm, K) ||
        !fi__gram_factor(gm, K, pb->sqrt_prob, psum, rcond, atol, lam, U, &r))
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
