/* One training seed's run of every experiment, and the claims the docs make about them:
 * the demo runs seed 0, `make experiments` and the tests run seeds 0 .. SETUP_SEEDS-1. */
#ifndef MLP_RUNS_H
#define MLP_RUNS_H

#include "criteria.h"
#include "experiments.h"
#include "patches.h"

typedef struct seed_result {
    unsigned seed;
    double train_acc, test_acc;
    double top1_share, top10_share; /* share of the total FI held by the top 1% / 10%    */
    double zero_fi_params;          /* parameters with FI 0 on every training image      */
    double tensor_share[4];         /* share of the total FI in W1, b1, W2, b2           */
    samples zero[ZERO_FRACTIONS][Z_COUNT];
    quant_result quant;
    samples mask[MASK_SIZES][M_COUNT];
    patch_result patch;
} seed_result;

/* Trains training seed `seed` on train and runs experiments (a)-(d). theta [MLP_NPARAM] and
 * pc receive the model and its criteria. Returns 0, or -1 after printing why. */
int run_seed(fi_context *ctx, const digits_set *train, const digits_set *test, unsigned seed,
             double *theta, param_criteria *pc, seed_result *out);

/* A cell of the tables, addressed by experiment and indices (unused indices 0). */
enum cell_table { T_ZERO, T_QUANT, T_MASK, T_PATCH };
typedef struct cell_ref {
    int table, i, j, k, crit;
} cell_ref;
/* The seed's value of the cell (the mean of its draws for a drawn baseline). */
double cell_value(const seed_result *r, cell_ref ref);

/* A directional claim of docs/examples.md: cell `hi` exceeds cell `lo`, compared seed by seed.
 * Asserted claims are tested over all seeds (check_mlp): every seed's difference is positive,
 * and their mean exceeds `margin`, which must exceed their standard deviation over the seeds.
 * The others are reported with their spread only; one is "consistent" when every seed agrees
 * and the mean exceeds the sd, "not significant" otherwise. */
typedef struct claim {
    const char *text;
    cell_ref hi, lo;
    double margin;
    int asserted;
} claim;
extern const claim claims[];
extern const int claim_count;

/* Mean, sample standard deviation and minimum over the seeds of hi - lo. */
void claim_difference(const claim *c, const seed_result *r, int n, double *mean, double *sd,
                      double *min);

#endif
