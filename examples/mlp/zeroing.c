/* Experiment (a), the paper's figure 3: zero the most salient parameters by each criterion
 * and measure test accuracy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments.h"
#include "train.h"
#include "try.h"

const char *const zero_names[Z_COUNT] = {"FI", "FI-Low", "random", "|w|",
                                         "Fisher", "S^2=Fw^2", "|g w|", "FI*S^2"};
const double zero_fractions[ZERO_FRACTIONS] = {0.01, 0.02, 0.03, 0.05, 0.10};

/* Accuracy of theta with the listed parameters set to 0 (scratch: NPARAM doubles). */
static double accuracy_zeroed(const double *theta, const int64_t *idx, int64_t k,
                              const digits_set *test, double *scratch)
{
    memcpy(scratch, theta, MLP_NPARAM * sizeof *scratch);
    for (int64_t t = 0; t < k; t++) scratch[idx[t]] = 0;
    return accuracy(scratch, test);
}

double samples_mean(const samples *s)
{
    double sum = 0;
    for (int i = 0; i < s->n; i++) sum += s->v[i];
    return s->n ? sum / s->n : 0;
}

int experiment_zeroing(fi_context *ctx, const double *theta, const digits_set *test,
                       const param_criteria *pc, unsigned seed,
                       samples acc[ZERO_FRACTIONS][Z_COUNT])
{
    int rc = -1;
    int64_t *idx = malloc(MLP_NPARAM * sizeof *idx);
    double *absw = malloc(MLP_NPARAM * sizeof *absw);
    double *scratch = malloc(MLP_NPARAM * sizeof *scratch);
    if (!idx || !absw || !scratch) goto fail;
    for (int p = 0; p < MLP_NPARAM; p++) absw[p] = fabs(theta[p]);
    const double *ranked[Z_COUNT] = {[Z_FI] = pc->fi,         [Z_ABS_W] = absw,
                                     [Z_FISHER] = pc->fisher, [Z_S2] = pc->s2,
                                     [Z_TAYLOR] = pc->taylor, [Z_FI_S2] = pc->fi_s2};
    for (int f = 0; f < ZERO_FRACTIONS; f++) {
        const int64_t k = fi_fraction_count(MLP_NPARAM, zero_fractions[f]);
        for (int c = 0; c < Z_COUNT; c++) {
            samples *cell = &acc[f][c];
            if (c == Z_FI_LOW || c == Z_RANDOM) {
                /* FI-Low excludes the FI top k; random (exclude 0) draws among all. */
                const int64_t exclude = c == Z_FI_LOW ? k : 0;
                cell->n = RANDOM_DRAWS;
                for (int r = 0; r < RANDOM_DRAWS; r++) {
                    const uint64_t draw = 1000000u * (uint64_t)seed + 1000u * (uint64_t)f +
                                          10u * (uint64_t)c + (uint64_t)r;
                    FI_TRY(ctx, fi_select_random_low(ctx, pc->fi, MLP_NPARAM, exclude, k, draw,
                                                     idx));
                    cell->v[r] = accuracy_zeroed(theta, idx, k, test, scratch);
                }
            } else {
                FI_TRY(ctx, fi_select_top(ctx, ranked[c], MLP_NPARAM, k, idx));
                cell->n = 1;
                cell->v[0] = accuracy_zeroed(theta, idx, k, test, scratch);
            }
        }
    }
    rc = 0;
fail:
    free(scratch);
    free(absw);
    free(idx);
    return rc;
}
