/* Gram sums of one contiguous block for 4 < K <= FI_GRAM_MAX_K classes: a chunk of the block
 * converted once, then the K x K products in register tiles, specialized by dtype. The only
 * family built for AVX-512VL too: its 32 vector registers hold a wider tile. */
#include "kernels/simd.h"

enum { ROW_CHUNK = 128, PF_AHEAD = 2 * ROW_CHUNK }; /* 16 KiB of doubles for K = 16 */

/* Register tile of the K x K products: TI x TC accumulators plus TI + TC loaded vectors must
 * fit the register file (16 vector registers with AVX2 and SSE2, 32 with AVX-512VL). */
#ifdef __AVX512VL__
#define TILE_C 4
#else
#define TILE_C 2
#endif
#define TILE_I 4

/* 4 < K <= 16: a chunk converted once, then the products in TILE_I x TILE_C register tiles
 * (classes padded with zero rows to a multiple of 4). */
INLINE void row_sums_general_dt(const fi_dtype dt, const fi_problem *pb, int64_t c0, int64_t p,
                                const void *target, int64_t k, fi_gram *gm)
{
    const int64_t K = pb->k_eff, ld = pb->ld, K4 = (K + 3) & ~(int64_t)3;
    enum { NV = ROW_CHUNK / W };
    v4d x[FI_GRAM_MAX_K][NV], S[FI_GRAM_MAX_K][FI_GRAM_MAX_K], T[FI_GRAM_MAX_K];
    v4d M = splat(0);
    for (int64_t i = 0; i < K4; i++) {
        T[i] = splat(0);
        for (int64_t c = 0; c < K4; c++) S[i][c] = splat(0);
    }
    for (int64_t j0 = 0; j0 < p; j0 += ROW_CHUNK) {
        const int64_t len = p - j0 < ROW_CHUNK ? p - j0 : ROW_CHUNK, nv = (len + W - 1) / W;
        v4d m[NV];
        for (int64_t v = 0; v < nv; v++) m[v] = splat(0);
        for (int64_t i = 0; i < K; i++) {
            const v4d Pi = splat(pb->prob[i]);
            const int64_t row = i * ld + c0 + j0;
            /* K streams at once are more than the hardware prefetcher follows: ask for the
             * next chunk of this class while this one is converted */
            if (j0 + PF_AHEAD < p)
                for (int64_t q = 0; q < ROW_CHUNK * fi__dtype_bytes(dt); q += 64)
                    __builtin_prefetch((const char *)pb->scores +
                                       (row + PF_AHEAD) * fi__dtype_bytes(dt) + q);
            for (int64_t v = 0; v < nv; v++) {
                const int64_t n = len - v * W < W ? len - v * W : W;
                x[i][v] = load_n(dt, pb->scores, row + v * W, n);
                m[v] += Pi * x[i][v];
            }
        }
        for (int64_t v = 0; v < nv; v++) M += m[v] * m[v];
        for (int64_t i = K; i < K4; i++)
            for (int64_t v = 0; v < nv; v++) x[i][v] = splat(0);
        for (int64_t i = 0; i < K4; i += TILE_I)
            for (int64_t c = i; c < K4; c += TILE_C) {
                v4d a[TILE_I][TILE_C];
#pragma GCC unroll 4
                for (int r = 0; r < TILE_I; r++)
#pragma GCC unroll 4
                    for (int q = 0; q < TILE_C; q++) a[r][q] = S[i + r][c + q];
                for (int64_t v = 0; v < nv; v++) {
                    v4d xi[TILE_I], xc[TILE_C];
#pragma GCC unroll 4
                    for (int r = 0; r < TILE_I; r++) xi[r] = x[i + r][v];
#pragma GCC unroll 4
                    for (int q = 0; q < TILE_C; q++) xc[q] = x[c + q][v];
#pragma GCC unroll 4
                    for (int r = 0; r < TILE_I; r++)
#pragma GCC unroll 4
                        for (int q = 0; q < TILE_C; q++) a[r][q] += xi[r] * xc[q];
                }
#pragma GCC unroll 4
                for (int r = 0; r < TILE_I; r++)
#pragma GCC unroll 4
                    for (int q = 0; q < TILE_C; q++) S[i + r][c + q] = a[r][q];
            }
        if (target) {
            for (int64_t v = 0; v < nv; v++) {
                const int64_t n = len - v * W < W ? len - v * W : W;
                const v4d g = load_n(dt, target, c0 + j0 + v * W, n);
                for (int64_t i = 0; i < K; i++) T[i] += x[i][v] * g;
            }
        }
    }
    double s[FI_GRAM_MAX_K * FI_GRAM_MAX_K] = {0}, t[FI_GRAM_MAX_K];
    for (int64_t i = 0; i < K; i++) {
        t[i] = hsum(T[i]);
        for (int64_t c = i; c < K; c++) s[i * K + c] = hsum(S[i][c]);
    }
    fi__gram_from_sums(pb, K, s, t, target != NULL, k, hsum(M), gm);
}

void KFN(rows_wide)(const fi_problem *pb, int64_t c0, int64_t p, const void *target, int64_t k,
                    fi_gram *gm)
{
#define GENERAL(A_, DT_) row_sums_general_dt(DT_, pb, c0, p, target, k, gm)
    BY_DTYPE(GENERAL, 0);
}
