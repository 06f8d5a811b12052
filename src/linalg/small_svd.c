/* FI of one tall block by its own SVD, without LAPACK: Householder QR of B (p x k), then
 * one-sided Jacobi on the k x k factor R. It serves the blocks the Gram tests of
 * src/solve/eigen.c cannot decide (float64 rank-deficient blocks, whose dropped singular
 * values lie far below what a Gram can resolve; blocks on the edge of the scaled tests) at a
 * fraction of dgesvd's cost for k <= FI_GRAM_MAX_K: no Q and no U are formed, only Q^T g.
 *
 * Accuracy is that of any backward-stable SVD (Householder QR is backward stable column by
 * column, one-sided Jacobi on R is relatively accurate), the class of the reference path;
 * the rank decision is the SVD's, sigma_j > max(atol, rcond sigma_max). Where a singular value
 * lies within FI_SMALL_SVD_MARGIN of the cut-off, two backward-stable SVDs may decide
 * differently, and where a kept one is below sigma_max / FI_SMALL_SVD_MAX_COND their FI may
 * differ beyond the house's 1e-10: the caller runs the reference path for those. */
#include "linalg/small_svd.h"

#define FI_SMALL_SVD_MARGIN 1e-3
/* Kept singular values within this ratio of the largest: FI's error, about
 * 2 p u sigma_max / sigma_min for any backward-stable SVD, then stays within the standard of
 * the Gram tests, and two such SVDs agree (to 1e-10 in practice, measured in tests). */
#define FI_SMALL_SVD_MAX_COND 1e3

/* x . y over len, in four independent partial sums (the loop is latency-bound otherwise). */
static double dot(const double *x, const double *y, int64_t len)
{
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int64_t i = 0;
    for (; i + 4 <= len; i += 4) {
        a0 += x[i] * y[i];
        a1 += x[i + 1] * y[i + 1];
        a2 += x[i + 2] * y[i + 2];
        a3 += x[i + 3] * y[i + 3];
    }
    for (; i < len; i++) a0 += x[i] * y[i];
    return (a0 + a1) + (a2 + a3);
}

/* Householder QR of the column-major p x k B in place (R in the upper triangle), the same
 * reflectors applied to g. Each reflector zeroes column j below the diagonal. */
static void householder_qr(double *B, int64_t p, int k, double *g)
{
    for (int j = 0; j < k; j++) {
        double *x = B + (int64_t)j * p + j;
        const int64_t len = p - j;
        const double norm2 = dot(x, x, len);
        if (norm2 == 0) continue; /* a zero column: nothing to reflect */
        const double alpha = x[0] >= 0 ? -sqrt(norm2) : sqrt(norm2);
        const double v0 = x[0] - alpha; /* v = x - alpha e_1, stored over x[1..) with v0 */
        const double vv = norm2 - x[0] * x[0] + v0 * v0;
        x[0] = v0;
        for (int c = j + 1; c < k; c++) { /* B[:, c] -= 2 v (v . B[:, c]) / vv */
            double *y = B + (int64_t)c * p + j;
            const double d = dot(x, y, len) * (2 / vv);
            for (int64_t i = 0; i < len; i++) y[i] -= d * x[i];
        }
        const double d = dot(x, g + j, len) * (2 / vv);
        for (int64_t i = 0; i < len; i++) g[j + i] -= d * x[i];
        x[0] = alpha; /* R_jj */
    }
}

/* One-sided Jacobi on the k x k upper-triangular R (row-major copy A, destroyed): rotates
 * column pairs until every pair is orthogonal to working precision. On return the columns of
 * A are U_R diag(sigma) (R = U_R diag(sigma) V^T), sigma[j] their norms. */
static int jacobi_columns(double *A, int k, double *sigma)
{
    const double tol = 0x1p-52 * k;
    for (int sweep = 0; sweep < 40; sweep++) {
        int rotated = 0;
        for (int a = 0; a < k - 1; a++)
            for (int b = a + 1; b < k; b++) {
                double alpha = 0, beta = 0, gamma = 0;
                for (int i = 0; i < k; i++) {
                    alpha += A[i * k + a] * A[i * k + a];
                    beta += A[i * k + b] * A[i * k + b];
                    gamma += A[i * k + a] * A[i * k + b];
                }
                if (!(fabs(gamma) > tol * sqrt(alpha * beta))) continue;
                rotated = 1;
                const double zeta = (beta - alpha) / (2 * gamma);
                const double t = (zeta >= 0 ? 1 : -1) / (fabs(zeta) + sqrt(1 + zeta * zeta));
                const double c = 1 / sqrt(1 + t * t), s = c * t;
                for (int i = 0; i < k; i++) {
                    const double x = A[i * k + a], y = A[i * k + b];
                    A[i * k + a] = c * x - s * y;
                    A[i * k + b] = s * x + c * y;
                }
            }
        if (!rotated) {
            for (int j = 0; j < k; j++) {
                double n2 = 0;
                for (int i = 0; i < k; i++) n2 += A[i * k + j] * A[i * k + j];
                sigma[j] = sqrt(n2);
            }
            return 1;
        }
    }
    return 0; /* no convergence: the reference path decides */
}

/* x *= 2^e, exactly (as ldexp): one multiplication where 2^e is a normal double. */
static void scale_pow2(double *x, int64_t len, int e)
{
    if (e > -1000 && e < 1000) {
        const double s = ldexp(1.0, e);
        for (int64_t i = 0; i < len; i++) x[i] *= s;
    } else {
        for (int64_t i = 0; i < len; i++) x[i] = ldexp(x[i], e);
    }
}

int fi__small_svd_fi(double *B, int64_t p, int64_t k, double *g, double rcond, double atol,
                     int64_t max_rank, double *fi, int64_t *rank)
{
    if (k > FI_GRAM_MAX_K || p < k) return 0;
    const int n = (int)k;
    /* powers of two bring B and g near 1: no square overflows or underflows, FI scales back */
    double bmax = 0, gmax = 0;
    bool nan = false; /* compares, not fmax: a library call per element at -O3 */
    for (int64_t i = 0; i < p * k; i++) {
        const double a = fabs(B[i]);
        bmax = a > bmax ? a : bmax;
        nan |= a != a;
    }
    for (int64_t i = 0; i < p; i++) {
        const double a = fabs(g[i]);
        gmax = a > gmax ? a : gmax;
        nan |= a != a;
    }
    if (nan || !isfinite(bmax) || !isfinite(gmax)) return 0;
    if (bmax == 0) { /* B = 0: rank 0, FI 0, as the SVD */
        *fi = 0;
        *rank = 0;
        return 1;
    }
    int eb = 0, eg = 0;
    frexp(bmax, &eb);
    if (gmax > 0) frexp(gmax, &eg);
    scale_pow2(B, p * k, -eb);
    scale_pow2(g, p, -eg);
    atol = ldexp(atol, -eb);
    householder_qr(B, p, n, g);
    double A[FI_GRAM_MAX_K * FI_GRAM_MAX_K], sigma[FI_GRAM_MAX_K];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) A[i * n + j] = j >= i ? B[(int64_t)j * p + i] : 0;
    if (!jacobi_columns(A, n, sigma)) return 0;
    double smax = 0;
    for (int j = 0; j < n; j++) smax = fmax(smax, sigma[j]);
    const double cut = fmax(atol, rcond * smax);
    /* the kept ones: above the cut-off, at most max_rank of them, the largest first */
    int order[FI_GRAM_MAX_K];
    for (int j = 0; j < n; j++) order[j] = j;
    for (int a = 1; a < n; a++) /* insertion sort, descending sigma */
        for (int b = a; b > 0 && sigma[order[b]] > sigma[order[b - 1]]; b--) {
            const int tmp = order[b];
            order[b] = order[b - 1];
            order[b - 1] = tmp;
        }
    double acc = 0;
    int64_t r = 0;
    for (int q = 0; q < n; q++) {
        const double sv = sigma[order[q]];
        if (fabs(sv - cut) <= FI_SMALL_SVD_MARGIN * cut) return 0; /* ambiguous */
        if (!(sv > cut) || !(sv > 0) || r >= max_rank) continue;
        if (!(sv * FI_SMALL_SVD_MAX_COND >= smax)) return 0; /* the reference path */
        if (q + 1 < n && r + 1 == max_rank &&
            fabs(sigma[order[q + 1]] - sv) <= FI_SMALL_SVD_MARGIN * sv)
            return 0; /* the cap would choose between two equal singular values */
        double ug = 0; /* u_q . g = (A[:, q] . (Q^T g)[0..k)) / sigma_q */
        for (int i = 0; i < n; i++) ug += A[i * n + order[q]] * g[i];
        const double x = ug / sv / sv;
        acc += x * x;
        r++;
    }
    acc = ldexp(acc, 2 * (eg - eb));
    if (!isfinite(acc)) return 0;
    *fi = acc;
    *rank = r;
    return 1;
}
