/* From the raw sums of the kernels of src/kernels/ to a block's fi_gram (src/solve/sums.c).
 * Compiled once, for the baseline instruction set, whichever kernels produced the sums. */
#ifndef FI_SOLVE_SUMS_H
#define FI_SOLVE_SUMS_H

#include "solve/gram.h"

/* Sums kept per column by the column kernels, and how many columns one pass streams. */
int64_t fi__column_entries(int64_t K);
int64_t fi__column_width(int64_t K);
/* Block b's fi_gram from the sums of a column kernel. */
void fi__column_gram(const fi_problem *pb, const double *acc, int64_t b, bool target, int64_t k,
                     fi_gram *gm);
/* fi_gram from the raw sums S_ic = sum_j s_i s_c (upper triangle, K x K row-major),
 * T_i = sum_j s_i g (read only with a gradient target) and the mean square. */
void fi__gram_from_sums(const fi_problem *pb, int64_t K, const double *S, const double *T,
                        bool target, int64_t k, double mean2, fi_gram *gm);

#endif
