/* Channel FI of the trained MLP: element FI reduced over channels (fi_reduce), next to the
 * block FI of whole channels, to show where block FI saturates (SPEC facts 3 and 8). */
#ifndef MLP_CHANNELS_H
#define MLP_CHANNELS_H

#include "criteria.h"

/* A family of channels of one weight matrix: the matrix is theta[offset .. offset+size),
 * channel b is its coordinates b*step + j*stride (j < blocks.size). */
typedef struct channel_family {
    const char *name;
    int offset, size;
    fi_blocks blocks;
} channel_family;

/* The four families: output channels (rows) and input channels (columns) of W1 and W2. */
enum { CHANNEL_FAMILIES = 4 };
extern const channel_family channel_families[CHANNEL_FAMILIES];

/* Channel FI of a family from dataset-average element FI: out[b] = sum over channel b. */
int channel_fi(fi_context *ctx, const param_criteria *pc, const channel_family *fam,
               double *out);

/* Prints the top channels by reduced element FI, then per family the block FI of whole
 * channels over the set's images: ranks, how many blocks saturate at (1-P_k)/P_k, and how
 * the rank-1 row blocks relate to the bias FI. Returns 0, or -1 after printing why. */
int channel_report(fi_context *ctx, const double *theta, const digits_set *set,
                   const param_criteria *pc);

#endif
