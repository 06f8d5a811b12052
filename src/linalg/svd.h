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
/* The softmax null direction. Scores of K classes that are a softmax over them satisfy
 * sum_i P_i s_i = 0, so B q = 0 for q = sqrt(P)/|sqrt(P)|. Computed scores (float32 autograd,
 * 16-bit storage) leave B q at the rounding of the largest UNWEIGHTED score: far above
 * rcond * sigma_max when the prediction is confident (the weights sqrt(P_i) shrink sigma_max, not
 * the rounding), and FI would divide by it, up to 1/P_k instead of the ceiling (1-P_k)/P_k.
 * When |B q| <= max(atol, rcond * max_i |s_i[b]|) the direction is noise: B <- B (I - q q^T)
 * and true is returned (the rank is then at most k - 1). Blocks with p < k are left alone
 * (their rank cannot reach k). The Gram kernels apply the same rule (src/solve/eigen.c). */
bool fi__deflate_null(double *B, int64_t p, int64_t k, const double *sqrt_prob, double rcond,
                      double atol);
/* Returns FI_OK or FI_ERR_LAPACK (info in *info). At most max_rank directions are kept. */
int fi__svd_factor(double *B, int64_t p, int64_t k, double rcond, double atol, int64_t max_rank,
                   fi_svd_work *w, int64_t *rank, double *sigma, double *W, int *info);

#endif
