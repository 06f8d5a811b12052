/* Vectorized streaming kernels (interface and guarantees in src/kernels.h). Written with the
 * GCC/Clang vector extension on 4 doubles: the baseline build lowers a vector to two SSE2
 * registers, the AVX2 build (FI_KERNEL_ISA=avx2, -mavx2 -mfma) to one. Scores are converted to
 * double as they are loaded; every sum is accumulated in double. */
#include "kernels.h"

#include <float.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

/* Vectors only cross always-inlined static functions, never an ABI boundary. */
#pragma GCC diagnostic ignored "-Wpsabi"

#ifndef FI_KERNEL_ISA
#define FI_KERNEL_ISA portable
#endif
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define KERNEL_TABLE CAT(fi__kernels_, FI_KERNEL_ISA)
#define STR2(a) #a
#define STR(a) STR2(a)

#define INLINE static inline __attribute__((always_inline))

typedef double v4d __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));
typedef long long v4l __attribute__((vector_size(32)));
enum { W = 4 };

INLINE v4d splat(double x) { return (v4d){x, x, x, x}; }

INLINE double hsum(v4d a) { return (a[0] + a[1]) + (a[2] + a[3]); }

/* a where mask, else b (mask lanes all ones or all zeros) */
INLINE v4d select(v4l mask, v4d a, v4d b) { return (v4d)(((v4l)a & mask) | ((v4l)b & ~mask)); }

typedef uint16_t v4h __attribute__((vector_size(8)));
typedef uint32_t v4u __attribute__((vector_size(16)));

/* x[i] as a double, any dtype (exact: every dtype is a subset of double) */
INLINE double load1(fi_dtype dt, const void *base, int64_t i)
{
    switch (dt) {
    case FI_F64: return ((const double *)base)[i];
    case FI_F32: return (double)((const float *)base)[i];
    default: return fi__load(dt, base, i);
    }
}

/* x[i..i+4) as doubles. bfloat16 is the upper half of a binary32; float16 goes through F16C
 * where the build has it, else through the scalar decoder. */
INLINE v4d load4(fi_dtype dt, const void *base, int64_t i)
{
    if (dt == FI_BF16) {
        v4h h;
        memcpy(&h, (const uint16_t *)base + i, sizeof h);
        const v4u u = __builtin_convertvector(h, v4u) << 16;
        return __builtin_convertvector((v4f)u, v4d);
    }
    if (dt == FI_F16) {
#ifdef __F16C__
        return (v4d)_mm256_cvtps_pd(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)((const uint16_t *)base + i))));
#else
        return (v4d){load1(dt, base, i), load1(dt, base, i + 1), load1(dt, base, i + 2),
                     load1(dt, base, i + 3)};
#endif
    }
#ifdef __AVX2__
    if (dt == FI_F32) return (v4d)_mm256_cvtps_pd(_mm_loadu_ps((const float *)base + i));
    return (v4d)_mm256_loadu_pd((const double *)base + i);
#else
    if (dt == FI_F32) {
        v4f f;
        memcpy(&f, (const float *)base + i, sizeof f);
        return __builtin_convertvector(f, v4d);
    }
    v4d d;
    memcpy(&d, (const double *)base + i, sizeof d);
    return d;
#endif
}

/* x[i..i+n), n < 4, zero padded: tails go through the same vector arithmetic as the body */
INLINE v4d load_part(fi_dtype dt, const void *base, int64_t i, int64_t n)
{
    v4d d = splat(0);
    for (int64_t j = 0; j < n; j++) d[j] = load1(dt, base, i + j);
    return d;
}

INLINE v4d load_n(fi_dtype dt, const void *base, int64_t i, int64_t n)
{
    return n == W ? load4(dt, base, i) : load_part(dt, base, i, n);
}

/* One instantiation per dtype: M(A, dtype) for the problem's dtype. */
#define BY_DTYPE(M, A)                                                                      \
    (pb->dtype == FI_F32    ? M(A, FI_F32)                                                   \
     : pb->dtype == FI_F64  ? M(A, FI_F64)                                                   \
     : pb->dtype == FI_BF16 ? M(A, FI_BF16)                                                  \
                            : M(A, FI_F16))

INLINE void store_n(double *dst, v4d v, int64_t n)
{
    if (n == W) {
        memcpy(dst, &v, sizeof v);
    } else {
        for (int64_t j = 0; j < n; j++) dst[j] = v[j];
    }
}

/* ------------------------------------------------------------------ elements (p = 1) */

/* FI of elements b..b+n (one per lane) into *r, 0 where the lane is not decided here; returns
 * the lanes that are (d in [1e-280, DBL_MAX] and a finite quotient). */
INLINE v4l element_vec(const int K, const fi_dtype dt, const bool has_target, const fi_problem *pb,
                       const void *target, int64_t k, const v4d *P, v4d floor2, int64_t b,
                       int64_t n, v4d *r)
{
    v4d d = splat(0);
    for (int i = 0; i < K; i++) {
        const v4d x = load_n(dt, pb->scores, i * pb->ld + b, n);
        d += P[i] * x * x;
    }
    const v4d g = has_target ? load_n(dt, target, b, n) : load_n(dt, pb->scores, k * pb->ld + b, n);
    const v4d fi = g * g / d, huge = splat(DBL_MAX);
    const v4l ok = (d >= splat(1e-280)) & (d <= huge) & (fi <= huge);
    /* sigma = sqrt(d) counts when sigma > max(atol, rcond*sigma): d > atol^2 and rcond < 1 */
    *r = (v4d)((v4l)fi & ok & (d > floor2));
    return ok;
}

enum { ELEM_CHUNK = 256, STREAM_MIN = 1 << 20 };

#ifdef __AVX2__
#define STREAMING_STORES 1
INLINE void store_fence(bool streamed)
{
    if (streamed) _mm_sfence();
}
#else
#define STREAMING_STORES 0
INLINE void store_fence(bool streamed) { (void)streamed; }
#endif

INLINE int64_t elements_k(const int K, const fi_dtype dt, const bool has_target,
                          const fi_problem *pb, const void *target, int64_t k, double rcond,
                          double atol, int64_t first, int64_t last, double *out, bool accumulate)
{
    const v4d floor2 = splat(rcond < 1 ? atol * atol : INFINITY);
    v4d P[FI_GRAM_MAX_K];
    for (int i = 0; i < K; i++) P[i] = splat(pb->prob[i]);
    /* Outputs far beyond the caches bypass them (no read for ownership of out): a first chunk
     * of up to 3 elements brings the vectors to 32-byte alignment. Lanes are independent, so
     * how elements are grouped never changes a value. */
    const bool stream_out = STREAMING_STORES && !accumulate && last - first >= STREAM_MIN &&
                            ((uintptr_t)out & 7) == 0;
    const int64_t head = stream_out ? (int64_t)((32 - ((uintptr_t)(out + first) & 31)) & 31) / 8 : 0;
    int64_t bad_at = -1, len;
    for (int64_t b0 = first; b0 < last && bad_at < 0; b0 += len) {
        len = b0 == first && head ? head : last - b0 < ELEM_CHUNK ? last - b0 : ELEM_CHUNK;
        v4l bad = {0, 0, 0, 0};
        for (int64_t j = 0; j < len; j += W) {
            const int64_t n = len - j < W ? len - j : W;
            v4d r;
            v4l ok = element_vec(K, dt, has_target, pb, target, k, P, floor2, b0 + j, n, &r);
            for (int64_t l = n; l < W; l++) ok[l] = -1; /* padding lanes */
            bad |= ~ok;
            if (accumulate) r += load_n(FI_F64, out, b0 + j, n);
#ifdef __AVX2__
            if (stream_out && n == W) {
                _mm256_stream_pd(out + b0 + j, (__m256d)r);
                continue;
            }
#endif
            store_n(out + b0 + j, r, n);
        }
        if (!(bad[0] | bad[1] | bad[2] | bad[3])) continue;
        /* zero, extreme or non-finite lanes: the same vectors again tell which, and the
         * scalar closed form (with rescaling) adds their value to the 0 written for them */
        store_fence(stream_out);
        for (int64_t j = 0; j < len && bad_at < 0; j += W) {
            const int64_t n = len - j < W ? len - j : W;
            v4d r;
            const v4l ok = element_vec(K, dt, has_target, pb, target, k, P, floor2, b0 + j, n, &r);
            for (int64_t l = 0; l < n && bad_at < 0; l++) {
                if (ok[l]) continue;
                const int64_t c = b0 + j + l;
                double s[FI_GRAM_MAX_K] = {0};
                bool finite = true;
                for (int i = 0; i < K; i++) {
                    s[i] = fi__load(dt, pb->scores, i * pb->ld + c);
                    finite = finite && isfinite(s[i]);
                }
                const double gj = has_target ? fi__load(dt, target, c) : s[k];
                if (!finite || !isfinite(gj)) bad_at = c;
                else out[c] += fi__element_fi(pb->prob, s, K, gj, rcond, atol);
            }
        }
    }
    store_fence(stream_out); /* the streaming stores are visible before the caller reads out */
    return bad_at;
}

#define ELEMENTS(K_, DT_, T_) \
    elements_k(K_, DT_, T_, pb, target, k, rcond, atol, first, last, out, accumulate)
#define ELEMENTS_T(K_, DT_) (target ? ELEMENTS(K_, DT_, true) : ELEMENTS(K_, DT_, false))
#define ELEMENTS_DT(K_) BY_DTYPE(ELEMENTS_T, K_)

static int64_t elements(const fi_problem *pb, const void *target, int64_t k, double rcond,
                        double atol, int64_t first, int64_t last, double *out, bool accumulate)
{
    switch (pb->k_eff) {
    case 1: return ELEMENTS_DT(1);
    case 2: return ELEMENTS_DT(2);
    case 3: return ELEMENTS_DT(3);
    case 4: return ELEMENTS_DT(4);
    default: return ELEMENTS_DT((int)pb->k_eff);
    }
}

/* ------------------------------------------------------------------ contiguous blocks */

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
#define ROWS_DT(K_) BY_DTYPE(ROWS_T, K_)

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
                for (int64_t q = 0; q < ROW_CHUNK * (int64_t)fi_dtype_size(dt); q += 64)
                    __builtin_prefetch((const char *)pb->scores +
                                       (row + PF_AHEAD) * (int64_t)fi_dtype_size(dt) + q);
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

static void row_sums_general(const fi_problem *pb, int64_t c0, int64_t p, const void *target,
                             int64_t k, fi_gram *gm)
{
#define GENERAL(A_, DT_) row_sums_general_dt(DT_, pb, c0, p, target, k, gm)
    BY_DTYPE(GENERAL, 0);
}

static void row_sums(const fi_problem *pb, int64_t c0, int64_t p, const void *target, int64_t k,
                     fi_gram *gm)
{
    switch (pb->k_eff) {
    case 1: ROWS_DT(1); break;
    case 2: ROWS_DT(2); break;
    case 3: ROWS_DT(3); break;
    case 4: ROWS_DT(4); break;
    default: row_sums_general(pb, c0, p, target, k, gm); break;
    }
}

#define IDX(K_, DT_, T_) row_sums_small(K_, DT_, T_, true, pb, 0, idx, p, target, k, gm)
#define IDX_T(K_, DT_) (target ? IDX(K_, DT_, true) : IDX(K_, DT_, false))
#define IDX_DT(K_) BY_DTYPE(IDX_T, K_)

static bool index_sums(const fi_problem *pb, const int64_t *idx, int64_t p, const void *target,
                       int64_t k, fi_gram *gm)
{
    switch (pb->k_eff) {
    case 1: IDX_DT(1); return true;
    case 2: IDX_DT(2); return true;
    case 3: IDX_DT(3); return true;
    case 4: IDX_DT(4); return true;
    default: return false;
    }
}

/* ------------------------------------------------------------------ strided (column) blocks */

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
#define COLS_DT(K_) BY_DTYPE(COLS_T, K_)

static void column_sums(const fi_problem *pb, int64_t c0, int64_t nb, int64_t p, int64_t inc,
                        const void *target, double *acc)
{
    switch (pb->k_eff) {
    case 2: COLS_DT(2); break;
    case 3: COLS_DT(3); break;
    case 4: COLS_DT(4); break;
    default: COLS_DT((int)pb->k_eff); break;
    }
}

/* ------------------------------------------------------------------ small p < K (pixels) */

/* G = L D L^T with unit lower L; FI = sum_a z_a^2 / D_a, z = L^-1 g. The block is decided
 * here when G is safely full rank by the bound of src/gram.c: lambda_max <= trace G and
 * lambda_min >= 1/||D^-1/2 L^-1||_F^2 with trace * ||.||_F^2 <= PIXEL_MAX_COND and the smallest singular
 * value clear of the rank cut-off. */
/* G is formed from K <= 16 products per entry and LDL^T is backward stable, so FI has relative
 * error below about (K + p) * eps * kappa(G) <= 20 * 1.1e-16 * 1e4 = 2.2e-11 here; p is tiny,
 * unlike the Gram path of src/gram.c, whose error grows with p and keeps kappa <= 1e3. */
#define PIXEL_MAX_COND 1e4

/* x[a] = coordinate a of the n <= 4 blocks b.. (zero lanes beyond n). Dense layouts (step p,
 * stride 1: HWC pixels) read the 4p values with vector loads and transpose them. */
INLINE void pixel_load(const int p, const fi_dtype dt, const bool dense, const void *base,
                       int64_t row, const fi_blocks *bl, int64_t b, int64_t n, v4d *x)
{
    if (dense && n == W) {
        double t[16];
#pragma GCC unroll 4
        for (int q = 0; q < p; q++) {
            const v4d y = load4(dt, base, row + b * p + q * W);
            memcpy(t + q * W, &y, sizeof y);
        }
#pragma GCC unroll 4
        for (int a = 0; a < p; a++) x[a] = (v4d){t[a], t[p + a], t[2 * p + a], t[3 * p + a]};
        return;
    }
#pragma GCC unroll 4
    for (int a = 0; a < p; a++) {
        x[a] = splat(0);
        for (int l = 0; l < n; l++)
            x[a][l] = l < n ? load1(dt, base, row + (b + l) * bl->step + a * bl->stride) : 0.0;
    }
}

INLINE void pixels_p(const int p, const fi_dtype dt, const bool has_target, const bool dense,
                     const fi_problem *pb, const fi_blocks *bl, int64_t b0, int64_t nb,
                     const void *target, int64_t k, double rcond, double atol, double *fi_out,
                     unsigned char *ok_out)
{
    const int64_t K = pb->k_eff, ld = pb->ld;
    const double cut_a = atol * atol, cut_r = rcond * rcond;
    for (int64_t v = 0; v * W < nb; v++) {
        const int64_t n = nb - v * W < W ? nb - v * W : W, b = b0 + v * W;
        v4d G[4][4], g[4];
#pragma GCC unroll 4
        for (int a = 0; a < p; a++)
#pragma GCC unroll 4
            for (int c = 0; c <= a; c++) G[a][c] = splat(0);
        for (int64_t i = 0; i < K; i++) {
            v4d x[4];
            const v4d Pi = splat(pb->prob[i]);
            pixel_load(p, dt, dense, pb->scores, i * ld, bl, b, n, x);
#pragma GCC unroll 4
            for (int a = 0; a < p; a++) {
                const v4d y = Pi * x[a];
#pragma GCC unroll 4
                for (int c = 0; c <= a; c++) G[a][c] += y * x[c];
            }
        }
        pixel_load(p, dt, dense, has_target ? target : pb->scores, has_target ? 0 : k * ld, bl,
                   b, n, g);
        v4d L[4][4], Wm[4][4], r[4], trace = splat(0);
        v4l ok = (v4l){-1, -1, -1, -1};
#pragma GCC unroll 4
        for (int a = 0; a < p; a++) {
            trace += G[a][a];
#pragma GCC unroll 4
            for (int c = 0; c < a; c++) {
                v4d w = G[a][c];
#pragma GCC unroll 4
                for (int e = 0; e < c; e++) w -= Wm[a][e] * L[c][e];
                Wm[a][c] = w;
                L[a][c] = w * r[c];
            }
            v4d d = G[a][a];
            for (int e = 0; e < a; e++) d -= Wm[a][e] * L[a][e];
            ok &= d > splat(0);
            r[a] = splat(1) / d;
        }
        v4d z[4], fi = splat(0), fro = splat(0);
        for (int a = 0; a < p; a++) {
            z[a] = g[a];
            for (int e = 0; e < a; e++) z[a] -= L[a][e] * z[e];
            fi += z[a] * z[a] * r[a];
        }
        v4d Li[4][4]; /* the unit lower L^-1; row a weighted by 1/D_a gives ||.||_F^2 */
        for (int a = 0; a < p; a++) {
            v4d row = splat(1);
            for (int c = 0; c < a; c++) {
                v4d s = L[a][c];
                for (int e = c + 1; e < a; e++) s += L[a][e] * Li[e][c];
                Li[a][c] = -s;
                row += s * s;
            }
            fro += r[a] * row;
        }
        const v4d cut2 = select(splat(cut_a) > splat(cut_r) * trace, splat(cut_a), splat(cut_r) * trace);
        ok &= (trace >= splat(1e-150)) & (trace <= splat(1e150)) & (trace * fro <= splat(PIXEL_MAX_COND)) &
              (splat(1.002001) * cut2 * fro < splat(1)) & (fi <= splat(DBL_MAX));
        for (int64_t l = 0; l < n; l++) {
            fi_out[v * W + l] = fi[l];
            ok_out[v * W + l] = ok[l] != 0;
        }
    }
}

#define PIX(P_, DT_, T_, D_) pixels_p(P_, DT_, T_, D_, pb, bl, b0, nb, target, k, rcond, atol, fi, ok)
#define PIX_D(P_, DT_, T_) (dense ? PIX(P_, DT_, T_, true) : PIX(P_, DT_, T_, false))
#define PIX_T(P_, DT_) (target ? PIX_D(P_, DT_, true) : PIX_D(P_, DT_, false))
#define PIX_DT(P_) BY_DTYPE(PIX_T, P_)

static void pixels(const fi_problem *pb, const fi_blocks *bl, int64_t b0, int64_t nb,
                   const void *target, int64_t k, double rcond, double atol, double *fi,
                   unsigned char *ok)
{
    const bool dense = bl->step == bl->size && bl->stride == 1;
    switch (bl->size) {
    case 2: PIX_DT(2); break;
    case 3: PIX_DT(3); break;
    case 4: PIX_DT(4); break;
    default: memset(ok, 0, (size_t)nb); break;
    }
}

const fi_kernels KERNEL_TABLE = {STR(FI_KERNEL_ISA), elements, row_sums, column_sums, pixels,
                                  index_sums};
