/* The reference MLP on the UCI digits: train a 64-32-10 ReLU MLP, show what FI finds, and
 * reproduce the paper's section 3 experiments at digit scale.
 *   mlp_digits DATA OUTDIR                  the demo: training seed 0, tables on stdout,
 *                                           OUTDIR/mlp_fi_maps.png
 *   mlp_digits --experiments DATA TABLEDIR  training seeds 0..SETUP_SEEDS-1, the Markdown
 *                                           tables of docs/examples.md into TABLEDIR */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channels.h"
#include "criteria.h"
#include "digits.h"
#include "experiments.h"
#include "heatmap.h"
#include "mlp.h"
#include "patches.h"
#include "runs.h"
#include "setup.h"
#include "tables.h"
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
 * own FI map, in the terminal. */
static int report_pixels(fi_context *ctx, const double *theta, const digits_set *test)
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
    return 0;
}

enum { PICTURE_IMAGES = 6, PICTURE_COLS = 7 };

/* v scaled from its minimum (0) to its maximum (1); a flat map is all 0. */
static void own_range(const double *v, double *out)
{
    double lo = v[0], hi = v[0];
    for (int j = 1; j < MLP_IN; j++) {
        lo = fmin(lo, v[j]);
        hi = fmax(hi, v[j]);
    }
    for (int j = 0; j < MLP_IN; j++) out[j] = hi > lo ? (v[j] - lo) / (hi - lo) : 0;
}

/* The PNG: for the first PICTURE_IMAGES test images (row by row) the input; pixel FI as a
 * fraction of the image's ceiling (1-P_k)/P_k, so that 1 (white) is the largest value FI can
 * take there; the same pixel FI scaled to its own range (the ranking FI makes); |g x| scaled
 * to its maximum; and the FI of 2x2, 3x3 and 4x4 patches as fractions of the ceiling. */
static int write_picture(fi_context *ctx, const double *theta, const digits_set *test,
                         const char *path)
{
    static double maps[PICTURE_IMAGES][PICTURE_COLS][MLP_IN];
    const double *panels[PICTURE_IMAGES * PICTURE_COLS];
    const int kind[PICTURE_COLS] = {HEAT_INK, HEAT_MAP, HEAT_MAP, HEAT_MAP,
                                    HEAT_MAP, HEAT_MAP, HEAT_MAP};
    for (int r = 0; r < PICTURE_IMAGES && r < test->count; r++) {
        const double *x = test->x[r];
        pixel_criteria pc;
        if (criteria_pixels(ctx, theta, x, &pc)) return -1;
        memcpy(maps[r][0], x, sizeof maps[r][0]);
        own_range(pc.taylor, maps[r][3]);
        const int cols[] = {1, 4, 5, 6}, sides[] = {1, 2, 3, 4};
        for (int q = 0; q < 4; q++) {
            patch_tiling t;
            patch_tiling_make(sides[q], &t);
            double norm[MLP_IN];
            if (patch_fi_image(ctx, theta, x, &t, NULL, norm, NULL)) return -1;
            for (int64_t b = 0; b < t.blocks.count; b++)
                for (int64_t j = t.offsets[b]; j < t.offsets[b + 1]; j++)
                    maps[r][cols[q]][t.indices[j]] = norm[b];
        }
        own_range(maps[r][1], maps[r][2]);
        for (int c = 0; c < PICTURE_COLS; c++) panels[r * PICTURE_COLS + c] = maps[r][c];
    }
    if (heatmap_write_png(path, panels, kind, PICTURE_IMAGES, PICTURE_COLS)) {
        fprintf(stderr, "cannot write %s\n", path);
        return -1;
    }
    printf("\nHeat maps (PNG): %s\n  rows: test images 0-%d; columns: the image; pixel FI / "
           "ceiling (1-P_k)/P_k\n  (white = 1); pixel FI scaled to its own range; |g x| scaled "
           "to its own range;\n  FI / ceiling of 2x2, 3x3 and 4x4 patches.\n", path,
           PICTURE_IMAGES - 1);
    return 0;
}

/* The demo: training seed 0, everything printed. */
static int demo(const char *data, const char *outdir)
{
    static digits d;
    static double theta[MLP_NPARAM];
    static param_criteria pc;
    static seed_result r;
    char png[4096];
    digits_set train, test;
    snprintf(png, sizeof png, "%s/mlp_fi_maps.png", outdir);
    const clock_t t0 = clock();
    if (setup_data(data, &d, &train, &test) != 0) return 1;
    fi_context *ctx = NULL;
    if (fi_context_create(&ctx) != FI_OK) return 1;
    int rc = run_seed(ctx, &train, &test, 0, theta, &pc, &r);
    if (!rc)
        printf("libfi %s: reference MLP 64-32-10 (ReLU, softmax) on the UCI digits\n"
               "%d training / %d test images, %d parameters, %d epochs of SGD with momentum\n"
               "training seed 0 (of the %d that `make experiments` runs)\n"
               "train accuracy %.3f, test accuracy %.3f\n", fi_version_string(), train.count,
               test.count, MLP_NPARAM, SETUP_EPOCHS, SETUP_SEEDS, r.train_acc, r.test_acc);
    rc = rc || report_parameters(ctx, &pc);
    rc = rc || channel_report(ctx, theta, &train, &pc);
    rc = rc || report_pixels(ctx, theta, &test);
    rc = rc || write_picture(ctx, theta, &test, png);
    if (!rc) {
        printf("\n(a) Zeroing the top x%% of the %d parameters by each criterion: test accuracy\n",
               MLP_NPARAM);
        table_zeroing(stdout, &r, 1);
        printf("\n(b) Quantizing W1, keeping the top x%% of its channels: test accuracy\n");
        table_quantization(stdout, &r, 1);
        printf("\n(c) Masking pixels\n");
        table_masking(stdout, &r, 1);
        printf("\n(d) Masking patches (index-list blocks)\n");
        table_patches(stdout, &r, 1);
    }
    fi_context_free(ctx);
    if (!rc) fprintf(stderr, "(%.1f s of CPU)\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
    return rc ? 1 : 0;
}

/* One Markdown table into dir/name. */
static int write_table(const char *dir, const char *name,
                       void (*table)(FILE *, const seed_result *, int), const seed_result *r,
                       int n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        return -1;
    }
    fprintf(f, "<!-- written by `make experiments` (build/examples/mlp_digits --experiments); "
               "do not edit -->\n");
    table(f, r, n);
    return fclose(f) == 0 ? 0 : -1;
}

/* All training seeds, the tables of docs/examples.md. */
static int experiments(const char *data, const char *dir)
{
    static digits d;
    static double theta[MLP_NPARAM];
    static param_criteria pc;
    static seed_result r[SETUP_SEEDS];
    digits_set train, test;
    if (setup_data(data, &d, &train, &test) != 0) return 1;
    fi_context *ctx = NULL;
    if (fi_context_create(&ctx) != FI_OK) return 1;
    int rc = 0;
    for (unsigned s = 0; s < SETUP_SEEDS && !rc; s++) {
        rc = run_seed(ctx, &train, &test, s, theta, &pc, &r[s]);
        fprintf(stderr, "training seed %u: test accuracy %.3f\n", s, r[s].test_acc);
    }
    fi_context_free(ctx);
    rc = rc || write_table(dir, "mlp_model.md", table_model, r, SETUP_SEEDS);
    rc = rc || write_table(dir, "mlp_zeroing.md", table_zeroing, r, SETUP_SEEDS);
    rc = rc || write_table(dir, "mlp_quantization.md", table_quantization, r, SETUP_SEEDS);
    rc = rc || write_table(dir, "mlp_masking.md", table_masking, r, SETUP_SEEDS);
    rc = rc || write_table(dir, "mlp_patches.md", table_patches, r, SETUP_SEEDS);
    rc = rc || write_table(dir, "mlp_claims.md", table_claims, r, SETUP_SEEDS);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--experiments") == 0) return experiments(argv[2], argv[3]);
    if (argc == 3 && argv[1][0] != '-') return demo(argv[1], argv[2]);
    fprintf(stderr, "usage: mlp_digits DATA OUTDIR | mlp_digits --experiments DATA TABLEDIR\n");
    return 2;
}
