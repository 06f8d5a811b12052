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
    tcase_add_test(tc, test_concurrent_contexts);
    suite_add_tcase(s, tc);
    return s;
}
FI_REGISTER_SUITE(robust_suite)
