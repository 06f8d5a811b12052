/* Fast per-block factorizations for metric building. */
#include "internal.h"

size_t fi__fast_scratch_doubles(int64_t p_max, int64_t k)
{
    (void)p_max;
    return (size_t)k;
}

/* p = 1: B is a row, sigma = sqrt(sum_i P_i s_i^2), V = 1 (SPEC fact 1). */
static bool factor_single(const fi_problem *pb, int64_t c, double rcond, double atol,
                          double *s, int64_t *rank, double *sigma, double *W)
{
    fi__problem_scores_at(pb, c, s);
    double g = 0;
    for (int64_t i = 0; i < pb->k_eff; i++) g += pb->prob[i] * s[i] * s[i];
    if (!isfinite(g)) return false;
    const double sv = sqrt(g);
    const double cut = rcond * sv > atol ? rcond * sv : atol;
    if (sv > cut && sv > 0) {
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
    if (fi__block_size(l, b) == 1)
        return factor_single(pb, fi__block_coord(l, b, 0), rcond, atol, scratch, rank, sigma, W);
    return false;
}
