/* Gram sums for many classes, FI_GRAM_MAX_K < K <= FI_GRAM_WIDE_K (and index lists from K = 5):
 * too many sums for registers, so a chunk of the block is converted once into the caller's
 * work array and the K x K products run in register tiles over it, as in a matrix product;
 * the tile sums live in the work array between chunks. Cost ~ p K^2 / 2 FMAs per block.
 * Rows (contiguous or a gathered index list: one block, 4 coordinates per vector) and columns
 * of a row-major matrix (up to FI_MANY_COLUMNS blocks, one per lane, 4 per group). */
#include "kernels/simd.h"

enum { XV = FI_MANY_CHUNK }; /* vectors per chunk and class: K4 * XV * 32 B = 32 KiB at K = 64 */

#ifdef __AVX512VL__
#define TILE_C 4
#else
#define TILE_C 2
#endif
#define TILE_I 4

/* S[i][c] += sum_v x[i][v] x[c][v] for the tiles on and above the diagonal (K4 a multiple of
 * 4, rows of x XV vectors apart, S K4 x K4). Each sum adds the vectors in the order v = 0.. */
INLINE void tile_products(int64_t K4, int64_t nv, const v4d *x, v4d *S)
{
    for (int64_t i = 0; i < K4; i += TILE_I)
        for (int64_t c = i; c < K4; c += TILE_C) {
            v4d a[TILE_I][TILE_C];
#pragma GCC unroll 4
            for (int r = 0; r < TILE_I; r++)
#pragma GCC unroll 4
                for (int q = 0; q < TILE_C; q++) a[r][q] = S[(i + r) * K4 + c + q];
            for (int64_t v = 0; v < nv; v++) {
                v4d xi[TILE_I], xc[TILE_C];
#pragma GCC unroll 4
                for (int r = 0; r < TILE_I; r++) xi[r] = x[(i + r) * XV + v];
#pragma GCC unroll 4
                for (int q = 0; q < TILE_C; q++) xc[q] = x[(c + q) * XV + v];
#pragma GCC unroll 4
                for (int r = 0; r < TILE_I; r++)
#pragma GCC unroll 4
                    for (int q = 0; q < TILE_C; q++) a[r][q] += xi[r] * xc[q];
            }
#pragma GCC unroll 4
            for (int r = 0; r < TILE_I; r++)
#pragma GCC unroll 4
                for (int q = 0; q < TILE_C; q++) S[(i + r) * K4 + c + q] = a[r][q];
        }
}

/* 4 coordinates idx[0..n) (zero lanes beyond n) */
INLINE v4d gather_idx(fi_dtype dt, const void *base, int64_t row, const int64_t *idx, int64_t n)
{
    v4d x = splat(0);
    for (int64_t l = 0; l < n; l++) x[l] = load1(dt, base, row + idx[l]);
    return x;
}

INLINE void zero_sums(int64_t K4, v4d *S, v4d *T)
{
    for (int64_t q = 0; q < K4 * K4; q++) S[q] = splat(0);
    for (int64_t i = 0; i < K4; i++) T[i] = splat(0);
}

/* Lane l (or, lane < 0, the sum of the lanes) of S and T into the block's fi_gram. */
INLINE void finish(const fi_problem *pb, int64_t K, int64_t K4, const v4d *S, const v4d *T,
                   v4d M, int lane, const void *target, int64_t k, double *s, fi_gram *gm)
{
    double t[FI_GRAM_WIDE_K];
    for (int64_t i = 0; i < K; i++) {
        t[i] = lane < 0 ? hsum(T[i]) : T[i][lane];
        for (int64_t c = i; c < K; c++)
            s[i * K + c] = lane < 0 ? hsum(S[i * K4 + c]) : S[i * K4 + c][lane];
    }
    fi__gram_from_sums(pb, K, s, t, target != NULL, k, lane < 0 ? hsum(M) : M[lane], gm);
}

INLINE void many_rows_dt(const fi_dtype dt, const fi_problem *pb, int64_t c0, const int64_t *idx,
                         int64_t p, const void *target, int64_t k, fi_gram *gm, double *work)
{
    const int64_t K = pb->k_eff, ld = pb->ld, K4 = (K + 3) & ~(int64_t)3;
    const size_t e = (size_t)fi__dtype_bytes(dt);
    v4d *S = (v4d *)work, *x = S + K4 * K4, *T = x + K4 * XV, M = splat(0);
    zero_sums(K4, S, T);
    for (int64_t i = K; i < K4; i++)
        for (int64_t v = 0; v < XV; v++) x[i * XV + v] = splat(0);
    for (int64_t j0 = 0; j0 < p; j0 += W * XV) {
        const int64_t len = p - j0 < W * XV ? p - j0 : W * XV, nv = (len + W - 1) / W;
        v4d m[XV];
        for (int64_t v = 0; v < nv; v++) m[v] = splat(0);
        for (int64_t i = 0; i < K; i++) {
            const v4d Pi = splat(pb->prob[i]);
            const int64_t row = i * ld + c0 + j0;
            /* K streams are more than the hardware prefetcher follows: ask for this class's
             * next chunk while this one is converted */
            if (!idx && j0 + W * XV < p)
                for (size_t q = 0; q < (size_t)(W * XV) * e; q += 64)
                    __builtin_prefetch((const char *)pb->scores + (size_t)(row + W * XV) * e + q);
            for (int64_t v = 0; v < nv; v++) {
                const int64_t n = len - v * W < W ? len - v * W : W;
                const v4d y = idx ? gather_idx(dt, pb->scores, i * ld, idx + j0 + v * W, n)
                                  : load_n(dt, pb->scores, row + v * W, n);
                x[i * XV + v] = y;
                m[v] += Pi * y;
            }
        }
        for (int64_t v = 0; v < nv; v++) M += m[v] * m[v];
        tile_products(K4, nv, x, S);
        if (target)
            for (int64_t v = 0; v < nv; v++) {
                const int64_t n = len - v * W < W ? len - v * W : W;
                const v4d g = idx ? gather_idx(dt, target, 0, idx + j0 + v * W, n)
                                  : load_n(dt, target, c0 + j0 + v * W, n);
                for (int64_t i = 0; i < K; i++) T[i] += x[i * XV + v] * g;
            }
    }
    finish(pb, K, K4, S, T, M, -1, target, k, (double *)(T + K4), gm);
}

/* nb <= FI_MANY_COLUMNS columns: groups of 4 (one per lane) share each chunk of rows, so the
 * cache lines of a chunk serve every group before they are evicted. */
INLINE void many_columns_dt(const fi_dtype dt, const fi_problem *pb, int64_t c0, int64_t nb,
                            int64_t p, int64_t inc, const void *target, int64_t k, fi_gram *gms,
                            double *work)
{
    const int64_t K = pb->k_eff, ld = pb->ld, K4 = (K + 3) & ~(int64_t)3;
    const int64_t groups = (nb + W - 1) / W;
    v4d *x = (v4d *)work, *S0 = x + K4 * XV, *T0 = S0 + groups * K4 * K4;
    v4d *Mv = T0 + groups * K4;
    for (int64_t gi = 0; gi < groups; gi++) {
        zero_sums(K4, S0 + gi * K4 * K4, T0 + gi * K4);
        Mv[gi] = splat(0);
    }
    for (int64_t i = K; i < K4; i++)
        for (int64_t v = 0; v < XV; v++) x[i * XV + v] = splat(0);
    for (int64_t j0 = 0; j0 < p; j0 += XV) {
        const int64_t nv = p - j0 < XV ? p - j0 : XV;
        for (int64_t gi = 0; gi < groups; gi++) {
            const int64_t off = c0 + gi * W, n = nb - gi * W < W ? nb - gi * W : W;
            v4d *S = S0 + gi * K4 * K4, *T = T0 + gi * K4, m[XV];
            for (int64_t v = 0; v < nv; v++) m[v] = splat(0);
            for (int64_t i = 0; i < K; i++) {
                const v4d Pi = splat(pb->prob[i]);
                for (int64_t v = 0; v < nv; v++) {
                    const v4d y = load_n(dt, pb->scores, i * ld + off + (j0 + v) * inc, n);
                    x[i * XV + v] = y;
                    m[v] += Pi * y;
                }
            }
            for (int64_t v = 0; v < nv; v++) Mv[gi] += m[v] * m[v];
            tile_products(K4, nv, x, S);
            if (target)
                for (int64_t v = 0; v < nv; v++) {
                    const v4d g = load_n(dt, target, off + (j0 + v) * inc, n);
                    for (int64_t i = 0; i < K; i++) T[i] += x[i * XV + v] * g;
                }
        }
    }
    double *s = (double *)(Mv + groups);
    for (int64_t b = 0; b < nb; b++)
        finish(pb, K, K4, S0 + (b / W) * K4 * K4, T0 + (b / W) * K4, Mv[b / W], (int)(b % W),
               target, k, s, &gms[b]);
}

void KFN(many_rows)(const fi_problem *pb, int64_t c0, const int64_t *idx, int64_t p,
                    const void *target, int64_t k, fi_gram *gm, double *work)
{
#define MANY_ROWS(A_, DT_) many_rows_dt(DT_, pb, c0, idx, p, target, k, gm, work)
    BY_DTYPE(MANY_ROWS, 0);
}

void KFN(many_columns)(const fi_problem *pb, int64_t c0, int64_t nb, int64_t p, int64_t inc,
                       const void *target, int64_t k, fi_gram *gms, double *work)
{
#define MANY_COLS(A_, DT_) many_columns_dt(DT_, pb, c0, nb, p, inc, target, k, gms, work)
    BY_DTYPE(MANY_COLS, 0);
}
