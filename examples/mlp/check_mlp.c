/* Tests of the reference MLP: every hand-written gradient against central finite differences,
 * and the direction of the zeroing experiment on the fixed seed. Prints 'N passed, N failed'. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "digits.h"
#include "mlp.h"
#include "study.h"

static int passed, failed;
static void check(int ok, const char *what)
{
    if (ok) passed++;
    else {
        failed++;
        printf("FAIL: %s\n", what);
    }
}

static double log_prob(const double *theta, const double *x, int i)
{
    mlp_cache c;
    mlp_forward(theta, x, &c);
    return log(c.prob[i]);
}

/* Scores for parameters and pixels vs central differences of log P_i, all classes. */
static void gradient_check(const double *theta0, const double *x0)
{
    static double theta[MLP_NPARAM], sp[MLP_OUT * MLP_NPARAM], sx[MLP_OUT * MLP_IN];
    double x[MLP_IN];
    memcpy(theta, theta0, sizeof theta);
    memcpy(x, x0, sizeof x);
    mlp_cache c;
    mlp_forward(theta, x, &c);
    mlp_scores(theta, &c, sp, sx);
    const double h = 1e-6;
    double worst = 0;
    for (int i = 0; i < MLP_OUT; i++) {
        for (int p = 0; p < MLP_NPARAM; p++) {
            const double keep = theta[p];
            theta[p] = keep + h;
            double up = log_prob(theta, x, i);
            theta[p] = keep - h;
            double dn = log_prob(theta, x, i);
            theta[p] = keep;
            double fd = (up - dn) / (2 * h), an = sp[i * MLP_NPARAM + p];
            worst = fmax(worst, fabs(fd - an) / fmax(1e-3, fabs(an)));
        }
        for (int j = 0; j < MLP_IN; j++) {
            const double keep = x[j];
            x[j] = keep + h;
            double up = log_prob(theta, x, i);
            x[j] = keep - h;
            double dn = log_prob(theta, x, i);
            x[j] = keep;
            double fd = (up - dn) / (2 * h), an = sx[i * MLP_IN + j];
            worst = fmax(worst, fabs(fd - an) / fmax(1e-3, fabs(an)));
        }
    }
    printf("gradient check: worst relative difference %.2e over %d x (%d + %d) scores\n", worst,
           MLP_OUT, MLP_NPARAM, MLP_IN);
    check(worst < 1e-5, "hand-written scores match central finite differences");
}

int main(int argc, char **argv)
{
    static digits d;
    if (digits_load(argc > 1 ? argv[1] : "examples/data/digits.csv.gz", &d) != 0) {
        printf("cannot read the digits data\n0 passed, 1 failed\n");
        return 1;
    }
    digits_shuffle(&d, 2024);
    enum { TRAIN = 1297 };
    const double(*xtr)[MLP_IN] = (const double(*)[MLP_IN])d.x, (*xte)[MLP_IN] = xtr + TRAIN;
    static double theta[MLP_NPARAM], vel[MLP_NPARAM];
    mlp_init(theta, 7);
    gradient_check(theta, xtr[0]); /* at initialization (many units active) */
    unsigned long long seed = 1;
    for (int e = 0; e < 30; e++) mlp_train_epoch(theta, vel, xtr, d.y, TRAIN, 0.05, &seed);
    gradient_check(theta, xtr[1]); /* and trained */
    const double base = mlp_accuracy(theta, xte, d.y + TRAIN, d.count - TRAIN);
    check(base > 0.93, "the MLP learns the digits (test accuracy > 0.93)");

    /* Zeroing the top 10% FI parameters hurts more than zeroing as many low-FI ones. */
    fi_context *ctx = NULL;
    static saliency sal;
    static double pruned[MLP_NPARAM];
    static int64_t idx[MLP_NPARAM];
    if (fi_context_create(&ctx) != FI_OK || study_saliency(ctx, theta, xtr, 200, &sal) != 0) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    const int k = (int)fi_fraction_count(MLP_NPARAM, 0.10);
    double acc_high, acc_low;
    memcpy(pruned, theta, sizeof pruned);
    check(fi_select_top(ctx, sal.fi, MLP_NPARAM, k, idx) == FI_OK, "select top");
    for (int t = 0; t < k; t++) pruned[idx[t]] = 0;
    acc_high = mlp_accuracy(pruned, xte, d.y + TRAIN, d.count - TRAIN);
    memcpy(pruned, theta, sizeof pruned);
    check(fi_select_random_low(ctx, sal.fi, MLP_NPARAM, k, k, 7, idx) == FI_OK, "FI-Low draw");
    for (int t = 0; t < k; t++) pruned[idx[t]] = 0;
    acc_low = mlp_accuracy(pruned, xte, d.y + TRAIN, d.count - TRAIN);
    printf("zeroing 10%%: FI-High accuracy %.4f, FI-Low accuracy %.4f (base %.4f)\n", acc_high,
           acc_low, base);
    check(acc_high + 0.10 < acc_low, "FI-High zeroing hurts more than FI-Low by > 10 points");
    fi_context_free(ctx);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
