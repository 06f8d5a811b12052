/* Weighted, mergeable FI accumulator (SPEC section 1, "Aggregation").
 *
 * Every sum is kept as an unevaluated double-double (hi + lo, |lo| <= ulp(hi)/2), updated
 * with error-free TwoSum. Merging adds double-doubles. The result of a set of adds and
 * merges then depends on their order only through the double-double rounding, a relative
 * difference below about 4 * 2^-104 * (sum |terms|) / |sum|: far below double precision
 * for sums of non-negative terms (FI and weights are non-negative), so the reported mean
 * is the same double, up to one rounding, in any order. docs/aggregation.md has the bound. */
#include "internal.h"

typedef struct dd {
    double hi, lo;
} dd;

/* hi + lo = a + b exactly (Knuth's TwoSum). */
static inline dd two_sum(double a, double b)
{
    const double s = a + b;
    const double bb = s - a;
    const double err = (a - (s - bb)) + (b - bb);
    return (dd){s, err};
}

static inline dd dd_add(dd a, dd b)
{
    dd s = two_sum(a.hi, b.hi);
    dd t = two_sum(a.lo, b.lo);
    s.lo += t.hi;
    s = two_sum(s.hi, s.lo);
    s.lo += t.lo;
    return two_sum(s.hi, s.lo);
}

static inline dd dd_add_d(dd a, double b) { return dd_add(a, (dd){b, 0.0}); }

struct fi_accumulator {
    fi_allocator mem;
    int64_t count;
    int64_t samples;
    dd w, w2;  /* sum w, sum w^2 */
    dd *wx;    /* per block sum w*FI   */
    dd *wx2;   /* per block sum w*FI^2 */
};

int fi_accumulator_create(fi_context *ctx, int64_t count, fi_accumulator **acc)
{
    if (!ctx) return FI_ERR_NULL;
    if (!acc) return fi__fail(ctx, FI_ERR_NULL, "acc (output pointer) is NULL");
    if (count < 1)
        return fi__fail(ctx, FI_ERR_DIMENSION, "accumulator count must be >= 1 (got %lld)",
                        (long long)count);
    fi_accumulator *a = fi__calloc(&ctx->mem, 1, sizeof *a);
    if (a) {
        a->mem = ctx->mem;
        a->count = count;
        a->wx = fi__calloc(&ctx->mem, (size_t)count, sizeof(dd));
        a->wx2 = a->wx ? fi__calloc(&ctx->mem, (size_t)count, sizeof(dd)) : NULL;
    }
    if (!a || !a->wx2) {
        fi_accumulator_free(a);
        return fi__fail(ctx, FI_ERR_NOMEM, "out of memory for an accumulator of %lld blocks",
                        (long long)count);
    }
    *acc = a;
    fi__ok(ctx);
    return FI_OK;
}

void fi_accumulator_free(fi_accumulator *acc)
{
    if (!acc) return;
    const fi_allocator mem = acc->mem;
    fi__free(&mem, acc->wx);
    fi__free(&mem, acc->wx2);
    fi__free(&mem, acc);
}

int fi_accumulator_add(fi_context *ctx, fi_accumulator *acc, const double *fi, double weight)
{
    if (!ctx) return FI_ERR_NULL;
    if (!acc) return fi__fail(ctx, FI_ERR_NULL, "acc is NULL");
    if (!fi) return fi__fail(ctx, FI_ERR_NULL, "fi is NULL");
    if (!isfinite(weight) || weight < 0)
        return fi__fail(ctx, FI_ERR_OPTION, "weight must be finite and >= 0 (got %g)", weight);
    for (int64_t b = 0; b < acc->count; b++)
        if (!isfinite(fi[b]))
            return fi__fail(ctx, FI_ERR_NONFINITE, "fi[%lld] is not finite", (long long)b);
    for (int64_t b = 0; b < acc->count; b++) {
        const double x = fi[b];
        /* w*x and w*x*x are rounded once each; the sums are exact from there on. */
        acc->wx[b] = dd_add_d(acc->wx[b], weight * x);
        acc->wx2[b] = dd_add_d(acc->wx2[b], weight * x * x);
    }
    acc->w = dd_add_d(acc->w, weight);
    acc->w2 = dd_add_d(acc->w2, weight * weight);
    acc->samples++;
    fi__ok(ctx);
    return FI_OK;
}

int fi_accumulator_merge(fi_context *ctx, fi_accumulator *dst, const fi_accumulator *src)
{
    if (!ctx) return FI_ERR_NULL;
    if (!dst || !src) return fi__fail(ctx, FI_ERR_NULL, "%s is NULL", dst ? "src" : "dst");
    if (dst->count != src->count)
        return fi__fail(ctx, FI_ERR_MISMATCH, "accumulators of %lld and %lld blocks cannot merge",
                        (long long)dst->count, (long long)src->count);
    if (dst == src) {
        /* Doubling in place: every double-double is scaled exactly by 2. */
        for (int64_t b = 0; b < dst->count; b++) {
            dst->wx[b].hi *= 2; dst->wx[b].lo *= 2;
            dst->wx2[b].hi *= 2; dst->wx2[b].lo *= 2;
        }
    } else {
        for (int64_t b = 0; b < dst->count; b++) {
            dst->wx[b] = dd_add(dst->wx[b], src->wx[b]);
            dst->wx2[b] = dd_add(dst->wx2[b], src->wx2[b]);
        }
    }
    const dd w = src->w, w2 = src->w2;
    dst->w = dd_add(dst->w, w);
    dst->w2 = dd_add(dst->w2, w2);
    dst->samples += src->samples;
    fi__ok(ctx);
    return FI_OK;
}

int fi_accumulator_result(fi_context *ctx, const fi_accumulator *acc, double *mean,
                          double *std_error)
{
    if (!ctx) return FI_ERR_NULL;
    if (!acc) return fi__fail(ctx, FI_ERR_NULL, "acc is NULL");
    const double W = acc->w.hi + acc->w.lo;
    if (!(W > 0))
        return fi__fail(ctx, FI_ERR_DIMENSION, "accumulator has total weight 0 (%lld samples): "
                                               "no mean", (long long)acc->samples);
    /* Reliability-weights estimator: var = (sum w x^2 - W mean^2) / (W - sum w^2 / W), and
     * SE = sqrt(var * sum w^2) / W (equal weights: s / sqrt(N)). With one effective sample
     * the variance is undefined and SE is reported as 0. */
    const double W2 = acc->w2.hi + acc->w2.lo;
    const double denom = W - W2 / W;
    for (int64_t b = 0; b < acc->count; b++) {
        const double m = (acc->wx[b].hi + acc->wx[b].lo) / W;
        if (mean) mean[b] = m;
        if (std_error) {
            const dd sq = dd_add_d(acc->wx2[b], -W * m * m);
            double var = denom > 0 ? (sq.hi + sq.lo) / denom : 0.0;
            if (!(var > 0)) var = 0.0;
            std_error[b] = sqrt(var * W2) / W;
        }
    }
    fi__ok(ctx);
    return FI_OK;
}

int fi_accumulator_info(const fi_accumulator *acc, int64_t *count, int64_t *samples,
                        double *total_weight)
{
    if (!acc) return FI_ERR_NULL;
    if (count) *count = acc->count;
    if (samples) *samples = acc->samples;
    if (total_weight) *total_weight = acc->w.hi + acc->w.lo;
    return FI_OK;
}

/* ---- serialization: "LIBFIACC", u32 format version, u32 reserved 0, i64 count,
 * i64 samples, then doubles w.hi w.lo w2.hi w2.lo and per block wx.hi wx.lo wx2.hi wx2.lo,
 * then a u64 FNV-1a checksum of everything before it. All little-endian. ---- */

#define ACC_MAGIC "LIBFIACC"
#define ACC_FORMAT 1u
#define ACC_HEADER 32u

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put_f64(unsigned char *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    put_u64(p, v);
}

static double get_f64(const unsigned char *p)
{
    uint64_t v = get_u64(p);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static size_t image_size(int64_t count)
{
    if (count < 1 || (uint64_t)count > (SIZE_MAX - ACC_HEADER - 40) / 32) return 0;
    return ACC_HEADER + 32 + (size_t)count * 32 + 8;
}

size_t fi_accumulator_serialized_size(const fi_accumulator *acc)
{
    return acc ? image_size(acc->count) : 0;
}

int fi_accumulator_serialize(fi_context *ctx, const fi_accumulator *acc, void *buf, size_t size)
{
    if (!ctx) return FI_ERR_NULL;
    if (!acc) return fi__fail(ctx, FI_ERR_NULL, "acc is NULL");
    if (!buf) return fi__fail(ctx, FI_ERR_NULL, "buf is NULL");
    const size_t need = image_size(acc->count);
    if (size < need)
        return fi__fail(ctx, FI_ERR_DIMENSION, "buffer of %zu bytes is too small (need %zu)",
                        size, need);
    unsigned char *p = buf;
    memcpy(p, ACC_MAGIC, 8);
    put_u64(p + 8, ACC_FORMAT);
    put_u64(p + 16, (uint64_t)acc->count);
    put_u64(p + 24, (uint64_t)acc->samples);
    unsigned char *q = p + ACC_HEADER;
    put_f64(q, acc->w.hi); put_f64(q + 8, acc->w.lo);
    put_f64(q + 16, acc->w2.hi); put_f64(q + 24, acc->w2.lo);
    q += 32;
    for (int64_t b = 0; b < acc->count; b++, q += 32) {
        put_f64(q, acc->wx[b].hi); put_f64(q + 8, acc->wx[b].lo);
        put_f64(q + 16, acc->wx2[b].hi); put_f64(q + 24, acc->wx2[b].lo);
    }
    put_u64(q, fnv1a(p, need - 8));
    fi__ok(ctx);
    return FI_OK;
}

int fi_accumulator_deserialize(fi_context *ctx, const void *buf, size_t size, fi_accumulator **acc)
{
    if (!ctx) return FI_ERR_NULL;
    if (!buf) return fi__fail(ctx, FI_ERR_NULL, "buf is NULL");
    if (!acc) return fi__fail(ctx, FI_ERR_NULL, "acc (output pointer) is NULL");
    const unsigned char *p = buf;
    if (size < ACC_HEADER + 40)
        return fi__fail(ctx, FI_ERR_FORMAT, "buffer of %zu bytes is shorter than any image", size);
    if (memcmp(p, ACC_MAGIC, 8) != 0)
        return fi__fail(ctx, FI_ERR_FORMAT, "not an accumulator image (bad magic)");
    const uint64_t format = get_u64(p + 8);
    if (format != ACC_FORMAT)
        return fi__fail(ctx, FI_ERR_FORMAT, "image format %llu, this library reads %u",
                        (unsigned long long)format, ACC_FORMAT);
    const int64_t count = (int64_t)get_u64(p + 16), samples = (int64_t)get_u64(p + 24);
    const size_t need = image_size(count);
    if (need == 0 || samples < 0)
        return fi__fail(ctx, FI_ERR_FORMAT, "image holds an impossible count %lld / samples %lld",
                        (long long)count, (long long)samples);
    if (size != need)
        return fi__fail(ctx, FI_ERR_FORMAT, "image of %lld blocks needs %zu bytes, got %zu",
                        (long long)count, need, size);
    if (get_u64(p + need - 8) != fnv1a(p, need - 8))
        return fi__fail(ctx, FI_ERR_FORMAT, "checksum mismatch: the image is corrupt");
    fi_accumulator *a = NULL;
    int status = fi_accumulator_create(ctx, count, &a);
    if (status != FI_OK) return status;
    const unsigned char *q = p + ACC_HEADER;
    a->samples = samples;
    a->w = (dd){get_f64(q), get_f64(q + 8)};
    a->w2 = (dd){get_f64(q + 16), get_f64(q + 24)};
    q += 32;
    bool finite = isfinite(a->w.hi + a->w.lo) && isfinite(a->w2.hi + a->w2.lo);
    for (int64_t b = 0; b < count; b++, q += 32) {
        a->wx[b] = (dd){get_f64(q), get_f64(q + 8)};
        a->wx2[b] = (dd){get_f64(q + 16), get_f64(q + 24)};
        finite = finite && isfinite(a->wx[b].hi + a->wx[b].lo) &&
                 isfinite(a->wx2[b].hi + a->wx2[b].lo);
    }
    if (!finite) {
        fi_accumulator_free(a);
        return fi__fail(ctx, FI_ERR_FORMAT, "image holds non-finite sums");
    }
    *acc = a;
    fi__ok(ctx);
    return FI_OK;
}
