/* An independent, slow reference for FI and seeded generators of score sets, for the
 * core's test suites (tests/check_core.c, check_errors.c, check_options.c).
 *
 * The reference takes the route the library does not: it forms the p x p metric
 * G_b = sum_i P_i s_i[b] s_i[b]^T explicitly and pseudo-inverts it through LAPACK's symmetric
 * eigensolver (dsyev), where the library takes the SVD of B_b (dgesvd) or its own kernels.
 * The rank rule is the library's, translated to eigenvalues lambda = sigma^2:
 *     sigma_j > max(atol, rcond * sigma_max)  <=>  lambda_j > max(atol^2, rcond^2 * lambda_max),
 * plus a floor below which a formed G cannot resolve an eigenvalue at all (REF_EIG_FLOOR).
 * Forming G squares the condition number: use the reference only where the singular values
 * the test cares about are well above sqrt(REF_EIG_FLOOR) * sigma_max (about 1e-6); the
 * known-spectrum generator below gives exact answers for ill-conditioned blocks instead.
 *
 * Layouts: scores are K rows of n doubles, row i at S + i*ld, as in the library. A block is
 * given by the list of its p coordinates (idx). Matrices are column-major. */
#ifndef FI_TEST_REFERENCE_H
#define FI_TEST_REFERENCE_H

#include <stdint.h>

#include "fi.h"

/* Relative eigenvalue floor of the reference: lambda_j <= REF_EIG_FLOOR * max(p,K) *
 * lambda_max is indistinguishable from 0 in a formed G. */
#define REF_EIG_FLOOR 1e-13

/* ---- seeded random numbers (splitmix64: identical on every platform) ---- */

typedef struct ref_rng {
    uint64_t state;
} ref_rng;

void ref_seed(ref_rng *r, uint64_t seed);
uint64_t ref_next(ref_rng *r);
double ref_uniform(ref_rng *r);                      /* [0, 1) */
double ref_normal(ref_rng *r);                       /* standard normal */
int64_t ref_int(ref_rng *r, int64_t lo, int64_t hi); /* uniform in [lo, hi] */

/* ---- probabilities and score sets ---- */

/* P = softmax of K logits spread * N(0,1): a distribution summing to 1 (to rounding). */
void ref_softmax(ref_rng *r, int64_t K, double spread, double *P);
/* K rows of n standard-normal scores; the padding S[i*ld + n .. i*ld + ld) is set to NaN so
 * that a call reading it fails loudly. */
void ref_scores(ref_rng *r, int64_t K, int64_t n, int64_t ld, double *S);
/* ref_scores, made softmax-consistent (ref_center) when zero_mean. */
void ref_scores_p(ref_rng *r, int64_t K, int64_t n, int64_t ld, const double *P, int zero_mean,
                  double *S);
/* Makes the scores softmax-consistent: s_i -= sum_j P_j s_j at every coordinate. */
void ref_center(int64_t K, const double *P, int64_t n, int64_t ld, double *S);
/* Exactly rank-r scores on the coordinates idx[0..p): small integers s_i = sum_q c_iq a_q
 * with integer basis vectors a_q and coefficients (every value exact in binary), so that
 * B_b has rank exactly r (for r <= min(p, K)); r = 0 writes zeros. */
void ref_lowrank_block(ref_rng *r, int64_t K, double *S, int64_t ld, const int64_t *idx,
                       int64_t p, int64_t rank);
/* Scores with a prescribed spectrum on the coordinates idx[0..p): B_b = V diag(sigma) U^T
 * with V (p x rank) and U (K x rank) random orthonormal, U orthogonal to sqrt(P) when
 * zero_mean (then sum_i P_i s_i = 0 and rank <= K-1 is required). Writes V (p x rank,
 * column-major) when V is not NULL, so that a target g[b] = V c has the exact FI
 * sum_q (c_q / sigma_q)^2. */
void ref_spectrum_block(ref_rng *r, int64_t K, const double *P, double *S, int64_t ld,
                        const int64_t *idx, int64_t p, int64_t rank, const double *sigma,
                        int zero_mean, double *V);
/* Q (rows x cols, column-major) with orthonormal columns, orthogonal also to the unit
 * vector avoid when it is not NULL. */
void ref_orthonormal(ref_rng *r, int64_t rows, int64_t cols, const double *avoid, double *Q);

/* Coordinates of block b of an affine layout into idx[0..size). */
void ref_affine_coords(const fi_blocks *bl, int64_t b, int64_t *idx);

/* ---- the reference ---- */

/* The default relative rank tolerance of SPEC section 1 for a p x K block whose scores are
 * stored in dtype: max(p, K) times the unit roundoff 2^-53, 2^-24, 2^-8, 2^-11 of float64,
 * float32, bfloat16, float16. */
double ref_default_rcond(fi_dtype dtype, int64_t p, int64_t K);
/* FI of the block idx[0..p) for the target g (n doubles, read at idx) by the pseudo-inverse
 * of the explicitly formed G. rcond < 0 means the float64 default max(p,K)*DBL_EPSILON.
 * The softmax null direction (docs/math.md): when p >= K and |sum_i P_i s_i[b]| / |sqrt(P)| <=
 * max(atol, rcond * max_i |s_i[b]|), the direction q = sqrt(P)/|sqrt(P)| is noise: G becomes
 * B (I - q q^T) B^T and the rank is at most K - 1.
 * Writes the rank and the relative residual ||(I - V V^T) g[b]|| / ||g[b]|| (0 for
 * g[b] = 0) when the pointers are not NULL. */
double ref_block_fi(int64_t K, const double *P, const double *S, int64_t ld, const int64_t *idx,
                    int64_t p, const double *g, double rcond, double atol, int64_t *rank,
                    double *residual);
/* The leverage form of fact 2, computed from the K x K Gram C = B^T B (another matrix than
 * G): ||U^T e_k||^2 / P_k with U the eigenvectors of C whose eigenvalues pass the rank rule. */
double ref_class_leverage(int64_t K, const double *P, const double *S, int64_t ld,
                          const int64_t *idx, int64_t p, int64_t k, double rcond, double atol);

/* How closely fi_direct's Gram kernels must match the SVD path: 1e-10 relative for float64
 * scores; for scores no wider than float32 the a-posteriori bounds of src/solve/eigen.c
 * certify 2^-17 (certified_tolerance: 128 float32 units, less than rounding the scores to
 * their dtype moves FI in the blocks that need it). */
double ref_fast_tol(fi_dtype dtype);

/* Relative difference |a - b| / max(|b|, tiny), 0 when both are 0. */
double ref_rel(double a, double b);

/* A loud skip: prints "SKIP what: why" on stderr the first time `what` is skipped in this
 * process (what must be a string literal or live as long). For what cannot run here by
 * design (an instruction set this CPU lacks); a suite `make check` must run never skips. */
void ref_skip_once(const char *what, const char *why);

#endif
