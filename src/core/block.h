/* Per-coordinate and per-block formulas that every layer shares, each written once: the
 * closed form of p = 1 (docs/math.md fact 1), the Gram sums of a block and how they are accumulated,
 * and the p x p metric of a small block (src/core/block.c). */
#ifndef FI_CORE_BLOCK_H
#define FI_CORE_BLOCK_H

#include "core/problem.h"

/* The register kernels (rows <= 4, rows_wide, columns, elements' vector path) and the p x p
 * metric of blocks with p < K serve K <= FI_GRAM_MAX_K; the Gram path itself (src/kernels/
 * gram_many.c and the solvers of src/solve/, whose K x K arrays come from the caller's work,
 * fi__gram_work_doubles) and elements' vector path serve K <= FI_GRAM_WIDE_K. Above: the SVD. */
#define FI_GRAM_MAX_K 16
#define FI_GRAM_WIDE_K 64

/* Per-block sums gathered in one pass over the block's coordinates (33 KiB: callers with
 * K > FI_GRAM_MAX_K keep it in their workspace, not on the stack). */
typedef struct fi_gram {
    double c[FI_GRAM_WIDE_K * FI_GRAM_WIDE_K]; /* upper triangle of C = B^T B, row-major K x K */
    double t[FI_GRAM_WIDE_K];                  /* t = B^T g */
    double mean2;                            /* sum_c (sum_i P_i s_i(c))^2 */
} fi_gram;

/* sum_i P_i (x_i / mx)^2: the weighted squares of x scaled by mx > 0 (in practice its largest
 * magnitude), so that no square overflows or underflows on its own. */
static inline double fi__scaled_squares(const double *prob, const double *x, int64_t k, double mx)
{
    double d = 0;
    for (int64_t i = 0; i < k; i++) d += prob[i] * (x[i] / mx) * (x[i] / mx);
    return d;
}

/* FI of a single coordinate from its k effective scores s and target g (fact 1), on the
 * scores divided by m, the largest |s_i| of a class with P_i > 0: d = sum_i P_i (s_i / m)^2 is
 * at least that class's P whatever the magnitudes (no square of a score formed), sigma =
 * m sqrt(d), and FI = (g / m)^2 / d. A result beyond the double range is +inf (scores near the
 * subnormal range with an ordinary target), one below it 0; a row that is zero where P > 0
 * has rank 0 and FI 0. */
static inline double fi__element_fi(const double *prob, const double *s, int64_t k, double g,
                                    double rcond, double atol)
{
    double m = 0;
    for (int64_t i = 0; i < k; i++)
        if (prob[i] > 0) m = fmax(m, fabs(s[i]));
    if (!(m > 0) || rcond >= 1) return 0.0;
    double d = 0;
    for (int64_t i = 0; i < k; i++)
        if (prob[i] > 0) d += prob[i] * (s[i] / m) * (s[i] / m);
    if (!(d > 0) || !(sqrt(d) * m > atol)) return 0.0;
    return ((g / m) * (g / m)) / d;
}

/* Zero sums for K classes (only the entries a K-class block uses). */
static inline void fi__gram_clear(fi_gram *gm, int64_t K)
{
    memset(gm->c, 0, sizeof(double) * (size_t)(K * K));
    memset(gm->t, 0, sizeof(double) * (size_t)K);
    gm->mean2 = 0;
}

/* Adds one coordinate to a block's Gram sums: bv = B's row (sqrt(P_i) s_i), m its mean
 * sum_i P_i s_i (as the caller computed it), and with_target the target's products bv_i g. */
static inline void fi__gram_add(fi_gram *gm, int64_t K, const double *bv, double m,
                                bool with_target, double g)
{
    gm->mean2 += m * m;
    for (int64_t i = 0; i < K; i++) {
        if (with_target) gm->t[i] += bv[i] * g;
        for (int64_t c = i; c < K; c++) gm->c[i * K + c] += bv[i] * bv[c];
    }
}

/* The p x p metric G = B B^T of a block (G row-major, both triangles) from B's entries
 * B[a * row + i * col] (coordinate a, class i). */
static inline void fi__metric_gram(const double *B, int64_t p, int64_t K, int64_t row, int64_t col,
                                   double *G)
{
    for (int64_t a = 0; a < p; a++)
        for (int64_t c = a; c < p; c++) {
            double x = 0;
            for (int64_t i = 0; i < K; i++) x += B[a * row + i * col] * B[c * row + i * col];
            G[a * p + c] = G[c * p + a] = x;
        }
}

/* Sums kept per column by the column kernels, and how many columns one pass streams. */
#define FI_COLUMN_WIDTH_MAX 1024 /* the most columns one pass streams */
int64_t fi__column_entries(int64_t K);
int64_t fi__column_width(int64_t K);
/* Block b's fi_gram from the sums of a column kernel. */
void fi__column_gram(const fi_problem *pb, const double *acc, int64_t b, bool target, int64_t k,
                     fi_gram *gm);
/* True when every diagonal Gram sum is 0 (a zero block for float32 and narrower scores). */
bool fi__gram_diagonal_zero(const fi_gram *gm, int64_t K);
/* zero[j] for the nb float64 column blocks b0.. (consecutive columns, p coordinates stride
 * apart, strict class mode): whether every score of block j is exactly 0. */
void fi__zero_columns_f64(const fi_problem *pb, int64_t b0, int64_t nb, int64_t p,
                          int64_t stride, unsigned char *zero);
/* fi_gram from the raw sums S_ic = sum_j s_i s_c (upper triangle, K x K row-major),
 * T_i = sum_j s_i g (read only with a gradient target) and the mean square. */
void fi__gram_from_sums(const fi_problem *pb, int64_t K, const double *S, const double *T,
                        bool target, int64_t k, double mean2, fi_gram *gm);

#endif
