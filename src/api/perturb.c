/* Perturbation-aware quantities (docs/math.md fact 7): the Fisher length S^2 = d^T G_b d of a
 * concrete edit d of each block, and the first-order change (g.d)^2. */
#include "core/block.h"
#include "core/validate.h"

/* sum_i P_i x_i^2, scaled by the largest |x_i| so that no square overflows or underflows
 * on its own (the result overflows only if the true value exceeds DBL_MAX). */
static double weighted_squares(const double *prob, const double *x, int64_t k)
{
    double mx = 0;
    for (int64_t i = 0; i < k; i++) mx = fmax(mx, fabs(x[i]));
    if (!(mx > 0)) return 0.0;
    return fi__scaled_squares(prob, x, k, mx) * mx * mx;
}

/* Per block b of an affine layout: fisher_len2[b] = sum_i P_i (s_i[b].d[b])^2 over the
 * effective classes of the class mode, taylor2[b] = (g[b].d[b])^2 with g the target or
 * the effective score of class target_class. Results go to scratch first, so that a
 * non-finite score met late leaves both outputs untouched. */
int fi_perturbation(fi_context *ctx, int64_t n_classes, const double *probs, fi_dtype dtype,
                    const void *scores, int64_t n, int64_t ld, const fi_blocks *blocks,
                    const void *target, int64_t target_class, const double *delta,
                    double *fisher_len2, double *taylor2)
{
    if (!ctx) return FI_ERR_NULL;
    if (!delta) return fi__fail(ctx, FI_ERR_NULL, "delta is NULL");
    fi_problem pb;
    fi_layout l;
    int status = fi__problem_setup(ctx, n_classes, probs, dtype, scores, n, ld, blocks, false, &pb, &l);
    if (status != FI_OK) return status;
    const int64_t K = pb.k_eff;
    const bool class_target = taylor2 && !target;
    if (class_target) status = fi__check_target_class(ctx, NULL, target_class, K);
    int64_t bad;
    if (status == FI_OK && (bad = fi__first_nonfinite(FI_F64, delta, n)) >= 0)
        status = fi__fail(ctx, FI_ERR_NONFINITE, "delta[%lld] is not finite", (long long)bad);
    if (status == FI_OK && taylor2 && target && (bad = fi__first_nonfinite(dtype, target, n)) >= 0)
        status = fi__fail(ctx, FI_ERR_NONFINITE, "target[%lld] is not finite", (long long)bad);
    /* Scores are read only when a requested output needs them. */
    const bool need_scores = fisher_len2 || class_target;
    const int64_t count = l.count;
    double *s = NULL, *sd = NULL, *res = NULL;
    if (status == FI_OK && (fisher_len2 || taylor2)) {
        s = fi__calloc(&ctx->mem, (size_t)K, sizeof(double));
        sd = fi__calloc(&ctx->mem, (size_t)K, sizeof(double));
        res = fi__calloc(&ctx->mem, (size_t)count, 2 * sizeof(double));
        if (!s || !sd || !res)
            status = fi__fail(ctx, FI_ERR_NOMEM, "out of memory for %lld blocks", (long long)count);
    }
    for (int64_t b = 0; status == FI_OK && res && b < count; b++) {
        double gd = 0;
        memset(sd, 0, (size_t)K * sizeof(double));
        for (int64_t j = 0; status == FI_OK && j < l.affine.size; j++) {
            const int64_t c = fi__block_coord(&l, b, j);
            const double d = delta[c];
            if (need_scores) {
                fi__problem_scores_at(&pb, c, s);
                for (int64_t i = 0; i < K; i++) {
                    if (!isfinite(s[i])) {
                        status = fi__fail(ctx, FI_ERR_NONFINITE, "non-finite score of class "
                                          "%lld at coordinate %lld", (long long)i, (long long)c);
                        break;
                    }
                    sd[i] += s[i] * d;
                }
            }
            gd += (target ? fi__load(dtype, target, c) : class_target ? s[target_class] : 0) * d;
        }
        res[2 * b] = need_scores ? weighted_squares(pb.prob, sd, K) : 0.0;
        res[2 * b + 1] = gd * gd;
    }
    if (status == FI_OK) {
        for (int64_t b = 0; res && b < count; b++) {
            if (fisher_len2) fisher_len2[b] = res[2 * b];
            if (taylor2) taylor2[b] = res[2 * b + 1];
        }
        fi__ok(ctx);
    }
    fi__free(&ctx->mem, s);
    fi__free(&ctx->mem, sd);
    fi__free(&ctx->mem, res);
    fi__problem_release(&pb);
    return status;
}
