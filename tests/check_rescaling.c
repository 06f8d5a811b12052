/* The ReLU rescaling of paper section 2: multiplying hidden unit j's input weights by k and
 * dividing its output weights by k leaves a ReLU network's function unchanged. Which saliency
 * criteria notice? For a weight w with gradient g (of the loss) and Fisher diagonal
 * F = sum_i P_i s_i^2: w -> k w gives g -> g / k and F -> F / k^2, so |w|, |g| and F change,
 * while |g w|, F w^2 and FI (invariant, SPEC fact 4) do not. Checked on a real 2-layer ReLU net
 * with hand-written backward passes, FI from the library. */
#include <check.h>
#include <math.h>

#include "fi.h"
#include "suites.h"
#include "support/reference.h"

enum { IN = 6, HID = 5, K = 4, NW = HID * IN + K * HID };

/* Scores s_i = d log P_i / d (W1, W2) of h = relu(W1 x), z = W2 h, P = softmax(z), as K rows of
 * NW values (W1 row-major first, then W2 row-major); probabilities into P. */
static void net_scores(const double *W1, const double *W2, const double *x, double *P, double *S)
{
    double a[HID], h[HID], z[K], zmax = -INFINITY, sum = 0;
    for (int j = 0; j < HID; j++) {
        a[j] = 0;
        for (int c = 0; c < IN; c++) a[j] += W1[j * IN + c] * x[c];
        h[j] = a[j] > 0 ? a[j] : 0;
    }
    for (int i = 0; i < K; i++) {
        z[i] = 0;
        for (int j = 0; j < HID; j++) z[i] += W2[i * HID + j] * h[j];
        zmax = fmax(zmax, z[i]);
    }
    for (int i = 0; i < K; i++) sum += P[i] = exp(z[i] - zmax);
    for (int i = 0; i < K; i++) P[i] /= sum;
    for (int cls = 0; cls < K; cls++) {
        double *s = S + cls * NW, dz[K], dh[HID];
        for (int i = 0; i < K; i++) dz[i] = (i == cls) - P[i];
        for (int j = 0; j < HID; j++) {
            dh[j] = 0;
            for (int i = 0; i < K; i++) {
                s[HID * IN + i * HID + j] = dz[i] * h[j];
                dh[j] += W2[i * HID + j] * dz[i];
            }
            for (int c = 0; c < IN; c++) s[j * IN + c] = a[j] > 0 ? dh[j] * x[c] : 0;
        }
    }
}

/* criteria of every weight: 0 |w|, 1 |g|, 2 F, 3 |g w|, 4 F w^2, 5 element FI */
static void criteria(fi_context *ctx, const double *W1, const double *W2, const double *x,
                     double crit[6][NW])
{
    double P[K], S[K * NW];
    net_scores(W1, W2, x, P, S);
    int k = 0;
    for (int i = 1; i < K; i++)
        if (P[i] > P[k]) k = i;
    for (int c = 0; c < NW; c++) {
        const double w = c < HID * IN ? W1[c] : W2[c - HID * IN], g = -S[k * NW + c];
        double F = 0;
        for (int i = 0; i < K; i++) F += P[i] * S[i * NW + c] * S[i * NW + c];
        crit[0][c] = fabs(w);
        crit[1][c] = fabs(g);
        crit[2][c] = F;
        crit[3][c] = fabs(g * w);
        crit[4][c] = F * w * w;
    }
    const fi_blocks el = {NW, 1, 1, 1};
    ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, S, NW, NW, &el, NULL, k, crit[5], 0), FI_OK);
}

START_TEST(test_relu_rescaling)
{
    ref_rng r;
    ref_seed(&r, 2024);
    double W1[HID * IN], W2[K * HID], x[IN];
    for (int i = 0; i < HID * IN; i++) W1[i] = ref_normal(&r);
    for (int i = 0; i < K * HID; i++) W2[i] = ref_normal(&r);
    for (int i = 0; i < IN; i++) x[i] = ref_normal(&r);
    int j = 0; /* a live hidden unit, so that its weights have nonzero gradients */
    for (;; j++) {
        double a = 0;
        for (int c = 0; c < IN; c++) a += W1[j * IN + c] * x[c];
        if (a > 0) break;
        ck_assert_int_lt(j, HID - 1);
    }
    fi_context *ctx = NULL;
    ck_assert_int_eq(fi_context_create(&ctx), FI_OK);
    static double before[6][NW], after[6][NW];
    criteria(ctx, W1, W2, x, before);
    const double kk = 3.0;
    for (int c = 0; c < IN; c++) W1[j * IN + c] *= kk;
    for (int i = 0; i < K; i++) W2[i * HID + j] /= kk;
    criteria(ctx, W1, W2, x, after);
    fi_context_free(ctx);
    /* the weights of unit j: W1 row j (scaled by k) and W2 column j (scaled by 1/k) */
    int idx[IN + K];
    for (int c = 0; c < IN; c++) idx[c] = j * IN + c;
    for (int i = 0; i < K; i++) idx[IN + i] = HID * IN + i * HID + j;
    static const char *const names[6] = {"|w|", "|g|", "F", "|g w|", "F w^2", "FI"};
    for (int m = 0; m < 6; m++) {
        double change = 0;
        for (int q = 0; q < IN + K; q++) {
            const double b = before[m][idx[q]], a = after[m][idx[q]];
            ck_assert_msg(b > 0, "%s of weight %d is 0: the test needs nonzero criteria", names[m], idx[q]);
            change = fmax(change, fabs(log(a / b)));
        }
        if (m < 3) /* |w| and |g| move by k, F by k^2 */
            ck_assert_msg(change >= log(kk) * 0.999, "%s should change: %g", names[m], change);
        else
            ck_assert_msg(change <= 1e-12, "%s should not change: %g", names[m], change);
    }
    /* the rest of the network is untouched: every criterion of every other weight is equal */
    for (int m = 0; m < 6; m++)
        for (int c = 0; c < NW; c++) {
            int in_unit = 0;
            for (int q = 0; q < IN + K; q++) in_unit |= idx[q] == c;
            if (!in_unit) ck_assert_double_eq_tol(after[m][c], before[m][c], 1e-12 * fmax(before[m][c], 1e-300));
        }
}
END_TEST

static Suite *rescaling_suite(void)
{
    Suite *s = suite_create("rescaling");
    TCase *tc = tcase_create("relu");
    tcase_add_test(tc, test_relu_rescaling);
    suite_add_tcase(s, tc);
    return s;
}

FI_REGISTER_SUITE(rescaling_suite)
