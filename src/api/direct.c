/* Fused one-shot FI straight from the scores (no metric, no O(n*K) allocation).
 * Elements (p = 1) use the closed form of docs/math.md fact 1 in a streaming loop; larger blocks
 * are factored one at a time with the metric's kernels (fast Gram kernels, SVD where they
 * cannot decide) and applied at once, so the per-block workspace is all that is allocated. */
#include "core/threads.h"
#include "core/validate.h"
#include "linalg/small_svd.h"
#include "linalg/svd.h"
#include "solve/dispatch.h"
#include "solve/eigen.h"
#include "solve/factor.h"
#include "solve/strided.h"

#include <stdio.h>

/* One worker's buffers, all allocated before any output is written so that running out of
 * memory can never leave out half written. */
typedef struct direct_ws {
    fi_svd_work sw;
    double *B, *W, *sigma, *g, *scratch;
    void *col_raw;   /* column sums, allocated with room to align them */
    double *col_acc; /* 32-byte aligned into col_raw */
    fi_gram *gram;     /* one block's sums (FI_MANY_COLUMNS of them for wide columns) */
    double *gram_work; /* fi__gram_work_doubles(K): the K x K arrays of src/solve/ */
    void *many_raw;    /* gram_many.c's work, allocated with room to align it */
    double *many_work; /* 32-byte aligned into many_raw */
} direct_ws;

typedef struct direct_job {
    fi_context *ctx;
    const fi_problem *pb;
    const fi_layout *l;
    const void *target; /* NULL: class target */
    int64_t k;          /* class of the class target */
    double *out;
    unsigned flags;
    int64_t pmax;
    bool check; /* verify a block's inputs before the general path trusts them */
    direct_ws *ws; /* one per worker */
} direct_job;

static inline double target_at(const direct_job *job, int64_t c, const double *s)
{
    return job->target ? fi__load(job->pb->dtype, job->target, c) : s[job->k];
}

/* The target class for the Gram kernels' leverage form, or -1 for a gradient target. */
static inline int64_t job_class(const direct_job *job) { return job->target ? -1 : job->k; }

/* Where the streaming kernels read g: the target, or the target class's row of the scores
 * (the same coordinates: both are indexed by coordinate). */
static inline const void *target_base(const direct_job *job)
{
    const fi_problem *pb = job->pb;
    return job->target ? job->target
                       : (const char *)pb->scores + job->k * pb->ld * fi__dtype_bytes(pb->dtype);
}

/* Affine layouts with FI_GRAM_MAX_K < K <= FI_GRAM_WIDE_K whose rows and columns take the
 * many-class kernels of gram_many.c (the dtypes and layouts the register kernels stream). */
static bool wide_gram(const fi_context *ctx, const fi_problem *pb, const fi_layout *l)
{
    return ctx->method == FI_METHOD_AUTO && !l->indexed && pb->adjust == FI_ADJUST_NONE &&
           pb->k_eff > FI_GRAM_MAX_K && pb->k_eff <= FI_GRAM_WIDE_K;
}


/* p = 1: FI = g^2 / sum_i P_i s_i^2, 0 where the block's single singular value is cut. */
static int elements_range(void *arg, int64_t first, int64_t last, int worker, char *err)
{
    const direct_job *job = arg;
    const fi_problem *pb = job->pb;
    const int64_t K = pb->k_eff;
    const double rcond = fi__rcond(job->ctx, pb->dtype, 1, K), atol = job->ctx->atol;
    /* the vector closed form serves every K of the Gram path: its cost is K loads per lane */
    const bool wide = wide_gram(job->ctx, pb, job->l);
    if ((fi__stream_supported(pb, job->l) || wide) && job->l->affine.step == 1) {
        const int64_t c = fi__kernels(job->ctx)->elements(pb, target_base(job), rcond, atol,
                                                          first, last, job->out,
                                                          job->flags & FI_ACCUMULATE);
        if (c < 0) return FI_OK;
        snprintf(err, FI_ERRLEN, "non-finite score or target at coordinate %lld", (long long)c);
        return FI_ERR_NONFINITE;
    }
    if (fi__stream_supported(pb, job->l) && !(job->flags & FI_SINGLE_PASS)) {
        fi__stream_elements(pb, job->l, target_base(job), rcond, atol, first, last, job->out,
                            job->flags & FI_ACCUMULATE);
        return FI_OK;
    }
    double *s = job->ws[worker].scratch;
    int status = FI_OK;
    for (int64_t b = first; b < last; b++) {
        const int64_t c = fi__block_coord(job->l, b, 0);
        fi__problem_scores_at(pb, c, s);
        const double g = target_at(job, c, s);
        bool finite = isfinite(g);
        for (int64_t i = 0; i < K; i++) finite = finite && isfinite(s[i]);
        if (!finite) {
            snprintf(err, FI_ERRLEN, "non-finite score or target at coordinate %lld", (long long)c);
            status = FI_ERR_NONFINITE;
            break;
        }
        const double fi = fi__element_fi(pb->prob, s, K, g, rcond, atol);
        job->out[b] = (job->flags & FI_ACCUMULATE) ? job->out[b] + fi : fi;
    }
    return status;
}

/* One pass over block b: the K x K Gram (p >= K) or the p x p metric (p < K), then the small
 * kernel of src/solve/eigen.c. Returns false when the SVD must decide. s holds K doubles, G p*p. */
static bool gram_block(const direct_job *job, direct_ws *ws, int64_t b, int64_t p, double psum,
                       double rcond, double *s, double *G, double *fi)
{
    const fi_problem *pb = job->pb;
    const int64_t K = pb->k_eff;
    const double *sp = pb->sqrt_prob;
    int64_t rank;
    if (p >= K) {
        fi_gram *gm = ws->gram;
        fi__gram_clear(gm, K);
        for (int64_t j = 0; j < p; j++) {
            const int64_t c = fi__block_coord(job->l, b, j);
            fi__problem_scores_at(pb, c, s);
            const double g = target_at(job, c, s);
            double bv[FI_GRAM_WIDE_K], m = 0;
            for (int64_t i = 0; i < K; i++) {
                bv[i] = sp[i] * s[i];
                m += pb->prob[i] * s[i];
            }
            fi__gram_add(gm, K, bv, m, true, g);
        }
        return fi__gram_fi(gm, K, sp, psum, rcond, job->ctx->atol, p, pb->dtype != FI_F64,
                           job_class(job), fi, &rank, ws->gram_work);
    }
    if (p > FI_GRAM_MAX_K) return false;
    double gv[FI_GRAM_MAX_K];
    for (int64_t a = 0; a < p; a++) { /* B row a into G's last row as scratch: p < K */
        const int64_t c = fi__block_coord(job->l, b, a);
        fi__problem_scores_at(pb, c, s);
        gv[a] = target_at(job, c, s);
        for (int64_t i = 0; i < K; i++) G[p * p + a * K + i] = sp[i] * s[i];
    }
    fi__metric_gram(G + p * p, p, K, K, 1, G);
    return fi__metric_fi(G, gv, p, rcond, job->ctx->atol, fi, &rank);
}

static inline void put(const direct_job *job, int64_t b, double fi)
{
    job->out[b] = (job->flags & FI_ACCUMULATE) ? job->out[b] + fi : fi;
}

/* Finite sums: every input of the block was finite (each one reaches a diagonal sum of
 * squares, or a target product, where inf and NaN cannot cancel). */
static bool gram_finite(const fi_gram *gm, int64_t K)
{
    double acc = gm->mean2 * 0;
    for (int64_t i = 0; i < K; i++) {
        acc += gm->t[i] * 0;
        for (int64_t c = i; c < K; c++) acc += gm->c[i * K + c] * 0;
    }
    return acc == 0; /* x * 0 is NaN exactly for non-finite x */
}

/* Block b by the general path: the small kernels on a gathered block where they can decide,
 * else W = diag(1/sigma) V^T (fast factor or SVD) applied to g. */
static int block_general(const direct_job *job, direct_ws *ws, int64_t b, double psum,
                         bool gram_declined, char *err)
{
    fi_context *ctx = job->ctx;
    const fi_problem *pb = job->pb;
    const fi_layout *l = job->l;
    const int64_t K = pb->k_eff, p = fi__block_size(l, b);
    const double rcond = fi__rcond(ctx, pb->dtype, p, K);
    double *W = ws->W, *sigma = ws->sigma, *g = ws->g, *scratch = ws->scratch, fi;
    int64_t r = 0;
    /* gram_declined: the streaming kernel's sums of this block were finite (so were its
     * inputs) and fi__gram_fi declined them; the scalar Gram and the Gram factor would decide
     * the same sums the same way, so the block goes straight to the SVDs. */
    if (job->check && !gram_declined) {
        const int status = fi__check_block_finite(pb, l, b, job->target, err);
        if (status != FI_OK) return status;
    }
    if (ctx->method == FI_METHOD_AUTO && K <= FI_GRAM_WIDE_K && !gram_declined &&
        gram_block(job, ws, b, p, psum, rcond, scratch, ws->B, &fi) && isfinite(fi)) {
        put(job, b, fi);
        return FI_OK;
    }
    /* A class target is the class's score with the softmax null direction removed, as the
     * columns of B are when the null rule applies (B q = 0 up to rounding): the leverage form
     * that the Gram kernels compute, instead of a score that carries the rounding residue. */
    const bool klass = !job->target;
    bool gathered = false, null = false;
    if (klass && p >= K) {
        if (!fi__gather_block(pb, l, b, ws->B, scratch)) {
            snprintf(err, FI_ERRLEN, "non-finite score in block %lld", (long long)b);
            return FI_ERR_NONFINITE;
        }
        null = fi__deflate_null(ws->B, p, K, pb->sqrt_prob, rcond, ctx->atol);
        gathered = true;
    }
    const double spk = klass ? pb->sqrt_prob[job->k] : 0.0; /* job->k is -1 with a target */
    for (int64_t j = 0; j < p; j++) {
        const int64_t c = fi__block_coord(l, b, j);
        if (!klass) {
            g[j] = fi__load(pb->dtype, job->target, c);
        } else if (null && spk > 0) { /* column k of B (I - q q^T) over sqrt(P_k) */
            g[j] = ws->B[j + job->k * p] / spk;
        } else {
            fi__problem_scores_at(pb, c, scratch);
            double mean = 0;
            if (null)
                for (int64_t i = 0; i < K; i++) mean += pb->prob[i] * scratch[i];
            g[j] = scratch[job->k] - mean / psum;
        }
    }
    if (!(ctx->method == FI_METHOD_AUTO && !gram_declined &&
          fi__fast_factor(pb, l, b, rcond, ctx->atol, scratch, &r, sigma, W))) {
        if (!gathered) {
            if (!fi__gather_block(pb, l, b, ws->B, scratch)) {
                snprintf(err, FI_ERRLEN, "non-finite score in block %lld", (long long)b);
                return FI_ERR_NONFINITE;
            }
            null = fi__deflate_null(ws->B, p, K, pb->sqrt_prob, rcond, ctx->atol);
        }
        if (ctx->method == FI_METHOD_AUTO && K <= FI_GRAM_MAX_K && p >= K) {
            /* the block's own SVD without LAPACK (destroys B and its copy of g) */
            memcpy(scratch, g, (size_t)p * sizeof(double));
            if (fi__small_svd_fi(ws->B, p, K, scratch, rcond, ctx->atol, null ? K - 1 : K,
                                 fi__small_svd_max_cond(p, K, pb->dtype != FI_F64), &fi, &r)) {
                put(job, b, fi);
                return FI_OK;
            }
            if (!fi__gather_block(pb, l, b, ws->B, scratch)) { /* the same scores as above */
                snprintf(err, FI_ERRLEN, "non-finite score in block %lld", (long long)b);
                return FI_ERR_NONFINITE;
            }
            null = fi__deflate_null(ws->B, p, K, pb->sqrt_prob, rcond, ctx->atol);
        }
        int info = 0;
        if (fi__svd_factor(ws->B, p, K, rcond, ctx->atol, null ? K - 1 : K, &ws->sw, &r, sigma, W,
                           &info) != FI_OK) {
            snprintf(err, FI_ERRLEN, "LAPACK dgesvd failed on block %lld, info %d", (long long)b,
                     info);
            return FI_ERR_LAPACK;
        }
    }
    fi = 0;
    for (int64_t q = 0; q < r; q++) {
        double v = 0;
        for (int64_t j = 0; j < p; j++) v += W[q * p + j] * g[j];
        fi += v * v;
    }
    if (!isfinite(fi)) {
        snprintf(err, FI_ERRLEN, "FI of block %lld is not finite: a non-finite target, or "
                                 "scores or target beyond the documented range", (long long)b);
        return FI_ERR_NONFINITE;
    }
    put(job, b, fi);
    return FI_OK;
}

/* p > 1. Affine layouts of every dtype stream through the vector kernels (rows: one block at
 * a time; columns and pixels: a chunk of blocks at a time); whatever those cannot decide, and
 * every other layout, takes block_general. */
static int blocks_range(void *arg, int64_t first, int64_t last, int worker, char *err)
{
    const direct_job *job = arg;
    fi_context *ctx = job->ctx;
    const fi_problem *pb = job->pb;
    const int64_t K = pb->k_eff;
    direct_ws *ws = &job->ws[worker];
    const fi_blocks *a = &job->l->affine;
    const bool stream = ctx->method == FI_METHOD_AUTO && fi__stream_supported(pb, job->l);
    const bool many = wide_gram(ctx, pb, job->l); /* K > FI_GRAM_MAX_K: gram_many.c */
    const bool rows = (stream || many) && a->size >= K && a->stride == 1;
    const bool columns = (stream || many) && a->size >= K && a->step == 1 && a->stride > 1;
    const bool pixels = stream && a->size < K && a->size >= 2 && a->size <= 4;
    const fi_kernels *kern = fi__kernels(ctx);
    double psum = 0;
    for (int64_t i = 0; i < K; i++) psum += pb->prob[i];
    int status = FI_OK;
    if (pixels) {
        const double rcond = fi__rcond(ctx, pb->dtype, a->size, K);
        double fi[FI_PIXEL_CHUNK];
        unsigned char ok[FI_PIXEL_CHUNK];
        for (int64_t b0 = first; b0 < last && status == FI_OK; b0 += FI_PIXEL_CHUNK) {
            const int64_t nb = last - b0 < FI_PIXEL_CHUNK ? last - b0 : FI_PIXEL_CHUNK;
            kern->pixels(pb, a, b0, nb, job->target ? job->target : pb->scores,
                         job->target ? 0 : job->k * pb->ld, rcond, ctx->atol, fi, ok);
            for (int64_t j = 0; j < nb && status == FI_OK; j++) {
                if (ok[j]) put(job, b0 + j, fi[j]);
                else status = block_general(job, ws, b0 + j, psum, false, err);
            }
        }
        return status;
    }
    if (rows || columns) {
        const double rcond = fi__rcond(ctx, pb->dtype, a->size, K);
        const int64_t width = !columns ? 1 : many ? FI_MANY_COLUMNS : fi__column_width(K);
        for (int64_t b0 = first; b0 < last && status == FI_OK; b0 += width) {
            const int64_t nb = last - b0 < width ? last - b0 : width;
            if (columns && many)
                kern->many_columns(pb, b0, nb, a->size, a->stride, job->target, job->k, ws->gram,
                                   ws->many_work);
            else if (columns)
                kern->column_sums(pb, b0, nb, a->size, a->stride, job->target, ws->col_acc);
            unsigned char zero[FI_COLUMN_WIDTH_MAX];
            bool zero_known = false;
            for (int64_t j = 0; j < nb && status == FI_OK; j++) {
                fi_gram *gm = columns && many ? &ws->gram[j] : ws->gram;
                double fi;
                int64_t r;
                if (columns && !many)
                    fi__column_gram(pb, ws->col_acc, j, job->target != NULL, job->k, gm);
                else if (!columns && many)
                    kern->many_rows(pb, b0 * a->step, NULL, a->size, job->target, job->k, gm,
                                    ws->many_work);
                else if (!columns)
                    fi__row_sums(kern, pb, b0 * a->step, a->size, job->target, job->k, gm);
                const bool finite = gram_finite(gm, K);
                if (columns && finite && pb->dtype == FI_F64 && pb->adjust == FI_ADJUST_NONE &&
                    nb <= FI_COLUMN_WIDTH_MAX && fi__gram_diagonal_zero(gm, K)) {
                    if (!zero_known) fi__zero_columns_f64(pb, b0, nb, a->size, a->stride, zero);
                    zero_known = true;
                    if (zero[j]) { /* B = 0: rank 0, FI 0, as the SVD */
                        put(job, b0 + j, 0.0);
                        continue;
                    }
                }
                const bool decided = finite && fi__gram_fi(gm, K, pb->sqrt_prob, psum, rcond,
                                                           ctx->atol, a->size, pb->dtype != FI_F64,
                                                           job_class(job), &fi, &r,
                                                           ws->gram_work);
                if (decided && isfinite(fi))
                    put(job, b0 + j, fi);
                else
                    status = block_general(job, ws, b0 + j, psum, finite && !decided, err);
            }
        }
        return status;
    }
    const bool gathered = ctx->method == FI_METHOD_AUTO && job->l->indexed &&
                          pb->adjust == FI_ADJUST_NONE && K <= FI_GRAM_WIDE_K;
    for (int64_t b = first; b < last && status == FI_OK; b++) {
        const int64_t p = fi__block_size(job->l, b);
        const int64_t *idx = gathered ? job->l->indices + job->l->offsets[b] : NULL;
        fi_gram *gm = ws->gram;
        double fi;
        int64_t r;
        const bool finite =
            gathered && p >= K &&
            (K <= 4 ? kern->index_sums(pb, idx, p, job->target, job->k, gm)
                    : (kern->many_rows(pb, 0, idx, p, job->target, job->k, gm, ws->many_work),
                       true)) &&
            gram_finite(gm, K);
        const bool decided = finite && fi__gram_fi(gm, K, pb->sqrt_prob, psum,
                                                   fi__rcond(ctx, pb->dtype, p, K), ctx->atol, p,
                                                   pb->dtype != FI_F64, job_class(job), &fi, &r,
                                                   ws->gram_work);
        if (decided && isfinite(fi))
            put(job, b, fi);
        else
            status = block_general(job, ws, b, psum, finite && !decided, err);
    }
    return status;
}

static void ws_free(fi_context *ctx, direct_ws *ws)
{
    fi__svd_workspace_free(&ctx->mem, &ws->sw);
    fi__free(&ctx->mem, ws->B);
    fi__free(&ctx->mem, ws->W);
    fi__free(&ctx->mem, ws->sigma);
    fi__free(&ctx->mem, ws->g);
    fi__free(&ctx->mem, ws->scratch);
    fi__free(&ctx->mem, ws->col_raw);
    fi__free(&ctx->mem, ws->gram);
    fi__free(&ctx->mem, ws->gram_work);
    fi__free(&ctx->mem, ws->many_raw);
}

static int ws_alloc(fi_context *ctx, const fi_problem *pb, const fi_layout *l, bool elements,
                    direct_ws *ws)
{
    const int64_t K = pb->k_eff, pmax = l->max_size, rmax = pmax < K ? pmax : K;
    memset(ws, 0, sizeof *ws);
    ws->scratch = fi__calloc(&ctx->mem, fi__fast_scratch_doubles(pmax, K) + (size_t)K,
                             sizeof(double));
    if (elements) return ws->scratch ? FI_OK : FI_ERR_NOMEM;
    int status = fi__svd_workspace(NULL, &ctx->mem, pmax, K, &ws->sw);
    ws->B = fi__calloc(&ctx->mem, (size_t)(pmax * (K + rmax)), sizeof(double));
    ws->W = fi__calloc(&ctx->mem, (size_t)(rmax * pmax), sizeof(double));
    ws->sigma = fi__calloc(&ctx->mem, (size_t)rmax, sizeof(double));
    ws->g = fi__calloc(&ctx->mem, (size_t)pmax, sizeof(double));
    const int64_t width = fi__column_width(K);
    const bool columns = K <= FI_GRAM_MAX_K && !l->indexed && l->affine.step == 1 &&
                         l->affine.stride > 1;
    if (columns) {
        ws->col_raw = fi__calloc(&ctx->mem, (size_t)(fi__column_entries(K) * width + 4),
                                 sizeof(double));
        ws->col_acc = (double *)(((uintptr_t)ws->col_raw + 31) & ~(uintptr_t)31);
    }
    /* the Gram path's sums and K x K arrays; the many-class kernels' chunk and tile sums */
    const bool wide_columns = wide_gram(ctx, pb, l) && l->affine.step == 1 && l->affine.stride > 1;
    const bool many = wide_gram(ctx, pb, l) || (l->indexed && K > 4 && K <= FI_GRAM_WIDE_K);
    if (K <= FI_GRAM_WIDE_K) {
        ws->gram = fi__calloc(&ctx->mem, wide_columns ? FI_MANY_COLUMNS : 1, sizeof(fi_gram));
        ws->gram_work = fi__calloc(&ctx->mem, fi__gram_work_doubles(K), sizeof(double));
    }
    if (many) {
        ws->many_raw = fi__calloc(&ctx->mem, fi__many_work_doubles(K, wide_columns) + 4,
                                  sizeof(double));
        ws->many_work = (double *)(((uintptr_t)ws->many_raw + 31) & ~(uintptr_t)31);
    }
    return status == FI_OK && ws->scratch && ws->B && ws->W && ws->sigma && ws->g &&
                   (!columns || ws->col_raw) &&
                   (K > FI_GRAM_WIDE_K || (ws->gram && ws->gram_work)) &&
                   (!many || ws->many_raw)
               ? FI_OK
               : FI_ERR_NOMEM;
}

static int direct(fi_context *ctx, const fi_problem *pb, const fi_layout *l, const void *target,
                  int64_t target_class, double *out, unsigned flags)
{
    if (!out) return fi__fail(ctx, FI_ERR_NULL, "out is NULL");
    int status = fi__check_flags(ctx, flags, FI_ACCUMULATE | FI_SINGLE_PASS);
    if (status != FI_OK) return status;
    status = fi__check_target_class(ctx, target, target_class, pb->k_eff);
    if (status != FI_OK) return status;
    /* Untouched out on non-finite input: elements are checked in a pass of their own (their
     * out is as large as the input); blocks verify their inputs as they are computed, into a
     * buffer of one double per block that reaches out only when every block succeeded. */
    const bool elements = !l->indexed && l->affine.size == 1;
    const bool buffered = !elements && !(flags & FI_SINGLE_PASS);
    if (elements && !(flags & FI_SINGLE_PASS)) {
        status = fi__check_inputs_finite(ctx, pb, l, target);
        if (status != FI_OK) return status;
    }
    const int workers = (int)(l->count < ctx->threads ? l->count : ctx->threads);
    direct_job job = {ctx, pb, l, target, target_class, out, flags, l->max_size, !elements, NULL};
    double *results = buffered ? fi__calloc(&ctx->mem, (size_t)l->count, sizeof(double)) : NULL;
    if (buffered) {
        job.out = results;
        job.flags &= ~FI_ACCUMULATE;
    }
    job.ws = fi__calloc(&ctx->mem, (size_t)workers, sizeof *job.ws);
    status = job.ws && (results || !buffered) ? FI_OK : FI_ERR_NOMEM;
    for (int t = 0; t < workers && status == FI_OK; t++)
        status = ws_alloc(ctx, pb, l, elements, &job.ws[t]);
    if (status == FI_OK)
        status = fi__parallel_for(ctx, l->count, ctx->threads,
                                  elements ? elements_range : blocks_range, &job);
    else
        fi__fail(ctx, FI_ERR_NOMEM, "out of memory for the workspaces of %d workers (blocks of "
                 "up to %lld coordinates, %lld classes) and %lld results", workers,
                 (long long)l->max_size, (long long)pb->k_eff, (long long)(buffered ? l->count : 0));
    for (int t = 0; job.ws && t < workers; t++) ws_free(ctx, &job.ws[t]);
    fi__free(&ctx->mem, job.ws);
    if (status == FI_OK && buffered)
        for (int64_t b = 0; b < l->count; b++)
            out[b] = (flags & FI_ACCUMULATE) ? out[b] + results[b] : results[b];
    fi__free(&ctx->mem, results);
    if (status == FI_OK) fi__ok(ctx);
    return status;
}

int fi_direct(fi_context *ctx, int64_t n_classes, const double *probs, fi_dtype dtype,
              const void *scores, int64_t n, int64_t ld, const fi_blocks *blocks,
              const void *target, int64_t target_class, double *out, unsigned flags)
{
    if (!ctx) return FI_ERR_NULL;
    fi_problem pb;
    fi_layout l;
    int status = fi__problem_setup(ctx, n_classes, probs, dtype, scores, n, ld, blocks, false, &pb, &l);
    if (status != FI_OK) return status;
    status = direct(ctx, &pb, &l, target, target_class, out, flags);
    fi__problem_release(&pb);
    return status;
}

int fi_direct_indexed(fi_context *ctx, int64_t n_classes, const double *probs, fi_dtype dtype,
                      const void *scores, int64_t n, int64_t ld, const fi_index_blocks *blocks,
                      const void *target, int64_t target_class, double *out, unsigned flags)
{
    if (!ctx) return FI_ERR_NULL;
    fi_problem pb;
    fi_layout l;
    int status = fi__problem_setup(ctx, n_classes, probs, dtype, scores, n, ld, blocks, true, &pb, &l);
    if (status != FI_OK) return status;
    status = direct(ctx, &pb, &l, target, target_class, out, flags);
    fi__problem_release(&pb);
    return status;
}
