/* The reference MLP: train 64-32-10 on the UCI digits, then show what FI finds.
 * Usage: mlp_digits [path/to/digits.csv.gz] [heatmap.pgm] */
#include <stdio.h>
#include <stdlib.h>

#include "digits.h"
#include "mlp.h"
#include "study.h"

enum { TRAIN = 1297, EPOCHS = 30, SAMPLES = 200 };

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "examples/data/digits.csv.gz";
    const char *pgm = argc > 2 ? argv[2] : "build/examples/pixel_fi.pgm";
    static digits d;
    if (digits_load(path, &d) != 0) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    digits_shuffle(&d, 2024);
    const int ntest = d.count - TRAIN;
    const double(*xtr)[MLP_IN] = (const double(*)[MLP_IN])d.x, (*xte)[MLP_IN] = xtr + TRAIN;
    static double theta[MLP_NPARAM], vel[MLP_NPARAM];
    unsigned long long seed = 1;
    mlp_init(theta, 7);
    for (int e = 0; e < EPOCHS; e++) mlp_train_epoch(theta, vel, xtr, d.y, TRAIN, 0.05, &seed);
    printf("libfi %s reference MLP 64-32-10 (ReLU) on UCI digits: %d train / %d test images, "
           "%d parameters\ntrain accuracy %.4f, test accuracy %.4f\n", fi_version_string(), TRAIN,
           ntest, MLP_NPARAM, mlp_accuracy(theta, xtr, d.y, TRAIN),
           mlp_accuracy(theta, xte, d.y + TRAIN, ntest));

    fi_context *ctx = NULL;
    if (fi_context_create(&ctx) != FI_OK) return 1;
    static saliency sal;
    /* Saliencies are measured on training images; the experiments are scored on the test set. */
    int rc = study_saliency(ctx, theta, xtr, SAMPLES, &sal);
    if (!rc) {
        double mx = 0, se = 0;
        int arg = 0;
        for (int p = 0; p < MLP_NPARAM; p++)
            if (sal.fi[p] > mx) { mx = sal.fi[p]; se = sal.fi_se[p]; arg = p; }
        printf("\nPer-parameter FI, mean over %d images (class target = predicted class): max %.4g "
               "+- %.2g (parameter %d)\n", SAMPLES, mx, se, arg);
    }
    rc = rc || study_channels(ctx, theta, xtr, &sal);
    rc = rc || study_zeroing(ctx, theta, xte, d.y + TRAIN, ntest, &sal);
    rc = rc || study_quantization(ctx, theta, xtr, 100, xte, d.y + TRAIN, ntest, &sal);
    rc = rc || study_pixels(ctx, theta, xte, ntest, pgm, &sal);
    fi_context_free(ctx);
    return rc ? 1 : 0;
}
