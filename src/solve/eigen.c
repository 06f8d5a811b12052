/* Small Gram kernels of the fast path (error analysis in docs/performance.md).
 *
 * For a block with p >= K the K x K Gram C = B^T B has the nonzero spectrum of G_b, and
 * FI = sum_j (u_j . t)^2 / lambda_j^2 with t = B^T g (C = U diag(lambda) U^T). For p < K the
 * p x p metric G itself is small: FI = sum_j (v_j . g)^2 / lambda_j.
 *
 * Accuracy. Forming C rounds each entry by at most gamma = p*eps*lambda_max (in practice
 * sqrt(p)*eps), which moves every eigenvalue by that much; FI then has relative error about
 * 2*kappa(C)*gamma. The kernels therefore only answer when every kept eigenvalue is at least
 * FI_GRAM_MIN_RATIO * lambda_max (kappa <= 1e3: relative error ~1e-11 at p = 4096) and no
 * singular value lies near the rank cut-off; otherwise the caller falls back to the SVD.
 * Rank-deficient blocks (real gradients: outer products, sums over a few tokens, dead units):
 * an eigenvalue below that ratio is dropped when it is provably below the cut-off, i.e. its
 * computed value plus the bound on every eigenvalue's error (eigen_error_bound) is still below
 * (cut * (1 - FI_GRAM_CUT_MARGIN))^2; the kept ones pass the test above, so the kept subspace
 * is separated from the dropped one by a gap >= FI_GRAM_MIN_RATIO * lambda_max - cut^2 and
 * rotates by at most bound / gap (Davis-Kahan). All-zero blocks are proven zero exactly
 * (gram_is_zero) for scores no wider than float32.
 *
 * Blocks this test leaves undecided because the class probabilities (or score norms) span
 * orders of magnitude, so that kappa(C) is large while the block is well determined, take the
 * diagonally scaled tests of src/solve/certified.c before the caller falls back to an SVD.
 *
 * A class target k is its leverage (SPEC fact 2): FI = |projection of e_k / sqrt(P_k)| on the
 * kept space, the null direction below removed when it is dropped; gm->t is not read.
 *
 * Softmax-consistent scores have sum_i P_i s_i = 0, so B sqrt(P) = 0 and C is exactly
 * singular. That null direction q = sqrt(P)/|sqrt(P)| is known: when |B q| (measured directly
 * from the per-coordinate means, without cancellation) is below the data's resolution (the rule
 * of fi__deflate_null, which the SVD path applies too), the kernel works in the
 * (K-1)-dimensional complement of q, where C is generically well conditioned. */
#include "solve/eigen.h"
#include "solve/gram_prepared.h"


/* Cyclic Jacobi eigendecomposition of the symmetric n x n A (row-major, destroyed):
 * eigenvalues w[n], eigenvectors as the columns of V (row-major n x n). A rotation in the
 * plane (p, q) changes rows and columns p and q only; both triangles are kept in step. */
void fi__jacobi(double *A, int n, double *w, double *V)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) V[i * n + j] = i == j;
    for (int sweep = 0; sweep < 60; sweep++) {
        double off = 0, diag = 0;
        for (int i = 0; i < n; i++) {
            diag += A[i * n + i] * A[i * n + i];
            for (int j = i + 1; j < n; j++) off += A[i * n + j] * A[i * n + j];
        }
        if (off <= 1e-34 * diag || off == 0) break;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                const double apq = A[p * n + q];
                if (apq == 0) continue;
                const double app = A[p * n + p], aqq = A[q * n + q];
                const double theta = (aqq - app) / (2 * apq);
                const double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                const double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < n; k++) { /* columns p, q of A J (rows by symmetry) */
                    if (k == p || k == q) continue;
                    const double akp = A[k * n + p], akq = A[k * n + q];
                    const double xp = c * akp - s * akq, xq = s * akp + c * akq;
                    A[k * n + p] = A[p * n + k] = xp;
                    A[k * n + q] = A[q * n + k] = xq;
                }
                A[p * n + p] = app - t * apq;
                A[q * n + q] = aqq + t * apq;
                A[p * n + q] = A[q * n + p] = 0;
                for (int k = 0; k < n; k++) {
                    const double vkp = V[k * n + p], vkq = V[k * n + q];
                    V[k * n + p] = c * vkp - s * vkq;
                    V[k * n + q] = s * vkp + c * vkq;
                }
            }
    }
    for (int i = 0; i < n; i++) w[i] = A[i * n + i];
}

/* Applies the Householder reflector H = I - 2 v v^T / (v^T v) on both sides of the n x n
 * symmetric C and to t. */
static void reflect(double *C, double *t, int n, const double *v)
{
    double vv = 0;
    for (int i = 0; i < n; i++) vv += v[i] * v[i];
    double Cv[FI_GRAM_WIDE_K];
    for (int i = 0; i < n; i++) {
        Cv[i] = 0;
        for (int j = 0; j < n; j++) Cv[i] += C[i * n + j] * v[j];
    }
    double vCv = 0, vt = 0;
    for (int i = 0; i < n; i++) { vCv += v[i] * Cv[i]; vt += v[i] * t[i]; }
    const double a = 2 / vv;
    /* H C H = C - a (v Cv^T + Cv v^T) + a^2 (v^T C v) v v^T */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            C[i * n + j] += -a * (v[i] * Cv[j] + Cv[i] * v[j]) + a * a * vCv * v[i] * v[j];
    for (int i = 0; i < n; i++) t[i] -= a * vt * v[i];
}

/* The rank decision on eigenvalues lam[0..n) of a Gram matrix, in the SVD's terms
 * (sigma = sqrt(lambda) counts when sigma > max(atol, rcond*sigma_max)). keep[j] is set per
 * eigenvalue. Returns 0 when the Gram cannot decide as the SVD would: an eigenvalue within
 * FI_GRAM_CUT_MARGIN of the cut-off is ambiguous; a kept one below FI_GRAM_MIN_RATIO * lambda_max
 * is not resolved accurately enough; a small one is dropped only when delta > 0 bounds the
 * error of every computed eigenvalue and lam[j] + delta proves sigma_j below the cut-off
 * (rank-deficient blocks: outer products, token sums, dead units). */
static int decide(const double *lam, int n, double rcond, double atol, double delta, int *keep)
{
    double lmax = 0;
    for (int j = 0; j < n; j++) lmax = fmax(lmax, lam[j]);
    if (!(lmax > 0) || !isfinite(lmax)) return 0;
    const double cut = fmax(atol, rcond * sqrt(lmax));
    const double below = cut * (1 - FI_GRAM_CUT_MARGIN);
    for (int j = 0; j < n; j++) {
        if (!(lam[j] >= FI_GRAM_MIN_RATIO * lmax)) {
            if (delta > 0 && lam[j] + delta < below * below) { /* provably dropped */
                keep[j] = 0;
                continue;
            }
            return 0;
        }
        const double sv = sqrt(lam[j]);
        if (fabs(sv - cut) <= FI_GRAM_CUT_MARGIN * cut) return 0;
        keep[j] = sv > cut;
    }
    return 1;
}

/* A bound on |lambda_j(computed C) - lambda_j(C)| over every eigenvalue the eigensolver returns
 * for a block of p coordinates whose Gram has the given trace. Forming C: each entry
 * sum_c b_ic b_jc (b = sqrt(P_i) s_i rounded once) has error <= gamma_{p+2} sum_c |b_ic||b_jc|
 * <= gamma_{p+2} d_i d_j (Cauchy-Schwarz, d_i^2 = C_ii), so |E|_2 <= gamma_{p+2} trace C (Weyl).
 * The reflector and the Jacobi rotations (backward stable, O(n u |C|) per sweep, at most
 * a few sweeps of n rotations per entry) and Jacobi's stopping test (off <= 1e-34 diag) add
 * less than 64 n^2 u trace C. */
static double eigen_error_bound(double trace, int64_t p, int n)
{
    const double u = 0x1p-53;
    return (double)(p + 2 + 64 * n * n) * u * trace * 1.01;
}

/* True when every score of the block is exactly zero: the diagonal sums C_ii are 0, and the
 * scores come from a dtype no wider than float32 (|s| >= 2^-149 when nonzero) with every
 * sqrt(P_i) >= 2^-300, so a nonzero score's square (>= 2^-898 after weighting) cannot vanish
 * from a sum of non-negative terms. Float64 scores could underflow, so they never take it. */
static int gram_is_zero(const fi_gram *gm, int64_t K, const double *sqrt_prob, bool narrow)
{
    if (!narrow) return 0;
    for (int64_t i = 0; i < K; i++)
        if (!(sqrt_prob[i] >= 0x1p-300) || gm->c[i * K + i] != 0) return 0;
    return 1;
}

/* Power of two 2^-e (e even) that brings the largest |A| near 1: the squares formed by the
 * eigensolver neither overflow nor underflow for scores of magnitude 1e-150 .. 1e150, and the
 * scaling is exact, so FI does not change. */
static int even_exponent(const double *A, int count)
{
    double mx = 0;
    for (int i = 0; i < count; i++) mx = fmax(mx, fabs(A[i]));
    int e = 0;
    if (mx > 0 && isfinite(mx)) frexp(mx, &e);
    return e & ~1;
}

/* Cholesky of a small SPD G = L L^T, accepted only when the safe bounds
 * lambda_min >= 1/|L^-1|_F^2 and lambda_max <= trace(G) prove full rank under the rank rule and
 * kappa(G) <= 1/FI_GRAM_MIN_RATIO: then Li holds L^-1 (lower, row-major p x p). Returns 0 when
 * the bounds do not prove it. L: scratch of p * p doubles. */
static int cholesky_bounded(const double *G, int p, double rcond, double atol, double *Li,
                            double *L)
{
    memset(L, 0, sizeof(double) * (size_t)(p * p));
    double trace = 0;
    for (int i = 0; i < p; i++) {
        trace += G[i * p + i];
        for (int j = 0; j <= i; j++) {
            double x = G[i * p + j];
            for (int k = 0; k < j; k++) x -= L[i * p + k] * L[j * p + k];
            if (i == j) {
                if (!(x > 0)) return 0;
                L[i * p + i] = sqrt(x);
            } else {
                L[i * p + j] = x / L[j * p + j];
            }
        }
    }
    double fro = 0;
    memset(Li, 0, sizeof(double) * (size_t)(p * p));
    for (int j = 0; j < p; j++) { /* columns of L^-1 by forward substitution */
        for (int i = j; i < p; i++) {
            double x = i == j ? 1.0 : 0.0;
            for (int k = j; k < i; k++) x -= L[i * p + k] * Li[k * p + j];
            Li[i * p + j] = x / L[i * p + i];
            fro += Li[i * p + j] * Li[i * p + j];
        }
    }
    const double lmin = 1 / fro, lmax = trace;
    const double cut = fmax(atol, rcond * sqrt(lmax));
    return lmin >= FI_GRAM_MIN_RATIO * lmax && sqrt(lmin) > (1 + FI_GRAM_CUT_MARGIN) * cut;
}

/* FI = g^T G^-1 g = |L^-1 g|^2 of a metric the bounds accept. */
static int cholesky_fi(const double *G, const double *g, int p, double rcond, double atol,
                       double *fi)
{
    double Li[FI_GRAM_MAX_K * FI_GRAM_MAX_K], L[FI_GRAM_MAX_K * FI_GRAM_MAX_K], acc = 0;
    if (!cholesky_bounded(G, p, rcond, atol, Li, L)) return 0;
    for (int i = 0; i < p; i++) {
        double x = 0;
        for (int k = 0; k <= i; k++) x += Li[i * p + k] * g[k];
        acc += x * x;
    }
    *fi = acc;
    return 1;
}


static void prepare(const fi_gram *gm, int64_t K, const double *sqrt_prob, double psum,
                    double rcond, double atol, int64_t klass, prepared *pr)
{
    double *C = pr->C, *v = pr->v;
    const int n = (int)K;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) C[i * n + j] = gm->c[i <= j ? i * n + j : j * n + i];
    const int e = even_exponent(C, n * n);
    for (int i = 0; i < n * n; i++) C[i] = ldexp(C[i], -e);
    for (int i = 0; i < n; i++) pr->t[i] = ldexp(gm->t[i], -e);
    const double mean2 = ldexp(gm->mean2, -e);
    pr->trace = 0;
    for (int i = 0; i < n; i++) pr->trace += C[i * n + i];
    atol = ldexp(atol, -e / 2);
    /* |B q|^2 = sum_c m_c^2 / sum P with m_c = sum_i P_i s_i(c); the rule of fi__deflate_null:
     * |B q| against the largest unweighted score norm |s_i|^2 = C_ii / P_i. */
    double smax2 = 0;
    for (int i = 0; i < n; i++)
        if (sqrt_prob[i] > 0) smax2 = fmax(smax2, C[i * n + i] / (sqrt_prob[i] * sqrt_prob[i]));
    const double bq = sqrt(mean2 / psum);
    pr->deflate = n >= 2 && bq <= fmax(atol, rcond * sqrt(smax2));
    pr->m = n;
    pr->e = e;
    pr->atol = atol;
    for (int i = 0; i < n; i++) v[i] = 0;
    for (int i = 0; i < n; i++) pr->f[i] = sqrt(C[i * n + i]); /* d_i = |b_i| */
    pr->klass = klass >= 0;
    for (int i = 0; i < n; i++) pr->x[i] = pr->klass && i == klass ? 1 / sqrt_prob[i] : 0;
    if (pr->deflate) {
        const double nq = sqrt(psum);
        for (int i = 0; i < n; i++) v[i] = sqrt_prob[i] / nq;
        v[0] += v[0] >= 0 ? 1 : -1;
        reflect(C, pr->t, n, v);
        /* f <- |H| d bounds the reflected errors: |(H E H)_ij| <= gamma (|H| d)_i (|H| d)_j */
        double vv = 0, vd = 0, fr[FI_GRAM_WIDE_K];
        for (int i = 0; i < n; i++) {
            vv += v[i] * v[i];
            vd += fabs(v[i]) * pr->f[i];
        }
        for (int i = 0; i < n; i++) fr[i] = pr->f[i] + 2 * fabs(v[i]) * vd / vv;
        for (int i = 1; i < n; i++) pr->f[i - 1] = fr[i];
        double vx = 0;
        for (int i = 0; i < n; i++) vx += v[i] * pr->x[i];
        for (int i = 1; i < n; i++) pr->x[i - 1] = pr->x[i] - 2 * vx / vv * v[i];
        /* drop the first row and column: the null direction */
        pr->m = n - 1;
        for (int i = 0; i < pr->m; i++)
            for (int j = 0; j < pr->m; j++) C[i * pr->m + j] = C[(i + 1) * n + j + 1];
        for (int i = 0; i < pr->m; i++) pr->t[i] = pr->t[i + 1];
    }
}

/* The work of the Gram functions, K x K matrices in turn: fi__gram_fi uses [C | U or L^-1 |
 * scratch], its scratch serving the bounded Cholesky, fi__scaled_fi (3 K^2),
 * fi__certified_eigen_fi (4 K^2) and fi__gram_factor (5 K^2: C, E, rho, A and fi__certify's). */
size_t fi__gram_work_doubles(int64_t K) { return (size_t)(7 * K * K); }

int fi__gram_factor(const fi_gram *gm, int64_t K, const double *sqrt_prob, double psum,
                    double rcond, double atol, int64_t p, bool narrow, double *lam, double *U,
                    int64_t *rank, double *work)
{
    if (gram_is_zero(gm, K, sqrt_prob, narrow)) { /* B = 0: no singular value passes */
        *rank = 0;
        return 1;
    }
    prepared pr = {.C = work};
    prepare(gm, K, sqrt_prob, psum, rcond, atol, -1, &pr);
    certified ce = {.E = work + K * K, .rho = work + 2 * K * K};
    double *v = pr.v, *w = ce.w, *E = ce.E, *A = work + 3 * K * K;
    const int n = (int)K, m = pr.m, e = pr.e;
    const bool deflate = pr.deflate;
    int *keep = ce.keep;
    memcpy(A, pr.C, sizeof(double) * (size_t)(m * m));
    fi__jacobi(A, m, w, E);
    /* the unscaled test, else the certified one (spread probabilities) */
    if (!decide(w, m, rcond, pr.atol, eigen_error_bound(pr.trace, p, n), keep) &&
        !(fi__certify(&pr, rcond, p, &ce, work + 4 * K * K) &&
          fi__certified_for_any_target(&pr, &ce, narrow)))
        return 0;
    double vv = 0;
    for (int i = 0; i < n; i++) vv += v[i] * v[i];
    int64_t r = 0;
    for (int j = 0; j < m; j++) {
        if (!keep[j]) continue;
        double u[FI_GRAM_WIDE_K];
        if (deflate) { /* u = H [0; e_j]: back to the class basis */
            u[0] = 0;
            for (int i = 1; i < n; i++) u[i] = E[(i - 1) * m + j];
            double vu = 0;
            for (int i = 0; i < n; i++) vu += v[i] * u[i];
            for (int i = 0; i < n; i++) u[i] -= 2 * v[i] * vu / vv;
        } else {
            for (int i = 0; i < n; i++) u[i] = E[i * m + j];
        }
        for (int i = 0; i < n; i++) U[i * n + r] = u[i];
        lam[r++] = ldexp(w[j], e);
    }
    *rank = r;
    return 1;
}

int fi__gram_fi(const fi_gram *gm, int64_t K, const double *sqrt_prob, double psum, double rcond,
                double atol, int64_t p, bool narrow, int64_t klass, double *fi, int64_t *rank,
                double *work)
{
    if (klass >= 0 && !(sqrt_prob[klass] > 0)) return 0; /* P_k = 0: the general path decides */
    if (gram_is_zero(gm, K, sqrt_prob, narrow)) { /* B = 0: FI = 0, rank 0, as the SVD */
        *fi = 0;
        *rank = 0;
        return 1;
    }
    /* Well-conditioned blocks (the common case): FI = |C^-1 t|^2 by a bounded Cholesky, with
     * the same acceptance test as the eigensolver's, and a fraction of its cost. */
    prepared pr = {.C = work};
    double *Li = work + K * K, *scratch = work + 2 * K * K;
    prepare(gm, K, sqrt_prob, psum, rcond, atol, klass, &pr);
    if (cholesky_bounded(pr.C, pr.m, rcond, pr.atol, Li, scratch)) {
        const int m = pr.m;
        *rank = m;
        if (pr.klass) {
            *fi = fi__class_leverage(&pr);
            return 1;
        }
        double y[FI_GRAM_WIDE_K], acc = 0;
        for (int i = 0; i < m; i++) { /* y = L^-1 t */
            y[i] = 0;
            for (int k = 0; k <= i; k++) y[i] += Li[i * m + k] * pr.t[k];
        }
        for (int i = 0; i < m; i++) { /* z = L^-T y */
            double z = 0;
            for (int k = i; k < m; k++) z += Li[k * m + i] * y[k];
            acc += z * z;
        }
        *fi = acc;
        *rank = m;
        return 1;
    }
    if (fi__scaled_fi(&pr, rcond, p, narrow, fi, work + K * K)) {
        *rank = pr.m;
        return 1;
    }
    if (fi__certified_eigen_fi(&pr, rcond, p, narrow, fi, rank, work + K * K)) return 1;
    double lam[FI_GRAM_WIDE_K], *U = work + K * K;
    if (!fi__gram_factor(gm, K, sqrt_prob, psum, rcond, atol, p, narrow, lam, U, rank, scratch))
        return 0;
    double acc = 0;
    for (int64_t q = 0; q < *rank; q++) {
        if (klass >= 0) { /* the projection of e_k / sqrt(P_k) on the kept space */
            acc += U[klass * K + q] * U[klass * K + q] / (sqrt_prob[klass] * sqrt_prob[klass]);
            continue;
        }
        double ut = 0;
        for (int64_t i = 0; i < K; i++) ut += U[i * K + q] * gm->t[i];
        acc += (ut / lam[q]) * (ut / lam[q]); /* ratio first: no overflow at 1e150 */
    }
    *fi = acc;
    return 1;
}

int fi__metric_fi(double *G, const double *g_in, int64_t p, double rcond, double atol, double *fi,
                  int64_t *rank)
{
    /* G -> 2^-e G and g -> 2^-e/2 g leave g^T G^+ g unchanged and keep squares in range. */
    const int e = even_exponent(G, (int)(p * p));
    double g[FI_GRAM_MAX_K];
    for (int64_t i = 0; i < p * p; i++) G[i] = ldexp(G[i], -e);
    for (int64_t i = 0; i < p; i++) g[i] = ldexp(g_in[i], -e / 2);
    atol = ldexp(atol, -e / 2);
    if (cholesky_fi(G, g, (int)p, rcond, atol, fi)) {
        *rank = p;
        return 1;
    }
    double w[FI_GRAM_MAX_K], V[FI_GRAM_MAX_K * FI_GRAM_MAX_K];
    int keep[FI_GRAM_MAX_K];
    fi__jacobi(G, (int)p, w, V);
    if (!decide(w, (int)p, rcond, atol, 0, keep)) return 0;
    double acc = 0;
    int64_t r = 0;
    for (int j = 0; j < p; j++) {
        if (!keep[j]) continue;
        double vg = 0;
        for (int i = 0; i < p; i++) vg += V[i * p + j] * g[i];
        acc += vg * vg / w[j];
        r++;
    }
    *fi = acc;
    *rank = r;
    return 1;
}

int fi__metric_factor(double *G, int64_t p, double rcond, double atol, double *lam, double *V,
                      int64_t *rank)
{
    const int e = even_exponent(G, (int)(p * p));
    double w[FI_GRAM_MAX_K], E[FI_GRAM_MAX_K * FI_GRAM_MAX_K];
    int keep[FI_GRAM_MAX_K];
    for (int64_t i = 0; i < p * p; i++) G[i] = ldexp(G[i], -e);
    fi__jacobi(G, (int)p, w, E);
    if (!decide(w, (int)p, rcond, ldexp(atol, -e / 2), 0, keep)) return 0;
    int64_t r = 0;
    for (int j = 0; j < p; j++) {
        if (!keep[j]) continue;
        for (int i = 0; i < p; i++) V[i * p + r] = E[i * p + j];
        lam[r++] = ldexp(w[j], e);
    }
    *rank = r;
    return 1;
}
