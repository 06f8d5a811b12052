/* One sample's classes after the class mode (docs/math.md fact 6): effective scores and blocks. */
#include "core/problem.h"

void fi__problem_release(fi_problem *pb)
{
    if (!pb->mem.free) return;
    fi__free(&pb->mem, pb->prob);
    fi__free(&pb->mem, pb->sqrt_prob);
    fi__free(&pb->mem, (void *)pb->weight);
    pb->prob = pb->sqrt_prob = NULL;
    pb->weight = NULL;
}

void fi__problem_scores_at(const fi_problem *pb, int64_t c, double *s)
{
    const int64_t K = pb->k_in;
    double mean = 0;
    for (int64_t i = 0; i < K; i++) {
        s[i] = fi__load(pb->dtype, pb->scores, i * pb->ld + c);
        mean += pb->weight[i] * s[i];
    }
    if (pb->adjust == FI_ADJUST_CENTER) {
        /* Centre around the most probable class's score first. Class-independent scores (all
         * s_i equal, e.g. a weight that feeds only tokens outside the classes) then centre to
         * exactly 0 (rank 0, FI 0), where s_i - sum_j w_j s_j leaves s (1 - sum_j w_j) ~ 1 ulp
         * in every class. And for a confident prediction (1 - P_top ~ 1e-8) the deviation
         * sum_j w_j (s_j - s_top) is dominated by the small classes, so the centred scores
         * keep sum_i P_i s_i = 0 to the rounding of those small terms; centring around
         * another class leaves a spurious direction that lifts FI far above its ceiling. */
        const double s0 = s[pb->top];
        double dev = 0;
        for (int64_t i = 0; i < K; i++) dev += pb->weight[i] * (s[i] - s0);
        for (int64_t i = 0; i < K; i++) s[i] = (s[i] - s0) - dev;
    } else if (pb->adjust == FI_ADJUST_REMAINDER)
        s[K] = pb->remainder_scale * mean;
}

bool fi__gather_block(const fi_problem *pb, const fi_layout *l, int64_t b, double *B, double *s)
{
    const int64_t p = fi__block_size(l, b), K = pb->k_eff;
    bool finite = true;
    for (int64_t j = 0; j < p; j++) {
        fi__problem_scores_at(pb, fi__block_coord(l, b, j), s);
        for (int64_t i = 0; i < K; i++) {
            if (!isfinite(s[i])) finite = false;
            B[j + i * p] = pb->sqrt_prob[i] * s[i];
        }
    }
    return finite;
}
