/* Weighted, mergeable FI accumulator (docs/aggregation.md).
 *
 * Every sum (sum w, sum w^2, and per block sum w*FI, sum w*FI^2) is a small binned integer
 * accumulator. The binary positions a double can occupy (2^-1074 .. 2^1023) are cut into
 * fixed, global bins of XS_W bits; a term contributes to bin j the integer formed by its own
 * bits inside that bin (truncation toward zero, a pure function of the term), and each bin
 * counts those integers exactly in an int64. Only the XS_K bins at and below the bin of the
 * largest |term| seen are kept. That bin is the same whatever the order of the terms (a
 * maximum), so the whole state is a function of the multiset of terms: adds and merges in
 * any order, over any shard split, give the same bits. Bits of a term lying more than
 * XS_K*XS_W - XS_W = 90 binary places below the largest term are dropped, the same ones in
 * every order. docs/aggregation.md has the format and the bounds. */
#include "core/core.h"
#include "core/image.h"

#define XS_W 30                                   /* bits per bin                          */
#define XS_K 4                                    /* bins kept per sum                     */
#define XS_MASK ((UINT64_C(1) << XS_W) - 1)
#define XS_BIAS 1074                              /* bit position 0 has the value 2^-1074  */
#define XS_TOP_MAX ((1023 + XS_BIAS) / XS_W)      /* bin of the bit 2^1023                 */
#define XS_EMPTY (-1)                             /* no nonzero term yet                   */
/* A bin gains less than 2^XS_W in magnitude per term and a sample adds one term to every
 * sum, so 2^33 samples keep every |counter| below 2^63. */
#define ACC_MAX_SAMPLES (INT64_C(1) << 33)

typedef struct xsum {
    int64_t c[XS_K]; /* c[i]: signed sum of every term's slice in bin top - i */
    int32_t top;     /* bin of the top bit of the largest |term|, or XS_EMPTY     */
} xsum;

struct fi_accumulator {
    fi_allocator mem;
    int64_t count;
    int64_t samples;
    xsum w, w2; /* sum w, sum w^2                                   */
    xsum *sx;   /* 2*count sums: sx[2b] = sum w*FI, sx[2b+1] = sum w*FI^2 */
};

/* ---- binned sums ---- */

/* Moves the window up so that its top bin is `top` (> x->top); bins falling off the bottom
 * are dropped, exactly as if they had never been kept. */
static void xs_raise(xsum *x, int32_t top)
{
    const int64_t d = (int64_t)top - x->top;
    for (int i = XS_K - 1; i >= 0; i--) x->c[i] = i >= d ? x->c[i - d] : 0;
    x->top = top;
}

/* Adds the finite double t: each of its (at most three) bin slices into its counter. */
static inline void xs_add(xsum *x, double t)
{
    uint64_t u;
    memcpy(&u, &t, sizeof u);
    const int ex = (int)((u >> 52) & 0x7ff);
    uint64_t m = u & ((UINT64_C(1) << 52) - 1);
    if (ex) m |= UINT64_C(1) << 52;
    if (!m) return;
    const int pos = ex ? ex - 1 : 0; /* global position of the bit m & 1 */
    const int hi = pos + 63 - __builtin_clzll(m);
    const int jt = hi / XS_W, j0 = pos / XS_W, off = pos - j0 * XS_W;
    if (jt > x->top) xs_raise(x, jt);
    const bool neg = u >> 63;
    for (int j = jt; j >= j0; j--) {
        const int i = x->top - j;
        if (i >= XS_K) break;
        const int s = (j - j0) * XS_W - off; /* bit of m that lands on the bin's bit 0 */
        const uint64_t slice = (s >= 0 ? m >> s : m << -s) & XS_MASK;
        x->c[i] += neg ? -(int64_t)slice : (int64_t)slice;
    }
}

/* d += s, both canonical states of their multisets, so the result is that of the union. */
static void xs_merge(xsum *d, const xsum *src)
{
    const xsum s = *src; /* d may be src */
    if (s.top == XS_EMPTY) return;
    if (s.top > d->top) xs_raise(d, s.top);
    const int shift = d->top - s.top;
    for (int i = 0; i + shift < XS_K; i++) d->c[i + shift] += s.c[i];
}

/* A value m * 2^e with 0.5 <= |m| < 1, or m = 0. */
typedef struct scaled {
    double m;
    int e;
} scaled;

/* w += v * 2^s over a 192-bit two's complement integer (0 <= s < 128). */
static void u192_add_shifted(uint64_t w[3], int64_t v, int s)
{
    const uint64_t ext = v < 0 ? UINT64_MAX : 0;
    uint64_t t[3] = {(uint64_t)v, ext, ext};
    for (; s >= 64; s -= 64) {
        t[2] = t[1];
        t[1] = t[0];
        t[0] = 0;
    }
    if (s) {
        t[2] = t[2] << s | t[1] >> (64 - s);
        t[1] = t[1] << s | t[0] >> (64 - s);
        t[0] <<= s;
    }
    uint64_t carry = 0;
    for (int k = 0; k < 3; k++) {
        const uint64_t a = w[k] + carry;
        const uint64_t b = a + t[k];
        carry = (uint64_t)(a < carry) | (uint64_t)(b < a);
        w[k] = b;
    }
}

/* The exact value of a sum, correctly rounded to 53 bits, in scaled form (no overflow). */
static scaled xs_value(const xsum *x)
{
    if (x->top == XS_EMPTY) return (scaled){0.0, 0};
    /* |value| < 2^63 * 2^(3*XS_W+1): the counters assembled into one integer fit 192 bits. */
    uint64_t w[3] = {0, 0, 0};
    for (int i = 0; i < XS_K; i++) u192_add_shifted(w, x->c[i], (XS_K - 1 - i) * XS_W);
    const bool neg = w[2] >> 63;
    if (neg) { /* two's complement negation */
        uint64_t carry = 1;
        for (int k = 0; k < 3; k++) {
            w[k] = ~w[k] + carry;
            carry = carry && w[k] == 0;
        }
    }
    int h = -1;
    for (int k = 2; k >= 0 && h < 0; k--)
        if (w[k]) h = 64 * k + 63 - __builtin_clzll(w[k]);
    if (h < 0) return (scaled){0.0, 0};
    uint64_t top64 = w[0];
    int sh = 0;
    if (h >= 64) {
        /* The 64 bits below and at h, with every lower bit folded into bit 0 as a sticky
         * bit: converting that to double rounds exactly like the full integer would. */
        sh = h - 63;
        const int q = sh / 64, r = sh % 64;
        top64 = r ? w[q] >> r | w[q + 1] << (64 - r) : w[q];
        bool sticky = r && (w[q] & ((UINT64_C(1) << r) - 1));
        for (int k = 0; k < q; k++) sticky = sticky || w[k];
        top64 |= (uint64_t)sticky;
    }
    int e2;
    const double m = frexp((double)top64, &e2);
    const int e = (x->top - XS_K + 1) * XS_W - XS_BIAS + sh + e2;
    return (scaled){neg ? -m : m, e};
}

static double xs_double(const xsum *x)
{
    const scaled v = xs_value(x);
    return ldexp(v.m, v.e);
}

/* a / b for b > 0, without intermediate overflow or underflow. */
static double scaled_div(scaled a, scaled b) { return a.m == 0 ? 0.0 : ldexp(a.m / b.m, a.e - b.e); }

/* ---- public API ---- */

int fi_accumulator_create(fi_context *ctx, int64_t count, fi_accumulator **acc)
{
    if (!ctx) return FI_ERR_NULL;
    if (!acc) return fi__fail(ctx, FI_ERR_NULL, "acc (output pointer) is NULL");
    if (count < 1)
        return fi__fail(ctx, FI_ERR_DIMENSION, "accumulator count must be >= 1 (got %lld)",
                        (long long)count);
    if ((uint64_t)count > SIZE_MAX / (2 * sizeof(xsum)))
        return fi__fail(ctx, FI_ERR_DIMENSION, "accumulator of %lld blocks overflows size_t",
                        (long long)count);
    fi_accumulator *a = fi__calloc(&ctx->mem, 1, sizeof *a);
    xsum *sx = a ? fi__alloc(&ctx->mem, (size_t)count * 2 * sizeof(xsum)) : NULL;
    if (!sx) {
        fi__free(&ctx->mem, a);
        return fi__fail(ctx, FI_ERR_NOMEM, "out of memory for an accumulator of %lld blocks",
                        (long long)count);
    }
    const xsum empty = {{0}, XS_EMPTY};
    for (int64_t s = 0; s < 2 * count; s++) sx[s] = empty;
    a->mem = ctx->mem;
    a->count = count;
    a->w = a->w2 = empty;
    a->sx = sx;
    *acc = a;
    fi__ok(ctx);
    return FI_OK;
}

void fi_accumulator_free(fi_accumulator *acc)
{
    if (!acc) return;
    const fi_allocator mem = acc->mem;
    fi__free(&mem, acc->sx);
    fi__free(&mem, acc);
}

int fi_accumulator_add(fi_context *ctx, fi_accumulator *acc, const double *fi, double weight)
{
    if (!ctx) return FI_ERR_NULL;
    if (!acc) return fi__fail(ctx, FI_ERR_NULL, "acc is NULL");
    if (!fi) return fi__fail(ctx, FI_ERR_NULL, "fi is NULL");
    /* A weight outside its documented range (finite, >= 0, weight^2 finite) is an option
     * value out of range, like the context's options. */
    if (!isfinite(weight) || weight < 0)
        return fi__fail(ctx, FI_ERR_OPTION, "weight must be finite and >= 0 (got %g)", weight);
    if (!isfinite(weight * weight))
        return fi__fail(ctx, FI_ERR_OPTION, "weight %g: its square overflows a double", weight);
    if (acc->samples >= ACC_MAX_SAMPLES)
        return fi__fail(ctx, FI_ERR_DIMENSION, "accumulator already holds the maximum of "
                        "%lld samples", (long long)ACC_MAX_SAMPLES);
    /* Everything is checked before anything is written: acc is unchanged on failure. */
    for (int64_t b = 0; b < acc->count; b++) {
        const double x = fi[b];
        if (!isfinite(x))
            return fi__fail(ctx, FI_ERR_NONFINITE, "fi[%lld] is not finite", (long long)b);
        if (!isfinite(weight * x * x))
            return fi__fail(ctx, FI_ERR_NONFINITE,
                            "weight * fi[%lld]^2 overflows a double (fi %g, weight %g)",
                            (long long)b, x, weight);
    }
    /* The products are rounded once each, a fixed function of (fi, weight); the sums of
     * those doubles are order-independent from there on. */
    for (int64_t b = 0; b < acc->count; b++) {
        const double wx = weight * fi[b];
        xs_add(&acc->sx[2 * b], wx);
        xs_add(&acc->sx[2 * b + 1], wx * fi[b]);
    }
    xs_add(&acc->w, weight);
    xs_add(&acc->w2, weight * weight);
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
    if (dst->samples > ACC_MAX_SAMPLES - src->samples)
        return fi__fail(ctx, FI_ERR_DIMENSION, "merged accumulator would hold %lld + %lld "
                        "samples, more than the maximum %lld", (long long)dst->samples,
                        (long long)src->samples, (long long)ACC_MAX_SAMPLES);
    const int64_t n = 2 * dst->count, add = src->samples;
    for (int64_t s = 0; s < n; s++) xs_merge(&dst->sx[s], &src->sx[s]);
    xs_merge(&dst->w, &src->w);
    xs_merge(&dst->w2, &src->w2);
    dst->samples += add;
    fi__ok(ctx);
    return FI_OK;
}

int fi_accumulator_result(fi_context *ctx, const fi_accumulator *acc, double *mean,
                          double *std_error)
{
    if (!ctx) return FI_ERR_NULL;
    if (!acc) return fi__fail(ctx, FI_ERR_NULL, "acc is NULL");
    const scaled W = xs_value(&acc->w), W2 = xs_value(&acc->w2);
    if (!(W.m > 0))
        return fi__fail(ctx, FI_ERR_DIMENSION, "accumulator has total weight 0 (%lld samples): "
                                               "no mean", (long long)acc->samples);
    /* Reliability weights: mean = S1/W, var = sum w (x - mean)^2 / (W - W2/W) and
     * SE = sqrt(var * W2) / W, which is SE^2 = (S2/W - mean^2) / (n_eff - 1) with the
     * effective sample size n_eff = W^2 / W2 (equal weights: s^2 / N). n_eff - 1 <= 0
     * means one effective sample: no spread can be estimated and SE is reported as 0. */
    const double neff_m1 = ldexp(W.m * W.m / W2.m, 2 * W.e - W2.e) - 1.0;
    for (int64_t b = 0; b < acc->count; b++) {
        const scaled S1 = xs_value(&acc->sx[2 * b]);
        if (mean) mean[b] = scaled_div(S1, W);
        if (!std_error) continue;
        const scaled S2 = xs_value(&acc->sx[2 * b + 1]);
        double se = 0.0;
        if (neff_m1 > 0 && S2.m > 0) {
            /* Work at the scale 2^h of sqrt(S2/W) so that neither square overflows. */
            const int ea = S2.e - W.e, h = ea >= 0 ? ea / 2 : -((1 - ea) / 2);
            const double a = ldexp(S2.m / W.m, ea - 2 * h);
            const double u = S1.m == 0 ? 0.0 : ldexp(S1.m / W.m, S1.e - W.e - h);
            const double diff = a - u * u;
            if (diff > 0) se = ldexp(sqrt(diff / neff_m1), h);
        }
        std_error[b] = se;
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
    if (total_weight) *total_weight = xs_double(&acc->w);
    return FI_OK;
}

/* ---- serialization (format 2, docs/aggregation.md): all fields little-endian 64-bit words
 *   0  "LIBFIACC"            8  u64 format = 2          16  i64 count
 *  24  i64 samples          32  u32 bin bits = 30, u32 bins per sum = 4
 *  40  sums, 40 bytes each: i64 top bin (-1 = empty), then i64 counters c[0..4) (c[0] the
 *      top bin); in order sum w, sum w^2, then per block sum w*FI, sum w*FI^2
 *  end-8  u64 checksum of every word before it (see acc_checksum)
 * Format 1 (the earlier double-double pairs with FNV-1a) is still read. ---- */

#define ACC_MAGIC "LIBFIACC"
#define ACC_FORMAT 2u
#define ACC_HEAD 40u
#define ACC_SUM 40u
#define ACC_V1_FORMAT 1u
#define ACC_V1_HEAD 32u

/* Checksum of n bytes (a multiple of 8) read as little-endian words: h = (h ^ v) * P,
 * h ^= h >> 32, seeded with "LIBFIACC" read big-endian (fi__image_checksum, shared with the
 * other images). Both steps are bijections of h, so a change confined to one word always
 * changes the result, and the shift carries high bits down so that changes in several
 * words do not cancel bit by bit. Eight bytes per multiply: cheap next to the copy. */
static uint64_t acc_checksum(const unsigned char *p, size_t n)
{
    return fi__image_checksum(UINT64_C(0x4c49424649414343), p, n);
}

/* FNV-1a 64, the checksum of format 1. */
static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = UINT64_C(1469598103934665603);
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * UINT64_C(1099511628211);
    return h;
}

/* Image bytes of `count` blocks in format 2 (0 if impossible). */
static size_t image_size(int64_t count)
{
    const size_t fixed = ACC_HEAD + 2 * ACC_SUM + 8;
    if (count < 1 || (uint64_t)count > (SIZE_MAX - fixed) / (2 * ACC_SUM)) return 0;
    return fixed + (size_t)count * 2 * ACC_SUM;
}

static size_t image_size_v1(int64_t count)
{
    const size_t fixed = ACC_V1_HEAD + 32 + 8;
    if (count < 1 || (uint64_t)count > (SIZE_MAX - fixed) / 32) return 0;
    return fixed + (size_t)count * 32;
}

size_t fi_accumulator_serialized_size(const fi_accumulator *acc)
{
    return acc ? image_size(acc->count) : 0;
}

static unsigned char *put_sum(unsigned char *q, const xsum *x)
{
    fi__image_put_u64(q, (uint64_t)(int64_t)x->top);
    for (int i = 0; i < XS_K; i++) fi__image_put_u64(q + 8 + 8 * i, (uint64_t)x->c[i]);
    return q + ACC_SUM;
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
    fi__image_put_u64(p + 8, ACC_FORMAT);
    fi__image_put_u64(p + 16, (uint64_t)acc->count);
    fi__image_put_u64(p + 24, (uint64_t)acc->samples);
    fi__image_put_u64(p + 32, (uint64_t)XS_W | (uint64_t)XS_K << 32);
    unsigned char *q = put_sum(p + ACC_HEAD, &acc->w);
    q = put_sum(q, &acc->w2);
    for (int64_t s = 0; s < 2 * acc->count; s++) q = put_sum(q, &acc->sx[s]);
    fi__image_put_u64(q, acc_checksum(p, need - 8));
    fi__ok(ctx);
    return FI_OK;
}

/* Checks that x is a state some `samples` terms can produce; returns NULL if so, else what
 * is wrong. nonneg: every term of this sum is >= 0 (weights, squares). */
static const char *check_sum(const xsum *x, int64_t samples, bool nonneg)
{
    if (x->top != XS_EMPTY && (x->top < 0 || x->top > XS_TOP_MAX))
        return "top bin outside [-1, 69]";
    if (x->top != XS_EMPTY && samples == 0) return "a nonzero sum in an image of 0 samples";
    const int64_t limit = samples * (int64_t)XS_MASK; /* < 2^63 by ACC_MAX_SAMPLES */
    for (int i = 0; i < XS_K; i++) {
        const int64_t c = x->c[i];
        if (c > limit || c < -limit) return "a counter exceeds what its samples can reach";
        if (nonneg && c < 0) return "a negative counter in a sum of non-negative terms";
        if (x->top == XS_EMPTY && c != 0) return "a nonzero counter in an empty sum";
    }
    /* The largest term of a sum of non-negative terms leaves a slice in the top bin. */
    if (nonneg && x->top != XS_EMPTY && x->c[0] == 0) return "an empty top bin";
    return NULL;
}

/* Reads one sum of a format-2 image and validates it (see check_sum). */
static const char *get_sum(const unsigned char *q, xsum *x, int64_t samples, bool nonneg)
{
    const int64_t top = (int64_t)fi__image_get_u64(q);
    if (top != XS_EMPTY && (top < 0 || top > XS_TOP_MAX)) return "top bin outside [-1, 69]";
    x->top = (int32_t)top;
    for (int i = 0; i < XS_K; i++) x->c[i] = (int64_t)fi__image_get_u64(q + 8 + 8 * i);
    return check_sum(x, samples, nonneg);
}

/* Names the sum s (0, 1: total weight; 2 + 2b, 3 + 2b: block b) of an image and what is
 * wrong with it in the context's error. */
static int bad_sum(fi_context *ctx, const char *version, int64_t s, const char *why)
{
    if (s < 2)
        return fi__fail(ctx, FI_ERR_FORMAT, "%simage's sum of %s: %s", version,
                        s ? "w^2" : "w", why);
    return fi__fail(ctx, FI_ERR_FORMAT, "%simage's sum of %s for block %lld: %s", version,
                    s % 2 ? "w*FI^2" : "w*FI", (long long)((s - 2) / 2), why);
}

static int read_v2(fi_context *ctx, const unsigned char *p, size_t size, fi_accumulator **acc)
{
    const int64_t count = (int64_t)fi__image_get_u64(p + 16), samples = (int64_t)fi__image_get_u64(p + 24);
    const size_t need = image_size(count);
    if (need == 0)
        return fi__fail(ctx, FI_ERR_FORMAT, "image holds an impossible block count %lld",
                        (long long)count);
    if (size != need)
        return fi__fail(ctx, FI_ERR_FORMAT, "image of %lld blocks must be %zu bytes, got %zu "
                        "(truncated or padded)", (long long)count, need, size);
    const uint64_t geometry = fi__image_get_u64(p + 32);
    if (geometry != ((uint64_t)XS_W | (uint64_t)XS_K << 32))
        return fi__fail(ctx, FI_ERR_FORMAT, "image has bins of %u bits x %u, this library "
                        "uses %d x %d", (unsigned)(geometry & 0xffffffffu),
                        (unsigned)(geometry >> 32), XS_W, XS_K);
    if (fi__image_get_u64(p + need - 8) != acc_checksum(p, need - 8))
        return fi__fail(ctx, FI_ERR_FORMAT, "checksum mismatch: the image is corrupt");
    if (samples < 0 || samples > ACC_MAX_SAMPLES)
        return fi__fail(ctx, FI_ERR_FORMAT, "image holds an impossible sample count %lld",
                        (long long)samples);
    fi_accumulator *a = NULL;
    int status = fi_accumulator_create(ctx, count, &a);
    if (status != FI_OK) return status;
    a->samples = samples;
    const unsigned char *q = p + ACC_HEAD;
    const int64_t nsums = 2 + 2 * count;
    for (int64_t s = 0; s < nsums; s++, q += ACC_SUM) {
        xsum *x = s == 0 ? &a->w : s == 1 ? &a->w2 : &a->sx[s - 2];
        const char *why = get_sum(q, x, samples, s < 2 || s % 2 == 1);
        if (why) {
            fi_accumulator_free(a);
            return bad_sum(ctx, "", s, why);
        }
    }
    *acc = a;
    return FI_OK;
}

/* Format 1: u64 format, i64 count, i64 samples, then (hi, lo) double pairs of sum w,
 * sum w^2 and per block sum w*FI, sum w*FI^2, then FNV-1a. Each pair is added as two
 * terms, which reproduces its value exactly (hi and lo are 53 or more places apart). */
static int read_v1(fi_context *ctx, const unsigned char *p, size_t size, fi_accumulator **acc)
{
    const int64_t count = (int64_t)fi__image_get_u64(p + 16), samples = (int64_t)fi__image_get_u64(p + 24);
    const size_t need = image_size_v1(count);
    if (need == 0)
        return fi__fail(ctx, FI_ERR_FORMAT, "format-1 image holds an impossible block count "
                        "%lld", (long long)count);
    if (size != need)
        return fi__fail(ctx, FI_ERR_FORMAT, "format-1 image of %lld blocks must be %zu bytes, "
                        "got %zu (truncated or padded)", (long long)count, need, size);
    if (fi__image_get_u64(p + need - 8) != fnv1a(p, need - 8))
        return fi__fail(ctx, FI_ERR_FORMAT, "checksum mismatch: the format-1 image is corrupt");
    if (samples < 0 || samples > ACC_MAX_SAMPLES)
        return fi__fail(ctx, FI_ERR_FORMAT, "format-1 image holds an impossible sample count "
                        "%lld", (long long)samples);
    const unsigned char *q = p + ACC_V1_HEAD;
    for (size_t off = 0; off < need - 8 - ACC_V1_HEAD; off += 8)
        if (!isfinite(fi__image_get_f64(q + off)))
            return fi__fail(ctx, FI_ERR_FORMAT, "format-1 image holds a non-finite sum");
    fi_accumulator *a = NULL;
    int status = fi_accumulator_create(ctx, count, &a);
    if (status != FI_OK) return status;
    a->samples = samples;
    const int64_t nsums = 2 + 2 * count;
    for (int64_t s = 0; s < nsums; s++, q += 16) {
        xsum *x = s == 0 ? &a->w : s == 1 ? &a->w2 : &a->sx[s - 2];
        xs_add(x, fi__image_get_f64(q));
        xs_add(x, fi__image_get_f64(q + 8));
        /* lo may be negative, so only the bounds are checked, not the signs. */
        const char *why = check_sum(x, samples, false);
        if (why) {
            fi_accumulator_free(a);
            return bad_sum(ctx, "format-1 ", s, why);
        }
    }
    *acc = a;
    return FI_OK;
}

int fi_accumulator_deserialize(fi_context *ctx, const void *buf, size_t size, fi_accumulator **acc)
{
    if (!ctx) return FI_ERR_NULL;
    if (!buf) return fi__fail(ctx, FI_ERR_NULL, "buf is NULL");
    if (!acc) return fi__fail(ctx, FI_ERR_NULL, "acc (output pointer) is NULL");
    const unsigned char *p = buf;
    if (size < ACC_HEAD)
        return fi__fail(ctx, FI_ERR_FORMAT, "buffer of %zu bytes is shorter than any image "
                        "header (%u bytes): truncated", size, ACC_HEAD);
    if (memcmp(p, ACC_MAGIC, 8) != 0)
        return fi__fail(ctx, FI_ERR_FORMAT, "not an accumulator image (bad magic, expected "
                        "\"LIBFIACC\")");
    const uint64_t format = fi__image_get_u64(p + 8);
    int status;
    if (format == ACC_FORMAT)
        status = read_v2(ctx, p, size, acc);
    else if (format == ACC_V1_FORMAT)
        status = read_v1(ctx, p, size, acc);
    else
        return fi__fail(ctx, FI_ERR_FORMAT, "image format version %llu, this library reads "
                        "versions 1 and 2", (unsigned long long)format);
    if (status == FI_OK) fi__ok(ctx);
    return status;
}
