/* The accumulator's serialized format against the spec in docs/aggregation.md (decoded and
 * hand-built here), corruption, format 1 images, the sample cap and the caller's allocator. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fi.h"
#include "suites.h"
#include "support/accumulator_fixture.h"
#include "support/reference.h"

/* ---- the serialized format ---- */

/* Two blocks, samples (fi = {1, -3}, w = 1) and (fi = {0.5, 2}, w = 3):
 * sum w = 4, sum w^2 = 10; block 0: sum w FI = 2.5, sum w FI^2 = 1.75;
 * block 1: sum w FI = 3, sum w FI^2 = 21. */
static fi_accumulator *two_block(void)
{
    fi_accumulator *a = NULL;
    ck_assert_int_eq(fi_accumulator_create(ctx, 2, &a), FI_OK);
    ck_assert_int_eq(fi_accumulator_add(ctx, a, (const double[]){1, -3}, 1), FI_OK);
    ck_assert_int_eq(fi_accumulator_add(ctx, a, (const double[]){0.5, 2}, 3), FI_OK);
    return a;
}

START_TEST(test_format_spec)
{
    fi_accumulator *a = two_block();
    size_t n;
    unsigned char *img = image_of(a, &n);
    /* layout of docs/aggregation.md, read byte by byte */
    ck_assert_uint_eq(n, 128 + 80 * 2);
    ck_assert(memcmp(img, "LIBFIACC", 8) == 0);
    ck_assert_uint_eq(rd64(img + 8), 2);
    ck_assert_uint_eq(rd64(img + 16), 2);
    ck_assert_uint_eq(rd64(img + 24), 2);
    ck_assert_uint_eq(rd64(img + 32), 30 | (uint64_t)4 << 32);
    const long double want[6] = {4, 10, 2.5, 1.75, 3, 21};
    for (int s = 0; s < 6; s++) ck_assert(spec_value(img + 40 + 40 * s) == want[s]);
    ck_assert_uint_eq(rd64(img + n - 8), spec_checksum(img, n - 8));
    /* 1.0 sits at bit position 1074, bin 35, offset 24: sum w = 4 is 2^26 in bin 35 */
    ck_assert_uint_eq(rd64(img + 40), 35);
    ck_assert_uint_eq(rd64(img + 48), 1u << 26);
    for (int i = 1; i < 4; i++) ck_assert_uint_eq(rd64(img + 48 + 8 * i), 0);

    /* an image built here from the spec alone reads back to the same sums */
    unsigned char hand[128 + 80 * 2] = {0};
    memcpy(hand, "LIBFIACC", 8);
    le64(hand + 8, 2);
    le64(hand + 16, 2);
    le64(hand + 24, 2);
    le64(hand + 32, 30 | (uint64_t)4 << 32);
    /* (top, c0): value c0 * 2^(30 top - 1074); 2^(30*35-1074) = 2^-24 */
    const struct { int64_t top; int64_t c0; } sums[6] = {
        {35, 4LL << 24},  /* 4    */
        {35, 10LL << 24}, /* 10   */
        {35, 5LL << 23},  /* 2.5  */
        {35, 7LL << 22},  /* 1.75 */
        {35, 3LL << 24},  /* 3    */
        {35, 21LL << 24}, /* 21   */
    };
    for (int s = 0; s < 6; s++) {
        le64(hand + 40 + 40 * s, (uint64_t)sums[s].top);
        le64(hand + 48 + 40 * s, (uint64_t)sums[s].c0);
    }
    reseal(hand, sizeof hand);
    fi_accumulator *b = NULL;
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, hand, sizeof hand, &b), FI_OK);
    double m[2], e[2];
    ck_assert_int_eq(fi_accumulator_result(ctx, b, m, e), FI_OK);
    ck_assert(m[0] == 2.5 / 4 && m[1] == 3.0 / 4);
    /* SE^2 = (S2/W - mean^2) / (n_eff - 1), n_eff = 16/10 */
    ck_assert_double_eq_tol(e[0], sqrt((1.75 / 4 - 0.625 * 0.625) / 0.6), 1e-15);
    ck_assert_double_eq_tol(e[1], sqrt((21.0 / 4 - 0.75 * 0.75) / 0.6), 1e-15);
    /* every term lies in bin 35, so the library wrote exactly these bytes */
    ck_assert(memcmp(hand, img, n) == 0);
    fi_accumulator_free(b);
    free(img);
    fi_accumulator_free(a);
}
END_TEST

START_TEST(test_corruption)
{
    fi_accumulator *a = two_block();
    size_t n;
    unsigned char *img = image_of(a, &n);
    fi_accumulator *out = (fi_accumulator *)0x1;
    /* every truncation, and padding */
    for (size_t len = 0; len < n; len++)
        ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, len, &out), FI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "truncated"));
    unsigned char *pad = calloc(n + 8, 1);
    memcpy(pad, img, n);
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, pad, n + 8, &out), FI_ERR_FORMAT);
    free(pad);
    /* every single bit flip */
    for (size_t i = 0; i < n; i++)
        for (int bit = 0; bit < 8; bit++) {
            img[i] ^= (unsigned char)(1u << bit);
            ck_assert_msg(fi_accumulator_deserialize(ctx, img, n, &out) == FI_ERR_FORMAT,
                          "flip of byte %zu bit %d accepted", i, bit);
            img[i] ^= (unsigned char)(1u << bit);
        }
    ck_assert_ptr_eq(out, (fi_accumulator *)0x1);
    /* specific messages */
    img[0] = 'X';
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, n, &out), FI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "magic"));
    img[0] = 'L';
    le64(img + 8, 3);
    reseal(img, n);
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, n, &out), FI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "version 3"));
    le64(img + 8, 2);
    img[100] ^= 4;
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, n, &out), FI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "checksum"));
    img[100] ^= 4;
    reseal(img, n);
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, n, &out), FI_OK);
    fi_accumulator_free(out);
    out = (fi_accumulator *)0x1;

    /* inconsistent content under a valid checksum */
    struct { size_t off; uint64_t v; const char *msg; } sem[] = {
        {16, 3, "must be"},                       /* count vs size          */
        {24, (uint64_t)-1, "sample count"},       /* samples -1             */
        {24, (1ull << 33) + 1, "sample count"},   /* beyond the cap         */
        {24, 0, "0 samples"},                     /* sums with 0 samples    */
        {32, 32 | 4ull << 32, "bins of 32"},      /* other bin geometry     */
        {40, 70, "top bin"},                      /* sum w: top beyond 2^1023 */
        {48, (uint64_t)-5, "negative counter"},   /* sum w: negative        */
        {48, 0, "empty top bin"},                 /* sum w: top bin empty   */
        {56, 1ull << 40, "exceeds"},              /* sum w: counter too big */
        {40 + 80 + 8, (uint64_t)(2LL << 31), "exceeds"}, /* block 0 sum w FI */
        {40 + 80 + 40, (uint64_t)-1, "nonzero counter in an empty"}, /* w FI^2 empty, counters set */
    };
    for (size_t i = 0; i < sizeof sem / sizeof sem[0]; i++) {
        unsigned char *c = malloc(n);
        memcpy(c, img, n);
        le64(c + sem[i].off, sem[i].v);
        reseal(c, n);
        ck_assert_msg(fi_accumulator_deserialize(ctx, c, n, &out) == FI_ERR_FORMAT, "case %zu accepted", i);
        ck_assert_msg(strstr(fi_context_error(ctx), sem[i].msg), "case %zu: %s", i, fi_context_error(ctx));
        free(c);
    }
    ck_assert_ptr_eq(out, (fi_accumulator *)0x1);
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, NULL, n, &out), FI_ERR_NULL);
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, n, NULL), FI_ERR_NULL);
    ck_assert_int_eq(fi_accumulator_serialize(ctx, a, img, n - 1), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_accumulator_serialize(ctx, a, NULL, n), FI_ERR_NULL);
    free(img);
    fi_accumulator_free(a);
}
END_TEST

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void le_f64(unsigned char *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    le64(p, v);
}

/* Images of the first format (double-double pairs, FNV-1a) are still read. */
START_TEST(test_format1)
{
    /* the two_block sums, with a nonzero lo part in sum w*FI of block 1 */
    const double pairs[6][2] = {{4, 0}, {10, 0}, {2.5, 0}, {1.75, 0}, {3, 0x1p-60}, {21, 0}};
    unsigned char img[72 + 32 * 2];
    memcpy(img, "LIBFIACC", 8);
    le64(img + 8, 1);
    le64(img + 16, 2);
    le64(img + 24, 2);
    for (int s = 0; s < 6; s++) {
        le_f64(img + 32 + 16 * s, pairs[s][0]);
        le_f64(img + 40 + 16 * s, pairs[s][1]);
    }
    le64(img + sizeof img - 8, fnv1a(img, sizeof img - 8));
    fi_accumulator *a = NULL;
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, sizeof img, &a), FI_OK);
    double m[2];
    ck_assert_int_eq(fi_accumulator_result(ctx, a, m, NULL), FI_OK);
    ck_assert(m[0] == 2.5 / 4 && m[1] == (3 + 0x1p-60) / 4);
    /* it now serializes in format 2, and the lo part survived */
    size_t n;
    unsigned char *v2 = image_of(a, &n);
    ck_assert_uint_eq(rd64(v2 + 8), 2);
    ck_assert(spec_value(v2 + 40 + 40 * 4) == 3 + 0x1p-60L);
    free(v2);
    fi_accumulator_free(a);
    /* corrupt or non-finite format-1 images are rejected */
    a = (fi_accumulator *)0x1;
    img[50] ^= 1;
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, sizeof img, &a), FI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "checksum"));
    img[50] ^= 1;
    le_f64(img + 32, INFINITY);
    le64(img + sizeof img - 8, fnv1a(img, sizeof img - 8));
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, sizeof img, &a), FI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "non-finite"));
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, sizeof img - 1, &a), FI_ERR_FORMAT);
    ck_assert_ptr_eq(a, (fi_accumulator *)0x1);
}
END_TEST

/* 2^33 samples is the documented maximum (it keeps every counter below 2^63). */
START_TEST(test_sample_cap)
{
    unsigned char img[128 + 80];
    memset(img, 0, sizeof img);
    memcpy(img, "LIBFIACC", 8);
    le64(img + 8, 2);
    le64(img + 16, 1);
    le64(img + 24, 1ull << 33);
    le64(img + 32, 30 | (uint64_t)4 << 32);
    for (int s = 0; s < 4; s++) le64(img + 40 + 40 * s, (uint64_t)-1); /* all sums empty */
    reseal(img, sizeof img);
    fi_accumulator *full = NULL, *one = NULL;
    ck_assert_int_eq(fi_accumulator_deserialize(ctx, img, sizeof img, &full), FI_OK);
    int64_t smp;
    ck_assert_int_eq(fi_accumulator_info(full, NULL, &smp, NULL), FI_OK);
    ck_assert_int_eq(smp, 1ll << 33);
    ck_assert_int_eq(fi_accumulator_add(ctx, full, &(double){1}, 1), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_accumulator_create(ctx, 1, &one), FI_OK);
    ck_assert_int_eq(fi_accumulator_add(ctx, one, &(double){1}, 1), FI_OK);
    ck_assert_int_eq(fi_accumulator_merge(ctx, full, one), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_accumulator_merge(ctx, one, full), FI_ERR_DIMENSION);
    fi_accumulator_free(full);
    fi_accumulator_free(one);
}
END_TEST

/* ---- allocator ---- */

typedef struct counting {
    int allocs, frees, fail_at;
} counting;

static void *c_alloc(void *o, size_t n)
{
    counting *c = o;
    if (c->fail_at >= 0 && c->allocs >= c->fail_at) return NULL;
    c->allocs++;
    return malloc(n);
}
static void c_free(void *o, void *p)
{
    counting *c = o;
    if (p) c->frees++;
    free(p);
}

START_TEST(test_allocator)
{
    counting cnt = {0, 0, -1};
    fi_context *c2 = NULL;
    ck_assert_int_eq(fi_context_create(&c2), FI_OK);
    ck_assert_int_eq(fi_context_set_allocator(c2, c_alloc, c_free, &cnt), FI_OK);
    fi_accumulator *a = NULL, *b = NULL;
    ck_assert_int_eq(fi_accumulator_create(c2, 1000, &a), FI_OK);
    const int used = cnt.allocs;
    ck_assert_int_gt(used, 0);
    size_t n = fi_accumulator_serialized_size(a);
    unsigned char *img = malloc(n);
    ck_assert_int_eq(fi_accumulator_serialize(c2, a, img, n), FI_OK);
    /* every allocation failing in turn: NOMEM, output untouched, nothing leaked */
    for (int k = 0; k < used; k++) {
        cnt.fail_at = cnt.allocs + k;
        b = (fi_accumulator *)0x1;
        ck_assert_int_eq(fi_accumulator_create(c2, 1000, &b), FI_ERR_NOMEM);
        ck_assert_int_eq(fi_accumulator_deserialize(c2, img, n, &b), FI_ERR_NOMEM);
        ck_assert_ptr_eq(b, (fi_accumulator *)0x1);
        ck_assert_int_eq(cnt.allocs - cnt.frees, used);
    }
    cnt.fail_at = -1;
    fi_context_free(c2); /* the accumulator outlives its context */
    ck_assert_int_eq(fi_accumulator_add(ctx, a, (double[1000]){0}, 1), FI_OK);
    fi_accumulator_free(a);
    ck_assert_int_eq(cnt.allocs, cnt.frees);
    free(img);
}
END_TEST

static Suite *accumulator_format_suite(void)
{
    Suite *s = suite_create("accumulator format");
    TCase *tc = tcase_create("format");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_format_spec);
    tcase_add_test(tc, test_corruption);
    tcase_add_test(tc, test_format1);
    tcase_add_test(tc, test_sample_cap);
    tcase_add_test(tc, test_allocator);
    suite_add_tcase(s, tc);
    return s;
}
FI_REGISTER_SUITE(accumulator_format_suite)
