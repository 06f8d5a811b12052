/* Streaming construction and application of the metric of Gram blocks and single coordinates
 * (src/solve/metric_build.c, src/solve/metric_apply.c): the fast paths of
 * fi_metric_from_scores and fi_compute.
 *
 * A Gram block (p >= K) keeps a copy of its scores S_b (p x K, in the scores' own dtype: exact,
 * and no larger than the input) and K x K coefficients A_b with W_b = A_b S_b^T, so that
 * W_b g = A_b (S_b^T g): K dot products in the target's memory order, then a K x K product.
 * Rows layouts store block b's class i at copy + (b*K + i)*p; column layouts (block b's
 * coordinate j at b + j*stride) store coordinate-major, copy + (j*K + i)*count + b, so that
 * both the build and fi_compute stream row by row across many blocks. */
#ifndef FI_SOLVE_METRIC_BUILD_H
#define FI_SOLVE_METRIC_BUILD_H
#include "kernels/kernels.h"

#define FI_METRIC_CHUNK 256 /* blocks per call of the chunked builders and appliers */

/* p = 1 blocks [first, first + nb) (nb <= FI_METRIC_CHUNK) at coordinates b*step:
 * c[b] = 1/sum_i P_i s_i^2 (FI = c g^2), or 0 where the rank is 0. ok[b - first] = 0 where the
 * plain formula cannot decide (range or non-finite): the caller decides those another way. */
void fi__metric_single(const fi_problem *pb, int64_t step, double rcond, double atol,
                       int64_t first, int64_t nb, double *c, unsigned char *ok);

/* Coefficients A (K x K row-major, rows >= rank zero) with W = A S^T from the Gram sums of a
 * block of p coordinates (the accuracy test of src/solve/eigen.c, narrow for non-float64 input);
 * sigma[0..rank) and rank. False when only the general path can decide the block. */
bool fi__metric_coefficients(const fi_gram *gm, const fi_problem *pb, int64_t p, double psum,
                             double rcond, double atol, double *A, double *sigma, int64_t *rank);

/* Copies the scores of column blocks [b0, b0 + nb) (coordinate j of block b at b + j*stride)
 * into the coordinate-major copy of count blocks. */
void fi__metric_copy_columns(const fi_problem *pb, int64_t b0, int64_t nb, int64_t p,
                             int64_t stride, int64_t count, void *copy);

/* Small blocks (2 <= p <= 4 < K, affine) the pixel kernel decides as safely full rank: W = L^-1
 * with G = L L^T (p x p, rows of p doubles at W + b*p*p), so that |W g|^2 = g^T G^-1 g. ok[b - b0]
 * = 0 where the caller must decide the block another way. nb <= FI_PIXEL_CHUNK. */
void fi__metric_pixels(const fi_kernels *kern, const fi_problem *pb, const fi_blocks *bl,
                       int64_t b0, int64_t nb, double rcond, double atol, double *W,
                       unsigned char *ok);

/* ---- application (src/solve/metric_apply.c) ---- */

/* p = 1: out[b] (+)= c[b] g[b*step]^2 for b in [first, last); c[b] < 0 encodes -1/sigma where
 * 1/sigma^2 leaves the normal range, and then out[b] (+)= (c[b] g)^2. */
void fi__apply_single(fi_dtype dt, const void *g, int64_t step, const double *c, int64_t first,
                      int64_t last, double *out, bool accumulate);

/* sum_q (W_q . g[c0 .. c0+p))^2 over r block-major rows of p values (a block's own W). */
double fi__apply_row(fi_dtype dt, const void *g, int64_t c0, int64_t p, int64_t r,
                     const double *W);

/* |A (S^T g)|^2 of a rows block: S's K classes at copy (class i at i*p, dtype sdt). */
/* FI = |A t|^2 for a Gram block's coefficients A (rank x K rows of K) and t = B^T g (K values
 * tstride apart); where a product overflows, again on t scaled by a power of two: +inf where
 * FI leaves the double range, never the NaN of inf - inf. */
double fi__coef_fi(const double *A, int64_t rank, int64_t K, const double *t, int64_t tstride);
double fi__apply_copy_row(fi_dtype sdt, const void *copy, int64_t K, const double *A,
                          int64_t rank, fi_dtype dt, const void *g, int64_t c0, int64_t p);

/* t[i*nb + b] = sum_j S_b,i[j] g[b + j*stride] for column blocks [b0, b0 + nb) of the
 * coordinate-major copy; any nb (FI_COLUMN_APPLY: a chunk whose sums stay in L2). */
#define FI_COLUMN_APPLY 2048
void fi__apply_copy_columns(fi_dtype sdt, const void *copy, int64_t K, int64_t count,
                            fi_dtype dt, const void *g, int64_t b0, int64_t nb, int64_t p,
                            int64_t stride, double *t);
#endif
