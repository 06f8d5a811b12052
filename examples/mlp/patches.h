/* Experiment (d), the paper's figure 1 with patches: FI of s x s image patches through
 * index-list blocks (fi_direct_indexed, fi_metric_from_scores_indexed), masking each test
 * image's top patch against a random patch, and where patch FI saturates (SPEC fact 3). */
#ifndef MLP_PATCHES_H
#define MLP_PATCHES_H

#include <stdint.h>

#include "criteria.h"
#include "experiments.h"

/* The 8x8 image tiled by s x s patches from the top-left corner, clipped at the right and
 * bottom border (s = 3 gives 3x3, 3x2, 2x3 and 2x2 patches): no affine fi_blocks layout
 * describes a 2-D patch, so block b lists its pixel indices. */
typedef struct patch_tiling {
    int side;
    fi_index_blocks blocks;
    int64_t offsets[MLP_IN + 1];
    int64_t indices[MLP_IN];
} patch_tiling;
void patch_tiling_make(int side, patch_tiling *t);

enum { PATCH_SIZES = 4 };
extern const int patch_sides[PATCH_SIZES]; /* 1, 2, 3, 4 */

/* One image's patch FI (class target = predicted class), FI / ceiling (1-P_k)/P_k, and the
 * saturated flag of fi_normalize_class (block rank reached K-1). Any output may be NULL. */
int patch_fi_image(fi_context *ctx, const double *theta, const double *x, const patch_tiling *t,
                   double *fi, double *normalized, uint8_t *saturated);

enum patch_criterion {
    P_FI,         /* block FI of the patch                                   */
    P_TAYLOR,     /* |g . d| of masking the patch, d = -x on it ((g.d)^2 order) */
    P_RANDOM,     /* a random patch (RANDOM_DRAWS draws per image)           */
    P_RANDOM_INK, /* a random patch holding ink                              */
    P_COUNT
};
extern const char *const patch_names[P_COUNT];

typedef struct patch_result {
    samples flips[PATCH_SIZES][P_COUNT]; /* fraction of test images whose prediction flips
                                            when their top-1 patch is masked              */
    double saturated[PATCH_SIZES];  /* fraction of all patches flagged saturated (rank K-1) */
    double at_ceiling[PATCH_SIZES]; /* fraction of all patches with FI within 0.1% of the
                                       ceiling (rank K-1, or fewer classes that matter)    */
    double ranks_nothing[PATCH_SIZES]; /* fraction of images whose patches ALL sit at the
                                          ceiling: FI then ranks nothing                   */
} patch_result;
int experiment_patches(fi_context *ctx, const double *theta, const digits_set *test,
                       unsigned seed, patch_result *out);

#endif
