/* The metric: per-block factors W_b = diag(1/sigma) V^T of G_b^+ and what is computed
 * from them (fi_compute and the diagnostics). */
#include "core/threads.h"
#include "core/validate.h"
#include "linalg/svd.h"
#include "solve/factor.h"

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
    double *W;          /* block b: rank_b rows of p_b values */
    double *sigma;      /* block b: rank_b singular values */
    int64_t *rank;
};

/* Capacity of block b's factor: r <= min(p, K) rows of p values. */
static int64_t rank_cap(int64_t p, int64_t k) { return p < k ? p : k; }

static void block_offsets(const fi_metric *m, int64_t b, int64_t *wo, int64_t *so)
{
    if (m->layout.indexed) {
        *wo = m->w_off[b];
        *so = m->s_off[b];
    } else {
        const int64_t p = m->layout.affine.size, r = rank_cap(p, m->k_eff);
        *wo = b * r * p;
        *so = b * r;
    }
}

void fi_metric_free(fi_metric *m)
{
    if (!m) return;
    const fi_allocator mem = m->mem;
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
    int64_t wtotal = 0, stotal = 0;
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
        const int64_t p = l->affine.size, r = rank_cap(p, pb->k_eff);
        int64_t per;
        ok = !__builtin_mul_overflow(r, p, &per) && !__builtin_mul_overflow(l->count, per, &wtotal) &&
             !__builtin_mul_overflow(l->count, r, &stotal);
    }
    ok = ok && (m->W = fi__calloc(mem, (size_t)wtotal, sizeof(double))) &&
         (m->sigma = fi__calloc(mem, (size_t)stotal, sizeof(double))) &&
         (m->rank = fi__calloc(mem, (size_t)l->count, sizeof(int64_t)));
    if (!ok) {
        fi_metric_free(m);
        return fi__fail(ctx, FI_ERR_NOMEM, "out of memory for a metric of %lld blocks "
                                           "(%lld factor values)",
                        (long long)l->count, (long long)wtotal);
    }
    *out = m;
    return FI_OK;
}

typedef struct build_job {
    fi_context *ctx;
    const fi_problem *pb;
    fi_metric *m;
} build_job;

static int build_range(void *arg, int64_t first, int64_t last, int worker, char *err)
{
    (void)worker;
    build_job *job = arg;
    fi_context *ctx = job->ctx;
    const fi_problem *pb = job->pb;
    fi_metric *m = job->m;
    const fi_layout *l = &m->layout;
    const int64_t K = pb->k_eff, pmax = l->max_size;
    const bool fast = ctx->method == FI_METHOD_AUTO;
    fi_svd_work sw;
    int status = fi__svd_workspace(NULL, &ctx->mem, pmax, K, &sw);
    double *B = fi__calloc(&ctx->mem, (size_t)(pmax * K), sizeof(double));
    double *scratch = fi__calloc(&ctx->mem, fi__fast_scratch_doubles(pmax, K) + (size_t)K,
                                 sizeof(double));
    if (status != FI_OK || !B || !scratch) {
        snprintf(err, FI_ERRLEN, "out of memory for the workspace of %lld x %lld blocks",
                 (long long)pmax, (long long)K);
        status = status == FI_OK ? FI_ERR_NOMEM : status;
        goto done;
    }
    for (int64_t b = first; b < last; b++) {
        const int64_t p = fi__block_size(l, b);
        const double rcond = fi__rcond(ctx, pb->dtype, p, K);
        int64_t wo, so;
        block_offsets(m, b, &wo, &so);
        if (fast && fi__fast_factor(pb, l, b, rcond, ctx->atol, scratch, &m->rank[b],
                                    m->sigma + so, m->W + wo))
            continue;
        if (!fi__gather_block(pb, l, b, B, scratch)) {
            snprintf(err, FI_ERRLEN, "non-finite score in block %lld", (long long)b);
            status = FI_ERR_NONFINITE;
            goto done;
        }
        int info = 0;
        const bool null = fi__deflate_null(B, p, K, pb->sqrt_prob, rcond, ctx->atol);
        if (fi__svd_factor(B, p, K, rcond, ctx->atol, null ? K - 1 : K, &sw, &m->rank[b],
                           m->sigma + so, m->W + wo, &info) != FI_OK) {
            snprintf(err, FI_ERRLEN, "LAPACK dgesvd failed on block %lld (%lld x %lld), info %d",
                     (long long)b, (long long)p, (long long)K, info);
            status = FI_ERR_LAPACK;
            goto done;
        }
    }
done:
    fi__svd_workspace_free(&ctx->mem, &sw);
    fi__free(&ctx->mem, B);
    fi__free(&ctx->mem, scratch);
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
    int64_t cap;
} apply_job;

static int apply_range(void *arg, int64_t first, int64_t last, int worker, char *err)
{
    const apply_job *job = arg;
    const fi_metric *m = job->m;
    const fi_layout *l = &m->layout;
    const fi_dtype dt = job->dtype;
    const void *g = job->target;
    (void)err;
    double v_single[1], *v = job->residual ? job->proj + (int64_t)worker * job->cap : v_single;
    for (int64_t b = first; b < last; b++) {
        const int64_t p = fi__block_size(l, b), r = m->rank[b];
        int64_t wo, so;
        block_offsets(m, b, &wo, &so);
        const double *W = m->W + wo;
        double fi = 0;
        for (int64_t q = 0; q < r; q++) {
            double x = 0;
            for (int64_t j = 0; j < p; j++) x += W[q * p + j] * fi__load(dt, g, fi__block_coord(l, b, j));
            fi += x * x;
        }
        if (!job->residual) {
            job->out[b] = (job->flags & FI_ACCUMULATE) ? job->out[b] + fi : fi;
            continue;
        }
        /* g - V V^T g, with V = W^T diag(sigma) and so V^T g = sigma .* (W g). The residual
         * is scale-free: computed on g / max|g| so that no square overflows or underflows. */
        const double *sg = m->sigma + so;
        double gmax = 0;
        for (int64_t j = 0; j < p; j++) gmax = fmax(gmax, fabs(fi__load(dt, g, fi__block_coord(l, b, j))));
        if (gmax == 0) {
            job->out[b] = 0.0;
            continue;
        }
        for (int64_t q = 0; q < r; q++) {
            double x = 0;
            for (int64_t j = 0; j < p; j++)
                x += W[q * p + j] * (fi__load(dt, g, fi__block_coord(l, b, j)) / gmax);
            v[q] = x * sg[q] * sg[q];
        }
        double gg = 0, rr = 0;
        for (int64_t j = 0; j < p; j++) {
            const double gj = fi__load(dt, g, fi__block_coord(l, b, j)) / gmax;
            double proj = 0;
            for (int64_t q = 0; q < r; q++) proj += W[q * p + j] * v[q];
            gg += gj * gj;
            rr += (gj - proj) * (gj - proj);
        }
        job->out[b] = gg > 0 ? sqrt(rr / gg) : 0.0;
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
    apply_job job = {m, dtype, target, out, flags, residual, NULL,
                     rank_cap(m->layout.max_size, m->k_eff)};
    if (residual) {
        job.proj = fi__calloc(&ctx->mem, (size_t)ctx->threads * (size_t)job.cap, sizeof(double));
        if (!job.proj)
            return fi__fail(ctx, FI_ERR_NOMEM, "out of memory for %d x %lld projections",
                            ctx->threads, (long long)job.cap);
    }
    /* Nothing below can fail: out is written only once every check has passed. */
    status = fi__parallel_for(ctx, m->count, ctx->threads, apply_range, &job);
    fi__free(&ctx->mem, job.proj);
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
    memcpy(ranks, m->rank, (size_t)m->count * sizeof(int64_t));
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
        if (saturated) saturated[b] = m->rank[b] >= m->k_eff - 1;
    }
    return FI_OK;
}
