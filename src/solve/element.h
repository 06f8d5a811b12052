/* FI of p = 1 blocks (elements): the closed form of SPEC fact 1 for one coordinate, and the
 * scalar streaming loop of strided element layouts (src/solve/element.c). The vectorized loop
 * of contiguous elements is src/kernels/elements.c, which redoes with fi__element_fi every
 * lane it cannot decide. */
#ifndef FI_SOLVE_ELEMENT_H
#define FI_SOLVE_ELEMENT_H

#include "solve/gram.h"

/* FI of a single coordinate from its k effective scores s and target g, computed on values
 * divided by their largest magnitude so that no square overflows or underflows (fact 1). */
static inline double fi__element_fi(const double *prob, const double *s, int64_t k, double g,
                                    double rcond, double atol)
{
    double mx = fabs(g);
    for (int64_t i = 0; i < k; i++) mx = fmax(mx, fabs(s[i]));
    if (!(mx > 0) || rcond >= 1) return 0.0;
    double d = 0;
    for (int64_t i = 0; i < k; i++) d += prob[i] * (s[i] / mx) * (s[i] / mx);
    if (!(d > 0) || !(sqrt(d) * mx > atol)) return 0.0;
    return ((g / mx) * (g / mx)) / d;
}

/* True when the streaming kernels handle this problem: affine layout, strict scores as given,
 * K <= FI_GRAM_MAX_K (any dtype). */
bool fi__stream_supported(const fi_problem *pb, const fi_layout *l);
/* p = 1 blocks [first, last) of any affine layout: out[b] (+)= g^2 / sum_i P_i s_i^2 (0 where
 * rank 0), g read at gbase (the target, or the target class's row of scores). */
void fi__stream_elements(const fi_problem *pb, const fi_layout *l, const void *gbase,
                         double rcond, double atol, int64_t first, int64_t last, double *out,
                         bool accumulate);

#endif
