/* The oracle facts of SPEC section 1, against the independent reference of tests/support/. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <float.h>

#include "suites.h"
#include "support/reference.h"

#define REL(a, b) (fabs((a) - (b)) / fmax(fabs(b), 1e-300))

static fi_context *ctx;
static void setup(void) { ck_assert_int_eq(fi_context_create(&ctx), FI_OK); }
static void teardown(void) { fi_context_free(ctx); }

/* FI of every block of an affine layout through the metric (method given) and fi_direct. */
static void lib_fi(int method, int64_t K, const double *P, const double *S, int64_t n, int64_t ld,
                   const fi_blocks *bl, const double *g, double *via_metric, double *via_direct)
{
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_METHOD, method), FI_OK);
    fi_metric *m = NULL;
    ck_assert_msg(fi_metric_from_scores(ctx, K, P, FI_F64, S, n, ld, bl, &m) == FI_OK, "%s",
                  fi_context_error(ctx));
    ck_assert_int_eq(fi_compute(ctx, m, FI_F64, g, via_metric, 0), FI_OK);
    ck_assert_int_eq(fi_metric_count(m), bl->count);
    fi_metric_free(m);
    ck_assert_msg(fi_direct(ctx, K, P, FI_F64, S, n, ld, bl, g, -1, via_direct, 0) == FI_OK, "%s",
                  fi_context_error(ctx));
}

/* Random blocks of many layouts, both methods, metric and direct, vs the reference. */
START_TEST(test_layouts_vs_reference)
{
    ref_rng seed;
    ref_seed(&seed, 11);
    enum { K = 4, R = 7, C = 9, N = R * C, LD = N + 3 };
    double P[K], S[K * LD], g[N], a[N], d[N];
    int64_t idx[N];
    ref_softmax(&seed, K, 1.0, P);
    ref_scores_p(&seed, K, N, LD, P, _i % 2, S);
    for (int c = 0; c < N; c++) g[c] = ref_normal(&seed);
    const fi_blocks layouts[] = {
        {N, 1, 1, 1}, {R, C, 1, C}, {C, R, C, 1}, {N / 3, 3, 1, 3}, {N / 2, 2, 1, 2},
        {5, 6, 2, 3} /* overlapping, strided */, {4, 2, 5, 11} /* gaps */,
    };
    for (size_t t = 0; t < sizeof layouts / sizeof layouts[0]; t++) {
        const fi_blocks *bl = &layouts[t];
        for (int method = 0; method <= 1; method++) {
            lib_fi(method, K, P, S, N, LD, bl, g, a, d);
            for (int64_t b = 0; b < bl->count; b++) {
                ref_affine_coords(bl, b, idx);
                double ref = ref_block_fi(K, P, S, LD, idx, bl->size, g, 1e-6, 0, NULL, NULL);
                ck_assert_msg(REL(a[b], ref) < 1e-9, "layout %zu method %d block %lld: %.17g vs %.17g",
                              t, method, (long long)b, a[b], ref);
                ck_assert_msg(REL(d[b], ref) < 1e-9, "direct layout %zu block %lld: %.17g vs %.17g",
                              t, (long long)b, d[b], ref);
            }
        }
    }
}
END_TEST

/* Fact 1: p = 1 gives g^2 / sum_i P_i s_i^2, and 0 where all scores vanish. */
START_TEST(test_single_closed_form)
{
    ref_rng seed;
    ref_seed(&seed, 5);
    enum { K = 3, N = 50 };
    double P[K], S[K * N], g[N], out[N];
    ref_softmax(&seed, K, 1.0, P);
    ref_scores_p(&seed, K, N, N, P, 0, S);
    for (int c = 0; c < N; c++) g[c] = ref_normal(&seed);
    for (int i = 0; i < K; i++) S[i * N + 7] = 0;
    fi_blocks el = {N, 1, 1, 1};
    fi_metric *m = NULL;
    ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S, N, N, &el, &m), FI_OK);
    ck_assert_int_eq(fi_compute(ctx, m, FI_F64, g, out, 0), FI_OK);
    for (int c = 0; c < N; c++) {
        double den = 0;
        for (int i = 0; i < K; i++) den += P[i] * S[i * N + c] * S[i * N + c];
        double want = den > 0 ? g[c] * g[c] / den : 0;
        ck_assert_double_eq_tol(out[c], want, 1e-13 * fmax(1, want));
    }
    ck_assert_double_eq(out[7], 0.0);
    int64_t ranks[N];
    ck_assert_int_eq(fi_metric_ranks(ctx, m, ranks), FI_OK);
    ck_assert_int_eq(ranks[7], 0);
    ck_assert_int_eq(ranks[8], 1);
    fi_metric_free(m);
}
END_TEST

/* Facts 2 and 3: class target = leverage / P_k, bounded by (1-P_k)/P_k for zero-mean scores,
 * with equality (saturation) once p >= K-1; ranks min(p, K-1). */
START_TEST(test_class_bound_and_saturation)
{
    ref_rng seed;
    ref_seed(&seed, 3);
    enum { K = 5, N = 24 };
    double P[K], S[K * N];
    ref_softmax(&seed, K, 1.0, P);
    ref_scores_p(&seed, K, N, N, P, 1, S);
    for (int64_t p = 1; p <= 6; p++) {
        fi_blocks bl = {N / p, p, 1, p};
        fi_metric *m = NULL;
        ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S, N, N, &bl, &m), FI_OK);
        for (int64_t k = 0; k < K; k++) {
            double out[N], norm[N], bound, lev[N];
            uint8_t sat[N];
            int64_t ranks[N], idx[8];
            ck_assert_int_eq(fi_compute(ctx, m, FI_F64, S + k * N, out, 0), FI_OK);
            ck_assert_int_eq(fi_class_bound(ctx, m, k, &bound), FI_OK);
            ck_assert_double_eq_tol(bound, (1 - P[k]) / P[k], 1e-14 * bound);
            ck_assert_int_eq(fi_normalize_class(ctx, m, k, out, norm, sat), FI_OK);
            ck_assert_int_eq(fi_metric_ranks(ctx, m, ranks), FI_OK);
            ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, S, N, N, &bl, NULL, k, lev, 0), FI_OK);
            for (int64_t b = 0; b < bl.count; b++) {
                ref_affine_coords(&bl, b, idx);
                double ref = ref_block_fi(K, P, S, N, idx, p, S + k * N, 1e-6, 0, NULL, NULL);
                ck_assert_double_eq_tol(out[b], ref, 1e-9 * fmax(ref, 1));
                ck_assert_double_eq_tol(lev[b], ref, 1e-9 * fmax(ref, 1));
                ck_assert(out[b] <= bound * (1 + 1e-9));
                ck_assert_int_eq(ranks[b], p < K - 1 ? p : K - 1);
                ck_assert_int_eq(sat[b], p >= K - 1);
                if (p >= K - 1) ck_assert_double_eq_tol(norm[b], 1.0, 1e-9);
                else ck_assert(norm[b] < 1 - 1e-6);
            }
        }
        fi_metric_free(m);
    }
}
END_TEST

/* Fact 4: replacing s_i[b] by A^T s_i[b] and g[b] by A^T g[b] leaves FI unchanged, incl. the
 * ReLU rescaling diag(k, 1/k) that changes |g| but not FI. */
START_TEST(test_invariance)
{
    ref_rng seed;
    ref_seed(&seed, 21);
    enum { K = 4, P_ = 3, NB = 10, N = P_ * NB };
    double P[K], S[K * N], g[N], S2[K * N], g2[N], a[NB], b2[NB], tmp[NB];
    ref_softmax(&seed, K, 1.0, P);
    ref_scores_p(&seed, K, N, N, P, 1, S);
    for (int c = 0; c < N; c++) g[c] = ref_normal(&seed);
    for (int b = 0; b < NB; b++) {
        double A[P_][P_];
        for (int r = 0; r < P_; r++)
            for (int c = 0; c < P_; c++) A[r][c] = ref_normal(&seed) + (r == c ? 2 : 0);
        if (b == 0) { /* the ReLU rescaling of section 2 */
            memset(A, 0, sizeof A);
            A[0][0] = 1e3; A[1][1] = 1e-3; A[2][2] = 1;
        }
        for (int j = 0; j < P_; j++) {
            double x = 0;
            for (int t = 0; t < P_; t++) x += A[t][j] * g[b * P_ + t];
            g2[b * P_ + j] = x;
            for (int i = 0; i < K; i++) {
                double y = 0;
                for (int t = 0; t < P_; t++) y += A[t][j] * S[i * N + b * P_ + t];
                S2[i * N + b * P_ + j] = y;
            }
        }
    }
    fi_blocks bl = {NB, P_, 1, P_};
    for (int method = 0; method <= 1; method++) {
        lib_fi(method, K, P, S, N, N, &bl, g, a, tmp);
        lib_fi(method, K, P, S2, N, N, &bl, g2, b2, tmp);
        for (int b = 0; b < NB; b++) ck_assert_msg(REL(b2[b], a[b]) < 1e-8, "block %d: %g vs %g", b, b2[b], a[b]);
    }
    ck_assert(fabs(g2[0]) > 100 * fabs(g[0])); /* the gradient did change */
}
END_TEST

/* Fact 5 and exact rank deficiency: blocks whose scores span a known r-dim subspace; a target
 * with a known out-of-range part. */
START_TEST(test_rank_deficient_and_residual)
{
    ref_rng seed;
    ref_seed(&seed, 8);
    enum { K = 6, P_ = 5, NB = 6, N = P_ * NB };
    double P[K], S[K * N], g[N], out[NB], res[NB];
    ref_softmax(&seed, K, 1.0, P);
    int64_t want_rank[NB];
    for (int b = 0; b < NB; b++) {
        const int r = b % 4; /* 0..3 */
        double basis[3][P_];
        for (int q = 0; q < 3; q++)
            for (int j = 0; j < P_; j++) basis[q][j] = ref_normal(&seed);
        for (int i = 0; i < K; i++) {
            double coef[3];
            for (int q = 0; q < 3; q++) coef[q] = ref_normal(&seed);
            for (int j = 0; j < P_; j++) {
                double x = 0;
                for (int q = 0; q < r; q++) x += coef[q] * basis[q][j];
                S[i * N + b * P_ + j] = x;
            }
        }
        want_rank[b] = r;
        for (int j = 0; j < P_; j++) g[b * P_ + j] = ref_normal(&seed);
    }
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_RCOND, 1e-9), FI_OK);
    fi_blocks bl = {NB, P_, 1, P_};
    for (int method = 0; method <= 1; method++) {
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_METHOD, method), FI_OK);
        fi_metric *m = NULL;
        int64_t ranks[NB], idx[P_];
        ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S, N, N, &bl, &m), FI_OK);
        ck_assert_int_eq(fi_metric_ranks(ctx, m, ranks), FI_OK);
        ck_assert_int_eq(fi_compute(ctx, m, FI_F64, g, out, 0), FI_OK);
        ck_assert_int_eq(fi_residual(ctx, m, FI_F64, g, res), FI_OK);
        for (int b = 0; b < NB; b++) {
            double rres;
            int64_t rr;
            ref_affine_coords(&bl, b, idx);
            double ref = ref_block_fi(K, P, S, N, idx, P_, g, 1e-7, 0, &rr, &rres);
            ck_assert_int_eq(ranks[b], want_rank[b]);
            ck_assert_int_eq(rr, want_rank[b]);
            ck_assert_msg(REL(out[b], ref) < 1e-8 || (ref == 0 && out[b] == 0), "%g vs %g", out[b], ref);
            ck_assert_double_eq_tol(res[b], rres, 1e-8);
            if (want_rank[b] == 0) ck_assert_double_eq(out[b], 0.0);
            if (want_rank[b] > 0) ck_assert(res[b] > 0.05 && res[b] < 1);
        }
        fi_metric_free(m);
    }
}
END_TEST

/* float32 and float64 on the same rounded values agree; FI_ACCUMULATE adds. */
START_TEST(test_f32_and_accumulate)
{
    ref_rng seed;
    ref_seed(&seed, 4);
    enum { K = 4, N = 60 };
    double P[K], S[K * N], g[N], a[N / 3], b[N / 3], c[N / 3];
    float Sf[K * N], gf[N];
    ref_softmax(&seed, K, 1.0, P);
    ref_scores_p(&seed, K, N, N, P, 0, S);
    for (int i = 0; i < K * N; i++) S[i] = Sf[i] = (float)S[i];
    for (int i = 0; i < N; i++) g[i] = gf[i] = (float)ref_normal(&seed);
    fi_blocks bl = {N / 3, 3, 1, 3};
    fi_metric *m64 = NULL, *m32 = NULL;
    ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S, N, N, &bl, &m64), FI_OK);
    ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F32, Sf, N, N, &bl, &m32), FI_OK);
    ck_assert_int_eq(fi_compute(ctx, m64, FI_F64, g, a, 0), FI_OK);
    ck_assert_int_eq(fi_compute(ctx, m32, FI_F32, gf, b, 0), FI_OK);
    for (int i = 0; i < N / 3; i++) {
        ck_assert_double_eq_tol(a[i], b[i], 1e-12 * a[i]);
        c[i] = 1.5;
    }
    ck_assert_int_eq(fi_compute(ctx, m32, FI_F64, g, c, FI_ACCUMULATE), FI_OK);
    for (int i = 0; i < N / 3; i++) ck_assert_double_eq_tol(c[i], 1.5 + a[i], 1e-12 * c[i]);
    ck_assert_int_eq(fi_direct(ctx, K, P, FI_F32, Sf, N, N, &bl, gf, -1, c, FI_ACCUMULATE), FI_OK);
    for (int i = 0; i < N / 3; i++) ck_assert_double_eq_tol(c[i], 1.5 + 2 * a[i], 1e-12 * c[i]);
    fi_metric_free(m64);
    fi_metric_free(m32);
}
END_TEST

/* Threads: 1 and 3 workers give bitwise identical results. */
START_TEST(test_threads_bitwise)
{
    ref_rng seed;
    ref_seed(&seed, 9);
    enum { K = 4, N = 3 * 401 };
    static double P[K], S[K * N], g[N], a[N], b[N], c[N], d[N];
    ref_softmax(&seed, K, 1.0, P);
    ref_scores_p(&seed, K, N, N, P, 1, S);
    for (int i = 0; i < N; i++) g[i] = ref_normal(&seed);
    fi_blocks bl = {N / 3, 3, 1, 3};
    lib_fi(FI_METHOD_AUTO, K, P, S, N, N, &bl, g, a, c);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_THREADS, 3), FI_OK);
    lib_fi(FI_METHOD_AUTO, K, P, S, N, N, &bl, g, b, d);
    ck_assert(memcmp(a, b, sizeof(double) * (N / 3)) == 0);
    ck_assert(memcmp(c, d, sizeof(double) * (N / 3)) == 0);
}
END_TEST

/* Fact 6: renormalize and remainder modes equal the strict computation on the scores and
 * probabilities they are defined to produce, built independently here. */
START_TEST(test_class_modes)
{
    ref_rng seed;
    ref_seed(&seed, 13);
    enum { K = 4, N = 24, P_ = 2 };
    double Praw[K], S[K * N], g[N], out[N / P_], want[N / P_], P2[K + 1], S2[(K + 1) * N];
    ref_softmax(&seed, K, 1.0, Praw);
    for (int i = 0; i < K; i++) Praw[i] *= 0.7; /* a subset of a vocabulary */
    ref_scores_p(&seed, K, N, N, Praw, 0, S);
    for (int i = 0; i < N; i++) g[i] = ref_normal(&seed);
    fi_blocks bl = {N / P_, P_, 1, P_};
    double tmp[N / P_];
    /* strict rejects */
    ck_assert_int_eq(fi_direct(ctx, K, Praw, FI_F64, S, N, N, &bl, g, -1, out, 0), FI_ERR_PROBABILITY);
    /* renormalize */
    double sum = 0;
    for (int i = 0; i < K; i++) sum += Praw[i];
    for (int i = 0; i < K; i++) P2[i] = Praw[i] / sum;
    for (int c = 0; c < N; c++) {
        double m = 0;
        for (int i = 0; i < K; i++) m += P2[i] * S[i * N + c];
        for (int i = 0; i < K; i++) S2[i * N + c] = S[i * N + c] - m;
    }
    lib_fi(FI_METHOD_REFERENCE, K, P2, S2, N, N, &bl, g, want, tmp);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_CLASS_MODE, FI_CLASS_RENORMALIZE), FI_OK);
    lib_fi(FI_METHOD_AUTO, K, Praw, S, N, N, &bl, g, out, tmp);
    for (int b = 0; b < N / P_; b++) {
        ck_assert_double_eq_tol(out[b], want[b], 1e-10 * want[b]);
        ck_assert_double_eq_tol(tmp[b], want[b], 1e-10 * want[b]);
    }
    /* remainder class */
    for (int i = 0; i < K; i++) P2[i] = Praw[i];
    P2[K] = 1 - sum;
    for (int c = 0; c < N; c++) {
        double m = 0;
        for (int i = 0; i < K; i++) m += Praw[i] * S[i * N + c];
        for (int i = 0; i < K; i++) S2[i * N + c] = S[i * N + c];
        S2[K * N + c] = -m / (1 - sum);
    }
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_CLASS_MODE, FI_CLASS_STRICT), FI_OK);
    lib_fi(FI_METHOD_REFERENCE, K + 1, P2, S2, N, N, &bl, g, want, tmp);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_CLASS_MODE, FI_CLASS_REMAINDER), FI_OK);
    lib_fi(FI_METHOD_AUTO, K, Praw, S, N, N, &bl, g, out, tmp);
    for (int b = 0; b < N / P_; b++) {
        ck_assert_double_eq_tol(out[b], want[b], 1e-10 * want[b]);
        ck_assert_double_eq_tol(tmp[b], want[b], 1e-10 * want[b]);
    }
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
        ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, S, N, N, &bl, g, -1, ref, 0), FI_OK);
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

static Suite *oracles_suite(void)
{
    Suite *s = suite_create("oracles");
    TCase *tc = tcase_create("facts");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_layouts_vs_reference, 0, 2);
    tcase_add_test(tc, test_single_closed_form);
    tcase_add_test(tc, test_class_bound_and_saturation);
    tcase_add_test(tc, test_invariance);
    tcase_add_test(tc, test_rank_deficient_and_residual);
    tcase_add_test(tc, test_f32_and_accumulate);
    tcase_add_test(tc, test_threads_bitwise);
    tcase_add_test(tc, test_class_modes);
    tcase_add_test(tc, test_indexed_blocks);
    tcase_add_loop_test(tc, test_fast_vs_reference_conditioning, 0, 2);
    tcase_add_test(tc, test_half_precision_inputs);
    suite_add_tcase(s, tc);
    return s;
}
FI_REGISTER_SUITE(oracles_suite)
