/* Applying a metric (src/solve/metric_repr.h): fi_compute in the target's memory order, the
 * residual of the target outside the blocks' ranges, and the diagnostics. */
#include "core/threads.h"
#include "core/validate.h"
#include "solve/metric_build.h"
#include "solve/metric_repr.h"

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

/* |g - V V^T g| / |g| of block b, with V = W^T diag(sigma) and so V^T g = sigma .* (W g),
 * computed on g / max|g| so that no square overflows or underflows. */
static double block_residual(const fi_metric *m, fi_dtype dt, const void *g, int64_t b, double *v)
{
    const fi_layout *l = &m->layout;
    const int64_t p = fi__block_size(l, b), r = fi__metric_rank(m, b);
    double gmax = 0;
    for (int64_t j = 0; j < p; j++) gmax = fmax(gmax, fabs(fi__load(dt, g, fi__block_coord(l, b, j))));
    if (gmax == 0) return 0.0;
    if (r == p) return 0.0; /* full rank: V V^T = I (p = 1: V = (1)) */
    if (m->kind == FI__METRIC_SINGLE) return 1.0; /* rank 0: nothing of g is in range */
    for (int64_t q = 0; q < r; q++) {
        double x = 0;
        for (int64_t j = 0; j < p; j++)
            x += fi__metric_w(m, b, q, j) * (fi__load(dt, g, fi__block_coord(l, b, j)) / gmax);
        const double sq = fi__metric_sigma(m, b, q);
        v[q] = x * sq * sq;
    }
    double gg = 0, rr = 0;
    for (int64_t j = 0; j < p; j++) {
        const double gj = fi__load(dt, g, fi__block_coord(l, b, j)) / gmax;
        double proj = 0;
        for (int64_t q = 0; q < r; q++) proj += fi__metric_w(m, b, q, j) * v[q];
        gg += gj * gj;
        rr += (gj - proj) * (gj - proj);
    }
    return gg > 0 ? sqrt(rr / gg) : 0.0;
}

/* FI of one block from whatever represents it, in the target's order where that streams. */
static double block_fi_direct(const fi_metric *m, fi_dtype dt, const void *g, int64_t b);

/* |W g|^2 on g / 2^e (e from the block's largest |g|): the products of a large factor and a
 * large target overflow one by one and sum to inf - inf = NaN; scaled, FI is finite or +inf. */
static double block_fi_scaled(const fi_metric *m, fi_dtype dt, const void *g, int64_t b)
{
    const fi_layout *l = &m->layout;
    const int64_t p = fi__block_size(l, b), r = fi__metric_rank(m, b);
    double gmax = 0;
    for (int64_t j = 0; j < p; j++) gmax = fmax(gmax, fabs(fi__load(dt, g, fi__block_coord(l, b, j))));
    if (!isfinite(gmax)) return NAN; /* a non-finite target (checked mode refused it before) */
    int e;
    frexp(gmax, &e);
    double fi = 0;
    for (int64_t q = 0; q < r; q++) {
        double x = 0;
        for (int64_t j = 0; j < p; j++)
            x += fi__metric_w(m, b, q, j) * ldexp(fi__load(dt, g, fi__block_coord(l, b, j)), -e);
        fi += x * x;
    }
    return ldexp(fi, 2 * e);
}

static double block_fi(const fi_metric *m, fi_dtype dt, const void *g, int64_t b)
{
    const double fi = block_fi_direct(m, dt, g, b);
    return isfinite(fi) ? fi : block_fi_scaled(m, dt, g, b);
}

static double block_fi_direct(const fi_metric *m, fi_dtype dt, const void *g, int64_t b)
{
    const fi_layout *l = &m->layout;
    const int64_t p = fi__block_size(l, b), r = fi__metric_rank(m, b);
    const bool contiguous = !l->indexed && l->affine.stride == 1;
    if (m->kind == FI__METRIC_ROWS && !m->own[b])
        return fi__apply_copy_row(m->sdt, (const char *)m->copy + (size_t)(b * m->k_eff * p) *
                                                                  (size_t)fi__dtype_bytes(m->sdt),
                                  m->k_eff, m->coef + b * m->k_eff * m->k_eff, r, dt, g,
                                  b * l->affine.step, p);
    if (contiguous && (m->kind == FI__METRIC_FACTOR || m->own[b])) {
        int64_t wo, so;
        fi__metric_offsets(m, b, &wo, &so);
        return fi__apply_row(dt, g, b * l->affine.step, p, r,
                             m->kind == FI__METRIC_FACTOR ? m->W + wo : m->own[b]);
    }
    double fi = 0;
    for (int64_t q = 0; q < r; q++) {
        double x = 0;
        for (int64_t j = 0; j < p; j++)
            x += fi__metric_w(m, b, q, j) * fi__load(dt, g, fi__block_coord(l, b, j));
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
    if (m->kind == FI__METRIC_SINGLE) {
        fi__apply_single(dt, g, l->affine.step, m->W, first, last, out, acc);
        return FI_OK;
    }
    if (m->kind == FI__METRIC_COLUMNS) {
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
                    fi = fi__coef_fi(m->coef + b * K * K, m->rank[b], K, t + j, nb);
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
                     fi__rank_cap(m->layout.max_size, m->k_eff)};
    if (!residual && m->kind == FI__METRIC_COLUMNS) {
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
    for (int64_t b = 0; b < m->count; b++) ranks[b] = fi__metric_rank(m, b);
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
        if (saturated) saturated[b] = fi__metric_rank(m, b) >= m->k_eff - 1;
    }
    return FI_OK;
}
