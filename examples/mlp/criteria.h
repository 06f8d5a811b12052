/* Per-parameter and per-pixel saliency criteria of the trained MLP, averaged over a set of
 * images with the library (fi_direct, fi_perturbation, fi_accumulator_*). The class target
 * is the predicted class k: the paper's f = -log P_k has g = -s_k, and FI only sees g^2. */
#ifndef MLP_CRITERIA_H
#define MLP_CRITERIA_H

#include "digits.h"
#include "fi.h"
#include "mlp.h"

/* Dataset averages, one value per parameter (index into theta). "Zeroing" is the edit
 * d = -w of one parameter, the edit of experiment (a). */
typedef struct param_criteria {
    int samples;
    double fi[MLP_NPARAM];     /* element FI = g^2 / sum_i P_i s_i^2 (SPEC fact 1)       */
    double fi_se[MLP_NPARAM];  /* its standard error over the images (the accumulator)   */
    double fisher[MLP_NPARAM]; /* Fisher diagonal sum_i P_i s_i^2                        */
    double s2[MLP_NPARAM];     /* Fisher length of zeroing S^2 = d^T G d = fisher * w^2   */
    double taylor[MLP_NPARAM]; /* first-order Taylor term |g w|                          */
    double fi_s2[MLP_NPARAM];  /* FI * S^2 of zeroing (SPEC fact 7)                      */
    double gd2[MLP_NPARAM];    /* (g . d)^2 of zeroing; equals FI * S^2 for p = 1        */
} param_criteria;

/* Fills *out over all images of set. Returns 0, or -1 after printing why. */
int criteria_params(fi_context *ctx, const double *theta, const digits_set *set,
                    param_criteria *out);

/* One image's pixel criteria for the edit "mask the pixel" (d = -x), one value per pixel. */
typedef struct pixel_criteria {
    int pred;                /* predicted class k                                  */
    double fi[MLP_IN];       /* element FI of the pixel                            */
    double grad[MLP_IN];     /* |g|, the plain gradient saliency map                */
    double taylor[MLP_IN];   /* |g x| = |g . d|                                     */
} pixel_criteria;

/* The criteria of one image x. Returns 0, or -1 after printing why. */
int criteria_pixels(fi_context *ctx, const double *theta, const double *x, pixel_criteria *out);

/* Mean pixel FI over the set and its standard error (the accumulator). se may be NULL. */
int criteria_pixel_map(fi_context *ctx, const double *theta, const digits_set *set,
                       double *mean, double *se);

#endif
