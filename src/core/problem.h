/* The problem one call describes, once validated: the block layout and one sample's classes
 * after the class mode (src/core/problem.c), and the default rank tolerance. */
#ifndef FI_CORE_PROBLEM_H
#define FI_CORE_PROBLEM_H

#include "core/dtype.h"

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

/* Releases what fi__problem_init allocated (safe on a zeroed problem). */
void fi__problem_release(fi_problem *pb);

/* Effective scores of all k_eff classes at coordinate c into s[0..k_eff). */
void fi__problem_scores_at(const fi_problem *pb, int64_t c, double *s);

/* B of block b, column-major p x k_eff with leading dimension p: B[j + i*p] =
 * sqrt(P_i) s_i[coord j]. scratch holds k_eff doubles. Returns false if a value is not
 * finite. */
bool fi__gather_block(const fi_problem *pb, const fi_layout *l, int64_t b, double *B,
                      double *scratch);

/* Unit roundoff of a dtype's storage: the relative error of rounding a real to it. */
static inline double fi__unit_roundoff(fi_dtype dtype)
{
    switch (dtype) {
    case FI_F64: return 0x1p-53;
    case FI_F32: return 0x1p-24;
    case FI_BF16: return 0x1p-8;
    default: return 0x1p-11; /* FI_F16 */
    }
}

/* Relative rank tolerance of a p x K block whose scores are stored in dtype: the caller's
 * FI_OPT_RCOND, else the rank rule's default from the unit roundoff u of dtype. Singular values
 * below the rounding of the input are noise (the softmax null direction of float32 autograd
 * scores comes back near 1e-7 sigma_max); a float64 tolerance would divide by them.
 * FI_RANK_ROUNDOFF: max(p, K) u (docs/math.md section 6). FI_RANK_NOISE: the input's rounding
 * moves B by |E|_2 <= |E|_F <= u |B|_F <= u sqrt(min(p,K)) sigma_max, so 2 sqrt(min(p,K)) u
 * bounds it with a factor 2 to spare, and max(p,K) 2^-53 covers the double SVD's own error. */
static inline double fi__rcond(const fi_context *ctx, fi_dtype dtype, int64_t p, int64_t k)
{
    if (ctx->rcond >= 0) return ctx->rcond;
    const double big = (double)(p > k ? p : k), small = (double)(p < k ? p : k);
    if (ctx->rank_rule == FI_RANK_NOISE)
        return fmax(big * 0x1p-53, 2 * sqrt(small) * fi__unit_roundoff(dtype));
    return big * fi__unit_roundoff(dtype);
}

#endif
