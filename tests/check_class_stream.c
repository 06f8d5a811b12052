/* Class streaming (fi_class_stream_*): FI from classes fed one at a time against fi_direct on
 * all K x n scores at once (1e-12 relative, float64 and the stored values of float32,
 * bfloat16 and float16), against the independent dense reference, over elements and blocks
 * of 2..8 coordinates (rows, columns, pixels; p > K rank-deficient, exact zeros, rank-1
 * blocks), K from 2 to 1000, the three class modes with gradient and class targets (the
 * remainder class included), memory O(n) whatever K, and bad input. */
#include <check.h>
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fi.h"
#include "suites.h"
#include "support/reference.h"

static fi_context *ctx;
static void setup(void) { ck_assert_int_eq(fi_context_create(&ctx), FI_OK); }
static void teardown(void) { fi_context_free(ctx); }

/* x stored in dtype dt at dst[i] (round to nearest for float32, float16 through _Float16;
 * bfloat16 truncated), both sides of every comparison read the stored values. */
static void store_as(fi_dtype dt, void *dst, int64_t i, double x)
{
    if (dt == FI_F64) {
        ((double *)dst)[i] = x;
    } else if (dt == FI_F32) {
        ((float *)dst)[i] = (float)x;
    } else if (dt == FI_BF16) {
        const float f = (float)x;
        uint32_t u;
        memcpy(&u, &f, 4);
        ((uint16_t *)dst)[i] = (uint16_t)(u >> 16);
    } else {
        const _Float16 h = (_Float16)x;
        memcpy((uint16_t *)dst + i, &h, 2);
    }
}

/* K rows of n values of dtype dt (row i at i*n) from the doubles S. */
static void *convert(fi_dtype dt, const double *S, int64_t len)
{
    void *x = malloc((size_t)len * fi_dtype_size(dt));
    for (int64_t i = 0; i < len; i++) store_as(dt, x, i, S[i]);
    return x;
}

static double read_as(fi_dtype dt, const void *x, int64_t i)
{
    if (dt == FI_F64) return ((const double *)x)[i];
    if (dt == FI_F32) return ((const float *)x)[i];
    uint16_t h = ((const uint16_t *)x)[i];
    if (dt == FI_BF16) {
        const uint32_t u = (uint32_t)h << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    _Float16 v;
    memcpy(&v, &h, 2);
    return (double)v;
}

static double max_rel(const double *a, const double *b, int64_t count)
{
    double worst = 0;
    for (int64_t i = 0; i < count; i++)
        worst = fmax(worst, fabs(a[i] - b[i]) / fmax(fabs(b[i]), 1e-300));
    return worst;
}

/* FI by streaming the K classes of S (rows of n values in dt at row*n) one at a time. */
static int stream_fi(int64_t K, const double *P, fi_dtype dt, const void *S, int64_t n,
                     const fi_blocks *bl, const void *target, int64_t target_class, double *out)
{
    fi_class_stream *cs = NULL;
    int st = fi_class_stream_create(ctx, n, bl, target ? -1 : target_class, &cs);
    if (st != FI_OK) return st;
    const size_t es = fi_dtype_size(dt);
    for (int64_t i = 0; i < K && st == FI_OK; i++)
        st = fi_class_stream_add(ctx, cs, P[i], dt, (const char *)S + (size_t)(i * n) * es);
    if (st == FI_OK) st = fi_class_stream_finish(ctx, cs, dt, target, out, 0);
    fi_class_stream_free(cs);
    return st;
}

/* Largest |a - b| / (tol_b * |b|) over the blocks, where tol_b is 1e-12 widened by the
 * problem's own sensitivity, which bounds how far any two backward-stable methods (fi_direct's
 * fast and reference paths among them) can differ: 32 u kappa_b (1 + |s|_max / |g[b]|), with
 * kappa_b = sigma_max / sigma_min(kept) of B_b (from the formed metric) and |s|_max / |g[b]|
 * the cancellation in an adjusted class target (s_k - mu). For elements kappa = 1. Values
 * below 1e-14 of the largest |b| compare against that floor. */
static double scaled_diff(const double *a, const double *b, const double *tol, int64_t count)
{
    double mx = 0, worst = 0;
    for (int64_t i = 0; i < count; i++) mx = fmax(mx, fabs(b[i]));
    for (int64_t i = 0; i < count; i++) {
        const double d = fabs(a[i] - b[i]) / fmax(fabs(b[i]), 1e-14 * mx + 1e-300) / tol[i];
        worst = fmax(worst, d);
    }
    return worst;
}

/* The tolerances of scaled_diff for K classes of S (doubles, rows of n) and the target g
 * (n doubles), or the class target k of the context's class mode when g is NULL. */
static void tolerances(int64_t K, const double *P, const double *S, int64_t n, const double *g,
                       int64_t k, const fi_blocks *bl, double rcond, double *tol)
{
    double mode = 0, psum = 0;
    ck_assert_int_eq(fi_context_get(ctx, FI_OPT_CLASS_MODE, &mode), FI_OK);
    for (int64_t i = 0; i < K; i++) psum += P[i];
    const int64_t p = bl->size;
    for (int64_t b = 0; b < bl->count; b++) {
        int64_t idx[8];
        ref_affine_coords(bl, b, idx);
        double G[64] = {0}, w[8], smax = 0, gg = 0;
        for (int64_t x = 0; x < p; x++) {
            long double m = 0;
            for (int64_t i = 0; i < K; i++) {
                m += (long double)P[i] * S[i * n + idx[x]];
                smax = fmax(smax, fabs(S[i * n + idx[x]]));
            }
            double gx;
            if (g) gx = g[idx[x]];
            else if (k == K) gx = (double)(-m / (1 - psum)); /* the remainder class */
            else if (mode == FI_CLASS_RENORMALIZE) gx = (double)(S[k * n + idx[x]] - m / psum);
            else gx = S[k * n + idx[x]];
            gg += gx * gx;
            for (int64_t y = 0; y < p; y++)
                for (int64_t i = 0; i < K; i++)
                    G[x * p + y] += P[i] * S[i * n + idx[x]] * S[i * n + idx[y]];
        }
        LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)p, G, (lapack_int)p, w);
        double kappa = 1;
        for (int64_t j = 0; j < p; j++)
            if (w[j] > fmax(rcond * rcond, 1e-26) * w[p - 1]) {
                kappa = sqrt(w[p - 1] / w[j]);
                break;
            }
        const double cancel = gg > 0 ? smax / sqrt(gg) : 1;
        tol[b] = 1e-12 + 32 * 0x1p-53 * kappa * (1 + cancel);
    }
}
typedef struct layout_case {
    const char *name;
    fi_blocks bl;
    int64_t n;
} layout_case;

/* Compares stream_fi with fi_direct for one problem (dt scores and target) in both target
 * kinds, and returns the largest difference in units of the tolerances. */
static double compare(int64_t K, const double *P, fi_dtype dt, const double *S, const double *g,
                      const layout_case *lc, int64_t target_class)
{
    const int64_t n = lc->n, count = lc->bl.count;
    void *Sx = convert(dt, S, K * n), *gx = convert(dt, g, n);
    double *a = malloc((size_t)count * sizeof *a), *b = malloc((size_t)count * sizeof *b);
    double *tol = malloc((size_t)count * sizeof *tol), *Sd = malloc((size_t)(K * n) * sizeof *Sd);
    double *gd = malloc((size_t)n * sizeof *gd), rcond = 0;
    for (int64_t i = 0; i < K * n; i++) Sd[i] = read_as(dt, Sx, i); /* the values stored */
    for (int64_t i = 0; i < n; i++) gd[i] = read_as(dt, gx, i);
    ck_assert_int_eq(fi_context_get(ctx, FI_OPT_RCOND, &rcond), FI_OK);
    const double u = dt == FI_F64 ? 0x1p-53 : dt == FI_F32 ? 0x1p-24 : dt == FI_BF16 ? 0x1p-8 : 0x1p-11;
    if (rcond < 0) rcond = (double)(lc->bl.size > K ? lc->bl.size : K) * u; /* the default */
    double worst = 0;
    for (int kind = 0; kind < 2; kind++) {
        const void *tg = kind == 0 ? gx : NULL;
        tolerances(K, P, Sd, n, kind == 0 ? gd : NULL, target_class, &lc->bl, rcond, tol);
        for (int64_t j = 0; j < count && dt != FI_F64; j++) /* fi_direct's certified bound */
            tol[j] = fmax(tol[j], ref_fast_tol(dt));
        ck_assert_msg(fi_direct(ctx, K, P, dt, Sx, n, n, &lc->bl, tg, target_class, b, 0) == FI_OK,
                      "fi_direct: %s", fi_context_error(ctx));
        ck_assert_msg(stream_fi(K, P, dt, Sx, n, &lc->bl, tg, target_class, a) == FI_OK,
                      "stream: %s", fi_context_error(ctx));
        worst = fmax(worst, scaled_diff(a, b, tol, count));
    }
    free(Sx);
    free(gx);
    free(Sd);
    free(gd);
    free(tol);
    free(a);
    free(b);
    return worst;
}

static const layout_case layouts[] = {
    {"elements", {600, 1, 1, 1}, 600},
    {"strided elements", {300, 1, 1, 2}, 600},
    {"rows p=2", {300, 2, 1, 2}, 600},
    {"rows p=3", {200, 3, 1, 3}, 600},
    {"rows p=5", {120, 5, 1, 5}, 600},
    {"rows p=8", {75, 8, 1, 8}, 600},
    {"columns p=4", {150, 4, 150, 1}, 600},
    {"pixels p=3", {200, 3, 1, 3}, 600},
    {"overlapping p=6", {100, 6, 1, 5}, 600},
};
enum { NLAYOUTS = sizeof layouts / sizeof layouts[0] };

START_TEST(test_matches_direct_f64)
{
    static const int64_t Ks[] = {2, 3, 4, 7, 17, 120};
    ref_rng r;
    ref_seed(&r, 1300 + (uint64_t)_i);
    for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++) {
        const int64_t K = Ks[ki], n = 600;
        double *P = malloc((size_t)K * sizeof *P), *S = malloc((size_t)(K * n) * sizeof *S);
        double g[600];
        ref_softmax(&r, K, 2.0, P);
        ref_scores(&r, K, n, n, S);
        /* Softmax-consistent scores (rank <= K-1): sum_i P_i s_i at the rounding level, which
         * fi_direct's null-direction rule drops for p >= K and the stream must drop alike. */
        if (ki % 2) ref_center(K, P, n, n, S);
        for (int64_t c = 0; c < n; c++) g[c] = ref_normal(&r);
        for (int64_t c = 0; c < n; c += 37) /* exact zeros: coordinates no class moves */
            for (int64_t i = 0; i < K; i++) S[i * n + c] = 0;
        for (int64_t c = 1; c + 1 < n; c += 41) /* rank-1 pairs inside blocks */
            for (int64_t i = 0; i < K; i++) S[i * n + c + 1] = -2 * S[i * n + c];
        for (int li = 0; li < NLAYOUTS; li++) {
            const double d = compare(K, P, FI_F64, S, g, &layouts[li], K - 1);
            ck_assert_msg(d <= 1, "K %lld %s: stream differs from fi_direct by %.3g tolerances",
                          (long long)K, layouts[li].name, d);
        }
        free(P);
        free(S);
    }
}
END_TEST

START_TEST(test_matches_direct_dtypes)
{
    static const fi_dtype dts[] = {FI_F32, FI_BF16, FI_F16};
    ref_rng r;
    ref_seed(&r, 1400);
    const int64_t K = 6, n = 600;
    double P[6], S[6 * 600], g[600];
    ref_softmax(&r, K, 1.0, P);
    ref_scores(&r, K, n, n, S);
    ref_center(K, P, n, n, S);
    for (int64_t c = 0; c < n; c++) g[c] = ref_normal(&r);
    for (int di = 0; di < 3; di++)
        for (int li = 0; li < NLAYOUTS; li++) {
            const double d = compare(K, P, dts[di], S, g, &layouts[li], 2);
            ck_assert_msg(d <= 1, "dtype %d %s: stream differs from fi_direct by %.3g tolerances",
                          (int)dts[di], layouts[li].name, d);
        }
}
END_TEST

/* Renormalize (probabilities summing to 0.7) and remainder (to 0.6), every class target
 * including the remainder class K. */
START_TEST(test_class_modes)
{
    static const int64_t Ks[] = {3, 5, 40};
    ref_rng r;
    ref_seed(&r, 1500);
    for (int mode = FI_CLASS_RENORMALIZE; mode <= FI_CLASS_REMAINDER; mode++) {
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_CLASS_MODE, mode), FI_OK);
        for (size_t ki = 0; ki < 3; ki++) {
            const int64_t K = Ks[ki], n = 600;
            double *P = malloc((size_t)K * sizeof *P), *S = malloc((size_t)(K * n) * sizeof *S);
            double g[600];
            ref_softmax(&r, K, 1.5, P);
            for (int64_t i = 0; i < K; i++) P[i] *= mode == FI_CLASS_RENORMALIZE ? 0.7 : 0.6;
            ref_scores(&r, K, n, n, S);
            for (int64_t c = 0; c < n; c++) g[c] = ref_normal(&r);
            for (int64_t c = 0; c < n; c += 29) /* class-independent scores: centre to 0 */
                for (int64_t i = 1; i < K; i++) S[i * n + c] = S[c];
            const int64_t last = mode == FI_CLASS_REMAINDER ? K : K - 1;
            for (int li = 0; li < NLAYOUTS; li++)
                for (int64_t k = 0; k <= last; k += last > 4 ? last / 2 : 1) {
                    const double d = compare(K, P, FI_F64, S, g, &layouts[li], k);
                    ck_assert_msg(d <= 1, "mode %d K %lld %s class %lld: differs by %.3g tolerances",
                                  mode, (long long)K, layouts[li].name, (long long)k, d);
                }
            free(P);
            free(S);
        }
    }
}
END_TEST

/* Against the dense reference (G formed, pseudo-inverted by dsyev), on well-conditioned blocks
 * with K = 1000 classes: the regime the stream is for. */
START_TEST(test_reference_large_k)
{
    ref_rng r;
    ref_seed(&r, 1600);
    const int64_t K = 1000, n = 96;
    double *P = malloc((size_t)K * sizeof *P), *S = malloc((size_t)(K * n) * sizeof *S);
    double g[96], a[96];
    ref_softmax(&r, K, 3.0, P);
    ref_scores(&r, K, n, n, S);
    for (int64_t c = 0; c < n; c++) g[c] = ref_normal(&r);
    for (int64_t p = 1; p <= 8; p *= 2) {
        const fi_blocks bl = {n / p, p, 1, p};
        ck_assert_int_eq(stream_fi(K, P, FI_F64, S, n, &bl, g, 0, a), FI_OK);
        for (int64_t b = 0; b < bl.count; b++) {
            int64_t idx[8];
            ref_affine_coords(&bl, b, idx);
            const double ref = ref_block_fi(K, P, S, n, idx, p, g, -1, 0, NULL, NULL);
            ck_assert_msg(ref_rel(a[b], ref) <= 1e-10, "p %lld block %lld: %.17g vs %.17g",
                          (long long)p, (long long)b, a[b], ref);
        }
    }
    free(P);
    free(S);
}
END_TEST

/* The memory the stream holds is O(n) and does not grow with K. */
START_TEST(test_memory)
{
    const int64_t n = 4096;
    double *s = calloc((size_t)n, sizeof *s);
    for (int64_t c = 0; c < n; c++) s[c] = 0.001 * (double)(c % 97) - 0.03;
    for (int mode = FI_CLASS_STRICT; mode <= FI_CLASS_REMAINDER; mode++) {
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_CLASS_MODE, mode), FI_OK);
        for (int64_t p = 1; p <= 8; p++) {
            const fi_blocks bl = {n / p, p, 1, p};
            for (int tc = -1; tc <= 0; tc++) {
                fi_class_stream *cs = NULL;
                ck_assert_int_eq(fi_class_stream_create(ctx, n, &bl, tc, &cs), FI_OK);
                size_t b0 = 0, b1 = 0;
                ck_assert_int_eq(fi_class_stream_info(cs, NULL, NULL, &b0), FI_OK);
                for (int i = 0; i < 300; i++)
                    ck_assert_int_eq(fi_class_stream_add(ctx, cs, 1.0 / 300, FI_F64, s), FI_OK);
                int64_t classes = 0;
                ck_assert_int_eq(fi_class_stream_info(cs, &classes, NULL, &b1), FI_OK);
                ck_assert_int_eq(classes, 300);
                ck_assert_uint_eq(b0, b1);
                /* doubles per coordinate: elements 1, +1 for the first moment or mean
                 * (remainder, renormalize); blocks (p+1)/2 for the factor, +1 for the mean,
                 * and in strict and remainder mode (p+1)/2 + 1/p for the centred factor and
                 * the largest score norm; +1 for a kept class score */
                const double per =
                    p == 1 ? 1.0 + (mode != FI_CLASS_STRICT)
                           : (double)(p + 1) / 2 + 1 +
                                 (mode != FI_CLASS_RENORMALIZE ? (double)(p + 1) / 2 + 1.0 / (double)p : 0);
                const double per_all = per + (tc >= 0);
                const double expect = per_all * 8 * (double)(bl.count * p);
                ck_assert_msg(b1 >= expect && b1 <= expect + 256, "p %lld: %zu bytes, expected "
                              "%.0f + a header", (long long)p, b1, expect);
                fi_class_stream_free(cs);
            }
        }
    }
    free(s);
}
END_TEST

START_TEST(test_bad_input)
{
    const int64_t n = 8;
    const fi_blocks el = {8, 1, 1, 1}, big = {1, 9, 1, 1}, out_of_range = {8, 2, 1, 1};
    double s[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8], out2[8];
    fi_class_stream *cs = NULL;
    ck_assert_int_eq(fi_class_stream_create(NULL, n, &el, 0, &cs), FI_ERR_NULL);
    ck_assert_int_eq(fi_class_stream_create(ctx, n, &el, 0, NULL), FI_ERR_NULL);
    ck_assert_int_eq(fi_class_stream_create(ctx, n, NULL, 0, &cs), FI_ERR_NULL);
    ck_assert_int_eq(fi_class_stream_create(ctx, 0, &el, 0, &cs), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_class_stream_create(ctx, 9, &big, 0, &cs), FI_ERR_DIMENSION);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "at most 8"));
    ck_assert_int_eq(fi_class_stream_create(ctx, n, &out_of_range, 0, &cs), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_class_stream_create(ctx, n, &el, -2, &cs), FI_ERR_CLASS);
    ck_assert_ptr_null(cs);
    ck_assert_int_eq(fi_class_stream_create(ctx, n, &el, 1, &cs), FI_OK);
    ck_assert_int_eq(fi_class_stream_add(ctx, NULL, 0.5, FI_F64, s), FI_ERR_NULL);
    ck_assert_int_eq(fi_class_stream_add(ctx, cs, 0.5, FI_F64, NULL), FI_ERR_NULL);
    ck_assert_int_eq(fi_class_stream_add(ctx, cs, 0.5, (fi_dtype)7, s), FI_ERR_DTYPE);
    ck_assert_int_eq(fi_class_stream_add(ctx, cs, -0.1, FI_F64, s), FI_ERR_PROBABILITY);
    ck_assert_int_eq(fi_class_stream_add(ctx, cs, NAN, FI_F64, s), FI_ERR_PROBABILITY);
    ck_assert_int_eq(fi_class_stream_add(ctx, cs, 0.5, FI_F64, s), FI_OK);
    /* One class: not enough. */
    ck_assert_int_eq(fi_class_stream_finish(ctx, cs, FI_F64, s, out, 0), FI_ERR_DIMENSION);
    /* A non-finite score leaves the stream as it was: the finish below is unchanged. */
    double bad[8] = {1, 2, 3, INFINITY, 5, 6, 7, 8}, s2[8] = {-1, 0, 2, 1, -3, 1, 0.5, 2};
    ck_assert_int_eq(fi_class_stream_add(ctx, cs, 0.5, FI_F64, bad), FI_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "coordinate 3"));
    int64_t classes = -1;
    ck_assert_int_eq(fi_class_stream_info(cs, &classes, NULL, NULL), FI_OK);
    ck_assert_int_eq(classes, 1);
    ck_assert_int_eq(fi_class_stream_add(ctx, cs, 0.5, FI_F64, s2), FI_OK);
    for (int i = 0; i < 8; i++) out[i] = out2[i] = -7;
    ck_assert_int_eq(fi_class_stream_finish(ctx, NULL, FI_F64, s, out, 0), FI_ERR_NULL);
    ck_assert_int_eq(fi_class_stream_finish(ctx, cs, FI_F64, s, NULL, 0), FI_ERR_NULL);
    ck_assert_int_eq(fi_class_stream_finish(ctx, cs, FI_F64, s, out, 4), FI_ERR_FLAG);
    ck_assert_int_eq(fi_class_stream_finish(ctx, cs, (fi_dtype)9, s, out, 0), FI_ERR_DTYPE);
    ck_assert_int_eq(fi_class_stream_finish(ctx, cs, FI_F64, bad, out, 0), FI_ERR_NONFINITE);
    ck_assert_int_eq(memcmp(out, out2, sizeof out), 0);
    /* Two classes of probability 1/2: the class target 1 is s2; both ways agree with
     * fi_direct on the two rows. */
    double rows[16], d[8];
    memcpy(rows, s, sizeof s);
    memcpy(rows + 8, s2, sizeof s2);
    const double P[2] = {0.5, 0.5};
    ck_assert_int_eq(fi_class_stream_finish(ctx, cs, FI_F64, NULL, out, 0), FI_OK);
    ck_assert_int_eq(fi_direct(ctx, 2, P, FI_F64, rows, 8, 8, &el, NULL, 1, d, 0), FI_OK);
    ck_assert_double_le(max_rel(out, d, 8), 1e-14);
    /* FI_ACCUMULATE adds. */
    ck_assert_int_eq(fi_class_stream_finish(ctx, cs, FI_F64, NULL, out, FI_ACCUMULATE), FI_OK);
    for (int i = 0; i < 8; i++) ck_assert_double_eq_tol(out[i], 2 * d[i], 1e-13 * (1 + d[i]));
    /* Strict mode: the sum is checked at finish. */
    ck_assert_int_eq(fi_class_stream_add(ctx, cs, 0.25, FI_F64, s2), FI_OK);
    ck_assert_int_eq(fi_class_stream_finish(ctx, cs, FI_F64, NULL, out, 0), FI_ERR_PROBABILITY);
    fi_class_stream_free(cs);
    /* No class target kept: a NULL target is an error; a kept class beyond K too. */
    ck_assert_int_eq(fi_class_stream_create(ctx, n, &el, -1, &cs), FI_OK);
    ck_assert_int_eq(fi_class_stream_add(ctx, cs, 0.5, FI_F64, s), FI_OK);
    ck_assert_int_eq(fi_class_stream_add(ctx, cs, 0.5, FI_F64, s2), FI_OK);
    ck_assert_int_eq(fi_class_stream_finish(ctx, cs, FI_F64, NULL, out, 0), FI_ERR_CLASS);
    fi_class_stream_free(cs);
    ck_assert_int_eq(fi_class_stream_create(ctx, n, &el, 2, &cs), FI_OK);
    ck_assert_int_eq(fi_class_stream_add(ctx, cs, 0.5, FI_F64, s), FI_OK);
    ck_assert_int_eq(fi_class_stream_add(ctx, cs, 0.5, FI_F64, s2), FI_OK);
    ck_assert_int_eq(fi_class_stream_finish(ctx, cs, FI_F64, NULL, out, 0), FI_ERR_CLASS);
    fi_class_stream_free(cs);
    ck_assert_int_eq(fi_class_stream_info(NULL, NULL, NULL, NULL), FI_ERR_NULL);
    fi_class_stream_free(NULL);
}
END_TEST

static Suite *class_stream_suite(void)
{
    Suite *s = suite_create("class_stream");
    TCase *tc = tcase_create("class_stream");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_matches_direct_f64, 0, 2);
    tcase_add_test(tc, test_matches_direct_dtypes);
    tcase_add_test(tc, test_class_modes);
    tcase_add_test(tc, test_reference_large_k);
    tcase_add_test(tc, test_memory);
    tcase_add_test(tc, test_bad_input);
    suite_add_tcase(s, tc);
    return s;
}
FI_REGISTER_SUITE(class_stream_suite)
