/* The weighted, mergeable accumulator: order independence (bitwise, over shuffles and
 * shard trees), accuracy against an exact expansion sum and a two-pass long double
 * variance, closed forms, the sequence aggregates of the paper, validation, merging with
 * itself, and the mean and variance against a naive two-pass computation. The serialized
 * format, limits and the allocator are tests/check_accumulator_format.c. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fi.h"
#include "suites.h"
#include "support/accumulator_fixture.h"
#include "support/reference.h"

/* ---- order independence ---- */

enum { OC = 7, OS = 300 };

START_TEST(test_order_independence)
{
    static double x[OS][OC], w[OS];
    uint64_t seed = 11;
    for (int s = 0; s < OS; s++) {
        /* weights over 17 decades, some exactly 0; values over 25 decades, both signs,
         * exact zeros, subnormals, and nearly equal values */
        const double u = rng_unif(&seed);
        w[s] = u < 0.1 ? 0.0 : exp(40 * (rng_unif(&seed) - 0.5));
        for (int b = 0; b < OC; b++) {
            double v = exp(2.3 * 25 * (rng_unif(&seed) - 0.5));
            if (b == 1) v = -v * (rng_unif(&seed) < 0.5 ? 1 : -1);
            if (b == 2 && s % 7 == 0) v = 0;
            if (b == 3 && s % 5 == 0) v = 3e-310; /* subnormal next to 1e25 */
            if (b == 4) v = 1 + 0x1p-52 * (double)(s % 9); /* nearly equal: cancellation in SE */
            x[s][b] = v;
        }
    }
    fi_accumulator *ref = NULL;
    ck_assert_int_eq(fi_accumulator_create(ctx, OC, &ref), FI_OK);
    for (int s = 0; s < OS; s++) ck_assert_int_eq(fi_accumulator_add(ctx, ref, x[s], w[s]), FI_OK);
    double m0[OC], e0[OC];
    ck_assert_int_eq(fi_accumulator_result(ctx, ref, m0, e0), FI_OK);

    int naive_differs = 0;
    double naive_ref[OC] = {0};
    for (int s = 0; s < OS; s++)
        for (int b = 0; b < OC; b++) naive_ref[b] += w[s] * x[s][b];
    for (int trial = 0; trial < 12; trial++) {
        int perm[OS];
        for (int s = 0; s < OS; s++) perm[s] = s;
        for (int s = OS - 1; s > 0; s--) {
            int j = (int)(rng_next(&seed) % (uint64_t)(s + 1)), t = perm[s];
            perm[s] = perm[j];
            perm[j] = t;
        }
        /* random shard sizes, samples in permuted order, merged in a random tree */
        int shards = 1 + (int)(rng_next(&seed) % 9);
        fi_accumulator *part[9];
        for (int k = 0; k < shards; k++) ck_assert_int_eq(fi_accumulator_create(ctx, OC, &part[k]), FI_OK);
        for (int s = 0; s < OS; s++) {
            const int k = (int)(rng_next(&seed) % (uint64_t)shards);
            ck_assert_int_eq(fi_accumulator_add(ctx, part[k], x[perm[s]], w[perm[s]]), FI_OK);
        }
        int live = shards;
        while (live > 1) {
            const int a = (int)(rng_next(&seed) % (uint64_t)live);
            int b = (int)(rng_next(&seed) % (uint64_t)(live - 1));
            if (b >= a) b++;
            ck_assert_int_eq(fi_accumulator_merge(ctx, part[a], part[b]), FI_OK);
            fi_accumulator_free(part[b]);
            part[b] = part[--live];
        }
        ck_same_image(ref, part[0]);
        double m1[OC], e1[OC];
        ck_assert_int_eq(fi_accumulator_result(ctx, part[0], m1, e1), FI_OK);
        ck_assert(memcmp(m0, m1, sizeof m0) == 0 && memcmp(e0, e1, sizeof e0) == 0);
        fi_accumulator_free(part[0]);
        /* The data must be able to tell: plain double sums in this order differ. */
        double naive[OC] = {0};
        for (int s = 0; s < OS; s++)
            for (int b = 0; b < OC; b++) naive[b] += w[perm[s]] * x[perm[s]][b];
        naive_differs += memcmp(naive, naive_ref, sizeof naive) != 0;
    }
    ck_assert_int_gt(naive_differs, 6);

    /* Accuracy: mean against the exact sum of the same rounded terms, SE against a
     * two-pass long double evaluation of the reliability-weights estimator. */
    double t1[OS], tw[OS];
    for (int s = 0; s < OS; s++) tw[s] = w[s];
    const double W = expansion_sum(tw, OS);
    for (int b = 0; b < OC; b++) {
        for (int s = 0; s < OS; s++) t1[s] = w[s] * x[s][b];
        const double mean = expansion_sum(t1, OS) / W;
        ck_assert_msg(fabs(m0[b] - mean) <= 2 * DBL_EPSILON * fabs(mean), "block %d mean %.17g, exact %.17g", b, m0[b], mean);
        long double lm = 0, lW = 0, lW2 = 0, v = 0;
        for (int s = 0; s < OS; s++) lW += w[s], lW2 += (long double)w[s] * w[s], lm += (long double)w[s] * x[s][b];
        lm /= lW;
        for (int s = 0; s < OS; s++) v += w[s] * ((long double)x[s][b] - lm) * ((long double)x[s][b] - lm);
        v /= (lW - lW2 / lW);
        const double se = (double)(sqrtl(v * lW2) / lW);
        /* The documented bound: S2/W - mean^2 is formed in double from rounded terms, an
         * absolute error delta of at most 8 eps S2/W; SE moves by at most
         * min(sqrt(delta'), delta' / (2 SE)), delta' = delta / (n_eff - 1). Block 4 varies
         * by a few ulps around 1 and sits on the sqrt side; the others on the linear one. */
        long double m2 = 0;
        for (int s = 0; s < OS; s++) m2 += w[s] * (long double)x[s][b] * x[s][b];
        const double neff = (double)(lW * lW / lW2);
        const double dp = 8 * DBL_EPSILON * (double)(m2 / lW) / (neff - 1);
        const double tol = fmin(sqrt(dp), dp / (2 * se)) + 1e-13 * se;
        ck_assert_msg(fabs(e0[b] - se) <= tol, "block %d SE %.17g, reference %.17g", b, e0[b], se);
    }
    fi_accumulator_free(ref);
}
END_TEST

START_TEST(test_exact_cancellation)
{
    /* 2^60 + 1 - 2^60 + 1 + 3 = 5 in every one of the 120 orders; in double, most orders
     * lose the ones. */
    const double v[5] = {0x1p60, 1, -0x1p60, 1, 3};
    int perm[5] = {0, 1, 2, 3, 4}, naive_wrong = 0;
    for (int it = 0; it < 120; it++) {
        fi_accumulator *a = NULL;
        ck_assert_int_eq(fi_accumulator_create(ctx, 1, &a), FI_OK);
        double naive = 0;
        for (int s = 0; s < 5; s++) {
            ck_assert_int_eq(fi_accumulator_add(ctx, a, &v[perm[s]], 1.0), FI_OK);
            naive += v[perm[s]];
        }
        naive_wrong += naive != 5;
        double m;
        ck_assert_int_eq(fi_accumulator_result(ctx, a, &m, NULL), FI_OK);
        ck_assert_double_eq(m, 1.0);
        fi_accumulator_free(a);
        /* next permutation (lexicographic) */
        int i = 3;
        while (i >= 0 && perm[i] > perm[i + 1]) i--;
        if (i < 0) break;
        int j = 4;
        while (perm[j] < perm[i]) j--;
        int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
        for (int l = i + 1, r = 4; l < r; l++, r--) t = perm[l], perm[l] = perm[r], perm[r] = t;
    }
    ck_assert_int_gt(naive_wrong, 0);
}
END_TEST

/* The documented window: every bit within 90 places of the largest |term| is kept, none
 * more than 120 places below it; and what is dropped does not depend on the order. */
START_TEST(test_window_bound)
{
    for (int k = -900; k <= 500; k += 37) { /* FI^2 must stay finite */
        const double L = ldexp(1, k);
        const double keep[3] = {L, ldexp(L, -90), -L}, drop[3] = {L, ldexp(L, -121), -L};
        for (int order = 0; order < 2; order++) {
            fi_accumulator *a = NULL, *b = NULL;
            ck_assert_int_eq(fi_accumulator_create(ctx, 1, &a), FI_OK);
            ck_assert_int_eq(fi_accumulator_create(ctx, 1, &b), FI_OK);
            for (int s = 0; s < 3; s++) {
                const int i = order ? 2 - s : s;
                ck_assert_int_eq(fi_accumulator_add(ctx, a, &keep[i], 1.0), FI_OK);
                ck_assert_int_eq(fi_accumulator_add(ctx, b, &drop[i], 1.0), FI_OK);
            }
            double m;
            ck_assert_int_eq(fi_accumulator_result(ctx, a, &m, NULL), FI_OK);
            ck_assert_double_eq(m, ldexp(L, -90) / 3.0);
            ck_assert_int_eq(fi_accumulator_result(ctx, b, &m, NULL), FI_OK);
            if (k - 121 >= -1022) ck_assert_double_eq(m, 0.0);
            fi_accumulator_free(a);
            fi_accumulator_free(b);
        }
    }
    /* Tiny first, then huge (the window moves up): the same bits as huge first. */
    const double tiny = 0x1.3p-100, huge = 0x1.8p0;
    fi_accumulator *a = NULL, *b = NULL;
    ck_assert_int_eq(fi_accumulator_create(ctx, 1, &a), FI_OK);
    ck_assert_int_eq(fi_accumulator_create(ctx, 1, &b), FI_OK);
    ck_assert_int_eq(fi_accumulator_add(ctx, a, &tiny, 1), FI_OK);
    ck_assert_int_eq(fi_accumulator_add(ctx, a, &huge, 1), FI_OK);
    ck_assert_int_eq(fi_accumulator_add(ctx, b, &huge, 1), FI_OK);
    ck_assert_int_eq(fi_accumulator_add(ctx, b, &tiny, 1), FI_OK);
    ck_same_image(a, b);
    fi_accumulator_free(a);
    fi_accumulator_free(b);
}
END_TEST

/* ---- estimator ---- */

/* Mean and SE of one block fed x[i] with weights c * w[i]. */
static void weighted_result(const double *x, const double *w, int n, double c, double *m,
                            double *e)
{
    fi_accumulator *a = NULL;
    ck_assert_int_eq(fi_accumulator_create(ctx, 1, &a), FI_OK);
    for (int i = 0; i < n; i++) ck_assert_int_eq(fi_accumulator_add(ctx, a, &x[i], c * w[i]), FI_OK);
    ck_assert_int_eq(fi_accumulator_result(ctx, a, m, e), FI_OK);
    fi_accumulator_free(a);
}

START_TEST(test_closed_forms)
{
    fi_accumulator *a = NULL;
    double m, e;
    /* equal weights: mean 2.5, SE = s / sqrt(N) = sqrt((5/3) / 4) */
    ck_assert_int_eq(fi_accumulator_create(ctx, 1, &a), FI_OK);
    for (int i = 1; i <= 4; i++) {
        const double x = i;
        ck_assert_int_eq(fi_accumulator_add(ctx, a, &x, 1.0), FI_OK);
    }
    ck_assert_int_eq(fi_accumulator_result(ctx, a, &m, &e), FI_OK);
    ck_assert_double_eq(m, 2.5);
    ck_assert_double_eq_tol(e, sqrt(5.0 / 12.0), 4e-16);
    fi_accumulator_free(a);

    /* reliability weights (1, 2, 3) on (1, 0, 4): W = 6, W2 = 14, mean 13/6,
     * sum w (x - mean)^2 = 125/6, var = (125/6) / (6 - 14/6) = 125/22,
     * SE = sqrt(var * 14) / 6. */
    ck_assert_int_eq(fi_accumulator_create(ctx, 1, &a), FI_OK);
    const double xs[3] = {1, 0, 4}, ws[3] = {1, 2, 3};
    for (int i = 0; i < 3; i++) ck_assert_int_eq(fi_accumulator_add(ctx, a, &xs[i], ws[i]), FI_OK);
    ck_assert_int_eq(fi_accumulator_result(ctx, a, &m, &e), FI_OK);
    ck_assert_double_eq_tol(m, 13.0 / 6.0, 4e-16);
    ck_assert_double_eq_tol(e, sqrt(125.0 / 22.0 * 14.0) / 6.0, 1e-15);
    fi_accumulator_free(a);

    /* scaling every weight leaves mean and SE unchanged: bitwise by a power of two */
    double ref_m, ref_e;
    weighted_result(xs, ws, 3, 1.0, &ref_m, &ref_e);
    weighted_result(xs, ws, 3, 0.25, &m, &e);
    ck_assert(m == ref_m && e == ref_e);
    weighted_result(xs, ws, 3, 3.0, &m, &e);
    ck_assert_double_eq_tol(m, ref_m, 4e-16 * ref_m);
    ck_assert_double_eq_tol(e, ref_e, 1e-14 * ref_e);

    /* one sample: the mean is the value, SE 0 (documented: no spread can be estimated) */
    const double one = 0x1.234p-1070; /* subnormal: the mean is still exact */
    ck_assert_int_eq(fi_accumulator_create(ctx, 1, &a), FI_OK);
    ck_assert_int_eq(fi_accumulator_add(ctx, a, &one, 4.0), FI_OK);
    ck_assert_int_eq(fi_accumulator_result(ctx, a, &m, &e), FI_OK);
    ck_assert(m == one && e == 0);
    /* zero-weight samples add nothing: still one effective sample */
    const double other = 5;
    ck_assert_int_eq(fi_accumulator_add(ctx, a, &other, 0.0), FI_OK);
    ck_assert_int_eq(fi_accumulator_result(ctx, a, &m, &e), FI_OK);
    ck_assert(m == one && e == 0);
    int64_t cnt, smp;
    double tw;
    ck_assert_int_eq(fi_accumulator_info(a, &cnt, &smp, &tw), FI_OK);
    ck_assert(cnt == 1 && smp == 2 && tw == 4.0);
    ck_assert_int_eq(fi_accumulator_info(a, NULL, NULL, NULL), FI_OK);
    ck_assert_int_eq(fi_accumulator_info(NULL, &cnt, NULL, NULL), FI_ERR_NULL);
    fi_accumulator_free(a);

    /* constant data, 8 samples: S2/W and mean^2 agree exactly, SE exactly 0 */
    ck_assert_int_eq(fi_accumulator_create(ctx, 1, &a), FI_OK);
    for (int i = 0; i < 8; i++) ck_assert_int_eq(fi_accumulator_add(ctx, a, &(double){0.1}, 1.0), FI_OK);
    ck_assert_int_eq(fi_accumulator_result(ctx, a, &m, &e), FI_OK);
    ck_assert(m == 0.1 && e == 0);
    fi_accumulator_free(a);

    /* total weight 0: an error, outputs untouched */
    ck_assert_int_eq(fi_accumulator_create(ctx, 1, &a), FI_OK);
    m = e = -7;
    ck_assert_int_eq(fi_accumulator_result(ctx, a, &m, &e), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_accumulator_add(ctx, a, &other, 0.0), FI_OK);
    ck_assert_int_eq(fi_accumulator_result(ctx, a, &m, &e), FI_ERR_DIMENSION);
    ck_assert(m == -7 && e == -7);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "total weight 0"));
    fi_accumulator_free(a);
}
END_TEST

/* Paper section 2: dataset average, fixed horizon (1/L) sum_l FI_l with FI_l the mean over
 * N continuations, discounted (1 - gamma) sum_l gamma^l FI_l, as weighted adds. */
START_TEST(test_sequence_aggregates)
{
    enum { L = 5, NC = 10, C = 3 };
    double fi[L][NC][C];
    uint64_t seed = 5;
    for (int l = 0; l < L; l++)
        for (int n = 0; n < NC; n++)
            for (int b = 0; b < C; b++) fi[l][n][b] = exp(rng_normal(&seed)) * (1 + l);
    const double gamma = 0.9;
    fi_accumulator *fixed = NULL, *disc = NULL;
    ck_assert_int_eq(fi_accumulator_create(ctx, C, &fixed), FI_OK);
    ck_assert_int_eq(fi_accumulator_create(ctx, C, &disc), FI_OK);
    for (int l = 0; l < L; l++)
        for (int n = 0; n < NC; n++) {
            ck_assert_int_eq(fi_accumulator_add(ctx, fixed, fi[l][n], 1.0 / (L * NC)), FI_OK);
            ck_assert_int_eq(fi_accumulator_add(ctx, disc, fi[l][n], (1 - gamma) * pow(gamma, l) / NC), FI_OK);
        }
    double mf[C], md[C], twd;
    ck_assert_int_eq(fi_accumulator_result(ctx, fixed, mf, NULL), FI_OK);
    ck_assert_int_eq(fi_accumulator_result(ctx, disc, md, NULL), FI_OK);
    ck_assert_int_eq(fi_accumulator_info(disc, NULL, NULL, &twd), FI_OK);
    for (int b = 0; b < C; b++) {
        long double fx = 0, ds = 0, norm = 0;
        for (int l = 0; l < L; l++) {
            long double fl = 0;
            for (int n = 0; n < NC; n++) fl += fi[l][n][b];
            fl /= NC;
            fx += fl / L;
            ds += (1 - gamma) * powl(gamma, l) * fl;
            norm += (1 - gamma) * powl(gamma, l);
        }
        ck_assert_double_eq_tol(mf[b], (double)fx, 1e-14 * (double)fx);
        /* the mean is normalized by the total weight 1 - gamma^L; times it, the paper's
         * (truncated) discounted sum */
        ck_assert_double_eq_tol(md[b], (double)(ds / norm), 1e-14 * (double)(ds / norm));
        ck_assert_double_eq_tol(md[b] * twd, (double)ds, 1e-14 * (double)ds);
    }
    ck_assert_double_eq_tol(twd, 1 - pow(gamma, L), 1e-15);
    fi_accumulator_free(fixed);
    fi_accumulator_free(disc);
}
END_TEST

/* ---- validation ---- */

START_TEST(test_bad_input_untouched)
{
    enum { C = 4 };
    fi_accumulator *a = NULL, *other = NULL;
    ck_assert_int_eq(fi_accumulator_create(ctx, C, &a), FI_OK);
    const double x[C] = {1, 2, 3, 4};
    ck_assert_int_eq(fi_accumulator_add(ctx, a, x, 2.0), FI_OK);
    size_t n0;
    unsigned char *before = image_of(a, &n0);
    double bad[C] = {1, 2, 3, 4};
    struct { double v; int slot; double w; int status; const char *msg; } cases[] = {
        {NAN, 2, 1, FI_ERR_NONFINITE, "fi[2]"},
        {INFINITY, 3, 1, FI_ERR_NONFINITE, "fi[3]"},
        {1e200, 1, 1, FI_ERR_NONFINITE, "overflows"}, /* w * FI^2 */
        {1, 0, NAN, FI_ERR_OPTION, "weight"},
        {1, 0, INFINITY, FI_ERR_OPTION, "weight"},
        {1, 0, -1, FI_ERR_OPTION, "weight"},
        {1, 0, -0x1p-1074, FI_ERR_OPTION, "weight"},
        {1, 0, 1e160, FI_ERR_OPTION, "square overflows"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(bad, x, sizeof bad);
        bad[cases[i].slot] = cases[i].v;
        ck_assert_int_eq(fi_accumulator_add(ctx, a, bad, cases[i].w), cases[i].status);
        ck_assert_msg(strstr(fi_context_error(ctx), cases[i].msg), "case %zu: %s", i, fi_context_error(ctx));
    }
    ck_assert_int_eq(fi_accumulator_add(ctx, NULL, x, 1), FI_ERR_NULL);
    ck_assert_int_eq(fi_accumulator_add(ctx, a, NULL, 1), FI_ERR_NULL);
    ck_assert_int_eq(fi_accumulator_add(NULL, a, x, 1), FI_ERR_NULL);
    ck_assert_int_eq(fi_accumulator_create(ctx, C + 1, &other), FI_OK);
    ck_assert_int_eq(fi_accumulator_merge(ctx, a, other), FI_ERR_MISMATCH);
    ck_assert_int_eq(fi_accumulator_merge(ctx, other, a), FI_ERR_MISMATCH);
    ck_assert_int_eq(fi_accumulator_merge(ctx, a, NULL), FI_ERR_NULL);
    ck_assert_int_eq(fi_accumulator_merge(ctx, NULL, a), FI_ERR_NULL);
    size_t n1;
    unsigned char *after = image_of(a, &n1);
    ck_assert(n0 == n1 && memcmp(before, after, n0) == 0);
    free(before);
    free(after);

    fi_accumulator *keep = (fi_accumulator *)0x1;
    ck_assert_int_eq(fi_accumulator_create(ctx, 0, &keep), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_accumulator_create(ctx, -3, &keep), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_accumulator_create(ctx, INT64_MAX, &keep), FI_ERR_DIMENSION);
    ck_assert_ptr_eq(keep, (fi_accumulator *)0x1);
    ck_assert_int_eq(fi_accumulator_create(ctx, 1, NULL), FI_ERR_NULL);
    ck_assert_int_eq(fi_accumulator_result(ctx, NULL, NULL, NULL), FI_ERR_NULL);
    ck_assert_uint_eq(fi_accumulator_serialized_size(NULL), 0);
    fi_accumulator_free(other);
    fi_accumulator_free(a);
}
END_TEST

START_TEST(test_merge_self)
{
    enum { C = 3 };
    fi_accumulator *a = NULL, *twice = NULL;
    ck_assert_int_eq(fi_accumulator_create(ctx, C, &a), FI_OK);
    ck_assert_int_eq(fi_accumulator_create(ctx, C, &twice), FI_OK);
    uint64_t seed = 8;
    for (int s = 0; s < 20; s++) {
        double x[C], w = rng_unif(&seed);
        for (int b = 0; b < C; b++) x[b] = rng_normal(&seed) * 1e5;
        ck_assert_int_eq(fi_accumulator_add(ctx, a, x, w), FI_OK);
        ck_assert_int_eq(fi_accumulator_add(ctx, twice, x, w), FI_OK);
        ck_assert_int_eq(fi_accumulator_add(ctx, twice, x, w), FI_OK);
    }
    ck_assert_int_eq(fi_accumulator_merge(ctx, a, a), FI_OK); /* dst == src: doubles */
    ck_same_image(a, twice);
    /* merging an empty accumulator changes nothing */
    fi_accumulator *empty = NULL;
    ck_assert_int_eq(fi_accumulator_create(ctx, C, &empty), FI_OK);
    ck_assert_int_eq(fi_accumulator_merge(ctx, a, empty), FI_OK);
    ck_same_image(a, twice);
    fi_accumulator_free(a);
    fi_accumulator_free(twice);
    fi_accumulator_free(empty);
}
END_TEST

START_TEST(test_accumulator)
{
    enum { C = 5, S_ = 40 };
    double x[S_][C], w[S_];
    ref_rng seed;
    ref_seed(&seed, 2);
    for (int s = 0; s < S_; s++) {
        w[s] = 0.5 + ref_uniform(&seed);
        for (int b = 0; b < C; b++) x[s][b] = exp(3 * ref_normal(&seed));
    }
    fi_accumulator *all = NULL, *a = NULL, *b2 = NULL, *rt = NULL;
    ck_assert_int_eq(fi_accumulator_create(ctx, C, &all), FI_OK);
    ck_assert_int_eq(fi_accumulator_create(ctx, C, &a), FI_OK);
    ck_assert_int_eq(fi_accumulator_create(ctx, C, &b2), FI_OK);
    for (int s = 0; s < S_; s++) ck_assert_int_eq(fi_accumulator_add(ctx, all, x[s], w[s]), FI_OK);
    for (int s = S_ - 1; s >= 0; s--)   /* another order, in two shards */
        ck_assert_int_eq(fi_accumulator_add(ctx, s % 3 ? a : b2, x[s], w[s]), FI_OK);
    ck_assert_int_eq(fi_accumulator_merge(ctx, b2, a), FI_OK);
    double m1[C], e1[C], m2[C], e2[C];
    ck_assert_int_eq(fi_accumulator_result(ctx, all, m1, e1), FI_OK);
    ck_assert_int_eq(fi_accumulator_result(ctx, b2, m2, e2), FI_OK);
    ck_assert(memcmp(m1, m2, sizeof m1) == 0);
    for (int b = 0; b < C; b++) { /* two-pass reference in long double */
        long double W = 0, W2 = 0, sx = 0, v = 0;
        for (int s = 0; s < S_; s++) { W += w[s]; W2 += (long double)w[s] * w[s]; sx += w[s] * (long double)x[s][b]; }
        long double mean = sx / W;
        for (int s = 0; s < S_; s++) v += w[s] * (x[s][b] - mean) * (x[s][b] - mean);
        v /= (W - W2 / W);
        ck_assert_double_eq_tol(m1[b], (double)mean, 1e-14 * (double)mean);
        ck_assert_double_eq_tol(e1[b], (double)(sqrtl(v * W2) / W), 1e-10 * (double)(sqrtl(v * W2) / W));
        ck_assert_double_eq_tol(e1[b], e2[b], 1e-12 * e1[b]);
    }
    int64_t cnt, smp;
    double tw;
    ck_assert_int_eq(fi_accumulator_info(all, &cnt, &smp, &tw), FI_OK);
    ck_assert_int_eq(cnt, C);
    ck_assert_int_eq(smp, S_);
    /* serialization round trip, corruption, truncation */
    size_t sz = fi_accumulator_serialized_size(all);
    unsigned char *buf = malloc(sz);
    ck_assert_int_eq(fi_accumulator_serialize(ctx, all, buf, sz - 1), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_accumulator_serialize(ctx, all, buf, sz), FI_OK);
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, buf, sz, &rt), FI_OK);
    ck_assert_int_eq(fi_accumulator_result(ctx, rt, m2, e2), FI_OK);
    ck_assert(memcmp(m1, m2, sizeof m1) == 0 && memcmp(e1, e2, sizeof e1) == 0);
    fi_accumulator *bad = (fi_accumulator *)0x1;
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, buf, sz - 8, &bad), FI_ERR_FORMAT);
    buf[40] ^= 1;
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, buf, sz, &bad), FI_ERR_FORMAT);
    buf[0] = 'X';
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, buf, sz, &bad), FI_ERR_FORMAT);
    ck_assert_ptr_eq(bad, (fi_accumulator *)0x1);
    fi_accumulator *other = NULL;
    ck_assert_int_eq(fi_accumulator_create(ctx, C + 1, &other), FI_OK);
    ck_assert_int_eq(fi_accumulator_merge(ctx, other, all), FI_ERR_MISMATCH);
    ck_assert_int_eq(fi_accumulator_add(ctx, all, x[0], -1), FI_ERR_OPTION);
    x[0][2] = NAN;
    ck_assert_int_eq(fi_accumulator_add(ctx, all, x[0], 1), FI_ERR_NONFINITE);
    free(buf);
    fi_accumulator_free(all); fi_accumulator_free(a); fi_accumulator_free(b2);
    fi_accumulator_free(rt); fi_accumulator_free(other); fi_accumulator_free(NULL);
}
END_TEST

static Suite *accumulator_suite(void)
{
    Suite *s = suite_create("accumulator");
    TCase *tc = tcase_create("accumulator");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_order_independence);
    tcase_add_test(tc, test_exact_cancellation);
    tcase_add_test(tc, test_window_bound);
    tcase_add_test(tc, test_closed_forms);
    tcase_add_test(tc, test_sequence_aggregates);
    tcase_add_test(tc, test_bad_input_untouched);
    tcase_add_test(tc, test_merge_self);
    tcase_add_test(tc, test_accumulator);
    suite_add_tcase(s, tc);
    return s;
}
FI_REGISTER_SUITE(accumulator_suite)
