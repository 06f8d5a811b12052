/* Input validation and the effective classes of one sample (class modes, SPEC fact 6). */
#include "internal.h"

double fi__half_to_double(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    double v;
    if (exp == 0)
        v = ldexp((double)mant, -24); /* subnormal: mant * 2^-24 */
    else if (exp == 31)
        v = mant ? NAN : INFINITY;
    else
        v = ldexp((double)(mant | 0x400), exp - 25);
    return sign ? -v : v;
}

int64_t fi__first_nonfinite(fi_dtype dtype, const void *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(fi__load(dtype, x, i))) return i;
    return -1;
}

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
        (uint64_t)last > SIZE_MAX / fi_dtype_size(dtype))
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

void fi__problem_release(fi_problem *pb)
{
    if (!pb->mem.free) return;
    fi__free(&pb->mem, pb->prob);
    fi__free(&pb->mem, pb->sqrt_prob);
    fi__free(&pb->mem, (void *)pb->weight);
    pb->prob = pb->sqrt_prob = NULL;
    pb->weight = NULL;
}

void fi__problem_scores_at(const fi_problem *pb, int64_t c, double *s)
{
    const int64_t K = pb->k_in;
    double mean = 0;
    for (int64_t i = 0; i < K; i++) {
        s[i] = fi__load(pb->dtype, pb->scores, i * pb->ld + c);
        mean += pb->weight[i] * s[i];
    }
    if (pb->adjust == FI_ADJUST_CENTER) {
        /* Centre around the most probable class's score first. Class-independent scores (all
         * s_i equal, e.g. a weight that feeds only tokens outside the classes) then centre to
         * exactly 0 (rank 0, FI 0), where s_i - sum_j w_j s_j leaves s (1 - sum_j w_j) ~ 1 ulp
         * in every class. And for a confident prediction (1 - P_top ~ 1e-8) the deviation
         * sum_j w_j (s_j - s_top) is dominated by the small classes, so the centred scores
         * keep sum_i P_i s_i = 0 to the rounding of those small terms; centring around
         * another class leaves a spurious direction that lifts FI far above its ceiling. */
        const double s0 = s[pb->top];
        double dev = 0;
        for (int64_t i = 0; i < K; i++) dev += pb->weight[i] * (s[i] - s0);
        for (int64_t i = 0; i < K; i++) s[i] = (s[i] - s0) - dev;
    } else if (pb->adjust == FI_ADJUST_REMAINDER)
        s[K] = pb->remainder_scale * mean;
}

bool fi__gather_block(const fi_problem *pb, const fi_layout *l, int64_t b, double *B, double *s)
{
    const int64_t p = fi__block_size(l, b), K = pb->k_eff;
    bool finite = true;
    for (int64_t j = 0; j < p; j++) {
        fi__problem_scores_at(pb, fi__block_coord(l, b, j), s);
        for (int64_t i = 0; i < K; i++) {
            if (!isfinite(s[i])) finite = false;
            B[j + i * p] = pb->sqrt_prob[i] * s[i];
        }
    }
    return finite;
}
