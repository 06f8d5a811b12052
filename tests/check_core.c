/* The core calls (fi_metric_from_scores[_indexed], fi_compute, the diagnostics, and fi_direct
 * on the same blocks) against the facts of docs/math.md and the slow reference of
 * tests/support/reference.c: facts 1 to 5, rank deficiency, the rank tolerance, index lists,
 * conditioning and half-precision inputs. Every expected value is computed here, from a closed
 * form or the reference, never copied from the library's output. tests/check_core_paths.c
 * holds the rest of the core suite (layouts, dtypes, methods, threads, class modes). */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fi.h"
#include "suites.h"
#include "support/core_calls.h"
#include "support/reference.h"

static fi_context *ctx;
static void setup(void) { ck_assert_int_eq(fi_context_create(&ctx), FI_OK); }
static void teardown(void) { fi_context_free(ctx); }

/* Checks a relative error, naming the case in the failure message. */
#define CHECK_REL(got, want, tol, ...)                                                           \
    ck_assert_msg(ref_rel((got), (want)) <= (tol), __VA_ARGS__)
#define REL(a, b) ref_rel((a), (b))

/* ------------------------------------------------------------------ fact 1 */

/* p = 1: FI = g^2 / sum_i P_i s_i^2, 0 where all scores of the coordinate vanish; also at
 * magnitudes where s^2 would overflow or underflow in a naive formula. */
START_TEST(test_p1_closed_form)
{
    enum { K = 5, N = 40, LD = 47 };
    ref_rng r;
    ref_seed(&r, 101);
    double P[K], S[K * LD], g[N], out[N], want[N], res[N];
    int64_t ranks[N];
    ref_softmax(&r, K, 1.0, P);
    ref_scores(&r, K, N, LD, S);
    if (_i) ref_center(K, P, N, LD, S);
    for (int c = 0; c < N; c++) g[c] = ref_normal(&r);
    for (int i = 0; i < K; i++) S[i * LD + 3] = 0;                 /* rank 0 */
    for (int i = 1; i < K; i++) S[i * LD + 4] = 0;                 /* one class only */
    g[5] = 0;                                                      /* zero target */
    for (int i = 0; i < K; i++) S[i * LD + 6] *= 1e-160, S[i * LD + 7] *= 1e160;
    g[6] *= 1e-160, g[7] *= 1e160;
    for (int c = 0; c < N; c++) { /* closed form, on values scaled by the largest score */
        double mx = 0, den = 0;
        for (int i = 0; i < K; i++) mx = fmax(mx, fabs(S[i * LD + c]));
        for (int i = 0; i < K && mx > 0; i++) den += P[i] * (S[i * LD + c] / mx) * (S[i * LD + c] / mx);
        want[c] = den > 0 ? (g[c] / mx) * (g[c] / mx) / den : 0;
    }
    const fi_blocks el = {N, 1, 1, 1};
    for (int method = 0; method <= 1; method++) {
        metric_fi(method, K, P, FI_F64, S, N, LD, &el, NULL, FI_F64, g, out, ranks, res);
        for (int c = 0; c < N; c++) {
            CHECK_REL(out[c], want[c], 1e-13, "method %d coord %d: %.17g vs %.17g", method, c,
                      out[c], want[c]);
            ck_assert_int_eq(ranks[c], c == 3 ? 0 : 1);
            /* with p = 1 and rank 1 every target is in range */
            ck_assert_double_eq_tol(res[c], c == 3 ? 1.0 : 0.0, 1e-15);
        }
        ck_assert_double_eq(out[3], 0.0);
        ck_assert_double_eq(out[5], 0.0);
        ck_assert_double_eq_tol(out[4], g[4] * g[4] / (P[0] * S[4] * S[4]), 1e-13 * out[4]);
    }
    double d[N];
    ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, S, N, LD, &el, g, -1, d, 0), FI_OK);
    for (int c = 0; c < N; c++) CHECK_REL(d[c], want[c], 1e-13, "direct coord %d", c);
}
END_TEST

/* ------------------------------------------------------------------ fact 2 */

/* A class target (target = scores + k*ld, the raw score of class k) gives ||U^T e_k||^2/P_k,
 * the leverage of class k from the K x K Gram's eigenvectors. */
START_TEST(test_class_leverage)
{
    enum { K = 5, N = 7 * 8 * 5, LD = N + 2 };
    ref_rng r;
    ref_seed(&r, 202 + _i);
    static double P[K], S[K * LD], out[N], d[N];
    ref_softmax(&r, K, 1.0, P);
    ref_scores(&r, K, N, LD, S);
    if (_i) ref_center(K, P, N, LD, S);
    for (int64_t p = 1; p <= 7; p++) {
        const fi_blocks bl = {N / p, p, 1, p};
        coords c = coords_affine(&bl);
        for (int method = 0; method <= 1; method++)
            for (int64_t k = 0; k < K; k++) {
                metric_fi(method, K, P, FI_F64, S, N, LD, &bl, NULL, FI_F64, S + k * LD, out, NULL,
                          NULL);
                ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, S, N, LD, &bl, NULL, k, d, 0), FI_OK);
                for (int64_t b = 0; b < bl.count; b++) {
                    const double lev =
                        ref_class_leverage(K, P, S, LD, c.idx + c.off[b], p, k, -1, 0);
                    CHECK_REL(out[b], lev, 1e-9, "zero-mean %d p %lld method %d class %lld block "
                              "%lld: %.17g vs %.17g", _i, (long long)p, method, (long long)k,
                              (long long)b, out[b], lev);
                    CHECK_REL(d[b], lev, 1e-9, "direct p %lld class %lld block %lld", (long long)p,
                              (long long)k, (long long)b);
                }
            }
        coords_free(&c);
    }
}
END_TEST

/* ------------------------------------------------------------------ fact 3 */

/* Zero-mean scores: FI <= (1-P_k)/P_k, equal once p >= K-1 (rank K-1), strictly below while
 * p < K-1. Scores that are not zero-mean: FI <= 1/P_k, equal once p >= K (rank K).
 * fi_class_bound and fi_normalize_class against their definitions. */
START_TEST(test_bound_and_saturation)
{
    const int zero_mean = _i;
    enum { K = 6, N = 9 * 8 * 7 * 5, NB = 24 };
    ref_rng r;
    ref_seed(&r, 303 + _i);
    static double P[K], S[K * N], out[N], norm[N], junk[N];
    static uint8_t sat[N];
    static int64_t ranks[N];
    ref_softmax(&r, K, 1.5, P);
    ref_scores(&r, K, N, N, S);
    if (zero_mean) ref_center(K, P, N, N, S);
    for (int64_t p = 1; p <= 9; p++) {
        const fi_blocks bl = {NB, p, 1, p};
        const int64_t full = zero_mean ? K - 1 : K;
        for (int method = 0; method <= 1; method++) {
            ck_assert_int_eq(fi_context_set(ctx, FI_OPT_METHOD, method), FI_OK);
            fi_metric *m = NULL;
            ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S, N, N, &bl, &m), FI_OK);
            ck_assert_int_eq(fi_metric_classes(m), K);
            ck_assert_int_eq(fi_metric_ranks(ctx, m, ranks), FI_OK);
            for (int64_t k = 0; k < K; k++) {
                const double ceiling = zero_mean ? (1 - P[k]) / P[k] : 1 / P[k];
                const double documented = (1 - P[k]) / P[k]; /* probabilities sum to 1 */
                double bound = -1;
                ck_assert_int_eq(fi_compute(ctx, m, FI_F64, S + k * N, out, 0), FI_OK);
                ck_assert_int_eq(fi_class_bound(ctx, m, k, &bound), FI_OK);
                ck_assert_double_eq_tol(bound, documented, 1e-14 * documented);
                for (int64_t b = 0; b < NB; b++) norm[b] = -1, sat[b] = 7;
                ck_assert_int_eq(fi_normalize_class(ctx, m, k, out, norm, sat), FI_OK);
                for (int64_t b = 0; b < NB; b++) {
                    ck_assert_int_eq(ranks[b], p < full ? p : full);
                    ck_assert_msg(out[b] <= ceiling * (1 + 1e-10), "p %lld class %lld: %.17g > %.17g",
                                  (long long)p, (long long)k, out[b], ceiling);
                    if (p >= full)
                        CHECK_REL(out[b], ceiling, 1e-10, "saturation p %lld class %lld block %lld: "
                                  "%.17g vs %.17g", (long long)p, (long long)k, (long long)b,
                                  out[b], ceiling);
                    else
                        ck_assert_msg(out[b] < ceiling * (1 - 1e-11), "unsaturated p %lld class %lld "
                                      "block %lld: %.17g vs ceiling %.17g", (long long)p,
                                      (long long)k, (long long)b, out[b], ceiling);
                    ck_assert_double_eq_tol(norm[b], out[b] / documented, 1e-15 * fmax(1, norm[b]));
                    ck_assert_int_eq(sat[b], ranks[b] >= K - 1);
                }
                /* either output may be NULL */
                ck_assert_int_eq(fi_normalize_class(ctx, m, k, out, NULL, sat), FI_OK);
                ck_assert_int_eq(fi_normalize_class(ctx, m, k, out, junk, NULL), FI_OK);
            }
            fi_metric_free(m);
        }
    }
}
END_TEST

/* ------------------------------------------------------------------ fact 4 */

/* s_i[b] -> A_b^T s_i[b], g[b] -> A_b^T g[b] for a random invertible A_b per block leaves FI
 * unchanged; block 0 uses the ReLU rescaling (k theta1, theta2/k) of the paper's section 2,
 * which rescales the gradient by 1/k and FI not at all. */
START_TEST(test_invariance)
{
    enum { K = 7, PMAX = 5, NB = 12 };
    ref_rng r;
    ref_seed(&r, 404);
    for (int64_t p = 2; p <= PMAX; p++) {
        const int64_t n = p * NB;
        double P[K], S[K * PMAX * NB], g[PMAX * NB], S2[K * PMAX * NB], g2[PMAX * NB];
        double a[NB], b2[NB], want[NB];
        ref_softmax(&r, K, 1.0, P);
        ref_scores(&r, K, n, n, S);
        ref_center(K, P, n, n, S);
        for (int64_t c = 0; c < n; c++) g[c] = ref_normal(&r);
        for (int64_t b = 0; b < NB; b++) {
            /* A = Q1 diag(d) Q2 with d in [0.2, 5]: invertible, condition <= 25 */
            double A[PMAX * PMAX], Q1[PMAX * PMAX], Q2[PMAX * PMAX], dg[PMAX];
            ref_orthonormal(&r, p, p, NULL, Q1);
            ref_orthonormal(&r, p, p, NULL, Q2);
            for (int64_t t = 0; t < p; t++) dg[t] = exp(log(5.0) * (2 * ref_uniform(&r) - 1));
            for (int64_t x = 0; x < p; x++)
                for (int64_t y = 0; y < p; y++) {
                    double v = 0;
                    for (int64_t t = 0; t < p; t++) v += Q1[x + t * p] * dg[t] * Q2[t + y * p];
                    A[x + y * p] = v;
                }
            if (b == 0) { /* ReLU rescaling: theta1 -> 1e3 theta1, theta2 -> theta2 / 1e3 */
                memset(A, 0, sizeof A);
                for (int64_t x = 0; x < p; x++) A[x + x * p] = 1;
                A[0] = 1e-3, A[1 + p] = 1e3; /* gradients scale inversely to parameters */
            }
            for (int64_t j = 0; j < p; j++) { /* (A^T v)_j = sum_t A[t, j] v_t */
                double x = 0;
                for (int64_t t = 0; t < p; t++) x += A[t + j * p] * g[b * p + t];
                g2[b * p + j] = x;
                for (int i = 0; i < K; i++) {
                    double y = 0;
                    for (int64_t t = 0; t < p; t++) y += A[t + j * p] * S[i * n + b * p + t];
                    S2[i * n + b * p + j] = y;
                }
            }
        }
        const fi_blocks bl = {NB, p, 1, p};
        coords c = coords_affine(&bl);
        reference_fi(K, P, S, n, &c, g, -1, want, NULL, NULL);
        for (int method = 0; method <= 1; method++) {
            metric_fi(method, K, P, FI_F64, S, n, n, &bl, NULL, FI_F64, g, a, NULL, NULL);
            metric_fi(method, K, P, FI_F64, S2, n, n, &bl, NULL, FI_F64, g2, b2, NULL, NULL);
            for (int64_t b = 0; b < NB; b++) {
                CHECK_REL(a[b], want[b], 1e-9, "p %lld block %lld", (long long)p, (long long)b);
                CHECK_REL(b2[b], a[b], 1e-9, "invariance p %lld method %d block %lld: %.17g vs "
                          "%.17g", (long long)p, method, (long long)b, b2[b], a[b]);
            }
        }
        /* the ReLU rescaling did change the gradient, by a factor 1e3 in one coordinate */
        ck_assert_double_eq_tol(g2[1], 1e3 * g[1], 1e-12 * fabs(1e3 * g[1]));
        coords_free(&c);
    }
}
END_TEST

/* ------------------------------------------------------------------ fact 5 */

/* Blocks with a known spectrum B = V diag(sigma) U^T and a target g = V c + w, w orthogonal
 * to range(B): FI = sum (c/sigma)^2 (the out-of-range part is ignored), and fi_residual =
 * ||w|| / ||g||; the reference's own projector agrees. */
START_TEST(test_residual_outside_range)
{
    enum { K = 6, P_ = 5, NB = 8, N = P_ * NB };
    ref_rng r;
    ref_seed(&r, 505 + _i);
    const int zero_mean = _i;
    double P[K], S[K * N], g[N], gin[N], want[NB], wantres[NB];
    ref_softmax(&r, K, 1.0, P);
    for (int b = 0; b < NB; b++) {
        const int64_t rank = 1 + b % 4; /* 1..4 < p */
        int64_t idx[P_];
        double sigma[P_], V[P_ * P_], c[P_], w[P_];
        for (int j = 0; j < P_; j++) idx[j] = b * P_ + j;
        for (int64_t q = 0; q < rank; q++) sigma[q] = 0.5 + ref_uniform(&r);
        ref_spectrum_block(&r, K, P, S, N, idx, P_, rank, sigma, zero_mean, V);
        for (int j = 0; j < P_; j++) w[j] = ref_normal(&r);
        for (int pass = 0; pass < 2; pass++) /* w -= V V^T w */
            for (int64_t q = 0; q < rank; q++) {
                double d = 0;
                for (int j = 0; j < P_; j++) d += V[q * P_ + j] * w[j];
                for (int j = 0; j < P_; j++) w[j] -= d * V[q * P_ + j];
            }
        double fi = 0, ww = 0, gg = 0;
        for (int64_t q = 0; q < rank; q++) {
            c[q] = ref_normal(&r);
            fi += (c[q] / sigma[q]) * (c[q] / sigma[q]);
        }
        for (int j = 0; j < P_; j++) {
            double x = 0;
            for (int64_t q = 0; q < rank; q++) x += V[q * P_ + j] * c[q];
            gin[idx[j]] = x;
            g[idx[j]] = x + w[j];
            ww += w[j] * w[j];
            gg += g[idx[j]] * g[idx[j]];
        }
        want[b] = fi;
        wantres[b] = sqrt(ww / gg);
    }
    const fi_blocks bl = {NB, P_, 1, P_};
    coords co = coords_affine(&bl);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_RCOND, 1e-10), FI_OK);
    for (int method = 0; method <= 1; method++) {
        double out[NB], res[NB], outin[NB], resin[NB], refres[NB];
        int64_t ranks[NB];
        metric_fi(method, K, P, FI_F64, S, N, N, &bl, NULL, FI_F64, g, out, ranks, res);
        metric_fi(method, K, P, FI_F64, S, N, N, &bl, NULL, FI_F64, gin, outin, NULL, resin);
        double refout[NB];
        reference_fi(K, P, S, N, &co, g, 1e-10, refout, NULL, refres);
        for (int b = 0; b < NB; b++) {
            ck_assert_int_eq(ranks[b], 1 + b % 4);
            CHECK_REL(out[b], want[b], 1e-12, "FI block %d: %.17g vs %.17g", b, out[b], want[b]);
            CHECK_REL(outin[b], want[b], 1e-12, "in-range FI block %d", b);
            CHECK_REL(refout[b], want[b], 1e-9, "reference block %d", b);
            ck_assert(wantres[b] > 0.05);
            CHECK_REL(res[b], wantres[b], 1e-12, "residual block %d: %.17g vs %.17g", b, res[b],
                      wantres[b]);
            CHECK_REL(refres[b], wantres[b], 1e-9, "reference residual block %d", b);
            ck_assert_double_eq_tol(resin[b], 0.0, 1e-13);
        }
    }
    coords_free(&co);
}
END_TEST

/* ------------------------------------------------------------------ rank deficiency */

/* Exactly rank-deficient blocks (integer scores of rank r, r = 0: all zero) at the default
 * tolerance: fi_metric_ranks gives r, FI equals the reference, rank 0 gives FI 0 and a
 * residual of 1 (nothing of the target is in range). */
START_TEST(test_rank_deficient_blocks)
{
    enum { K = 5, P_ = 6, NB = 12, N = P_ * NB, LD = N + 1 };
    ref_rng r;
    ref_seed(&r, 606);
    double P[K], S[K * LD], g[N], want[NB], wantres[NB], out[NB], res[NB], d[NB];
    int64_t ranks[NB], rranks[NB], expect[NB];
    ref_softmax(&r, K, 1.0, P);
    ref_scores(&r, K, N, LD, S); /* padding NaN */
    for (int b = 0; b < NB; b++) {
        int64_t idx[P_];
        for (int j = 0; j < P_; j++) idx[j] = b * P_ + j;
        expect[b] = b % 6; /* 0..5 = min(p, K) */
        ref_lowrank_block(&r, K, S, LD, idx, P_, expect[b]);
    }
    for (int c = 0; c < N; c++) g[c] = ref_normal(&r);
    const fi_blocks bl = {NB, P_, 1, P_};
    coords co = coords_affine(&bl);
    reference_fi(K, P, S, LD, &co, g, -1, want, rranks, wantres);
    for (int method = 0; method <= 1; method++) {
        metric_fi(method, K, P, FI_F64, S, N, LD, &bl, NULL, FI_F64, g, out, ranks, res);
        for (int b = 0; b < NB; b++) {
            ck_assert_int_eq(rranks[b], expect[b]); /* the generator did its job */
            ck_assert_msg(ranks[b] == expect[b], "method %d block %d: rank %lld, want %lld",
                          method, b, (long long)ranks[b], (long long)expect[b]);
            CHECK_REL(out[b], want[b], 1e-9, "method %d block %d rank %lld: %.17g vs %.17g",
                      method, b, (long long)expect[b], out[b], want[b]);
            ck_assert_double_eq_tol(res[b], wantres[b], 1e-9);
            if (expect[b] == 0) {
                ck_assert_double_eq(out[b], 0.0);
                ck_assert_double_eq_tol(res[b], 1.0, 1e-15);
            }
        }
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_METHOD, method), FI_OK);
        ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, S, N, LD, &bl, g, -1, d, 0), FI_OK);
        for (int b = 0; b < NB; b++) CHECK_REL(d[b], want[b], 1e-9, "direct block %d", b);
    }
    coords_free(&co);
}
END_TEST

/* ------------------------------------------------------------------ rcond and atol */

/* A block with singular values {1, 1e-2, 1e-4, 1e-6, 1e-8} * scale and g = V c: the rank is
 * #{sigma_j > max(atol, rcond*sigma_max)} and FI the sum of (c_j/sigma_j)^2 over the kept
 * ones. The default tolerance is relative, so the ranks do not depend on scale. */
START_TEST(test_rcond_and_atol)
{
    enum { K = 6, P_ = 5, N = P_ };
    static const double spec[P_] = {1, 1e-2, 1e-4, 1e-6, 1e-8};
    const double scale = _i ? 1e-30 : 1.0;
    ref_rng r;
    ref_seed(&r, 707);
    double P[K], S[K * N], g[N], V[P_ * P_], c[P_], sigma[P_];
    int64_t idx[P_] = {0, 1, 2, 3, 4};
    ref_softmax(&r, K, 0.5, P);
    for (int q = 0; q < P_; q++) sigma[q] = spec[q] * scale;
    ref_spectrum_block(&r, K, P, S, N, idx, P_, P_, sigma, 0, V);
    for (int q = 0; q < P_; q++) c[q] = (1 + ref_uniform(&r)) * scale;
    for (int j = 0; j < N; j++) {
        g[j] = 0;
        for (int q = 0; q < P_; q++) g[j] += V[q * P_ + j] * c[q];
    }
    const struct {
        double rcond, atol; /* atol in units of scale */
        int64_t rank;
    } cases[] = {
        {-1, 0, 5},     {1e-3, 0, 2},    {1e-5, 0, 3},    {1e-7, 0, 4},    {1e-9, 0, 5},
        {0.5, 0, 1},    {1.0, 0, 0},     {2.0, 0, 0},     {0, 0, 5},       {-1, 5e-5, 3},
        {-1, 2.0, 0},   {1e-3, 1e-5, 2}, {1e-7, 1e-3, 2}, {1e-9, 0.5e-6, 4},
    };
    const fi_blocks bl = {1, P_, 1, P_};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        double want = 0;
        for (int64_t q = 0; q < cases[t].rank; q++) want += (c[q] / sigma[q]) * (c[q] / sigma[q]);
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_RCOND, cases[t].rcond), FI_OK);
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_ATOL, cases[t].atol * scale), FI_OK);
        for (int method = 0; method <= 1; method++) {
            double out, res, d;
            int64_t rank;
            metric_fi(method, K, P, FI_F64, S, N, N, &bl, NULL, FI_F64, g, &out, &rank, &res);
            ck_assert_msg(rank == cases[t].rank, "case %zu method %d scale %g: rank %lld, want %lld",
                          t, method, scale, (long long)rank, (long long)cases[t].rank);
            /* sigma_min = 1e-8 is known to ~sqrt(pK) eps / 1e-8 relative */
            CHECK_REL(out, want, 1e-6, "case %zu method %d: FI %.17g vs %.17g", t, method, out, want);
            ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, S, N, N, &bl, g, -1, &d, 0), FI_OK);
            CHECK_REL(d, want, 1e-6, "case %zu method %d direct: %.17g vs %.17g", t, method, d, want);
        }
    }
    /* An absolute cut-off is not scale-free: atol = 1e-20 keeps all of the unit-scale block
     * and nothing of the 1e-30 one. */
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_RCOND, -1), FI_OK);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_ATOL, 1e-20), FI_OK);
    double out;
    int64_t rank;
    metric_fi(FI_METHOD_REFERENCE, K, P, FI_F64, S, N, N, &bl, NULL, FI_F64, g, &out, &rank, NULL);
    ck_assert_int_eq(rank, _i ? 0 : 5);
}
END_TEST

/* Options are read when the metric is made: changing them later does not change it. */
START_TEST(test_metric_keeps_its_options)
{
    enum { K = 4, N = 12 };
    ref_rng r;
    ref_seed(&r, 717);
    double P[K], S[K * N], g[N], a[4], b[4];
    int64_t ra[4], rb[4];
    ref_softmax(&r, K, 1.0, P);
    ref_scores(&r, K, N, N, S);
    for (int i = 0; i < N; i++) g[i] = ref_normal(&r);
    const fi_blocks bl = {4, 3, 1, 3};
    fi_metric *m = NULL;
    ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S, N, N, &bl, &m), FI_OK);
    ck_assert_int_eq(fi_compute(ctx, m, FI_F64, g, a, 0), FI_OK);
    ck_assert_int_eq(fi_metric_ranks(ctx, m, ra), FI_OK);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_RCOND, 0.99), FI_OK);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_ATOL, 1e300), FI_OK);
    ck_assert_int_eq(fi_compute(ctx, m, FI_F64, g, b, 0), FI_OK);
    ck_assert_int_eq(fi_metric_ranks(ctx, m, rb), FI_OK);
    ck_assert(memcmp(a, b, sizeof a) == 0);
    ck_assert(memcmp(ra, rb, sizeof ra) == 0);
    for (int i = 0; i < 4; i++) ck_assert_int_eq(ra[i], 3);
    fi_metric_free(m);
    /* the new options do apply to a new metric */
    ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S, N, N, &bl, &m), FI_OK);
    ck_assert_int_eq(fi_metric_ranks(ctx, m, rb), FI_OK);
    for (int i = 0; i < 4; i++) ck_assert_int_eq(rb[i], 0);
    fi_metric_free(m);
}
END_TEST

/* Index-list blocks (patches) equal the reference on the same coordinate lists. */
START_TEST(test_indexed_blocks)
{
    ref_rng seed;
    ref_seed(&seed, 17);
    enum { K = 4, H = 6, W = 6, N = H * W };
    double P[K], S[K * N], g[N], a[4], d[4];
    int64_t offsets[5], indices[N];
    ref_softmax(&seed, K, 1.0, P);
    ref_scores_p(&seed, K, N, N, P, 1, S);
    for (int i = 0; i < N; i++) g[i] = ref_normal(&seed);
    /* four 3x3 patches of a 6x6 image */
    int64_t t = 0;
    for (int pb = 0; pb < 4; pb++) {
        offsets[pb] = t;
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 3; x++) indices[t++] = ((pb / 2) * 3 + y) * W + (pb % 2) * 3 + x;
    }
    offsets[4] = t;
    fi_index_blocks ib = {4, offsets, indices};
    fi_metric *m = NULL;
    ck_assert_int_eq(fi_metric_from_scores_indexed(ctx, K, P, FI_F64, S, N, N, &ib, &m), FI_OK);
    ck_assert_int_eq(fi_compute(ctx, m, FI_F64, g, a, 0), FI_OK);
    ck_assert_int_eq(fi_direct_indexed(ctx, K, P, FI_F64, S, N, N, &ib, g, -1, d, 0), FI_OK);
    for (int b = 0; b < 4; b++) {
        double ref = ref_block_fi(K, P, S, N, indices + offsets[b], 9, g, 1e-6, 0, NULL, NULL);
        ck_assert_double_eq_tol(a[b], ref, 1e-9 * ref);
        ck_assert_double_eq_tol(d[b], ref, 1e-9 * ref);
    }
    fi_metric_free(m);
}
END_TEST

/* The fast kernels (Gram, small metric, deflation of the softmax null direction) agree with
 * the reference SVD to 1e-10 on blocks of condition number up to 1e6, float64 inputs. */
START_TEST(test_fast_vs_reference_conditioning)
{
    ref_rng seed;
    ref_seed(&seed, 31 + _i);
    enum { K = 4, NB = 7 };
    const int64_t sizes[] = {2, 3, 64};
    for (int zs = 0; zs < 3; zs++) {
        const int64_t p = sizes[zs], n = p * NB;
        double P[K], *S = malloc(sizeof(double) * K * n), *g = malloc(sizeof(double) * n);
        double fast[NB], ref[NB];
        ref_softmax(&seed, K, 1.0, P);
        ref_scores_p(&seed, K, n, n, P, _i, S);
        for (int64_t c = 0; c < n; c++) g[c] = ref_normal(&seed);
        /* block b: one class direction shrunk by 10^-b (cond(B) up to 1e6) */
        for (int b = 0; b < NB; b++)
            for (int64_t j = 0; j < p; j++) {
                const double shrink = pow(10.0, -b);
                double m = 0;
                S[1 * n + b * p + j] = S[0 * n + b * p + j] + shrink * S[1 * n + b * p + j];
                for (int i = 0; i < K && _i; i++) m += P[i] * S[i * n + b * p + j];
                for (int i = 0; i < K && _i; i++) S[i * n + b * p + j] -= m;
            }
        fi_blocks bl = {NB, p, 1, p};
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_METHOD, FI_METHOD_REFERENCE), FI_OK);
        ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, S, n, n, &bl, g, -1, ref, 0), FI_OK);
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_METHOD, FI_METHOD_AUTO), FI_OK);
        ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, S, n, n, &bl, g, -1, fast, 0), FI_OK);
        for (int b = 0; b < NB; b++)
            ck_assert_msg(REL(fast[b], ref[b]) <= 1e-10, "p %lld zero-mean %d block %d: %.17g vs %.17g",
                          (long long)p, _i, b, fast[b], ref[b]);
        fi_metric *m = NULL; /* the metric's fast factors too */
        ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S, n, n, &bl, &m), FI_OK);
        ck_assert_int_eq(fi_compute(ctx, m, FI_F64, g, fast, 0), FI_OK);
        fi_metric_free(m);
        for (int b = 0; b < NB; b++)
            ck_assert_msg(REL(fast[b], ref[b]) <= 1e-10, "metric p %lld zero-mean %d block %d: %.17g vs %.17g",
                          (long long)p, _i, b, fast[b], ref[b]);
        free(S);
        free(g);
    }
}
END_TEST

/* bfloat16 and float16 scores and targets equal float64 on the same rounded values. The
 * float64 values are decoded here from the IEEE definitions (bf16: the upper half of a
 * binary32; f16: sign, 5-bit exponent with bias 15, 10-bit mantissa, subnormals included). */
static double half_value(uint16_t h)
{
    const int e = (h >> 10) & 31, m = h & 1023;
    const double v = e ? ldexp(1.0 + m / 1024.0, e - 15) : ldexp(m / 1024.0, -14);
    return (h & 0x8000) ? -v : v;
}

START_TEST(test_half_precision_inputs)
{
    ref_rng seed;
    ref_seed(&seed, 41);
    enum { K = 4, N = 48 };
    double P[K], S[K * N], g[N], ref[N / 3], out[N / 3];
    uint16_t Sh[K * N], gh[N];
    ref_softmax(&seed, K, 1.0, P);
    for (int bf = 0; bf <= 1; bf++) {
        for (int i = 0; i < K * N + N; i++) {
            uint16_t h;
            if (bf) {
                float f = (float)ref_normal(&seed);
                uint32_t u;
                memcpy(&u, &f, 4);
                h = (uint16_t)(u >> 16);
                u = (uint32_t)h << 16;
                memcpy(&f, &u, 4);
                if (i < K * N) S[i] = f; else g[i - K * N] = f;
            } else {
                /* random finite halves, exponents 0..30: normals and subnormals */
                do h = (uint16_t)(ref_uniform(&seed) * 65536); while (((h >> 10) & 31) == 31);
                if (i < K * N) S[i] = half_value(h); else g[i - K * N] = half_value(h);
            }
            if (i < K * N) Sh[i] = h; else gh[i - K * N] = h;
        }
        const fi_blocks bl = {N / 3, 3, 1, 3};
        const fi_dtype dt = bf ? FI_BF16 : FI_F16;
        /* the float64 run gets the 16-bit input's default tolerance: the same problem */
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_RCOND, ref_default_rcond(dt, 3, K)), FI_OK);
        ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, S, N, N, &bl, g, -1, ref, 0), FI_OK);
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_RCOND, -1), FI_OK);
        ck_assert_int_eq(fi_direct(ctx, K, P, dt, Sh, N, N, &bl, gh, -1, out, 0), FI_OK);
        for (int b = 0; b < N / 3; b++) ck_assert_double_eq_tol(out[b], ref[b], 1e-12 * fmax(ref[b], 1e-300));
        fi_metric *m = NULL;
        ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, dt, Sh, N, N, &bl, &m), FI_OK);
        ck_assert_int_eq(fi_compute(ctx, m, dt, gh, out, 0), FI_OK);
        for (int b = 0; b < N / 3; b++) ck_assert_double_eq_tol(out[b], ref[b], 1e-10 * fmax(ref[b], 1e-300));
        fi_metric_free(m);
        gh[5] = bf ? 0x7fc0 : 0x7c00; /* NaN / Inf */
        ck_assert_int_eq(fi_direct(ctx, K, P, dt, Sh, N, N, &bl, gh, -1, out, 0), FI_ERR_NONFINITE);
    }
}
END_TEST

static Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("facts");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_p1_closed_form, 0, 2);
    tcase_add_loop_test(tc, test_class_leverage, 0, 2);
    tcase_add_loop_test(tc, test_bound_and_saturation, 0, 2);
    tcase_add_test(tc, test_invariance);
    tcase_add_loop_test(tc, test_residual_outside_range, 0, 2);
    tcase_add_test(tc, test_rank_deficient_blocks);
    tcase_add_loop_test(tc, test_rcond_and_atol, 0, 2);
    tcase_add_test(tc, test_metric_keeps_its_options);
    tcase_add_test(tc, test_indexed_blocks);
    tcase_add_loop_test(tc, test_fast_vs_reference_conditioning, 0, 2);
    tcase_add_test(tc, test_half_precision_inputs);
    suite_add_tcase(s, tc);
    return s;
}
FI_REGISTER_SUITE(core_suite)
