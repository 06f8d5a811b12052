/* The validation layer (src/core/validate.c): every check of a caller's arguments that more
 * than one entry point makes, each failing with a distinct status and a specific message on
 * the context, before anything is computed or written. */
#ifndef FI_CORE_VALIDATE_H
#define FI_CORE_VALIDATE_H

#include "core/problem.h"

/* Validates an affine layout against n coordinates and fills *out. */
int fi__layout_affine(fi_context *ctx, const fi_blocks *blocks, int64_t n, fi_layout *out);
/* Validates an index-list layout against n coordinates and fills *out (no copy). */
int fi__layout_indexed(fi_context *ctx, const fi_index_blocks *blocks, int64_t n, fi_layout *out);

/* Validates probabilities, dtype, dimensions and builds the effective problem. */
int fi__problem_init(fi_context *ctx, int64_t n_classes, const double *probs, fi_dtype dtype,
                     const void *scores, int64_t n, int64_t ld, fi_problem *pb);
/* fi__problem_init followed by the validation of the block layout: blocks is a fi_blocks
 * (indexed false) or a fi_index_blocks (indexed true). On failure nothing is left to release. */
int fi__problem_setup(fi_context *ctx, int64_t n_classes, const double *probs, fi_dtype dtype,
                      const void *scores, int64_t n, int64_t ld, const void *blocks, bool indexed,
                      fi_problem *pb, fi_layout *l);

/* Checks flags against the allowed mask. */
static inline int fi__check_flags(fi_context *ctx, unsigned flags, unsigned allowed)
{
    if (flags & ~allowed)
        return fi__fail(ctx, FI_ERR_FLAG, "unknown flag bits 0x%x (allowed: 0x%x)",
                        flags & ~allowed, allowed);
    return FI_OK;
}

/* Target of FI: the caller's target, or (target NULL) a class in [0, k_eff). */
int fi__check_target_class(fi_context *ctx, const void *target, int64_t target_class,
                           int64_t k_eff);
/* FI_OK, or FI_ERR_NONFINITE with the first non-finite score or target of block b named in
 * err (FI_ERRLEN bytes; for workers, which report through fi__parallel_for). */
int fi__check_block_finite(const fi_problem *pb, const fi_layout *l, int64_t b,
                           const void *target, char *err);
/* Every score and target value the blocks of l read is finite (FI_ERR_NONFINITE naming the
 * first one otherwise): dense layouts as contiguous rows, others block by block. */
int fi__check_inputs_finite(fi_context *ctx, const fi_problem *pb, const fi_layout *l,
                            const void *target);

#endif
