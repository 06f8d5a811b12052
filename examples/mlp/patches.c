/* Experiment (d): FI of image patches through index-list blocks, masking, saturation. */
#include "patches.h"

#include <math.h>
#include <string.h>

#include "try.h"

const int patch_sides[PATCH_SIZES] = {1, 2, 3, 4};
const char *const patch_names[P_COUNT] = {"FI", "|g x|", "random", "random ink"};

void patch_tiling_make(int side, patch_tiling *t)
{
    enum { n = 8 }; /* the digits are 8 x 8 */
    int b = 0, at = 0;
    t->side = side;
    t->offsets[0] = 0;
    for (int r0 = 0; r0 < n; r0 += side)
        for (int c0 = 0; c0 < n; c0 += side) {
            for (int r = r0; r < r0 + side && r < n; r++)
                for (int c = c0; c < c0 + side && c < n; c++) t->indices[at++] = r * n + c;
            t->offsets[++b] = at;
        }
    t->blocks = (fi_index_blocks){b, t->offsets, t->indices};
}

int patch_fi_image(fi_context *ctx, const double *theta, const double *x, const patch_tiling *t,
                   double *fi, double *normalized, uint8_t *saturated)
{
    int rc = -1;
    fi_metric *m = NULL;
    double sx[MLP_OUT * MLP_IN], own[MLP_IN];
    mlp_cache c;
    const int k = mlp_forward(theta, x, &c);
    mlp_scores(theta, &c, NULL, sx);
    if (!fi) fi = own;
    FI_TRY(ctx, fi_direct_indexed(ctx, MLP_OUT, c.prob, FI_F64, sx, MLP_IN, MLP_IN, &t->blocks,
                                  NULL, k, fi, 0));
    if (normalized || saturated) {
        /* the metric only for its diagnostics: the ceiling and the rank per block */
        FI_TRY(ctx, fi_metric_from_scores_indexed(ctx, MLP_OUT, c.prob, FI_F64, sx, MLP_IN,
                                                  MLP_IN, &t->blocks, &m));
        FI_TRY(ctx, fi_normalize_class(ctx, m, k, fi, normalized, saturated));
    }
    rc = 0;
fail:
    fi_metric_free(m);
    return rc;
}

/* 1 when zeroing the pixels of patch b of x changes the prediction from k. */
static int patch_flips(const double *theta, const double *x, int k, const patch_tiling *t,
                       int64_t b)
{
    double xm[MLP_IN];
    mlp_cache c;
    memcpy(xm, x, sizeof xm);
    for (int64_t j = t->offsets[b]; j < t->offsets[b + 1]; j++) xm[t->indices[j]] = 0;
    return mlp_forward(theta, xm, &c) != k;
}

int experiment_patches(fi_context *ctx, const double *theta, const digits_set *test,
                       unsigned seed, patch_result *out)
{
    memset(out, 0, sizeof *out);
    for (int z = 0; z < PATCH_SIZES; z++) {
        patch_tiling t;
        patch_tiling_make(patch_sides[z], &t);
        const int64_t nb = t.blocks.count;
        long count[P_COUNT][RANDOM_DRAWS] = {{0}}, saturated = 0, ceiling = 0, nothing = 0;
        for (int s = 0; s < test->count; s++) {
            const double *x = test->x[s];
            double fi[MLP_IN], norm[MLP_IN], taylor[MLP_IN], sx[MLP_OUT * MLP_IN];
            uint8_t sat[MLP_IN];
            if (patch_fi_image(ctx, theta, x, &t, fi, norm, sat)) return -1;
            mlp_cache c;
            const int k = mlp_forward(theta, x, &c);
            mlp_scores(theta, &c, NULL, sx);
            int64_t ink[MLP_IN], nink = 0, all_at_ceiling = 1;
            for (int64_t b = 0; b < nb; b++) {
                double gd = 0, mass = 0;
                for (int64_t j = t.offsets[b]; j < t.offsets[b + 1]; j++) {
                    const int64_t px = t.indices[j];
                    gd -= sx[k * MLP_IN + px] * x[px]; /* g . d with d = -x on the patch */
                    mass += x[px];
                }
                taylor[b] = fabs(gd);
                if (mass > 0) ink[nink++] = b;
                saturated += sat[b];
                ceiling += norm[b] >= 0.999;
                all_at_ceiling &= norm[b] >= 0.999;
            }
            nothing += all_at_ceiling;
            int64_t top;
            FI_TRY(ctx, fi_select_top(ctx, fi, nb, 1, &top));
            count[P_FI][0] += patch_flips(theta, x, k, &t, top);
            FI_TRY(ctx, fi_select_top(ctx, taylor, nb, 1, &top));
            count[P_TAYLOR][0] += patch_flips(theta, x, k, &t, top);
            for (int r = 0; r < RANDOM_DRAWS; r++) {
                const uint64_t draw = 100000000u * (uint64_t)seed + 10000u * (uint64_t)s +
                                      100u * (uint64_t)z + (uint64_t)r;
                int64_t pick;
                FI_TRY(ctx, fi_select_random_low(ctx, fi, nb, 0, 1, draw, &pick));
                count[P_RANDOM][r] += patch_flips(theta, x, k, &t, pick);
                if (nink > 0) {
                    double inkfi[MLP_IN];
                    for (int64_t q = 0; q < nink; q++) inkfi[q] = fi[ink[q]];
                    FI_TRY(ctx, fi_select_random_low(ctx, inkfi, nink, 0, 1, draw, &pick));
                    count[P_RANDOM_INK][r] += patch_flips(theta, x, k, &t, ink[pick]);
                }
            }
        }
        for (int cr = 0; cr < P_COUNT; cr++) {
            samples *cell = &out->flips[z][cr];
            cell->n = cr == P_RANDOM || cr == P_RANDOM_INK ? RANDOM_DRAWS : 1;
            for (int r = 0; r < cell->n; r++) cell->v[r] = (double)count[cr][r] / test->count;
        }
        out->saturated[z] = (double)saturated / ((double)nb * test->count);
        out->at_ceiling[z] = (double)ceiling / ((double)nb * test->count);
        out->ranks_nothing[z] = (double)nothing / test->count;
    }
    return 0;
fail:
    return -1;
}
