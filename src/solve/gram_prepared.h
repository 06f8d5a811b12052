/* The Gram of one block prepared for the small solvers (src/solve/eigen.c), and the
 * a-posteriori certified tests that decide blocks with spread probabilities
 * (src/solve/certified.c). Internal to src/solve/. */
#ifndef FI_SOLVE_GRAM_PREPARED_H
#define FI_SOLVE_GRAM_PREPARED_H

#include "core/block.h"

#define FI_GRAM_MIN_RATIO 1e-3
#define FI_GRAM_CUT_MARGIN 1e-3 /* sigma within this relative distance of the cut: ambiguous */

/* The Gram of a block ready for the eigensolver: C (m x m, row-major) scaled by 2^-e (e even),
 * t by 2^-e, and, when the softmax null direction q is below the rank cut-off, both reflected
 * by H (Householder vector v) with that direction dropped: m = K - 1. */
typedef struct prepared {
    double *C; /* K x K, in the caller's work (src/solve/eigen.c: fi__gram_work_doubles) */
    double t[FI_GRAM_WIDE_K], v[FI_GRAM_WIDE_K];
    double f[FI_GRAM_WIDE_K]; /* error scales: |error of C_ij| <= gamma f_i f_j (scaled_fi) */
    double x[FI_GRAM_WIDE_K]; /* class target k: B x = the score s_k with the null direction
                                removed, x = (H e_k)[1:] / sqrt(P_k) or e_k / sqrt(P_k) */
    bool klass;              /* the target is a class: FI = |projection of x|^2 (leverage) */
    int m, e;
    bool deflate;
    double atol;  /* scaled with C */
    double trace; /* of the scaled C before the reflection */
} prepared;

/* An eigendecomposition of a prepared C with its certified rank decision (fi__certify). */
typedef struct certified {
    double w[FI_GRAM_WIDE_K], *E, *rho; /* E, rho: m x m each, in the caller's work */
    double gap[FI_GRAM_WIDE_K]; /* kept j: its disc's distance from every dropped disc */
    int keep[FI_GRAM_WIDE_K];
    int64_t rank;
    double gamma;
} certified;

/* Cyclic Jacobi eigendecomposition of the symmetric n x n A (row-major, destroyed):
 * eigenvalues w[n], eigenvectors as the columns of V (row-major n x n). */
void fi__jacobi(double *A, int n, double *w, double *V);
/* The same by Householder tridiagonalization and implicit QR (src/solve/symmetric_eigen.c),
 * a third of Jacobi's work; returns 0 when the iterations do not converge. */
int fi__symmetric_eigen(double *A, int n, double *w, double *V);
/* FI of the class target in a block of proven full rank: |x|^2 (the leverage form). */
double fi__class_leverage(const prepared *pr);
/* Full rank proven and FI bounded in the diagonally scaled error model; 0: undecided. */
int fi__scaled_fi(const prepared *pr, double rcond, int64_t p, bool narrow, double *fi,
                  double *work); /* work: 3 m^2 doubles */
/* The certified rank decision on ce->w, ce->E (fi__jacobi of pr->C); 0: undecided. */
int fi__certify(const prepared *pr, double rcond, int64_t p, certified *ce,
                double *work); /* work: m^2 doubles */
/* Whether a certified decomposition is accurate enough for every target (metric factors). */
int fi__certified_for_any_target(const prepared *pr, const certified *ce, bool narrow);
/* FI of a prepared block through a certified eigendecomposition; 0: undecided. */
int fi__certified_eigen_fi(const prepared *pr, double rcond, int64_t p, bool narrow,
                           double *fi, int64_t *rank,
                           double *work); /* work: 4 m^2 doubles */

#endif
