/* Streaming construction and application of metric factors (src/solve/metric_build.c,
 * src/solve/metric_apply.c): the fast paths of fi_metric_from_scores and fi_compute. Block b's
 * factor W_b = diag(1/sigma) V^T is stored either block-major (row q of block b at
 * W + b*cap*p + q*p) or, for column layouts, coordinate-major (W[(j*cap + q)*count + b]) so that
 * applying it streams in the target's memory order. Rows q >= rank of a block are zero. */
#ifndef FI_SOLVE_METRIC_BUILD_H
#define FI_SOLVE_METRIC_BUILD_H
#include "kernels/kernels.h"

#define FI_METRIC_CHUNK 256 /* blocks per call of the chunked builders and appliers */

/* p = 1 blocks [first, first + nb) (nb <= FI_METRIC_CHUNK) at coordinates b*step: w[b] =
 * 1/sqrt(sum_i P_i s_i^2), or 0 where the rank is 0. ok[b - first] = 0 where the plain formula
 * cannot decide (range or non-finite): the caller decides those another way. */
void fi__metric_single(const fi_problem *pb, int64_t step, double rcond, double atol,
                       int64_t first, int64_t nb, double *w, unsigned char *ok);

/* One contiguous block of p >= K coordinates from c0 (K <= FI_GRAM_MAX_K): block-major W
 * (cap rows of p), sigma and rank from the Gram kernels and a second pass over the scores.
 * Returns false (nothing reliable written) when only the general path can decide. */
bool fi__metric_row(const fi_kernels *kern, const fi_problem *pb, int64_t c0, int64_t p,
                    int64_t cap, double psum, double rcond, double atol, int64_t *rank,
                    double *sigma, double *W);

/* Column blocks [b0, b0 + nb) (nb <= FI_METRIC_CHUNK; block b's coordinate j is
 * b + j*stride, K <= FI_GRAM_MAX_K) into coordinate-major W (count blocks, cap rows).
 * acc: fi__metric_column_acc_doubles(K) doubles, 32-byte aligned. ok[b - b0] = 0 where the
 * caller must decide the block another way (its W entries are then zero). */
size_t fi__metric_column_acc_doubles(int64_t K);
void fi__metric_columns(const fi_kernels *kern, const fi_problem *pb, int64_t b0, int64_t nb,
                        int64_t p, int64_t stride, int64_t count, int64_t cap, double psum,
                        double rcond, double atol, double *acc, int64_t *rank, double *sigma,
                        double *W, unsigned char *ok);

/* ---- application (src/solve/metric_apply.c) ---- */

/* p = 1: out[b] (+)= (w[b] g[b*step])^2 for b in [first, last). */
void fi__apply_single(fi_dtype dt, const void *g, int64_t step, const double *w, int64_t first,
                      int64_t last, double *out, bool accumulate);

/* sum_q (W_q . g[c0 .. c0+p))^2 over r block-major rows of p values. */
double fi__apply_row(fi_dtype dt, const void *g, int64_t c0, int64_t p, int64_t r,
                     const double *W);

/* Column blocks [b0, b0 + nb) (nb <= FI_METRIC_CHUNK) of coordinate-major W. */
void fi__apply_columns(fi_dtype dt, const void *g, int64_t b0, int64_t nb, int64_t p,
                       int64_t stride, int64_t count, int64_t cap, const double *W,
                       double *out, bool accumulate);
#endif
