/* One training seed through every experiment, and the claims made about them. */
#include "runs.h"

#include <math.h>
#include <stdio.h>

#include "setup.h"
#include "train.h"
#include "try.h"

/* Concentration of per-parameter FI and its split over the four tensors. */
static int parameter_stats(fi_context *ctx, const param_criteria *pc, seed_result *out)
{
    static int64_t idx[MLP_NPARAM];
    FI_TRY(ctx, fi_select_top(ctx, pc->fi, MLP_NPARAM, MLP_NPARAM, idx));
    double total = 0, top1 = 0, top10 = 0;
    out->zero_fi_params = 0;
    for (int p = 0; p < MLP_NPARAM; p++) {
        total += pc->fi[p];
        out->zero_fi_params += pc->fi[p] == 0;
    }
    for (int64_t t = 0; t < fi_fraction_count(MLP_NPARAM, 0.10); t++) {
        top10 += pc->fi[idx[t]];
        if (t < fi_fraction_count(MLP_NPARAM, 0.01)) top1 += pc->fi[idx[t]];
    }
    out->top1_share = top1 / total;
    out->top10_share = top10 / total;
    const int start[] = {MLP_W1, MLP_B1, MLP_W2, MLP_B2, MLP_NPARAM};
    for (int t = 0; t < 4; t++) {
        double sum = 0;
        for (int p = start[t]; p < start[t + 1]; p++) sum += pc->fi[p];
        out->tensor_share[t] = sum / total;
    }
    return 0;
fail:
    return -1;
}

int run_seed(fi_context *ctx, const digits_set *train, const digits_set *test, unsigned seed,
             double *theta, param_criteria *pc, seed_result *out)
{
    out->seed = seed;
    if (setup_train(theta, train, seed)) return -1;
    out->train_acc = accuracy(theta, train);
    out->test_acc = accuracy(theta, test);
    if (criteria_params(ctx, theta, train, pc) || parameter_stats(ctx, pc, out) ||
        experiment_zeroing(ctx, theta, test, pc, seed, out->zero) ||
        experiment_quantization(ctx, theta, train, test, pc, seed, &out->quant) ||
        experiment_masking(ctx, theta, test, seed, out->mask) ||
        experiment_patches(ctx, theta, test, seed, &out->patch))
        return -1;
    return 0;
}

double cell_value(const seed_result *r, cell_ref c)
{
    switch (c.table) {
    case T_ZERO: return samples_mean(&r->zero[c.i][c.crit]);
    case T_QUANT: return samples_mean(&r->quant.acc[c.i][c.j][c.k][c.crit]);
    case T_MASK: return samples_mean(&r->mask[c.i][c.crit]);
    case T_PATCH: return samples_mean(&r->patch.flips[c.i][c.crit]);
    }
    return NAN;
}

void claim_difference(const claim *c, const seed_result *r, int n, double *mean, double *sd,
                      double *min)
{
    double sum = 0, sum2 = 0;
    *min = INFINITY;
    for (int s = 0; s < n; s++) {
        const double d = cell_value(&r[s], c->hi) - cell_value(&r[s], c->lo);
        *min = fmin(*min, d);
        sum += d;
        sum2 += d * d;
    }
    *mean = sum / n;
    *sd = n > 1 ? sqrt(fmax(0, (sum2 - n * *mean * *mean) / (n - 1))) : 0;
}

/* Cell shorthands: zeroing at fraction index f (1,2,3,5,10%), 1-bit quantization of family
 * fam (0 rows, 1 columns) keeping index kk (6.25,12.5,25,50%), masking m index (1,2,4,8),
 * patch side index (1,2,3,4). */
#define ZERO(f, c) {T_ZERO, f, 0, 0, c}
#define QUANT1(fam, kk, c) {T_QUANT, 0, fam, kk, c}
#define MASK(m, c) {T_MASK, m, 0, 0, c}
#define PATCH(z, c) {T_PATCH, z, 0, 0, c}

const claim claims[] = {
    /* (a) zeroing: accuracy; higher accuracy = the zeroed set mattered less */
    {"zeroing 10%: random costs less accuracy than FI", ZERO(4, Z_RANDOM), ZERO(4, Z_FI), 0.10, 1},
    {"zeroing 10%: FI-Low costs less than FI", ZERO(4, Z_FI_LOW), ZERO(4, Z_FI), 0.10, 1},
    {"zeroing 5%: random costs less than FI", ZERO(3, Z_RANDOM), ZERO(3, Z_FI), 0, 0},
    {"zeroing 3%: random costs less than FI", ZERO(2, Z_RANDOM), ZERO(2, Z_FI), 0, 0},
    {"zeroing 2%: random costs less than FI", ZERO(1, Z_RANDOM), ZERO(1, Z_FI), 0, 0},
    {"zeroing 1%: random costs less than FI", ZERO(0, Z_RANDOM), ZERO(0, Z_FI), 0, 0},
    {"zeroing 10%: FI costs less than |w| (FI loses)", ZERO(4, Z_FI), ZERO(4, Z_ABS_W), 0.30, 1},
    {"zeroing 10%: FI costs less than |g w| (FI loses)", ZERO(4, Z_FI), ZERO(4, Z_TAYLOR), 0.15, 1},
    {"zeroing 10%: FI costs less than S^2 = F w^2 (FI loses)", ZERO(4, Z_FI), ZERO(4, Z_S2), 0.20, 1},
    {"zeroing 10%: FI costs less than the Fisher diagonal", ZERO(4, Z_FI), ZERO(4, Z_FISHER), 0, 0},
    {"zeroing 1%: FI costs less than |w| (FI loses)", ZERO(0, Z_FI), ZERO(0, Z_ABS_W), 0.17, 1},
    /* (b) 1-bit W1, keep channels: accuracy; higher = better channels kept */
    {"1-bit, keep 50% of rows: FI beats random", QUANT1(0, 3, Q_FI), QUANT1(0, 3, Q_RANDOM), 0.035, 1},
    {"1-bit, keep 25% of rows: FI beats random", QUANT1(0, 2, Q_FI), QUANT1(0, 2, Q_RANDOM), 0, 0},
    {"1-bit, keep 25% of rows: FI beats FI-Low", QUANT1(0, 2, Q_FI), QUANT1(0, 2, Q_FI_LOW), 0, 0},
    {"1-bit, keep 25% of rows: FI_b*S^2 beats random", QUANT1(0, 2, Q_FI_S2), QUANT1(0, 2, Q_RANDOM), 0.05, 1},
    {"1-bit, keep 25% of rows: FI_b*S^2 beats FI", QUANT1(0, 2, Q_FI_S2), QUANT1(0, 2, Q_FI), 0, 0},
    {"1-bit, keep 12.5% of rows: FI beats random", QUANT1(0, 1, Q_FI), QUANT1(0, 1, Q_RANDOM), 0, 0},
    {"1-bit, keep 6.25% of columns: FI beats random", QUANT1(1, 0, Q_FI), QUANT1(1, 0, Q_RANDOM), 0, 0},
    {"1-bit, keep 25% of columns: FI beats random", QUANT1(1, 2, Q_FI), QUANT1(1, 2, Q_RANDOM), 0, 0},
    {"1-bit, keep 50% of columns: FI beats random", QUANT1(1, 3, Q_FI), QUANT1(1, 3, Q_RANDOM), 0.05, 1},
    /* (c) masking pixels: fraction flipped; higher = the masked pixels mattered more */
    {"mask 8 pixels: FI flips more than random", MASK(3, M_FI), MASK(3, M_RANDOM), 0.05, 1},
    {"mask 8 pixels: FI flips more than random inked pixels", MASK(3, M_FI), MASK(3, M_RANDOM_INK), 0, 0},
    {"mask 8 pixels: |g x| flips more than FI (FI loses)", MASK(3, M_TAYLOR), MASK(3, M_FI), 0.30, 1},
    {"mask 8 pixels: |g| flips more than FI (FI loses)", MASK(3, M_GRAD), MASK(3, M_FI), 0.10, 1},
    {"mask 1 pixel: FI flips more than random", MASK(0, M_FI), MASK(0, M_RANDOM), 0, 0},
    {"mask 1 pixel: |g x| flips more than FI (FI loses)", MASK(0, M_TAYLOR), MASK(0, M_FI), 0.10, 1},
    /* (d) masking the top-1 patch */
    {"mask one 2x2 patch: FI flips more than a random patch", PATCH(1, P_FI), PATCH(1, P_RANDOM), 0, 0},
    {"mask one 3x3 patch: FI (its top is a saturated full 3x3 patch) flips more than a random patch", PATCH(2, P_FI), PATCH(2, P_RANDOM), 0, 0},
    {"mask one 3x3 patch: FI (ditto) flips more than a random inked patch", PATCH(2, P_FI), PATCH(2, P_RANDOM_INK), 0, 0},
    {"mask one 2x2 patch: |g x| flips more than FI (FI loses)", PATCH(1, P_TAYLOR), PATCH(1, P_FI), 0.20, 1},
    {"mask one 3x3 patch: |g x| flips more than FI (FI loses)", PATCH(2, P_TAYLOR), PATCH(2, P_FI), 0.20, 1},
    {"mask one 4x4 patch (FI saturated): FI flips more than a random patch", PATCH(3, P_FI), PATCH(3, P_RANDOM), 0, 0},
};
const int claim_count = (int)(sizeof claims / sizeof claims[0]);
