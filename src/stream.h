/* Streaming kernels of fi_direct (src/stream.c). */
#ifndef FI_STREAM_H
#define FI_STREAM_H

#include "gram.h"

/* True when the streaming kernels handle this problem: affine layout, strict scores as given,
 * K <= FI_GRAM_MAX_K (any dtype). */
bool fi__stream_supported(const fi_problem *pb, const fi_layout *l);
/* p = 1 blocks [first, last): out[b] (+)= g^2 / sum_i P_i s_i^2 (0 where rank 0). */
void fi__stream_elements(const fi_problem *pb, const fi_layout *l, const void *target, int64_t k,
                         double rcond, double atol, int64_t first, int64_t last, double *out,
                         bool accumulate);

#endif
