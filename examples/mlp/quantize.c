/* Experiment (b), the paper's figure 4: quantize W1 and keep the most salient channels in
 * full precision. Channels are ranked by element FI reduced over the channel and by the
 * perturbation-aware quantities of the actual quantization error d = Q(w) - w (SPEC fact 7);
 * block FI alone cannot rank them where it saturates (facts 3, 8). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels.h"
#include "experiments.h"
#include "train.h"
#include "try.h"

const char *const quant_names[Q_COUNT] = {"FI", "FI_b*S^2", "(g.d)^2", "|d|^2",
                                          "FI-Low", "random"};
const int quant_bits[QUANT_BITS] = {1, 4};
const double quant_keeps[QUANT_KEEPS] = {0.0625, 0.125, 0.25, 0.5};

/* W1 quantized row by row (each hidden unit its own scale), in place in theta:
 * 1 bit: sign(w) * mean |w| of the row;  b bits: round(w / s) * s, s = max |w| / (2^(b-1) - 1). */
static void quantize_w1(double *theta, int bits)
{
    const int levels = (1 << (bits - 1)) - 1;
    for (int j = 0; j < MLP_H; j++) {
        double *w = theta + MLP_W1 + j * MLP_IN, mx = 0, mean = 0;
        for (int i = 0; i < MLP_IN; i++) {
            mx = fmax(mx, fabs(w[i]));
            mean += fabs(w[i]) / MLP_IN;
        }
        for (int i = 0; i < MLP_IN; i++)
            w[i] = bits == 1 ? copysign(mean, w[i])
                             : (mx > 0 ? round(w[i] / mx * levels) * mx / levels : 0);
    }
}

/* Accuracy of the quantized model q with the listed channels of family fam restored. */
static double accuracy_kept(const double *theta, const double *q, const fi_blocks *fam,
                            const int64_t *idx, int64_t k, const digits_set *test, double *scratch)
{
    memcpy(scratch, q, MLP_NPARAM * sizeof *scratch);
    for (int64_t t = 0; t < k; t++)
        for (int64_t j = 0; j < fam->size; j++) {
            const int64_t p = MLP_W1 + idx[t] * fam->step + j * fam->stride; /* W1 families */
            scratch[p] = theta[p];
        }
    return accuracy(scratch, test);
}

/* Channel rankings of family f for every bit width: [bits][criterion][channel]. The FI-Low
 * and random entries are unused (they draw). */
typedef double rankings[QUANT_BITS][Q_COUNT][MLP_IN];

/* Averages the perturbation-aware quantities over the training images. */
static int perturbation_rankings(fi_context *ctx, const double *theta, const digits_set *train,
                                 const fi_blocks *fam, double *const d[QUANT_BITS],
                                 rankings *rk)
{
    int rc = -1;
    double *sp = malloc((size_t)MLP_OUT * MLP_NPARAM * sizeof *sp);
    if (!sp) goto fail;
    const int64_t count = fam->count;
    const int images = train->count < QUANT_IMAGES ? train->count : QUANT_IMAGES;
    for (int s = 0; s < images; s++) {
        mlp_cache c;
        const int k = mlp_forward(theta, train->x[s], &c);
        mlp_scores(theta, &c, sp, NULL);
        double bfi[MLP_IN], s2[MLP_IN], t2[MLP_IN];
        FI_TRY(ctx, fi_direct(ctx, MLP_OUT, c.prob, FI_F64, sp + MLP_W1, MLP_H * MLP_IN,
                              MLP_NPARAM, fam, NULL, k, bfi, 0));
        for (int b = 0; b < QUANT_BITS; b++) {
            FI_TRY(ctx, fi_perturbation(ctx, MLP_OUT, c.prob, FI_F64, sp + MLP_W1,
                                        MLP_H * MLP_IN, MLP_NPARAM, fam, NULL, k,
                                        d[b] + MLP_W1, s2, t2));
            for (int64_t ch = 0; ch < count; ch++) {
                (*rk)[b][Q_FI_S2][ch] += bfi[ch] * s2[ch] / images;
                (*rk)[b][Q_GD2][ch] += t2[ch] / images;
            }
        }
    }
    rc = 0;
fail:
    free(sp);
    return rc;
}

int experiment_quantization(fi_context *ctx, const double *theta, const digits_set *train,
                            const digits_set *test, const param_criteria *pc, unsigned seed,
                            quant_result *out)
{
    int rc = -1;
    double *q[QUANT_BITS] = {NULL}, *d[QUANT_BITS] = {NULL};
    double *scratch = malloc(MLP_NPARAM * sizeof *scratch), *d2 = malloc(MLP_NPARAM * sizeof *d2);
    rankings *rk = calloc(1, sizeof *rk);
    if (!scratch || !d2 || !rk) goto fail;
    for (int b = 0; b < QUANT_BITS; b++) {
        q[b] = malloc(MLP_NPARAM * sizeof *q[b]);
        d[b] = malloc(MLP_NPARAM * sizeof *d[b]);
        if (!q[b] || !d[b]) goto fail;
        memcpy(q[b], theta, MLP_NPARAM * sizeof *q[b]);
        quantize_w1(q[b], quant_bits[b]);
        for (int p = 0; p < MLP_NPARAM; p++) d[b][p] = q[b][p] - theta[p];
        out->none[b] = accuracy(q[b], test);
    }
    for (int f = 0; f < QUANT_FAMILIES; f++) {
        const channel_family *fam = &channel_families[f]; /* W1 rows, then W1 columns */
        const int64_t count = fam->blocks.count;
        memset(rk, 0, sizeof *rk);
        if (perturbation_rankings(ctx, theta, train, &fam->blocks, d, rk)) goto fail;
        double fi[MLP_IN];
        if (channel_fi(ctx, pc, fam, fi)) goto fail;
        for (int b = 0; b < QUANT_BITS; b++) {
            memcpy((*rk)[b][Q_FI], fi, sizeof fi);
            for (int p = 0; p < MLP_NPARAM; p++) d2[p] = d[b][p] * d[b][p];
            FI_TRY(ctx, fi_reduce(ctx, d2 + MLP_W1, MLP_H * MLP_IN, &fam->blocks, FI_REDUCE_SUM,
                                  (*rk)[b][Q_ERR]));
            for (int kk = 0; kk < QUANT_KEEPS; kk++) {
                const int64_t k = fi_fraction_count(count, quant_keeps[kk]);
                for (int c = 0; c < Q_COUNT; c++) {
                    int64_t idx[MLP_IN];
                    samples *cell = &out->acc[b][f][kk][c];
                    if (c == Q_FI_LOW || c == Q_RANDOM) {
                        cell->n = RANDOM_DRAWS;
                        for (int r = 0; r < RANDOM_DRAWS; r++) {
                            const uint64_t draw = 1000000u * (uint64_t)seed +
                                                  100000u * (uint64_t)b + 10000u * (uint64_t)f +
                                                  100u * (uint64_t)kk + 10u * (uint64_t)c +
                                                  (uint64_t)r;
                            FI_TRY(ctx, fi_select_random_low(ctx, fi, count, c == Q_FI_LOW ? k : 0,
                                                             k, draw, idx));
                            cell->v[r] =
                                accuracy_kept(theta, q[b], &fam->blocks, idx, k, test, scratch);
                        }
                    } else {
                        FI_TRY(ctx, fi_select_top(ctx, (*rk)[b][c], count, k, idx));
                        cell->n = 1;
                        cell->v[0] = accuracy_kept(theta, q[b], &fam->blocks, idx, k, test, scratch);
                    }
                }
            }
        }
    }
    rc = 0;
fail:
    for (int b = 0; b < QUANT_BITS; b++) {
        free(q[b]);
        free(d[b]);
    }
    free(rk);
    free(d2);
    free(scratch);
    return rc;
}
