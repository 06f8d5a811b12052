/* Gram sums of one block for K <= 4 classes: all sums stay in registers for the whole block,
 * specialized for K in {2, 3, 4}, the dtype and whether a gradient target adds its products;
 * contiguous coordinates (rows) or a gathered index list (index_sums). */
#include "kernels/simd.h"

/* 4 coordinates idx[0..n) (zero lanes beyond n) */
INLINE v4d gather_n(fi_dtype dt, const void *base, int64_t row, const int64_t *idx, int64_t n)
{
    v4d x = splat(0);
    for (int64_t l = 0; l < n; l++) x[l] = load1(dt, base, row + idx[l]);
    return x;
}

/* One vector of 4 coordinates into the register sums of a block (K <= 4): c.. (contiguous) or
 * idx[0..n) (gathered). */
INLINE void row_step(const int K, const fi_dtype dt, const bool has_target, const bool gathered,
                     const fi_problem *pb, const void *target, int64_t c, const int64_t *idx,
                     int64_t n, const v4d *P, v4d S[4][4], v4d *T, v4d *M)
{
    v4d x[4], m = splat(0);
#pragma GCC unroll 4
    for (int i = 0; i < K; i++) {
        x[i] = gathered ? gather_n(dt, pb->scores, i * pb->ld, idx, n)
                        : load_n(dt, pb->scores, i * pb->ld + c, n);
        m += P[i] * x[i];
    }
    *M += m * m;
#pragma GCC unroll 4
    for (int i = 0; i < K; i++)
#pragma GCC unroll 4
        for (int q = i; q < K; q++) S[i][q] += x[i] * x[q];
    if (has_target) {
        const v4d g = gathered ? gather_n(dt, target, 0, idx, n) : load_n(dt, target, c, n);
#pragma GCC unroll 4
        for (int i = 0; i < K; i++) T[i] += x[i] * g;
    }
}

/* K <= 4: all sums stay in registers for the whole block. */
INLINE void row_sums_small(const int K, const fi_dtype dt, const bool has_target,
                           const bool gathered, const fi_problem *pb, int64_t c0,
                           const int64_t *idx, int64_t p, const void *target, int64_t k,
                           fi_gram *gm)
{
    v4d S[4][4], T[4], M = splat(0), P[4];
#pragma GCC unroll 4
    for (int i = 0; i < K; i++) {
        P[i] = splat(pb->prob[i]);
        T[i] = splat(0);
#pragma GCC unroll 4
        for (int q = 0; q < K; q++) S[i][q] = splat(0);
    }
    int64_t j = 0;
    for (; j + W <= p; j += W)
        row_step(K, dt, has_target, gathered, pb, target, c0 + j, idx + j, W, P, S, T, &M);
    if (j < p) row_step(K, dt, has_target, gathered, pb, target, c0 + j, idx + j, p - j, P, S, T, &M);
    double s[16] = {0}, t[4] = {0};
    for (int i = 0; i < K; i++) {
        t[i] = hsum(T[i]);
        for (int q = i; q < K; q++) s[i * K + q] = hsum(S[i][q]);
    }
    fi__gram_from_sums(pb, K, s, t, has_target, k, hsum(M), gm);
}

#define ROWS(K_, DT_, T_) row_sums_small(K_, DT_, T_, false, pb, c0, NULL, p, target, k, gm)
#define ROWS_T(K_, DT_) (target ? ROWS(K_, DT_, true) : ROWS(K_, DT_, false))

void KFN(rows)(const fi_problem *pb, int64_t c0, int64_t p, const void *target, int64_t k,
               fi_gram *gm)
{
    switch (pb->k_eff) { /* K >= 2: n_classes >= 2 is validated */
    case 2: BY_DTYPE(ROWS_T, 2); break;
    case 3: BY_DTYPE(ROWS_T, 3); break;
    default: BY_DTYPE(ROWS_T, 4); break; /* K = 4: larger K take rows_wide */
    }
}

#define IDX(K_, DT_, T_) row_sums_small(K_, DT_, T_, true, pb, 0, idx, p, target, k, gm)
#define IDX_T(K_, DT_) (target ? IDX(K_, DT_, true) : IDX(K_, DT_, false))

bool KFN(index_sums)(const fi_problem *pb, const int64_t *idx, int64_t p, const void *target,
                     int64_t k, fi_gram *gm)
{
    switch (pb->k_eff) {
    case 2: BY_DTYPE(IDX_T, 2); return true;
    case 3: BY_DTYPE(IDX_T, 3); return true;
    case 4: BY_DTYPE(IDX_T, 4); return true;
    default: return false;
    }
}
