/* FI of elements and small blocks from classes streamed one at a time (issue 13, part 4;
 * docs/aggregation.md, "Class streaming").
 *
 * FI_b = g^T G_b^+ g with G_b = sum_i P_i s_i[b] s_i[b]^T needs, per block, only running sums:
 *  - p = 1: d = sum_i P_i s_i^2, one double per element;
 *  - p > 1: the triangular factor R of the QR of B_b^T (K x p, row i = sqrt(P_i) s_i[b]),
 *    updated by Givens rotations as each class appends its row: R^T R = G_b and the singular
 *    values of R are those of B_b, so the rank decision and FI are as accurate as an SVD of
 *    B_b, in p(p+1)/2 doubles per block and without ever forming an ill-conditioned Gram;
 *  - remainder mode: m = sum_i P_i s_i as well; the remainder class's row sqrt(1 - sum P) *
 *    (-m / (1 - sum P)) is appended when the stream is finished;
 *  - renormalize mode: weighted Welford updates of the mean mu = sum P_i s_i / sum P and of the
 *    centred scatter (its sum of squares or its factor R), rows sqrt(w W / (W + w)) (s - mu)
 *    with W the weight before the class: no cancellation, and class-independent scores give
 *    exactly 0 as fi_direct's centring does;
 *  - blocks in strict and remainder mode also keep the centred factor (the Welford rows) and
 *    the largest score norm per block: fi_direct replaces B by B (I - q q^T), q the softmax
 *    null direction, when |B q| is below the cut-off for p >= K, and the centred scatter is
 *    exactly that product's Gram;
 *  - the class target's score as it streams by.
 * Memory is O(n) whatever K. Doubles per coordinate: elements 1 (+1 in remainder and
 * renormalize mode); blocks (p+1)/2 + 1 (+ (p+1)/2 + 1/p in strict and remainder mode); +1 with
 * a class target. */
#include "linalg/svd.h"
#include "solve/eigen.h"
#include "core/image.h"
#include "internal.h"

#define CS_MAX_P 8
#define CS_CHUNK 1024

struct fi_class_stream {
    fi_allocator mem;
    int64_t n;
    fi_blocks bl;
    int64_t p;            /* block size */
    int mode;             /* fi_class_mode fixed at creation */
    int64_t target_class; /* -1: none */
    int64_t classes;      /* fed so far */
    double psum;          /* sum of their probabilities (the Welford weight W) */
    fi_dtype coarsest;    /* the fed dtype of largest unit roundoff (rank tolerance) */
    double *r;            /* per block: d (p = 1) or packed upper R, row-major (renormalize:
                             of the centred scatter) */
    double *rc;           /* p > 1, strict and remainder: R of the centred scatter, for the
                             softmax null direction (see finish_block) */
    double *smax2;        /* p > 1, strict and remainder: max_i |s_i[b]|^2 per block */
    double *m;            /* per coordinate (b, j): p = 1: sum P s (remainder) or mu
                             (renormalize); p > 1: mu (every mode) */
    double *t;            /* per coordinate: the class target's score */
};

static inline int64_t packed_size(int64_t p) { return p == 1 ? 1 : p * (p + 1) / 2; }

/* Offset of R(i, j), j >= i, in a packed upper triangle of order p. */
static inline int64_t upper(int64_t p, int64_t i, int64_t j) { return i * p - i * (i - 1) / 2 + j - i; }

static inline int64_t coord(const fi_blocks *bl, int64_t b, int64_t j)
{
    return b * bl->step + j * bl->stride;
}

/* R <- the triangular factor of [R; x^T] (x destroyed): Givens rotations zero x from the
 * left. Squares overflow beyond |values| ~ 1e154 (documented range). */
static void givens_append(double *R, int64_t p, double *x)
{
    for (int64_t i = 0; i < p; i++) {
        const double b = x[i];
        if (b == 0) continue;
        double *row = R + upper(p, i, i);
        const double a = row[0], r = sqrt(a * a + b * b), c = a / r, s = b / r;
        row[0] = r;
        for (int64_t j = i + 1; j < p; j++) {
            const double rj = row[j - i], xj = x[j];
            row[j - i] = c * rj + s * xj;
            x[j] = c * xj - s * rj;
        }
    }
}

int fi_class_stream_create(fi_context *ctx, int64_t n, const fi_blocks *blocks,
                           int64_t target_class, fi_class_stream **cs)
{
    if (!ctx) return FI_ERR_NULL;
    if (!cs) return fi__fail(ctx, FI_ERR_NULL, "cs (output pointer) is NULL");
    if (n < 1) return fi__fail(ctx, FI_ERR_DIMENSION, "n must be >= 1 (got %lld)", (long long)n);
    fi_layout l;
    int status = fi__layout_affine(ctx, blocks, n, &l);
    if (status != FI_OK) return status;
    const int64_t p = l.affine.size, count = l.count;
    if (p > CS_MAX_P)
        return fi__fail(ctx, FI_ERR_DIMENSION, "class streaming takes blocks of at most %d "
                        "coordinates (got size %lld): use fi_direct", CS_MAX_P, (long long)p);
    if (target_class < -1)
        return fi__fail(ctx, FI_ERR_CLASS, "target_class %lld: a class index >= 0, or -1 for "
                        "none", (long long)target_class);
    const bool with_m = ctx->class_mode != FI_CLASS_STRICT || p > 1;
    const bool with_rc = p > 1 && ctx->class_mode != FI_CLASS_RENORMALIZE;
    if ((uint64_t)count > SIZE_MAX / sizeof(double) / (uint64_t)(2 * packed_size(p) + 2 * p + 1))
        return fi__fail(ctx, FI_ERR_DIMENSION, "a class stream of %lld blocks of %lld overflows "
                        "size_t", (long long)count, (long long)p);
    fi_class_stream *s = fi__calloc(&ctx->mem, 1, sizeof *s);
    if (s) {
        s->r = fi__calloc(&ctx->mem, (size_t)(count * packed_size(p)), sizeof(double));
        s->m = with_m ? fi__calloc(&ctx->mem, (size_t)(count * p), sizeof(double)) : NULL;
        s->t = target_class >= 0 ? fi__calloc(&ctx->mem, (size_t)(count * p), sizeof(double))
                                 : NULL;
        if (with_rc) {
            s->rc = fi__calloc(&ctx->mem, (size_t)(count * packed_size(p)), sizeof(double));
            s->smax2 = fi__calloc(&ctx->mem, (size_t)count, sizeof(double));
        }
    }
    if (!s || !s->r || (with_m && !s->m) || (target_class >= 0 && !s->t) ||
        (with_rc && (!s->rc || !s->smax2))) {
        if (s) {
            s->mem = ctx->mem;
            fi_class_stream_free(s);
        }
        return fi__fail(ctx, FI_ERR_NOMEM, "out of memory for a class stream of %lld blocks of "
                        "%lld", (long long)count, (long long)p);
    }
    s->mem = ctx->mem;
    s->n = n;
    s->bl = l.affine;
    s->p = p;
    s->mode = ctx->class_mode;
    s->target_class = target_class;
    s->coarsest = FI_F64;
    *cs = s;
    fi__ok(ctx);
    return FI_OK;
}

void fi_class_stream_free(fi_class_stream *cs)
{
    if (!cs) return;
    const fi_allocator mem = cs->mem;
    fi__free(&mem, cs->r);
    fi__free(&mem, cs->rc);
    fi__free(&mem, cs->smax2);
    fi__free(&mem, cs->m);
    fi__free(&mem, cs->t);
    fi__free(&mem, cs);
}

/* x[0..len) = scores of blocks b0.. at coordinate j (p = 1: coordinate b*step), as doubles. */
static void load_elements(fi_dtype dt, const void *src, const fi_blocks *bl, int64_t b0,
                          int64_t len, double *x)
{
    const int64_t step = bl->step;
    if (dt == FI_F64 && step == 1) {
        memcpy(x, (const double *)src + b0, (size_t)len * sizeof(double));
    } else if (dt == FI_F32 && step == 1) {
        const float *f = (const float *)src + b0;
        for (int64_t j = 0; j < len; j++) x[j] = f[j];
    } else {
        for (int64_t j = 0; j < len; j++) x[j] = fi__load(dt, src, (b0 + j) * step);
    }
}

/* p = 1: one pass over the elements with the class's weight w. */
static void add_elements(fi_class_stream *cs, double w, double W, fi_dtype dt, const void *sc)
{
    const int64_t count = cs->bl.count;
    double x[CS_CHUNK];
    for (int64_t b0 = 0; b0 < count; b0 += CS_CHUNK) {
        const int64_t len = count - b0 < CS_CHUNK ? count - b0 : CS_CHUNK;
        load_elements(dt, sc, &cs->bl, b0, len, x);
        double *restrict d = cs->r + b0;
        if (cs->t && cs->classes == cs->target_class)
            memcpy(cs->t + b0, x, (size_t)len * sizeof(double));
        if (cs->mode == FI_CLASS_RENORMALIZE) {
            if (!(w > 0)) continue;
            const double Wn = W + w, a = w / Wn, c = w * (W / Wn);
            double *restrict mu = cs->m + b0;
            for (int64_t j = 0; j < len; j++) {
                const double delta = x[j] - mu[j];
                mu[j] += a * delta;
                d[j] += c * delta * delta;
            }
            continue;
        }
        for (int64_t j = 0; j < len; j++) d[j] += w * x[j] * x[j];
        if (cs->m) {
            double *restrict m = cs->m + b0;
            for (int64_t j = 0; j < len; j++) m[j] += w * x[j];
        }
    }
}

/* p > 1: block by block, the class's row appended to R; in strict and remainder mode also its
 * centred row (weighted Welford) to the centred factor, and the score norm to the block's max. */
static void add_blocks(fi_class_stream *cs, double w, double W, fi_dtype dt, const void *sc)
{
    const int64_t p = cs->p, ps = packed_size(p), count = cs->bl.count;
    const bool keep = cs->t && cs->classes == cs->target_class;
    const bool renorm = cs->mode == FI_CLASS_RENORMALIZE;
    const double Wn = W + w, a = w > 0 ? w / Wn : 0;
    const double scale_c = sqrt(w > 0 ? w * (W / Wn) : 0), scale = sqrt(w);
    for (int64_t b = 0; b < count; b++) {
        double x[CS_MAX_P], xc[CS_MAX_P], norm2 = 0;
        for (int64_t j = 0; j < p; j++) {
            const double s = fi__load(dt, sc, coord(&cs->bl, b, j));
            if (keep) cs->t[b * p + j] = s;
            double *mu = cs->m + b * p + j;
            const double delta = s - *mu;
            *mu += a * delta;
            xc[j] = scale_c * delta;
            x[j] = scale * s;
            norm2 += s * s;
        }
        if (renorm) {
            if (scale_c > 0) givens_append(cs->r + b * ps, p, xc);
            continue;
        }
        cs->smax2[b] = fmax(cs->smax2[b], norm2);
        if (scale > 0) givens_append(cs->r + b * ps, p, x);
        if (scale_c > 0) givens_append(cs->rc + b * ps, p, xc);
    }
}

int fi_class_stream_add(fi_context *ctx, fi_class_stream *cs, double prob, fi_dtype dtype,
                        const void *scores)
{
    if (!ctx) return FI_ERR_NULL;
    if (!cs) return fi__fail(ctx, FI_ERR_NULL, "cs is NULL");
    if (!scores) return fi__fail(ctx, FI_ERR_NULL, "scores is NULL");
    if (!fi__dtype_valid(dtype))
        return fi__fail(ctx, FI_ERR_DTYPE, "unknown dtype %d (FI_F64=0, FI_F32=1, FI_BF16=2, "
                                           "FI_F16=3)", (int)dtype);
    if (!isfinite(prob) || prob < 0)
        return fi__fail(ctx, FI_ERR_PROBABILITY, "probability of class %lld is %g: must be "
                        "finite and >= 0", (long long)cs->classes, prob);
    if (!isfinite(cs->psum + prob))
        return fi__fail(ctx, FI_ERR_PROBABILITY, "the probabilities' sum overflows");
    if (cs->classes == INT64_MAX)
        return fi__fail(ctx, FI_ERR_DIMENSION, "the stream holds the maximum number of classes");
    /* Checked before anything is updated, so the stream is unchanged on failure. */
    const int64_t c = fi__first_nonfinite(dtype, scores, cs->n);
    if (c >= 0)
        return fi__fail(ctx, FI_ERR_NONFINITE, "score of class %lld at coordinate %lld is not "
                        "finite", (long long)cs->classes, (long long)c);
    if (cs->p == 1)
        add_elements(cs, prob, cs->psum, dtype, scores);
    else
        add_blocks(cs, prob, cs->psum, dtype, scores);
    if (fi__unit_roundoff(dtype) > fi__unit_roundoff(cs->coarsest)) cs->coarsest = dtype;
    cs->psum += prob;
    cs->classes++;
    fi__ok(ctx);
    return FI_OK;
}

/* The effective classes at finish: checks the probabilities as fi_direct does and says
 * whether a remainder class exists. */
static int finish_classes(fi_context *ctx, const fi_class_stream *cs, bool *remainder)
{
    *remainder = false;
    if (cs->classes < 2)
        return fi__fail(ctx, FI_ERR_DIMENSION, "%lld classes fed: FI needs >= 2",
                        (long long)cs->classes);
    const double sum = cs->psum, off = fabs(sum - 1.0);
    if (!(sum > 0)) return fi__fail(ctx, FI_ERR_PROBABILITY, "probabilities sum to 0");
    if (cs->mode == FI_CLASS_STRICT && off > ctx->prob_tol)
        return fi__fail(ctx, FI_ERR_PROBABILITY,
                        "probabilities sum to %.17g, off 1 by %.3g > FI_OPT_PROB_TOL %.3g "
                        "(strict mode; the class mode was fixed when the stream was created)",
                        sum, off, ctx->prob_tol);
    if (cs->mode == FI_CLASS_REMAINDER && sum > 1.0 + ctx->prob_tol)
        return fi__fail(ctx, FI_ERR_PROBABILITY,
                        "remainder-class mode needs sum P <= 1; probabilities sum to %.17g", sum);
    *remainder = cs->mode == FI_CLASS_REMAINDER && 1.0 - sum > ctx->prob_tol;
    return FI_OK;
}

/* The target at coordinate (b, j): given, the kept class score (adjusted by the class mode),
 * or the remainder class's score. */
typedef struct finish_job {
    const fi_class_stream *cs;
    fi_dtype dtype;
    const void *target;
    bool remainder;       /* a remainder class exists */
    bool remainder_target; /* the class target is the remainder class */
    double rem;           /* 1 - sum P */
    double inv_w;         /* renormalize: 1 / sum P */
    double rcond, atol;
} finish_job;

static inline double target_at(const finish_job *f, int64_t b, int64_t j)
{
    const fi_class_stream *cs = f->cs;
    const int64_t i = b * cs->p + j;
    if (f->target) return fi__load(f->dtype, f->target, coord(&cs->bl, b, j));
    if (f->remainder_target) /* m = sum P s: mu * sum P for blocks */
        return -(cs->p > 1 ? cs->m[i] * cs->psum : cs->m[i]) / f->rem;
    if (cs->mode == FI_CLASS_RENORMALIZE) return cs->t[i] - cs->m[i];
    return cs->t[i];
}

/* p = 1: FI = g^2 / d, 0 where the single singular value sqrt(d) is cut (fi_direct's rule). */
static void finish_elements(const finish_job *f, double *out, bool accumulate)
{
    const fi_class_stream *cs = f->cs;
    for (int64_t b = 0; b < cs->bl.count; b++) {
        double d = cs->r[b];
        if (cs->mode == FI_CLASS_RENORMALIZE) d *= f->inv_w;
        if (f->remainder) d += cs->m[b] * cs->m[b] / f->rem;
        const double g = target_at(f, b, 0);
        double fi = 0;
        if (f->rcond < 1 && d > 0 && sqrt(d) > f->atol && g != 0) fi = g * g / d;
        out[b] = accumulate ? out[b] + fi : fi;
    }
}

/* p > 1, block b: the factor R (with the remainder row, scaled by the class mode), then FI
 * from G = R^T R by the small kernels where they can decide, else from the SVD of R^T, whose
 * singular values are those of B_b. */
static int finish_block(const finish_job *f, int64_t b, fi_svd_work *sw, double *fi_out,
                        fi_context *ctx)
{
    const fi_class_stream *cs = f->cs;
    const int64_t p = cs->p, ps = packed_size(p);
    double R[CS_MAX_P * (CS_MAX_P + 1) / 2], x[CS_MAX_P], g[CS_MAX_P];
    const double *src = cs->r + b * ps;
    if (cs->mode != FI_CLASS_RENORMALIZE && !f->remainder && cs->classes <= p) {
        /* fi_direct's softmax null direction (src/internal.h, fi__deflate_null): for p >= K,
         * when |B q| = |sum_i P_i s_i| / sqrt(sum P) <= max(atol, rcond max_i |s_i[b]|), B is
         * replaced by B (I - q q^T), whose rows sqrt(P_i) (s_i - mu) are the centred scatter's:
         * its factor was kept alongside. (With a remainder class B q = 0 exactly, and
         * renormalized scores are centred already.) */
        double m2 = 0;
        for (int64_t j = 0; j < p; j++) m2 += cs->m[b * p + j] * cs->m[b * p + j];
        const double bq = sqrt(m2 * cs->psum); /* |mu| sqrt(sum P) */
        if (bq <= fmax(f->atol, f->rcond * sqrt(cs->smax2[b]))) src = cs->rc + b * ps;
    }
    const bool deflated = src != cs->r + b * ps;
    memcpy(R, src, (size_t)ps * sizeof(double));
    if (cs->mode == FI_CLASS_RENORMALIZE) {
        const double s = sqrt(f->inv_w);
        for (int64_t i = 0; i < ps; i++) R[i] *= s;
    }
    if (f->remainder) {
        const double s = cs->psum / sqrt(f->rem); /* the remainder row m / sqrt(1 - sum P) */
        for (int64_t j = 0; j < p; j++) x[j] = s * cs->m[b * p + j];
        givens_append(R, p, x);
    }
    for (int64_t j = 0; j < p; j++) g[j] = target_at(f, b, j);
    if (deflated && !f->target) /* the class target as fi_direct's: its leverage, s_k - mu */
        for (int64_t j = 0; j < p; j++) g[j] -= cs->m[b * p + j];
    double G[CS_MAX_P * CS_MAX_P];
    for (int64_t a = 0; a < p; a++)
        for (int64_t c = a; c < p; c++) {
            double v = 0;
            for (int64_t i = 0; i <= a; i++) v += R[upper(p, i, a)] * R[upper(p, i, c)];
            G[a * p + c] = G[c * p + a] = v;
        }
    double fi;
    int64_t rank;
    if (ctx->method == FI_METHOD_AUTO && fi__metric_fi(G, g, p, f->rcond, f->atol, &fi, &rank) &&
        isfinite(fi)) {
        *fi_out = fi;
        return FI_OK;
    }
    double B[CS_MAX_P * CS_MAX_P], W[CS_MAX_P * CS_MAX_P], sigma[CS_MAX_P];
    for (int64_t j = 0; j < p; j++) /* B = R^T, column-major p x p: B[j + i*p] = R(i, j) */
        for (int64_t i = 0; i < p; i++) B[j + i * p] = i <= j ? R[upper(p, i, j)] : 0;
    int info = 0;
    int64_t r = 0;
    if (fi__svd_factor(B, p, p, f->rcond, f->atol, p, sw, &r, sigma, W, &info) != FI_OK)
        return fi__fail(ctx, FI_ERR_LAPACK, "LAPACK dgesvd failed on block %lld, info %d",
                        (long long)b, info);
    fi = 0;
    for (int64_t q = 0; q < r; q++) {
        double v = 0;
        for (int64_t j = 0; j < p; j++) v += W[q * p + j] * g[j];
        fi += v * v;
    }
    if (!isfinite(fi))
        return fi__fail(ctx, FI_ERR_NONFINITE, "FI of block %lld overflows a double (scores or "
                        "target beyond the documented range)", (long long)b);
    *fi_out = fi;
    return FI_OK;
}

int fi_class_stream_finish(fi_context *ctx, const fi_class_stream *cs, fi_dtype dtype,
                           const void *target, double *out, unsigned flags)
{
    if (!ctx) return FI_ERR_NULL;
    if (!cs) return fi__fail(ctx, FI_ERR_NULL, "cs is NULL");
    if (!out) return fi__fail(ctx, FI_ERR_NULL, "out is NULL");
    int status = fi__check_flags(ctx, flags, FI_ACCUMULATE);
    if (status != FI_OK) return status;
    bool remainder;
    status = finish_classes(ctx, cs, &remainder);
    if (status != FI_OK) return status;
    const int64_t k_eff = cs->classes + remainder;
    finish_job f = {cs, dtype, target, remainder, false, 1.0 - cs->psum, 1.0 / cs->psum, 0, 0};
    if (target) {
        if (!fi__dtype_valid(dtype))
            return fi__fail(ctx, FI_ERR_DTYPE, "unknown target dtype %d (FI_F64=0, FI_F32=1, "
                                               "FI_BF16=2, FI_F16=3)", (int)dtype);
        const int64_t c = fi__first_nonfinite(dtype, target, cs->n);
        if (c >= 0)
            return fi__fail(ctx, FI_ERR_NONFINITE, "target[%lld] is not finite", (long long)c);
    } else if (cs->target_class < 0) {
        return fi__fail(ctx, FI_ERR_CLASS, "target is NULL and the stream keeps no class "
                                           "target (created with target_class -1)");
    } else if (cs->target_class >= k_eff) {
        return fi__fail(ctx, FI_ERR_CLASS, "target_class %lld outside [0, %lld): %lld classes "
                        "fed%s", (long long)cs->target_class, (long long)k_eff,
                        (long long)cs->classes, remainder ? " plus the remainder class" : "");
    } else {
        f.remainder_target = cs->target_class == cs->classes;
    }
    f.rcond = fi__rcond(ctx, cs->coarsest, cs->p, k_eff);
    f.atol = ctx->atol;
    const bool accumulate = flags & FI_ACCUMULATE;
    if (cs->p == 1) {
        finish_elements(&f, out, accumulate);
        fi__ok(ctx);
        return FI_OK;
    }
    /* Blocks go through a buffer: a LAPACK failure leaves out untouched. */
    const int64_t count = cs->bl.count;
    fi_svd_work sw;
    double *buf = fi__calloc(&ctx->mem, (size_t)count, sizeof(double));
    status = fi__svd_workspace(NULL, &ctx->mem, cs->p, cs->p, &sw);
    if (!buf || status != FI_OK) {
        fi__free(&ctx->mem, buf);
        if (status == FI_OK) fi__svd_workspace_free(&ctx->mem, &sw);
        return fi__fail(ctx, FI_ERR_NOMEM, "out of memory for the FI of %lld blocks",
                        (long long)count);
    }
    for (int64_t b = 0; b < count && status == FI_OK; b++)
        status = finish_block(&f, b, &sw, &buf[b], ctx);
    if (status == FI_OK)
        for (int64_t b = 0; b < count; b++) out[b] = accumulate ? out[b] + buf[b] : buf[b];
    fi__svd_workspace_free(&ctx->mem, &sw);
    fi__free(&ctx->mem, buf);
    if (status == FI_OK) fi__ok(ctx);
    return status;
}

int fi_class_stream_info(const fi_class_stream *cs, int64_t *classes, double *prob_sum,
                         size_t *bytes)
{
    if (!cs) return FI_ERR_NULL;
    if (classes) *classes = cs->classes;
    if (prob_sum) *prob_sum = cs->psum;
    if (bytes) {
        const size_t count = (size_t)cs->bl.count, p = (size_t)cs->p;
        *bytes = sizeof *cs + count * (size_t)packed_size(cs->p) * sizeof(double) +
                 (cs->m ? count * p * sizeof(double) : 0) + (cs->t ? count * p * sizeof(double) : 0) +
                 (cs->rc ? count * ((size_t)packed_size(cs->p) + 1) * sizeof(double) : 0);
    }
    return FI_OK;
}
