/* The 16-byte mean accumulator (fi_mean_*): the documented bound against the exact
 * fi_accumulator over shuffled orders and shard trees, closed forms, the fused
 * fi_mean_add_direct against fi_direct + fi_mean_add (bit for bit, every dtype and class
 * mode), the image against the spec of docs/aggregation.md, corruption, bad input leaving
 * the accumulator untouched, and the allocator. */
#include <check.h>
#include <float.h>
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

static unsigned char *image_of(const fi_mean *m, size_t *size)
{
    *size = fi_mean_serialized_size(m);
    ck_assert_uint_gt(*size, 0);
    unsigned char *buf = malloc(*size);
    ck_assert_int_eq(fi_mean_serialize(ctx, m, buf, *size), FI_OK);
    return buf;
}

static int same_image(const fi_mean *a, const fi_mean *b)
{
    size_t na, nb;
    unsigned char *x = image_of(a, &na), *y = image_of(b, &nb);
    const int same = na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static uint64_t rd64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static double rdf64(const unsigned char *p)
{
    const uint64_t v = rd64(p);
    double d;
    memcpy(&d, &v, 8);
    return d;
}
static void le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
/* The checksum of docs/aggregation.md, written from the spec ("LIBFMEA1" as the seed). */
static uint64_t spec_checksum(const unsigned char *p, size_t n)
{
    uint64_t h = 0x4c4942464d454131ull;
    for (size_t i = 0; i < n; i += 8) {
        h = (h ^ rd64(p + i)) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 32;
    }
    return h;
}

enum { NB = 9, NS = 400 };
static double X[NS][NB], Wt[NS];

/* FI-like values over 30 decades, exact zeros, subnormals, nearly equal values; weights over
 * 12 decades and some exactly 0. */
static void make_samples(uint64_t seed)
{
    ref_rng r;
    ref_seed(&r, seed);
    for (int s = 0; s < NS; s++) {
        Wt[s] = s % 11 == 0 ? 0.0 : exp(28 * (ref_uniform(&r) - 0.5));
        for (int b = 0; b < NB; b++) {
            double v = exp(69 * (ref_uniform(&r) - 0.5));
            if (b == 2 && s % 3 == 0) v = 0;
            if (b == 3 && s % 5 == 0) v = 4e-310;
            if (b == 4) v = 1 + 0x1p-52 * (double)(s % 7);
            if (b == 5) v = 0;
            X[s][b] = v;
        }
    }
}

/* The bound of docs/aggregation.md: each sum within (N-1)u of the exact sum of its rounded
 * terms, so mean = S1/W within 2(N-1)u + 3u (the two products and the division rounded). */
START_TEST(test_bound_against_exact)
{
    make_samples(2100);
    fi_accumulator *ref = NULL;
    ck_assert_int_eq(fi_accumulator_create(ctx, NB, &ref), FI_OK);
    for (int s = 0; s < NS; s++) ck_assert_int_eq(fi_accumulator_add(ctx, ref, X[s], Wt[s]), FI_OK);
    double m0[NB], e0[NB];
    ck_assert_int_eq(fi_accumulator_result(ctx, ref, m0, e0), FI_OK);
    const double u = 0x1p-53, bound = (2.0 * (NS - 1) + 3) * u;
    ref_rng r;
    ref_seed(&r, 2101);
    int order[NS];
    for (int trial = 0; trial < 6; trial++) {
        for (int s = 0; s < NS; s++) order[s] = s;
        for (int s = NS - 1; s > 0 && trial > 0; s--) { /* shuffled after the first trial */
            const int j = (int)ref_int(&r, 0, s), t = order[s];
            order[s] = order[j];
            order[j] = t;
        }
        /* trial-dependent shard split, shards merged in reverse */
        const int shards = 1 + trial;
        fi_mean *part[7] = {0};
        for (int h = 0; h < shards; h++) ck_assert_int_eq(fi_mean_create(ctx, NB, &part[h]), FI_OK);
        for (int s = 0; s < NS; s++)
            ck_assert_int_eq(fi_mean_add(ctx, part[(s * 7 + trial) % shards], X[order[s]],
                                         Wt[order[s]]), FI_OK);
        for (int h = shards - 1; h > 0; h--) {
            ck_assert_int_eq(fi_mean_merge(ctx, part[h - 1], part[h]), FI_OK);
            fi_mean_free(part[h]);
        }
        double m[NB], e[NB], tw;
        int64_t samples, count;
        ck_assert_int_eq(fi_mean_result(ctx, part[0], m, e), FI_OK);
        ck_assert_int_eq(fi_mean_info(part[0], &count, &samples, &tw), FI_OK);
        ck_assert_int_eq(count, NB);
        ck_assert_int_eq(samples, NS);
        for (int b = 0; b < NB; b++) {
            if (m0[b] == 0) {
                ck_assert_double_eq(m[b], 0);
                continue;
            }
            const double rel = fabs(m[b] - m0[b]) / m0[b];
            ck_assert_msg(rel <= bound, "trial %d block %d: mean off the exact one by %.3g > "
                          "bound %.3g", trial, b, rel, bound);
            /* SE: the same estimator; its cancellation S2/W - mean^2 amplifies the sums'
             * error by mean^2 / (S2/W - mean^2), bounded here by the data's spread */
            if (e0[b] > 0) ck_assert_double_le(fabs(e[b] - e0[b]) / e0[b], 1e-9);
        }
        fi_mean_free(part[0]);
    }
    fi_accumulator_free(ref);
}
END_TEST

START_TEST(test_closed_forms)
{
    fi_mean *m = NULL;
    ck_assert_int_eq(fi_mean_create(ctx, 2, &m), FI_OK);
    /* equal weights: mean (1+2+3+4)/4 = 2.5, sample sd sqrt(5/3), SE sd/2 */
    const double v[4][2] = {{1, 0}, {2, 0}, {3, 0}, {4, 8}};
    for (int s = 0; s < 4; s++) ck_assert_int_eq(fi_mean_add(ctx, m, v[s], 1.0), FI_OK);
    double mean[2], se[2];
    ck_assert_int_eq(fi_mean_result(ctx, m, mean, se), FI_OK);
    ck_assert_double_eq_tol(mean[0], 2.5, 1e-15);
    ck_assert_double_eq_tol(se[0], sqrt(5.0 / 3.0) / 2, 1e-15);
    ck_assert_double_eq_tol(mean[1], 2.0, 1e-15);
    ck_assert_double_eq_tol(se[1], 2.0, 1e-15); /* sd of {0,0,0,8} = 4, /2 */
    /* weights 3 and 1 on {2, 6}: mean 3; one output may be NULL */
    fi_mean *w = NULL;
    ck_assert_int_eq(fi_mean_create(ctx, 1, &w), FI_OK);
    const double a = 2, b = 6;
    ck_assert_int_eq(fi_mean_add(ctx, w, &a, 3.0), FI_OK);
    ck_assert_int_eq(fi_mean_add(ctx, w, &b, 1.0), FI_OK);
    ck_assert_int_eq(fi_mean_result(ctx, w, mean, NULL), FI_OK);
    ck_assert_double_eq(mean[0], 3.0);
    /* one sample: no spread */
    fi_mean *one = NULL;
    ck_assert_int_eq(fi_mean_create(ctx, 1, &one), FI_OK);
    ck_assert_int_eq(fi_mean_add(ctx, one, &b, 2.0), FI_OK);
    ck_assert_int_eq(fi_mean_result(ctx, one, mean, se), FI_OK);
    ck_assert_double_eq(mean[0], 6.0);
    ck_assert_double_eq(se[0], 0.0);
    /* self-merge doubles every sum: the mean stays, the samples double */
    ck_assert_int_eq(fi_mean_merge(ctx, m, m), FI_OK);
    int64_t samples;
    ck_assert_int_eq(fi_mean_info(m, NULL, &samples, NULL), FI_OK);
    ck_assert_int_eq(samples, 8);
    ck_assert_int_eq(fi_mean_result(ctx, m, mean, NULL), FI_OK);
    ck_assert_double_eq(mean[0], 2.5);
    fi_mean_free(m);
    fi_mean_free(w);
    fi_mean_free(one);
}
END_TEST

/* The fused add gives the accumulator fi_direct + fi_mean_add gives, bit for bit: elements
 * (the fused chunks, every dtype, chunk edges crossed) and the other layouts and modes. */
START_TEST(test_fused_equals_direct)
{
    static const fi_dtype dts[] = {FI_F64, FI_F32, FI_BF16, FI_F16};
    const int64_t K = 4, n = 20000; /* > 2 chunks of 8192 */
    ref_rng r;
    ref_seed(&r, 2200);
    double P[4], *S = malloc((size_t)(K * n) * sizeof *S), *g = malloc((size_t)n * sizeof *g);
    double *fi = malloc((size_t)n * sizeof *fi);
    ref_softmax(&r, K, 1.0, P);
    ref_scores(&r, K, n, n, S);
    for (int64_t c = 0; c < n; c++) g[c] = ref_normal(&r);
    const fi_blocks layouts[] = {{n, 1, 1, 1}, {n / 4, 4, 1, 4}, {n / 2, 1, 1, 2}};
    for (int mode = FI_CLASS_STRICT; mode <= FI_CLASS_RENORMALIZE; mode++) {
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_CLASS_MODE, mode), FI_OK);
        for (int di = 0; di < 4; di++) {
            const fi_dtype dt = dts[di];
            const size_t es = fi_dtype_size(dt);
            unsigned char *Sx = malloc((size_t)(K * n) * es), *gx = malloc((size_t)n * es);
            for (int64_t i = 0; i < K * n; i++) { /* the dtype's bits of S and g */
                if (dt == FI_F64) ((double *)Sx)[i] = S[i];
                else if (dt == FI_F32) ((float *)Sx)[i] = (float)S[i];
                else ((uint16_t *)Sx)[i] = (uint16_t)(dt == FI_BF16 ? 0x3f80 + (i % 61) : 0x3c00 + (i % 53)) ^ (uint16_t)((i % 3 == 0) << 15);
            }
            for (int64_t c = 0; c < n; c++) {
                if (dt == FI_F64) ((double *)gx)[c] = g[c];
                else if (dt == FI_F32) ((float *)gx)[c] = (float)g[c];
                else ((uint16_t *)gx)[c] = (uint16_t)(dt == FI_BF16 ? 0x3f00 + (c % 97) : 0x3800 + (c % 89));
            }
            for (int li = 0; li < 3; li++) {
                const fi_blocks *bl = &layouts[li];
                fi_mean *a = NULL, *b = NULL, *c = NULL;
                ck_assert_int_eq(fi_mean_create(ctx, bl->count, &a), FI_OK);
                ck_assert_int_eq(fi_mean_create(ctx, bl->count, &b), FI_OK);
                ck_assert_int_eq(fi_mean_create(ctx, bl->count, &c), FI_OK);
                for (int s = 0; s < 3; s++) {
                    const void *tg = s == 1 ? NULL : gx;
                    const double w = 0.5 + s;
                    ck_assert_msg(fi_mean_add_direct(ctx, a, w, K, P, dt, Sx, n, n, bl, tg, s, 0) ==
                                  FI_OK, "%s", fi_context_error(ctx));
                    ck_assert_int_eq(fi_mean_add_direct(ctx, c, w, K, P, dt, Sx, n, n, bl, tg, s,
                                                        FI_SINGLE_PASS), FI_OK);
                    ck_assert_int_eq(fi_direct(ctx, K, P, dt, Sx, n, n, bl, tg, s, fi, 0), FI_OK);
                    ck_assert_int_eq(fi_mean_add(ctx, b, fi, w), FI_OK);
                }
                ck_assert_msg(same_image(a, b), "mode %d dtype %d layout %d: fused differs",
                              mode, (int)dt, li);
                ck_assert_msg(same_image(a, c), "FI_SINGLE_PASS gives another accumulator");
                fi_mean_free(a);
                fi_mean_free(b);
                fi_mean_free(c);
            }
            free(Sx);
            free(gx);
        }
    }
    free(S);
    free(g);
    free(fi);
}
END_TEST

START_TEST(test_bad_input_untouched)
{
    fi_mean *m = NULL, *other = NULL, *snap = NULL;
    ck_assert_int_eq(fi_mean_create(NULL, 3, &m), FI_ERR_NULL);
    ck_assert_int_eq(fi_mean_create(ctx, 3, NULL), FI_ERR_NULL);
    ck_assert_int_eq(fi_mean_create(ctx, 0, &m), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_mean_create(ctx, INT64_MAX, &m), FI_ERR_DIMENSION);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(fi_mean_create(ctx, 3, &m), FI_OK);
    ck_assert_int_eq(fi_mean_create(ctx, 3, &snap), FI_OK);
    ck_assert_int_eq(fi_mean_create(ctx, 4, &other), FI_OK);
    const double ok[3] = {1, 2, 3};
    ck_assert_int_eq(fi_mean_add(ctx, m, ok, 1), FI_OK);
    ck_assert_int_eq(fi_mean_add(ctx, snap, ok, 1), FI_OK);
    const double nan[3] = {1, NAN, 3}, inf[3] = {1, 2, INFINITY}, neg[3] = {1, -1e-300, 3};
    ck_assert_int_eq(fi_mean_add(ctx, NULL, ok, 1), FI_ERR_NULL);
    ck_assert_int_eq(fi_mean_add(ctx, m, NULL, 1), FI_ERR_NULL);
    ck_assert_int_eq(fi_mean_add(ctx, m, nan, 1), FI_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "fi[1]"));
    ck_assert_int_eq(fi_mean_add(ctx, m, inf, 1), FI_ERR_NONFINITE);
    ck_assert_int_eq(fi_mean_add(ctx, m, neg, 1), FI_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "negative"));
    ck_assert_int_eq(fi_mean_add(ctx, m, ok, -1), FI_ERR_OPTION);
    ck_assert_int_eq(fi_mean_add(ctx, m, ok, INFINITY), FI_ERR_OPTION);
    ck_assert_int_eq(fi_mean_add(ctx, m, ok, 1e200), FI_ERR_OPTION);
    ck_assert_int_eq(fi_mean_merge(ctx, m, other), FI_ERR_MISMATCH);
    ck_assert_int_eq(fi_mean_merge(ctx, m, NULL), FI_ERR_NULL);
    /* fused: bad scores, bad probabilities, a count that does not match, a bad class */
    const double P[2] = {0.5, 0.5}, S[6] = {1, 2, 3, -1, NAN, 0}, S2[6] = {1, 2, 3, -1, 0, 0};
    const fi_blocks el = {3, 1, 1, 1}, two = {2, 1, 1, 1};
    ck_assert_int_eq(fi_mean_add_direct(ctx, m, 1, 2, P, FI_F64, S, 3, 3, &el, NULL, 0, 0),
                     FI_ERR_NONFINITE);
    ck_assert_int_eq(fi_mean_add_direct(ctx, m, 1, 2, P, FI_F64, S2, 3, 3, &two, NULL, 0, 0),
                     FI_ERR_MISMATCH);
    ck_assert_int_eq(fi_mean_add_direct(ctx, m, 1, 2, P, FI_F64, S2, 3, 3, &el, NULL, 2, 0),
                     FI_ERR_CLASS);
    const double Pbad[2] = {0.5, 0.2};
    ck_assert_int_eq(fi_mean_add_direct(ctx, m, 1, 2, Pbad, FI_F64, S2, 3, 3, &el, NULL, 0, 0),
                     FI_ERR_PROBABILITY);
    ck_assert_int_eq(fi_mean_add_direct(ctx, m, -2, 2, P, FI_F64, S2, 3, 3, &el, NULL, 0, 0),
                     FI_ERR_OPTION);
    ck_assert_int_eq(fi_mean_add_direct(ctx, m, 1, 2, P, FI_F64, S2, 3, 3, &el, NULL, 0, 4),
                     FI_ERR_FLAG);
    ck_assert_msg(same_image(m, snap), "a failed call changed the accumulator");
    /* FI_SINGLE_PASS: non-finite input still fails (acc may hold part of the sample) */
    ck_assert_int_eq(fi_mean_add_direct(ctx, m, 1, 2, P, FI_F64, S, 3, 3, &el, NULL, 0,
                                        FI_SINGLE_PASS), FI_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "coordinate 1"));
    /* no weight: no mean */
    fi_mean *empty = NULL;
    double mean[3];
    ck_assert_int_eq(fi_mean_create(ctx, 3, &empty), FI_OK);
    ck_assert_int_eq(fi_mean_add(ctx, empty, ok, 0), FI_OK);
    ck_assert_int_eq(fi_mean_result(ctx, empty, mean, NULL), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_mean_result(ctx, NULL, mean, NULL), FI_ERR_NULL);
    /* a sum that overflows is reported at the result, by block */
    const double huge[3] = {1, 1e300, 1};
    ck_assert_int_eq(fi_mean_add(ctx, empty, huge, 1), FI_OK);
    double se[3];
    ck_assert_int_eq(fi_mean_result(ctx, empty, mean, se), FI_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "block 1"));
    ck_assert_int_eq(fi_mean_result(ctx, empty, mean, NULL), FI_OK); /* the mean alone is fine */
    ck_assert_int_eq(fi_mean_info(NULL, NULL, NULL, NULL), FI_ERR_NULL);
    ck_assert_uint_eq(fi_mean_serialized_size(NULL), 0);
    fi_mean_free(NULL);
    fi_mean_free(empty);
    fi_mean_free(m);
    fi_mean_free(snap);
    fi_mean_free(other);
}
END_TEST

/* The image decoded from the spec of docs/aggregation.md, a round trip, and every kind of
 * damage rejected. */
START_TEST(test_format)
{
    fi_mean *m = NULL, *back = NULL;
    ck_assert_int_eq(fi_mean_create(ctx, 2, &m), FI_OK);
    const double a[2] = {1.5, 0.25}, b[2] = {2, 0};
    ck_assert_int_eq(fi_mean_add(ctx, m, a, 2), FI_OK);
    ck_assert_int_eq(fi_mean_add(ctx, m, b, 0.5), FI_OK);
    size_t size;
    unsigned char *img = image_of(m, &size);
    ck_assert_uint_eq(size, 56 + 2 * 16 + 8);
    ck_assert_int_eq(memcmp(img, "LIBFIMEA", 8), 0);
    ck_assert_uint_eq(rd64(img + 8), 1);
    ck_assert_uint_eq(rd64(img + 16), 2);
    ck_assert_uint_eq(rd64(img + 24), 2);
    ck_assert_double_eq(rdf64(img + 32), 2.5);
    ck_assert_double_eq(rdf64(img + 40), 4.25);
    ck_assert_uint_eq(rd64(img + 48), 16);
    ck_assert_double_eq(rdf64(img + 56), 2 * 1.5 + 0.5 * 2);       /* block 0 sum w*FI */
    ck_assert_double_eq(rdf64(img + 64), 2 * 1.5 * 1.5 + 0.5 * 4); /* block 0 sum w*FI^2 */
    ck_assert_double_eq(rdf64(img + 72), 0.5);
    ck_assert_double_eq(rdf64(img + 80), 0.125);
    ck_assert_uint_eq(rd64(img + size - 8), spec_checksum(img, size - 8));
    ck_assert_int_eq(fi_mean_deserialize(ctx, img, size, &back), FI_OK);
    ck_assert(same_image(m, back));
    fi_mean_free(back);
    back = NULL;
    /* damage */
    ck_assert_int_eq(fi_mean_serialize(ctx, m, img, size - 1), FI_ERR_DIMENSION);
    ck_assert_int_eq(fi_mean_deserialize(ctx, img, size - 8, &back), FI_ERR_FORMAT);
    ck_assert_int_eq(fi_mean_deserialize(ctx, img, 20, &back), FI_ERR_FORMAT);
    ck_assert_str_eq(fi_context_error(ctx), "buffer of 20 bytes is shorter than a mean image "
                                            "header (56 bytes): truncated");
    img[0] ^= 0x10;
    ck_assert_int_eq(fi_mean_deserialize(ctx, img, size, &back), FI_ERR_FORMAT);
    ck_assert_str_eq(fi_context_error(ctx), "not a mean accumulator image (bad magic, expected "
                                            "\"LIBFIMEA\")");
    img[0] ^= 0x10;
    for (size_t i = 0; i < size; i++) { /* every single flipped byte is caught */
        img[i] ^= 0x10;
        ck_assert_int_eq(fi_mean_deserialize(ctx, img, size, &back), FI_ERR_FORMAT);
        img[i] ^= 0x10;
    }
    /* a well-sealed image with an impossible value: a negative sum */
    unsigned char *bad = malloc(size);
    memcpy(bad, img, size);
    double neg = -1;
    memcpy(bad + 72, &neg, 8);
    le64(bad + size - 8, spec_checksum(bad, size - 8));
    ck_assert_int_eq(fi_mean_deserialize(ctx, bad, size, &back), FI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "block 1"));
    memcpy(bad, img, size);
    le64(bad + 8, 2); /* another format version */
    le64(bad + size - 8, spec_checksum(bad, size - 8));
    ck_assert_int_eq(fi_mean_deserialize(ctx, bad, size, &back), FI_ERR_FORMAT);
    ck_assert_str_eq(fi_context_error(ctx), "mean image format version 2, this library reads "
                                            "version 1");
    ck_assert_ptr_null(back);
    ck_assert_int_eq(fi_mean_deserialize(ctx, NULL, size, &back), FI_ERR_NULL);
    ck_assert_str_eq(fi_context_error(ctx), "buf is NULL");
    ck_assert_int_eq(fi_mean_deserialize(ctx, img, size, NULL), FI_ERR_NULL);
    ck_assert_str_eq(fi_context_error(ctx), "acc (output pointer) is NULL");
    ck_assert_int_eq(fi_mean_deserialize(NULL, img, size, &back), FI_ERR_NULL);
    free(bad);
    free(img);
    fi_mean_free(m);
}
END_TEST

typedef struct counting {
    int allocs, frees, fail_at;
} counting;
static void *count_alloc(void *op, size_t size)
{
    counting *c = op;
    if (c->fail_at >= 0 && c->allocs >= c->fail_at) return NULL;
    c->allocs++;
    return malloc(size);
}
static void count_free(void *op, void *p)
{
    counting *c = op;
    if (p) c->frees++;
    free(p);
}

START_TEST(test_allocator)
{
    for (int fail = 0; fail < 3; fail++) {
        counting cnt = {0, 0, fail};
        fi_context *c2 = NULL;
        ck_assert_int_eq(fi_context_create(&c2), FI_OK);
        ck_assert_int_eq(fi_context_set_allocator(c2, count_alloc, count_free, &cnt), FI_OK);
        fi_mean *m = NULL;
        const int st = fi_mean_create(c2, 5, &m);
        if (fail < 2) {
            ck_assert_int_eq(st, FI_ERR_NOMEM);
            ck_assert_ptr_null(m);
        } else {
            ck_assert_int_eq(st, FI_OK);
            fi_mean_free(m);
        }
        ck_assert_int_eq(cnt.allocs, cnt.frees);
        fi_context_free(c2);
    }
}
END_TEST

static Suite *mean_suite(void)
{
    Suite *s = suite_create("mean");
    TCase *tc = tcase_create("mean");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_bound_against_exact);
    tcase_add_test(tc, test_closed_forms);
    tcase_add_test(tc, test_fused_equals_direct);
    tcase_add_test(tc, test_bad_input_untouched);
    tcase_add_test(tc, test_format);
    tcase_add_test(tc, test_allocator);
    suite_add_tcase(s, tc);
    return s;
}
FI_REGISTER_SUITE(mean_suite)
