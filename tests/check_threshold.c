/* Selection across arrays (fi_threshold_*): the exact threshold and the masks against a sort of
 * all values with the order (value desc, array, index), on random, heavily tied and
 * adversarial values (all equal, -0/+0, subnormals, +-inf, values one ulp apart), sharded
 * and merged in any order and through images; FI-Low's draw: deterministic, the same over
 * any shard split, disjoint from the excluded top, and uniform over k-subsets (chi-square);
 * bad input. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fi.h"
#include "suites.h"
#include "support/reference.h"

static fi_context *ctx;
static void setup(void) { ck_assert_int_eq(fi_context_create(&ctx), FI_OK); }
static void teardown(void) { fi_context_free(ctx); }

enum { NA = 6, MAXN = 3000 };

typedef struct arrays {
    int64_t n[NA];
    double v[NA][MAXN];
} arrays;

typedef struct item {
    double v;
    int a;
    int64_t i;
} item;

/* The selection order written out: larger value first (-0 == +0), then array, then index. */
static int by_order(const void *x, const void *y)
{
    const item *p = x, *q = y;
    if (p->v != q->v) return p->v > q->v ? -1 : 1;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    return p->i < q->i ? -1 : p->i > q->i;
}

/* Runs the 4 rounds over the arrays split into `shards` selectors (array a in shard
 * a % shards), merged in reverse order, with every other shard passed through an image. */
static fi_threshold *select_top(const arrays *A, int64_t k, int shards)
{
    fi_threshold *sel[NA] = {0};
    for (int h = 0; h < shards; h++) ck_assert_int_eq(fi_threshold_create(ctx, &sel[h]), FI_OK);
    for (int done = 0, round = 0; !done; round++) {
        ck_assert_int_lt(round, 4);
        for (int a = 0; a < NA; a++)
            ck_assert_int_eq(fi_threshold_add(ctx, sel[a % shards], A->v[a], A->n[a]), FI_OK);
        for (int h = shards - 1; h > 0; h--) {
            fi_threshold *src = sel[h], *copy = NULL;
            if (h % 2) { /* across a process boundary */
                const size_t size = fi_threshold_serialized_size(src);
                unsigned char *img = malloc(size);
                ck_assert_int_eq(fi_threshold_serialize(ctx, src, img, size), FI_OK);
                ck_assert_int_eq(fi_threshold_deserialize(ctx, img, size, &copy), FI_OK);
                free(img);
                src = copy;
            }
            ck_assert_int_eq(fi_threshold_merge(ctx, sel[0], src), FI_OK);
            fi_threshold_free(copy);
        }
        ck_assert_int_eq(fi_threshold_narrow(ctx, sel[0], k, &done), FI_OK);
        /* the other shards narrow the same way (as after a broadcast) */
        for (int h = 1; h < shards; h++) {
            int d2;
            fi_threshold_free(sel[h]);
            const size_t size = fi_threshold_serialized_size(sel[0]);
            unsigned char *img = malloc(size);
            ck_assert_int_eq(fi_threshold_serialize(ctx, sel[0], img, size), FI_OK);
            ck_assert_int_eq(fi_threshold_deserialize(ctx, img, size, &sel[h]), FI_OK);
            free(img);
            (void)d2;
        }
    }
    for (int h = 1; h < shards; h++) fi_threshold_free(sel[h]);
    return sel[0];
}

/* Checks the selector's result and masks against the sorted order. */
static void check_against_sort(const arrays *A, int64_t k, const fi_threshold *sel)
{
    int64_t total = 0;
    for (int a = 0; a < NA; a++) total += A->n[a];
    item *all = malloc((size_t)total * sizeof *all);
    int64_t t = 0;
    for (int a = 0; a < NA; a++)
        for (int64_t i = 0; i < A->n[a]; i++) all[t++] = (item){A->v[a][i], a, i};
    qsort(all, (size_t)total, sizeof *all, by_order);
    const double kth = all[k - 1].v;
    int64_t above = 0;
    while (above < total && all[above].v > kth) above++;
    double thr;
    int64_t got_above, taken;
    ck_assert_int_eq(fi_threshold_result(ctx, sel, &thr, &got_above, &taken), FI_OK);
    ck_assert_msg(thr == kth, "threshold %.17g, the k-th value is %.17g", thr, kth);
    ck_assert_int_eq(got_above, above);
    ck_assert_int_eq(taken, k - above);
    static uint8_t want[NA][MAXN], mask[MAXN];
    memset(want, 0, sizeof want);
    for (int64_t j = 0; j < k; j++) want[all[j].a][all[j].i] = 1;
    int64_t ties = 0, selected = 0;
    for (int a = 0; a < NA; a++) {
        ck_assert_int_eq(fi_threshold_mask(ctx, sel, A->v[a], A->n[a], &ties, mask), FI_OK);
        for (int64_t i = 0; i < A->n[a]; i++) {
            ck_assert_msg(mask[i] == want[a][i], "k %lld array %d index %lld (value %.17g): "
                          "mask %d, sort says %d", (long long)k, a, (long long)i, A->v[a][i],
                          mask[i], want[a][i]);
            selected += mask[i];
        }
    }
    ck_assert_int_eq(selected, k);
    free(all);
}

/* Value families: 0 random normal, 1 heavy ties (5 values), 2 adversarial specials,
 * 3 all equal, 4 one ulp apart (every round's bins but the last hold everything). */
static void fill(arrays *A, int family, ref_rng *r)
{
    static const double specials[] = {0.0, -0.0, 4.9e-324, -4.9e-324, 2.2e-308, INFINITY,
                                      -INFINITY, 1.0, -1.0, 1e308, -1e308, 0.5};
    for (int a = 0; a < NA; a++) {
        A->n[a] = ref_int(r, 1, a == 0 ? 3 : MAXN);
        for (int64_t i = 0; i < A->n[a]; i++) {
            double v;
            switch (family) {
            case 0: v = ref_normal(r) * exp(10 * ref_normal(r)); break;
            case 1: v = (double)ref_int(r, -2, 2); break;
            case 2: v = specials[ref_int(r, 0, 11)]; break;
            case 3: v = 0.75; break;
            default: v = nextafter(1.0, 2.0) + 0x1p-52 * (double)ref_int(r, 0, 40); break;
            }
            A->v[a][i] = v;
        }
    }
}

START_TEST(test_against_sort)
{
    static arrays A;
    ref_rng r;
    ref_seed(&r, 3100);
    for (int family = 0; family < 5; family++) {
        fill(&A, family, &r);
        int64_t total = 0;
        for (int a = 0; a < NA; a++) total += A.n[a];
        const int64_t ks[] = {1, 2, fi_fraction_count(total, 0.01), fi_fraction_count(total, 0.3),
                              total / 2, total - 1, total};
        for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
            const int64_t k = ks[j] < 1 ? 1 : ks[j];
            fi_threshold *sel = select_top(&A, k, 1 + (int)(j % 4));
            check_against_sort(&A, k, sel);
            fi_threshold_free(sel);
        }
    }
}
END_TEST

START_TEST(test_bad_input)
{
    fi_threshold *sel = NULL, *rnd = NULL, *other = NULL;
    const double v[4] = {1, 2, NAN, 4}, w[3] = {3, 1, 2};
    uint8_t mask[4];
    int done = 0;
    int64_t ties = 0;
    ck_assert_int_eq(fi_threshold_create(NULL, &sel), FI_ERR_NULL);
    ck_assert_int_eq(fi_threshold_create(ctx, NULL), FI_ERR_NULL);
    ck_assert_int_eq(fi_threshold_create(ctx, &sel), FI_OK);
    ck_assert_int_eq(fi_threshold_create_random(ctx, 7, &rnd), FI_OK);
    ck_assert_int_eq(fi_threshold_create(ctx, &other), FI_OK);
    ck_assert_int_eq(fi_threshold_add(ctx, sel, NULL, 3), FI_ERR_NULL);
    ck_assert_int_eq(fi_threshold_add(ctx, sel, w, 0), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_threshold_add(ctx, rnd, w, 3), FI_ERR_MISMATCH);
    ck_assert_int_eq(fi_threshold_add_random(ctx, sel, 0, 3, NULL), FI_ERR_MISMATCH);
    /* NaN: rejected, and the counts of the values before it are taken back */
    ck_assert_int_eq(fi_threshold_add(ctx, sel, w, 3), FI_OK);
    const size_t size = fi_threshold_serialized_size(sel);
    unsigned char *before = malloc(size), *after = malloc(size);
    ck_assert_int_eq(fi_threshold_serialize(ctx, sel, before, size), FI_OK);
    ck_assert_int_eq(fi_threshold_add(ctx, sel, v, 4), FI_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "values[2]"));
    ck_assert_int_eq(fi_threshold_serialize(ctx, sel, after, size), FI_OK);
    ck_assert_int_eq(memcmp(before, after, size), 0);
    /* results and masks before the threshold is exact */
    ck_assert_int_eq(fi_threshold_result(ctx, sel, NULL, NULL, NULL), FI_ERR_MISMATCH);
    ck_assert_int_eq(fi_threshold_mask(ctx, sel, w, 3, &ties, mask), FI_ERR_MISMATCH);
    /* k outside [1, counted] */
    ck_assert_int_eq(fi_threshold_narrow(ctx, sel, 0, &done), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_threshold_narrow(ctx, sel, 4, &done), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_threshold_narrow(ctx, sel, 2, NULL), FI_ERR_NULL);
    ck_assert_int_eq(fi_threshold_narrow(ctx, sel, 2, &done), FI_OK);
    ck_assert_int_eq(done, 0);
    /* merging selectors at different rounds, or of different kinds */
    ck_assert_int_eq(fi_threshold_merge(ctx, sel, other), FI_ERR_MISMATCH);
    ck_assert_int_eq(fi_threshold_merge(ctx, other, rnd), FI_ERR_MISMATCH);
    /* a later round must keep k and count the same elements */
    ck_assert_int_eq(fi_threshold_add(ctx, sel, w, 3), FI_OK);
    ck_assert_int_eq(fi_threshold_narrow(ctx, sel, 1, &done), FI_ERR_MISMATCH);
    ck_assert_int_eq(fi_threshold_add(ctx, sel, w, 3), FI_OK); /* counted twice */
    ck_assert_int_eq(fi_threshold_narrow(ctx, sel, 2, &done), FI_ERR_MISMATCH);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "same arrays"));
    fi_threshold_free(sel);
    sel = NULL;
    /* a complete run, then nothing more to count */
    ck_assert_int_eq(fi_threshold_create(ctx, &sel), FI_OK);
    for (done = 0; !done;) {
        ck_assert_int_eq(fi_threshold_add(ctx, sel, w, 3), FI_OK);
        ck_assert_int_eq(fi_threshold_narrow(ctx, sel, 2, &done), FI_OK);
    }
    ck_assert_int_eq(fi_threshold_add(ctx, sel, w, 3), FI_ERR_MISMATCH);
    ck_assert_int_eq(fi_threshold_narrow(ctx, sel, 2, &done), FI_ERR_MISMATCH);
    double thr;
    ck_assert_int_eq(fi_threshold_result(ctx, sel, &thr, NULL, NULL), FI_OK);
    ck_assert_double_eq(thr, 2);
    ck_assert_int_eq(fi_threshold_mask(ctx, sel, w, 3, NULL, mask), FI_ERR_NULL);
    ck_assert_int_eq(fi_threshold_mask(ctx, sel, w, 3, &ties, NULL), FI_ERR_NULL);
    ties = -1;
    ck_assert_int_eq(fi_threshold_mask(ctx, sel, w, 3, &ties, mask), FI_ERR_DIMENSION);
    ties = 0;
    memset(mask, 9, sizeof mask);
    ck_assert_int_eq(fi_threshold_mask(ctx, sel, v, 4, &ties, mask), FI_ERR_NONFINITE);
    ck_assert_int_eq(mask[0], 9); /* untouched */
    ck_assert_int_eq(ties, 0);
    ck_assert_int_eq(fi_threshold_mask_random(ctx, sel, 0, 3, NULL, &ties, mask), FI_ERR_MISMATCH);
    ck_assert_int_eq(fi_threshold_mask(ctx, sel, w, 3, &ties, mask), FI_OK);
    ck_assert_int_eq(mask[0], 1);
    ck_assert_int_eq(mask[1], 0);
    ck_assert_int_eq(mask[2], 1);
    ck_assert_int_eq(ties, 1);
    /* images: damage and impossible headers */
    ck_assert_int_eq(fi_threshold_serialize(ctx, sel, before, size - 1), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_threshold_serialize(ctx, sel, before, size), FI_OK);
    fi_threshold *back = NULL;
    ck_assert_int_eq(fi_threshold_deserialize(ctx, before, size - 8, &back), FI_ERR_FORMAT);
    /* the opening checks' messages, word for word (src/core/image.c serves mean images too) */
    ck_assert_int_eq(fi_threshold_deserialize(ctx, before, 87, &back), FI_ERR_FORMAT);
    ck_assert_str_eq(fi_context_error(ctx), "buffer of 87 bytes is shorter than a selector image "
                                            "header (88 bytes): truncated");
    before[7] ^= 4;
    ck_assert_int_eq(fi_threshold_deserialize(ctx, before, size, &back), FI_ERR_FORMAT);
    ck_assert_str_eq(fi_context_error(ctx), "not a selector image (bad magic, expected "
                                            "\"LIBFITHR\")");
    before[7] ^= 4;
    before[8] ^= 4; /* format 5 */
    ck_assert_int_eq(fi_threshold_deserialize(ctx, before, size, &back), FI_ERR_FORMAT);
    ck_assert_str_eq(fi_context_error(ctx), "selector image format version 5, this library "
                                            "reads version 1");
    before[8] ^= 4;
    ck_assert_int_eq(fi_threshold_deserialize(ctx, NULL, size, &back), FI_ERR_NULL);
    ck_assert_str_eq(fi_context_error(ctx), "buf is NULL");
    ck_assert_int_eq(fi_threshold_deserialize(ctx, before, size, NULL), FI_ERR_NULL);
    ck_assert_str_eq(fi_context_error(ctx), "sel (output pointer) is NULL");
    for (size_t i = 0; i < 96; i++) {
        before[i] ^= 4;
        ck_assert_int_eq(fi_threshold_deserialize(ctx, before, size, &back), FI_ERR_FORMAT);
        before[i] ^= 4;
    }
    before[size / 2] ^= 1;
    ck_assert_int_eq(fi_threshold_deserialize(ctx, before, size, &back), FI_ERR_FORMAT);
    before[size / 2] ^= 1;
    ck_assert_int_eq(fi_threshold_deserialize(ctx, before, size, &back), FI_OK);
    ck_assert_int_eq(fi_threshold_result(ctx, back, &thr, NULL, NULL), FI_OK);
    ck_assert_double_eq(thr, 2);
    ck_assert_uint_eq(fi_threshold_serialized_size(NULL), 0);
    fi_threshold_free(back);
    fi_threshold_free(NULL);
    fi_threshold_free(sel);
    fi_threshold_free(rnd);
    fi_threshold_free(other);
    free(before);
    free(after);
}
END_TEST

/* Draws k among the elements of arrays of sizes n[0..na) not excluded, over `shards`
 * selectors; mask[a][i] set for the drawn ones. */
static void draw(uint64_t seed, int na, const int64_t *n, uint8_t ex[][MAXN], int64_t k,
                 int shards, uint8_t out[][MAXN])
{
    fi_threshold *sel[4] = {0};
    for (int h = 0; h < shards; h++)
        ck_assert_int_eq(fi_threshold_create_random(ctx, seed, &sel[h]), FI_OK);
    for (int done = 0; !done;) {
        for (int a = na - 1; a >= 0; a--) /* any order of arrays */
            ck_assert_int_eq(fi_threshold_add_random(ctx, sel[a % shards], a, n[a],
                                                     ex ? ex[a] : NULL), FI_OK);
        for (int h = 1; h < shards; h++) {
            ck_assert_int_eq(fi_threshold_merge(ctx, sel[0], sel[h]), FI_OK);
            fi_threshold_free(sel[h]);
        }
        ck_assert_int_eq(fi_threshold_narrow(ctx, sel[0], k, &done), FI_OK);
        for (int h = 1; h < shards; h++) { /* every shard continues from the narrowed state */
            const size_t size = fi_threshold_serialized_size(sel[0]);
            unsigned char *img = malloc(size);
            ck_assert_int_eq(fi_threshold_serialize(ctx, sel[0], img, size), FI_OK);
            ck_assert_int_eq(fi_threshold_deserialize(ctx, img, size, &sel[h]), FI_OK);
            free(img);
        }
    }
    double thr;
    ck_assert_int_eq(fi_threshold_result(ctx, sel[0], &thr, NULL, NULL), FI_OK);
    ck_assert(isnan(thr));
    int64_t ties = 0, drawn = 0;
    for (int a = 0; a < na; a++) {
        ck_assert_int_eq(fi_threshold_mask_random(ctx, sel[a % shards], a, n[a],
                                                  ex ? ex[a] : NULL, &ties, out[a]), FI_OK);
        for (int64_t i = 0; i < n[a]; i++) {
            if (ex && ex[a][i]) ck_assert_int_eq(out[a][i], 0);
            drawn += out[a][i];
        }
    }
    ck_assert_int_eq(drawn, k);
    for (int h = 0; h < shards; h++) fi_threshold_free(sel[h]);
}

START_TEST(test_random_draw)
{
    static uint8_t ex[3][MAXN], a1[3][MAXN], a2[3][MAXN];
    const int64_t n[3] = {1000, 1, 2500};
    /* exclude a top mask: the top 10% of some values, selected by the top selector */
    static arrays A;
    ref_rng r;
    ref_seed(&r, 3200);
    memset(&A, 0, sizeof A);
    for (int a = 0; a < NA; a++) {
        A.n[a] = a < 3 ? n[a] : 1;
        for (int64_t i = 0; i < A.n[a]; i++) A.v[a][i] = a < 3 ? ref_normal(&r) : -1e300;
    }
    fi_threshold *top = select_top(&A, 350, 2);
    int64_t ties = 0;
    for (int a = 0; a < 3; a++)
        ck_assert_int_eq(fi_threshold_mask(ctx, top, A.v[a], n[a], &ties, ex[a]), FI_OK);
    fi_threshold_free(top);
    /* the same seed: the same draw over any shard split; another seed: another draw */
    draw(42, 3, n, ex, 350, 1, a1);
    draw(42, 3, n, ex, 350, 3, a2);
    ck_assert_int_eq(memcmp(a1, a2, sizeof a1), 0);
    draw(43, 3, n, ex, 350, 2, a2);
    ck_assert_int_ne(memcmp(a1, a2, sizeof a1), 0);
    /* uniform over the 10 pairs of a pool of 5 (arrays {3, 3} with one element excluded):
     * chi-square with 9 degrees of freedom below 27.9 (p = 0.001) */
    const int64_t m[2] = {3, 3};
    static uint8_t ex2[2][MAXN], got[2][MAXN];
    memset(ex2, 0, sizeof ex2);
    ex2[1][1] = 1;
    int freq[64] = {0};
    const int trials = 2000;
    for (int s = 0; s < trials; s++) {
        draw(1000 + (uint64_t)s, 2, m, ex2, 2, 1 + s % 2, got);
        int code = 0;
        for (int a = 0; a < 2; a++)
            for (int i = 0; i < 3; i++) code |= got[a][i] << (3 * a + i);
        freq[code]++;
    }
    double chi2 = 0;
    int subsets = 0;
    for (int c = 0; c < 64; c++) {
        if (__builtin_popcount((unsigned)c) != 2 || (c & (1 << 4))) {
            ck_assert_int_eq(freq[c], 0);
            continue;
        }
        subsets++;
        const double e = trials / 10.0;
        chi2 += (freq[c] - e) * (freq[c] - e) / e;
    }
    ck_assert_int_eq(subsets, 10);
    ck_assert_msg(chi2 < 27.9, "chi-square %.2f over the 10 pairs: not uniform", chi2);
}
END_TEST

static Suite *threshold_suite(void)
{
    Suite *s = suite_create("threshold");
    TCase *tc = tcase_create("threshold");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_against_sort);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_random_draw);
    suite_add_tcase(s, tc);
    return s;
}
FI_REGISTER_SUITE(threshold_suite)
