/* The tests' slow reference for FI (explicit G, symmetric eigensolver) and the seeded
 * generators of score sets. See reference.h for the conventions. */
#include "reference.h"

#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ref_seed(ref_rng *r, uint64_t seed) { r->state = seed * 0x9E3779B97F4A7C15ull + 1; }

/* splitmix64 (Steele, Lea, Flood 2014): a full-period 64-bit generator, no platform state. */
uint64_t ref_next(ref_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double ref_uniform(ref_rng *r) { return (double)(ref_next(r) >> 11) * 0x1.0p-53; }

/* Box-Muller; the cosine branch only, so one call consumes a fixed two draws. */
double ref_normal(ref_rng *r)
{
    const double u = 1.0 - ref_uniform(r), v = ref_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

int64_t ref_int(ref_rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(ref_next(r) % (uint64_t)(hi - lo + 1));
}

void ref_softmax(ref_rng *r, int64_t K, double spread, double *P)
{
    double z = 0;
    for (int64_t i = 0; i < K; i++) z += P[i] = exp(spread * ref_normal(r));
    for (int64_t i = 0; i < K; i++) P[i] /= z;
}

void ref_scores(ref_rng *r, int64_t K, int64_t n, int64_t ld, double *S)
{
    for (int64_t i = 0; i < K; i++) {
        for (int64_t c = 0; c < n; c++) S[i * ld + c] = ref_normal(r);
        for (int64_t c = n; c < ld; c++) S[i * ld + c] = NAN;
    }
}

void ref_center(int64_t K, const double *P, int64_t n, int64_t ld, double *S)
{
    for (int64_t c = 0; c < n; c++) {
        double m = 0;
        for (int64_t i = 0; i < K; i++) m += P[i] * S[i * ld + c];
        for (int64_t i = 0; i < K; i++) S[i * ld + c] -= m;
    }
}

void ref_lowrank_block(ref_rng *r, int64_t K, double *S, int64_t ld, const int64_t *idx,
                       int64_t p, int64_t rank)
{
    double *a = calloc((size_t)(p * (rank > 0 ? rank : 1)), sizeof(double));
    for (int64_t q = 0; q < rank; q++)
        for (int64_t j = 0; j < p; j++) a[q * p + j] = (double)ref_int(r, -3, 3);
    for (int64_t i = 0; i < K; i++) {
        double c[64];
        for (int64_t q = 0; q < rank; q++) c[q] = (double)ref_int(r, -3, 3);
        for (int64_t j = 0; j < p; j++) {
            double x = 0;
            for (int64_t q = 0; q < rank; q++) x += c[q] * a[q * p + j];
            S[i * ld + idx[j]] = x;
        }
    }
    free(a);
}

void ref_orthonormal(ref_rng *r, int64_t rows, int64_t cols, const double *avoid, double *Q)
{
    for (int64_t q = 0; q < cols; q++) {
        double *x = Q + q * rows;
        for (int64_t j = 0; j < rows; j++) x[j] = ref_normal(r);
        /* modified Gram-Schmidt, twice: orthogonal to working precision */
        for (int pass = 0; pass < 2; pass++) {
            if (avoid) {
                double d = 0;
                for (int64_t j = 0; j < rows; j++) d += avoid[j] * x[j];
                for (int64_t j = 0; j < rows; j++) x[j] -= d * avoid[j];
            }
            for (int64_t t = 0; t < q; t++) {
                const double *y = Q + t * rows;
                double d = 0;
                for (int64_t j = 0; j < rows; j++) d += y[j] * x[j];
                for (int64_t j = 0; j < rows; j++) x[j] -= d * y[j];
            }
        }
        double nrm = 0;
        for (int64_t j = 0; j < rows; j++) nrm += x[j] * x[j];
        nrm = sqrt(nrm);
        for (int64_t j = 0; j < rows; j++) x[j] /= nrm;
    }
}

void ref_spectrum_block(ref_rng *r, int64_t K, const double *P, double *S, int64_t ld,
                        const int64_t *idx, int64_t p, int64_t rank, const double *sigma,
                        int zero_mean, double *V)
{
    double *Vq = malloc(sizeof(double) * (size_t)(p * rank + 1));
    double *U = malloc(sizeof(double) * (size_t)(K * rank + 1));
    double *sq = malloc(sizeof(double) * (size_t)K);
    for (int64_t i = 0; i < K; i++) sq[i] = sqrt(P[i]); /* unit: sum P = 1 */
    ref_orthonormal(r, p, rank, NULL, Vq);
    ref_orthonormal(r, K, rank, zero_mean ? sq : NULL, U);
    for (int64_t i = 0; i < K; i++)
        for (int64_t j = 0; j < p; j++) {
            double b = 0;
            for (int64_t q = 0; q < rank; q++) b += Vq[q * p + j] * sigma[q] * U[q * K + i];
            S[i * ld + idx[j]] = b / sq[i];
        }
    if (V) memcpy(V, Vq, sizeof(double) * (size_t)(p * rank));
    free(Vq);
    free(U);
    free(sq);
}

void ref_affine_coords(const fi_blocks *bl, int64_t b, int64_t *idx)
{
    for (int64_t j = 0; j < bl->size; j++) idx[j] = b * bl->step + j * bl->stride;
}

/* Eigenvalue cut of the rank rule for a p x K block with largest eigenvalue lmax. */
static double eig_cut(int64_t p, int64_t K, double lmax, double rcond, double atol)
{
    const int64_t mx = p > K ? p : K;
    if (rcond < 0) rcond = (double)mx * DBL_EPSILON;
    double cut = fmax(atol * atol, rcond * rcond * lmax);
    return fmax(cut, REF_EIG_FLOOR * (double)mx * lmax);
}

double ref_default_rcond(fi_dtype dtype, int64_t p, int64_t K)
{
    const int bits = dtype == FI_F64 ? 53 : dtype == FI_F32 ? 24 : dtype == FI_BF16 ? 8 : 11;
    return (double)(p > K ? p : K) * ldexp(1.0, -bits);
}

/* The null-direction rule: 1 when it applies, with d[0..p) = sum_i P_i s_i[b] and *psum. */
static int null_is_noise(int64_t K, const double *P, const double *S, int64_t ld,
                         const int64_t *idx, int64_t p, double rcond, double atol, double *d,
                         double *psum)
{
    if (p < K) return 0;
    if (rcond < 0) rcond = (double)p * DBL_EPSILON;
    double dd = 0, smax = 0;
    *psum = 0;
    for (int64_t i = 0; i < K; i++) {
        double n2 = 0;
        for (int64_t a = 0; a < p; a++) n2 += S[i * ld + idx[a]] * S[i * ld + idx[a]];
        if (P[i] > 0) smax = fmax(smax, sqrt(n2));
        *psum += P[i];
    }
    for (int64_t a = 0; a < p; a++) {
        d[a] = 0;
        for (int64_t i = 0; i < K; i++) d[a] += P[i] * S[i * ld + idx[a]];
        dd += d[a] * d[a];
    }
    return smax > 0 && sqrt(dd / *psum) <= fmax(atol, rcond * smax);
}

double ref_block_fi(int64_t K, const double *P, const double *S, int64_t ld, const int64_t *idx,
                    int64_t p, const double *g, double rcond, double atol, int64_t *rank,
                    double *residual)
{
    double *G = calloc((size_t)(p * p), sizeof(double)), *w = calloc((size_t)p, sizeof(double));
    double *d = calloc((size_t)p, sizeof(double)), psum = 1;
    const int null = null_is_noise(K, P, S, ld, idx, p, rcond, atol, d, &psum);
    for (int64_t a = 0; a < p; a++)
        for (int64_t c = 0; c < p; c++) {
            double x = 0;
            for (int64_t i = 0; i < K; i++) x += P[i] * S[i * ld + idx[a]] * S[i * ld + idx[c]];
            G[a + c * p] = null ? x - d[a] * d[c] / psum : x; /* B (I - q q^T) B^T */
        }
    /* Eigenvalues ascending; eigenvectors in the columns of G. */
    lapack_int info = LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'U', (lapack_int)p, G, (lapack_int)p, w);
    double fi = NAN, gg = 0, in = 0;
    int64_t r = 0;
    if (info == 0) {
        const double lmax = w[p - 1];
        const double cut = eig_cut(p, K, lmax, rcond, atol);
        fi = 0;
        for (int64_t a = 0; a < p; a++) gg += g[idx[a]] * g[idx[a]];
        for (int64_t j = 0; j < p; j++) {
            if (!(lmax > 0) || !(w[j] > cut)) continue;
            if (null && j < p - (K - 1)) continue; /* rank at most K - 1: the smallest go */
            double v = 0;
            for (int64_t a = 0; a < p; a++) v += G[a + j * p] * g[idx[a]];
            fi += v * v / w[j];
            in += v * v;
            r++;
        }
    }
    if (rank) *rank = info == 0 ? r : -1;
    if (residual) *residual = gg > 0 ? sqrt(fmax(gg - in, 0) / gg) : 0;
    free(G);
    free(w);
    free(d);
    return fi;
}

double ref_class_leverage(int64_t K, const double *P, const double *S, int64_t ld,
                          const int64_t *idx, int64_t p, int64_t k, double rcond, double atol)
{
    /* C = B^T B, K x K: C_il = sqrt(P_i P_l) s_i[b] . s_l[b]. Its eigenvectors are U. */
    double *C = calloc((size_t)(K * K), sizeof(double)), *w = calloc((size_t)K, sizeof(double));
    double *d = calloc((size_t)p, sizeof(double)), psum = 1;
    const int null = null_is_noise(K, P, S, ld, idx, p, rcond, atol, d, &psum);
    for (int64_t i = 0; i < K; i++)
        for (int64_t l = 0; l < K; l++) {
            /* columns of B (I - q q^T): sqrt(P_i) (s_i - d / psum) when the rule applies */
            double x = 0;
            for (int64_t a = 0; a < p; a++)
                x += (S[i * ld + idx[a]] - (null ? d[a] / psum : 0)) *
                     (S[l * ld + idx[a]] - (null ? d[a] / psum : 0));
            C[i + l * K] = sqrt(P[i] * P[l]) * x;
        }
    lapack_int info = LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'U', (lapack_int)K, C, (lapack_int)K, w);
    double lev = NAN;
    if (info == 0) {
        const double lmax = w[K - 1], cut = eig_cut(p, K, lmax, rcond, atol);
        lev = 0;
        for (int64_t j = null ? 1 : 0; j < K; j++) /* the null direction is the smallest */
            if (lmax > 0 && w[j] > cut) lev += C[k + j * K] * C[k + j * K];
    }
    free(C);
    free(w);
    free(d);
    return lev / P[k];
}

double ref_fast_tol(fi_dtype dtype) { return dtype == FI_F64 ? 1e-10 : 0x1p-17; }

double ref_rel(double a, double b)
{
    if (a == b) return 0;
    return fabs(a - b) / fmax(fabs(b), 1e-300);
}

void ref_skip_once(const char *what, const char *why)
{
    static const char *said[16];
    static int n_said;
    for (int i = 0; i < n_said; i++)
        if (strcmp(said[i], what) == 0) return;
    if (n_said < 16) said[n_said++] = what;
    fprintf(stderr, "SKIP %s: %s\n", what, why);
}

void ref_scores_p(ref_rng *r, int64_t K, int64_t n, int64_t ld, const double *P, int zero_mean,
                  double *S)
{
    ref_scores(r, K, n, ld, S);
    if (zero_mean) ref_center(K, P, n, ld, S);
}
