/* The metric: per-block factors W_b = diag(1/sigma) V^T of G_b^+ and what is computed
 * from them (fi_compute and the diagnostics). Four representations, chosen by the layout:
 * p = 1 keeps c = 1/sigma^2 per coordinate; Gram blocks of streamable layouts keep a copy of
 * their scores and W = A S^T (src/solve/metric_build.h), rows block-major and columns
 * coordinate-major; every other layout, and any block the fast path cannot decide, keeps W. */
#include <float.h>

#include "core/threads.h"
#include "core/validate.h"
#include "linalg/svd.h"
#include "solve/dispatch.h"
#include "solve/factor.h"
#include "solve/metric_build.h"
#include "solve/strided.h"

typedef enum metric_kind { KIND_FACTOR, KIND_SINGLE, KIND_ROWS, KIND_COLUMNS } metric_kind;

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
    metric_kind kind;
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
static int64_t rank_cap(int64_t p, int64_t k) { return p < k ? p : k; }

static void block_offsets(const fi_metric *m, int64_t b, int64_t *wo, int64_t *so)
{
    if (m->layout.indexed) {
        *wo = m->w_off[b];
        *so = m->s_off[b];
    } else {
        *wo = b * m->cap * m->layout.affine.size;
        *so = b * m->cap;
    }
}

static int64_t block_rank(const fi_metric *m, int64_t b)
{
    return m->kind == KIND_SINGLE ? m->W[b] != 0 : m->rank[b];
}

/* W_b[q][j] (not SINGLE). */
static double w_value(const fi_metric *m, int64_t b, int64_t q, int64_t j)
{
    const int64_t K = m->k_eff, p = fi__block_size(&m->layout, b);
    if (m->kind == KIND_FACTOR) {
        int64_t wo, so;
        block_offsets(m, b, &wo, &so);
        return m->W[wo + q * p + j];
    }
    if (m->own[b]) return m->own[b][q * p + j];
    double x = 0;
    for (int64_t i = 0; i < K; i++) {
        const int64_t at = m->kind == KIND_ROWS ? (b * K + i) * p + j : (j * K + i) * m->count + b;
        x += m->coef[b * K * K + q * K + i] * fi__load(m->sdt, m->copy, at);
    }
    return x;
}

void fi_metric_free(fi_metric *m)
{
    if (!m) return;
    const fi_allocator mem = m->mem;
    for (int64_t b = 0; m->own && b < m->count; b++) fi__free(&mem, m->own[b]);
    fi__free(&mem, m->own);
    fi__free(&mem, m->copy);
    fi__free(&mem, m->coef);
    fi__free(&mem, m->prob);
    fi__free(&mem, m->offsets);
    fi__free(&mem, m->indices);
    fi__free(&mem, m->w_off);
    fi__free(&mem, m->s_off);
    fi__free(&mem, m->W);
    fi__free(&mem, m->sigma);
    fi__free(&mem, m->rank);
    fi__free(&mem, m);
}

int64_t fi_metric_count(const fi_metric *m) { return m ? m->count : 0; }
int64_t fi_metric_classes(const fi_metric *m) { return m ? m->k_eff : 0; }

/* Sizes of an affine layout's arrays: W (or c) values, sigma values, copied scores. */
static bool affine_sizes(const fi_metric *m, int64_t *wtotal, int64_t *stotal, int64_t *copy)
{
    const int64_t p = m->layout.affine.size, K = m->k_eff, count = m->count;
    int64_t per;
    *wtotal = *stotal = *copy = 0;
    if (m->kind == KIND_SINGLE) {
        *wtotal = count;
        return true;
    }
    if (__builtin_mul_overflow(count, m->cap, stotal)) return false;
    if (m->kind == KIND_FACTOR)
        return !__builtin_mul_overflow(m->cap, p, &per) &&
               !__builtin_mul_overflow(count, per, wtotal);
    return !__builtin_mul_overflow(K, p, &per) && !__builtin_mul_overflow(count, per, copy) &&
           !__builtin_mul_overflow(*copy, fi__dtype_bytes(m->sdt), &per);
}

/* Allocates the metric's arrays for layout l (copying index lists). */
static int metric_alloc(fi_context *ctx, const fi_problem *pb, const fi_layout *l, fi_metric **out)
{
    const fi_allocator *mem = &ctx->mem;
    fi_metric *m = fi__calloc(mem, 1, sizeof *m);
    if (!m) return fi__fail(ctx, FI_ERR_NOMEM, "out of memory for a metric");
    m->mem = *mem;
    m->n = pb->n;
    m->count = l->count;
    m->k_eff = pb->k_eff;
    m->sums_to_one = pb->sums_to_one;
    m->layout = *l;
    m->sdt = pb->dtype;
    m->kind = KIND_FACTOR;
    if (!l->indexed) {
        const fi_blocks *a = &l->affine;
        const bool stream = ctx->method == FI_METHOD_AUTO && fi__stream_supported(pb, l);
        m->cap = rank_cap(a->size, pb->k_eff);
        if (a->size == 1) m->kind = KIND_SINGLE;
        else if (stream && a->size >= pb->k_eff && a->stride == 1) m->kind = KIND_ROWS;
        else if (stream && a->size >= pb->k_eff && a->step == 1 && a->stride > 1)
            m->kind = KIND_COLUMNS;
    }
    int64_t wtotal = 0, stotal = 0, copy = 0;
    bool ok = (m->prob = fi__calloc(mem, (size_t)pb->k_eff, sizeof(double))) != NULL;
    if (ok) memcpy(m->prob, pb->prob, (size_t)pb->k_eff * sizeof(double));
    if (ok && l->indexed) {
        const int64_t total = l->offsets[l->count];
        ok = (m->offsets = fi__calloc(mem, (size_t)l->count + 1, sizeof(int64_t))) &&
             (m->indices = fi__calloc(mem, (size_t)total, sizeof(int64_t))) &&
             (m->w_off = fi__calloc(mem, (size_t)l->count + 1, sizeof(int64_t))) &&
             (m->s_off = fi__calloc(mem, (size_t)l->count + 1, sizeof(int64_t)));
        if (ok) {
            memcpy(m->offsets, l->offsets, ((size_t)l->count + 1) * sizeof(int64_t));
            memcpy(m->indices, l->indices, (size_t)total * sizeof(int64_t));
            m->layout.offsets = m->offsets;
            m->layout.indices = m->indices;
            for (int64_t b = 0; b < l->count && ok; b++) {
                const int64_t p = fi__block_size(l, b), r = rank_cap(p, pb->k_eff);
                int64_t vals;
                m->w_off[b] = wtotal;
                m->s_off[b] = stotal;
                ok = !__builtin_mul_overflow(r, p, &vals) &&
                     !__builtin_add_overflow(wtotal, vals, &wtotal);
                stotal += rank_cap(p, pb->k_eff);
            }
            m->w_off[l->count] = wtotal;
            m->s_off[l->count] = stotal;
        }
    } else if (ok) {
        ok = affine_sizes(m, &wtotal, &stotal, &copy);
    }
    const bool gram = m->kind == KIND_ROWS || m->kind == KIND_COLUMNS;
    const int64_t K = pb->k_eff;
    /* The copy is written whole by the build (no zeroing pass over it); the rest is small or,
     * for W, lazily zeroed pages. */
    ok = ok && (wtotal == 0 || (m->W = fi__calloc(mem, (size_t)wtotal, sizeof(double)))) &&
         (m->kind == KIND_SINGLE ||
          ((m->sigma = fi__calloc(mem, (size_t)stotal + 1, sizeof(double))) &&
           (m->rank = fi__calloc(mem, (size_t)l->count, sizeof(int64_t))))) &&
         (!gram || ((m->copy = fi__alloc(mem, (size_t)copy * (size_t)fi__dtype_bytes(m->sdt))) &&
                    (m->coef = fi__calloc(mem, (size_t)(l->count * K * K), sizeof(double))) &&
                    (m->own = fi__calloc(mem, (size_t)l->count, sizeof(double *)))));
    if (!ok) {
        fi_metric_free(m);
        return fi__fail(ctx, FI_ERR_NOMEM, "out of memory for a metric of %lld blocks "
                                           "(%lld factor values, %lld copied scores)",
                        (long long)l->count, (long long)wtotal, (long long)copy);
    }
    *out = m;
    return FI_OK;
}

typedef struct build_job {
    fi_context *ctx;
    const fi_problem *pb;
    fi_metric *m;
} build_job;

typedef struct build_ws {
    fi_svd_work sw;
    double *B, *scratch, *W, *sigma, *acc_raw, *acc;
} build_ws;

/* Block b by the general path (closed form or small Gram kernel on the gathered block, else
 * the SVD) into ws->W (cap rows of p) and ws->sigma; returns its rank or -1 with err set. */
static int64_t block_general(fi_context *ctx, const fi_problem *pb, const fi_layout *l, int64_t b,
                             build_ws *ws, char *err, int *status)
{
    const int64_t p = fi__block_size(l, b), K = pb->k_eff;
    const double rcond = fi__rcond(ctx, pb->dtype, p, K);
    int64_t rank = 0;
    if (ctx->method == FI_METHOD_AUTO &&
        fi__fast_factor(pb, l, b, rcond, ctx->atol, ws->scratch, &rank, ws->sigma, ws->W))
        return rank;
    if (!fi__gather_block(pb, l, b, ws->B, ws->scratch)) {
        snprintf(err, FI_ERRLEN, "non-finite score in block %lld", (long long)b);
        *status = FI_ERR_NONFINITE;
        return -1;
    }
    int info = 0;
    const bool null = fi__deflate_null(ws->B, p, K, pb->sqrt_prob, rcond, ctx->atol);
    if (fi__svd_factor(ws->B, p, K, rcond, ctx->atol, null ? K - 1 : K, &ws->sw, &rank, ws->sigma,
                       ws->W, &info) != FI_OK) {
        snprintf(err, FI_ERRLEN, "LAPACK dgesvd failed on block %lld (%lld x %lld), info %d",
                 (long long)b, (long long)p, (long long)K, info);
        *status = FI_ERR_LAPACK;
        return -1;
    }
    return rank;
}

/* Stores block b's factor from ws into the metric's representation; false when a block's own
 * factor cannot be allocated. */
static bool store_block(fi_metric *m, int64_t b, int64_t rank, const build_ws *ws)
{
    const int64_t p = fi__block_size(&m->layout, b);
    if (m->kind == KIND_SINGLE) { /* c = w^2, or -w where w^2 leaves the normal range */
        const double w = fabs(ws->W[0]), c = w * w;
        m->W[b] = rank == 0 ? 0.0 : c >= DBL_MIN && c <= DBL_MAX ? c : -w;
        return true;
    }
    int64_t wo, so;
    block_offsets(m, b, &wo, &so);
    m->rank[b] = rank;
    memcpy(m->sigma + so, ws->sigma, (size_t)rank * sizeof(double));
    double *W = m->W + wo;
    if (m->kind != KIND_FACTOR) {
        if (!m->own[b] && !(m->own[b] = fi__alloc(&m->mem, (size_t)(m->cap * p) * sizeof(double))))
            return false;
        W = m->own[b];
    }
    memcpy(W, ws->W, (size_t)(rank * p) * sizeof(double));
    return true;
}

/* Contiguous p = 1 blocks [b0, b0 + nb): c = 1/d by the element kernel with a target of ones
 * (its scalar fallback decides the lanes the vector form cannot), read through a problem whose
 * scores start at b0. */
static void single_chunk(const fi_kernels *kern, const fi_problem *pb, double rcond, double atol,
                         int64_t b0, int64_t nb, double *c, unsigned char *ok)
{
    static const double one64[FI_METRIC_CHUNK] = {[0 ... FI_METRIC_CHUNK - 1] = 1.0};
    static const float one32[FI_METRIC_CHUNK] = {[0 ... FI_METRIC_CHUNK - 1] = 1.0f};
    static const uint16_t one_bf16[FI_METRIC_CHUNK] = {[0 ... FI_METRIC_CHUNK - 1] = 0x3F80};
    static const uint16_t one_f16[FI_METRIC_CHUNK] = {[0 ... FI_METRIC_CHUNK - 1] = 0x3C00};
    const void *ones = pb->dtype == FI_F64 ? (const void *)one64
                       : pb->dtype == FI_F32 ? (const void *)one32
                       : pb->dtype == FI_BF16 ? (const void *)one_bf16
                                              : (const void *)one_f16;
    fi_problem at = *pb;
    at.scores = (const char *)pb->scores + (size_t)b0 * (size_t)fi__dtype_bytes(pb->dtype);
    const int64_t bad = kern->elements(&at, ones, rcond, atol, 0, nb, c + b0, false);
    /* Non-finite input: the general path reports it. 1/d outside the normal range (or 0, which
     * may be a rank 0 or an underflow): the general path stores it as -1/sigma. */
    for (int64_t j = 0; j < nb; j++) ok[j] = bad < 0 && c[b0 + j] >= DBL_MIN && c[b0 + j] <= DBL_MAX;
}

static int build_range(void *arg, int64_t first, int64_t last, int worker, char *err)
{
    (void)worker;
    build_job *job = arg;
    fi_context *ctx = job->ctx;
    const fi_problem *pb = job->pb;
    fi_metric *m = job->m;
    const fi_layout *l = &m->layout;
    const fi_blocks *a = &l->affine;
    const int64_t K = pb->k_eff, pmax = l->max_size, cap = rank_cap(pmax, K);
    const bool stream = ctx->method == FI_METHOD_AUTO && fi__stream_supported(pb, l);
    const fi_kernels *kern = fi__kernels(ctx);
    double psum = 0;
    for (int64_t i = 0; i < K; i++) psum += pb->prob[i];
    build_ws ws;
    memset(&ws, 0, sizeof ws);
    int status = fi__svd_workspace(NULL, &ctx->mem, pmax, K, &ws.sw);
    ws.B = fi__calloc(&ctx->mem, (size_t)(pmax * K), sizeof(double));
    ws.scratch = fi__calloc(&ctx->mem, fi__fast_scratch_doubles(pmax, K) + (size_t)K,
                            sizeof(double));
    ws.W = fi__calloc(&ctx->mem, (size_t)(pmax * cap), sizeof(double));
    ws.sigma = fi__calloc(&ctx->mem, (size_t)cap + 1, sizeof(double));
    if (m->kind == KIND_COLUMNS) {
        ws.acc_raw = fi__calloc(&ctx->mem,
                                (size_t)(fi__column_entries(K) * fi__column_width(K) + 4),
                                sizeof(double));
        ws.acc = (double *)(((uintptr_t)ws.acc_raw + 31) & ~(uintptr_t)31);
    }
    if (status != FI_OK || !ws.B || !ws.scratch || !ws.W || !ws.sigma ||
        (m->kind == KIND_COLUMNS && !ws.acc_raw)) {
        snprintf(err, FI_ERRLEN, "out of memory for the workspace of %lld x %lld blocks",
                 (long long)pmax, (long long)K);
        status = status == FI_OK ? FI_ERR_NOMEM : status;
        goto done;
    }
    const double rcond = l->indexed ? 0 : fi__rcond(ctx, pb->dtype, a->size, K);
    const bool pixels = stream && m->kind == KIND_FACTOR && a->size >= 2 && a->size <= 4 &&
                        a->size < K;
    /* columns: the copy of the whole range row by row (long runs), then the kernel's width of
     * blocks at a time (at most 1024) */
    const int64_t chunk = m->kind == KIND_COLUMNS ? fi__column_width(K) : FI_METRIC_CHUNK;
    if (m->kind == KIND_COLUMNS)
        fi__metric_copy_columns(pb, first, last - first, a->size, a->stride, m->count, m->copy);
    for (int64_t b0 = first; b0 < last && status == FI_OK; b0 += chunk) {
        const int64_t nb = last - b0 < chunk ? last - b0 : chunk;
        unsigned char ok[1024];
        memset(ok, 0, sizeof ok);
        if (pixels) {
            for (int64_t c0 = 0; c0 < nb; c0 += FI_PIXEL_CHUNK) {
                const int64_t len = nb - c0 < FI_PIXEL_CHUNK ? nb - c0 : FI_PIXEL_CHUNK;
                fi__metric_pixels(kern, pb, a, b0 + c0, len, rcond, ctx->atol, m->W, ok + c0);
                for (int64_t j = c0; j < c0 + len; j++)
                    if (ok[j]) m->rank[b0 + j] = a->size; /* sigma: unused at full rank */
            }
        } else if (m->kind == KIND_SINGLE && stream && a->step == 1)
            single_chunk(kern, pb, rcond, ctx->atol, b0, nb, m->W, ok);
        else if (m->kind == KIND_SINGLE && stream)
            fi__metric_single(pb, a->step, rcond, ctx->atol, b0, nb, m->W, ok);
        else if (m->kind == KIND_COLUMNS) {
            kern->column_sums(pb, b0, nb, a->size, a->stride, NULL, ws.acc);
            for (int64_t j = 0; j < nb; j++) {
                fi_gram gm;
                fi__column_gram(pb, ws.acc, j, false, 0, &gm);
                ok[j] = fi__metric_coefficients(&gm, pb, psum, rcond, ctx->atol,
                                                m->coef + (b0 + j) * K * K,
                                                m->sigma + (b0 + j) * m->cap, &m->rank[b0 + j]);
            }
        } else if (m->kind == KIND_ROWS) {
            const int64_t p = a->size;
            const size_t e = (size_t)fi__dtype_bytes(pb->dtype);
            for (int64_t j = 0; j < nb; j++) {
                const int64_t b = b0 + j;
                fi_gram gm;
                fi__row_sums(kern, pb, b * a->step, p, NULL, 0, &gm);
                ok[j] = fi__metric_coefficients(&gm, pb, psum, rcond, ctx->atol, m->coef + b * K * K,
                                                m->sigma + b * m->cap, &m->rank[b]);
                for (int64_t i = 0; ok[j] && i < K; i++)
                    memcpy((char *)m->copy + (size_t)((b * K + i) * p) * e,
                           (const char *)pb->scores + (size_t)(i * pb->ld + b * a->step) * e,
                           (size_t)p * e);
            }
        }
        for (int64_t j = 0; j < nb && status == FI_OK; j++) {
            if (ok[j]) continue;
            const int64_t r = block_general(ctx, pb, l, b0 + j, &ws, err, &status);
            if (r >= 0 && !store_block(m, b0 + j, r, &ws)) {
                snprintf(err, FI_ERRLEN, "out of memory for the factor of block %lld",
                         (long long)(b0 + j));
                status = FI_ERR_NOMEM;
            }
        }
    }
done:
    fi__svd_workspace_free(&ctx->mem, &ws.sw);
    fi__free(&ctx->mem, ws.B);
    fi__free(&ctx->mem, ws.scratch);
    fi__free(&ctx->mem, ws.W);
    fi__free(&ctx->mem, ws.sigma);
    fi__free(&ctx->mem, ws.acc_raw);
    return status;
}

static int metric_build(fi_context *ctx, const fi_problem *pb, const fi_layout *l, fi_metric **metric)
{
    fi_metric *m = NULL;
    int status = metric_alloc(ctx, pb, l, &m);
    if (status != FI_OK) return status;
    build_job job = {ctx, pb, m};
    status = fi__parallel_for(ctx, l->count, ctx->threads, build_range, &job);
    if (status != FI_OK) {
        fi_metric_free(m);
        return status;
    }
    *metric = m;
    fi__ok(ctx);
    return FI_OK;
}

int fi_metric_from_scores(fi_context *ctx, int64_t n_classes, const double *probs, fi_dtype dtype,
                          const void *scores, int64_t n, int64_t ld, const fi_blocks *blocks,
                          fi_metric **metric)
{
    if (!ctx) return FI_ERR_NULL;
    if (!metric) return fi__fail(ctx, FI_ERR_NULL, "metric (output pointer) is NULL");
    fi_problem pb;
    fi_layout l;
    int status = fi__problem_setup(ctx, n_classes, probs, dtype, scores, n, ld, blocks, false, &pb, &l);
    if (status != FI_OK) return status;
    status = metric_build(ctx, &pb, &l, metric);
    fi__problem_release(&pb);
    return status;
}

int fi_metric_from_scores_indexed(fi_context *ctx, int64_t n_classes, const double *probs,
                                  fi_dtype dtype, const void *scores, int64_t n, int64_t ld,
                                  const fi_index_blocks *blocks, fi_metric **metric)
{
    if (!ctx) return FI_ERR_NULL;
    if (!metric) return fi__fail(ctx, FI_ERR_NULL, "metric (output pointer) is NULL");
    fi_problem pb;
    fi_layout l;
    int status = fi__problem_setup(ctx, n_classes, probs, dtype, scores, n, ld, blocks, true, &pb, &l);
    if (status != FI_OK) return status;
    status = metric_build(ctx, &pb, &l, metric);
    fi__problem_release(&pb);
    return status;
}

/* ---- applying the factors ---- */

typedef struct apply_job {
    const fi_metric *m;
    fi_dtype dtype;
    const void *target;
    double *out;
    unsigned flags;
    bool residual; /* compute the relative residual instead of FI */
    double *proj;  /* per worker: rank_cap doubles (residual only) */
    double *colt;  /* per worker: K * FI_COLUMN_APPLY column sums (column metrics only) */
    int64_t cap;
} apply_job;

static double block_sigma(const fi_metric *m, int64_t b, int64_t q)
{
    int64_t wo, so;
    block_offsets(m, b, &wo, &so);
    return m->sigma[so + q];
}

/* |g - V V^T g| / |g| of block b, with V = W^T diag(sigma) and so V^T g = sigma .* (W g),
 * computed on g / max|g| so that no square overflows or underflows. */
static double block_residual(const fi_metric *m, fi_dtype dt, const void *g, int64_t b, double *v)
{
    const fi_layout *l = &m->layout;
    const int64_t p = fi__block_size(l, b), r = block_rank(m, b);
    double gmax = 0;
    for (int64_t j = 0; j < p; j++) gmax = fmax(gmax, fabs(fi__load(dt, g, fi__block_coord(l, b, j))));
    if (gmax == 0) return 0.0;
    if (r == p) return 0.0; /* full rank: V V^T = I (p = 1: V = (1)) */
    if (m->kind == KIND_SINGLE) return 1.0; /* rank 0: nothing of g is in range */
    for (int64_t q = 0; q < r; q++) {
        double x = 0;
        for (int64_t j = 0; j < p; j++)
            x += w_value(m, b, q, j) * (fi__load(dt, g, fi__block_coord(l, b, j)) / gmax);
        const double sq = block_sigma(m, b, q);
        v[q] = x * sq * sq;
    }
    double gg = 0, rr = 0;
    for (int64_t j = 0; j < p; j++) {
        const double gj = fi__load(dt, g, fi__block_coord(l, b, j)) / gmax;
        double proj = 0;
        for (int64_t q = 0; q < r; q++) proj += w_value(m, b, q, j) * v[q];
        gg += gj * gj;
        rr += (gj - proj) * (gj - proj);
    }
    return gg > 0 ? sqrt(rr / gg) : 0.0;
}

/* FI of one block from whatever represents it, in the target's order where that streams. */
static double block_fi(const fi_metric *m, fi_dtype dt, const void *g, int64_t b)
{
    const fi_layout *l = &m->layout;
    const int64_t p = fi__block_size(l, b), r = block_rank(m, b);
    const bool contiguous = !l->indexed && l->affine.stride == 1;
    if (m->kind == KIND_ROWS && !m->own[b])
        return fi__apply_copy_row(m->sdt, (const char *)m->copy + (size_t)(b * m->k_eff * p) *
                                                                  (size_t)fi__dtype_bytes(m->sdt),
                                  m->k_eff, m->coef + b * m->k_eff * m->k_eff, r, dt, g,
                                  b * l->affine.step, p);
    if (contiguous && (m->kind == KIND_FACTOR || m->own[b])) {
        int64_t wo, so;
        block_offsets(m, b, &wo, &so);
        return fi__apply_row(dt, g, b * l->affine.step, p, r,
                             m->kind == KIND_FACTOR ? m->W + wo : m->own[b]);
    }
    double fi = 0;
    for (int64_t q = 0; q < r; q++) {
        double x = 0;
        for (int64_t j = 0; j < p; j++)
            x += w_value(m, b, q, j) * fi__load(dt, g, fi__block_coord(l, b, j));
        fi += x * x;
    }
    return fi;
}

static int apply_range(void *arg, int64_t first, int64_t last, int worker, char *err)
{
    const apply_job *job = arg;
    const fi_metric *m = job->m;
    const fi_layout *l = &m->layout;
    const fi_dtype dt = job->dtype;
    const void *g = job->target;
    const bool acc = job->flags & FI_ACCUMULATE;
    double *out = job->out;
    (void)err;
    if (job->residual) {
        double *v = job->proj + (int64_t)worker * job->cap;
        for (int64_t b = first; b < last; b++) out[b] = block_residual(m, dt, g, b, v);
        return FI_OK;
    }
    if (m->kind == KIND_SINGLE) {
        fi__apply_single(dt, g, l->affine.step, m->W, first, last, out, acc);
        return FI_OK;
    }
    if (m->kind == KIND_COLUMNS) {
        const int64_t K = m->k_eff;
        double *t = job->colt + (int64_t)worker * K * FI_COLUMN_APPLY;
        for (int64_t b0 = first; b0 < last; b0 += FI_COLUMN_APPLY) {
            const int64_t nb = last - b0 < FI_COLUMN_APPLY ? last - b0 : FI_COLUMN_APPLY;
            fi__apply_copy_columns(m->sdt, m->copy, K, m->count, dt, g, b0, nb,
                                   l->affine.size, l->affine.stride, t);
            for (int64_t j = 0; j < nb; j++) {
                const int64_t b = b0 + j;
                double fi = 0;
                if (m->own[b]) {
                    fi = block_fi(m, dt, g, b);
                } else {
                    const double *A = m->coef + b * K * K;
                    for (int64_t q = 0; q < m->rank[b]; q++) {
                        double x = 0;
                        for (int64_t i = 0; i < K; i++) x += A[q * K + i] * t[i * nb + j];
                        fi += x * x;
                    }
                }
                out[b] = acc ? out[b] + fi : fi;
            }
        }
        return FI_OK;
    }
    for (int64_t b = first; b < last; b++) {
        const double fi = block_fi(m, dt, g, b);
        out[b] = acc ? out[b] + fi : fi;
    }
    return FI_OK;
}

static int apply_checked(fi_context *ctx, const fi_metric *m, fi_dtype dtype, const void *target,
                         double *out, unsigned flags, bool residual)
{
    if (!ctx) return FI_ERR_NULL;
    if (!m) return fi__fail(ctx, FI_ERR_NULL, "metric is NULL");
    if (!target) return fi__fail(ctx, FI_ERR_NULL, "target is NULL");
    if (!out) return fi__fail(ctx, FI_ERR_NULL, "out is NULL");
    if (!fi__dtype_valid(dtype))
        return fi__fail(ctx, FI_ERR_DTYPE, "unknown dtype %d", (int)dtype);
    int status = fi__check_flags(ctx, flags, residual ? 0u : FI_ACCUMULATE);
    if (status != FI_OK) return status;
    const int64_t bad = fi__first_nonfinite(dtype, target, m->n);
    if (bad >= 0)
        return fi__fail(ctx, FI_ERR_NONFINITE, "target[%lld] is not finite", (long long)bad);
    apply_job job = {m, dtype, target, out, flags, residual, NULL, NULL,
                     rank_cap(m->layout.max_size, m->k_eff)};
    if (!residual && m->kind == KIND_COLUMNS) {
        job.colt = fi__alloc(&ctx->mem, (size_t)ctx->threads * (size_t)(m->k_eff * FI_COLUMN_APPLY) *
                                            sizeof(double));
        if (!job.colt)
            return fi__fail(ctx, FI_ERR_NOMEM, "out of memory for %d x %lld column sums",
                            ctx->threads, (long long)(m->k_eff * FI_COLUMN_APPLY));
    }
    if (residual) {
        job.proj = fi__calloc(&ctx->mem, (size_t)ctx->threads * (size_t)job.cap, sizeof(double));
        if (!job.proj)
            return fi__fail(ctx, FI_ERR_NOMEM, "out of memory for %d x %lld projections",
                            ctx->threads, (long long)job.cap);
    }
    /* Nothing below can fail: out is written only once every check has passed. */
    status = fi__parallel_for(ctx, m->count, ctx->threads, apply_range, &job);
    fi__free(&ctx->mem, job.proj);
    fi__free(&ctx->mem, job.colt);
    if (status == FI_OK) fi__ok(ctx);
    return status;
}

int fi_compute(fi_context *ctx, const fi_metric *metric, fi_dtype dtype, const void *target,
               double *out, unsigned flags)
{
    return apply_checked(ctx, metric, dtype, target, out, flags, false);
}

int fi_residual(fi_context *ctx, const fi_metric *metric, fi_dtype dtype, const void *target,
                double *out)
{
    return apply_checked(ctx, metric, dtype, target, out, 0u, true);
}

int fi_metric_ranks(fi_context *ctx, const fi_metric *m, int64_t *ranks)
{
    if (!ctx) return FI_ERR_NULL;
    if (!m) return fi__fail(ctx, FI_ERR_NULL, "metric is NULL");
    if (!ranks) return fi__fail(ctx, FI_ERR_NULL, "ranks is NULL");
    for (int64_t b = 0; b < m->count; b++) ranks[b] = block_rank(m, b);
    fi__ok(ctx);
    return FI_OK;
}

int fi_class_bound(fi_context *ctx, const fi_metric *m, int64_t k, double *bound)
{
    if (!ctx) return FI_ERR_NULL;
    if (!m) return fi__fail(ctx, FI_ERR_NULL, "metric is NULL");
    if (!bound) return fi__fail(ctx, FI_ERR_NULL, "bound is NULL");
    if (k < 0 || k >= m->k_eff)
        return fi__fail(ctx, FI_ERR_CLASS, "class %lld outside [0, %lld)", (long long)k,
                        (long long)m->k_eff);
    const double pk = m->prob[k];
    if (!(pk > 0))
        return fi__fail(ctx, FI_ERR_PROBABILITY, "class %lld has probability 0: no finite bound",
                        (long long)k);
    *bound = m->sums_to_one ? (1.0 - pk) / pk : 1.0 / pk;
    fi__ok(ctx);
    return FI_OK;
}

int fi_normalize_class(fi_context *ctx, const fi_metric *m, int64_t k, const double *fi,
                       double *normalized, uint8_t *saturated)
{
    double bound;
    int status = fi_class_bound(ctx, m, k, &bound);
    if (status != FI_OK) return status;
    if (!fi) return fi__fail(ctx, FI_ERR_NULL, "fi is NULL");
    const int64_t bad = fi__first_nonfinite(FI_F64, fi, m->count);
    if (bad >= 0) return fi__fail(ctx, FI_ERR_NONFINITE, "fi[%lld] is not finite", (long long)bad);
    for (int64_t b = 0; b < m->count; b++) {
        if (normalized) normalized[b] = bound > 0 ? fi[b] / bound : 0.0;
        if (saturated) saturated[b] = block_rank(m, b) >= m->k_eff - 1;
    }
    return FI_OK;
}
