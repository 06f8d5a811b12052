/* Perturbation-aware quantities (SPEC fact 7): the Fisher length S^2 = d^T G_b d of a
 * concrete edit d of each block, and the first-order change (g.d)^2. */
#include "internal.h"

int fi_perturbation(fi_context *ctx, int64_t n_classes, const double *probs, fi_dtype dtype,
                    const void *scores, int64_t n, int64_t ld, const fi_blocks *blocks,
                    const void *target, int64_t target_class, const double *delta,
                    double *fisher_len2, double *taylor2)
{
    if (!ctx) return FI_ERR_NULL;
    if (!delta) return fi__fail(ctx, FI_ERR_NULL, "delta is NULL");
    fi_problem pb;
    int status = fi__problem_init(ctx, n_classes, probs, dtype, scores, n, ld, &pb);
    if (status != FI_OK) return status;
    fi_layout l;
    status = fi__layout_affine(ctx, blocks, n, &l);
    const int64_t K = pb.k_eff;
    if (status == FI_OK && taylor2 && !target && (target_class < 0 || target_class >= K))
        status = fi__fail(ctx, FI_ERR_CLASS, "target_class %lld outside [0, %lld)",
                          (long long)target_class, (long long)K);
    int64_t bad;
    if (status == FI_OK && (bad = fi__first_nonfinite(FI_F64, delta, n)) >= 0)
        status = fi__fail(ctx, FI_ERR_NONFINITE, "delta[%lld] is not finite", (long long)bad);
    if (status == FI_OK && taylor2 && target && (bad = fi__first_nonfinite(dtype, target, n)) >= 0)
        status = fi__fail(ctx, FI_ERR_NONFINITE, "target[%lld] is not finite", (long long)bad);
    double *s = NULL, *sd = NULL, *s2 = NULL, *t2 = NULL;
    if (status == FI_OK) {
        s = fi__calloc(&ctx->mem, (size_t)K, sizeof(double));
        sd = fi__calloc(&ctx->mem, (size_t)K, sizeof(double));
        s2 = fi__calloc(&ctx->mem, (size_t)l.count, sizeof(double));
        t2 = fi__calloc(&ctx->mem, (size_t)l.count, sizeof(double));
        if (!s || !sd || !s2 || !t2)
            status = fi__fail(ctx, FI_ERR_NOMEM, "out of memory for %lld blocks", (long long)l.count);
    }
    /* Results go to scratch first: a non-finite score found late leaves the outputs untouched. */
    for (int64_t b = 0; status == FI_OK && b < l.count; b++) {
        const int64_t p = l.affine.size;
        double gd = 0;
        memset(sd, 0, (size_t)K * sizeof(double));
        for (int64_t j = 0; j < p; j++) {
            const int64_t c = fi__block_coord(&l, b, j);
            fi__problem_scores_at(&pb, c, s);
            for (int64_t i = 0; i < K; i++) {
                if (!isfinite(s[i])) {
                    status = fi__fail(ctx, FI_ERR_NONFINITE, "non-finite score of class %lld at "
                                      "coordinate %lld", (long long)i, (long long)c);
                    break;
                }
                sd[i] += s[i] * delta[c];
            }
            gd += (target ? fi__load(dtype, target, c) : s[target_class < K && target_class >= 0
                                                              ? target_class : 0]) * delta[c];
        }
        double acc = 0;
        for (int64_t i = 0; i < K; i++) acc += pb.prob[i] * sd[i] * sd[i];
        s2[b] = acc;
        t2[b] = gd * gd;
    }
    if (status == FI_OK) {
        if (fisher_len2) memcpy(fisher_len2, s2, (size_t)l.count * sizeof(double));
        if (taylor2) memcpy(taylor2, t2, (size_t)l.count * sizeof(double));
        fi__ok(ctx);
    }
    fi__free(&ctx->mem, s);
    fi__free(&ctx->mem, sd);
    fi__free(&ctx->mem, s2);
    fi__free(&ctx->mem, t2);
    fi__problem_release(&pb);
    return status;
}
