/* Channel FI: reduction of element FI, and the saturation of block FI. */
#include "channels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "try.h"

/* The rows of an R x C row-major matrix are the blocks {R, C, 1, C}, its columns
 * {C, R, C, 1}. */
const channel_family channel_families[CHANNEL_FAMILIES] = {
    {"W1 rows (hidden units)", MLP_W1, MLP_H * MLP_IN, {MLP_H, MLP_IN, 1, MLP_IN}},
    {"W1 columns (pixels)", MLP_W1, MLP_H * MLP_IN, {MLP_IN, MLP_H, MLP_IN, 1}},
    {"W2 rows (classes)", MLP_W2, MLP_OUT * MLP_H, {MLP_OUT, MLP_H, 1, MLP_H}},
    {"W2 columns (hidden units)", MLP_W2, MLP_OUT * MLP_H, {MLP_H, MLP_OUT, MLP_H, 1}},
};

int channel_fi(fi_context *ctx, const param_criteria *pc, const channel_family *fam,
               double *out)
{
    FI_TRY(ctx, fi_reduce(ctx, pc->fi + fam->offset, fam->size, &fam->blocks, FI_REDUCE_SUM,
                          out));
    return 0;
fail:
    return -1;
}

/* Prints the `top` channels of largest value as "index (value)". */
static int print_top(fi_context *ctx, const double *v, int count, int top)
{
    int64_t idx[MLP_IN];
    FI_TRY(ctx, fi_select_top(ctx, v, count, top, idx));
    for (int t = 0; t < top; t++) printf(" %2d (%.2g)", (int)idx[t], v[idx[t]]);
    printf("\n");
    return 0;
fail:
    return -1;
}

/* Per-family statistics of whole-channel block FI over many images. */
typedef struct block_stats {
    long blocks, rank0, rank1, rank_full; /* rank_full: numerical rank >= K-1 */
    long nonzero, at_ceiling;             /* of the blocks of rank > 0         */
    double norm_sum;                      /* their normalized FI, summed        */
} block_stats;

/* Adds one image's whole-channel block FI of family fam to st. */
static int block_fi_image(fi_context *ctx, const mlp_cache *c, int k, const double *sp,
                          const channel_family *fam, block_stats *st)
{
    int rc = -1;
    fi_metric *m = NULL;
    double bfi[MLP_IN], norm[MLP_IN];
    int64_t rank[MLP_IN];
    /* The family's matrix seen on its own: n = its size, rows of the K scores ld = NPARAM. */
    FI_TRY(ctx, fi_metric_from_scores(ctx, MLP_OUT, c->prob, FI_F64, sp + fam->offset, fam->size,
                                      MLP_NPARAM, &fam->blocks, &m));
    FI_TRY(ctx, fi_compute(ctx, m, FI_F64, sp + (long)k * MLP_NPARAM + fam->offset, bfi, 0));
    FI_TRY(ctx, fi_normalize_class(ctx, m, k, bfi, norm, NULL));
    FI_TRY(ctx, fi_metric_ranks(ctx, m, rank));
    for (int64_t b = 0; b < fam->blocks.count; b++) {
        st->blocks++;
        st->rank0 += rank[b] == 0;
        st->rank1 += rank[b] == 1;
        st->rank_full += rank[b] >= MLP_OUT - 1;
        if (rank[b] > 0) {
            st->nonzero++;
            st->at_ceiling += norm[b] >= 0.999;
            st->norm_sum += norm[b];
        }
    }
    rc = 0;
fail:
    fi_metric_free(m);
    return rc;
}

int channel_report(fi_context *ctx, const double *theta, const digits_set *set,
                   const param_criteria *pc)
{
    int rc = -1;
    double *sp = malloc((size_t)MLP_OUT * MLP_NPARAM * sizeof *sp);
    if (!sp) goto fail;
    printf("\nChannel FI = element FI summed over the channel (fi_reduce), mean over %d images;"
           "\nthe top channels by it, as index (value):\n", pc->samples);
    for (int f = 0; f < CHANNEL_FAMILIES; f++) {
        double v[MLP_IN];
        if (channel_fi(ctx, pc, &channel_families[f], v)) goto fail;
        printf("  %-26s", channel_families[f].name);
        if (print_top(ctx, v, (int)channel_families[f].blocks.count, 5)) goto fail;
    }

    /* Block FI of whole channels, image by image. A per-image gradient of a dense layer is
     * an outer product (dW1 = dpre x^T), so a row of W1 has rank <= 1 and its block FI is
     * exactly the FI of that unit's pre-activation, i.e. the element FI of its bias; a
     * column of W1 has rank up to K-1 = 9 and saturates. We measure both. */
    block_stats st[CHANNEL_FAMILIES];
    memset(st, 0, sizeof st);
    double worst_bias = 0; /* max |FI(row j of W1) - FI(b1_j)| / bound over images */
    for (int s = 0; s < set->count; s++) {
        mlp_cache c;
        const int k = mlp_forward(theta, set->x[s], &c);
        mlp_scores(theta, &c, sp, NULL);
        for (int f = 0; f < CHANNEL_FAMILIES; f++)
            if (block_fi_image(ctx, &c, k, sp, &channel_families[f], &st[f])) goto fail;
        double rows[MLP_H], bias[MLP_H];
        const fi_blocks bias_el = {MLP_H, 1, 1, 1};
        FI_TRY(ctx, fi_direct(ctx, MLP_OUT, c.prob, FI_F64, sp + MLP_W1, MLP_H * MLP_IN,
                              MLP_NPARAM, &channel_families[0].blocks, NULL, k, rows, 0));
        FI_TRY(ctx, fi_direct(ctx, MLP_OUT, c.prob, FI_F64, sp + MLP_B1, MLP_H, MLP_NPARAM,
                              &bias_el, NULL, k, bias, 0));
        double rest = 0; /* 1 - P_k, summed so that it keeps its digits when P_k ~ 1 */
        for (int i = 0; i < MLP_OUT; i++) rest += i == k ? 0 : c.prob[i];
        for (int j = 0; j < MLP_H && rest > 0; j++)
            worst_bias = fmax(worst_bias, fabs(rows[j] - bias[j]) / (rest / c.prob[k]));
    }
    printf("\nBlock FI of whole channels (class target) over %d images x all channels, with\n"
           "its numerical rank and FI / ceiling (fi_normalize_class; ceiling (1-P_k)/P_k):\n"
           "  %-26s %3s %7s %7s %7s %11s %11s\n", set->count, "family", "p", "rank 0", "rank 1",
           "rank>=9", "at ceiling", "mean FI/ceil");
    for (int f = 0; f < CHANNEL_FAMILIES; f++) {
        const block_stats *t = &st[f];
        const double nz = t->nonzero ? (double)t->nonzero : 1;
        printf("  %-26s %3d %6.1f%% %6.1f%% %6.1f%% %10.1f%% %11.3f\n", channel_families[f].name,
               (int)channel_families[f].blocks.size, 100.0 * t->rank0 / t->blocks,
               100.0 * t->rank1 / t->blocks, 100.0 * t->rank_full / t->blocks,
               100.0 * t->at_ceiling / nz, t->norm_sum / nz);
    }
    printf("  (\"at ceiling\" and the mean: over the blocks of rank > 0; at ceiling = within "
           "0.1%%.)\n"
           "  Block FI of a W1 row equals the element FI of that unit's bias to %.1e of the\n"
           "  ceiling: one image's gradient of a row is dpre_j x^T, a rank-1 block.\n", worst_bias);
    rc = 0;
fail:
    free(sp);
    return rc;
}
