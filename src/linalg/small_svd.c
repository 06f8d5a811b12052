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
 * differently, and where a kept one is below sigma_max / max_cond their FI may differ beyond
 * the accuracy asked (1e-10 for float64 scores): the caller runs the reference path then. */
#include "linalg/small_svd.h"

#define FI_SMALL_SVD_MARGIN 1e-3
/* Kept singular values within max_cond of the largest: FI's error, about
 * 2 p u sigma_max / sigma_min for any backward-stable SVD, then stays within the accuracy the
 * caller asks (fi__small_svd_max_cond), and two such SVDs agree to it. */

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

/* Householder QR of the column-major p x k B in place (R in the upper triangle, each
 * reflector's vector below it with its first entry in vhead[j] and |v|^2 in vvs[j], 0 when
 * column j needed none), the same reflectors applied to g when g is not NULL. */
static void householder_qr(double *B, int64_t p, int k, double *g, double *vhead, double *vvs)
{
    for (int j = 0; j < k; j++) {
        double *x = B + (int64_t)j * p + j;
        const int64_t len = p - j;
        const double norm2 = dot(x, x, len);
        vvs[j] = 0;
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
        if (g) {
            const double d = dot(x, g + j, len) * (2 / vv);
            for (int64_t i = 0; i < len; i++) g[j + i] -= d * x[i];
        }
        vhead[j] = v0; /* the reflector stays below R: v = (v0, x[1..)) */
        vvs[j] = vv;
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

/* The decomposition shared by both entry points: B (p x k, column-major) reduced in place to
 * R with its Householder vectors below the diagonal (vhead[j] holds vector j's first entry),
 * g (when not NULL) replaced by Q^T g; the columns of A (k x k) are U_R diag(sigma), and
 * order[0..r) the kept columns by descending sigma. B and g arrive scaled by 2^-eb, 2^-eg
 * (the caller's). Returns 0 when the reference path must decide. */
typedef struct small_svd {
    double A[FI_GRAM_MAX_K * FI_GRAM_MAX_K], sigma[FI_GRAM_MAX_K], vhead[FI_GRAM_MAX_K];
    double vv[FI_GRAM_MAX_K]; /* |v_j|^2, 0 for a column left alone */
    int order[FI_GRAM_MAX_K];
    int64_t rank;
} small_svd;

static int decompose(double *B, int64_t p, int n, double *g, double rcond, double atol,
                     int64_t max_rank, double max_cond, small_svd *sv)
{
    householder_qr(B, p, n, g, sv->vhead, sv->vv);
    double *A = sv->A, *sigma = sv->sigma;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) A[i * n + j] = j >= i ? B[(int64_t)j * p + i] : 0;
    if (!jacobi_columns(A, n, sigma)) return 0;
    double smax = 0;
    for (int j = 0; j < n; j++) smax = fmax(smax, sigma[j]);
    const double cut = fmax(atol, rcond * smax);
    int *order = sv->order;
    for (int j = 0; j < n; j++) order[j] = j;
    for (int a = 1; a < n; a++) /* insertion sort, descending sigma */
        for (int b = a; b > 0 && sigma[order[b]] > sigma[order[b - 1]]; b--) {
            const int tmp = order[b];
            order[b] = order[b - 1];
            order[b - 1] = tmp;
        }
    int64_t r = 0;
    for (int q = 0; q < n; q++) {
        const double s = sigma[order[q]];
        if (fabs(s - cut) <= FI_SMALL_SVD_MARGIN * cut) return 0; /* ambiguous */
        if (!(s > cut) || !(s > 0) || r >= max_rank) continue;
        if (!(s * max_cond >= smax)) return 0; /* the reference path */
        if (q + 1 < n && r + 1 == max_rank &&
            fabs(sigma[order[q + 1]] - s) <= FI_SMALL_SVD_MARGIN * s)
            return 0; /* the cap would choose between two equal singular values */
        r++;
    }
    sv->rank = r; /* the kept ones are order[0..r): the largest, in order */
    return 1;
}

/* Largest |x_i| over len, or -1 for a NaN. */
static double max_abs(const double *x, int64_t len)
{
    double mx = 0;
    bool nan = false; /* compares, not fmax: a library call per element at -O3 */
    for (int64_t i = 0; i < len; i++) {
        const double a = fabs(x[i]);
        mx = a > mx ? a : mx;
        nan |= a != a;
    }
    return nan ? -1 : mx;
}

double fi__small_svd_max_cond(int64_t p, int64_t k, bool narrow)
{
    /* float64 scores: the 1e-10 of the Gram tests in practice; narrower ones: the certified
     * 2^-17 of src/solve/certified.c, bounded by 2 (p + k) u kappa */
    return narrow ? 0x1p-17 / (2 * (double)(p + k) * 0x1p-53) : 1e3;
}

int fi__small_svd_fi(double *B, int64_t p, int64_t k, double *g, double rcond, double atol,
                     int64_t max_rank, double max_cond, double *fi, int64_t *rank)
{
    if (k > FI_GRAM_MAX_K || p < k) return 0;
    const int n = (int)k;
    /* powers of two bring B and g near 1: no square overflows or underflows, FI scales back */
    const double bmax = max_abs(B, p * k), gmax = max_abs(g, p);
    if (!(bmax >= 0) || !(gmax >= 0) || !isfinite(bmax) || !isfinite(gmax)) return 0;
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
    small_svd sv;
    if (!decompose(B, p, n, g, rcond, ldexp(atol, -eb), max_rank, max_cond, &sv)) return 0;
    double acc = 0;
    for (int64_t q = 0; q < sv.rank; q++) {
        const int c = sv.order[q];
        double ug = 0; /* u_q . g = (A[:, c] . (Q^T g)[0..k)) / sigma_c */
        for (int i = 0; i < n; i++) ug += sv.A[i * n + c] * g[i];
        const double x = ug / sv.sigma[c] / sv.sigma[c];
        acc += x * x;
    }
    acc = ldexp(acc, 2 * (eg - eb));
    if (!isfinite(acc)) return 0;
    *fi = acc;
    *rank = sv.rank;
    return 1;
}

int fi__small_svd_factor(double *B, int64_t p, int64_t k, double rcond, double atol,
                         int64_t max_rank, double max_cond, double *sigma, double *W,
                         int64_t *rank)
{
    if (k > FI_GRAM_MAX_K || p < k) return 0;
    const int n = (int)k;
    const double bmax = max_abs(B, p * k);
    if (!(bmax >= 0) || !isfinite(bmax)) return 0;
    if (bmax == 0) {
        *rank = 0;
        return 1;
    }
    int eb = 0;
    frexp(bmax, &eb);
    scale_pow2(B, p * k, -eb);
    small_svd sv;
    if (!decompose(B, p, n, NULL, rcond, ldexp(atol, -eb), max_rank, max_cond, &sv)) return 0;
    /* row q of W = (Q [U_R e_c; 0])^T / sigma_c: the reflectors applied last to first */
    for (int64_t q = 0; q < sv.rank; q++) {
        const int c = sv.order[q];
        double *y = W + q * p;
        for (int64_t i = 0; i < p; i++) /* U_R e_c / sigma_c = A[:, c] / sigma_c^2 */
            y[i] = i < n ? sv.A[i * n + c] / sv.sigma[c] / sv.sigma[c] : 0;
        for (int j = n - 1; j >= 0; j--) {
            if (sv.vv[j] == 0) continue;
            const double *v = B + (int64_t)j * p + j; /* v[0] is vhead[j], the rest below R */
            const int64_t len = p - j;
            double d = sv.vhead[j] * y[j];
            for (int64_t i = 1; i < len; i++) d += v[i] * y[j + i];
            d *= 2 / sv.vv[j];
            y[j] -= d * sv.vhead[j];
            for (int64_t i = 1; i < len; i++) y[j + i] -= d * v[i];
        }
        sigma[q] = ldexp(sv.sigma[c], eb);
        const double inv = ldexp(1.0, -eb); /* W = diag(1/sigma) U^T of the unscaled B */
        for (int64_t i = 0; i < p; i++) y[i] = y[i] * inv;
        for (int64_t i = 0; i < p; i++)
            if (!isfinite(y[i])) return 0;
    }
    *rank = sv.rank;
    return 1;
}
