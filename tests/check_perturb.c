/* fi_perturbation (SPEC fact 7) against d^T G d with G formed explicitly here, effective
 * classes of the class modes built here from SPEC fact 6, the Cauchy-Schwarz bound
 * (g.d)^2 <= FI_b S^2 against fi_direct's FI and its equality at d = G^-1 g (solved here),
 * scale behaviour (FI is scale-free, S^2 and (g.d)^2 are not), extremes and errors. */
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

static double normal(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    const double u = ((double)(*s >> 11) + 0.5) * 0x1p-53;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    const double v = (double)(*s >> 11) * 0x1p-53;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

enum { K = 4, N = 24, KMAX = K + 1 };

/* Effective classes (SPEC fact 6) written from the spec: Pe[0..ke), Se row-major ke x N. */
static int effective(int mode, const double *P, const double *S, double *Pe, double *Se)
{
    double sum = 0;
    for (int i = 0; i < K; i++) sum += P[i];
    memcpy(Se, S, sizeof(double) * K * N);
    for (int i = 0; i < K; i++) Pe[i] = P[i];
    if (mode == FI_CLASS_RENORMALIZE) {
        for (int i = 0; i < K; i++) Pe[i] = P[i] / sum;
        for (int c = 0; c < N; c++) {
            double m = 0;
            for (int i = 0; i < K; i++) m += Pe[i] * S[i * N + c];
            for (int i = 0; i < K; i++) Se[i * N + c] = S[i * N + c] - m;
        }
        return K;
    }
    if (mode == FI_CLASS_REMAINDER) {
        Pe[K] = 1 - sum;
        for (int c = 0; c < N; c++) {
            double m = 0;
            for (int i = 0; i < K; i++) m += P[i] * S[i * N + c];
            Se[K * N + c] = -m / (1 - sum);
        }
        return K + 1;
    }
    return K;
}

/* d[b]^T G_b d[b] with G_b = sum_i P_i s_i[b] s_i[b]^T formed as a p x p matrix. */
static double quad_form(int ke, const double *Pe, const double *Se, const int64_t *idx, int p,
                        const double *d)
{
    double q = 0;
    for (int a = 0; a < p; a++)
        for (int b = 0; b < p; b++) {
            double G = 0;
            for (int i = 0; i < ke; i++) G += Pe[i] * Se[i * N + idx[a]] * Se[i * N + idx[b]];
            q += d[idx[a]] * G * d[idx[b]];
        }
    return q;
}

static void coords(const fi_blocks *bl, int64_t b, int64_t *idx)
{
    for (int64_t j = 0; j < bl->size; j++) idx[j] = b * bl->step + j * bl->stride;
}

START_TEST(test_against_explicit_metric)
{
    const int mode = _i; /* strict, renormalize, remainder */
    uint64_t seed = 100 + (uint64_t)mode;
    double P[K], S[K * N], Pe[KMAX], Se[KMAX * N], d[N], g[N];
    double z = 0;
    for (int i = 0; i < K; i++) z += (P[i] = exp(normal(&seed)));
    const double total = mode == FI_CLASS_STRICT ? 1.0 : 0.7; /* a vocabulary subset */
    for (int i = 0; i < K; i++) P[i] *= total / z;
    for (int i = 0; i < K * N; i++) S[i] = normal(&seed);
    for (int i = 0; i < N; i++) d[i] = normal(&seed), g[i] = normal(&seed);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_CLASS_MODE, mode), FI_OK);
    const int ke = effective(mode, P, S, Pe, Se);
    const fi_blocks layouts[] = {{N, 1, 1, 1}, {8, 3, 1, 3}, {3, 8, 3, 1}, {4, 2, 12, 1}, {1, N, 1, 0}};
    for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++) {
        const fi_blocks *bl = &layouts[l];
        double s2[N], t2[N], t2c[N];
        ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N, bl, g, 0, d, s2, t2), FI_OK);
        for (int k = 0; k < ke; k++) {
            ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N, bl, NULL, k, d, NULL, t2c), FI_OK);
            for (int64_t b = 0; b < bl->count; b++) {
                int64_t idx[N];
                coords(bl, b, idx);
                double gd = 0;
                for (int j = 0; j < bl->size; j++) gd += Se[k * N + idx[j]] * d[idx[j]];
                ck_assert_double_eq_tol(t2c[b], gd * gd, 1e-12 * (gd * gd) + 1e-300);
            }
        }
        for (int64_t b = 0; b < bl->count; b++) {
            int64_t idx[N];
            coords(bl, b, idx);
            const double want = quad_form(ke, Pe, Se, idx, (int)bl->size, d);
            ck_assert_msg(fabs(s2[b] - want) <= 1e-12 * want, "mode %d layout %zu block %lld: %g vs %g",
                          mode, l, (long long)b, s2[b], want);
            double gd = 0;
            for (int j = 0; j < bl->size; j++) gd += g[idx[j]] * d[idx[j]];
            ck_assert_double_eq_tol(t2[b], gd * gd, 1e-12 * gd * gd);
        }
    }
}
END_TEST

/* (g.d)^2 <= FI_b S^2 for g in range(B_b) (class targets are), with equality at the
 * maximizing direction d = G_b^-1 g[b] (p = 2 < K - 1 keeps G_b invertible). */
START_TEST(test_cauchy_schwarz)
{
    uint64_t seed = 7;
    double P[K], S[K * N], d[N], fi[N], s2[N], t2[N];
    double z = 0;
    for (int i = 0; i < K; i++) z += (P[i] = exp(normal(&seed)));
    for (int i = 0; i < K; i++) P[i] /= z;
    for (int c = 0; c < N; c++) { /* softmax-consistent scores: sum_i P_i s_i = 0 */
        double m = 0;
        for (int i = 0; i < K; i++) m += P[i] * (S[i * N + c] = normal(&seed));
        for (int i = 0; i < K; i++) S[i * N + c] -= m;
    }
    const fi_blocks layouts[] = {{N, 1, 1, 1}, {12, 2, 1, 2}, {8, 3, 1, 3}, {4, 6, 1, 6}};
    for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++) {
        const fi_blocks *bl = &layouts[l];
        for (int k = 0; k < K; k++) {
            ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, S, N, N, bl, NULL, k, fi, 0), FI_OK);
            for (int trial = 0; trial < 20; trial++) {
                for (int i = 0; i < N; i++) d[i] = normal(&seed) * exp(2 * normal(&seed));
                ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N, bl, NULL, k, d, s2, t2), FI_OK);
                for (int64_t b = 0; b < bl->count; b++) {
                    ck_assert_msg(t2[b] <= fi[b] * s2[b] * (1 + 1e-9),
                                  "layout %zu class %d block %lld: (g.d)^2 %g > FI S^2 %g", l, k,
                                  (long long)b, t2[b], fi[b] * s2[b]);
                    /* p = 1: FI S^2 = (g^2/G)(G d^2) is the Taylor term itself (fact 1) */
                    if (bl->size == 1) ck_assert_double_eq_tol(t2[b], fi[b] * s2[b], 1e-12 * t2[b]);
                }
            }
        }
    }
    /* equality at d = G^-1 g for 2-coordinate blocks: then (g.d)^2 = FI^2 = FI * S^2 */
    const fi_blocks pairs = {12, 2, 1, 2};
    const int k = 1;
    ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, S, N, N, &pairs, NULL, k, fi, 0), FI_OK);
    for (int b = 0; b < 12; b++) {
        double G[2][2] = {{0, 0}, {0, 0}};
        for (int x = 0; x < 2; x++)
            for (int y = 0; y < 2; y++)
                for (int i = 0; i < K; i++) G[x][y] += P[i] * S[i * N + 2 * b + x] * S[i * N + 2 * b + y];
        const double det = G[0][0] * G[1][1] - G[0][1] * G[1][0];
        const double g0 = S[k * N + 2 * b], g1 = S[k * N + 2 * b + 1];
        d[2 * b] = (G[1][1] * g0 - G[0][1] * g1) / det;
        d[2 * b + 1] = (G[0][0] * g1 - G[1][0] * g0) / det;
    }
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N, &pairs, NULL, k, d, s2, t2), FI_OK);
    for (int b = 0; b < 12; b++) {
        ck_assert_double_eq_tol(s2[b], fi[b], 1e-9 * fi[b]);
        ck_assert_double_eq_tol(t2[b], fi[b] * s2[b], 1e-9 * fi[b] * s2[b]);
    }
}
END_TEST

/* Fact 7's caveat: FI does not change when the edit is scaled, S^2 and (g.d)^2 scale by
 * c^2; and reparametrising a coordinate (s -> s/a, g -> g/a, d -> a d) changes none. */
START_TEST(test_scale)
{
    uint64_t seed = 9;
    double P[K] = {0.1, 0.2, 0.3, 0.4}, S[K * N], S2[K * N], d[N], d2[N];
    for (int i = 0; i < K * N; i++) S[i] = normal(&seed);
    for (int i = 0; i < N; i++) d[i] = normal(&seed);
    const fi_blocks bl = {8, 3, 1, 3};
    double a2[8], b2[8], ta[8], tb[8];
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N, &bl, NULL, 2, d, a2, ta), FI_OK);
    for (int i = 0; i < N; i++) d2[i] = 1024.0 * d[i];
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N, &bl, NULL, 2, d2, b2, tb), FI_OK);
    for (int b = 0; b < 8; b++) {
        ck_assert_double_eq_tol(b2[b], 1048576.0 * a2[b], 1e-12 * b2[b]);
        ck_assert_double_eq_tol(tb[b], 1048576.0 * ta[b], 1e-12 * tb[b]);
    }
    for (int c = 0; c < N; c++) {
        const double a = exp(normal(&seed));
        for (int i = 0; i < K; i++) S2[i * N + c] = S[i * N + c] / a;
        d2[c] = a * d[c];
    }
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S2, N, N, &bl, NULL, 2, d2, b2, tb), FI_OK);
    for (int b = 0; b < 8; b++) {
        ck_assert_double_eq_tol(b2[b], a2[b], 1e-12 * a2[b]);
        ck_assert_double_eq_tol(tb[b], ta[b], 1e-12 * ta[b] + 1e-300);
    }
}
END_TEST

START_TEST(test_dtypes_and_nulls)
{
    uint64_t seed = 13;
    double P[K] = {0.25, 0.25, 0.25, 0.25}, S[K * N], d[N], g[N];
    float Sf[K * N], gf[N];
    for (int i = 0; i < K * N; i++) Sf[i] = (float)normal(&seed), S[i] = Sf[i];
    for (int i = 0; i < N; i++) d[i] = normal(&seed), gf[i] = (float)normal(&seed), g[i] = gf[i];
    const fi_blocks bl = {6, 4, 1, 4};
    double a2[6], ta[6], b2[6], tb[6];
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N, &bl, g, 0, d, a2, ta), FI_OK);
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F32, Sf, N, N, &bl, gf, 0, d, b2, tb), FI_OK);
    for (int b = 0; b < 6; b++) {
        ck_assert_double_eq_tol(a2[b], b2[b], 1e-14 * a2[b]);
        ck_assert_double_eq_tol(ta[b], tb[b], 1e-14 * ta[b]);
    }
    /* either output may be NULL; the other is unchanged by that */
    for (int b = 0; b < 6; b++) b2[b] = tb[b] = -7;
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N, &bl, g, 0, d, b2, NULL), FI_OK);
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N, &bl, g, 0, d, NULL, tb), FI_OK);
    for (int b = 0; b < 6; b++) ck_assert(a2[b] == b2[b] && ta[b] == tb[b]);
    /* without taylor2, neither target nor target_class is looked at */
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N, &bl, NULL, 99, d, b2, NULL), FI_OK);
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N, &bl, NULL, 0, d, NULL, NULL), FI_OK);
    /* a larger ld: rows of the score matrix are ld apart */
    double Sld[K * (N + 5)];
    for (int i = 0; i < K; i++)
        for (int c = 0; c < N + 5; c++) Sld[i * (N + 5) + c] = c < N ? S[i * N + c] : NAN;
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, Sld, N, N + 5, &bl, g, 0, d, b2, tb), FI_OK);
    for (int b = 0; b < 6; b++) ck_assert(a2[b] == b2[b] && ta[b] == tb[b]);
}
END_TEST

/* Squares taken after scaling: a tiny probability times a huge projection stays finite. */
START_TEST(test_extremes)
{
    enum { n = 2 };
    const double P[2] = {1e-300, 1 - 1e-300};
    const double S[2 * n] = {1e160, 1e160, 1e-20, 1e-20};
    const double d[n] = {1, 1};
    const fi_blocks one = {1, n, 1, 0};
    double s2, t2;
    ck_assert_int_eq(fi_perturbation(ctx, 2, P, FI_F64, S, n, n, &one, NULL, 0, d, &s2, &t2), FI_OK);
    /* 1e-300 * (2e160)^2 + (2e-20)^2 = 4e20 */
    ck_assert_double_eq_tol(s2, 4e20, 1e-12 * 4e20);
    ck_assert(isinf(t2)); /* (2e160)^2 itself exceeds DBL_MAX */
    const double Sm[2 * n] = {1e-160, 1e-160, 1e-160, 1e-160};
    ck_assert_int_eq(fi_perturbation(ctx, 2, P, FI_F64, Sm, n, n, &one, NULL, 0, d, &s2, NULL), FI_OK);
    ck_assert_double_eq_tol(s2, 4e-320, 1e-3 * 4e-320); /* subnormal, not flushed to 0 */
}
END_TEST

START_TEST(test_errors_untouched)
{
    uint64_t seed = 3;
    double P[K] = {0.1, 0.2, 0.3, 0.4}, S[K * N], d[N], g[N];
    for (int i = 0; i < K * N; i++) S[i] = normal(&seed);
    for (int i = 0; i < N; i++) d[i] = normal(&seed), g[i] = normal(&seed);
    const fi_blocks bl = {6, 4, 1, 4}, outside = {7, 4, 1, 4};
    double s2[7], t2[7];
#define UNTOUCHED()                                                                                \
    for (int b = 0; b < 7; b++) ck_assert(s2[b] == -7 && t2[b] == -7)
    for (int b = 0; b < 7; b++) s2[b] = t2[b] = -7;
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N, &bl, NULL, K, d, s2, t2), FI_ERR_CLASS);
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N, &bl, NULL, -1, d, s2, t2), FI_ERR_CLASS);
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N, &outside, g, 0, d, s2, t2), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N - 1, &bl, g, 0, d, s2, t2), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N, &bl, g, 0, NULL, s2, t2), FI_ERR_NULL);
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N, NULL, g, 0, d, s2, t2), FI_ERR_NULL);
    ck_assert_int_eq(fi_perturbation(ctx, K, P, 7, S, N, N, &bl, g, 0, d, s2, t2), FI_ERR_DTYPE);
    const double badP[K] = {0.5, 0.5, 0.5, 0.5};
    ck_assert_int_eq(fi_perturbation(ctx, K, badP, FI_F64, S, N, N, &bl, g, 0, d, s2, t2), FI_ERR_PROBABILITY);
    d[5] = INFINITY;
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N, &bl, g, 0, d, s2, t2), FI_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "delta[5]"));
    d[5] = 0;
    g[9] = NAN;
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N, &bl, g, 0, d, s2, t2), FI_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "target[9]"));
    g[9] = 0;
    S[2 * N + 22] = NAN; /* in the last block: found after the others were computed */
    ck_assert_int_eq(fi_perturbation(ctx, K, P, FI_F64, S, N, N, &bl, g, 0, d, s2, t2), FI_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "coordinate 22"));
    UNTOUCHED();
#undef UNTOUCHED
}
END_TEST

static Suite *perturb_suite(void)
{
    Suite *s = suite_create("perturb");
    TCase *tc = tcase_create("perturb");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_against_explicit_metric, 0, 3);
    tcase_add_test(tc, test_cauchy_schwarz);
    tcase_add_test(tc, test_scale);
    tcase_add_test(tc, test_dtypes_and_nulls);
    tcase_add_test(tc, test_extremes);
    tcase_add_test(tc, test_errors_untouched);
    suite_add_tcase(s, tc);
    return s;
}
FI_REGISTER_SUITE(perturb_suite)
