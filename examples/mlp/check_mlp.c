/* Tests of the reference MLP (make check-mlp), a Check program of its own because it links
 * the example's model code. Three groups:
 *  - every hand-written gradient against central finite differences;
 *  - what the library returns on this model against references written out here (SPEC
 *    fact 1, the rank-1 structure of a dense layer's per-image gradient, fact 3's ceiling,
 *    plain means for the accumulator);
 *  - the direction of the paper's experiments on the demo's fixed seed, with margins, including
 *    the findings docs/examples.md reports against FI.
 * Usage: check_mlp [digits.csv.gz] */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "criteria.h"
#include "experiments.h"
#include "setup.h"
#include "train.h"

/* The demo's model and its criteria, made once by an unchecked fixture (the forked tests
 * inherit them). */
static const char *data_path = "examples/data/digits.csv.gz";
static digits data;
static double theta[MLP_NPARAM];
static digits_set train, test;
static param_criteria pc;
static fi_context *ctx;
static int ready;

static void setup(void)
{
    ready = setup_model(data_path, &data, theta, &train, &test) == 0 &&
            fi_context_create(&ctx) == FI_OK && criteria_params(ctx, theta, &train, &pc) == 0;
}

static void teardown(void)
{
    fi_context_free(ctx);
    ctx = NULL;
}

/* ------------------------------------------------------------------ finite differences */

/* Central differences with h = 1e-6 on log P_i (|log P| <~ 40 here): truncation h^2 f'''/6
 * ~ 1e-12 and rounding ~ eps |log P| / h ~ 1e-8 at worst. A wrong backward term is off by
 * the size of a gradient entry (1e-4 .. 1), so |analytic - fd| <= 1e-6 (1 + |fd|) separates
 * the two by orders of magnitude. Points within h of a ReLU kink would spoil a difference;
 * the fixed images used here have none (the test would say so). */
#define FD_H 1e-6
#define FD_TOL 1e-6

static double log_prob(const double *th, const double *x, int i)
{
    mlp_cache c;
    mlp_forward(th, x, &c);
    return log(c.prob[i]);
}

/* Worst |analytic - fd| / (1 + |fd|) of the class scores of image x, over all K classes and
 * all parameters and pixels. */
static double scores_vs_fd(const double *theta0, const double *x0)
{
    double *th = malloc(MLP_NPARAM * sizeof *th);
    double *sp = malloc((size_t)MLP_OUT * MLP_NPARAM * sizeof *sp);
    double sx[MLP_OUT * MLP_IN], x[MLP_IN], worst = 0;
    ck_assert_ptr_nonnull(th);
    ck_assert_ptr_nonnull(sp);
    memcpy(th, theta0, MLP_NPARAM * sizeof *th);
    memcpy(x, x0, sizeof x);
    mlp_cache c;
    mlp_forward(th, x, &c);
    mlp_scores(th, &c, sp, sx);
    for (int i = 0; i < MLP_OUT; i++) {
        for (int p = 0; p < MLP_NPARAM; p++) {
            const double keep = th[p];
            th[p] = keep + FD_H;
            const double up = log_prob(th, x, i);
            th[p] = keep - FD_H;
            const double dn = log_prob(th, x, i);
            th[p] = keep;
            const double fd = (up - dn) / (2 * FD_H);
            worst = fmax(worst, fabs(sp[(long)i * MLP_NPARAM + p] - fd) / (1 + fabs(fd)));
        }
        for (int j = 0; j < MLP_IN; j++) {
            const double keep = x[j];
            x[j] = keep + FD_H;
            const double up = log_prob(th, x, i);
            x[j] = keep - FD_H;
            const double dn = log_prob(th, x, i);
            x[j] = keep;
            const double fd = (up - dn) / (2 * FD_H);
            worst = fmax(worst, fabs(sx[i * MLP_IN + j] - fd) / (1 + fabs(fd)));
        }
    }
    free(sp);
    free(th);
    return worst;
}

START_TEST(scores_at_initialization)
{
    ck_assert(ready);
    double init[MLP_NPARAM];
    mlp_init(init, SETUP_INIT_SEED); /* many units active, classes near uniform */
    const double worst = scores_vs_fd(init, train.x[0]);
    printf("scores vs finite differences, initial model: worst %.1e\n", worst);
    ck_assert_double_le(worst, FD_TOL);
}
END_TEST

START_TEST(scores_of_trained_model)
{
    ck_assert(ready);
    double worst = 0;
    for (int s = 0; s < 2; s++) worst = fmax(worst, scores_vs_fd(theta, test.x[s]));
    printf("scores vs finite differences, trained model: worst %.1e\n", worst);
    ck_assert_double_le(worst, FD_TOL);
}
END_TEST

START_TEST(training_gradient)
{
    ck_assert(ready);
    double *th = malloc(MLP_NPARAM * sizeof *th), *g = calloc(MLP_NPARAM, sizeof *g);
    ck_assert_ptr_nonnull(th);
    ck_assert_ptr_nonnull(g);
    mlp_init(th, SETUP_INIT_SEED);
    const double *x = train.x[3];
    const int y = train.y[3];
    mlp_loss(th, x, y, g);
    double worst = 0;
    for (int p = 0; p < MLP_NPARAM; p++) {
        const double keep = th[p];
        th[p] = keep + FD_H;
        const double up = mlp_loss(th, x, y, NULL);
        th[p] = keep - FD_H;
        const double dn = mlp_loss(th, x, y, NULL);
        th[p] = keep;
        const double fd = (up - dn) / (2 * FD_H);
        worst = fmax(worst, fabs(g[p] - fd) / (1 + fabs(fd)));
    }
    printf("cross-entropy gradient vs finite differences: worst %.1e\n", worst);
    ck_assert_double_le(worst, FD_TOL);
    free(g);
    free(th);
}
END_TEST

/* The re-centring in mlp_scores: sum_i P_i s_i = 0 to rounding, coordinate by coordinate,
 * relative to the size of its terms sum_i P_i |s_i|. (Without it, a confident image leaves a
 * residual ~1e-16 |W^T P| against terms ~1 - P_k: a relative 1e-8 that the saturation test
 * below turns into FI far above its ceiling.) */
START_TEST(scores_have_zero_mean)
{
    ck_assert(ready);
    double *sp = malloc((size_t)MLP_OUT * MLP_NPARAM * sizeof *sp), worst = 0;
    ck_assert_ptr_nonnull(sp);
    for (int s = 0; s < 50; s++) {
        mlp_cache c;
        mlp_forward(theta, train.x[s], &c);
        mlp_scores(theta, &c, sp, NULL);
        for (int p = 0; p < MLP_NPARAM; p++) {
            double sum = 0, scale = 0;
            for (int i = 0; i < MLP_OUT; i++) {
                sum += c.prob[i] * sp[(long)i * MLP_NPARAM + p];
                scale += c.prob[i] * fabs(sp[(long)i * MLP_NPARAM + p]);
            }
            if (scale > 0) worst = fmax(worst, fabs(sum) / scale);
        }
    }
    printf("sum_i P_i s_i relative to sum_i P_i |s_i|: worst %.1e\n", worst);
    ck_assert_double_le(worst, 1e-13);
    free(sp);
}
END_TEST

/* ------------------------------------------------------------------ FI on this model */

/* The class-target ceiling (1 - P_k)/P_k of SPEC fact 3, with 1 - P_k summed from the other
 * classes: for a confident image 1 - P_k itself would keep only a few significant digits. */
static double ceiling(const double *prob, int k)
{
    double rest = 0;
    for (int i = 0; i < MLP_OUT; i++)
        if (i != k) rest += prob[i];
    return rest / prob[k];
}

/* SPEC fact 1 written out: element FI = s_k^2 / sum_i P_i s_i^2 (0 where the sum is 0). */
START_TEST(element_fi_is_fact_1)
{
    ck_assert(ready);
    const fi_blocks el = {MLP_NPARAM, 1, 1, 1};
    double *sp = malloc((size_t)MLP_OUT * MLP_NPARAM * sizeof *sp);
    double *fi = malloc(MLP_NPARAM * sizeof *fi), worst = 0;
    ck_assert_ptr_nonnull(sp);
    ck_assert_ptr_nonnull(fi);
    for (int s = 0; s < 20; s++) {
        mlp_cache c;
        const int k = mlp_forward(theta, test.x[s], &c);
        mlp_scores(theta, &c, sp, NULL);
        ck_assert_int_eq(fi_direct(ctx, MLP_OUT, c.prob, FI_F64, sp, MLP_NPARAM, MLP_NPARAM, &el,
                                   NULL, k, fi, 0), FI_OK);
        const double bound = ceiling(c.prob, k);
        ck_assert_double_gt(bound, 0);
        for (int p = 0; p < MLP_NPARAM; p++) {
            double den = 0;
            for (int i = 0; i < MLP_OUT; i++)
                den += c.prob[i] * sp[(long)i * MLP_NPARAM + p] * sp[(long)i * MLP_NPARAM + p];
            const double sk = sp[(long)k * MLP_NPARAM + p], ref = den > 0 ? sk * sk / den : 0;
            worst = fmax(worst, fabs(fi[p] - ref) / bound);
        }
    }
    ck_assert_double_le(worst, 1e-10);
    free(fi);
    free(sp);
}
END_TEST

/* One image's gradient of W1's row j is dpre_j x^T, a rank-1 block: its block FI is that of
 * the scalar dpre_j, i.e. (d_k)^2 / sum_i P_i d_i^2 with d_i = s_i[b1_j]. And a column of W1
 * (pixel i) is x_i dpre: rank up to K-1 = 9, so its block FI is 0 for a blank pixel and the
 * ceiling (1-P_k)/P_k (SPEC fact 3) for an inked one whenever >= 9 units are active. (This
 * one fails by factors up to 1e9 if mlp_scores does not re-centre the scores.) */
START_TEST(channel_blocks_rank_one_rows_saturated_columns)
{
    ck_assert(ready);
    const fi_blocks rows = {MLP_H, MLP_IN, 1, MLP_IN}, cols = {MLP_IN, MLP_H, MLP_IN, 1};
    double *sp = malloc((size_t)MLP_OUT * MLP_NPARAM * sizeof *sp);
    ck_assert_ptr_nonnull(sp);
    double worst_row = 0, worst_col = 0;
    int saturated = 0;
    for (int s = 0; s < 100; s++) {
        mlp_cache c;
        const int k = mlp_forward(theta, train.x[s], &c);
        mlp_scores(theta, &c, sp, NULL);
        double rfi[MLP_H], cfi[MLP_IN];
        ck_assert_int_eq(fi_direct(ctx, MLP_OUT, c.prob, FI_F64, sp, MLP_H * MLP_IN, MLP_NPARAM,
                                   &rows, NULL, k, rfi, 0), FI_OK);
        ck_assert_int_eq(fi_direct(ctx, MLP_OUT, c.prob, FI_F64, sp, MLP_H * MLP_IN, MLP_NPARAM,
                                   &cols, NULL, k, cfi, 0), FI_OK);
        const double bound = ceiling(c.prob, k);
        ck_assert_double_gt(bound, 0);
        int active = 0;
        for (int j = 0; j < MLP_H; j++) {
            active += c.pre[j] > 0;
            double den = 0;
            for (int i = 0; i < MLP_OUT; i++) {
                const double d = sp[(long)i * MLP_NPARAM + MLP_B1 + j];
                den += c.prob[i] * d * d;
            }
            const double dk = sp[(long)k * MLP_NPARAM + MLP_B1 + j];
            worst_row = fmax(worst_row, fabs(rfi[j] - (den > 0 ? dk * dk / den : 0)) / bound);
        }
        for (int i = 0; i < MLP_IN; i++) {
            if (train.x[s][i] == 0) {
                ck_assert_double_eq(cfi[i], 0);
            } else if (active >= MLP_OUT - 1) {
                worst_col = fmax(worst_col, fabs(cfi[i] / bound - 1));
                saturated++;
            }
        }
    }
    printf("W1 rows vs bias FI: worst %.1e of the ceiling; %d inked W1 columns: worst "
           "|FI/ceiling - 1| %.1e\n", worst_row, saturated, worst_col);
    ck_assert_double_le(worst_row, 1e-9);
    ck_assert_int_gt(saturated, 1000);
    ck_assert_double_le(worst_col, 1e-10);
    free(sp);
}
END_TEST

/* The dataset averages: the accumulator's mean and standard error against plain sums of
 * fact 1 written out; and for single parameters FI * S^2 = (g.d)^2 (Cauchy-Schwarz is tight
 * in one dimension) and S^2 = Fisher * w^2. */
START_TEST(dataset_averages)
{
    ck_assert(ready);
    enum { PICK = 6 };
    const int params[PICK] = {MLP_W1 + 3 * MLP_IN + 11, MLP_W1 + 9 * MLP_IN + 12, MLP_B1 + 26,
                              MLP_W2 + 17, MLP_B2 + 4, MLP_W1 + 20 * MLP_IN + 36};
    double sum[PICK] = {0}, sum2[PICK] = {0};
    double *sp = malloc((size_t)MLP_OUT * MLP_NPARAM * sizeof *sp);
    ck_assert_ptr_nonnull(sp);
    for (int s = 0; s < train.count; s++) {
        mlp_cache c;
        const int k = mlp_forward(theta, train.x[s], &c);
        mlp_scores(theta, &c, sp, NULL);
        for (int t = 0; t < PICK; t++) {
            double den = 0;
            for (int i = 0; i < MLP_OUT; i++)
                den += c.prob[i] * pow(sp[(long)i * MLP_NPARAM + params[t]], 2);
            const double fi = den > 0 ? pow(sp[(long)k * MLP_NPARAM + params[t]], 2) / den : 0;
            sum[t] += fi;
            sum2[t] += fi * fi;
        }
    }
    const double n = train.count;
    for (int t = 0; t < PICK; t++) {
        const int p = params[t];
        const double mean = sum[t] / n, var = (sum2[t] - n * mean * mean) / (n - 1);
        ck_assert_double_eq_tol(pc.fi[p], mean, 1e-10 * mean + 1e-300);
        ck_assert_double_eq_tol(pc.fi_se[p], sqrt(var / n), 1e-6 * sqrt(var / n) + 1e-300);
    }
    for (int p = 0; p < MLP_NPARAM; p++) {
        ck_assert_double_eq_tol(pc.fi_s2[p], pc.gd2[p], 1e-9 * pc.gd2[p] + 1e-300);
        ck_assert_double_eq_tol(pc.s2[p], pc.fisher[p] * theta[p] * theta[p],
                                1e-12 * pc.s2[p] + 1e-300);
    }
    free(sp);
}
END_TEST

/* ------------------------------------------------------------------ experiment directions */

/* (a) Zeroing the top FI parameters hurts far more than zeroing as many random or FI-Low
 * ones; and, as docs/examples.md reports, |w| and |g w| find more damaging sets than FI. */
START_TEST(zeroing_direction)
{
    ck_assert(ready);
    double acc[ZERO_FRACTIONS][Z_COUNT];
    ck_assert_int_eq(experiment_zeroing(ctx, theta, &test, &pc, acc), 0);
    for (int f = 3; f < ZERO_FRACTIONS; f++) { /* 5% and 10% */
        printf("zeroing %.0f%%: FI %.3f, random %.3f, FI-Low %.3f, |w| %.3f, |g w| %.3f\n",
               100 * zero_fractions[f], acc[f][Z_FI], acc[f][Z_RANDOM], acc[f][Z_FI_LOW],
               acc[f][Z_ABS_W], acc[f][Z_TAYLOR]);
        ck_assert_double_lt(acc[f][Z_FI] + 0.15, acc[f][Z_RANDOM]);
        ck_assert_double_lt(acc[f][Z_FI] + 0.15, acc[f][Z_FI_LOW]);
    }
    ck_assert_double_lt(acc[4][Z_ABS_W] + 0.10, acc[4][Z_FI]);
    ck_assert_double_lt(acc[4][Z_TAYLOR] + 0.10, acc[4][Z_FI]);
}
END_TEST

/* (b) At 1 bit, keeping the top element-FI rows of W1 recovers more accuracy than keeping
 * random rows; FI_b S^2 and (g.d)^2 coincide on rows (rank-1 blocks: Cauchy-Schwarz is
 * tight), so they pick the same rows. */
START_TEST(quantization_direction)
{
    ck_assert(ready);
    static quant_result r;
    ck_assert_int_eq(experiment_quantization(ctx, theta, &train, &test, &pc, &r), 0);
    const double *keep25 = r.acc[0][0][2]; /* 1 bit, W1 rows, keep 25% */
    printf("1-bit W1, keep 25%% of rows: FI %.3f, random %.3f, none kept %.3f\n", keep25[Q_FI],
           keep25[Q_RANDOM], r.none[0]);
    ck_assert_double_lt(keep25[Q_RANDOM] + 0.02, keep25[Q_FI]);
    ck_assert_double_lt(r.none[0] + 0.05, keep25[Q_FI]);
    for (int b = 0; b < QUANT_BITS; b++)
        for (int kk = 0; kk < QUANT_KEEPS; kk++)
            ck_assert_double_eq(r.acc[b][0][kk][Q_FI_S2], r.acc[b][0][kk][Q_GD2]);
}
END_TEST

/* (c) Masking an image's top-8 FI pixels flips the prediction more often than masking 8
 * random pixels; masking its top-8 |g x| pixels flips it more often still. */
START_TEST(masking_direction)
{
    ck_assert(ready);
    double flips[MASK_SIZES][M_COUNT];
    ck_assert_int_eq(experiment_masking(ctx, theta, &test, flips), 0);
    const double *m8 = flips[MASK_SIZES - 1];
    printf("masking 8 pixels: FI %.3f, random %.3f, |g x| %.3f\n", m8[M_FI], m8[M_RANDOM],
           m8[M_TAYLOR]);
    ck_assert_double_lt(m8[M_RANDOM] + 0.05, m8[M_FI]);
    ck_assert_double_lt(m8[M_FI] + 0.10, m8[M_TAYLOR]);
}
END_TEST

static Suite *mlp_suite(void)
{
    Suite *s = suite_create("mlp_example");
    TCase *grad = tcase_create("gradients"), *fi = tcase_create("fi_on_model"),
          *exp = tcase_create("experiments");
    TCase *all[] = {grad, fi, exp};
    for (int t = 0; t < 3; t++) {
        tcase_add_unchecked_fixture(all[t], setup, teardown);
        tcase_set_timeout(all[t], 120); /* the machine is shared; each test takes < 3 s alone */
        suite_add_tcase(s, all[t]);
    }
    tcase_add_test(grad, scores_at_initialization);
    tcase_add_test(grad, scores_of_trained_model);
    tcase_add_test(grad, training_gradient);
    tcase_add_test(grad, scores_have_zero_mean);
    tcase_add_test(fi, element_fi_is_fact_1);
    tcase_add_test(fi, channel_blocks_rank_one_rows_saturated_columns);
    tcase_add_test(fi, dataset_averages);
    tcase_add_test(exp, zeroing_direction);
    tcase_add_test(exp, quantization_direction);
    tcase_add_test(exp, masking_direction);
    return s;
}

int main(int argc, char **argv)
{
    if (argc > 1) data_path = argv[1];
    SRunner *sr = srunner_create(mlp_suite());
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
