/* The SVD of one tall block without LAPACK (src/linalg/small_svd.c), for k <= FI_GRAM_MAX_K. */
#ifndef FI_LINALG_SMALL_SVD_H
#define FI_LINALG_SMALL_SVD_H

#include "core/block.h"

/* FI = |Sigma^-1 U^T g|^2 over the kept singular values of B (p x k column-major, p >= k,
 * destroyed; the null direction already removed by fi__deflate_null when it applies); g (p)
 * is destroyed too. Keeps sigma_j > max(atol, rcond sigma_max), at most max_rank of them.
 * Returns 0, deciding nothing, when a singular value lies near the cut-off or a kept one below
 * sigma_max / max_cond, on non-finite input or when k > FI_GRAM_MAX_K: the reference path
 * decides those. */
int fi__small_svd_fi(double *B, int64_t p, int64_t k, double *g, double rcond, double atol,
                     int64_t max_rank, double max_cond, double *fi, int64_t *rank);
/* The largest sigma_max / sigma_kept the two calls accept for a p x k block: 1e3 for float64
 * scores, more for narrow ones (narrow: float32 or narrower), within their certified 2^-17. */
double fi__small_svd_max_cond(int64_t p, int64_t k, bool narrow);

/* The same decomposition as a metric's factor: rank r, sigma[0..r) descending and
 * W = diag(1/sigma) U^T (r x p, row-major), U formed from the reflectors. B is destroyed.
 * Returns 0 where fi__small_svd_fi would. */
int fi__small_svd_factor(double *B, int64_t p, int64_t k, double rcond, double atol,
                         int64_t max_rank, double max_cond, double *sigma, double *W,
                         int64_t *rank);

#endif
