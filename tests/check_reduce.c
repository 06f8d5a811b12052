/* fi_reduce against loops written here over explicit group membership; channel FI from
 * element FI (SPEC fact 8) against the closed form of fact 1. */
#include <check.h>
#include <float.h>
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

static double unif(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) * 0x1p-53;
}

/* Reference: group g holds values[g*step + j*stride], j < size. */
static void ref_reduce(const double *v, const fi_blocks *g, int op, double *out)
{
    for (int64_t b = 0; b < g->count; b++) {
        long double sum = 0;
        double mx = -INFINITY;
        for (int64_t j = 0; j < g->size; j++) {
            const double x = v[b * g->step + j * g->stride];
            sum += x;
            if (x > mx) mx = x;
        }
        out[b] = op == FI_REDUCE_SUM ? (double)sum : op == FI_REDUCE_MEAN ? (double)(sum / g->size) : mx;
    }
}

START_TEST(test_layouts)
{
    enum { R = 6, C = 9, N = R * C };
    double v[N], got[N], want[N];
    uint64_t seed = 1;
    for (int i = 0; i < N; i++) v[i] = (unif(&seed) - 0.5) * 100;
    const fi_blocks layouts[] = {
        {R, C, 1, C},         /* rows of the R x C matrix            */
        {C, R, C, 1},         /* columns                              */
        {N, 1, 1, 1},         /* identity                             */
        {1, N, 1, 0},         /* everything                           */
        {N / 2, 2, N / 2, 1}, /* pairs (i, i + N/2)                   */
        {3, 4, 2, 5},         /* strided, leaving values out          */
        {4, 5, 1, 2},         /* overlapping windows                  */
        {5, 3, 1, 0},         /* the same group five times            */
    };
    for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++) {
        const fi_blocks g = layouts[l];
        for (int op = 0; op < 3; op++) {
            for (int i = 0; i < N; i++) got[i] = -7;
            ck_assert_int_eq(fi_reduce(ctx, v, N, &g, op, got), FI_OK);
            ref_reduce(v, &g, op, want);
            for (int64_t b = 0; b < g.count; b++)
                ck_assert_msg(fabs(got[b] - want[b]) <= 1e-13 * (1 + fabs(want[b])),
                              "layout %zu op %d group %lld: %g vs %g", l, op, (long long)b, got[b], want[b]);
            for (int64_t b = g.count; b < N; b++) ck_assert_double_eq(got[b], -7);
        }
    }
}
END_TEST

START_TEST(test_extremes)
{
    /* the mean of values near DBL_MAX is finite even though their sum is not */
    const double big[4] = {DBL_MAX, DBL_MAX, DBL_MAX / 2, DBL_MAX / 2};
    fi_blocks all = {1, 4, 1, 0};
    double out;
    ck_assert_int_eq(fi_reduce(ctx, big, 4, &all, FI_REDUCE_MEAN, &out), FI_OK);
    ck_assert_double_eq_tol(out, 0.75 * DBL_MAX, 1e-15 * DBL_MAX);
    ck_assert_int_eq(fi_reduce(ctx, big, 4, &all, FI_REDUCE_SUM, &out), FI_OK);
    ck_assert(isinf(out) && out > 0); /* the true sum exceeds DBL_MAX */
    ck_assert_int_eq(fi_reduce(ctx, big, 4, &all, FI_REDUCE_MAX, &out), FI_OK);
    ck_assert_double_eq(out, DBL_MAX);
    /* all negative: MAX is the largest, not 0 */
    const double neg[3] = {-5, -2, -9};
    fi_blocks three = {1, 3, 1, 0};
    ck_assert_int_eq(fi_reduce(ctx, neg, 3, &three, FI_REDUCE_MAX, &out), FI_OK);
    ck_assert_double_eq(out, -2);
}
END_TEST

START_TEST(test_errors_untouched)
{
    double v[6] = {1, 2, 3, 4, 5, 6}, out[6];
    for (int i = 0; i < 6; i++) out[i] = -7;
    const fi_blocks ok = {2, 3, 1, 3}, outside = {2, 3, 1, 4}, zero = {0, 3, 1, 3},
                    stride0 = {2, 3, 0, 3}, overflow = {2, INT64_MAX, INT64_MAX, 1},
                    backwards = {2, 3, -1, 3};
    ck_assert_int_eq(fi_reduce(ctx, v, 6, &ok, 3, out), FI_ERR_OPTION);
    ck_assert_int_eq(fi_reduce(ctx, v, 6, &ok, -1, out), FI_ERR_OPTION);
    ck_assert_int_eq(fi_reduce(ctx, v, 6, &outside, FI_REDUCE_SUM, out), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_reduce(ctx, v, 6, &zero, FI_REDUCE_SUM, out), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_reduce(ctx, v, 6, &stride0, FI_REDUCE_SUM, out), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_reduce(ctx, v, 6, &overflow, FI_REDUCE_SUM, out), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_reduce(ctx, v, 6, &backwards, FI_REDUCE_SUM, out), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_reduce(ctx, v, 0, &ok, FI_REDUCE_SUM, out), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_reduce(ctx, v, 6, NULL, FI_REDUCE_SUM, out), FI_ERR_NULL);
    ck_assert_int_eq(fi_reduce(ctx, NULL, 6, &ok, FI_REDUCE_SUM, out), FI_ERR_NULL);
    ck_assert_int_eq(fi_reduce(ctx, v, 6, &ok, FI_REDUCE_SUM, NULL), FI_ERR_NULL);
    v[5] = NAN;
    ck_assert_int_eq(fi_reduce(ctx, v, 6, &ok, FI_REDUCE_SUM, out), FI_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "values[5]"));
    for (int i = 0; i < 6; i++) ck_assert_double_eq(out[i], -7);
}
END_TEST

/* Channel FI (fact 8): element FI of an R x C weight matrix from fi_direct with p = 1
 * blocks, summed over rows, equals sum_j g_j^2 / sum_i P_i s_ij^2 computed here (fact 1). */
START_TEST(test_channel_fi)
{
    enum { K = 4, R = 5, C = 6, N = R * C };
    double P[K] = {0.1, 0.2, 0.3, 0.4}, S[K * N], el[N], got[R];
    uint64_t seed = 12;
    for (int i = 0; i < K * N; i++) S[i] = unif(&seed) - 0.5;
    const fi_blocks elements = {N, 1, 1, 1}, rows = {R, C, 1, C};
    const int k = 2; /* class target: g = s_k */
    ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, S, N, N, &elements, NULL, k, el, 0), FI_OK);
    ck_assert_int_eq(fi_reduce(ctx, el, N, &rows, FI_REDUCE_SUM, got), FI_OK);
    for (int r = 0; r < R; r++) {
        double want = 0;
        for (int j = 0; j < C; j++) {
            const int c = r * C + j;
            double den = 0;
            for (int i = 0; i < K; i++) den += P[i] * S[i * N + c] * S[i * N + c];
            want += S[k * N + c] * S[k * N + c] / den;
        }
        ck_assert_double_eq_tol(got[r], want, 1e-12 * want);
    }
}
END_TEST

/* Data of test_reduce_and_perturbation: softmax-consistent scores with ld = n. */
enum { K = 3, N = 12 };
static double P[K] = {0.2, 0.3, 0.5};
static double S[K * N], G[N];

static void fill(void)
{
    ref_rng seed;
    ref_seed(&seed, 1);
    ref_scores_p(&seed, K, N, N, P, 1, S);
    for (int i = 0; i < N; i++) G[i] = ref_normal(&seed);
}

START_TEST(test_reduce_and_perturbation)
{
    fill();
    enum { R = 3, C = 4 };
    double vals[R * C], out[C];
    for (int i = 0; i < R * C; i++) vals[i] = i * 0.5 - 2;
    fi_blocks cols = {C, R, C, 1};
    ck_assert_int_eq(fi_reduce(ctx, vals, R * C, &cols, FI_REDUCE_SUM, out), FI_OK);
    for (int c = 0; c < C; c++) ck_assert_double_eq_tol(out[c], vals[c] + vals[c + C] + vals[c + 2 * C], 1e-15);
    ck_assert_int_eq(fi_reduce(ctx, vals, R * C, &cols, FI_REDUCE_MAX, out), FI_OK);
    for (int c = 0; c < C; c++) ck_assert_double_eq(out[c], vals[c + 2 * C]);
    ck_assert_int_eq(fi_reduce(ctx, vals, R * C, &cols, FI_REDUCE_MEAN, out), FI_OK);
    ck_assert_double_eq_tol(out[1], vals[1 + C], 1e-15);
    ck_assert_int_eq(fi_reduce(ctx, vals, R * C, &cols, 7, out), FI_ERR_OPTION);

    /* S^2 = d^T G d with G explicit; (g.d)^2 <= FI * S^2 for g in range (a class target). */
    const fi_blocks rows = {4, 3, 1, 3};
    double d[N], s2[4], t2[4], fi[4];
    ref_rng seed;
    ref_seed(&seed, 77);
    for (int i = 0; i < N; i++) d[i] = ref_normal(&seed);
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N, &rows, NULL, 1, d, s2, t2), FI_OK);
    ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, S, N, N, &rows, NULL, 1, fi, 0), FI_OK);
    for (int b = 0; b < 4; b++) {
        double want = 0, gd = 0;
        for (int x = 0; x < 3; x++)
            for (int y = 0; y < 3; y++) {
                double Gxy = 0;
                for (int i = 0; i < K; i++) Gxy += P[i] * S[i * N + 3 * b + x] * S[i * N + 3 * b + y];
                want += d[3 * b + x] * Gxy * d[3 * b + y];
            }
        for (int x = 0; x < 3; x++) gd += S[1 * N + 3 * b + x] * d[3 * b + x];
        ck_assert_double_eq_tol(s2[b], want, 1e-12 * want);
        ck_assert_double_eq_tol(t2[b], gd * gd, 1e-12 * gd * gd);
        ck_assert(t2[b] <= fi[b] * s2[b] * (1 + 1e-10));
    }
}
END_TEST

static Suite *reduce_suite(void)
{
    Suite *s = suite_create("reduce");
    TCase *tc = tcase_create("reduce");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_layouts);
    tcase_add_test(tc, test_extremes);
    tcase_add_test(tc, test_errors_untouched);
    tcase_add_test(tc, test_channel_fi);
    tcase_add_test(tc, test_reduce_and_perturbation);
    suite_add_tcase(s, tc);
    return s;
}
FI_REGISTER_SUITE(reduce_suite)
