/* libFuzzer harness over the public entry points. The input bytes choose K, n, ld, dtype,
 * class mode, layout (including negative and overflowing extents), probabilities and values
 * (NaN, Inf, denormals included). Invariants checked on every call: the status is a known
 * code; a failure leaves the output sentinel untouched and sets a message; a success writes
 * finite, non-negative FI. Built without libFuzzer (FI_FUZZ_REPLAY) it replays files. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fi.h"

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

/* An option from the input: out-of-range values are part of what is fuzzed, so a refusal is
 * an expected outcome (the status is checked by the option suites). */
static void try_set(fi_context *ctx, int option, double value)
{
    if (fi_context_set(ctx, option, value) != FI_OK) return;
}

static uint64_t take(reader *r, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) {
        v |= (uint64_t)(r->n ? *r->p : 0) << (8 * i);
        if (r->n) r->p++, r->n--;
    }
    return v;
}

/* A double that is often "interesting": small ints, specials, denormals, raw bits. */
static double take_double(reader *r)
{
    const uint8_t kind = (uint8_t)take(r, 1);
    switch (kind % 8) {
    case 0: return NAN;
    case 1: return kind & 8 ? INFINITY : -INFINITY;
    case 2: return 4.9e-324 * (double)(take(r, 1) + 1);
    case 3: { uint64_t u = take(r, 8); double d; memcpy(&d, &u, 8); return d; }
    default: return ((double)(int8_t)take(r, 1)) / 16.0;
    }
}

/* A dimension: mostly small, sometimes extreme. */
static int64_t take_dim(reader *r)
{
    const uint8_t k = (uint8_t)take(r, 1);
    switch (k % 16) {
    case 0: return INT64_MAX;
    case 1: return INT64_MIN;
    case 2: return -(int64_t)(take(r, 1) % 8);
    case 3: return (int64_t)take(r, 8);
    default: return (int64_t)(k % 17);
    }
}

#define FAIL(...) (fprintf(stderr, __VA_ARGS__), abort())

/* FI may overflow to +Inf for finite but extreme inputs (it is a ratio); never NaN or < 0.
 * A residual is a relative norm in [0, 1]. */
static void check_result(fi_context *ctx, int st, const double *out, int64_t count, const char *what,
                         double init)
{
    const int residual = strcmp(what, "fi_residual") == 0;
    if (st < 0 || st > FI_ERR_NAME) FAIL("%s: unknown status %d\n", what, st);
    if (st != FI_OK) {
        for (int64_t b = 0; b < count; b++)
            if (out[b] != init) FAIL("%s: output written on failure %d\n", what, st);
        if (!fi_context_error(ctx)[0]) FAIL("%s: no message for status %d\n", what, st);
        return;
    }
    for (int64_t b = 0; b < count; b++)
        if (isnan(out[b]) || out[b] - (init > 0 ? init : 0) < 0 || (residual && !(out[b] <= 1 + 1e-12)))
            FAIL("%s: value[%lld] = %g\n", what, (long long)b, out[b]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    fi_context *ctx = NULL;
    if (fi_context_create(&ctx) != FI_OK) return 0;
    const int64_t K = 2 + (int64_t)(take(&r, 1) % 5), n = 1 + (int64_t)(take(&r, 1) % 48);
    const int64_t ld = n + (int64_t)(take(&r, 1) % 4);
    const int dtype = (int)(take(&r, 1) % 5); /* 4 = invalid */
    try_set(ctx, FI_OPT_CLASS_MODE, (double)(take(&r, 1) % 4));
    try_set(ctx, FI_OPT_METHOD, (double)(take(&r, 1) % 2));
    try_set(ctx, FI_OPT_THREADS, (double)(1 + take(&r, 1) % 3));
    if (take(&r, 1) % 4 == 0) try_set(ctx, FI_OPT_RCOND, take_double(&r));
    fi_blocks bl = {take_dim(&r), take_dim(&r), take_dim(&r), take_dim(&r)};
    if (take(&r, 1) % 2) { /* a valid layout half of the time */
        bl.size = 1 + (int64_t)(take(&r, 1) % (uint64_t)n);
        bl.stride = 1;
        bl.step = bl.size;
        bl.count = n / bl.size;
    }
    /* out holds 64 values. More blocks fit in [0, n < 64) only with step 0 (all blocks at one
     * place, a valid layout the library must compute in full, INT64_MAX times if asked), so
     * such a layout is cut to 64 blocks: the caller's out must hold count values. */
    if (bl.step == 0 && bl.count > 64) bl.count = 64;
    double probs[8];
    double psum = 0;
    for (int64_t i = 0; i < K; i++) psum += (probs[i] = 1.0 + (double)(take(&r, 1) % 8));
    for (int64_t i = 0; i < K; i++) probs[i] /= psum;
    if (take(&r, 1) % 8 == 0) probs[take(&r, 1) % (uint64_t)K] = take_double(&r);
    const size_t es = fi_dtype_size(dtype) ? fi_dtype_size(dtype) : 8;
    uint8_t *scores = malloc((size_t)(K * ld) * es), *target = malloc((size_t)n * es);
    for (int64_t i = 0; i < K * ld; i++) {
        double v = take_double(&r);
        if (es == 8) memcpy(scores + i * 8, &v, 8);
        else if (es == 4) { float f = (float)v; memcpy(scores + i * 4, &f, 4); }
        else { uint16_t h = (uint16_t)take(&r, 2); memcpy(scores + i * 2, &h, 2); }
    }
    for (int64_t c = 0; c < n; c++) {
        double v = take_double(&r);
        if (es == 8) memcpy(target + c * 8, &v, 8);
        else if (es == 4) { float f = (float)v; memcpy(target + c * 4, &f, 4); }
        else { uint16_t h = (uint16_t)take(&r, 2); memcpy(target + c * 2, &h, 2); }
    }
    const int64_t count = bl.count > 0 && bl.count <= 64 ? bl.count : 0;
    double out[64];
    const unsigned flags = (unsigned)(take(&r, 1) % 4);
    const int64_t cls = (int64_t)(take(&r, 1) % 8) - 1;
    const double init = (flags & FI_ACCUMULATE) ? 0.5 : -7.0;
    for (int i = 0; i < 64; i++) out[i] = init;
    int st = fi_direct(ctx, K, probs, (fi_dtype)dtype, scores, n, ld, &bl,
                       (cls % 2) ? target : NULL, cls, out, flags & FI_ACCUMULATE);
    if (st == FI_OK && count == 0) FAIL("fi_direct accepted count %lld\n", (long long)bl.count);
    check_result(ctx, st, out, count, "fi_direct", init);

    fi_metric *m = NULL;
    st = fi_metric_from_scores(ctx, K, probs, (fi_dtype)dtype, scores, n, ld, &bl, &m);
    if ((st == FI_OK) != (m != NULL)) FAIL("metric pointer inconsistent with status %d\n", st);
    if (m) {
        for (int i = 0; i < 64; i++) out[i] = -7.0;
        st = fi_compute(ctx, m, (fi_dtype)dtype, target, out, 0);
        check_result(ctx, st, out, count, "fi_compute", -7.0);
        for (int i = 0; i < 64; i++) out[i] = -7.0;
        st = fi_residual(ctx, m, (fi_dtype)dtype, target, out);
        check_result(ctx, st, out, count, "fi_residual", -7.0);
        fi_metric_free(m);
    }
    /* index lists made of raw bytes */
    int64_t offsets[5] = {0}, indices[16];
    const int64_t icount = 1 + (int64_t)(take(&r, 1) % 4);
    for (int64_t b = 1; b <= icount; b++) offsets[b] = offsets[b - 1] + (int64_t)(take(&r, 1) % 5) - 1;
    for (int t = 0; t < 16; t++) indices[t] = (int64_t)(take(&r, 1) % 64) - 4;
    if (offsets[icount] >= 0 && offsets[icount] <= 16) {
        fi_index_blocks ib = {icount, offsets, indices};
        for (int i = 0; i < 64; i++) out[i] = -7.0;
        st = fi_direct_indexed(ctx, K, probs, (fi_dtype)dtype, scores, n, ld, &ib, target, -1, out, 0);
        check_result(ctx, st, out, icount, "fi_direct_indexed", -7.0);
    }
    /* accumulator images of raw bytes never crash */
    fi_accumulator *acc = NULL;
    if (fi_accumulator_deserialize(ctx, r.p, r.n, &acc) == FI_OK) fi_accumulator_free(acc);
    free(scores);
    free(target);
    fi_context_free(ctx);
    return 0;
}

#ifdef FI_FUZZ_REPLAY
/* Replays every file named on the command line (the kept corpus) through the harness. */
int main(int argc, char **argv)
{
    int replayed = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) continue;
        static uint8_t buf[1 << 16];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, len);
        replayed++;
    }
    printf("fuzz corpus: %d inputs replayed, all invariants held\n", replayed);
    return replayed > 0 ? 0 : 1;
}
#endif
