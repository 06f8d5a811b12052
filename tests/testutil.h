/* Shared helpers of the lead's suites: seeded data and a slow, independent reference
 * (G formed explicitly, pseudo-inverted through LAPACK's symmetric eigensolver, which the
 * library itself never uses). */
#ifndef FI_TESTUTIL_H
#define FI_TESTUTIL_H

#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fi.h"

static inline double tu_uniform(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

static inline double tu_normal(uint64_t *s)
{
    double u = tu_uniform(s), v = tu_uniform(s);
    return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

/* Softmax probabilities of K random logits. */
static inline void tu_probs(uint64_t *s, int64_t K, double *P)
{
    double z = 0;
    for (int64_t i = 0; i < K; i++) z += (P[i] = exp(tu_normal(s)));
    for (int64_t i = 0; i < K; i++) P[i] /= z;
}

/* K x n random scores; zero_mean makes sum_i P_i s_i = 0 per coordinate (softmax-consistent). */
static inline void tu_scores(uint64_t *s, int64_t K, int64_t n, int64_t ld, const double *P,
                             int zero_mean, double *S)
{
    for (int64_t i = 0; i < K; i++)
        for (int64_t c = 0; c < n; c++) S[i * ld + c] = tu_normal(s);
    if (!zero_mean) return;
    for (int64_t c = 0; c < n; c++) {
        double m = 0;
        for (int64_t i = 0; i < K; i++) m += P[i] * S[i * ld + c];
        for (int64_t i = 0; i < K; i++) S[i * ld + c] -= m;
    }
}

/* Reference FI of one block given by coordinate list idx[0..p): G = sum_i P_i s_i s_i^T
 * (p x p), eigenvalues kept when lambda > lam_rel * lambda_max. Returns FI; *rank if set. */
static inline double tu_ref_fi(int64_t K, const double *P, const double *S, int64_t ld,
                               const int64_t *idx, int64_t p, const double *g, double lam_rel,
                               int64_t *rank, double *residual)
{
    double *G = calloc((size_t)(p * p), sizeof(double)), *w = calloc((size_t)p, sizeof(double));
    for (int64_t a = 0; a < p; a++)
        for (int64_t b = 0; b < p; b++) {
            double x = 0;
            for (int64_t i = 0; i < K; i++) x += P[i] * S[i * ld + idx[a]] * S[i * ld + idx[b]];
            G[a * p + b] = x;
        }
    LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)p, G, (lapack_int)p, w);
    const double lmax = w[p - 1];
    double fi = 0, inrange = 0, gg = 0;
    int64_t r = 0;
    for (int64_t a = 0; a < p; a++) gg += g[idx[a]] * g[idx[a]];
    for (int64_t j = 0; j < p; j++) {
        if (!(w[j] > lam_rel * lmax) || !(w[j] > 0)) continue;
        double v = 0;
        for (int64_t a = 0; a < p; a++) v += G[a * p + j] * g[idx[a]];
        fi += v * v / w[j];
        inrange += v * v;
        r++;
    }
    if (rank) *rank = r;
    if (residual) *residual = gg > 0 ? sqrt(fmax(gg - inrange, 0) / gg) : 0;
    free(G);
    free(w);
    return fi;
}

/* Coordinates of an affine block. */
static inline void tu_coords(const fi_blocks *bl, int64_t b, int64_t *idx)
{
    for (int64_t j = 0; j < bl->size; j++) idx[j] = b * bl->step + j * bl->stride;
}

#endif
