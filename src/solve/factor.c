/* Fast per-block factorizations for metric building: W = diag(1/sigma) V^T and sigma from
 * the closed form (p = 1) or from the small Gram kernels of src/solve/eigen.c, where those can decide
 * the block as the SVD would. */
#include "solve/factor.h"

#include "solve/eigen.h"

size_t fi__fast_scratch_doubles(int64_t p_max, int64_t k)
{
    /* B (p x k) and the p x p metric, when the kernels apply */
    if (k > FI_GRAM_MAX_K) return (size_t)k;
    return (size_t)(p_max * k + (p_max <= FI_GRAM_MAX_K ? p_max * p_max : 0) + k);
}

/* p = 1: B is a row, sigma = sqrt(sum_i P_i s_i^2), V = 1 (docs/math.md fact 1). */
static bool factor_single(const fi_problem *pb, int64_t c, double rcond, double atol,
                          double *s, int64_t *rank, double *sigma, double *W)
{
    fi__problem_scores_at(pb, c, s);
    double mx = 0;
    for (int64_t i = 0; i < pb->k_eff; i++) {
        if (!isfinite(s[i])) return false; /* reported by the SVD path's gather */
        mx = fmax(mx, fabs(s[i]));
    }
    const double sv = mx > 0 ? sqrt(fi__scaled_squares(pb->prob, s, pb->k_eff, mx)) * mx : 0;
    const double cut = rcond * sv > atol ? rcond * sv : atol;
    if (sv > cut && sv > 0 && isfinite(sv)) {
        *rank = 1;
        sigma[0] = sv;
        W[0] = 1.0 / sv;
    } else {
        *rank = 0;
    }
    return true;
}

bool fi__fast_factor(const fi_problem *pb, const fi_layout *l, int64_t b, double rcond,
                     double atol, double *scratch, int64_t *rank, double *sigma, double *W)
{
    const int64_t p = fi__block_size(l, b), K = pb->k_eff;
    if (p == 1)
        return factor_single(pb, fi__block_coord(l, b, 0), rcond, atol, scratch, rank, sigma, W);
    if (K > FI_GRAM_MAX_K || (p < K && p > FI_GRAM_MAX_K)) return false;
    double *B = scratch, *s = scratch + p * K; /* B column-major p x K */
    if (!fi__gather_block(pb, l, b, B, s)) return false;
    double lam[FI_GRAM_MAX_K];
    int64_t r;
    if (p < K) { /* p x p metric G = B B^T: W = diag(1/sqrt(lambda)) V^T */
        double *G = s + K, V[FI_GRAM_MAX_K * FI_GRAM_MAX_K];
        fi__metric_gram(B, p, K, 1, p, G);
        if (!fi__metric_factor(G, p, rcond, atol, lam, V, &r)) return false;
        for (int64_t q = 0; q < r; q++) {
            sigma[q] = sqrt(lam[q]);
            for (int64_t j = 0; j < p; j++) W[q * p + j] = V[j * p + q] / sigma[q];
        }
    } else { /* K x K Gram C = B^T B: W = diag(1/lambda) U^T B^T */
        fi_gram gm;
        double U[FI_GRAM_MAX_K * FI_GRAM_MAX_K], psum = 0;
        double gw[7 * FI_GRAM_MAX_K * FI_GRAM_MAX_K]; /* fi__gram_work_doubles(K), K <= 16 */
        fi__gram_clear(&gm, K);
        for (int64_t i = 0; i < K; i++) psum += pb->prob[i];
        for (int64_t j = 0; j < p; j++) {
            double bv[FI_GRAM_MAX_K], m = 0;
            for (int64_t i = 0; i < K; i++) {
                bv[i] = B[j + i * p];
                m += pb->sqrt_prob[i] * bv[i];
            }
            fi__gram_add(&gm, K, bv, m, false, 0.0);
        }
        if (!fi__gram_factor(&gm, K, pb->sqrt_prob, psum, rcond, atol, p, pb->dtype != FI_F64, lam,
                             U, &r, gw))
            return false;
        for (int64_t q = 0; q < r; q++) {
            sigma[q] = sqrt(lam[q]);
            for (int64_t j = 0; j < p; j++) {
                double x = 0;
                for (int64_t i = 0; i < K; i++) x += U[i * K + q] * B[j + i * p];
                W[q * p + j] = x / lam[q];
            }
        }
    }
    for (int64_t q = 0; q < r * p; q++)
        if (!isfinite(W[q])) return false;
    *rank = r;
    return true;
}
