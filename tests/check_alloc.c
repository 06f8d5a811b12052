/* Allocation failure: every allocation of every allocating entry point fails in turn, with
 * the caller's allocator counting what is live: FI_ERR_NOMEM with a message, nothing leaked,
 * outputs, *metric and inputs untouched; a metric outlives its context. */
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

/* ------------------------------------------------------------------ allocation failure */

/* An allocator that fails at allocation number fail_at and counts what is live. Worker
 * threads allocate too, hence the atomics. */
typedef struct counter {
    atomic_long calls, live;
    atomic_size_t bytes_live;
    long fail_at;
} counter;

static void counter_init(counter *c, long fail_at)
{
    atomic_init(&c->calls, 0);
    atomic_init(&c->live, 0);
    atomic_init(&c->bytes_live, 0);
    c->fail_at = fail_at;
}

static void *c_alloc(void *opaque, size_t size)
{
    counter *c = opaque;
    if (atomic_fetch_add(&c->calls, 1) == c->fail_at) return NULL;
    size_t *p = malloc(size + sizeof(max_align_t));
    if (!p) return NULL;
    *p = size;
    atomic_fetch_add(&c->live, 1);
    atomic_fetch_add(&c->bytes_live, size);
    return (char *)p + sizeof(max_align_t);
}

static void c_free(void *opaque, void *ptr)
{
    counter *c = opaque;
    if (!ptr) return;
    size_t *p = (size_t *)(void *)((char *)ptr - sizeof(max_align_t));
    atomic_fetch_sub(&c->live, 1);
    atomic_fetch_sub(&c->bytes_live, *p);
    free(p);
}

/* One scenario: a sequence of calls, all of which must succeed with a working allocator. */
typedef enum scenario {
    SC_METRIC,         /* metric, compute, residual */
    SC_METRIC_INDEXED, /* the same, index-list blocks */
    SC_DIRECT,         /* fused call, affine */
    SC_DIRECT_INDEXED, /* fused call, index lists */
    SC_COUNT
} scenario;

/* Runs scenario sc; returns the first failing status. Outputs are checked by the caller. */
static int run_scenario(scenario sc, int64_t k, const double *probs, const double *scores,
                        int64_t n, int64_t ld, const fi_blocks *bl, const fi_index_blocks *ib,
                        fi_metric **m, double *out, double *res)
{
    switch (sc) {
    case SC_METRIC:
    case SC_METRIC_INDEXED: {
        int st = sc == SC_METRIC ? fi_metric_from_scores(ctx, k, probs, FI_F64, scores, n, ld, bl, m)
                                 : fi_metric_from_scores_indexed(ctx, k, probs, FI_F64, scores, n, ld,
                                                                 ib, m);
        if (st != FI_OK) return st;
        st = fi_compute(ctx, *m, FI_F64, scores, out, 0);
        if (st != FI_OK) return st;
        return fi_residual(ctx, *m, FI_F64, scores, res);
    }
    case SC_DIRECT:
        return fi_direct(ctx, k, probs, FI_F64, scores, n, ld, bl, NULL, 0, out, 0);
    default:
        return fi_direct_indexed(ctx, k, probs, FI_F64, scores, n, ld, ib, NULL, 0, out, 0);
    }
}

/* Every allocation of every scenario fails in turn, for several shapes (p = 1 and p > 1,
 * K beyond the small kernels, class modes that add a class, 1, 2 and 9 threads, both
 * methods): FI_ERR_NOMEM, a message, nothing leaked, outputs and *metric untouched. */
START_TEST(test_allocation_failure)
{
    enum { KB = 40, NN = 60, CNT = 12 };
    static double probs[KB], scores[KB * NN];
    ref_rng r;
    ref_seed(&r, 4242);
    const struct {
        int64_t k, p;
        int mode;
    } shapes[] = {{3, 1, 0}, {3, 5, 0}, {4, 2, 2}, {KB, 1, 1}, {KB, 5, 0}};
    const int threads[] = {1, 2, 9};
    long total_runs = 0;
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
        const int64_t k = shapes[sh].k, p = shapes[sh].p;
        ref_softmax(&r, k, 1.0, probs);
        if (shapes[sh].mode == FI_CLASS_REMAINDER)
            for (int64_t i = 0; i < k; i++) probs[i] *= 0.8;
        ref_scores(&r, k, NN, NN, scores);
        const fi_blocks bl = {CNT, p, 1, p};
        int64_t off[CNT + 1], idx[CNT * 5];
        for (int b = 0; b <= CNT; b++) off[b] = b * p;
        for (int i = 0; i < CNT * p; i++) idx[i] = (i * 7) % (CNT * p);
        const fi_index_blocks ib = {CNT, off, idx};
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_CLASS_MODE, shapes[sh].mode), FI_OK);
        for (size_t th = 0; th < 3; th++)
            for (int method = 0; method <= 1; method++)
                for (int sc = 0; sc < SC_COUNT; sc++) {
                    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_THREADS, threads[th]), FI_OK);
                    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_METHOD, method), FI_OK);
                    for (long at = 0;; at++) {
                        counter c;
                        counter_init(&c, at);
                        ck_assert_int_eq(fi_context_set_allocator(ctx, c_alloc, c_free, &c), FI_OK);
                        fi_metric *m = SENTINEL;
                        double out[CNT], res[CNT];
                        for (int b = 0; b < CNT; b++) out[b] = res[b] = -7;
                        const int st = run_scenario((scenario)sc, k, probs, scores, NN, NN, &bl, &ib,
                                                    &m, out, res);
                        const bool failed_alloc = atomic_load(&c.calls) > at;
                        if (m != SENTINEL) fi_metric_free(m);
                        ck_assert_msg(atomic_load(&c.live) == 0 && atomic_load(&c.bytes_live) == 0,
                                      "shape %zu threads %d method %d scenario %d fail_at %ld: %ld "
                                      "blocks (%zu bytes) leaked", sh, threads[th], method, sc, at,
                                      (long)atomic_load(&c.live), (size_t)atomic_load(&c.bytes_live));
                        total_runs++;
                        if (!failed_alloc) { /* every allocation was served: done */
                            ck_assert_msg(st == FI_OK, "status %d: %s", st, fi_context_error(ctx));
                            break;
                        }
                        ck_assert_msg(st == FI_ERR_NOMEM, "shape %zu threads %d method %d scenario "
                                      "%d fail_at %ld: status %d (%s)", sh, threads[th], method, sc,
                                      at, st, fi_context_error(ctx));
                        assert_message(st, "memory");
                        /* the metric is made first: if its making failed, *m is untouched */
                        if (sc == SC_DIRECT || sc == SC_DIRECT_INDEXED)
                            ck_assert_ptr_eq(m, SENTINEL);
                        for (int b = 0; b < CNT; b++) ck_assert_double_eq(res[b], -7);
                        if (sc == SC_DIRECT || sc == SC_DIRECT_INDEXED)
                            for (int b = 0; b < CNT; b++) ck_assert_double_eq(out[b], -7);
                    }
                }
    }
    ck_assert_int_eq(fi_context_set_allocator(ctx, NULL, NULL, NULL), FI_OK);
    ck_assert(total_runs > 100);
}
END_TEST

/* The metric's own allocation failing leaves *metric untouched; fi_compute with a failing
 * allocator either does not allocate or fails cleanly. */
START_TEST(test_allocation_failure_metric_untouched)
{
    for (long at = 0;; at++) {
        counter c;
        counter_init(&c, at);
        ck_assert_int_eq(fi_context_set_allocator(ctx, c_alloc, c_free, &c), FI_OK);
        fi_metric *m = SENTINEL;
        const int st = fi_metric_from_scores(ctx, K, P, FI_F64, S, N, LD, &ROWS, &m);
        if (atomic_load(&c.calls) <= at) {
            ck_assert_int_eq(st, FI_OK);
            double out[NB] = {-7, -7, -7, -7};
            counter c2;
            counter_init(&c2, 0); /* the first allocation fails */
            /* the allocator of the metric is the one it was made with: fi_compute may only
             * use the context's, which now fails at once */
            ck_assert_int_eq(fi_context_set_allocator(ctx, c_alloc, c_free, &c2), FI_OK);
            const int st2 = fi_compute(ctx, m, FI_F64, G, out, 0);
            if (st2 != FI_OK) {
                ck_assert_int_eq(st2, FI_ERR_NOMEM);
                for (int b = 0; b < NB; b++) ck_assert_double_eq(out[b], -7);
            }
            const int st3 = fi_residual(ctx, m, FI_F64, G, out);
            ck_assert(st3 == FI_OK || st3 == FI_ERR_NOMEM);
            ck_assert_int_eq(atomic_load(&c2.live), 0);
            fi_metric_free(m);
            ck_assert_int_eq(atomic_load(&c.live), 0);
            break;
        }
        ck_assert_int_eq(st, FI_ERR_NOMEM);
        ck_assert_ptr_eq(m, SENTINEL);
        ck_assert_int_eq(atomic_load(&c.live), 0);
    }
    ck_assert_int_eq(fi_context_set_allocator(ctx, NULL, NULL, NULL), FI_OK);
    /* alloc without free (or the reverse) is refused */
    ck_assert_int_eq(fi_context_set_allocator(ctx, c_alloc, NULL, NULL), FI_ERR_NULL);
    assert_message(FI_ERR_NULL, "free");
    ck_assert_int_eq(fi_context_set_allocator(ctx, NULL, c_free, NULL), FI_ERR_NULL);
    ck_assert_int_eq(fi_context_set_allocator(NULL, c_alloc, c_free, NULL), FI_ERR_NULL);
}
END_TEST

/* A metric made with a context's allocator stays valid, and is freed through that
 * allocator, after the context is gone. */
START_TEST(test_metric_outlives_context)
{
    counter c;
    counter_init(&c, -1);
    fi_context *own = NULL;
    ck_assert_int_eq(fi_context_create(&own), FI_OK);
    ck_assert_int_eq(fi_context_set_allocator(own, c_alloc, c_free, &c), FI_OK);
    fi_metric *m = NULL;
    ck_assert_int_eq(fi_metric_from_scores(own, K, P, FI_F64, S, N, LD, &ROWS, &m), FI_OK);
    ck_assert(atomic_load(&c.live) > 0);
    fi_context_free(own);
    double a[NB], b[NB];
    ck_assert_int_eq(fi_compute(ctx, m, FI_F64, G, a, 0), FI_OK);
    ck_assert_int_eq(fi_direct(ctx, K, P, FI_F64, S, N, LD, &ROWS, G, -1, b, 0), FI_OK);
    for (int i = 0; i < NB; i++) ck_assert_double_eq_tol(a[i], b[i], 1e-10 * b[i]);
    fi_metric_free(m);
    ck_assert_int_eq(atomic_load(&c.live), 0);
}
END_TEST

/* Data of test_allocation_failure_every_call: softmax-consistent scores with ld = n. */
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

/* Runs every allocating entry point once with the context's allocator; returns the first
 * failure status (FI_OK if none) and checks that no output was written on failure. */
static int allocating_calls(void)
{
    const fi_blocks rows = {4, 3, 1, 3}, el = {N3, 1, 1, 1};
    int64_t offsets[3] = {0, 5, 9}, indices[9] = {0, 1, 2, 3, 4, 6, 7, 8, 11};
    const fi_index_blocks ib = {2, offsets, indices};
    double out[N3], s2[4];
    int64_t idx[N3];
    uint8_t img[512];
    for (int i = 0; i < N3; i++) out[i] = -7;
    fi_metric *m = NULL;
    int st = fi_metric_from_scores(ctx, K3, P3, FI_F64, S3, N3, N3, &rows, &m);
    if (st == FI_OK) st = fi_residual(ctx, m, FI_F64, G3, out);
    fi_metric_free(m);
    m = NULL;
    if (st == FI_OK) st = fi_metric_from_scores_indexed(ctx, K3, P3, FI_F64, S3, N3, N3, &ib, &m);
    fi_metric_free(m);
    if (st == FI_OK) {
        for (int i = 0; i < N3; i++) out[i] = -7;
        st = fi_direct(ctx, K3, P3, FI_F64, S3, N3, N3, &rows, G3, -1, out, 0);
        if (st != FI_OK) for (int i = 0; i < 4; i++) ck_assert_double_eq(out[i], -7);
    }
    if (st == FI_OK) st = fi_direct(ctx, K3, P3, FI_F64, S3, N3, N3, &el, NULL, 0, out, 0);
    if (st == FI_OK) st = fi_direct_indexed(ctx, K3, P3, FI_F64, S3, N3, N3, &ib, G3, -1, out, 0);
    for (int i = 0; i < 4 && st == FI_OK; i++) s2[i] = -7;
    if (st == FI_OK) {
        st = fi_perturbation(ctx, K3, P3, FI_F64, S3, N3, N3, &rows, NULL, 1, G3, s2, NULL);
        if (st != FI_OK) for (int i = 0; i < 4; i++) ck_assert_double_eq(s2[i], -7);
    }
    if (st == FI_OK) st = fi_select_top(ctx, G3, N3, 3, idx);
    if (st == FI_OK) st = fi_select_random_low(ctx, G3, N3, 3, 2, 9, idx);
    if (st == FI_OK) st = fi_select_complement(ctx, N3, idx, 2, idx + 2);
    fi_accumulator *a = NULL, *b = NULL;
    if (st == FI_OK) st = fi_accumulator_create(ctx, 4, &a);
    if (st == FI_OK) st = fi_accumulator_add(ctx, a, out, 1.0);
    if (st == FI_OK) st = fi_accumulator_serialize(ctx, a, img, fi_accumulator_serialized_size(a));
    if (st == FI_OK) st = fi_accumulator_deserialize(ctx, img, fi_accumulator_serialized_size(a), &b);
    fi_accumulator_free(a);
    fi_accumulator_free(b);
    return st;
}

/* Every allocation of every allocating call fails in turn: FI_ERR_NOMEM, nothing leaked. */
START_TEST(test_allocation_failure_every_call)
{
    fill3();
    int threads = 1 + _i;
    for (long at = 0;; at++) {
        counter c;
        counter_init(&c, at);
        ck_assert_int_eq(fi_context_set_allocator(ctx, c_alloc, c_free, &c), FI_OK);
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_THREADS, threads), FI_OK);
        int st = allocating_calls();
        ck_assert_int_eq(c.live, 0);
        if (c.calls <= at) { /* no allocation failed: done */
            ck_assert_int_eq(st, FI_OK);
            ck_assert(at > 20);
            break;
        }
        ck_assert_msg(st == FI_ERR_NOMEM, "allocation %ld: status %d (%s)", at, st, fi_context_error(ctx));
    }
    ck_assert_int_eq(fi_context_set_allocator(ctx, NULL, NULL, NULL), FI_OK);
}
END_TEST

static Suite *alloc_suite(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("allocation failure");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_allocation_failure);
    tcase_add_test(tc, test_allocation_failure_metric_untouched);
    tcase_add_test(tc, test_metric_outlives_context);
    tcase_add_loop_test(tc, test_allocation_failure_every_call, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
FI_REGISTER_SUITE(alloc_suite)
