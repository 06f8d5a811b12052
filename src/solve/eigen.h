/* Small symmetric eigensolvers of the fast path: FI and factors of one block from its K x K
 * Gram or p x p metric; see src/solve/eigen.c for the accuracy argument. */
#ifndef FI_SOLVE_EIGEN_H
#define FI_SOLVE_EIGEN_H

#include "core/block.h"

/* Doubles of the work array the Gram functions below take (K <= FI_GRAM_WIDE_K): their K x K
 * matrices live there, not on the stack. */
size_t fi__gram_work_doubles(int64_t K);
/* FI of a block of p >= K coordinates from its Gram sums; returns 0 when only the SVD can
 * decide. narrow: the scores' dtype is float32 or narrower (lets an all-zero block be proven).
 * klass >= 0: the target is that class's score, and FI is its leverage in the block (the
 * projection of e_k / sqrt(P_k) on the kept space, the null direction removed; gm->t unused);
 * -1: the target's products gm->t. */
int fi__gram_fi(const fi_gram *gm, int64_t K, const double *sqrt_prob, double psum, double rcond,
                double atol, int64_t p, bool narrow, int64_t klass, double *fi, int64_t *rank,
                double *work);
/* Kept eigenpairs of a block's Gram (p >= K) in the class basis: lam[0..rank) and the columns
 * of U (K x K row-major, first rank columns). Returns 0 when only the SVD can decide. */
int fi__gram_factor(const fi_gram *gm, int64_t K, const double *sqrt_prob, double psum,
                    double rcond, double atol, int64_t p, bool narrow, double *lam, double *U,
                    int64_t *rank, double *work);
/* Kept eigenpairs of a p x p metric G (destroyed): lam[0..rank), columns of V (p x p). */
int fi__metric_factor(double *G, int64_t p, double rcond, double atol, double *lam, double *V,
                      int64_t *rank);
/* FI = g^T G^+ g of a block with p <= FI_GRAM_MAX_K from its p x p metric G (destroyed);
 * returns 0 when only the SVD can decide. */
int fi__metric_fi(double *G, const double *g, int64_t p, double rcond, double atol, double *fi,
                  int64_t *rank);

#endif
