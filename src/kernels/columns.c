/* Gram sums of strided blocks (columns of a row-major matrix): a vector holds four columns, the
 * rows stream through once, specialized for K in {2, 3, 4} (any other K with a run-time K),
 * the dtype and whether a gradient target adds its products. */
#include "kernels/simd.h"

/* acc layout: for each vector of 4 columns, its K(K+1)/2 products, K target products and the
 * mean square, next to each other (entries nv vectors apart would alias at 4 KiB). Each
 * column's sums live in one lane. */
/* Rows j..j+R (R = 1 or 2, rows inc apart) of one vector of 4 columns into its sums: each sum
 * is loaded and stored once for R rows, and still adds row j before row j+1. */
INLINE void column_step(const int K, const int R, const fi_dtype dt, const bool has_target,
                        const fi_problem *pb, const void *target, int64_t off, int64_t inc,
                        int64_t n, const v4d *P, v4d *a)
{
    const int E = K * (K + 1) / 2;
    v4d x[2][FI_GRAM_MAX_K], m[2] = {splat(0), splat(0)}, g[2];
#pragma GCC unroll 2
    for (int r = 0; r < R; r++) {
#pragma GCC unroll 4
        for (int i = 0; i < K; i++) {
            x[r][i] = load_n(dt, pb->scores, i * pb->ld + off + r * inc, n);
            m[r] += P[i] * x[r][i];
        }
        if (has_target) g[r] = load_n(dt, target, off + r * inc, n);
    }
    int e = 0;
#pragma GCC unroll 4
    for (int i = 0; i < K; i++)
#pragma GCC unroll 4
        for (int q = i; q < K; q++, e++) {
            v4d t = a[e];
#pragma GCC unroll 2
            for (int r = 0; r < R; r++) t += x[r][i] * x[r][q];
            a[e] = t;
        }
    if (has_target)
#pragma GCC unroll 4
        for (int i = 0; i < K; i++) {
            v4d t = a[E + i];
#pragma GCC unroll 2
            for (int r = 0; r < R; r++) t += x[r][i] * g[r];
            a[E + i] = t;
        }
    v4d t = a[E + K];
#pragma GCC unroll 2
    for (int r = 0; r < R; r++) t += m[r] * m[r];
    a[E + K] = t;
}

/* Rows j..j+R of all nb columns (offset off of row j): full vectors, then the partial one. */
INLINE void column_rows(const int K, const int R, const fi_dtype dt, const bool has_target,
                        const fi_problem *pb, const void *target, int64_t off, int64_t inc,
                        int64_t nb, const v4d *P, v4d *acc)
{
    const int64_t full = nb / W, Et = K * (K + 1) / 2 + K + 1;
    for (int64_t v = 0; v < full; v++)
        column_step(K, R, dt, has_target, pb, target, off + v * W, inc, W, P, acc + v * Et);
    if (full * W < nb)
        column_step(K, R, dt, has_target, pb, target, off + full * W, inc, nb - full * W, P,
                    acc + full * Et);
}

INLINE void column_sums_k(const int K, const fi_dtype dt, const bool has_target,
                          const fi_problem *pb, int64_t c0, int64_t nb, int64_t p, int64_t inc,
                          const void *target, double *acc_d)
{
    const int64_t nv = (nb + W - 1) / W, Et = K * (K + 1) / 2 + K + 1;
    v4d *acc = (v4d *)acc_d; /* the caller's buffer is 32-byte aligned */
    v4d P[FI_GRAM_MAX_K];
    for (int i = 0; i < K; i++) P[i] = splat(pb->prob[i]);
    for (int64_t q = 0; q < Et * nv; q++) acc[q] = splat(0);
    int64_t j = 0;
    for (; j + 2 <= p; j += 2) column_rows(K, 2, dt, has_target, pb, target, c0 + j * inc, inc, nb, P, acc);
    if (j < p) column_rows(K, 1, dt, has_target, pb, target, c0 + j * inc, inc, nb, P, acc);
}

#define COLS(K_, DT_, T_) column_sums_k(K_, DT_, T_, pb, c0, nb, p, inc, target, acc)
#define COLS_T(K_, DT_) (target ? COLS(K_, DT_, true) : COLS(K_, DT_, false))

void KFN(columns)(const fi_problem *pb, int64_t c0, int64_t nb, int64_t p, int64_t inc,
                  const void *target, double *acc)
{
    switch (pb->k_eff) {
    case 2: BY_DTYPE(COLS_T, 2); break;
    case 3: BY_DTYPE(COLS_T, 3); break;
    case 4: BY_DTYPE(COLS_T, 4); break;
    default: BY_DTYPE(COLS_T, (int)pb->k_eff); break;
    }
}
