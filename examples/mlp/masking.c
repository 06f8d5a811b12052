/* Experiment (c), the paper's figure 1 at digit scale: per test image, mask (set to 0) the
 * pixels that each criterion ranks highest and count how often the prediction changes. */
#include <stdio.h>
#include <string.h>

#include "experiments.h"
#include "try.h"

const char *const mask_names[M_COUNT] = {"FI", "|g|", "|g x|", "random", "random ink"};
const int mask_sizes[MASK_SIZES] = {1, 2, 4, 8};

/* 1 when masking the listed pixels of x changes the predicted class from k. */
static int flips(const double *theta, const double *x, int k, const int64_t *idx, int m)
{
    double xm[MLP_IN];
    mlp_cache c;
    memcpy(xm, x, sizeof xm);
    for (int t = 0; t < m; t++) xm[idx[t]] = 0;
    return mlp_forward(theta, xm, &c) != k;
}

int experiment_masking(fi_context *ctx, const double *theta, const digits_set *test,
                       unsigned seed, samples flips_out[MASK_SIZES][M_COUNT])
{
    long count[MASK_SIZES][M_COUNT][RANDOM_DRAWS] = {{{0}}};
    for (int s = 0; s < test->count; s++) {
        const double *x = test->x[s];
        pixel_criteria pc;
        if (criteria_pixels(ctx, theta, x, &pc)) goto fail;
        const double *ranked[M_COUNT] = {[M_FI] = pc.fi, [M_GRAD] = pc.grad,
                                         [M_TAYLOR] = pc.taylor};
        int64_t ink[MLP_IN];
        int nink = 0;
        for (int j = 0; j < MLP_IN; j++)
            if (x[j] > 0) ink[nink++] = j;
        for (int mi = 0; mi < MASK_SIZES; mi++) {
            const int m = mask_sizes[mi];
            for (int c = 0; c < M_COUNT; c++) {
                const int draws = c == M_RANDOM || c == M_RANDOM_INK ? RANDOM_DRAWS : 1;
                for (int r = 0; r < draws; r++) {
                    const uint64_t draw = 100000000u * (uint64_t)seed + 10000u * (uint64_t)s +
                                          100u * (uint64_t)mi + (uint64_t)r;
                    int64_t idx[MLP_IN];
                    int k = m;
                    if (c == M_RANDOM) {
                        /* exclude_top = 0: a uniform draw of m distinct pixels */
                        FI_TRY(ctx, fi_select_random_low(ctx, pc.fi, MLP_IN, 0, m, draw, idx));
                    } else if (c == M_RANDOM_INK) {
                        int64_t pick[MLP_IN];
                        k = m < nink ? m : nink; /* fewer inked pixels than m: mask them all */
                        double ink_fi[MLP_IN];
                        for (int t = 0; t < nink; t++) ink_fi[t] = pc.fi[ink[t]];
                        if (k > 0)
                            FI_TRY(ctx, fi_select_random_low(ctx, ink_fi, nink, 0, k, draw, pick));
                        for (int t = 0; t < k; t++) idx[t] = ink[pick[t]];
                    } else {
                        FI_TRY(ctx, fi_select_top(ctx, ranked[c], MLP_IN, m, idx));
                    }
                    count[mi][c][r] += flips(theta, x, pc.pred, idx, k);
                }
            }
        }
    }
    for (int mi = 0; mi < MASK_SIZES; mi++)
        for (int c = 0; c < M_COUNT; c++) {
            samples *cell = &flips_out[mi][c];
            cell->n = c == M_RANDOM || c == M_RANDOM_INK ? RANDOM_DRAWS : 1;
            for (int r = 0; r < cell->n; r++) cell->v[r] = (double)count[mi][c][r] / test->count;
        }
    return 0;
fail:
    return -1;
}
