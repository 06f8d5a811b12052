/* Streaming construction of metric factors: p = 1 by its closed form over a chunk of
 * coordinates, Gram blocks (p >= K) as W = diag(1/lambda) U^T B^T from the K x K Gram factor
 * (U, lambda) of src/solve/eigen.c, in a second pass over the block's scores. With
 * B = U_B Sigma V^T and B^T B = V Sigma^2 V^T = U diag(lambda) U^T, U_B^T = Sigma^-1 V^T B^T,
 * so diag(1/sigma) U_B^T = diag(1/lambda) U^T B^T exactly: the same factor the SVD gives, up to
 * the signs of its rows, which FI = |W g|^2 and the projections never see. Every block is
 * computed with a fixed operation order whatever the chunk or thread. */
#include "solve/metric_build.h"
#include "solve/eigen.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Every Gram sum finite: x * 0 is NaN exactly for non-finite x. */
static bool sums_finite(const fi_gram *gm, int64_t K)
{
    double acc = gm->mean2 * 0;
    for (int64_t i = 0; i < K; i++)
        for (int64_t c = i; c < K; c++) acc += gm->c[i * K + c] * 0;
    return acc == 0;
}

/* ---- p = 1 ---- */

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
                       int64_t first, int64_t nb, double *w, unsigned char *ok)
{
    double d[FI_METRIC_CHUNK];
    switch (pb->dtype) {
    case FI_F32: single_body(FI_F32, pb, step, first, nb, d); break;
    case FI_F64: single_body(FI_F64, pb, step, first, nb, d); break;
    case FI_BF16: single_body(FI_BF16, pb, step, first, nb, d); break;
    default: single_body(FI_F16, pb, step, first, nb, d); break;
    }
    /* Within [2^-900, 2^900] no term of d underflowed to matter or overflowed, and 1/sqrt(d)
     * is the closed form of fact 1 (the rank is 1 unless sigma <= atol or rcond >= 1); outside,
     * or for NaN, the scaled scalar form decides. */
    for (int64_t b = 0; b < nb; b++) {
        const bool safe = d[b] >= 0x1p-900 && d[b] <= 0x1p900;
        const double sv = sqrt(d[b]);
        ok[b] = safe;
        w[first + b] = safe && sv > atol && rcond < 1 ? 1.0 / sv : 0.0;
    }
}

/* ---- Gram blocks: coefficients a[q][i] = U_iq sqrt(P_i) / lambda_q of W = a S^T ---- */

static bool gram_coefficients(const fi_gram *gm, const fi_problem *pb, double psum, double rcond,
                              double atol, int64_t cap, double *a, double *sigma, int64_t *rank)
{
    const int64_t K = pb->k_eff;
    double lam[FI_GRAM_MAX_K], U[FI_GRAM_MAX_K * FI_GRAM_MAX_K];
    int64_t r = 0;
    if (!sums_finite(gm, K) ||
        !fi__gram_factor(gm, K, pb->sqrt_prob, psum, rcond, atol, lam, U, &r))
        return false;
    for (int64_t q = 0; q < cap; q++) {
        if (q < r && !(lam[q] > 0 && isfinite(1.0 / lam[q]))) return false;
        for (int64_t i = 0; i < K; i++)
            a[q * K + i] = q < r ? U[i * K + q] * pb->sqrt_prob[i] / lam[q] : 0.0;
    }
    for (int64_t q = 0; q < r; q++) sigma[q] = sqrt(lam[q]);
    *rank = r;
    return true;
}

ALWAYS_INLINE double row_pass(fi_dtype dt, const fi_problem *pb, int64_t c0, int64_t p,
                              int64_t r, const double *a, double *W)
{
    const int64_t K = pb->k_eff;
    double check = 0;
    for (int64_t j0 = 0; j0 < p; j0 += 64) {
        const int64_t len = p - j0 < 64 ? p - j0 : 64;
        double s[FI_GRAM_MAX_K][64];
        for (int64_t i = 0; i < K; i++)
            for (int64_t j = 0; j < len; j++)
                s[i][j] = fi__load(dt, pb->scores, i * pb->ld + c0 + j0 + j);
        for (int64_t q = 0; q < r; q++) {
            double *out = W + q * p + j0;
            for (int64_t j = 0; j < len; j++) {
                double x = 0;
                for (int64_t i = 0; i < K; i++) x += a[q * K + i] * s[i][j];
                out[j] = x;
                check += x * 0;
            }
        }
    }
    return check;
}

bool fi__metric_row(const fi_kernels *kern, const fi_problem *pb, int64_t c0, int64_t p,
                    int64_t cap, double psum, double rcond, double atol, int64_t *rank,
                    double *sigma, double *W)
{
    const int64_t K = pb->k_eff;
    fi_gram gm;
    double a[FI_GRAM_MAX_K * FI_GRAM_MAX_K];
    int64_t r;
    (K <= 4 ? kern->rows : kern->rows_wide)(pb, c0, p, NULL, 0, &gm);
    if (!gram_coefficients(&gm, pb, psum, rcond, atol, cap, a, sigma, &r)) return false;
    double check;
    switch (pb->dtype) {
    case FI_F32: check = row_pass(FI_F32, pb, c0, p, r, a, W); break;
    case FI_F64: check = row_pass(FI_F64, pb, c0, p, r, a, W); break;
    case FI_BF16: check = row_pass(FI_BF16, pb, c0, p, r, a, W); break;
    default: check = row_pass(FI_F16, pb, c0, p, r, a, W); break;
    }
    if (check != 0) return false;
    for (int64_t q = r; q < cap; q++) memset(W + q * p, 0, (size_t)p * sizeof(double));
    *rank = r;
    return true;
}

/* ---- column blocks ---- */

size_t fi__metric_column_acc_doubles(int64_t K)
{
    /* the kernel's sums, then the coefficients a[(q*K + i)*CHUNK + b] (cap <= K) */
    return (size_t)((fi__column_entries(K) + K * K) * FI_METRIC_CHUNK);
}

ALWAYS_INLINE void column_pass(fi_dtype dt, const fi_problem *pb, int64_t b0, int64_t nb,
                               int64_t p, int64_t stride, int64_t count, int64_t cap,
                               const double *a, double *W, double *check)
{
    const int64_t K = pb->k_eff;
    for (int64_t j = 0; j < p; j++) {
        double s[FI_GRAM_MAX_K][FI_METRIC_CHUNK];
        for (int64_t i = 0; i < K; i++)
            for (int64_t b = 0; b < nb; b++)
                s[i][b] = fi__load(dt, pb->scores, i * pb->ld + b0 + b + j * stride);
        for (int64_t q = 0; q < cap; q++) {
            double *out = W + (j * cap + q) * count + b0;
            for (int64_t b = 0; b < nb; b++) {
                double x = 0;
                for (int64_t i = 0; i < K; i++) x += a[(q * K + i) * FI_METRIC_CHUNK + b] * s[i][b];
                out[b] = x;
                check[b] += x * 0;
            }
        }
    }
}

void fi__metric_columns(const fi_kernels *kern, const fi_problem *pb, int64_t b0, int64_t nb,
                        int64_t p, int64_t stride, int64_t count, int64_t cap, double psum,
                        double rcond, double atol, double *acc, int64_t *rank, double *sigma,
                        double *W, unsigned char *ok)
{
    const int64_t K = pb->k_eff;
    double *A = acc + fi__column_entries(K) * FI_METRIC_CHUNK, check[FI_METRIC_CHUNK];
    kern->column_sums(pb, b0, nb, p, stride, NULL, acc);
    for (int64_t b = 0; b < nb; b++) {
        fi_gram gm;
        double ab[FI_GRAM_MAX_K * FI_GRAM_MAX_K];
        fi__column_gram(pb, acc, b, false, 0, &gm);
        ok[b] = gram_coefficients(&gm, pb, psum, rcond, atol, cap, ab, sigma + (b0 + b) * cap,
                                  rank + b0 + b);
        for (int64_t e = 0; e < cap * K; e++) A[e * FI_METRIC_CHUNK + b] = ok[b] ? ab[e] : 0.0;
        check[b] = 0;
    }
    switch (pb->dtype) {
    case FI_F32: column_pass(FI_F32, pb, b0, nb, p, stride, count, cap, A, W, check); break;
    case FI_F64: column_pass(FI_F64, pb, b0, nb, p, stride, count, cap, A, W, check); break;
    case FI_BF16: column_pass(FI_BF16, pb, b0, nb, p, stride, count, cap, A, W, check); break;
    default: column_pass(FI_F16, pb, b0, nb, p, stride, count, cap, A, W, check); break;
    }
    /* A non-finite factor entry (a huge 1/lambda times a score) sends the block back. */
    for (int64_t b = 0; b < nb; b++)
        if (check[b] != 0) ok[b] = 0;
}
