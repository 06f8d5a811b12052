/* The one instruction-set dispatch (src/solve/dispatch.c): which build of src/kernels/ runs. */
#ifndef FI_SOLVE_DISPATCH_H
#define FI_SOLVE_DISPATCH_H

#include "kernels/kernels.h"

/* The kernels a context asks for (FI_OPT_ISA) and this CPU runs (src/solve/dispatch.c). */
const fi_kernels *fi__kernels(const fi_context *ctx);
/* Whether this build and CPU run the kernels of isa (an fi_isa value). */
bool fi__isa_available(int isa);

/* Gram sums of one block of p contiguous coordinates from c0, by the family that fits K. */
static inline void fi__row_sums(const fi_kernels *kern, const fi_problem *pb, int64_t c0,
                                int64_t p, const void *target, int64_t k, fi_gram *gm)
{
    (pb->k_eff <= 4 ? kern->rows : kern->rows_wide)(pb, c0, p, target, k, gm);
}

#endif
