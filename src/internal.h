/* Internal declarations shared by the library's translation units. Nothing here is ABI. */
#ifndef FI_INTERNAL_H
#define FI_INTERNAL_H

#include "fi.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define FI_ERRLEN 256
#define FI_DEFAULT_PROB_TOL 1e-5
#define FI_MAX_THREADS 1024

/* The allocator travels by value into every object made with a context, so that the object
 * can be freed after its context is gone. */
typedef struct fi_allocator {
    fi_alloc_fn alloc;
    fi_free_fn free;
    void *opaque;
} fi_allocator;

struct fi_context {
    double rcond;    /* < 0: default max(p,K)*eps */
    double atol;     /* >= 0 */
    double prob_tol; /* >= 0 */
    int class_mode;  /* fi_class_mode */
    int threads;     /* >= 1 */
    int method;      /* fi_method */
    int isa;         /* fi_isa */
    fi_allocator mem;
    char error[FI_ERRLEN];
};

void *fi__alloc(const fi_allocator *mem, size_t size);
void *fi__calloc(const fi_allocator *mem, size_t count, size_t size); /* NULL on overflow too */
void fi__free(const fi_allocator *mem, void *ptr);

/* Records a formatted message on ctx (if not NULL) and returns status. */
int fi__fail(fi_context *ctx, int status, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Clears the error text on success paths that want it cleared. */
void fi__ok(fi_context *ctx);

/* ---- element loads ---- */

double fi__half_to_double(uint16_t h);
static inline double fi__bf16_to_double(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return (double)f;
}

static inline double fi__load(fi_dtype dtype, const void *base, int64_t i)
{
    switch (dtype) {
    case FI_F64: return ((const double *)base)[i];
    case FI_F32: return (double)((const float *)base)[i];
    case FI_BF16: return fi__bf16_to_double(((const uint16_t *)base)[i]);
    default: return fi__half_to_double(((const uint16_t *)base)[i]);
    }
}

/* Bytes of one value of a valid dtype (fi_dtype_size without the call into the API layer). */
static inline int64_t fi__dtype_bytes(fi_dtype dtype)
{
    return dtype == FI_F64 ? 8 : dtype == FI_F32 ? 4 : 2;
}
bool fi__dtype_valid(int dtype);

/* ---- block layouts ---- */

typedef struct fi_layout {
    int64_t count;
    bool indexed;
    fi_blocks affine;       /* when !indexed */
    const int64_t *offsets; /* when indexed: count+1 entries */
    const int64_t *indices;
    int64_t max_size; /* largest p over all blocks */
} fi_layout;

static inline int64_t fi__block_size(const fi_layout *l, int64_t b)
{
    return l->indexed ? l->offsets[b + 1] - l->offsets[b] : l->affine.size;
}

static inline int64_t fi__block_coord(const fi_layout *l, int64_t b, int64_t j)
{
    return l->indexed ? l->indices[l->offsets[b] + j] : b * l->affine.step + j * l->affine.stride;
}

/* Validates an affine layout against n coordinates and fills *out. */
int fi__layout_affine(fi_context *ctx, const fi_blocks *blocks, int64_t n, fi_layout *out);
/* Validates an index-list layout against n coordinates and fills *out (no copy). */
int fi__layout_indexed(fi_context *ctx, const fi_index_blocks *blocks, int64_t n, fi_layout *out);

/* ---- one sample's classes after the class mode ---- */

typedef enum fi_adjust {
    FI_ADJUST_NONE = 0,     /* scores used as given */
    FI_ADJUST_CENTER = 1,   /* renormalize: s'_i = s_i - sum_j P'_j s_j */
    FI_ADJUST_REMAINDER = 2 /* extra class K: -(sum_i P_i s_i) / (1 - sum P) */
} fi_adjust;

typedef struct fi_problem {
    int64_t k_in;         /* classes given by the caller */
    int64_t k_eff;        /* classes used: k_in, or k_in + 1 with a remainder class */
    double *prob;         /* k_eff effective probabilities */
    double *sqrt_prob;    /* their square roots */
    const double *weight; /* k_in weights w_i of the adjustment (P'_i or P_i), see fi_adjust */
    double remainder_scale; /* -1/(1 - sum P) for FI_ADJUST_REMAINDER */
    bool sums_to_one;     /* effective probabilities form a distribution */
    int64_t top;          /* most probable caller class (centring reference) */
    fi_adjust adjust;
    fi_dtype dtype;
    const void *scores;
    int64_t n, ld;
    fi_allocator mem; /* owner of prob/sqrt_prob/weight */
} fi_problem;

/* Validates probabilities, dtype, dimensions and builds the effective problem. */
int fi__problem_init(fi_context *ctx, int64_t n_classes, const double *probs, fi_dtype dtype,
                     const void *scores, int64_t n, int64_t ld, fi_problem *pb);
void fi__problem_release(fi_problem *pb);
/* fi__problem_init followed by the validation of the block layout: blocks is a fi_blocks
 * (indexed false) or a fi_index_blocks (indexed true). On failure nothing is left to release. */
int fi__problem_setup(fi_context *ctx, int64_t n_classes, const double *probs, fi_dtype dtype,
                      const void *scores, int64_t n, int64_t ld, const void *blocks, bool indexed,
                      fi_problem *pb, fi_layout *l);

/* Effective scores of all k_eff classes at coordinate c into s[0..k_eff). */
void fi__problem_scores_at(const fi_problem *pb, int64_t c, double *s);

/* B of block b, column-major p x k_eff with leading dimension p: B[j + i*p] =
 * sqrt(P_i) s_i[coord j]. scratch holds k_eff doubles. Returns false if a value is not
 * finite. */
bool fi__gather_block(const fi_problem *pb, const fi_layout *l, int64_t b, double *B,
                      double *scratch);

/* Default relative rank tolerance of a p x K block. */
static inline double fi__rcond(const fi_context *ctx, int64_t p, int64_t k)
{
    if (ctx->rcond >= 0) return ctx->rcond;
    return (double)(p > k ? p : k) * DBL_EPSILON;
}

/* ---- per-block factorization: W = diag(1/sigma) V^T, r x p, row-major ---- */

/* Reference path: compact SVD of B (p x k, column-major, destroyed) through LAPACK.
 * Writes rank r, sigma[0..r), W[0..r*p). work is from fi__svd_workspace. */
typedef struct fi_svd_work {
    double *vecs;  /* p_max x min(p_max,k) left singular vectors */
    double *sigma; /* min(p_max,k) */
    double *work;
    int64_t lwork;
} fi_svd_work;

int fi__svd_workspace(fi_context *ctx, const fi_allocator *mem, int64_t p_max, int64_t k,
                      fi_svd_work *w);
void fi__svd_workspace_free(const fi_allocator *mem, fi_svd_work *w);
/* Returns FI_OK or FI_ERR_LAPACK (info in *info). */
int fi__svd_factor(double *B, int64_t p, int64_t k, double rcond, double atol, fi_svd_work *w,
                   int64_t *rank, double *sigma, double *W, int *info);

/* ---- threads ---- */

/* Runs fn(arg, first, last, worker, err) over [0,count) split into at most `threads`
 * contiguous ranges, in the caller's thread when threads == 1. fn returns a status and may
 * write a message into err (FI_ERRLEN bytes). The error of the lowest failing range wins,
 * so the reported error does not depend on scheduling. */
typedef int (*fi_range_fn)(void *arg, int64_t first, int64_t last, int worker, char *err);
int fi__parallel_for(fi_context *ctx, int64_t count, int threads, fi_range_fn fn, void *arg);

/* Checks flags against the allowed mask. */
static inline int fi__check_flags(fi_context *ctx, unsigned flags, unsigned allowed)
{
    if (flags & ~allowed)
        return fi__fail(ctx, FI_ERR_FLAG, "unknown flag bits 0x%x (allowed: 0x%x)",
                        flags & ~allowed, allowed);
    return FI_OK;
}

/* Reads n values of dtype and reports the first non-finite index (or -1). */
int64_t fi__first_nonfinite(fi_dtype dtype, const void *x, int64_t n);

#endif
