/* Saliency criteria through the public API. Scores come from the hand-written backward pass
 * (mlp_scores); libfi turns them into FI and the perturbation-aware quantities. */
#include "criteria.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "try.h"

/* Every parameter is its own block; so is every pixel. */
static const fi_blocks param_elements = {MLP_NPARAM, 1, 1, 1};
static const fi_blocks pixel_elements = {MLP_IN, 1, 1, 1};

int criteria_params(fi_context *ctx, const double *theta, const digits_set *set,
                    param_criteria *out)
{
    int rc = -1;
    fi_accumulator *acc = NULL;
    double *sp = malloc((size_t)MLP_OUT * MLP_NPARAM * sizeof *sp);
    double *work = malloc(4 * (size_t)MLP_NPARAM * sizeof *work);
    if (!sp || !work) {
        fprintf(stderr, "criteria_params: out of memory\n");
        goto fail;
    }
    double *fi = work, *s2 = work + MLP_NPARAM, *t2 = work + 2 * MLP_NPARAM,
           *d = work + 3 * MLP_NPARAM;
    memset(out, 0, sizeof *out);
    out->samples = set->count;
    for (int p = 0; p < MLP_NPARAM; p++) d[p] = -theta[p]; /* zeroing */
    FI_TRY(ctx, fi_accumulator_create(ctx, MLP_NPARAM, &acc));
    for (int s = 0; s < set->count; s++) {
        mlp_cache c;
        const int k = mlp_forward(theta, set->x[s], &c);
        mlp_scores(theta, &c, sp, NULL);
        /* target NULL, class k: the class target of SPEC fact 2, g = +-s_k */
        FI_TRY(ctx, fi_direct(ctx, MLP_OUT, c.prob, FI_F64, sp, MLP_NPARAM, MLP_NPARAM,
                              &param_elements, NULL, k, fi, 0));
        FI_TRY(ctx, fi_accumulator_add(ctx, acc, fi, 1.0));
        FI_TRY(ctx, fi_perturbation(ctx, MLP_OUT, c.prob, FI_F64, sp, MLP_NPARAM, MLP_NPARAM,
                                    &param_elements, NULL, k, d, s2, t2));
        for (int p = 0; p < MLP_NPARAM; p++) {
            double fisher = 0; /* written out here: the baseline as its users compute it */
            for (int i = 0; i < MLP_OUT; i++) {
                const double si = sp[(long)i * MLP_NPARAM + p];
                fisher += c.prob[i] * si * si;
            }
            out->fisher[p] += fisher;
            out->s2[p] += s2[p];
            out->taylor[p] += fabs(sp[(long)k * MLP_NPARAM + p] * theta[p]);
            out->fi_s2[p] += fi[p] * s2[p];
            out->gd2[p] += t2[p];
        }
    }
    for (int p = 0; p < MLP_NPARAM; p++) {
        const double inv = 1.0 / set->count;
        out->fisher[p] *= inv;
        out->s2[p] *= inv;
        out->taylor[p] *= inv;
        out->fi_s2[p] *= inv;
        out->gd2[p] *= inv;
    }
    FI_TRY(ctx, fi_accumulator_result(ctx, acc, out->fi, out->fi_se));
    rc = 0;
fail:
    fi_accumulator_free(acc);
    free(work);
    free(sp);
    return rc;
}

int criteria_pixels(fi_context *ctx, const double *theta, const double *x, pixel_criteria *out)
{
    double sx[MLP_OUT * MLP_IN];
    mlp_cache c;
    const int k = mlp_forward(theta, x, &c);
    mlp_scores(theta, &c, NULL, sx);
    out->pred = k;
    FI_TRY(ctx, fi_direct(ctx, MLP_OUT, c.prob, FI_F64, sx, MLP_IN, MLP_IN, &pixel_elements,
                          NULL, k, out->fi, 0));
    for (int j = 0; j < MLP_IN; j++) {
        out->grad[j] = fabs(sx[k * MLP_IN + j]);
        out->taylor[j] = fabs(sx[k * MLP_IN + j] * x[j]);
    }
    return 0;
fail:
    return -1;
}

int criteria_pixel_map(fi_context *ctx, const double *theta, const digits_set *set,
                       double *mean, double *se)
{
    int rc = -1;
    fi_accumulator *acc = NULL;
    FI_TRY(ctx, fi_accumulator_create(ctx, MLP_IN, &acc));
    for (int s = 0; s < set->count; s++) {
        pixel_criteria pc;
        if (criteria_pixels(ctx, theta, set->x[s], &pc)) goto fail;
        FI_TRY(ctx, fi_accumulator_add(ctx, acc, pc.fi, 1.0));
    }
    FI_TRY(ctx, fi_accumulator_result(ctx, acc, mean, se));
    rc = 0;
fail:
    fi_accumulator_free(acc);
    return rc;
}
