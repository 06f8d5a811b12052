/* Bad input to the core calls: every case gets its own status code and a message naming
 * what is wrong; outputs stay untouched (sentinels) and inputs unmodified (snapshots).
 * Allocation failure is tests/check_alloc.c.
 *
 * A LAPACK failure (dgesvd not converging) is not provoked here: dgesvd converges on every
 * finite input, non-finite input is rejected before it, and the library calls LAPACK
 * directly, so there is no seam to inject the failure through the public API. */
#include <check.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fi.h"
#include "suites.h"
#include "support/bad_input.h"
#include "support/reference.h"

/* ------------------------------------------------------------------ NULL pointers */

START_TEST(test_null_arguments)
{
    fi_metric *m = SENTINEL;
    ck_assert_int_eq(fi_context_create(NULL), FI_ERR_NULL);
    ck_assert_int_eq(fi_metric_from_scores(NULL, K, P, FI_F64, S, N, LD, &ROWS, &m), FI_ERR_NULL);
    ck_assert_ptr_eq(m, SENTINEL);
    metric_fails(FI_ERR_NULL, "probs", K, NULL, FI_F64, S, N, LD, &ROWS);
    metric_fails(FI_ERR_NULL, "scores", K, P, FI_F64, NULL, N, LD, &ROWS);
    metric_fails(FI_ERR_NULL, "blocks", K, P, FI_F64, S, N, LD, NULL);
    ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S, N, LD, &ROWS, NULL), FI_ERR_NULL);
    assert_message(FI_ERR_NULL, "metric");
    ck_assert_int_eq(fi_metric_from_scores_indexed(ctx, K, P, FI_F64, S, N, LD, NULL, &m), FI_ERR_NULL);
    ck_assert_int_eq(fi_metric_from_scores_indexed(NULL, K, P, FI_F64, S, N, LD, NULL, &m), FI_ERR_NULL);
    ck_assert_ptr_eq(m, SENTINEL);
    fi_index_blocks ib = {NB, NULL, IDX};
    indexed_fails(FI_ERR_NULL, "offsets", &ib);
    ib.offsets = OFF, ib.indices = NULL;
    indexed_fails(FI_ERR_NULL, "indices", &ib);

    /* fi_compute, fi_residual, diagnostics: the output keeps its sentinel */
    ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S, N, LD, &ROWS, &m), FI_OK);
    double out[NB] = {-7, -7, -7, -7}, bound = -7;
    int64_t ranks[NB] = {-7, -7, -7, -7};
    uint8_t sat[NB] = {7, 7, 7, 7};
    ck_assert_int_eq(fi_compute(NULL, m, FI_F64, G, out, 0), FI_ERR_NULL);
    ck_assert_int_eq(fi_compute(ctx, NULL, FI_F64, G, out, 0), FI_ERR_NULL);
    assert_message(FI_ERR_NULL, "metric");
    ck_assert_int_eq(fi_compute(ctx, m, FI_F64, NULL, out, 0), FI_ERR_NULL);
    assert_message(FI_ERR_NULL, "target");
    ck_assert_int_eq(fi_compute(ctx, m, FI_F64, G, NULL, 0), FI_ERR_NULL);
    assert_message(FI_ERR_NULL, "out");
    ck_assert_int_eq(fi_residual(NULL, m, FI_F64, G, out), FI_ERR_NULL);
    ck_assert_int_eq(fi_residual(ctx, NULL, FI_F64, G, out), FI_ERR_NULL);
    assert_message(FI_ERR_NULL, "metric");
    ck_assert_int_eq(fi_residual(ctx, m, FI_F64, NULL, out), FI_ERR_NULL);
    assert_message(FI_ERR_NULL, "target");
    ck_assert_int_eq(fi_residual(ctx, m, FI_F64, G, NULL), FI_ERR_NULL);
    assert_message(FI_ERR_NULL, "out");
    ck_assert_int_eq(fi_metric_ranks(NULL, m, ranks), FI_ERR_NULL);
    ck_assert_int_eq(fi_metric_ranks(ctx, NULL, ranks), FI_ERR_NULL);
    assert_message(FI_ERR_NULL, "metric");
    ck_assert_int_eq(fi_metric_ranks(ctx, m, NULL), FI_ERR_NULL);
    assert_message(FI_ERR_NULL, "ranks");
    ck_assert_int_eq(fi_class_bound(NULL, m, 0, &bound), FI_ERR_NULL);
    ck_assert_int_eq(fi_class_bound(ctx, NULL, 0, &bound), FI_ERR_NULL);
    ck_assert_int_eq(fi_class_bound(ctx, m, 0, NULL), FI_ERR_NULL);
    assert_message(FI_ERR_NULL, "bound");
    ck_assert_int_eq(fi_normalize_class(NULL, m, 0, out, out, sat), FI_ERR_NULL);
    ck_assert_int_eq(fi_normalize_class(ctx, NULL, 0, out, out, sat), FI_ERR_NULL);
    ck_assert_int_eq(fi_normalize_class(ctx, m, 0, NULL, out, sat), FI_ERR_NULL);
    assert_message(FI_ERR_NULL, "fi");
    for (int b = 0; b < NB; b++) {
        ck_assert_double_eq(out[b], -7);
        ck_assert_int_eq(ranks[b], -7);
        ck_assert_int_eq(sat[b], 7);
    }
    ck_assert_double_eq(bound, -7);
    /* the fused call: every pointer but target (NULL selects the class target) */
    ck_assert_int_eq(fi_direct(NULL, K, P, FI_F64, S, N, LD, &ROWS, G, -1, out, 0), FI_ERR_NULL);
    ck_assert_int_eq(fi_direct(ctx, K, NULL, FI_F64, S, N, LD, &ROWS, G, -1, out, 0), FI_ERR_NULL);
    assert_message(FI_ERR_NULL, "probs");
    ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, NULL, N, LD, &ROWS, G, -1, out, 0), FI_ERR_NULL);
    assert_message(FI_ERR_NULL, "scores");
    ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, S, N, LD, NULL, G, -1, out, 0), FI_ERR_NULL);
    assert_message(FI_ERR_NULL, "blocks");
    ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, S, N, LD, &ROWS, G, -1, NULL, 0), FI_ERR_NULL);
    assert_message(FI_ERR_NULL, "out");
    ck_assert_int_eq(fi_direct_indexed(ctx, K, P, FI_F64, S, N, LD, NULL, G, -1, out, 0), FI_ERR_NULL);
    assert_message(FI_ERR_NULL, "blocks");
    ck_assert_int_eq(fi_metric_count(NULL), 0);
    ck_assert_int_eq(fi_metric_classes(NULL), 0);
    ck_assert_ptr_nonnull(fi_context_error(NULL));
    fi_metric_free(m);
    fi_metric_free(NULL); /* no-ops */
    fi_context_free(NULL);
    assert_inputs_pristine();
}
END_TEST

/* ------------------------------------------------------------------ dimensions, layouts */

START_TEST(test_bad_dimensions)
{
    metric_fails(FI_ERR_DIMENSION, "n_classes", 1, P, FI_F64, S, N, LD, &ROWS);
    metric_fails(FI_ERR_DIMENSION, "n_classes", 0, P, FI_F64, S, N, LD, &ROWS);
    metric_fails(FI_ERR_DIMENSION, "n_classes", -3, P, FI_F64, S, N, LD, &ROWS);
    metric_fails(FI_ERR_DIMENSION, "n must", K, P, FI_F64, S, 0, LD, &ROWS);
    metric_fails(FI_ERR_DIMENSION, "n must", K, P, FI_F64, S, -5, LD, &ROWS);
    metric_fails(FI_ERR_DIMENSION, "ld", K, P, FI_F64, S, N, N - 1, &ROWS);
    metric_fails(FI_ERR_DIMENSION, "ld", K, P, FI_F64, S, N, -1, &ROWS);
    /* extents (K-1)*ld + n that overflow int64 or the address space: nothing is read */
    metric_fails(FI_ERR_DIMENSION, "overflow", K, P, FI_F64, S, INT64_MAX / 2, INT64_MAX / 2, &ROWS);
    metric_fails(FI_ERR_DIMENSION, "overflow", K, P, FI_F64, S, INT64_MAX, INT64_MAX, &ROWS);
    /* (K-1)*ld + n fits int64 but not the address space in bytes */
    metric_fails(FI_ERR_DIMENSION, "overflow", 2, P, FI_F64, S, INT64_MAX / 4, INT64_MAX / 4, &ROWS);
    metric_fails(FI_ERR_DIMENSION, "overflow", 2, P, FI_F32, S, INT64_MAX / 3, INT64_MAX / 3, &ROWS);

    static const struct {
        fi_blocks bl;
        const char *what;
    } bad[] = {
        {{0, 1, 1, 1}, "count"},
        {{-1, 1, 1, 1}, "count"},
        {{N, 0, 1, 1}, "size"},
        {{N, -2, 1, 1}, "size"},
        {{N + 1, 1, 1, 1}, "outside"},          /* one block too many */
        {{1, N + 1, 1, 0}, "outside"},          /* a block longer than n */
        {{NB, 4, 1, 3}, "outside"},             /* the last block runs past n */
        {{2, 1, 1, -1}, "outside"},             /* negative step reaches -1 */
        {{2, 1, 1, -6}, "outside"},
        {{1, 2, -1, 0}, "outside"},             /* negative stride reaches -1 */
        {{2, 3, -2, 9}, "outside"},
        {{1, 2, 0, 0}, "stride"},               /* a block repeating one coordinate */
        {{4, 3, N, 1}, "outside"},              /* stride past n */
        {{INT64_MAX, 1, 1, INT64_MAX}, "overflow"},
        {{2, INT64_MAX, INT64_MAX, 0}, "overflow"},
        {{INT64_MAX, 2, 1, 2}, "overflow"},
        {{3, INT64_MAX, 2, 1}, "overflow"},
        {{INT64_MIN, 1, 1, 1}, "count"},
        {{2, 2, INT64_MIN, 1}, "outside"},
    };
    for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++) {
        metric_fails(FI_ERR_DIMENSION, bad[t].what, K, P, FI_F64, S, N, LD, &bad[t].bl);
        double out[N];
        for (int i = 0; i < N; i++) out[i] = -7;
        ck_assert_msg(fi_direct(ctx, K, P, FI_F64, S, N, LD, &bad[t].bl, G, -1, out, 0) ==
                          FI_ERR_DIMENSION, "direct, layout %zu", t);
        for (int i = 0; i < N; i++) ck_assert_double_eq(out[i], -7);
    }
}
END_TEST

START_TEST(test_bad_index_lists)
{
    int64_t off[NB + 1], idx[N];
    fi_index_blocks ib = {NB, off, idx};
#define RESET() (memcpy(off, OFF, sizeof off), memcpy(idx, IDX, sizeof idx))
    RESET();
    ib.count = 0;
    indexed_fails(FI_ERR_DIMENSION, "count", &ib);
    ib.count = -4;
    indexed_fails(FI_ERR_DIMENSION, "count", &ib);
    ib.count = NB;
    off[0] = 1;
    indexed_fails(FI_ERR_DIMENSION, "offsets[0]", &ib);
    RESET();
    off[2] = off[1]; /* empty block 1 */
    indexed_fails(FI_ERR_DIMENSION, "empty", &ib);
    RESET();
    off[2] = 2; /* decreasing: 3, 2 */
    indexed_fails(FI_ERR_DIMENSION, "decrease", &ib);
    RESET();
    idx[5] = -1;
    indexed_fails(FI_ERR_DIMENSION, "outside", &ib);
    RESET();
    idx[11] = N;
    indexed_fails(FI_ERR_DIMENSION, "outside", &ib);
    RESET();
    idx[0] = INT64_MIN;
    indexed_fails(FI_ERR_DIMENSION, "outside", &ib);
#undef RESET
    /* the valid lists are accepted */
    ib = (fi_index_blocks){NB, OFF, IDX};
    fi_metric *m = NULL;
    ck_assert_int_eq(fi_metric_from_scores_indexed(ctx, K, P, FI_F64, S, N, LD, &ib, &m), FI_OK);
    ck_assert_int_eq(fi_metric_count(m), NB);
    fi_metric_free(m);
    assert_inputs_pristine();
}
END_TEST

/* ------------------------------------------------------------------ probabilities */

START_TEST(test_bad_probabilities)
{
    double q[K];
    const struct {
        double v0;
        const char *what;
    } bad[] = {
        {-0.1, "negative"}, {-1e-300, "negative"}, {NAN, "not finite"},
        {INFINITY, "not finite"}, {-INFINITY, "not finite"},
    };
    for (int mode = 0; mode <= 2; mode++) { /* rejected in every mode */
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_CLASS_MODE, mode), FI_OK);
        for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++) {
            memcpy(q, P, sizeof q);
            q[1] = bad[t].v0;
            metric_fails(FI_ERR_PROBABILITY, bad[t].what, K, q, FI_F64, S, N, LD, &ROWS);
            ck_assert(memcmp(&q[1], &bad[t].v0, sizeof(double)) == 0); /* unmodified */
        }
        const double zero[K] = {0, 0, 0};
        metric_fails(FI_ERR_PROBABILITY, "sum to 0", K, zero, FI_F64, S, N, LD, &ROWS);
    }
    /* strict: |sum - 1| > FI_OPT_PROB_TOL (default 1e-5) is rejected, within it accepted */
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_CLASS_MODE, FI_CLASS_STRICT), FI_OK);
    const double sums[] = {0.9, 0.99998, 1.00002, 1.5, 1e-3};
    for (size_t t = 0; t < sizeof sums / sizeof sums[0]; t++) {
        for (int i = 0; i < K; i++) q[i] = P[i] * sums[t];
        metric_fails(FI_ERR_PROBABILITY, "sum", K, q, FI_F64, S, N, LD, &ROWS);
    }
    fi_metric *m = NULL;
    for (int i = 0; i < K; i++) q[i] = P[i] * (1 + 5e-6);
    ck_assert_int_eq(fi_metric_from_scores(ctx, K, q, FI_F64, S, N, LD, &ROWS, &m), FI_OK);
    fi_metric_free(m);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_PROB_TOL, 0), FI_OK);
    metric_fails(FI_ERR_PROBABILITY, "sum", K, q, FI_F64, S, N, LD, &ROWS);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_PROB_TOL, 1e-5), FI_OK);
    /* the same sum off 1 is accepted by the other modes (remainder: only below 1) */
    for (int i = 0; i < K; i++) q[i] = P[i] * 0.9;
    for (int mode = FI_CLASS_RENORMALIZE; mode <= FI_CLASS_REMAINDER; mode++) {
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_CLASS_MODE, mode), FI_OK);
        m = NULL;
        ck_assert_int_eq(fi_metric_from_scores(ctx, K, q, FI_F64, S, N, LD, &ROWS, &m), FI_OK);
        fi_metric_free(m);
    }
    for (int i = 0; i < K; i++) q[i] = P[i] * 1.1;
    metric_fails(FI_ERR_PROBABILITY, "remainder", K, q, FI_F64, S, N, LD, &ROWS);
    /* a class of probability 0 has no finite bound */
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_CLASS_MODE, FI_CLASS_STRICT), FI_OK);
    const double z1[K] = {0, 0.4, 0.6};
    ck_assert_int_eq(fi_metric_from_scores(ctx, K, z1, FI_F64, S, N, LD, &ROWS, &m), FI_OK);
    double bound = -7;
    ck_assert_int_eq(fi_class_bound(ctx, m, 0, &bound), FI_ERR_PROBABILITY);
    assert_message(FI_ERR_PROBABILITY, "probability 0");
    ck_assert_double_eq(bound, -7);
    fi_metric_free(m);
}
END_TEST

/* ------------------------------------------------------------------ dtypes, non-finite */

START_TEST(test_bad_dtype)
{
    const int bad[] = {4, -1, 1000, INT32_MIN};
    for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++)
        metric_fails(FI_ERR_DTYPE, "dtype", K, P, (fi_dtype)bad[t], S, N, LD, &ROWS);
    fi_metric *m = NULL;
    ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S, N, LD, &ROWS, &m), FI_OK);
    double out[NB] = {-7, -7, -7, -7};
    for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++) {
        ck_assert_int_eq(fi_compute(ctx, m, (fi_dtype)bad[t], G, out, 0), FI_ERR_DTYPE);
        assert_message(FI_ERR_DTYPE, "dtype");
        ck_assert_int_eq(fi_residual(ctx, m, (fi_dtype)bad[t], G, out), FI_ERR_DTYPE);
        assert_message(FI_ERR_DTYPE, "dtype");
    }
    for (int b = 0; b < NB; b++) ck_assert_double_eq(out[b], -7);
    fi_metric_free(m);
}
END_TEST

/* NaN and +-Inf anywhere a block reads, in every dtype: FI_ERR_NONFINITE, *metric
 * untouched. NaN in the padding between n and ld is never read. */
START_TEST(test_nonfinite_scores)
{
    const double vals[] = {NAN, INFINITY, -INFINITY};
    const int64_t where[] = {0, 1 * LD + 5, 2 * LD + N - 1};
    for (size_t v = 0; v < 3; v++)
        for (size_t w = 0; w < 3; w++)
            for (int method = 0; method <= 1; method++) {
                ck_assert_int_eq(fi_context_set(ctx, FI_OPT_METHOD, method), FI_OK);
                const fi_blocks layouts[] = {ROWS, {N, 1, 1, 1}, {3, 4, 3, 1}};
                for (size_t t = 0; t < 3; t++) {
                    double s2[K * LD];
                    float f2[K * LD];
                    memcpy(s2, S, sizeof s2);
                    memcpy(f2, Sf, sizeof f2);
                    s2[where[w]] = vals[v];
                    f2[where[w]] = (float)vals[v];
                    metric_fails(FI_ERR_NONFINITE, "non-finite", K, P, FI_F64, s2, N, LD, &layouts[t]);
                    metric_fails(FI_ERR_NONFINITE, "non-finite", K, P, FI_F32, f2, N, LD, &layouts[t]);
                }
            }
    /* half precision: Inf (f16 0x7c00) and NaN (bf16 0x7fc0) */
    uint16_t h[K * N];
    for (int i = 0; i < K * N; i++) h[i] = 0x3c00; /* 1.0 in f16 */
    h[N + 4] = 0x7c00;
    metric_fails(FI_ERR_NONFINITE, "non-finite", K, P, FI_F16, h, N, N, &ROWS);
    for (int i = 0; i < K * N; i++) h[i] = 0x3f80; /* 1.0 in bf16 */
    h[2 * N] = 0x7fc0;
    metric_fails(FI_ERR_NONFINITE, "non-finite", K, P, FI_BF16, h, N, N, &ROWS);
    /* NaN padding (S has it between n and ld) is accepted in every path */
    for (int mode = 0; mode <= 2; mode++) {
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_CLASS_MODE, mode), FI_OK);
        fi_metric *m = NULL;
        ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S, N, LD, &ROWS, &m), FI_OK);
        fi_metric_free(m);
        ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F32, Sf, N, LD, &ROWS, &m), FI_OK);
        fi_metric_free(m);
    }
    assert_inputs_pristine();
}
END_TEST

START_TEST(test_nonfinite_target)
{
    fi_metric *m = NULL, *mi = NULL;
    ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S, N, LD, &ROWS, &m), FI_OK);
    const fi_index_blocks ib = {NB, OFF, IDX};
    ck_assert_int_eq(fi_metric_from_scores_indexed(ctx, K, P, FI_F64, S, N, LD, &ib, &mi), FI_OK);
    const double vals[] = {NAN, INFINITY, -INFINITY};
    for (size_t v = 0; v < 3; v++)
        for (int c = 0; c < N; c += 5) {
            double g2[N], out[NB];
            float f2[N];
            memcpy(g2, G, sizeof g2);
            memcpy(f2, Gf, sizeof f2);
            g2[c] = vals[v];
            f2[c] = (float)vals[v];
            for (unsigned flags = 0; flags <= FI_ACCUMULATE; flags++) {
                for (int b = 0; b < NB; b++) out[b] = -7;
                ck_assert_int_eq(fi_compute(ctx, m, FI_F64, g2, out, flags), FI_ERR_NONFINITE);
                assert_message(FI_ERR_NONFINITE, "target");
                ck_assert_int_eq(fi_compute(ctx, mi, FI_F32, f2, out, flags), FI_ERR_NONFINITE);
                assert_message(FI_ERR_NONFINITE, "target");
                ck_assert_int_eq(fi_residual(ctx, m, FI_F64, g2, out), FI_ERR_NONFINITE);
                ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, S, N, LD, &ROWS, g2, -1, out, flags),
                                 FI_ERR_NONFINITE);
                for (int b = 0; b < NB; b++) ck_assert_double_eq(out[b], -7);
            }
        }
    /* non-finite FI values given to fi_normalize_class */
    double fi[NB] = {1, 2, NAN, 3}, norm[NB] = {-7, -7, -7, -7};
    uint8_t sat[NB] = {7, 7, 7, 7};
    ck_assert_int_eq(fi_normalize_class(ctx, m, 0, fi, norm, sat), FI_ERR_NONFINITE);
    assert_message(FI_ERR_NONFINITE, "fi[2]");
    fi[2] = INFINITY;
    ck_assert_int_eq(fi_normalize_class(ctx, m, 0, fi, norm, sat), FI_ERR_NONFINITE);
    for (int b = 0; b < NB; b++) ck_assert(norm[b] == -7 && sat[b] == 7);
    fi_metric_free(m);
    fi_metric_free(mi);
    assert_inputs_pristine();
}
END_TEST

/* ------------------------------------------------------------------ flags, classes */

START_TEST(test_bad_flags_and_classes)
{
    fi_metric *m = NULL;
    ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S, N, LD, &ROWS, &m), FI_OK);
    double out[NB] = {-7, -7, -7, -7}, bound = -7, norm[NB] = {-7, -7, -7, -7};
    uint8_t sat[NB] = {7, 7, 7, 7};
    const unsigned bad[] = {FI_SINGLE_PASS, 4u, 0x80000000u, FI_ACCUMULATE | 8u, ~0u};
    for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++) {
        ck_assert_int_eq(fi_compute(ctx, m, FI_F64, G, out, bad[t]), FI_ERR_FLAG);
        assert_message(FI_ERR_FLAG, "flag");
    }
    const int64_t classes[] = {-1, K, K + 100, INT64_MIN, INT64_MAX};
    const double fi[NB] = {0.1, 0.2, 0.3, 0.4};
    for (size_t t = 0; t < sizeof classes / sizeof classes[0]; t++) {
        ck_assert_int_eq(fi_class_bound(ctx, m, classes[t], &bound), FI_ERR_CLASS);
        assert_message(FI_ERR_CLASS, "class");
        ck_assert_int_eq(fi_normalize_class(ctx, m, classes[t], fi, norm, sat), FI_ERR_CLASS);
        assert_message(FI_ERR_CLASS, "class");
    }
    for (int b = 0; b < NB; b++) ck_assert(out[b] == -7 && norm[b] == -7 && sat[b] == 7);
    ck_assert_double_eq(bound, -7);
    fi_metric_free(m);
}
END_TEST

/* A failure leaves the context usable, and a success after it computes as if nothing
 * happened. */
START_TEST(test_failure_then_success)
{
    fi_metric *m = SENTINEL;
    double a[NB], b[NB];
    ck_assert_int_eq(fi_metric_from_scores(ctx, 1, P, FI_F64, S, N, LD, &ROWS, &m), FI_ERR_DIMENSION);
    ck_assert_ptr_eq(m, SENTINEL);
    ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S, N, LD, &ROWS, &m), FI_OK);
    ck_assert_int_eq(fi_compute(ctx, m, FI_F64, G, a, 4u), FI_ERR_FLAG);
    ck_assert_int_eq(fi_compute(ctx, m, FI_F64, G, a, 0), FI_OK);
    fi_metric_free(m);
    fi_context *fresh = NULL;
    ck_assert_int_eq(fi_context_create(&fresh), FI_OK);
    ck_assert_str_eq(fi_context_error(fresh), "");
    m = NULL;
    ck_assert_int_eq(fi_metric_from_scores(fresh, K, P, FI_F64, S, N, LD, &ROWS, &m), FI_OK);
    ck_assert_int_eq(fi_compute(fresh, m, FI_F64, G, b, 0), FI_OK);
    ck_assert(memcmp(a, b, sizeof a) == 0);
    fi_metric_free(m);
    fi_context_free(fresh);
}
END_TEST

/* Data of test_bad_inputs: softmax-consistent scores with ld = n. */
enum { K3 = 3, N3 = 12 };
static double P3[K3] = {0.2, 0.3, 0.5};
static double S3[K3 * N3], G3[N3];

static void fill3(void)
{
    ref_rng seed;
    ref_seed(&seed, 1);
    ref_scores_p(&seed, K3, N3, N3, P3, 1, S3);
    for (int i = 0; i < N3; i++) G3[i] = ref_normal(&seed);
}

/* Runs fi_direct; on failure the sentinel-filled out must be untouched and a message set. */
static int direct_untouched(int64_t k, const double *probs, const void *scores, int64_t n,
                            int64_t ld, const fi_blocks *bl, const void *target, int64_t cls,
                            unsigned flags)
{
    double out[64];
    for (int i = 0; i < 64; i++) out[i] = -7.0;
    int st = fi_direct(ctx, k, probs, FI_F64, scores, n, ld, bl, target, cls, out, flags);
    if (st != FI_OK) {
        for (int i = 0; i < 64; i++) ck_assert_double_eq(out[i], -7.0);
        ck_assert_msg(fi_context_error(ctx)[0] != '\0', "no message for status %d", st);
    }
    return st;
}

START_TEST(test_bad_inputs)
{
    fill3();
    const fi_blocks el = {N3, 1, 1, 1}, rows = {4, 3, 1, 3};
    double Pbad[K3] = {0.2, 0.3, 0.5};
    ck_assert_int_eq(direct_untouched(K3, P3, S3, N3, N3, &rows, G3, -1, 0), FI_OK);
    ck_assert_int_eq(direct_untouched(K3, NULL, S3, N3, N3, &el, G3, -1, 0), FI_ERR_NULL);
    ck_assert_int_eq(direct_untouched(K3, P3, NULL, N3, N3, &el, G3, -1, 0), FI_ERR_NULL);
    ck_assert_int_eq(direct_untouched(K3, P3, S3, N3, N3, NULL, G3, -1, 0), FI_ERR_NULL);
    ck_assert_int_eq(direct_untouched(1, P3, S3, N3, N3, &el, G3, -1, 0), FI_ERR_DIMENSION);
    ck_assert_int_eq(direct_untouched(K3, P3, S3, 0, N3, &el, G3, -1, 0), FI_ERR_DIMENSION);
    ck_assert_int_eq(direct_untouched(K3, P3, S3, N3, N3 - 1, &el, G3, -1, 0), FI_ERR_DIMENSION);
    const fi_blocks bad[] = {
        {0, 1, 1, 1}, {N3, 0, 1, 1}, {N3 + 1, 1, 1, 1}, {4, 4, 1, 3}, {2, 2, -1, 1},
        {2, 1, 1, -5}, {INT64_MAX, 2, 1, INT64_MAX}, {2, INT64_MAX, INT64_MAX, 1},
    };
    for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++)
        ck_assert_msg(direct_untouched(K3, P3, S3, N3, N3, &bad[t], G3, -1, 0) == FI_ERR_DIMENSION,
                      "layout %zu", t);
    Pbad[0] = -0.1;
    ck_assert_int_eq(direct_untouched(K3, Pbad, S3, N3, N3, &el, G3, -1, 0), FI_ERR_PROBABILITY);
    Pbad[0] = NAN;
    ck_assert_int_eq(direct_untouched(K3, Pbad, S3, N3, N3, &el, G3, -1, 0), FI_ERR_PROBABILITY);
    Pbad[0] = 0.25;
    ck_assert_int_eq(direct_untouched(K3, Pbad, S3, N3, N3, &el, G3, -1, 0), FI_ERR_PROBABILITY);
    ck_assert_int_eq(direct_untouched(K3, P3, S3, N3, N3, &el, NULL, K3, 0), FI_ERR_CLASS);
    ck_assert_int_eq(direct_untouched(K3, P3, S3, N3, N3, &el, NULL, -1, 0), FI_ERR_CLASS);
    ck_assert_int_eq(direct_untouched(K3, P3, S3, N3, N3, &el, G3, -1, 4u), FI_ERR_FLAG);
    double S2[K3 * N3], G2[N3];
    memcpy(S2, S3, sizeof S3);
    memcpy(G2, G3, sizeof G3);
    S2[2 * N3 + 11] = NAN;
    ck_assert_int_eq(direct_untouched(K3, P3, S2, N3, N3, &rows, G3, -1, 0), FI_ERR_NONFINITE);
    ck_assert_int_eq(direct_untouched(K3, P3, S2, N3, N3, &el, G3, -1, 0), FI_ERR_NONFINITE);
    G2[5] = INFINITY;
    ck_assert_int_eq(direct_untouched(K3, P3, S3, N3, N3, &rows, G2, -1, 0), FI_ERR_NONFINITE);
    ck_assert(memcmp(S2, S3, sizeof(double) * 2 * N3) == 0); /* inputs never modified */
    double out[N3];
    ck_assert_int_eq(fi_direct(ctx, K3, P3, 9, S3, N3, N3, &el, G3, -1, out, 0), FI_ERR_DTYPE);
    ck_assert_int_eq(fi_direct(NULL, K3, P3, FI_F64, S3, N3, N3, &el, G3, -1, out, 0), FI_ERR_NULL);

    /* the metric path: *metric untouched, out untouched */
    fi_metric *m = (fi_metric *)0x1;
    ck_assert_int_eq(fi_metric_from_scores(ctx, K3, P3, FI_F64, S2, N3, N3, &rows, &m), FI_ERR_NONFINITE);
    ck_assert_ptr_eq(m, (fi_metric *)0x1);
    m = NULL;
    ck_assert_int_eq(fi_metric_from_scores(ctx, K3, P3, FI_F64, S3, N3, N3, &rows, &m), FI_OK);
    for (int i = 0; i < 4; i++) out[i] = -7;
    ck_assert_int_eq(fi_compute(ctx, m, FI_F64, G2, out, 0), FI_ERR_NONFINITE);
    ck_assert_int_eq(fi_compute(ctx, m, FI_F64, G3, out, 2u), FI_ERR_FLAG);
    ck_assert_int_eq(fi_compute(ctx, m, FI_F64, NULL, out, 0), FI_ERR_NULL);
    ck_assert_int_eq(fi_compute(ctx, NULL, FI_F64, G3, out, 0), FI_ERR_NULL);
    for (int i = 0; i < 4; i++) ck_assert_double_eq(out[i], -7);
    ck_assert_int_eq(fi_class_bound(ctx, m, K3, out), FI_ERR_CLASS);
    fi_metric_free(m);
    fi_metric_free(NULL);
}
END_TEST

static Suite *errors_suite(void)
{
    Suite *s = suite_create("errors");
    TCase *tc = tcase_create("bad input");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_null_arguments);
    tcase_add_test(tc, test_bad_dimensions);
    tcase_add_test(tc, test_bad_index_lists);
    tcase_add_test(tc, test_bad_probabilities);
    tcase_add_test(tc, test_bad_dtype);
    tcase_add_test(tc, test_nonfinite_scores);
    tcase_add_test(tc, test_nonfinite_target);
    tcase_add_test(tc, test_bad_flags_and_classes);
    tcase_add_test(tc, test_failure_then_success);
    tcase_add_test(tc, test_bad_inputs);
    suite_add_tcase(s, tc);
    return s;
}
FI_REGISTER_SUITE(errors_suite)
