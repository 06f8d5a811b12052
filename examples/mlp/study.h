/* What FI finds in the trained MLP: dataset-average saliencies and the paper's experiments. */
#ifndef STUDY_H
#define STUDY_H

#include "fi.h"
#include "mlp.h"

/* Per-parameter criteria averaged over a sample set (each n = MLP_NPARAM). */
typedef struct saliency {
    double fi[MLP_NPARAM];      /* element FI, class target = predicted class (fact 1) */
    double fi_se[MLP_NPARAM];   /* its standard error over the samples */
    double fisher[MLP_NPARAM];  /* Fisher diagonal sum_i P_i s_i^2 */
    double taylor[MLP_NPARAM];  /* |g w| */
    double fi_s2[MLP_NPARAM];   /* FI * S^2 for zeroing, d = -w (fact 7) */
    double pixel_fi[MLP_IN];    /* element FI of the input pixels */
} saliency;

/* Computes all criteria over count images with the library (fi_direct, fi_perturbation, the
 * accumulator). Returns 0 on success, prints the library's message otherwise. */
int study_saliency(fi_context *ctx, const double *theta, const double (*x)[MLP_IN], int count,
                   saliency *out);
/* Channel FI of W1's 32 output channels (rows) and 64 input channels (columns): element FI
 * reduced (sum), and the block FI of each row normalized by its bound (saturation). */
int study_channels(fi_context *ctx, const double *theta, const double (*x)[MLP_IN], const saliency *sal);
/* The experiments of the paper's section 3 on the test set, printed as tables. */
int study_zeroing(fi_context *ctx, const double *theta, const double (*x)[MLP_IN], const int *y,
                  int count, const saliency *sal);
int study_quantization(fi_context *ctx, const double *theta, const double (*xs)[MLP_IN],
                       int ns, const double (*x)[MLP_IN], const int *y, int count, const saliency *sal);
int study_pixels(fi_context *ctx, const double *theta, const double (*x)[MLP_IN], int count,
                 const char *pgm_path, const saliency *sal);

#endif
