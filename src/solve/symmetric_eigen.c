/* Eigendecomposition of a small symmetric matrix by Householder reduction to tridiagonal form
 * and implicit symmetric QR steps with Wilkinson shifts (Golub & Van Loan, sections 8.3.1 and
 * 8.3.3): about 9 n^3 operations with the vectors, a third of cyclic Jacobi's to convergence.
 * Only orthogonal transformations are applied, so the result is backward stable; the callers
 * of src/solve/certified.c measure its residual and its orthogonality anyway. */
#include "solve/gram_prepared.h"

/* Reduces the symmetric A (n x n, row-major, both triangles) to tridiagonal form
 * Q^T A Q = T in place, accumulating Q (row-major). */
static void tridiagonalize(double *A, int n, double *Q)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) Q[i * n + j] = i == j;
    for (int k = 0; k + 2 < n; k++) {
        /* v: the reflector that maps A[k+1.., k] onto a multiple of e_1 */
        double v[FI_GRAM_WIDE_K], norm2 = 0;
        const int len = n - k - 1;
        for (int i = 0; i < len; i++) {
            v[i] = A[(k + 1 + i) * n + k];
            norm2 += v[i] * v[i];
        }
        if (norm2 == 0) continue;
        const double alpha = v[0] >= 0 ? -sqrt(norm2) : sqrt(norm2);
        v[0] -= alpha;
        double vv = 0;
        for (int i = 0; i < len; i++) vv += v[i] * v[i];
        if (vv == 0) continue; /* already reduced */
        const double beta = 2 / vv;
        /* trailing block S = A[k+1.., k+1..]: S <- H S H = S - v q^T - q v^T with
         * p = beta S v, q = p - (beta / 2) (v . p) v */
        double pv[FI_GRAM_WIDE_K], vp = 0;
        for (int i = 0; i < len; i++) {
            double x = 0;
            for (int j = 0; j < len; j++) x += A[(k + 1 + i) * n + k + 1 + j] * v[j];
            pv[i] = beta * x;
            vp += v[i] * pv[i];
        }
        for (int i = 0; i < len; i++) pv[i] -= beta / 2 * vp * v[i];
        for (int i = 0; i < len; i++)
            for (int j = 0; j < len; j++)
                A[(k + 1 + i) * n + k + 1 + j] -= v[i] * pv[j] + pv[i] * v[j];
        A[(k + 1) * n + k] = A[k * n + k + 1] = alpha;
        for (int i = 1; i < len; i++) A[(k + 1 + i) * n + k] = A[k * n + k + 1 + i] = 0;
        for (int r = 0; r < n; r++) { /* Q <- Q H on columns k+1.. */
            double x = 0;
            for (int j = 0; j < len; j++) x += Q[r * n + k + 1 + j] * v[j];
            x *= beta;
            for (int j = 0; j < len; j++) Q[r * n + k + 1 + j] -= x * v[j];
        }
    }
}

/* T <- J T J^T and Q <- Q J^T for the rotation J = [c -s; s c] in the plane (k, k+1); T is
 * tridiagonal but for the bulge, so only columns and rows lo..hi within k-1..k+2 change. */
static void rotate(double *T, double *Q, int n, int k, double c, double s, int lo, int hi)
{
    const int a = k - 1 > lo ? k - 1 : lo, b = k + 2 < hi ? k + 2 : hi;
    for (int j = a; j <= b; j++) {
        const double x = T[k * n + j], y = T[(k + 1) * n + j];
        T[k * n + j] = c * x - s * y;
        T[(k + 1) * n + j] = s * x + c * y;
    }
    for (int i = a; i <= b; i++) {
        const double x = T[i * n + k], y = T[i * n + k + 1];
        T[i * n + k] = c * x - s * y;
        T[i * n + k + 1] = s * x + c * y;
    }
    for (int i = 0; i < n; i++) {
        const double x = Q[i * n + k], y = Q[i * n + k + 1];
        Q[i * n + k] = c * x - s * y;
        Q[i * n + k + 1] = s * x + c * y;
    }
}

static int negligible(const double *T, int n, int i)
{
    return fabs(T[(i + 1) * n + i]) <=
           0x1p-53 * (fabs(T[i * n + i]) + fabs(T[(i + 1) * n + i + 1]));
}

int fi__symmetric_eigen(double *A, int n, double *w, double *V)
{
    tridiagonalize(A, n, V);
    int steps = 0;
    for (int hi = n - 1; hi > 0;) {
        if (negligible(A, n, hi - 1)) {
            A[hi * n + hi - 1] = A[(hi - 1) * n + hi] = 0;
            hi--;
            continue;
        }
        if (++steps > 30 * n) return 0;
        int lo = hi - 1;
        while (lo > 0 && !negligible(A, n, lo - 1)) lo--;
        /* Wilkinson shift: the eigenvalue of the trailing 2 x 2 nearer its last entry */
        const double e = A[hi * n + hi - 1], d = (A[(hi - 1) * n + hi - 1] - A[hi * n + hi]) / 2;
        const double mu = A[hi * n + hi] - e * e / (d + (d >= 0 ? 1 : -1) * hypot(d, e));
        double x = A[lo * n + lo] - mu, z = A[(lo + 1) * n + lo];
        for (int k = lo; k < hi; k++) {
            const double r = hypot(x, z);
            const double c = r > 0 ? x / r : 1, s = r > 0 ? -z / r : 0;
            rotate(A, V, n, k, c, s, lo, hi);
            if (k + 1 < hi) {
                x = A[(k + 1) * n + k];
                z = A[(k + 2) * n + k];
            }
        }
    }
    for (int i = 0; i < n; i++) w[i] = A[i * n + i];
    return 1;
}
