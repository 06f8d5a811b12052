/* The scalar streaming loop of p = 1 blocks (elements) in strided layouts
 * (src/solve/strided.c); contiguous elements take src/kernels/elements.c. */
#ifndef FI_SOLVE_STRIDED_H
#define FI_SOLVE_STRIDED_H

#include "core/block.h"

/* True when the streaming kernels handle this problem: affine layout, strict scores as given,
 * K <= FI_GRAM_MAX_K (any dtype). */
bool fi__stream_supported(const fi_problem *pb, const fi_layout *l);
/* p = 1 blocks [first, last) of any affine layout: out[b] (+)= g^2 / sum_i P_i s_i^2 (0 where
 * rank 0), g read at gbase (the target, or the target class's row of scores). */
void fi__stream_elements(const fi_problem *pb, const fi_layout *l, const void *gbase,
                         double rcond, double atol, int64_t first, int64_t last, double *out,
                         bool accumulate);

#endif
