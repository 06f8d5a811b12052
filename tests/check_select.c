/* Selection: top-k against a naive O(n^2) selection, the FI-Low draw against the draw
 * specified in docs/aggregation.md (known splitmix64 outputs, Floyd's algorithm written
 * here) and against uniformity, complements, masks and fi_fraction_count's closed forms. */
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

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 17;
}

/* Naive selection: k times, the unused value that is largest, smallest index on ties. */
static void naive_top(const double *v, int64_t n, int64_t k, int64_t *out)
{
    uint8_t *used = calloc((size_t)n, 1);
    for (int64_t t = 0; t < k; t++) {
        int64_t best = -1;
        for (int64_t i = 0; i < n; i++)
            if (!used[i] && (best < 0 || v[i] > v[best])) best = i;
        used[best] = 1;
        out[t] = best;
    }
    free(used);
}

/* Value arrays of several kinds: heavy ties, signed zeros, infinities, distinct. */
static void fill(int kind, uint64_t *seed, double *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const uint64_t r = lcg(seed);
        switch (kind) {
        case 0: v[i] = (double)(r % 5); break;                       /* heavy ties */
        case 1: v[i] = (r % 3 == 0) ? -0.0 : (r % 3 == 1) ? 0.0 : 1; break; /* +-0 tie */
        case 2: v[i] = (r % 7 == 0) ? INFINITY : (r % 7 == 1) ? -INFINITY : (double)(r % 1000) - 500; break;
        default: v[i] = (double)r * 1e-10 - 1e5; break;             /* distinct */
        }
    }
}

START_TEST(test_top_against_naive)
{
    uint64_t seed = 3;
    for (int kind = 0; kind < 4; kind++)
        for (int64_t n = 1; n <= 40; n += 3) {
            double v[40] = {0};
            int64_t got[40], want[40];
            fill(kind, &seed, v, n);
            double copy[40];
            memcpy(copy, v, sizeof copy);
            for (int64_t k = 0; k <= n; k++) {
                ck_assert_int_eq(fi_select_top(ctx, v, n, k, got), FI_OK);
                naive_top(v, n, k, want);
                for (int64_t t = 0; t < k; t++)
                    ck_assert_msg(got[t] == want[t], "kind %d n %lld k %lld t %lld: %lld vs %lld",
                                  kind, (long long)n, (long long)k, (long long)t,
                                  (long long)got[t], (long long)want[t]);
            }
            ck_assert(memcmp(copy, v, sizeof copy) == 0); /* inputs untouched */
        }
    /* a large array: prefixes of the naive order (computed once, k = 300) */
    enum { BIG = 20000, BK = 300 };
    double *v = malloc(BIG * sizeof *v);
    int64_t *got = malloc(BIG * sizeof *got), want[BK];
    fill(0, &seed, v, BIG);
    for (int64_t i = 0; i < BIG; i += 97) v[i] = (double)(i % 11) + 0.5;
    naive_top(v, BIG, BK, want);
    for (int64_t k = 1; k <= BK; k += 37) {
        ck_assert_int_eq(fi_select_top(ctx, v, BIG, k, got), FI_OK);
        for (int64_t t = 0; t < k; t++) ck_assert_int_eq(got[t], want[t]);
    }
    /* k = count: a full descending order, ties ascending in index */
    ck_assert_int_eq(fi_select_top(ctx, v, BIG, BIG, got), FI_OK);
    for (int64_t t = 1; t < BIG; t++)
        ck_assert(v[got[t - 1]] > v[got[t]] || (v[got[t - 1]] == v[got[t]] && got[t - 1] < got[t]));
    free(v);
    free(got);
}
END_TEST

START_TEST(test_top_errors)
{
    double v[5] = {1, 2, NAN, 4, 5};
    int64_t out[5] = {-9, -9, -9, -9, -9};
    ck_assert_int_eq(fi_select_top(ctx, v, 5, 2, out), FI_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "values[2]"));
    v[2] = 3;
    ck_assert_int_eq(fi_select_top(ctx, v, 5, 6, out), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_select_top(ctx, v, 5, -1, out), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_select_top(ctx, v, 0, 0, out), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_select_top(ctx, NULL, 5, 1, out), FI_ERR_NULL);
    ck_assert_int_eq(fi_select_top(ctx, v, 5, 1, NULL), FI_ERR_NULL);
    ck_assert_int_eq(fi_select_top(NULL, v, 5, 1, out), FI_ERR_NULL);
    for (int i = 0; i < 5; i++) ck_assert_int_eq(out[i], -9);
    ck_assert_int_eq(fi_select_top(ctx, v, 5, 0, NULL), FI_OK); /* nothing to write */
}
END_TEST

/* ---- the FI-Low draw, as specified ---- */

static uint64_t spec_splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t spec_below(uint64_t *state, uint64_t bound)
{
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    for (;;) {
        const uint64_t r = spec_splitmix(state);
        if (r < limit) return r % bound;
    }
}

/* docs/aggregation.md: pool = indices outside the top exclude_top in ascending order;
 * Floyd: for j = pool-k .. pool-1, t = below(j+1), take j if t is taken else t; output
 * the taken pool positions ascending, as block indices. */
static void spec_draw(const double *v, int64_t n, int64_t excl, int64_t k, uint64_t seed,
                      int64_t *out)
{
    int64_t *top = malloc(((size_t)excl + 1) * sizeof *top), *pool = malloc((size_t)n * sizeof *pool);
    naive_top(v, n, excl, top);
    uint8_t *in_top = calloc((size_t)n, 1), *taken = calloc((size_t)n, 1);
    for (int64_t t = 0; t < excl; t++) in_top[top[t]] = 1;
    int64_t P = 0;
    for (int64_t i = 0; i < n; i++)
        if (!in_top[i]) pool[P++] = i;
    uint64_t st = seed;
    for (int64_t j = P - k; j < P; j++) {
        const int64_t t = (int64_t)spec_below(&st, (uint64_t)j + 1);
        taken[taken[t] ? j : t] = 1;
    }
    for (int64_t p = 0, o = 0; p < P; p++)
        if (taken[p]) out[o++] = pool[p];
    free(top), free(pool), free(in_top), free(taken);
}

START_TEST(test_random_low_spec)
{
    /* the generator is splitmix64: published outputs for seed 1234567 and seed 0 */
    uint64_t st = 1234567;
    ck_assert_uint_eq(spec_splitmix(&st), 6457827717110365317ull);
    ck_assert_uint_eq(spec_splitmix(&st), 3203168211198807973ull);
    ck_assert_uint_eq(spec_splitmix(&st), 9817491932198370423ull);
    st = 0;
    ck_assert_uint_eq(spec_splitmix(&st), 0xE220A8397B1DCDAFull);

    uint64_t seed = 21;
    for (int kind = 0; kind < 4; kind++)
        for (int64_t n = 1; n <= 60; n += 7)
            for (int64_t excl = 0; excl <= n; excl += 1 + n / 4)
                for (int64_t k = 0; k <= n - excl; k += 1 + (n - excl) / 3)
                    for (uint64_t s = 0; s < 3; s++) {
                        double v[60];
                        int64_t got[60], want[60];
                        fill(kind, &seed, v, n);
                        const uint64_t sd = s * 0x9E3779B97F4A7C15ull + (uint64_t)n;
                        ck_assert_int_eq(fi_select_random_low(ctx, v, n, excl, k, sd, got), FI_OK);
                        spec_draw(v, n, excl, k, sd, want);
                        for (int64_t t = 0; t < k; t++) ck_assert_int_eq(got[t], want[t]);
                    }
}
END_TEST

/* Every k-subset of the pool equally likely: chi-square over the C(8,3) = 56 subsets of a
 * pool of 8 (12 blocks, top 4 excluded), 56 * 300 seeds. */
START_TEST(test_random_low_uniform)
{
    enum { NB = 12, EX = 4, KK = 3, DRAWS = 56 * 300 };
    double v[NB];
    uint64_t seed = 4;
    fill(0, &seed, v, NB); /* ties across the top boundary */
    int64_t top[EX];
    ck_assert_int_eq(fi_select_top(ctx, v, NB, EX, top), FI_OK);
    uint8_t in_top[NB] = {0};
    for (int t = 0; t < EX; t++) in_top[top[t]] = 1;
    int pos[NB], P = 0;
    for (int i = 0; i < NB; i++) pos[i] = in_top[i] ? -1 : P++;
    static int hist[256], marg[NB];
    memset(hist, 0, sizeof hist);
    for (int d = 0; d < DRAWS; d++) {
        int64_t got[KK];
        ck_assert_int_eq(fi_select_random_low(ctx, v, NB, EX, KK, (uint64_t)d * 7919u + 1, got), FI_OK);
        int mask = 0;
        for (int t = 0; t < KK; t++) {
            ck_assert(!in_top[got[t]]);
            if (t) ck_assert_int_gt(got[t], got[t - 1]);
            mask |= 1 << pos[got[t]];
            marg[got[t]]++;
        }
        hist[mask]++;
    }
    double chi2 = 0;
    int cells = 0;
    for (int m = 0; m < 256; m++) {
        if (__builtin_popcount((unsigned)m) != KK) continue;
        cells++;
        chi2 += (hist[m] - 300.0) * (hist[m] - 300.0) / 300.0;
    }
    ck_assert_int_eq(cells, 56);
    /* 55 degrees of freedom: mean 55, sd 10.5; 110 is beyond p = 1e-5 */
    ck_assert_msg(chi2 < 110, "chi2 = %g", chi2);
    for (int i = 0; i < NB; i++)
        if (!in_top[i]) ck_assert_msg(fabs(marg[i] - DRAWS * 3.0 / 8) < 5 * sqrt(DRAWS * 3.0 / 8 * 5 / 8), "marginal %d", marg[i]);
}
END_TEST

START_TEST(test_random_low_edges)
{
    double v[6] = {5, 1, 5, 3, 0, 2};
    int64_t out[6] = {-9, -9, -9, -9, -9, -9};
    /* k = pool: every block outside the top, ascending */
    ck_assert_int_eq(fi_select_random_low(ctx, v, 6, 2, 4, 99, out), FI_OK);
    const int64_t all[4] = {1, 3, 4, 5};
    for (int t = 0; t < 4; t++) ck_assert_int_eq(out[t], all[t]);
    /* same seed, same draw; another seed, another draw (for some seed) */
    int64_t a[2], b[2];
    ck_assert_int_eq(fi_select_random_low(ctx, v, 6, 0, 2, 7, a), FI_OK);
    ck_assert_int_eq(fi_select_random_low(ctx, v, 6, 0, 2, 7, b), FI_OK);
    ck_assert(a[0] == b[0] && a[1] == b[1]);
    int differs = 0;
    for (uint64_t s = 8; s < 20; s++) {
        ck_assert_int_eq(fi_select_random_low(ctx, v, 6, 0, 2, s, b), FI_OK);
        differs += a[0] != b[0] || a[1] != b[1];
    }
    ck_assert_int_gt(differs, 0);
    ck_assert_int_eq(fi_select_random_low(ctx, v, 6, 6, 0, 1, NULL), FI_OK);
    /* errors leave the output untouched */
    for (int t = 0; t < 6; t++) out[t] = -9;
    ck_assert_int_eq(fi_select_random_low(ctx, v, 6, 2, 5, 1, out), FI_ERR_DIMENSION);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "exclude_top"));
    ck_assert_int_eq(fi_select_random_low(ctx, v, 6, 7, 0, 1, out), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_select_random_low(ctx, v, 6, -1, 0, 1, out), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_select_random_low(ctx, v, 6, 0, -1, 1, out), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_select_random_low(ctx, v, 6, 0, 1, 1, NULL), FI_ERR_NULL);
    v[4] = NAN;
    ck_assert_int_eq(fi_select_random_low(ctx, v, 6, 0, 1, 1, out), FI_ERR_NONFINITE);
    for (int t = 0; t < 6; t++) ck_assert_int_eq(out[t], -9);
}
END_TEST

/* ---- complement, mask, fraction ---- */

START_TEST(test_complement_mask)
{
    enum { C = 30 };
    uint64_t seed = 9;
    for (int trial = 0; trial < 50; trial++) {
        /* k distinct indices in random order */
        int64_t perm[C], comp[C];
        for (int i = 0; i < C; i++) perm[i] = i;
        for (int i = C - 1; i > 0; i--) {
            int j = (int)(lcg(&seed) % (uint64_t)(i + 1));
            int64_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
        }
        const int64_t k = (int64_t)(lcg(&seed) % (C + 1));
        ck_assert_int_eq(fi_select_complement(ctx, C, perm, k, comp), FI_OK);
        uint8_t listed[C] = {0}, mask[C];
        for (int64_t t = 0; t < k; t++) listed[perm[t]] = 1;
        for (int64_t i = 0, t = 0; i < C; i++)
            if (!listed[i]) ck_assert_int_eq(comp[t++], i);
        memset(mask, 7, sizeof mask);
        ck_assert_int_eq(fi_indices_to_mask(ctx, C, perm, k, mask), FI_OK);
        for (int i = 0; i < C; i++) ck_assert_int_eq(mask[i], listed[i]);
    }
    /* repeats: an error for the complement (its output is sized count - k), harmless
     * for a mask */
    const int64_t rep[3] = {4, 1, 4};
    int64_t comp[C];
    for (int i = 0; i < C; i++) comp[i] = -9;
    ck_assert_int_eq(fi_select_complement(ctx, C, rep, 3, comp), FI_ERR_DIMENSION);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "twice"));
    for (int i = 0; i < C; i++) ck_assert_int_eq(comp[i], -9);
    uint8_t mask[C];
    ck_assert_int_eq(fi_indices_to_mask(ctx, C, rep, 3, mask), FI_OK);
    for (int i = 0; i < C; i++) ck_assert_int_eq(mask[i], i == 1 || i == 4);
    /* out of range: errors, outputs untouched */
    const int64_t bad[2] = {3, C};
    int64_t every_twice[C + 1] = {0};
    memset(mask, 7, sizeof mask);
    ck_assert_int_eq(fi_indices_to_mask(ctx, C, bad, 2, mask), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_select_complement(ctx, C, bad, 2, comp), FI_ERR_DIMENSION);
    const int64_t neg[1] = {-1};
    ck_assert_int_eq(fi_indices_to_mask(ctx, C, neg, 1, mask), FI_ERR_DIMENSION);
    for (int i = 0; i < C; i++) ck_assert(mask[i] == 7 && comp[i] == -9);
    ck_assert_int_eq(fi_select_complement(ctx, C, bad, C + 1, comp), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_select_complement(ctx, 0, bad, 0, comp), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_indices_to_mask(ctx, C, bad, -1, mask), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_indices_to_mask(ctx, C, every_twice, C + 1, mask), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_indices_to_mask(ctx, C, bad, 1, NULL), FI_ERR_NULL);
    ck_assert_int_eq(fi_select_complement(ctx, C, NULL, 1, comp), FI_ERR_NULL);
    /* everything listed: empty complement, out not needed */
    int64_t every[C];
    for (int i = 0; i < C; i++) every[i] = C - 1 - i;
    ck_assert_int_eq(fi_select_complement(ctx, C, every, C, NULL), FI_OK);
}
END_TEST

START_TEST(test_fraction_count)
{
    ck_assert_int_eq(fi_fraction_count(200, 0.05), 10);
    ck_assert_int_eq(fi_fraction_count(100, 0.07), 7); /* 0.07*100 = 7.000000000000001 */
    ck_assert_int_eq(fi_fraction_count(7, 0.5), 4);     /* ceil(3.5) */
    ck_assert_int_eq(fi_fraction_count(10, 0.01), 1);   /* ceil(0.1) */
    ck_assert_int_eq(fi_fraction_count(1000, 0.0011), 2); /* ceil(1.1) */
    ck_assert_int_eq(fi_fraction_count(5, 0), 0);
    ck_assert_int_eq(fi_fraction_count(5, 1), 5);
    ck_assert_int_eq(fi_fraction_count(0, 0.5), 0);
    ck_assert_int_eq(fi_fraction_count(5, 0x1p-1074), 1); /* any positive fraction selects one */
    ck_assert_int_eq(fi_fraction_count(INT64_MAX, 1.0), INT64_MAX);
    ck_assert_int_eq(fi_fraction_count(INT64_MAX, 0.5), INT64_C(1) << 62);
    ck_assert_int_eq(fi_fraction_count(5, NAN), -1);
    ck_assert_int_eq(fi_fraction_count(5, -0.1), -1);
    ck_assert_int_eq(fi_fraction_count(5, 1.0000001), -1);
    ck_assert_int_eq(fi_fraction_count(5, INFINITY), -1);
    ck_assert_int_eq(fi_fraction_count(-1, 0.5), -1);
    /* a fraction written as m / count selects exactly m, and one a little above selects
     * m + 1, for every m and count up to 1000, and as decimal percentages */
    for (int64_t c = 1; c <= 1000; c += (c < 100 ? 1 : 37))
        for (int64_t m = 0; m <= c; m++) {
            ck_assert_int_eq(fi_fraction_count(c, (double)m / (double)c), m);
            if (m < c) ck_assert_int_eq(fi_fraction_count(c, ((double)m + 0.01) / (double)c), m + 1);
        }
    for (int pct = 0; pct <= 100; pct++) {
        ck_assert_int_eq(fi_fraction_count(100, pct / 100.0), pct);
        ck_assert_int_eq(fi_fraction_count(100, pct * 0.01), pct);
        ck_assert_int_eq(fi_fraction_count(5000, pct * 0.01), 50 * pct);
    }
}
END_TEST

START_TEST(test_selection)
{
    enum { C = 50 };
    double v[C];
    ref_rng seed;
    ref_seed(&seed, 6);
    for (int i = 0; i < C; i++) v[i] = floor(10 * ref_uniform(&seed)); /* many ties */
    int64_t top[C], naive[C], low[10], low2[10], comp[C];
    ck_assert_int_eq(fi_select_top(ctx, v, C, 12, top), FI_OK);
    /* naive: repeatedly take the largest unused value, smallest index on ties */
    uint8_t used[C] = {0};
    for (int t = 0; t < 12; t++) {
        int best = -1;
        for (int i = 0; i < C; i++)
            if (!used[i] && (best < 0 || v[i] > v[best])) best = i;
        used[best] = 1;
        naive[t] = best;
    }
    for (int t = 0; t < 12; t++) ck_assert_int_eq(top[t], naive[t]);
    ck_assert_int_eq(fi_select_random_low(ctx, v, C, 12, 10, 42, low), FI_OK);
    ck_assert_int_eq(fi_select_random_low(ctx, v, C, 12, 10, 42, low2), FI_OK);
    for (int t = 0; t < 10; t++) {
        ck_assert_int_eq(low[t], low2[t]);
        ck_assert(!used[low[t]]);
        if (t) ck_assert(low[t] > low[t - 1]);
    }
    ck_assert_int_eq(fi_select_random_low(ctx, v, C, 45, 6, 1, low), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_select_complement(ctx, C, top, 12, comp), FI_OK);
    for (int t = 0, i = 0; i < C; i++)
        if (!used[i]) ck_assert_int_eq(comp[t++], i);
    uint8_t mask[C];
    ck_assert_int_eq(fi_indices_to_mask(ctx, C, top, 12, mask), FI_OK);
    for (int i = 0; i < C; i++) ck_assert_int_eq(mask[i], used[i]);
    top[0] = C;
    ck_assert_int_eq(fi_indices_to_mask(ctx, C, top, 12, mask), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_fraction_count(200, 0.05), 10);
    ck_assert_int_eq(fi_fraction_count(7, 0.5), 4);
    ck_assert_int_eq(fi_fraction_count(7, 1.5), -1);
    v[3] = NAN;
    ck_assert_int_eq(fi_select_top(ctx, v, C, 3, top), FI_ERR_NONFINITE);
}
END_TEST

static Suite *select_suite(void)
{
    Suite *s = suite_create("select");
    TCase *tc = tcase_create("select");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_top_against_naive);
    tcase_add_test(tc, test_top_errors);
    tcase_add_test(tc, test_random_low_spec);
    tcase_add_test(tc, test_random_low_uniform);
    tcase_add_test(tc, test_random_low_edges);
    tcase_add_test(tc, test_complement_mask);
    tcase_add_test(tc, test_fraction_count);
    tcase_add_test(tc, test_selection);
    suite_add_tcase(s, tc);
    return s;
}
FI_REGISTER_SUITE(select_suite)
