/* The 16-byte-per-block mean accumulator (issue 13, part 2; docs/aggregation.md).
 *
 * Per block two doubles, sum w*FI and sum w*FI^2, interleaved so that a sample touches one
 * 16-byte slot per block; the common sums w, w^2 and the sample count are scalars. FI and the
 * weights are >= 0, so every term is >= 0 and no sum ever cancels: whatever the order of adds
 * and merges, each sum is within a relative (N-1)*u (u = 2^-53, N terms) of the exact sum of
 * the rounded terms (Higham, Accuracy and Stability, eq. 4.4 for non-negative terms). An
 * order-independent exact sum cannot fit 16 bytes at double precision: the binned sums of
 * fi_accumulator need a window position and K counters of W + 34 bits each, and two 16-byte
 * counters leave at most 25 significant bits; docs/aggregation.md has the argument. */
#include "core/image.h"
#include "internal.h"
#include "solve/dispatch.h"

#define MEAN_MAGIC "LIBFIMEA"
#define MEAN_SEED UINT64_C(0x4c4942464d454131) /* "LIBFMEA1" */
#define MEAN_FORMAT 1u
#define MEAN_HEAD 56u /* magic, format, count, samples, w, w2, bytes per block */
#define MEAN_CHUNK 8192 /* FI values of one fused chunk: 64 KiB, resident in L2 */

struct fi_mean {
    fi_allocator mem;
    int64_t count;
    int64_t samples;
    double w, w2;
    double *s; /* s[2b] = sum w*FI, s[2b+1] = sum w*FI^2 */
};

static int check_weight(fi_context *ctx, double weight)
{
    if (!isfinite(weight) || weight < 0)
        return fi__fail(ctx, FI_ERR_OPTION, "weight must be finite and >= 0 (got %g)", weight);
    if (!isfinite(weight * weight))
        return fi__fail(ctx, FI_ERR_OPTION, "weight %g: its square overflows a double", weight);
    return FI_OK;
}

static fi_mean *mean_alloc(fi_context *ctx, int64_t count)
{
    fi_mean *m = fi__calloc(&ctx->mem, 1, sizeof *m);
    /* calloc: the zero pages of a large accumulator are mapped lazily, so creating one for
     * billions of blocks costs nothing until the first add touches them. */
    double *s = m ? fi__calloc(&ctx->mem, (size_t)count, 2 * sizeof(double)) : NULL;
    if (!s) {
        fi__free(&ctx->mem, m);
        return NULL;
    }
    m->mem = ctx->mem;
    m->count = count;
    m->s = s;
    return m;
}

int fi_mean_create(fi_context *ctx, int64_t count, fi_mean **acc)
{
    if (!ctx) return FI_ERR_NULL;
    if (!acc) return fi__fail(ctx, FI_ERR_NULL, "acc (output pointer) is NULL");
    if (count < 1)
        return fi__fail(ctx, FI_ERR_DIMENSION, "mean accumulator count must be >= 1 (got %lld)",
                        (long long)count);
    if ((uint64_t)count > SIZE_MAX / (4 * sizeof(double)))
        return fi__fail(ctx, FI_ERR_DIMENSION, "mean accumulator of %lld blocks overflows size_t",
                        (long long)count);
    fi_mean *m = mean_alloc(ctx, count);
    if (!m)
        return fi__fail(ctx, FI_ERR_NOMEM, "out of memory for a mean accumulator of %lld blocks",
                        (long long)count);
    *acc = m;
    fi__ok(ctx);
    return FI_OK;
}

void fi_mean_free(fi_mean *acc)
{
    if (!acc) return;
    const fi_allocator mem = acc->mem;
    fi__free(&mem, acc->s);
    fi__free(&mem, acc);
}

/* s[2b] += w*x[b], s[2b+1] += w*x[b]^2 for b in [0, len): the loop every add runs. */
static void add_terms(double *restrict s, const double *restrict x, int64_t len, double w)
{
    for (int64_t b = 0; b < len; b++) {
        const double wx = w * x[b];
        s[2 * b] += wx;
        s[2 * b + 1] += wx * x[b];
    }
}

static void add_scalars(fi_mean *m, double weight)
{
    m->w += weight;
    m->w2 += weight * weight;
    m->samples++;
}

int fi_mean_add(fi_context *ctx, fi_mean *acc, const double *fi, double weight)
{
    if (!ctx) return FI_ERR_NULL;
    if (!acc) return fi__fail(ctx, FI_ERR_NULL, "acc is NULL");
    if (!fi) return fi__fail(ctx, FI_ERR_NULL, "fi is NULL");
    int status = check_weight(ctx, weight);
    if (status != FI_OK) return status;
    if (acc->samples == INT64_MAX)
        return fi__fail(ctx, FI_ERR_DIMENSION, "mean accumulator holds the maximum number of "
                                               "samples");
    /* Everything is checked before anything is written: acc is unchanged on failure. The
     * check is branch-free per chunk so that it streams at the speed of a read. */
    enum { CH = 1024 };
    for (int64_t b0 = 0; b0 < acc->count; b0 += CH) {
        const int64_t len = acc->count - b0 < CH ? acc->count - b0 : CH;
        int bad = 0;
        for (int64_t j = 0; j < len; j++) bad |= !(fi[b0 + j] >= 0) | !(fi[b0 + j] <= DBL_MAX);
        if (!bad) continue;
        for (int64_t j = 0; j < len; j++) {
            const double x = fi[b0 + j];
            if (!isfinite(x))
                return fi__fail(ctx, FI_ERR_NONFINITE, "fi[%lld] is not finite",
                                (long long)(b0 + j));
            if (x < 0)
                return fi__fail(ctx, FI_ERR_NONFINITE, "fi[%lld] = %g is negative (FI is >= 0)",
                                (long long)(b0 + j), x);
        }
    }
    add_terms(acc->s, fi, acc->count, weight);
    add_scalars(acc, weight);
    fi__ok(ctx);
    return FI_OK;
}

/* The fused elements path: scores of contiguous elements, the problem fi_direct streams with
 * its vector kernel. Inputs are checked first (as fi_direct does), so the kernel cannot fail
 * and acc is only written once nothing can go wrong. */
static int add_elements(fi_context *ctx, fi_mean *acc, double weight, const fi_problem *pb,
                        const void *target, int64_t target_class, bool single_pass)
{
    const int64_t count = acc->count;
    const size_t es = fi_dtype_size(pb->dtype);
    for (int64_t i = 0; i < pb->k_in && !single_pass; i++) {
        const int64_t c = fi__first_nonfinite(pb->dtype,
                                                 (const char *)pb->scores + (size_t)(i * pb->ld) * es,
                                                 count);
        if (c >= 0)
            return fi__fail(ctx, FI_ERR_NONFINITE,
                            "score of class %lld at coordinate %lld is not finite", (long long)i,
                            (long long)c);
    }
    const int64_t c = target && !single_pass ? fi__first_nonfinite(pb->dtype, target, count) : -1;
    if (c >= 0) return fi__fail(ctx, FI_ERR_NONFINITE, "target[%lld] is not finite", (long long)c);
    const fi_kernels *kern = fi__kernels(ctx);
    const double rcond = fi__rcond(ctx, pb->dtype, 1, pb->k_eff), atol = ctx->atol;
    double buf[MEAN_CHUNK];
    for (int64_t b0 = 0; b0 < count; b0 += MEAN_CHUNK) {
        const int64_t len = count - b0 < MEAN_CHUNK ? count - b0 : MEAN_CHUNK;
        /* The kernel addresses coordinate b of the problem; a problem whose scores and target
         * start at b0 computes this chunk as blocks [0, len). */
        fi_problem chunk = *pb;
        chunk.scores = (const char *)pb->scores + (size_t)b0 * es;
        const void *tg = target ? (const void *)((const char *)target + (size_t)b0 * es) : NULL;
        const void *gbase = tg ? tg : (const char *)chunk.scores + (size_t)(target_class * pb->ld) * es;
        const int64_t bad = kern->elements(&chunk, gbase, rcond, atol, 0, len, buf, false);
        if (bad >= 0) /* only with FI_SINGLE_PASS: the chunks before it are added */
            return fi__fail(ctx, FI_ERR_NONFINITE, "non-finite score or target at coordinate "
                            "%lld (FI_SINGLE_PASS: the accumulator holds part of this sample)",
                            (long long)(b0 + bad));
        add_terms(acc->s + 2 * b0, buf, len, weight);
    }
    return FI_OK;
}

int fi_mean_add_direct(fi_context *ctx, fi_mean *acc, double weight, int64_t n_classes,
                       const double *probs, fi_dtype dtype, const void *scores, int64_t n,
                       int64_t ld, const fi_blocks *blocks, const void *target,
                       int64_t target_class, unsigned flags)
{
    if (!ctx) return FI_ERR_NULL;
    if (!acc) return fi__fail(ctx, FI_ERR_NULL, "acc is NULL");
    int status = fi__check_flags(ctx, flags, FI_SINGLE_PASS);
    if (status != FI_OK) return status;
    status = check_weight(ctx, weight);
    if (status != FI_OK) return status;
    if (acc->samples == INT64_MAX)
        return fi__fail(ctx, FI_ERR_DIMENSION, "mean accumulator holds the maximum number of "
                                               "samples");
    fi_problem pb;
    fi_layout l;
    status = fi__problem_setup(ctx, n_classes, probs, dtype, scores, n, ld, blocks, false, &pb, &l);
    if (status != FI_OK) return status;
    if (l.count != acc->count)
        status = fi__fail(ctx, FI_ERR_MISMATCH, "blocks->count %lld differs from the "
                          "accumulator's %lld blocks", (long long)l.count, (long long)acc->count);
    else if (!target && (target_class < 0 || target_class >= pb.k_eff))
        status = fi__fail(ctx, FI_ERR_CLASS, "target_class %lld outside [0, %lld) (target is "
                          "NULL)", (long long)target_class, (long long)pb.k_eff);
    const bool fused = l.affine.size == 1 && l.affine.step == 1 && pb.adjust == FI_ADJUST_NONE &&
                       pb.k_eff <= FI_GRAM_MAX_K;
    if (status == FI_OK && fused)
        status = add_elements(ctx, acc, weight, &pb, target, target_class,
                              flags & FI_SINGLE_PASS);
    fi__problem_release(&pb);
    if (status != FI_OK) return status;
    if (!fused) {
        /* Every other layout and class mode: fi_direct into a buffer of one double per block
         * (a block of p coordinates has p times fewer values than its scores), then the add.
         * fi_direct fails before the buffer is complete, so acc stays untouched. */
        double *buf = fi__calloc(&ctx->mem, (size_t)acc->count, sizeof(double));
        if (!buf)
            return fi__fail(ctx, FI_ERR_NOMEM, "out of memory for the FI of %lld blocks",
                            (long long)acc->count);
        status = fi_direct(ctx, n_classes, probs, dtype, scores, n, ld, blocks, target,
                           target_class, buf, 0); /* the same bits in both modes */
        if (status == FI_OK) add_terms(acc->s, buf, acc->count, weight);
        fi__free(&ctx->mem, buf);
        if (status != FI_OK) return status;
    }
    add_scalars(acc, weight);
    fi__ok(ctx);
    return FI_OK;
}

int fi_mean_merge(fi_context *ctx, fi_mean *dst, const fi_mean *src)
{
    if (!ctx) return FI_ERR_NULL;
    if (!dst || !src) return fi__fail(ctx, FI_ERR_NULL, "%s is NULL", dst ? "src" : "dst");
    if (dst->count != src->count)
        return fi__fail(ctx, FI_ERR_MISMATCH, "mean accumulators of %lld and %lld blocks cannot "
                        "merge", (long long)dst->count, (long long)src->count);
    if (dst->samples > INT64_MAX - src->samples)
        return fi__fail(ctx, FI_ERR_DIMENSION, "merged accumulator would hold more than "
                                               "INT64_MAX samples");
    if (dst == src) { /* self-merge doubles every sum; exact in binary */
        for (int64_t i = 0; i < 2 * dst->count; i++) dst->s[i] *= 2;
        dst->w *= 2;
        dst->w2 *= 2;
        dst->samples *= 2;
    } else {
        for (int64_t i = 0; i < 2 * dst->count; i++) dst->s[i] += src->s[i];
        dst->w += src->w;
        dst->w2 += src->w2;
        dst->samples += src->samples;
    }
    fi__ok(ctx);
    return FI_OK;
}

int fi_mean_result(fi_context *ctx, const fi_mean *acc, double *mean, double *std_error)
{
    if (!ctx) return FI_ERR_NULL;
    if (!acc) return fi__fail(ctx, FI_ERR_NULL, "acc is NULL");
    const double W = acc->w, W2 = acc->w2;
    if (!(W > 0))
        return fi__fail(ctx, FI_ERR_DIMENSION, "mean accumulator has total weight 0 (%lld "
                        "samples): no mean", (long long)acc->samples);
    if (!isfinite(W) || !isfinite(W2))
        return fi__fail(ctx, FI_ERR_NONFINITE, "the sum of the weights (or their squares) "
                                               "overflowed a double");
    for (int64_t b = 0; b < acc->count; b++)
        if (!isfinite(acc->s[2 * b]) || (std_error && !isfinite(acc->s[2 * b + 1])))
            return fi__fail(ctx, FI_ERR_NONFINITE, "the sum of w*FI%s of block %lld overflowed "
                            "a double", isfinite(acc->s[2 * b]) ? "^2" : "", (long long)b);
    /* The estimator of fi_accumulator_result: reliability weights, n_eff = W^2 / W2,
     * SE^2 = (S2/W - mean^2) / (n_eff - 1), 0 with one effective sample or less. */
    const double neff_m1 = (W / W2) * W - 1.0;
    for (int64_t b = 0; b < acc->count; b++) {
        const double m = acc->s[2 * b] / W;
        if (mean) mean[b] = m;
        if (!std_error) continue;
        const double diff = acc->s[2 * b + 1] / W - m * m;
        std_error[b] = neff_m1 > 0 && diff > 0 ? sqrt(diff / neff_m1) : 0.0;
    }
    fi__ok(ctx);
    return FI_OK;
}

int fi_mean_info(const fi_mean *acc, int64_t *count, int64_t *samples, double *total_weight)
{
    if (!acc) return FI_ERR_NULL;
    if (count) *count = acc->count;
    if (samples) *samples = acc->samples;
    if (total_weight) *total_weight = acc->w;
    return FI_OK;
}

/* ---- image (docs/aggregation.md): little-endian 64-bit words
 *   0 "LIBFIMEA"   8 u64 format = 1   16 i64 count   24 i64 samples
 *  32 f64 sum w   40 f64 sum w^2      48 u64 16 (bytes per block)
 *  56 per block f64 sum w*FI, f64 sum w*FI^2       end-8 u64 checksum ---- */

static size_t image_size(int64_t count)
{
    const size_t fixed = MEAN_HEAD + 8;
    if (count < 1 || (uint64_t)count > (SIZE_MAX - fixed) / 16) return 0;
    return fixed + (size_t)count * 16;
}

size_t fi_mean_serialized_size(const fi_mean *acc) { return acc ? image_size(acc->count) : 0; }

int fi_mean_serialize(fi_context *ctx, const fi_mean *acc, void *buf, size_t size)
{
    if (!ctx) return FI_ERR_NULL;
    if (!acc) return fi__fail(ctx, FI_ERR_NULL, "acc is NULL");
    if (!buf) return fi__fail(ctx, FI_ERR_NULL, "buf is NULL");
    const size_t need = image_size(acc->count);
    if (size < need)
        return fi__fail(ctx, FI_ERR_DIMENSION, "buffer of %zu bytes is too small (need %zu)",
                        size, need);
    unsigned char *p = buf;
    memcpy(p, MEAN_MAGIC, 8);
    fi__image_put_u64(p + 8, MEAN_FORMAT);
    fi__image_put_u64(p + 16, (uint64_t)acc->count);
    fi__image_put_u64(p + 24, (uint64_t)acc->samples);
    fi__image_put_f64(p + 32, acc->w);
    fi__image_put_f64(p + 40, acc->w2);
    fi__image_put_u64(p + 48, 16);
    for (int64_t i = 0; i < 2 * acc->count; i++) fi__image_put_f64(p + MEAN_HEAD + 8 * i, acc->s[i]);
    fi__image_put_u64(p + need - 8, fi__image_checksum(MEAN_SEED, p, need - 8));
    fi__ok(ctx);
    return FI_OK;
}

static const fi__image_kind MEAN_IMAGE = {
    .magic = MEAN_MAGIC, .format = MEAN_FORMAT, .head = MEAN_HEAD,
    .noun = "mean", .title = "mean accumulator", .out = "acc",
};

int fi_mean_deserialize(fi_context *ctx, const void *buf, size_t size, fi_mean **acc)
{
    const int opened = fi__image_open(ctx, &MEAN_IMAGE, buf, size, acc);
    if (opened != FI_OK) return opened;
    const unsigned char *p = buf;
    const int64_t count = (int64_t)fi__image_get_u64(p + 16);
    const int64_t samples = (int64_t)fi__image_get_u64(p + 24);
    const size_t need = image_size(count);
    if (need == 0 || fi__image_get_u64(p + 48) != 16)
        return fi__fail(ctx, FI_ERR_FORMAT, "mean image holds an impossible block count %lld or "
                        "block size", (long long)count);
    if (size != need)
        return fi__fail(ctx, FI_ERR_FORMAT, "mean image of %lld blocks must be %zu bytes, got %zu "
                        "(truncated or padded)", (long long)count, need, size);
    if (fi__image_get_u64(p + need - 8) != fi__image_checksum(MEAN_SEED, p, need - 8))
        return fi__fail(ctx, FI_ERR_FORMAT, "checksum mismatch: the mean image is corrupt");
    const double w = fi__image_get_f64(p + 32), w2 = fi__image_get_f64(p + 40);
    if (samples < 0 || !(w >= 0) || !(w2 >= 0) || (samples == 0 && (w != 0 || w2 != 0)))
        return fi__fail(ctx, FI_ERR_FORMAT, "mean image holds impossible totals (samples %lld, "
                        "sum w %g, sum w^2 %g)", (long long)samples, w, w2);
    for (int64_t i = 0; i < 2 * count; i++) {
        const double x = fi__image_get_f64(p + MEAN_HEAD + 8 * i);
        if (!(x >= 0) || (samples == 0 && x != 0))
            return fi__fail(ctx, FI_ERR_FORMAT, "mean image's sum of w*FI%s for block %lld is "
                            "%g: sums of non-negative terms are >= 0 (and 0 without samples)",
                            i % 2 ? "^2" : "", (long long)(i / 2), x);
    }
    fi_mean *m = mean_alloc(ctx, count);
    if (!m)
        return fi__fail(ctx, FI_ERR_NOMEM, "out of memory for a mean accumulator of %lld blocks",
                        (long long)count);
    m->samples = samples;
    m->w = w;
    m->w2 = w2;
    for (int64_t i = 0; i < 2 * count; i++) m->s[i] = fi__image_get_f64(p + MEAN_HEAD + 8 * i);
    *acc = m;
    fi__ok(ctx);
    return FI_OK;
}
