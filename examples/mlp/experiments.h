/* The paper's section 3 experiments on the trained MLP, each against its baselines.
 * Criteria are measured on the training images, accuracy and flips on the test images.
 * The compute functions fill plain arrays (the tests assert on them); the print functions
 * turn them into the demo's tables. */
#ifndef MLP_EXPERIMENTS_H
#define MLP_EXPERIMENTS_H

#include "criteria.h"

/* Random baselines are drawn this many times (seeded by the training seed and the cell). */
enum { RANDOM_DRAWS = 10 };

/* One table cell of one training seed: a single value for a ranking criterion, or one value
 * per random draw for a drawn baseline. */
typedef struct samples {
    int n;
    double v[RANDOM_DRAWS];
} samples;

/* Mean of a cell's values (the per-seed figure the tests compare). */
double samples_mean(const samples *s);

/* (a) Zero the top x% of the 2410 parameters by each criterion: test accuracy. */
enum zero_criterion {
    Z_FI,      /* element FI                                                  */
    Z_FI_LOW,  /* the paper's FI-Low: as many, at random outside the FI top x% */
    Z_RANDOM,  /* as many, uniformly at random                                */
    Z_ABS_W,   /* |w|                                                         */
    Z_FISHER,  /* Fisher diagonal sum_i P_i s_i^2                             */
    Z_S2,      /* Fisher length of the edit S^2 = F w^2                        */
    Z_TAYLOR,  /* |g w|                                                       */
    Z_FI_S2,   /* FI * S^2 = (g.d)^2 for single parameters                    */
    Z_COUNT
};
extern const char *const zero_names[Z_COUNT];
enum { ZERO_FRACTIONS = 5 };
extern const double zero_fractions[ZERO_FRACTIONS]; /* 1, 2, 3, 5, 10 % */
int experiment_zeroing(fi_context *ctx, const double *theta, const digits_set *test,
                       const param_criteria *pc, unsigned seed,
                       samples acc[ZERO_FRACTIONS][Z_COUNT]);

/* (b) Quantize W1 to 1 or 4 bits (per-row scale), keeping the top x% of its output
 * channels (rows) or input channels (columns) in full precision: test accuracy. */
enum quant_criterion {
    Q_FI,      /* element FI summed over the channel                        */
    Q_FI_S2,   /* block FI_b * S^2 of the channel's quantization error       */
    Q_GD2,     /* (g.d)^2 of the channel's quantization error               */
    Q_ERR,     /* ||Q(w) - w||^2 of the channel (no model information)      */
    Q_FI_LOW,  /* at random outside the element-FI top x%                   */
    Q_RANDOM,  /* uniformly at random                                       */
    Q_COUNT
};
extern const char *const quant_names[Q_COUNT];
enum { QUANT_BITS = 2, QUANT_FAMILIES = 2, QUANT_KEEPS = 4 };
extern const int quant_bits[QUANT_BITS];           /* 1, 4 */
extern const double quant_keeps[QUANT_KEEPS];      /* 1/16 .. 1/2 */
typedef struct quant_result {
    double none[QUANT_BITS]; /* accuracy with every channel quantized */
    samples acc[QUANT_BITS][QUANT_FAMILIES][QUANT_KEEPS][Q_COUNT];
} quant_result;
/* The perturbation-aware rankings (FI_b * S^2, (g.d)^2) are averaged over the first
 * QUANT_IMAGES training images: they cost a metric per image and family. */
enum { QUANT_IMAGES = 400 };
int experiment_quantization(fi_context *ctx, const double *theta, const digits_set *train,
                            const digits_set *test, const param_criteria *pc, unsigned seed,
                            quant_result *out);

/* (c) Per test image, mask (set to 0) its top-m pixels by each criterion: the fraction of
 * images whose prediction changes. */
enum mask_criterion {
    M_FI,         /* element FI of the pixel                         */
    M_GRAD,       /* |g|                                             */
    M_TAYLOR,     /* |g x| (= FI * S^2 of masking, for p = 1)        */
    M_RANDOM,     /* m random pixels (RANDOM_DRAWS draws per image)  */
    M_RANDOM_INK, /* m random pixels among those with ink (x > 0)    */
    M_COUNT
};
extern const char *const mask_names[M_COUNT];
enum { MASK_SIZES = 4 };
extern const int mask_sizes[MASK_SIZES]; /* 1, 2, 4, 8 */
int experiment_masking(fi_context *ctx, const double *theta, const digits_set *test,
                       unsigned seed, samples flips[MASK_SIZES][M_COUNT]);

#endif
