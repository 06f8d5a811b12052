/* Fast per-block factorizations for metric building (src/solve/factor.c). */
#ifndef FI_SOLVE_FACTOR_H
#define FI_SOLVE_FACTOR_H

#include "core/block.h"

/* Scratch a fast kernel may use for one block of at most p_max coordinates and k classes. */
size_t fi__fast_scratch_doubles(int64_t p_max, int64_t k);
/* Factors block b with a closed form or a small Gram kernel when that kernel can decide the
 * block's rank and FI to the documented accuracy; returns false to ask for the SVD. Never
 * reports a non-finite input: that is found by fi__gather_block on the SVD path. */
bool fi__fast_factor(const fi_problem *pb, const fi_layout *l, int64_t b, double rcond,
                     double atol, double *scratch, int64_t *rank, double *sigma, double *W);

#endif
