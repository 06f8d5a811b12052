/* The representation of an fi_metric (opaque in include/fi.h), shared by its builder
 * (src/api/metric.c) and what applies it (src/api/compute.c). Four kinds, chosen by the layout:
 * p = 1 keeps c = 1/sigma^2 per coordinate; Gram blocks of streamable layouts keep a copy of
 * their scores and W = A S^T (src/solve/metric_build.h), rows block-major and columns
 * coordinate-major; every other layout, and any block the fast path cannot decide, keeps
 * W = diag(1/sigma) V^T. */
#ifndef FI_SOLVE_METRIC_REPR_H
#define FI_SOLVE_METRIC_REPR_H
#include "core/problem.h"

typedef enum fi__metric_kind {
    FI__METRIC_FACTOR,
    FI__METRIC_SINGLE,
    FI__METRIC_ROWS,
    FI__METRIC_COLUMNS
} fi__metric_kind;

struct fi_metric {
    fi_allocator mem;
    int64_t n, count, k_eff;
    bool sums_to_one;
    double *prob;       /* k_eff effective probabilities */
    fi_layout layout;   /* indexed layouts point at the copies below */
    int64_t *offsets;   /* copy of the caller's index lists (indexed only) */
    int64_t *indices;
    int64_t *w_off;     /* per-block offsets into W and sigma (indexed only), count+1 each */
    int64_t *s_off;
    fi__metric_kind kind;
    int64_t cap;        /* rank_cap of the affine layout's blocks */
    double *W;          /* FACTOR: block b's rank_cap rows of p_b values; SINGLE: c[b] */
    double *sigma;      /* block b: rank_b singular values (not SINGLE) */
    int64_t *rank;      /* not SINGLE */
    fi_dtype sdt;       /* ROWS, COLUMNS: the copied scores' dtype */
    void *copy;         /* ROWS, COLUMNS: the blocks' scores (src/solve/metric_build.h) */
    double *coef;       /* ROWS, COLUMNS: A of block b at b*K*K */
    double **own;       /* ROWS, COLUMNS: a block's own W (cap x p) where the general path
                           decided it, else NULL */
};

/* Capacity of block b's factor: r <= min(p, K) rows of p values. */
static inline int64_t fi__rank_cap(int64_t p, int64_t k) { return p < k ? p : k; }

static inline void fi__metric_offsets(const fi_metric *m, int64_t b, int64_t *wo, int64_t *so)
{
    if (m->layout.indexed) {
        *wo = m->w_off[b];
        *so = m->s_off[b];
    } else {
        *wo = b * m->cap * m->layout.affine.size;
        *so = b * m->cap;
    }
}

static inline int64_t fi__metric_rank(const fi_metric *m, int64_t b)
{
    return m->kind == FI__METRIC_SINGLE ? m->W[b] != 0 : m->rank[b];
}

/* W_b[q][j] (not SINGLE). */
static inline double fi__metric_w(const fi_metric *m, int64_t b, int64_t q, int64_t j)
{
    const int64_t K = m->k_eff, p = fi__block_size(&m->layout, b);
    if (m->kind == FI__METRIC_FACTOR) {
        int64_t wo, so;
        fi__metric_offsets(m, b, &wo, &so);
        return m->W[wo + q * p + j];
    }
    if (m->own[b]) return m->own[b][q * p + j];
    double x = 0;
    for (int64_t i = 0; i < K; i++) {
        const int64_t at =
            m->kind == FI__METRIC_ROWS ? (b * K + i) * p + j : (j * K + i) * m->count + b;
        x += m->coef[b * K * K + q * K + i] * fi__load(m->sdt, m->copy, at);
    }
    return x;
}

static inline double fi__metric_sigma(const fi_metric *m, int64_t b, int64_t q)
{
    int64_t wo, so;
    fi__metric_offsets(m, b, &wo, &so);
    return m->sigma[so + q];
}

#endif
