/* Numerical robustness and concurrency: score magnitudes 1e-200..1e200 give the FI of the
 * rescaled inputs (fact 4 with A = c I), probabilities near 0 and 1, and several contexts
 * used from several threads at once giving the single-threaded results bit for bit. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "suites.h"
#include "support/reference.h"

enum { K = 4, NB = 16 };

/* FI of random blocks of size p whose scores and target are scaled by `scale`. */
static void scaled_fi(double scale, int64_t p, int method, int direct, int columns, double *out)
{
    ref_rng seed;
    ref_seed(&seed, 99);
    const int64_t n = p * NB;
    double P[K], *S = malloc(sizeof(double) * K * n), *g = malloc(sizeof(double) * n);
    ref_softmax(&seed, K, 1.0, P);
    ref_scores_p(&seed, K, n, n, P, 1, S);
    for (int64_t c = 0; c < n; c++) g[c] = ref_normal(&seed) * scale;
    for (int64_t i = 0; i < K * n; i++) S[i] *= scale;
    fi_context *ctx;
    ck_assert_int_eq(fi_context_create(&ctx), FI_OK);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_METHOD, method), FI_OK);
    /* rows: contiguous blocks; columns: block b is b, b + NB, ... (the column kernels) */
    fi_blocks bl = columns ? (fi_blocks){NB, p, NB, 1} : (fi_blocks){NB, p, 1, p};
    if (direct) {
        ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, S, n, n, &bl, g, -1, out, 0), FI_OK);
    } else {
        fi_metric *m = NULL;
        ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S, n, n, &bl, &m), FI_OK);
        ck_assert_int_eq(fi_compute(ctx, m, FI_F64, g, out, 0), FI_OK);
        fi_metric_free(m);
    }
    fi_context_free(ctx);
    free(S);
    free(g);
}

/* Beyond 1e+-154 every square of a score overflows or underflows (a Gram of zeros is then
 * no proof of a zero block: the column path's exact zero test must see the scores). */
START_TEST(test_extreme_magnitudes)
{
    const double scales[] = {1e-200, 1e-150, 1e-75, 1e75, 1e150, 1e200};
    const int64_t sizes[] = {1, 2, 3, 8, 64};
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++)
        for (int method = 0; method <= 1; method++)
            for (int direct = 0; direct <= 1; direct++)
                for (int columns = 0; columns <= 1; columns++) {
                    double base[NB], out[NB];
                    scaled_fi(1.0, sizes[z], method, direct, columns, base);
                    for (size_t s = 0; s < sizeof scales / sizeof scales[0]; s++) {
                        scaled_fi(scales[s], sizes[z], method, direct, columns, out);
                        for (int b = 0; b < NB; b++)
                            ck_assert_msg(fabs(out[b] - base[b]) <= 1e-9 * base[b],
                                          "p %lld scale %g method %d direct %d columns %d block "
                                          "%d: %.17g vs %.17g", (long long)sizes[z], scales[s],
                                          method, direct, columns, b, out[b], base[b]);
                    }
                }
}
END_TEST

/* Residuals of p = 8 blocks (rank <= K = 4 < p, so they are not 0) are invariant under the
 * scale of the scores, down to a scale where 1/sigma nears overflow. */
static void scaled_residual(double scale, int method, double *out)
{
    ref_rng seed;
    ref_seed(&seed, 7);
    const int64_t p = 8, n = p * NB;
    double P[K], *S = malloc(sizeof(double) * K * n), *g = malloc(sizeof(double) * n);
    ref_softmax(&seed, K, 1.0, P);
    ref_scores_p(&seed, K, n, n, P, 1, S);
    for (int64_t c = 0; c < n; c++) g[c] = ref_normal(&seed);
    for (int64_t i = 0; i < K * n; i++) S[i] *= scale;
    fi_context *ctx;
    ck_assert_int_eq(fi_context_create(&ctx), FI_OK);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_METHOD, method), FI_OK);
    fi_blocks bl = {NB, p, 1, p};
    fi_metric *m = NULL;
    ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S, n, n, &bl, &m), FI_OK);
    ck_assert_int_eq(fi_residual(ctx, m, FI_F64, g, out), FI_OK);
    fi_metric_free(m);
    fi_context_free(ctx);
    free(S);
    free(g);
}

START_TEST(test_residual_extreme_magnitudes)
{
    const double scales[] = {1e-307, 1e-306, 1e-150, 1e150, 1e300};
    for (int method = 0; method <= 1; method++) {
        double base[NB], out[NB];
        scaled_residual(1.0, method, base);
        for (size_t s = 0; s < sizeof scales / sizeof scales[0]; s++) {
            scaled_residual(scales[s], method, out);
            for (int b = 0; b < NB; b++) {
                ck_assert(base[b] > 0.1 && base[b] <= 1);
                ck_assert_msg(fabs(out[b] - base[b]) <= 1e-9, "scale %g method %d block %d: %.17g "
                              "vs %.17g", scales[s], method, b, out[b], base[b]);
            }
        }
    }
}
END_TEST

/* Scores near the underflow threshold: a p > 1 block whose 1/sigma overflows cannot give a
 * finite FI, so the metric is refused (found by make fuzz: it used to give NaN with FI_OK). */
START_TEST(test_subnormal_scores_refused)
{
    const double P[2] = {0.5, 0.5};
    const double S[4] = {1e-320, 0, -3e-320, 0}; /* s_0 = (1e-320, 0), s_1 = (-3e-320, 0) */
    const double g[2] = {1, 1};
    const fi_blocks bl = {1, 2, 1, 2};
    for (int method = 0; method <= 1; method++) {
        fi_context *ctx;
        ck_assert_int_eq(fi_context_create(&ctx), FI_OK);
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_METHOD, method), FI_OK);
        fi_metric *m = NULL;
        ck_assert_int_eq(fi_metric_from_scores(ctx, 2, P, FI_F64, S, 2, 2, &bl, &m),
                         FI_ERR_NONFINITE);
        ck_assert_ptr_null(m);
        ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "too small to invert"));
        double out = -7;
        ck_assert_int_eq(fi_direct(ctx, 2, P, FI_F64, S, 2, 2, &bl, g, -1, &out, 0),
                         FI_ERR_NONFINITE);
        ck_assert_double_eq(out, -7);
        /* p = 1: sigma = sqrt(0.5) * 4.1e-322, 1/sigma overflows (fi_compute gave NaN for g = 0) */
        const double s1[2] = {4.1e-322, 0};
        const fi_blocks one = {1, 1, 1, 1};
        ck_assert_int_eq(fi_metric_from_scores(ctx, 2, P, FI_F64, s1, 1, 1, &one, &m),
                         FI_ERR_NONFINITE);
        ck_assert_ptr_null(m);
        ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "too small to invert"));
        fi_context_free(ctx);
    }
}
END_TEST

/* A rank-0 coordinate (all scores 0) has FI 0 for any finite target, even one whose square
 * overflows (found by make fuzz: fi_compute gave 0 * Inf = NaN with FI_OK). */
START_TEST(test_rank0_element_huge_target)
{
    const double P[2] = {0.25, 0.75};
    const double S[6] = {0, 1, -2, 0, 3, 5}; /* class-major: coordinate c is (S[c], S[3 + c]) */
    const double g[3] = {1e200, 1e200, 1e-3};
    const fi_blocks bl = {3, 1, 1, 1};
    for (int method = 0; method <= 1; method++) {
        fi_context *ctx;
        ck_assert_int_eq(fi_context_create(&ctx), FI_OK);
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_METHOD, method), FI_OK);
        fi_metric *m = NULL;
        ck_assert_int_eq(fi_metric_from_scores(ctx, 2, P, FI_F64, S, 3, 3, &bl, &m), FI_OK);
        double out[3] = {-7, -7, -7};
        ck_assert_int_eq(fi_compute(ctx, m, FI_F64, g, out, 0), FI_OK);
        ck_assert_double_eq(out[0], 0);
        ck_assert(isinf(out[1])); /* g^2 / sigma^2 overflows: +Inf, as documented */
        /* coordinate 2, scores (-2, 5): sigma^2 = 0.25 * 4 + 0.75 * 25 = 19.75, FI = g^2 / 19.75 */
        ck_assert_double_eq_tol(out[2], 1e-6 / 19.75, 1e-20);
        fi_metric_free(m);
        fi_context_free(ctx);
    }
}
END_TEST

/* A coordinate whose scores are near the subnormal range: FI = g^2 / sum_i P_i s_i^2 exceeds
 * the double range for an ordinary target (+inf, never the 0 a squared score that underflows
 * would give) and is finite for a target as small. Every ISA and both methods. */
START_TEST(test_element_fi_beyond_double_range)
{
    const double P[2] = {0.5, 0.5}, S[2] = {4.1e-322, 0};
    const double targets[3] = {1.0, 1e-5, 1e-300};
    const fi_blocks one = {1, 1, 1, 1};
    for (int method = 0; method <= 1; method++)
        for (int isa = FI_ISA_AUTO; isa <= FI_ISA_AVX512; isa++) {
            fi_context *ctx;
            ck_assert_int_eq(fi_context_create(&ctx), FI_OK);
            ck_assert_int_eq(fi_context_set(ctx, FI_OPT_METHOD, method), FI_OK);
            if (fi_context_set(ctx, FI_OPT_ISA, isa) != FI_OK) { /* not on this CPU */
                fi_context_free(ctx);
                continue;
            }
            for (int t = 0; t < 3; t++) {
                double fi = -1;
                ck_assert_int_eq(fi_direct(ctx, 2, P, FI_F64, S, 1, 1, &one, &targets[t], -1, &fi,
                                           0),
                                 FI_OK);
                /* (g / s_0)^2 / P_0 without forming the underflowing s_0^2 */
                const double want = (targets[t] / S[0]) * (targets[t] / S[0]) / 0.5;
                if (t < 2)
                    ck_assert_msg(isinf(fi) && fi > 0, "method %d isa %d target %g: %g", method,
                                  isa, targets[t], fi);
                else
                    ck_assert_msg(isfinite(fi) && fabs(fi - want) <= 1e-2 * want,
                                  "method %d isa %d target %g: %g vs %g", method, isa, targets[t],
                                  fi, want);
            }
            fi_context_free(ctx);
        }
}
END_TEST

/* A block whose factor and target are both large (scores 1e-98, target 1e248): each product
 * W_qj g_j overflows and their sum was inf - inf = NaN from fi_compute (found by make fuzz);
 * FI is beyond the double range, so the metric gives +inf on every path, and fi_direct
 * refuses the block without writing. */
START_TEST(test_overflowing_products_give_inf)
{
    const double P[2] = {0.6, 0.4}, a = -2.5301706769843864e-98;
    const double S[4] = {a, 1.1345557715166994e-301, a, a}; /* class-major, one block of p = 2 */
    const double g[2] = {1.3599969691677753e248, 1.3599969691677753e248};
    const fi_blocks bl = {1, 2, 1, 2};
    for (int method = 0; method <= 1; method++) {
        fi_context *ctx;
        ck_assert_int_eq(fi_context_create(&ctx), FI_OK);
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_METHOD, method), FI_OK);
        fi_metric *m = NULL;
        double out = -7;
        ck_assert_int_eq(fi_metric_from_scores(ctx, 2, P, FI_F64, S, 2, 2, &bl, &m), FI_OK);
        ck_assert_int_eq(fi_compute(ctx, m, FI_F64, g, &out, 0), FI_OK);
        ck_assert_msg(isinf(out) && out > 0, "method %d: fi_compute gave %g", method, out);
        fi_metric_free(m);
        out = -7;
        ck_assert_int_eq(fi_direct(ctx, 2, P, FI_F64, S, 2, 2, &bl, g, -1, &out, 0),
                         FI_ERR_NONFINITE);
        ck_assert_double_eq(out, -7);
        fi_context_free(ctx);
    }
}
END_TEST

/* Probabilities near 0 and 1: FI stays finite, within its bound, and a class of probability 0
 * contributes nothing (its column of B is zero). */
START_TEST(test_extreme_probabilities)
{
    ref_rng seed;
    ref_seed(&seed, 5);
    enum { N = 24 };
    double P[K] = {1 - 3e-12, 1e-12, 1e-12, 1e-12}, S[K * N], out[N / 3], bound;
    ref_scores_p(&seed, K, N, N, P, 1, S);
    fi_context *ctx;
    ck_assert_int_eq(fi_context_create(&ctx), FI_OK);
    fi_blocks bl = {N / 3, 3, 1, 3};
    fi_metric *m = NULL;
    ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S, N, N, &bl, &m), FI_OK);
    ck_assert_int_eq(fi_compute(ctx, m, FI_F64, S, out, 0), FI_OK); /* class 0, P ~ 1 */
    ck_assert_int_eq(fi_class_bound(ctx, m, 0, &bound), FI_OK);
    for (int b = 0; b < N / 3; b++)
        ck_assert_msg(isfinite(out[b]) && out[b] <= bound * (1 + 1e-3), "%g vs bound %g", out[b], bound);
    ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, S, N, N, &bl, NULL, 1, out, 0), FI_OK);
    ck_assert_int_eq(fi_class_bound(ctx, m, 1, &bound), FI_OK);
    for (int b = 0; b < N / 3; b++)
        ck_assert_msg(isfinite(out[b]) && out[b] <= bound * (1 + 1e-6), "%g vs bound %g", out[b], bound);
    fi_metric_free(m);
    double P0[K] = {0.5, 0.5, 0, 0}, want[N / 3];
    ref_scores_p(&seed, K, N, N, P0, 1, S);
    ck_assert_int_eq(fi_direct(ctx, 2, P0, FI_F64, S, N, N, &bl, S + N, -1, want, 0), FI_OK);
    ck_assert_int_eq(fi_direct(ctx, K, P0, FI_F64, S, N, N, &bl, S + N, -1, out, 0), FI_OK);
    for (int b = 0; b < N / 3; b++) ck_assert_double_eq_tol(out[b], want[b], 1e-12 * fmax(want[b], 1));
    fi_context_free(ctx);
}
END_TEST

typedef struct worker {
    const double *P, *S, *g;
    int64_t n;
    int threads;
    double out[2][NB * 8];
    int status;
} worker;

/* Each thread owns a context (with its own worker threads) and computes metric and direct. */
static void *run_worker(void *arg)
{
    worker *w = arg;
    fi_context *ctx = NULL;
    fi_metric *m = NULL;
    fi_blocks bl = {NB * 8, 4, 1, 4};
    w->status = fi_context_create(&ctx);
    if (!w->status) w->status = fi_context_set(ctx, FI_OPT_THREADS, w->threads);
    for (int rep = 0; rep < 20 && !w->status; rep++) {
        w->status = fi_metric_from_scores(ctx, K, w->P, FI_F64, w->S, w->n, w->n, &bl, &m);
        if (!w->status) w->status = fi_compute(ctx, m, FI_F64, w->g, w->out[0], 0);
        fi_metric_free(m);
        m = NULL;
        if (!w->status)
            w->status = fi_direct(ctx, K, w->P, FI_F64, w->S, w->n, w->n, &bl, w->g, -1, w->out[1], 0);
    }
    fi_context_free(ctx);
    return NULL;
}

START_TEST(test_concurrent_contexts)
{
    ref_rng seed;
    ref_seed(&seed, 3);
    enum { N = NB * 8 * 4 };
    static double P[K], S[K * N], g[N];
    ref_softmax(&seed, K, 1.0, P);
    ref_scores_p(&seed, K, N, N, P, 0, S);
    for (int i = 0; i < N; i++) g[i] = ref_normal(&seed);
    static worker ref, w[4];
    ref = (worker){P, S, g, N, 1, {{0}}, 0};
    run_worker(&ref);
    ck_assert_int_eq(ref.status, FI_OK);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){P, S, g, N, 1 + i % 3, {{0}}, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, run_worker, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(w[i].status, FI_OK);
        ck_assert(memcmp(w[i].out, ref.out, sizeof ref.out) == 0);
    }
}
END_TEST

static Suite *robust_suite(void)
{
    Suite *s = suite_create("robustness");
    TCase *tc = tcase_create("numerics-threads");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_extreme_magnitudes);
    tcase_add_test(tc, test_extreme_probabilities);
    tcase_add_test(tc, test_residual_extreme_magnitudes);
    tcase_add_test(tc, test_subnormal_scores_refused);
    tcase_add_test(tc, test_rank0_element_huge_target);
    tcase_add_test(tc, test_element_fi_beyond_double_range);
    tcase_add_test(tc, test_overflowing_products_give_inf);
    tcase_add_test(tc, test_concurrent_contexts);
    suite_add_tcase(s, tc);
    return s;
}
FI_REGISTER_SUITE(robust_suite)
