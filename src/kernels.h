/* Vectorized streaming kernels of the fast path (src/kernels.c). The same source is compiled
 * for the baseline ISA (the same bits on every CPU of the architecture) and, on x86-64, for
 * AVX2+FMA and AVX-512; fi__kernels() picks one per call. Every kernel computes each block in one
 * vector lane with a fixed operation order, so a block's result never depends on which lane,
 * chunk or thread computed it. */
#ifndef FI_KERNELS_H
#define FI_KERNELS_H

#include "gram.h"

#define FI_PIXEL_CHUNK 64 /* blocks per call of the small-p kernel */

typedef struct fi_kernels {
    const char *name;
    /* p = 1 blocks [first, last) of a contiguous layout (coordinate b): out[b] (+)= g^2 /
     * sum_i P_i s_i^2. Lanes the vector formula cannot decide (zero, tiny, huge, non-finite)
     * are redone by the scalar closed form. Returns -1, or the first coordinate holding a
     * non-finite score or target (out then partly written: only reachable with FI_SINGLE_PASS). */
    int64_t (*elements)(const fi_problem *pb, const void *target, int64_t k, double rcond,
                        double atol, int64_t first, int64_t last, double *out, bool accumulate);
    /* Gram sums of one block of p contiguous coordinates starting at coordinate c0. */
    void (*row_sums)(const fi_problem *pb, int64_t c0, int64_t p, const void *target, int64_t k,
                     fi_gram *gm);
    /* Gram sums of nb <= fi__column_width(K) blocks whose coordinate j is c0 + b + j*inc
     * (columns of a row-major matrix), streamed row by row into acc (32-byte aligned,
     * fi__column_entries(K) * round_up(nb, 4) doubles); fi__column_gram reads block b. */
    void (*column_sums)(const fi_problem *pb, int64_t c0, int64_t nb, int64_t p, int64_t inc,
                        const void *target, double *acc);
    /* Blocks b0..b0+nb (nb <= FI_PIXEL_CHUNK) of p in {2, 3, 4} < K coordinates b*step +
     * a*stride: FI from the p x p metric by LDL^T when it is safely full rank (the test of
     * src/gram.c); ok[b] = 0 where the caller must decide the block another way. */
    void (*pixels)(const fi_problem *pb, const fi_blocks *bl, int64_t b0, int64_t nb,
                   const void *target, int64_t k, double rcond, double atol, double *fi,
                   unsigned char *ok);
    /* Gram sums of one block of p coordinates idx[0..p); false (nothing done) when K > 4. */
    bool (*index_sums)(const fi_problem *pb, const int64_t *idx, int64_t p, const void *target,
                       int64_t k, fi_gram *gm);
} fi_kernels;

extern const fi_kernels fi__kernels_portable;
#if defined(__x86_64__) && defined(FI_HAVE_X86_KERNELS)
extern const fi_kernels fi__kernels_avx2;
extern const fi_kernels fi__kernels_avx512;
#endif

/* The kernels a context asks for (FI_OPT_ISA) and this CPU runs. */
const fi_kernels *fi__kernels(const fi_context *ctx);
/* Sums kept per column by column_sums, and how many columns one pass streams. */
int64_t fi__column_entries(int64_t K);
int64_t fi__column_width(int64_t K);
/* Block b's fi_gram from the sums of column_sums. */
void fi__column_gram(const fi_problem *pb, const double *acc, int64_t b, bool target, int64_t k,
                     fi_gram *gm);
/* fi_gram from the raw sums S_ic = sum_j s_i s_c (upper triangle, K x K row-major),
 * T_i = sum_j s_i g (read only with a gradient target) and the mean square. */
void fi__gram_from_sums(const fi_problem *pb, int64_t K, const double *S, const double *T,
                        bool target, int64_t k, double mean2, fi_gram *gm);

#endif
