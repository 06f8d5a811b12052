/* fi_direct on scores with the structure real gradients have (issue 16), float64 and float32
 * (the dtype decides which rank-deficient blocks the Gram path may take), both ISAs:
 * one sample's scores of a Linear layer's weight summed over T tokens,
 *     s_i[r, c] = sum_t delta_i[t][r] x[t][c],
 * with ReLU inputs x (the same half of the inputs zero for every token: coordinates zero in
 * every class, all-zero column blocks), dead units (all-zero row blocks) and softmax-centred
 * delta_i = (w_i - sum_j P_j w_j) ReLU'. Row blocks then have rank min(T, K - 1) or 0 whatever
 * K is (T = 1: the outer products of a CNN's dense layer; T > 1: a transformer's tokens),
 * column blocks rank K - 1 or less; P from mild to graded over orders of magnitude.
 * The factors are multiples of 1/8, so that the products and their sums over tokens are exact:
 * the ranks are exact, only the centring carries rounding (as in real scores).
 *
 * Layouts: elements, rows, columns, pixels (p = 3 < K) and index lists (the rows, each in a
 * shuffled order with coordinates of a neighbouring row block appended); K = 17, 32, 64 on
 * matrices large enough for p >= K.
 *
 * Every block's FI must match the SVD path (FI_METHOD_REFERENCE) to 1e-10 relative (float32:
 * the certified 2^-17 of ref_fast_tol) and the independent references (tests/support: the
 * explicit G for a gradient, the leverage of fact 2 for the class target) to 1e-9 (1e-7 for
 * graded P, whose small kept eigenvalues the formed G resolves only to kappa^2 eps), and
 * all-zero blocks give exactly 0; the metric path (fi_metric_from_scores, fi_compute) matches
 * the SVD path for the gradient target as fi_direct does. These are
 * the structures the Gram path must decide without the SVD; the test pins their accuracy. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fi.h"
#include "suites.h"
#include "support/reference.h"

typedef struct structure {
    const char *name;
    int64_t K, T;  /* classes, tokens summed into each weight's score */
    double spread; /* P = softmax(spread * N(0,1)) */
    int R, C;      /* the weight matrix (0: 24 x 40) */
} structure;

static const structure cases[] = {
    {"dense K4", 4, 1, 1.0, 0, 0},         {"dense K10", 10, 1, 1.0, 0, 0},
    {"dense K10 graded P", 10, 1, 4.0, 0, 0}, {"dense K5", 5, 1, 2.0, 0, 0},
    {"dense K16", 16, 1, 1.0, 0, 0},       {"tokens T3 K10", 10, 3, 1.0, 0, 0},
    {"tokens T3 K10 graded P", 10, 3, 4.0, 0, 0}, {"tokens T2 K16", 16, 2, 2.0, 0, 0},
    {"tokens T12 K10 (full rank)", 10, 12, 1.0, 0, 0},
    /* P over several orders of magnitude (a trained model's): the scaled acceptance tests */
    {"dense K10 steep P", 10, 1, 5.0, 0, 0}, {"tokens T3 K10 steep P", 10, 3, 5.0, 0, 0},
    {"tokens T6 K8 steep P", 8, 6, 5.0, 0, 0},
    /* many classes */
    {"dense K17", 17, 1, 1.0, 24, 40},  {"tokens T3 K32 graded P", 32, 3, 3.0, 32, 36},
    {"tokens T40 K32 (full rank)", 32, 40, 1.0, 32, 36}, {"dense K64", 64, 1, 1.0, 64, 68},
};
enum { NCASES = sizeof cases / sizeof cases[0], RMAX = 64, CMAX = 68, KMAX = 64, NL = 5 };

/* A multiple of 1/8 in [-lim/8, lim/8]. */
static double eighths(ref_rng *r, int lim) { return (double)ref_int(r, -lim, lim) / 8; }

static void make_scores(const structure *st, int R, int C, ref_rng *rng, double *P, double *S)
{
    const int64_t K = st->K, T = st->T;
    int zero_input[CMAX], dead[RMAX];
    ref_softmax(rng, K, st->spread, P);
    for (int c = 0; c < C; c++) zero_input[c] = ref_uniform(rng) < 0.5;
    for (int r = 0; r < R; r++) dead[r] = ref_uniform(rng) < 0.5;
    for (int64_t i = 0; i < K * R * C; i++) S[i] = 0;
    for (int64_t t = 0; t < T; t++) {
        static double w[KMAX][RMAX], delta[KMAX][RMAX];
        double x[CMAX];
        for (int c = 0; c < C; c++) x[c] = zero_input[c] ? 0 : (double)ref_int(rng, 1, 8) / 8;
        for (int64_t i = 0; i < K; i++)
            for (int r = 0; r < R; r++) w[i][r] = eighths(rng, 8);
        for (int r = 0; r < R; r++) {
            double mean = 0;
            for (int64_t j = 0; j < K; j++) mean += P[j] * w[j][r];
            for (int64_t i = 0; i < K; i++) delta[i][r] = dead[r] ? 0 : w[i][r] - mean;
        }
        for (int64_t i = 0; i < K; i++)
            for (int r = 0; r < R; r++)
                for (int c = 0; c < C; c++) S[(i * R + r) * C + c] += delta[i][r] * x[c];
    }
}

static int block_is_zero(int64_t K, int64_t n, const double *S, const int64_t *idx, int64_t p)
{
    for (int64_t i = 0; i < K; i++)
        for (int64_t q = 0; q < p; q++)
            if (S[i * n + idx[q]] != 0) return 0;
    return 1;
}

/* Index lists: row block b (its C coordinates shuffled) and the first C/4 coordinates of row
 * block b + 1 (wrapping), so that the lists overlap and mix a dead unit with a live one. */
static void make_index_lists(int R, int C, ref_rng *rng, int64_t *offsets, int64_t *indices)
{
    const int64_t p = C + C / 4;
    for (int r = 0; r <= R; r++) offsets[r] = r * p;
    for (int r = 0; r < R; r++) {
        int64_t *l = indices + r * p;
        for (int c = 0; c < C; c++) l[c] = (int64_t)r * C + c;
        for (int c = C - 1; c > 0; c--) {
            const int64_t j = ref_int(rng, 0, c), t = l[c];
            l[c] = l[j], l[j] = t;
        }
        for (int c = 0; c < C / 4; c++) l[C + c] = (int64_t)((r + 1) % R) * C + c;
    }
}

/* fi_direct on layout l (NL - 1: the index lists). */
static int run_direct(fi_context *ctx, int l, int64_t K, const double *P, fi_dtype dt,
                      const void *S, int64_t n, const fi_blocks *bl, const fi_index_blocks *ib,
                      const void *g, double *out)
{
    return l == NL - 1 ? fi_direct_indexed(ctx, K, P, dt, S, n, n, ib, g, K - 1, out, 0)
                       : fi_direct(ctx, K, P, dt, S, n, n, &bl[l], g, K - 1, out, 0);
}

START_TEST(test_real_structure_against_svd)
{
    const structure *st = &cases[_i];
    const int R = st->R ? st->R : 24, C = st->C ? st->C : 40;
    const int64_t K = st->K, n = (int64_t)R * C, pl = C + C / 4;
    const fi_blocks layouts[NL - 1] = {{n, 1, 1, 1}, {R, C, 1, C}, {C, R, C, 1}, {n / 3, 3, 1, 3}};
    static const char *const lnames[NL] = {"elements", "rows", "columns", "pixels", "index lists"};
    double P[KMAX], *S = malloc(sizeof(double) * (size_t)(K * n)), *g = malloc(sizeof(double) * n);
    double *fast = malloc(sizeof(double) * n), *svd = malloc(sizeof(double) * n);
    float *Sf = malloc(sizeof(float) * (size_t)(K * n)), *gf = malloc(sizeof(float) * n);
    int64_t idx[RMAX * CMAX], offsets[RMAX + 1], *indices = malloc(sizeof(int64_t) * R * pl);
    ref_rng rng;
    ref_seed(&rng, 1600 + (uint64_t)_i);
    make_scores(st, R, C, &rng, P, S);
    make_index_lists(R, C, &rng, offsets, indices);
    const fi_index_blocks ib = {R, offsets, indices};
    for (int64_t c = 0; c < n; c++) g[c] = ref_normal(&rng);
    for (int d = 0; d < 2; d++) {
        const fi_dtype dt = d ? FI_F32 : FI_F64;
        if (dt == FI_F32) { /* the float32 values, also as the reference's doubles */
            for (int64_t i = 0; i < K * n; i++) S[i] = Sf[i] = (float)S[i];
            for (int64_t c = 0; c < n; c++) g[c] = gf[c] = (float)g[c];
        }
        const void *Sx = dt == FI_F32 ? (const void *)Sf : S, *gx = dt == FI_F32 ? (const void *)gf : g;
        for (int l = 0; l < NL; l++) {
            const int64_t count = l == NL - 1 ? R : layouts[l].count;
            for (int gradient = 0; gradient < 2; gradient++) {
                const double *target = gradient ? g : S + (K - 1) * n;
                fi_context *ref = NULL;
                ck_assert_int_eq(fi_context_create(&ref), FI_OK);
                ck_assert_int_eq(fi_context_set(ref, FI_OPT_METHOD, FI_METHOD_REFERENCE), FI_OK);
                ck_assert_int_eq(run_direct(ref, l, K, P, dt, Sx, n, layouts, &ib,
                                            gradient ? gx : NULL, svd),
                                 FI_OK);
                fi_context_free(ref);
                if (gradient) { /* the metric path's factors decide the same blocks */
                    fi_context *mc = NULL;
                    fi_metric *m = NULL;
                    ck_assert_int_eq(fi_context_create(&mc), FI_OK);
                    ck_assert_int_eq(l == NL - 1 ? fi_metric_from_scores_indexed(mc, K, P, dt, Sx,
                                                                                 n, n, &ib, &m)
                                                 : fi_metric_from_scores(mc, K, P, dt, Sx, n, n,
                                                                         &layouts[l], &m),
                                     FI_OK);
                    ck_assert_int_eq(fi_compute(mc, m, dt, gx, fast, 0), FI_OK);
                    fi_metric_free(m);
                    fi_context_free(mc);
                    for (int64_t b = 0; b < count; b++)
                        ck_assert_msg(ref_rel(fast[b], svd[b]) <= ref_fast_tol(dt),
                                      "%s %s dtype %d metric block %lld: %.17g vs SVD %.17g",
                                      st->name, lnames[l], d, (long long)b, fast[b], svd[b]);
                }
                for (int isa = FI_ISA_AUTO; isa <= FI_ISA_PORTABLE; isa++) {
                    /* K > 17: gram_many.c's code again (K = 17 runs it on both builds) */
                    if (K > 17 && isa != FI_ISA_AUTO) continue;
                    fi_context *ctx = NULL;
                    ck_assert_int_eq(fi_context_create(&ctx), FI_OK);
                    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_ISA, isa), FI_OK);
                    ck_assert_int_eq(run_direct(ctx, l, K, P, dt, Sx, n, layouts, &ib,
                                                gradient ? gx : NULL, fast),
                                     FI_OK);
                    fi_context_free(ctx);
                    for (int64_t b = 0; b < count; b++) {
                        const int64_t p = l == NL - 1 ? pl : layouts[l].size;
                        if (l == NL - 1) memcpy(idx, indices + b * pl, sizeof(int64_t) * pl);
                        else ref_affine_coords(&layouts[l], b, idx);
                        ck_assert_msg(ref_rel(fast[b], svd[b]) <= ref_fast_tol(dt),
                                      "%s %s dtype %d isa %d gradient %d block %lld: %.17g vs "
                                      "SVD %.17g",
                                      st->name, lnames[l], d, isa, gradient, (long long)b,
                                      fast[b], svd[b]);
                        if (block_is_zero(K, n, S, idx, p))
                            ck_assert_msg(fast[b] == 0, "%s %s block %lld: zero block gives %g",
                                          st->name, lnames[l], (long long)b, fast[b]);
                        if (isa != FI_ISA_AUTO) continue; /* the reference once per block */
                        const double rc = ref_default_rcond(dt, p, K);
                        const double want = /* a class target is its leverage (fact 2) */
                            gradient ? ref_block_fi(K, P, S, n, idx, p, target, rc, 0, NULL, NULL)
                                     : ref_class_leverage(K, P, S, n, idx, p, K - 1, rc, 0);
                        ck_assert_msg(ref_rel(fast[b], want) <= (st->spread > 2 ? 1e-7 : 1e-9),
                                      "%s %s dtype %d gradient %d block %lld: %.17g vs "
                                      "reference %.17g",
                                      st->name, lnames[l], d, gradient, (long long)b, fast[b],
                                      want);
                    }
                }
            }
        }
    }
    free(S), free(g), free(fast), free(svd), free(Sf), free(gf), free(indices);
}
END_TEST

static Suite *real_structure_suite(void)
{
    Suite *s = suite_create("real_structure");
    TCase *tc = tcase_create("real_structure");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_real_structure_against_svd, 0, NCASES);
    suite_add_tcase(s, tc);
    return s;
}

FI_REGISTER_SUITE(real_structure_suite)
