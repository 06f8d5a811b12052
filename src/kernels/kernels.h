/* Vectorized streaming kernels of the fast path: pure per-block arithmetic, one family per file
 * of src/kernels/. Each family file is compiled once per instruction set (the Makefile builds
 * every .c file of src/kernels for the baseline and, on x86-64, for AVX2+FMA+F16C; rows_wide.c and
 * pixels.c also for AVX-512VL) and defines fi__<family>_<isa>; src/solve/dispatch.c gathers them into one
 * table per instruction set and picks one per call. Every kernel computes each block in one
 * vector lane with a fixed operation order, so a block's result never depends on which lane,
 * chunk or thread computed it. Kernels call nothing but src/core/. */
#ifndef FI_KERNELS_H
#define FI_KERNELS_H

#include "core/block.h"

#define FI_PIXEL_CHUNK 64 /* blocks per call of the small-p kernel */
#define FI_MANY_CHUNK 16  /* vectors per class in one chunk of gram_many.c */
#define FI_MANY_COLUMNS 16 /* blocks per call of many_columns: a cache line of float32 */

/* Doubles of the 32-byte aligned work array of many_rows (columns: false) or many_columns. */
static inline size_t fi__many_work_doubles(int64_t K, bool columns)
{
    const int64_t K4 = (K + 3) & ~(int64_t)3, g = columns ? FI_MANY_COLUMNS / 4 : 1;
    return (size_t)(4 * (g * K4 * K4 + K4 * FI_MANY_CHUNK + g * K4 + g) + K * K);
}

/* p = 1 blocks [first, last) of a contiguous layout (coordinate b): out[b] (+)= g^2 /
 * sum_i P_i s_i^2 with g = gbase[b] (the target, or the target class's row of scores). Lanes
 * the vector formula cannot decide (zero, tiny, huge, non-finite) are redone by the scalar
 * closed form. Returns -1, or the first coordinate holding a non-finite score or target (out
 * then partly written: only reachable with FI_SINGLE_PASS). */
typedef int64_t fi_elements_fn(const fi_problem *pb, const void *gbase, double rcond, double atol,
                               int64_t first, int64_t last, double *out, bool accumulate);
/* Gram sums of one block of p contiguous coordinates starting at coordinate c0 (K <= 4:
 * rows; 4 < K <= FI_GRAM_MAX_K: rows_wide). */
typedef void fi_row_sums_fn(const fi_problem *pb, int64_t c0, int64_t p, const void *target,
                            int64_t k, fi_gram *gm);
/* Gram sums of nb <= fi__column_width(K) blocks whose coordinate j is c0 + b + j*inc
 * (columns of a row-major matrix), streamed row by row into acc (32-byte aligned,
 * fi__column_entries(K) * round_up(nb, 4) doubles); fi__column_gram reads block b. */
typedef void fi_column_sums_fn(const fi_problem *pb, int64_t c0, int64_t nb, int64_t p,
                               int64_t inc, const void *target, double *acc);
/* Blocks b0..b0+nb (nb <= FI_PIXEL_CHUNK) of p in {2, 3, 4} < K coordinates b*step +
 * a*stride: FI from the p x p metric by LDL^T when it is safely full rank (the test of
 * src/solve/eigen.c); ok[b] = 0 where the caller must decide the block another way. g is read
 * at gbase + grow + coordinate (the target with grow 0, or the target class's row). */
typedef void fi_pixels_fn(const fi_problem *pb, const fi_blocks *bl, int64_t b0, int64_t nb,
                          const void *gbase, int64_t grow, double rcond, double atol, double *fi,
                          unsigned char *ok);
/* Gram sums of one block of p coordinates idx[0..p); false (nothing done) when K > 4. */
typedef bool fi_index_sums_fn(const fi_problem *pb, const int64_t *idx, int64_t p,
                              const void *target, int64_t k, fi_gram *gm);

/* Gram sums of one block of p coordinates, c0 + j (idx NULL) or idx[j], for any K (used for
 * FI_GRAM_MAX_K < K <= FI_GRAM_WIDE_K, and for index lists from K = 5); work: 32-byte aligned,
 * fi__many_work_doubles(K, false) doubles. */
typedef void fi_many_rows_fn(const fi_problem *pb, int64_t c0, const int64_t *idx, int64_t p,
                             const void *target, int64_t k, fi_gram *gm, double *work);
/* Gram sums gms[0..nb) of nb <= FI_MANY_COLUMNS blocks whose coordinate j is c0 + b + j*inc;
 * work: 32-byte aligned, fi__many_work_doubles(K, true) doubles. */
typedef void fi_many_columns_fn(const fi_problem *pb, int64_t c0, int64_t nb, int64_t p,
                                int64_t inc, const void *target, int64_t k, fi_gram *gms,
                                double *work);

typedef struct fi_kernels {
    const char *name;
    fi_elements_fn *elements;
    fi_row_sums_fn *rows, *rows_wide;
    fi_column_sums_fn *column_sums;
    fi_pixels_fn *pixels;
    fi_index_sums_fn *index_sums;
    fi_many_rows_fn *many_rows;
    fi_many_columns_fn *many_columns;
} fi_kernels;

/* The functions of one instruction set's build of src/kernels/. */
#define FI_KERNEL_DECLS(isa)                                                                 \
    fi_elements_fn fi__elements_##isa;                                                       \
    fi_row_sums_fn fi__rows_##isa;                                                           \
    fi_column_sums_fn fi__columns_##isa;                                                     \
    fi_pixels_fn fi__pixels_##isa;                                                           \
    fi_index_sums_fn fi__index_sums_##isa;                                                   \
    fi_row_sums_fn fi__rows_wide_##isa;                                                      \
    fi_many_rows_fn fi__many_rows_##isa;                                                     \
    fi_many_columns_fn fi__many_columns_##isa;

#endif
