/* The only users of LAPACK: the reference factorization of one block (src/linalg/svd.c).
 * Per-block factor W = diag(1/sigma) V^T, r x p, row-major. */
#ifndef FI_LINALG_SVD_H
#define FI_LINALG_SVD_H

#include "core/core.h"


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

#endif
