/* Selection of blocks by value (docs/aggregation.md): top-k, the paper's FI-Low
 * random baseline, complements and masks. Every result is a fixed function of the inputs
 * (and the seed), identical on every platform; docs/aggregation.md specifies the draw. */
#include "core/core.h"

#include <stdlib.h>

int64_t fi_fraction_count(int64_t count, double fraction)
{
    if (count < 0 || !(fraction >= 0 && fraction <= 1)) return -1;
    /* fraction*count is rounded, and a decimal fraction is not exact in binary: 0.07*100
     * gives 7.000000000000001. A product within 4 ulps above an integer counts as that
     * integer, so that a fraction meant as m/count selects m, not m + 1. From 2^50 on an
     * ulp is already a sizeable part of 1 and the product is taken as it is. */
    const double x = fraction * (double)count;
    const double k = ceil(x < 0x1p50 ? x - 4 * DBL_EPSILON * x : x);
    if (k >= (double)count) return count;
    return k > 0 ? (int64_t)k : 0;
}

/* The selection order: larger value first, then smaller index. */
static inline bool before(double va, int64_t ia, double vb, int64_t ib)
{
    return va > vb || (va == vb && ia < ib);
}

typedef struct item {
    double v;
    int64_t i;
} item;

static int by_order(const void *a, const void *b)
{
    const item *x = a, *y = b;
    return before(x->v, x->i, y->v, y->i) ? -1 : before(y->v, y->i, x->v, x->i) ? 1 : 0;
}

static int check_values(fi_context *ctx, const double *values, int64_t count)
{
    if (!values) return fi__fail(ctx, FI_ERR_NULL, "values is NULL");
    if (count < 1)
        return fi__fail(ctx, FI_ERR_DIMENSION, "count must be >= 1 (got %lld)", (long long)count);
    for (int64_t i = 0; i < count; i++)
        if (isnan(values[i]))
            return fi__fail(ctx, FI_ERR_NONFINITE, "values[%lld] is NaN", (long long)i);
    return FI_OK;
}

/* Restores the heap property below slot r of a heap whose root is the item that comes
 * last in the selection order. */
static void sift_down(item *h, int64_t n, int64_t r)
{
    for (;;) {
        int64_t c = 2 * r + 1;
        if (c >= n) return;
        if (c + 1 < n && before(h[c].v, h[c].i, h[c + 1].v, h[c + 1].i)) c++;
        if (!before(h[r].v, h[r].i, h[c].v, h[c].i)) return;
        const item t = h[r];
        h[r] = h[c];
        h[c] = t;
        r = c;
    }
}

/* The first k items of the selection order, in that order, into a new array (k >= 1)
 * allocated with ctx's allocator; NULL when out of memory. O(count log k). */
static item *top_items(fi_context *ctx, const double *values, int64_t count, int64_t k)
{
    item *h = fi__calloc(&ctx->mem, (size_t)k, sizeof *h);
    if (!h) return NULL;
    for (int64_t i = 0; i < k; i++) h[i] = (item){values[i], i};
    for (int64_t r = k / 2; r-- > 0;) sift_down(h, k, r);
    for (int64_t i = k; i < count; i++)
        if (before(values[i], i, h[0].v, h[0].i)) {
            h[0] = (item){values[i], i};
            sift_down(h, k, 0);
        }
    /* Keys are distinct (indices), so any sort gives the same order. */
    qsort(h, (size_t)k, sizeof *h, by_order);
    return h;
}

int fi_select_top(fi_context *ctx, const double *values, int64_t count, int64_t k, int64_t *indices)
{
    if (!ctx) return FI_ERR_NULL;
    int status = check_values(ctx, values, count);
    if (status != FI_OK) return status;
    if (k < 0 || k > count)
        return fi__fail(ctx, FI_ERR_DIMENSION, "k = %lld outside [0, count=%lld]", (long long)k,
                        (long long)count);
    if (k > 0 && !indices) return fi__fail(ctx, FI_ERR_NULL, "indices is NULL");
    if (k > 0) {
        item *h = top_items(ctx, values, count, k);
        if (!h)
            return fi__fail(ctx, FI_ERR_NOMEM, "out of memory selecting %lld of %lld values",
                            (long long)k, (long long)count);
        for (int64_t t = 0; t < k; t++) indices[t] = h[t].i;
        fi__free(&ctx->mem, h);
    }
    fi__ok(ctx);
    return FI_OK;
}

/* splitmix64 (Steele, Lea, Flood 2014): a fixed, portable generator, so that a seed means
 * the same draw everywhere. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform in [0, bound) without modulo bias: outputs at or above the largest multiple of
 * bound that fits are rejected. */
static uint64_t uniform_below(uint64_t *state, uint64_t bound)
{
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t r;
    do r = splitmix64(state);
    while (r >= limit);
    return r % bound;
}

int fi_select_random_low(fi_context *ctx, const double *values, int64_t count, int64_t exclude_top,
                         int64_t k, uint64_t seed, int64_t *indices)
{
    if (!ctx) return FI_ERR_NULL;
    int status = check_values(ctx, values, count);
    if (status != FI_OK) return status;
    if (exclude_top < 0 || exclude_top > count)
        return fi__fail(ctx, FI_ERR_DIMENSION, "exclude_top = %lld outside [0, count=%lld]",
                        (long long)exclude_top, (long long)count);
    const int64_t pool = count - exclude_top;
    if (k < 0 || k > pool)
        return fi__fail(ctx, FI_ERR_DIMENSION,
                        "k = %lld outside [0, %lld] (count %lld minus exclude_top %lld)",
                        (long long)k, (long long)pool, (long long)count, (long long)exclude_top);
    if (k > 0 && !indices) return fi__fail(ctx, FI_ERR_NULL, "indices is NULL");
    if (k == 0) {
        fi__ok(ctx);
        return FI_OK;
    }
    /* flag[i]: 2 = block i is in the top exclude_top; for pool position t (the t-th block
     * outside the top, counting up from index 0) flag[t] |= 1 when t is drawn. */
    uint8_t *flag = fi__calloc(&ctx->mem, (size_t)count, 1);
    item *h = flag && exclude_top > 0 ? top_items(ctx, values, count, exclude_top) : NULL;
    if (!flag || (exclude_top > 0 && !h)) {
        fi__free(&ctx->mem, flag);
        return fi__fail(ctx, FI_ERR_NOMEM, "out of memory ranking %lld values", (long long)count);
    }
    for (int64_t t = 0; t < exclude_top; t++) flag[h[t].i] = 2;
    fi__free(&ctx->mem, h);
    /* Floyd's sampling of k distinct pool positions: every k-subset equally likely. */
    uint64_t state = seed;
    for (int64_t j = pool - k; j < pool; j++) {
        const int64_t t = (int64_t)uniform_below(&state, (uint64_t)j + 1);
        flag[(flag[t] & 1) ? j : t] |= 1;
    }
    /* Pool positions ascend with the block index, so the draw comes out ascending. */
    for (int64_t i = 0, t = 0, out = 0; i < count; i++)
        if (!(flag[i] & 2) && (flag[t++] & 1)) indices[out++] = i;
    fi__free(&ctx->mem, flag);
    fi__ok(ctx);
    return FI_OK;
}

/* Validates an index list over [0,count): range, and repeats when `distinct`. seen is
 * count zeroed bytes of scratch, or NULL when repeats are allowed. */
static int check_list(fi_context *ctx, int64_t count, const int64_t *indices, int64_t k,
                      uint8_t *seen)
{
    for (int64_t t = 0; t < k; t++) {
        const int64_t i = indices[t];
        if (i < 0 || i >= count)
            return fi__fail(ctx, FI_ERR_DIMENSION, "indices[%lld] = %lld outside [0, %lld)",
                            (long long)t, (long long)i, (long long)count);
        if (seen) {
            if (seen[i])
                return fi__fail(ctx, FI_ERR_DIMENSION, "indices[%lld] = %lld is listed twice",
                                (long long)t, (long long)i);
            seen[i] = 1;
        }
    }
    return FI_OK;
}

/* count >= 1, 0 <= k <= count, and a list to read when k > 0. */
static int check_sizes(fi_context *ctx, int64_t count, const int64_t *indices, int64_t k)
{
    if (count < 1)
        return fi__fail(ctx, FI_ERR_DIMENSION, "count must be >= 1 (got %lld)", (long long)count);
    if (k < 0 || k > count)
        return fi__fail(ctx, FI_ERR_DIMENSION, "k = %lld outside [0, count=%lld]", (long long)k,
                        (long long)count);
    if (k > 0 && !indices) return fi__fail(ctx, FI_ERR_NULL, "indices is NULL");
    return FI_OK;
}

int fi_select_complement(fi_context *ctx, int64_t count, const int64_t *indices, int64_t k,
                         int64_t *out)
{
    if (!ctx) return FI_ERR_NULL;
    int status = check_sizes(ctx, count, indices, k);
    if (status != FI_OK) return status;
    if (k < count && !out) return fi__fail(ctx, FI_ERR_NULL, "out is NULL");
    uint8_t *seen = fi__calloc(&ctx->mem, (size_t)count, 1);
    if (!seen)
        return fi__fail(ctx, FI_ERR_NOMEM, "out of memory for a mask of %lld", (long long)count);
    /* Repeats are errors: the caller sized out for exactly count - k entries. */
    status = check_list(ctx, count, indices, k, seen);
    if (status == FI_OK) {
        for (int64_t i = 0, t = 0; i < count; i++)
            if (!seen[i]) out[t++] = i;
        fi__ok(ctx);
    }
    fi__free(&ctx->mem, seen);
    return status;
}

int fi_indices_to_mask(fi_context *ctx, int64_t count, const int64_t *indices, int64_t k,
                       uint8_t *mask)
{
    if (!ctx) return FI_ERR_NULL;
    int status = check_sizes(ctx, count, indices, k);
    if (status != FI_OK) return status;
    if (!mask) return fi__fail(ctx, FI_ERR_NULL, "mask is NULL");
    /* Repeats are harmless here: a block listed twice is simply selected. */
    status = check_list(ctx, count, indices, k, NULL);
    if (status != FI_OK) return status;
    memset(mask, 0, (size_t)count);
    for (int64_t t = 0; t < k; t++) mask[indices[t]] = 1;
    fi__ok(ctx);
    return FI_OK;
}
