/* The weighted, mergeable accumulator: order independence (bitwise, over shuffles and
 * shard trees), accuracy against an exact expansion sum and a two-pass long double
 * variance, closed forms, the sequence aggregates of the paper, the serialized format
 * against the spec in docs/aggregation.md (decoded and hand-built here), corruption,
 * format 1 images, limits and the allocator. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fi.h"
#include "suites.h"

static fi_context *ctx;
static void setup(void) { ck_assert_int_eq(fi_context_create(&ctx), FI_OK); }
static void teardown(void) { fi_context_free(ctx); }

/* ---- helpers written for this file ---- */

static uint64_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t z = *s;
    z ^= z >> 33;
    z *= 0xff51afd7ed558ccdull;
    return z ^ (z >> 33);
}
static double rng_unif(uint64_t *s) { return (double)(rng_next(s) >> 11) * 0x1p-53; }
static double rng_normal(uint64_t *s)
{
    return sqrt(-2 * log(rng_unif(s) + 1e-300)) * cos(6.283185307179586 * rng_unif(s));
}

/* Serialized image of acc (malloc'd), its size in *size. */
static unsigned char *image_of(const fi_accumulator *acc, size_t *size)
{
    *size = fi_accumulator_serialized_size(acc);
    ck_assert_uint_gt(*size, 0);
    unsigned char *buf = malloc(*size);
    ck_assert_int_eq(fi_accumulator_serialize(ctx, acc, buf, *size), FI_OK);
    return buf;
}

static void ck_same_image(const fi_accumulator *a, const fi_accumulator *b)
{
    size_t na, nb;
    unsigned char *x = image_of(a, &na), *y = image_of(b, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(x, y, na) == 0, "images differ");
    free(x);
    free(y);
}

static void le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint64_t rd64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* The checksum of docs/aggregation.md, written from the spec. */
static uint64_t spec_checksum(const unsigned char *p, size_t n)
{
    uint64_t h = 0x4c49424649414343ull;
    for (size_t i = 0; i < n; i += 8) {
        h = (h ^ rd64(p + i)) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 32;
    }
    return h;
}
static void reseal(unsigned char *img, size_t size) { le64(img + size - 8, spec_checksum(img, size - 8)); }

/* Value of the sum stored at q in a format-2 image: sum_i c_i 2^(30 (top - i) - 1074). */
static long double spec_value(const unsigned char *q)
{
    const int64_t top = (int64_t)rd64(q);
    long double v = 0;
    if (top < 0) return 0;
    for (int i = 0; i < 4; i++)
        v += ldexpl((long double)(int64_t)rd64(q + 8 + 8 * i), (int)(30 * (top - i) - 1074));
    return v;
}

/* Exact sum of doubles as a nonoverlapping expansion (Shewchuk's GROW-EXPANSION with
 * TwoSum), then the components added smallest first: an independent reference. */
static double expansion_sum(const double *t, int n)
{
    double *e = calloc((size_t)n + 1, sizeof *e);
    int m = 0;
    for (int k = 0; k < n; k++) {
        double q = t[k];
        int mm = 0;
        for (int i = 0; i < m; i++) {
            const double s = q + e[i], bv = s - q, err = (q - (s - bv)) + (e[i] - bv);
            if (err != 0) e[mm++] = err;
            q = s;
        }
        e[mm++] = q;
        m = mm;
    }
    long double r = 0;
    for (int i = 0; i < m; i++) r += e[i];
    free(e);
    return (double)r;
}

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
    for (int pass = 0; pass < 3; pass++) {
        const double c = pass == 0 ? 1.0 : pass == 1 ? 0.25 : 3.0;
        ck_assert_int_eq(fi_accumulator_create(ctx, 1, &a), FI_OK);
        for (int i = 0; i < 3; i++) ck_assert_int_eq(fi_accumulator_add(ctx, a, &xs[i], c * ws[i]), FI_OK);
        ck_assert_int_eq(fi_accumulator_result(ctx, a, &m, &e), FI_OK);
        fi_accumulator_free(a);
        if (pass == 0) {
            ref_m = m, ref_e = e;
        } else if (pass == 1) {
            ck_assert(m == ref_m && e == ref_e);
        } else {
            ck_assert_double_eq_tol(m, ref_m, 4e-16 * ref_m);
            ck_assert_double_eq_tol(e, ref_e, 1e-14 * ref_e);
        }
    }

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

/* ---- the serialized format ---- */

/* Two blocks, samples (fi = {1, -3}, w = 1) and (fi = {0.5, 2}, w = 3):
 * sum w = 4, sum w^2 = 10; block 0: sum w FI = 2.5, sum w FI^2 = 1.75;
 * block 1: sum w FI = 3, sum w FI^2 = 21. */
static fi_accumulator *two_block(void)
{
    fi_accumulator *a = NULL;
    ck_assert_int_eq(fi_accumulator_create(ctx, 2, &a), FI_OK);
    ck_assert_int_eq(fi_accumulator_add(ctx, a, (const double[]){1, -3}, 1), FI_OK);
    ck_assert_int_eq(fi_accumulator_add(ctx, a, (const double[]){0.5, 2}, 3), FI_OK);
    return a;
}

START_TEST(test_format_spec)
{
    fi_accumulator *a = two_block();
    size_t n;
    unsigned char *img = image_of(a, &n);
    /* layout of docs/aggregation.md, read byte by byte */
    ck_assert_uint_eq(n, 128 + 80 * 2);
    ck_assert(memcmp(img, "LIBFIACC", 8) == 0);
    ck_assert_uint_eq(rd64(img + 8), 2);
    ck_assert_uint_eq(rd64(img + 16), 2);
    ck_assert_uint_eq(rd64(img + 24), 2);
    ck_assert_uint_eq(rd64(img + 32), 30 | (uint64_t)4 << 32);
    const long double want[6] = {4, 10, 2.5, 1.75, 3, 21};
    for (int s = 0; s < 6; s++) ck_assert(spec_value(img + 40 + 40 * s) == want[s]);
    ck_assert_uint_eq(rd64(img + n - 8), spec_checksum(img, n - 8));
    /* 1.0 sits at bit position 1074, bin 35, offset 24: sum w = 4 is 2^26 in bin 35 */
    ck_assert_uint_eq(rd64(img + 40), 35);
    ck_assert_uint_eq(rd64(img + 48), 1u << 26);
    for (int i = 1; i < 4; i++) ck_assert_uint_eq(rd64(img + 48 + 8 * i), 0);

    /* an image built here from the spec alone reads back to the same sums */
    unsigned char hand[128 + 80 * 2] = {0};
    memcpy(hand, "LIBFIACC", 8);
    le64(hand + 8, 2);
    le64(hand + 16, 2);
    le64(hand + 24, 2);
    le64(hand + 32, 30 | (uint64_t)4 << 32);
    /* (top, c0): value c0 * 2^(30 top - 1074); 2^(30*35-1074) = 2^-24 */
    const struct { int64_t top; int64_t c0; } sums[6] = {
        {35, 4LL << 24},  /* 4    */
        {35, 10LL << 24}, /* 10   */
        {35, 5LL << 23},  /* 2.5  */
        {35, 7LL << 22},  /* 1.75 */
        {35, 3LL << 24},  /* 3    */
        {35, 21LL << 24}, /* 21   */
    };
    for (int s = 0; s < 6; s++) {
        le64(hand + 40 + 40 * s, (uint64_t)sums[s].top);
        le64(hand + 48 + 40 * s, (uint64_t)sums[s].c0);
    }
    reseal(hand, sizeof hand);
    fi_accumulator *b = NULL;
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, hand, sizeof hand, &b), FI_OK);
    double m[2], e[2];
    ck_assert_int_eq(fi_accumulator_result(ctx, b, m, e), FI_OK);
    ck_assert(m[0] == 2.5 / 4 && m[1] == 3.0 / 4);
    /* SE^2 = (S2/W - mean^2) / (n_eff - 1), n_eff = 16/10 */
    ck_assert_double_eq_tol(e[0], sqrt((1.75 / 4 - 0.625 * 0.625) / 0.6), 1e-15);
    ck_assert_double_eq_tol(e[1], sqrt((21.0 / 4 - 0.75 * 0.75) / 0.6), 1e-15);
    /* every term lies in bin 35, so the library wrote exactly these bytes */
    ck_assert(memcmp(hand, img, n) == 0);
    fi_accumulator_free(b);
    free(img);
    fi_accumulator_free(a);
}
END_TEST

START_TEST(test_corruption)
{
    fi_accumulator *a = two_block();
    size_t n;
    unsigned char *img = image_of(a, &n);
    fi_accumulator *out = (fi_accumulator *)0x1;
    /* every truncation, and padding */
    for (size_t len = 0; len < n; len++)
        ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, len, &out), FI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "truncated"));
    unsigned char *pad = calloc(n + 8, 1);
    memcpy(pad, img, n);
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, pad, n + 8, &out), FI_ERR_FORMAT);
    free(pad);
    /* every single bit flip */
    for (size_t i = 0; i < n; i++)
        for (int bit = 0; bit < 8; bit++) {
            img[i] ^= (unsigned char)(1u << bit);
            ck_assert_msg(fi_accumulator_deserialize(ctx, img, n, &out) == FI_ERR_FORMAT,
                          "flip of byte %zu bit %d accepted", i, bit);
            img[i] ^= (unsigned char)(1u << bit);
        }
    ck_assert_ptr_eq(out, (fi_accumulator *)0x1);
    /* specific messages */
    img[0] = 'X';
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, n, &out), FI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "magic"));
    img[0] = 'L';
    le64(img + 8, 3);
    reseal(img, n);
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, n, &out), FI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "version 3"));
    le64(img + 8, 2);
    img[100] ^= 4;
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, n, &out), FI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "checksum"));
    img[100] ^= 4;
    reseal(img, n);
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, n, &out), FI_OK);
    fi_accumulator_free(out);
    out = (fi_accumulator *)0x1;

    /* inconsistent content under a valid checksum */
    struct { size_t off; uint64_t v; const char *msg; } sem[] = {
        {16, 3, "must be"},                       /* count vs size          */
        {24, (uint64_t)-1, "sample count"},       /* samples -1             */
        {24, (1ull << 33) + 1, "sample count"},   /* beyond the cap         */
        {24, 0, "0 samples"},                     /* sums with 0 samples    */
        {32, 32 | 4ull << 32, "bins of 32"},      /* other bin geometry     */
        {40, 70, "top bin"},                      /* sum w: top beyond 2^1023 */
        {48, (uint64_t)-5, "negative counter"},   /* sum w: negative        */
        {48, 0, "empty top bin"},                 /* sum w: top bin empty   */
        {56, 1ull << 40, "exceeds"},              /* sum w: counter too big */
        {40 + 80 + 8, (uint64_t)(2LL << 31), "exceeds"}, /* block 0 sum w FI */
        {40 + 80 + 40, (uint64_t)-1, "nonzero counter in an empty"}, /* w FI^2 empty, counters set */
    };
    for (size_t i = 0; i < sizeof sem / sizeof sem[0]; i++) {
        unsigned char *c = malloc(n);
        memcpy(c, img, n);
        le64(c + sem[i].off, sem[i].v);
        reseal(c, n);
        ck_assert_msg(fi_accumulator_deserialize(ctx, c, n, &out) == FI_ERR_FORMAT, "case %zu accepted", i);
        ck_assert_msg(strstr(fi_context_error(ctx), sem[i].msg), "case %zu: %s", i, fi_context_error(ctx));
        free(c);
    }
    ck_assert_ptr_eq(out, (fi_accumulator *)0x1);
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, NULL, n, &out), FI_ERR_NULL);
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, n, NULL), FI_ERR_NULL);
    ck_assert_int_eq(fi_accumulator_serialize(ctx, a, img, n - 1), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_accumulator_serialize(ctx, a, NULL, n), FI_ERR_NULL);
    free(img);
    fi_accumulator_free(a);
}
END_TEST

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void le_f64(unsigned char *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    le64(p, v);
}

/* Images of the first format (double-double pairs, FNV-1a) are still read. */
START_TEST(test_format1)
{
    /* the two_block sums, with a nonzero lo part in sum w*FI of block 1 */
    const double pairs[6][2] = {{4, 0}, {10, 0}, {2.5, 0}, {1.75, 0}, {3, 0x1p-60}, {21, 0}};
    unsigned char img[72 + 32 * 2];
    memcpy(img, "LIBFIACC", 8);
    le64(img + 8, 1);
    le64(img + 16, 2);
    le64(img + 24, 2);
    for (int s = 0; s < 6; s++) {
        le_f64(img + 32 + 16 * s, pairs[s][0]);
        le_f64(img + 40 + 16 * s, pairs[s][1]);
    }
    le64(img + sizeof img - 8, fnv1a(img, sizeof img - 8));
    fi_accumulator *a = NULL;
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, sizeof img, &a), FI_OK);
    double m[2];
    ck_assert_int_eq(fi_accumulator_result(ctx, a, m, NULL), FI_OK);
    ck_assert(m[0] == 2.5 / 4 && m[1] == (3 + 0x1p-60) / 4);
    /* it now serializes in format 2, and the lo part survived */
    size_t n;
    unsigned char *v2 = image_of(a, &n);
    ck_assert_uint_eq(rd64(v2 + 8), 2);
    ck_assert(spec_value(v2 + 40 + 40 * 4) == 3 + 0x1p-60L);
    free(v2);
    fi_accumulator_free(a);
    /* corrupt or non-finite format-1 images are rejected */
    a = (fi_accumulator *)0x1;
    img[50] ^= 1;
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, sizeof img, &a), FI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "checksum"));
    img[50] ^= 1;
    le_f64(img + 32, INFINITY);
    le64(img + sizeof img - 8, fnv1a(img, sizeof img - 8));
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, sizeof img, &a), FI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "non-finite"));
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, sizeof img - 1, &a), FI_ERR_FORMAT);
    ck_assert_ptr_eq(a, (fi_accumulator *)0x1);
}
END_TEST

/* 2^33 samples is the documented maximum (it keeps every counter below 2^63). */
START_TEST(test_sample_cap)
{
    unsigned char img[128 + 80];
    memset(img, 0, sizeof img);
    memcpy(img, "LIBFIACC", 8);
    le64(img + 8, 2);
    le64(img + 16, 1);
    le64(img + 24, 1ull << 33);
    le64(img + 32, 30 | (uint64_t)4 << 32);
    for (int s = 0; s < 4; s++) le64(img + 40 + 40 * s, (uint64_t)-1); /* all sums empty */
    reseal(img, sizeof img);
    fi_accumulator *full = NULL, *one = NULL;
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, sizeof img, &full), FI_OK);
    int64_t smp;
    ck_assert_int_eq(fi_accumulator_info(full, NULL, &smp, NULL), FI_OK);
    ck_assert_int_eq(smp, 1ll << 33);
    ck_assert_int_eq(fi_accumulator_add(ctx, full, &(double){1}, 1), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_accumulator_create(ctx, 1, &one), FI_OK);
    ck_assert_int_eq(fi_accumulator_add(ctx, one, &(double){1}, 1), FI_OK);
    ck_assert_int_eq(fi_accumulator_merge(ctx, full, one), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_accumulator_merge(ctx, one, full), FI_ERR_DIMENSION);
    fi_accumulator_free(full);
    fi_accumulator_free(one);
}
END_TEST

/* ---- allocator ---- */

typedef struct counting {
    int allocs, frees, fail_at;
} counting;

static void *c_alloc(void *o, size_t n)
{
    counting *c = o;
    if (c->fail_at >= 0 && c->allocs >= c->fail_at) return NULL;
    c->allocs++;
    return malloc(n);
}
static void c_free(void *o, void *p)
{
    counting *c = o;
    if (p) c->frees++;
    free(p);
}

START_TEST(test_allocator)
{
    counting cnt = {0, 0, -1};
    fi_context *c2 = NULL;
    ck_assert_int_eq(fi_context_create(&c2), FI_OK);
    ck_assert_int_eq(fi_context_set_allocator(c2, c_alloc, c_free, &cnt), FI_OK);
    fi_accumulator *a = NULL, *b = NULL;
    ck_assert_int_eq(fi_accumulator_create(c2, 1000, &a), FI_OK);
    const int used = cnt.allocs;
    ck_assert_int_gt(used, 0);
    size_t n = fi_accumulator_serialized_size(a);
    unsigned char *img = malloc(n);
    ck_assert_int_eq(fi_accumulator_serialize(c2, a, img, n), FI_OK);
    /* every allocation failing in turn: NOMEM, output untouched, nothing leaked */
    for (int k = 0; k < used; k++) {
        cnt.fail_at = cnt.allocs + k;
        b = (fi_accumulator *)0x1;
        ck_assert_int_eq(fi_accumulator_create(c2, 1000, &b), FI_ERR_NOMEM);
        ck_assert_int_eq(fi_accumulator_deserialize(c2, img, n, &b), FI_ERR_NOMEM);
        ck_assert_ptr_eq(b, (fi_accumulator *)0x1);
        ck_assert_int_eq(cnt.allocs - cnt.frees, used);
    }
    cnt.fail_at = -1;
    fi_context_free(c2); /* the accumulator outlives its context */
    ck_assert_int_eq(fi_accumulator_add(ctx, a, (double[1000]){0}, 1), FI_OK);
    fi_accumulator_free(a);
    ck_assert_int_eq(cnt.allocs, cnt.frees);
    free(img);
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
    tcase_add_test(tc, test_format_spec);
    tcase_add_test(tc, test_corruption);
    tcase_add_test(tc, test_format1);
    tcase_add_test(tc, test_sample_cap);
    tcase_add_test(tc, test_allocator);
    suite_add_tcase(s, tc);
    return s;
}
FI_REGISTER_SUITE(accumulator_suite)
