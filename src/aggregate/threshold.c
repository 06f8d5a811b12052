/* Selection across many arrays by an exact radix threshold (issue 13, part 3;
 * docs/aggregation.md, "Selection across arrays").
 *
 * Every element has a 64-bit key whose unsigned order is the selection order: for values,
 * the IEEE-754 bits made order-preserving (negative: all bits flipped; otherwise the sign bit
 * set; -0 counted as +0, since the two are equal values); for FI-Low's random draw, a
 * splitmix64 hash of (seed, array, index), so that the k largest keys of the pool are a
 * uniformly drawn k-subset. Round r (0..3) histograms the 16-bit digit r of the keys that
 * share the r digits already fixed; narrowing keeps the bin holding the k-th largest key.
 * After 4 rounds the k-th largest key T is exact: the selection is every key above T and,
 * of the keys equal to T, the first k - above in the order (array, index). Counts are
 * integers, so merged histograms are exact in any order and over any shard split. */
#include "core/image.h"
#include "internal.h"

#define THR_MAGIC "LIBFITHR"
#define THR_SEED UINT64_C(0x4c49424654485231) /* "LIBFTHR1" */
#define THR_FORMAT 1u
#define THR_BITS 16
#define THR_BINS (1 << THR_BITS)
#define THR_ROUNDS (64 / THR_BITS)
#define THR_HEAD 88u

struct fi_threshold {
    fi_allocator mem;
    bool random;
    uint64_t seed;
    int round;          /* digits fixed so far, 0..THR_ROUNDS */
    uint64_t prefix;    /* the fixed digits: the top 16*round bits of T */
    int64_t k;          /* -1 until the first narrow */
    int64_t above;      /* keys above every key with this prefix */
    int64_t in_prefix;  /* keys sharing the prefix (counted in the previous round), -1 at round 0 */
    uint64_t *hist;     /* THR_BINS counts of digit `round` */
};

static inline uint64_t value_key(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    u &= -(uint64_t)((u << 1) != 0);                  /* -0 -> +0 */
    const uint64_t neg = (uint64_t)((int64_t)u >> 63); /* all ones for x < 0 */
    return u ^ (neg | UINT64_C(1) << 63);              /* branch-free, so loops vectorize */
}

static inline double key_value(uint64_t k)
{
    const uint64_t u = k >> 63 ? k & ~(UINT64_C(1) << 63) : ~k;
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* The splitmix64 stream of an array: element i gets output i+1 of the generator whose state
 * starts at a hash of (seed, array_id). */
static inline uint64_t array_base(uint64_t seed, int64_t array_id)
{
    return mix64(seed ^ mix64((uint64_t)array_id + UINT64_C(0x632BE59BD9B4E019)));
}

static inline uint64_t random_key(uint64_t base, int64_t i)
{
    return mix64(base + (uint64_t)(i + 1) * UINT64_C(0x9E3779B97F4A7C15));
}

static int create(fi_context *ctx, bool random, uint64_t seed, fi_threshold **sel)
{
    if (!ctx) return FI_ERR_NULL;
    if (!sel) return fi__fail(ctx, FI_ERR_NULL, "sel (output pointer) is NULL");
    fi_threshold *t = fi__calloc(&ctx->mem, 1, sizeof *t);
    uint64_t *h = t ? fi__calloc(&ctx->mem, THR_BINS, sizeof *h) : NULL;
    if (!h) {
        fi__free(&ctx->mem, t);
        return fi__fail(ctx, FI_ERR_NOMEM, "out of memory for a selection histogram of %d bins",
                        THR_BINS);
    }
    t->mem = ctx->mem;
    t->random = random;
    t->seed = seed;
    t->k = -1;
    t->in_prefix = -1;
    t->hist = h;
    *sel = t;
    fi__ok(ctx);
    return FI_OK;
}

int fi_threshold_create(fi_context *ctx, fi_threshold **sel) { return create(ctx, false, 0, sel); }

int fi_threshold_create_random(fi_context *ctx, uint64_t seed, fi_threshold **sel)
{
    return create(ctx, true, seed, sel);
}

void fi_threshold_free(fi_threshold *sel)
{
    if (!sel) return;
    const fi_allocator mem = sel->mem;
    fi__free(&mem, sel->hist);
    fi__free(&mem, sel);
}

/* A selector in a counting round, of the kind the call needs. */
static int check_counting(fi_context *ctx, const fi_threshold *t, bool random)
{
    if (t->random != random)
        return fi__fail(ctx, FI_ERR_MISMATCH, "this call needs a %s selector, got a %s one",
                        random ? "random (fi_threshold_create_random)" : "top (fi_threshold_create)",
                        t->random ? "random" : "top");
    if (t->round >= THR_ROUNDS)
        return fi__fail(ctx, FI_ERR_MISMATCH, "the threshold is already exact (all %d rounds "
                        "narrowed): nothing is left to count", THR_ROUNDS);
    return FI_OK;
}

static int check_array(fi_context *ctx, int64_t count)
{
    if (count < 1)
        return fi__fail(ctx, FI_ERR_DIMENSION, "count must be >= 1 (got %lld)", (long long)count);
    return FI_OK;
}

/* Adds delta (+1 or -1) to the bin of every key of values[0..last) that carries the prefix.
 * After round 0 few keys carry it: groups of 64 values are first tested together (a loop the
 * compiler vectorizes) and only a group with a match is counted one by one. */
static void count_values(fi_threshold *t, const double *values, int64_t last, uint64_t delta)
{
    const int shift = 64 - THR_BITS * (t->round + 1);
    uint64_t *h = t->hist;
    if (t->round == 0) {
        for (int64_t i = 0; i < last; i++) h[value_key(values[i]) >> shift] += delta;
        return;
    }
    /* The keys that carry the prefix are a contiguous key range, so a value interval: a
     * plain double compare (vectorized on every ISA) filters groups of 64 values, and only a
     * group with a candidate is tested key by key. NaN patterns at the ends of the range
     * (no NaN is counted) widen the interval to infinity; -0 == +0 can only add candidates. */
    const uint64_t prefix = t->prefix, low = prefix << (shift + THR_BITS);
    const uint64_t high = low | ((UINT64_C(1) << (shift + THR_BITS)) - 1);
    double lo = key_value(low), hi = key_value(high);
    if (isnan(lo)) lo = -INFINITY;
    if (isnan(hi)) hi = INFINITY;
    enum { G = 64 };
    for (int64_t i0 = 0; i0 < last; i0 += G) {
        const int64_t len = last - i0 < G ? last - i0 : G;
        int any = 0;
        for (int64_t j = 0; j < len; j++) any |= (values[i0 + j] >= lo) & (values[i0 + j] <= hi);
        if (!any) continue;
        for (int64_t j = 0; j < len; j++) {
            const uint64_t key = value_key(values[i0 + j]);
            if (key >> (shift + THR_BITS) == prefix) h[(key >> shift) & (THR_BINS - 1)] += delta;
        }
    }
}

int fi_threshold_add(fi_context *ctx, fi_threshold *sel, const double *values, int64_t count)
{
    if (!ctx) return FI_ERR_NULL;
    if (!sel) return fi__fail(ctx, FI_ERR_NULL, "sel is NULL");
    if (!values) return fi__fail(ctx, FI_ERR_NULL, "values is NULL");
    int status = check_array(ctx, count);
    if (status == FI_OK) status = check_counting(ctx, sel, false);
    if (status != FI_OK) return status;
    /* NaN has no place in the order. It is found in chunks ahead of the counting, so that the
     * histogram is untouched when the call fails. */
    enum { CH = 4096 };
    for (int64_t i0 = 0; i0 < count; i0 += CH) {
        const int64_t len = count - i0 < CH ? count - i0 : CH;
        int nan = 0;
        for (int64_t j = 0; j < len; j++) nan |= values[i0 + j] != values[i0 + j];
        if (nan) {
            count_values(sel, values, i0, (uint64_t)-1); /* undo the chunks counted so far */
            for (int64_t j = 0;; j++)
                if (isnan(values[i0 + j]))
                    return fi__fail(ctx, FI_ERR_NONFINITE, "values[%lld] is NaN",
                                    (long long)(i0 + j));
        }
        count_values(sel, values + i0, len, 1);
    }
    fi__ok(ctx);
    return FI_OK;
}

int fi_threshold_add_random(fi_context *ctx, fi_threshold *sel, int64_t array_id, int64_t count,
                            const uint8_t *exclude)
{
    if (!ctx) return FI_ERR_NULL;
    if (!sel) return fi__fail(ctx, FI_ERR_NULL, "sel is NULL");
    int status = check_array(ctx, count);
    if (status == FI_OK) status = check_counting(ctx, sel, true);
    if (status != FI_OK) return status;
    const int shift = 64 - THR_BITS * (sel->round + 1);
    const uint64_t base = array_base(sel->seed, array_id), prefix = sel->prefix;
    const bool first = sel->round == 0;
    for (int64_t i = 0; i < count; i++) {
        if (exclude && exclude[i]) continue;
        const uint64_t key = random_key(base, i);
        if (first || key >> (shift + THR_BITS) == prefix)
            sel->hist[(key >> shift) & (THR_BINS - 1)]++;
    }
    fi__ok(ctx);
    return FI_OK;
}

int fi_threshold_merge(fi_context *ctx, fi_threshold *dst, const fi_threshold *src)
{
    if (!ctx) return FI_ERR_NULL;
    if (!dst || !src) return fi__fail(ctx, FI_ERR_NULL, "%s is NULL", dst ? "src" : "dst");
    if (dst->random != src->random || dst->seed != src->seed)
        return fi__fail(ctx, FI_ERR_MISMATCH, "selectors of different kinds or seeds cannot "
                                              "merge");
    if (dst->round != src->round || dst->prefix != src->prefix || dst->k != src->k ||
        dst->above != src->above || dst->in_prefix != src->in_prefix)
        return fi__fail(ctx, FI_ERR_MISMATCH, "selectors at different rounds cannot merge "
                        "(rounds %d and %d, k %lld and %lld): narrow both the same way",
                        dst->round, src->round, (long long)dst->k, (long long)src->k);
    for (int j = 0; j < THR_BINS; j++)
        if (dst->hist[j] > UINT64_MAX - src->hist[j])
            return fi__fail(ctx, FI_ERR_DIMENSION, "merged count of bin %d overflows 64 bits", j);
    uint64_t *d = dst->hist;
    const uint64_t *s = src->hist;
    if (d == s)
        for (int j = 0; j < THR_BINS; j++) d[j] *= 2;
    else
        for (int j = 0; j < THR_BINS; j++) d[j] += s[j];
    fi__ok(ctx);
    return FI_OK;
}

int fi_threshold_narrow(fi_context *ctx, fi_threshold *sel, int64_t k, int *done)
{
    if (!ctx) return FI_ERR_NULL;
    if (!sel) return fi__fail(ctx, FI_ERR_NULL, "sel is NULL");
    if (!done) return fi__fail(ctx, FI_ERR_NULL, "done is NULL");
    if (sel->round >= THR_ROUNDS)
        return fi__fail(ctx, FI_ERR_MISMATCH, "the threshold is already exact (all %d rounds "
                        "narrowed)", THR_ROUNDS);
    if (sel->k >= 0 && k != sel->k)
        return fi__fail(ctx, FI_ERR_MISMATCH, "k = %lld differs from the k = %lld of the earlier "
                        "rounds", (long long)k, (long long)sel->k);
    uint64_t total = 0;
    for (int j = 0; j < THR_BINS; j++) total += sel->hist[j];
    if (sel->round == 0 && total > (uint64_t)INT64_MAX)
        return fi__fail(ctx, FI_ERR_DIMENSION, "more than INT64_MAX elements counted");
    if (k < 1 || (sel->round == 0 && (uint64_t)k > total))
        return fi__fail(ctx, FI_ERR_DIMENSION, "k = %lld outside [1, %llu] (the elements "
                        "counted)", (long long)k, (unsigned long long)total);
    if (sel->round > 0 && total != (uint64_t)sel->in_prefix)
        return fi__fail(ctx, FI_ERR_MISMATCH, "round %d counted %llu elements in the kept bin, "
                        "round %d counted %lld: every round must count the same arrays",
                        sel->round, (unsigned long long)total, sel->round - 1,
                        (long long)sel->in_prefix);
    /* Walk down from the largest bin to the one that holds the k-th largest key. */
    const uint64_t need = (uint64_t)(k - sel->above);
    uint64_t cum = 0;
    int j = THR_BINS - 1;
    while (cum + sel->hist[j] < need) cum += sel->hist[j--];
    sel->k = k;
    sel->above += (int64_t)cum;
    sel->in_prefix = (int64_t)sel->hist[j];
    sel->prefix = sel->prefix << THR_BITS | (uint64_t)j;
    sel->round++;
    memset(sel->hist, 0, THR_BINS * sizeof *sel->hist);
    *done = sel->round == THR_ROUNDS;
    fi__ok(ctx);
    return FI_OK;
}

static int check_exact(fi_context *ctx, const fi_threshold *t)
{
    if (t->round < THR_ROUNDS)
        return fi__fail(ctx, FI_ERR_MISMATCH, "the threshold is not exact yet: %d of %d rounds "
                        "narrowed", t->round, THR_ROUNDS);
    return FI_OK;
}

int fi_threshold_result(fi_context *ctx, const fi_threshold *sel, double *threshold,
                        int64_t *above, int64_t *ties_taken)
{
    if (!ctx) return FI_ERR_NULL;
    if (!sel) return fi__fail(ctx, FI_ERR_NULL, "sel is NULL");
    int status = check_exact(ctx, sel);
    if (status != FI_OK) return status;
    if (threshold) *threshold = sel->random ? NAN : key_value(sel->prefix);
    if (above) *above = sel->above;
    if (ties_taken) *ties_taken = sel->k - sel->above;
    fi__ok(ctx);
    return FI_OK;
}

static int check_mask_args(fi_context *ctx, const fi_threshold *t, bool random, int64_t count,
                           const int64_t *ties_seen, const uint8_t *mask)
{
    if (!ties_seen) return fi__fail(ctx, FI_ERR_NULL, "ties_seen is NULL");
    if (!mask) return fi__fail(ctx, FI_ERR_NULL, "mask is NULL");
    int status = check_array(ctx, count);
    if (status != FI_OK) return status;
    if (t->random != random)
        return fi__fail(ctx, FI_ERR_MISMATCH, "this call needs a %s selector, got a %s one",
                        random ? "random" : "top", t->random ? "random" : "top");
    status = check_exact(ctx, t);
    if (status != FI_OK) return status;
    if (*ties_seen < 0)
        return fi__fail(ctx, FI_ERR_DIMENSION, "*ties_seen = %lld is negative",
                        (long long)*ties_seen);
    return FI_OK;
}

int fi_threshold_mask(fi_context *ctx, const fi_threshold *sel, const double *values,
                      int64_t count, int64_t *ties_seen, uint8_t *mask)
{
    if (!ctx) return FI_ERR_NULL;
    if (!sel) return fi__fail(ctx, FI_ERR_NULL, "sel is NULL");
    if (!values) return fi__fail(ctx, FI_ERR_NULL, "values is NULL");
    int status = check_mask_args(ctx, sel, false, count, ties_seen, mask);
    if (status != FI_OK) return status;
    int nan = 0;
    for (int64_t i = 0; i < count; i++) nan |= values[i] != values[i];
    for (int64_t i = 0; nan; i++)
        if (isnan(values[i]))
            return fi__fail(ctx, FI_ERR_NONFINITE, "values[%lld] is NaN", (long long)i);
    const uint64_t T = sel->prefix;
    const int64_t take = sel->k - sel->above;
    int64_t tie = *ties_seen;
    /* key > T and key == T are value > thr and value == thr (-0 and +0 share a key and
     * compare equal): groups without a tie (almost all) are one vectorized compare. */
    const double thr = key_value(T);
    enum { G = 64 };
    for (int64_t i0 = 0; i0 < count; i0 += G) {
        const int64_t len = count - i0 < G ? count - i0 : G;
        int eq = 0;
        for (int64_t j = 0; j < len; j++) {
            mask[i0 + j] = values[i0 + j] > thr;
            eq |= values[i0 + j] == thr;
        }
        for (int64_t j = 0; eq && j < len; j++)
            if (values[i0 + j] == thr) mask[i0 + j] = tie++ < take;
    }
    *ties_seen = tie;
    fi__ok(ctx);
    return FI_OK;
}

int fi_threshold_mask_random(fi_context *ctx, const fi_threshold *sel, int64_t array_id,
                             int64_t count, const uint8_t *exclude, int64_t *ties_seen,
                             uint8_t *mask)
{
    if (!ctx) return FI_ERR_NULL;
    if (!sel) return fi__fail(ctx, FI_ERR_NULL, "sel is NULL");
    int status = check_mask_args(ctx, sel, true, count, ties_seen, mask);
    if (status != FI_OK) return status;
    const uint64_t T = sel->prefix, base = array_base(sel->seed, array_id);
    const int64_t take = sel->k - sel->above;
    int64_t tie = *ties_seen;
    for (int64_t i = 0; i < count; i++) {
        if (exclude && exclude[i]) {
            mask[i] = 0;
            continue;
        }
        const uint64_t key = random_key(base, i);
        const bool eq = key == T;
        mask[i] = key > T || (eq && tie < take);
        tie += eq;
    }
    *ties_seen = tie;
    fi__ok(ctx);
    return FI_OK;
}

/* ---- image (docs/aggregation.md): little-endian 64-bit words
 *   0 "LIBFITHR"  8 u64 format = 1  16 u64 kind (0 top, 1 random)  24 u64 seed
 *  32 u64 round   40 u64 prefix     48 i64 k (-1 before the first narrow)  56 i64 above
 *  64 i64 in_prefix (-1 at round 0) 72 u64 digit bits = 16  80 u64 bins = 65536
 *  88 bins x u64 counts             end-8 u64 checksum ---- */

#define THR_SIZE ((size_t)THR_HEAD + (size_t)THR_BINS * 8 + 8)

size_t fi_threshold_serialized_size(const fi_threshold *sel) { return sel ? THR_SIZE : 0; }

int fi_threshold_serialize(fi_context *ctx, const fi_threshold *sel, void *buf, size_t size)
{
    if (!ctx) return FI_ERR_NULL;
    if (!sel) return fi__fail(ctx, FI_ERR_NULL, "sel is NULL");
    if (!buf) return fi__fail(ctx, FI_ERR_NULL, "buf is NULL");
    if (size < THR_SIZE)
        return fi__fail(ctx, FI_ERR_DIMENSION, "buffer of %zu bytes is too small (need %zu)",
                        size, THR_SIZE);
    unsigned char *p = buf;
    memcpy(p, THR_MAGIC, 8);
    fi__image_put_u64(p + 8, THR_FORMAT);
    fi__image_put_u64(p + 16, sel->random);
    fi__image_put_u64(p + 24, sel->seed);
    fi__image_put_u64(p + 32, (uint64_t)sel->round);
    fi__image_put_u64(p + 40, sel->prefix);
    fi__image_put_u64(p + 48, (uint64_t)sel->k);
    fi__image_put_u64(p + 56, (uint64_t)sel->above);
    fi__image_put_u64(p + 64, (uint64_t)sel->in_prefix);
    fi__image_put_u64(p + 72, THR_BITS);
    fi__image_put_u64(p + 80, THR_BINS);
    for (int j = 0; j < THR_BINS; j++) fi__image_put_u64(p + THR_HEAD + 8 * (size_t)j, sel->hist[j]);
    fi__image_put_u64(p + THR_SIZE - 8, fi__image_checksum(THR_SEED, p, THR_SIZE - 8));
    fi__ok(ctx);
    return FI_OK;
}

/* What is impossible in a decoded header, or NULL. */
static const char *bad_header(const fi_threshold *t, uint64_t kind, uint64_t round)
{
    if (kind > 1) return "unknown selector kind";
    if (round > THR_ROUNDS) return "round beyond 4";
    if (round < THR_ROUNDS && t->prefix >> (THR_BITS * round) != 0)
        return "prefix wider than the rounds narrowed";
    if (round == 0 && (t->k != -1 || t->above != 0 || t->in_prefix != -1))
        return "k, above or the kept count set before the first narrow";
    if (round > 0 && (t->k < 1 || t->above < 0 || t->above >= t->k || t->in_prefix < 1 ||
                      t->in_prefix < t->k - t->above))
        return "k, above and the kept count are inconsistent";
    return NULL;
}

static const fi__image_kind THR_IMAGE = {
    .magic = THR_MAGIC, .format = THR_FORMAT, .head = THR_HEAD,
    .noun = "selector", .title = "selector", .out = "sel",
};

int fi_threshold_deserialize(fi_context *ctx, const void *buf, size_t size, fi_threshold **sel)
{
    const int opened = fi__image_open(ctx, &THR_IMAGE, buf, size, sel);
    if (opened != FI_OK) return opened;
    const unsigned char *p = buf;
    if (fi__image_get_u64(p + 72) != THR_BITS || fi__image_get_u64(p + 80) != THR_BINS)
        return fi__fail(ctx, FI_ERR_FORMAT, "selector image has another digit width or bin "
                        "count (this library: %d bits, %d bins)", THR_BITS, THR_BINS);
    if (size != THR_SIZE)
        return fi__fail(ctx, FI_ERR_FORMAT, "selector image must be %zu bytes, got %zu "
                        "(truncated or padded)", THR_SIZE, size);
    if (fi__image_get_u64(p + THR_SIZE - 8) != fi__image_checksum(THR_SEED, p, THR_SIZE - 8))
        return fi__fail(ctx, FI_ERR_FORMAT, "checksum mismatch: the selector image is corrupt");
    fi_threshold probe = {0};
    const uint64_t kind = fi__image_get_u64(p + 16), round = fi__image_get_u64(p + 32);
    probe.prefix = fi__image_get_u64(p + 40);
    probe.k = (int64_t)fi__image_get_u64(p + 48);
    probe.above = (int64_t)fi__image_get_u64(p + 56);
    probe.in_prefix = (int64_t)fi__image_get_u64(p + 64);
    const char *why = bad_header(&probe, kind, round);
    if (why) return fi__fail(ctx, FI_ERR_FORMAT, "selector image: %s", why);
    fi_threshold *t = NULL;
    int status = create(ctx, kind == 1, fi__image_get_u64(p + 24), &t);
    if (status != FI_OK) return status;
    t->round = (int)round;
    t->prefix = probe.prefix;
    t->k = probe.k;
    t->above = probe.above;
    t->in_prefix = probe.in_prefix;
    for (int j = 0; j < THR_BINS; j++) t->hist[j] = fi__image_get_u64(p + THR_HEAD + 8 * (size_t)j);
    *sel = t;
    fi__ok(ctx);
    return FI_OK;
}
