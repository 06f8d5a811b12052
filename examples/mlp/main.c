/* The reference MLP (make demo): train a 64-32-10 ReLU MLP on the UCI digits, then show what
 * FI finds, and reproduce the paper's section 3 experiments at digit scale.
 * Usage: mlp_digits [digits.csv.gz] [pixel_fi.pgm] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "channels.h"
#include "criteria.h"
#include "digits.h"
#include "experiments.h"
#include "heatmap.h"
#include "mlp.h"
#include "setup.h"
#include "train.h"
#include "try.h"

/* "W1[j][i]", "b1[j]", ... for parameter p. */
static void param_name(int p, char *buf, size_t size)
{
    if (p < MLP_B1) snprintf(buf, size, "W1[%d][%d]", p / MLP_IN, p % MLP_IN);
    else if (p < MLP_W2) snprintf(buf, size, "b1[%d]", p - MLP_B1);
    else if (p < MLP_B2)
        snprintf(buf, size, "W2[%d][%d]", (p - MLP_W2) / MLP_H, (p - MLP_W2) % MLP_H);
    else snprintf(buf, size, "b2[%d]", p - MLP_B2);
}

/* The per-parameter FI: the largest values with their standard errors, how concentrated FI
 * is, and how it splits over the four tensors. */
static int report_parameters(fi_context *ctx, const param_criteria *pc)
{
    int64_t idx[MLP_NPARAM];
    FI_TRY(ctx, fi_select_top(ctx, pc->fi, MLP_NPARAM, MLP_NPARAM, idx));
    double total = 0, zero = 0;
    for (int p = 0; p < MLP_NPARAM; p++) {
        total += pc->fi[p];
        zero += pc->fi[p] == 0;
    }
    printf("\nPer-parameter FI (blocks of 1), mean over %d training images +- standard error;\n"
           "class target = predicted class. Largest:\n", pc->samples);
    for (int t = 0; t < 5; t++) {
        char name[32];
        param_name((int)idx[t], name, sizeof name);
        printf("  %-10s %.3g +- %.2g\n", name, pc->fi[idx[t]], pc->fi_se[idx[t]]);
    }
    const double cuts[] = {0.01, 0.10};
    for (int c = 0; c < 2; c++) {
        double top = 0;
        for (int64_t t = 0; t < fi_fraction_count(MLP_NPARAM, cuts[c]); t++) top += pc->fi[idx[t]];
        printf("  the top %.0f%% of parameters hold %.1f%% of the total FI\n", 100 * cuts[c],
               100 * top / total);
    }
    printf("  %.0f parameters have FI 0 on every image (those of units that never fire, and\n"
           "  weights whose pixel is blank whenever their unit fires)\n", zero);
    const int start[] = {MLP_W1, MLP_B1, MLP_W2, MLP_B2, MLP_NPARAM};
    const char *names[] = {"W1", "b1", "W2", "b2"};
    printf("  share of the total FI per tensor:");
    for (int t = 0; t < 4; t++) {
        double sum = 0;
        for (int p = start[t]; p < start[t + 1]; p++) sum += pc->fi[p];
        printf(" %s %.1f%%", names[t], 100 * sum / total);
    }
    printf("\n");
    return 0;
fail:
    return -1;
}

/* The dataset-average pixel FI map next to the average image, and one test image with its
 * own FI map: printed, and written as a PGM. */
static int report_pixels(fi_context *ctx, const double *theta, const digits_set *test,
                         const char *pgm)
{
    double mean_fi[MLP_IN], se_fi[MLP_IN], ink[MLP_IN] = {0}, lo = 1e300, hi = 0, se = 0;
    if (criteria_pixel_map(ctx, theta, test, mean_fi, se_fi)) return -1;
    for (int s = 0; s < test->count; s++)
        for (int j = 0; j < MLP_IN; j++) ink[j] += test->x[s][j] / test->count;
    for (int j = 0; j < MLP_IN; j++) {
        lo = mean_fi[j] < lo ? mean_fi[j] : lo;
        hi = mean_fi[j] > hi ? mean_fi[j] : hi;
        se = se_fi[j] > se ? se_fi[j] : se;
    }
    pixel_criteria one;
    if (criteria_pixels(ctx, theta, test->x[0], &one)) return -1;
    const double *maps[] = {ink, mean_fi, test->x[0], one.fi};
    const char *titles[] = {"mean image", "mean pixel FI", "test image 0", "its pixel FI"};
    printf("\nPixel FI (each pixel a block of 1), mean over the %d test images: from %.3g to "
           "%.3g\n(standard errors up to %.1g). Each map is scaled from its own min to max:\n",
           test->count, lo, hi, se);
    heatmap_print(maps, titles, 4);
    printf("    (test image 0 is a %d, predicted %d)\n", test->y[0], one.pred);
    if (heatmap_write_pgm(pgm, maps, 4) == 0)
        printf("  the same four maps as a picture: %s\n", pgm);
    else
        fprintf(stderr, "cannot write %s\n", pgm);
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "examples/data/digits.csv.gz";
    const char *pgm = argc > 2 ? argv[2] : "pixel_fi.pgm";
    static digits d;
    static double theta[MLP_NPARAM];
    static param_criteria pc;
    static quant_result qr;
    double zero_acc[ZERO_FRACTIONS][Z_COUNT], mask_flips[MASK_SIZES][M_COUNT];
    const clock_t t0 = clock();
    digits_set train, test;
    if (setup_model(path, &d, theta, &train, &test) != 0) return 1;
    const double base = accuracy(theta, &test);
    printf("libfi %s: reference MLP 64-32-10 (ReLU, softmax) on the UCI digits\n"
           "%d training / %d test images, %d parameters, %d epochs of SGD with momentum\n"
           "train accuracy %.3f, test accuracy %.3f\n", fi_version_string(), train.count,
           test.count, MLP_NPARAM, SETUP_EPOCHS, accuracy(theta, &train), base);

    fi_context *ctx = NULL;
    if (fi_context_create(&ctx) != FI_OK) return 1;
    int rc = criteria_params(ctx, theta, &train, &pc);
    rc = rc || report_parameters(ctx, &pc);
    rc = rc || channel_report(ctx, theta, &train, &pc);
    rc = rc || report_pixels(ctx, theta, &test, pgm);
    rc = rc || experiment_zeroing(ctx, theta, &test, &pc, zero_acc);
    if (!rc) print_zeroing(base, zero_acc);
    rc = rc || experiment_quantization(ctx, theta, &train, &test, &pc, &qr);
    if (!rc) print_quantization(base, &qr);
    rc = rc || experiment_masking(ctx, theta, &test, mask_flips);
    if (!rc) print_masking(test.count, mask_flips);
    fi_context_free(ctx);
    if (!rc) printf("\n(%.1f s of CPU)\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
    return rc ? 1 : 0;
}
