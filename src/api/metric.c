/* The metric: building the per-block factors of G_b^+ (src/solve/metric_repr.h) from one
 * sample's scores; src/api/compute.c applies them. */
#include <float.h>

#include "core/threads.h"
#include "core/validate.h"
#include "linalg/small_svd.h"
#include "linalg/svd.h"
#include "solve/dispatch.h"
#include "solve/factor.h"
#include "solve/metric_build.h"
#include "solve/metric_repr.h"
#include "solve/strided.h"

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
    if (m->kind == FI__METRIC_SINGLE) {
        *wtotal = count;
        return true;
    }
    if (__builtin_mul_overflow(count, m->cap, stotal)) return false;
    if (m->kind == FI__METRIC_FACTOR)
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
    m->kind = FI__METRIC_FACTOR;
    if (!l->indexed) {
        const fi_blocks *a = &l->affine;
        const bool stream = ctx->method == FI_METHOD_AUTO && fi__stream_supported(pb, l);
        m->cap = fi__rank_cap(a->size, pb->k_eff);
        if (a->size == 1) m->kind = FI__METRIC_SINGLE;
        else if (stream && a->size >= pb->k_eff && a->stride == 1) m->kind = FI__METRIC_ROWS;
        else if (stream && a->size >= pb->k_eff && a->step == 1 && a->stride > 1)
            m->kind = FI__METRIC_COLUMNS;
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
                const int64_t p = fi__block_size(l, b), r = fi__rank_cap(p, pb->k_eff);
                int64_t vals;
                m->w_off[b] = wtotal;
                m->s_off[b] = stotal;
                ok = !__builtin_mul_overflow(r, p, &vals) &&
                     !__builtin_add_overflow(wtotal, vals, &wtotal);
                stotal += fi__rank_cap(p, pb->k_eff);
            }
            m->w_off[l->count] = wtotal;
            m->s_off[l->count] = stotal;
        }
    } else if (ok) {
        ok = affine_sizes(m, &wtotal, &stotal, &copy);
    }
    const bool gram = m->kind == FI__METRIC_ROWS || m->kind == FI__METRIC_COLUMNS;
    const int64_t K = pb->k_eff;
    /* The copy is written whole by the build (no zeroing pass over it); the rest is small or,
     * for W, lazily zeroed pages. */
    ok = ok && (wtotal == 0 || (m->W = fi__calloc(mem, (size_t)wtotal, sizeof(double)))) &&
         (m->kind == FI__METRIC_SINGLE ||
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

/* A factor W = diag(1/sigma) V^T whose 1/sigma overflowed (scores near the underflow
 * threshold) holds Inf, or NaN where V is 0: FI and residuals made from it would be NaN (0 * Inf)
 * or Inf even where they are finite, so the block is refused instead. */
static int64_t checked_rank(int64_t rank, int64_t p, int64_t b, const build_ws *ws, char *err,
                            int *status)
{
    for (int64_t i = 0; i < rank * p; i++)
        if (!isfinite(ws->W[i])) {
            snprintf(err, FI_ERRLEN, "block %lld: singular value %g of the scores is too small "
                     "to invert (its reciprocal overflows); FI would not be finite",
                     (long long)b, ws->sigma[i / p]);
            *status = FI_ERR_NONFINITE;
            return -1;
        }
    return rank;
}

/* Block b by the general path (closed form or small Gram kernel on the gathered block, else
 * the SVD) into ws->W (cap rows of p) and ws->sigma; returns its rank or -1 with err set. */
static int64_t block_general(fi_context *ctx, const fi_problem *pb, const fi_layout *l, int64_t b,
                             bool gram_tried, build_ws *ws, char *err, int *status)
{
    const int64_t p = fi__block_size(l, b), K = pb->k_eff;
    const double rcond = fi__rcond(ctx, pb->dtype, p, K);
    int64_t rank = 0;
    /* gram_tried: the streaming sums of this Gram block were declined; the fast factor would
     * decide the same sums the same way */
    if (ctx->method == FI_METHOD_AUTO && !gram_tried &&
        fi__fast_factor(pb, l, b, rcond, ctx->atol, ws->scratch, &rank, ws->sigma, ws->W))
        return checked_rank(rank, p, b, ws, err, status);
    if (!fi__gather_block(pb, l, b, ws->B, ws->scratch)) {
        snprintf(err, FI_ERRLEN, "non-finite score in block %lld", (long long)b);
        *status = FI_ERR_NONFINITE;
        return -1;
    }
    int info = 0;
    bool null = fi__deflate_null(ws->B, p, K, pb->sqrt_prob, rcond, ctx->atol);
    if (ctx->method == FI_METHOD_AUTO && K <= FI_GRAM_MAX_K && p >= K) {
        /* the block's own SVD without LAPACK; it destroys B, gathered again if it defers */
        if (fi__small_svd_factor(ws->B, p, K, rcond, ctx->atol, null ? K - 1 : K,
                                 fi__small_svd_max_cond(p, K, pb->dtype != FI_F64), ws->sigma,
                                 ws->W, &rank))
            return checked_rank(rank, p, b, ws, err, status);
        fi__gather_block(pb, l, b, ws->B, ws->scratch); /* finite: read above */
        null = fi__deflate_null(ws->B, p, K, pb->sqrt_prob, rcond, ctx->atol);
    }
    if (fi__svd_factor(ws->B, p, K, rcond, ctx->atol, null ? K - 1 : K, &ws->sw, &rank, ws->sigma,
                       ws->W, &info) != FI_OK) {
        snprintf(err, FI_ERRLEN, "LAPACK dgesvd failed on block %lld (%lld x %lld), info %d",
                 (long long)b, (long long)p, (long long)K, info);
        *status = FI_ERR_LAPACK;
        return -1;
    }
    return checked_rank(rank, p, b, ws, err, status);
}

/* Stores block b's factor from ws into the metric's representation; false when a block's own
 * factor cannot be allocated. */
static bool store_block(fi_metric *m, int64_t b, int64_t rank, const build_ws *ws)
{
    const int64_t p = fi__block_size(&m->layout, b);
    if (m->kind == FI__METRIC_SINGLE) { /* c = w^2, or -w where w^2 leaves the normal range */
        const double w = fabs(ws->W[0]), c = w * w;
        m->W[b] = rank == 0 ? 0.0 : c >= DBL_MIN && c <= DBL_MAX ? c : -w;
        return true;
    }
    int64_t wo, so;
    fi__metric_offsets(m, b, &wo, &so);
    m->rank[b] = rank;
    memcpy(m->sigma + so, ws->sigma, (size_t)rank * sizeof(double));
    double *W; /* the Gram kinds have no shared W: m->W is NULL, and NULL + 0 is undefined */
    if (m->kind == FI__METRIC_FACTOR) {
        W = m->W + wo;
    } else {
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
    union {
        double f64[FI_METRIC_CHUNK];
        float f32[FI_METRIC_CHUNK];
        uint16_t h[FI_METRIC_CHUNK];
    } ones;
    for (int64_t j = 0; j < nb; j++) {
        if (pb->dtype == FI_F64) ones.f64[j] = 1.0;
        else if (pb->dtype == FI_F32) ones.f32[j] = 1.0f;
        else ones.h[j] = pb->dtype == FI_BF16 ? 0x3F80 : 0x3C00; /* 1 in bfloat16, float16 */
    }
    fi_problem at = *pb;
    at.scores = (const char *)pb->scores + (size_t)b0 * (size_t)fi__dtype_bytes(pb->dtype);
    const int64_t bad = kern->elements(&at, &ones, rcond, atol, 0, nb, c + b0, false);
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
    const int64_t K = pb->k_eff, pmax = l->max_size, cap = fi__rank_cap(pmax, K);
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
    if (m->kind == FI__METRIC_COLUMNS) {
        ws.acc_raw = fi__calloc(&ctx->mem,
                                (size_t)(fi__column_entries(K) * fi__column_width(K) + 4),
                                sizeof(double));
        ws.acc = (double *)(((uintptr_t)ws.acc_raw + 31) & ~(uintptr_t)31);
    }
    if (status != FI_OK || !ws.B || !ws.scratch || !ws.W || !ws.sigma ||
        (m->kind == FI__METRIC_COLUMNS && !ws.acc_raw)) {
        snprintf(err, FI_ERRLEN, "out of memory for the workspace of %lld x %lld blocks",
                 (long long)pmax, (long long)K);
        status = status == FI_OK ? FI_ERR_NOMEM : status;
        goto done;
    }
    const double rcond = l->indexed ? 0 : fi__rcond(ctx, pb->dtype, a->size, K);
    const bool pixels = stream && m->kind == FI__METRIC_FACTOR && a->size >= 2 && a->size <= 4 &&
                        a->size < K;
    /* columns: the copy of the whole range row by row (long runs), then the kernel's width of
     * blocks at a time (at most 1024) */
    const int64_t chunk = m->kind == FI__METRIC_COLUMNS ? fi__column_width(K) : FI_METRIC_CHUNK;
    if (m->kind == FI__METRIC_COLUMNS)
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
        } else if (m->kind == FI__METRIC_SINGLE && stream && a->step == 1)
            single_chunk(kern, pb, rcond, ctx->atol, b0, nb, m->W, ok);
        else if (m->kind == FI__METRIC_SINGLE && stream)
            fi__metric_single(pb, a->step, rcond, ctx->atol, b0, nb, m->W, ok);
        else if (m->kind == FI__METRIC_COLUMNS) {
            kern->column_sums(pb, b0, nb, a->size, a->stride, NULL, ws.acc);
            unsigned char zero[FI_COLUMN_WIDTH_MAX];
            bool zero_known = false;
            for (int64_t j = 0; j < nb; j++) {
                fi_gram gm;
                fi__column_gram(pb, ws.acc, j, false, 0, &gm);
                ok[j] = fi__metric_coefficients(&gm, pb, a->size, psum, rcond, ctx->atol,
                                                m->coef + (b0 + j) * K * K,
                                                m->sigma + (b0 + j) * m->cap, &m->rank[b0 + j]);
                /* a float64 zero column (its squares could underflow): rank 0, as the SVD */
                if (!ok[j] && pb->dtype == FI_F64 && pb->adjust == FI_ADJUST_NONE &&
                    nb <= FI_COLUMN_WIDTH_MAX && fi__gram_diagonal_zero(&gm, K)) {
                    if (!zero_known) fi__zero_columns_f64(pb, b0, nb, a->size, a->stride, zero);
                    zero_known = true;
                    if (zero[j]) {
                        memset(m->coef + (b0 + j) * K * K, 0, sizeof(double) * (size_t)(K * K));
                        m->rank[b0 + j] = 0;
                        ok[j] = 1;
                    }
                }
            }
        } else if (m->kind == FI__METRIC_ROWS) {
            const int64_t p = a->size;
            const size_t e = (size_t)fi__dtype_bytes(pb->dtype);
            for (int64_t j = 0; j < nb; j++) {
                const int64_t b = b0 + j;
                fi_gram gm;
                fi__row_sums(kern, pb, b * a->step, p, NULL, 0, &gm);
                ok[j] = fi__metric_coefficients(&gm, pb, a->size, psum, rcond, ctx->atol,
                                                m->coef + b * K * K,
                                                m->sigma + b * m->cap, &m->rank[b]);
                for (int64_t i = 0; ok[j] && i < K; i++)
                    memcpy((char *)m->copy + (size_t)((b * K + i) * p) * e,
                           (const char *)pb->scores + (size_t)(i * pb->ld + b * a->step) * e,
                           (size_t)p * e);
            }
        }
        for (int64_t j = 0; j < nb && status == FI_OK; j++) {
            if (ok[j]) continue;
            const bool gram_tried = m->kind == FI__METRIC_ROWS || m->kind == FI__METRIC_COLUMNS;
            const int64_t r = block_general(ctx, pb, l, b0 + j, gram_tried, &ws, err, &status);
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

