/* Calls shared by the core suites (tests/check_core.c, tests/check_core_paths.c): coordinate
 * lists of a layout for the reference, FI of every block through a metric, and the reference
 * FI of every block. */
#ifndef FI_TEST_CORE_CALLS_H
#define FI_TEST_CORE_CALLS_H

#include <check.h>
#include <stdlib.h>

#include "fi.h"
#include "support/reference.h"


/* Coordinate lists of a layout, for the reference: block b is idx[off[b] .. off[b+1]). */
typedef struct coords {
    int64_t count;
    int64_t *off, *idx;
} coords;

static inline coords coords_affine(const fi_blocks *bl)
{
    coords c = {bl->count, malloc(sizeof(int64_t) * (size_t)(bl->count + 1)),
                malloc(sizeof(int64_t) * (size_t)(bl->count * bl->size))};
    for (int64_t b = 0; b <= bl->count; b++) c.off[b] = b * bl->size;
    for (int64_t b = 0; b < bl->count; b++) ref_affine_coords(bl, b, c.idx + b * bl->size);
    return c;
}

static inline void coords_free(coords *c)
{
    free(c->off);
    free(c->idx);
}

/* FI (and optionally ranks and residuals) of every block through a metric made with method;
 * exactly one of bl and ib is given. */
static inline void metric_fi_ctx(fi_context *ctx, int method, int64_t K, const double *P, fi_dtype sdt, const void *S,
                      int64_t n, int64_t ld, const fi_blocks *bl, const fi_index_blocks *ib,
                      fi_dtype gdt, const void *g, double *out, int64_t *ranks, double *res)
{
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_METHOD, method), FI_OK);
    fi_metric *m = NULL;
    const int st = bl ? fi_metric_from_scores(ctx, K, P, sdt, S, n, ld, bl, &m)
                      : fi_metric_from_scores_indexed(ctx, K, P, sdt, S, n, ld, ib, &m);
    ck_assert_msg(st == FI_OK, "metric: status %d: %s", st, fi_context_error(ctx));
    ck_assert_int_eq(fi_metric_count(m), bl ? bl->count : ib->count);
    ck_assert_int_eq(fi_compute(ctx, m, gdt, g, out, 0), FI_OK);
    if (ranks) ck_assert_int_eq(fi_metric_ranks(ctx, m, ranks), FI_OK);
    if (res) ck_assert_int_eq(fi_residual(ctx, m, gdt, g, res), FI_OK);
    fi_metric_free(m);
}

/* Reference FI of every block of c. */
static inline void reference_fi(int64_t K, const double *P, const double *S, int64_t ld,
                         const coords *c, const double *g, double rcond, double *out,
                         int64_t *ranks, double *res)
{
    for (int64_t b = 0; b < c->count; b++)
        out[b] = ref_block_fi(K, P, S, ld, c->idx + c->off[b], c->off[b + 1] - c->off[b], g,
                              rcond, 0, ranks ? ranks + b : NULL, res ? res + b : NULL);
}

/* metric_fi with the suite's context. */
#define metric_fi(...) metric_fi_ctx(ctx, __VA_ARGS__)

#endif
