/* Selection of blocks by value (SPEC section 1, "Selection"): top-k, the paper's FI-Low
 * random baseline, complements and masks. Deterministic on every platform. */
#include "internal.h"

#include <stdlib.h>

int64_t fi_fraction_count(int64_t count, double fraction)
{
    if (count < 0 || !(fraction >= 0 && fraction <= 1)) return -1;
    const double x = ceil(fraction * (double)count);
    return x > (double)count ? count : (int64_t)x;
}

/* Order: larger value first, then smaller index. */
typedef struct item {
    double v;
    int64_t i;
} item;

static int by_value_desc(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

static int check_values(fi_context *ctx, const double *values, int64_t count)
{
    if (!values) return fi__fail(ctx, FI_ERR_NULL, "values is NULL");
    if (count < 1) return fi__fail(ctx, FI_ERR_DIMENSION, "count must be >= 1 (got %lld)",
                                   (long long)count);
    for (int64_t i = 0; i < count; i++)
        if (isnan(values[i]))
            return fi__fail(ctx, FI_ERR_NONFINITE, "values[%lld] is NaN", (long long)i);
    return FI_OK;
}

/* All indices sorted by value, descending, ties by index; caller frees. */
static item *ranked(fi_context *ctx, const double *values, int64_t count)
{
    item *it = fi__calloc(&ctx->mem, (size_t)count, sizeof *it);
    if (!it) return NULL;
    for (int64_t i = 0; i < count; i++) it[i] = (item){values[i], i};
    qsort(it, (size_t)count, sizeof *it, by_value_desc);
    return it;
}

int fi_select_top(fi_context *ctx, const double *values, int64_t count, int64_t k, int64_t *indices)
{
    if (!ctx) return FI_ERR_NULL;
    int status = check_values(ctx, values, count);
    if (status != FI_OK) return status;
    if (!indices) return fi__fail(ctx, FI_ERR_NULL, "indices is NULL");
    if (k < 0 || k > count)
        return fi__fail(ctx, FI_ERR_DIMENSION, "k = %lld outside [0, count=%lld]", (long long)k,
                        (long long)count);
    item *it = ranked(ctx, values, count);
    if (!it) return fi__fail(ctx, FI_ERR_NOMEM, "out of memory ranking %lld values", (long long)count);
    for (int64_t t = 0; t < k; t++) indices[t] = it[t].i;
    fi__free(&ctx->mem, it);
    fi__ok(ctx);
    return FI_OK;
}

/* splitmix64: a fixed, portable generator, so a seed means the same draw everywhere. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, bound) without modulo bias (rejection). */
static uint64_t uniform_below(uint64_t *state, uint64_t bound)
{
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t r;
    do r = splitmix64(state);
    while (r >= limit);
    return r % bound;
}

static int cmp_i64(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int fi_select_random_low(fi_context *ctx, const double *values, int64_t count, int64_t exclude_top,
                         int64_t k, uint64_t seed, int64_t *indices)
{
    if (!ctx) return FI_ERR_NULL;
    int status = check_values(ctx, values, count);
    if (status != FI_OK) return status;
    if (!indices) return fi__fail(ctx, FI_ERR_NULL, "indices is NULL");
    if (exclude_top < 0 || exclude_top > count)
        return fi__fail(ctx, FI_ERR_DIMENSION, "exclude_top = %lld outside [0, count=%lld]",
                        (long long)exclude_top, (long long)count);
    const int64_t pool = count - exclude_top;
    if (k < 0 || k > pool)
        return fi__fail(ctx, FI_ERR_DIMENSION,
                        "k = %lld outside [0, %lld] (count %lld minus exclude_top %lld)",
                        (long long)k, (long long)pool, (long long)count, (long long)exclude_top);
    item *it = ranked(ctx, values, count);
    if (!it) return fi__fail(ctx, FI_ERR_NOMEM, "out of memory ranking %lld values", (long long)count);
    /* Partial Fisher-Yates over the pool it[exclude_top..count): the first k are the draw. */
    item *low = it + exclude_top;
    uint64_t state = seed;
    for (int64_t t = 0; t < k; t++) {
        const int64_t j = t + (int64_t)uniform_below(&state, (uint64_t)(pool - t));
        const item tmp = low[t];
        low[t] = low[j];
        low[j] = tmp;
    }
    for (int64_t t = 0; t < k; t++) indices[t] = low[t].i;
    qsort(indices, (size_t)k, sizeof *indices, cmp_i64);
    fi__free(&ctx->mem, it);
    fi__ok(ctx);
    return FI_OK;
}

/* Checks an index list against [0,count) and marks it in mask (count bytes). */
static int mark(fi_context *ctx, int64_t count, const int64_t *indices, int64_t k, uint8_t *mask)
{
    for (int64_t t = 0; t < k; t++) {
        const int64_t i = indices[t];
        if (i < 0 || i >= count)
            return fi__fail(ctx, FI_ERR_DIMENSION, "indices[%lld] = %lld outside [0, %lld)",
                            (long long)t, (long long)i, (long long)count);
        mask[i] = 1;
    }
    return FI_OK;
}

static int check_list(fi_context *ctx, int64_t count, const int64_t *indices, int64_t k)
{
    if (count < 1) return fi__fail(ctx, FI_ERR_DIMENSION, "count must be >= 1 (got %lld)",
                                   (long long)count);
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
    int status = check_list(ctx, count, indices, k);
    if (status != FI_OK) return status;
    if (!out) return fi__fail(ctx, FI_ERR_NULL, "out is NULL");
    uint8_t *mask = fi__calloc(&ctx->mem, (size_t)count, 1);
    if (!mask) return fi__fail(ctx, FI_ERR_NOMEM, "out of memory for a mask of %lld", (long long)count);
    status = mark(ctx, count, indices, k, mask);
    if (status == FI_OK) {
        int64_t t = 0;
        for (int64_t i = 0; i < count; i++)
            if (!mask[i]) out[t++] = i;
        fi__ok(ctx);
    }
    fi__free(&ctx->mem, mask);
    return status;
}

int fi_indices_to_mask(fi_context *ctx, int64_t count, const int64_t *indices, int64_t k,
                       uint8_t *mask)
{
    if (!ctx) return FI_ERR_NULL;
    int status = check_list(ctx, count, indices, k);
    if (status != FI_OK) return status;
    if (!mask) return fi__fail(ctx, FI_ERR_NULL, "mask is NULL");
    for (int64_t t = 0; t < k; t++)
        if (indices[t] < 0 || indices[t] >= count)
            return fi__fail(ctx, FI_ERR_DIMENSION, "indices[%lld] = %lld outside [0, %lld)",
                            (long long)t, (long long)indices[t], (long long)count);
    memset(mask, 0, (size_t)count);
    for (int64_t t = 0; t < k; t++) mask[indices[t]] = 1;
    fi__ok(ctx);
    return FI_OK;
}
