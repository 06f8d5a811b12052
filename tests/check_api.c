/* Bad input, allocation failure, constants; accumulator, selection, reduction and
 * perturbations against naive references written here. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "support/reference.h"

static fi_context *ctx;
static void setup(void) { ck_assert_int_eq(fi_context_create(&ctx), FI_OK); }
static void teardown(void) { fi_context_free(ctx); }

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

/* Runs fi_direct; on failure the sentinel-filled out must be untouched and a message set. */
static int direct_untouched(int64_t k, const double *probs, const void *scores, int64_t n,
                            int64_t ld, const fi_blocks *bl, const void *target, int64_t cls,
                            unsigned flags)
{
    double out[64];
    for (int i = 0; i < 64; i++) out[i] = -7.0;
    int st = fi_direct(ctx, k, probs, FI_F64, scores, n, ld, bl, target, cls, out, flags);
    if (st != FI_OK) {
        for (int i = 0; i < 64; i++) ck_assert_double_eq(out[i], -7.0);
        ck_assert_msg(fi_context_error(ctx)[0] != '\0', "no message for status %d", st);
    }
    return st;
}

START_TEST(test_bad_inputs)
{
    fill();
    const fi_blocks el = {N, 1, 1, 1}, rows = {4, 3, 1, 3};
    double Pbad[K] = {0.2, 0.3, 0.5};
    ck_assert_int_eq(direct_untouched(K, P, S, N, N, &rows, G, -1, 0), FI_OK);
    ck_assert_int_eq(direct_untouched(K, NULL, S, N, N, &el, G, -1, 0), FI_ERR_NULL);
    ck_assert_int_eq(direct_untouched(K, P, NULL, N, N, &el, G, -1, 0), FI_ERR_NULL);
    ck_assert_int_eq(direct_untouched(K, P, S, N, N, NULL, G, -1, 0), FI_ERR_NULL);
    ck_assert_int_eq(direct_untouched(1, P, S, N, N, &el, G, -1, 0), FI_ERR_DIMENSION);
    ck_assert_int_eq(direct_untouched(K, P, S, 0, N, &el, G, -1, 0), FI_ERR_DIMENSION);
    ck_assert_int_eq(direct_untouched(K, P, S, N, N - 1, &el, G, -1, 0), FI_ERR_DIMENSION);
    const fi_blocks bad[] = {
        {0, 1, 1, 1}, {N, 0, 1, 1}, {N + 1, 1, 1, 1}, {4, 4, 1, 3}, {2, 2, -1, 1},
        {2, 1, 1, -5}, {INT64_MAX, 2, 1, INT64_MAX}, {2, INT64_MAX, INT64_MAX, 1},
    };
    for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++)
        ck_assert_msg(direct_untouched(K, P, S, N, N, &bad[t], G, -1, 0) == FI_ERR_DIMENSION,
                      "layout %zu", t);
    Pbad[0] = -0.1;
    ck_assert_int_eq(direct_untouched(K, Pbad, S, N, N, &el, G, -1, 0), FI_ERR_PROBABILITY);
    Pbad[0] = NAN;
    ck_assert_int_eq(direct_untouched(K, Pbad, S, N, N, &el, G, -1, 0), FI_ERR_PROBABILITY);
    Pbad[0] = 0.25;
    ck_assert_int_eq(direct_untouched(K, Pbad, S, N, N, &el, G, -1, 0), FI_ERR_PROBABILITY);
    ck_assert_int_eq(direct_untouched(K, P, S, N, N, &el, NULL, K, 0), FI_ERR_CLASS);
    ck_assert_int_eq(direct_untouched(K, P, S, N, N, &el, NULL, -1, 0), FI_ERR_CLASS);
    ck_assert_int_eq(direct_untouched(K, P, S, N, N, &el, G, -1, 4u), FI_ERR_FLAG);
    double S2[K * N], G2[N];
    memcpy(S2, S, sizeof S);
    memcpy(G2, G, sizeof G);
    S2[2 * N + 11] = NAN;
    ck_assert_int_eq(direct_untouched(K, P, S2, N, N, &rows, G, -1, 0), FI_ERR_NONFINITE);
    ck_assert_int_eq(direct_untouched(K, P, S2, N, N, &el, G, -1, 0), FI_ERR_NONFINITE);
    G2[5] = INFINITY;
    ck_assert_int_eq(direct_untouched(K, P, S, N, N, &rows, G2, -1, 0), FI_ERR_NONFINITE);
    ck_assert(memcmp(S2, S, sizeof(double) * 2 * N) == 0); /* inputs never modified */
    double out[N];
    ck_assert_int_eq(fi_direct(ctx, K, P, 9, S, N, N, &el, G, -1, out, 0), FI_ERR_DTYPE);
    ck_assert_int_eq(fi_direct(NULL, K, P, FI_F64, S, N, N, &el, G, -1, out, 0), FI_ERR_NULL);

    /* the metric path: *metric untouched, out untouched */
    fi_metric *m = (fi_metric *)0x1;
    ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S2, N, N, &rows, &m), FI_ERR_NONFINITE);
    ck_assert_ptr_eq(m, (fi_metric *)0x1);
    m = NULL;
    ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S, N, N, &rows, &m), FI_OK);
    for (int i = 0; i < 4; i++) out[i] = -7;
    ck_assert_int_eq(fi_compute(ctx, m, FI_F64, G2, out, 0), FI_ERR_NONFINITE);
    ck_assert_int_eq(fi_compute(ctx, m, FI_F64, G, out, 2u), FI_ERR_FLAG);
    ck_assert_int_eq(fi_compute(ctx, m, FI_F64, NULL, out, 0), FI_ERR_NULL);
    ck_assert_int_eq(fi_compute(ctx, NULL, FI_F64, G, out, 0), FI_ERR_NULL);
    for (int i = 0; i < 4; i++) ck_assert_double_eq(out[i], -7);
    ck_assert_int_eq(fi_class_bound(ctx, m, K, out), FI_ERR_CLASS);
    fi_metric_free(m);
    fi_metric_free(NULL);
}
END_TEST

START_TEST(test_options_constants)
{
    double v;
    ck_assert_int_eq(fi_context_get(ctx, FI_OPT_THREADS, &v), FI_OK);
    ck_assert_double_eq(v, 1);
    ck_assert_int_eq(fi_context_get(ctx, FI_OPT_PROB_TOL, &v), FI_OK);
    ck_assert_double_eq(v, 1e-5);
    ck_assert_int_eq(fi_context_set(ctx, 99, 1), FI_ERR_OPTION);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_THREADS, 0), FI_ERR_OPTION);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_THREADS, 1.5), FI_ERR_OPTION);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_CLASS_MODE, 3), FI_ERR_OPTION);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_ATOL, -1), FI_ERR_OPTION);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_RCOND, NAN), FI_ERR_OPTION);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_METHOD, FI_METHOD_REFERENCE), FI_OK);
    ck_assert_int_eq(fi_context_get(ctx, FI_OPT_METHOD, &v), FI_OK);
    ck_assert_double_eq(v, FI_METHOD_REFERENCE);
    ck_assert_int_eq(fi_context_get(ctx, 99, &v), FI_ERR_OPTION);
    int64_t c;
    ck_assert_int_eq(fi_constant("FI_OPT_RCOND", &c), FI_OK);
    ck_assert_int_eq(c, FI_OPT_RCOND);
    ck_assert_int_eq(fi_constant("FI_ERR_NAME", &c), FI_OK);
    ck_assert_int_eq(c, FI_ERR_NAME);
    ck_assert_int_eq(fi_constant("FI_SINGLE_PASS", &c), FI_OK);
    ck_assert_int_eq(c, FI_SINGLE_PASS);
    ck_assert_int_eq(fi_constant("FI_VERSION_NUMBER", &c), FI_OK);
    ck_assert_int_eq(c, FI_VERSION_NUMBER);
    ck_assert_int_eq(fi_constant("FI_NOPE", &c), FI_ERR_NAME);
    ck_assert_uint_eq(fi_version_number(), FI_VERSION_NUMBER);
    ck_assert_str_eq(fi_version_string(), FI_VERSION_STRING);
    ck_assert_uint_eq(fi_dtype_size(FI_BF16), 2);
    ck_assert_uint_eq(fi_dtype_size(7), 0);
    /* every status has its own text */
    for (int a = 0; a <= FI_ERR_NAME; a++)
        for (int b = a + 1; b <= FI_ERR_NAME; b++) ck_assert_str_ne(fi_strerror(a), fi_strerror(b));
}
END_TEST

/* A counting allocator that fails at one chosen allocation; thread-safe, as the library
 * requires when FI_OPT_THREADS > 1. */
typedef struct { long calls, live, fail_at; } counter;
static void *c_alloc(void *o, size_t n)
{
    counter *c = o;
    if (__atomic_fetch_add(&c->calls, 1, __ATOMIC_SEQ_CST) == c->fail_at) return NULL;
    __atomic_fetch_add(&c->live, 1, __ATOMIC_SEQ_CST);
    return malloc(n);
}
static void c_free(void *o, void *p)
{
    counter *c = o;
    if (p) __atomic_fetch_sub(&c->live, 1, __ATOMIC_SEQ_CST);
    free(p);
}

/* Runs every allocating entry point once with the context's allocator; returns the first
 * failure status (FI_OK if none) and checks that no output was written on failure. */
static int allocating_calls(void)
{
    const fi_blocks rows = {4, 3, 1, 3}, el = {N, 1, 1, 1};
    int64_t offsets[3] = {0, 5, 9}, indices[9] = {0, 1, 2, 3, 4, 6, 7, 8, 11};
    const fi_index_blocks ib = {2, offsets, indices};
    double out[N], s2[4];
    int64_t idx[N];
    uint8_t img[512];
    for (int i = 0; i < N; i++) out[i] = -7;
    fi_metric *m = NULL;
    int st = fi_metric_from_scores(ctx, K, P, FI_F64, S, N, N, &rows, &m);
    if (st == FI_OK) st = fi_residual(ctx, m, FI_F64, G, out);
    fi_metric_free(m);
    m = NULL;
    if (st == FI_OK) st = fi_metric_from_scores_indexed(ctx, K, P, FI_F64, S, N, N, &ib, &m);
    fi_metric_free(m);
    if (st == FI_OK) {
        for (int i = 0; i < N; i++) out[i] = -7;
        st = fi_direct(ctx, K, P, FI_F64, S, N, N, &rows, G, -1, out, 0);
        if (st != FI_OK) for (int i = 0; i < 4; i++) ck_assert_double_eq(out[i], -7);
    }
    if (st == FI_OK) st = fi_direct(ctx, K, P, FI_F64, S, N, N, &el, NULL, 0, out, 0);
    if (st == FI_OK) st = fi_direct_indexed(ctx, K, P, FI_F64, S, N, N, &ib, G, -1, out, 0);
    for (int i = 0; i < 4 && st == FI_OK; i++) s2[i] = -7;
    if (st == FI_OK) {
        st = fi_perturbation(ctx, K, P, FI_F64, S, N, N, &rows, NULL, 1, G, s2, NULL);
        if (st != FI_OK) for (int i = 0; i < 4; i++) ck_assert_double_eq(s2[i], -7);
    }
    if (st == FI_OK) st = fi_select_top(ctx, G, N, 3, idx);
    if (st == FI_OK) st = fi_select_random_low(ctx, G, N, 3, 2, 9, idx);
    if (st == FI_OK) st = fi_select_complement(ctx, N, idx, 2, idx + 2);
    fi_accumulator *a = NULL, *b = NULL;
    if (st == FI_OK) st = fi_accumulator_create(ctx, 4, &a);
    if (st == FI_OK) st = fi_accumulator_add(ctx, a, out, 1.0);
    if (st == FI_OK) st = fi_accumulator_serialize(ctx, a, img, fi_accumulator_serialized_size(a));
    if (st == FI_OK) st = fi_accumulator_deserialize(ctx, img, fi_accumulator_serialized_size(a), &b);
    fi_accumulator_free(a);
    fi_accumulator_free(b);
    return st;
}

/* Every allocation of every allocating call fails in turn: FI_ERR_NOMEM, nothing leaked. */
START_TEST(test_allocation_failure)
{
    fill();
    int threads = 1 + _i;
    for (long at = 0;; at++) {
        counter c = {0, 0, at};
        ck_assert_int_eq(fi_context_set_allocator(ctx, c_alloc, c_free, &c), FI_OK);
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_THREADS, threads), FI_OK);
        int st = allocating_calls();
        ck_assert_int_eq(c.live, 0);
        if (c.calls <= at) { /* no allocation failed: done */
            ck_assert_int_eq(st, FI_OK);
            ck_assert(at > 20);
            break;
        }
        ck_assert_msg(st == FI_ERR_NOMEM, "allocation %ld: status %d (%s)", at, st, fi_context_error(ctx));
    }
    ck_assert_int_eq(fi_context_set_allocator(ctx, NULL, NULL, NULL), FI_OK);
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

static Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("api");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_bad_inputs);
    tcase_add_test(tc, test_options_constants);
    tcase_add_loop_test(tc, test_allocation_failure, 0, 2);
    tcase_add_test(tc, test_accumulator);
    tcase_add_test(tc, test_selection);
    tcase_add_test(tc, test_reduce_and_perturbation);
    suite_add_tcase(s, tc);
    return s;
}
FI_REGISTER_SUITE(api_suite)
