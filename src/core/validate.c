/* The validation layer: block layouts, probabilities and class modes, dimensions, dtypes,
 * flags, target classes and non-finite inputs. A failed check names what failed on the
 * context and returns its own status; nothing is computed or written before. */
#include "core/validate.h"

#include <stdint.h>

/* a*b + c with overflow detection. */
static bool affine_coord(int64_t b, int64_t step, int64_t j, int64_t stride, int64_t *out)
{
    int64_t x, y;
    if (__builtin_mul_overflow(b, step, &x)) return false;
    if (__builtin_mul_overflow(j, stride, &y)) return false;
    return !__builtin_add_overflow(x, y, out);
}

int fi__layout_affine(fi_context *ctx, const fi_blocks *blocks, int64_t n, fi_layout *out)
{
    if (!blocks) return fi__fail(ctx, FI_ERR_NULL, "blocks is NULL");
    const fi_blocks bl = *blocks;
    if (bl.count < 1)
        return fi__fail(ctx, FI_ERR_DIMENSION, "blocks->count must be >= 1 (got %lld)",
                        (long long)bl.count);
    if (bl.size < 1)
        return fi__fail(ctx, FI_ERR_DIMENSION, "blocks->size must be >= 1 (got %lld)",
                        (long long)bl.size);
    if (bl.stride == 0 && bl.size > 1)
        return fi__fail(ctx, FI_ERR_DIMENSION,
                        "blocks->stride is 0 with size %lld: a block would repeat one coordinate",
                        (long long)bl.size);
    /* Coordinates are affine in (b, j), so their extremes are at the four corners. */
    const int64_t bs[2] = {0, bl.count - 1}, js[2] = {0, bl.size - 1};
    for (int u = 0; u < 2; u++) {
        for (int v = 0; v < 2; v++) {
            int64_t c;
            if (!affine_coord(bs[u], bl.step, js[v], bl.stride, &c))
                return fi__fail(ctx, FI_ERR_DIMENSION,
                                "block layout overflows int64 (count %lld, size %lld, "
                                "stride %lld, step %lld)",
                                (long long)bl.count, (long long)bl.size, (long long)bl.stride,
                                (long long)bl.step);
            if (c < 0 || c >= n)
                return fi__fail(ctx, FI_ERR_DIMENSION,
                                "block %lld coordinate %lld is %lld, outside [0, n=%lld) "
                                "(count %lld, size %lld, stride %lld, step %lld)",
                                (long long)bs[u], (long long)js[v], (long long)c, (long long)n,
                                (long long)bl.count, (long long)bl.size, (long long)bl.stride,
                                (long long)bl.step);
        }
    }
    out->count = bl.count;
    out->indexed = false;
    out->affine = bl;
    out->offsets = out->indices = NULL;
    out->max_size = bl.size;
    return FI_OK;
}

int fi__layout_indexed(fi_context *ctx, const fi_index_blocks *blocks, int64_t n, fi_layout *out)
{
    if (!blocks) return fi__fail(ctx, FI_ERR_NULL, "blocks is NULL");
    if (!blocks->offsets) return fi__fail(ctx, FI_ERR_NULL, "blocks->offsets is NULL");
    if (!blocks->indices) return fi__fail(ctx, FI_ERR_NULL, "blocks->indices is NULL");
    const int64_t count = blocks->count;
    if (count < 1)
        return fi__fail(ctx, FI_ERR_DIMENSION, "blocks->count must be >= 1 (got %lld)",
                        (long long)count);
    if (blocks->offsets[0] != 0)
        return fi__fail(ctx, FI_ERR_DIMENSION, "blocks->offsets[0] must be 0 (got %lld)",
                        (long long)blocks->offsets[0]);
    int64_t max_size = 0;
    for (int64_t b = 0; b < count; b++) {
        int64_t lo = blocks->offsets[b], hi = blocks->offsets[b + 1];
        if (hi <= lo)
            return fi__fail(ctx, FI_ERR_DIMENSION,
                            "block %lld is empty or offsets decrease (offsets %lld, %lld)",
                            (long long)b, (long long)lo, (long long)hi);
        if (hi - lo > max_size) max_size = hi - lo;
    }
    const int64_t total = blocks->offsets[count];
    for (int64_t t = 0; t < total; t++) {
        int64_t c = blocks->indices[t];
        if (c < 0 || c >= n)
            return fi__fail(ctx, FI_ERR_DIMENSION, "blocks->indices[%lld] = %lld is outside [0, n=%lld)",
                            (long long)t, (long long)c, (long long)n);
    }
    out->count = count;
    out->indexed = true;
    memset(&out->affine, 0, sizeof out->affine);
    out->offsets = blocks->offsets;
    out->indices = blocks->indices;
    out->max_size = max_size;
    return FI_OK;
}

int fi__problem_init(fi_context *ctx, int64_t n_classes, const double *probs, fi_dtype dtype,
                     const void *scores, int64_t n, int64_t ld, fi_problem *pb)
{
    memset(pb, 0, sizeof *pb);
    if (!probs) return fi__fail(ctx, FI_ERR_NULL, "probs is NULL");
    if (!scores) return fi__fail(ctx, FI_ERR_NULL, "scores is NULL");
    if (!fi__dtype_valid(dtype))
        return fi__fail(ctx, FI_ERR_DTYPE, "unknown dtype %d (FI_F64=0, FI_F32=1, FI_BF16=2, "
                                           "FI_F16=3)", (int)dtype);
    if (n_classes < 2)
        return fi__fail(ctx, FI_ERR_DIMENSION, "n_classes must be >= 2 (got %lld)",
                        (long long)n_classes);
    if (n < 1) return fi__fail(ctx, FI_ERR_DIMENSION, "n must be >= 1 (got %lld)", (long long)n);
    if (ld < n)
        return fi__fail(ctx, FI_ERR_DIMENSION, "ld must be >= n (ld %lld, n %lld)",
                        (long long)ld, (long long)n);
    int64_t last;
    if (__builtin_mul_overflow(n_classes - 1, ld, &last) || __builtin_add_overflow(last, n, &last) ||
        (uint64_t)last > SIZE_MAX / (uint64_t)fi__dtype_bytes(dtype))
        return fi__fail(ctx, FI_ERR_DIMENSION,
                        "scores extent (n_classes-1)*ld + n overflows (K %lld, ld %lld, n %lld)",
                        (long long)n_classes, (long long)ld, (long long)n);

    double sum = 0;
    for (int64_t i = 0; i < n_classes; i++) {
        if (!isfinite(probs[i]))
            return fi__fail(ctx, FI_ERR_PROBABILITY, "probs[%lld] is not finite", (long long)i);
        if (probs[i] < 0)
            return fi__fail(ctx, FI_ERR_PROBABILITY, "probs[%lld] = %g is negative",
                            (long long)i, probs[i]);
        sum += probs[i];
    }
    if (!(sum > 0))
        return fi__fail(ctx, FI_ERR_PROBABILITY, "probabilities sum to 0");
    const double off = fabs(sum - 1.0);
    const int mode = ctx->class_mode;
    if (mode == FI_CLASS_STRICT && off > ctx->prob_tol)
        return fi__fail(ctx, FI_ERR_PROBABILITY,
                        "probabilities sum to %.17g, off 1 by %.3g > FI_OPT_PROB_TOL %.3g "
                        "(strict mode; see FI_OPT_CLASS_MODE for renormalize and remainder)",
                        sum, off, ctx->prob_tol);
    if (mode == FI_CLASS_REMAINDER && sum > 1.0 + ctx->prob_tol)
        return fi__fail(ctx, FI_ERR_PROBABILITY,
                        "remainder-class mode needs sum P <= 1; probabilities sum to %.17g", sum);

    fi_adjust adjust = FI_ADJUST_NONE;
    if (mode == FI_CLASS_RENORMALIZE)
        adjust = FI_ADJUST_CENTER;
    else if (mode == FI_CLASS_REMAINDER && 1.0 - sum > ctx->prob_tol)
        adjust = FI_ADJUST_REMAINDER; /* a remainder below the tolerance is no class at all */
    const int64_t k_eff = n_classes + (adjust == FI_ADJUST_REMAINDER);

    pb->mem = ctx->mem;
    pb->prob = fi__calloc(&ctx->mem, (size_t)k_eff, sizeof(double));
    pb->sqrt_prob = fi__calloc(&ctx->mem, (size_t)k_eff, sizeof(double));
    double *weight = fi__calloc(&ctx->mem, (size_t)n_classes, sizeof(double));
    pb->weight = weight;
    if (!pb->prob || !pb->sqrt_prob || !weight) {
        fi__problem_release(pb);
        return fi__fail(ctx, FI_ERR_NOMEM, "out of memory for %lld class probabilities",
                        (long long)k_eff);
    }
    for (int64_t i = 0; i < n_classes; i++) {
        double p = adjust == FI_ADJUST_CENTER ? probs[i] / sum : probs[i];
        pb->prob[i] = p;
        weight[i] = p;
    }
    if (adjust == FI_ADJUST_REMAINDER) {
        pb->prob[n_classes] = 1.0 - sum;
        pb->remainder_scale = -1.0 / (1.0 - sum);
    }
    for (int64_t i = 0; i < k_eff; i++) pb->sqrt_prob[i] = sqrt(pb->prob[i]);
    pb->sums_to_one = adjust != FI_ADJUST_NONE || off <= ctx->prob_tol;
    pb->top = 0;
    for (int64_t i = 1; i < n_classes; i++)
        if (weight[i] > weight[pb->top]) pb->top = i;
    pb->adjust = adjust;
    pb->k_in = n_classes;
    pb->k_eff = k_eff;
    pb->dtype = dtype;
    pb->scores = scores;
    pb->n = n;
    pb->ld = ld;
    return FI_OK;
}

int fi__problem_setup(fi_context *ctx, int64_t n_classes, const double *probs, fi_dtype dtype,
                      const void *scores, int64_t n, int64_t ld, const void *blocks, bool indexed,
                      fi_problem *pb, fi_layout *l)
{
    int status = fi__problem_init(ctx, n_classes, probs, dtype, scores, n, ld, pb);
    if (status != FI_OK) return status;
    status = indexed ? fi__layout_indexed(ctx, blocks, n, l) : fi__layout_affine(ctx, blocks, n, l);
    if (status != FI_OK) fi__problem_release(pb);
    return status;
}


int fi__check_target_class(fi_context *ctx, const void *target, int64_t target_class,
                           int64_t k_eff)
{
    if (!target && (target_class < 0 || target_class >= k_eff))
        return fi__fail(ctx, FI_ERR_CLASS, "target_class %lld outside [0, %lld) (target is NULL)",
                        (long long)target_class, (long long)k_eff);
    return FI_OK;
}

int fi__check_block_finite(const fi_problem *pb, const fi_layout *l, int64_t b,
                           const void *target, char *err)
{
    const int64_t p = fi__block_size(l, b);
    for (int64_t j = 0; j < p; j++) {
        const int64_t c = fi__block_coord(l, b, j);
        for (int64_t i = 0; i < pb->k_in; i++)
            if (!isfinite(fi__load(pb->dtype, pb->scores, i * pb->ld + c))) {
                snprintf(err, FI_ERRLEN, "score of class %lld at coordinate %lld is not finite",
                         (long long)i, (long long)c);
                return FI_ERR_NONFINITE;
            }
        if (target && !isfinite(fi__load(pb->dtype, target, c))) {
            snprintf(err, FI_ERRLEN, "target[%lld] is not finite", (long long)c);
            return FI_ERR_NONFINITE;
        }
    }
    return FI_OK;
}

/* Layouts whose blocks cover exactly the coordinates [0, count*size): rows, columns,
 * elements, pixels. Their inputs are checked as plain contiguous rows. */
static bool dense_layout(const fi_layout *l)
{
    if (l->indexed) return false;
    const fi_blocks *a = &l->affine;
    return (a->stride == 1 && a->step == a->size) || (a->step == 1 && a->stride == a->count);
}

int fi__check_inputs_finite(fi_context *ctx, const fi_problem *pb, const fi_layout *l,
                            const void *target)
{
    if (dense_layout(l)) {
        const int64_t n = l->count * l->affine.size, es = fi__dtype_bytes(pb->dtype);
        for (int64_t i = 0; i < pb->k_in; i++) {
            const int64_t c = fi__first_nonfinite(pb->dtype, (const char *)pb->scores + i * pb->ld * es, n);
            if (c >= 0)
                return fi__fail(ctx, FI_ERR_NONFINITE,
                                "score of class %lld at coordinate %lld is not finite",
                                (long long)i, (long long)c);
        }
        const int64_t c = target ? fi__first_nonfinite(pb->dtype, target, n) : -1;
        if (c >= 0) return fi__fail(ctx, FI_ERR_NONFINITE, "target[%lld] is not finite", (long long)c);
        return FI_OK;
    }
    char err[FI_ERRLEN];
    for (int64_t b = 0; b < l->count; b++)
        if (fi__check_block_finite(pb, l, b, target, err) != FI_OK)
            return fi__fail(ctx, FI_ERR_NONFINITE, "%s", err);
    return FI_OK;
}
