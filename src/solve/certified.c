/* Acceptance tests for blocks whose class probabilities are spread over orders of magnitude
 * (a trained model's), where kappa(C) is large although the block is well determined: the
 * error of forming C is relative to |b_i||b_j| entry by entry, so the condition that matters
 * is that of the diagonally scaled Gram. Full-rank blocks by a scaled Cholesky
 * (fi__scaled_fi), rank-deficient ones by a certified eigendecomposition (fi__certify), each
 * with an a-posteriori bound on FI's error that must stay within certified_tolerance. */
#include "solve/gram_prepared.h"

/* FI of the class target in a block of full rank m: B x is the class score (null direction
 * removed), which lies in the range of B, so FI = |x|^2 exactly (the leverage form). */
double fi__class_leverage(const prepared *pr)
{
    double acc = 0;
    for (int i = 0; i < pr->m; i++) acc += pr->x[i] * pr->x[i];
    return acc;
}

/* The relative error the a-posteriori bounds may certify: what the unscaled test allows
 * (2 m gamma kappa with kappa <= 1 / FI_GRAM_MIN_RATIO) or, for scores no wider than float32,
 * 2^-17 (128 float32 units). The same bounds with the dtype's unit roundoff (>= 2^-24) in
 * place of the arithmetic's gamma (~p 2^-53) bound how far rounding the scores to their dtype
 * moves FI: for every block this tolerance lets through, that is a million times more than
 * what the arithmetic may add. Measured errors are far below the bound (docs/math.md). */
static double certified_tolerance(int m, double gamma, bool narrow)
{
    const double unscaled = 2 * m * gamma / FI_GRAM_MIN_RATIO;
    return narrow ? fmax(unscaled, 0x1p-17) : unscaled;
}

/* FI of a prepared block whose class probabilities (or score norms) are spread over orders of
 * magnitude, where kappa(C) is large although the block is well determined. Forming C rounds
 * entry ij by at most gamma d_i d_j (d_i = |b_i|; after the reflection f_i = (|H| d)_i), so the
 * computed C is F (Chat + Ehat) F with every |Ehat_ij| <= gamma: the relevant condition number
 * is that of the scaled Chat = F^-1 C F^-1, not of C. Cholesky and the triangular solves are
 * backward stable in the same scaled sense (|dC| <= gamma_{3m+1} |L||L^T| <= gamma_{3m+1} f_i f_j).
 *
 * With z = Chat^-1 F^-1 t, w = F^-1 z (FI = |w|^2) and y = Chat^-1 F^-1 w, the exact FI of the
 * unperturbed data differs by 2 y^T Ehat z + |F^-1 Chat^-1 Ehat z|^2, at most
 * 2 gamma |y|_1 |z|_1 + (eta |z|_2 / f_min)^2 with eta >= |Chat^-1|_2 |Ehat|_2; this a-posteriori
 * bound must not exceed certified_tolerance. Full rank
 * is proven by sigma_min^2 >= f_min^2 (lambda_min(Chat) - m gamma), lambda_min(Chat) bounded
 * below by 1/|Lhat^-1|_F^2, against the cut-off with sigma_max^2 <= trace C (1 + gamma). */
int fi__scaled_fi(const prepared *pr, double rcond, int64_t p, bool narrow, double *fi,
                  double *work)
{
    const int m = pr->m;
    const double *f = pr->f;
    double fmn = INFINITY;
    for (int i = 0; i < m; i++) {
        if (!(f[i] > 0) || !isfinite(f[i])) return 0;
        fmn = fmin(fmn, f[i]);
    }
    double *A = work, *L = work + m * m, *Li = work + 2 * m * m; /* m x m each */
    memset(L, 0, sizeof(double) * (size_t)(2 * m * m));
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) A[i * m + j] = pr->C[i * m + j] / f[i] / f[j];
    for (int i = 0; i < m; i++)
        for (int j = 0; j <= i; j++) {
            double x = A[i * m + j];
            for (int k = 0; k < j; k++) x -= L[i * m + k] * L[j * m + k];
            if (i == j) {
                if (!(x > 0)) return 0;
                L[i * m + i] = sqrt(x);
            } else {
                L[i * m + j] = x / L[j * m + j];
            }
        }
    double nu = 0; /* |Lhat^-1|_F^2 >= |Chat^-1|_2 */
    for (int j = 0; j < m; j++)
        for (int i = j; i < m; i++) {
            double x = i == j ? 1.0 : 0.0;
            for (int k = j; k < i; k++) x -= L[i * m + k] * Li[k * m + j];
            Li[i * m + j] = x / L[i * m + i];
            nu += Li[i * m + j] * Li[i * m + j];
        }
    nu *= 1.01; /* the rounding of Lhat^-1 and of its norm */
    const double gamma = (double)(p + 20 * m + 40) * 0x1p-53;
    const double eta = nu * m * gamma;
    if (!(eta <= 1e-3)) return 0;
    const double lmin = fmn * fmn * (1 / nu - m * gamma);
    const double cut = fmax(pr->atol, rcond * sqrt(pr->trace * (1 + gamma)));
    if (!(lmin > 0) || !(sqrt(lmin) > (1 + FI_GRAM_CUT_MARGIN) * cut)) return 0;
    if (pr->klass) { /* full rank proven: the class's leverage needs no solve */
        *fi = fi__class_leverage(pr);
        return 1;
    }
    /* z = Chat^-1 (t / f), w = z / f, y = Chat^-1 (w / f): each solve as x = Li^T (Li r) */
    double r[FI_GRAM_WIDE_K], z[FI_GRAM_WIDE_K], y[FI_GRAM_WIDE_K], h[FI_GRAM_WIDE_K];
    for (int pass = 0; pass < 2; pass++) {
        double *out = pass ? y : z;
        for (int i = 0; i < m; i++) r[i] = (pass ? z[i] / f[i] : pr->t[i]) / f[i];
        for (int i = 0; i < m; i++) {
            h[i] = 0;
            for (int k = 0; k <= i; k++) h[i] += Li[i * m + k] * r[k];
        }
        for (int i = 0; i < m; i++) {
            out[i] = 0;
            for (int k = i; k < m; k++) out[i] += Li[k * m + i] * h[k];
        }
    }
    double acc = 0, ysum = 0, zsum = 0, z2 = 0;
    for (int i = 0; i < m; i++) {
        acc += (z[i] / f[i]) * (z[i] / f[i]);
        ysum += fabs(y[i]);
        zsum += fabs(z[i]);
        z2 += z[i] * z[i];
    }
    const double second = eta * sqrt(z2) / fmn;
    const double bound = 1.1 * (2 * gamma * ysum * zsum + second * second);
    if (!isfinite(acc) || !(bound <= certified_tolerance(m, gamma, narrow) * acc)) return 0;
    *fi = acc;
    return 1;
}

/* Rank-deficient blocks with spread probabilities (a transformer's weight rows: rank <= tokens
 * < K - 1, kept eigenvalues over orders of magnitude): the eigendecomposition of the prepared C
 * certified a posteriori in the scaled error model of scaled_fi. In the computed eigenbasis E
 * the exact C is M = diag(w) + D with |D_jk| <= rho_jk = |N_jk| + gamma phi_j phi_k, where
 * N = E^T C E - diag(w) is the computed residual and phi_j = sum_i |E_ij| f_i. Gershgorin on
 * Phi M Phi^-1 (same eigenvalues) puts one exact eigenvalue within rad_j = sum_k rho_jk
 * phi_j / phi_k of w_j (small for a small eigenvalue, whose vector lives where f is small):
 * every kept disc must lie above the cut-off and every dropped one below, with the margin
 * (the count per side then follows). */


/* The decision on w, E (jacobi of pr->C); 0 when a disc straddles the cut-off. */
int fi__certify(const prepared *pr, double rcond, int64_t p, certified *ce, double *work)
{
    const int m = pr->m;
    const double *w = ce->w, *E = ce->E;
    double phi[FI_GRAM_WIDE_K], rad[FI_GRAM_WIDE_K];
    double *rho = ce->rho;
    ce->gamma = (double)(p + 20 * m + 40) * 0x1p-53;
    for (int i = 0; i < m; i++)
        if (!(pr->f[i] >= 0) || !isfinite(pr->f[i])) return 0;
    for (int j = 0; j < m; j++) {
        phi[j] = 0;
        for (int i = 0; i < m; i++) phi[j] += fabs(E[i * m + j]) * pr->f[i];
    }
    double *CE = work, defect = 0;
    for (int a = 0; a < m; a++)
        for (int k = 0; k < m; k++) {
            double x = 0;
            for (int b = 0; b < m; b++) x += pr->C[a * m + b] * E[b * m + k];
            CE[a * m + k] = x;
        }
    for (int j = 0; j < m; j++) /* rho = |E^T C E - diag(w)| + gamma phi phi^T */
        for (int k = j; k < m; k++) {
            double x = 0, o = 0;
            for (int a = 0; a < m; a++) {
                x += E[a * m + j] * CE[a * m + k];
                o += E[a * m + j] * E[a * m + k];
            }
            if (j == k) x -= w[j];
            defect = fmax(defect, fabs(o - (j == k)));
            rho[j * m + k] = rho[k * m + j] = fabs(x) + ce->gamma * phi[j] * phi[k];
        }
    /* E is orthogonal to 'defect': by Ostrowski, E^T C E then has the eigenvalues of C each
     * scaled by a factor within m * defect of 1 (added to each disc below) */
    double lo_max = 0;
    for (int j = 0; j < m; j++) {
        rad[j] = 0;
        for (int k = 0; k < m; k++)
            if (rho[j * m + k] != 0) rad[j] += rho[j * m + k] * phi[j] / phi[k];
        rad[j] += 2 * m * defect * fabs(w[j]);
        if (!isfinite(rad[j])) return 0;
        lo_max = fmax(lo_max, w[j] - rad[j]);
    }
    const double cut_hi = fmax(pr->atol, rcond * sqrt(pr->trace * (1 + ce->gamma)));
    const double cut_lo = fmax(pr->atol, rcond * sqrt(fmax(lo_max, 0)));
    const double above = (1 + FI_GRAM_CUT_MARGIN) * cut_hi;
    const double below = (1 - FI_GRAM_CUT_MARGIN) * cut_lo;
    double top_dropped = 0;
    ce->rank = 0;
    for (int j = 0; j < m; j++) {
        if (w[j] - rad[j] > above * above) ce->keep[j] = 1;
        else if (w[j] + rad[j] < below * below) ce->keep[j] = 0;
        else return 0; /* the data cannot tell which side of the cut-off */
        ce->rank += ce->keep[j];
        if (!ce->keep[j]) top_dropped = fmax(top_dropped, w[j] + rad[j]);
    }
    for (int j = 0; j < m; j++) ce->gap[j] = ce->keep[j] ? w[j] - rad[j] - top_dropped : 0;
    return 1;
}

/* FI from a certified decomposition. A class target: FI = |E_kept^T x|^2, and only the rotation
 * of the kept space against the dropped one counts, by at most rho_dk / gap_k per pair.
 * A gradient target: FI = sum_kept (E^T t)_k^2 / w_k^2 moves by at most
 * 2 sum_jk |t_j / w_j^2| rho_jk |t_k / w_k| inside the kept space (first order, the remainder
 * bounded through eta = |diag(w)^-1/2 D diag(w)^-1/2|_F <= 1e-3) and by
 * 2 sum_k |t_k / w_k^2| sum_dropped rho_dk |t_d| / gap_k through the rotation. Either bound
 * must not exceed what certified_tolerance allows. */
static int certified_fi(const prepared *pr, const certified *ce, bool narrow, double *fi)
{
    const int m = pr->m;
    const double *w = ce->w, *E = ce->E, *rho = ce->rho;
    const double tol = certified_tolerance(m, ce->gamma, narrow);
    double c[FI_GRAM_WIDE_K], acc = 0, inside = 0, rotation = 0, eta2 = 0;
    for (int j = 0; j < m; j++) { /* the target in the eigenbasis: E^T x or E^T t */
        c[j] = 0;
        for (int i = 0; i < m; i++) c[j] += E[i * m + j] * (pr->klass ? pr->x[i] : pr->t[i]);
    }
    for (int j = 0; j < m; j++) {
        if (!ce->keep[j]) continue;
        const double a = pr->klass ? fabs(c[j]) : fabs(c[j]) / (w[j] * w[j]);
        acc += pr->klass ? c[j] * c[j] : (c[j] / w[j]) * (c[j] / w[j]);
        for (int k = 0; k < m; k++) {
            if (!ce->keep[k]) {
                rotation += a * rho[k * m + j] * fabs(c[k]) / ce->gap[j];
            } else if (!pr->klass) {
                inside += a * rho[j * m + k] * fabs(c[k]) / w[k];
                eta2 += rho[j * m + k] * rho[j * m + k] / (w[j] * w[k]);
            }
        }
    }
    if (!isfinite(acc) || !(eta2 <= 1e-6) || !(2.2 * (inside + rotation) <= tol * acc)) return 0;
    *fi = acc;
    return 1;
}

/* A certified decomposition good for every target (the metric's factor): relative to FI,
 * the error inside the kept space is at most 2 |R|_F with R_jk = rho_jk / w_j (the bound of
 * certified_fi with |x|^2 = FI factored out), and the kept space turns by at most
 * max rho_dk / gap_k. */
int fi__certified_for_any_target(const prepared *pr, const certified *ce, bool narrow)
{
    const int m = pr->m;
    const double tol = certified_tolerance(m, ce->gamma, narrow);
    double r2 = 0, turn = 0;
    for (int j = 0; j < m; j++) {
        if (!ce->keep[j]) continue;
        for (int k = 0; k < m; k++) {
            const double x = ce->rho[j * m + k];
            if (ce->keep[k]) r2 += (x / ce->w[j]) * (x / ce->w[j]);
            else turn = fmax(turn, x / ce->gap[j]);
        }
    }
    return 2.2 * sqrt(r2) <= tol && 2.2 * turn <= tol;
}

int fi__certified_eigen_fi(const prepared *pr, double rcond, int64_t p, bool narrow,
                              double *fi, int64_t *rank, double *work)
{
    const int m = pr->m;
    certified ce = {.E = work + m * m, .rho = work + 2 * m * m};
    double *A = work;
    memcpy(A, pr->C, sizeof(double) * (size_t)(pr->m * pr->m));
    if (!fi__symmetric_eigen(A, pr->m, ce.w, ce.E)) {
        memcpy(A, pr->C, sizeof(double) * (size_t)(pr->m * pr->m));
        fi__jacobi(A, pr->m, ce.w, ce.E);
    }
    if (!fi__certify(pr, rcond, p, &ce, work + 3 * m * m) || !certified_fi(pr, &ce, narrow, fi))
        return 0;
    *rank = ce.rank;
    return 1;
}
